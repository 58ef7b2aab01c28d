package peermanager

import (
	"errors"
	"fmt"
	"log/slog"

	"github.com/lnkit/lnkit/lnwire"
)

type deliveryKind int

const (
	deliverConnected deliveryKind = iota
	deliverChannelMsg
	deliverCustomMsg
	deliverRoutingMsg
	deliverDisconnected
)

// delivery is one handler call waiting to be made.
type delivery struct {
	p    *peer
	kind deliveryKind
	msg  lnwire.Message
}

// nodeQueue holds the handler calls for one node id; draining is set while a goroutine makes them.
type nodeQueue struct {
	items    []delivery
	draining bool
}

// enqueue appends a handler call to the node's queue. May be called with a peer lock or mu held.
func (pm *PeerManager) enqueue(key nodeKey, d delivery) {
	pm.deliverMu.Lock()
	defer pm.deliverMu.Unlock()
	q := pm.queues[key]
	if q == nil {
		q = &nodeQueue{}
		pm.queues[key] = q
	}
	q.items = append(q.items, d)
}

// drain makes the queued handler calls for key, unless another goroutine is already doing so (it will
// make them). A peer whose handler call fails is disconnected: caller's peer without DisconnectSocket
// (its error is returned, for the caller to hand to the host), any other with it. Called without locks.
func (pm *PeerManager) drain(key nodeKey, caller *peer) error {
	var callerErr error
	pm.deliverMu.Lock()
	q := pm.queues[key]
	if q == nil || q.draining {
		pm.deliverMu.Unlock()
		return nil
	}
	q.draining = true
	for len(q.items) > 0 {
		d := q.items[0]
		q.items[0] = delivery{}
		q.items = q.items[1:]
		pm.deliverMu.Unlock()
		if err := pm.deliver(d); err != nil {
			if d.p == caller {
				pm.failPeer(d.p, err, false)
				if callerErr == nil {
					callerErr = err
				}
			} else {
				pm.failPeer(d.p, err, true)
			}
		}
		pm.deliverMu.Lock()
	}
	q.draining = false
	delete(pm.queues, key)
	pm.deliverMu.Unlock()
	return callerErr
}

// deliver makes one handler call. An error means the peer must be disconnected. Called without locks.
func (pm *PeerManager) deliver(d delivery) error {
	p := d.p
	p.mu.Lock()
	closed, connected := p.closed, p.handlerConnected
	nodeID, init, inbound := p.nodeID, p.theirInit, p.inbound
	p.mu.Unlock()

	switch d.kind {
	case deliverConnected:
		if closed {
			return nil
		}
		if err := pm.chanHandler.PeerConnected(nodeID, init, inbound); err != nil {
			return fmt.Errorf("%w: %w", ErrPeerRejected, err)
		}
		if pm.routeHandler != nil {
			if err := pm.routeHandler.PeerConnected(nodeID, init, inbound); err != nil {
				pm.chanHandler.PeerDisconnected(nodeID)
				return fmt.Errorf("%w: %w", ErrPeerRejected, err)
			}
		}
		p.mu.Lock()
		p.handlerConnected = true
		p.mu.Unlock()
		pm.log.Info("peer connected", slog.String("peer", nodeIDHex(nodeID)), slog.Bool("inbound", inbound))

	case deliverChannelMsg:
		// Messages received before a disconnect are still delivered, before PeerDisconnected.
		if connected {
			pm.chanHandler.HandleChannelMessage(nodeID, d.msg)
		}

	case deliverCustomMsg:
		if !connected {
			return nil
		}
		m := d.msg.(*lnwire.UnknownMessage)
		err := pm.customHandler.HandleCustomMessage(nodeID, m)
		if err == nil {
			return nil
		}
		if m.Type.IsOdd() {
			pm.log.Debug("custom handler refused odd message; ignored", slog.String("peer", nodeIDHex(nodeID)),
				slog.Any("type", m.Type), slog.Any("err", err))
			return nil
		}
		p.mu.Lock()
		if !p.closed {
			pm.queueWarning(p, fmt.Sprintf("unknown message type %d", uint16(m.Type)))
			p.flush(pm.cfg.OutboundBufferPauseBytes)
		}
		p.mu.Unlock()
		return fmt.Errorf("%w: %d: %w", ErrUnknownEvenMessage, uint16(m.Type), err)

	case deliverRoutingMsg:
		if !connected {
			return nil
		}
		return pm.routingError(p, d.msg, pm.routeHandler.HandleRoutingMessage(nodeID, d.msg))

	case deliverDisconnected:
		if connected {
			p.mu.Lock()
			p.handlerConnected = false
			p.mu.Unlock()
			pm.chanHandler.PeerDisconnected(nodeID)
			if pm.routeHandler != nil {
				pm.routeHandler.PeerDisconnected(nodeID)
			}
		}
	}
	return nil
}

// routingError carries out what the routing handler asked about a message it refused: nothing, a
// `warning`, or a warning and a disconnection (the returned error). Called without locks.
func (pm *PeerManager) routingError(p *peer, msg lnwire.Message, err error) error {
	if err == nil {
		return nil
	}
	action := GossipWarn
	var ge *GossipError
	if errors.As(err, &ge) {
		action = ge.Action
	}
	if action == GossipIgnore {
		pm.log.Debug("gossip message ignored", pm.peerAttr(p), slog.Any("type", msg.MsgType()), slog.Any("err", err))
		return nil
	}
	p.mu.Lock()
	if !p.closed {
		pm.queueWarning(p, err.Error())
		p.flush(pm.cfg.OutboundBufferPauseBytes)
	}
	p.mu.Unlock()
	pm.log.Warn("gossip message refused", pm.peerAttr(p), slog.Any("type", msg.MsgType()), slog.Any("err", err))
	if action == GossipDisconnect {
		return fmt.Errorf("%w: %w", ErrBadGossip, err)
	}
	return nil
}
