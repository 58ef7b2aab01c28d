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
