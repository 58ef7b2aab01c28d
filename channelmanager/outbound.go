package channelmanager

import (
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/sphinx"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
)

// outboundPayments is the state of the payments we send (LDK's OutboundPayments), apart from the
// channels and under its own lock. An HTLC we offer for a payment carries a pathSource naming it; the
// payment's outcome is decided here from the HTLCs' outcomes. A peer lock may be held while taking mu.
type outboundPayments struct {
	mu   sync.Mutex
	byID map[events.PaymentID]*outboundPayment
}

func newOutboundPayments() outboundPayments {
	return outboundPayments{byID: map[events.PaymentID]*outboundPayment{}}
}

// outboundPayment is a payment we send.
type outboundPayment struct {
	ID         events.PaymentID
	Hash       [32]byte
	AmountMsat uint64
	FeeMsat    uint64
	Done       bool
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
	cm.outbound.mu.Lock()
	if _, dup := cm.outbound.byID[id]; dup {
		cm.outbound.mu.Unlock()
		return ErrDuplicatePayment
	}
	cm.outbound.byID[id] = &outboundPayment{ID: id, Hash: hash, AmountMsat: path.Hops[len(path.Hops)-1].FeeMsat, FeeMsat: path.TotalFeesMsat()}
	cm.outbound.mu.Unlock()
	err := cm.sendHTLC(path, hash, secret, keysend, id, totalMsat)
	if err != nil {
		cm.outbound.mu.Lock()
		delete(cm.outbound.byID, id)
		cm.outbound.mu.Unlock()
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
	eff, err := best.sendAddHTLC(amount, hash, cltv, &onion, &pathSource{PaymentID: id, SharedSecrets: secrets}, cm.cfg.ChannelConfig.MaxDustHTLCExposureMsat)
	cm.apply(ps, best, eff)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrChannelUnavailable, err)
	}
	return nil
}

// pathFailed reports a failed path of one of our payments once the HTLC's removal is irrevocable (or
// it was never sent, or timed out on chain): the returned error is decrypted with the path's shared
// secrets to find the erring hop (BOLT 4, "Returning Errors").
func (cm *ChannelManager) pathFailed(src *pathSource, hash [32]byte, f htlcFailure) {
	ev := events.PaymentPathFailed{PaymentID: src.PaymentID, PaymentHash: hash, ErringHop: -1}
	switch {
	case f.malformed:
		ev.FailureCode, ev.ErringHop = f.malformedCode, 0
	case f.reason != nil:
		if idx, fm, err := sphinx.DecryptErrorPacket(src.SharedSecrets, f.reason); err == nil {
			ev.FailureCode, ev.FailureData, ev.ErringHop = uint16(fm.Code), fm.Data, idx
		}
	}
	final := ev.ErringHop >= 0 && ev.ErringHop == len(src.SharedSecrets)-1
	ev.PaymentFailedPermanently = final || sphinx.FailureCode(ev.FailureCode)&sphinx.FlagPerm != 0
	cm.failOutbound(ev, final)
}

func (cm *ChannelManager) failOutbound(ev events.PaymentPathFailed, final bool) {
	cm.outbound.mu.Lock()
	defer cm.outbound.mu.Unlock()
	op := cm.outbound.byID[ev.PaymentID]
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
