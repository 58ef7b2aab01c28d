// Package peermanager runs Lightning peer connections for a host that owns the sockets: the BOLT 8
// handshake and encryption, the BOLT 1 `init` exchange, ping/pong liveness, and the routing of messages
// to the channel and custom message handlers. It has the shape of LDK's PeerManager.
//
// The package never starts a goroutine, reads the clock, sleeps or opens a socket. The host:
//   - accepts or dials TCP connections and registers them with NewInboundConnection or
//     NewOutboundConnection (writing the returned act one itself);
//   - passes every chunk it reads to ReadEvent, stops reading while ReadEvent asks it to pause, and
//     resumes when a SendData call says so;
//   - calls WriteBufferSpaceAvail when a socket that refused data becomes writable again;
//   - calls SocketDisconnected when a connection closes by itself;
//   - calls ProcessEvents after it has fed data or changed channel state (it moves the handlers'
//     outgoing messages onto the connections), and TimerTickOccurred periodically (LDK uses every 10
//     seconds) to drive pings and time-outs.
//
// All methods are safe for concurrent use, including ReadEvent on different connections at once.
package peermanager

import (
	"errors"
	"log/slog"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/lnwire"
)

// SocketDescriptor is the host's handle on one connection.
//
// Descriptors are used as map keys, so the dynamic type must be comparable and two descriptors for
// the same connection must compare equal (for example a pointer to a per-connection struct, or an
// integer connection id). A descriptor whose type is not comparable is refused with
// ErrDescriptorNotComparable.
type SocketDescriptor interface {
	// SendData writes as much of data as the socket accepts now, without blocking, and returns the
	// number of bytes taken (0 to len(data)). If it takes fewer than len(data) bytes, the host must call
	// WriteBufferSpaceAvail once the socket is writable again. If resumeRead is true and reads on the
	// socket were paused (ReadEvent returned pauseRead), the host resumes reading. data may be empty
	// when the call only resumes reading. SendData must not call back into the PeerManager: it is
	// called with the connection's lock held.
	SendData(data []byte, resumeRead bool) int
	// DisconnectSocket closes the connection. The PeerManager has already forgotten it, so the host must
	// NOT then call SocketDisconnected for it. It must not call back into the PeerManager.
	DisconnectSocket()
}

// ChannelMessageHandler receives the channel messages of connected peers. It is implemented by
// channelmanager.ChannelManager. It must not call into the PeerManager (the PeerManager holds no lock
// while calling it, but ordering guarantees assume it does not).
type ChannelMessageHandler interface {
	// HandleChannelMessage is called with every BOLT 2 message, and every `error` and `warning`, that
	// a connected peer sends, in the order received.
	HandleChannelMessage(theirNodeID *btcec.PublicKey, msg lnwire.Message)
	// PeerConnected is called once the peer's `init` has been received and accepted, before any of its
	// messages. Returning an error disconnects the peer (PeerDisconnected is then not called).
	PeerConnected(theirNodeID *btcec.PublicKey, init *lnwire.Init, inbound bool) error
	// PeerDisconnected is called once a peer for which PeerConnected returned nil has gone.
	PeerDisconnected(theirNodeID *btcec.PublicKey)
	// ProvidedInitFeatures returns the features this handler wants advertised in `init` to the peer.
	ProvidedInitFeatures(theirNodeID *btcec.PublicKey) *lnwire.FeatureVector
	// GetAndClearPendingMsgEvents returns and forgets the messages waiting to be sent; ProcessEvents
	// calls it.
	GetAndClearPendingMsgEvents() []events.MessageSendEvent
}

// CustomMessage is a custom (application-defined) message to or from a peer.
type CustomMessage struct {
	// NodeID is the peer's node public key.
	NodeID *btcec.PublicKey
	// Msg is the message; its Type must be one lnwire does not know (normally 32768-65535, BOLT 1).
	Msg *lnwire.UnknownMessage
}

// CustomMessageHandler handles the message types that lnwire does not know (other than the BOLT 7 gossip
// types 256-265, which are ignored for now). It must not call into the PeerManager.
type CustomMessageHandler interface {
	// HandleCustomMessage is called with every connected peer's message of a type lnwire does not know.
	// Returning an error means the handler does not accept it: for an even type (BOLT 1, "it's OK to
	// be odd") the peer is then sent a `warning` and disconnected; an odd type is just ignored.
	HandleCustomMessage(theirNodeID *btcec.PublicKey, msg *lnwire.UnknownMessage) error
	// GetAndClearPendingCustomMessages returns and forgets the custom messages waiting to be sent;
	// ProcessEvents calls it.
	GetAndClearPendingCustomMessages() []CustomMessage
	// ProvidedInitFeatures returns the features this handler wants advertised in `init` to the peer.
	ProvidedInitFeatures(theirNodeID *btcec.PublicKey) *lnwire.FeatureVector
}

// MessageHandler bundles the handlers. A nil member is replaced by a handler that ignores everything:
// with no channel handler channel messages are dropped; with no custom handler an unknown even message
// disconnects the peer and an unknown odd one is ignored.
type MessageHandler struct {
	Chan   ChannelMessageHandler
	Custom CustomMessageHandler
	// Route takes the BOLT 7 gossip messages (router.P2PGossipSync); nil ignores them.
	Route RoutingMessageHandler
}

// RoutingMessageHandler receives the gossip messages (BOLT 7 types 256-265) of connected peers and
// supplies the gossip to send them (LDK's RoutingMessageHandler; router.P2PGossipSync implements it).
// It must not call into the PeerManager.
type RoutingMessageHandler interface {
	// HandleRoutingMessage is called with every gossip message a connected peer sends, in order. A
	// *GossipError says what to do about a bad one (ignore it, warn, or disconnect, per BOLT 7); any
	// other error is answered with a warning.
	HandleRoutingMessage(theirNodeID *btcec.PublicKey, msg lnwire.Message) error
	// PeerConnected is called once the peer's `init` is accepted, before its messages; the handler
	// may queue its first queries or gossip_timestamp_filter. An error disconnects the peer.
	PeerConnected(theirNodeID *btcec.PublicKey, init *lnwire.Init, inbound bool) error
	// PeerDisconnected is called once a peer for which PeerConnected returned nil has gone.
	PeerDisconnected(theirNodeID *btcec.PublicKey)
	// ProvidedInitFeatures returns the features this handler wants advertised (gossip_queries).
	ProvidedInitFeatures(theirNodeID *btcec.PublicKey) *lnwire.FeatureVector
	// PendingMessages returns, and forgets, the gossip waiting for one peer, at most budgetBytes of
	// it (encoded sizes): ProcessEvents passes what the peer's outbound buffer can take before it
	// pauses, so that a slow peer holds the gossip in the handler, which bounds it.
	PendingMessages(theirNodeID *btcec.PublicKey, budgetBytes int) []lnwire.Message
	// BroadcastAnnouncement takes gossip we generated (our channel_announcement, channel_update or
	// node_announcement): the handler applies it like a peer's and relays it to every peer, through
	// PendingMessages. ProcessEvents calls it with the channel handler's Broadcast events, and
	// BroadcastNodeAnnouncement with our node_announcement. An error says the handler refused it.
	BroadcastAnnouncement(msg lnwire.Message) error
}

// GossipAction is what the PeerManager does about a gossip message the handler refused.
type GossipAction int

const (
	// GossipIgnore: nothing (a duplicate, a stale update: common and harmless).
	GossipIgnore GossipAction = iota
	// GossipWarn: send the peer a `warning` and keep the connection.
	GossipWarn
	// GossipDisconnect: send a `warning` and disconnect (BOLT 7's "MAY fail the connection").
	GossipDisconnect
)

// GossipError is a RoutingMessageHandler's refusal of a message, with what to do about it.
type GossipError struct {
	Action GossipAction
	Err    error
}

func (e *GossipError) Error() string { return e.Err.Error() }
func (e *GossipError) Unwrap() error { return e.Err }

// NodeSigner gives access to the node key. keys.KeysManager satisfies it.
type NodeSigner interface {
	// GetNodeID returns the node public key.
	GetNodeID() *btcec.PublicKey
	// ECDH returns SHA-256 of the compressed (33-byte) point nodeSecret·pub, the BOLT 8 ECDH.
	ECDH(pub *btcec.PublicKey) ([32]byte, error)
	// SignGossipMessage returns a low-S ECDSA signature with the node key of the double-SHA256 of
	// data, the signed part of our node_announcement (BOLT 7, BroadcastNodeAnnouncement).
	SignGossipMessage(data []byte) (*ecdsa.Signature, error)
}

// EntropySource supplies secure random bytes (for handshake ephemeral keys). keys.KeysManager satisfies it.
type EntropySource interface {
	GetSecureRandomBytes() [32]byte
}

// PeerDetails describes a connected peer (one whose `init` has been accepted).
type PeerDetails struct {
	// NodeID is the peer's node public key.
	NodeID *btcec.PublicKey
	// Inbound is true if the peer connected to us.
	Inbound bool
	// InitFeatures is the peer's combined `init` features (features OR globalfeatures).
	InitFeatures *lnwire.FeatureVector
}

// Default configuration values.
const (
	DefaultPingIntervalTicks        = 1
	DefaultPongTimeoutTicks         = 1
	DefaultMaxPongWaitTicks         = 5
	DefaultHandshakeTimeoutTicks    = 2
	DefaultOutboundBufferPauseBytes = 128 * 1024
	DefaultMaxOutboundBufferBytes   = 4 * 1024 * 1024
)

// Config tunes a PeerManager. Zero values take the defaults.
type Config struct {
	// ChainHashes are the chains we are interested in, sent as the `networks` TLV of `init` (BOLT 1).
	// A peer whose `init` lists networks none of which is here is disconnected; a peer that sends no
	// `networks` TLV is accepted. Default: the Bitcoin mainnet genesis hash.
	ChainHashes []chainhash.Hash
	// PingIntervalTicks: a connected peer that has sent no message for this many consecutive timer
	// ticks is sent a `ping`. Default 1 (a ping at every tick with no traffic).
	PingIntervalTicks uint32
	// PongTimeoutTicks: a `ping` still unanswered after this many ticks disconnects the peer. Default 1
	// (the pong must arrive before the next tick).
	PongTimeoutTicks uint32
	// MaxPongWaitTicks: while the peer keeps sending other messages (its pong may be queued behind
	// them) the wait is extended, up to this many ticks in all. Default 5.
	MaxPongWaitTicks uint32
	// HandshakeTimeoutTicks: a connection that has not completed the handshake and `init` exchange after
	// this many ticks is closed. Default 2.
	HandshakeTimeoutTicks uint32
	// OutboundBufferPauseBytes: when a peer's queued outgoing bytes reach this, its messages are no
	// longer encrypted into the socket buffer and ReadEvent asks the host to pause reading from it until
	// the queue drains below it. Default 128 KiB.
	OutboundBufferPauseBytes int
	// MaxOutboundBufferBytes: if answering the peer (a `pong`, a `warning`) would queue more than this
	// many bytes, the peer is disconnected as abusive. Messages from the handlers are never dropped.
	// Default 4 MiB.
	MaxOutboundBufferBytes int
}

func (c Config) withDefaults() Config {
	if len(c.ChainHashes) == 0 {
		c.ChainHashes = []chainhash.Hash{*chaincfg.MainNetParams.GenesisHash}
	} else {
		c.ChainHashes = append([]chainhash.Hash(nil), c.ChainHashes...)
	}
	if c.PingIntervalTicks == 0 {
		c.PingIntervalTicks = DefaultPingIntervalTicks
	}
	if c.PongTimeoutTicks == 0 {
		c.PongTimeoutTicks = DefaultPongTimeoutTicks
	}
	if c.MaxPongWaitTicks == 0 {
		c.MaxPongWaitTicks = DefaultMaxPongWaitTicks
	}
	if c.MaxPongWaitTicks < c.PongTimeoutTicks {
		c.MaxPongWaitTicks = c.PongTimeoutTicks
	}
	if c.HandshakeTimeoutTicks == 0 {
		c.HandshakeTimeoutTicks = DefaultHandshakeTimeoutTicks
	}
	if c.OutboundBufferPauseBytes <= 0 {
		c.OutboundBufferPauseBytes = DefaultOutboundBufferPauseBytes
	}
	if c.MaxOutboundBufferBytes <= 0 {
		c.MaxOutboundBufferBytes = DefaultMaxOutboundBufferBytes
	}
	if c.MaxOutboundBufferBytes < c.OutboundBufferPauseBytes {
		c.MaxOutboundBufferBytes = c.OutboundBufferPauseBytes
	}
	return c
}

// Errors. ReadEvent's errors mean the connection is finished: the host closes the socket and does not
// call SocketDisconnected. Errors caused by the peer wrap one of these sentinels (and, where relevant,
// the underlying noise or lnwire error).
var (
	// ErrUnknownDescriptor: the descriptor is not (or no longer) registered.
	ErrUnknownDescriptor = errors.New("peermanager: unknown socket descriptor")
	// ErrDuplicateDescriptor: NewInboundConnection or NewOutboundConnection got a descriptor already in use.
	ErrDuplicateDescriptor = errors.New("peermanager: socket descriptor already registered")
	// ErrDescriptorNotComparable: the descriptor's type cannot be a map key.
	ErrDescriptorNotComparable = errors.New("peermanager: socket descriptor type is not comparable")
	// ErrInvalidArgument: a nil node id or descriptor.
	ErrInvalidArgument = errors.New("peermanager: invalid argument")
	// ErrNoEntropy: the entropy source kept returning bytes that are not a valid private key.
	ErrNoEntropy = errors.New("peermanager: entropy source gave no valid ephemeral key")
	// ErrHandshakeFailed: the BOLT 8 handshake failed (wraps the noise error).
	ErrHandshakeFailed = errors.New("peermanager: handshake failed")
	// ErrDecryptFailed: an incoming message failed authentication (wraps the noise error).
	ErrDecryptFailed = errors.New("peermanager: message decryption failed")
	// ErrMessageBeforeInit: the first message after the handshake was not `init` (BOLT 1).
	ErrMessageBeforeInit = errors.New("peermanager: message received before init")
	// ErrDuplicateInit: a second `init` arrived on the connection.
	ErrDuplicateInit = errors.New("peermanager: duplicate init")
	// ErrUnknownRequiredFeature: the peer's `init` sets an even feature bit we do not know (BOLT 1).
	ErrUnknownRequiredFeature = errors.New("peermanager: peer requires unknown features")
	// ErrBadFeatureDependency: the peer's `init` sets a feature without one it depends on (BOLT 9).
	ErrBadFeatureDependency = errors.New("peermanager: peer features miss a dependency")
	// ErrNoCommonNetwork: the peer's `networks` share no chain with ours (BOLT 1).
	ErrNoCommonNetwork = errors.New("peermanager: no common network with peer")
	// ErrPeerRejected: the channel handler's PeerConnected returned an error (wrapped).
	ErrPeerRejected = errors.New("peermanager: peer rejected by handler")
	// ErrInvalidMessage: a message of a known type failed to decode (wraps the lnwire error).
	ErrInvalidMessage = errors.New("peermanager: invalid message")
	// ErrUnknownEvenMessage: an even message type nobody handles (BOLT 1, "it's OK to be odd").
	ErrUnknownEvenMessage = errors.New("peermanager: unknown even message type")
	// ErrBadPong: a `pong` whose length differs from the num_pong_bytes we asked for.
	ErrBadPong = errors.New("peermanager: pong of the wrong length")
	// ErrPongTimeout: the peer did not answer a `ping` in time (only logged; the socket is closed).
	ErrPongTimeout = errors.New("peermanager: ping not answered")
	// ErrHandshakeTimeout: the handshake or `init` exchange took too long (only logged).
	ErrHandshakeTimeout = errors.New("peermanager: handshake timed out")
	// ErrOutboundBufferFull: the peer made us queue more than MaxOutboundBufferBytes.
	ErrOutboundBufferFull = errors.New("peermanager: outbound buffer limit exceeded")
	// ErrPeerNotConnected: SendCustomMessage to a node with no connected peer.
	ErrPeerNotConnected = errors.New("peermanager: peer not connected")
	// ErrInvalidCustomMessage: SendCustomMessage with a nil message or a type lnwire knows.
	ErrInvalidCustomMessage = errors.New("peermanager: invalid custom message")
	// ErrReplaced: the connection was replaced by a newer one to the same node (only logged).
	ErrReplaced = errors.New("peermanager: replaced by a newer connection to the same node")
	// ErrBadGossip: the routing handler asked to disconnect over a gossip message (wraps its error).
	ErrBadGossip = errors.New("peermanager: bad gossip")
	// ErrPeerClosed: the connection was closed while this call was in progress.
	ErrPeerClosed = errors.New("peermanager: connection closed")
)

// ignoringChanHandler is used when MessageHandler.Chan is nil.
type ignoringChanHandler struct{}

func (ignoringChanHandler) HandleChannelMessage(*btcec.PublicKey, lnwire.Message) {}
func (ignoringChanHandler) PeerConnected(*btcec.PublicKey, *lnwire.Init, bool) error {
	return nil
}
func (ignoringChanHandler) PeerDisconnected(*btcec.PublicKey) {}
func (ignoringChanHandler) ProvidedInitFeatures(*btcec.PublicKey) *lnwire.FeatureVector {
	return lnwire.NewFeatureVector()
}
func (ignoringChanHandler) GetAndClearPendingMsgEvents() []events.MessageSendEvent { return nil }

// discardLogger is used when New gets a nil logger.
func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }
