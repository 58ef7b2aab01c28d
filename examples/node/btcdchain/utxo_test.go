package btcdchain

import (
	"context"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/btcjson"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/lnwire"
)

// GetBlockTxids and GetTxOut make fakeChain a utxoSource: an output is unspent if its transaction is on
// the best chain and no best-chain transaction spends it.
func (f *fakeChain) GetBlockTxids(ctx context.Context, hash chainhash.Hash) ([]chainhash.Hash, error) {
	blk, err := f.GetBlock(ctx, hash)
	if err != nil {
		return nil, err
	}
	ids := make([]chainhash.Hash, len(blk.Transactions))
	for i, tx := range blk.Transactions {
		ids[i] = tx.TxHash()
	}
	return ids, nil
}

func (f *fakeChain) GetTxOut(ctx context.Context, txid chainhash.Hash, vout uint32) (*TxOut, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter(ctx, "GetTxOut"); err != nil {
		return nil, err
	}
	var out *TxOut
	for _, h := range f.main {
		for _, tx := range f.blocks[h].Transactions {
			for _, in := range tx.TxIn {
				if in.PreviousOutPoint == (wire.OutPoint{Hash: txid, Index: vout}) {
					return nil, nil
				}
			}
			if tx.TxHash() == txid && int(vout) < len(tx.TxOut) {
				out = &TxOut{ValueSat: tx.TxOut[vout].Value, PkScript: tx.TxOut[vout].PkScript}
			}
		}
	}
	return out, nil
}

func fundingTx(value int64, script []byte) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: chainhash.Hash{7}, Index: 1}})
	tx.AddTxOut(&wire.TxOut{Value: 1000, PkScript: []byte{0x51}})
	tx.AddTxOut(&wire.TxOut{Value: value, PkScript: script})
	return tx
}

func TestUTXOLookup(t *testing.T) {
	f := newFakeChain(3)
	script := append([]byte{0x00, 0x20}, make([]byte, 32)...)
	fund := fundingTx(250_000, script)
	f.mine(1, fund) // height 4: coinbase, fund
	u := newUTXOLookup(f)
	scid := lnwire.ShortChannelID{BlockHeight: 4, TxIndex: 1, OutputIndex: 1}.ToUint64()

	out, err := u.FundingOutput(scid)
	if err != nil {
		t.Fatal(err)
	}
	if out.ValueSat != 250_000 || string(out.PkScript) != string(script) ||
		out.OutPoint != (wire.OutPoint{Hash: fund.TxHash(), Index: 1}) {
		t.Fatalf("funding output %+v", out)
	}
	// The block's txids are cached: a second channel of the same block costs no getblock.
	getBlocks := f.callCount("GetBlock")
	if _, err := u.FundingOutput(lnwire.ShortChannelID{BlockHeight: 4, TxIndex: 1, OutputIndex: 0}.ToUint64()); err != nil {
		t.Fatal(err)
	}
	if got := f.callCount("GetBlock"); got != getBlocks {
		t.Fatalf("getblock called %d times, want %d (cached)", got, getBlocks)
	}

	for name, id := range map[string]lnwire.ShortChannelID{
		"height above the tip": {BlockHeight: 9, TxIndex: 1, OutputIndex: 1},
		"no such transaction":  {BlockHeight: 4, TxIndex: 2, OutputIndex: 0},
		"no such output":       {BlockHeight: 4, TxIndex: 1, OutputIndex: 2},
	} {
		if _, err := u.FundingOutput(id.ToUint64()); !errors.Is(err, ErrNoSuchOutput) {
			t.Fatalf("%s: err %v, want ErrNoSuchOutput", name, err)
		}
	}

	spend := wire.NewMsgTx(2)
	spend.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: fund.TxHash(), Index: 1}})
	spend.AddTxOut(&wire.TxOut{Value: 1, PkScript: []byte{0x51}})
	f.mine(1, spend)
	if _, err := u.FundingOutput(scid); !errors.Is(err, ErrNoSuchOutput) {
		t.Fatalf("spent output: err %v, want ErrNoSuchOutput", err)
	}

	f.fail["GetTxOut"] = errors.New("fake: connection refused")
	if _, err := u.FundingOutput(scid); err == nil {
		t.Fatal("a btcd failure must be an error")
	}
}

func TestTxOutFromResult(t *testing.T) {
	out, err := txOutFromResult(&btcjson.GetTxOutResult{Value: 0.0025, ScriptPubKey: btcjson.ScriptPubKeyResult{Hex: "0020ab"}})
	if err != nil || out.ValueSat != 250_000 || string(out.PkScript) != "\x00\x20\xab" {
		t.Fatalf("%+v %v", out, err)
	}
	if _, err := txOutFromResult(&btcjson.GetTxOutResult{Value: 1, ScriptPubKey: btcjson.ScriptPubKeyResult{Hex: "zz"}}); err == nil {
		t.Fatal("a bad script must be an error")
	}
}
