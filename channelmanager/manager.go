// Package channelmanager runs lnkit's channels: it opens and accepts channels, moves payments over them
// with the BOLT 2 update protocol, and closes them. It is LDK's ChannelManager in Go: it never does I/O
// itself. The PeerManager hands it messages (HandleChannelMessage) and pulls what it wants sent
// (GetAndClearPendingMsgEvents); the host feeds it blocks (Listen, Confirm), timer ticks
// (TimerTickOccurred) and API calls, and pulls Events (ProcessPendingEvents).
//
// Every channel state change that a message depends on is handed to the channel's monitor (through the
// Watch interface) before the message is released (promise 3 of ARCH.md). Channels return what must
// happen as effects; apply (apply.go) is the one place that carries them out in that order.
package channelmanager

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/internal/wake"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/lnwire"
)

// Watch is how the ChannelManager hands channel state to the monitors (implemented by
// channelmonitor.ChainMonitor). WatchChannel is called once per channel when it is funded,
// UpdateChannel for every later state change; neither may call back into the ChannelManager. When
// UpdateChannel returns UnrecoverableError the channel is force-closed at once: the messages that
// depended on the update are dropped, the peer gets an `error`, ChannelClosed (HolderForceClosed) is
// queued, and a ChannelForceClosed update asks the monitor to broadcast our latest commitment (the
// ChainMonitor applies updates to the in-memory monitor before persisting them, so it can, although
// the monitor on disk is behind; the host should still treat the failure as fatal and restart).
type Watch interface {
	WatchChannel(fundingTxo wire.OutPoint, monitor *channelmonitor.ChannelMonitor) (channelmonitor.ChannelMonitorUpdateStatus, error)
	UpdateChannel(fundingTxo wire.OutPoint, update *channelmonitor.ChannelMonitorUpdate) channelmonitor.ChannelMonitorUpdateStatus
	ReleasePendingMonitorEvents() []channelmonitor.MonitorEvent
}

// KeysInterface is what the ChannelManager needs from the host's key manager (keys.KeysManager).
type KeysInterface interface {
	keys.EntropySource
	keys.NodeSigner
	keys.SignerProvider
}

// ChainParams says which chain the manager runs on and the chain tip when it was created.
type ChainParams struct {
	Net       *chaincfg.Params
	BestBlock chaininterface.BestBlock
}

// ChannelManager is safe for concurrent use. Locks: mu guards the peer map and indexes; each peer has
// its own lock guarding its channels, so that work on one peer's channels does not stall another's.
// A peer lock may be held while taking mu or the queue locks, never the other way round.
type ChannelManager struct {
	feeEst  chaininterface.FeeEstimator
	watch   Watch
	bcast   chaininterface.BroadcasterInterface
	log     *slog.Logger
	keys    KeysInterface
	cfg     config.UserConfig
	net     *chaincfg.Params
	ourNode *btcec.PublicKey

	mu               sync.Mutex
	peers            map[[33]byte]*peerState
	bestBlock        chaininterface.BestBlock
	highestBlockTime uint32

	queueMu       sync.Mutex
	pendingMsgs   []events.MessageSendEvent
	pendingEvents []events.Event
	dirty         map[*channel]*peerState // channels whose state changed since the last flush

	inbound    inboundPayments  // payments we receive, under their own lock
	outbound   outboundPayments // payments we send, under their own lock
	forwards   forwardQueue     // forwarding steps waiting for ProcessPendingHTLCForwards
	intercepts intercepts       // intercept scids and the HTLCs held for them

	routerMu sync.Mutex
	router   Router // SendPayment's router (SetRouter); nil: none

	needsPersist atomic.Bool
	// wake signals the host (EventOrPersistenceNeeded).
	wake wake.Notifier
	// storeMu serialises PersistTo; storeHashes are the SHA-256 hashes of the records last written to
	// (or read from) the store, by key.
	storeMu     sync.Mutex
	storeHashes map[kvstore.Key][32]byte
	eventsBusy  atomic.Bool // a ProcessPendingEvents call is handing events over

	// hook, set by tests only (nil in production), sees what apply does with channel output, in order,
	// under the channel's peer lock.
	hook func(applyTrace)
}

// peerState is one counterparty and its channels.
type peerState struct {
	mu            sync.Mutex
	nodeID        *btcec.PublicKey
	connected     bool
	theirFeatures *lnwire.FeatureVector
	channels      map[lnwire.ChannelID]*channel // by temporary id until funded, then by channel id
}

// New creates a ChannelManager. logger may be nil (logs are discarded).
func New(feeEst chaininterface.FeeEstimator, watch Watch, bcast chaininterface.BroadcasterInterface,
	logger *slog.Logger, km KeysInterface, cfg config.UserConfig, params ChainParams) (*ChannelManager, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if params.Net == nil {
		return nil, fmt.Errorf("%w: ChainParams.Net is nil", ErrInvalidConfig)
	}
	return &ChannelManager{
		feeEst: feeEst, watch: watch, bcast: bcast, log: logger, keys: km, cfg: cfg, net: params.Net,
		ourNode: km.GetNodeID(), peers: map[[33]byte]*peerState{}, bestBlock: params.BestBlock,
		inbound: newInboundPayments(), outbound: newOutboundPayments(),
		intercepts: intercepts{scids: map[uint64]bool{}, held: map[events.InterceptID]forwardOp{}},
	}, nil
}

func nodeKey(pk *btcec.PublicKey) [33]byte {
	var k [33]byte
	copy(k[:], pk.SerializeCompressed())
	return k
}

// peer returns the peer's state, creating it if create is set.
func (cm *ChannelManager) peer(id *btcec.PublicKey, create bool) *peerState {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	k := nodeKey(id)
	ps := cm.peers[k]
	if ps == nil && create {
		ps = &peerState{nodeID: id, channels: map[lnwire.ChannelID]*channel{}}
		cm.peers[k] = ps
	}
	return ps
}

// allPeers returns a snapshot of the peers.
func (cm *ChannelManager) allPeers() []*peerState {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	out := make([]*peerState, 0, len(cm.peers))
	for _, p := range cm.peers {
		out = append(out, p)
	}
	return out
}

func (cm *ChannelManager) height() uint32 {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	return cm.bestBlock.Height
}

// queueMsgTo queues a message for the PeerManager at once. Channel output goes through apply, which
// calls it once the message may leave; the manager calls it directly only for messages about no
// channel of ours (a refused open_channel, an unknown channel id, a rejected channel request).
func (cm *ChannelManager) queueMsgTo(node *btcec.PublicKey, msg lnwire.Message, disconnect bool) {
	cm.queueMu.Lock()
	cm.pendingMsgs = append(cm.pendingMsgs, events.MessageSendEvent{NodeID: node, Msg: msg, DisconnectPeer: disconnect})
	cm.queueMu.Unlock()
	cm.wake.Notify()
}

// queueEvent queues an event for the host: the channel events of apply, and the payment layer's.
func (cm *ChannelManager) queueEvent(e events.Event) {
	cm.queueMu.Lock()
	cm.pendingEvents = append(cm.pendingEvents, e)
	cm.queueMu.Unlock()
	cm.markNeedsPersist()
}

// ProvidedInitFeatures returns the features we offer in `init` (BOLT 9).
func (cm *ChannelManager) ProvidedInitFeatures(*btcec.PublicKey) *lnwire.FeatureVector {
	f := lnwire.NewFeatureVector()
	f.Set(lnwire.DataLossProtectRequired)
	f.Set(lnwire.UpfrontShutdownScriptOptional)
	f.Set(lnwire.VarOnionOptinRequired)
	f.Set(lnwire.StaticRemoteKeyRequired)
	f.Set(lnwire.PaymentSecretRequired)
	f.Set(lnwire.BasicMPPOptional)
	if cm.cfg.ChannelHandshakeConfig.NegotiateAnchorsZeroFeeHTLCTx {
		f.Set(lnwire.AnchorsZeroFeeHTLCTxOptional)
	}
	f.Set(lnwire.ShutdownAnySegwitOptional)
	f.Set(lnwire.ChannelTypeOptional)
	f.Set(lnwire.SCIDAliasOptional)
	return f
}

// PeerConnected is called by the PeerManager once `init` is exchanged. It sends `channel_reestablish`
// for every funded channel with the peer. Errors (the PeerManager then disconnects the peer): the peer
// lacks option_static_remotekey; ErrTooManyPeers, for an inbound peer without a funded channel when
// MaxNoChannelPeers such peers are connected.
func (cm *ChannelManager) PeerConnected(node *btcec.PublicKey, init *lnwire.Init, inbound bool) error {
	if !init.Features.IsSet(lnwire.StaticRemoteKeyRequired) && !init.Features.IsSet(lnwire.StaticRemoteKeyOptional) {
		return fmt.Errorf("peer does not support option_static_remotekey")
	}
	if err := cm.admitPeer(node, inbound); err != nil {
		return err
	}
	ps := cm.peer(node, true)
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.connected = true
	ps.theirFeatures = init.Features
	for _, c := range ps.channels {
		cm.reconnectChannel(ps, c)
	}
	return nil
}

// reconnectChannel sends the channel's channel_reestablish (peerReconnected); if the signer has not
// given our point yet, SignerUnblocked tries again. The caller holds ps.mu.
func (cm *ChannelManager) reconnectChannel(ps *peerState, c *channel) {
	eff, err := c.peerReconnected()
	c.reestablishWaiting = signerPending(err)
	if err != nil && !c.reestablishWaiting {
		cm.log.Error("cannot build channel_reestablish", "channel", c.channelID, "err", err)
	}
	cm.apply(ps, c, eff)
}

// PeerDisconnected is called by the PeerManager when the connection is gone. Channels not yet funded
// are dropped; funded ones forget the peer's uncommitted updates and the messages held behind
// in-flight monitor updates (channel_reestablish regenerates what the peer still needs). A peer left
// without channels is forgotten.
func (cm *ChannelManager) PeerDisconnected(node *btcec.PublicKey) {
	ps := cm.peer(node, false)
	if ps == nil {
		return
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	ps.connected = false
	for id, c := range ps.channels {
		if !c.funded() {
			delete(ps.channels, id)
			cm.apply(ps, c, c.forgottenBeforeFunding())
			continue
		}
		c.peerDisconnected()
		c.dropHeldMessages()
		c.stashedMsgs, c.reestablishWaiting = nil, false
		cm.releaseHeld(c)
		c.gossip.peerDisconnected()
	}
	cm.forgetPeerIfEmpty(ps)
	// Clear queued messages for this peer: they are regenerated by channel_reestablish.
	cm.queueMu.Lock()
	kept := cm.pendingMsgs[:0]
	for _, m := range cm.pendingMsgs {
		if m.NodeID == nil || !m.NodeID.IsEqual(node) {
			kept = append(kept, m)
		}
	}
	cm.pendingMsgs = kept
	cm.queueMu.Unlock()
	cm.markNeedsPersist()
}

// GetAndClearPendingMsgEvents returns the messages waiting to be sent; the PeerManager calls it. Pending
// channel updates are committed (commitment_signed) here, batched.
func (cm *ChannelManager) GetAndClearPendingMsgEvents() []events.MessageSendEvent {
	cm.processMonitorEvents()
	cm.ProcessPendingHTLCForwards()
	cm.flushDirty()
	cm.queueMu.Lock()
	defer cm.queueMu.Unlock()
	out := cm.pendingMsgs
	cm.pendingMsgs = nil
	return out
}

// ProcessPendingEvents hands every pending event to handler, in order. An event whose handler returns
// an error stays queued (with the ones after it) for the next call; the error is returned. Events are
// persisted with the manager until handled, so across a crash each is handed over at least once (write
// the manager after this returns, as GetAndClearNeedsPersistence says). A call made while another is
// running returns at once.
func (cm *ChannelManager) ProcessPendingEvents(handler events.Handler) error {
	cm.processMonitorEvents()
	if !cm.eventsBusy.CompareAndSwap(false, true) {
		return nil // another call is handing them over
	}
	defer cm.eventsBusy.Store(false)
	cm.queueMu.Lock()
	evs := append([]events.Event(nil), cm.pendingEvents...)
	cm.queueMu.Unlock()
	handled := 0
	var err error
	for _, e := range evs {
		if err = handler(e); err != nil {
			break
		}
		handled++
	}
	// Events leave the queue (and the next snapshot) only once handled: across a crash, each is
	// handed over at least once. Only this call removes events; others only append.
	cm.queueMu.Lock()
	cm.pendingEvents = cm.pendingEvents[handled:]
	cm.queueMu.Unlock()
	if handled > 0 {
		cm.markNeedsPersist()
	}
	return err
}

// markNeedsPersist notes that the manager changed and wakes the host.
func (cm *ChannelManager) markNeedsPersist() {
	cm.needsPersist.Store(true)
	cm.wake.Notify()
}

// EventOrPersistenceNeeded returns a channel that is closed when the host has work to do: events to
// process, messages to pull (through the PeerManager), or the manager to persist (LDK's
// get_event_or_persistence_needed_future). A host loop waits on it, with its timers and sockets,
// instead of polling; after it fires, the host does that work and calls EventOrPersistenceNeeded
// again for a new channel. A change made while no channel was outstanding makes the next one closed
// at once, so nothing is missed between two calls. No goroutine is involved.
func (cm *ChannelManager) EventOrPersistenceNeeded() <-chan struct{} { return cm.wake.Wait() }

// GetAndClearNeedsPersistence says whether the manager changed since the last call: the host should
// then write it (Write) before relying on the change.
func (cm *ChannelManager) GetAndClearNeedsPersistence() bool { return cm.needsPersist.Swap(false) }

// findChannel finds a funded channel by id across peers.
func (cm *ChannelManager) findChannel(id lnwire.ChannelID) (*peerState, *channel) {
	for _, ps := range cm.allPeers() {
		ps.mu.Lock()
		c := ps.channels[id]
		ps.mu.Unlock()
		if c != nil {
			return ps, c
		}
	}
	return nil, nil
}

// channelFor returns a peer's channel by (temporary or final) id.
func (cm *ChannelManager) channelFor(node *btcec.PublicKey, id lnwire.ChannelID) (*peerState, *channel, error) {
	ps := cm.peer(node, false)
	if ps == nil {
		return nil, nil, fmt.Errorf("%w: no channels with peer %x", ErrChannelUnavailable, node.SerializeCompressed())
	}
	ps.mu.Lock()
	c := ps.channels[id]
	if c == nil {
		ps.mu.Unlock()
		return nil, nil, fmt.Errorf("%w: no channel %s with that peer", ErrChannelUnavailable, id)
	}
	return ps, c, nil // ps.mu held
}

// closeChannelLocked ends a channel (c.close) and applies what that calls for; a channel closed before
// it was funded is forgotten. Nothing happens to a channel already closed. The caller holds ps.mu.
func (cm *ChannelManager) closeChannelLocked(ps *peerState, c *channel, cl closure) {
	if c.state == stateClosed {
		return
	}
	// An unfunded channel is known by its temporary id only; c.id() of a closed channel is its final id.
	id, funded := c.id(), c.funded()
	eff := c.close(cl)
	if !funded {
		delete(ps.channels, id)
	}
	cm.apply(ps, c, eff)
	cm.broadcastDisabledUpdate(c)
	cm.log.Info("channel closed", "channel", id, "peer", fmt.Sprintf("%x", nodeKey(c.counterparty)), "reason", cl.reason, "msg", cl.msg)
}

// broadcastDisabledUpdate tells the network that an announced channel that just closed routes nothing
// more: a channel_update with the `disable` bit (BOLT 7; LDK's BroadcastChannelUpdate on close), so that
// payers stop trying it before its funding spend is seen or buried. The caller holds c's peer lock.
func (cm *ChannelManager) broadcastDisabledUpdate(c *channel) {
	if c.gossip.announcement == nil {
		return
	}
	c.gossip.disabled = true
	upd, err := c.newChannelUpdate(cm.gossipCtx(), false)
	if err != nil {
		cm.log.Error("cannot sign the closed channel's channel_update", "channel", c.channelID, "err", err)
		return
	}
	cm.queueBroadcast(upd)
}

// failChannel handles an error on a channel (c.fail): a ChannelError without Close sends a `warning`;
// any other error sends `error` and force-closes. The caller holds ps.mu.
func (cm *ChannelManager) failChannel(ps *peerState, c *channel, err error) {
	eff := c.fail(err)
	if eff.closing == nil {
		cm.log.Warn("sent warning", "channel", c.id(), "err", err)
	}
	cm.apply(ps, c, eff)
}

// CreateChannel opens a channel of channelValueSat to a connected peer, pushing pushMsat to them, and
// returns its temporary channel id. A FundingGenerationReady event follows once the peer accepts.
// override, if not nil, replaces the manager's config for this channel. Errors: ErrPeerNotConnected,
// ErrAPIMisuse (bad amounts).
func (cm *ChannelManager) CreateChannel(theirNodeID *btcec.PublicKey, channelValueSat int64, pushMsat uint64,
	userChannelID [16]byte, override *config.UserConfig) (lnwire.ChannelID, error) {
	cfg := cm.cfg
	if override != nil {
		cfg = *override
		if err := cfg.Validate(); err != nil {
			return lnwire.ChannelID{}, fmt.Errorf("%w: %v", ErrInvalidConfig, err)
		}
	}
	if channelValueSat < 1000 || channelValueSat > maxFundingSatNoWumbo {
		return lnwire.ChannelID{}, fmt.Errorf("%w: channel value %d sat outside [1000, %d]", ErrAPIMisuse, channelValueSat, maxFundingSatNoWumbo)
	}
	if pushMsat > uint64(channelValueSat)*1000 {
		return lnwire.ChannelID{}, fmt.Errorf("%w: push_msat exceeds the channel value", ErrAPIMisuse)
	}
	ps := cm.peer(theirNodeID, false)
	if ps == nil {
		return lnwire.ChannelID{}, ErrPeerNotConnected
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	if !ps.connected {
		return lnwire.ChannelID{}, ErrPeerNotConnected
	}
	hcfg := &cfg.ChannelHandshakeConfig
	wct := lnwire.ChannelTypeStaticRemoteKey
	wct.Anchors = hcfg.NegotiateAnchorsZeroFeeHTLCTx && ps.theirFeatures.Supports(lnwire.AnchorsZeroFeeHTLCTxOptional)
	wct.SCIDAlias = hcfg.NegotiateSCIDPrivacy && !hcfg.AnnouncedChannel && ps.theirFeatures.Supports(lnwire.SCIDAliasOptional)
	ct, _ := channelTypeFrom(wct)
	target := chaininterface.NonAnchorChannelFee
	if ct.HasAnchors() {
		target = chaininterface.AnchorChannelFee
	}
	feerate := chaininterface.ClampFeerate(cm.feeEst, target)
	keysID := cm.keys.GenerateChannelKeysID(false, channelValueSat, userChannelID)
	signer := cm.keys.DeriveChannelSigner(channelValueSat, keysID)
	var tempID lnwire.ChannelID
	tempID = cm.keys.GetSecureRandomBytes()
	shutdown, err := cm.keys.GetShutdownScriptPubKey()
	if err != nil {
		return lnwire.ChannelID{}, err
	}
	c, eff, err := newOutboundChannel(theirNodeID, channelValueSat, pushMsat, userChannelID, wct, signer, &cfg, feerate,
		*cm.net.GenesisHash, tempID, cm.height(), shutdown)
	if err != nil {
		return lnwire.ChannelID{}, err
	}
	// The funder must afford the first commitment's fee and anchors.
	fee := uint64(bolt3.CommitmentFeeSat(feerate, 0, ct)+c.anchorsSat()) * 1000
	if c.baseLocalMsat < fee {
		return lnwire.ChannelID{}, fmt.Errorf("%w: channel too small to pay the commitment fee", ErrAPIMisuse)
	}
	c.peerConnected = true
	ps.channels[tempID] = c
	cm.apply(ps, c, eff)
	cm.log.Info("opening channel", "temp", tempID, "value_sat", channelValueSat, "type", wct)
	return tempID, nil
}

// AcceptInboundChannel accepts a channel announced by an OpenChannelRequest event (with
// ManuallyAcceptInboundChannels). Errors: ErrChannelUnavailable.
func (cm *ChannelManager) AcceptInboundChannel(temporaryChannelID lnwire.ChannelID, counterparty *btcec.PublicKey, userChannelID [16]byte) error {
	ps, c, err := cm.channelFor(counterparty, temporaryChannelID)
	if err != nil {
		return err
	}
	defer ps.mu.Unlock()
	if c.state != stateAwaitingManualAccept {
		return fmt.Errorf("%w: channel is not waiting for acceptance", ErrAPIMisuse)
	}
	return cm.acceptLocked(ps, c, userChannelID)
}

// ForceRejectChannel refuses a channel announced by an OpenChannelRequest event.
func (cm *ChannelManager) ForceRejectChannel(temporaryChannelID lnwire.ChannelID, counterparty *btcec.PublicKey) error {
	ps, c, err := cm.channelFor(counterparty, temporaryChannelID)
	if err != nil {
		return err
	}
	defer ps.mu.Unlock()
	if c.state != stateAwaitingManualAccept {
		return fmt.Errorf("%w: channel is not waiting for acceptance", ErrAPIMisuse)
	}
	delete(ps.channels, temporaryChannelID)
	cm.queueMsgTo(counterparty, &lnwire.Error{ChannelID: temporaryChannelID, Data: []byte("channel rejected")}, false)
	return nil
}

func (cm *ChannelManager) acceptLocked(ps *peerState, c *channel, userChannelID [16]byte) error {
	keysID := cm.keys.GenerateChannelKeysID(true, c.valueSat, userChannelID)
	signer := cm.keys.DeriveChannelSigner(c.valueSat, keysID)
	shutdown, err := cm.keys.GetShutdownScriptPubKey()
	if err != nil {
		return err
	}
	eff, err := c.accept(signer, &cm.cfg, userChannelID, shutdown)
	cm.apply(ps, c, eff)
	if err != nil {
		delete(ps.channels, c.temporaryID)
		cm.failChannel(ps, c, err)
		return err
	}
	c.peerConnected = true
	return nil
}

// FundingTransactionGenerated hands over the funding transaction asked for by FundingGenerationReady.
// It must pay the given script and value and spend only segwit inputs; it must be fully signed, and
// the host must not broadcast it: the manager does, once the counterparty's signature on our first
// commitment is checked and the monitor persisted. Errors: ErrChannelUnavailable, ErrInvalidFundingTx.
func (cm *ChannelManager) FundingTransactionGenerated(temporaryChannelID lnwire.ChannelID, counterparty *btcec.PublicKey, fundingTx *wire.MsgTx) error {
	ps, c, err := cm.channelFor(counterparty, temporaryChannelID)
	if err != nil {
		return err
	}
	defer ps.mu.Unlock()
	eff, err := c.fundingTransactionGenerated(fundingTx)
	cm.apply(ps, c, eff)
	return err
}

// HandleChannelMessage processes one message from a peer (BOLT 2 messages, `error`, `warning`, and BOLT
// 7's `announcement_signatures` and `channel_update`, see handleChannelUpdate). Protocol violations are
// answered per BOLT 1/2/7 (warning, or error and a force close); nothing the peer sends can make it
// panic.
func (cm *ChannelManager) HandleChannelMessage(node *btcec.PublicKey, msg lnwire.Message) {
	if m, ok := msg.(*lnwire.ChannelUpdate); ok {
		cm.handleChannelUpdate(node, m)
		return
	}
	ps := cm.peer(node, false)
	if ps == nil {
		cm.log.Warn("message from a peer that is not connected", "peer", fmt.Sprintf("%x", nodeKey(node)), "type", msg.MsgType())
		return
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	cm.markNeedsPersist()
	switch m := msg.(type) {
	case *lnwire.OpenChannel:
		cm.handleOpenChannel(ps, m)
		return
	case *lnwire.Error:
		cm.handleError(ps, m.ChannelID, string(m.Data))
		return
	case *lnwire.Warning:
		cm.log.Warn("peer sent warning", "peer", fmt.Sprintf("%x", nodeKey(node)), "channel", m.ChannelID, "msg", sanitize(m.Data))
		return
	}
	id, ok := messageChannelID(msg)
	if !ok {
		return
	}
	c := ps.channels[id]
	if c == nil {
		cm.queueMsgTo(node, &lnwire.Warning{ChannelID: id, Data: []byte("unknown channel")}, false)
		return
	}
	if c.state == stateClosed {
		cm.apply(ps, c, c.errorAgain())
		return
	}
	if err := cm.handleChannelMsg(ps, c, msg); err != nil {
		cm.log.Warn("channel message refused", "channel", c.id(), "type", msg.MsgType(), "err", err)
		cm.failChannel(ps, c, err)
		return
	}
	cm.afterChange(ps, c)
	cm.maybeGossip(ps, c)
}

func sanitize(b []byte) string {
	out := make([]rune, 0, len(b))
	for _, r := range string(b) {
		if r < 0x20 || r == 0x7f {
			r = '?'
		}
		out = append(out, r)
	}
	if len(out) > 200 {
		out = out[:200]
	}
	return string(out)
}

// messageChannelID extracts the channel id of a BOLT 2 message.
func messageChannelID(msg lnwire.Message) (lnwire.ChannelID, bool) {
	switch m := msg.(type) {
	case *lnwire.AcceptChannel:
		return m.TemporaryChannelID, true
	case *lnwire.FundingCreated:
		return m.TemporaryChannelID, true
	case *lnwire.FundingSigned:
		return m.ChannelID, true
	case *lnwire.ChannelReady:
		return m.ChannelID, true
	case *lnwire.Shutdown:
		return m.ChannelID, true
	case *lnwire.ClosingSigned:
		return m.ChannelID, true
	case *lnwire.UpdateAddHTLC:
		return m.ChannelID, true
	case *lnwire.UpdateFulfillHTLC:
		return m.ChannelID, true
	case *lnwire.UpdateFailHTLC:
		return m.ChannelID, true
	case *lnwire.UpdateFailMalformedHTLC:
		return m.ChannelID, true
	case *lnwire.CommitmentSigned:
		return m.ChannelID, true
	case *lnwire.RevokeAndAck:
		return m.ChannelID, true
	case *lnwire.UpdateFee:
		return m.ChannelID, true
	case *lnwire.ChannelReestablish:
		return m.ChannelID, true
	case *lnwire.AnnouncementSignatures:
		return m.ChannelID, true
	}
	return lnwire.ChannelID{}, false
}

func (cm *ChannelManager) handleError(ps *peerState, id lnwire.ChannelID, text string) {
	cm.log.Warn("peer sent error", "peer", fmt.Sprintf("%x", nodeKey(ps.nodeID)), "channel", id, "msg", sanitize([]byte(text)))
	for cid, c := range ps.channels {
		if id != (lnwire.ChannelID{}) && cid != id && c.temporaryID != id {
			continue
		}
		if c.state == stateClosed {
			continue
		}
		// BOLT 1: on `error`, fail the channel: broadcast our latest commitment.
		cm.closeChannelLocked(ps, c, closure{events.CounterpartyForceClosed, sanitize([]byte(text)), true})
	}
}

func (cm *ChannelManager) feerateBounds(anchors bool) (uint32, uint32) {
	minTarget := chaininterface.MinAllowedNonAnchorChannelRemoteFee
	if anchors {
		minTarget = chaininterface.MinAllowedAnchorChannelRemoteFee
	}
	lo := cm.feeEst.EstimateFeeratePerKw(minTarget)
	if lo < chaininterface.FeeratePerKwFloor {
		lo = chaininterface.FeeratePerKwFloor
	}
	hi := chaininterface.ClampFeerate(cm.feeEst, chaininterface.MaximumFeeEstimate) * cm.cfg.ChannelConfig.MaxFeeratePerKwFactor
	if hi < lo {
		hi = lo
	}
	return lo, hi
}

func (cm *ChannelManager) handleOpenChannel(ps *peerState, m *lnwire.OpenChannel) {
	if _, dup := ps.channels[m.TemporaryChannelID]; dup {
		cm.queueMsgTo(ps.nodeID, &lnwire.Error{ChannelID: m.TemporaryChannelID, Data: []byte("duplicate temporary_channel_id")}, false)
		return
	}
	if n := ps.unfundedInboundCount(); n >= MaxUnfundedChansPerPeer {
		text := fmt.Sprintf("refusing more than %d unfunded channels", MaxUnfundedChansPerPeer)
		cm.queueMsgTo(ps.nodeID, &lnwire.Error{ChannelID: m.TemporaryChannelID, Data: []byte(text)}, false)
		return
	}
	anchors := m.ChannelType != nil && m.ChannelType.IsSet(lnwire.AnchorsZeroFeeHTLCTxRequired)
	lo, hi := cm.feerateBounds(anchors)
	// An anchor channel's feerate may be low: CPFP through the anchors makes it confirm.
	if anchors {
		lo = chaininterface.FeeratePerKwFloor
	}
	c, err := newInboundChannel(ps.nodeID, m, ps.theirFeatures, &cm.cfg, *cm.net.GenesisHash, lo, hi, cm.height())
	if err != nil {
		var ce *ChannelError
		text := err.Error()
		if errors.As(err, &ce) {
			text = ce.Msg
		}
		cm.queueMsgTo(ps.nodeID, &lnwire.Error{ChannelID: m.TemporaryChannelID, Data: []byte(text)}, false)
		cm.log.Warn("refused open_channel", "peer", fmt.Sprintf("%x", nodeKey(ps.nodeID)), "err", err)
		return
	}
	c.peerConnected = true
	ps.channels[c.temporaryID] = c
	if cm.cfg.ManuallyAcceptInboundChannels {
		cm.queueEvent(events.OpenChannelRequest{TemporaryChannelID: c.temporaryID, CounterpartyNodeID: ps.nodeID,
			FundingSat: c.valueSat, PushMsat: c.pushMsat, ChannelType: c.wireChannelType()})
		return
	}
	var uid [16]byte
	r := cm.keys.GetSecureRandomBytes()
	copy(uid[:], r[:16])
	_ = cm.acceptLocked(ps, c, uid)
}

// handleChannelMsg hands a message to the channel's state machine and applies what it returns; the
// error, if any, is the caller's to handle (failChannel).
//
// A message whose handling needs an answer the signer has not given (keys.ErrSignerPending; the
// transition then changed nothing) is kept, with every later message of the channel, in order, and
// handed in again by SignerUnblocked. At most maxStashedMsgs are kept.
func (cm *ChannelManager) handleChannelMsg(ps *peerState, c *channel, msg lnwire.Message) error {
	if len(c.stashedMsgs) > 0 || c.reestablishWaiting {
		if len(c.stashedMsgs) >= maxStashedMsgs {
			return c.warnErr("more than %d messages while our signer is not answering", maxStashedMsgs)
		}
		c.stashedMsgs = append(c.stashedMsgs, msg)
		return nil
	}
	eff, err := cm.transition(ps, c, msg)
	if signerPending(err) {
		c.stashedMsgs = append(c.stashedMsgs, msg)
		err = nil
	}
	cm.apply(ps, c, eff)
	return err
}

// transition calls the channel's method for msg with what it needs from the manager (keys, fee
// estimates, limits) and returns its effects.
func (cm *ChannelManager) transition(ps *peerState, c *channel, msg lnwire.Message) (effects, error) {
	if c.reestablishPending {
		if m, ok := msg.(*lnwire.ChannelReestablish); ok {
			eff, err := c.receiveReestablish(m)
			if err == nil {
				// If funding is deep enough but our channel_ready was never sent, send it now.
				eff.merge(c.maybeSendChannelReady(cm.height()))
			}
			return eff, err
		}
		// Before channel_reestablish only these may arrive; anything else is a protocol error
		// (BOLT 2: a node MUST NOT send other channel messages before channel_reestablish).
		return effects{}, c.warnErr("%s before channel_reestablish", msg.MsgType())
	}
	switch m := msg.(type) {
	case *lnwire.AcceptChannel:
		return c.receiveAcceptChannel(m, &cm.cfg.ChannelHandshakeLimits)
	case *lnwire.FundingCreated:
		dest, err := cm.keys.GetDestinationScript(c.keysID)
		if err != nil {
			return effects{}, err
		}
		return c.receiveFundingCreated(m, dest)
	case *lnwire.FundingSigned:
		dest, err := cm.keys.GetDestinationScript(c.keysID)
		if err != nil {
			return effects{}, err
		}
		return c.receiveFundingSigned(m, dest)
	case *lnwire.ChannelReady:
		return c.receiveChannelReady(m)
	case *lnwire.UpdateAddHTLC:
		return effects{}, c.receiveAddHTLC(m)
	case *lnwire.UpdateFulfillHTLC:
		return c.receiveFulfillHTLC(m)
	case *lnwire.UpdateFailHTLC:
		return effects{}, c.receiveFailHTLC(m)
	case *lnwire.UpdateFailMalformedHTLC:
		return effects{}, c.receiveFailMalformedHTLC(m)
	case *lnwire.UpdateFee:
		lo, hi := cm.feerateBounds(c.channelType.HasAnchors())
		if c.channelType.HasAnchors() {
			lo = chaininterface.FeeratePerKwFloor
		}
		return effects{}, c.receiveUpdateFee(m, lo, hi, cm.cfg.ChannelConfig.MaxDustHTLCExposureMsat)
	case *lnwire.CommitmentSigned:
		return c.receiveCommitmentSigned(m)
	case *lnwire.RevokeAndAck:
		return c.receiveRevokeAndAck(m)
	case *lnwire.Shutdown:
		anySegwit := ps.theirFeatures != nil && (ps.theirFeatures.IsSet(lnwire.ShutdownAnySegwitOptional) || ps.theirFeatures.IsSet(lnwire.ShutdownAnySegwitRequired))
		return effects{}, c.receiveShutdown(m, anySegwit)
	case *lnwire.ClosingSigned:
		return c.receiveClosingSigned(m, cm.closingFees())
	case *lnwire.ChannelReestablish:
		return effects{}, c.warnErr("unexpected channel_reestablish")
	case *lnwire.AnnouncementSignatures:
		cm.receiveAnnouncementSignatures(c, m)
		return effects{}, nil
	case *lnwire.OpenChannel:
		return effects{}, c.protoErr("open_channel for an existing channel")
	}
	return effects{}, nil
}

// closingFees gives the closing negotiation our feerate estimate and configured fee margin.
func (cm *ChannelManager) closingFees() closingFees {
	return closingFees{feeratePerKw: chaininterface.ClampFeerate(cm.feeEst, chaininterface.ChannelCloseMinimum),
		forceCloseAvoidanceSat: cm.cfg.ChannelConfig.ForceCloseAvoidanceMaxFeeSat}
}

// afterChange notes that a channel's state changed. What the change calls for (a commitment_signed for
// pending updates, our shutdown, the closing negotiation's first message) is produced by flushChannel
// when the messages are pulled (GetAndClearPendingMsgEvents) or on a timer tick, so that every update
// made until then — by the peer's messages and by the host's calls, such as claims answering
// PaymentClaimable — shares one commitment_signed. The caller holds ps.mu.
func (cm *ChannelManager) afterChange(ps *peerState, c *channel) {
	cm.queueMu.Lock()
	if cm.dirty == nil {
		cm.dirty = map[*channel]*peerState{}
	}
	cm.dirty[c] = ps
	cm.queueMu.Unlock()
	cm.wake.Notify()
}

// flushDirty runs flushChannel for every channel changed since the last flush.
func (cm *ChannelManager) flushDirty() {
	cm.queueMu.Lock()
	dirty := cm.dirty
	cm.dirty = nil
	cm.queueMu.Unlock()
	for c, ps := range dirty {
		ps.mu.Lock()
		cm.flushChannel(ps, c)
		ps.mu.Unlock()
	}
}

// flushChannel applies what a channel's state calls for (c.flush). The caller holds ps.mu.
func (cm *ChannelManager) flushChannel(ps *peerState, c *channel) {
	if c.state == stateClosed || !ps.connected || c.reestablishPending {
		return
	}
	eff, err := c.flush(cm.closingFees())
	cm.apply(ps, c, eff)
	if signerPending(err) {
		return // SignerUnblocked flushes again
	}
	if err != nil && c.state != stateClosed {
		cm.log.Error("cannot commit the channel's pending changes", "channel", c.channelID, "err", err)
		cm.failChannel(ps, c, err)
	}
}

// CloseChannel starts a cooperative close: `shutdown`, then, once HTLCs are gone, `closing_signed`
// negotiation (BOLT 2). A ChannelClosed event follows when the closing transaction is broadcast.
// Errors: ErrChannelUnavailable, ErrPeerNotConnected.
func (cm *ChannelManager) CloseChannel(channelID lnwire.ChannelID, counterparty *btcec.PublicKey) error {
	ps, c, err := cm.channelFor(counterparty, channelID)
	if err != nil {
		return err
	}
	defer ps.mu.Unlock()
	switch {
	case !c.funded():
		// Not funded yet: just forget it.
		cm.apply(ps, c, c.failWithError("channel abandoned", closure{events.FundingAbandoned, "closed before funding", false}))
		return nil
	case c.state == stateClosed || c.shutdownSent:
		return fmt.Errorf("%w: channel is already closing", ErrChannelUnavailable)
	case !ps.connected:
		return ErrPeerNotConnected
	}
	c.shutdownReplyPending = true
	cm.afterChange(ps, c)
	return nil
}

// ForceCloseBroadcastingLatestTxn closes a channel unilaterally: the monitor broadcasts our latest
// commitment transaction, and the peer gets an `error`. Our funds come back after to_self_delay blocks
// through a SpendableOutputs event. A channel closed cooperatively whose closing transaction has not
// confirmed may still be force-closed (our commitment then competes with the closing transaction).
// Errors: ErrChannelUnavailable (unknown channel, or already force-closed or closed after we lost
// state, when broadcasting our commitment could publish a revoked state).
func (cm *ChannelManager) ForceCloseBroadcastingLatestTxn(channelID lnwire.ChannelID, counterparty *btcec.PublicKey) error {
	ps, c, err := cm.channelFor(counterparty, channelID)
	if err != nil {
		return err
	}
	defer ps.mu.Unlock()
	coop := c.state == stateClosed
	eff, err := c.forceClose()
	cm.apply(ps, c, eff)
	if err == nil && coop {
		cm.log.Warn("force-closing a channel whose cooperative close has not confirmed", "channel", c.channelID)
	}
	return err
}
