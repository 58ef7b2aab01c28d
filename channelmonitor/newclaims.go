package channelmonitor

import (
	"bytes"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/internal/bolt3"
)

// fundingSpent records the confirmed spend of the funding output and creates the claims it calls for
// (BOLT 5, "Unilateral Close Handling" and "Revoked Transaction Close Handling"). The caller holds m.mu.
func (m *ChannelMonitor) fundingSpent(tx *wire.MsgTx, txid chainhash.Hash, height uint32) {
	kind, n := m.classify(tx, txid)
	m.funding = &fundingSpend{Tx: tx, Txid: txid, Height: height, Kind: kind, CommitmentNumber: n}
	m.log.Info("funding output spent", "spend", kind.String(), "txid", txid, "height", height, "commitment", n)
	switch kind {
	case spendHolderLatest:
		m.holderClaims(m.holder, tx, txid, height)
	case spendHolderPrevious:
		m.holderClaims(m.prevHolder, tx, txid, height)
	case spendHolderOlder:
		m.holderToLocalClaim(n, tx, txid, height)
	case spendCounterparty:
		m.counterpartyClaims(m.counterparty[txid], tx, txid, height)
	case spendCounterpartyRevoked:
		m.revokedClaims(n, m.counterparty[txid], tx, txid, height)
	case spendUnknownCommitment:
		// A commitment we cannot place (their newest, if we lost state): our to_remote pays a static
		// key, so it is still ours.
		m.toRemoteClaim(tx, txid, height, n)
	}
	if kind == spendCooperative {
		m.monitorEvents = append(m.monitorEvents, CooperativeCloseConfirmed{ChannelID: m.params.ChannelID, FundingTxo: m.params.FundingOutPoint})
		return
	}
	m.monitorEvents = append(m.monitorEvents, CommitmentTxConfirmed{ChannelID: m.params.ChannelID, FundingTxo: m.params.FundingOutPoint})
}

// addClaim tracks a new claim, unless one for the same outpoint exists.
func (m *ChannelMonitor) addClaim(c *claim) {
	for _, x := range m.claims {
		if x.OutPoint == c.OutPoint {
			return
		}
	}
	m.claims = append(m.claims, c)
	m.chainDirty = true
	m.toWatch = append(m.toWatch, chaininterface.WatchedOutput{OutPoint: c.OutPoint, ScriptPubKey: claimPkScript(c)})
}

// claimPkScript is the output script of a claim's output.
func claimPkScript(c *claim) []byte {
	if c.Kind == claimToRemote && len(c.Script) == 22 {
		return c.Script // static_remotekey P2WPKH
	}
	return bolt3.WitnessScriptHash(c.Script)
}

// csvHeight is the first height at which an output confirmed at height, locked by a relative delay of
// delay blocks, can be spent (BIP 68: the spend's block is at least delay blocks after the output's).
func csvHeight(height uint32, delay uint32) uint32 { return height + delay }

// holderToLocalClaim claims our to_local on our commitment n after to_self_delay.
func (m *ChannelMonitor) holderToLocalClaim(n uint64, tx *wire.MsgTx, txid chainhash.Hash, height uint32) {
	k, err := m.holderKeys(n)
	if err != nil {
		m.log.Error("cannot derive our commitment keys", "commitment", n, "err", err)
		return
	}
	script, err := k.toLocal()
	if err != nil {
		m.log.Error("cannot build our to_local script", "commitment", n, "err", err)
		return
	}
	if i := findOutput(tx, bolt3.WitnessScriptHash(script)); i >= 0 {
		m.addClaim(&claim{Kind: claimHolderToLocal, OutPoint: wire.OutPoint{Hash: txid, Index: uint32(i)},
			ValueSat: tx.TxOut[i].Value, Script: script, CommitmentNumber: n, PerCommitmentPoint: k.point,
			ParentHeight: height, ValidHeight: csvHeight(height, uint32(m.params.HolderToSelfDelay))})
	}
}

// holderClaims claims what our commitment hc pays us: to_local after the delay, and each HTLC output
// through its second-stage transaction (timeout after expiry; success once the preimage is known).
func (m *ChannelMonitor) holderClaims(hc *LatestHolderCommitment, tx *wire.MsgTx, txid chainhash.Hash, height uint32) {
	m.holderToLocalClaim(hc.CommitmentNumber, tx, txid, height)
	k, err := m.holderKeys(hc.CommitmentNumber)
	if err != nil {
		m.log.Error("cannot derive our commitment keys", "commitment", hc.CommitmentNumber, "err", err)
		return
	}
	csv := uint32(0)
	if m.params.Anchors {
		csv = 1
	}
	for _, h := range hc.HTLCs {
		script, ok := m.htlcOutput(tx, k, h.OutputIndex, h.Offered, h.PaymentHash, h.CltvExpiry)
		if !ok {
			continue
		}
		c := &claim{OutPoint: wire.OutPoint{Hash: txid, Index: uint32(h.OutputIndex)}, ValueSat: tx.TxOut[h.OutputIndex].Value,
			Script: script, CommitmentNumber: hc.CommitmentNumber, PerCommitmentPoint: k.point, ParentHeight: height,
			HTLC: &claimHTLC{ID: h.HTLCID, OfferedByUs: h.Offered, AmountMsat: h.AmountMsat, PaymentHash: h.PaymentHash,
				CltvExpiry: h.CltvExpiry, Source: h.Source, CounterpartySig: h.CounterpartySig}}
		if h.Offered {
			// nLockTime cltv_expiry: minable from the block after it.
			c.Kind, c.ValidHeight = claimHolderHTLCTimeout, max(h.CltvExpiry+1, csvHeight(height, csv))
			c.Deadline = c.ValidHeight + MaxBlocksForConf
		} else {
			c.Kind, c.ValidHeight, c.Deadline = claimHolderHTLCSuccess, csvHeight(height, csv), h.CltvExpiry
		}
		m.addClaim(c)
	}
}

// htlcOutput returns the witness script of the HTLC output at index idx of commitment tx (whose keys
// are k), checked against the output; false for a trimmed HTLC (idx -1) or a mismatch (logged).
func (m *ChannelMonitor) htlcOutput(tx *wire.MsgTx, k *commitKeys, idx int32, offeredByOwner bool, hash [32]byte, cltv uint32) ([]byte, bool) {
	if idx < 0 || int(idx) >= len(tx.TxOut) {
		return nil, false
	}
	script, err := m.htlcScript(k, offeredByOwner, hash, cltv)
	if err != nil || !bytes.Equal(tx.TxOut[idx].PkScript, bolt3.WitnessScriptHash(script)) {
		m.log.Error("a commitment's HTLC output does not match its script", "txid", tx.TxHash(), "output", idx, "err", err)
		return nil, false
	}
	return script, true
}

// toRemoteClaim claims our to_remote output on a counterparty commitment, if it has one.
func (m *ChannelMonitor) toRemoteClaim(tx *wire.MsgTx, txid chainhash.Hash, height uint32, n uint64) {
	pk, ws, err := bolt3.ToRemoteScript(m.params.HolderPubkeys.PaymentPoint, m.channelType())
	if err != nil {
		m.log.Error("cannot build our to_remote script", "err", err)
		return
	}
	i := findOutput(tx, pk)
	if i < 0 {
		return
	}
	c := &claim{Kind: claimToRemote, OutPoint: wire.OutPoint{Hash: txid, Index: uint32(i)}, ValueSat: tx.TxOut[i].Value,
		Script: pk, CommitmentNumber: n, ParentHeight: height, ValidHeight: height}
	if m.params.Anchors {
		c.Script, c.ValidHeight = ws, csvHeight(height, 1)
	}
	m.addClaim(c)
}

// counterpartyClaims claims what the counterparty's unrevoked commitment cp pays us: to_remote, HTLCs
// offered to us with their preimage, and HTLCs we offered after their expiry, all spent directly.
func (m *ChannelMonitor) counterpartyClaims(cp *LatestCounterpartyCommitment, tx *wire.MsgTx, txid chainhash.Hash, height uint32) {
	m.toRemoteClaim(tx, txid, height, cp.CommitmentNumber)
	k := m.counterpartyKeys(cp.PerCommitmentPoint)
	csv := uint32(0)
	if m.params.Anchors {
		csv = 1
	}
	for _, h := range cp.HTLCs {
		script, ok := m.htlcOutput(tx, k, h.OutputIndex, h.Offered, h.PaymentHash, h.CltvExpiry)
		if !ok {
			continue
		}
		c := &claim{OutPoint: wire.OutPoint{Hash: txid, Index: uint32(h.OutputIndex)}, ValueSat: tx.TxOut[h.OutputIndex].Value,
			Script: script, CommitmentNumber: cp.CommitmentNumber, PerCommitmentPoint: cp.PerCommitmentPoint, ParentHeight: height,
			HTLC: &claimHTLC{ID: h.HTLCID, OfferedByUs: !h.Offered, AmountMsat: h.AmountMsat, PaymentHash: h.PaymentHash,
				CltvExpiry: h.CltvExpiry, Source: h.Source}}
		if h.Offered {
			c.Kind, c.ValidHeight, c.Deadline = claimCounterpartyHTLCPreimage, csvHeight(height, csv), h.CltvExpiry
		} else {
			c.Kind, c.ValidHeight = claimCounterpartyHTLCTimeout, max(h.CltvExpiry+1, csvHeight(height, csv))
			c.Deadline = c.ValidHeight + MaxBlocksForConf
		}
		m.addClaim(c)
	}
}

// revokedClaims takes every output of the counterparty's revoked commitment n with the revocation key:
// to_local and, if we know the commitment (cp), each HTLC output; our to_remote is swept as usual.
func (m *ChannelMonitor) revokedClaims(n uint64, cp *LatestCounterpartyCommitment, tx *wire.MsgTx, txid chainhash.Hash, height uint32) {
	m.toRemoteClaim(tx, txid, height, n)
	secret, ok := m.revocationSecret(n)
	if !ok {
		m.log.Error("revoked commitment without its secret", "commitment", n)
		return
	}
	_, point := btcec.PrivKeyFromBytes(secret[:])
	k := m.counterpartyKeys(point)
	deadline := height + uint32(m.params.CounterpartyToSelfDelay)
	if script, err := k.toLocal(); err != nil {
		m.log.Error("cannot build the revoked to_local script", "commitment", n, "err", err)
	} else if i := findOutput(tx, bolt3.WitnessScriptHash(script)); i >= 0 {
		m.addClaim(&claim{Kind: claimRevokedToLocal, OutPoint: wire.OutPoint{Hash: txid, Index: uint32(i)},
			ValueSat: tx.TxOut[i].Value, Script: script, CommitmentNumber: n, PerCommitmentPoint: point,
			ParentHeight: height, ValidHeight: height, Deadline: deadline})
	}
	if cp == nil {
		return
	}
	for _, h := range cp.HTLCs {
		script, ok := m.htlcOutput(tx, k, h.OutputIndex, h.Offered, h.PaymentHash, h.CltvExpiry)
		if !ok {
			continue
		}
		m.addClaim(&claim{Kind: claimRevokedHTLC, OutPoint: wire.OutPoint{Hash: txid, Index: uint32(h.OutputIndex)},
			ValueSat: tx.TxOut[h.OutputIndex].Value, Script: script, CommitmentNumber: n, PerCommitmentPoint: point,
			ParentHeight: height, ValidHeight: height, Deadline: deadline,
			HTLC: &claimHTLC{ID: h.HTLCID, OfferedByUs: !h.Offered, AmountMsat: h.AmountMsat, PaymentHash: h.PaymentHash,
				CltvExpiry: h.CltvExpiry, Source: h.Source}})
	}
}

// secondStageClaim claims the output at index vin of spender, a second-stage HTLC transaction spending
// the HTLC output of parent at its input vin (SIGHASH_SINGLE pairs them): ours after our to_self_delay,
// or, for the counterparty's on a revoked commitment, with the revocation key.
func (m *ChannelMonitor) secondStageClaim(parent *claim, spender *wire.MsgTx, txid chainhash.Hash, vin int, height uint32) {
	if vin >= len(spender.TxOut) {
		return
	}
	var k *commitKeys
	kind := claimHolderSecondStage
	if parent.Kind == claimRevokedHTLC {
		k, kind = m.counterpartyKeys(parent.PerCommitmentPoint), claimRevokedSecondStage
	} else {
		var err error
		if k, err = m.holderKeys(parent.CommitmentNumber); err != nil {
			m.log.Error("cannot derive our commitment keys", "commitment", parent.CommitmentNumber, "err", err)
			return
		}
	}
	script, err := bolt3.SecondStageHTLCScript(k.revocation, k.delayed, k.toSelfDelay)
	if err != nil || !bytes.Equal(spender.TxOut[vin].PkScript, bolt3.WitnessScriptHash(script)) {
		m.log.Error("second-stage output does not pay the expected script", "txid", txid, "index", vin, "err", err)
		return
	}
	c := &claim{Kind: kind, OutPoint: wire.OutPoint{Hash: txid, Index: uint32(vin)}, ValueSat: spender.TxOut[vin].Value,
		Script: script, CommitmentNumber: parent.CommitmentNumber, PerCommitmentPoint: k.point, HTLC: parent.HTLC,
		ParentHeight: height}
	if kind == claimHolderSecondStage {
		c.ValidHeight = csvHeight(height, uint32(m.params.HolderToSelfDelay))
	} else {
		c.ValidHeight, c.Deadline = height, height+uint32(m.params.CounterpartyToSelfDelay)
	}
	m.addClaim(c)
}
