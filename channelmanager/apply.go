package channelmanager

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/lnwire"
)

// heldOutput is a message, or a transaction to broadcast, held behind the channel's in-flight monitor
// updates or behind a message the signer has not signed yet (exactly one of msg, deferred and tx is
// set).
type heldOutput struct {
	msg      lnwire.Message
	deferred *deferredMsg
	tx       *wire.MsgTx
}

// apply carries out a channel's effects. It is the only place where channel output becomes monitor
// updates, queued or held messages, broadcasts and events, and it keeps the order promise 3 needs:
//
//  1. A new channel's monitor is handed to Watch.WatchChannel first; if it is refused or cannot be
//     persisted, the channel fails and nothing else of eff is applied.
//  2. Every monitor update goes to the monitor, in order, before any message of eff leaves. An update
//     that cannot be persisted (UnrecoverableError) fails the channel (monitorUpdateFailed); the
//     updates, messages (but msgNow ones) and broadcasts of eff after it are dropped.
//  3. A message or broadcast that depends on the channel's state leaves only while no update of the
//     channel is in flight; otherwise it is held, in order, and monitorUpdated releases it once every
//     update is persisted. An update message also needs the peer re-established (msgUpdate) and marks
//     the channel for the next commitment_signed (afterChange).
//  4. Then the payment layer gets the HTLCs eff settled, the events are queued, and, if eff ends the
//     channel, it is closed. These happen even after a failed update: they report what happened.
//
// The caller holds ps.mu.
func (cm *ChannelManager) apply(ps *peerState, c *channel, eff effects) {
	if eff.monitor != nil && !cm.watchChannel(ps, c, eff.monitor) {
		return
	}
	if eff.newID {
		delete(ps.channels, c.temporaryID)
		ps.channels[c.channelID] = c
		cm.markNeedsPersist()
	}
	ok := cm.handOver(ps, c, eff.updates)
	for _, m := range eff.msgs {
		if ok || m.kind == msgNow {
			cm.sendMsg(c, m)
		}
	}
	for _, tx := range eff.broadcasts {
		if ok {
			cm.release(c, heldOutput{tx: tx})
		}
	}
	for _, m := range eff.gossip {
		cm.queueBroadcast(m)
	}
	defer cm.checkSignerRefusal(ps, c)
	if eff.hasUpdateMsg() {
		cm.afterChange(ps, c)
	}
	cm.settle(ps, c, eff)
	for _, e := range eff.events {
		if _, ready := e.(events.ChannelReady); ready {
			cm.log.Info("channel ready", "channel", c.channelID, "scid", c.shortChannelID)
		}
		cm.queueEvent(e)
	}
	if eff.closing != nil {
		cm.closeChannelLocked(ps, c, *eff.closing)
	}
}

// watchChannel hands a new channel's first monitor (update 0) to the ChainMonitor. It returns false,
// after failing the channel, if the monitor is refused or cannot be persisted.
func (cm *ChannelManager) watchChannel(ps *peerState, c *channel, mon *channelmonitor.ChannelMonitor) bool {
	status, err := cm.watch.WatchChannel(c.fundingOutPoint, mon)
	cm.trace(applyTrace{kind: traceHandedOver, c: c, update: &channelmonitor.ChannelMonitorUpdate{ChannelID: c.channelID}, status: status})
	if err != nil {
		cm.log.Error("monitor refused a new channel", "channel", c.channelID, "err", err)
		c.monitorRefused()
		cm.failChannel(ps, c, fmt.Errorf("monitor refused: %w", err))
		return false
	}
	c.latestMonitorUpdateID = 0
	switch status {
	case channelmonitor.InProgress:
		c.inFlightUpdates = append(c.inFlightUpdates, &channelmonitor.ChannelMonitorUpdate{ChannelID: c.channelID})
	case channelmonitor.UnrecoverableError:
		cm.log.Error("a new channel's monitor could not be persisted", "channel", c.channelID)
		cm.failChannel(ps, c, errors.New("monitor could not be persisted"))
		return false
	}
	return true
}

// handOver gives the channel's monitor each update, in order, with the next update id. An update
// persisted asynchronously (InProgress) stays in flight until monitorUpdated. It returns false if an
// update could not be persisted: the channel then fails (monitorUpdateFailed) and the updates after it
// are not handed over.
func (cm *ChannelManager) handOver(ps *peerState, c *channel, updates []monitorUpdate) bool {
	for _, u := range updates {
		upd := &channelmonitor.ChannelMonitorUpdate{UpdateID: channelmonitor.ClosedChannelUpdateID, ChannelID: c.channelID, Steps: u.steps}
		if !u.afterFailure {
			c.latestMonitorUpdateID++
			upd.UpdateID = c.latestMonitorUpdateID
		}
		status := cm.watch.UpdateChannel(c.fundingOutPoint, upd)
		cm.trace(applyTrace{kind: traceHandedOver, c: c, update: upd, status: status})
		cm.markNeedsPersist()
		if u.afterFailure {
			continue // the channel has failed already: the status changes nothing
		}
		switch status {
		case channelmonitor.InProgress:
			c.inFlightUpdates = append(c.inFlightUpdates, upd)
		case channelmonitor.UnrecoverableError:
			cm.monitorUpdateFailed(ps, c, upd.UpdateID)
			return false
		}
	}
	return true
}

// sendMsg lets one message of a channel's effects leave by its kind's rule.
func (cm *ChannelManager) sendMsg(c *channel, m outMsg) {
	switch {
	case m.kind == msgNow:
		cm.queueFor(c, m.msg)
	case m.kind == msgUpdate && (!c.peerConnected || c.reestablishPending):
		// The channel keeps the update; channel_reestablish sends it.
	default:
		cm.release(c, heldOutput{msg: m.msg, deferred: m.deferred})
	}
}

// release sends a message or broadcasts a transaction that depends on the channel's state: at once
// when no monitor update of the channel is in flight and nothing is held before it, otherwise it is
// held. A deferred message is signed now; if the signer has not answered (or refused), it and
// everything after it are held until SignerUnblocked. Nothing leaves a channel whose monitor update
// failed.
func (cm *ChannelManager) release(c *channel, o heldOutput) {
	switch {
	case c.monitorFailed:
		cm.log.Debug("output dropped: the channel's monitor could not be persisted", "channel", c.channelID)
	case len(c.inFlightUpdates) > 0 || len(c.heldMessages) > 0:
		c.heldMessages = append(c.heldMessages, o)
	case o.tx != nil:
		cm.trace(applyTrace{kind: traceBroadcast, c: c, tx: o.tx})
		cm.bcast.BroadcastTransactions(o.tx)
	case o.deferred != nil:
		msg, err := c.makeDeferred(o.deferred)
		if err != nil {
			c.heldMessages = append(c.heldMessages, o)
			switch {
			case signerPending(err):
			case o.deferred.kind == deferFundingCreated || o.deferred.kind == deferFundingSigned:
				// A channel the signer will not fund is abandoned (checkSignerRefusal), not kept waiting.
				c.fundingRefused = err
			default:
				cm.log.Error("the signer refused; the channel waits for SignerUnblocked", "channel", c.channelID, "err", err)
			}
			return
		}
		cm.queueFor(c, msg)
	default:
		cm.queueFor(c, o.msg)
	}
}

// checkSignerRefusal fails a channel whose signer refused its funding signature (funding_created or
// funding_signed): nothing of it reached the chain, and waiting would keep the host's open pending
// forever. The caller holds ps.mu.
func (cm *ChannelManager) checkSignerRefusal(ps *peerState, c *channel) {
	if err := c.fundingRefused; err != nil && c.state != stateClosed {
		c.fundingRefused = nil
		cm.log.Error("the signer refused the channel's funding signature; abandoning it", "channel", c.id(), "err", err)
		if c.outbound && c.state == stateFundingCreatedSent {
			// funding_created never left: the peer knows the channel by its temporary id only.
			cm.queueMsgTo(c.counterparty, &lnwire.Error{ChannelID: c.temporaryID, Data: []byte("channel abandoned: our signer refused it")}, false)
		}
		cm.failChannel(ps, c, fmt.Errorf("the signer refused the channel: %w", err))
	}
}

// releaseHeld lets the channel's held output go, in order, as far as it can: the rest stays held
// behind an in-flight monitor update or a message the signer has not signed.
func (cm *ChannelManager) releaseHeld(c *channel) {
	if len(c.inFlightUpdates) > 0 {
		return
	}
	held := c.heldMessages
	c.heldMessages = nil
	for i, o := range held {
		cm.release(c, o)
		if len(c.heldMessages) > 0 {
			c.heldMessages = append(c.heldMessages, held[i+1:]...)
			return
		}
	}
}

// queueFor queues a message to the channel's counterparty.
func (cm *ChannelManager) queueFor(c *channel, msg lnwire.Message) {
	cm.trace(applyTrace{kind: traceSent, c: c, msg: msg})
	cm.queueMsgTo(c.counterparty, msg, false)
}

// monitorUpdated notes that every update of the channel up to updateID is persisted and, once none is
// in flight, releases the held messages and broadcasts in order. The caller holds the peer lock.
func (cm *ChannelManager) monitorUpdated(c *channel, updateID uint64) {
	cm.trace(applyTrace{kind: traceCompleted, c: c, updateID: updateID})
	kept := c.inFlightUpdates[:0]
	for _, u := range c.inFlightUpdates {
		if u.UpdateID > updateID {
			kept = append(kept, u)
		}
	}
	clear(c.inFlightUpdates[len(kept):])
	c.inFlightUpdates = kept
	if len(kept) > 0 {
		return
	}
	cm.releaseHeld(c)
}

// monitorUpdateFailed fails a channel whose monitor update could not be persisted: no message that
// depends on it, or on an update still in flight, ever leaves (release drops the channel's output from
// now on; a held funding broadcast becomes DiscardFunding); the peer gets an `error`; ChannelClosed
// (HolderForceClosed) names the update; and the monitor is told to broadcast our latest commitment. The
// ChainMonitor applies an update to the in-memory monitor before persisting it, so the broadcast
// commitment is the newest one even though persistence failed. The caller holds ps.mu.
func (cm *ChannelManager) monitorUpdateFailed(ps *peerState, c *channel, updateID uint64) {
	cm.log.Error("monitor update could not be persisted; failing the channel", "channel", c.channelID, "update", updateID)
	if c.monitorFailed || c.state == stateClosed {
		return
	}
	c.monitorFailed = true
	var eff effects
	for _, o := range c.heldMessages {
		if o.tx != nil && c.fundingTx != nil && o.tx.TxHash() == c.fundingTx.TxHash() {
			eff.event(events.DiscardFunding{ChannelID: c.id(), FundingTxid: o.tx.TxHash()})
		}
	}
	c.heldMessages = nil
	msg := fmt.Sprintf("monitor update %d could not be persisted (UnrecoverableError); broadcasting our latest commitment", updateID)
	eff.merge(c.failWithError("internal error: channel state could not be persisted", closure{events.HolderForceClosed, msg, true}))
	cm.apply(ps, c, eff)
}

// dropHeldMessages forgets the messages held behind in-flight monitor updates when the peer disconnects:
// channel_reestablish regenerates what the peer still needs, and what it retransmits is held in turn
// while the updates are in flight. The in-flight update ids stay, and so do held broadcasts (a funding
// or closing transaction), which must still happen once the monitor is persisted.
func (c *channel) dropHeldMessages() {
	kept := c.heldMessages[:0]
	for _, o := range c.heldMessages {
		if o.tx != nil {
			kept = append(kept, o)
		}
	}
	clear(c.heldMessages[len(kept):])
	c.heldMessages = kept
}

// settle hands the payment layer the HTLCs a transition settled. The caller holds ps.mu.
func (cm *ChannelManager) settle(ps *peerState, c *channel, eff effects) {
	for _, h := range eff.committed {
		cm.incomingCommitted(ps, c, h)
	}
	for _, h := range eff.fulfilled {
		cm.htlcFulfilled(h.Source, h.PaymentHash, h.Preimage, outgoingHTLC{channelID: c.channelID, amountMsat: h.AmountMsat})
	}
	for _, h := range eff.resolved {
		if h.Remove != removeFulfill {
			cm.htlcFailed(h.Source, h.PaymentHash, htlcFailure{reason: h.FailReason, malformedCode: h.FailCode,
				malformedSHA: h.FailSHA, malformed: h.Remove == removeFailMalformed},
				outgoingHTLC{channelID: c.channelID, amountMsat: h.AmountMsat})
		}
	}
	for _, h := range eff.unsent {
		cm.htlcFailed(h.Source, h.PaymentHash, htlcFailure{}, outgoingHTLC{channelID: c.channelID, amountMsat: h.AmountMsat})
	}
}

// traceKind says what an applyTrace records.
type traceKind uint8

const (
	traceHandedOver traceKind = iota // update handed to the monitor (update 0 is a new monitor), with status
	traceCompleted                   // the monitor reported every update up to updateID persisted
	traceSent                        // msg queued for the PeerManager
	traceBroadcast                   // tx handed to the broadcaster
)

// applyTrace is one thing apply did with a channel's output, for the manager's test hook.
type applyTrace struct {
	kind     traceKind
	c        *channel
	update   *channelmonitor.ChannelMonitorUpdate
	status   channelmonitor.ChannelMonitorUpdateStatus
	updateID uint64
	msg      lnwire.Message
	tx       *wire.MsgTx
}

// trace hands t to the test hook, if one is set.
func (cm *ChannelManager) trace(t applyTrace) {
	if cm.hook != nil {
		cm.hook(t)
	}
}
