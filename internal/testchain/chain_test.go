package testchain

import (
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/chaininterface"
)

var (
	_ chaininterface.BroadcasterInterface = (*Chain)(nil)
	_ chaininterface.FeeEstimator         = (*Chain)(nil)
)

func TestNewChainStartsAtGenesis(t *testing.T) {
	c := regtest()
	require.Equal(t, uint32(0), c.Height())
	require.Equal(t, chaininterface.BestBlock{Hash: *chaincfg.RegressionNetParams.GenesisHash, Height: 0}, c.BestBlock())
	require.Empty(t, c.Mempool())
	require.Equal(t, chaincfg.RegressionNetParams.GenesisBlock.Header.Timestamp.Unix(), c.MedianTimePast())
	// The genesis coinbase is known but unspendable.
	gcb := chaincfg.RegressionNetParams.GenesisBlock.Transactions[0].TxHash()
	_, h, ok := c.GetTransaction(gcb)
	require.True(t, ok)
	require.Equal(t, uint32(0), h)
	_, ok = c.UTXO(wire.OutPoint{Hash: gcb})
	require.False(t, ok)
	require.Same(t, &chaincfg.RegressionNetParams, New(nil).Params())
}

func TestSpendFundedP2WPKH(t *testing.T) {
	c := regtest()
	key, dest := testKey("alice"), testKey("bob")
	op := c.FundAddress(p2wpkhOf(key.PubKey()), 100_000)
	require.Equal(t, uint32(1), c.Height())
	require.Equal(t, uint32(1), c.Confirmations(op.Hash))
	out, ok := c.UTXO(op)
	require.True(t, ok)
	require.Equal(t, int64(100_000), out.Value)

	tx := newSpend([]wire.OutPoint{op}, wire.MaxTxInSequenceNum,
		&wire.TxOut{Value: 60_000, PkScript: p2wpkhOf(dest.PubKey())},
		&wire.TxOut{Value: 39_000, PkScript: p2wpkhOf(key.PubKey())})
	signP2WPKH(t, c, tx, 0, key)
	fee, err := c.CheckTransaction(tx)
	require.NoError(t, err)
	require.Equal(t, int64(1000), fee)
	require.False(t, c.InMempool(tx.TxHash()), "CheckTransaction must not add")

	require.NoError(t, c.SubmitTransaction(tx))
	txid := tx.TxHash()
	require.True(t, c.InMempool(txid))
	require.Equal(t, uint32(0), c.Confirmations(txid))
	by, ok := c.SpentBy(op)
	require.True(t, ok)
	require.Equal(t, txid, by)
	_, h, ok := c.GetTransaction(txid)
	require.True(t, ok)
	require.Equal(t, uint32(0), h)
	// Submitting it again is harmless.
	require.NoError(t, c.SubmitTransaction(tx))
	require.Len(t, c.Mempool(), 1)

	blocks := c.MineBlocks(2)
	require.Len(t, blocks, 2)
	require.Len(t, blocks[0].Transactions, 2)
	require.Equal(t, txid, blocks[0].Transactions[1].TxHash())
	require.Len(t, blocks[1].Transactions, 1)
	require.False(t, c.InMempool(txid))
	require.Equal(t, uint32(2), c.Confirmations(txid))
	_, h, ok = c.GetTransaction(txid)
	require.True(t, ok)
	require.Equal(t, uint32(2), h)
	_, ok = c.UTXO(op)
	require.False(t, ok, "spent output left the UTXO set")
	paid, ok := c.UTXO(wire.OutPoint{Hash: txid, Index: 0})
	require.True(t, ok)
	require.Equal(t, int64(60_000), paid.Value)
	by, ok = c.SpentBy(op)
	require.True(t, ok)
	require.Equal(t, txid, by)
	// The block's coinbase collected the fee.
	require.Equal(t, blockchain.CalcBlockSubsidy(2, &chaincfg.RegressionNetParams)+1000, blocks[0].Transactions[0].TxOut[0].Value)
	// Re-broadcasting a confirmed transaction is not a refusal.
	c.BroadcastTransactions(tx)
	require.Empty(t, c.Rejected())
}

func TestBadSignaturesRefused(t *testing.T) {
	c := regtest()
	key := testKey("alice")
	op := c.FundAddress(p2wpkhOf(key.PubKey()), 100_000)
	mk := func() *wire.MsgTx {
		return newSpend([]wire.OutPoint{op}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 90_000, PkScript: p2wpkhOf(key.PubKey())})
	}

	t.Run("flipped signature byte", func(t *testing.T) {
		tx := mk()
		signP2WPKH(t, c, tx, 0, key)
		tx.TxIn[0].Witness[0][10] ^= 0x01
		require.ErrorIs(t, c.SubmitTransaction(tx), ErrScriptFailed)
	})
	t.Run("wrong key", func(t *testing.T) {
		tx := mk()
		other := testKey("mallory")
		signP2WPKH(t, c, tx, 0, other) // pubkey hash does not match
		require.ErrorIs(t, c.SubmitTransaction(tx), ErrScriptFailed)
	})
	t.Run("signature over the wrong amount", func(t *testing.T) {
		// BIP 143 commits to the amount: proves the engine is given the real prevout value.
		tx := mk()
		prev := map[wire.OutPoint]*wire.TxOut{op: {Value: 100_001, PkScript: p2wpkhOf(key.PubKey())}}
		fetcher := txscript.NewMultiPrevOutFetcher(prev)
		wit, err := txscript.WitnessSignature(tx, txscript.NewTxSigHashes(tx, fetcher), 0, 100_001,
			p2wpkhOf(key.PubKey()), txscript.SigHashAll, key, true)
		require.NoError(t, err)
		tx.TxIn[0].Witness = wit
		require.ErrorIs(t, c.SubmitTransaction(tx), ErrScriptFailed)
	})
	t.Run("output changed after signing", func(t *testing.T) {
		tx := mk()
		signP2WPKH(t, c, tx, 0, key)
		tx.TxOut[0].Value--
		require.ErrorIs(t, c.SubmitTransaction(tx), ErrScriptFailed)
	})
	t.Run("high-S signature", func(t *testing.T) {
		tx := mk()
		signP2WPKH(t, c, tx, 0, key)
		tx.TxIn[0].Witness[0] = highS(t, tx.TxIn[0].Witness[0])
		require.ErrorIs(t, c.SubmitTransaction(tx), ErrScriptFailed)
	})
	t.Run("empty witness", func(t *testing.T) {
		tx := mk()
		require.ErrorIs(t, c.SubmitTransaction(tx), ErrScriptFailed)
	})
	require.Empty(t, c.Mempool())
	// The good one still goes through.
	tx := mk()
	signP2WPKH(t, c, tx, 0, key)
	require.NoError(t, c.SubmitTransaction(tx))
}

// highS rewrites a DER signature (with sighash byte) to use n - s.
func highS(t *testing.T, sigWithHashType []byte) []byte {
	t.Helper()
	der := sigWithHashType[:len(sigWithHashType)-1]
	rLen := int(der[3])
	r := der[4 : 4+rLen]
	s := der[4+rLen+2:]
	var sv btcec.ModNScalar
	sv.SetByteSlice(s)
	sv.Negate()
	full := sv.Bytes()
	sBytes := full[:]
	for len(sBytes) > 1 && sBytes[0] == 0 && sBytes[1]&0x80 == 0 {
		sBytes = sBytes[1:]
	}
	if sBytes[0]&0x80 != 0 {
		sBytes = append([]byte{0}, sBytes...)
	}
	out := []byte{0x30, 0, 0x02, byte(len(r))}
	out = append(out, r...)
	out = append(out, 0x02, byte(len(sBytes)))
	out = append(out, sBytes...)
	out[1] = byte(len(out) - 2)
	return append(out, sigWithHashType[len(sigWithHashType)-1])
}

func TestDoubleSpends(t *testing.T) {
	c := regtest()
	key := testKey("alice")
	op := c.FundAddress(p2wpkhOf(key.PubKey()), 100_000)
	spend := func(value int64) *wire.MsgTx {
		tx := newSpend([]wire.OutPoint{op}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: value, PkScript: p2wpkhOf(key.PubKey())})
		signP2WPKH(t, c, tx, 0, key)
		return tx
	}
	first, second := spend(90_000), spend(95_000) // second pays less fee: it may not replace the first
	require.NoError(t, c.SubmitTransaction(first))
	err := c.SubmitTransaction(second)
	require.ErrorIs(t, err, ErrDoubleSpend, "output spent twice in the mempool")
	require.ErrorIs(t, err, ErrReplacementRefused)

	c.MineBlocks(1)
	require.ErrorIs(t, c.SubmitTransaction(second), ErrDoubleSpend, "double spend of a confirmed spend")
	_, err = c.MineBlockWith(second)
	require.ErrorIs(t, err, ErrDoubleSpend)

	// Two transactions of one block spending the same output.
	op2 := c.FundAddress(p2wpkhOf(key.PubKey()), 50_000)
	a := newSpend([]wire.OutPoint{op2}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 40_000, PkScript: p2wpkhOf(key.PubKey())})
	b := newSpend([]wire.OutPoint{op2}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 30_000, PkScript: p2wpkhOf(key.PubKey())})
	signP2WPKH(t, c, a, 0, key)
	signP2WPKH(t, c, b, 0, key)
	h := c.Height()
	_, err = c.MineBlockWith(a, b)
	require.ErrorIs(t, err, ErrDoubleSpend)
	require.Equal(t, h, c.Height(), "refused block not mined")

	// The same outpoint twice in one transaction.
	dup := newSpend([]wire.OutPoint{op2, op2}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 40_000, PkScript: p2wpkhOf(key.PubKey())})
	require.ErrorIs(t, c.SubmitTransaction(dup), ErrMalformed)
}

func TestMissingInputAndValueOut(t *testing.T) {
	c := regtest()
	key := testKey("alice")
	op := c.FundAddress(p2wpkhOf(key.PubKey()), 100_000)

	missing := newSpend([]wire.OutPoint{{Hash: chainhash.Hash{1}, Index: 0}}, wire.MaxTxInSequenceNum,
		&wire.TxOut{Value: 1000, PkScript: p2wpkhOf(key.PubKey())})
	require.ErrorIs(t, c.SubmitTransaction(missing), ErrMissingInput)
	badIndex := newSpend([]wire.OutPoint{{Hash: op.Hash, Index: 7}}, wire.MaxTxInSequenceNum,
		&wire.TxOut{Value: 1000, PkScript: p2wpkhOf(key.PubKey())})
	require.ErrorIs(t, c.SubmitTransaction(badIndex), ErrMissingInput)

	tooMuch := newSpend([]wire.OutPoint{op}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 100_001, PkScript: p2wpkhOf(key.PubKey())})
	signP2WPKH(t, c, tooMuch, 0, key)
	require.ErrorIs(t, c.SubmitTransaction(tooMuch), ErrValueOut)

	exact := newSpend([]wire.OutPoint{op}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 100_000, PkScript: p2wpkhOf(key.PubKey())})
	signP2WPKH(t, c, exact, 0, key)
	_, err := c.CheckTransaction(exact)
	require.ErrorIs(t, err, ErrFeeTooLow, "zero fee is below the minimum relay feerate")
	c.SetMinRelayFeeratePerKw(0)
	fee, err := c.CheckTransaction(exact)
	require.NoError(t, err, "zero-fee transactions are accepted without a minimum relay feerate")
	require.Zero(t, fee)

	require.ErrorIs(t, c.SubmitTransaction(nil), ErrMalformed)
	_, err = c.CheckTransaction(&wire.MsgTx{Version: 2})
	require.ErrorIs(t, err, ErrMalformed)
}

func TestZeroFeeParentWithChild(t *testing.T) {
	c := regtest()
	key := testKey("alice")
	op := c.FundAddress(p2wpkhOf(key.PubKey()), 100_000)
	parent := newSpend([]wire.OutPoint{op}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 100_000, PkScript: p2wpkhOf(key.PubKey())})
	signP2WPKH(t, c, parent, 0, key)
	child := newSpend([]wire.OutPoint{{Hash: parent.TxHash()}}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 99_000, PkScript: p2wpkhOf(key.PubKey())})
	// Sign the child against the parent's output before the parent is known to the chain.
	prev := map[wire.OutPoint]*wire.TxOut{{Hash: parent.TxHash()}: parent.TxOut[0]}
	wit, err := txscript.WitnessSignature(child, txscript.NewTxSigHashes(child, txscript.NewMultiPrevOutFetcher(prev)),
		0, 100_000, parent.TxOut[0].PkScript, txscript.SigHashAll, key, true)
	require.NoError(t, err)
	child.TxIn[0].Witness = wit

	// Child first: BroadcastTransactions retries it after the parent.
	c.BroadcastTransactions(child, parent)
	require.Empty(t, c.Rejected())
	pool := c.Mempool()
	require.Len(t, pool, 2)
	require.Equal(t, parent.TxHash(), pool[0].TxHash(), "mempool keeps parents first")
	blk := c.MineBlocks(1)[0]
	require.Len(t, blk.Transactions, 3)
	require.Equal(t, parent.TxHash(), blk.Transactions[1].TxHash())
	require.Equal(t, child.TxHash(), blk.Transactions[2].TxHash())
	require.Equal(t, blockchain.CalcBlockSubsidy(2, &chaincfg.RegressionNetParams)+1000, blk.Transactions[0].TxOut[0].Value)
}

func TestBroadcastRecordsRefusals(t *testing.T) {
	c := regtest()
	key := testKey("alice")
	op := c.FundAddress(p2wpkhOf(key.PubKey()), 100_000)
	good := newSpend([]wire.OutPoint{op}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 90_000, PkScript: p2wpkhOf(key.PubKey())})
	signP2WPKH(t, c, good, 0, key)
	conflict := newSpend([]wire.OutPoint{op}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 95_000, PkScript: p2wpkhOf(key.PubKey())})
	signP2WPKH(t, c, conflict, 0, key) // pays less than good: no replacement
	orphan := newSpend([]wire.OutPoint{{Hash: chainhash.Hash{9}}}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 1000, PkScript: p2wpkhOf(key.PubKey())})

	c.BroadcastTransactions(good, conflict, orphan, nil)
	rej := c.Rejected()
	require.Len(t, rej, 2)
	require.Equal(t, conflict.TxHash(), rej[0].Txid)
	require.ErrorIs(t, rej[0].Err, ErrDoubleSpend)
	require.Equal(t, conflict.TxHash(), rej[0].Tx.TxHash())
	require.Equal(t, orphan.TxHash(), rej[1].Txid)
	require.ErrorIs(t, rej[1].Err, ErrMissingInput)
	require.True(t, c.InMempool(good.TxHash()))
	// SubmitTransaction does not record.
	require.Error(t, c.SubmitTransaction(conflict))
	require.Len(t, c.Rejected(), 2)
}

func TestCSVLockedP2WSH(t *testing.T) {
	c := regtest()
	key := testKey("delayed")
	witnessScript, err := txscript.NewScriptBuilder().AddInt64(144).AddOp(txscript.OP_CHECKSEQUENCEVERIFY).
		AddOp(txscript.OP_DROP).AddData(key.PubKey().SerializeCompressed()).AddOp(txscript.OP_CHECKSIG).Script()
	require.NoError(t, err)
	op := c.FundAddress(p2wshScript(witnessScript), 50_000)
	fundHeight := c.Height()

	spend := func(version int32, sequence uint32) *wire.MsgTx {
		tx := newSpend([]wire.OutPoint{op}, sequence, &wire.TxOut{Value: 49_000, PkScript: p2wpkhOf(key.PubKey())})
		tx.Version = version
		signP2WSH(t, c, tx, 0, key, witnessScript)
		return tx
	}

	// The output has 1 confirmation; a 144-block relative lock needs 144, i.e. the spend can go in
	// block fundHeight+144.
	good := spend(2, 144)
	c.MineBlocks(142)
	require.Equal(t, fundHeight+142, c.Height())
	require.ErrorIs(t, c.SubmitTransaction(good), ErrSequenceLockNotMet)
	_, err = c.MineBlockWith(good)
	require.ErrorIs(t, err, ErrSequenceLockNotMet)
	c.MineBlocks(1)
	require.Equal(t, uint32(144), c.Confirmations(op.Hash))

	// Once the lock is met, the script's own checks decide. nSequence below the script's 144:
	require.ErrorIs(t, c.SubmitTransaction(spend(2, 143)), ErrScriptFailed)
	// Version 1 disables BIP 68, so OP_CSV fails.
	require.ErrorIs(t, c.SubmitTransaction(spend(1, 144)), ErrScriptFailed)
	// Disable flag set: OP_CSV fails.
	require.ErrorIs(t, c.SubmitTransaction(spend(2, 144|1<<31)), ErrScriptFailed)
	require.NoError(t, c.SubmitTransaction(good))

	// A reorg that makes the lock unmet again drops it from the mempool.
	c.DisconnectTip()
	require.False(t, c.InMempool(good.TxHash()))
	c.MineBlocks(1)
	blk, err := c.MineBlockWith(good)
	require.NoError(t, err)
	require.Equal(t, good.TxHash(), blk.Transactions[1].TxHash())
}

func TestRelativeTimeLock(t *testing.T) {
	c := regtest()
	key := testKey("timelock")
	// 2 units of 512 s = 1024 s.
	seq := uint32(sequenceLockTypeFlag | 2)
	witnessScript, err := txscript.NewScriptBuilder().AddInt64(int64(seq)).AddOp(txscript.OP_CHECKSEQUENCEVERIFY).
		AddOp(txscript.OP_DROP).AddData(key.PubKey().SerializeCompressed()).AddOp(txscript.OP_CHECKSIG).Script()
	require.NoError(t, err)
	c.MineBlocks(20) // so that median time past moves with every block
	op := c.FundAddress(p2wshScript(witnessScript), 50_000)
	tx := newSpend([]wire.OutPoint{op}, seq, &wire.TxOut{Value: 49_000, PkScript: p2wpkhOf(key.PubKey())})
	signP2WSH(t, c, tx, 0, key, witnessScript)

	// Locked until the tip's median time past exceeds MTP(block before the coin) + 1024 - 1.
	base := mtpAt(t, c, c.Height()-1)
	for c.MedianTimePast() <= base+1024-1 {
		require.ErrorIs(t, c.SubmitTransaction(tx), ErrSequenceLockNotMet)
		c.MineBlocks(1)
	}
	require.NoError(t, c.SubmitTransaction(tx))
	// 600 s blocks: 1024 s needs two blocks of median time past beyond the base.
	require.Equal(t, base+1200, c.MedianTimePast())
}

func mtpAt(t *testing.T, c *Chain, height uint32) int64 {
	t.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.blocks[height].mtp
}

func TestCLTVLockedP2WSH(t *testing.T) {
	c := regtest()
	key := testKey("cltv")
	const lockHeight = 120
	witnessScript, err := txscript.NewScriptBuilder().AddInt64(lockHeight).AddOp(txscript.OP_CHECKLOCKTIMEVERIFY).
		AddOp(txscript.OP_DROP).AddData(key.PubKey().SerializeCompressed()).AddOp(txscript.OP_CHECKSIG).Script()
	require.NoError(t, err)
	op := c.FundAddress(p2wshScript(witnessScript), 50_000)

	spend := func(lockTime, sequence uint32) *wire.MsgTx {
		tx := newSpend([]wire.OutPoint{op}, sequence, &wire.TxOut{Value: 49_000, PkScript: p2wpkhOf(key.PubKey())})
		tx.LockTime = lockTime
		signP2WSH(t, c, tx, 0, key, witnessScript)
		return tx
	}
	good := spend(lockHeight, wire.MaxTxInSequenceNum-1)
	c.MineBlocks(lockHeight - 1 - int(c.Height())) // tip 119: next block 120 is not > 120
	require.Equal(t, uint32(lockHeight-1), c.Height())
	require.ErrorIs(t, c.SubmitTransaction(good), ErrLockTimeNotFinal)
	_, err = c.MineBlockWith(good)
	require.ErrorIs(t, err, ErrLockTimeNotFinal)
	c.MineBlocks(1)
	// Once the locktime is final, the script's own checks decide.
	// Locktime below the script's:
	require.ErrorIs(t, c.SubmitTransaction(spend(lockHeight-1, wire.MaxTxInSequenceNum-1)), ErrScriptFailed)
	// Final sequence disables nLockTime, so OP_CLTV fails.
	require.ErrorIs(t, c.SubmitTransaction(spend(lockHeight, wire.MaxTxInSequenceNum)), ErrScriptFailed)
	// A time-based locktime against a height-based operand fails.
	require.ErrorIs(t, c.SubmitTransaction(spend(lockTimeThreshold+1, wire.MaxTxInSequenceNum-1)), ErrScriptFailed)

	require.NoError(t, c.SubmitTransaction(good))
	// Disconnecting the block that made it final drops it from the mempool.
	c.DisconnectTip()
	require.Empty(t, c.Mempool())
}

func TestAbsoluteLockTimeFinality(t *testing.T) {
	c := regtest()
	key := testKey("alice")
	op := c.FundAddress(p2wpkhOf(key.PubKey()), 100_000)
	c.MineBlocks(9)
	require.Equal(t, uint32(10), c.Height())
	spend := func(lockTime, seq uint32) *wire.MsgTx {
		tx := newSpend([]wire.OutPoint{op}, seq, &wire.TxOut{Value: 90_000, PkScript: p2wpkhOf(key.PubKey())})
		tx.LockTime = lockTime
		signP2WPKH(t, c, tx, 0, key)
		return tx
	}
	nonFinal := wire.MaxTxInSequenceNum - 1
	_, err := c.CheckTransaction(spend(11, nonFinal))
	require.ErrorIs(t, err, ErrLockTimeNotFinal, "height lock equal to the next height")
	_, err = c.CheckTransaction(spend(10, nonFinal))
	require.NoError(t, err, "height lock below the next height")
	_, err = c.CheckTransaction(spend(1000, wire.MaxTxInSequenceNum))
	require.NoError(t, err, "all sequences final disable the lock")

	mtp := c.MedianTimePast()
	genesis := chaincfg.RegressionNetParams.GenesisBlock.Header.Timestamp.Unix()
	require.Equal(t, genesis+5*600, mtp, "median of 11 timestamps 600 s apart")
	_, err = c.CheckTransaction(spend(uint32(mtp), nonFinal))
	require.ErrorIs(t, err, ErrLockTimeNotFinal, "time lock equal to median time past")
	_, err = c.CheckTransaction(spend(uint32(mtp-1), nonFinal))
	require.NoError(t, err)
	tx := spend(uint32(mtp+600), nonFinal)
	require.ErrorIs(t, c.SubmitTransaction(tx), ErrLockTimeNotFinal)
	c.MineBlocks(1)
	require.ErrorIs(t, c.SubmitTransaction(tx), ErrLockTimeNotFinal)
	c.MineBlocks(1)
	require.NoError(t, c.SubmitTransaction(tx))
}

func TestCoinbaseMaturity(t *testing.T) {
	c := regtest()
	key := testKey("alice")
	blk := c.MineBlocks(1)[0]
	cbHeight := c.Height()
	cb := blk.Transactions[0]
	require.Equal(t, p2wshScript(DefaultCoinbaseWitnessScript), cb.TxOut[0].PkScript)
	op := wire.OutPoint{Hash: cb.TxHash(), Index: 0}
	tx := newSpend([]wire.OutPoint{op}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: cb.TxOut[0].Value - 1000, PkScript: p2wpkhOf(key.PubKey())})
	tx.TxIn[0].Witness = wire.TxWitness{DefaultCoinbaseWitnessScript}

	c.MineBlocks(98)
	require.Equal(t, cbHeight+98, c.Height())
	require.ErrorIs(t, c.SubmitTransaction(tx), ErrImmatureCoinbase, "99 confirmations at the spending height")
	_, err := c.MineBlockWith(tx)
	require.ErrorIs(t, err, ErrImmatureCoinbase)
	c.MineBlocks(1)
	require.NoError(t, c.SubmitTransaction(tx), "100 confirmations at the spending height")

	// Disconnecting makes it immature again: it leaves the mempool.
	c.DisconnectTip()
	require.False(t, c.InMempool(tx.TxHash()))

	// Coinbase to a wallet: not in its balance until mature.
	c2 := regtest()
	w := NewWallet(c2, key)
	c2.SetCoinbasePkScript(w.PkScript())
	c2.MineBlocks(1)
	require.Zero(t, w.Balance())
	c2.MineBlocks(99)
	require.Equal(t, blockchain.CalcBlockSubsidy(1, &chaincfg.RegressionNetParams), w.Balance())
}

func TestStandardnessAndDust(t *testing.T) {
	key := testKey("alice")
	multisig, _ := txscript.NewScriptBuilder().AddOp(txscript.OP_1).AddData(key.PubKey().SerializeCompressed()).
		AddOp(txscript.OP_1).AddOp(txscript.OP_CHECKMULTISIG).Script()
	opReturn, _ := txscript.NullDataScript([]byte("lnkit"))
	cases := []struct {
		name     string
		pkScript []byte
		dust     int64
	}{
		{"P2WPKH", p2wpkhOf(key.PubKey()), 294},
		{"P2WSH", p2wshScript([]byte{txscript.OP_TRUE}), 330},
		{"P2TR", p2trOf(key.PubKey()), 330},
		{"P2SH", p2shOf(multisig), 540},
		{"P2PKH", p2pkhOf(key.PubKey()), 546},
		{"OP_RETURN", opReturn, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			require.Equal(t, tc.dust, DustThresholdSat(&wire.TxOut{PkScript: tc.pkScript}))
			c := regtest()
			op := c.FundAddress(p2wpkhOf(key.PubKey()), 100_000)
			try := func(value int64) error {
				tx := newSpend([]wire.OutPoint{op}, wire.MaxTxInSequenceNum,
					&wire.TxOut{Value: value, PkScript: tc.pkScript},
					&wire.TxOut{Value: 50_000, PkScript: p2wpkhOf(key.PubKey())})
				signP2WPKH(t, c, tx, 0, key)
				_, err := c.CheckTransaction(tx)
				return err
			}
			require.NoError(t, try(tc.dust))
			if tc.dust > 0 {
				require.ErrorIs(t, try(tc.dust-1), ErrDust)
			}
		})
	}

	c := regtest()
	op := c.FundAddress(p2wpkhOf(key.PubKey()), 100_000)
	nonStd := func(mod func(tx *wire.MsgTx)) error {
		tx := newSpend([]wire.OutPoint{op}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 90_000, PkScript: p2wpkhOf(key.PubKey())})
		mod(tx)
		signP2WPKH(t, c, tx, 0, key)
		_, err := c.CheckTransaction(tx)
		return err
	}
	require.ErrorIs(t, nonStd(func(tx *wire.MsgTx) { tx.TxOut[0].PkScript = multisig }), ErrNonStandard, "bare multisig")
	require.ErrorIs(t, nonStd(func(tx *wire.MsgTx) { tx.TxOut[0].PkScript = []byte{txscript.OP_TRUE} }), ErrNonStandard)
	require.ErrorIs(t, nonStd(func(tx *wire.MsgTx) {
		tx.TxOut[0].PkScript = append([]byte(nil), key.PubKey().SerializeCompressed()...) // P2PK
		tx.TxOut[0].PkScript = append([]byte{txscript.OP_DATA_33}, append(tx.TxOut[0].PkScript, txscript.OP_CHECKSIG)...)
	}), ErrNonStandard, "P2PK")
	require.ErrorIs(t, nonStd(func(tx *wire.MsgTx) { tx.Version = 4 }), ErrNonStandard)
	require.ErrorIs(t, nonStd(func(tx *wire.MsgTx) { tx.Version = 0 }), ErrNonStandard)
	require.NoError(t, nonStd(func(tx *wire.MsgTx) { tx.Version = 3 }))
	require.ErrorIs(t, nonStd(func(tx *wire.MsgTx) { tx.TxIn[0].SignatureScript = []byte{txscript.OP_NOP} }), ErrNonStandard)
	require.ErrorIs(t, nonStd(func(tx *wire.MsgTx) {
		tx.TxOut[0].PkScript, _ = txscript.NullDataScript(make([]byte, 81))
		tx.TxOut[0].Value = 0
	}), ErrNonStandard, "OP_RETURN over 80 bytes")
	require.ErrorIs(t, nonStd(func(tx *wire.MsgTx) {
		tx.TxOut[0].PkScript = []byte{txscript.OP_RETURN}
		tx.TxOut[0].Value = 0
	}), ErrNonStandard, "stripped size under 65 bytes")
	// A signature script that is push-only but still wrong for a witness spend fails the script.
	require.ErrorIs(t, nonStd(func(tx *wire.MsgTx) { tx.TxIn[0].SignatureScript = []byte{txscript.OP_1} }), ErrScriptFailed)

	// Weight above 400000.
	tx := newSpend([]wire.OutPoint{op}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 90_000, PkScript: p2wpkhOf(key.PubKey())})
	signP2WPKH(t, c, tx, 0, key)
	tx.TxIn[0].Witness = append(tx.TxIn[0].Witness, make([]byte, MaxStandardTxWeight))
	require.Greater(t, blockchain.GetTransactionWeight(btcutil.NewTx(tx)), int64(MaxStandardTxWeight))
	_, err := c.CheckTransaction(tx)
	require.ErrorIs(t, err, ErrTxTooHeavy)

	// A coinbase is never accepted as a loose transaction.
	cb := c.MineBlocks(1)[0].Transactions[0]
	cb.TxIn[0].SignatureScript = append(cb.TxIn[0].SignatureScript, 0x01) // a new txid
	require.ErrorIs(t, c.SubmitTransaction(cb), ErrNonStandard)
}

func TestBlocksAreWellFormed(t *testing.T) {
	c := regtest()
	key := testKey("alice")
	op := c.FundAddress(p2wpkhOf(key.PubKey()), 100_000)
	tx := newSpend([]wire.OutPoint{op}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 90_000, PkScript: p2wpkhOf(key.PubKey())})
	signP2WPKH(t, c, tx, 0, key)
	require.NoError(t, c.SubmitTransaction(tx))
	c.MineBlocks(3)
	genesis := chaincfg.RegressionNetParams.GenesisBlock
	prev := genesis.BlockHash()
	seen := map[chainhash.Hash]bool{}
	for h := uint32(1); h <= c.Height(); h++ {
		blk, ok := c.BlockAt(h)
		require.True(t, ok)
		require.Equal(t, prev, blk.Header.PrevBlock)
		require.Equal(t, genesis.Header.Timestamp.Add(time.Duration(h)*600*time.Second), blk.Header.Timestamp)
		utxs := make([]*btcutil.Tx, len(blk.Transactions))
		for i, tx := range blk.Transactions {
			utxs[i] = btcutil.NewTx(tx)
		}
		require.Equal(t, blockchain.CalcMerkleRoot(utxs, false), blk.Header.MerkleRoot)
		ublk := btcutil.NewBlock(blk)
		require.NoError(t, blockchain.ValidateWitnessCommitment(ublk))
		_, found := blockchain.ExtractWitnessCommitment(utxs[0])
		require.True(t, found)
		require.True(t, blockchain.IsCoinBaseTx(blk.Transactions[0]))
		cbHeight, err := blockchain.ExtractCoinbaseHeight(utxs[0])
		require.NoError(t, err)
		require.Equal(t, int32(h), cbHeight)
		require.NoError(t, blockchain.CheckTransactionSanity(utxs[0]))
		require.False(t, seen[blk.Transactions[0].TxHash()], "unique coinbase")
		seen[blk.Transactions[0].TxHash()] = true
		prev = blk.BlockHash()
	}
	require.Equal(t, prev, c.BestBlock().Hash)
	_, ok := c.BlockAt(c.Height() + 1)
	require.False(t, ok)
	// The funding block pays the extra output, the mined block the fee.
	b1, _ := c.BlockAt(1)
	require.Equal(t, int64(100_000), b1.Transactions[0].TxOut[1].Value)
	b2, _ := c.BlockAt(2)
	require.Equal(t, blockchain.CalcBlockSubsidy(2, &chaincfg.RegressionNetParams)+10_000, b2.Transactions[0].TxOut[0].Value)
	require.Nil(t, c.MineBlocks(0))
	require.Equal(t, uint32(4), c.Height())
	require.Equal(t, wire.OutPoint{}, c.FundAddress(p2wpkhOf(key.PubKey()), 0))
	require.Equal(t, uint32(4), c.Height())
}

func TestMineBlockWithOnlyThose(t *testing.T) {
	c := regtest()
	key := testKey("alice")
	op1 := c.FundAddress(p2wpkhOf(key.PubKey()), 100_000)
	op2 := c.FundAddress(p2wpkhOf(key.PubKey()), 100_000)
	inPool := newSpend([]wire.OutPoint{op1}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 90_000, PkScript: p2wpkhOf(key.PubKey())})
	signP2WPKH(t, c, inPool, 0, key)
	require.NoError(t, c.SubmitTransaction(inPool))
	conflict := newSpend([]wire.OutPoint{op1}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 80_000, PkScript: p2wpkhOf(key.PubKey())})
	signP2WPKH(t, c, conflict, 0, key)
	other := newSpend([]wire.OutPoint{op2}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 90_000, PkScript: p2wpkhOf(key.PubKey())})
	signP2WPKH(t, c, other, 0, key)
	require.NoError(t, c.SubmitTransaction(other))

	// A child of a mempool transaction cannot be mined without its parent.
	child := newSpend([]wire.OutPoint{{Hash: other.TxHash()}}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 80_000, PkScript: p2wpkhOf(key.PubKey())})
	signP2WPKH(t, c, child, 0, key)
	_, err := c.MineBlockWith(child)
	require.ErrorIs(t, err, ErrMissingInput)
	blk, err := c.MineBlockWith(other, child)
	require.NoError(t, err)
	require.Len(t, blk.Transactions, 3)

	// Mining the conflicting spend evicts the mempool one.
	blk, err = c.MineBlockWith(conflict)
	require.NoError(t, err)
	require.Len(t, blk.Transactions, 2)
	require.Empty(t, c.Mempool())
	require.Equal(t, uint32(1), c.Confirmations(conflict.TxHash()))
	require.Equal(t, uint32(0), c.Confirmations(inPool.TxHash()))
	_, err = c.MineBlockWith(nil)
	require.ErrorIs(t, err, ErrMalformed)
	blk, err = c.MineBlockWith()
	require.NoError(t, err)
	require.Len(t, blk.Transactions, 1)
}

func TestReorgReturnsTransactions(t *testing.T) {
	c := regtest()
	rec := &recorder{}
	c.RegisterListener(rec)
	key := testKey("alice")
	op := c.FundAddress(p2wpkhOf(key.PubKey()), 100_000)
	tx := newSpend([]wire.OutPoint{op}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 90_000, PkScript: p2wpkhOf(key.PubKey())})
	signP2WPKH(t, c, tx, 0, key)
	require.NoError(t, c.SubmitTransaction(tx))
	mined := c.MineBlocks(1)[0]
	require.Equal(t, uint32(1), c.Confirmations(tx.TxHash()))
	_, ok := c.UTXO(op)
	require.False(t, ok)

	c.DisconnectTip()
	require.Equal(t, uint32(1), c.Height())
	require.True(t, c.InMempool(tx.TxHash()), "transaction back in the mempool")
	require.Equal(t, uint32(0), c.Confirmations(tx.TxHash()))
	_, ok = c.UTXO(op)
	require.True(t, ok, "spent output restored")
	_, ok = c.UTXO(wire.OutPoint{Hash: tx.TxHash()})
	require.False(t, ok, "its outputs removed")
	by, ok := c.SpentBy(op)
	require.True(t, ok)
	require.Equal(t, tx.TxHash(), by, "now spent by the mempool")
	_, _, ok = c.GetTransaction(mined.Transactions[0].TxHash())
	require.False(t, ok, "coinbase of the removed block is gone")

	ev := rec.snapshot()
	require.Len(t, ev, 3)
	last := ev[2]
	require.False(t, last.connected)
	require.Equal(t, uint32(2), last.height)
	require.Equal(t, mined.BlockHash(), last.hash)

	again := c.MineBlocks(1)[0]
	require.NotEqual(t, mined.BlockHash(), again.BlockHash(), "a new block, not the old one")
	require.Equal(t, tx.TxHash(), again.Transactions[1].TxHash())

	// A parent and child confirmed in one block both return, parent first, and the parent's output
	// spent inside the block is not left in the UTXO set.
	child := newSpend([]wire.OutPoint{{Hash: tx.TxHash()}}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 80_000, PkScript: p2wpkhOf(key.PubKey())})
	signP2WPKH(t, c, child, 0, key)
	c.DisconnectTip()
	_, err := c.MineBlockWith(tx, child)
	require.NoError(t, err)
	c.DisconnectTip()
	_, ok = c.UTXO(wire.OutPoint{Hash: tx.TxHash()})
	require.False(t, ok)
	_, ok = c.SpentBy(wire.OutPoint{Hash: tx.TxHash()})
	require.True(t, ok, "spent by the child in the mempool")
	pool := c.Mempool()
	require.Len(t, pool, 2)
	require.Equal(t, tx.TxHash(), pool[0].TxHash())
	require.Equal(t, child.TxHash(), pool[1].TxHash())
	c.MineBlocks(1)

	// Disconnecting the funding block removes the funded output; its spenders are dropped.
	c.DisconnectTip()
	c.DisconnectTip()
	require.Equal(t, uint32(0), c.Height())
	require.Empty(t, c.Mempool())
	_, ok = c.UTXO(wire.OutPoint{Hash: child.TxHash()})
	require.False(t, ok)
	_, ok = c.UTXO(op)
	require.False(t, ok)
	c.DisconnectTip() // genesis stays
	require.Equal(t, uint32(0), c.Height())
	heights := []uint32{}
	for _, e := range rec.snapshot() {
		heights = append(heights, e.height)
	}
	require.Equal(t, []uint32{1, 2, 2, 2, 2, 2, 2, 2, 2, 1}, heights)
}

func TestListenersSeeEveryBlockInOrder(t *testing.T) {
	c := regtest()
	a, b := &recorder{}, &recorder{}
	c.RegisterListener(a)
	c.RegisterListener(b)
	c.RegisterListener(nil)
	c.MineBlocks(3)
	c.FundAddress(p2wpkhOf(testKey("x").PubKey()), 1000)
	_, err := c.MineBlockWith()
	require.NoError(t, err)

	// Concurrent miners: every block is delivered once, in chain order.
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 10; i++ {
				c.MineBlocks(2)
			}
		}()
	}
	wg.Wait()
	require.Equal(t, uint32(85), c.Height())
	for _, r := range []*recorder{a, b} {
		ev := r.snapshot()
		require.Len(t, ev, 85)
		prev := *chaincfg.RegressionNetParams.GenesisHash
		for i, e := range ev {
			require.True(t, e.connected)
			require.Equal(t, uint32(i+1), e.height)
			require.Equal(t, prev, e.prev, "block %d links to the one delivered before", i+1)
			prev = e.hash
		}
		require.Equal(t, c.BestBlock().Hash, prev)
	}
}

func TestListenerMayCallBack(t *testing.T) {
	c := regtest()
	key := testKey("alice")
	op := c.FundAddress(p2wpkhOf(key.PubKey()), 100_000)
	tx := newSpend([]wire.OutPoint{op}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 90_000, PkScript: p2wpkhOf(key.PubKey())})
	signP2WPKH(t, c, tx, 0, key)

	rec := &recorder{}
	rec.onConn = func(height uint32) {
		switch height {
		case 2:
			c.BroadcastTransactions(tx) // as a ChannelManager reacting to a block would
		case 3:
			c.MineBlocks(1) // nested mining is queued, not deadlocked
		}
	}
	c.RegisterListener(rec)
	c.MineBlocks(2)
	require.Equal(t, uint32(4), c.Height())
	ev := rec.snapshot()
	require.Len(t, ev, 3)
	require.Equal(t, []uint32{2, 3, 4}, []uint32{ev[0].height, ev[1].height, ev[2].height})
	require.Contains(t, ev[2].txids, tx.TxHash(), "broadcast from the listener mined in the next block")
	require.Empty(t, c.Rejected())
}

func TestListenerPanicDoesNotWedgeDelivery(t *testing.T) {
	c := regtest()
	rec := &recorder{}
	boom := true
	rec.onConn = func(uint32) {
		if boom {
			boom = false
			panic("listener bug")
		}
	}
	c.RegisterListener(rec)
	require.Panics(t, func() { c.MineBlocks(1) })
	c.MineBlocks(1)
	require.Len(t, rec.snapshot(), 2)
}

func TestFeeEstimator(t *testing.T) {
	c := regtest()
	for tgt := chaininterface.MaximumFeeEstimate; tgt <= chaininterface.OutputSpendingFee; tgt++ {
		require.Equal(t, chaininterface.FeeratePerKwFloor, c.EstimateFeeratePerKw(tgt), tgt.String())
	}
	c.SetFeeratePerKw(chaininterface.UrgentOnChainSweep, 5000)
	c.SetDefaultFeeratePerKw(1000)
	require.Equal(t, uint32(5000), c.EstimateFeeratePerKw(chaininterface.UrgentOnChainSweep))
	require.Equal(t, uint32(1000), c.EstimateFeeratePerKw(chaininterface.AnchorChannelFee))
	c.SetFeeratePerKw(chaininterface.AnchorChannelFee, 100)
	require.Equal(t, uint32(100), c.EstimateFeeratePerKw(chaininterface.AnchorChannelFee))
	require.Equal(t, chaininterface.FeeratePerKwFloor, chaininterface.ClampFeerate(c, chaininterface.AnchorChannelFee))
}

func TestConnectBlockRefusals(t *testing.T) {
	src := regtest()
	key := testKey("alice")
	src.MineBlocks(101)
	good, _ := src.BlockAt(1)

	c := regtest()
	mutate := func(f func(b *wire.MsgBlock)) error {
		b := copyBlock(good)
		f(b)
		return c.ConnectBlock(b)
	}
	require.ErrorIs(t, c.ConnectBlock(nil), ErrBadBlock)
	require.ErrorIs(t, mutate(func(b *wire.MsgBlock) { b.Header.PrevBlock = chainhash.Hash{1} }), ErrBadBlock)
	require.ErrorIs(t, mutate(func(b *wire.MsgBlock) { b.Header.MerkleRoot = chainhash.Hash{1} }), ErrBadBlock)
	require.ErrorIs(t, mutate(func(b *wire.MsgBlock) { b.Transactions[0].TxIn[0].Witness[0][0] = 1 }), ErrBadBlock, "witness commitment")
	require.ErrorIs(t, mutate(func(b *wire.MsgBlock) {
		b.Header.Timestamp = chaincfg.RegressionNetParams.GenesisBlock.Header.Timestamp
	}), ErrBadBlock)
	require.ErrorIs(t, mutate(func(b *wire.MsgBlock) {
		b.Transactions[0].TxOut[0].Value++
		recomputeMerkle(b)
	}), ErrBadBlock, "coinbase pays more than the subsidy")
	require.ErrorIs(t, mutate(func(b *wire.MsgBlock) {
		b.Transactions = append(b.Transactions, b.Transactions[0].Copy())
		recomputeMerkle(b)
	}), ErrBadBlock, "second coinbase")
	require.ErrorIs(t, mutate(func(b *wire.MsgBlock) {
		b.Transactions[0].TxIn[0].PreviousOutPoint.Index = 0
		recomputeMerkle(b)
	}), ErrBadBlock, "no coinbase")
	require.Equal(t, uint32(0), c.Height())
	require.NoError(t, c.ConnectBlock(good))
	require.ErrorIs(t, c.ConnectBlock(good), ErrBadBlock, "not on the tip any more")

	// FundAddress blocks pay more than the subsidy: other chains refuse them.
	other := regtest()
	other.FundAddress(p2wpkhOf(key.PubKey()), 100_000)
	funded, _ := other.BlockAt(1)
	require.ErrorIs(t, regtest().ConnectBlock(funded), ErrBadBlock)

	for h := uint32(2); h <= src.Height(); h++ {
		b, _ := src.BlockAt(h)
		require.NoError(t, c.ConnectBlock(b))
	}
	require.Equal(t, src.BestBlock(), c.BestBlock())

	// A block with an invalid transaction: block 1's coinbase spent with the wrong witness script.
	cb := good.Transactions[0]
	spend := newSpend([]wire.OutPoint{{Hash: cb.TxHash(), Index: 0}}, wire.MaxTxInSequenceNum,
		&wire.TxOut{Value: cb.TxOut[0].Value - 1000, PkScript: p2wpkhOf(key.PubKey())})
	spend.TxIn[0].Witness = wire.TxWitness{{txscript.OP_2}}
	err := c.ConnectBlock(src.buildBlockForTest(spend))
	require.ErrorIs(t, err, ErrBadBlock)
	require.ErrorIs(t, err, ErrScriptFailed, "witness script does not match the P2WSH hash")
	orphan := newSpend([]wire.OutPoint{{Hash: chainhash.Hash{7}}}, wire.MaxTxInSequenceNum, &wire.TxOut{Value: 1, PkScript: []byte{txscript.OP_TRUE}})
	err = c.ConnectBlock(src.buildBlockForTest(orphan))
	require.ErrorIs(t, err, ErrBadBlock)
	require.ErrorIs(t, err, ErrMissingInput)
	spend.TxIn[0].Witness = wire.TxWitness{DefaultCoinbaseWitnessScript}
	require.NoError(t, c.ConnectBlock(src.buildBlockForTest(spend)))
	require.Equal(t, uint32(1), c.Confirmations(spend.TxHash()))
}

// buildBlockForTest builds, without connecting, the next block of c holding txs (unchecked).
func (c *Chain) buildBlockForTest(txs ...*wire.MsgTx) *wire.MsgBlock {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.buildBlock(txs, 0, nil)
}

func recomputeMerkle(b *wire.MsgBlock) {
	utxs := make([]*btcutil.Tx, len(b.Transactions))
	for i, tx := range b.Transactions {
		utxs[i] = btcutil.NewTx(tx)
	}
	b.Header.MerkleRoot = blockchain.CalcMerkleRoot(utxs, false)
}

func TestConcurrentUse(t *testing.T) {
	c := regtest()
	key := testKey("alice")
	w := NewWallet(c, key)
	for i := 0; i < 8; i++ {
		c.FundAddress(w.PkScript(), 100_000)
	}
	rec := &recorder{}
	c.RegisterListener(rec)
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 2; i++ {
				tx, err := w.FundTransaction([]*wire.TxOut{{Value: 10_000, PkScript: p2wpkhOf(testKey("bob").PubKey())}}, 253)
				if err != nil {
					errs <- err
					return
				}
				c.BroadcastTransactions(tx)
				c.MineBlocks(1)
				_ = c.Mempool()
				_ = c.Height()
				_ = w.Balance()
				_ = c.EstimateFeeratePerKw(chaininterface.AnchorChannelFee)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Empty(t, c.Rejected())
	require.Len(t, rec.snapshot(), 8)
}
