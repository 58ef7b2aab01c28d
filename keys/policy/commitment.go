package policy

import (
	"errors"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/keys"
)

// checkCommitment applies the rules both chains share to commitment c (the holder's when holder):
// commitment-structure, commitment-fee-range, commitment-htlc-count, commitment-htlc-inflight. It
// returns the rebuilt commitment and the record to keep.
func (c *channelSigner) checkCommitment(p *keys.ChannelTransactionParameters, ct *keys.CommitmentTx, holder bool) (*keys.BuiltCommitment, *commitRec, error) {
	cfg := &c.s.cfg
	b, err := p.Build(holder, ct)
	if err != nil {
		if errors.Is(err, keys.ErrNilTransaction) {
			return nil, nil, err
		}
		return nil, nil, violation(RuleCommitmentStructure, "%v", err)
	}
	if ct.FeeratePerKw < cfg.MinFeeratePerKw || ct.FeeratePerKw > cfg.MaxFeeratePerKw {
		return nil, nil, violation(RuleCommitmentFee, "feerate %d sat/kw outside [%d, %d]", ct.FeeratePerKw, cfg.MinFeeratePerKw, cfg.MaxFeeratePerKw)
	}
	if len(b.HTLCTxs) > cfg.MaxHTLCs {
		return nil, nil, violation(RuleHTLCCount, "%d HTLC outputs, at most %d", len(b.HTLCTxs), cfg.MaxHTLCs)
	}
	limit := cfg.MaxInFlightMsat
	if limit == 0 {
		limit = uint64(p.ValueSat) * 1000
	}
	var inflight uint64
	for _, h := range ct.HTLCs {
		inflight = addSat(inflight, h.AmountMsat)
	}
	if inflight > limit {
		return nil, nil, violation(RuleHTLCInflight, "%d msat in HTLCs, at most %d", inflight, limit)
	}
	return b, newRec(ct, b.Txid, holder), nil
}

// checkBalance applies commitment-balance: the holder's value (balance plus offered HTLCs) on next
// may be below the one on prev, the chain's previous commitment, only by outgoing HTLCs that left
// (fulfilled). The first commitment must give the holder its opening balance. Fees do not enter:
// the balances are before fee, and the fee is bounded by commitment-fee-range.
func checkBalance(p *keys.ChannelTransactionParameters, prev, next *commitRec) error {
	v := next.value()
	if prev == nil {
		want := p.PushMsat
		if p.IsOutbound {
			want = uint64(p.ValueSat)*1000 - p.PushMsat
		}
		if v < want {
			return violation(RuleCommitmentBalance, "first commitment gives us %d msat, opening balance %d", v, want)
		}
		return nil
	}
	var left uint64
	for _, h := range added(next, prev) {
		if h.outgoing {
			left = addSat(left, h.amountMsat)
		}
	}
	if addSat(v, left) < prev.value() {
		return violation(RuleCommitmentBalance, "our value drops from %d to %d msat with %d msat of our HTLCs resolved", prev.value(), v, left)
	}
	return nil
}

// maxCpVersions bounds the versions of one counterparty commitment number the policy signs (see
// SignCounterpartyCommitment).
const maxCpVersions = 3

// SignCounterpartyCommitment signs the counterparty's commitment n after checking it: the shared
// rules, commitment-keys (keys derived from its point), commitment-number (n is the latest signed,
// identical, or the next with the one before the latest revoked), commitment-balance, and the
// payment rules for HTLCs we add.
func (c *channelSigner) SignCounterpartyCommitment(ct *keys.CommitmentTx) (*ecdsa.Signature, []*ecdsa.Signature, error) {
	c.ch.mu.Lock()
	defer c.ch.mu.Unlock()
	st := c.ch.st
	p := st.params
	if p == nil {
		return nil, nil, keys.ErrNoChannelParameters
	}
	if ct == nil || ct.Tx == nil {
		return nil, nil, keys.ErrNilTransaction
	}
	if ct.PerCommitmentPoint == nil || !ct.PerCommitmentPoint.IsOnCurve() ||
		!ct.Keys.Equal(p.DeriveCommitmentKeys(false, ct.PerCommitmentPoint)) {
		return nil, nil, violation(RuleCommitmentKeys, "counterparty commitment %d keys are not derived from its point", ct.CommitmentNumber)
	}
	_, rec, err := c.checkCommitment(p, ct, false)
	if err != nil {
		return nil, nil, err
	}
	latest := st.latestCp()
	retry, versions := false, 0
	for _, r := range st.cp {
		if r.num == rec.num {
			versions++
			retry = retry || r.txid == rec.txid
		}
	}
	// Another version of the latest commitment: the node signed one, then lost the state it was made
	// in before it sent it (a crash before the node's state was written; nothing that depends on it
	// left). Both versions can confirm until the counterparty revokes that number, so both stay in
	// the flows; each must pass every rule against the commitment before it, and there are at most
	// maxCpVersions.
	sibling := !retry && latest != nil && rec.num == latest.num
	if sibling && (rec.num == 0 || versions >= maxCpVersions) {
		return nil, nil, violation(RuleCommitmentNumber, "a different counterparty commitment %d was signed", rec.num)
	}
	prev := latest
	if sibling {
		prev = nil
		for _, r := range st.cp {
			if r.num+1 == rec.num {
				prev = r
			}
		}
		if prev == nil && st.cpRevokedNext < rec.num {
			return nil, nil, violation(RuleCommitmentNumber, "counterparty commitment %d without the one before it", rec.num)
		}
	}
	switch {
	case retry, sibling:
	case latest == nil && (rec.num != 0 || st.cpRevokedNext != 0):
		return nil, nil, violation(RuleCommitmentNumber, "first counterparty commitment is %d, not 0", rec.num)
	case latest != nil && rec.num != latest.num+1:
		return nil, nil, violation(RuleCommitmentNumber, "counterparty commitment %d after %d", rec.num, latest.num)
	case latest != nil && st.cpRevokedNext < latest.num:
		return nil, nil, violation(RuleCommitmentNumber, "counterparty commitment %d before %d is revoked", rec.num, latest.num-1)
	}
	if !retry {
		if err := checkBalance(p, prev, rec); err != nil {
			return nil, nil, err
		}
	}
	sig, htlcSigs, err := c.inner.SignCounterpartyCommitment(ct)
	if err != nil {
		return nil, nil, innerErr("counterparty commitment", err)
	}
	if retry {
		return sig, htlcSigs, nil
	}
	ns := st.clone()
	ns.cp = append(ns.cp, rec)
	if err := c.s.commit(c.ch, ns, []step{{holder: false, prev: prev, next: rec}}); err != nil {
		return nil, nil, err
	}
	return sig, htlcSigs, nil
}

// ValidateHolderCommitment records our next commitment after checking it: the shared rules,
// commitment-keys (our point for n and keys derived from it), commitment-number (the latest again,
// identical, or the next with the one before the latest revoked), commitment-signatures (the
// counterparty's signatures verify, so that we can broadcast it), commitment-balance and the payment
// rules for HTLCs we add.
func (c *channelSigner) ValidateHolderCommitment(ct *keys.CommitmentTx, sig *ecdsa.Signature, htlcSigs []*ecdsa.Signature) error {
	c.ch.mu.Lock()
	defer c.ch.mu.Unlock()
	st := c.ch.st
	p := st.params
	if p == nil {
		return keys.ErrNoChannelParameters
	}
	if ct == nil || ct.Tx == nil {
		return keys.ErrNilTransaction
	}
	point, err := c.inner.GetPerCommitmentPoint(ct.CommitmentNumber)
	if err != nil {
		return innerErr("per-commitment point", err)
	}
	if ct.PerCommitmentPoint == nil || !ct.PerCommitmentPoint.IsEqual(point) || !ct.Keys.Equal(p.DeriveCommitmentKeys(true, point)) {
		return violation(RuleCommitmentKeys, "holder commitment %d is not built on our point", ct.CommitmentNumber)
	}
	b, rec, err := c.checkCommitment(p, ct, true)
	if err != nil {
		return err
	}
	latest := st.latestHolder()
	switch {
	case latest != nil && rec.num == latest.num:
		if rec.txid != latest.txid {
			return violation(RuleCommitmentNumber, "a different holder commitment %d was validated", rec.num)
		}
		return nil
	case latest == nil && (rec.num != 0 || st.holderRevokedNext != 0):
		return violation(RuleCommitmentNumber, "first holder commitment is %d, not 0", rec.num)
	case latest != nil && rec.num != latest.num+1:
		return violation(RuleCommitmentNumber, "holder commitment %d after %d", rec.num, latest.num)
	case latest != nil && st.holderRevokedNext < latest.num:
		return violation(RuleCommitmentNumber, "holder commitment %d before %d is revoked", rec.num, latest.num-1)
	}
	if err := verifyCounterpartySigs(p, ct, b, sig, htlcSigs); err != nil {
		return err
	}
	if err := checkBalance(p, latest, rec); err != nil {
		return err
	}
	if err := c.inner.ValidateHolderCommitment(ct, sig, htlcSigs); err != nil {
		return innerErr("holder commitment", err)
	}
	ns := st.clone()
	ns.holder = append(ns.holder, rec)
	return c.s.commit(c.ch, ns, []step{{holder: true, prev: latest, next: rec}})
}

// verifyCounterpartySigs checks the counterparty's signature of our commitment's funding input and of
// every second-stage HTLC transaction (commitment-signatures).
func verifyCounterpartySigs(p *keys.ChannelTransactionParameters, ct *keys.CommitmentTx, b *keys.BuiltCommitment, sig *ecdsa.Signature, htlcSigs []*ecdsa.Signature) error {
	script, err := p.FundingScript()
	if err != nil {
		return err
	}
	if !verify(ct.Tx, script, p.ValueSat, txscript.SigHashAll, sig, p.CounterpartyPubkeys.FundingPubkey) {
		return violation(RuleCommitmentSignatures, "counterparty signature of commitment %d does not verify", ct.CommitmentNumber)
	}
	if len(htlcSigs) != len(b.HTLCTxs) {
		return violation(RuleCommitmentSignatures, "%d HTLC signatures for %d HTLC outputs", len(htlcSigs), len(b.HTLCTxs))
	}
	hashType := bolt3.HTLCSigHashType(bolt3.ChannelTypeStaticRemoteKey)
	if p.Anchors {
		hashType = bolt3.HTLCSigHashType(bolt3.ChannelTypeAnchors)
	}
	for i, tx := range b.HTLCTxs {
		if !verify(tx, b.HTLCScripts[i], b.HTLCValuesSat[i], hashType, htlcSigs[i], ct.Keys.CountersignatoryHTLCKey) {
			return violation(RuleCommitmentSignatures, "counterparty HTLC signature %d does not verify", i)
		}
	}
	return nil
}

// verify checks a BIP 143 signature of input 0 of tx.
func verify(tx *wire.MsgTx, script []byte, valueSat int64, hashType txscript.SigHashType, sig *ecdsa.Signature, pub *btcec.PublicKey) bool {
	if sig == nil || pub == nil || len(tx.TxIn) == 0 {
		return false
	}
	hashes := txscript.NewTxSigHashes(tx, txscript.NewCannedPrevOutputFetcher(script, valueSat))
	digest, err := txscript.CalcWitnessSigHash(script, hashes, hashType, tx, 0, valueSat)
	return err == nil && sig.Verify(digest, pub)
}
