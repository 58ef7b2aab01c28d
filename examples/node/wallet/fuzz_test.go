package wallet

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

// FuzzDecodeState feeds arbitrary bytes to the state file decoder and, when they decode, loads them into a
// wallet of the seed that wrote the seed corpus: neither may panic, and a loaded state must encode again.
func FuzzDecodeState(f *testing.F) {
	dir := f.TempDir()
	w, err := Open(dir, testSeed("fuzz"), &chaincfg.RegressionNetParams, BlockRef{Height: 7})
	require.NoError(f, err)
	// A state with a coin, a transaction and a lock.
	script, err := w.ChangeScript()
	require.NoError(f, err)
	blk := wire.MsgBlock{Header: wire.BlockHeader{PrevBlock: w.best.Hash}}
	cb := wire.NewMsgTx(1)
	cb.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex}, SignatureScript: []byte{1, 2}})
	cb.AddTxOut(&wire.TxOut{Value: 5e9, PkScript: script})
	blk.AddTransaction(cb)
	w.best = BlockRef{}
	w.BlockConnected(&blk, 8)
	w.locked[wire.OutPoint{Index: 3}] = struct{}{}
	require.NoError(f, w.save())
	data, err := os.ReadFile(filepath.Join(dir, StateFileName))
	require.NoError(f, err)
	f.Add(data)
	f.Add([]byte(`{"version":1}`))
	f.Add([]byte(`{"version":1,"coins":[{"outpoint":"00:1"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := decodeState(data)
		if err != nil {
			require.ErrorIs(t, err, ErrCorruptState)
			return
		}
		for c := 0; c < 2; c++ {
			if st.NextIndex[c] > 500 || st.LastUsed[c] > 500 {
				return // valid, but deriving that many keys only slows the fuzzer down
			}
		}
		w2 := &Wallet{net: w.net, chains: w.chains, acctID: w.acctID, scripts: map[string]keyPath{},
			used: [2]int64{-1, -1}, coins: map[wire.OutPoint]*coin{}, txs: map[chainhash.Hash]*txRecord{},
			spends: map[wire.OutPoint]chainhash.Hash{}, locked: map[wire.OutPoint]struct{}{}}
		if err := w2.restore(st); err != nil {
			return
		}
		_, err = w2.encode()
		require.NoError(t, err)
		w2.Balance()
		w2.ListUnspent()
		w2.UnconfirmedTransactions()
	})
}
