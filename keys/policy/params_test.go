package policy

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/keys"
)

// provide derives a fresh channel signer and gives it tc's parameters changed by f.
func (tc *testChan) provide(f func(p *keys.ChannelTransactionParameters)) error {
	p := *tc.pa
	f(&p)
	return tc.h.pol.DeriveChannelSigner(tc.value, tc.id).ProvideChannelParameters(&p)
}

// freshParams returns parameters for a new channel id on tc's counterparty keys, changed by f.
func (h *harness) freshParams(tc *testChan, f func(p *keys.ChannelTransactionParameters)) error {
	id := h.pol.GenerateChannelKeysID(false, tc.value, [16]byte{0xee})
	s := h.pol.DeriveChannelSigner(tc.value, id)
	p := *tc.pa
	p.HolderPubkeys = s.Pubkeys()
	p.FundingOutPoint.Index = 7
	f(&p)
	return s.ProvideChannelParameters(&p)
}

func TestChannelParameters(t *testing.T) {
	h := newHarness(t, nil)
	tc := h.open(1_000_000, false)
	// Given again, unchanged (restart, the monitor's signer): accepted.
	require.NoError(t, tc.provide(func(*keys.ChannelTransactionParameters) {}))

	t.Run("channel-parameters-fixed", func(t *testing.T) {
		requireRule(t, tc.provide(func(p *keys.ChannelTransactionParameters) { p.CounterpartyToSelfDelay = 200 }), RuleChannelParametersFixed)
		requireRule(t, tc.provide(func(p *keys.ChannelTransactionParameters) {
			p.CounterpartyPubkeys.HTLCBasepoint = p.HolderPubkeys.HTLCBasepoint
		}), RuleChannelParametersFixed)
	})
	t.Run("funding-output-fixed", func(t *testing.T) {
		requireRule(t, tc.provide(func(p *keys.ChannelTransactionParameters) { p.FundingOutPoint.Index++ }), RuleFundingOutputFixed)
		requireRule(t, tc.provide(func(p *keys.ChannelTransactionParameters) { p.ValueSat++ }), RuleFundingOutputFixed)
		// A new channel whose value is not the one its signer was derived for.
		requireRule(t, h.freshParams(tc, func(p *keys.ChannelTransactionParameters) { p.ValueSat = 2_000_000 }), RuleFundingOutputFixed)
	})
	t.Run("channel-holder-keys", func(t *testing.T) {
		requireRule(t, h.freshParams(tc, func(p *keys.ChannelTransactionParameters) {
			p.HolderPubkeys.PaymentPoint = p.CounterpartyPubkeys.PaymentPoint
		}), RuleChannelHolderKeys)
	})
	t.Run("funding-push-approved", func(t *testing.T) {
		requireRule(t, h.freshParams(tc, func(p *keys.ChannelTransactionParameters) { p.PushMsat = 1 }), RuleFundingPush)
		// The fundee is pushed to: fine.
		require.NoError(t, h.freshParams(tc, func(p *keys.ChannelTransactionParameters) { p.IsOutbound, p.PushMsat = false, 5000 }))
	})
	t.Run("channel-to-self-delay", func(t *testing.T) {
		requireRule(t, h.freshParams(tc, func(p *keys.ChannelTransactionParameters) { p.CounterpartyToSelfDelay = 5 }), RuleToSelfDelay)
		requireRule(t, h.freshParams(tc, func(p *keys.ChannelTransactionParameters) { p.CounterpartyToSelfDelay = 2017 }), RuleToSelfDelay)
		requireRule(t, h.freshParams(tc, func(p *keys.ChannelTransactionParameters) { p.HolderToSelfDelay = 5000 }), RuleToSelfDelay)
	})
	t.Run("commitment-dust-limit", func(t *testing.T) {
		requireRule(t, h.freshParams(tc, func(p *keys.ChannelTransactionParameters) { p.HolderDustLimitSat = 100 }), RuleDustLimit)
		requireRule(t, h.freshParams(tc, func(p *keys.ChannelTransactionParameters) { p.CounterpartyDustLimitSat = 50_000 }), RuleDustLimit)
	})
	// None of that disturbed the channel.
	require.NoError(t, tc.round(tc.st))
}
