package channelmanager

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
)

// TestCloseUnfundedChannel: closing a channel before it is funded (CloseChannel after open_channel,
// and after accept_channel with the funding transaction not yet given) reports ChannelClosed
// (FundingAbandoned) under the channel's temporary id, the only id it has, and forgets it.
func TestCloseUnfundedChannel(t *testing.T) {
	for _, accepted := range []bool{false, true} {
		_, a, b := twoNodes(t)
		a.chain.FundAddress(a.wallet.PkScript(), 1_100_000)
		a.chain.MineBlocks(1)
		tempID, err := a.cm.CreateChannel(b.id, 1_000_000, 0, [16]byte{1}, nil)
		require.NoError(t, err)
		if accepted {
			for _, m := range takeOutbox(a).others {
				deliver(t, b, a, m)
			}
			for _, m := range takeOutbox(b).others {
				deliver(t, a, b, m)
			}
		}
		require.NoError(t, a.cm.CloseChannel(tempID, b.id))
		o := takeOutbox(a)
		require.Len(t, o.errs, 1)
		require.Equal(t, tempID, o.errs[0].ChannelID)
		var evs []events.Event
		require.NoError(t, a.cm.ProcessPendingEvents(func(e events.Event) error { evs = append(evs, e); return nil }))
		requireClosed(t, evs, tempID, events.FundingAbandoned)
		require.Empty(t, a.cm.ListChannels(), "the channel is forgotten")
	}
}
