// Package btcdchain connects lnkit's example node to a btcd full node over btcd's JSON-RPC interface (HTTP
// POST, polling; no websockets). It provides what lnkit asks of the host:
//
//   - chaininterface.BroadcasterInterface: Client.BroadcastTransactions queues transactions and a
//     background goroutine sends them with sendrawtransaction, so the call never blocks lnkit;
//     Client.SendRawTransaction sends one transaction and returns btcd's verdict.
//   - chaininterface.FeeEstimator: Client.EstimateFeeratePerKw answers from a cache that
//     Client.RefreshFees fills from a fee URL (lnd's JSON format) or from btcd's estimatefee, with a
//     fallback when neither answers (regtest usually has no estimate).
//   - block delivery: a Follower polls btcd's best block and hands every block, in chain order, to
//     listeners with chaininterface.Listen's shape (a channel manager, a chain monitor, a wallet),
//     disconnecting blocks back to the fork point first after a reorganisation.
//   - router.UTXOLookup: UTXOLookup (Client.NewUTXOLookup) finds the funding output a
//     channel_announcement names (getblockhash, getblock, gettxout) for the network graph.
//   - Client.Reachable says at once whether btcd's RPC port answers (rpcclient retries an unreachable
//     server for about 20 seconds before it reports anything).
//
// Every network call takes a context; RPCs still in flight when it ends are abandoned (rpcclient has no
// cancellation), and their answers are dropped.
package btcdchain

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcjson"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/rpcclient"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
)

// BlockRef names a block by hash and height. It is chaininterface.BestBlock (and the wallet package's
// BlockRef), so the three are interchangeable.
type BlockRef = chaininterface.BestBlock

// DefaultFallbackFeeratePerKw is the feerate, in sat per 1000 weight units, served when no estimate is
// available (10 sat/vbyte).
const DefaultFallbackFeeratePerKw uint32 = 2500

// Config says how to reach btcd and where fee estimates come from.
type Config struct {
	// Host is btcd's RPC address, host:port (for example 127.0.0.1:18334 on regtest).
	Host string
	// User and Pass are btcd's rpcuser and rpcpass.
	User, Pass string
	// CertPath is the file holding btcd's RPC certificate (rpc.cert), PEM; Cert may give it directly.
	// One of them is required unless DisableTLS is set.
	CertPath string
	Cert     []byte
	// DisableTLS talks plain HTTP (btcd --notls, loopback only).
	DisableTLS bool
	// Params is the network btcd runs (&chaincfg.RegressionNetParams, ...). Required.
	Params *chaincfg.Params
	// FeeURL, if set, is fetched by RefreshFees instead of asking btcd: lnd's fee-URL format,
	// {"fee_by_block_target": {"2": 12000, "6": 5000, ...}}, values in sat per 1000 vbytes.
	FeeURL string
	// FallbackFeeratePerKw is served, in sat per 1000 weight units, for a bucket with no estimate.
	// Zero means DefaultFallbackFeeratePerKw.
	FallbackFeeratePerKw uint32
	// HTTPClient fetches FeeURL; nil means a client with a 30 s timeout.
	HTTPClient *http.Client
}

// Errors returned by SendRawTransaction (wrapped; match with errors.Is). Other rejections wrap
// ErrRejected, and transport failures are returned as they are.
var (
	// ErrAlreadyKnown: btcd already has the transaction, in its mempool or in a block.
	ErrAlreadyKnown = errors.New("btcdchain: transaction already known")
	// ErrConflict: an input is already spent by another mempool transaction (and this one cannot replace
	// it).
	ErrConflict = errors.New("btcdchain: input already spent")
	// ErrMissingInputs: an input is unknown or spent by a confirmed transaction (btcd's "orphan").
	ErrMissingInputs = errors.New("btcdchain: missing or spent inputs")
	// ErrRejected: btcd refused the transaction for another reason (fee, policy, script...).
	ErrRejected = errors.New("btcdchain: transaction rejected")
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("btcdchain: client closed")
)

// chainSource is what a Follower needs from a node. Unit tests implement it with an in-memory chain.
type chainSource interface {
	// GetBestBlock returns the tip of the node's best chain.
	GetBestBlock(ctx context.Context) (BlockRef, error)
	// GetBlockHash returns the hash of the best chain's block at height.
	GetBlockHash(ctx context.Context, height uint32) (chainhash.Hash, error)
	// GetBlock returns a block by hash (on the best chain or not).
	GetBlock(ctx context.Context, hash chainhash.Hash) (*wire.MsgBlock, error)
	// GetBlockHeader returns a header by hash (on the best chain or not).
	GetBlockHeader(ctx context.Context, hash chainhash.Hash) (*wire.BlockHeader, error)
}

// backend is everything the Client asks of btcd.
type backend interface {
	chainSource
	// EstimateFee is btcd's estimatefee: BTC per 1000 vbytes for confirmation within blocks.
	EstimateFee(ctx context.Context, blocks uint32) (float64, error)
	// SendRawTransaction submits tx; errors as returned by btcd.
	SendRawTransaction(ctx context.Context, tx *wire.MsgTx) error
}

// Client talks to btcd. Create it with New and stop it with Close. It is safe for concurrent use.
type Client struct {
	cfg  Config
	log  *slog.Logger
	rpc  *rpcclient.Client // nil in unit tests
	be   backend
	http *http.Client
	// tlsConf is the RPC connection's TLS configuration (nil without TLS), for Reachable.
	tlsConf *tls.Config

	fees feeCache

	bmu     sync.Mutex
	bqueue  [][]*wire.MsgTx
	bwake   chan struct{}
	closing chan struct{}
	done    chan struct{}
	closed  bool
}

// New creates a client for btcd at cfg.Host (rpcclient in HTTP POST mode) and starts its broadcast
// goroutine. It does not contact btcd; the first RPC does. logger may be nil (no logging).
// Errors: a missing Params, Host, User or Pass, no certificate with TLS, or an unreadable CertPath.
func New(cfg Config, logger *slog.Logger) (*Client, error) {
	if cfg.Params == nil {
		return nil, errors.New("btcdchain: Config.Params is required")
	}
	if cfg.Host == "" {
		return nil, errors.New("btcdchain: Config.Host is required")
	}
	if cfg.User == "" || cfg.Pass == "" {
		return nil, errors.New("btcdchain: Config.User and Config.Pass are required")
	}
	cert := cfg.Cert
	if !cfg.DisableTLS && len(cert) == 0 {
		if cfg.CertPath == "" {
			return nil, errors.New("btcdchain: TLS needs Config.CertPath or Config.Cert (or set DisableTLS)")
		}
		var err error
		cert, err = os.ReadFile(cfg.CertPath)
		if err != nil {
			return nil, fmt.Errorf("btcdchain: reading certificate: %w", err)
		}
	}
	rpc, err := rpcclient.New(&rpcclient.ConnConfig{
		Host:         cfg.Host,
		User:         cfg.User,
		Pass:         cfg.Pass,
		DisableTLS:   cfg.DisableTLS,
		Certificates: cert,
		HTTPPostMode: true,
		Params:       cfg.Params.Name,
	}, nil)
	if err != nil {
		return nil, fmt.Errorf("btcdchain: %w", err)
	}
	c := newClient(cfg, logger, &rpcBackend{rpc: rpc})
	c.rpc = rpc
	if !cfg.DisableTLS {
		c.tlsConf = tlsConfigFor(cert)
	}
	return c, nil
}

// newClient builds a Client over any backend and starts its broadcast goroutine.
func newClient(cfg Config, logger *slog.Logger, be backend) *Client {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if cfg.FallbackFeeratePerKw == 0 {
		cfg.FallbackFeeratePerKw = DefaultFallbackFeeratePerKw
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	c := &Client{
		cfg:     cfg,
		log:     logger,
		be:      be,
		http:    hc,
		bwake:   make(chan struct{}, 1),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	go c.broadcastLoop()
	return c
}

// RPC returns the underlying rpcclient, for RPCs this package does not wrap (such as generate on
// regtest). Its calls cannot be cancelled.
func (c *Client) RPC() *rpcclient.Client { return c.rpc }

// Params returns the network parameters of the configuration.
func (c *Client) Params() *chaincfg.Params { return c.cfg.Params }

// Close stops the broadcast goroutine (transactions still queued are dropped: lnkit and the wallet
// rebroadcast what they need) and shuts the RPC client down. It is idempotent.
func (c *Client) Close() {
	c.bmu.Lock()
	if c.closed {
		c.bmu.Unlock()
		return
	}
	c.closed = true
	c.bmu.Unlock()
	close(c.closing)
	<-c.done
	if c.rpc != nil {
		c.rpc.Shutdown()
	}
}

// BestBlock returns btcd's best block, for a channel manager's ChainParams.BestBlock and a wallet's
// birthday. Errors: btcd's or the context's.
func (c *Client) BestBlock(ctx context.Context) (BlockRef, error) {
	return c.be.GetBestBlock(ctx)
}

// rpcBackend implements backend with rpcclient, making each call cancellable by waiting on its future
// together with the context.
type rpcBackend struct {
	rpc *rpcclient.Client
}

// await waits for a future or the context. On success it returns a fresh future holding the response, for
// the future type's Receive to decode.
func await[F ~chan *rpcclient.Response](ctx context.Context, f F) (F, error) {
	select {
	case r := <-f:
		out := make(F, 1)
		out <- r
		return out, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (b *rpcBackend) GetBestBlock(ctx context.Context) (BlockRef, error) {
	f, err := await(ctx, b.rpc.GetBestBlockAsync())
	if err != nil {
		return BlockRef{}, err
	}
	hash, height, err := f.Receive()
	if err != nil {
		return BlockRef{}, fmt.Errorf("btcdchain: getbestblock: %w", err)
	}
	if height < 0 {
		return BlockRef{}, fmt.Errorf("btcdchain: getbestblock: negative height %d", height)
	}
	return BlockRef{Hash: *hash, Height: uint32(height)}, nil
}

func (b *rpcBackend) GetBlockHash(ctx context.Context, height uint32) (chainhash.Hash, error) {
	f, err := await(ctx, b.rpc.GetBlockHashAsync(int64(height)))
	if err != nil {
		return chainhash.Hash{}, err
	}
	h, err := f.Receive()
	if err != nil {
		return chainhash.Hash{}, fmt.Errorf("btcdchain: getblockhash %d: %w", height, err)
	}
	return *h, nil
}

func (b *rpcBackend) GetBlock(ctx context.Context, hash chainhash.Hash) (*wire.MsgBlock, error) {
	// getblock with verbosity 0: the serialized block, witnesses included, in hex.
	f, err := await(ctx, b.rpc.SendCmd(btcjson.NewGetBlockCmd(hash.String(), btcjson.Int(0))))
	if err != nil {
		return nil, err
	}
	res, err := rpcclient.ReceiveFuture(f)
	if err != nil {
		return nil, fmt.Errorf("btcdchain: getblock %v: %w", hash, err)
	}
	var blockHex string
	if err := json.Unmarshal(res, &blockHex); err != nil {
		return nil, fmt.Errorf("btcdchain: getblock %v: %w", hash, err)
	}
	raw, err := hex.DecodeString(blockHex)
	if err != nil {
		return nil, fmt.Errorf("btcdchain: getblock %v: %w", hash, err)
	}
	blk := new(wire.MsgBlock)
	if err := blk.Deserialize(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("btcdchain: getblock %v: %w", hash, err)
	}
	if blk.BlockHash() != hash {
		return nil, fmt.Errorf("btcdchain: getblock %v returned block %v", hash, blk.BlockHash())
	}
	return blk, nil
}

func (b *rpcBackend) GetBlockHeader(ctx context.Context, hash chainhash.Hash) (*wire.BlockHeader, error) {
	f, err := await(ctx, b.rpc.GetBlockHeaderAsync(&hash))
	if err != nil {
		return nil, err
	}
	h, err := f.Receive()
	if err != nil {
		return nil, fmt.Errorf("btcdchain: getblockheader %v: %w", hash, err)
	}
	if h.BlockHash() != hash {
		return nil, fmt.Errorf("btcdchain: getblockheader %v returned header %v", hash, h.BlockHash())
	}
	return h, nil
}

func (b *rpcBackend) EstimateFee(ctx context.Context, blocks uint32) (float64, error) {
	f, err := await(ctx, b.rpc.EstimateFeeAsync(int64(blocks)))
	if err != nil {
		return 0, err
	}
	return f.Receive()
}

func (b *rpcBackend) SendRawTransaction(ctx context.Context, tx *wire.MsgTx) error {
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		return err
	}
	// btcd's form of the command; rpcclient's SendRawTransaction would first detect the backend's version
	// with a blocking, uncancellable call.
	allowHighFees := false
	cmd := btcjson.NewSendRawTransactionCmd(hex.EncodeToString(buf.Bytes()), &allowHighFees)
	f, err := await(ctx, rpcclient.FutureSendRawTransactionResult(b.rpc.SendCmd(cmd)))
	if err != nil {
		return err
	}
	_, err = f.Receive()
	return err
}

// classifySendError wraps btcd's answer to sendrawtransaction in one of the package's sentinels. Transport
// errors and context errors are returned unchanged.
func classifySendError(err error) error {
	if err == nil {
		return nil
	}
	var rpcErr *btcjson.RPCError
	if !errors.As(err, &rpcErr) {
		return err
	}
	msg := strings.ToLower(rpcErr.Message)
	switch {
	case rpcErr.Code == btcjson.ErrRPCTxAlreadyInChain || strings.Contains(msg, "already have transaction") ||
		strings.Contains(msg, "already exists") || strings.Contains(msg, "already in block chain") ||
		strings.Contains(msg, "txn-already-known") || strings.Contains(msg, "txn-already-in-mempool"):
		return fmt.Errorf("%w: %s", ErrAlreadyKnown, rpcErr.Message)
	case strings.Contains(msg, "already spent") || strings.Contains(msg, "txn-mempool-conflict") ||
		strings.Contains(msg, "replacement"):
		return fmt.Errorf("%w: %s", ErrConflict, rpcErr.Message)
	case strings.Contains(msg, "orphan") || strings.Contains(msg, "missing") || strings.Contains(msg, "missingorspent"):
		return fmt.Errorf("%w: %s", ErrMissingInputs, rpcErr.Message)
	}
	return fmt.Errorf("%w: %s", ErrRejected, rpcErr.Message)
}
