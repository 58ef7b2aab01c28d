package channelmanager

import (
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/sphinx"
	"github.com/lnkit/lnkit/lnwire"
)

// inboundPayments is the state of the payments we receive, apart from the channels and under its own
// lock: the payments we expect (CreateInboundPayment) and the HTLC sets arriving for them. Lock order:
// a peer lock may be held while taking mu; mu is held while taking the manager's mu (for the block
// time), never the other way round.
type inboundPayments struct {
	mu        sync.Mutex
	expected  map[[32]byte]*inboundPayment   // by payment hash
	claimable map[[32]byte]*claimablePayment // by payment hash
	// dirtyExpected and dirtyClaimable name the entries added, changed or removed since PersistTo last
	// wrote them (its records are written per payment).
	dirtyExpected, dirtyClaimable map[[32]byte]struct{}
}

func newInboundPayments() inboundPayments {
	return inboundPayments{expected: map[[32]byte]*inboundPayment{}, claimable: map[[32]byte]*claimablePayment{},
		dirtyExpected: map[[32]byte]struct{}{}, dirtyClaimable: map[[32]byte]struct{}{}}
}

// touchExpected and touchClaimable mark an entry for the next PersistTo. The caller holds mu.
func (in *inboundPayments) touchExpected(hash [32]byte)  { in.dirtyExpected[hash] = struct{}{} }
func (in *inboundPayments) touchClaimable(hash [32]byte) { in.dirtyClaimable[hash] = struct{}{} }

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
	cm.inbound.mu.Lock()
	cm.inbound.expected[hash] = p
	cm.inbound.touchExpected(hash)
	cm.inbound.mu.Unlock()
	cm.markNeedsPersist()
	return hash, p.Secret, nil
}

// forgetExpiredInvoices forgets the payments we expect whose invoice expired by the highest block time
// seen: paymentPurpose refuses them from then on (that time never goes back), so keeping them would
// only make the manager grow with every invoice ever created. A payment already being received keeps
// its purpose in its claimable entry. Called by BestBlockUpdated.
func (cm *ChannelManager) forgetExpiredInvoices() {
	cm.mu.Lock()
	now := uint64(cm.highestBlockTime)
	cm.mu.Unlock()
	cm.inbound.mu.Lock()
	defer cm.inbound.mu.Unlock()
	for hash, p := range cm.inbound.expected {
		if p.ExpiresAt < now {
			delete(cm.inbound.expected, hash)
			cm.inbound.touchExpected(hash)
		}
	}
}

// GetPaymentPreimage returns the preimage of a payment created by CreateInboundPayment.
func (cm *ChannelManager) GetPaymentPreimage(paymentHash, paymentSecret [32]byte) ([32]byte, error) {
	cm.inbound.mu.Lock()
	defer cm.inbound.mu.Unlock()
	p := cm.inbound.expected[paymentHash]
	if p == nil || p.Secret != paymentSecret {
		return [32]byte{}, ErrUnknownPayment
	}
	return p.Preimage, nil
}

// addClaimablePart adds an incoming HTLC to the payment it pays, if it fits one we expect (an inbound
// payment with its secret, amount and expiry, or keysend) with enough blocks left before its expiry,
// and announces the payment (PaymentClaimable) once its parts reach the total. It returns false if the
// HTLC fits no payment.
func (cm *ChannelManager) addClaimablePart(c *channel, h *htlc, payload *sphinx.HopPayload, height uint32) bool {
	cm.inbound.mu.Lock()
	defer cm.inbound.mu.Unlock()
	purpose, minDelta, ok := cm.paymentPurpose(h, payload)
	if !ok || h.CltvExpiry < height+minDelta {
		return false
	}
	cp := cm.inbound.claimable[h.PaymentHash]
	cm.inbound.touchClaimable(h.PaymentHash)
	if cp == nil {
		cp = &claimablePayment{Hash: h.PaymentHash, TotalMsat: payload.TotalMsat(), Purpose: purpose}
		cm.inbound.claimable[h.PaymentHash] = cp
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
// preimage matches. It returns the purpose and the minimum final CLTV delta. The caller holds cm.inbound.mu.
func (cm *ChannelManager) paymentPurpose(h *htlc, payload *sphinx.HopPayload) (events.PaymentPurpose, uint32, bool) {
	inb := cm.inbound.expected[h.PaymentHash]
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
	cm.inbound.mu.Lock()
	defer cm.inbound.mu.Unlock()
	cp := cm.inbound.claimable[hash]
	if cp == nil || !cp.Announced {
		return nil
	}
	delete(cm.inbound.claimable, hash)
	delete(cm.inbound.expected, hash)
	cm.inbound.touchClaimable(hash)
	cm.inbound.touchExpected(hash)
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
