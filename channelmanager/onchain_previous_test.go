package channelmanager

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
)

// deliverFrom delivers, in order, the queued messages node `from` sent, and returns how many.
func (nw *network) deliverFrom(from int) int {
	nw.collect()
	n := 0
	kept := nw.queue[:0]
	var mine []queued
	for _, q := range nw.queue {
		if q.from == from {
			mine = append(mine, q)
		} else {
			kept = append(kept, q)
		}
	}
	nw.queue = kept
	for _, q := range mine {
		nw.deliver(q)
		n++
	}
	return n
}

// TestPreviousCommitmentConfirms: Bob has signed for Alice's new commitment (with a new HTLC of hers)
// and revoked nothing yet when his previous commitment confirms. Alice sees the counterparty's
// previous, unrevoked commitment: she sweeps her to_remote and fails the HTLC, which is not on it, once
// it is deep. Bob sees his own previous commitment, not the latest: he sweeps his to_local after the
// delay.
func TestPreviousCommitmentConfirms(t *testing.T) {
	bothChannelTypes(t, testPreviousCommitmentConfirms)
}

func testPreviousCommitmentConfirms(t *testing.T, anchors bool) {
	nw, a, b, id := onchainPair(t, anchors, 1_000_000, 400_000_000)
	funding := a.channel(id).FundingTxo
	prev, err := mustMonitor(t, b, funding).LatestHolderCommitmentTx()
	require.NoError(t, err)
	pid, _, err := nw.pay(0, 1, 100_000_000)
	require.NoError(t, err)
	require.Positive(t, nw.deliverFrom(0), "alice's update_add_htlc and commitment_signed reach bob")
	nw.disconnect(0, 1) // bob's revoke_and_ack never reaches alice
	latest, err := mustMonitor(t, b, funding).LatestHolderCommitmentTx()
	require.NoError(t, err)
	require.NotEqual(t, prev.TxHash(), latest.TxHash(), "bob holds a newer commitment")

	_, err = a.chain.MineBlockWith(prev)
	require.NoError(t, err)
	nw.settle()
	evs := map[*testNode][]events.Event{}
	start := a.chain.Height()
	mineTo(nw, start+channelmonitor.AntiReorgDelay-1, evs)
	_, pf, failed, _ := outcomes(evs[a], pid)
	require.Equal(t, [2]int{1, 1}, [2]int{pf, failed}, "the HTLC was not on the commitment that confirmed")
	mineTo(nw, start+uint32(a.cfg.ChannelHandshakeConfig.OurToSelfDelay)+channelmonitor.AntiReorgDelay+1, evs)
	noRejections(t, a.chain)
	require.Greater(t, a.sweptSat, int64(600_000-1_000-2_000), "alice's to_remote (her 600,000 less the commitment fee)")
	require.Greater(t, b.sweptSat, int64(400_000-1_000), "bob's to_local on his previous commitment")
	require.Empty(t, a.chainMon.GetClaimableBalances())
	require.Empty(t, b.chainMon.GetClaimableBalances())
}

// TestOlderHolderCommitmentRecognised: an older commitment of Alice's confirms (a restored backup
// broadcast it; Bob, offline, never punishes). Her monitor recognises it as hers, not as the
// counterparty's revoked commitment with the same number, and sweeps her to_local after the delay.
func TestOlderHolderCommitmentRecognised(t *testing.T) {
	bothChannelTypes(t, testOlderHolderCommitmentRecognised)
}

func testOlderHolderCommitmentRecognised(t *testing.T, anchors bool) {
	nw, a, b, id := onchainPair(t, anchors, 1_000_000, 0)
	funding := a.channel(id).FundingTxo
	old, err := mustMonitor(t, a, funding).LatestHolderCommitmentTx()
	require.NoError(t, err)
	for i := 0; i < 2; i++ {
		_, _, err := nw.pay(0, 1, 20_000_000)
		require.NoError(t, err)
		nw.settle()
	}
	nw.disconnect(0, 1)
	b.proxy.Set() // bob is offline: he sees no blocks
	_, err = a.chain.MineBlockWith(old)
	require.NoError(t, err)
	evs := map[*testNode][]events.Event{}
	mineTo(nw, a.chain.Height()+uint32(b.cfg.ChannelHandshakeConfig.OurToSelfDelay)+channelmonitor.AntiReorgDelay+1, evs)
	noRejections(t, a.chain)
	toLocal := sumOut(old) - anchorsSat(old) // bob had nothing: to_local (and alice's anchor)
	require.Greater(t, a.sweptSat, toLocal-1_000, "alice swept her to_local of the old commitment")
	require.LessOrEqual(t, a.sweptSat, toLocal)
	require.Empty(t, a.chainMon.GetClaimableBalances())
}
