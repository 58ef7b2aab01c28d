package channelmanager

import (
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/sphinx"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
)

// forwardNet is alice → bob → carol: alice funds alice–bob, bob funds bob–carol, 1,000,000 sat each.
type forwardNet struct {
	nw       *network
	a, b, c  *testNode
	ab, bc   lnwire.ChannelID
	scidAB   lnwire.ShortChannelID
	scidBC   lnwire.ShortChannelID
	policyB  forwardPolicy
	finalCLT uint32
}

type forwardPolicy struct {
	baseMsat uint64
	delta    uint32
}

func threeNodes(t testing.TB) *forwardNet { return threeNodesWith(t, nil) }

// threeNodesWith is threeNodes with each node's config changed by tweak (0 alice, 1 bob, 2 carol)
// before the channels open.
func threeNodesWith(t testing.TB, tweak func(node int, c *config.UserConfig)) *forwardNet {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a := newTestNode(t, chain, "alice", 1)
	b := newTestNode(t, chain, "bob", 2)
	c := newTestNode(t, chain, "carol", 3)
	if tweak != nil {
		for i, n := range []*testNode{a, b, c} {
			tweak(i, &n.cfg)
			n.start(nil)
		}
	}
	nw := newNetwork(t, a, b, c)
	nw.connect(0, 1)
	nw.connect(1, 2)
	f := &forwardNet{nw: nw, a: a, b: b, c: c}
	f.ab = nw.openChannel(0, 1, 1_000_000, 0)
	f.bc = nw.openChannel(1, 2, 1_000_000, 0)
	f.scidAB, f.scidBC = a.channel(f.ab).ShortChannelID, b.channel(f.bc).ShortChannelID
	cfg := b.cfg.ChannelConfig
	f.policyB = forwardPolicy{baseMsat: uint64(cfg.ForwardingFeeBaseMsat), delta: uint32(cfg.CLTVExpiryDelta)}
	require.Zero(t, cfg.ForwardingFeeProportionalMillionths, "the tests assume the default 0 ppm")
	f.finalCLT = DefaultMinFinalCLTVExpiryDelta + 6
	return f
}

// route is alice → bob → carol for amtMsat, bob paid feeMsat and given delta blocks, over nextSCID.
func (f *forwardNet) route(amtMsat, feeMsat uint64, delta uint32, nextSCID lnwire.ShortChannelID) *router.Route {
	return &router.Route{Paths: []router.Path{{Hops: []router.RouteHop{
		{PubKey: f.b.id, ShortChannelID: f.scidAB, FeeMsat: feeMsat, CLTVExpiryDelta: delta},
		{PubKey: f.c.id, ShortChannelID: nextSCID, FeeMsat: amtMsat, CLTVExpiryDelta: f.finalCLT},
	}}}}
}

// pay sends amtMsat from alice to carol over route r for a fresh invoice of carol's.
func (f *forwardNet) pay(t testing.TB, amtMsat uint64, r *router.Route, id byte) {
	hash, secret, err := f.c.cm.CreateInboundPayment(amtMsat, 3600, 0)
	require.NoError(t, err)
	require.NoError(t, f.a.cm.SendPaymentWithRoute(r, hash, &secret, events.PaymentID{id}))
	f.nw.settle()
}

// TestForwardPayment: alice pays carol through bob with bob's advertised fee (1,000 msat) and CLTV delta
// (72): carol is paid, alice learns the preimage and the fee, bob earns exactly the fee (PaymentForwarded)
// and both channels' balances move by what crossed them.
func TestForwardPayment(t *testing.T) {
	f := threeNodes(t)
	const amt = 50_000_000
	fee := f.policyB.baseMsat
	f.pay(t, amt, f.route(amt, fee, f.policyB.delta, f.scidBC), 1)

	require.Equal(t, 1, countEvents[events.PaymentClaimed](f.c.takeEvents()))
	evA := f.a.takeEvents()
	require.Equal(t, 1, countEvents[events.PaymentSent](evA))
	for _, e := range evA {
		if ps, ok := e.(events.PaymentSent); ok {
			require.Equal(t, fee, ps.FeePaidMsat)
		}
	}
	var fwd []events.PaymentForwarded
	for _, e := range f.b.takeEvents() {
		if pf, ok := e.(events.PaymentForwarded); ok {
			fwd = append(fwd, pf)
		}
	}
	require.Len(t, fwd, 1)
	require.Equal(t, events.PaymentForwarded{PrevChannelID: f.ab, NextChannelID: f.bc, IncomingAmountMsat: amt + fee,
		OutboundAmountForwardedMsat: amt, FeeEarnedMsat: fee}, fwd[0])
	checkBalances(t, f.a, f.b, f.ab, 1_000_000_000-amt-fee)
	checkBalances(t, f.b, f.c, f.bc, 1_000_000_000-amt)
}

// failureOf returns the single PaymentPathFailed among alice's events, after checking a PaymentFailed
// followed it.
func failureOf(t *testing.T, n *testNode) events.PaymentPathFailed {
	t.Helper()
	var out []events.PaymentPathFailed
	evs := n.takeEvents()
	for _, e := range evs {
		if pf, ok := e.(events.PaymentPathFailed); ok {
			out = append(out, pf)
		}
	}
	require.Len(t, out, 1, "%v", evs)
	require.Equal(t, 1, countEvents[events.PaymentFailed](evs))
	return out[0]
}

// checkEnclosedUpdate checks that failure data ends with bob's channel_update for bob–carol, signed by
// bob, stating his policy.
func checkEnclosedUpdate(t *testing.T, f *forwardNet, pf events.PaymentPathFailed) {
	t.Helper()
	fm := sphinx.FailureMessage{Code: sphinx.FailureCode(pf.FailureCode), Data: pf.FailureData}
	raw, err := fm.ChannelUpdate()
	require.NoError(t, err)
	m, err := lnwire.DecodeMessage(raw)
	require.NoError(t, err)
	upd, ok := m.(*lnwire.ChannelUpdate)
	require.True(t, ok, "%T", m)
	require.Equal(t, f.scidBC, upd.ShortChannelID)
	require.Equal(t, uint32(f.policyB.baseMsat), upd.FeeBaseMsat)
	require.Equal(t, uint16(f.policyB.delta), upd.CLTVExpiryDelta)
	sig, err := upd.Signature.ToSignature()
	require.NoError(t, err)
	require.True(t, sig.Verify(chainhash.DoubleHashB(upd.DataToSign()), f.b.id), "signed by bob")
}

// TestForwardFailures: each way a forward can break gives alice the BOLT 4 failure from the right hop
// (with bob's channel_update where the UPDATE flag says so), bob an HTLCHandlingFailed where he refused,
// and leaves every balance whole.
func TestForwardFailures(t *testing.T) {
	const amt = 20_000_000
	cases := []struct {
		name      string
		route     func(f *forwardNet) *router.Route
		code      sphinx.FailureCode
		erringHop int
		update    bool
	}{
		{"fee below bob's base fee", func(f *forwardNet) *router.Route {
			return f.route(amt, f.policyB.baseMsat-1, f.policyB.delta, f.scidBC)
		}, sphinx.FeeInsufficient, 0, true},
		{"CLTV delta below bob's", func(f *forwardNet) *router.Route {
			return f.route(amt, f.policyB.baseMsat, f.policyB.delta-1, f.scidBC)
		}, sphinx.IncorrectCLTVExpiry, 0, true},
		{"unknown next channel", func(f *forwardNet) *router.Route {
			return f.route(amt, f.policyB.baseMsat, f.policyB.delta, lnwire.NewShortChannelIDFromUint64(12345))
		}, sphinx.UnknownNextPeer, 0, false},
		{"outgoing expiry too soon", func(f *forwardNet) *router.Route {
			f.finalCLT = channelmonitor.LatencyGracePeriodBlocks // carol's HTLC would expire almost at once
			return f.route(amt, f.policyB.baseMsat, f.policyB.delta, f.scidBC)
		}, sphinx.ExpiryTooSoon, 0, true},
		{"outgoing expiry too far", func(f *forwardNet) *router.Route {
			f.finalCLT = CLTVFarFarAway + 1
			return f.route(amt, f.policyB.baseMsat, f.policyB.delta, f.scidBC)
		}, sphinx.ExpiryTooFar, 0, false},
		{"more than bob can send to carol", func(f *forwardNet) *router.Route {
			_, _, err := f.nw.pay(1, 2, 900_000_000) // bob spends most of bob–carol first
			require.NoError(f.nw.t, err)
			f.nw.settle()
			f.b.takeEvents()
			return f.route(200_000_000, f.policyB.baseMsat, f.policyB.delta, f.scidBC)
		}, sphinx.TemporaryChannelFailure, 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := threeNodes(t)
			r := tc.route(f)
			hash, secret, err := f.c.cm.CreateInboundPayment(r.Paths[0].Hops[1].FeeMsat, 3600, 0)
			require.NoError(t, err)
			require.NoError(t, f.a.cm.SendPaymentWithRoute(r, hash, &secret, events.PaymentID{2}))
			f.nw.settle()
			pf := failureOf(t, f.a)
			require.Equal(t, uint16(tc.code), pf.FailureCode, "got 0x%04x", pf.FailureCode)
			require.Equal(t, tc.erringHop, pf.ErringHop)
			if tc.update {
				checkEnclosedUpdate(t, f, pf)
			}
			require.Equal(t, 1, countEvents[events.HTLCHandlingFailed](f.b.takeEvents()))
			checkBalances(t, f.a, f.b, f.ab, 1_000_000_000)
		})
	}
}

// TestForwardFailureFromPayee: carol does not know the payment: her failure travels back through bob,
// who relays it obfuscated, and alice reads it as carol's (hop 1), permanent.
func TestForwardFailureFromPayee(t *testing.T) {
	f := threeNodes(t)
	const amt = 20_000_000
	r := f.route(amt, f.policyB.baseMsat, f.policyB.delta, f.scidBC)
	require.NoError(t, f.a.cm.SendPaymentWithRoute(r, [32]byte{0xde, 0xad}, nil, events.PaymentID{3}))
	f.nw.settle()
	pf := failureOf(t, f.a)
	require.Equal(t, uint16(sphinx.IncorrectOrUnknownPaymentDetails), pf.FailureCode)
	require.Equal(t, 1, pf.ErringHop, "carol's failure")
	require.True(t, pf.PaymentFailedPermanently)
	evB := f.b.takeEvents()
	require.Equal(t, 1, countEvents[events.HTLCHandlingFailed](evB))
	require.Zero(t, countEvents[events.PaymentForwarded](evB))
	checkBalances(t, f.a, f.b, f.ab, 1_000_000_000)
	checkBalances(t, f.b, f.c, f.bc, 1_000_000_000)
}

// TestForwardNextHopOffline: carol is disconnected: bob refuses the forward with
// temporary_channel_failure and a channel_update with the disable bit.
func TestForwardNextHopOffline(t *testing.T) {
	f := threeNodes(t)
	f.nw.disconnect(1, 2)
	const amt = 20_000_000
	f.pay(t, amt, f.route(amt, f.policyB.baseMsat, f.policyB.delta, f.scidBC), 4)
	pf := failureOf(t, f.a)
	require.Equal(t, uint16(sphinx.TemporaryChannelFailure), pf.FailureCode)
	checkEnclosedUpdate(t, f, pf)
	raw, _ := sphinx.FailureMessage{Code: sphinx.FailureCode(pf.FailureCode), Data: pf.FailureData}.ChannelUpdate()
	m, _ := lnwire.DecodeMessage(raw)
	require.NotZero(t, m.(*lnwire.ChannelUpdate).ChannelFlags&lnwire.ChanUpdateChanFlagDisable, "disabled")
	checkBalances(t, f.a, f.b, f.ab, 1_000_000_000)
}

// TestForwardSurvivesRestart: bob restarts from a snapshot taken while the forwarded HTLC waits at
// carol (she has not claimed yet): the outgoing HTLC's source is read back, and when carol claims, bob
// claims back from alice and earns his fee.
func TestForwardSurvivesRestart(t *testing.T) {
	f := threeNodes(t)
	f.c.autoClaim = false
	const amt = 30_000_000
	f.pay(t, amt, f.route(amt, f.policyB.baseMsat, f.policyB.delta, f.scidBC), 5)
	var preimage [32]byte
	for _, e := range f.c.takeEvents() {
		if pc, ok := e.(events.PaymentClaimable); ok {
			preimage = *pc.Purpose.PaymentPreimage
		}
	}
	require.NotZero(t, preimage, "carol holds the HTLC")
	snap := f.b.cm.Write()
	f.nw.disconnect(0, 1)
	f.nw.disconnect(1, 2)
	f.b.restart(snap)
	f.nw.connect(0, 1)
	f.nw.connect(1, 2)
	f.nw.settle()
	require.NoError(t, f.c.cm.ClaimFunds(preimage))
	f.nw.settle()
	require.Equal(t, 1, countEvents[events.PaymentSent](f.a.takeEvents()))
	require.Equal(t, 1, countEvents[events.PaymentForwarded](f.b.takeEvents()))
	checkBalances(t, f.a, f.b, f.ab, 1_000_000_000-amt-f.policyB.baseMsat)
	checkBalances(t, f.b, f.c, f.bc, 1_000_000_000-amt)
}

// TestForwardPreimageLearnedOnChain: bob loses carol (disconnected) after forwarding; carol claims the
// HTLC with its preimage, goes on chain before its expiry and spends it with her HTLC-success
// transaction. Bob's monitor reads the preimage from the chain and bob claims the incoming HTLC from
// alice off chain: alice's payment succeeds, bob earns his fee (PaymentForwarded, ClaimedOnChain), and
// nothing is lost on the alice–bob channel.
func TestForwardPreimageLearnedOnChain(t *testing.T) {
	f := threeNodes(t)
	f.c.autoClaim = false
	f.c.withBumpHandler(1_000_000) // carol's anchor HTLC-success needs fee inputs
	const amt = 100_000_000
	start := f.a.chain.Height()
	f.pay(t, amt, f.route(amt, f.policyB.baseMsat, f.policyB.delta, f.scidBC), 6)
	var preimage [32]byte
	for _, e := range f.c.takeEvents() {
		if pc, ok := e.(events.PaymentClaimable); ok {
			preimage = *pc.Purpose.PaymentPreimage
		}
	}
	require.NotZero(t, preimage)
	funding := f.b.channel(f.bc).FundingTxo
	f.nw.disconnect(1, 2)
	require.NoError(t, f.c.cm.ClaimFunds(preimage))
	expiry := start + f.finalCLT
	evs := map[*testNode][]events.Event{}
	mineTo(f.nw, expiry-channelmonitor.CLTVClaimBuffer+3, evs)
	commit := spendOf(f.a.chain, funding)
	require.NotNil(t, commit, "carol went on chain")
	mineTo(f.nw, f.a.chain.Height()+2, evs)
	require.NotNil(t, spendOf(f.a.chain, htlcOutput(t, commit, amt/1000)), "carol's HTLC-success confirmed")
	f.nw.settle()
	for _, n := range f.nw.nodes {
		evs[n] = append(evs[n], n.takeEvents()...)
	}
	require.Equal(t, 1, countEvents[events.PaymentSent](evs[f.a]), "%v", evs[f.a])
	var fwd *events.PaymentForwarded
	for _, e := range evs[f.b] {
		if pf, ok := e.(events.PaymentForwarded); ok {
			fwd = &pf
		}
	}
	require.NotNil(t, fwd, "%v", evs[f.b])
	require.True(t, fwd.ClaimedOnChain)
	require.Equal(t, f.policyB.baseMsat, fwd.FeeEarnedMsat)
	checkBalances(t, f.a, f.b, f.ab, 1_000_000_000-amt-f.policyB.baseMsat)
	noRejections(t, f.a.chain)
}

// interceptNet is threeNodes with bob intercepting, and a route from alice over bob's intercept scid.
func interceptNet(t *testing.T) (*forwardNet, uint64) {
	f := threeNodes(t)
	f.b.cfg.AcceptInterceptHTLCs = true
	snap := f.b.cm.Write()
	f.nw.disconnect(0, 1)
	f.nw.disconnect(1, 2)
	f.b.restart(snap) // bob's manager with the new config
	f.nw.connect(0, 1)
	f.nw.connect(1, 2)
	f.nw.settle()
	return f, f.b.cm.GetInterceptSCID()
}

func intercepted(t *testing.T, n *testNode) events.HTLCIntercepted {
	t.Helper()
	evs := eventsOf[events.HTLCIntercepted](n.takeEvents())
	require.Len(t, evs, 1)
	return evs[0]
}

// TestInterceptForward: an HTLC for bob's intercept scid is held (HTLCIntercepted with the amounts);
// bob forwards it over his channel to carol keeping 2,000 msat more than his fee, and it survives a
// restart of bob while held. Carol is paid, alice's payment succeeds, bob earns what he kept.
func TestInterceptForward(t *testing.T) {
	f, scid := interceptNet(t)
	const amt = 25_000_000
	fee := f.policyB.baseMsat
	f.pay(t, amt, f.route(amt, fee, f.policyB.delta, lnwire.NewShortChannelIDFromUint64(scid)), 30)
	ev := intercepted(t, f.b)
	require.Equal(t, scid, ev.RequestedNextHopSCID)
	require.Equal(t, uint64(amt+fee), ev.InboundAmountMsat)
	require.Equal(t, uint64(amt), ev.ExpectedOutboundAmountMsat)
	require.Equal(t, 1, f.a.channel(f.ab).NumPendingHTLCs, "held")

	snap := f.b.cm.Write()
	f.nw.disconnect(0, 1)
	f.nw.disconnect(1, 2)
	f.b.restart(snap)
	f.nw.connect(0, 1)
	f.nw.connect(1, 2)
	f.nw.settle()

	require.ErrorIs(t, f.b.cm.ForwardInterceptedHTLC(events.InterceptID{1}, f.bc, f.c.id, amt), ErrUnknownIntercept)
	// Carol's invoice is for amt; bob may forward a little less only if carol accepts it: forward amt.
	require.NoError(t, f.b.cm.ForwardInterceptedHTLC(ev.InterceptID, f.bc, f.c.id, amt))
	f.nw.settle()
	require.Len(t, eventsOf[events.PaymentSent](f.a.takeEvents()), 1)
	fwd := eventsOf[events.PaymentForwarded](f.b.takeEvents())
	require.Len(t, fwd, 1)
	require.Equal(t, fee, fwd[0].FeeEarnedMsat)
	require.ErrorIs(t, f.b.cm.ForwardInterceptedHTLC(ev.InterceptID, f.bc, f.c.id, amt), ErrUnknownIntercept, "used once")
}

// TestInterceptFail: bob fails an intercepted HTLC: alice gets unknown_next_peer from bob; without
// AcceptInterceptHTLCs the same scid is simply unknown.
func TestInterceptFail(t *testing.T) {
	f, scid := interceptNet(t)
	const amt = 25_000_000
	f.pay(t, amt, f.route(amt, f.policyB.baseMsat, f.policyB.delta, lnwire.NewShortChannelIDFromUint64(scid)), 31)
	ev := intercepted(t, f.b)
	require.NoError(t, f.b.cm.FailInterceptedHTLC(ev.InterceptID))
	require.ErrorIs(t, f.b.cm.FailInterceptedHTLC(ev.InterceptID), ErrUnknownIntercept)
	f.nw.settle()
	pf := failureOf(t, f.a)
	require.Equal(t, uint16(sphinx.UnknownNextPeer), pf.FailureCode)
	require.Equal(t, 0, pf.ErringHop)
	checkBalances(t, f.a, f.b, f.ab, 1_000_000_000)

	// Held and never handled: failed back once the incoming expiry is HTLCFailBackBuffer blocks away.
	start := f.a.chain.Height()
	f.pay(t, amt, f.route(amt, f.policyB.baseMsat, f.policyB.delta, lnwire.NewShortChannelIDFromUint64(scid)), 33)
	intercepted(t, f.b)
	expiry := start + f.finalCLT + f.policyB.delta
	evs := map[*testNode][]events.Event{}
	mineTo(f.nw, expiry-channelmonitor.HTLCFailBackBuffer-1, evs)
	f.nw.settle()
	require.Empty(t, eventsOf[events.PaymentFailed](append(evs[f.a], f.a.takeEvents()...)), "still held")
	mineTo(f.nw, expiry-channelmonitor.HTLCFailBackBuffer, evs)
	f.nw.settle()
	require.Len(t, eventsOf[events.PaymentFailed](append(evs[f.a], f.a.takeEvents()...)), 1, "failed back at the deadline")
	checkBalances(t, f.a, f.b, f.ab, 1_000_000_000)

	g := threeNodes(t)
	other := g.b.cm.GetInterceptSCID()
	g.pay(t, amt, g.route(amt, g.policyB.baseMsat, g.policyB.delta, lnwire.NewShortChannelIDFromUint64(other)), 32)
	require.Empty(t, eventsOf[events.HTLCIntercepted](g.b.takeEvents()))
	require.Equal(t, uint16(sphinx.UnknownNextPeer), failureOf(t, g.a).FailureCode)
}

// TestSCIDAliases: each side of bob–carol has the other's alias from channel_ready; carol keeps bob's
// across a restart; alice pays carol naming bob–carol by bob's alias in the onion, and bob forwards.
func TestSCIDAliases(t *testing.T) {
	f := threeNodes(t)
	bAlias := f.b.channel(f.bc).OutboundSCIDAlias
	require.NotZero(t, bAlias.ToUint64())
	require.NotEqual(t, f.b.channel(f.bc).ShortChannelID, bAlias)
	require.Equal(t, bAlias, f.c.channel(f.bc).InboundSCIDAlias)
	require.Equal(t, f.c.channel(f.bc).OutboundSCIDAlias, f.b.channel(f.bc).InboundSCIDAlias)

	snap := f.c.cm.Write()
	f.nw.disconnect(1, 2)
	f.c.restart(snap)
	f.nw.connect(1, 2)
	f.nw.settle()
	require.Equal(t, bAlias, f.c.channel(f.bc).InboundSCIDAlias, "kept across a restart")

	const amt = 7_000_000
	f.pay(t, amt, f.route(amt, f.policyB.baseMsat, f.policyB.delta, bAlias), 60)
	require.Len(t, eventsOf[events.PaymentSent](f.a.takeEvents()), 1)
	require.Len(t, eventsOf[events.PaymentForwarded](f.b.takeEvents()), 1)
}

// TestForwardFailedBackAfterOnChainTimeout: carol holds a forwarded HTLC and disappears; bob's outgoing
// HTLC expires, bob goes on chain against carol and times it out with his HTLC-timeout transaction,
// and only once that is final (AntiReorgDelay) fails the incoming HTLC back to alice, off chain, long
// before alice's own deadline: alice's payment fails, alice–bob stays open and whole.
func TestForwardFailedBackAfterOnChainTimeout(t *testing.T) {
	f := threeNodes(t)
	f.c.autoClaim = false
	f.b.withBumpHandler(1_000_000) // bob's anchor HTLC-timeout needs fee inputs
	const amt = 40_000_000
	start := f.a.chain.Height()
	f.pay(t, amt, f.route(amt, f.policyB.baseMsat, f.policyB.delta, f.scidBC), 70)
	require.Len(t, eventsOf[events.PaymentClaimable](f.c.takeEvents()), 1, "carol holds it")
	f.nw.disconnect(1, 2)
	expiry := start + f.finalCLT
	evs := map[*testNode][]events.Event{}
	mineTo(f.nw, expiry+channelmonitor.LatencyGracePeriodBlocks+2, evs)
	f.nw.settle()
	require.Empty(t, eventsOf[events.PaymentFailed](append(evs[f.a], f.a.takeEvents()...)), "not before the timeout is final")
	mineTo(f.nw, expiry+channelmonitor.LatencyGracePeriodBlocks+channelmonitor.AntiReorgDelay+8, evs)
	f.nw.settle()
	for _, n := range f.nw.nodes {
		evs[n] = append(evs[n], n.takeEvents()...)
	}
	require.Len(t, eventsOf[events.PaymentFailed](evs[f.a]), 1, "%v", evs[f.a])
	require.Len(t, eventsOf[events.HTLCHandlingFailed](evs[f.b]), 1)
	closedBC := false
	for _, cc := range eventsOf[events.ChannelClosed](evs[f.b]) {
		closedBC = closedBC || cc.ChannelID == f.bc
	}
	require.True(t, closedBC, "bob went on chain against carol")
	for _, cc := range eventsOf[events.ChannelClosed](append(evs[f.a], evs[f.b]...)) {
		require.NotEqual(t, f.ab, cc.ChannelID, "alice–bob stays open")
	}
	checkBalances(t, f.a, f.b, f.ab, 1_000_000_000)
	require.Less(t, f.a.chain.Height(), start+f.finalCLT+f.policyB.delta-channelmonitor.CLTVClaimBuffer, "well before alice's deadline")
	noRejections(t, f.a.chain)
}
