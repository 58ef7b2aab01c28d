package channelmanager

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
)

// TestCooperativeCloseRebroadcastAndForceClose: a cooperative close that miners ignore (its feerate
// is below theirs) is rebroadcast every block by the monitor, and a force close is still accepted:
// the monitor then broadcasts our commitment instead. When fees fall, whichever transaction confirms
// pays each side its due.
func TestCooperativeCloseRebroadcastAndForceClose(t *testing.T) {
	bothChannelTypes(t, testCooperativeCloseRebroadcastAndForceClose)
}

func testCooperativeCloseRebroadcastAndForceClose(t *testing.T, anchors bool) {
	nw, a, b, id := onchainPair(t, anchors, 1_000_000, 300_000_000)
	funding := a.channel(id).FundingTxo
	a.chain.SetMiningFeeratePerKw(5_000)
	require.NoError(t, a.cm.CloseChannel(id, b.id))
	nw.settle()
	pool := a.chain.Mempool()
	require.Len(t, pool, 1, "the closing transaction waits in the mempool")
	closing := pool[0]
	before := a.bcast.broadcasts(closing.TxHash())
	nw.mine(3)
	require.Nil(t, spendOf(a.chain, funding))
	require.GreaterOrEqual(t, a.bcast.broadcasts(closing.TxHash()), before+3, "rebroadcast every block")

	require.NoError(t, a.cm.ForceCloseBroadcastingLatestTxn(id, b.id), "a stuck cooperative close can still be forced")
	commit, err := mustMonitor(t, a, funding).LatestHolderCommitmentTx()
	require.NoError(t, err)
	nw.mine(1)
	require.Positive(t, a.bcast.broadcasts(commit.TxHash()), "our commitment is broadcast")

	a.chain.SetMiningFeeratePerKw(0)
	evs := map[*testNode][]events.Event{}
	mineTo(nw, a.chain.Height()+uint32(b.cfg.ChannelHandshakeConfig.OurToSelfDelay)+channelmonitor.AntiReorgDelay+2, evs)
	spend := spendOf(a.chain, funding)
	require.NotNil(t, spend)
	require.Greater(t, a.sweptSat, int64(700_000-3_000), "alice gets her balance either way")
	require.Greater(t, b.sweptSat, int64(300_000-3_000), "bob too")
	require.Empty(t, a.chainMon.GetClaimableBalances())
	require.Empty(t, b.chainMon.GetClaimableBalances())
}
