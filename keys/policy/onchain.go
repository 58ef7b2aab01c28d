package policy

import (
	"bytes"
	"encoding/binary"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/keys"
)

// SignClosingTransaction signs a cooperative close after checking it: it pays its description
// (commitment-structure), our output goes to our wallet (mutual-close-destination), it gives us at
// least our value on the latest commitments (mutual-close-value), and as funder we pay at most
// MaxFeeratePerKw (and MaxClosingFeeSat) in fee (mutual-close-fee-range).
func (c *channelSigner) SignClosingTransaction(ct *keys.ClosingTx) (*ecdsa.Signature, error) {
	c.ch.mu.Lock()
	defer c.ch.mu.Unlock()
	st := c.ch.st
	p := st.params
	if p == nil {
		return nil, keys.ErrNoChannelParameters
	}
	if ct == nil || ct.Tx == nil {
		return nil, keys.ErrNilTransaction
	}
	fee, err := p.CheckClosing(ct)
	if err != nil {
		return nil, violation(RuleCommitmentStructure, "closing: %v", err)
	}
	if ct.ToHolderSat > 0 && !c.s.isWallet(c.ch.id, ct.HolderScript) {
		return nil, violation(RuleMutualCloseDestination, "our output pays %x, not our wallet", ct.HolderScript)
	}
	lh, lc := st.latestHolder(), st.latestCp()
	if lh == nil || lc == nil {
		return nil, violation(RuleMutualCloseValue, "no commitment to close from")
	}
	want := int64(min(lh.value(), lc.value()) / 1000)
	if p.IsOutbound {
		want -= fee
	}
	dust := max(p.HolderDustLimitSat, p.CounterpartyDustLimitSat)
	if ct.ToHolderSat < want && !(ct.ToHolderSat == 0 && want < dust) {
		return nil, violation(RuleMutualCloseValue, "closing gives us %d sat, our balance is %d", ct.ToHolderSat, want)
	}
	if p.IsOutbound {
		var cpScript []byte
		if ct.ToCounterpartySat > 0 {
			cpScript = ct.CounterpartyScript
		}
		var ourScript []byte
		if ct.ToHolderSat > 0 {
			ourScript = ct.HolderScript
		}
		limit := int64(c.s.cfg.MaxFeeratePerKw) * bolt3.ClosingTxWeight(ourScript, cpScript) / 1000
		if m := c.s.cfg.MaxClosingFeeSat; m > 0 {
			limit = min(limit, m)
		}
		if fee > limit {
			return nil, violation(RuleMutualCloseFee, "closing fee %d sat above %d", fee, limit)
		}
	}
	sig, err := c.inner.SignClosingTransaction(ct)
	if err != nil {
		return nil, innerErr("closing transaction", err)
	}
	return sig, nil
}

// txWeight is tx's weight in weight units, counting an input without witness as if it had a
// 220-byte one (a signer may be asked before every witness is in place).
func txWeight(tx *wire.MsgTx) int64 {
	w := int64(tx.SerializeSizeStripped())*3 + int64(tx.SerializeSize())
	hasWitness := false
	for _, in := range tx.TxIn {
		if len(in.Witness) == 0 {
			w += 220
		} else {
			hasWitness = true
		}
	}
	if !hasWitness {
		w += 2 // marker and flag
	}
	return w
}

// checkTx refuses malformed transactions the way the inner signer would, before the policy reads them.
func checkTx(tx *wire.MsgTx, index int) error {
	if tx == nil {
		return keys.ErrNilTransaction
	}
	for _, in := range tx.TxIn {
		if in == nil {
			return keys.ErrInvalidTransaction
		}
	}
	for _, out := range tx.TxOut {
		if out == nil {
			return keys.ErrInvalidTransaction
		}
	}
	if index < 0 || index >= len(tx.TxIn) {
		return keys.ErrInputIndexOutOfRange
	}
	return nil
}

// checkSweep applies sweep-destination (every output pays our wallet) and sweep-fee-range to input
// index (valueSat) of sweep tx: with the inputs of tx signed before from this channel, what we put
// in minus what comes back is at most MaxFeeratePerKw times tx's weight. It returns a function that
// records the input once signed. The caller holds c.ch.mu.
func (c *channelSigner) checkSweep(tx *wire.MsgTx, index int, valueSat int64) (func(), error) {
	if err := checkTx(tx, index); err != nil {
		return nil, err
	}
	var out int64
	for i, o := range tx.TxOut {
		if !c.s.isWallet(c.ch.id, o.PkScript) {
			return nil, violation(RuleSweepDestination, "output %d pays %x, not our wallet", i, o.PkScript)
		}
		out += o.Value
	}
	txid := tx.TxHash()
	known := map[int]int64{}
	for _, sw := range c.ch.sweeps {
		if sw.txid == txid {
			known = sw.inputs
		}
	}
	in := valueSat
	for i, v := range known {
		if i != index {
			in += v
		}
	}
	limit := int64(c.s.cfg.MaxFeeratePerKw) * txWeight(tx) / 1000
	if in-out > limit {
		return nil, violation(RuleSweepFee, "sweep pays %d sat of our %d in fee, at most %d", in-out, in, limit)
	}
	return func() {
		for i := range c.ch.sweeps {
			if c.ch.sweeps[i].txid == txid {
				c.ch.sweeps[i].inputs[index] = valueSat
				return
			}
		}
		if len(c.ch.sweeps) >= maxSweeps {
			c.ch.sweeps = c.ch.sweeps[1:]
		}
		c.ch.sweeps = append(c.ch.sweeps, sweepRec{txid: txid, inputs: map[int]int64{index: valueSat}})
	}, nil
}

// sweep runs sign after checkSweep.
func (c *channelSigner) sweep(what string, tx *wire.MsgTx, index int, valueSat int64, sign func() (*ecdsa.Signature, error)) (*ecdsa.Signature, error) {
	c.ch.mu.Lock()
	defer c.ch.mu.Unlock()
	record, err := c.checkSweep(tx, index, valueSat)
	if err != nil {
		return nil, err
	}
	sig, err := sign()
	if err != nil {
		return nil, innerErr(what, err)
	}
	record()
	return sig, nil
}

// SignCounterpartyHTLCTx signs our claim of an HTLC output of the counterparty's commitment (with
// the preimage, or after its timeout): a sweep (sweep-destination, sweep-fee-range), signed with
// SIGHASH_ALL only, so that no output can change after the checks.
func (c *channelSigner) SignCounterpartyHTLCTx(tx *wire.MsgTx, index int, script []byte, valueSat int64, point *btcec.PublicKey, hashType txscript.SigHashType) (*ecdsa.Signature, error) {
	if hashType != txscript.SigHashAll {
		return nil, violation(RuleSweepDestination, "a sweep is signed with SIGHASH_ALL, not 0x%02x", uint32(hashType))
	}
	return c.sweep("counterparty HTLC claim", tx, index, valueSat, func() (*ecdsa.Signature, error) {
		return c.inner.SignCounterpartyHTLCTx(tx, index, script, valueSat, point, hashType)
	})
}

// SignDelayedOutput signs a sweep of our delayed output (sweep-destination, sweep-fee-range).
func (c *channelSigner) SignDelayedOutput(tx *wire.MsgTx, index int, script []byte, valueSat int64, point *btcec.PublicKey) (*ecdsa.Signature, error) {
	return c.sweep("delayed output", tx, index, valueSat, func() (*ecdsa.Signature, error) {
		return c.inner.SignDelayedOutput(tx, index, script, valueSat, point)
	})
}

// SignJustice signs a penalty sweep (sweep-destination, sweep-fee-range).
func (c *channelSigner) SignJustice(tx *wire.MsgTx, index int, script []byte, valueSat int64, secret [32]byte) (*ecdsa.Signature, error) {
	return c.sweep("justice", tx, index, valueSat, func() (*ecdsa.Signature, error) {
		return c.inner.SignJustice(tx, index, script, valueSat, secret)
	})
}

// SignPaymentOutput signs a sweep of our to_remote output (sweep-destination, sweep-fee-range).
func (c *channelSigner) SignPaymentOutput(tx *wire.MsgTx, index int, script []byte, valueSat int64) (*ecdsa.Signature, error) {
	return c.sweep("payment output", tx, index, valueSat, func() (*ecdsa.Signature, error) {
		return c.inner.SignPaymentOutput(tx, index, script, valueSat)
	})
}

// SignAnchor signs a CPFP child spending our anchor: the script must be our anchor's (anchor-script;
// the funding key signs, so nothing else that key locks may be spent this way) and every output must
// pay our wallet (sweep-destination). The fee is the wallet's inputs', which the signer does not see.
func (c *channelSigner) SignAnchor(tx *wire.MsgTx, index int, script []byte, valueSat int64) (*ecdsa.Signature, error) {
	if err := checkTx(tx, index); err != nil {
		return nil, err
	}
	want, err := bolt3.AnchorScript(c.inner.Pubkeys().FundingPubkey)
	if err != nil || !bytes.Equal(want, script) {
		return nil, violation(RuleAnchorScript, "script is not our anchor's")
	}
	for i, o := range tx.TxOut {
		if !c.s.isWallet(c.ch.id, o.PkScript) {
			return nil, violation(RuleSweepDestination, "anchor child output %d pays %x, not our wallet", i, o.PkScript)
		}
	}
	sig, err := c.inner.SignAnchor(tx, index, script, valueSat)
	if err != nil {
		return nil, innerErr("anchor", err)
	}
	return sig, nil
}

// SignHolderHTLCTx signs a second-stage transaction of an unrevoked validated holder commitment
// (commitment-holder-not-revoked, with our point for it): the output at the input's index pays the
// second-stage script of BOLT 3 (htlc-tx-destination) and keeps the input's value less at most the
// fee of an HTLC-success transaction at the commitment's feerate, none with anchors (htlc-tx-fee-range).
func (c *channelSigner) SignHolderHTLCTx(tx *wire.MsgTx, index int, script []byte, valueSat int64, point *btcec.PublicKey, hashType txscript.SigHashType) (*ecdsa.Signature, error) {
	if err := checkTx(tx, index); err != nil {
		return nil, err
	}
	c.ch.mu.Lock()
	defer c.ch.mu.Unlock()
	st := c.ch.st
	p := st.params
	if p == nil {
		return nil, keys.ErrNoChannelParameters
	}
	prev := tx.TxIn[index].PreviousOutPoint.Hash
	var rec *commitRec
	for _, r := range st.holder {
		if r.txid == prev {
			rec = r
		}
	}
	if rec == nil || point == nil || !point.IsEqual(rec.point) {
		return nil, violation(RuleHolderNotRevoked, "input %d does not spend an unrevoked holder commitment with its point", index)
	}
	k := p.DeriveCommitmentKeys(true, rec.point)
	second, err := bolt3.SecondStageHTLCScript(k.RevocationKey, k.BroadcasterDelayedKey, p.HolderToSelfDelay)
	if err != nil || index >= len(tx.TxOut) || !bytes.Equal(tx.TxOut[index].PkScript, bolt3.WitnessScriptHash(second)) {
		return nil, violation(RuleHTLCTxDestination, "output %d is not our second-stage output", index)
	}
	var fee int64 // zero-fee HTLC transactions with anchors: the wallet's inputs pay
	if !p.Anchors {
		fee = int64(rec.feerate) * bolt3.HTLCSuccessWeight / 1000
	}
	if tx.TxOut[index].Value < valueSat-fee {
		return nil, violation(RuleHTLCTxFee, "HTLC transaction keeps %d of %d sat", tx.TxOut[index].Value, valueSat)
	}
	sig, err := c.inner.SignHolderHTLCTx(tx, index, script, valueSat, point, hashType)
	if err != nil {
		return nil, innerErr("holder HTLC transaction", err)
	}
	return sig, nil
}

// SignChannelAnnouncementWithFundingKey signs only a channel_announcement (BOLT 7: features, chain
// hash, short_channel_id, node ids, bitcoin keys) that names our node and funding key side by side,
// and the counterparty's funding key opposite (channel-announcement): the funding key must never sign
// the double-SHA256 of anything else, such as a BIP 143 preimage spending the funding output.
func (c *channelSigner) SignChannelAnnouncementWithFundingKey(data []byte) (*ecdsa.Signature, error) {
	if len(data) < 2 {
		return nil, violation(RuleChannelAnnouncement, "not a channel_announcement")
	}
	off := 2 + int(binary.BigEndian.Uint16(data)) + 32 + 8
	if len(data) < off+4*33 {
		return nil, violation(RuleChannelAnnouncement, "not a channel_announcement")
	}
	key := func(i int) []byte { return data[off+33*i : off+33*(i+1)] }
	node := c.s.inner.GetNodeID().SerializeCompressed()
	ours := c.inner.Pubkeys().FundingPubkey.SerializeCompressed()
	side := -1
	for i := range 2 {
		if bytes.Equal(key(i), node) && bytes.Equal(key(2+i), ours) {
			side = i
		}
	}
	if side < 0 {
		return nil, violation(RuleChannelAnnouncement, "announcement does not name our node and funding key")
	}
	c.ch.mu.Lock()
	p := c.ch.st.params
	c.ch.mu.Unlock()
	if p != nil && !bytes.Equal(key(3-side), p.CounterpartyPubkeys.FundingPubkey.SerializeCompressed()) {
		return nil, violation(RuleChannelAnnouncement, "announcement names another counterparty funding key")
	}
	sig, err := c.inner.SignChannelAnnouncementWithFundingKey(data)
	if err != nil {
		return nil, innerErr("channel announcement", err)
	}
	return sig, nil
}
