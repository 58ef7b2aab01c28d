package testchain

import (
	"testing"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

func TestWalletPkScriptAndBalance(t *testing.T) {
	c := regtest()
	key := testKey("wallet")
	w := NewWallet(c, key)
	require.Equal(t, p2wpkhOf(key.PubKey()), w.PkScript())
	require.Equal(t, txscript.WitnessV0PubKeyHashTy, txscript.GetScriptClass(w.PkScript()))
	require.True(t, w.PubKey().IsEqual(key.PubKey()))
	require.Zero(t, w.Balance())

	c.FundAddress(w.PkScript(), 70_000)
	c.FundAddress(w.PkScript(), 30_000)
	c.FundAddress(p2wpkhOf(testKey("other").PubKey()), 55_000)
	require.Equal(t, int64(100_000), w.Balance())
}

func TestWalletFundTransaction(t *testing.T) {
	c := regtest()
	w := NewWallet(c, testKey("wallet"))
	c.FundAddress(w.PkScript(), 70_000)
	c.FundAddress(w.PkScript(), 30_000)
	dest := &wire.TxOut{Value: 80_000, PkScript: p2wshScript([]byte{txscript.OP_TRUE})}
	const feerate = 2000

	tx, err := w.FundTransaction([]*wire.TxOut{dest}, feerate)
	require.NoError(t, err)
	require.Len(t, tx.TxIn, 2, "70k alone does not cover 80k")
	require.Len(t, tx.TxOut, 2)
	require.Equal(t, dest.Value, tx.TxOut[0].Value)
	require.Equal(t, dest.PkScript, tx.TxOut[0].PkScript)
	require.Equal(t, w.PkScript(), tx.TxOut[1].PkScript, "change last")
	fee, err := c.CheckTransaction(tx)
	require.NoError(t, err, "signed and valid")
	weight := blockchain.GetTransactionWeight(btcutil.NewTx(tx))
	require.GreaterOrEqual(t, fee, weight*feerate/1000, "pays at least the feerate")
	require.LessOrEqual(t, fee, (weight+8)*feerate/1000, "estimate is tight (at most 2 bytes of signature slack)")
	require.Equal(t, int64(100_000), fee+sumOut(tx))

	// The inputs are reserved: a second funding finds nothing left.
	_, err = w.FundTransaction([]*wire.TxOut{{Value: 1000, PkScript: dest.PkScript}}, feerate)
	require.ErrorIs(t, err, ErrInsufficientFunds)

	require.NoError(t, c.SubmitTransaction(tx))
	require.Zero(t, w.Balance(), "spent by the mempool; change unconfirmed")
	c.MineBlocks(1)
	require.Equal(t, tx.TxOut[1].Value, w.Balance(), "change confirmed")

	// Released inputs can be chosen again.
	tx2, err := w.FundTransaction([]*wire.TxOut{{Value: 1000, PkScript: dest.PkScript}}, feerate)
	require.NoError(t, err)
	w.UnlockInputs(tx2)
	w.UnlockInputs(nil)
	tx3, err := w.FundTransaction([]*wire.TxOut{{Value: 1000, PkScript: dest.PkScript}}, feerate)
	require.NoError(t, err)
	require.Equal(t, tx2.TxHash(), tx3.TxHash(), "deterministic")
}

func TestWalletChangeBelowDustGoesToFee(t *testing.T) {
	c := regtest()
	w := NewWallet(c, testKey("wallet"))
	c.FundAddress(w.PkScript(), 10_000)
	// One P2WPKH input and one P2WSH output at 1000 sat/kw cost well under 1000 sat, so paying
	// 9_500 leaves change below 294 once the change output's own fee is counted.
	dest := &wire.TxOut{Value: 9_500, PkScript: p2wshScript([]byte{txscript.OP_TRUE})}
	tx, err := w.FundTransaction([]*wire.TxOut{dest}, 1000)
	require.NoError(t, err)
	require.Len(t, tx.TxOut, 1, "no dust change")
	fee, err := c.CheckTransaction(tx)
	require.NoError(t, err)
	require.Equal(t, int64(500), fee)
	weight := blockchain.GetTransactionWeight(btcutil.NewTx(tx))
	require.GreaterOrEqual(t, fee, weight*1000/1000)
}

func TestWalletErrors(t *testing.T) {
	c := regtest()
	w := NewWallet(c, testKey("wallet"))
	_, err := w.FundTransaction(nil, 253)
	require.ErrorIs(t, err, ErrMalformed)
	_, err = w.FundTransaction([]*wire.TxOut{{Value: -1}}, 253)
	require.ErrorIs(t, err, ErrMalformed)
	_, err = w.FundTransaction([]*wire.TxOut{nil}, 253)
	require.ErrorIs(t, err, ErrMalformed)
	_, err = w.FundTransaction([]*wire.TxOut{{Value: btcutil.MaxSatoshi}, {Value: 1}}, 253)
	require.ErrorIs(t, err, ErrMalformed)
	_, err = w.FundTransaction([]*wire.TxOut{{Value: 1000, PkScript: w.PkScript()}}, 253)
	require.ErrorIs(t, err, ErrInsufficientFunds)
	c.FundAddress(w.PkScript(), 1000)
	_, err = w.FundTransaction([]*wire.TxOut{{Value: 1000, PkScript: w.PkScript()}}, 253)
	require.ErrorIs(t, err, ErrInsufficientFunds, "no room for the fee")
}
