package testchain

import (
	"bytes"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

var sentinels = []error{ErrMalformed, ErrScriptFailed, ErrMissingInput, ErrDoubleSpend, ErrImmatureCoinbase,
	ErrLockTimeNotFinal, ErrSequenceLockNotMet, ErrValueOut, ErrDust, ErrNonStandard, ErrTxTooHeavy, ErrBadBlock, ErrFeeTooLow}

func wrapsSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// fuzzChain is a chain with a P2WPKH output and a P2WSH(OP_TRUE) output at deterministic outpoints.
func fuzzChain() (*Chain, wire.OutPoint, wire.OutPoint) {
	c := regtest()
	a := c.FundAddress(p2wpkhOf(testKey("fuzz").PubKey()), 100_000)
	b := c.FundAddress(p2wshScript([]byte{txscript.OP_TRUE}), 100_000)
	return c, a, b
}

func serializeTx(tx *wire.MsgTx) []byte {
	var buf bytes.Buffer
	_ = tx.Serialize(&buf)
	return buf.Bytes()
}

// FuzzSubmitTransaction feeds arbitrary serialized transactions to the mempool: it must never panic,
// every refusal must wrap a sentinel, and whatever it accepts must be minable.
func FuzzSubmitTransaction(f *testing.F) {
	c, a, b := fuzzChain()
	good := newSpend([]wire.OutPoint{a}, wire.MaxTxInSequenceNum,
		&wire.TxOut{Value: 50_000, PkScript: p2wpkhOf(testKey("x").PubKey())},
		&wire.TxOut{Value: 49_000, PkScript: p2wpkhOf(testKey("fuzz").PubKey())})
	signP2WPKH(f, c, good, 0, testKey("fuzz"))
	f.Add(serializeTx(good))
	anyone := newSpend([]wire.OutPoint{b}, 144, &wire.TxOut{Value: 90_000, PkScript: p2wshScript([]byte{txscript.OP_TRUE})})
	anyone.TxIn[0].Witness = wire.TxWitness{{txscript.OP_TRUE}}
	f.Add(serializeTx(anyone))
	anyone.LockTime = 5
	anyone.TxIn[0].Sequence = 0
	f.Add(serializeTx(anyone))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, raw []byte) {
		tx := &wire.MsgTx{}
		if err := tx.Deserialize(bytes.NewReader(raw)); err != nil {
			return
		}
		c, _, _ := fuzzChain()
		_, checkErr := c.CheckTransaction(tx)
		err := c.SubmitTransaction(tx)
		if (checkErr == nil) != (err == nil) {
			t.Fatalf("CheckTransaction %v, SubmitTransaction %v", checkErr, err)
		}
		if err != nil {
			if !wrapsSentinel(err) {
				t.Fatalf("error wraps no sentinel: %v", err)
			}
			return
		}
		if !c.InMempool(tx.TxHash()) {
			t.Fatal("accepted but not in the mempool")
		}
		blk := c.MineBlocks(1)[0]
		if len(blk.Transactions) != 2 || c.Confirmations(tx.TxHash()) != 1 {
			t.Fatal("accepted transaction not mined")
		}
	})
}

// FuzzConnectBlock feeds arbitrary serialized blocks to ConnectBlock: it must never panic and every
// refusal must wrap ErrBadBlock.
func FuzzConnectBlock(f *testing.F) {
	src := regtest()
	src.MineBlocks(1)
	b1, _ := src.BlockAt(1)
	var buf bytes.Buffer
	_ = b1.Serialize(&buf)
	f.Add(buf.Bytes())
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, raw []byte) {
		blk := &wire.MsgBlock{}
		if err := blk.Deserialize(bytes.NewReader(raw)); err != nil {
			return
		}
		c := regtest()
		err := c.ConnectBlock(blk)
		if err != nil {
			if !errors.Is(err, ErrBadBlock) {
				t.Fatalf("error does not wrap ErrBadBlock: %v", err)
			}
			if c.Height() != 0 {
				t.Fatal("refused block changed the chain")
			}
			return
		}
		if c.Height() != 1 || c.BestBlock().Hash != blk.BlockHash() {
			t.Fatal("accepted block is not the tip")
		}
	})
}
