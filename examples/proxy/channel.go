package proxy

import (
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
)

// ChannelHandler is a peermanager.ChannelMessageHandler that wraps another (normally the
// ChannelManager): every method reaches the inner handler, and incoming messages go through the
// Proxy's filter and rate limit first (see the package doc for what a drop does). Create it with
// Proxy.Channel.
type ChannelHandler struct {
	px    *Proxy
	inner peermanager.ChannelMessageHandler
}

var _ peermanager.ChannelMessageHandler = (*ChannelHandler)(nil)

// Channel returns a ChannelHandler wrapping inner. From then on the Proxy learns connections from it:
// per-peer state is created at PeerConnected (refused with ErrTooManyPeers beyond MaxPeers) and
// removed at PeerDisconnected, and CustomHandler.Send refuses peers that are not connected.
func (p *Proxy) Channel(inner peermanager.ChannelMessageHandler) *ChannelHandler {
	p.mu.Lock()
	p.tracking = true
	p.mu.Unlock()
	return &ChannelHandler{px: p, inner: inner}
}

// HandleChannelMessage passes msg to the inner handler unless the filter or the rate limit drops it;
// a drop cuts the peer off (the connection's later messages are dropped and it is disconnected).
func (h *ChannelHandler) HandleChannelMessage(peer *btcec.PublicKey, msg lnwire.Message) {
	if err := h.px.receive(peer, msg); err != nil {
		h.cutOff(peer, err)
		return
	}
	h.inner.HandleChannelMessage(peer, msg)
}

// cutOff marks the peer so that its later messages are dropped and the next
// GetAndClearPendingMsgEvents disconnects it.
func (h *ChannelHandler) cutOff(peer *btcec.PublicKey, err error) {
	px := h.px
	px.mu.Lock()
	defer px.mu.Unlock()
	if s := px.state(peer, false); s != nil && s.cutOff == nil {
		s.cutOff = err
		px.log.Info("peer cut off: disconnecting", "peer", idHex(peer), "err", err)
	}
}

// PeerConnected creates the peer's state (ErrTooManyPeers beyond MaxPeers, which disconnects it),
// then asks the inner handler; if that refuses, the state is removed again.
func (h *ChannelHandler) PeerConnected(peer *btcec.PublicKey, init *lnwire.Init, inbound bool) error {
	px := h.px
	px.mu.Lock()
	s := px.state(peer, true)
	px.mu.Unlock()
	if s == nil {
		return ErrTooManyPeers
	}
	if err := h.inner.PeerConnected(peer, init, inbound); err != nil {
		px.forget(peer)
		return err
	}
	return nil
}

// PeerDisconnected tells the inner handler and removes the peer's state (counters, rate limit, queued
// custom messages).
func (h *ChannelHandler) PeerDisconnected(peer *btcec.PublicKey) {
	h.inner.PeerDisconnected(peer)
	h.px.forget(peer)
}

// forget removes a peer's state.
func (p *Proxy) forget(peer *btcec.PublicKey) {
	p.mu.Lock()
	defer p.mu.Unlock()
	k := keyOf(peer)
	if s := p.peers[k]; s != nil {
		p.queued -= len(s.queue)
		delete(p.peers, k)
	}
}

// ProvidedInitFeatures returns the inner handler's.
func (h *ChannelHandler) ProvidedInitFeatures(peer *btcec.PublicKey) *lnwire.FeatureVector {
	return h.inner.ProvidedInitFeatures(peer)
}

// GetAndClearPendingMsgEvents returns the inner handler's events (counted and logged as outgoing),
// then, for every peer cut off since the last call, a `warning` with a disconnection.
func (h *ChannelHandler) GetAndClearPendingMsgEvents() []events.MessageSendEvent {
	evs := h.inner.GetAndClearPendingMsgEvents()
	for _, ev := range evs {
		if !ev.Broadcast {
			h.px.countOut(ev.NodeID, ev.Msg)
		}
	}
	return append(evs, h.px.disconnects()...)
}

// disconnects returns the disconnect events of peers cut off and not yet disconnected.
func (p *Proxy) disconnects() []events.MessageSendEvent {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []events.MessageSendEvent
	for k, s := range p.peers {
		if s.cutOff == nil || s.warned {
			continue
		}
		s.warned = true
		id, err := btcec.ParsePubKey(k[:])
		if err != nil {
			continue // keys come from parsed node ids
		}
		w := &lnwire.Warning{Data: []byte(fmt.Sprintf("message dropped: %v", s.cutOff))}
		out = append(out, events.MessageSendEvent{NodeID: id, Msg: w, DisconnectPeer: true})
	}
	return out
}
