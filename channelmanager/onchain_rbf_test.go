package channelmanager

import (
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
)

// TestJusticeBumpedByRBF: miners want 20,000 sat/kw while Alice's estimator says 1,000. Her justice
// transaction starts low and is replaced, block after block, with a higher fee (BIP 125), until it is
// mined — well before Bob's to_self_delay would let him take his to_local — paying no more than the
// FeeBudgetPercent share of what it recovers.
func TestJusticeBumpedByRBF(t *testing.T) {
	bothChannelTypes(t, func(t *testing.T, anchors bool) {
		nw, a, b, id := onchainPair(t, anchors, 1_000_000, 400_000_000)
		funding := a.channel(id).FundingTxo
		old, err := mustMonitor(t, b, funding).LatestHolderCommitmentTx()
		require.NoError(t, err)
		for i := 0; i < 2; i++ {
			_, _, err := nw.pay(1, 0, 50_000_000)
			require.NoError(t, err)
			nw.settle()
		}
		a.chain.SetMiningFeeratePerKw(20_000)
		a.chain.SetFeeratePerKw(chaininterface.UrgentOnChainSweep, 1_000)
		_, err = a.chain.MineBlockWith(old)
		require.NoError(t, err)
		nw.settle()
		toLocal := htlcOutputAbove(old, 300_000)
		start := a.chain.Height()
		var justice *wire.MsgTx
		for a.chain.Height() < start+uint32(a.cfg.ChannelHandshakeConfig.OurToSelfDelay) && justice == nil {
			nw.mine(1)
			justice = spendOf(a.chain, toLocal)
		}
		require.NotNil(t, justice, "justice mined before the delay ran out")
		var versions int
		for _, tx := range a.bcast.txs {
			if spends(tx, toLocal) {
				versions++
			}
		}
		require.Greater(t, versions, 1, "replaced with higher fees on the way")
		var in int64
		for _, txin := range justice.TxIn {
			in += old.TxOut[txin.PreviousOutPoint.Index].Value
		}
		fee := in - sumOut(justice)
		require.GreaterOrEqual(t, fee*1000/txWeightOf(justice), int64(20_000), "pays what miners want")
		require.LessOrEqual(t, fee, in*channelmonitor.FeeBudgetPercent/100, "within the budget")
		t.Logf("mined %d blocks after the cheat, %d versions, fee %d sat of %d", a.chain.Height()-start, versions, fee, in)
		a.chain.SetMiningFeeratePerKw(0)
		evs := map[*testNode][]events.Event{}
		mineTo(nw, a.chain.Height()+channelmonitor.AntiReorgDelay+2, evs)
		require.Zero(t, b.sweptSat)
	})
}

// htlcOutputAbove finds the first output of tx worth more than sat.
func htlcOutputAbove(tx *wire.MsgTx, sat int64) wire.OutPoint {
	for i, o := range tx.TxOut {
		if o.Value > sat {
			return wire.OutPoint{Hash: tx.TxHash(), Index: uint32(i)}
		}
	}
	return wire.OutPoint{}
}

func spends(tx *wire.MsgTx, op wire.OutPoint) bool {
	for _, in := range tx.TxIn {
		if in.PreviousOutPoint == op {
			return true
		}
	}
	return false
}
