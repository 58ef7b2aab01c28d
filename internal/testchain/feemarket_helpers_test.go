package testchain

import (
	"testing"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

// anyoneScript is P2WSH(OP_TRUE): anyone spends it with the witness [OP_TRUE], so fee tests need no
// signatures and their transactions have fixed sizes.
var anyoneScript = p2wshScript([]byte{txscript.OP_TRUE})

// Sizes of anyoneTx spends (asserted in TestAnyoneTxSizes): one input and one output weigh 381 wu
// (96 vbytes), each further output adds 172 wu (43 vbytes), each further input 167 wu.
const (
	vsize1in1out = 96
	vsize1in2out = 139
	vsize2in1out = 137
)

// anyoneTx returns a version-2 transaction spending ops (P2WSH(OP_TRUE) outputs worth inSat in
// total) into nOut P2WSH(OP_TRUE) outputs that share inSat - feeSat (the first takes the remainder),
// so that it pays exactly feeSat.
func anyoneTx(ops []wire.OutPoint, inSat, feeSat int64, nOut int) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	for _, op := range ops {
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: op, Sequence: wire.MaxTxInSequenceNum,
			Witness: wire.TxWitness{{txscript.OP_TRUE}}})
	}
	left := inSat - feeSat
	each := left / int64(nOut)
	for i := 0; i < nOut; i++ {
		v := each
		if i == 0 {
			v += left - each*int64(nOut)
		}
		tx.AddTxOut(&wire.TxOut{Value: v, PkScript: anyoneScript})
	}
	return tx
}

// out returns the outpoint of tx's output i.
func out(tx *wire.MsgTx, i uint32) wire.OutPoint { return wire.OutPoint{Hash: tx.TxHash(), Index: i} }

// anyoneChain returns a chain with n confirmed P2WSH(OP_TRUE) outputs of 100,000 sat.
func anyoneChain(n int) (*Chain, []wire.OutPoint) {
	c := regtest()
	ops := make([]wire.OutPoint, n)
	for i := range ops {
		ops[i] = c.FundAddress(anyoneScript, 100_000)
	}
	return c, ops
}

// txids returns the txids of txs.
func txids(txs ...*wire.MsgTx) []chainhash.Hash {
	out := make([]chainhash.Hash, len(txs))
	for i, tx := range txs {
		out[i] = tx.TxHash()
	}
	return out
}

// mempoolTxids returns the mempool's txids in acceptance order.
func mempoolTxids(c *Chain) []chainhash.Hash { return txids(c.Mempool()...) }

// subsidy returns the regtest block subsidy at height.
func subsidy(height uint32) int64 {
	return blockchain.CalcBlockSubsidy(int32(height), &chaincfg.RegressionNetParams)
}

// requireConsistentPool checks the mempool's bookkeeping: the pool, its index and its spends agree;
// every input is a confirmed unspent output or an output of an earlier mempool transaction, spent
// once; every entry's fee and weight are right.
func requireConsistentPool(t testing.TB, c *Chain) {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	require.Len(t, c.poolIndex, len(c.pool))
	seen := make(map[chainhash.Hash]bool)
	spends := 0
	for _, e := range c.pool {
		require.Same(t, e, c.poolIndex[e.txid])
		require.Equal(t, e.tx.TxHash(), e.txid)
		require.Equal(t, txWeight(e.tx), e.weight)
		var inSat int64
		for _, in := range e.tx.TxIn {
			op := in.PreviousOutPoint
			require.Equal(t, e.txid, c.poolSpends[op], "%v spent by its mempool spender", op)
			spends++
			if cn, ok := c.utxos[op]; ok {
				inSat += cn.out.Value
				continue
			}
			require.True(t, seen[op.Hash], "%v: input %v neither confirmed nor from an earlier mempool tx", e.txid, op)
			inSat += c.poolIndex[op.Hash].tx.TxOut[op.Index].Value
		}
		require.Equal(t, inSat-sumOut(e.tx), e.fee, "fee of %v", e.txid)
		seen[e.txid] = true
		_, confirmed := c.txIndex[e.txid]
		require.False(t, confirmed)
	}
	require.Len(t, c.poolSpends, spends)
}
