package channelmanager

import (
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/lnwire"
)

// effects is what one channel transition asks of the manager. A channel method changes the channel
// and returns its effects; it sends nothing itself. apply carries them out.
//
// Channel methods with output return (effects, error) the way io.Reader returns (n, err): the effects
// are what happened before the error, and the caller applies them first, then handles the error by
// its own policy (a warning or a force close for a peer's message, an error returned to the host's
// call, a log line for a send the manager started). Most methods check everything before they change
// anything and so return no effects with an error; sendFulfillHTLC (the preimage reaches the monitor
// even when the HTLC cannot be fulfilled off chain) and flush (what was committed before the closing
// negotiation failed) return some. Methods that never have output return only an error.
type effects struct {
	// monitor is a new channel's first monitor, for Watch.WatchChannel (update id 0); newID says the
	// channel's id has just become final, to be re-keyed in its peer's map once the monitor is taken.
	monitor *channelmonitor.ChannelMonitor
	newID   bool
	// updates are ChannelMonitorUpdates, in order.
	updates []monitorUpdate
	// msgs leave in order, each by the rule of its kind; broadcasts follow them by msgState's rule.
	msgs       []outMsg
	broadcasts []*wire.MsgTx
	events     []events.Event
	// gossip is our own BOLT 7 gossip for every peer (channel_announcement, channel_update of a public
	// channel), queued as Broadcast message events; it depends on no monitor state.
	gossip []lnwire.Message
	// For the payment layer: incoming HTLCs now irrevocably committed (to claim or fail back);
	// outgoing HTLCs the counterparty fulfilled (the preimage is ours at once); outgoing HTLCs whose
	// removal is irrevocably committed; outgoing HTLCs of a closing channel that never reached the
	// counterparty's commitment (they failed).
	committed, fulfilled, resolved, unsent []*htlc
	// closing, if set, ends the channel once the rest is applied (closeChannelLocked).
	closing *closure
}

// monitorUpdate is the steps of one ChannelMonitorUpdate. afterFailure sends it as a closed-channel
// update (channelmonitor.ClosedChannelUpdateID), which a monitor takes whatever its position: for a
// channel whose earlier update failed, when the monitor may refuse the channel's next id.
type monitorUpdate struct {
	steps        []channelmonitor.UpdateStep
	afterFailure bool
}

// msgKind is the rule by which a message leaves.
type msgKind uint8

const (
	// msgState depends on the channel's state: it leaves once no monitor update of the channel is in
	// flight (held until then, in order), and never once an update of the channel failed.
	msgState msgKind = iota
	// msgUpdate is a BOLT 2 update message (update_*): as msgState, and only while the peer is connected
	// and channel_reestablish is done; otherwise the channel keeps the update and channel_reestablish
	// sends it again, in order.
	msgUpdate
	// msgNow depends on no state a monitor lacks: an `error` or `warning`, or channel_reestablish, which
	// reports the commitment numbers (what the peer answers is held as usual). It leaves at once.
	msgNow
)

// outMsg is a message and the rule by which it leaves.
type outMsg struct {
	msg  lnwire.Message
	kind msgKind
	// deferred, instead of msg, is a message the signer signs when it leaves (msgState).
	deferred *deferredMsg
}

// closure is how a channel ends: the ChannelClosed reason and message, and whether the monitor is to
// broadcast our latest commitment (a force close).
type closure struct {
	reason    events.ClosureReason
	msg       string
	broadcast bool
}

// update adds a ChannelMonitorUpdate made of steps.
func (e *effects) update(steps ...channelmonitor.UpdateStep) {
	e.updates = append(e.updates, monitorUpdate{steps: steps})
}

// send adds a message that depends on the channel's state (msgState).
func (e *effects) send(m lnwire.Message) { e.msgs = append(e.msgs, outMsg{msg: m, kind: msgState}) }

// sendUpdate adds a BOLT 2 update message (msgUpdate).
func (e *effects) sendUpdate(m lnwire.Message) {
	e.msgs = append(e.msgs, outMsg{msg: m, kind: msgUpdate})
}

// sendNow adds a message that leaves at once (msgNow).
func (e *effects) sendNow(m lnwire.Message) { e.msgs = append(e.msgs, outMsg{msg: m, kind: msgNow}) }

// broadcast adds a transaction to broadcast.
func (e *effects) broadcast(tx *wire.MsgTx) { e.broadcasts = append(e.broadcasts, tx) }

// event adds an event for the host.
func (e *effects) event(ev events.Event) { e.events = append(e.events, ev) }

// merge appends o to e: o's updates, messages, broadcasts and events come after e's. o's monitor and
// closing, if set, replace e's.
func (e *effects) merge(o effects) {
	if o.monitor != nil {
		e.monitor = o.monitor
	}
	e.newID = e.newID || o.newID
	e.updates = append(e.updates, o.updates...)
	e.msgs = append(e.msgs, o.msgs...)
	e.broadcasts = append(e.broadcasts, o.broadcasts...)
	e.gossip = append(e.gossip, o.gossip...)
	e.events = append(e.events, o.events...)
	e.committed = append(e.committed, o.committed...)
	e.fulfilled = append(e.fulfilled, o.fulfilled...)
	e.resolved = append(e.resolved, o.resolved...)
	e.unsent = append(e.unsent, o.unsent...)
	if o.closing != nil {
		e.closing = o.closing
	}
}

// hasUpdateMsg says whether e carries a BOLT 2 update message.
func (e *effects) hasUpdateMsg() bool {
	for _, m := range e.msgs {
		if m.kind == msgUpdate {
			return true
		}
	}
	return false
}
