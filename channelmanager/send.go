package channelmanager

import (
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/sphinx"
	"github.com/lnkit/lnkit/router"
)

// Router finds routes for SendPayment and learns from their outcomes (LDK's Router trait);
// router.DefaultRouter implements it over the network graph and a scorer. Its methods are called with
// manager locks held: they must not call back into the ChannelManager.
type Router interface {
	// FindRoute finds a route from payer as params ask, over firstHops (our usable channels).
	FindRoute(payer [33]byte, params *router.RouteParameters, firstHops []router.FirstHop) (*router.Route, error)
	// PaymentPathFailed: a path failed at the channel failingSCID (0: not attributable).
	PaymentPathFailed(path *router.Path, failingSCID uint64)
	// PaymentPathSuccessful: a path carried its amount.
	PaymentPathSuccessful(path *router.Path)
	// ProbeFailed and ProbeSuccessful are the same for probes (SendProbe).
	ProbeFailed(path *router.Path, failingSCID uint64)
	ProbeSuccessful(path *router.Path)
}

// RecipientOnionFields are what the payee's final onion payload carries besides the amount (LDK's
// RecipientOnionFields): the invoice's payment secret (BOLT 11 `s`; needed for multi-path).
type RecipientOnionFields struct {
	PaymentSecret *[32]byte
}

// Retry says how long SendPayment keeps retrying failed paths over new routes (LDK's Retry): at most
// Attempts routes in all, or, when TimeoutTicks is set, until that many TimerTickOccurred calls passed
// since the payment started. The zero value never retries.
type Retry struct {
	Attempts     int
	TimeoutTicks int
}

// Errors of SendPayment.
var (
	// ErrNoRouter: the manager was given no Router (SetRouter).
	ErrNoRouter = errors.New("channelmanager: no router")
	// ErrRouteNotFound: the router found no route (the wrapped error says why).
	ErrRouteNotFound = errors.New("channelmanager: no route found")
)

// retryState is what a payment sent by SendPayment needs to retry.
type retryState struct {
	Params    router.RouteParameters
	Secret    *[32]byte
	Keysend   *[32]byte // the preimage a keysend payment carries in its onion
	Retry     Retry
	Attempts  int    // routes sent so far
	Ticks     int    // timer ticks since the payment started
	RetryMsat uint64 // amount of failed paths waiting for a new route
	Abandoned bool
	Reason    events.PaymentFailureReason // why it will fail if nothing else succeeds
}

// canRetry reports whether another route may be tried.
func (r *retryState) canRetry() bool {
	switch {
	case r.Abandoned:
		return false
	case r.Retry.TimeoutTicks > 0:
		return r.Ticks < r.Retry.TimeoutTicks
	}
	return r.Attempts < r.Retry.Attempts
}

// SetRouter gives the manager the Router SendPayment uses (nil: none). Call it once, before sending.
func (cm *ChannelManager) SetRouter(r Router) {
	cm.routerMu.Lock()
	cm.router = r
	cm.routerMu.Unlock()
}

func (cm *ChannelManager) getRouter() Router {
	cm.routerMu.Lock()
	defer cm.routerMu.Unlock()
	return cm.router
}

// SendPayment pays params.Payee params.FinalValueMsat over routes the Router finds (LDK's
// send_payment): one route at first (several paths when the payee supports multi-path and one path
// cannot carry it), then, for each path that fails with a transient error, a new route for the failed
// amount avoiding the failing channel, within retry. The outcome is one PaymentSent, or PaymentFailed
// once no path is in flight and no retry is left (RecipientRejected if the payee refused, RouteNotFound
// if no route was left, RetriesExhausted, UserAbandoned). PaymentPathFailed reports each failed path.
// The PaymentID is refused while the payment is pending and for IdempotencyTimeoutTicks ticks after.
// Errors: ErrNoRouter, ErrDuplicatePayment, ErrRouteNotFound (nothing was sent), the errors of
// SendPaymentWithRoute.
func (cm *ChannelManager) SendPayment(paymentHash [32]byte, onion RecipientOnionFields, paymentID events.PaymentID,
	params router.RouteParameters, retry Retry) error {
	route, err := cm.firstRoute(paymentID, &params)
	if err != nil {
		return err
	}
	rs := &retryState{Params: params, Secret: onion.PaymentSecret, Retry: retry, Attempts: 1, Reason: events.RetriesExhausted}
	return cm.sendRoute(route, paymentHash, onion.PaymentSecret, nil, paymentID, params.FinalValueMsat, rs)
}

// SendSpontaneousPaymentWithRetry sends a keysend payment (the preimage travels in the onion, TLV type
// 5482373484) over routes the Router finds, retrying as SendPayment does, and returns its payment
// hash (LDK's send_spontaneous_payment). onion.PaymentSecret, if set, lets the payment use several
// paths (the payee must offer basic_mpp in params.PayeeFeatures). Errors as SendPayment.
func (cm *ChannelManager) SendSpontaneousPaymentWithRetry(preimage [32]byte, onion RecipientOnionFields, paymentID events.PaymentID,
	params router.RouteParameters, retry Retry) ([32]byte, error) {
	hash := sha256.Sum256(preimage[:])
	if onion.PaymentSecret == nil {
		params.MaxPathCount = 1
	}
	route, err := cm.firstRoute(paymentID, &params)
	if err != nil {
		return hash, err
	}
	rs := &retryState{Params: params, Secret: onion.PaymentSecret, Keysend: &preimage, Retry: retry, Attempts: 1, Reason: events.RetriesExhausted}
	return hash, cm.sendRoute(route, hash, onion.PaymentSecret, &preimage, paymentID, params.FinalValueMsat, rs)
}

// firstRoute is a new payment's first route: ErrNoRouter, ErrDuplicatePayment (the id is taken) or
// ErrRouteNotFound before anything is sent.
func (cm *ChannelManager) firstRoute(id events.PaymentID, params *router.RouteParameters) (*router.Route, error) {
	r := cm.getRouter()
	if r == nil {
		return nil, ErrNoRouter
	}
	cm.outbound.mu.Lock()
	_, dup := cm.outbound.byID[id]
	cm.outbound.mu.Unlock()
	if dup {
		return nil, ErrDuplicatePayment
	}
	route, err := r.FindRoute(nodeKey(cm.ourNode), params, cm.firstHops())
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrRouteNotFound, err)
	}
	return route, nil
}

// AbandonPayment stops retrying a payment: it ends in PaymentFailed (UserAbandoned) once its paths in
// flight have failed, or PaymentSent if one of them still succeeds. Errors: ErrUnknownPayment.
func (cm *ChannelManager) AbandonPayment(paymentID events.PaymentID) error {
	cm.outbound.mu.Lock()
	defer cm.outbound.mu.Unlock()
	op := cm.outbound.byID[paymentID]
	if op == nil || op.Done {
		return ErrUnknownPayment
	}
	cm.outbound.touch(paymentID)
	if op.Retry == nil {
		op.Retry = &retryState{}
	}
	op.Retry.Abandoned, op.Retry.Reason, op.Retry.RetryMsat = true, events.UserAbandoned, 0
	cm.markNeedsPersist()
	cm.finishIfFailed(op)
	return nil
}

// firstHops are our usable channels as the router takes them.
func (cm *ChannelManager) firstHops() []router.FirstHop {
	chans := cm.ListUsableChannels()
	out := make([]router.FirstHop, 0, len(chans))
	for _, d := range chans {
		if d.ShortChannelID.ToUint64() == 0 {
			continue
		}
		out = append(out, router.FirstHop{SCID: d.ShortChannelID.ToUint64(), CounterpartyNodeID: nodeKey(d.CounterpartyNodeID),
			OutboundCapacityMsat: d.OutboundCapacityMsat})
	}
	return out
}

// failingSCID is the channel a path failure points at (BOLT 4): the erring node's outgoing channel
// for a channel failure, none for a node failure or an unreadable error.
func failingSCID(path *router.Path, ev *events.PaymentPathFailed) uint64 {
	code := sphinx.FailureCode(ev.FailureCode)
	switch {
	case ev.ErringHop < 0 || ev.FailureCode == 0 || code&sphinx.FlagNode != 0:
		return 0
	case ev.ErringHop+1 < len(path.Hops):
		return path.Hops[ev.ErringHop+1].ShortChannelID.ToUint64()
	}
	return 0
}

// scheduleRetry records a failed path of a payment with retries: its amount waits for a new route
// (processRetries) unless the payee refused, no retry is left, or the payment was abandoned. The
// caller holds cm.outbound.mu.
func (cm *ChannelManager) scheduleRetry(op *outboundPayment, p *outboundPath, scid uint64, final bool) {
	rs := op.Retry
	if rs == nil {
		return
	}
	if scid != 0 {
		rs.Params.PreviouslyFailedChannels = append(rs.Params.PreviouslyFailedChannels, scid)
	}
	switch {
	case rs.Abandoned:
	case final:
		rs.Reason = events.RecipientRejected
	case rs.canRetry():
		rs.RetryMsat += p.AmountMsat
		cm.outbound.retrying[op.ID] = struct{}{}
	}
}

// finishIfFailed ends a payment that can no longer succeed: no path in flight, none waiting for a
// retry. The caller holds cm.outbound.mu.
func (cm *ChannelManager) finishIfFailed(op *outboundPayment) {
	if op.Done || op.inFlight() || (op.Retry != nil && op.Retry.RetryMsat > 0) {
		return
	}
	op.Done = true
	reason := events.RetriesExhausted
	if op.Retry != nil {
		reason = op.Retry.Reason
	}
	cm.queueEvent(events.PaymentFailed{PaymentID: op.ID, PaymentHash: op.Hash, Reason: reason})
}

// retryJob is a payment whose failed amount waits for a new route.
type retryJob struct {
	id      events.PaymentID
	hash    [32]byte
	params  router.RouteParameters
	secret  *[32]byte
	keysend *[32]byte
	total   uint64
}

// processRetries finds new routes for the failed amounts of payments with retries and sends them.
// Called by ProcessPendingHTLCForwards, without locks.
func (cm *ChannelManager) processRetries() {
	r := cm.getRouter()
	var jobs []retryJob
	cm.outbound.mu.Lock()
	for id := range cm.outbound.retrying {
		delete(cm.outbound.retrying, id)
		op := cm.outbound.byID[id]
		if op == nil {
			continue
		}
		rs := op.Retry
		if op.Done || rs == nil || rs.RetryMsat == 0 {
			continue
		}
		params := rs.Params
		params.FinalValueMsat = rs.RetryMsat
		params.MaxTotalRoutingFeeMsat = feeLeft(rs.Params.MaxTotalRoutingFeeMsat, op.FeeMsat)
		if rs.Keysend != nil && rs.Secret == nil {
			params.MaxPathCount = 1 // a keysend without a payment secret cannot be split
		}
		jobs = append(jobs, retryJob{id: op.ID, hash: op.Hash, params: params, secret: rs.Secret, keysend: rs.Keysend, total: op.AmountMsat})
		cm.outbound.touch(op.ID)
		rs.RetryMsat = 0
		rs.Attempts++
	}
	cm.outbound.mu.Unlock()
	for _, j := range jobs {
		var route *router.Route
		err := ErrNoRouter
		if r != nil {
			route, err = r.FindRoute(nodeKey(cm.ourNode), &j.params, cm.firstHops())
		}
		if err == nil {
			err = cm.sendRetryRoute(route, j)
		}
		if err != nil {
			cm.log.Info("payment retry found no route", "payment", j.id, "err", err)
			cm.retryFailed(j.id)
		}
	}
}

// feeLeft is the fee budget left after fees already committed to paths.
func feeLeft(limit, spent uint64) uint64 {
	if spent >= limit {
		return 0
	}
	return limit - spent
}

// retryFailed ends a payment whose retry found no route, once nothing else is in flight.
func (cm *ChannelManager) retryFailed(id events.PaymentID) {
	cm.outbound.mu.Lock()
	defer cm.outbound.mu.Unlock()
	op := cm.outbound.byID[id]
	if op == nil || op.Retry == nil {
		return
	}
	cm.outbound.touch(id)
	if op.Retry.Reason == events.RetriesExhausted {
		op.Retry.Reason = events.RouteNotFound
	}
	cm.finishIfFailed(op)
}

// countRetryTick counts a timer tick for each payment with a retry timeout. Called by
// TimerTickOccurred.
func (cm *ChannelManager) countRetryTicks() {
	cm.outbound.mu.Lock()
	defer cm.outbound.mu.Unlock()
	for _, op := range cm.outbound.byID {
		if op.Retry != nil && !op.Done {
			cm.outbound.touch(op.ID)
			op.Retry.Ticks++
		}
	}
}

// RecentPaymentStatus says where a payment ListRecentPayments reports stands.
type RecentPaymentStatus int

const (
	// PaymentPending: not finished (paths in flight, or waiting for a retry).
	PaymentPending RecentPaymentStatus = iota
	// PaymentFulfilled: PaymentSent was queued.
	PaymentFulfilled
	// PaymentAbandoned: PaymentFailed was queued.
	PaymentAbandoned
)

// RecentPayment is one payment ListRecentPayments reports (LDK's RecentPaymentDetails).
type RecentPayment struct {
	PaymentID   events.PaymentID
	PaymentHash [32]byte
	Status      RecentPaymentStatus
	// AmountMsat is what the payee receives; FeeMsat the fees of every path sent, failed ones included.
	AmountMsat, FeeMsat uint64
	// PathsInFlight counts the paths not yet resolved.
	PathsInFlight int
}

// ListRecentPayments returns the payments the manager remembers: pending ones, and finished ones for
// IdempotencyTimeoutTicks timer ticks after their last path resolved. Order is unspecified.
func (cm *ChannelManager) ListRecentPayments() []RecentPayment {
	cm.outbound.mu.Lock()
	defer cm.outbound.mu.Unlock()
	out := make([]RecentPayment, 0, len(cm.outbound.byID))
	for _, op := range cm.outbound.byID {
		rp := RecentPayment{PaymentID: op.ID, PaymentHash: op.Hash, AmountMsat: op.AmountMsat, FeeMsat: op.FeeMsat}
		for _, p := range op.Paths {
			switch p.State {
			case pathInFlight:
				rp.PathsInFlight++
			case pathSucceeded:
				rp.Status = PaymentFulfilled
			}
		}
		if op.Done && rp.Status != PaymentFulfilled {
			rp.Status = PaymentAbandoned
		}
		if !op.Done {
			rp.Status = PaymentPending
		}
		out = append(out, rp)
	}
	return out
}
