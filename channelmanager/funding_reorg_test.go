package channelmanager

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
)

// TestFundingReorgedBeforeChannelReady: the funding transaction confirms, is reorganised out before
// minimum_depth, and miners ignore it for a while: no channel_ready is sent (BOLT 2: only once the
// funding transaction reaches minimum_depth); once it confirms again and is deep enough, the channel
// becomes ready with the short_channel_id of its new block.
func TestFundingReorgedBeforeChannelReady(t *testing.T) {
	nw, a, b := twoNodes(t)
	a.chain.FundAddress(a.wallet.PkScript(), 2_000_000)
	a.chain.MineBlocks(1)
	_, err := a.cm.CreateChannel(b.id, 1_000_000, 0, [16]byte{2}, nil)
	require.NoError(t, err)
	nw.settle()
	a.takeEvents()
	b.takeEvents()
	nw.mine(1)
	first := a.cm.ListChannels()[0]
	require.NotZero(t, first.FundingConfirmationHeight)
	nw.reorgOut(1)
	require.Zero(t, a.cm.ListChannels()[0].FundingConfirmationHeight, "the confirmation is forgotten")
	nw.mineEmpty(t, 5)
	require.Zero(t, countEvents[events.ChannelReady](append(a.takeEvents(), b.takeEvents()...)), "no channel_ready without the funding transaction")
	require.False(t, a.cm.ListChannels()[0].IsChannelReady)
	nw.mine(1) // the funding transaction, from the mempool
	again := a.cm.ListChannels()[0]
	require.NotZero(t, again.FundingConfirmationHeight)
	require.NotEqual(t, first.ShortChannelID, again.ShortChannelID, "a new short_channel_id")
	nw.mine(int(a.cfg.ChannelHandshakeConfig.MinimumDepth) - 1)
	require.Equal(t, 1, countEvents[events.ChannelReady](a.takeEvents()))
	require.Equal(t, 1, countEvents[events.ChannelReady](b.takeEvents()))
	d := a.channel(again.ChannelID)
	require.True(t, d.IsUsable)
	require.Equal(t, again.ShortChannelID, d.ShortChannelID)
}
