package btcdchain

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcjson"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

// TestClassifySendError maps btcd's sendrawtransaction refusals (messages as btcd's mempool words them)
// to the package's sentinels.
func TestClassifySendError(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want error
	}{
		{&btcjson.RPCError{Code: btcjson.ErrRPCTxRejected, Message: "TX rejected: already have transaction 1234"}, ErrAlreadyKnown},
		{&btcjson.RPCError{Code: btcjson.ErrRPCTxAlreadyInChain, Message: "TX rejected: transaction already exists"}, ErrAlreadyKnown},
		{&btcjson.RPCError{Code: btcjson.ErrRPCTxRejected, Message: "TX rejected: output 12:0 already spent by transaction 34 in the memory pool"}, ErrConflict},
		{&btcjson.RPCError{Code: btcjson.ErrRPCTxRejected, Message: "TX rejected: 57b8: replacement transaction has an insufficient absolute fee: needs 284, has 144"}, ErrConflict},
		{&btcjson.RPCError{Code: btcjson.ErrRPCTxError, Message: "TX rejected: orphan transaction 12 references outputs of unknown or fully-spent transaction 34"}, ErrMissingInputs},
		{&btcjson.RPCError{Code: btcjson.ErrRPCTxRejected, Message: "TX rejected: transaction 12 has insufficient priority"}, ErrRejected},
		{&btcjson.RPCError{Code: btcjson.ErrRPCDeserialization, Message: "TX decode failed"}, ErrRejected},
	} {
		require.ErrorIs(t, classifySendError(tc.err), tc.want, tc.err.Error())
	}
	transport := errors.New("dial tcp: connection refused")
	require.Equal(t, transport, classifySendError(transport))
	require.NoError(t, classifySendError(nil))
}

func txWithInput(prev chainhash.Hash, tag byte) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: prev}})
	tx.AddTxOut(&wire.TxOut{Value: int64(tag), PkScript: []byte{0x51}})
	return tx
}

// waitFor polls cond for up to 10 s (the broadcast goroutine works in the background).
func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestBroadcastTransactions(t *testing.T) {
	fc := newFakeChain(1)
	// btcd's mempool in miniature: a transaction whose parent (a fake txid other than the zero hash)
	// is unknown is an orphan; a known one is a duplicate.
	fc.sendErr = func(tx *wire.MsgTx, known map[chainhash.Hash]bool) error {
		if known[tx.TxHash()] {
			return &btcjson.RPCError{Code: btcjson.ErrRPCTxRejected, Message: "TX rejected: already have transaction"}
		}
		prev := tx.TxIn[0].PreviousOutPoint.Hash
		if prev != (chainhash.Hash{}) && !known[prev] {
			return &btcjson.RPCError{Code: btcjson.ErrRPCTxError, Message: "TX rejected: orphan transaction"}
		}
		return nil
	}
	c := testClient(t, Config{}, fc)
	parent := txWithInput(chainhash.Hash{}, 1)
	child := txWithInput(parent.TxHash(), 2)
	grandchild := txWithInput(child.TxHash(), 3)
	// Children first: they are retried once the parent is in.
	c.BroadcastTransactions(grandchild, nil, child, parent)
	waitFor(t, func() bool {
		fc.mu.Lock()
		defer fc.mu.Unlock()
		return fc.known[grandchild.TxHash()]
	})
	fc.mu.Lock()
	require.Len(t, fc.sent, 6) // gc, c (orphans), p; gc (orphan), c; gc
	fc.mu.Unlock()

	// A duplicate is harmless; an orphan with no progress is given up.
	lone := txWithInput(chainhash.Hash{7}, 4)
	c.BroadcastTransactions(parent, lone)
	waitFor(t, func() bool { return fc.callCount("SendRawTransaction") == 8 })

	// The caller's copy may change after the call: the queue holds its own.
	mutable := txWithInput(chainhash.Hash{}, 5)
	want := mutable.TxHash()
	c.BroadcastTransactions(mutable)
	mutable.TxOut[0].Value = 99
	waitFor(t, func() bool {
		fc.mu.Lock()
		defer fc.mu.Unlock()
		return fc.known[want]
	})

	// SendRawTransaction returns the verdict.
	err := c.SendRawTransaction(context.Background(), parent)
	require.ErrorIs(t, err, ErrAlreadyKnown)
	require.ErrorIs(t, c.SendRawTransaction(context.Background(), lone), ErrMissingInputs)
	require.Error(t, c.SendRawTransaction(context.Background(), nil))

	c.Close()
	c.Close()
	n := fc.callCount("SendRawTransaction")
	c.BroadcastTransactions(txWithInput(chainhash.Hash{}, 6))
	time.Sleep(20 * time.Millisecond)
	require.Equal(t, n, fc.callCount("SendRawTransaction"), "nothing is sent after Close")
}

func TestNewConfigErrors(t *testing.T) {
	base := Config{Host: "127.0.0.1:1", User: "u", Pass: "p", Params: &chaincfg.RegressionNetParams}
	cfg := base
	cfg.Params = nil
	_, err := New(cfg, nil)
	require.ErrorContains(t, err, "Params")
	cfg = base
	cfg.Host = ""
	_, err = New(cfg, nil)
	require.ErrorContains(t, err, "Host")
	cfg = base
	cfg.Pass = ""
	_, err = New(cfg, nil)
	require.ErrorContains(t, err, "Pass")
	_, err = New(base, nil)
	require.ErrorContains(t, err, "TLS")
	cfg = base
	cfg.CertPath = "/nonexistent/rpc.cert"
	_, err = New(cfg, nil)
	require.ErrorContains(t, err, "certificate")
	cfg = base
	cfg.DisableTLS = true
	c, err := New(cfg, nil)
	require.NoError(t, err)
	require.NotNil(t, c.RPC())
	// Nothing listens on port 1: a call with a short deadline ends with the context's error rather than
	// waiting for rpcclient's retries.
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = c.BestBlock(ctx)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	c.Close()
}
