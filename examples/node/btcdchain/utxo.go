package btcdchain

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcjson"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/rpcclient"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
)

// Defaults of UTXOLookup.
const (
	// DefaultUTXOLookupTimeout bounds one FundingOutput call (its three RPCs together).
	DefaultUTXOLookupTimeout = 10 * time.Second
	// utxoBlockCache is the number of blocks whose txid lists are kept: channels funded in the same
	// block (common in a gossip sync, which goes in block order) cost one getblock.
	utxoBlockCache = 16
)

// ErrNoSuchOutput: the short_channel_id names no transaction or output of btcd's best chain, or the
// output is spent.
var ErrNoSuchOutput = errors.New("btcdchain: no unspent output at that short_channel_id")

// TxOut is an unspent output as btcd's gettxout reports it.
type TxOut struct {
	ValueSat int64
	PkScript []byte
}

// utxoSource is what UTXOLookup asks of btcd.
type utxoSource interface {
	GetBlockHash(ctx context.Context, height uint32) (chainhash.Hash, error)
	// GetBlockTxids lists the block's transaction ids in block order (getblock, verbosity 1).
	GetBlockTxids(ctx context.Context, hash chainhash.Hash) ([]chainhash.Hash, error)
	// GetTxOut returns the output if it is unspent in btcd's best chain (mempool spends ignored), nil
	// if it is spent or unknown.
	GetTxOut(ctx context.Context, txid chainhash.Hash, vout uint32) (*TxOut, error)
}

// UTXOLookup answers the network graph's router.UTXOLookup from btcd: the funding output a
// channel_announcement's short_channel_id names (getblockhash, getblock with verbosity 1, gettxout), so
// the graph checks the funding script, takes the channel's capacity from the chain and learns the
// funding outpoint (whose spend then removes the channel). The graph calls it without its locks held
// (route searches go on meanwhile) from the goroutine reading the announcing peer, so a slow answer
// delays that peer's messages; each call is bounded by Timeout; txid lists of recent blocks are cached.
//
// Cost: on a loopback btcd a few milliseconds per new channel; a mainnet block's txid list is some
// 300 KB of JSON, so a first sync of the whole graph (tens of thousands of blocks) takes minutes.
type UTXOLookup struct {
	src     utxoSource
	timeout time.Duration

	mu    sync.Mutex
	cache map[chainhash.Hash][]chainhash.Hash
	order []chainhash.Hash // cache keys, oldest first
}

var _ router.UTXOLookup = (*UTXOLookup)(nil)

// NewUTXOLookup returns a lookup over the client's btcd with DefaultUTXOLookupTimeout.
func (c *Client) NewUTXOLookup() *UTXOLookup {
	src, _ := c.be.(utxoSource)
	return newUTXOLookup(src)
}

func newUTXOLookup(src utxoSource) *UTXOLookup {
	return &UTXOLookup{src: src, timeout: DefaultUTXOLookupTimeout, cache: make(map[chainhash.Hash][]chainhash.Hash)}
}

// FundingOutput returns the unspent output at scid (block height, transaction index, output index) on
// btcd's best chain. Errors: ErrNoSuchOutput, btcd's, or a timeout.
func (u *UTXOLookup) FundingOutput(scid uint64) (router.FundingOutput, error) {
	if u.src == nil {
		return router.FundingOutput{}, errors.New("btcdchain: no chain source for UTXO lookups")
	}
	ctx, cancel := context.WithTimeout(context.Background(), u.timeout)
	defer cancel()
	id := lnwire.NewShortChannelIDFromUint64(scid)
	hash, err := u.src.GetBlockHash(ctx, id.BlockHeight)
	if err != nil {
		return router.FundingOutput{}, fmt.Errorf("%w: %s: block: %w", ErrNoSuchOutput, id, err)
	}
	txids, err := u.txids(ctx, hash)
	if err != nil {
		return router.FundingOutput{}, err
	}
	if int(id.TxIndex) >= len(txids) {
		return router.FundingOutput{}, fmt.Errorf("%w: %s: block has %d transactions", ErrNoSuchOutput, id, len(txids))
	}
	txid := txids[id.TxIndex]
	out, err := u.src.GetTxOut(ctx, txid, uint32(id.OutputIndex))
	if err != nil {
		return router.FundingOutput{}, err
	}
	if out == nil || out.ValueSat < 0 {
		return router.FundingOutput{}, fmt.Errorf("%w: %s (%s:%d)", ErrNoSuchOutput, id, txid, id.OutputIndex)
	}
	return router.FundingOutput{OutPoint: wire.OutPoint{Hash: txid, Index: uint32(id.OutputIndex)},
		PkScript: out.PkScript, ValueSat: uint64(out.ValueSat)}, nil
}

// txids returns the block's txid list, from the cache or btcd.
func (u *UTXOLookup) txids(ctx context.Context, hash chainhash.Hash) ([]chainhash.Hash, error) {
	u.mu.Lock()
	ids, ok := u.cache[hash]
	u.mu.Unlock()
	if ok {
		return ids, nil
	}
	ids, err := u.src.GetBlockTxids(ctx, hash)
	if err != nil {
		return nil, err
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if _, ok := u.cache[hash]; !ok {
		if len(u.order) == utxoBlockCache {
			delete(u.cache, u.order[0])
			u.order = u.order[1:]
		}
		u.cache[hash] = ids
		u.order = append(u.order, hash)
	}
	return ids, nil
}

func (b *rpcBackend) GetBlockTxids(ctx context.Context, hash chainhash.Hash) ([]chainhash.Hash, error) {
	f, err := await(ctx, b.rpc.SendCmd(btcjson.NewGetBlockCmd(hash.String(), btcjson.Int(1))))
	if err != nil {
		return nil, err
	}
	res, err := rpcclient.ReceiveFuture(f)
	if err != nil {
		return nil, fmt.Errorf("btcdchain: getblock %v: %w", hash, err)
	}
	var blk struct {
		Hash string   `json:"hash"`
		Tx   []string `json:"tx"`
	}
	if err := json.Unmarshal(res, &blk); err != nil {
		return nil, fmt.Errorf("btcdchain: getblock %v: %w", hash, err)
	}
	if blk.Hash != hash.String() {
		return nil, fmt.Errorf("btcdchain: getblock %v returned block %s", hash, blk.Hash)
	}
	ids := make([]chainhash.Hash, len(blk.Tx))
	for i, s := range blk.Tx {
		h, err := chainhash.NewHashFromStr(s)
		if err != nil {
			return nil, fmt.Errorf("btcdchain: getblock %v: txid %d: %w", hash, i, err)
		}
		ids[i] = *h
	}
	return ids, nil
}

func (b *rpcBackend) GetTxOut(ctx context.Context, txid chainhash.Hash, vout uint32) (*TxOut, error) {
	f, err := await(ctx, b.rpc.GetTxOutAsync(&txid, vout, false))
	if err != nil {
		return nil, err
	}
	res, err := f.Receive()
	if err != nil {
		return nil, fmt.Errorf("btcdchain: gettxout %v:%d: %w", txid, vout, err)
	}
	if res == nil {
		return nil, nil
	}
	return txOutFromResult(res)
}

// txOutFromResult converts gettxout's answer (value in BTC, script in hex).
func txOutFromResult(res *btcjson.GetTxOutResult) (*TxOut, error) {
	amt, err := btcutil.NewAmount(res.Value)
	if err != nil {
		return nil, fmt.Errorf("btcdchain: gettxout value %v: %w", res.Value, err)
	}
	script, err := hex.DecodeString(res.ScriptPubKey.Hex)
	if err != nil {
		return nil, fmt.Errorf("btcdchain: gettxout script: %w", err)
	}
	return &TxOut{ValueSat: int64(amt), PkScript: script}, nil
}
