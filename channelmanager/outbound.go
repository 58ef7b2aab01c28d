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
	// dirty names the payments added, changed or removed since PersistTo last wrote them.
	dirty map[events.PaymentID]struct{}
	// retrying names the payments with an amount waiting for a retry (processRetries looks at these
	// only, not at every payment remembered).
	retrying map[events.PaymentID]struct{}
}

func newOutboundPayments() outboundPayments {
	return outboundPayments{byID: map[events.PaymentID]*outboundPayment{}, dirty: map[events.PaymentID]struct{}{},
		retrying: map[events.PaymentID]struct{}{}}
}

// restore adds a payment read back from storage. The caller holds mu (or owns o alone).
func (o *outboundPayments) restore(op *outboundPayment) {
	o.byID[op.ID] = op
	if op.Retry != nil && op.Retry.RetryMsat > 0 && !op.Done {
		o.retrying[op.ID] = struct{}{}
	}
}

// touch marks a payment for the next PersistTo. The caller holds mu.
func (o *outboundPayments) touch(id events.PaymentID) { o.dirty[id] = struct{}{} }

// IdempotencyTimeoutTicks is how many TimerTickOccurred calls (about a minute apart) a finished payment
// is remembered after its last path resolved: a second send with its PaymentID is refused meanwhile
// (ErrDuplicatePayment), then the payment is forgotten, so the manager does not keep every payment
// ever made. It is LDK's IDEMPOTENCY_TIMEOUT_TICKS.
const IdempotencyTimeoutTicks = 7

// pathState is where one path of a payment stands. Persisted: the values never change.
type pathState uint8

const (
	pathInFlight  pathState = 0
	pathFailed    pathState = 1
	pathSucceeded pathState = 2
)

// outboundPath is one path (one HTLC) of a payment we send.
type outboundPath struct {
	FeeMsat    uint64
	AmountMsat uint64 // delivered to the payee by this path
	State      pathState
	// Route is the path's hops, to score its outcome (not persisted: empty after a restart).
	Route router.Path
}

// outboundPayment is a payment we send: one or more paths (a multi-path payment), each an HTLC whose
// source names the payment and the path's index. Done once PaymentSent or PaymentFailed was queued.
type outboundPayment struct {
	ID         events.PaymentID
	Hash       [32]byte
	AmountMsat uint64 // what the payee receives, all paths together
	FeeMsat    uint64 // fees of all paths
	Done       bool
	Paths      []outboundPath
	DoneTicks  int         // timer ticks since Done with every path resolved (not persisted)
	Retry      *retryState // SendPayment's retry state; nil for SendPaymentWithRoute
	Probe      bool        // a probe (SendProbe): its outcome is ProbeSuccessful or ProbeFailed
}

// inFlight reports whether a path of the payment is still unresolved.
func (op *outboundPayment) inFlight() bool {
	for _, p := range op.Paths {
		if p.State == pathInFlight {
			return true
		}
	}
	return false
}

// resolvePath records path i's outcome; false if it was already resolved (outcomes may be reported
// twice: off chain and again by the monitor) or is unknown.
func (op *outboundPayment) resolvePath(i uint32, st pathState) bool {
	if int(i) >= len(op.Paths) || op.Paths[i].State != pathInFlight {
		return false
	}
	op.Paths[i].State = st
	return true
}

// forgetFinishedPayments counts a timer tick for every finished payment with no path in flight and
// forgets those finished IdempotencyTimeoutTicks ticks ago. Called by TimerTickOccurred.
func (cm *ChannelManager) forgetFinishedPayments() {
	cm.outbound.mu.Lock()
	defer cm.outbound.mu.Unlock()
	for id, op := range cm.outbound.byID {
		if !op.Done || op.inFlight() {
			continue
		}
		if op.DoneTicks++; op.DoneTicks >= IdempotencyTimeoutTicks {
			delete(cm.outbound.byID, id)
			cm.outbound.touch(id)
			cm.markNeedsPersist()
		}
	}
}

// SendPaymentWithRoute sends a payment along route (BOLT 4 onions, BOLT 2 `update_add_htlc`): each
// path's first hop must be a peer with a usable channel. A route of several paths is a multi-path
// payment (each path one HTLC carrying the payment secret and the total, BOLT 4 `payment_data`) and
// needs paymentSecret, the invoice's payment secret (nil for none). The outcome arrives as one
// PaymentSent (the first preimage), or as PaymentPathFailed for each failed path then one
// PaymentFailed once every path failed. The PaymentID is refused while the payment is pending and for
// IdempotencyTimeoutTicks timer ticks after it finished. Errors: ErrDuplicatePayment, ErrInvalidRoute,
// ErrChannelUnavailable (no usable channel, or the channel's limits refuse the amount,
// ChannelConfig.MaxDustHTLCExposureMsat included: the wrapped error says which; with several paths,
// an error on a path after the first leaves the paths already sent in flight and fails the rest,
// ErrPartialSend).
func (cm *ChannelManager) SendPaymentWithRoute(route *router.Route, paymentHash [32]byte, paymentSecret *[32]byte, paymentID events.PaymentID) error {
	return cm.sendPayment(route, paymentHash, paymentSecret, nil, paymentID, 0)
}

// SendSpontaneousPayment sends a keysend payment (the preimage travels in the onion, TLV type
// 5482373484) along route and returns its payment hash. Errors as SendPaymentWithRoute.
func (cm *ChannelManager) SendSpontaneousPayment(route *router.Route, preimage [32]byte, paymentID events.PaymentID) ([32]byte, error) {
	hash := sha256.Sum256(preimage[:])
	return hash, cm.sendPayment(route, hash, nil, &preimage, paymentID, 0)
}

// sendPayment sends a payment along route's paths, without retries. totalMsat is the payment's
// total_msat when the route is only part of it; 0 means the route's amount.
func (cm *ChannelManager) sendPayment(route *router.Route, hash [32]byte, secret, keysend *[32]byte, id events.PaymentID, totalMsat uint64) error {
	return cm.sendRoute(route, hash, secret, keysend, id, totalMsat, nil)
}

// sendRoute registers a payment (with its retry state, nil for none) and sends route's paths.
func (cm *ChannelManager) sendRoute(route *router.Route, hash [32]byte, secret, keysend *[32]byte, id events.PaymentID,
	totalMsat uint64, rs *retryState) error {
	if err := route.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRoute, err)
	}
	if len(route.Paths) > 1 && secret == nil {
		return fmt.Errorf("%w: %d paths need a payment secret", ErrInvalidRoute, len(route.Paths))
	}
	op := &outboundPayment{ID: id, Hash: hash, Retry: rs}
	op.addPaths(route)
	if totalMsat == 0 {
		totalMsat = op.AmountMsat
	}
	op.AmountMsat = totalMsat
	cm.outbound.mu.Lock()
	if _, dup := cm.outbound.byID[id]; dup {
		cm.outbound.mu.Unlock()
		return ErrDuplicatePayment
	}
	cm.outbound.byID[id] = op
	cm.outbound.touch(id)
	cm.outbound.mu.Unlock()
	cm.markNeedsPersist()
	sent, err := cm.sendPaths(route, hash, secret, keysend, id, 0, totalMsat)
	switch {
	case err == nil:
		return nil
	case sent == 0:
		cm.outbound.mu.Lock()
		delete(cm.outbound.byID, id)
		cm.outbound.touch(id)
		cm.outbound.mu.Unlock()
		return err
	}
	return fmt.Errorf("%w: %d of %d paths sent: %w", ErrPartialSend, sent, len(route.Paths), err)
}

// addPaths appends route's paths to the payment (in flight) and adds their fees.
func (op *outboundPayment) addPaths(route *router.Route) {
	for i := range route.Paths {
		p := route.Paths[i]
		amt := p.Hops[len(p.Hops)-1].FeeMsat
		op.AmountMsat += amt
		op.FeeMsat += p.TotalFeesMsat()
		op.Paths = append(op.Paths, outboundPath{FeeMsat: p.TotalFeesMsat(), AmountMsat: amt, Route: p})
	}
}

// sendPaths sends route's paths as the payment's paths first, first+1, ...; a path that cannot be
// sent fails at once (with the paths after it) and the count sent before it is returned with the error.
// totalMsat is the whole payment's amount (payment_data's total when it differs from a path's).
func (cm *ChannelManager) sendPaths(route *router.Route, hash [32]byte, secret, keysend *[32]byte, id events.PaymentID,
	first int, totalMsat uint64) (int, error) {
	onionTotal := totalMsat
	if len(route.Paths) == 1 && route.Paths[0].Hops[len(route.Paths[0].Hops)-1].FeeMsat == totalMsat {
		onionTotal = 0 // a single-part payment: payment_data's total is the amount
	}
	for i := range route.Paths {
		src := &pathSource{PaymentID: id, PathIndex: uint32(first + i)}
		err := cm.sendHTLC(&route.Paths[i], hash, secret, keysend, src, onionTotal)
		if err == nil {
			continue
		}
		if i == 0 && first == 0 {
			return 0, err // nothing left: the caller forgets the payment
		}
		for j := i; j < len(route.Paths); j++ {
			ev := events.PaymentPathFailed{PaymentID: id, PaymentHash: hash, ErringHop: -1,
				ShortChannelID: route.Paths[j].Hops[0].ShortChannelID.ToUint64()}
			cm.failOutbound(&pathSource{PaymentID: id, PathIndex: uint32(first + j)}, ev, false)
		}
		return i, err
	}
	return len(route.Paths), nil
}

// sendRetryRoute sends a retry's route as new paths of its payment.
func (cm *ChannelManager) sendRetryRoute(route *router.Route, j retryJob) error {
	if err := route.Validate(); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidRoute, err)
	}
	cm.outbound.mu.Lock()
	op := cm.outbound.byID[j.id]
	if op == nil || op.Done {
		cm.outbound.mu.Unlock()
		return nil
	}
	cm.outbound.touch(j.id)
	first, amount := len(op.Paths), op.AmountMsat
	op.addPaths(route)
	op.AmountMsat = amount // the total does not change
	cm.outbound.mu.Unlock()
	cm.markNeedsPersist()
	_, err := cm.sendPaths(route, j.hash, j.secret, j.keysend, j.id, first, j.total)
	if err != nil {
		cm.log.Info("payment retry: a path could not be sent", "payment", j.id, "err", err)
	}
	return nil // paths that could not be sent failed, and may be retried in turn
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

// sendHTLC sends one path of a payment: the onion, then the HTLC over the path's first channel (the
// one it names, else our usable channel with the peer with the most outbound capacity).
func (cm *ChannelManager) sendHTLC(route *router.Path, hash [32]byte, secret, keysend *[32]byte, src *pathSource, totalMsat uint64) error {
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
	src.SharedSecrets = secrets
	eff, err := best.sendAddHTLC(amount, hash, cltv, &onion, src, cm.cfg.ChannelConfig.MaxDustHTLCExposureMsat)
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
	cm.failOutbound(src, ev, final)
}

// failOutbound records a failed path of a payment: it is scored, PaymentPathFailed is queued, the
// path's amount waits for a retry if the payment has one left, and PaymentFailed follows once no path is
// in flight or waiting. final: the payee itself refused the path.
func (cm *ChannelManager) failOutbound(src *pathSource, ev events.PaymentPathFailed, final bool) {
	cm.outbound.mu.Lock()
	defer cm.outbound.mu.Unlock()
	op := cm.outbound.byID[src.PaymentID]
	if op == nil || !op.resolvePath(src.PathIndex, pathFailed) {
		return
	}
	cm.outbound.touch(src.PaymentID)
	cm.markNeedsPersist()
	p := &op.Paths[src.PathIndex]
	if ev.ShortChannelID == 0 {
		ev.ShortChannelID = failingSCID(&p.Route, &ev)
	}
	if op.Probe {
		cm.probeResolved(op, p, ev, final)
		return
	}
	if r := cm.getRouter(); r != nil && len(p.Route.Hops) > 0 {
		r.PaymentPathFailed(&p.Route, ev.ShortChannelID)
	}
	if op.Done {
		return // it already succeeded: a stray path's failure is not news
	}
	cm.queueEvent(ev)
	if op.Retry == nil { // SendPaymentWithRoute: no retries
		if !op.inFlight() {
			op.Done = true
			reason := events.RetriesExhausted
			if final {
				reason = events.RecipientRejected
			}
			cm.queueEvent(events.PaymentFailed{PaymentID: ev.PaymentID, PaymentHash: ev.PaymentHash, Reason: reason})
		}
		return
	}
	cm.scheduleRetry(op, p, ev.ShortChannelID, final)
	cm.finishIfFailed(op)
}
