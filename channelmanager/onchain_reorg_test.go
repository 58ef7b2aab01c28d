package channelmanager

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
)

// disconnect removes n blocks from the tip, letting the nodes see each disconnection.
func (nw *network) reorgOut(n int) {
	for i := 0; i < n; i++ {
		nw.nodes[0].chain.DisconnectTip()
	}
	nw.settle()
}

// mineEmpty mines n blocks holding no transaction (a miner who ignores the mempool).
func (nw *network) mineEmpty(t *testing.T, n int) {
	for i := 0; i < n; i++ {
		_, err := nw.nodes[0].chain.MineBlockWith()
		require.NoError(t, err)
		nw.settle()
	}
}

// TestReorgOurCommitmentRebroadcast: our commitment confirms, is reorganised out, and the new chain
// does not carry it: the monitor broadcasts it again every block until it confirms again.
func TestReorgOurCommitmentRebroadcast(t *testing.T) {
	bothChannelTypes(t, testReorgOurCommitmentRebroadcast)
}

func testReorgOurCommitmentRebroadcast(t *testing.T, anchors bool) {
	nw, a, b, id := onchainPair(t, anchors, 1_000_000, 0)
	funding := a.channel(id).FundingTxo
	require.NoError(t, a.cm.ForceCloseBroadcastingLatestTxn(id, b.id))
	nw.mine(1)
	commit := spendOf(a.chain, funding)
	require.NotNil(t, commit)
	before := a.bcast.broadcasts(commit.TxHash())
	nw.reorgOut(1)
	nw.mineEmpty(t, 3)
	require.Nil(t, spendOf(a.chain, funding))
	require.GreaterOrEqual(t, a.bcast.broadcasts(commit.TxHash()), before+3, "rebroadcast every block")
	nw.mine(1)
	require.Equal(t, commit.TxHash(), spendOf(a.chain, funding).TxHash())
	evs := map[*testNode][]events.Event{}
	mineTo(nw, a.chain.Height()+uint32(b.cfg.ChannelHandshakeConfig.OurToSelfDelay)+channelmonitor.AntiReorgDelay+1, evs)
	require.Greater(t, a.sweptSat, sumOut(commit)-1_000)
	require.Empty(t, a.chainMon.GetClaimableBalances())
}

// TestReorgHTLCTimeout: our HTLC-timeout transaction confirms, is reorganised out three blocks deep
// and left out of the new chain for a while: the claim comes back and is rebroadcast, and the payment
// fails exactly once, AntiReorgDelay after the timeout's final confirmation — never before.
func TestReorgHTLCTimeout(t *testing.T) { bothChannelTypes(t, testReorgHTLCTimeout) }

func testReorgHTLCTimeout(t *testing.T, anchors bool) {
	nw, a, b, id := onchainPair(t, anchors, 1_000_000, 0)
	hp := holdPayment(t, nw, 0, 1, 100_000_000)
	funding := a.channel(id).FundingTxo
	nw.disconnect(0, 1)
	require.NoError(t, a.cm.ForceCloseBroadcastingLatestTxn(id, b.id))
	evs := map[*testNode][]events.Event{}
	mineTo(nw, a.chain.Height()+1, evs)
	commit := spendOf(a.chain, funding)
	out := htlcOutput(t, commit, 100_000)
	mineTo(nw, hp.expiry+1, evs)
	timeout := spendOf(a.chain, out)
	require.NotNil(t, timeout)
	mineTo(nw, a.chain.Height()+2, evs) // three confirmations
	nw.reorgOut(3)
	require.Nil(t, spendOf(a.chain, out), "the HTLC-timeout is unconfirmed again")
	before := a.bcast.broadcasts(timeout.TxHash())
	a.takeEvents()
	nw.mineEmpty(t, 4)
	if anchors {
		// The host's handler rebuilds it: the monitor asks again every block.
		_, bumps := bumpEvents(a.takeEvents())
		require.GreaterOrEqual(t, len(bumps), 4, "the claim is asked for again")
	} else {
		require.GreaterOrEqual(t, a.bcast.broadcasts(timeout.TxHash()), before+4, "the claim is rebroadcast")
	}
	for _, n := range nw.nodes {
		evs[n] = append(evs[n], n.takeEvents()...)
	}
	_, _, failed, _ := outcomes(evs[a], hp.id)
	require.Zero(t, failed, "no failure while the timeout is not final")
	nw.mine(1)
	again := a.chain.Height()
	require.NotNil(t, spendOf(a.chain, out))
	mineTo(nw, again+channelmonitor.AntiReorgDelay-2, evs)
	_, _, failed, _ = outcomes(evs[a], hp.id)
	require.Zero(t, failed)
	mineTo(nw, again+channelmonitor.AntiReorgDelay+10, evs)
	_, pf, failed, _ := outcomes(evs[a], hp.id)
	require.Equal(t, [2]int{1, 1}, [2]int{pf, failed}, "failed exactly once")
	mineTo(nw, again+uint32(b.cfg.ChannelHandshakeConfig.OurToSelfDelay)+channelmonitor.AntiReorgDelay+1, evs)
	noRejections(t, a.chain)
	require.Greater(t, a.sweptSat, sumOut(commit)-3_000, "second stage and to_local swept once each")
	require.LessOrEqual(t, a.sweptSat, sumOut(commit))
	require.Empty(t, a.chainMon.GetClaimableBalances())
}

// TestReorgJustice: the revoked commitment and Alice's justice transaction confirm, both are
// reorganised out, and the cheater's HTLC-success makes it into the new chain first: Alice replans from
// the new facts and still takes everything, with each output handed over once.
func TestReorgJustice(t *testing.T) { bothChannelTypes(t, testReorgJustice) }

func testReorgJustice(t *testing.T, anchors bool) {
	nw, a, b, id := onchainPair(t, anchors, 1_000_000, 400_000_000)
	cs := captureCheat(t, nw, a, b, id, 100_000_000)
	_, err := a.chain.MineBlockWith(cs.commit)
	require.NoError(t, err)
	nw.settle()
	nw.mine(2) // justice confirmed
	require.NotNil(t, spendOf(a.chain, htlcOutput(t, cs.commit, 100_000)), "alice's justice took the HTLC output")
	nw.reorgOut(3)
	if anchors { // the HTLC-success waits a block (1-block CSV on anchor HTLC outputs)
		_, err = a.chain.MineBlockWith(cs.commit)
		require.NoError(t, err)
		_, err = a.chain.MineBlockWith(cs.htlcSuccess)
	} else {
		_, err = a.chain.MineBlockWith(cs.commit, cs.htlcSuccess)
	}
	require.NoError(t, err)
	nw.settle()
	evs := map[*testNode][]events.Event{}
	mineTo(nw, a.chain.Height()+uint32(a.cfg.ChannelHandshakeConfig.OurToSelfDelay)+channelmonitor.AntiReorgDelay, evs)
	total := sumOut(cs.commit) - anchorsSat(cs.commit)
	require.Greater(t, a.sweptSat, total-8_000)
	require.LessOrEqual(t, a.sweptSat, total)
	require.Zero(t, b.sweptSat)
	require.Empty(t, a.chainMon.GetClaimableBalances())
}
