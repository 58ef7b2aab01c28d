package channelmanager

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/sphinx"
	"github.com/lnkit/lnkit/router"
)

// payPart sends one part of a multi-part payment of totalMsat from a to b: amountMsat over their
// direct channel, with the payment secret of b's invoice.
func (nw *network) payPart(a, b int, hash, secret [32]byte, amountMsat, totalMsat uint64, id events.PaymentID) error {
	route := router.SinglePath(router.RouteHop{PubKey: nw.nodes[b].id, FeeMsat: amountMsat, CLTVExpiryDelta: DefaultMinFinalCLTVExpiryDelta + 6})
	return nw.nodes[a].cm.sendPayment(route, hash, &secret, nil, id, totalMsat)
}

// pathFailure returns the failure code of the single PaymentPathFailed among evs, and whether a
// PaymentFailed followed.
func pathFailure(t *testing.T, evs []events.Event) (uint16, bool) {
	require.Equal(t, 1, countEvents[events.PaymentPathFailed](evs), "one path failed: %v", evs)
	var code uint16
	for _, e := range evs {
		if pf, ok := e.(events.PaymentPathFailed); ok {
			code = pf.FailureCode
		}
	}
	return code, countEvents[events.PaymentFailed](evs) == 1
}

// TestMPPTimeout: bob receives one 10,000 sat part of a 20,000 sat multi-part payment and the other
// part never comes. After MPPTimeoutTicks (3) timer ticks, not before, bob fails the part back with
// mpp_timeout (BOLT 4 code 23) and the payer learns it; nothing closes and the balances are whole.
func TestMPPTimeout(t *testing.T) {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, 1_000_000, 0)
	hash, secret, err := b.cm.CreateInboundPayment(20_000_000, 3600, 0)
	require.NoError(t, err)
	require.NoError(t, nw.payPart(0, 1, hash, secret, 10_000_000, 20_000_000, events.PaymentID{1}))
	nw.settle()
	require.Equal(t, 1, b.channel(id).NumPendingHTLCs, "bob holds the part")
	require.Zero(t, countEvents[events.PaymentClaimable](b.takeEvents()))

	for tick := 1; tick < MPPTimeoutTicks; tick++ {
		b.cm.TimerTickOccurred()
		nw.settle()
		require.Zero(t, countEvents[events.PaymentPathFailed](a.takeEvents()), "tick %d: still waiting", tick)
	}
	b.cm.TimerTickOccurred()
	nw.settle()
	code, failed := pathFailure(t, a.takeEvents())
	require.Equal(t, uint16(sphinx.MPPTimeout), code, "mpp_timeout")
	require.True(t, failed, "PaymentFailed")
	require.Zero(t, countEvents[events.ChannelClosed](b.takeEvents()))
	checkBalances(t, a, b, id, 1_000_000_000)
}

// TestUnclaimedPaymentFailedBackBeforeExpiry: bob never claims a payment. PaymentClaimable's
// ClaimDeadline is the HTLC's cltv_expiry less channelmonitor.HTLCFailBackBuffer; one block before it
// nothing happens, at it bob fails the HTLC back with incorrect_or_unknown_payment_details. The payer's
// payment fails, nobody force-closes, no PaymentClaimed, and the payment can no longer be claimed.
func TestUnclaimedPaymentFailedBackBeforeExpiry(t *testing.T) {
	nw, a, b := twoNodes(t)
	b.autoClaim = false
	id := nw.openChannel(0, 1, 1_000_000, 0)
	start := a.chain.Height()
	_, _, err := nw.pay(0, 1, 10_000_000)
	require.NoError(t, err)
	nw.settle()
	var pc events.PaymentClaimable
	for _, e := range b.takeEvents() {
		if ev, ok := e.(events.PaymentClaimable); ok {
			pc = ev
		}
	}
	cltv := start + DefaultMinFinalCLTVExpiryDelta + 6
	require.Equal(t, cltv-channelmonitor.HTLCFailBackBuffer, pc.ClaimDeadline)

	nw.mine(int(pc.ClaimDeadline - 1 - a.chain.Height()))
	require.Equal(t, pc.ClaimDeadline-1, a.chain.Height())
	require.Zero(t, countEvents[events.PaymentPathFailed](a.takeEvents()), "not yet")
	require.Equal(t, 1, b.channel(id).NumPendingHTLCs)
	nw.mine(1)
	code, failed := pathFailure(t, a.takeEvents())
	require.Equal(t, uint16(sphinx.IncorrectOrUnknownPaymentDetails), code)
	require.True(t, failed)
	evB := b.takeEvents()
	require.Zero(t, countEvents[events.PaymentClaimed](evB))
	require.Zero(t, countEvents[events.ChannelClosed](evB))
	require.ErrorIs(t, b.cm.ClaimFunds(*pc.Purpose.PaymentPreimage), ErrUnknownPayment)
	checkBalances(t, a, b, id, 1_000_000_000)
	require.True(t, a.channel(id).IsUsable && b.channel(id).IsUsable)
}
