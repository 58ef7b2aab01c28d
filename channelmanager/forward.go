package channelmanager

import (
	"errors"
	"sync"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/sphinx"
	"github.com/lnkit/lnkit/lnwire"
)

// Forwarding (BOLT 4 "Non-final nodes", BOLT 2, BOLT 7 "HTLC Fees"). An incoming HTLC whose onion names
// a next channel is queued under its channel's peer lock; ProcessPendingHTLCForwards takes it to the
// next channel under that channel's peer lock only (no code holds two peer locks). The HTLC it adds
// carries a prevHopSource; when that HTLC is fulfilled (off chain, or on chain through the monitor) or
// irrevocably failed, the outcome is queued again and carried back to the incoming channel. The queue
// is persisted with the manager.

// CLTVFarFarAway: an outgoing cltv_expiry more than this many blocks ahead is refused with
// expiry_too_far (BOLT 4; LDK's CLTV_FAR_FAR_AWAY, two weeks of blocks).
const CLTVFarFarAway = 14 * 24 * 6

// maxPendingForwardOps bounds the queue; beyond it new forwards are failed back at once
// (temporary_node_failure), so a peer cannot make us store without limit.
const maxPendingForwardOps = 10_000

// forwardKind says what a queued forward operation does. Persisted: the values never change.
type forwardKind uint8

const (
	// forwardAdd: add the HTLC to the next channel.
	forwardAdd forwardKind = 1
	// forwardClaimBack: fulfill the incoming HTLC with the next hop's preimage.
	forwardClaimBack forwardKind = 2
	// forwardFailBack: fail the incoming HTLC back.
	forwardFailBack forwardKind = 3
)

// forwardOp is one queued forwarding step.
type forwardOp struct {
	Kind forwardKind
	Prev prevHopSource
	Hash [32]byte

	// forwardAdd: what the onion asks of the next hop.
	NextSCID        uint64
	AmtToForward    uint64
	OutgoingCLTV    uint32
	IncomingCLTV    uint32
	NextOnion       [1366]byte
	NextChannelID   lnwire.ChannelID // forwardClaimBack/FailBack: the channel the HTLC went out on
	OutgoingAmtMsat uint64           // forwardClaimBack: what the next hop was paid

	// forwardClaimBack.
	Preimage       [32]byte
	ClaimedOnChain bool

	// forwardFailBack: the next hop's encrypted failure to relay, or a failure of our own.
	Reason  []byte
	Failure sphinx.FailureMessage
}

// forwardQueue holds the forwarding steps waiting for ProcessPendingHTLCForwards, under its own lock (a
// leaf: nothing else is taken while it is held).
type forwardQueue struct {
	mu  sync.Mutex
	ops []forwardOp
}

func (q *forwardQueue) push(op forwardOp) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	if len(q.ops) >= maxPendingForwardOps && op.Kind == forwardAdd {
		return false
	}
	q.ops = append(q.ops, op)
	return true
}

func (q *forwardQueue) take() []forwardOp {
	q.mu.Lock()
	defer q.mu.Unlock()
	ops := q.ops
	q.ops = nil
	return ops
}

func (q *forwardQueue) snapshot() []forwardOp {
	q.mu.Lock()
	defer q.mu.Unlock()
	return append([]forwardOp(nil), q.ops...)
}

// queueForward queues an incoming HTLC whose onion names a next channel. The caller holds ps.mu. It
// returns the failure to send back at once if the payload is invalid or the queue is full.
func (cm *ChannelManager) queueForward(c *channel, h *htlc, proc *sphinx.ProcessedPacket) (sphinx.FailureMessage, bool) {
	payload, err := sphinx.DecodeHopPayload(proc.Payload, false)
	if err != nil {
		return payloadFailure(err), true
	}
	op := forwardOp{Kind: forwardAdd, Prev: cm.prevHopOf(c, h), Hash: h.PaymentHash, NextSCID: *payload.ShortChannelID,
		AmtToForward: payload.AmtToForwardMsat, OutgoingCLTV: payload.OutgoingCLTVValue, IncomingCLTV: h.CltvExpiry,
		NextOnion: [1366]byte(*proc.NextPacket)}
	if !cm.forwards.push(op) {
		cm.log.Warn("forward queue full; failing the HTLC back", "channel", c.channelID, "htlc", h.ID)
		return sphinx.NewFailure(sphinx.TemporaryNodeFailure), true
	}
	cm.markNeedsPersist()
	return sphinx.FailureMessage{}, false
}

// prevHopOf is the source an HTLC forwarding incoming HTLC h carries.
func (cm *ChannelManager) prevHopOf(c *channel, h *htlc) prevHopSource {
	return prevHopSource{Counterparty: c.counterparty, ChannelID: c.channelID, ShortChannelID: c.shortChannelID,
		HTLCID: h.ID, IncomingAmountMsat: h.AmountMsat, SharedSecret: h.SharedSecret, FundingTxo: c.fundingOutPoint}
}

// ProcessPendingHTLCForwards carries out the queued forwarding steps: HTLCs to add to their next
// channel, preimages to claim back and failures to send back (LDK's process_pending_htlc_forwards).
// GetAndClearPendingMsgEvents calls it before releasing messages, so a host that drives a PeerManager
// need not; others call it after handling messages. Safe to call at any time, from any goroutine.
func (cm *ChannelManager) ProcessPendingHTLCForwards() {
	defer cm.processRetries()
	ops := cm.forwards.take()
	if len(ops) == 0 {
		return
	}
	cm.markNeedsPersist()
	for i := range ops {
		switch op := &ops[i]; op.Kind {
		case forwardAdd:
			cm.forwardHTLC(op)
		case forwardClaimBack:
			cm.claimBack(op)
		case forwardFailBack:
			cm.failBack(op)
		}
	}
}

// forwardHTLC adds a queued HTLC to its next channel, or queues its failure back.
func (cm *ChannelManager) forwardHTLC(op *forwardOp) {
	ps, c := cm.channelBySCID(op.NextSCID)
	if c == nil && cm.intercept(op) {
		return
	}
	if c == nil {
		cm.queueFailBack(op, sphinx.NewFailure(sphinx.UnknownNextPeer), events.HTLCDestination{UnknownNextSCID: op.NextSCID})
		return
	}
	failure, refused := cm.checkForward(c, op)
	if !refused {
		onion := op.NextOnion
		prev := op.Prev
		eff, err := c.sendAddHTLC(op.AmtToForward, op.Hash, op.OutgoingCLTV, &onion, &prev, cm.cfg.ChannelConfig.MaxDustHTLCExposureMsat)
		cm.apply(ps, c, eff)
		if err != nil {
			cm.log.Info("forward refused by the next channel", "channel", c.channelID, "err", err)
			failure, refused = cm.updateFailure(c, op.NextSCID, sphinx.NewTemporaryChannelFailure)
		}
	}
	dest := events.HTLCDestination{NextChannelID: c.channelID}
	ps.mu.Unlock()
	if refused {
		cm.queueFailBack(op, failure, dest)
	}
}

// channelBySCID finds our channel with this short_channel_id or scid alias and returns it with its
// peer's lock held.
func (cm *ChannelManager) channelBySCID(scid uint64) (*peerState, *channel) {
	for _, ps := range cm.allPeers() {
		ps.mu.Lock()
		for _, c := range ps.channels {
			if c.funded() && c.state != stateClosed && c.knownAs(scid) {
				return ps, c
			}
		}
		ps.mu.Unlock()
	}
	return nil, nil
}

// checkForward checks a forward against the next channel and our forwarding policy (BOLT 4, failure
// messages; BOLT 7, "HTLC Fees"). The caller holds the next channel's peer lock.
func (cm *ChannelManager) checkForward(c *channel, op *forwardOp) (sphinx.FailureMessage, bool) {
	policy := c.forwardingPolicy(cm.gossipCtx())
	height := cm.height()
	fee := uint64(policy.FeeBaseMsat) + op.AmtToForward*uint64(policy.FeeProportionalMillionths)/1_000_000
	switch {
	case !c.isUsable():
		return cm.updateFailure(c, op.NextSCID, sphinx.NewTemporaryChannelFailure)
	case op.AmtToForward < c.remote.HTLCMinimumMsat:
		return cm.updateFailure(c, op.NextSCID, func(u []byte) sphinx.FailureMessage { return sphinx.NewAmountBelowMinimum(op.AmtToForward, u) })
	case op.Prev.IncomingAmountMsat < op.AmtToForward || op.Prev.IncomingAmountMsat-op.AmtToForward < fee:
		return cm.updateFailure(c, op.NextSCID, func(u []byte) sphinx.FailureMessage {
			return sphinx.NewFeeInsufficient(op.Prev.IncomingAmountMsat, u)
		})
	case op.IncomingCLTV < op.OutgoingCLTV || op.IncomingCLTV-op.OutgoingCLTV < uint32(policy.CLTVExpiryDelta):
		return cm.updateFailure(c, op.NextSCID, func(u []byte) sphinx.FailureMessage { return sphinx.NewIncorrectCLTVExpiry(op.IncomingCLTV, u) })
	case op.IncomingCLTV <= height+channelmonitor.HTLCFailBackBuffer+1 || op.OutgoingCLTV <= height+channelmonitor.LatencyGracePeriodBlocks:
		return cm.updateFailure(c, op.NextSCID, sphinx.NewExpiryTooSoon)
	case op.OutgoingCLTV > height+CLTVFarFarAway:
		return sphinx.NewFailure(sphinx.ExpiryTooFar), true
	}
	return sphinx.FailureMessage{}, false
}

// updateFailure returns the failure withUpdate builds with our channel_update for c enclosed (BOLT 4:
// mandatory with the UPDATE flag), or temporary_node_failure when we have no channel_update to give.
// The update names the channel by scid, what the onion named it by (the real short_channel_id or our
// alias), as LDK does: the payer can match it, and a private channel's real id is not given away.
func (cm *ChannelManager) updateFailure(c *channel, scid uint64, withUpdate func(channelUpdate []byte) sphinx.FailureMessage) (sphinx.FailureMessage, bool) {
	upd := cm.failureChannelUpdate(c, lnwire.NewShortChannelIDFromUint64(scid))
	if upd == nil {
		return sphinx.NewFailure(sphinx.TemporaryNodeFailure), true
	}
	return withUpdate(upd), true
}

// queueFailBack queues the failure of a forward that never left.
func (cm *ChannelManager) queueFailBack(op *forwardOp, failure sphinx.FailureMessage, dest events.HTLCDestination) {
	cm.forwards.push(forwardOp{Kind: forwardFailBack, Prev: op.Prev, Hash: op.Hash, NextChannelID: dest.NextChannelID,
		NextSCID: dest.UnknownNextSCID, Failure: failure})
}

// forwardResolved queues the outcome of an HTLC we forwarded: its preimage to claim back, or its
// failure (the next hop's encrypted reason; a malformed onion as BOLT 4 says; permanent_channel_failure
// when it timed out on chain) to send back.
func (cm *ChannelManager) forwardResolved(src *prevHopSource, hash [32]byte, out outgoingHTLC, preimage *[32]byte, f htlcFailure) {
	op := forwardOp{Prev: *src, Hash: hash, NextChannelID: out.channelID, OutgoingAmtMsat: out.amountMsat}
	switch {
	case preimage != nil:
		op.Kind, op.Preimage, op.ClaimedOnChain = forwardClaimBack, *preimage, out.onChain
	case f.malformed:
		op.Kind, op.Failure = forwardFailBack, sphinx.FailureMessage{Code: sphinx.FailureCode(f.malformedCode), Data: f.malformedSHA[:]}
	case f.reason != nil:
		op.Kind, op.Reason = forwardFailBack, f.reason
	default:
		op.Kind, op.Failure = forwardFailBack, sphinx.NewFailure(sphinx.PermanentChannelFailure)
	}
	cm.forwards.push(op)
	cm.markNeedsPersist()
}

// claimBack fulfills the incoming HTLC of a forward with the next hop's preimage: the incoming
// channel's monitor gets the preimage first (it claims on chain if that channel is closed).
func (cm *ChannelManager) claimBack(op *forwardOp) {
	part := claimPart{ChannelID: op.Prev.ChannelID, Counterparty: op.Prev.Counterparty, HTLCID: op.Prev.HTLCID,
		AmountMsat: op.Prev.IncomingAmountMsat, FundingTxo: op.Prev.FundingTxo}
	if !cm.claimPart(part, op.Preimage) {
		cm.log.Error("forward: could not claim the incoming HTLC", "channel", op.Prev.ChannelID, "htlc", op.Prev.HTLCID)
		return
	}
	ev := events.PaymentForwarded{PrevChannelID: op.Prev.ChannelID, NextChannelID: op.NextChannelID,
		IncomingAmountMsat: op.Prev.IncomingAmountMsat, OutboundAmountForwardedMsat: op.OutgoingAmtMsat,
		ClaimedOnChain: op.ClaimedOnChain}
	if ev.IncomingAmountMsat > ev.OutboundAmountForwardedMsat {
		ev.FeeEarnedMsat = ev.IncomingAmountMsat - ev.OutboundAmountForwardedMsat
	}
	cm.queueEvent(ev)
}

// failBack fails the incoming HTLC of a forward: the next hop's failure obfuscated with our shared
// secret (BOLT 4, "Returning Errors"), or our own failure encrypted for the payer. An incoming HTLC
// already removed, or whose channel is gone, is left alone (its monitor resolves it on chain).
func (cm *ChannelManager) failBack(op *forwardOp) {
	ps, c, err := cm.channelFor(op.Prev.Counterparty, op.Prev.ChannelID)
	if err != nil {
		cm.log.Warn("forward: incoming channel gone; its monitor resolves the HTLC", "channel", op.Prev.ChannelID, "htlc", op.Prev.HTLCID)
		return
	}
	defer ps.mu.Unlock()
	h := c.findHTLC(true, op.Prev.HTLCID)
	if h == nil || h.Remove != removeNone || c.state == stateClosed {
		return
	}
	reason := op.Reason
	if reason != nil {
		reason = sphinx.ObfuscateErrorPacket(op.Prev.SharedSecret, reason)
	} else {
		reason = sphinx.CreateErrorPacket(op.Prev.SharedSecret, op.Failure)
	}
	eff, err := c.sendFailHTLC(h.ID, reason)
	cm.apply(ps, c, eff)
	if err != nil {
		cm.log.Error("forward: cannot fail the incoming HTLC back", "channel", c.channelID, "htlc", h.ID, "err", err)
		return
	}
	cm.queueEvent(events.HTLCHandlingFailed{PrevChannelID: op.Prev.ChannelID, FailureCode: uint16(op.Failure.Code),
		FailedNextDestination: events.HTLCDestination{NextChannelID: op.NextChannelID, UnknownNextSCID: op.NextSCID}})
}

// payloadFailure is the failure for a payload DecodeHopPayload refused.
func payloadFailure(err error) sphinx.FailureMessage {
	var pe *sphinx.PayloadError
	if errors.As(err, &pe) {
		return pe.Failure()
	}
	return sphinx.NewInvalidOnionPayload(0, 0)
}
