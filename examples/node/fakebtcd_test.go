package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// fakeBtcd answers the JSON-RPC calls the node makes of btcd (HTTP POST, on 127.0.0.1) from an
// in-memory regtest chain that starts at the genesis block.
type fakeBtcd struct {
	srv *httptest.Server

	mu      sync.Mutex
	blocks  map[chainhash.Hash]*wire.MsgBlock
	main    []chainhash.Hash
	nonce   uint32
	mempool []*wire.MsgTx // sendrawtransaction's, in order, until mined by mineMempool
	refusal string        // sendrawtransaction's error while set (refuseTransactions)
}

func newFakeBtcd(t testing.TB) *fakeBtcd {
	t.Helper()
	f := &fakeBtcd{}
	f.reset()
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// newFakeBtcdAt is newFakeBtcd listening on addr (host:port).
func newFakeBtcdAt(t *testing.T, addr string) *fakeBtcd {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	f := &fakeBtcd{}
	f.reset()
	f.srv = httptest.NewUnstartedServer(http.HandlerFunc(f.serve))
	f.srv.Listener = ln
	f.srv.Start()
	t.Cleanup(f.srv.Close)
	return f
}

// reset leaves the chain with its genesis block only, as btcd restarted on regtest does.
func (f *fakeBtcd) reset() {
	g := chaincfg.RegressionNetParams.GenesisBlock
	f.mu.Lock()
	defer f.mu.Unlock()
	f.blocks = map[chainhash.Hash]*wire.MsgBlock{g.BlockHash(): g}
	f.main = []chainhash.Hash{g.BlockHash()}
	f.mempool = nil
}

// refuseTransactions makes sendrawtransaction fail with msg (as btcd's RPC error), until called with "".
func (f *fakeBtcd) refuseTransactions(msg string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refusal = msg
}

// addr is the server's host:port.
func (f *fakeBtcd) addr() string { return strings.TrimPrefix(f.srv.URL, "http://") }

// mineMempool mines a block with every transaction sent since the last one and returns its height.
func (f *fakeBtcd) mineMempool() uint32 {
	f.mu.Lock()
	txs := f.mempool
	f.mempool = nil
	f.mu.Unlock()
	return f.mine(txs...)
}

// inMempool says whether a transaction with txid was sent and not yet mined.
func (f *fakeBtcd) inMempool(txid chainhash.Hash) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, tx := range f.mempool {
		if tx.TxHash() == txid {
			return true
		}
	}
	return false
}

// mine adds a block holding txs (after a coinbase) to the best chain and returns its height.
func (f *fakeBtcd) mine(txs ...*wire.MsgTx) uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.nonce++
	prev := f.main[len(f.main)-1]
	blk := &wire.MsgBlock{Header: wire.BlockHeader{Version: 4, PrevBlock: prev, Nonce: f.nonce,
		Timestamp: time.Unix(1_700_000_000+int64(f.nonce)*600, 0)}}
	cb := wire.NewMsgTx(1)
	cb.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex},
		SignatureScript: []byte{byte(f.nonce), byte(f.nonce >> 8), 0x51}})
	cb.AddTxOut(&wire.TxOut{Value: 1, PkScript: []byte{0x51}})
	_ = blk.AddTransaction(cb)
	for _, tx := range txs {
		_ = blk.AddTransaction(tx)
	}
	f.blocks[blk.BlockHash()] = blk
	f.main = append(f.main, blk.BlockHash())
	return uint32(len(f.main) - 1)
}

type rpcRequest struct {
	Method string            `json:"method"`
	Params []json.RawMessage `json:"params"`
	ID     json.RawMessage   `json:"id"`
}

func (f *fakeBtcd) serve(w http.ResponseWriter, r *http.Request) {
	var req rpcRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	result, rpcErr := f.call(req)
	f.mu.Unlock()
	reply := map[string]any{"result": result, "error": nil, "id": req.ID}
	if rpcErr != "" {
		reply["result"] = nil
		reply["error"] = map[string]any{"code": -5, "message": rpcErr}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(reply)
}

// call answers one request (f.mu held); a non-empty string is an RPC error.
func (f *fakeBtcd) call(req rpcRequest) (any, string) {
	arg := func(i int, v any) {
		if i < len(req.Params) {
			_ = json.Unmarshal(req.Params[i], v)
		}
	}
	switch req.Method {
	case "getbestblock":
		return map[string]any{"hash": f.main[len(f.main)-1].String(), "height": len(f.main) - 1}, ""
	case "getblockhash":
		var h int
		arg(0, &h)
		if h < 0 || h >= len(f.main) {
			return nil, "Block number out of range"
		}
		return f.main[h].String(), ""
	case "getblock", "getblockheader":
		return f.block(req.Method, arg)
	case "gettxout":
		var txid string
		var vout uint32
		arg(0, &txid)
		arg(1, &vout)
		return f.txOut(txid, vout), ""
	case "estimatefee":
		return -1, ""
	case "getinfo":
		return map[string]any{"version": 240200}, ""
	case "sendrawtransaction":
		if f.refusal != "" {
			return nil, f.refusal
		}
		var txHex string
		arg(0, &txHex)
		raw, err := hex.DecodeString(txHex)
		tx := new(wire.MsgTx)
		if err != nil || tx.Deserialize(bytes.NewReader(raw)) != nil {
			return nil, "TX decode failed"
		}
		for _, m := range f.mempool {
			if m.TxHash() == tx.TxHash() {
				return nil, "already have transaction " + tx.TxHash().String()
			}
		}
		for _, h := range f.main {
			for _, m := range f.blocks[h].Transactions {
				if m.TxHash() == tx.TxHash() {
					return nil, "transaction already exists"
				}
			}
		}
		f.mempool = append(f.mempool, tx)
		return tx.TxHash().String(), ""
	}
	return nil, "unknown method " + req.Method
}

func (f *fakeBtcd) block(method string, arg func(int, any)) (any, string) {
	var hashStr string
	arg(0, &hashStr)
	hash, err := chainhash.NewHashFromStr(hashStr)
	if err != nil {
		return nil, err.Error()
	}
	blk, ok := f.blocks[*hash]
	if !ok {
		return nil, "Block not found"
	}
	var buf bytes.Buffer
	if method == "getblockheader" {
		_ = blk.Header.Serialize(&buf)
		return hex.EncodeToString(buf.Bytes()), ""
	}
	verbosity := 1
	arg(1, &verbosity)
	if verbosity == 0 {
		_ = blk.Serialize(&buf)
		return hex.EncodeToString(buf.Bytes()), ""
	}
	txids := make([]string, len(blk.Transactions))
	for i, tx := range blk.Transactions {
		txids[i] = tx.TxHash().String()
	}
	return map[string]any{"hash": hash.String(), "tx": txids}, ""
}

// txOut is gettxout's answer: the output if its transaction is on the best chain and no best-chain
// transaction spends it, else null.
func (f *fakeBtcd) txOut(txid string, vout uint32) any {
	var found *wire.TxOut
	for _, h := range f.main {
		for _, tx := range f.blocks[h].Transactions {
			for _, in := range tx.TxIn {
				if in.PreviousOutPoint.Hash.String() == txid && in.PreviousOutPoint.Index == vout {
					return nil
				}
			}
			if tx.TxHash().String() == txid && int(vout) < len(tx.TxOut) {
				found = tx.TxOut[vout]
			}
		}
	}
	if found == nil {
		return nil
	}
	return map[string]any{"bestblock": f.main[len(f.main)-1].String(), "confirmations": 1,
		"value":        btcutil.Amount(found.Value).ToBTC(),
		"scriptPubKey": map[string]any{"hex": hex.EncodeToString(found.PkScript), "type": "witness_v0_scripthash"}}
}
