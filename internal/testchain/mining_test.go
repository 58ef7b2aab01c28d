package testchain

import (
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

// lowTx is a 381-wu transaction paying 96 sat (1 sat/vB): 96000/381 ≈ 251.97 sat/kw.
func lowTx(ops []wire.OutPoint) *wire.MsgTx { return anyoneTx(ops[:1], 100_000, 96, 1) }

// requireBlock checks that blk holds exactly want after its coinbase, and that the coinbase collects
// subsidy plus feesSat.
func requireBlock(t *testing.T, blk *wire.MsgBlock, height uint32, feesSat int64, want ...*wire.MsgTx) {
	t.Helper()
	require.Equal(t, txids(want...), txids(blk.Transactions[1:]...))
	require.Equal(t, subsidy(height)+feesSat, blk.Transactions[0].TxOut[0].Value)
}

// TestMiningFeerateLeavesLowFeeTransactions: a transaction whose ancestor package is below the mining
// feerate stays in the mempool block after block; it is mined once the feerate is lowered to its
// own (exactly: fee × 1000 ≥ feerate × weight).
func TestMiningFeerateLeavesLowFeeTransactions(t *testing.T) {
	cases := []struct {
		name      string
		feerate   uint32
		wantMined bool
	}{
		{"1000 sat/kw", 1000, false},
		{"252 sat/kw: 252 × 381 = 96012 > 96000", 252, false},
		{"251 sat/kw: 251 × 381 = 95631 ≤ 96000", 251, true},
		{"no mining feerate", 0, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, ops := anyoneChain(1)
			low := lowTx(ops)
			require.NoError(t, c.SubmitTransaction(low))
			c.SetMiningFeeratePerKw(1000)
			first := c.Height() + 1
			for i, blk := range c.MineBlocks(3) {
				requireBlock(t, blk, first+uint32(i), 0)
			}
			require.True(t, c.InMempool(low.TxHash()), "left in the mempool")
			c.SetMiningFeeratePerKw(tc.feerate)
			blk := c.MineBlocks(1)[0]
			if tc.wantMined {
				requireBlock(t, blk, c.Height(), 96, low)
				require.Empty(t, c.Mempool())
			} else {
				requireBlock(t, blk, c.Height(), 0)
				require.Equal(t, txids(low), mempoolTxids(c))
			}
			requireConsistentPool(t, c)
		})
	}
}

// TestMiningCPFP: a child lifts its low-fee parent into a block when their ancestor package reaches
// the mining feerate. Parent and child weigh 762 wu together; at 1000 sat/kw they need 762 sat.
func TestMiningCPFP(t *testing.T) {
	cases := []struct {
		name      string
		childFee  int64
		wantMined bool
	}{
		{"package 762 sat: exactly 1000 sat/kw", 666, true},
		{"package 761 sat", 665, false},
		{"generous child", 5000, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, ops := anyoneChain(1)
			c.SetMiningFeeratePerKw(1000)
			parent := lowTx(ops)
			require.NoError(t, c.SubmitTransaction(parent))
			c.MineBlocks(2)
			require.True(t, c.InMempool(parent.TxHash()))

			child := anyoneTx([]wire.OutPoint{out(parent, 0)}, 100_000-96, tc.childFee, 1)
			require.NoError(t, c.SubmitTransaction(child))
			fee, weight, ok := c.MempoolAncestorPackage(child.TxHash())
			require.True(t, ok)
			require.Equal(t, 96+tc.childFee, fee)
			require.Equal(t, int64(762), weight)
			blk := c.MineBlocks(1)[0]
			if tc.wantMined {
				requireBlock(t, blk, c.Height(), 96+tc.childFee, parent, child)
				require.Empty(t, c.Mempool())
				return
			}
			requireBlock(t, blk, c.Height(), 0)
			require.Equal(t, txids(parent, child), mempoolTxids(c))
			// Lowering the mining feerate to the package's (761000/762 ≈ 998.7) mines both.
			c.SetMiningFeeratePerKw(998)
			requireBlock(t, c.MineBlocks(1)[0], c.Height(), 761, parent, child)
		})
	}
}

// TestMiningAncestorScoreOrder: packages go into the block best ancestor feerate first, the feerates
// recomputed after each pick; what stays below the mining feerate stays in the mempool.
func TestMiningAncestorScoreOrder(t *testing.T) {
	type spec struct {
		name   string
		parent int   // index of the parent in the list, or -1 to spend a confirmed output
		fee    int64 // sat
	}
	cases := []struct {
		name    string
		feerate uint32
		txs     []spec
		want    []int // the block's transactions, by index in txs
		keep    []int // those left in the mempool
	}{
		{
			// X alone: 762/381 wu = 2000 sat/kw; L+C: 762/762 wu = 1000.
			name: "lone high feerate first", feerate: 1000,
			txs:  []spec{{name: "X", parent: -1, fee: 762}, {name: "L", parent: -1, fee: 96}, {name: "C", parent: 1, fee: 666}},
			want: []int{0, 1, 2},
		},
		{
			// X: 381/381 = 1000; L+C: 1524/762 = 2000: the package goes first.
			name: "package beats lone transaction", feerate: 1000,
			txs:  []spec{{name: "X", parent: -1, fee: 381}, {name: "L", parent: -1, fee: 96}, {name: "C", parent: 1, fee: 1428}},
			want: []int{1, 2, 0},
		},
		{
			// H: 1000/381 ≈ 2625 mined; its child K alone: 96/381 ≈ 252 stays.
			name: "parent does not pay for its child", feerate: 1000,
			txs:  []spec{{name: "H", parent: -1, fee: 1000}, {name: "K", parent: 0, fee: 96}},
			want: []int{0}, keep: []int{1},
		},
		{
			// Without a mining feerate: everything, in acceptance order.
			name: "no mining feerate", feerate: 0,
			txs:  []spec{{name: "X", parent: -1, fee: 381}, {name: "L", parent: -1, fee: 96}, {name: "C", parent: 1, fee: 1428}},
			want: []int{0, 1, 2},
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, ops := anyoneChain(len(tc.txs))
			made := make([]*wire.MsgTx, len(tc.txs))
			var fees int64
			for i, s := range tc.txs {
				in, inSat := ops[i], int64(100_000)
				if s.parent >= 0 {
					in, inSat = out(made[s.parent], 0), sumOut(made[s.parent])
				}
				made[i] = anyoneTx([]wire.OutPoint{in}, inSat, s.fee, 1)
				require.NoError(t, c.SubmitTransaction(made[i]), s.name)
			}
			var want, keep []*wire.MsgTx
			for _, i := range tc.want {
				want = append(want, made[i])
				fees += tc.txs[i].fee
			}
			for _, i := range tc.keep {
				keep = append(keep, made[i])
			}
			c.SetMiningFeeratePerKw(tc.feerate)
			requireBlock(t, c.MineBlocks(1)[0], c.Height(), fees, want...)
			require.Equal(t, txids(keep...), mempoolTxids(c))
			requireConsistentPool(t, c)
		})
	}
}
