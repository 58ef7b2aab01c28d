package channelmanager

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/lnwire"
)

// claimableAtBob opens a channel, has alice pay bob amountMsat and returns the channel and bob's
// PaymentClaimable, which bob does not claim.
func claimableAtBob(t *testing.T, amountMsat uint64) (*network, *testNode, *testNode, lnwire.ChannelID, events.PaymentClaimable) {
	nw, a, b := twoNodes(t)
	b.autoClaim = false
	id := nw.openChannel(0, 1, 1_000_000, 0)
	_, _, err := nw.pay(0, 1, amountMsat)
	require.NoError(t, err)
	nw.settle()
	for _, e := range b.takeEvents() {
		if pc, ok := e.(events.PaymentClaimable); ok {
			return nw, a, b, id, pc
		}
	}
	t.Fatal("no PaymentClaimable")
	return nil, nil, nil, id, events.PaymentClaimable{}
}

// TestClaimFundsOnClosedChannel: the channel of a claimable payment force-closes before the host
// claims it. The claim still counts: the preimage goes to the channel's monitor (which claims on
// chain), no update_fulfill_htlc is sent on the closed channel, and PaymentClaimed reports the amount.
func TestClaimFundsOnClosedChannel(t *testing.T) {
	nw, a, b, id, pc := claimableAtBob(t, 20_000_000)
	require.NoError(t, b.cm.ForceCloseBroadcastingLatestTxn(id, a.id))
	nw.settle()
	b.takeEvents()
	before := monitorUpdateIDs(b)

	require.NoError(t, b.cm.ClaimFunds(*pc.Purpose.PaymentPreimage))
	require.Equal(t, before+1, monitorUpdateIDs(b), "the preimage went to the monitor")
	for _, m := range takeOutbox(b).others {
		require.NotEqual(t, lnwire.MsgUpdateFulfillHTLC, m.MsgType(), "nothing sent on a closed channel")
	}
	b.handleEvents()
	evs := b.takeEvents()
	require.Equal(t, 1, countEvents[events.PaymentClaimed](evs))
	for _, e := range evs {
		if c, ok := e.(events.PaymentClaimed); ok {
			require.Equal(t, uint64(20_000_000), c.AmountMsat)
			require.Equal(t, pc.PaymentHash, c.PaymentHash)
		}
	}
	require.ErrorIs(t, b.cm.ClaimFunds(*pc.Purpose.PaymentPreimage), ErrUnknownPayment, "claimed once")
}

// TestClaimFundsOnForgottenChannel: the channel of a claimable payment closed on chain and the
// manager forgot it before the host claims. ClaimFunds hands the preimage to the channel's monitor,
// which claims the HTLC on chain, so PaymentClaimed follows and the monitor counts the HTLC as ours.
func TestClaimFundsOnForgottenChannel(t *testing.T) {
	nw, a, b, id, pc := claimableAtBob(t, 20_000_000)
	funding := b.channel(id).FundingTxo
	require.NoError(t, b.cm.ForceCloseBroadcastingLatestTxn(id, a.id))
	nw.settle()
	nw.mine(1)
	b.takeEvents()
	for _, d := range b.cm.ListChannels() {
		require.NotEqual(t, id, d.ChannelID, "the channel is forgotten once its commitment confirmed")
	}
	require.NoError(t, b.cm.ClaimFunds(*pc.Purpose.PaymentPreimage))
	b.handleEvents()
	require.Equal(t, 1, countEvents[events.PaymentClaimed](b.takeEvents()))
	m, ok := b.chainMon.GetMonitor(funding)
	require.True(t, ok)
	n, sat := balancesOf[channelmonitor.ContentiousClaimable](m.GetClaimableBalances())
	require.Equal(t, [2]int64{1, 20_000}, [2]int64{int64(n), sat}, "the monitor claims the HTLC with its preimage")
}

// TestClaimFundsNothingClaimable: no HTLC of the payment can be claimed (its channel is forgotten and
// its monitor unknown): ClaimFunds returns ErrPaymentNotClaimed and no PaymentClaimed follows.
func TestClaimFundsNothingClaimable(t *testing.T) {
	nw, a, b, id, pc := claimableAtBob(t, 20_000_000)
	require.NoError(t, b.cm.ForceCloseBroadcastingLatestTxn(id, a.id))
	nw.settle()
	nw.mine(1)
	b.takeEvents()
	b.cm.inbound.mu.Lock()
	for _, p := range b.cm.inbound.claimable[pc.PaymentHash].Parts {
		p.FundingTxo.Index += 7 // a monitor the ChainMonitor does not have
		b.cm.inbound.claimable[pc.PaymentHash].Parts[0] = p
	}
	b.cm.inbound.mu.Unlock()
	err := b.cm.ClaimFunds(*pc.Purpose.PaymentPreimage)
	require.ErrorIs(t, err, ErrPaymentNotClaimed)
	b.handleEvents()
	require.Zero(t, countEvents[events.PaymentClaimed](b.takeEvents()), "nothing was claimed")
}
