package channelmanager

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/sphinx"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
)

// DefaultMinFinalCLTVExpiryDelta is the min_final_cltv_expiry_delta, in blocks, used when the caller
// gives none (BOLT 11's default is 18, too short here). It must exceed channelmonitor.HTLCFailBackBuffer
// (39): an incoming HTLC closer to its expiry than that is failed back, so a smaller delta would fail
// every payment on arrival. 42 is LDK's MIN_FINAL_CLTV_EXPIRY_DELTA for the same reason.
const DefaultMinFinalCLTVExpiryDelta = channelmonitor.HTLCFailBackBuffer + 3

// inboundPayment is a payment we expect: created by CreateInboundPayment.
type inboundPayment struct {
	Preimage                [32]byte
	Secret                  [32]byte
	AmountMsat              uint64 // 0: any amount
	MinFinalCLTVExpiryDelta uint16
	ExpiresAt               uint64 // unix seconds, compared with block timestamps
}

// claimPart is one HTLC of a payment to us.
type claimPart struct {
	ChannelID    lnwire.ChannelID
	Counterparty *btcec.PublicKey
	HTLCID       uint64
	AmountMsat   uint64
	CltvExpiry   uint32
	// FundingTxo reaches the channel's monitor after the manager forgot the closed channel.
	FundingTxo wire.OutPoint
}

// claimablePayment collects the HTLCs of one payment hash until they reach the total.
type claimablePayment struct {
	Hash      [32]byte
	Parts     []claimPart
	TotalMsat uint64
	Purpose   events.PaymentPurpose
	Announced bool // PaymentClaimable was queued
	Ticks     int  // timer ticks since the first part arrived, while incomplete (not persisted)
}

// outboundPayment is a payment we send.
type outboundPayment struct {
	ID         events.PaymentID
	Hash       [32]byte
	AmountMsat uint64
	FeeMsat    uint64
	Done       bool
}

// CreateInboundPayment registers a payment we will receive and returns its payment hash and payment
// secret, for an invoice. amountMsat 0 accepts any amount (otherwise at least amountMsat and at most
// twice it); the payment expires invoiceExpirySecs after the newest block timestamp seen;
// minFinalCLTVExpiryDelta 0 means DefaultMinFinalCLTVExpiryDelta. The preimage comes from the entropy
// source and stays with us until the payment is claimed.
func (cm *ChannelManager) CreateInboundPayment(amountMsat uint64, invoiceExpirySecs uint32, minFinalCLTVExpiryDelta uint16) (paymentHash, paymentSecret [32]byte, err error) {
	if minFinalCLTVExpiryDelta == 0 {
		minFinalCLTVExpiryDelta = DefaultMinFinalCLTVExpiryDelta
	}
	p := &inboundPayment{Preimage: cm.keys.GetSecureRandomBytes(), Secret: cm.keys.GetSecureRandomBytes(),
		AmountMsat: amountMsat, MinFinalCLTVExpiryDelta: minFinalCLTVExpiryDelta}
	cm.mu.Lock()
	p.ExpiresAt = uint64(cm.highestBlockTime) + uint64(invoiceExpirySecs)
	cm.mu.Unlock()
	hash := sha256.Sum256(p.Preimage[:])
	cm.payMu.Lock()
	cm.inbound[hash] = p
	cm.payMu.Unlock()
	cm.needsPersist.Store(true)
	return hash, p.Secret, nil
}

// GetPaymentPreimage returns the preimage of a payment created by CreateInboundPayment.
func (cm *ChannelManager) GetPaymentPreimage(paymentHash, paymentSecret [32]byte) ([32]byte, error) {
	cm.payMu.Lock()
	defer cm.payMu.Unlock()
	p := cm.inbound[paymentHash]
	if p == nil || p.Secret != paymentSecret {
		return [32]byte{}, ErrUnknownPayment
	}
	return p.Preimage, nil
}

// failIncoming fails an incoming HTLC back with failure, encrypted for the payer. The caller holds ps.mu.
func (cm *ChannelManager) failIncoming(ps *peerState, c *channel, h *htlc, failure sphinx.FailureMessage) {
	reason := sphinx.CreateErrorPacket(h.SharedSecret, failure)
	eff, err := c.sendFailHTLC(h.ID, reason)
	cm.apply(ps, c, eff)
	if err != nil {
		cm.log.Error("cannot fail HTLC", "channel", c.channelID, "htlc", h.ID, "err", err)
	}
}

// incomingCommitted handles an incoming HTLC once it is irrevocably committed: it peels the onion and,
// as the final node, checks it against the expected payment (BOLT 4, "Payload for the Last Node"),
// failing it back if it does not fit. The caller holds ps.mu.
func (cm *ChannelManager) incomingCommitted(ps *peerState, c *channel, h *htlc) {
	pkt := sphinx.OnionPacket(h.Onion)
	proc, err := sphinx.ProcessOnionPacket(&pkt, h.PaymentHash[:], cm.keys.ECDH)
	if err != nil {
		cm.failUnreadableOnion(ps, c, h, &pkt, proc, err)
		return
	}
	h.SharedSecret = proc.SharedSecret
	if failure, refused := cm.refuseIncoming(c, h, proc); refused {
		cm.failIncoming(ps, c, h, failure)
	}
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

// refuseIncoming checks a peeled incoming HTLC as the final node and returns the failure to send back,
// or adds the HTLC to its payment (PaymentClaimable once the parts reach the total) and returns false.
func (cm *ChannelManager) refuseIncoming(c *channel, h *htlc, proc *sphinx.ProcessedPacket) (sphinx.FailureMessage, bool) {
	if !c.incomingDustAllowed(h, cm.cfg.ChannelConfig.MaxDustHTLCExposureMsat) {
		cm.log.Warn("incoming HTLC would exceed our dust exposure limit; failing it back", "channel", c.channelID, "htlc", h.ID)
		return sphinx.NewTemporaryChannelFailure(nil), true
	}
	height := cm.height()
	if !proc.IsFinal {
		// Forwarding arrives with the router; until then we are only ever the final node.
		return sphinx.NewFailure(sphinx.UnknownNextPeer), true
	}
	payload, err := sphinx.DecodeHopPayload(proc.Payload, true)
	if err != nil {
		var pe *sphinx.PayloadError
		if errors.As(err, &pe) {
			return pe.Failure(), true
		}
		return sphinx.NewInvalidOnionPayload(0, 0), true
	}
	switch {
	case payload.AmtToForwardMsat > h.AmountMsat:
		return sphinx.NewFinalIncorrectHTLCAmount(h.AmountMsat), true
	case payload.OutgoingCLTVValue > h.CltvExpiry:
		return sphinx.NewFinalIncorrectCLTVExpiry(h.CltvExpiry), true
	}
	if cm.addClaimablePart(c, h, payload, height) {
		return sphinx.FailureMessage{}, false
	}
	return sphinx.NewIncorrectOrUnknownPaymentDetails(h.AmountMsat, height), true
}

// addClaimablePart adds an incoming HTLC to the payment it pays, if it fits one we expect (an inbound
// payment with its secret, amount and expiry, or keysend) with enough blocks left before its expiry,
// and announces the payment (PaymentClaimable) once its parts reach the total. It returns false if the
// HTLC fits no payment.
func (cm *ChannelManager) addClaimablePart(c *channel, h *htlc, payload *sphinx.HopPayload, height uint32) bool {
	cm.payMu.Lock()
	defer cm.payMu.Unlock()
	purpose, minDelta, ok := cm.paymentPurpose(h, payload)
	if !ok || h.CltvExpiry < height+minDelta {
		return false
	}
	cp := cm.claimable[h.PaymentHash]
	if cp == nil {
		cp = &claimablePayment{Hash: h.PaymentHash, TotalMsat: payload.TotalMsat(), Purpose: purpose}
		cm.claimable[h.PaymentHash] = cp
	} else if cp.TotalMsat != payload.TotalMsat() || cp.Announced {
		return false
	}
	cp.Parts = append(cp.Parts, claimPart{ChannelID: c.channelID, Counterparty: c.counterparty, HTLCID: h.ID, FundingTxo: c.fundingOutPoint,
		AmountMsat: h.AmountMsat, CltvExpiry: h.CltvExpiry})
	if sum := cp.receivedMsat(); sum >= cp.TotalMsat {
		cp.Announced = true
		cm.queueEvent(events.PaymentClaimable{ReceiverNodeID: cm.ourNode, PaymentHash: h.PaymentHash, AmountMsat: sum,
			Purpose: cp.Purpose, ViaChannelID: c.channelID, ClaimDeadline: cp.claimDeadline()})
	}
	return true
}

// paymentPurpose finds what an incoming HTLC pays: an inbound payment we created (its secret must
// match, the total must be within [amount, 2*amount] and the payment not expired) or a keysend whose
// preimage matches. It returns the purpose and the minimum final CLTV delta. The caller holds payMu.
func (cm *ChannelManager) paymentPurpose(h *htlc, payload *sphinx.HopPayload) (events.PaymentPurpose, uint32, bool) {
	inb := cm.inbound[h.PaymentHash]
	switch {
	case inb != nil:
		if payload.PaymentData == nil || payload.PaymentData.PaymentSecret != inb.Secret {
			return events.PaymentPurpose{}, 0, false
		}
		total := payload.TotalMsat()
		if inb.AmountMsat != 0 && (total < inb.AmountMsat || total > 2*inb.AmountMsat) {
			return events.PaymentPurpose{}, 0, false
		}
		cm.mu.Lock()
		expired := inb.ExpiresAt < uint64(cm.highestBlockTime)
		cm.mu.Unlock()
		if expired {
			return events.PaymentPurpose{}, 0, false
		}
		pre := inb.Preimage
		return events.PaymentPurpose{PaymentPreimage: &pre, PaymentSecret: inb.Secret}, uint32(inb.MinFinalCLTVExpiryDelta), true
	case payload.KeysendPreimage != nil && sha256.Sum256(payload.KeysendPreimage[:]) == h.PaymentHash:
		pre := *payload.KeysendPreimage
		purpose := events.PaymentPurpose{PaymentPreimage: &pre}
		if payload.PaymentData != nil {
			purpose.PaymentSecret = payload.PaymentData.PaymentSecret
		}
		return purpose, uint32(DefaultMinFinalCLTVExpiryDelta), true
	}
	return events.PaymentPurpose{}, 0, false
}

// takeClaimable removes and returns the claimable payment with the given hash.
func (cm *ChannelManager) takeClaimable(hash [32]byte) *claimablePayment {
	cm.payMu.Lock()
	defer cm.payMu.Unlock()
	cp := cm.claimable[hash]
	if cp == nil || !cp.Announced {
		return nil
	}
	delete(cm.claimable, hash)
	delete(cm.inbound, hash)
	return cp
}

// ClaimFunds claims a payment announced by PaymentClaimable with its preimage. For each HTLC whose
// channel we still know (open, or closed but not yet forgotten) the preimage goes to the channel's
// monitor first (it claims the HTLC on chain if the channel is closed) and, if the channel is open,
// `update_fulfill_htlc` to the peer; that HTLC counts as claimed. A PaymentClaimed event with the
// claimed amount follows if any HTLC was claimed. Errors: ErrUnknownPayment (no claimable payment with
// that preimage's hash), ErrPaymentNotClaimed (no HTLC could be claimed; each failure is logged and no
// event follows).
func (cm *ChannelManager) ClaimFunds(preimage [32]byte) error {
	hash := sha256.Sum256(preimage[:])
	cp := cm.takeClaimable(hash)
	if cp == nil {
		return ErrUnknownPayment
	}
	var claimed uint64
	for _, part := range cp.Parts {
		if cm.claimPart(part, preimage) {
			claimed += part.AmountMsat
		}
	}
	if claimed == 0 {
		return fmt.Errorf("%w: payment %x, %d HTLCs", ErrPaymentNotClaimed, hash, len(cp.Parts))
	}
	cm.queueEvent(events.PaymentClaimed{ReceiverNodeID: cm.ourNode, PaymentHash: hash, AmountMsat: claimed, Purpose: cp.Purpose})
	return nil
}

// claimPart claims one HTLC of a payment and reports whether it did (see ClaimFunds).
func (cm *ChannelManager) claimPart(part claimPart, preimage [32]byte) bool {
	ps, c, err := cm.channelFor(part.Counterparty, part.ChannelID)
	if err != nil {
		return cm.claimOnClosedChannel(part, preimage, err)
	}
	defer ps.mu.Unlock()
	eff, err := c.sendFulfillHTLC(part.HTLCID, preimage)
	cm.apply(ps, c, eff)
	switch {
	case c.state == stateClosed:
		cm.log.Info("claim: channel closed; the monitor claims on chain", "channel", part.ChannelID, "htlc", part.HTLCID)
	case err != nil:
		cm.log.Error("claim: cannot fulfill", "channel", part.ChannelID, "htlc", part.HTLCID, "err", err)
		return false
	}
	return true
}

// claimOnClosedChannel gives the preimage to the monitor of a channel the manager already forgot (its
// commitment confirmed): the monitor claims the HTLC on chain.
func (cm *ChannelManager) claimOnClosedChannel(part claimPart, preimage [32]byte, err error) bool {
	if part.FundingTxo == (wire.OutPoint{}) {
		cm.log.Error("claim: channel gone", "channel", part.ChannelID, "htlc", part.HTLCID, "err", err)
		return false
	}
	upd := &channelmonitor.ChannelMonitorUpdate{UpdateID: channelmonitor.ClosedChannelUpdateID, ChannelID: part.ChannelID,
		Steps: []channelmonitor.UpdateStep{channelmonitor.PaymentPreimage{Preimage: preimage}}}
	if cm.watch.UpdateChannel(part.FundingTxo, upd) == channelmonitor.UnrecoverableError {
		cm.log.Error("claim: the closed channel's monitor refused the preimage", "channel", part.ChannelID, "htlc", part.HTLCID)
		return false
	}
	cm.log.Info("claim: channel closed; the monitor claims on chain", "channel", part.ChannelID, "htlc", part.HTLCID)
	return true
}

// FailHTLCBackwards fails every HTLC of a claimable payment back with
// `incorrect_or_unknown_payment_details`. Errors: ErrUnknownPayment.
func (cm *ChannelManager) FailHTLCBackwards(paymentHash [32]byte) error {
	cp := cm.takeClaimable(paymentHash)
	if cp == nil {
		return ErrUnknownPayment
	}
	height := cm.height()
	cm.failParts(cp.Parts, func(p claimPart) sphinx.FailureMessage {
		return sphinx.NewIncorrectOrUnknownPaymentDetails(p.AmountMsat, height)
	})
	return nil
}

// SendPaymentWithRoute sends a payment along route, a single path whose first hop must be a peer with a
// usable channel (BOLT 4 onion, BOLT 2 `update_add_htlc`); routes of several paths (multi-path
// payments) are refused with ErrInvalidRoute for now. paymentSecret is the invoice's payment secret
// (nil for none). The outcome arrives as PaymentSent, or PaymentPathFailed then PaymentFailed. Errors:
// ErrDuplicatePayment, ErrInvalidRoute, ErrChannelUnavailable (no usable channel, or the channel's
// limits refuse the amount, ChannelConfig.MaxDustHTLCExposureMsat included: the wrapped error says
// which).
func (cm *ChannelManager) SendPaymentWithRoute(route *router.Route, paymentHash [32]byte, paymentSecret *[32]byte, paymentID events.PaymentID) error {
	return cm.sendPayment(route, paymentHash, paymentSecret, nil, paymentID, 0)
}

// SendSpontaneousPayment sends a keysend payment (the preimage travels in the onion, TLV type
// 5482373484) along route and returns its payment hash. Errors as SendPaymentWithRoute.
func (cm *ChannelManager) SendSpontaneousPayment(route *router.Route, preimage [32]byte, paymentID events.PaymentID) ([32]byte, error) {
	hash := sha256.Sum256(preimage[:])
	return hash, cm.sendPayment(route, hash, nil, &preimage, paymentID, 0)
}

// sendPayment sends a payment along route. totalMsat is the payment's total_msat when this is one part
// of a multi-part payment; 0 means the route's amount (a single-part payment).
func (cm *ChannelManager) sendPayment(route *router.Route, hash [32]byte, secret, keysend *[32]byte, id events.PaymentID, totalMsat uint64) error {
	if err := route.Validate(); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalidRoute, err)
	}
	if len(route.Paths) != 1 {
		return fmt.Errorf("%w: %d paths; sending over several paths is not supported yet", ErrInvalidRoute, len(route.Paths))
	}
	path := &route.Paths[0]
	cm.payMu.Lock()
	if _, dup := cm.outbound[id]; dup {
		cm.payMu.Unlock()
		return ErrDuplicatePayment
	}
	cm.outbound[id] = &outboundPayment{ID: id, Hash: hash, AmountMsat: path.Hops[len(path.Hops)-1].FeeMsat, FeeMsat: path.TotalFeesMsat()}
	cm.payMu.Unlock()
	err := cm.sendHTLC(path, hash, secret, keysend, id, totalMsat)
	if err != nil {
		cm.payMu.Lock()
		delete(cm.outbound, id)
		cm.payMu.Unlock()
	}
	return err
}

// buildOnion builds the onion for route at the current height; it returns the packet, the per-hop
// shared secrets, and the first HTLC's amount and cltv_expiry. totalMsat as in sendPayment.
func (cm *ChannelManager) buildOnion(route *router.Path, hash [32]byte, secret, keysend *[32]byte, height uint32, totalMsat uint64) (*sphinx.OnionPacket, [][32]byte, uint64, uint32, error) {
	n := len(route.Hops)
	hops := make([]sphinx.Hop, n)
	var amount uint64
	cltv := height
	// Walk backwards: each hop's payload tells it what to forward.
	for i := n - 1; i >= 0; i-- {
		rh := route.Hops[i]
		// amount and cltv are what the next hop receives (nothing and the current height after the last).
		var p sphinx.HopPayload
		if i == n-1 {
			p.AmtToForwardMsat, p.OutgoingCLTVValue = rh.FeeMsat, cltv+rh.CLTVExpiryDelta
			if secret != nil {
				p.PaymentData = &sphinx.PaymentData{PaymentSecret: *secret, TotalMsat: rh.FeeMsat}
				if totalMsat != 0 {
					p.PaymentData.TotalMsat = totalMsat
				}
			}
			p.KeysendPreimage = keysend
		} else {
			p.AmtToForwardMsat, p.OutgoingCLTVValue = amount, cltv
			scid := route.Hops[i+1].ShortChannelID.ToUint64()
			p.ShortChannelID = &scid
		}
		b, err := p.Encode()
		if err != nil {
			return nil, nil, 0, 0, fmt.Errorf("%w: %v", ErrInvalidRoute, err)
		}
		hops[i] = sphinx.Hop{NodePubkey: rh.PubKey, Payload: b}
		amount += rh.FeeMsat
		cltv += rh.CLTVExpiryDelta
	}
	sk := cm.keys.GetSecureRandomBytes()
	session, _ := btcec.PrivKeyFromBytes(sk[:])
	pkt, secrets, err := sphinx.NewOnionPacket(session, hops, hash[:])
	if err != nil {
		return nil, nil, 0, 0, fmt.Errorf("%w: %v", ErrInvalidRoute, err)
	}
	return pkt, secrets, amount, cltv, nil
}

func (cm *ChannelManager) sendHTLC(route *router.Path, hash [32]byte, secret, keysend *[32]byte, id events.PaymentID, totalMsat uint64) error {
	first := route.Hops[0]
	ps := cm.peer(first.PubKey, false)
	if ps == nil {
		return fmt.Errorf("%w: no channel with the first hop", ErrChannelUnavailable)
	}
	pkt, secrets, amount, cltv, err := cm.buildOnion(route, hash, secret, keysend, cm.height(), totalMsat)
	if err != nil {
		return err
	}
	ps.mu.Lock()
	defer ps.mu.Unlock()
	// Pick the channel: the one named by the route, else the usable one with the most outbound capacity.
	var best *channel
	var bestCap uint64
	var lastErr error = fmt.Errorf("%w: no usable channel with the first hop", ErrChannelUnavailable)
	for _, c := range ps.channels {
		if !c.isUsable() {
			continue
		}
		if first.ShortChannelID != (lnwire.ShortChannelID{}) && c.shortChannelID != first.ShortChannelID {
			continue
		}
		if capMsat := c.outboundCapacityMsat(); best == nil || capMsat > bestCap {
			best, bestCap = c, capMsat
		}
	}
	if best == nil {
		return lastErr
	}
	onion := [1366]byte(*pkt)
	eff, err := best.sendAddHTLC(amount, hash, cltv, &onion, paymentRef{paymentID: id, sharedSecrets: secrets}, cm.cfg.ChannelConfig.MaxDustHTLCExposureMsat)
	cm.apply(ps, best, eff)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrChannelUnavailable, err)
	}
	return nil
}

// outgoingFulfilled reports a payment's success as soon as the preimage arrives.
func (cm *ChannelManager) outgoingFulfilled(h *htlc) {
	cm.payMu.Lock()
	defer cm.payMu.Unlock()
	op := cm.outbound[h.PaymentID]
	if op == nil || op.Done {
		return
	}
	op.Done = true
	cm.queueEvent(events.PaymentSent{PaymentID: op.ID, PaymentPreimage: h.Preimage, PaymentHash: h.PaymentHash, FeePaidMsat: op.FeeMsat})
}

// outgoingResolved reports a failed outgoing HTLC once its removal is irrevocable.
func (cm *ChannelManager) outgoingResolved(h *htlc) {
	if h.Remove == removeFulfill {
		return
	}
	ev := events.PaymentPathFailed{PaymentID: h.PaymentID, PaymentHash: h.PaymentHash, ErringHop: -1}
	if h.Remove == removeFailMalformed {
		ev.FailureCode, ev.ErringHop = h.FailCode, 0
	} else if idx, fm, err := sphinx.DecryptErrorPacket(h.SharedSecrets, h.FailReason); err == nil {
		ev.FailureCode, ev.FailureData, ev.ErringHop = uint16(fm.Code), fm.Data, idx
	}
	final := ev.ErringHop == len(h.SharedSecrets)-1
	ev.PaymentFailedPermanently = final || sphinx.FailureCode(ev.FailureCode)&sphinx.FlagPerm != 0
	cm.failOutbound(ev, final)
}

func (cm *ChannelManager) failOutbound(ev events.PaymentPathFailed, final bool) {
	cm.payMu.Lock()
	defer cm.payMu.Unlock()
	op := cm.outbound[ev.PaymentID]
	if op == nil || op.Done {
		return
	}
	op.Done = true
	cm.queueEvent(ev)
	reason := events.RetriesExhausted
	if final {
		reason = events.RecipientRejected
	}
	cm.queueEvent(events.PaymentFailed{PaymentID: ev.PaymentID, PaymentHash: ev.PaymentHash, Reason: reason})
}

// outboundCapacityMsat is what we could send now: our balance in the next remote commitment less our
// reserve and, as funder, the commitment fee.
func (c *channel) outboundCapacityMsat() uint64 {
	v := c.projectedView(false)
	avail := v.ourMsat
	need := c.remote.ChannelReserveSat * 1000
	if c.outbound {
		need += c.funderFeeMsat(v, c.remote.DustLimitSat, false, v.feeratePerKw, 1)
	}
	if avail <= need {
		return 0
	}
	return avail - need
}

// inboundCapacityMsat is what the counterparty could send us now.
func (c *channel) inboundCapacityMsat() uint64 {
	v := c.projectedView(true)
	avail := v.theirMsat
	need := c.local.ChannelReserveSat * 1000
	if !c.outbound {
		need += c.funderFeeMsat(v, c.local.DustLimitSat, true, v.feeratePerKw, 1)
	}
	if avail <= need {
		return 0
	}
	return avail - need
}

func sha256Sum(b [32]byte) [32]byte { return sha256.Sum256(b[:]) }
