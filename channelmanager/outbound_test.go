package channelmanager

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
)

// twoPathRoute is a two-path route from a to b over two channels, amounts in msat.
func twoPathRoute(nw *network, b int, scid1, scid2 lnwire.ShortChannelID, amt1, amt2 uint64) *router.Route {
	hop := func(scid lnwire.ShortChannelID, amt uint64) router.Path {
		return router.Path{Hops: []router.RouteHop{{PubKey: nw.nodes[b].id, ShortChannelID: scid, FeeMsat: amt,
			CLTVExpiryDelta: DefaultMinFinalCLTVExpiryDelta + 6}}}
	}
	return &router.Route{Paths: []router.Path{hop(scid1, amt1), hop(scid2, amt2)}}
}

// TestMultiPathSend: a payment of 800,000 sat over two channels of 500,000 sat each (more than
// either can carry), as two HTLCs with the payment secret and the total: bob gets one
// PaymentClaimable for the whole amount, alice one PaymentSent with both paths' fees, both channels'
// balances move by their path's amount, and the PaymentID is refused again until the payment is
// forgotten IdempotencyTimeoutTicks timer ticks later.
func TestMultiPathSend(t *testing.T) {
	nw, a, b := twoNodes(t)
	id1 := nw.openChannel(0, 1, 500_000, 0)
	id2 := nw.openChannel(0, 1, 500_000, 0)
	hash, secret, err := b.cm.CreateInboundPayment(800_000_000, 3600, 0)
	require.NoError(t, err)
	route := twoPathRoute(nw, 1, a.channel(id1).ShortChannelID, a.channel(id2).ShortChannelID, 400_000_000, 400_000_000)
	pid := events.PaymentID{7}

	require.ErrorIs(t, a.cm.SendPaymentWithRoute(route, hash, nil, pid), ErrInvalidRoute, "no payment secret")
	require.NoError(t, a.cm.SendPaymentWithRoute(route, hash, &secret, pid))
	nw.settle()

	evB := b.takeEvents()
	require.Equal(t, 1, countEvents[events.PaymentClaimable](evB))
	require.Equal(t, 1, countEvents[events.PaymentClaimed](evB))
	for _, e := range evB {
		if pc, ok := e.(events.PaymentClaimed); ok {
			require.Equal(t, uint64(800_000_000), pc.AmountMsat)
		}
	}
	evA := a.takeEvents()
	require.Equal(t, 1, countEvents[events.PaymentSent](evA), "one PaymentSent for two paths")
	require.Zero(t, countEvents[events.PaymentFailed](evA))
	checkBalances(t, a, b, id1, 100_000_000)
	checkBalances(t, a, b, id2, 100_000_000)

	require.ErrorIs(t, a.cm.SendPaymentWithRoute(route, hash, &secret, pid), ErrDuplicatePayment)
	for range IdempotencyTimeoutTicks - 1 {
		a.cm.TimerTickOccurred()
	}
	require.ErrorIs(t, a.cm.SendPaymentWithRoute(route, hash, &secret, pid), ErrDuplicatePayment, "remembered until the last tick")
	a.cm.TimerTickOccurred()
	a.cm.outbound.mu.Lock()
	require.Empty(t, a.cm.outbound.byID, "forgotten")
	a.cm.outbound.mu.Unlock()
}

// TestMultiPathSendFailed: bob refuses a two-path payment (FailHTLCBackwards): alice gets a
// PaymentPathFailed for each path and exactly one PaymentFailed, after the last; balances are whole.
func TestMultiPathSendFailed(t *testing.T) {
	nw, a, b := twoNodes(t)
	b.autoClaim = false
	id1 := nw.openChannel(0, 1, 500_000, 0)
	id2 := nw.openChannel(0, 1, 500_000, 0)
	hash, secret, err := b.cm.CreateInboundPayment(600_000_000, 3600, 0)
	require.NoError(t, err)
	route := twoPathRoute(nw, 1, a.channel(id1).ShortChannelID, a.channel(id2).ShortChannelID, 300_000_000, 300_000_000)
	require.NoError(t, a.cm.SendPaymentWithRoute(route, hash, &secret, events.PaymentID{8}))
	nw.settle()
	require.Equal(t, 1, countEvents[events.PaymentClaimable](b.takeEvents()))
	require.NoError(t, b.cm.FailHTLCBackwards(hash))
	nw.settle()
	evA := a.takeEvents()
	require.Equal(t, 2, countEvents[events.PaymentPathFailed](evA))
	require.Equal(t, 1, countEvents[events.PaymentFailed](evA))
	require.IsType(t, events.PaymentFailed{}, evA[len(evA)-1], "PaymentFailed comes last")
	checkBalances(t, a, b, id1, 500_000_000)
	checkBalances(t, a, b, id2, 500_000_000)
}

// TestMultiPathPartialSend: the second path names a channel that cannot carry it: the first path
// stays in flight, the call returns ErrPartialSend, and the payment ends in one PaymentFailed once
// bob times the lone part out (mpp_timeout).
func TestMultiPathPartialSend(t *testing.T) {
	nw, a, b := twoNodes(t)
	id1 := nw.openChannel(0, 1, 500_000, 0)
	id2 := nw.openChannel(0, 1, 500_000, 0)
	hash, secret, err := b.cm.CreateInboundPayment(900_000_000, 3600, 0)
	require.NoError(t, err)
	route := twoPathRoute(nw, 1, a.channel(id1).ShortChannelID, a.channel(id2).ShortChannelID, 300_000_000, 600_000_000)
	err = a.cm.SendPaymentWithRoute(route, hash, &secret, events.PaymentID{9})
	require.True(t, errors.Is(err, ErrPartialSend) && errors.Is(err, ErrChannelUnavailable), "%v", err)
	nw.settle()
	require.Equal(t, 1, a.channel(id1).NumPendingHTLCs)
	evA := a.takeEvents()
	require.Equal(t, 1, countEvents[events.PaymentPathFailed](evA), "the unsent path")
	require.Zero(t, countEvents[events.PaymentFailed](evA), "a path is still in flight")
	for range MPPTimeoutTicks {
		b.cm.TimerTickOccurred()
	}
	nw.settle()
	evA = a.takeEvents()
	require.Equal(t, 1, countEvents[events.PaymentPathFailed](evA))
	require.Equal(t, 1, countEvents[events.PaymentFailed](evA))
	checkBalances(t, a, b, id1, 500_000_000)
}

// TestMultiPathSendSurvivesRestart: alice restarts from a snapshot taken while both paths are in flight
// (after bob has committed them): the paths' sources and the payment's state are read back, and the
// payment ends in exactly one PaymentSent when bob claims.
func TestMultiPathSendSurvivesRestart(t *testing.T) {
	nw, a, b := twoNodes(t)
	b.autoClaim = false
	id1 := nw.openChannel(0, 1, 500_000, 0)
	id2 := nw.openChannel(0, 1, 500_000, 0)
	hash, secret, err := b.cm.CreateInboundPayment(600_000_000, 3600, 0)
	require.NoError(t, err)
	route := twoPathRoute(nw, 1, a.channel(id1).ShortChannelID, a.channel(id2).ShortChannelID, 300_000_000, 300_000_000)
	require.NoError(t, a.cm.SendPaymentWithRoute(route, hash, &secret, events.PaymentID{10}))
	nw.settle()
	var preimage [32]byte
	for _, e := range b.takeEvents() {
		if pc, ok := e.(events.PaymentClaimable); ok {
			preimage = *pc.Purpose.PaymentPreimage
		}
	}
	require.NotZero(t, preimage, "bob holds both parts")
	snap := a.cm.Write()
	nw.disconnect(0, 1)
	a.restart(snap)
	nw.connect(0, 1)
	nw.settle()
	require.NoError(t, b.cm.ClaimFunds(preimage))
	nw.settle()
	evA := a.takeEvents()
	require.Equal(t, 1, countEvents[events.PaymentSent](evA), "%v", evA)
	require.Zero(t, countEvents[events.PaymentFailed](evA))
	checkBalances(t, a, b, id1, 200_000_000)
	checkBalances(t, a, b, id2, 200_000_000)
}

// TestReceiveLargerThanAnyChannel: with the default inbound in-flight limit, bob receives 1,600,000 sat
// over two channels of 1,000,000 sat (800,000 on each, more than half of either).
func TestReceiveLargerThanAnyChannel(t *testing.T) {
	def := config.Default().ChannelHandshakeConfig.MaxInboundHTLCValueInFlightPercent
	nw, a, b := twoNodesWith(t, func(_ int, c *config.UserConfig) {
		c.ChannelHandshakeConfig.MaxInboundHTLCValueInFlightPercent = def
	})
	id1 := nw.openChannel(0, 1, 1_000_000, 0)
	id2 := nw.openChannel(0, 1, 1_000_000, 0)
	hash, secret, err := b.cm.CreateInboundPayment(1_600_000_000, 3600, 0)
	require.NoError(t, err)
	route := twoPathRoute(nw, 1, a.channel(id1).ShortChannelID, a.channel(id2).ShortChannelID, 800_000_000, 800_000_000)
	require.NoError(t, a.cm.SendPaymentWithRoute(route, hash, &secret, events.PaymentID{11}))
	nw.settle()
	require.Equal(t, 1, countEvents[events.PaymentClaimed](b.takeEvents()))
	require.Equal(t, 1, countEvents[events.PaymentSent](a.takeEvents()))
	checkBalances(t, a, b, id1, 200_000_000)
	checkBalances(t, a, b, id2, 200_000_000)
}

// TestRestartFailsPathsNeverSent: a snapshot holds a pending payment whose HTLC no channel holds (it
// was registered and the process died before the HTLC was added). After the restart the payment is not
// left pending with nothing in flight: its path fails, and without retries the payment ends in
// PaymentFailed. A payment whose HTLC is in a channel is left alone.
func TestRestartFailsPathsNeverSent(t *testing.T) {
	nw, a, b := twoNodes(t)
	b.autoClaim = false
	nw.openChannel(0, 1, 1_000_000, 0)
	_, _, err := nw.pay(0, 1, 10_000_000) // in flight, held at bob
	require.NoError(t, err)
	nw.settle()
	ghost := events.PaymentID{0x99}
	a.cm.outbound.mu.Lock()
	a.cm.outbound.byID[ghost] = &outboundPayment{ID: ghost, Hash: [32]byte{1}, AmountMsat: 5000,
		Paths: []outboundPath{{AmountMsat: 5000}}}
	a.cm.outbound.mu.Unlock()
	snap := a.cm.Write()
	nw.disconnect(0, 1)
	a.restart(snap)
	a.handleEvents()
	evA := a.takeEvents()
	require.Len(t, eventsOf[events.PaymentFailed](evA), 1, "%v", evA)
	require.Equal(t, ghost, eventsOf[events.PaymentFailed](evA)[0].PaymentID)
	pending := 0
	for _, rp := range a.cm.ListRecentPayments() {
		if rp.Status == PaymentPending {
			pending++
			require.Equal(t, 1, rp.PathsInFlight)
		}
	}
	require.Equal(t, 1, pending, "the payment held at bob stays pending")
}

// TestOutboundCapacityIsSendable: as funder, an HTLC of exactly OutboundCapacityMsat is accepted by the
// channel (the capacity reserves the commitment fee as sendAddHTLC does: twice the feerate, the new HTLC
// and a fee spike buffer HTLC), and one msat more is refused; the router, which plans paths up to the
// first hops' OutboundCapacityMsat, then never plans a path the channel refuses.
func TestOutboundCapacityIsSendable(t *testing.T) {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, 500_000, 0)
	capMsat := a.channel(id).OutboundCapacityMsat
	require.NotZero(t, capMsat)
	route := func(amt uint64) *router.Route {
		return router.SinglePath(router.RouteHop{PubKey: nw.nodes[1].id, ShortChannelID: a.channel(id).ShortChannelID,
			FeeMsat: amt, CLTVExpiryDelta: DefaultMinFinalCLTVExpiryDelta + 6})
	}
	hash, secret, err := b.cm.CreateInboundPayment(0, 3600, 0)
	require.NoError(t, err)
	require.Error(t, a.cm.SendPaymentWithRoute(route(capMsat+1), hash, &secret, events.PaymentID{1}), "one msat more")
	require.NoError(t, a.cm.SendPaymentWithRoute(route(capMsat), hash, &secret, events.PaymentID{2}))
	nw.settle()
	require.Equal(t, 1, countEvents[events.PaymentSent](a.takeEvents()))
}
