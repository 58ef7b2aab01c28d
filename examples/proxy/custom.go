package proxy

import (
	"fmt"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
)

// Reply is a message an application handler wants sent back to the peer.
type Reply struct {
	Type    lnwire.MessageType
	Payload []byte
}

// AppHandler handles one custom message type of an application protocol: peer sent payload (which
// the handler may keep; nothing else uses it). It returns the reply to queue for the peer, or nil for
// none; an error refuses the message (the PeerManager ignores it for an odd type and warns and
// disconnects for an even one). It is called without locks and must not call into the PeerManager.
type AppHandler func(peer *btcec.PublicKey, payload []byte) (*Reply, error)

// Fallback receives the accepted custom messages of odd types no AppHandler is registered for.
type Fallback func(peer *btcec.PublicKey, msg *lnwire.UnknownMessage)

// CustomHandler is the Proxy's peermanager.CustomMessageHandler: it filters, rate-limits and counts
// custom messages like the ChannelHandler does channel messages, dispatches them to the AppHandlers
// registered per type, and queues outgoing ones per peer. Create it with Proxy.Custom.
type CustomHandler struct {
	px       *Proxy
	fallback Fallback

	mu       sync.RWMutex
	handlers map[lnwire.MessageType]AppHandler
}

var _ peermanager.CustomMessageHandler = (*CustomHandler)(nil)

// Custom returns the Proxy's CustomHandler; fallback (may be nil: such messages are ignored) gets the
// unregistered odd types.
func (p *Proxy) Custom(fallback Fallback) *CustomHandler {
	return &CustomHandler{px: p, fallback: fallback, handlers: map[lnwire.MessageType]AppHandler{}}
}

// Handle registers h for messages of type t, replacing any earlier one. t must be a type lnwire does
// not know (ErrInvalidMessage); a nil h removes the registration.
func (c *CustomHandler) Handle(t lnwire.MessageType, h AppHandler) error {
	if t.IsKnown() {
		return fmt.Errorf("%w: type %d belongs to the BOLTs", ErrInvalidMessage, uint16(t))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if h == nil {
		delete(c.handlers, t)
	} else {
		c.handlers[t] = h
	}
	return nil
}

// HandleCustomMessage applies the cut-off, the rate limit and the filter, then gives the message to
// its type's AppHandler (queueing the reply), or to the fallback for an unregistered odd type. It
// returns the reason a message is dropped, ErrUnknownEvenType for an unregistered even type, or the
// AppHandler's error.
func (c *CustomHandler) HandleCustomMessage(peer *btcec.PublicKey, msg *lnwire.UnknownMessage) error {
	if err := c.px.receive(peer, msg); err != nil {
		return err
	}
	c.mu.RLock()
	h := c.handlers[msg.Type]
	c.mu.RUnlock()
	switch {
	case h != nil:
		reply, err := h(peer, msg.Payload)
		if err != nil || reply == nil {
			return err
		}
		if err := c.Send(peer, reply.Type, reply.Payload); err != nil {
			c.px.countDropped(peer)
			c.px.log.Debug("reply not queued", "peer", idHex(peer), "type", uint16(reply.Type), "err", err)
		}
		return nil
	case !msg.Type.IsOdd():
		return fmt.Errorf("%w: %d", ErrUnknownEvenType, uint16(msg.Type))
	case c.fallback != nil:
		c.fallback(peer, msg)
	}
	return nil
}

// Send queues a custom message of type t with payload (copied) for peer; the PeerManager sends it at
// its next ProcessEvents. Errors: ErrInvalidMessage (nil peer, a type lnwire knows, a payload over
// MaxCustomPayload bytes), peermanager.ErrPeerNotConnected (the ChannelHandler has not seen the peer
// connect; only checked once Proxy.Channel was called), ErrTooManyPeers, ErrQueueFull.
func (c *CustomHandler) Send(peer *btcec.PublicKey, t lnwire.MessageType, payload []byte) error {
	if peer == nil || t.IsKnown() || len(payload) > MaxCustomPayload {
		return ErrInvalidMessage
	}
	px := c.px
	px.mu.Lock()
	defer px.mu.Unlock()
	s := px.state(peer, !px.tracking)
	switch {
	case s == nil && px.tracking:
		return peermanager.ErrPeerNotConnected
	case s == nil:
		return ErrTooManyPeers
	case len(s.queue) >= px.opts.MaxQueuedPerPeer || px.queued >= px.opts.MaxQueued:
		return ErrQueueFull
	}
	s.queue = append(s.queue, &lnwire.UnknownMessage{Type: t, Payload: append([]byte(nil), payload...)})
	px.queued++
	return nil
}

// GetAndClearPendingCustomMessages returns and forgets the queued messages (counted and logged as
// outgoing).
func (c *CustomHandler) GetAndClearPendingCustomMessages() []peermanager.CustomMessage {
	px := c.px
	px.mu.Lock()
	var out []peermanager.CustomMessage
	for k, s := range px.peers {
		if len(s.queue) == 0 {
			continue
		}
		id, err := btcec.ParsePubKey(k[:])
		for _, m := range s.queue {
			if err == nil {
				out = append(out, peermanager.CustomMessage{NodeID: id, Msg: m})
			}
		}
		px.queued -= len(s.queue)
		s.queue = nil
	}
	px.mu.Unlock()
	for _, m := range out {
		px.countOut(m.NodeID, m.Msg)
	}
	return out
}

// ProvidedInitFeatures returns no features: custom messages need none.
func (c *CustomHandler) ProvidedInitFeatures(*btcec.PublicKey) *lnwire.FeatureVector {
	return lnwire.NewFeatureVector()
}
