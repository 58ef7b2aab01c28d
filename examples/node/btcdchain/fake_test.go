package btcdchain

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcjson"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// fakeChain is an in-memory block tree with a best chain, standing in for btcd: it keeps every block it
// ever made, so stale blocks still answer GetBlock and GetBlockHeader, as btcd's do.
type fakeChain struct {
	mu     sync.Mutex
	blocks map[chainhash.Hash]*wire.MsgBlock
	main   []chainhash.Hash // best chain, index = height
	nonce  uint32
	calls  map[string]int
	fail   map[string]error // next call of that method fails with this error
	// failAfter makes GetBlock fail once after that many more successful calls (-1: never).
	failAfter int

	estimates map[uint32]float64 // EstimateFee answers, BTC/kvB
	estErr    error

	sent    []*wire.MsgTx
	sendErr func(tx *wire.MsgTx, accepted map[chainhash.Hash]bool) error
	known   map[chainhash.Hash]bool
}

// fakeChains counts fake chains, so that each makes blocks of its own.
var fakeChains struct {
	sync.Mutex
	n uint32
}

func newFakeChain(height int) *fakeChain {
	fakeChains.Lock()
	fakeChains.n++
	salt := fakeChains.n << 20
	fakeChains.Unlock()
	f := &fakeChain{nonce: salt, blocks: make(map[chainhash.Hash]*wire.MsgBlock), calls: make(map[string]int),
		fail: make(map[string]error), failAfter: -1, known: make(map[chainhash.Hash]bool)}
	g := f.newBlock(chainhash.Hash{})
	f.main = []chainhash.Hash{g.BlockHash()}
	f.mine(height)
	return f
}

// newBlock makes a block on parent holding one unique transaction.
func (f *fakeChain) newBlock(parent chainhash.Hash, txs ...*wire.MsgTx) *wire.MsgBlock {
	f.nonce++
	blk := &wire.MsgBlock{Header: wire.BlockHeader{Version: 4, PrevBlock: parent, Nonce: f.nonce,
		Timestamp: time.Unix(1600000000+int64(f.nonce), 0)}}
	cb := wire.NewMsgTx(1)
	cb.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex},
		SignatureScript: []byte{byte(f.nonce), byte(f.nonce >> 8), 0x51}})
	cb.AddTxOut(&wire.TxOut{Value: 1, PkScript: []byte{0x51}})
	_ = blk.AddTransaction(cb)
	for _, tx := range txs {
		_ = blk.AddTransaction(tx)
	}
	f.blocks[blk.BlockHash()] = blk
	return blk
}

// mine extends the best chain by n blocks; the first one holds txs.
func (f *fakeChain) mine(n int, txs ...*wire.MsgTx) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 0; i < n; i++ {
		var these []*wire.MsgTx
		if i == 0 {
			these = txs
		}
		blk := f.newBlock(f.main[len(f.main)-1], these...)
		f.main = append(f.main, blk.BlockHash())
	}
}

// reorg replaces the best chain above height fork with n new blocks; the first one holds txs.
func (f *fakeChain) reorg(fork uint32, n int, txs ...*wire.MsgTx) {
	f.mu.Lock()
	f.main = f.main[:fork+1]
	f.mu.Unlock()
	f.mine(n, txs...)
}

func (f *fakeChain) tip() BlockRef {
	f.mu.Lock()
	defer f.mu.Unlock()
	return BlockRef{Hash: f.main[len(f.main)-1], Height: uint32(len(f.main) - 1)}
}

func (f *fakeChain) at(h uint32) BlockRef {
	f.mu.Lock()
	defer f.mu.Unlock()
	return BlockRef{Hash: f.main[h], Height: h}
}

// enter counts a call and returns an injected failure, if any.
func (f *fakeChain) enter(ctx context.Context, method string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	f.calls[method]++
	if err, ok := f.fail[method]; ok {
		delete(f.fail, method)
		return err
	}
	return nil
}

func (f *fakeChain) GetBestBlock(ctx context.Context) (BlockRef, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter(ctx, "GetBestBlock"); err != nil {
		return BlockRef{}, err
	}
	return BlockRef{Hash: f.main[len(f.main)-1], Height: uint32(len(f.main) - 1)}, nil
}

func (f *fakeChain) GetBlockHash(ctx context.Context, height uint32) (chainhash.Hash, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter(ctx, "GetBlockHash"); err != nil {
		return chainhash.Hash{}, err
	}
	if int(height) >= len(f.main) {
		return chainhash.Hash{}, &btcjson.RPCError{Code: btcjson.ErrRPCOutOfRange, Message: "Block number out of range"}
	}
	return f.main[height], nil
}

func (f *fakeChain) GetBlock(ctx context.Context, hash chainhash.Hash) (*wire.MsgBlock, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter(ctx, "GetBlock"); err != nil {
		return nil, err
	}
	if f.failAfter == 0 {
		f.failAfter = -1
		return nil, errors.New("fake: connection reset")
	}
	if f.failAfter > 0 {
		f.failAfter--
	}
	blk, ok := f.blocks[hash]
	if !ok {
		return nil, &btcjson.RPCError{Code: btcjson.ErrRPCBlockNotFound, Message: "Block not found"}
	}
	return blk.Copy(), nil
}

func (f *fakeChain) GetBlockHeader(ctx context.Context, hash chainhash.Hash) (*wire.BlockHeader, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter(ctx, "GetBlockHeader"); err != nil {
		return nil, err
	}
	blk, ok := f.blocks[hash]
	if !ok {
		return nil, &btcjson.RPCError{Code: btcjson.ErrRPCBlockNotFound, Message: "Block not found"}
	}
	h := blk.Header
	return &h, nil
}

func (f *fakeChain) EstimateFee(ctx context.Context, blocks uint32) (float64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter(ctx, "EstimateFee"); err != nil {
		return 0, err
	}
	if f.estErr != nil {
		return -1, f.estErr
	}
	v, ok := f.estimates[blocks]
	if !ok {
		return -1, nil
	}
	return v, nil
}

func (f *fakeChain) SendRawTransaction(ctx context.Context, tx *wire.MsgTx) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err := f.enter(ctx, "SendRawTransaction"); err != nil {
		return err
	}
	f.sent = append(f.sent, tx.Copy())
	if f.sendErr != nil {
		if err := f.sendErr(tx, f.known); err != nil {
			return err
		}
	}
	f.known[tx.TxHash()] = true
	return nil
}

func (f *fakeChain) callCount(method string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[method]
}

// recorder is a Listener that keeps its own view of the chain and checks that every event fits it.
type recorder struct {
	name string
	log  *eventLog
	mu   sync.Mutex
	view []BlockRef // blocks it holds, from its start
	errs []string
}

type eventLog struct {
	mu     sync.Mutex
	events []string
}

func (l *eventLog) add(s string) {
	if l == nil {
		return
	}
	l.mu.Lock()
	l.events = append(l.events, s)
	l.mu.Unlock()
}

func (l *eventLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.events...)
}

func newRecorder(name string, start BlockRef, log *eventLog) *recorder {
	return &recorder{name: name, log: log, view: []BlockRef{start}}
}

func (r *recorder) BlockConnected(blk *wire.MsgBlock, height uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	top := r.view[len(r.view)-1]
	if top != (BlockRef{}) && (blk.Header.PrevBlock != top.Hash || height != top.Height+1) {
		r.errs = append(r.errs, fmt.Sprintf("connect %d does not extend %d", height, top.Height))
	}
	r.view = append(r.view, BlockRef{Hash: blk.BlockHash(), Height: height})
	r.log.add(fmt.Sprintf("%s+%d", r.name, height))
}

func (r *recorder) BlockDisconnected(h *wire.BlockHeader, height uint32) {
	r.mu.Lock()
	defer r.mu.Unlock()
	top := r.view[len(r.view)-1]
	if h.BlockHash() != top.Hash || height != top.Height {
		r.errs = append(r.errs, fmt.Sprintf("disconnect %d is not the top %d", height, top.Height))
	}
	if len(r.view) == 1 {
		r.view[0] = BlockRef{Hash: h.PrevBlock, Height: height - 1}
	} else {
		r.view = r.view[:len(r.view)-1]
	}
	r.log.add(fmt.Sprintf("%s-%d", r.name, height))
}

func (r *recorder) top() BlockRef {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.view[len(r.view)-1]
}

// check asserts that the recorder saw a consistent sequence ending at want.
func (r *recorder) check(t *testing.T, want BlockRef) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.errs) > 0 {
		t.Fatalf("%s: %v", r.name, r.errs)
	}
	if got := r.view[len(r.view)-1]; got != want {
		t.Fatalf("%s at %d %v, want %d %v", r.name, got.Height, got.Hash, want.Height, want.Hash)
	}
}
