package peermanager

import (
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"sync"
	"sync/atomic"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/lnkit/lnkit/internal/noise"
	"github.com/lnkit/lnkit/lnwire"
)

// Reasons for closing a connection that are only logged.
var (
	errDisconnectRequested = errors.New("peermanager: disconnect requested")
	errSocketClosed        = errors.New("peermanager: socket closed by host")
)

// PeerManager owns the state of every connection. Create it with New.
//
// Locking: mu guards the descriptor and node-id maps; each peer has its own lock. A peer lock may be
// taken before mu, never after, and two peer locks are never held together. Handlers are called with
// no lock held. deliverMu (the per-node delivery queues) is a leaf lock. SendData is called with the
// peer's lock held, so it must not call back in.
//
// Ordering: the calls to the channel handler for one node id (PeerConnected, the messages,
// PeerDisconnected) go through one queue per node id and are made by one goroutine at a time, in the
// order the events happened, even when several goroutines call ReadEvent, or a new connection replaces
// an old one to the same node.
type PeerManager struct {
	chanHandler   ChannelMessageHandler
	customHandler CustomMessageHandler  // nil: no custom handler
	routeHandler  RoutingMessageHandler // nil: gossip ignored
	signer        NodeSigner
	entropy       EntropySource
	cfg           Config
	log           *slog.Logger
	ourNodeID     *btcec.PublicKey

	mu     sync.RWMutex
	peers  map[SocketDescriptor]*peer
	byNode map[nodeKey]*peer

	deliverMu sync.Mutex
	queues    map[nodeKey]*nodeQueue

	eventsMu    sync.Mutex
	eventsRerun atomic.Bool

	// nodeAnnMu guards lastNodeAnnTS, the timestamp of our last node_announcement (a leaf lock).
	nodeAnnMu     sync.Mutex
	lastNodeAnnTS uint32
}

// New returns a PeerManager. handler's nil members ignore messages (see MessageHandler); nodeSigner
// performs the BOLT 8 ECDH with the node key and gives our node id; entropy supplies the handshake
// ephemeral keys; logger may be nil (nothing is logged). New panics if nodeSigner or entropy is nil
// (a programming error).
func New(handler MessageHandler, nodeSigner NodeSigner, entropy EntropySource, cfg Config,
	logger *slog.Logger) *PeerManager {

	if nodeSigner == nil || entropy == nil {
		panic("peermanager: New needs a NodeSigner and an EntropySource")
	}
	if logger == nil {
		logger = discardLogger()
	}
	pm := &PeerManager{
		chanHandler:   handler.Chan,
		customHandler: handler.Custom,
		routeHandler:  handler.Route,
		signer:        nodeSigner,
		entropy:       entropy,
		cfg:           cfg.withDefaults(),
		log:           logger,
		ourNodeID:     nodeSigner.GetNodeID(),
		peers:         make(map[SocketDescriptor]*peer),
		byNode:        make(map[nodeKey]*peer),
		queues:        make(map[nodeKey]*nodeQueue),
	}
	if pm.chanHandler == nil {
		pm.chanHandler = ignoringChanHandler{}
	}
	if pm.ourNodeID == nil {
		panic("peermanager: NodeSigner.GetNodeID returned nil")
	}
	return pm
}

// NewOutboundConnection registers a connection we opened to theirNodeID and returns act one of the
// handshake (50 bytes), which the host must write to the socket itself. If a connection to the same node
// exists when this one completes its handshake, the older one is closed (see ReadEvent).
// Errors: ErrInvalidArgument (nil or our own node id), ErrDescriptorNotComparable, ErrDuplicateDescriptor, ErrNoEntropy.
func (pm *PeerManager) NewOutboundConnection(theirNodeID *btcec.PublicKey, d SocketDescriptor) ([]byte, error) {
	if theirNodeID == nil || theirNodeID.IsEqual(pm.ourNodeID) {
		return nil, ErrInvalidArgument
	}
	if err := checkDescriptor(d); err != nil {
		return nil, err
	}
	eph, err := pm.ephemeral()
	if err != nil {
		return nil, err
	}
	hs, act1, err := noise.NewInitiator(pm.ourNodeID, pm.signer.ECDH, eph, theirNodeID)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrHandshakeFailed, err)
	}
	p := &peer{desc: d, hs: hs, nodeID: theirNodeID, key: keyOf(theirNodeID)}
	if err := pm.register(p); err != nil {
		return nil, err
	}
	return act1, nil
}

// NewInboundConnection registers a connection a peer opened to us; its first bytes will be act one.
// Errors: ErrInvalidArgument, ErrDescriptorNotComparable, ErrDuplicateDescriptor, ErrNoEntropy.
func (pm *PeerManager) NewInboundConnection(d SocketDescriptor) error {
	if err := checkDescriptor(d); err != nil {
		return err
	}
	eph, err := pm.ephemeral()
	if err != nil {
		return err
	}
	hs, err := noise.NewResponder(pm.ourNodeID, pm.signer.ECDH, eph)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrHandshakeFailed, err)
	}
	return pm.register(&peer{desc: d, inbound: true, hs: hs})
}

func checkDescriptor(d SocketDescriptor) error {
	if d == nil {
		return ErrInvalidArgument
	}
	if !reflect.TypeOf(d).Comparable() {
		return ErrDescriptorNotComparable
	}
	return nil
}

func (pm *PeerManager) ephemeral() (*btcec.PrivateKey, error) {
	for range 8 {
		if k, err := noise.EphemeralKeyFromBytes(pm.entropy.GetSecureRandomBytes()); err == nil {
			return k, nil
		}
	}
	return nil, ErrNoEntropy
}

func (pm *PeerManager) register(p *peer) error {
	pm.mu.Lock()
	defer pm.mu.Unlock()
	if _, ok := pm.peers[p.desc]; ok {
		return ErrDuplicateDescriptor
	}
	pm.peers[p.desc] = p
	return nil
}

func (pm *PeerManager) lookup(d SocketDescriptor) *peer {
	if checkDescriptor(d) != nil {
		return nil
	}
	pm.mu.RLock()
	defer pm.mu.RUnlock()
	return pm.peers[d]
}

// ReadEvent processes bytes read from the socket: handshake acts, then encrypted messages. Replies
// (handshake acts, `init`, `pong`) are written through SendData before it returns; the handlers'
// replies are sent by ProcessEvents, which the host should call next.
//
// pauseRead asks the host to stop reading from this socket until a SendData call passes resumeRead:
// our queue of bytes for the peer has reached Config.OutboundBufferPauseBytes.
//
// A non-nil error means the connection is finished (a handshake or decryption failure, a protocol
// violation, a rejected peer, or ErrUnknownDescriptor): the PeerManager has already forgotten it, so the
// host closes the socket and does not call SocketDisconnected. Where BOLT 1 asks for it a `warning` is
// written before returning.
//
// When a handshake completes for a node that already has a connection, the older connection is closed
// (DisconnectSocket) and the newer kept.
func (pm *PeerManager) ReadEvent(d SocketDescriptor, data []byte) (pauseRead bool, err error) {
	p := pm.lookup(d)
	if p == nil {
		return false, ErrUnknownDescriptor
	}
	pause, err := pm.readEvent(p, data)
	key, hasKey := p.nodeKey()
	if err != nil {
		pm.log.Debug("closing connection after read error", keyAttr(key, hasKey), slog.Any("err", err))
		pm.failPeer(p, err, false)
		if hasKey {
			pm.drain(key, nil)
		}
		return false, err
	}
	if hasKey {
		if err := pm.drain(key, p); err != nil {
			return false, err
		}
	}
	return pause, nil
}

// nodeKey returns the peer's node key once known.
func (p *peer) nodeKey() (nodeKey, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.key, p.nodeID != nil
}

func (pm *PeerManager) readEvent(p *peer, data []byte) (bool, error) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return false, ErrPeerClosed
	}
	switch p.state {
	case stateHandshake:
		rest, done, err := pm.advanceHandshake(p, data)
		if err != nil || !done {
			p.flush(pm.cfg.OutboundBufferPauseBytes)
			p.mu.Unlock()
			return false, err
		}
		p.mu.Unlock()
		features, err := pm.handshakeComplete(p)
		if err != nil {
			return false, err
		}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return false, ErrPeerClosed
		}
		// Our init goes first, then whatever followed act three, including bytes that concurrent
		// ReadEvent calls parked meanwhile.
		p.ourFeat = features
		p.state = stateAwaitInit
		if err := p.queueMessage(&lnwire.Init{Features: features, Networks: pm.cfg.ChainHashes}); err != nil {
			p.mu.Unlock()
			return false, fmt.Errorf("peermanager: encoding our init: %w", err)
		}
		if len(p.early) > 0 {
			data = append(append([]byte(nil), rest...), p.early...)
			p.early = nil
		} else {
			data = rest
		}
	case stateHandshakeDone:
		// Another ReadEvent on this connection is finishing the handshake; it will process these.
		p.early = append(p.early, data...)
		p.mu.Unlock()
		return false, nil
	}
	err := pm.processData(p, data)
	p.flush(pm.cfg.OutboundBufferPauseBytes)
	pause := false
	if err == nil && p.queuedBytes() >= pm.cfg.OutboundBufferPauseBytes {
		p.readPaused = true
		pause = true
	}
	p.mu.Unlock()
	return pause, err
}

// advanceHandshake feeds handshake bytes, queueing our acts. It returns the bytes left after the last
// act once the handshake completes. Called with p.mu held.
func (pm *PeerManager) advanceHandshake(p *peer, data []byte) ([]byte, bool, error) {
	for len(data) > 0 {
		need := p.hs.NextActSize()
		take := min(need-len(p.hsBuf), len(data))
		p.hsBuf = append(p.hsBuf, data[:take]...)
		data = data[take:]
		if len(p.hsBuf) < need {
			return nil, false, nil
		}
		out, done, err := p.hs.ReadAct(p.hsBuf)
		p.hsBuf = nil
		if err != nil {
			return nil, false, fmt.Errorf("%w: %w", ErrHandshakeFailed, err)
		}
		p.queueRaw(out)
		if done {
			p.tr = p.hs.Transport()
			p.nodeID = p.hs.RemoteStatic()
			p.key = keyOf(p.nodeID)
			p.hs = nil
			p.state = stateHandshakeDone
			return data, true, nil
		}
	}
	return nil, false, nil
}

// handshakeComplete registers the peer under its node id (closing an older connection to the same
// node) and asks the handlers for the features of our `init`. Called without locks, after the
// handshake has set p.nodeID and p.key (which do not change afterwards).
func (pm *PeerManager) handshakeComplete(p *peer) (*lnwire.FeatureVector, error) {
	if p.nodeID.IsEqual(pm.ourNodeID) {
		return nil, fmt.Errorf("%w: connection to ourselves", ErrHandshakeFailed)
	}
	pm.mu.Lock()
	if pm.peers[p.desc] != p {
		pm.mu.Unlock()
		return nil, ErrPeerClosed
	}
	old := pm.byNode[p.key]
	pm.byNode[p.key] = p
	pm.mu.Unlock()
	if old != nil && old != p {
		pm.log.Info("replacing older connection to the same node", pm.peerAttr(p))
		pm.failPeer(old, ErrReplaced, true)
		pm.drain(p.key, nil)
	}

	pm.log.Debug("handshake complete", pm.peerAttr(p), slog.Bool("inbound", p.inbound))
	return pm.providedFeatures(p.nodeID), nil
}

func (pm *PeerManager) providedFeatures(nodeID *btcec.PublicKey) *lnwire.FeatureVector {
	f := pm.chanHandler.ProvidedInitFeatures(nodeID)
	if pm.routeHandler != nil {
		f = f.Union(pm.routeHandler.ProvidedInitFeatures(nodeID))
	}
	if pm.customHandler != nil {
		return f.Union(pm.customHandler.ProvidedInitFeatures(nodeID))
	}
	return f.Union()
}

// processData decrypts data and handles every complete message. Called with p.mu held.
func (pm *PeerManager) processData(p *peer, data []byte) error {
	msgs, derr := p.tr.Decrypt(data)
	for _, pt := range msgs {
		if err := pm.handleMessage(p, pt); err != nil {
			return err
		}
	}
	if derr != nil {
		return fmt.Errorf("%w: %w", ErrDecryptFailed, derr)
	}
	return nil
}

// isGossip reports whether t is a BOLT 7 message for the routing handler: types 256-265 except
// announcement_signatures (259), which is exchanged with a channel's peer and goes to the channel
// handler (as in LDK).
func isGossip(t lnwire.MessageType) bool { return t >= 256 && t <= 265 && t != 259 }

// handleMessage applies BOLT 1 to one decrypted message. Called with p.mu held.
func (pm *PeerManager) handleMessage(p *peer, plaintext []byte) error {
	p.receivedSinceTick = true
	msg, decErr := lnwire.DecodeMessage(plaintext)
	if p.state == stateAwaitInit {
		if decErr != nil {
			pm.queueWarning(p, "invalid init")
			return fmt.Errorf("%w: %w", ErrInvalidMessage, decErr)
		}
		init, ok := msg.(*lnwire.Init)
		if !ok {
			return fmt.Errorf("%w: got %v", ErrMessageBeforeInit, msg.MsgType())
		}
		return pm.handleInit(p, init)
	}
	if typ, ok := lnwire.PeekMessageType(plaintext); ok && isGossip(typ) && pm.routeHandler == nil {
		if typ == lnwire.MsgChannelUpdate && decErr == nil {
			// The channel handler still learns its counterparties' forwarding parameters.
			pm.enqueue(p.key, delivery{p: p, kind: deliverChannelMsg, msg: msg})
			return nil
		}
		// Without a routing handler, gossip is not ours to judge, well-formed or not.
		pm.log.Debug("ignoring gossip message", pm.peerAttr(p), slog.Any("type", typ))
		return nil
	}
	if decErr != nil {
		pm.queueWarning(p, "invalid message")
		return fmt.Errorf("%w: %w", ErrInvalidMessage, decErr)
	}
	if isGossip(msg.MsgType()) {
		if msg.MsgType() == lnwire.MsgChannelUpdate {
			// channel_update goes to the channel handler too (LDK's handle_channel_update): the
			// counterparty's update of a private channel is known to no routing handler.
			pm.enqueue(p.key, delivery{p: p, kind: deliverChannelMsg, msg: msg})
		}
		pm.enqueue(p.key, delivery{p: p, kind: deliverRoutingMsg, msg: msg})
		return nil
	}
	switch m := msg.(type) {
	case *lnwire.Init:
		return ErrDuplicateInit
	case *lnwire.Ping:
		if m.NumPongBytes > lnwire.MaxPongBytes {
			return nil // BOLT 1: no pong is due
		}
		if p.queuedBytes()+int(m.NumPongBytes) > pm.cfg.MaxOutboundBufferBytes {
			return fmt.Errorf("%w: answering pings", ErrOutboundBufferFull)
		}
		return p.queueMessage(&lnwire.Pong{Ignored: make([]byte, m.NumPongBytes)})
	case *lnwire.Pong:
		if !p.awaitingPong {
			pm.log.Debug("ignoring unsolicited pong", pm.peerAttr(p))
			return nil
		}
		if len(m.Ignored) != p.expectedPongLength {
			return fmt.Errorf("%w: %d bytes, expected %d", ErrBadPong, len(m.Ignored), p.expectedPongLength)
		}
		p.awaitingPong = false
		p.pongWaitTicks = 0
		return nil
	case *lnwire.UnknownMessage:
		if pm.customHandler == nil {
			if m.Type.IsOdd() {
				return nil
			}
			pm.queueWarning(p, fmt.Sprintf("unknown message type %d", uint16(m.Type)))
			return fmt.Errorf("%w: %d", ErrUnknownEvenMessage, uint16(m.Type))
		}
		pm.enqueue(p.key, delivery{p: p, kind: deliverCustomMsg, msg: m})
		return nil
	case *lnwire.Error:
		pm.log.Warn("peer sent error", pm.peerAttr(p), slog.String("error", m.String()))
	case *lnwire.Warning:
		pm.log.Warn("peer sent warning", pm.peerAttr(p), slog.String("warning", m.String()))
	}
	pm.enqueue(p.key, delivery{p: p, kind: deliverChannelMsg, msg: msg})
	return nil
}

// handleInit checks the peer's init (BOLT 1, "The init Message"). Called with p.mu held.
func (pm *PeerManager) handleInit(p *peer, init *lnwire.Init) error {
	theirs := init.CombinedFeatures()
	if unknown := theirs.UnknownRequiredFeatures(p.ourFeat); len(unknown) > 0 {
		pm.queueWarning(p, fmt.Sprintf("unknown required features %v", unknown))
		return fmt.Errorf("%w: %v", ErrUnknownRequiredFeature, unknown)
	}
	if err := theirs.CheckDependencies(); err != nil {
		pm.queueWarning(p, "feature dependency missing")
		return fmt.Errorf("%w: %w", ErrBadFeatureDependency, err)
	}
	if init.Networks != nil && !pm.sharesNetwork(init.Networks) {
		pm.queueWarning(p, "no common network")
		return ErrNoCommonNetwork
	}
	p.theirInit = init
	p.state = stateConnected
	p.idleTicks = 0
	pm.log.Debug("peer init accepted", pm.peerAttr(p), slog.String("features", theirs.String()))
	pm.enqueue(p.key, delivery{p: p, kind: deliverConnected})
	return nil
}

func (pm *PeerManager) sharesNetwork(theirs []chainhash.Hash) bool {
	for _, h := range theirs {
		for _, ours := range pm.cfg.ChainHashes {
			if h == ours {
				return true
			}
		}
	}
	return false
}

// queueWarning queues a `warning` about the whole connection (all-zero channel id), unless the queue is
// already over its hard limit. Called with p.mu held.
func (pm *PeerManager) queueWarning(p *peer, text string) {
	if p.tr == nil || p.queuedBytes() > pm.cfg.MaxOutboundBufferBytes {
		return
	}
	if err := p.queueMessage(&lnwire.Warning{Data: []byte(text)}); err != nil {
		pm.log.Error("encoding warning", slog.Any("err", err))
	}
}

// failPeer forgets p, queues PeerDisconnected if the handler saw it connect, and closes the socket if
// disconnectSocket. It does not drain the delivery queue; callers do. Called without locks.
func (pm *PeerManager) failPeer(p *peer, reason error, disconnectSocket bool) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	wasConnected := p.state == stateConnected
	key, hasKey := p.key, p.nodeID != nil
	p.pending, p.pendingBytes, p.outbuf, p.outOff = nil, 0, nil, 0
	attr := pm.peerAttr(p)
	p.mu.Unlock()

	pm.mu.Lock()
	if pm.peers[p.desc] == p {
		delete(pm.peers, p.desc)
	}
	if hasKey && pm.byNode[key] == p {
		delete(pm.byNode, key)
	}
	pm.mu.Unlock()

	if wasConnected {
		pm.enqueue(key, delivery{p: p, kind: deliverDisconnected})
	}
	pm.log.Info("peer disconnected", attr, slog.Any("reason", reason))
	if disconnectSocket {
		p.desc.DisconnectSocket()
	}
}

// peerAttr names the peer in logs. Called with p.mu held, or by the goroutine that set p.nodeID.
func (pm *PeerManager) peerAttr(p *peer) slog.Attr {
	return keyAttr(p.key, p.nodeID != nil)
}

func keyAttr(key nodeKey, known bool) slog.Attr {
	if !known {
		return slog.String("peer", "unknown (handshake)")
	}
	return slog.String("peer", hex.EncodeToString(key[:]))
}

func nodeIDHex(pub *btcec.PublicKey) string {
	if pub == nil {
		return "unknown"
	}
	return hex.EncodeToString(pub.SerializeCompressed())
}

// WriteBufferSpaceAvail tells the PeerManager that a socket which took less than offered by SendData
// can take more; queued data is written. Errors: ErrUnknownDescriptor (the host should close it).
func (pm *PeerManager) WriteBufferSpaceAvail(d SocketDescriptor) error {
	p := pm.lookup(d)
	if p == nil {
		return ErrUnknownDescriptor
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.awaitingWrite = false
	p.flush(pm.cfg.OutboundBufferPauseBytes)
	return nil
}

// SocketDisconnected tells the PeerManager that a connection closed (not through DisconnectSocket). The
// channel handler gets PeerDisconnected if it had seen the peer connect. Unknown descriptors are ignored.
func (pm *PeerManager) SocketDisconnected(d SocketDescriptor) {
	p := pm.lookup(d)
	if p == nil {
		return
	}
	pm.failPeer(p, errSocketClosed, false)
	if key, ok := p.nodeKey(); ok {
		pm.drain(key, nil)
	}
}

// DisconnectByNodeID closes the connection to nodeID, if any (DisconnectSocket is called).
func (pm *PeerManager) DisconnectByNodeID(nodeID *btcec.PublicKey) {
	if nodeID == nil {
		return
	}
	key := keyOf(nodeID)
	pm.mu.RLock()
	p := pm.byNode[key]
	pm.mu.RUnlock()
	if p == nil {
		return
	}
	pm.failPeer(p, errDisconnectRequested, true)
	pm.drain(key, nil)
}

// HandshakeComplete reports whether the connection d has completed the BOLT 8 handshake and the `init`
// exchange (its peer is one GetPeerNodeIDs lists); false for an unknown or closed connection. A host
// bounds with it the connections still in the handshake (per source address, say).
func (pm *PeerManager) HandshakeComplete(d SocketDescriptor) bool {
	p := pm.lookup(d)
	if p == nil {
		return false
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	return !p.closed && p.state == stateConnected
}

// GetPeerNodeIDs lists the connected peers: those whose `init` has been accepted.
func (pm *PeerManager) GetPeerNodeIDs() []PeerDetails {
	pm.mu.RLock()
	peers := make([]*peer, 0, len(pm.byNode))
	for _, p := range pm.byNode {
		peers = append(peers, p)
	}
	pm.mu.RUnlock()
	out := make([]PeerDetails, 0, len(peers))
	for _, p := range peers {
		p.mu.Lock()
		if !p.closed && p.state == stateConnected {
			out = append(out, PeerDetails{
				NodeID:       p.nodeID,
				Inbound:      p.inbound,
				InitFeatures: p.theirInit.CombinedFeatures(),
			})
		}
		p.mu.Unlock()
	}
	return out
}

// connectedPeer returns the peer registered for key (its handshake is complete); callers check that
// its init has been accepted.
func (pm *PeerManager) connectedPeer(key nodeKey) *peer {
	pm.mu.RLock()
	defer pm.mu.RUnlock()
	return pm.byNode[key]
}

// SendCustomMessage queues msg for the connected peer nodeID and writes what the socket accepts.
// Errors: ErrInvalidCustomMessage (nil, or a type lnwire knows), ErrPeerNotConnected, or the lnwire
// encoding error (e.g. lnwire.ErrMessageTooLarge).
func (pm *PeerManager) SendCustomMessage(nodeID *btcec.PublicKey, msg *lnwire.UnknownMessage) error {
	if nodeID == nil {
		return ErrInvalidArgument
	}
	if msg == nil || msg.Type.IsKnown() {
		return ErrInvalidCustomMessage
	}
	p := pm.connectedPeer(keyOf(nodeID))
	if p == nil {
		return ErrPeerNotConnected
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed || p.state != stateConnected {
		return ErrPeerNotConnected
	}
	if err := p.queueMessage(msg); err != nil {
		return err
	}
	p.flush(pm.cfg.OutboundBufferPauseBytes)
	return nil
}

// ProcessEvents pulls the handlers' outgoing messages (GetAndClearPendingMsgEvents,
// GetAndClearPendingCustomMessages), queues them on the peers' connections, disconnects the peers the
// events ask to, and writes what the sockets accept. Messages for peers that are not connected are
// dropped. Broadcast events (our channel_announcement and channel_updates) go to the routing handler's
// BroadcastAnnouncement, which relays them to every peer; without a routing handler they are dropped. If called while another goroutine is inside ProcessEvents, it returns at once and that
// goroutine runs once more, so events are never reordered.
func (pm *PeerManager) ProcessEvents() {
	pm.eventsRerun.Store(true)
	for pm.eventsRerun.Load() {
		if !pm.eventsMu.TryLock() {
			return // the goroutine holding it will see eventsRerun
		}
		pm.eventsRerun.Store(false)
		pm.processEventsOnce()
		pm.eventsMu.Unlock()
	}
}

func (pm *PeerManager) processEventsOnce() {
	for _, ev := range pm.chanHandler.GetAndClearPendingMsgEvents() {
		if ev.Broadcast {
			pm.broadcastAnnouncement(ev.Msg)
			continue
		}
		if ev.NodeID == nil {
			continue
		}
		pm.sendEvent(ev.NodeID, ev.Msg, ev.DisconnectPeer)
	}
	if pm.customHandler != nil {
		for _, cm := range pm.customHandler.GetAndClearPendingCustomMessages() {
			if cm.NodeID == nil || cm.Msg == nil || cm.Msg.Type.IsKnown() {
				pm.log.Error("dropping invalid custom message from handler")
				continue
			}
			pm.sendEvent(cm.NodeID, cm.Msg, false)
		}
	}

	pm.mu.RLock()
	peers := make([]*peer, 0, len(pm.peers))
	for _, p := range pm.peers {
		peers = append(peers, p)
	}
	pm.mu.RUnlock()
	for _, p := range peers {
		pm.pullGossip(p)
		p.mu.Lock()
		p.flush(pm.cfg.OutboundBufferPauseBytes)
		p.mu.Unlock()
	}
}

// pullGossip moves the routing handler's gossip for p onto its connection, as much as its outbound
// buffer takes before it pauses.
func (pm *PeerManager) pullGossip(p *peer) {
	if pm.routeHandler == nil {
		return
	}
	p.mu.Lock()
	ready := !p.closed && p.state == stateConnected && p.handlerConnected
	budget := pm.cfg.OutboundBufferPauseBytes - p.queuedBytes()
	nodeID := p.nodeID
	p.mu.Unlock()
	if !ready || budget <= 0 {
		return
	}
	msgs := pm.routeHandler.PendingMessages(nodeID, budget)
	if len(msgs) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, m := range msgs {
		if p.closed {
			return
		}
		if err := p.queueMessage(m); err != nil {
			pm.log.Error("dropping gossip message that does not encode", pm.peerAttr(p), slog.Any("err", err))
		}
	}
}

// sendEvent queues msg (if not nil) for nodeID and then disconnects it if asked.
func (pm *PeerManager) sendEvent(nodeID *btcec.PublicKey, msg lnwire.Message, disconnect bool) {
	key := keyOf(nodeID)
	p := pm.connectedPeer(key)
	if p == nil {
		pm.log.Debug("dropping message for peer not connected", slog.String("peer", hex.EncodeToString(key[:])))
		return
	}
	p.mu.Lock()
	if p.closed || p.state != stateConnected {
		p.mu.Unlock()
		return
	}
	if msg != nil {
		if err := p.queueMessage(msg); err != nil {
			pm.log.Error("dropping message that does not encode", pm.peerAttr(p),
				slog.Any("type", msg.MsgType()), slog.Any("err", err))
		}
	}
	if !disconnect {
		p.mu.Unlock()
		return
	}
	// Best effort: write the message (often an `error`) before closing.
	p.flush(pm.cfg.OutboundBufferPauseBytes)
	p.mu.Unlock()
	pm.failPeer(p, errDisconnectRequested, true)
	pm.drain(key, nil)
}

// TimerTickOccurred drives liveness; call it periodically (LDK uses every 10 seconds). At each tick a
// connected peer that sent nothing for Config.PingIntervalTicks ticks is sent a `ping`; a peer whose
// ping is unanswered after Config.PongTimeoutTicks (extended up to MaxPongWaitTicks while it keeps
// sending other messages) is disconnected, as is a connection that has not finished the handshake and
// `init` exchange within Config.HandshakeTimeoutTicks. Disconnected sockets get DisconnectSocket.
func (pm *PeerManager) TimerTickOccurred() {
	pm.mu.RLock()
	peers := make([]*peer, 0, len(pm.peers))
	for _, p := range pm.peers {
		peers = append(peers, p)
	}
	pm.mu.RUnlock()

	for _, p := range peers {
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			continue
		}
		p.ticksSinceCreated++
		var reason error
		switch {
		case p.state != stateConnected:
			if p.ticksSinceCreated >= pm.cfg.HandshakeTimeoutTicks {
				reason = ErrHandshakeTimeout
			}
		case p.awaitingPong:
			p.pongWaitTicks++
			if p.pongWaitTicks >= pm.cfg.PongTimeoutTicks &&
				(!p.receivedSinceTick || p.pongWaitTicks >= pm.cfg.MaxPongWaitTicks) {
				reason = ErrPongTimeout
			}
		default:
			if p.receivedSinceTick {
				p.idleTicks = 0
			} else {
				p.idleTicks++
			}
			if p.idleTicks >= pm.cfg.PingIntervalTicks {
				if err := p.queueMessage(&lnwire.Ping{NumPongBytes: pingNumPongBytes}); err == nil {
					p.awaitingPong = true
					p.pongWaitTicks = 0
					p.expectedPongLength = pingNumPongBytes
					p.idleTicks = 0
				}
			}
		}
		p.receivedSinceTick = false
		if reason == nil {
			p.flush(pm.cfg.OutboundBufferPauseBytes)
		}
		key, hasKey := p.key, p.nodeID != nil
		p.mu.Unlock()
		if reason != nil {
			pm.failPeer(p, reason, true)
			if hasKey {
				pm.drain(key, nil)
			}
		}
	}
}
