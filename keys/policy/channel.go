package policy

import (
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/keys"
)

// channelSigner is the ChannelSigner DeriveChannelSigner returns: the inner signer of one instance,
// checked against the channel state all instances of the keys id share.
type channelSigner struct {
	s        *Signer
	ch       *channel
	inner    keys.ChannelSigner
	valueSat int64 // the value given at derivation, 0 unknown
}

var _ keys.ChannelSigner = (*channelSigner)(nil)

// ChannelKeysID passes through.
func (c *channelSigner) ChannelKeysID() [32]byte { return c.inner.ChannelKeysID() }

// Pubkeys passes through.
func (c *channelSigner) Pubkeys() keys.ChannelPublicKeys { return c.inner.Pubkeys() }

// Write passes through (keys id and channel value: Signer.ReadChannelSigner reads it back).
func (c *channelSigner) Write() []byte { return c.inner.Write() }

// GetPerCommitmentPoint passes through: points are public.
func (c *channelSigner) GetPerCommitmentPoint(n uint64) (*btcec.PublicKey, error) {
	return c.inner.GetPerCommitmentPoint(n)
}

func keysEqual(a, b keys.ChannelPublicKeys) bool {
	eq := func(x, y *btcec.PublicKey) bool { return x != nil && y != nil && x.IsEqual(y) }
	return eq(a.FundingPubkey, b.FundingPubkey) && eq(a.RevocationBasepoint, b.RevocationBasepoint) &&
		eq(a.PaymentPoint, b.PaymentPoint) && eq(a.DelayedPaymentBasepoint, b.DelayedPaymentBasepoint) &&
		eq(a.HTLCBasepoint, b.HTLCBasepoint)
}

// checkNewParams applies the rules on a channel's parameters when the policy first learns them.
func (c *channelSigner) checkNewParams(p *keys.ChannelTransactionParameters) error {
	cfg := &c.s.cfg
	k := p.CounterpartyPubkeys
	for _, pk := range []*btcec.PublicKey{k.FundingPubkey, k.RevocationBasepoint, k.PaymentPoint, k.DelayedPaymentBasepoint, k.HTLCBasepoint} {
		if pk == nil {
			return keys.ErrNilKey
		}
	}
	switch {
	case !keysEqual(p.HolderPubkeys, c.inner.Pubkeys()):
		return violation(RuleChannelHolderKeys, "holder keys are not this signer's")
	case p.ValueSat <= 0 || (c.valueSat > 0 && p.ValueSat != c.valueSat):
		return violation(RuleFundingOutputFixed, "funding value %d sat, signer derived for %d sat", p.ValueSat, c.valueSat)
	case p.IsOutbound && p.PushMsat > cfg.MaxPushMsat:
		return violation(RuleFundingPush, "push of %d msat above %d", p.PushMsat, cfg.MaxPushMsat)
	case p.PushMsat > uint64(p.ValueSat)*1000:
		return violation(RuleFundingPush, "push of %d msat above the channel value", p.PushMsat)
	case p.CounterpartyToSelfDelay < cfg.MinToSelfDelay || p.CounterpartyToSelfDelay > cfg.MaxToSelfDelay:
		return violation(RuleToSelfDelay, "counterparty to_self_delay %d outside [%d, %d]", p.CounterpartyToSelfDelay, cfg.MinToSelfDelay, cfg.MaxToSelfDelay)
	case p.HolderToSelfDelay > cfg.MaxToSelfDelay:
		return violation(RuleToSelfDelay, "holder to_self_delay %d above %d", p.HolderToSelfDelay, cfg.MaxToSelfDelay)
	}
	for _, d := range []int64{p.HolderDustLimitSat, p.CounterpartyDustLimitSat} {
		if d < cfg.MinDustLimitSat || d > cfg.MaxDustLimitSat {
			return violation(RuleDustLimit, "dust limit %d sat outside [%d, %d]", d, cfg.MinDustLimitSat, cfg.MaxDustLimitSat)
		}
	}
	return nil
}

// sameParams compares parameters given again (b) with the ones the policy holds (a). A PushMsat of 0
// given again is not compared: a ChannelMonitor re-providing its channel's parameters does not know
// push_msat (keys.ChannelTransactionParameters).
func sameParams(a, b *keys.ChannelTransactionParameters) error {
	if a.FundingOutPoint != b.FundingOutPoint || a.ValueSat != b.ValueSat {
		return violation(RuleFundingOutputFixed, "funding output %v (%d sat) is now %v (%d sat)", a.FundingOutPoint, a.ValueSat, b.FundingOutPoint, b.ValueSat)
	}
	if a.IsOutbound != b.IsOutbound || (b.PushMsat != 0 && a.PushMsat != b.PushMsat) || a.Anchors != b.Anchors ||
		a.HolderToSelfDelay != b.HolderToSelfDelay || a.CounterpartyToSelfDelay != b.CounterpartyToSelfDelay ||
		a.HolderDustLimitSat != b.HolderDustLimitSat || a.CounterpartyDustLimitSat != b.CounterpartyDustLimitSat ||
		!keysEqual(a.HolderPubkeys, b.HolderPubkeys) || !keysEqual(a.CounterpartyPubkeys, b.CounterpartyPubkeys) {
		return violation(RuleChannelParametersFixed, "parameters differ from the ones given before")
	}
	return nil
}

// ProvideChannelParameters checks p (rules channel-holder-keys, funding-output-fixed,
// funding-push-approved, channel-to-self-delay, commitment-dust-limit; channel-parameters-fixed once
// known), passes it to the inner signer and persists it.
func (c *channelSigner) ProvideChannelParameters(p *keys.ChannelTransactionParameters) error {
	if p == nil {
		return keys.ErrNilKey
	}
	c.ch.mu.Lock()
	defer c.ch.mu.Unlock()
	if old := c.ch.st.params; old != nil {
		if err := sameParams(old, p); err != nil {
			return err
		}
		if err := c.inner.ProvideChannelParameters(p); err != nil {
			return innerErr("channel parameters", err)
		}
		return nil
	}
	if err := c.checkNewParams(p); err != nil {
		return err
	}
	if err := c.inner.ProvideChannelParameters(p); err != nil {
		return innerErr("channel parameters", err)
	}
	ns := c.ch.st.clone()
	cp := *p
	ns.params = &cp
	return c.s.commit(c.ch, ns, nil)
}

// ReleaseCommitmentSecret releases our secret for holder commitment n only once commitment n+1 was
// validated (revoke-new-commitment-signed) and never for a commitment at or after one signed for
// broadcast (revoke-not-closed). Releasing an already released secret again is allowed.
func (c *channelSigner) ReleaseCommitmentSecret(n uint64) ([32]byte, error) {
	c.ch.mu.Lock()
	defer c.ch.mu.Unlock()
	st := c.ch.st
	if st.holderBroadcast > 0 && n+1 >= st.holderBroadcast {
		return [32]byte{}, violation(RuleRevokeNotClosed, "commitment %d was signed for broadcast", st.holderBroadcast-1)
	}
	if lh := st.latestHolder(); lh == nil || lh.num < n+1 {
		return [32]byte{}, violation(RuleRevokeNewCommitment, "secret %d asked before commitment %d was validated", n, n+1)
	}
	secret, err := c.inner.ReleaseCommitmentSecret(n)
	if err != nil {
		return [32]byte{}, innerErr("release secret", err)
	}
	if n < st.holderRevokedNext {
		return secret, nil
	}
	ns := st.clone()
	ns.holderRevokedNext = n + 1
	ns.holder = ns.holder[:0]
	for _, r := range st.holder {
		if r.num > n {
			ns.holder = append(ns.holder, r)
		}
	}
	if err := c.s.commit(c.ch, ns, nil); err != nil {
		return [32]byte{}, err
	}
	return secret, nil
}

// ValidateCounterpartyRevocation checks the counterparty's secret for its commitment n against the
// point of the commitment we signed (counterparty-revocation-valid) and forgets that commitment.
// Commitments revoke in order and only once a later one is signed; an already revoked number passes.
func (c *channelSigner) ValidateCounterpartyRevocation(n uint64, secret [32]byte) error {
	c.ch.mu.Lock()
	defer c.ch.mu.Unlock()
	st := c.ch.st
	if n < st.cpRevokedNext {
		return nil
	}
	if n > st.cpRevokedNext || len(st.cp) == 0 || st.cp[0].num != n || st.latestCp().num <= n {
		return violation(RuleRevocationValid, "revocation of commitment %d, expected %d with a later one signed", n, st.cpRevokedNext)
	}
	point, err := keys.ComputePerCommitmentPoint(secret)
	if err != nil || !point.IsEqual(st.cp[0].point) {
		return violation(RuleRevocationValid, "secret does not match the point of commitment %d", n)
	}
	if err := c.inner.ValidateCounterpartyRevocation(n, secret); err != nil {
		return innerErr("counterparty revocation", err)
	}
	ns := st.clone()
	for len(ns.cp) > 0 && ns.cp[0].num <= n {
		ns.cp = ns.cp[1:] // every version of commitment n
	}
	ns.cpRevokedNext = n + 1
	return c.s.commit(c.ch, ns, nil)
}

// SignHolderCommitment signs only the latest validated holder commitment, same number and txid
// (commitment-holder-not-revoked), and remembers it so that its secret is never released.
func (c *channelSigner) SignHolderCommitment(n uint64, tx *wire.MsgTx) (*ecdsa.Signature, error) {
	if tx == nil {
		return nil, keys.ErrNilTransaction
	}
	c.ch.mu.Lock()
	defer c.ch.mu.Unlock()
	st := c.ch.st
	if n < st.holderRevokedNext {
		return nil, violation(RuleHolderNotRevoked, "commitment %d is revoked", n)
	}
	lh := st.latestHolder()
	if lh == nil || lh.num != n || lh.txid != tx.TxHash() {
		return nil, violation(RuleHolderNotRevoked, "commitment %d (%s) is not the latest validated", n, tx.TxHash())
	}
	sig, err := c.inner.SignHolderCommitment(n, tx)
	if err != nil {
		return nil, innerErr("holder commitment", err)
	}
	if st.holderBroadcast == 0 {
		ns := st.clone()
		ns.holderBroadcast = n + 1
		if err := c.s.commit(c.ch, ns, nil); err != nil {
			return nil, err
		}
	}
	return sig, nil
}
