package channelmanager

import (
	"crypto/sha256"
	"fmt"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/router"
)

// SendProbe sends an HTLC along path with a payment hash nobody knows (LDK's send_probe): the last hop
// must refuse it, which proves that every channel of the path could carry the amount
// (ProbeSuccessful); a refusal before it is ProbeFailed naming the channel. Both outcomes are scored
// through the Router. It returns the probe's id and payment hash. Errors: ErrInvalidRoute, those of
// SendPaymentWithRoute.
func (cm *ChannelManager) SendProbe(path router.Path) (events.PaymentID, [32]byte, error) {
	id := events.PaymentID(cm.keys.GetSecureRandomBytes())
	secret := cm.keys.GetSecureRandomBytes()
	hash := sha256.Sum256(secret[:])
	route := &router.Route{Paths: []router.Path{path}}
	if err := route.Validate(); err != nil {
		return id, hash, fmt.Errorf("%w: %w", ErrInvalidRoute, err)
	}
	op := &outboundPayment{ID: id, Hash: hash, Probe: true}
	op.addPaths(route)
	cm.outbound.mu.Lock()
	cm.outbound.byID[id] = op
	cm.outbound.touch(id)
	cm.outbound.mu.Unlock()
	if _, err := cm.sendPaths(route, hash, nil, nil, id, 0, op.AmountMsat); err != nil {
		cm.outbound.mu.Lock()
		delete(cm.outbound.byID, id)
		cm.outbound.touch(id)
		cm.outbound.mu.Unlock()
		return id, hash, err
	}
	cm.markNeedsPersist()
	return id, hash, nil
}

// probeResolved reports a probe's outcome: refused by its last hop is success. The caller holds
// cm.outbound.mu.
func (cm *ChannelManager) probeResolved(op *outboundPayment, p *outboundPath, ev events.PaymentPathFailed, final bool) {
	op.Done = true
	r := cm.getRouter()
	if final {
		if r != nil && len(p.Route.Hops) > 0 {
			r.ProbeSuccessful(&p.Route)
		}
		cm.queueEvent(events.ProbeSuccessful{PaymentID: op.ID, PaymentHash: op.Hash})
		return
	}
	if r != nil && len(p.Route.Hops) > 0 {
		r.ProbeFailed(&p.Route, ev.ShortChannelID)
	}
	cm.queueEvent(events.ProbeFailed{PaymentID: op.ID, PaymentHash: op.Hash, ShortChannelID: ev.ShortChannelID})
}
