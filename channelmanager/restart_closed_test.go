package channelmanager

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
)

// TestRestartAfterForceCloseNotPersisted: alice force-closes (her monitor broadcasts her latest
// commitment) and crashes before her host writes the manager again, then restarts from the snapshot
// taken before the close, in which the channel is open. The channel must stay closed: the restarted
// manager does not resume it with channel_reestablish, so that alice never signs a newer commitment
// or revokes the one on its way to the chain (bob would take everything with the revocation secret).
// Payments both ways are refused or fail, the commitment confirms, and alice sweeps her balance.
func TestRestartAfterForceCloseNotPersisted(t *testing.T) {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, 5_000_000, 2_000_000_000)
	b.withBumpHandler(1_000_000)
	a.withBumpHandler(1_000_000)
	_, _, err := nw.pay(0, 1, 100_000_000)
	require.NoError(t, err)
	nw.settle()
	snap := a.cm.Write()
	balA := int64(a.channel(id).BalanceMsat / 1000)
	a.takeEvents()
	b.takeEvents()

	require.NoError(t, a.cm.ForceCloseBroadcastingLatestTxn(id, b.id))
	funding := a.channel(id).FundingTxo
	_, inPool := a.chain.SpentBy(funding)
	require.True(t, inPool, "alice's commitment broadcast")
	nw.disconnect(0, 1)
	a.restart(snap) // the close never reached the manager's storage
	nw.connect(0, 1)
	nw.settle()
	require.False(t, a.channel(id).IsUsable, "closed by its monitor")
	closed := eventsOf[events.ChannelClosed](a.takeEvents())
	require.Len(t, closed, 1)
	require.Equal(t, id, closed[0].ChannelID)

	// Neither side can move the channel on any more.
	_, _, err = nw.pay(1, 0, 50_000_000)
	require.Error(t, err)
	_, _, err = nw.pay(0, 1, 50_000_000)
	require.Error(t, err)
	nw.settle()

	nw.mine(int(a.cfg.ChannelHandshakeConfig.OurToSelfDelay) + channelmonitor.AntiReorgDelay + 10)
	require.Greater(t, a.sweptSat, balA-12_000, "alice's balance on chain, not bob's by revocation")
	require.Less(t, b.sweptSat, int64(5_000_000)-balA+1, "bob has no more than his balance")
	require.Empty(t, a.chainMon.GetClaimableBalances())
	require.NotNil(t, spendOf(a.chain, funding), "a commitment confirmed")
}

// TestSpendableOutputsSurviveRestart: the block that makes bob's sweep of his output final raises a
// SpendableOutputs event, and his monitor is persisted with that block; bob's host crashes before it
// handles the event. After the restart the event is handed over all the same (nothing would raise it
// again), once.
func TestSpendableOutputsSurviveRestart(t *testing.T) {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, 5_000_000, 2_000_000_000)
	a.withBumpHandler(1_000_000)
	nw.settle()
	require.NoError(t, a.cm.ForceCloseBroadcastingLatestTxn(id, b.id))
	nw.settle()
	a.takeEvents()
	b.takeEvents()
	claimable := func() int64 {
		var s int64
		for _, bal := range b.chainMon.GetClaimableBalances() {
			s += bal.ClaimableAmountSat()
		}
		return s
	}
	require.Positive(t, claimable())
	for i := 0; claimable() > 0; i++ {
		require.Less(t, i, 50, "bob's output never became final")
		nw.settle() // everything before the last block is handled
		a.chain.MineBlocks(1)
	}
	require.Zero(t, b.sweptSat)
	nw.disconnect(0, 1)
	b.restart(b.cm.Write()) // the crash: the event was not handled
	nw.connect(0, 1)
	nw.settle()
	outs := eventsOf[events.SpendableOutputs](b.takeEvents())
	require.Len(t, outs, 1, "handed over after the restart")
	require.Equal(t, id, outs[0].ChannelID)
	require.Greater(t, b.sweptSat, int64(2_000_000-2_000), "bob's balance, less the sweep's fee")
	b.restart(b.cm.Write())
	nw.settle()
	require.Empty(t, eventsOf[events.SpendableOutputs](b.takeEvents()), "handled: not again")
}

// TestRestartAfterFundingSpentUnhandled: bob force-closes while alice's payment to him is not yet
// committed, and his commitment confirms; alice's host crashes before her manager handled the
// monitor's CommitmentTxConfirmed event (held in memory only), and restarts from a snapshot in which
// the channel is open. The channel must end on restart as the event would have ended it: ChannelClosed,
// the channel forgotten, and the payment failed instead of pending for ever.
func TestRestartAfterFundingSpentUnhandled(t *testing.T) {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, 5_000_000, 2_000_000_000)
	a.withBumpHandler(1_000_000)
	b.withBumpHandler(1_000_000)
	nw.settle()
	a.takeEvents()
	b.takeEvents()
	payID, _, err := nw.pay(0, 1, 100_000_000)
	require.NoError(t, err)
	nw.disconnect(0, 1) // the update_add never leaves
	require.NoError(t, b.cm.ForceCloseBroadcastingLatestTxn(id, a.id))
	snap := a.cm.Write()
	a.chain.MineBlocks(1) // bob's commitment confirms; alice's manager does not get to the monitor's event
	funding := a.channel(id).FundingTxo
	require.NotNil(t, spendOf(a.chain, funding))
	a.restart(snap)
	for _, d := range a.cm.ListChannels() {
		require.NotEqual(t, id, d.ChannelID, "the channel ended on restart")
	}
	nw.connect(0, 1)
	nw.mine(channelmonitor.AntiReorgDelay + 2)
	evs := a.takeEvents()
	closed := eventsOf[events.ChannelClosed](evs)
	require.Len(t, closed, 1)
	require.Equal(t, events.CommitmentTxConfirmed, closed[0].Reason)
	failed := eventsOf[events.PaymentFailed](evs)
	require.Len(t, failed, 1, "%v", evs)
	require.Equal(t, payID, failed[0].PaymentID)
	require.Empty(t, eventsOf[events.PaymentSent](evs))
}

// TestRestartedHTLCIDReusedFailsOnChain: alice signs bob's commitment 1 with an HTLC (id 0) of a first
// payment, and her host crashes before the messages leave; her manager restarts from the snapshot
// before that payment, and sends another payment, whose HTLC takes id 0 again, on another commitment
// 1. Her monitor holds both commitments 1. Alice then force-closes with her commitment 0, which has
// neither HTLC: the second payment must fail once the close is final. The monitor told the two
// HTLCs with id 0 apart by payment hash; keyed by id alone it kept one of them at random, and the
// payment could stay pending for ever. (Run a few times: the choice was a map's order.)
func TestRestartedHTLCIDReusedFailsOnChain(t *testing.T) {
	for run := 0; run < 8; run++ {
		nw, a, b := twoNodes(t)
		id := nw.openChannel(0, 1, 5_000_000, 2_000_000_000)
		a.withBumpHandler(1_000_000)
		nw.settle()
		snap := a.cm.Write()
		_, _, err := nw.pay(0, 1, 100_000_000)
		require.NoError(t, err)
		require.NotEmpty(t, a.cm.GetAndClearPendingMsgEvents()) // signed, then lost with the crash
		nw.disconnect(0, 1)
		a.restart(snap)
		nw.connect(0, 1)
		nw.settle()
		second, _, err := nw.pay(0, 1, 200_000_000)
		require.NoError(t, err)
		require.NotEmpty(t, a.cm.GetAndClearPendingMsgEvents()) // commitment 1 again, never delivered
		a.takeEvents()
		require.NoError(t, a.cm.ForceCloseBroadcastingLatestTxn(id, b.id))
		nw.disconnect(0, 1)
		nw.mine(channelmonitor.AntiReorgDelay + 3)
		failed := eventsOf[events.PaymentFailed](a.takeEvents())
		require.Len(t, failed, 1, "run %d", run)
		require.Equal(t, second, failed[0].PaymentID)
	}
}

// TestRestartedCommitmentSupersededNoForceClose: alice signs bob's commitment 1 with an HTLC, and her
// host crashes before the messages leave; restarted from the snapshot before it, she signs another
// commitment 1 (an update_fee, no HTLC), which bob takes. Her monitor keeps both commitments 1; the
// first, never sent, carries an HTLC nobody owes. When that HTLC's expiry passes, nothing may go on
// chain: the channel stays open.
func TestRestartedCommitmentSupersededNoForceClose(t *testing.T) {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, 5_000_000, 2_000_000_000)
	nw.settle()
	snap := a.cm.Write()
	_, _, err := nw.pay(0, 1, 100_000_000)
	require.NoError(t, err)
	require.NotEmpty(t, a.cm.GetAndClearPendingMsgEvents()) // signed, then lost with the crash
	nw.disconnect(0, 1)
	a.restart(snap)
	nw.connect(0, 1)
	nw.settle()
	a.chain.SetDefaultFeeratePerKw(1000)
	a.cm.TimerTickOccurred() // update_fee: commitment 1 again, without the HTLC
	nw.settle()
	require.Equal(t, uint32(1000), a.channel(id).FeeratePerKw)
	a.takeEvents()
	b.takeEvents()
	nw.mine(int(DefaultMinFinalCLTVExpiryDelta) + 6 + channelmonitor.LatencyGracePeriodBlocks + 5)
	require.Empty(t, eventsOf[events.ChannelClosed](a.takeEvents()), "no HTLC of alice's expired")
	require.Empty(t, eventsOf[events.ChannelClosed](b.takeEvents()))
	require.True(t, a.channel(id).IsUsable)
	_, inPool := a.chain.SpentBy(a.channel(id).FundingTxo)
	require.False(t, inPool, "no commitment broadcast")
}

// TestRestartedCommitmentUnsentNoForceClose: as TestRestartedCommitmentSupersededNoForceClose, but
// the channel stays idle after the restart: nothing signs commitment 1 again, and the monitor learns
// from the manager read back that its commitment 1 was never sent. Past the lost HTLC's expiry the
// channel stays open.
func TestRestartedCommitmentUnsentNoForceClose(t *testing.T) {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, 5_000_000, 2_000_000_000)
	nw.settle()
	snap := a.cm.Write()
	_, _, err := nw.pay(0, 1, 100_000_000)
	require.NoError(t, err)
	require.NotEmpty(t, a.cm.GetAndClearPendingMsgEvents()) // signed, then lost with the crash
	nw.disconnect(0, 1)
	a.restart(snap)
	nw.connect(0, 1)
	nw.settle()
	a.takeEvents()
	b.takeEvents()
	nw.mine(int(DefaultMinFinalCLTVExpiryDelta) + 6 + channelmonitor.LatencyGracePeriodBlocks + 5)
	require.Empty(t, eventsOf[events.ChannelClosed](a.takeEvents()), "no HTLC of alice's expired")
	require.Empty(t, eventsOf[events.ChannelClosed](b.takeEvents()))
	require.True(t, a.channel(id).IsUsable)
	// The channel goes on: a payment both ways.
	_, _, err = nw.pay(0, 1, 50_000_000)
	require.NoError(t, err)
	_, _, err = nw.pay(1, 0, 20_000_000)
	require.NoError(t, err)
	nw.settle()
	require.Len(t, eventsOf[events.PaymentSent](a.takeEvents()), 1)
	require.Len(t, eventsOf[events.PaymentSent](b.takeEvents()), 1)
	checkBalances(t, a, b, id, 3_000_000_000-50_000_000+20_000_000)
}
