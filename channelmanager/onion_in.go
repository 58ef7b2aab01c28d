package channelmanager

import (
	"crypto/sha256"
	"errors"

	"github.com/lnkit/lnkit/internal/sphinx"
)

// failIncoming fails an incoming HTLC back with failure, encrypted for the payer. The caller holds ps.mu.
func (cm *ChannelManager) failIncoming(ps *peerState, c *channel, h *htlc, failure sphinx.FailureMessage) {
	reason := sphinx.CreateErrorPacket(h.SharedSecret, failure)
	eff, err := c.sendFailHTLC(h.ID, reason)
	cm.apply(ps, c, eff)
	if err != nil {
		cm.log.Error("cannot fail HTLC", "channel", c.channelID, "htlc", h.ID, "err", err)
	}
}

// incomingCommitted handles an incoming HTLC once it is irrevocably committed, in three steps: the
// onion is peeled (peelIncoming), the HTLC is checked against our limits, and it is received as the
// final node (receiveFinal: BOLT 4, "Payload for the Last Node") or, when the onion names a next
// channel, forwarded. A refusal is failed back. The caller holds ps.mu.
func (cm *ChannelManager) incomingCommitted(ps *peerState, c *channel, h *htlc) {
	proc, ok := cm.peelIncoming(ps, c, h)
	if !ok {
		return
	}
	if failure, refused := cm.routeIncoming(c, h, proc); refused {
		cm.failIncoming(ps, c, h, failure)
	}
}

// peelIncoming processes an incoming HTLC's onion (BOLT 4) and keeps the shared secret with the payer
// in the HTLC, for a failure. An onion that cannot be processed is failed back here (malformed, or
// with the payload's failure) and ok is false.
func (cm *ChannelManager) peelIncoming(ps *peerState, c *channel, h *htlc) (*sphinx.ProcessedPacket, bool) {
	pkt := sphinx.OnionPacket(h.Onion)
	proc, err := sphinx.ProcessOnionPacket(&pkt, h.PaymentHash[:], cm.keys.ECDH)
	if err != nil {
		cm.failUnreadableOnion(ps, c, h, &pkt, proc, err)
		return nil, false
	}
	h.SharedSecret = proc.SharedSecret
	return proc, true
}

// failUnreadableOnion fails back an incoming HTLC whose onion could not be processed: with
// update_fail_malformed_htlc if the onion itself is bad (BOLT 4), else with the payload's failure.
func (cm *ChannelManager) failUnreadableOnion(ps *peerState, c *channel, h *htlc, pkt *sphinx.OnionPacket, proc *sphinx.ProcessedPacket, err error) {
	code, sha, bad := sphinx.BadOnionFailure(err, pkt)
	var pe *sphinx.PayloadError
	switch {
	case bad:
	case errors.As(err, &pe) && proc != nil:
		h.SharedSecret = proc.SharedSecret
		cm.failIncoming(ps, c, h, pe.Failure())
		return
	default:
		code, sha = sphinx.InvalidOnionHMAC, sha256.Sum256(h.Onion[:])
	}
	eff, _ := c.sendFailMalformedHTLC(h.ID, uint16(code), sha)
	cm.apply(ps, c, eff)
}

// routeIncoming checks a peeled incoming HTLC against our limits and hands it on: to receiveFinal if
// we are its final node, else to the forward queue (queueForward). It returns the failure to send back, or false once the HTLC is taken.
func (cm *ChannelManager) routeIncoming(c *channel, h *htlc, proc *sphinx.ProcessedPacket) (sphinx.FailureMessage, bool) {
	if !c.incomingDustAllowed(h, cm.cfg.ChannelConfig.MaxDustHTLCExposureMsat) {
		cm.log.Warn("incoming HTLC would exceed our dust exposure limit; failing it back", "channel", c.channelID, "htlc", h.ID)
		return sphinx.NewTemporaryChannelFailure(nil), true
	}
	if !proc.IsFinal {
		return cm.queueForward(c, h, proc)
	}
	return cm.receiveFinal(c, h, proc)
}

// receiveFinal receives an HTLC of which we are the final node: its payload is decoded and checked
// (checkFinalHop), then the HTLC joins the set of its payment (addClaimablePart).
func (cm *ChannelManager) receiveFinal(c *channel, h *htlc, proc *sphinx.ProcessedPacket) (sphinx.FailureMessage, bool) {
	payload, err := sphinx.DecodeHopPayload(proc.Payload, true)
	if err != nil {
		var pe *sphinx.PayloadError
		if errors.As(err, &pe) {
			return pe.Failure(), true
		}
		return sphinx.NewInvalidOnionPayload(0, 0), true
	}
	if failure, refused := checkFinalHop(h, payload); refused {
		return failure, true
	}
	height := cm.height()
	if cm.addClaimablePart(c, h, payload, height) {
		return sphinx.FailureMessage{}, false
	}
	return sphinx.NewIncorrectOrUnknownPaymentDetails(h.AmountMsat, height), true
}

// checkFinalHop checks the final hop's payload against the HTLC that carries it (BOLT 4, "Payload for
// the Last Node": amt_to_forward and outgoing_cltv_value must not exceed the HTLC's).
func checkFinalHop(h *htlc, payload *sphinx.HopPayload) (sphinx.FailureMessage, bool) {
	switch {
	case payload.AmtToForwardMsat > h.AmountMsat:
		return sphinx.NewFinalIncorrectHTLCAmount(h.AmountMsat), true
	case payload.OutgoingCLTVValue > h.CltvExpiry:
		return sphinx.NewFinalIncorrectCLTVExpiry(h.CltvExpiry), true
	}
	return sphinx.FailureMessage{}, false
}
