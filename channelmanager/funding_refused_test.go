package channelmanager

import (
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
)

// TestFundingCreatedReusingAnotherOutpoint: mallory opens a channel to bob and, in funding_created,
// names the funding outpoint of bob's channel with carol (correctly signed for that outpoint, which
// anyone can do with their own keys). The ChainMonitor keeps one monitor per outpoint and refuses the
// new one. Bob must refuse mallory's channel without touching carol's: no update reaches the monitor
// of carol's channel (which, having seen no update yet, would take one numbered 1), nothing is
// broadcast, and the error and ChannelClosed name mallory's temporary channel id, not carol's channel.
func TestFundingCreatedReusingAnotherOutpoint(t *testing.T) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	carol := newTestNode(t, chain, "carol", 3)
	bob := newTestNode(t, chain, "bob", 2)
	mallory := newTestNode(t, chain, "mallory", 4)
	nw := newNetwork(t, carol, bob, mallory)
	nw.connect(0, 1)
	nw.connect(2, 1)
	victim := nw.openChannel(0, 1, 1_000_000, 0)
	victimTxo := bob.channel(victim).FundingTxo

	tempID, err := mallory.cm.CreateChannel(bob.id, 500_000, 0, [16]byte{2}, nil)
	require.NoError(t, err)
	for _, m := range takeOutbox(mallory).others {
		deliver(t, bob, mallory, m)
	}
	for _, m := range takeOutbox(bob).others {
		deliver(t, mallory, bob, m)
	}
	ps := mallory.cm.peer(bob.id, false)
	mc := ps.channels[tempID]
	require.Equal(t, stateAwaitingFundingTx, mc.state)
	mc.setFunding(victimTxo)
	fc, err := mc.fundingSigMsg(deferFundingCreated)
	require.NoError(t, err)
	deliver(t, bob, mallory, fc)

	_, spent := chain.SpentBy(victimTxo)
	require.False(t, spent, "carol's channel is not force-closed")
	mon, ok := bob.chainMon.GetMonitor(victimTxo)
	require.True(t, ok)
	require.Zero(t, mon.LatestUpdateID(), "carol's monitor took no update")
	require.True(t, bob.channel(victim).IsUsable)
	o := takeOutbox(bob)
	require.Empty(t, o.others, "no funding_signed")
	require.Len(t, o.errs, 1)
	require.Equal(t, tempID, o.errs[0].ChannelID, "the error names mallory's channel")
	bob.handleEvents()
	requireClosed(t, bob.takeEvents(), tempID, events.ProcessingError)
	for _, d := range bob.cm.ListChannels() {
		require.NotEqual(t, tempID, d.ChannelID, "mallory's channel is forgotten")
	}
}
