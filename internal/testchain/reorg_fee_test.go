package testchain

import (
	"sync"

	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

// TestReorgReaddsWhateverTheyPay: transactions of a disconnected block go back to the mempool with no
// fee rule, as in Bitcoin Core, even zero-fee ones the mempool would refuse; they stay there while the
// mining feerate is above them.
func TestReorgReaddsWhateverTheyPay(t *testing.T) {
	c, ops := anyoneChain(1)
	zero := anyoneTx(ops, 100_000, 0, 1)
	child := anyoneTx([]wire.OutPoint{out(zero, 0)}, 100_000, 0, 1)
	require.ErrorIs(t, c.SubmitTransaction(zero), ErrFeeTooLow)
	blk, err := c.MineBlockWith(zero, child)
	require.NoError(t, err, "a miner includes what it likes")
	requireBlock(t, blk, c.Height(), 0, zero, child)

	c.DisconnectTip()
	require.Equal(t, txids(zero, child), mempoolTxids(c))
	for _, tx := range []*wire.MsgTx{zero, child} {
		fee, weight, ok := c.MempoolEntry(tx.TxHash())
		require.True(t, ok)
		require.Zero(t, fee)
		require.Equal(t, int64(381), weight)
	}
	requireConsistentPool(t, c)

	c.SetMiningFeeratePerKw(1)
	for _, b := range c.MineBlocks(2) {
		require.Len(t, b.Transactions, 1, "0 sat/kw is below 1 sat/kw")
	}
	require.Equal(t, txids(zero, child), mempoolTxids(c), "still there after two blocks")
	c.SetMiningFeeratePerKw(0)
	requireBlock(t, c.MineBlocks(1)[0], c.Height(), 0, zero, child)
	require.Empty(t, c.Mempool())
}

// TestReorgKeepsPoolConsistent: a low-feerate package stays in the mempool across blocks and a reorg
// that returns a transaction paying more.
func TestReorgKeepsPoolConsistent(t *testing.T) {
	c, ops := anyoneChain(2)
	parent := anyoneTx(ops[:1], 100_000, 0, 1)
	child := anyoneTx([]wire.OutPoint{out(parent, 0)}, 100_000, 2*vsize1in1out, 1)
	rich := anyoneTx(ops[1:], 100_000, 5000, 1)
	c.BroadcastTransactions(parent, child, rich)
	require.Empty(t, c.Rejected())
	c.SetMiningFeeratePerKw(1000) // the package pays 192 sat for 762 wu: about 252 sat/kw
	requireBlock(t, c.MineBlocks(1)[0], c.Height(), 5000, rich)
	require.Equal(t, txids(parent, child), mempoolTxids(c))
	c.DisconnectTip()
	require.Equal(t, txids(rich, parent, child), mempoolTxids(c), "the block's transaction goes back in front")
	requireConsistentPool(t, c)
	requireBlock(t, c.MineBlocks(1)[0], c.Height(), 5000, rich)
	require.Equal(t, txids(parent, child), mempoolTxids(c))
}

// TestMineBlockWithEvictsConflicts: mempool transactions conflicting with a block mined by
// MineBlockWith leave the mempool with their descendants; unrelated ones stay.
func TestMineBlockWithEvictsConflicts(t *testing.T) {
	cases := []struct {
		name  string
		block func(fam []*wire.MsgTx, ops []wire.OutPoint) []*wire.MsgTx
		keep  func(fam []*wire.MsgTx, u *wire.MsgTx) []*wire.MsgTx
	}{
		{
			name: "conflict with the root: the whole family goes",
			block: func(fam []*wire.MsgTx, ops []wire.OutPoint) []*wire.MsgTx {
				return []*wire.MsgTx{anyoneTx(ops[:1], 100_000, 100, 1)} // pays less: a miner's choice
			},
			keep: func(fam []*wire.MsgTx, u *wire.MsgTx) []*wire.MsgTx { return []*wire.MsgTx{u} },
		},
		{
			name: "root mined with a conflicting child: the rest of the family goes",
			block: func(fam []*wire.MsgTx, ops []wire.OutPoint) []*wire.MsgTx {
				return []*wire.MsgTx{fam[0], anyoneTx([]wire.OutPoint{out(fam[0], 0)}, 99_500, 0, 1)}
			},
			keep: func(fam []*wire.MsgTx, u *wire.MsgTx) []*wire.MsgTx { return []*wire.MsgTx{u} },
		},
		{
			name: "root and child mined: the grandchild stays",
			block: func(fam []*wire.MsgTx, ops []wire.OutPoint) []*wire.MsgTx {
				return fam[:2]
			},
			keep: func(fam []*wire.MsgTx, u *wire.MsgTx) []*wire.MsgTx { return []*wire.MsgTx{fam[2], u} },
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, ops := anyoneChain(2)
			fam := chainOf(ops[0], 100_000, 500, 3)
			u := anyoneTx(ops[1:], 100_000, 500, 1)
			for _, tx := range append(fam, u) {
				require.NoError(t, c.SubmitTransaction(tx))
			}
			block := tc.block(fam, ops)
			_, err := c.MineBlockWith(block...)
			require.NoError(t, err)
			require.Equal(t, txids(tc.keep(fam, u)...), mempoolTxids(c))
			requireConsistentPool(t, c)
			for _, tx := range block {
				require.Equal(t, uint32(1), c.Confirmations(tx.TxHash()))
			}
			// A reorg returns the block's transactions; what they evicted does not come back.
			c.DisconnectTip()
			require.Equal(t, txids(append(block, tc.keep(fam, u)...)...), mempoolTxids(c))
			requireConsistentPool(t, c)
		})
	}
}

// TestFeeMarketConcurrentUse runs packages, replacements, policy changes, mining and queries from
// several goroutines (for the race detector).
func TestFeeMarketConcurrentUse(t *testing.T) {
	const workers = 4
	c, ops := anyoneChain(workers)
	// Every package pays under 1000 sat/kw (at most 596 sat for 762 wu): nothing is mined until the
	// end, so every bump finds its child in the mempool.
	c.SetMiningFeeratePerKw(1000)
	var wg sync.WaitGroup
	for g := 0; g < workers; g++ {
		wg.Add(1)
		go func(op wire.OutPoint) {
			defer wg.Done()
			parent := anyoneTx([]wire.OutPoint{op}, 100_000, 0, 1)
			child := anyoneTx([]wire.OutPoint{out(parent, 0)}, 100_000, 500, 1)
			c.BroadcastTransactions(child, parent)
			bump := anyoneTx([]wire.OutPoint{out(parent, 0)}, 100_000, 500+vsize1in1out, 1)
			if err := c.SubmitPackage(parent, bump); err != nil {
				t.Error(err)
			}
			c.SetMiningFeeratePerKw(c.MiningFeeratePerKw())
			_, _, _ = c.MempoolAncestorPackage(bump.TxHash())
			_, _, _ = c.MempoolEntry(parent.TxHash())
			c.MineBlocks(1)
		}(ops[g])
	}
	wg.Wait()
	require.Len(t, c.Mempool(), 2*workers)
	c.SetMiningFeeratePerKw(0)
	require.Len(t, c.MineBlocks(1)[0].Transactions, 1+2*workers)
	require.Empty(t, c.Mempool())
	require.Empty(t, c.Rejected())
	requireConsistentPool(t, c)
}
