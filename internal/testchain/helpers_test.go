package testchain

import (
	"crypto/sha256"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

// testKey derives a deterministic private key from label.
func testKey(label string) *btcec.PrivateKey {
	h := sha256.Sum256([]byte(label))
	k, _ := btcec.PrivKeyFromBytes(h[:])
	return k
}

func p2wpkhOf(pub *btcec.PublicKey) []byte {
	return append([]byte{txscript.OP_0, txscript.OP_DATA_20}, btcutil.Hash160(pub.SerializeCompressed())...)
}

func p2pkhOf(pub *btcec.PublicKey) []byte {
	s, _ := txscript.NewScriptBuilder().AddOp(txscript.OP_DUP).AddOp(txscript.OP_HASH160).
		AddData(btcutil.Hash160(pub.SerializeCompressed())).AddOp(txscript.OP_EQUALVERIFY).
		AddOp(txscript.OP_CHECKSIG).Script()
	return s
}

func p2shOf(script []byte) []byte {
	s, _ := txscript.NewScriptBuilder().AddOp(txscript.OP_HASH160).AddData(btcutil.Hash160(script)).
		AddOp(txscript.OP_EQUAL).Script()
	return s
}

func p2trOf(pub *btcec.PublicKey) []byte {
	x := pub.SerializeCompressed()[1:]
	return append([]byte{txscript.OP_1, txscript.OP_DATA_32}, x...)
}

// newSpend returns a version-2 transaction spending ops (nSequence sequence) to outs.
func newSpend(ops []wire.OutPoint, sequence uint32, outs ...*wire.TxOut) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	for _, op := range ops {
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: op, Sequence: sequence})
	}
	for _, o := range outs {
		tx.AddTxOut(o)
	}
	return tx
}

// prevOutsOf looks up each input's prevout on the chain (confirmed or mempool).
func prevOutsOf(t testing.TB, c *Chain, tx *wire.MsgTx) map[wire.OutPoint]*wire.TxOut {
	t.Helper()
	m := make(map[wire.OutPoint]*wire.TxOut)
	for _, in := range tx.TxIn {
		op := in.PreviousOutPoint
		if out, ok := c.UTXO(op); ok {
			m[op] = out
			continue
		}
		parent, _, ok := c.GetTransaction(op.Hash)
		require.True(t, ok, "prevout %v unknown", op)
		m[op] = parent.TxOut[op.Index]
	}
	return m
}

// signP2WPKH signs input idx of tx, which spends a P2WPKH output of key.
func signP2WPKH(t testing.TB, c *Chain, tx *wire.MsgTx, idx int, key *btcec.PrivateKey) {
	t.Helper()
	prev := prevOutsOf(t, c, tx)
	fetcher := txscript.NewMultiPrevOutFetcher(prev)
	out := prev[tx.TxIn[idx].PreviousOutPoint]
	wit, err := txscript.WitnessSignature(tx, txscript.NewTxSigHashes(tx, fetcher), idx, out.Value,
		out.PkScript, txscript.SigHashAll, key, true)
	require.NoError(t, err)
	tx.TxIn[idx].Witness = wit
}

// signP2WSH signs input idx of tx, which spends P2WSH(witnessScript) with a single-signature script:
// the witness is [sig, witnessScript].
func signP2WSH(t testing.TB, c *Chain, tx *wire.MsgTx, idx int, key *btcec.PrivateKey, witnessScript []byte) {
	t.Helper()
	prev := prevOutsOf(t, c, tx)
	fetcher := txscript.NewMultiPrevOutFetcher(prev)
	out := prev[tx.TxIn[idx].PreviousOutPoint]
	sig, err := txscript.RawTxInWitnessSignature(tx, txscript.NewTxSigHashes(tx, fetcher), idx, out.Value,
		witnessScript, txscript.SigHashAll, key)
	require.NoError(t, err)
	tx.TxIn[idx].Witness = wire.TxWitness{sig, witnessScript}
}

func regtest() *Chain { return New(&chaincfg.RegressionNetParams) }

// recorder is a chaininterface.Listen that records what it is told.
type recorder struct {
	mu     sync.Mutex
	events []recEvent
	onConn func(height uint32)
}

type recEvent struct {
	connected bool
	height    uint32
	hash      chainhash.Hash
	prev      chainhash.Hash
	txids     []chainhash.Hash
}

func (r *recorder) BlockConnected(b *wire.MsgBlock, height uint32) {
	ev := recEvent{connected: true, height: height, hash: b.BlockHash(), prev: b.Header.PrevBlock}
	for _, tx := range b.Transactions {
		ev.txids = append(ev.txids, tx.TxHash())
	}
	r.mu.Lock()
	r.events = append(r.events, ev)
	f := r.onConn
	r.mu.Unlock()
	if f != nil {
		f(height)
	}
}

func (r *recorder) BlockDisconnected(h *wire.BlockHeader, height uint32) {
	r.mu.Lock()
	r.events = append(r.events, recEvent{height: height, hash: h.BlockHash(), prev: h.PrevBlock})
	r.mu.Unlock()
}

func (r *recorder) snapshot() []recEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]recEvent(nil), r.events...)
}
