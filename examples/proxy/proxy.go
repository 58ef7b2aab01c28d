package proxy

import (
	"context"
	"encoding/hex"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/lnwire"
)

// Filter decides whether a message from a peer is accepted: a non-nil error drops it (see the package
// doc for what follows). msg is the decoded channel message, or an *lnwire.UnknownMessage for a custom
// message. It is called without any lock held and must not call into the PeerManager.
type Filter func(peer *btcec.PublicKey, msg lnwire.Message) error

// Default limits.
const (
	// DefaultMaxPeers bounds the peers with per-peer state.
	DefaultMaxPeers = 1024
	// DefaultMaxQueuedPerPeer bounds the custom messages queued for one peer.
	DefaultMaxQueuedPerPeer = 64
	// DefaultMaxQueued bounds the custom messages queued for all peers together.
	DefaultMaxQueued = 4096
)

// Options configure a Proxy. Zero values take the defaults.
type Options struct {
	// Rate is the sustained number of messages per second (channel and custom messages together) a
	// peer may send; 0 or less disables the rate limit.
	Rate float64
	// Burst is how many messages a peer may send at once above Rate (the token bucket's size); values
	// below 1 become 1 when Rate is set.
	Burst int
	// Filter, if set, is asked about every incoming message.
	Filter Filter
	// MaxPeers bounds the number of peers with state (DefaultMaxPeers): a peer beyond it is refused at
	// PeerConnected (ErrTooManyPeers).
	MaxPeers int
	// MaxQueuedPerPeer and MaxQueued bound the outgoing custom messages (DefaultMaxQueuedPerPeer,
	// DefaultMaxQueued).
	MaxQueuedPerPeer int
	MaxQueued        int
	// Clock gives the time for the rate limit (default time.Now).
	Clock func() time.Time
	// Logger gets a debug line per message (peer, type, size) and the drops (default: discard).
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Rate > 0 && o.Burst < 1 {
		o.Burst = 1
	}
	if o.MaxPeers <= 0 {
		o.MaxPeers = DefaultMaxPeers
	}
	if o.MaxQueuedPerPeer <= 0 {
		o.MaxQueuedPerPeer = DefaultMaxQueuedPerPeer
	}
	if o.MaxQueued <= 0 {
		o.MaxQueued = DefaultMaxQueued
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Errors. Those about an incoming message are what the PeerManager sees for a custom message.
var (
	// ErrRateLimited: the peer sent more than Rate/Burst allow.
	ErrRateLimited = errors.New("proxy: peer exceeded its message rate")
	// ErrTooManyPeers: MaxPeers peers already have state.
	ErrTooManyPeers = errors.New("proxy: too many peers")
	// ErrPeerCutOff: an earlier channel message of this connection was dropped; the peer is being
	// disconnected and everything it sends until then is dropped.
	ErrPeerCutOff = errors.New("proxy: peer cut off after a dropped message")
	// ErrUnknownEvenType: a custom message of an even type no handler is registered for (BOLT 1).
	ErrUnknownEvenType = errors.New("proxy: unknown even custom message type")
	// ErrQueueFull: Send, or a reply, would exceed MaxQueuedPerPeer or MaxQueued.
	ErrQueueFull = errors.New("proxy: custom message queue full")
	// ErrInvalidMessage: Send or Handle with a nil peer, a type lnwire knows, or a payload over
	// MaxCustomPayload bytes.
	ErrInvalidMessage = errors.New("proxy: invalid custom message")
)

// MaxCustomPayload is the largest custom message payload, in bytes: a Lightning message is at most
// 65535 bytes with its 2-byte type.
const MaxCustomPayload = 65533

// PeerStats are the counters of one peer since its state was created.
type PeerStats struct {
	// NodeID is the peer's node id, hex (33 bytes compressed).
	NodeID string
	// In counts the messages received (channel and custom), Out the messages handed to the PeerManager
	// for it, Dropped the received messages not given to a handler (filter, rate limit, cut off, full
	// reply queue counts too).
	In, Out, Dropped uint64
}

// peerState is what the proxy keeps per peer. Guarded by Proxy.mu.
type peerState struct {
	stats  PeerStats
	tokens float64
	last   time.Time
	cutOff error
	warned bool // the disconnect for cutOff was handed to the PeerManager
	queue  []*lnwire.UnknownMessage
}

// Proxy holds the per-peer state its ChannelHandler and CustomHandler share. Create it with New.
type Proxy struct {
	opts Options
	log  *slog.Logger

	mu       sync.Mutex
	peers    map[[33]byte]*peerState
	queued   int  // custom messages queued, all peers
	tracking bool // a ChannelHandler reports connections
}

// New returns a Proxy with opts.
func New(opts Options) *Proxy {
	opts = opts.withDefaults()
	return &Proxy{opts: opts, log: opts.Logger, peers: map[[33]byte]*peerState{}}
}

func keyOf(id *btcec.PublicKey) (k [33]byte) {
	copy(k[:], id.SerializeCompressed())
	return k
}

func idHex(id *btcec.PublicKey) string { return hex.EncodeToString(id.SerializeCompressed()) }

// state returns the peer's state, creating it if create is set and MaxPeers allows; nil otherwise.
// Called with mu held.
func (p *Proxy) state(id *btcec.PublicKey, create bool) *peerState {
	k := keyOf(id)
	s := p.peers[k]
	if s == nil && create && len(p.peers) < p.opts.MaxPeers {
		s = &peerState{stats: PeerStats{NodeID: hex.EncodeToString(k[:])}, tokens: float64(p.opts.Burst)}
		s.last = p.opts.Clock()
		p.peers[k] = s
	}
	return s
}

// admit counts an incoming message and applies the cut-off and the rate limit (not the filter, which
// runs without the lock). Called with mu held.
func (p *Proxy) admit(id *btcec.PublicKey) (*peerState, error) {
	s := p.state(id, !p.tracking)
	if s == nil {
		return nil, ErrTooManyPeers
	}
	s.stats.In++
	if s.cutOff != nil {
		s.stats.Dropped++
		return s, ErrPeerCutOff
	}
	if p.opts.Rate > 0 {
		// A clock that goes back refills nothing and keeps the later time.
		if now := p.opts.Clock(); now.After(s.last) {
			s.tokens = min(float64(p.opts.Burst), s.tokens+now.Sub(s.last).Seconds()*p.opts.Rate)
			s.last = now
		}
		if s.tokens < 1 {
			s.stats.Dropped++
			return s, ErrRateLimited
		}
		s.tokens--
	}
	return s, nil
}

// receive runs admit and the filter on one incoming message and logs it. A non-nil error means the
// message is dropped (and counted so).
func (p *Proxy) receive(id *btcec.PublicKey, msg lnwire.Message) error {
	p.mu.Lock()
	_, err := p.admit(id)
	p.mu.Unlock()
	if err == nil && p.opts.Filter != nil {
		if err = p.opts.Filter(id, msg); err != nil {
			p.countDropped(id)
		}
	}
	if err != nil {
		p.log.Debug("message dropped", "peer", idHex(id), "type", uint16(msg.MsgType()), "err", err)
		return err
	}
	if p.debug() {
		p.log.Debug("message in", "peer", idHex(id), "type", uint16(msg.MsgType()), "size", msgSize(msg))
	}
	return nil
}

func (p *Proxy) countDropped(id *btcec.PublicKey) {
	p.mu.Lock()
	if s := p.state(id, false); s != nil {
		s.stats.Dropped++
	}
	p.mu.Unlock()
}

// countOut counts and logs a message handed to the PeerManager.
func (p *Proxy) countOut(id *btcec.PublicKey, msg lnwire.Message) {
	if id == nil || msg == nil {
		return
	}
	p.mu.Lock()
	if s := p.state(id, false); s != nil {
		s.stats.Out++
	}
	p.mu.Unlock()
	if p.debug() {
		p.log.Debug("message out", "peer", idHex(id), "type", uint16(msg.MsgType()), "size", msgSize(msg))
	}
}

// debug says whether debug lines are logged (the size of a channel message costs an encoding).
func (p *Proxy) debug() bool { return p.log.Enabled(context.Background(), slog.LevelDebug) }

// Stats returns the peer's counters, and false if the proxy keeps no state for it.
func (p *Proxy) Stats(peer *btcec.PublicKey) (PeerStats, bool) {
	if peer == nil {
		return PeerStats{}, false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if s := p.state(peer, false); s != nil {
		return s.stats, true
	}
	return PeerStats{}, false
}

// AllStats returns the counters of every peer with state, in no particular order.
func (p *Proxy) AllStats() []PeerStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]PeerStats, 0, len(p.peers))
	for _, s := range p.peers {
		out = append(out, s.stats)
	}
	return out
}

// msgSize is the encoded size of msg in bytes (type included), or 0 if it does not encode.
func msgSize(msg lnwire.Message) int {
	if u, ok := msg.(*lnwire.UnknownMessage); ok {
		return 2 + len(u.Payload)
	}
	b, err := lnwire.EncodeMessage(msg)
	if err != nil {
		return 0
	}
	return len(b)
}
