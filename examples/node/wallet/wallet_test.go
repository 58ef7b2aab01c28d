package wallet

import (
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/keys"
)

// checkFee asserts that tx pays at least feeratePerKw on its real signed weight and at most what the
// estimate with 72-byte signatures asks (2 weight units per input of slack), and returns the fee.
func checkFee(t *testing.T, e *env, tx *wire.MsgTx, feeratePerKw uint32) int64 {
	t.Helper()
	fee := prevValue(t, e.chain, tx) - outValue(tx)
	weight := txWeight(tx)
	require.GreaterOrEqual(t, fee, feeSat(weight, feeratePerKw), "fee below the feerate on the real weight")
	require.LessOrEqual(t, fee, feeSat(weight+2*int64(len(tx.TxIn)), feeratePerKw))
	return fee
}

func TestReceiveConfirmSpend(t *testing.T) {
	e := newEnv(t)
	script := e.newScript()
	payTx := e.pay(script, 3e8)
	// The wallet learns from blocks only: nothing before the block.
	c, u := e.balance()
	require.Zero(t, c)
	require.Zero(t, u)
	e.chain.MineBlocks(1)
	c, u = e.balance()
	require.Equal(t, int64(3e8), c)
	require.Zero(t, u)
	require.Equal(t, e.chain.BestBlock(), e.w.BestBlock())
	require.NoError(t, e.w.Err())

	dest := &wire.TxOut{Value: 1e8, PkScript: foreignScript("dest")}
	tx, err := e.w.FundTransaction([]*wire.TxOut{dest}, 1000)
	require.NoError(t, err)
	require.Len(t, tx.TxIn, 1)
	require.Equal(t, wire.OutPoint{Hash: payTx.TxHash(), Index: 0}, tx.TxIn[0].PreviousOutPoint)
	require.Len(t, tx.TxOut, 2)
	require.Equal(t, dest, tx.TxOut[0])
	require.True(t, e.w.IsMine(tx.TxOut[1].PkScript), "change pays the wallet")
	require.Equal(t, uint32(wire.MaxTxInSequenceNum-2), tx.TxIn[0].Sequence)
	require.Equal(t, e.chain.Height(), tx.LockTime)
	fee := checkFee(t, e, tx, 1000)
	// The chain runs every script: the signature is right.
	require.NoError(t, e.chain.SubmitTransaction(tx))

	// Before AddOwnTransaction the coin is locked but still ours and confirmed.
	c, _ = e.balance()
	require.Equal(t, int64(3e8), c)
	require.NoError(t, e.w.AddOwnTransaction(tx))
	c, u = e.balance()
	require.Zero(t, c)
	require.Equal(t, int64(3e8-1e8)-fee, u, "change is unconfirmed")
	require.Len(t, e.w.UnconfirmedTransactions(), 1)

	e.chain.MineBlocks(1)
	require.Equal(t, uint32(1), e.chain.Confirmations(tx.TxHash()))
	c, u = e.balance()
	require.Equal(t, int64(3e8-1e8)-fee, c, "change confirmed")
	require.Zero(t, u)
	require.Empty(t, e.w.UnconfirmedTransactions())
	utxos := e.w.ListUnspent()
	require.Len(t, utxos, 1)
	require.Equal(t, wire.OutPoint{Hash: tx.TxHash(), Index: 1}, utxos[0].OutPoint)
	require.True(t, utxos[0].Spendable)
	_, ok := e.chain.UTXO(utxos[0].OutPoint)
	require.True(t, ok)

	// Spend the change too, with several outputs kept in order.
	outs := []*wire.TxOut{
		{Value: 5e7, PkScript: foreignScript("a")},
		{Value: 2e7, PkScript: e.newScript()},
		{Value: 1e7, PkScript: foreignScript("b")},
	}
	tx2, err := e.w.FundTransaction(outs, 5000)
	require.NoError(t, err)
	for i, o := range outs {
		require.Equal(t, o, tx2.TxOut[i])
	}
	fee2 := checkFee(t, e, tx2, 5000)
	require.NoError(t, e.chain.SubmitTransaction(tx2))
	require.NoError(t, e.w.AddOwnTransaction(tx2))
	e.chain.MineBlocks(1)
	c, u = e.balance()
	require.Equal(t, int64(3e8-1e8)-fee-5e7-1e7-fee2, c)
	require.Zero(t, u)
}

func TestFundTransactionChoosesLargestAndDustChange(t *testing.T) {
	e := newEnv(t)
	for _, v := range []int64{1e6, 5e6, 2e6} {
		e.pay(e.newScript(), v)
	}
	e.chain.MineBlocks(1)

	// 4.5e6 sat: the 5e6 coin alone covers it.
	tx, err := e.w.FundTransaction([]*wire.TxOut{{Value: 45e5, PkScript: foreignScript("x")}}, 253)
	require.NoError(t, err)
	require.Len(t, tx.TxIn, 1)
	checkFee(t, e, tx, 253)
	require.NoError(t, e.w.UnlockInputs(tx))

	// Asking for everything but a little leaves change below the dust limit: it goes to the fee and
	// there is no change output.
	// Fee of 3 P2WPKH inputs (72-byte signatures) and one P2WPKH output at 253 sat/kw: 982 WU, 249 sat.
	dummy := wire.NewMsgTx(2)
	for i := 0; i < 3; i++ {
		dummy.AddTxIn(&wire.TxIn{Witness: wire.TxWitness{make([]byte, 72), make([]byte, 33)}})
	}
	dummy.AddTxOut(&wire.TxOut{PkScript: foreignScript("x")})
	require.Equal(t, int64(982), txWeight(dummy))
	want := int64(8e6) - feeSat(982, 253) - 100
	tx, err = e.w.FundTransaction([]*wire.TxOut{{Value: want, PkScript: foreignScript("x")}}, 253)
	require.NoError(t, err)
	require.Len(t, tx.TxIn, 3)
	require.Len(t, tx.TxOut, 1, "dust change dropped")
	fee := prevValue(t, e.chain, tx) - outValue(tx)
	require.GreaterOrEqual(t, fee, feeSat(txWeight(tx), 253))
	require.Equal(t, feeSat(982, 253)+100, fee)
	require.NoError(t, e.chain.SubmitTransaction(tx))
}

func TestInsufficientFunds(t *testing.T) {
	e := newEnv(t)
	_, err := e.w.FundTransaction([]*wire.TxOut{{Value: 1000, PkScript: foreignScript("x")}}, 253)
	require.ErrorIs(t, err, ErrInsufficientFunds)

	e.receive(1e6)
	_, err = e.w.FundTransaction([]*wire.TxOut{{Value: 1e6, PkScript: foreignScript("x")}}, 253)
	require.ErrorIs(t, err, ErrInsufficientFunds, "the fee is not covered")
	tx, err := e.w.FundTransaction([]*wire.TxOut{{Value: 1e6 - 200, PkScript: foreignScript("x")}}, 253)
	require.NoError(t, err, "110 vbytes at 253 sat/kw is under 200 sat")
	require.NoError(t, e.chain.SubmitTransaction(tx))

	// Unconfirmed coins are not spent.
	require.NoError(t, e.w.AddOwnTransaction(tx))
	_, err = e.w.FundTransaction([]*wire.TxOut{{Value: 1000, PkScript: foreignScript("x")}}, 253)
	require.True(t, errors.Is(err, ErrInsufficientFunds))

	for _, bad := range [][]*wire.TxOut{nil, {nil}, {{Value: -1}}, {{Value: 21e14 + 1}}, {{Value: 21e14}, {Value: 1}}} {
		_, err = e.w.FundTransaction(bad, 253)
		require.ErrorIs(t, err, ErrInvalidOutputs)
	}
}

func TestConcurrentFundTransaction(t *testing.T) {
	e := newEnv(t)
	const n = 12
	for i := 0; i < n; i++ {
		e.pay(e.newScript(), 1e6)
	}
	e.chain.MineBlocks(1)

	var mu sync.Mutex
	var txs []*wire.MsgTx
	var fails int
	var wg sync.WaitGroup
	for i := 0; i < n+4; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// 6e5 sat needs exactly one 1e6 coin.
			tx, err := e.w.FundTransaction([]*wire.TxOut{{Value: 6e5, PkScript: foreignScript("c")}}, 253)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				require.ErrorIs(t, err, ErrInsufficientFunds)
				fails++
				return
			}
			txs = append(txs, tx)
		}()
	}
	wg.Wait()
	require.Len(t, txs, n)
	require.Equal(t, 4, fails)
	used := make(map[wire.OutPoint]bool)
	for _, tx := range txs {
		require.Len(t, tx.TxIn, 1)
		op := tx.TxIn[0].PreviousOutPoint
		require.False(t, used[op], "input %s used twice", op)
		used[op] = true
		// All of them are valid together.
		require.NoError(t, e.chain.SubmitTransaction(tx))
	}
	// Released inputs are chosen again.
	require.NoError(t, e.w.UnlockInputs(txs[0]))
	again, err := e.w.FundTransaction([]*wire.TxOut{{Value: 6e5, PkScript: foreignScript("c")}}, 253)
	require.NoError(t, err)
	require.Equal(t, txs[0].TxIn[0].PreviousOutPoint, again.TxIn[0].PreviousOutPoint)
}

func TestGapLimit(t *testing.T) {
	e := newEnv(t)
	// A second instance of the same seed hands out addresses this one has not issued.
	other, err := Open(t.TempDir(), e.seed, &chaincfg.RegressionNetParams, BlockRef{})
	require.NoError(t, err)
	scripts := make([][]byte, 70)
	for i := range scripts {
		addr, err := other.NewAddress()
		require.NoError(t, err)
		scripts[i], err = txscript.PayToAddrScript(addr)
		require.NoError(t, err)
	}
	require.True(t, e.w.IsMine(scripts[GapLimit-1]))
	require.False(t, e.w.IsMine(scripts[GapLimit]))

	e.pay(scripts[GapLimit-1], 1e6) // index 19: watched
	e.pay(scripts[60], 1e6)         // beyond the window even after index 19 is used
	e.chain.MineBlocks(1)
	c, _ := e.balance()
	require.Equal(t, int64(1e6), c)
	require.True(t, e.w.IsMine(scripts[2*GapLimit-1]), "the window moved past index 19")
	e.pay(scripts[2*GapLimit-1], 2e6) // index 39
	e.chain.MineBlocks(1)
	c, _ = e.balance()
	require.Equal(t, int64(3e6), c)

	require.False(t, e.w.IsMine(scripts[60]), "index 60 is outside 40+20")
	// Issued addresses continue after the highest used index.
	require.Equal(t, scripts[2*GapLimit], e.newScript())
}

func TestCoinbaseMaturity(t *testing.T) {
	e := newEnv(t)
	script := e.newScript()
	e.chain.SetCoinbasePkScript(script)
	blk := e.chain.MineBlocks(1)[0]
	e.chain.SetCoinbasePkScript(p2wshTrue())
	subsidy := blk.Transactions[0].TxOut[0].Value
	c, u := e.balance()
	require.Zero(t, c)
	require.Equal(t, subsidy, u, "immature coinbase counts as unconfirmed")

	e.chain.MineBlocks(98) // tip = coinbase height + 98: a spend would go in block +99
	_, err := e.w.FundTransaction([]*wire.TxOut{{Value: 1e8, PkScript: foreignScript("x")}}, 253)
	require.ErrorIs(t, err, ErrInsufficientFunds)
	e.chain.MineBlocks(1)
	c, u = e.balance()
	require.Equal(t, subsidy, c)
	require.Zero(t, u)
	tx, err := e.w.FundTransaction([]*wire.TxOut{{Value: 1e8, PkScript: foreignScript("x")}}, 253)
	require.NoError(t, err)
	require.NoError(t, e.chain.SubmitTransaction(tx), "the chain agrees it is mature")
}

// p2wshTrue is testchain's default coinbase script.
func p2wshTrue() []byte {
	h := sha256.Sum256([]byte{txscript.OP_TRUE})
	return append([]byte{txscript.OP_0, txscript.OP_DATA_32}, h[:]...)
}

func TestReorg(t *testing.T) {
	e := newEnv(t)
	op := e.receive(4e6)
	before := e.w.BestBlock()
	c, _ := e.balance()
	require.Equal(t, int64(4e6), c)

	// Disconnecting the block makes the receipt unconfirmed (the transaction is back in the mempool).
	e.chain.DisconnectTip()
	require.NoError(t, e.w.Err())
	require.Equal(t, e.chain.BestBlock(), e.w.BestBlock())
	c, u := e.balance()
	require.Zero(t, c)
	require.Equal(t, int64(4e6), u)
	_, err := e.w.FundTransaction([]*wire.TxOut{{Value: 1e6, PkScript: foreignScript("x")}}, 253)
	require.ErrorIs(t, err, ErrInsufficientFunds)

	// A new block confirms it again (on a different block).
	e.chain.MineBlocks(1)
	require.NotEqual(t, before.Hash, e.w.BestBlock().Hash)
	c, u = e.balance()
	require.Equal(t, int64(4e6), c)
	require.Zero(t, u)

	// Our confirmed spend, reorganised out, is unconfirmed again and offered for rebroadcast.
	tx, err := e.w.FundTransaction([]*wire.TxOut{{Value: 1e6, PkScript: foreignScript("x")}}, 253)
	require.NoError(t, err)
	require.Equal(t, op, tx.TxIn[0].PreviousOutPoint)
	require.NoError(t, e.chain.SubmitTransaction(tx))
	require.NoError(t, e.w.AddOwnTransaction(tx))
	e.chain.MineBlocks(1)
	require.Empty(t, e.w.UnconfirmedTransactions())
	change := tx.TxOut[1].Value
	c, u = e.balance()
	require.Equal(t, change, c)
	e.chain.DisconnectTip()
	c, u = e.balance()
	require.Zero(t, c)
	require.Equal(t, change, u)
	un := e.w.UnconfirmedTransactions()
	require.Len(t, un, 1)
	require.Equal(t, tx.TxHash(), un[0].TxHash())

	// A coinbase output disappears with its block.
	e.chain.MineBlocks(1)
	cbOut := e.chain.FundAddress(e.newScript(), 7e6)
	_, u = e.balance()
	require.Equal(t, int64(7e6), u, "FundAddress pays in a coinbase: immature for the wallet")
	require.Len(t, e.w.ListUnspent(), 2)
	e.chain.DisconnectTip()
	c, u = e.balance()
	require.Equal(t, change, c)
	require.Zero(t, u)
	for _, x := range e.w.ListUnspent() {
		require.NotEqual(t, cbOut, x.OutPoint)
	}

	// A block out of order is refused.
	blk := e.chain.MineBlocks(1)[0]
	e.w.BlockConnected(blk, e.chain.Height())
	require.ErrorIs(t, e.w.Err(), ErrBlockOutOfOrder)
	e.w.BlockDisconnected(&blk.Header, e.chain.Height()+1)
	require.ErrorIs(t, e.w.Err(), ErrBlockOutOfOrder)
	require.Equal(t, e.chain.BestBlock(), e.w.BestBlock())
}

func TestDoubleSpendDropsUnconfirmed(t *testing.T) {
	e := newEnv(t)
	op := e.receive(5e6)
	tx1, err := e.w.FundTransaction([]*wire.TxOut{{Value: 1e6, PkScript: foreignScript("x")}}, 253)
	require.NoError(t, err)
	require.NoError(t, e.w.AddOwnTransaction(tx1)) // never reaches the chain
	_, u := e.balance()
	require.Equal(t, tx1.TxOut[1].Value, u)

	// Another transaction spending the same coin confirms (signed with the wallet's key).
	c := e.w.coins[op]
	key, err := e.w.signer.(*SeedSigner).privKey(e.w.net, c.Path)
	require.NoError(t, err)
	tx2 := wire.NewMsgTx(2)
	tx2.AddTxIn(&wire.TxIn{PreviousOutPoint: op, Sequence: wire.MaxTxInSequenceNum})
	tx2.AddTxOut(&wire.TxOut{Value: 49e5, PkScript: foreignScript("thief")})
	prev := txscript.NewCannedPrevOutputFetcher(c.PkScript, c.ValueSat)
	wit, err := txscript.WitnessSignature(tx2, txscript.NewTxSigHashes(tx2, prev), 0, c.ValueSat, c.PkScript,
		txscript.SigHashAll, key, true)
	require.NoError(t, err)
	tx2.TxIn[0].Witness = wit
	_, err = e.chain.MineBlockWith(tx2)
	require.NoError(t, err)

	cb, u := e.balance()
	require.Zero(t, cb)
	require.Zero(t, u, "tx1's change is gone with tx1")
	require.Empty(t, e.w.UnconfirmedTransactions())
	require.Empty(t, e.w.ListUnspent())
	// Re-adding the conflicting transaction is refused.
	require.ErrorIs(t, e.w.AddOwnTransaction(tx1), ErrConflict)
}

func TestAddOwnTransactionIgnoresForeign(t *testing.T) {
	e := newEnv(t)
	tx := e.pay(foreignScript("y"), 1e6)
	require.NoError(t, e.w.AddOwnTransaction(tx))
	require.Empty(t, e.w.UnconfirmedTransactions())
	require.Empty(t, e.w.txs)
}

func TestReopen(t *testing.T) {
	e := newEnv(t)
	e.receive(3e6)
	e.receive(2e6)
	tx, err := e.w.FundTransaction([]*wire.TxOut{{Value: 1e6, PkScript: foreignScript("x")}}, 253)
	require.NoError(t, err)
	locked := tx.TxIn[0].PreviousOutPoint
	addr1, err := e.w.NewAddress()
	require.NoError(t, err)
	c0, u0 := e.balance()
	best := e.w.BestBlock()
	require.NoError(t, e.w.Close())
	_, err = e.w.NewAddress()
	require.ErrorIs(t, err, ErrClosed)

	// Blocks mined while the wallet is closed: one pays the wallet's next (unissued) address.
	next, err := e.w.scriptAt(keyPath{Chain: ExternalChain, Index: 3})
	require.NoError(t, err)
	e.pay(next, 1e6)
	e.chain.MineBlocks(3)
	require.Equal(t, best, e.w.BestBlock(), "a closed wallet ignores blocks")

	w2, err := Open(e.dir, e.seed, &chaincfg.RegressionNetParams, BlockRef{Height: 999})
	require.NoError(t, err)
	require.Equal(t, best, w2.BestBlock(), "resumes at its saved best block, not the birthday given")
	c, u := w2.Balance()
	require.Equal(t, amt(c0), c)
	require.Equal(t, amt(u0), u)
	// The locked coin stays locked: a second funding uses the other coin.
	tx2, err := w2.FundTransaction([]*wire.TxOut{{Value: 1e6, PkScript: foreignScript("x")}}, 253)
	require.NoError(t, err)
	require.NotEqual(t, locked, tx2.TxIn[0].PreviousOutPoint)
	require.NoError(t, w2.UnlockInputs(tx2))
	// Catch up, as the chain follower would.
	for h := best.Height + 1; h <= e.chain.Height(); h++ {
		blk, ok := e.chain.BlockAt(h)
		require.True(t, ok)
		w2.BlockConnected(blk, h)
		require.NoError(t, w2.Err())
	}
	c, _ = w2.Balance()
	require.Equal(t, amt(c0+1e6), c)
	// Addresses continue: never re-issued.
	addr2, err := w2.NewAddress()
	require.NoError(t, err)
	require.NotEqual(t, addr1.String(), addr2.String())
	s2, _ := txscript.PayToAddrScript(addr2)
	idx := w2.scripts[string(s2)]
	require.Equal(t, keyPath{Chain: ExternalChain, Index: 4}, idx)
	require.NoError(t, w2.Close())

	// The same file refuses another seed or network.
	_, err = Open(e.dir, testSeed("other"), &chaincfg.RegressionNetParams, BlockRef{})
	require.ErrorIs(t, err, ErrWrongWallet)
	_, err = Open(e.dir, e.seed, &chaincfg.TestNet3Params, BlockRef{})
	require.ErrorIs(t, err, ErrWrongWallet)
	_, err = Open(e.dir, []byte("short"), &chaincfg.RegressionNetParams, BlockRef{})
	require.ErrorIs(t, err, ErrInvalidSeed)

	// A damaged file is reported, not half loaded.
	path := filepath.Join(e.dir, StateFileName)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data[:len(data)/2], 0o600))
	_, err = Open(e.dir, e.seed, &chaincfg.RegressionNetParams, BlockRef{})
	require.ErrorIs(t, err, ErrCorruptState)
}

// TestStateRoundTrip checks that saving and loading keeps every part of the state.
func TestStateRoundTrip(t *testing.T) {
	e := newEnv(t)
	e.receive(3e6)
	tx, err := e.w.FundTransaction([]*wire.TxOut{{Value: 1e6, PkScript: foreignScript("x")}}, 253)
	require.NoError(t, err)
	require.NoError(t, e.w.AddOwnTransaction(tx))
	_, err = e.w.FundTransaction([]*wire.TxOut{{Value: 1e5, PkScript: foreignScript("x")}}, 253)
	require.ErrorIs(t, err, ErrInsufficientFunds)
	e.receive(1e6)
	_, err = e.w.FundTransaction([]*wire.TxOut{{Value: 1e5, PkScript: foreignScript("x")}}, 253)
	require.NoError(t, err)
	e.w.mu.Lock()
	a, err := e.w.encode()
	e.w.mu.Unlock()
	require.NoError(t, err)
	require.NoError(t, e.w.Close())
	w2, err := Open(e.dir, e.seed, &chaincfg.RegressionNetParams, BlockRef{})
	require.NoError(t, err)
	b, err := w2.encode()
	require.NoError(t, err)
	require.Equal(t, string(a), string(b))
	require.Equal(t, len(e.w.spends), len(w2.spends))
	require.Equal(t, len(e.w.scripts), len(w2.scripts))
}

func TestSweepSpendableOutputs(t *testing.T) {
	e := newEnv(t)
	var kmSeed [32]byte
	copy(kmSeed[:], e.seed) // the same seed as the wallet: keys must not collide
	km := keys.NewKeysManager(kmSeed, 1, 2)
	dest, err := km.GetDestinationScript([32]byte{})
	require.NoError(t, err)
	shut, err := km.GetShutdownScriptPubKey()
	require.NoError(t, err)
	require.False(t, e.w.IsMine(dest))
	require.False(t, e.w.IsMine(shut))

	t1 := e.pay(dest, 2e6)
	t2 := e.pay(shut, 1e6)
	e.chain.MineBlocks(1)
	descs := []events.SpendableOutputDescriptor{
		{Kind: events.StaticOutput, OutPoint: wire.OutPoint{Hash: t1.TxHash()}, Output: *t1.TxOut[0]},
		{Kind: events.StaticOutput, OutPoint: wire.OutPoint{Hash: t2.TxHash()}, Output: *t2.TxOut[0]},
	}
	sweep, err := e.w.SweepSpendableOutputs(descs, 1000, km)
	require.NoError(t, err)
	require.Len(t, sweep.TxOut, 1)
	require.True(t, e.w.IsMine(sweep.TxOut[0].PkScript))
	require.NoError(t, e.chain.SubmitTransaction(sweep))
	fee := int64(3e6) - sweep.TxOut[0].Value
	require.GreaterOrEqual(t, fee, txWeight(sweep), "1000 sat/kw is 1 sat per weight unit")
	c, u := e.balance()
	require.Zero(t, c)
	require.Equal(t, sweep.TxOut[0].Value, u)
	require.Len(t, e.w.UnconfirmedTransactions(), 1)

	_, err = e.w.SweepSpendableOutputs(descs, 1000, km)
	require.ErrorIs(t, err, ErrNothingToSweep)

	e.chain.MineBlocks(1)
	c, u = e.balance()
	require.Equal(t, sweep.TxOut[0].Value, c)
	require.Zero(t, u)

	// An output the KeysManager cannot sign.
	t3 := e.pay(foreignScript("z"), 1e6)
	e.chain.MineBlocks(1)
	_, err = e.w.SweepSpendableOutputs([]events.SpendableOutputDescriptor{
		{Kind: events.StaticOutput, OutPoint: wire.OutPoint{Hash: t3.TxHash()}, Output: *t3.TxOut[0]}}, 253, km)
	require.ErrorIs(t, err, keys.ErrCannotSpend)
	// Too small to leave anything after the fee.
	t4 := e.pay(dest, 400)
	e.chain.MineBlocks(1)
	_, err = e.w.SweepSpendableOutputs([]events.SpendableOutputDescriptor{
		{Kind: events.StaticOutput, OutPoint: wire.OutPoint{Hash: t4.TxHash()}, Output: *t4.TxOut[0]}}, 253, km)
	require.ErrorIs(t, err, ErrNothingToSweep)
}

// TestPrune checks that records of transactions confirmed PruneDepth blocks deep are dropped, with the
// coins they spent, while unspent coins stay.
func TestPrune(t *testing.T) {
	e := newEnv(t)
	e.receive(3e6)
	tx, err := e.w.FundTransaction([]*wire.TxOut{{Value: 1e6, PkScript: foreignScript("x")}}, 253)
	require.NoError(t, err)
	require.NoError(t, e.chain.SubmitTransaction(tx))
	require.NoError(t, e.w.AddOwnTransaction(tx))
	e.chain.MineBlocks(1)
	require.Len(t, e.w.coins, 2)
	require.Len(t, e.w.txs, 2)
	e.chain.MineBlocks(PruneDepth)
	require.Len(t, e.w.coins, 1, "the spent coin is forgotten")
	require.Empty(t, e.w.txs)
	require.Empty(t, e.w.spends)
	c, _ := e.balance()
	require.Equal(t, tx.TxOut[1].Value, c)
}

// TestCrashReplay checks that a wallet that stops without Close resumes from its last save, which is
// consistent, and that replaying the blocks since gives the same wallet.
func TestCrashReplay(t *testing.T) {
	e := newEnv(t)
	e.receive(3e6)
	saved := e.w.BestBlock()
	e.chain.MineBlocks(SaveEveryBlocks / 2) // blocks that do not touch the wallet are not saved each time
	c0, _ := e.balance()

	w2, err := Open(e.dir, e.seed, &chaincfg.RegressionNetParams, BlockRef{})
	require.NoError(t, err)
	require.Equal(t, saved, w2.BestBlock())
	for h := saved.Height + 1; h <= e.chain.Height(); h++ {
		blk, _ := e.chain.BlockAt(h)
		w2.BlockConnected(blk, h)
	}
	require.NoError(t, w2.Err())
	require.Equal(t, e.chain.BestBlock(), w2.BestBlock())
	c, _ := w2.Balance()
	require.Equal(t, amt(c0), c)

	// After SaveEveryBlocks quiet blocks the best block is on disk.
	e.chain.MineBlocks(SaveEveryBlocks)
	w3, err := Open(e.dir, e.seed, &chaincfg.RegressionNetParams, BlockRef{})
	require.NoError(t, err)
	require.Greater(t, w3.BestBlock().Height, saved.Height+SaveEveryBlocks/2)
}

func TestBroadcasterRecords(t *testing.T) {
	e := newEnv(t)
	e.receive(2e6)
	tx, err := e.w.FundTransaction([]*wire.TxOut{{Value: 1e6, PkScript: foreignScript("x")}}, 253)
	require.NoError(t, err)
	foreign := e.pay(foreignScript("y"), 5e5)
	b := e.w.Broadcaster(e.chain)
	b.BroadcastTransactions(tx, foreign)
	require.Empty(t, e.chain.Rejected())
	require.True(t, e.chain.InMempool(tx.TxHash()))
	un := e.w.UnconfirmedTransactions()
	require.Len(t, un, 1, "only the wallet's own transaction is recorded")
	require.Equal(t, tx.TxHash(), un[0].TxHash())
	c, u := e.balance()
	require.Zero(t, c)
	require.Equal(t, tx.TxOut[1].Value, u)
}
