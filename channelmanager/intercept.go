package channelmanager

import (
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/sphinx"
	"github.com/lnkit/lnkit/lnwire"
)

// ErrUnknownIntercept: no held HTLC has this InterceptID.
var ErrUnknownIntercept = errors.New("channelmanager: unknown intercepted HTLC")

// maxInterceptSCIDs and maxInterceptedHTLCs bound what interception keeps.
const (
	maxInterceptSCIDs   = 100_000
	maxInterceptedHTLCs = 10_000
)

// intercepts holds the intercept short_channel_ids we made and the HTLCs held for them, under its own
// lock (a leaf).
type intercepts struct {
	mu    sync.Mutex
	scids map[uint64]bool
	held  map[events.InterceptID]forwardOp
}

// GetInterceptSCID returns a new short_channel_id to put in a route hint for a payee we will open a
// channel to on demand (LDK's get_intercept_scid): HTLCs asking to be forwarded over it produce
// HTLCIntercepted when config AcceptInterceptHTLCs is set. It names no real channel: its block height is
// one of the last 1,000 blocks and its transaction index is above any block's transaction count.
func (cm *ChannelManager) GetInterceptSCID() uint64 {
	height := cm.height()
	for {
		r := cm.keys.GetSecureRandomBytes()
		h := height - min(height, binary.BigEndian.Uint32(r[:4])%1000)
		scid := lnwire.ShortChannelID{BlockHeight: h, TxIndex: 0x800000 | binary.BigEndian.Uint32(r[4:8])&0x7fffff,
			OutputIndex: binary.BigEndian.Uint16(r[8:10])}.ToUint64()
		cm.intercepts.mu.Lock()
		if !cm.intercepts.scids[scid] && len(cm.intercepts.scids) < maxInterceptSCIDs {
			cm.intercepts.scids[scid] = true
			cm.intercepts.mu.Unlock()
			cm.markNeedsPersist()
			return scid
		}
		full := len(cm.intercepts.scids) >= maxInterceptSCIDs
		cm.intercepts.mu.Unlock()
		if full {
			return scid // the set is full: the id is still unique enough, but not intercepted
		}
	}
}

// intercept holds a forward asking for an intercept scid and announces it; false if op's scid is not
// one or interception is off.
func (cm *ChannelManager) intercept(op *forwardOp) bool {
	if !cm.cfg.AcceptInterceptHTLCs {
		return false
	}
	id := interceptIDOf(&op.Prev)
	cm.intercepts.mu.Lock()
	ok := cm.intercepts.scids[op.NextSCID] && len(cm.intercepts.held) < maxInterceptedHTLCs
	if ok {
		cm.intercepts.held[id] = *op
	}
	cm.intercepts.mu.Unlock()
	if !ok {
		return false
	}
	cm.markNeedsPersist()
	cm.queueEvent(events.HTLCIntercepted{InterceptID: id, RequestedNextHopSCID: op.NextSCID, PaymentHash: op.Hash,
		InboundAmountMsat: op.Prev.IncomingAmountMsat, ExpectedOutboundAmountMsat: op.AmtToForward,
		InboundExpiryHeight: op.IncomingCLTV})
	return true
}

// interceptIDOf names an incoming HTLC: SHA256 of its channel id and HTLC id.
func interceptIDOf(prev *prevHopSource) events.InterceptID {
	var b [40]byte
	copy(b[:32], prev.ChannelID[:])
	binary.BigEndian.PutUint64(b[32:], prev.HTLCID)
	return sha256.Sum256(b[:])
}

func (cm *ChannelManager) takeIntercepted(id events.InterceptID) (forwardOp, bool) {
	cm.intercepts.mu.Lock()
	defer cm.intercepts.mu.Unlock()
	op, ok := cm.intercepts.held[id]
	delete(cm.intercepts.held, id)
	return op, ok
}

// ForwardInterceptedHTLC forwards an intercepted HTLC over our channel nextChannelID with nextNodeID,
// paying amtToForwardMsat (which may be less than the onion asked: an LSP's fee), with the onion's
// cltv_expiry. Our forwarding fee and CLTV policy are not applied (the host decided). Errors:
// ErrUnknownIntercept, ErrChannelUnavailable (no such usable channel, or it refuses the HTLC: the
// HTLC stays held, so the host may try another channel or fail it).
func (cm *ChannelManager) ForwardInterceptedHTLC(id events.InterceptID, nextChannelID lnwire.ChannelID, nextNodeID *btcec.PublicKey, amtToForwardMsat uint64) error {
	op, ok := cm.takeIntercepted(id)
	if !ok {
		return ErrUnknownIntercept
	}
	ps, c, err := cm.channelFor(nextNodeID, nextChannelID)
	if err == nil {
		if !c.isUsable() {
			err = fmt.Errorf("%w: channel %s is not usable", ErrChannelUnavailable, nextChannelID)
		} else {
			onion, prev := op.NextOnion, op.Prev
			var eff effects
			eff, err = c.sendAddHTLC(amtToForwardMsat, op.Hash, op.OutgoingCLTV, &onion, &prev, cm.cfg.ChannelConfig.MaxDustHTLCExposureMsat)
			cm.apply(ps, c, eff)
			if err != nil {
				err = fmt.Errorf("%w: %w", ErrChannelUnavailable, err)
			}
		}
		ps.mu.Unlock()
	}
	if err != nil {
		cm.intercepts.mu.Lock()
		cm.intercepts.held[id] = op
		cm.intercepts.mu.Unlock()
		return err
	}
	cm.markNeedsPersist()
	return nil
}

// FailInterceptedHTLC fails an intercepted HTLC back (unknown_next_peer). Errors: ErrUnknownIntercept.
func (cm *ChannelManager) FailInterceptedHTLC(id events.InterceptID) error {
	op, ok := cm.takeIntercepted(id)
	if !ok {
		return ErrUnknownIntercept
	}
	cm.queueFailBack(&op, sphinx.NewFailure(sphinx.UnknownNextPeer), events.HTLCDestination{UnknownNextSCID: op.NextSCID})
	cm.markNeedsPersist()
	return nil
}

// failExpiringIntercepts fails back the intercepted HTLCs the host left held until their incoming
// cltv_expiry is channelmonitor.HTLCFailBackBuffer blocks away, as unclaimed payments are (past it we
// would have to go on chain). Called by BestBlockUpdated, without locks.
func (cm *ChannelManager) failExpiringIntercepts(height uint32) {
	var expired []forwardOp
	cm.intercepts.mu.Lock()
	for id, op := range cm.intercepts.held {
		if op.IncomingCLTV <= height+channelmonitor.HTLCFailBackBuffer {
			expired = append(expired, op)
			delete(cm.intercepts.held, id)
		}
	}
	cm.intercepts.mu.Unlock()
	for i := range expired {
		cm.log.Warn("intercepted HTLC not handled before its expiry; failing it back", "scid", expired[i].NextSCID)
		cm.queueFailBack(&expired[i], sphinx.NewFailure(sphinx.TemporaryNodeFailure), events.HTLCDestination{UnknownNextSCID: expired[i].NextSCID})
	}
	if len(expired) > 0 {
		cm.markNeedsPersist()
	}
}

// reannounceIntercepts queues HTLCIntercepted again for every held HTLC (after Read: events about them
// are not persisted, the held HTLCs are).
func (cm *ChannelManager) reannounceIntercepts() {
	cm.intercepts.mu.Lock()
	defer cm.intercepts.mu.Unlock()
	for id, op := range cm.intercepts.held {
		cm.pendingEvents = append(cm.pendingEvents, events.HTLCIntercepted{InterceptID: id, RequestedNextHopSCID: op.NextSCID,
			PaymentHash: op.Hash, InboundAmountMsat: op.Prev.IncomingAmountMsat, ExpectedOutboundAmountMsat: op.AmtToForward,
			InboundExpiryHeight: op.IncomingCLTV})
	}
}
