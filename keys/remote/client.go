package remote

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/keys"
)

// ErrNotConnected is returned, wrapped with keys.ErrSignerPending, by a synchronous call made while the
// link is down or failed by Disconnected.
var ErrNotConnected = errors.New("remote: signer link is down")

// ErrTooManyRequests is returned by an asynchronous call when ClientConfig.MaxOutstanding requests
// are queued or in flight already.
var ErrTooManyRequests = errors.New("remote: too many requests outstanding")

// DefaultMaxOutstanding is ClientConfig.MaxOutstanding when it is zero.
const DefaultMaxOutstanding = 4096

// ClientConfig configures a Client.
type ClientConfig struct {
	// OnAnswer, when set, is called after the answer to an asynchronous request arrives, from
	// HandleResponse with no client lock held. Hosts wire it to ChannelManager.SignerUnblocked(nil) so
	// that channels waiting on the signer ask again. It runs on the goroutine that feeds
	// HandleResponse, so it must not wait for a synchronous call of this client (whose answer that
	// goroutine would deliver): a host whose SignerUnblocked may make one (a first
	// GetDestinationScript, say) signals its event loop here and calls SignerUnblocked from there.
	OnAnswer func()
	// MaxOutstanding bounds the asynchronous requests queued, in flight or answered and not yet
	// collected (0: DefaultMaxOutstanding). Answers not collected are dropped oldest first to make room.
	MaxOutstanding int
}

// call is one request and, once it comes, its answer.
type call struct {
	id       uint64
	method   Method
	class    class
	keysID   [32]byte
	key      string // the frame without its ID: equal requests have equal keys
	frame    []byte
	internal bool // a replay of channel parameters after reconnection; its answer is dropped

	answered bool
	resp     *Response
	err      error         // set instead of resp when the call failed locally
	done     chan struct{} // closed once resolved (synchronous and persistent calls)
}

// channelCache is what the client knows of one channel.
type channelCache struct {
	pubkeys *keys.ChannelPublicKeys
	derive  *call // DeriveChannelSigner in flight
	points  []NumberedPoint
	params  []byte // the frame of the last ProvideChannelParameters the signer accepted
	dest    []byte // GetDestinationScript's answer
}

// maxCachedPoints is how many per-commitment points the client keeps per channel.
const maxCachedPoints = 16

// Client is the node side of the protocol. It implements keys.NodeSigner, keys.SignerProvider and
// keys.EntropySource, and its channel signers implement keys.ChannelSigner, by sending requests to a
// Server. It does no I/O: the host (for example examples/signerlink) hands the frames from
// PendingRequests to the signer while the link is up (between Connected and Disconnected), waking on
// RequestsReady, and feeds every response frame to HandleResponse.
//
// Asynchronous methods (every ChannelSigner method but ChannelKeysID, Pubkeys and Write) queue their
// request and return keys.ErrSignerPending; when the answer arrives the client calls
// ClientConfig.OnAnswer and the same call made again (same method and arguments) returns the answer:
// a signature until it is evicted (oldest first, beyond MaxOutstanding), an error once. Synchronous methods (ECDH, SignGossipMessage, SignInvoice, GetDestinationScript,
// GetShutdownScriptPubKey, ApproveInvoice, ApproveKeysend, and the on-chain wallet's AccountPubKey and
// SignWalletInputs) wait for the answer and fail with
// keys.ErrSignerPending wrapping ErrNotConnected while the link is down. Methods whose Go signature
// cannot report an error (GetNodeID, GenerateChannelKeysID, GetSecureRandomBytes, a new channel's
// Pubkeys) wait for the answer across reconnections, until Close. Static answers (node id, scripts,
// channel keys, recent per-commitment points) are kept and served without asking again.
//
// A Client is safe for concurrent use. Its synchronous methods block the calling goroutine on a
// channel; nothing else blocks and the client starts no goroutine.
type Client struct {
	cfg ClientConfig

	mu        sync.Mutex
	connected bool
	closed    bool
	up        chan struct{} // closed while connected
	ready     chan struct{} // one token when requests are waiting to be handed out
	nextID    uint64
	queue     []*call
	inflight  map[uint64]*call
	async     map[string]*call
	answered  []*call // answered asynchronous calls, oldest first (entries may be stale)

	nodeID    *btcec.PublicKey
	nodeCall  *call
	shutdown  []byte
	channels  map[[32]byte]*channelCache
	entropy   *[32]byte
	entropyN  uint64
	entropyMu sync.Mutex
}

var (
	_ keys.NodeSigner     = (*Client)(nil)
	_ keys.SignerProvider = (*Client)(nil)
	_ keys.EntropySource  = (*Client)(nil)
)

// NewClient returns a disconnected client.
func NewClient(cfg ClientConfig) *Client {
	if cfg.MaxOutstanding <= 0 {
		cfg.MaxOutstanding = DefaultMaxOutstanding
	}
	return &Client{cfg: cfg, up: make(chan struct{}), ready: make(chan struct{}, 1), nextID: 1,
		inflight: map[uint64]*call{}, async: map[string]*call{}, channels: map[[32]byte]*channelCache{}}
}

// Connected marks the link up: requests are handed out from now on. The channel parameters the
// signer accepted are sent again first (a restarted signer has lost them), then every request whose
// answer never came, in their original order.
func (c *Client) Connected() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.connected {
		return
	}
	c.connected = true
	close(c.up)
	var replays []*call
	for id, ch := range c.channels {
		if ch.params == nil {
			continue
		}
		frame := slices.Clone(ch.params)
		binary.BigEndian.PutUint64(frame[2:10], c.nextID)
		replays = append(replays, &call{id: c.nextID, method: MethodProvideChannelParameters, keysID: id,
			frame: frame, internal: true})
		c.nextID++
	}
	c.queue = append(replays, c.queue...)
	c.signal()
}

// Disconnected marks the link down. Synchronous calls waiting for an answer fail with
// keys.ErrSignerPending wrapping ErrNotConnected; asynchronous and persistent requests handed out
// and not answered are queued again, to be sent after the next Connected.
func (c *Client) Disconnected() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.connected {
		return
	}
	c.connected = false
	c.up = make(chan struct{})
	sent := make([]*call, 0, len(c.inflight))
	for _, cl := range c.inflight {
		sent = append(sent, cl)
	}
	slices.SortFunc(sent, func(a, b *call) int { return cmpUint64(a.id, b.id) })
	clear(c.inflight)
	var keep []*call
	for _, cl := range append(sent, c.queue...) {
		switch {
		case cl.internal:
		case cl.class == classSync:
			cl.err = fmt.Errorf("%w: %w", keys.ErrSignerPending, ErrNotConnected)
			close(cl.done)
		default:
			keep = append(keep, cl)
		}
	}
	c.queue = keep
}

// Close fails every waiting call with ErrClosed and makes every later call fail (persistent calls
// return zero values). The client cannot be reopened.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	c.closed, c.connected = true, false
	for _, cl := range append(c.queue, mapValues(c.inflight)...) {
		if cl.done != nil {
			cl.err = ErrClosed
			close(cl.done)
		}
	}
	c.queue = nil
	clear(c.inflight)
	clear(c.async)
}

// IsConnected reports whether the link is up.
func (c *Client) IsConnected() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.connected
}

// WaitConnected waits until the link is up. Errors: ctx's error, ErrClosed.
func (c *Client) WaitConnected(ctx context.Context) error {
	c.mu.Lock()
	up, closed := c.up, c.closed
	c.mu.Unlock()
	if closed {
		return ErrClosed
	}
	select {
	case <-up:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// RequestsReady returns a channel that receives a value when requests are waiting to be handed out.
// A host loop waits on it (and on its socket) and then calls PendingRequests.
func (c *Client) RequestsReady() <-chan struct{} { return c.ready }

// PendingRequests returns the request frames to send, in order, and marks them in flight. It returns
// nothing while the link is down.
func (c *Client) PendingRequests() [][]byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.connected || len(c.queue) == 0 {
		return nil
	}
	out := make([][]byte, len(c.queue))
	for i, cl := range c.queue {
		out[i] = cl.frame
		c.inflight[cl.id] = cl
	}
	c.queue = c.queue[:0]
	return out
}

// signal leaves a token in ready. Called with c.mu held.
func (c *Client) signal() {
	select {
	case c.ready <- struct{}{}:
	default:
	}
}

func cmpUint64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func mapValues(m map[uint64]*call) []*call {
	out := make([]*call, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
