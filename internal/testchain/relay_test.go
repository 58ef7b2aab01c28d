package testchain

import (
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

func TestAnyoneTxSizes(t *testing.T) {
	op := wire.OutPoint{Index: 1}
	cases := []struct {
		name         string
		tx           *wire.MsgTx
		weight, size int64
	}{
		{"1 in 1 out", anyoneTx([]wire.OutPoint{op}, 100_000, 0, 1), 381, vsize1in1out},
		{"1 in 2 out", anyoneTx([]wire.OutPoint{op}, 100_000, 0, 2), 553, vsize1in2out},
		{"2 in 1 out", anyoneTx([]wire.OutPoint{op, {Index: 2}}, 100_000, 0, 1), 548, vsize2in1out},
	}
	for _, tc := range cases {
		require.Equal(t, tc.weight, txWeight(tc.tx), tc.name)
		require.Equal(t, tc.size, vsizeOf(txWeight(tc.tx)), tc.name)
	}
}

func TestFeePolicyDefaults(t *testing.T) {
	c := regtest()
	require.Equal(t, uint32(250), c.MinRelayFeeratePerKw())
	require.Equal(t, uint32(250), c.IncrementalRelayFeeratePerKw())
	require.Zero(t, c.MiningFeeratePerKw())
	c.SetMinRelayFeeratePerKw(1000)
	c.SetIncrementalRelayFeeratePerKw(500)
	c.SetMiningFeeratePerKw(2000)
	require.Equal(t, uint32(1000), c.MinRelayFeeratePerKw())
	require.Equal(t, uint32(500), c.IncrementalRelayFeeratePerKw())
	require.Equal(t, uint32(2000), c.MiningFeeratePerKw())
}

// TestMinRelayFeerate: a transaction must pay ceil(4 × floor × vsize / 1000) sat; one sat less is
// refused with ErrFeeTooLow.
func TestMinRelayFeerate(t *testing.T) {
	cases := []struct {
		name    string
		floor   uint32
		feeSat  int64
		wantErr error
	}{
		{"default floor, 1 sat/vB exactly", 250, vsize1in1out, nil},
		{"default floor, one sat short", 250, vsize1in1out - 1, ErrFeeTooLow},
		{"zero fee refused", 250, 0, ErrFeeTooLow},
		{"no floor, zero fee", 0, 0, nil},
		{"253 sat/kw asks ceil(1.012 × 96) = 98", 253, 98, nil},
		{"253 sat/kw, 97 sat", 253, 97, ErrFeeTooLow},
		{"1000 sat/kw asks 384", 1000, 384, nil},
		{"1000 sat/kw, 383 sat", 1000, 383, ErrFeeTooLow},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, ops := anyoneChain(1)
			c.SetMinRelayFeeratePerKw(tc.floor)
			tx := anyoneTx(ops, 100_000, tc.feeSat, 1)
			fee, err := c.CheckTransaction(tx)
			require.ErrorIs(t, err, tc.wantErr)
			require.ErrorIs(t, c.SubmitTransaction(tx), tc.wantErr)
			require.Equal(t, tc.wantErr == nil, c.InMempool(tx.TxHash()))
			if tc.wantErr != nil {
				return
			}
			require.Equal(t, tc.feeSat, fee)
			gotFee, weight, ok := c.MempoolEntry(tx.TxHash())
			require.True(t, ok)
			require.Equal(t, tc.feeSat, gotFee)
			require.Equal(t, int64(381), weight)
		})
	}
}

// TestPackageRelay: a parent below the minimum relay feerate is accepted with a child when the two
// together pay it (one parent, one child, as Bitcoin Core's package relay), in one
// BroadcastTransactions call in either order, or through SubmitPackage.
func TestPackageRelay(t *testing.T) {
	const pkgVsize = 2 * vsize1in1out // 192: the package needs 192 sat at 1 sat/vB
	cases := []struct {
		name           string
		parentFee      int64
		childFee       int64
		childFirst     bool
		wantParentErr  error
		wantChildErr   error
		wantInMempool  []bool // parent, child
		wantPackageFee int64
	}{
		{"zero-fee parent, child pays for both", 0, pkgVsize, false, nil, nil, []bool{true, true}, pkgVsize},
		{"child listed first", 0, pkgVsize, true, nil, nil, []bool{true, true}, pkgVsize},
		{"parent pays part", 50, pkgVsize - 50, false, nil, nil, []bool{true, true}, pkgVsize},
		{"package one sat short", 0, pkgVsize - 1, false, ErrFeeTooLow, ErrFeeTooLow, []bool{false, false}, 0},
		{"package one sat short, child first", 10, pkgVsize - 11, true, ErrFeeTooLow, ErrFeeTooLow, []bool{false, false}, 0},
		// The parent goes in alone; a child below the floor is not paid for by its parent.
		{"parent pays for itself, zero-fee child", 500, 0, false, nil, ErrFeeTooLow, []bool{true, false}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c, ops := anyoneChain(1)
			parent := anyoneTx(ops, 100_000, tc.parentFee, 1)
			child := anyoneTx([]wire.OutPoint{out(parent, 0)}, 100_000-tc.parentFee, tc.childFee, 1)
			if tc.childFirst {
				c.BroadcastTransactions(child, parent)
			} else {
				c.BroadcastTransactions(parent, child)
			}
			require.Equal(t, tc.wantInMempool, []bool{c.InMempool(parent.TxHash()), c.InMempool(child.TxHash())})
			errs := map[chainhash.Hash]error{}
			for _, r := range c.Rejected() {
				errs[r.Txid] = r.Err
			}
			require.ErrorIs(t, errs[parent.TxHash()], tc.wantParentErr)
			require.ErrorIs(t, errs[child.TxHash()], tc.wantChildErr)
			if tc.wantPackageFee > 0 {
				fee, weight, ok := c.MempoolAncestorPackage(child.TxHash())
				require.True(t, ok)
				require.Equal(t, tc.wantPackageFee, fee)
				require.Equal(t, int64(2*381), weight)
			}
			requireConsistentPool(t, c)

			// SubmitPackage decides the same on a fresh chain.
			c2, _ := anyoneChain(1)
			err := c2.SubmitPackage(parent, child)
			if tc.wantParentErr != nil {
				require.ErrorIs(t, err, tc.wantParentErr)
			} else {
				require.ErrorIs(t, err, tc.wantChildErr)
			}
			require.Equal(t, tc.wantInMempool, []bool{c2.InMempool(parent.TxHash()), c2.InMempool(child.TxHash())})
		})
	}
}

func TestPackageRelayRefusals(t *testing.T) {
	c, ops := anyoneChain(2)
	parent := anyoneTx(ops[:1], 100_000, 0, 1)
	stranger := anyoneTx(ops[1:], 100_000, 5000, 1)
	require.ErrorIs(t, c.SubmitPackage(parent, stranger), ErrNonStandard, "the child must spend the parent")
	require.ErrorIs(t, c.SubmitPackage(nil, stranger), ErrMalformed)
	require.ErrorIs(t, c.SubmitTransaction(parent), ErrFeeTooLow, "alone, the parent is below the floor")
	c.BroadcastTransactions(parent)
	rej := c.Rejected()
	require.Len(t, rej, 1)
	require.ErrorIs(t, rej[0].Err, ErrFeeTooLow)

	// A child that spends the parent's own input conflicts with it inside the package.
	twice := anyoneTx([]wire.OutPoint{out(parent, 0), ops[0]}, 200_000, 5000, 1)
	require.ErrorIs(t, c.SubmitPackage(parent, twice), ErrDoubleSpend)
	// A child with a bad script fails the package; the parent is not accepted either.
	bad := anyoneTx([]wire.OutPoint{out(parent, 0)}, 100_000, 5000, 1)
	bad.TxIn[0].Witness = wire.TxWitness{{0x52}}
	require.ErrorIs(t, c.SubmitPackage(parent, bad), ErrScriptFailed)
	require.Empty(t, c.Mempool())
}

// TestPackageReplacement: a parent that conflicts with a mempool transaction and pays too little to
// replace it alone (a commitment racing the counterparty's) replaces it together with a child: the
// package (139 + 96 = 235 vbytes) must beat the conflict's feerate (200 sat / 96 vbytes, so 490 sat
// at least) and pay for everything it evicts plus 235 sat.
func TestPackageReplacement(t *testing.T) {
	cases := []struct {
		name         string
		parentFee    int64
		childFee     int64
		rivalChild   bool   // the rival has a 100-sat child, evicted with it
		spendOther   bool   // the child also spends an unrelated mempool output
		wantParent   error  // the parent's refusal on its own
		wantChildMsg string // the package's refusal; "" for accepted
	}{
		{"package feerate equal-ish: 489 sat", 200, 289, false, false, ErrReplacementRefused, "(BIP 125 rule 6)"},
		{"package beats the rival's feerate: 490 sat", 200, 290, false, false, ErrReplacementRefused, ""},
		{"zero-fee parent, 489 sat", 0, 489, false, false, ErrFeeTooLow, "(BIP 125 rule 6)"},
		{"zero-fee parent, 490 sat", 0, 490, false, false, ErrFeeTooLow, ""},
		{"rival's child too: 300 + 235 - 1", 200, 334, true, false, ErrReplacementRefused, "(BIP 125 rule 4)"},
		{"rival's child too: 300 + 235", 200, 335, true, false, ErrReplacementRefused, ""},
		{"package spending another mempool transaction", 200, 5000, false, true, ErrReplacementRefused,
			"a replacing package may spend only confirmed outputs and its own"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, submit := range []string{"BroadcastTransactions", "SubmitPackage"} {
				c, ops := anyoneChain(2)
				rival := anyoneTx(ops[:1], 100_000, 200, 1)
				pool := []*wire.MsgTx{rival}
				if tc.rivalChild {
					pool = append(pool, anyoneTx([]wire.OutPoint{out(rival, 0)}, 99_800, 100, 1))
				}
				other := anyoneTx(ops[1:], 100_000, 1000, 1)
				pool = append(pool, other)
				for _, tx := range pool {
					require.NoError(t, c.SubmitTransaction(tx))
				}
				parent := anyoneTx(ops[:1], 100_000, tc.parentFee, 2)
				childIns, inSat := []wire.OutPoint{out(parent, 0)}, parent.TxOut[0].Value
				if tc.spendOther {
					childIns, inSat = append(childIns, out(other, 0)), inSat+99_000
				}
				child := anyoneTx(childIns, inSat, tc.childFee, 1)
				require.ErrorIs(t, c.SubmitTransaction(parent), tc.wantParent, "alone")

				var err error
				if submit == "SubmitPackage" {
					err = c.SubmitPackage(parent, child)
				} else {
					c.BroadcastTransactions(child, parent)
					rej := c.Rejected()
					if tc.wantChildMsg == "" {
						require.Empty(t, rej)
					} else {
						require.Len(t, rej, 2)
						require.Equal(t, txids(child, parent), []chainhash.Hash{rej[0].Txid, rej[1].Txid}, "in call order")
						require.ErrorIs(t, rej[1].Err, tc.wantParent)
						err = rej[0].Err
					}
				}
				requireConsistentPool(t, c)
				if tc.wantChildMsg != "" {
					require.ErrorIs(t, err, ErrReplacementRefused, submit)
					require.ErrorContains(t, err, tc.wantChildMsg, submit)
					require.Equal(t, txids(pool...), mempoolTxids(c), submit)
					continue
				}
				require.NoError(t, err, submit)
				require.Equal(t, txids(other, parent, child), mempoolTxids(c), submit)
			}
		})
	}
}

// TestPackageReplacesChild: with the parent already in the mempool, a package whose child conflicts
// with the parent's earlier child is an ordinary replacement of that child.
func TestPackageReplacesChild(t *testing.T) {
	for _, tc := range []struct {
		feeSat  int64
		wantErr error
	}{{500 + 95, ErrReplacementRefused}, {500 + 96, nil}} {
		c, ops := anyoneChain(1)
		parent := anyoneTx(ops, 100_000, 500, 2)
		first := anyoneTx([]wire.OutPoint{out(parent, 0)}, parent.TxOut[0].Value, 500, 1)
		c.BroadcastTransactions(parent, first)
		second := anyoneTx([]wire.OutPoint{out(parent, 0)}, parent.TxOut[0].Value, tc.feeSat, 1)
		require.ErrorIs(t, c.SubmitPackage(parent, second), tc.wantErr)
		c.BroadcastTransactions(parent, second)
		if tc.wantErr != nil {
			require.Len(t, c.Rejected(), 1)
			require.ErrorIs(t, c.Rejected()[0].Err, tc.wantErr)
			require.Equal(t, txids(parent, first), mempoolTxids(c))
			continue
		}
		require.Empty(t, c.Rejected())
		require.Equal(t, txids(parent, second), mempoolTxids(c))
	}
}
