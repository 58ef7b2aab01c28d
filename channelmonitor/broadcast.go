package channelmonitor

import (
	"fmt"

	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/bolt3"
)

// signedHolderCommitment returns our latest commitment transaction with both signatures.
func (m *ChannelMonitor) signedHolderCommitment() (*wire.MsgTx, error) {
	tx := m.holder.Tx.Copy()
	ours, err := m.signer.SignHolderCommitment(m.holder.CommitmentNumber, tx)
	if err != nil {
		return nil, err
	}
	theirs, err := m.holder.CounterpartySig.ToSignature()
	if err != nil {
		return nil, err
	}
	tx.TxIn[0].Witness = bolt3.FundingWitness(m.params.FundingScript,
		m.params.HolderPubkeys.FundingPubkey, append(ours.Serialize(), byte(txscript.SigHashAll)),
		m.params.CounterpartyPubkeys.FundingPubkey, append(theirs.Serialize(), byte(txscript.SigHashAll)))
	return tx, nil
}

// holderCommitmentOut returns our signed latest commitment to broadcast now and, on an anchor channel,
// queues a BumpChannelClose event asking the host to get it confirmed at the feerate due at height.
// The caller holds m.mu.
func (m *ChannelMonitor) holderCommitmentOut(height uint32, est chaininterface.FeeEstimator) []*wire.MsgTx {
	tx, err := m.signedHolderCommitment()
	if err != nil {
		m.log.Error("cannot sign our commitment transaction", "err", err)
		return nil
	}
	if m.params.Anchors && est != nil {
		if err := m.queueCommitmentBump(tx, height, est); err != nil {
			m.log.Error("cannot describe our commitment for fee bumping", "err", err)
		}
	}
	return []*wire.MsgTx{tx}
}

// queueCommitmentBump queues the BumpChannelClose event for our signed commitment tx.
func (m *ChannelMonitor) queueCommitmentBump(tx *wire.MsgTx, height uint32, est chaininterface.FeeEstimator) error {
	anchorScript, err := bolt3.AnchorScript(m.params.HolderPubkeys.FundingPubkey)
	if err != nil {
		return err
	}
	idx := findOutput(tx, bolt3.WitnessScriptHash(anchorScript))
	if idx < 0 {
		return fmt.Errorf("our commitment has no anchor output")
	}
	var outSat int64
	for _, o := range tx.TxOut {
		outSat += o.Value
	}
	ev := events.BumpChannelClose{ChannelID: m.params.ChannelID, CounterpartyNodeID: m.params.CounterpartyNodeID,
		ClaimID: m.claimID("commitment", m.holder.CommitmentNumber), CommitmentTx: tx,
		CommitmentTxFeeSat: m.params.FundingValueSat - outSat,
		Anchor: events.AnchorDescriptor{Channel: events.ChannelDerivationParameters{ValueSat: m.params.FundingValueSat,
			KeysID: m.params.ChannelKeysID}, OutPoint: wire.OutPoint{Hash: tx.TxHash(), Index: uint32(idx)},
			ValueSat: tx.TxOut[idx].Value, WitnessScript: anchorScript}}
	// The value at stake: our output and every HTLC on the commitment; the deadline: the earliest HTLC
	// deadline, or commitmentDeadlineBlocks after the close.
	value := m.holderToLocalSat()
	if m.commitBump.Created == 0 {
		m.commitBump.Created = height
	}
	// With no HTLC at stake nothing is lost by waiting: the commitment has a week (lnd's no-deadline
	// target, 1008 blocks) and the fee function climbs gently; an HTLC sets a real deadline below.
	deadline := m.commitBump.Created + noDeadlineBlocks
	weight := txWeight(tx) + 4*(41+43) + 1 + 73 + int64(len(anchorScript)) + 109 + 4*(41+31)
	for _, h := range m.holder.HTLCs {
		if h.OutputIndex < 0 {
			continue
		}
		value += int64(h.AmountMsat / 1000)
		d := h.CltvExpiry
		if !h.Offered {
			d = h.CltvExpiry - min(h.CltvExpiry, MaxBlocksForConf)
		}
		deadline = min(deadline, max(d, m.commitBump.Created+1))
	}
	ev.MaxFeeSat = value * FeeBudgetPercent / 100
	ev.PackageTargetFeeratePerKw = feeFunction(est, m.commitBump.Created, deadline, height, ev.MaxFeeSat, weight, m.commitBump.FeeratePerKw)
	m.commitBump.FeeratePerKw = ev.PackageTargetFeeratePerKw
	for _, c := range m.holderHTLCClaims(tx) {
		if d, err := m.htlcDescriptor(c); err == nil {
			ev.PendingHTLCs = append(ev.PendingHTLCs, d)
		}
	}
	m.chainDirty = true
	m.pendingEvents = append(m.pendingEvents, ev)
	return nil
}

// holderToLocalSat is our output's value on our latest commitment (0 if trimmed).
func (m *ChannelMonitor) holderToLocalSat() int64 {
	k, err := m.holderKeys(m.holder.CommitmentNumber)
	if err != nil {
		return 0
	}
	script, err := k.toLocal()
	if err != nil {
		return 0
	}
	if i := findOutput(m.holder.Tx, bolt3.WitnessScriptHash(script)); i >= 0 {
		return m.holder.Tx.TxOut[i].Value
	}
	return 0
}

// holderHTLCClaims describes the HTLC outputs of our latest commitment tx as claims (not tracked).
func (m *ChannelMonitor) holderHTLCClaims(tx *wire.MsgTx) []*claim {
	var out []*claim
	for _, h := range m.holder.HTLCs {
		if h.OutputIndex < 0 {
			continue
		}
		if c := m.holderHTLCClaim(tx, h); c != nil {
			out = append(out, c)
		}
	}
	return out
}

// holderHTLCClaim describes an HTLC output of our latest commitment tx as a claim (not tracked).
func (m *ChannelMonitor) holderHTLCClaim(tx *wire.MsgTx, h HolderHTLC) *claim {
	k, err := m.holderKeys(m.holder.CommitmentNumber)
	if err != nil || int(h.OutputIndex) >= len(tx.TxOut) {
		m.log.Error("cannot describe an HTLC of our commitment", "output", h.OutputIndex, "err", err)
		return nil
	}
	script, err := m.htlcScript(k, h.Offered, h.PaymentHash, h.CltvExpiry)
	if err != nil {
		m.log.Error("cannot build an HTLC script of our commitment", "output", h.OutputIndex, "err", err)
		return nil
	}
	kind := claimHolderHTLCSuccess
	if h.Offered {
		kind = claimHolderHTLCTimeout
	}
	return &claim{Kind: kind, OutPoint: wire.OutPoint{Hash: tx.TxHash(), Index: uint32(h.OutputIndex)},
		ValueSat: tx.TxOut[h.OutputIndex].Value, Script: script, CommitmentNumber: m.holder.CommitmentNumber,
		PerCommitmentPoint: k.point, HTLC: &claimHTLC{ID: h.HTLCID, OfferedByUs: h.Offered, AmountMsat: h.AmountMsat,
			PaymentHash: h.PaymentHash, CltvExpiry: h.CltvExpiry, CounterpartySig: h.CounterpartySig}}
}

// htlcDeadline says whether an HTLC on a commitment that could still confirm needs us on chain now
// (BOLT 2 and BOLT 5; LDK's should_broadcast_holder_commitment_txn): one we offered is
// LatencyGracePeriodBlocks past its expiry, or one offered to us whose preimage we hold is within
// CLTVClaimBuffer of it. It returns the reason.
func (m *ChannelMonitor) htlcDeadline(height uint32) (string, bool) {
	check := func(offeredByUs bool, hash [32]byte, cltv uint32) (string, bool) {
		if offeredByUs {
			if _, known := m.preimages[hash]; !known && height >= cltv+LatencyGracePeriodBlocks {
				return fmt.Sprintf("an HTLC we offered expired at height %d", cltv), true
			}
			return "", false
		}
		if _, known := m.preimages[hash]; known && height+CLTVClaimBuffer >= cltv {
			return fmt.Sprintf("an HTLC we can claim expires at height %d", cltv), true
		}
		return "", false
	}
	for _, h := range m.holder.HTLCs {
		if why, ok := check(h.Offered, h.PaymentHash, h.CltvExpiry); ok {
			return why, true
		}
	}
	for _, cp := range m.liveCounterparty() {
		for _, h := range cp.HTLCs {
			if why, ok := check(!h.Offered, h.PaymentHash, h.CltvExpiry); ok {
				return why, true
			}
		}
	}
	return "", false
}

// UnsafeGetLatestHolderCommitmentTxn returns our latest commitment transaction, fully signed, followed
// by its fully signed second-stage HTLC transactions: HTLC-timeout for each HTLC we offered and
// HTLC-success for each HTLC offered to us whose preimage we hold (LDK's
// unsafe_get_latest_holder_commitment_txn). On anchor channels the HTLC transactions pay no fee and
// need fee inputs added (the bump path) before they relay. Broadcasting any of these after a newer
// commitment was signed publishes a revoked state and forfeits the channel: the function exists for
// tests and for recovery tools. Errors: the signer's.
func (m *ChannelMonitor) UnsafeGetLatestHolderCommitmentTxn() ([]*wire.MsgTx, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	tx, err := m.signedHolderCommitment()
	if err != nil {
		return nil, err
	}
	out := []*wire.MsgTx{tx}
	for _, c := range m.holderHTLCClaims(tx) {
		if _, known := m.preimages[c.HTLC.PaymentHash]; !c.HTLC.OfferedByUs && !known {
			continue
		}
		htx, err := m.holderHTLCTx(c)
		if err != nil {
			return nil, err
		}
		out = append(out, htx)
	}
	return out, nil
}
