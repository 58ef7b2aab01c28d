package channelmanager

import (
	"bytes"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/invoice"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
)

// diamond is alice with two ways to carol: through bob and through dave, every channel 1,000,000 sat
// funded by its first node. Alice pays with a real router.DefaultRouter over a graph of the four
// channels (with each forwarder's real policy; bob's route looks cheaper) and a ProbabilisticScorer.
type diamond struct {
	nw             *network
	a, b, c, d     *testNode
	ab, bc, ad, dc lnwire.ChannelID
	graph          *router.NetworkGraph
	scorer         *router.ProbabilisticScorer
	router         *router.DefaultRouter
}

var mppPayee = lnwire.NewFeatureVector(lnwire.VarOnionOptinRequired, lnwire.PaymentSecretRequired, lnwire.BasicMPPOptional)

func newDiamond(t *testing.T) *diamond {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a, b := newTestNode(t, chain, "alice", 1), newTestNode(t, chain, "bob", 2)
	c, d := newTestNode(t, chain, "carol", 3), newTestNode(t, chain, "dave", 4)
	nw := newNetwork(t, a, b, c, d)
	for _, p := range [][2]int{{0, 1}, {1, 2}, {0, 3}, {3, 2}} {
		nw.connect(p[0], p[1])
	}
	dm := &diamond{nw: nw, a: a, b: b, c: c, d: d}
	dm.ab, dm.bc = nw.openChannel(0, 1, 1_000_000, 0), nw.openChannel(1, 2, 1_000_000, 0)
	dm.ad, dm.dc = nw.openChannel(0, 3, 1_000_000, 0), nw.openChannel(3, 2, 1_000_000, 0)
	dm.graph = router.NewNetworkGraph(nil)
	// Dave's route is advertised dearer, so bob's is tried first.
	dm.addChannel(t, a, b, dm.ab, 0)
	dm.addChannel(t, b, c, dm.bc, 0)
	dm.addChannel(t, a, d, dm.ad, 0)
	dm.addChannel(t, d, c, dm.dc, 5_000)
	dm.scorer = router.NewProbabilisticScorer(router.DefaultProbabilisticScoringDecayParameters(),
		router.DefaultProbabilisticScoringFeeParameters(), dm.graph)
	dm.router = router.NewDefaultRouter(dm.graph, dm.scorer, a.id)
	a.cm.SetRouter(dm.router)
	return dm
}

// addChannel puts the channel between x and y into the graph with both sides' real forwarding policy
// (plus extraBaseMsat advertised by x).
func (dm *diamond) addChannel(t *testing.T, x, y *testNode, id lnwire.ChannelID, extraBaseMsat uint32) {
	scid := x.channel(id).ShortChannelID.ToUint64()
	kx, ky := nodeKey(x.id), nodeKey(y.id)
	n1, n2, xIs1 := kx, ky, true
	if bytes.Compare(kx[:], ky[:]) > 0 {
		n1, n2, xIs1 = ky, kx, false
	}
	require.NoError(t, dm.graph.AddChannel(router.ChannelAnnouncementInfo{SCID: scid, NodeID1: n1, NodeID2: n2, CapacitySat: 1_000_000}))
	for _, n := range []*testNode{x, y} {
		cfg := n.cfg.ChannelConfig
		dir := uint8(0)
		if (n == x) != xIs1 {
			dir = 1
		}
		base := cfg.ForwardingFeeBaseMsat
		if n == x {
			base += extraBaseMsat
		}
		require.NoError(t, dm.graph.UpdateChannelPolicy(scid, dir, router.ChannelPolicy{Timestamp: 1, FeeBaseMsat: base,
			FeeProportionalMillionths: cfg.ForwardingFeeProportionalMillionths, CLTVExpiryDelta: cfg.CLTVExpiryDelta,
			HTLCMinimumMsat: 1, HTLCMaximumMsat: 1_000_000_000}))
	}
}

// invoice is carol's: its hash, secret and route parameters for amtMsat.
func (dm *diamond) invoice(t *testing.T, amtMsat uint64) ([32]byte, RecipientOnionFields, router.RouteParameters) {
	hash, secret, err := dm.c.cm.CreateInboundPayment(amtMsat, 3600, 0)
	require.NoError(t, err)
	params := router.NewRouteParameters(nodeKey(dm.c.id), amtMsat, uint32(DefaultMinFinalCLTVExpiryDelta))
	params.PayeeFeatures = mppPayee
	return hash, RecipientOnionFields{PaymentSecret: &secret}, params
}

func eventsOf[T events.Event](evs []events.Event) []T {
	var out []T
	for _, e := range evs {
		if x, ok := e.(T); ok {
			out = append(out, x)
		}
	}
	return out
}

// TestSendPayment: alice pays carol, with whom she has no channel, over the route the router finds
// (through bob, the cheaper): one PaymentSent with bob's fee, bob earns it, the scorer learns the path.
func TestSendPayment(t *testing.T) {
	dm := newDiamond(t)
	const amt = 40_000_000
	hash, onion, params := dm.invoice(t, amt)
	require.NoError(t, dm.a.cm.SendPayment(hash, onion, events.PaymentID{1}, params, Retry{Attempts: 3}))
	dm.nw.settle()
	sent := eventsOf[events.PaymentSent](dm.a.takeEvents())
	require.Len(t, sent, 1)
	fee := uint64(dm.b.cfg.ChannelConfig.ForwardingFeeBaseMsat)
	require.Equal(t, fee, sent[0].FeePaidMsat)
	require.Len(t, eventsOf[events.PaymentForwarded](dm.b.takeEvents()), 1)
	require.Equal(t, 1, countEvents[events.PaymentClaimed](dm.c.takeEvents()))
	require.Equal(t, []RecentPayment{{PaymentID: events.PaymentID{1}, PaymentHash: hash, Status: PaymentFulfilled,
		AmountMsat: amt, FeeMsat: fee}}, dm.a.cm.ListRecentPayments())
	checkBalances(t, dm.a, dm.b, dm.ab, 1_000_000_000-amt-fee)
	_, maxMsat, ok := dm.scorer.EstimatedLiquidityRange(router.DirectedChannel{SCID: dm.b.channel(dm.bc).ShortChannelID.ToUint64(),
		Direction: router.DirectionOf(nodeKey(dm.b.id), nodeKey(dm.c.id))}, 1_000_000_000)
	require.True(t, ok, "the scorer learned bob–carol")
	require.LessOrEqual(t, maxMsat, uint64(1_000_000_000-amt), "the amount moved to carol's side")
}

// TestSendPaymentRetriesAroundFailingChannel: bob cannot reach carol (disconnected), so the first path
// fails at bob–carol with temporary_channel_failure; alice retries around it through dave and the
// payment succeeds: one PaymentPathFailed naming bob–carol, one PaymentSent, no PaymentFailed.
func TestSendPaymentRetriesAroundFailingChannel(t *testing.T) {
	dm := newDiamond(t)
	dm.nw.disconnect(1, 2)
	const amt = 40_000_000
	hash, onion, params := dm.invoice(t, amt)
	require.NoError(t, dm.a.cm.SendPayment(hash, onion, events.PaymentID{2}, params, Retry{Attempts: 3}))
	dm.nw.settle()
	evA := dm.a.takeEvents()
	failed := eventsOf[events.PaymentPathFailed](evA)
	require.Len(t, failed, 1, "%v", evA)
	require.Equal(t, dm.b.channel(dm.bc).ShortChannelID.ToUint64(), failed[0].ShortChannelID)
	require.False(t, failed[0].PaymentFailedPermanently)
	require.Len(t, eventsOf[events.PaymentSent](evA), 1)
	require.Empty(t, eventsOf[events.PaymentFailed](evA))
	require.Len(t, eventsOf[events.PaymentForwarded](dm.d.takeEvents()), 1, "paid through dave")
	checkBalances(t, dm.a, dm.b, dm.ab, 1_000_000_000)
}

// TestSendPaymentNoRetry: with Retry{} the first failure ends the payment (RetriesExhausted); with
// retries but no other route it ends RouteNotFound; a payee's refusal is never retried.
func TestSendPaymentNoRetry(t *testing.T) {
	dm := newDiamond(t)
	dm.nw.disconnect(1, 2)
	hash, onion, params := dm.invoice(t, 10_000_000)
	require.NoError(t, dm.a.cm.SendPayment(hash, onion, events.PaymentID{3}, params, Retry{}))
	dm.nw.settle()
	pf := eventsOf[events.PaymentFailed](dm.a.takeEvents())
	require.Len(t, pf, 1)
	require.Equal(t, events.RetriesExhausted, pf[0].Reason)

	dm.nw.disconnect(3, 2) // dave cannot reach carol either
	hash, onion, params = dm.invoice(t, 10_000_000)
	require.NoError(t, dm.a.cm.SendPayment(hash, onion, events.PaymentID{4}, params, Retry{Attempts: 5}))
	dm.nw.settle()
	evA := dm.a.takeEvents()
	pf = eventsOf[events.PaymentFailed](evA)
	require.Len(t, pf, 1, "%v", evA)
	require.Equal(t, events.RouteNotFound, pf[0].Reason)
	require.Len(t, eventsOf[events.PaymentPathFailed](evA), 2, "both routes tried")

	dm.nw.connect(1, 2)
	dm.nw.settle()
	_, _, params = dm.invoice(t, 10_000_000)
	require.NoError(t, dm.a.cm.SendPayment([32]byte{9}, onion, events.PaymentID{5}, params, Retry{Attempts: 5}))
	dm.nw.settle()
	evA = dm.a.takeEvents()
	pf = eventsOf[events.PaymentFailed](evA)
	require.Len(t, pf, 1, "%v", evA)
	require.Equal(t, events.RecipientRejected, pf[0].Reason)
	require.Len(t, eventsOf[events.PaymentPathFailed](evA), 1, "not retried")
}

// TestSendPaymentErrors: no router, no route, a duplicate id; AbandonPayment of an unknown payment.
func TestSendPaymentErrors(t *testing.T) {
	dm := newDiamond(t)
	hash, onion, params := dm.invoice(t, 10_000_000)
	dm.b.cm.SetRouter(nil)
	require.ErrorIs(t, dm.b.cm.SendPayment(hash, onion, events.PaymentID{6}, params, Retry{}), ErrNoRouter)
	far := params
	far.FinalValueMsat = 5_000_000_000
	require.ErrorIs(t, dm.a.cm.SendPayment(hash, onion, events.PaymentID{6}, far, Retry{}), ErrRouteNotFound)
	require.NoError(t, dm.a.cm.SendPayment(hash, onion, events.PaymentID{6}, params, Retry{}))
	require.ErrorIs(t, dm.a.cm.SendPayment(hash, onion, events.PaymentID{6}, params, Retry{}), ErrDuplicatePayment)
	require.ErrorIs(t, dm.a.cm.AbandonPayment(events.PaymentID{99}), ErrUnknownPayment)
}

// TestAbandonPayment: a payment abandoned while its path is held at carol and retries remain ends in
// PaymentFailed (UserAbandoned) when carol fails the path, without a retry.
func TestAbandonPayment(t *testing.T) {
	dm := newDiamond(t)
	dm.c.autoClaim = false
	hash, onion, params := dm.invoice(t, 10_000_000)
	require.NoError(t, dm.a.cm.SendPayment(hash, onion, events.PaymentID{7}, params, Retry{Attempts: 5}))
	dm.nw.settle()
	evC := dm.c.takeEvents()
	require.Equal(t, 1, countEvents[events.PaymentClaimable](evC), "carol %v alice %v", evC, dm.a.takeEvents())
	require.NoError(t, dm.a.cm.AbandonPayment(events.PaymentID{7}))
	require.Empty(t, eventsOf[events.PaymentFailed](dm.a.takeEvents()), "a path is still in flight")
	recent := dm.a.cm.ListRecentPayments()
	require.Len(t, recent, 1)
	require.Equal(t, PaymentPending, recent[0].Status)
	require.Equal(t, 1, recent[0].PathsInFlight)
	require.NoError(t, dm.c.cm.FailHTLCBackwards(hash))
	dm.nw.settle()
	evA := dm.a.takeEvents()
	pf := eventsOf[events.PaymentFailed](evA)
	require.Len(t, pf, 1, "%v", evA)
	require.Equal(t, events.UserAbandoned, pf[0].Reason)
	require.Equal(t, PaymentAbandoned, dm.a.cm.ListRecentPayments()[0].Status)
}

// TestPayBolt11InvoiceWithRouteHint: carol's channels are not in alice's graph (private); her invoice
// without route hints cannot be paid (ErrRouteNotFound), with a hint for bob–carol (bob's policy) it is
// paid through bob.
func TestPayBolt11InvoiceWithRouteHint(t *testing.T) {
	dm := newDiamond(t)
	g := router.NewNetworkGraph(nil)
	dm.graph = g
	dm.addChannel(t, dm.a, dm.b, dm.ab, 0)
	dm.addChannel(t, dm.a, dm.d, dm.ad, 0)
	dm.a.cm.SetRouter(router.NewDefaultRouter(g, nil, dm.a.id))
	_, s, err := dm.c.cm.CreateBolt11Invoice(Bolt11InvoiceParams{AmountMsat: 30_000_000, Description: "coffee",
		Timestamp: time.Unix(1_800_000_000, 0)})
	require.NoError(t, err)
	inv, err := invoice.Decode(s, &chaincfg.RegressionNetParams)
	require.NoError(t, err)
	inv.RouteHints = nil // as an invoice from a node that gives none
	require.ErrorIs(t, dm.a.cm.SendPaymentForBolt11Invoice(inv, 0, events.PaymentID{20}), ErrRouteNotFound)

	cfg := dm.b.cfg.ChannelConfig
	inv.RouteHints = [][]invoice.HopHint{{{NodeID: dm.b.id, ShortChannelID: dm.b.channel(dm.bc).ShortChannelID,
		FeeBaseMsat: cfg.ForwardingFeeBaseMsat, FeeProportionalMillionths: cfg.ForwardingFeeProportionalMillionths,
		CLTVExpiryDelta: cfg.CLTVExpiryDelta}}}
	require.NoError(t, dm.a.cm.SendPaymentForBolt11Invoice(inv, 0, events.PaymentID{21}))
	dm.nw.settle()
	require.Len(t, eventsOf[events.PaymentSent](dm.a.takeEvents()), 1)
	require.Len(t, eventsOf[events.PaymentForwarded](dm.b.takeEvents()), 1)
}

// TestKeysendWithRetry: alice sends carol a keysend over the router's route; the first path fails at
// bob–carol and the retry through dave, still carrying the preimage, is claimed.
func TestKeysendWithRetry(t *testing.T) {
	dm := newDiamond(t)
	dm.nw.disconnect(1, 2)
	params := router.NewRouteParameters(nodeKey(dm.c.id), 15_000_000, uint32(DefaultMinFinalCLTVExpiryDelta))
	params.PayeeFeatures = lnwire.NewFeatureVector(lnwire.VarOnionOptinRequired)
	preimage := [32]byte{0x4b}
	hash, err := dm.a.cm.SendSpontaneousPaymentWithRetry(preimage, RecipientOnionFields{}, events.PaymentID{40}, params, Retry{Attempts: 2})
	require.NoError(t, err)
	dm.nw.settle()
	evA := dm.a.takeEvents()
	require.Len(t, eventsOf[events.PaymentPathFailed](evA), 1)
	sent := eventsOf[events.PaymentSent](evA)
	require.Len(t, sent, 1, "%v", evA)
	require.Equal(t, preimage, sent[0].PaymentPreimage)
	require.Equal(t, hash, sent[0].PaymentHash)
	require.Len(t, eventsOf[events.PaymentClaimed](dm.c.takeEvents()), 1)
}

// TestSendProbe: a probe along alice → bob → carol succeeds (carol refuses the unknown hash); the same
// with bob–carol down fails at bob–carol. Neither moves money nor produces payment events, and the
// scorer learns from both.
func TestSendProbe(t *testing.T) {
	dm := newDiamond(t)
	const amt = 20_000_000
	params := router.NewRouteParameters(nodeKey(dm.c.id), amt, uint32(DefaultMinFinalCLTVExpiryDelta))
	params.PayeeFeatures = mppPayee
	params.MaxPathCount = 1
	route, err := dm.router.FindRoute(nodeKey(dm.a.id), &params, dm.a.cm.firstHops())
	require.NoError(t, err)
	id, hash, err := dm.a.cm.SendProbe(route.Paths[0])
	require.NoError(t, err)
	dm.nw.settle()
	evA := dm.a.takeEvents()
	ok := eventsOf[events.ProbeSuccessful](evA)
	require.Equal(t, []events.ProbeSuccessful{{PaymentID: id, PaymentHash: hash}}, ok)
	require.Empty(t, eventsOf[events.PaymentFailed](evA))
	require.Empty(t, eventsOf[events.PaymentPathFailed](evA))
	checkBalances(t, dm.a, dm.b, dm.ab, 1_000_000_000)

	dm.nw.disconnect(1, 2)
	_, _, err = dm.a.cm.SendProbe(route.Paths[0])
	require.NoError(t, err)
	dm.nw.settle()
	failed := eventsOf[events.ProbeFailed](dm.a.takeEvents())
	require.Len(t, failed, 1)
	require.Equal(t, route.Paths[0].Hops[1].ShortChannelID.ToUint64(), failed[0].ShortChannelID)
	checkBalances(t, dm.a, dm.b, dm.ab, 1_000_000_000)
}

// TestInvoiceRouteHints: carol's channels are private; her invoice carries a route hint per channel,
// built from bob's and dave's own channel_updates (their policies) and naming each channel by the alias
// bob or dave gave in channel_ready (never the real short_channel_id); alice, whose graph lacks carol's
// channels, pays it through one of them, which forwards over its alias.
func TestInvoiceRouteHints(t *testing.T) {
	dm := newDiamond(t)
	g := router.NewNetworkGraph(nil)
	dm.graph = g
	dm.addChannel(t, dm.a, dm.b, dm.ab, 0)
	dm.addChannel(t, dm.a, dm.d, dm.ad, 0)
	dm.a.cm.SetRouter(router.NewDefaultRouter(g, nil, dm.a.id))
	_, s, err := dm.c.cm.CreateBolt11Invoice(Bolt11InvoiceParams{AmountMsat: 30_000_000, Timestamp: time.Unix(1_800_000_000, 0)})
	require.NoError(t, err)
	inv, err := invoice.Decode(s, &chaincfg.RegressionNetParams)
	require.NoError(t, err)
	require.Len(t, inv.RouteHints, 2)
	seen := map[string]bool{}
	for _, h := range inv.RouteHints {
		require.Len(t, h, 1)
		var fwd *testNode
		switch {
		case h[0].NodeID.IsEqual(dm.b.id):
			fwd = dm.b
			require.Equal(t, dm.b.channel(dm.bc).OutboundSCIDAlias, h[0].ShortChannelID, "bob's alias, not the real scid")
			require.Equal(t, dm.c.channel(dm.bc).InboundSCIDAlias, h[0].ShortChannelID)
		case h[0].NodeID.IsEqual(dm.d.id):
			fwd = dm.d
			require.Equal(t, dm.d.channel(dm.dc).OutboundSCIDAlias, h[0].ShortChannelID, "dave's alias")
		default:
			t.Fatalf("hint from an unknown node")
		}
		seen[fwd.name] = true
		require.Equal(t, fwd.cfg.ChannelConfig.ForwardingFeeBaseMsat, h[0].FeeBaseMsat)
		require.Equal(t, fwd.cfg.ChannelConfig.CLTVExpiryDelta, h[0].CLTVExpiryDelta)
	}
	require.True(t, seen["bob"] && seen["dave"])
	require.NoError(t, dm.a.cm.SendPaymentForBolt11Invoice(inv, 0, events.PaymentID{50}))
	dm.nw.settle()
	require.Len(t, eventsOf[events.PaymentSent](dm.a.takeEvents()), 1)
}
