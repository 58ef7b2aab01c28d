package testchain

import (
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

// rbfCase builds, on a chain with four confirmed 100,000-sat P2WSH(OP_TRUE) outputs, the mempool
// transactions (in acceptance order) and a replacement, and says which of them it evicts if accepted.
type rbfCase struct {
	name        string
	incremental uint32 // incremental relay feerate, sat/kw
	build       func(ops []wire.OutPoint) (pool []*wire.MsgTx, repl *wire.MsgTx, evicts []*wire.MsgTx)
	wantErr     error
	wantMsg     string // part of the refusal's message: the rule at fault
}

// chainOf returns n transactions, each spending the previous one's output 0 (the first spends op),
// each paying feeSat.
func chainOf(op wire.OutPoint, inSat, feeSat int64, n int) []*wire.MsgTx {
	var txs []*wire.MsgTx
	for i := 0; i < n; i++ {
		tx := anyoneTx([]wire.OutPoint{op}, inSat, feeSat, 1)
		txs = append(txs, tx)
		op, inSat = out(tx, 0), inSat-feeSat
	}
	return txs
}

// fanOut returns a transaction spending op into 100 outputs (paying 5,000 sat) and children
// spending the first n of them (paying 250 sat each).
func fanOut(op wire.OutPoint, n int) []*wire.MsgTx {
	parent := anyoneTx([]wire.OutPoint{op}, 100_000, 5000, 100)
	txs := []*wire.MsgTx{parent}
	for i := 0; i < n; i++ {
		txs = append(txs, anyoneTx([]wire.OutPoint{out(parent, uint32(i))}, parent.TxOut[i].Value, 250, 1))
	}
	return txs
}

func rbfCases() []rbfCase {
	one := func(ops []wire.OutPoint) []wire.OutPoint { return ops[:1] }
	// A: 1 in, 2 out (139 vB), 1000 sat; B: 1 in, 1 out (96 vB), a higher feerate whatever it pays
	// from 1000 sat up.
	smallerB := func(feeB int64) func([]wire.OutPoint) ([]*wire.MsgTx, *wire.MsgTx, []*wire.MsgTx) {
		return func(ops []wire.OutPoint) ([]*wire.MsgTx, *wire.MsgTx, []*wire.MsgTx) {
			a := anyoneTx(one(ops), 100_000, 1000, 2)
			return []*wire.MsgTx{a}, anyoneTx(one(ops), 100_000, feeB, 1), []*wire.MsgTx{a}
		}
	}
	// A: 96 vB at 10 sat/vB (960 sat); B: 139 vB.
	biggerB := func(feeB int64) func([]wire.OutPoint) ([]*wire.MsgTx, *wire.MsgTx, []*wire.MsgTx) {
		return func(ops []wire.OutPoint) ([]*wire.MsgTx, *wire.MsgTx, []*wire.MsgTx) {
			a := anyoneTx(one(ops), 100_000, 960, 1)
			return []*wire.MsgTx{a}, anyoneTx(one(ops), 100_000, feeB, 2), []*wire.MsgTx{a}
		}
	}
	// A → A1 → A2, 500 sat each, and an unrelated U; B (96 vB) conflicts with A.
	withDescendants := func(feeB int64) func([]wire.OutPoint) ([]*wire.MsgTx, *wire.MsgTx, []*wire.MsgTx) {
		return func(ops []wire.OutPoint) ([]*wire.MsgTx, *wire.MsgTx, []*wire.MsgTx) {
			fam := chainOf(ops[0], 100_000, 500, 3)
			u := anyoneTx(ops[1:2], 100_000, 500, 1)
			return append(fam, u), anyoneTx(one(ops), 100_000, feeB, 1), fam
		}
	}
	// A1 spends ops[0] (500 sat), A2 ops[1] (700 sat); B (2 in, 137 vB) spends both.
	twoConflicts := func(feeB int64) func([]wire.OutPoint) ([]*wire.MsgTx, *wire.MsgTx, []*wire.MsgTx) {
		return func(ops []wire.OutPoint) ([]*wire.MsgTx, *wire.MsgTx, []*wire.MsgTx) {
			a1, a2 := anyoneTx(ops[:1], 100_000, 500, 1), anyoneTx(ops[1:2], 100_000, 700, 1)
			return []*wire.MsgTx{a1, a2}, anyoneTx(ops[:2], 200_000, feeB, 1), []*wire.MsgTx{a1, a2}
		}
	}
	// 1 + n evictions: B pays 50,000 sat, far above their 5,000 + 250n.
	evictions := func(n int) func([]wire.OutPoint) ([]*wire.MsgTx, *wire.MsgTx, []*wire.MsgTx) {
		return func(ops []wire.OutPoint) ([]*wire.MsgTx, *wire.MsgTx, []*wire.MsgTx) {
			fam := fanOut(ops[0], n)
			return fam, anyoneTx(one(ops), 100_000, 50_000, 1), fam
		}
	}
	return []rbfCase{
		{"rule 3/4: equal absolute fee", 250, smallerB(1000), ErrReplacementRefused, "rule 4"},
		{"rule 4: one sat short of the incremental 96 sat", 250, smallerB(1000 + 95), ErrReplacementRefused, "adds 95 sat to the 1000 sat it would evict; the incremental relay feerate of 250 sat/kw asks 96 sat for 96 vbytes (BIP 125 rule 4)"},
		{"rule 4: incremental 96 sat added", 250, smallerB(1000 + 96), nil, ""},
		{"rule 4: 1000 sat/kw incremental asks 384 sat, 383 added", 1000, smallerB(1000 + 383), ErrReplacementRefused, "asks 384 sat for 96 vbytes (BIP 125 rule 4)"},
		{"rule 4: 1000 sat/kw incremental, 384 added", 1000, smallerB(1000 + 384), nil, ""},
		{"rule 3 alone (no incremental): one sat less", 0, smallerB(999), ErrReplacementRefused, "pays 999 sat, less than the 1000 sat of the 1 transactions it would evict (BIP 125 rule 3)"},
		{"rule 3 alone (no incremental): equal fee is enough, as in Core", 0, smallerB(1000), nil, ""},
		{"rule 6: equal feerate (1390/139 = 960/96)", 250, biggerB(1390), ErrReplacementRefused, "pays 1390 sat for 139 vbytes, not a higher feerate than"},
		{"rule 6: one sat above", 250, biggerB(1391), nil, ""},
		{"rule 3 counts descendants: 1500 + 95", 250, withDescendants(1500 + 95), ErrReplacementRefused, "adds 95 sat to the 1500 sat it would evict"},
		{"descendants evicted: 1500 + 96", 250, withDescendants(1500 + 96), nil, ""},
		{"two direct conflicts: 1200 + 136", 250, twoConflicts(1200 + 136), ErrReplacementRefused, "adds 136 sat to the 1200 sat it would evict; the incremental relay feerate of 250 sat/kw asks 137 sat"},
		{"two direct conflicts: 1200 + 137", 250, twoConflicts(1200 + 137), nil, ""},
		{"rule 5: 100 evictions", 250, evictions(99), nil, ""},
		{"rule 5: 101 evictions", 250, evictions(100), ErrReplacementRefused, "would evict 101 transactions, at most 100 may go (BIP 125 rule 5)"},
		{"rule 2: new unconfirmed input", 250, newUnconfirmedInput, ErrReplacementRefused, "a new unconfirmed input (BIP 125 rule 2)"},
		{"rule 2: new confirmed input", 250, newConfirmedInput, nil, ""},
		{"rule 2: other output of a parent the conflict spends from", 250, sameUnconfirmedParent, nil, ""},
		{"replacing a child: its parent stays", 250, replaceChild, nil, ""},
		{"spends an output of what it evicts", 250, spendsEvicted, ErrReplacementRefused, "which it would evict"},
	}
}

// newUnconfirmedInput: A spends ops[0]; B spends ops[0] and U's output, U an unrelated mempool tx.
func newUnconfirmedInput(ops []wire.OutPoint) ([]*wire.MsgTx, *wire.MsgTx, []*wire.MsgTx) {
	a, u := anyoneTx(ops[:1], 100_000, 500, 1), anyoneTx(ops[1:2], 100_000, 500, 1)
	return []*wire.MsgTx{a, u}, anyoneTx([]wire.OutPoint{ops[0], out(u, 0)}, 199_500, 20_000, 1), []*wire.MsgTx{a}
}

// newConfirmedInput: as newUnconfirmedInput, but B's second input is confirmed.
func newConfirmedInput(ops []wire.OutPoint) ([]*wire.MsgTx, *wire.MsgTx, []*wire.MsgTx) {
	a, u := anyoneTx(ops[:1], 100_000, 500, 1), anyoneTx(ops[1:2], 100_000, 500, 1)
	return []*wire.MsgTx{a, u}, anyoneTx([]wire.OutPoint{ops[0], ops[2]}, 200_000, 20_000, 1), []*wire.MsgTx{a}
}

// sameUnconfirmedParent: P (2 outputs) in the mempool; A spends ops[0] and P:0; B spends ops[0] and
// P:1. Bitcoin Core allows it: rule 2 compares the parents' txids.
func sameUnconfirmedParent(ops []wire.OutPoint) ([]*wire.MsgTx, *wire.MsgTx, []*wire.MsgTx) {
	p := anyoneTx(ops[1:2], 100_000, 1000, 2)
	a := anyoneTx([]wire.OutPoint{ops[0], out(p, 0)}, 100_000+p.TxOut[0].Value, 500, 1)
	b := anyoneTx([]wire.OutPoint{ops[0], out(p, 1)}, 100_000+p.TxOut[1].Value, 20_000, 1)
	return []*wire.MsgTx{p, a}, b, []*wire.MsgTx{a}
}

// replaceChild: P → C1 in the mempool; C2 spends P:0 too and pays 500 + 96.
func replaceChild(ops []wire.OutPoint) ([]*wire.MsgTx, *wire.MsgTx, []*wire.MsgTx) {
	fam := chainOf(ops[0], 100_000, 500, 2)
	return fam, anyoneTx([]wire.OutPoint{out(fam[0], 0)}, 99_500, 500+96, 1), fam[1:]
}

// spendsEvicted: A (2 outputs) spends ops[0]; B spends ops[0] and A:1.
func spendsEvicted(ops []wire.OutPoint) ([]*wire.MsgTx, *wire.MsgTx, []*wire.MsgTx) {
	a := anyoneTx(ops[:1], 100_000, 500, 2)
	return []*wire.MsgTx{a}, anyoneTx([]wire.OutPoint{ops[0], out(a, 1)}, 100_000+a.TxOut[1].Value, 20_000, 1), []*wire.MsgTx{a}
}

// TestReplaceByFee checks every replacement rule at its boundary. A refused replacement wraps both
// ErrReplacementRefused and ErrDoubleSpend and leaves the mempool as it was; an accepted one evicts
// exactly its conflicts and their descendants.
func TestReplaceByFee(t *testing.T) {
	for _, tc := range rbfCases() {
		t.Run(tc.name, func(t *testing.T) {
			c, ops := anyoneChain(4)
			c.SetIncrementalRelayFeeratePerKw(tc.incremental)
			pool, repl, evicts := tc.build(ops)
			for _, tx := range pool {
				require.NoError(t, c.SubmitTransaction(tx))
			}
			before := mempoolTxids(c)
			_, checkErr := c.CheckTransaction(repl)
			require.ErrorIs(t, checkErr, tc.wantErr)
			err := c.SubmitTransaction(repl)
			requireConsistentPool(t, c)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				require.ErrorIs(t, err, ErrDoubleSpend)
				require.ErrorContains(t, err, tc.wantMsg)
				require.Equal(t, before, mempoolTxids(c), "mempool unchanged")
				return
			}
			require.NoError(t, err)
			gone := map[[32]byte]bool{}
			for _, tx := range evicts {
				gone[tx.TxHash()] = true
			}
			var want []*wire.MsgTx
			for _, tx := range pool {
				if !gone[tx.TxHash()] {
					want = append(want, tx)
				}
			}
			require.Equal(t, txids(append(want, repl)...), mempoolTxids(c))
			for _, in := range repl.TxIn {
				by, _ := c.SpentBy(in.PreviousOutPoint)
				require.Equal(t, repl.TxHash(), by)
			}
		})
	}
}

func TestReplaceByFeeConfirmedConflict(t *testing.T) {
	c, ops := anyoneChain(1)
	a := anyoneTx(ops, 100_000, 500, 1)
	require.NoError(t, c.SubmitTransaction(a))
	c.MineBlocks(1)
	err := c.SubmitTransaction(anyoneTx(ops, 100_000, 50_000, 1))
	require.ErrorIs(t, err, ErrDoubleSpend)
	require.NotErrorIs(t, err, ErrReplacementRefused, "a confirmed spend is never replaced")
	// The same transaction again is no conflict with itself, confirmed or in the mempool.
	require.NoError(t, c.SubmitTransaction(a))
	b := anyoneTx([]wire.OutPoint{out(a, 0)}, 99_500, 500, 1)
	require.NoError(t, c.SubmitTransaction(b))
	require.NoError(t, c.SubmitTransaction(b))
	_, err = c.CheckTransaction(b)
	require.ErrorIs(t, err, ErrDoubleSpend, "checked as if new, it conflicts with itself")
	require.NotErrorIs(t, err, ErrReplacementRefused)
}

// TestBroadcastReplaces: BroadcastTransactions replaces as SubmitTransaction does and records a
// refused replacement.
func TestBroadcastReplaces(t *testing.T) {
	c, ops := anyoneChain(1)
	a := anyoneTx(ops, 100_000, 500, 1)
	low := anyoneTx(ops, 100_000, 500+95, 1)
	high := anyoneTx(ops, 100_000, 500+96, 1)
	c.BroadcastTransactions(a, low)
	require.Len(t, c.Rejected(), 1)
	require.ErrorIs(t, c.Rejected()[0].Err, ErrReplacementRefused)
	c.BroadcastTransactions(high)
	require.Len(t, c.Rejected(), 1)
	require.Equal(t, txids(high), mempoolTxids(c))
	fee, _, ok := c.MempoolEntry(high.TxHash())
	require.True(t, ok)
	require.Equal(t, int64(596), fee)
	_, _, ok = c.MempoolEntry(a.TxHash())
	require.False(t, ok)
}
