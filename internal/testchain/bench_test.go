package testchain

import (
	"testing"

	"github.com/btcsuite/btcd/wire"
)

// BenchmarkValidateP2WPKH measures the full mempool check (policy, context and script engine) of a
// 1-input, 2-output P2WPKH transaction.
func BenchmarkValidateP2WPKH(b *testing.B) {
	c := regtest()
	key := testKey("bench")
	op := c.FundAddress(p2wpkhOf(key.PubKey()), 100_000)
	tx := newSpend([]wire.OutPoint{op}, wire.MaxTxInSequenceNum,
		&wire.TxOut{Value: 60_000, PkScript: p2wpkhOf(testKey("dest").PubKey())},
		&wire.TxOut{Value: 39_000, PkScript: p2wpkhOf(key.PubKey())})
	signP2WPKH(b, c, tx, 0, key)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.CheckTransaction(tx); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkMineEmptyBlock measures building, connecting and (with no listener) delivering one block.
func BenchmarkMineEmptyBlock(b *testing.B) {
	c := regtest()
	b.ReportAllocs()
	for b.Loop() {
		c.MineBlocks(1)
	}
}
