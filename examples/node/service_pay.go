package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/router"
)

// keysendFinalCLTVDelta is the final CLTV delta of keysend payments: above lnd's 40-block minimum
// for keysend, with a margin for blocks found while the payment travels.
const keysendFinalCLTVDelta = 43

// limits are payinvoice's and keysend's flags in the ChannelManager's terms.
type limits struct {
	maxPaths     uint8  // 0: the router's default (router.DefaultMaxPathCount)
	feeLimitMsat uint64 // 0: the router's default (1% + 50 sat)
	retry        channelmanager.Retry
}

// sendLimits checks max_parts, fee_limit_sat and timeout_secs. The timeout becomes a number of
// ChannelManager timer ticks (the node calls TimerTickOccurred every -tick.manager), rounded up.
func (s *service) sendLimits(maxParts uint32, feeLimitSat *uint64, timeoutSecs uint32) (limits, error) {
	var l limits
	if maxParts > math.MaxUint8 {
		return l, invalid("max_parts must be at most %d", math.MaxUint8)
	}
	l.maxPaths = uint8(maxParts)
	if feeLimitSat != nil {
		switch {
		case *feeLimitSat == 0:
			return l, invalid("fee_limit_sat must be at least 1 (leave it out for the default, 1%% of the amount + 50 sat)")
		case *feeLimitSat >= math.MaxUint64/1000:
			l.feeLimitMsat = math.MaxUint64
		default:
			l.feeLimitMsat = *feeLimitSat * 1000
		}
	}
	timeout := time.Duration(timeoutSecs) * time.Second
	if timeoutSecs == 0 {
		timeout = nodeapi.DefaultPaymentTimeoutSecs * time.Second
	}
	l.retry.TimeoutTicks = timeoutTicks(timeout, s.n.cfg.ManagerTick)
	return l, nil
}

// approve hands a payment's approval to a signer that checks payments (a remote signer with a client
// key): the signer refuses to sign for an outgoing payment it has no approval of. A signer that checks
// nothing ignores approvals. Errors: invalid params for a malformed approval or one without
// fee_limit_sat; the signer's refusal.
func (s *service) approve(approval string, feeLimitSat *uint64, call func(approver, []byte) error) error {
	a, ok := s.n.signer.(approver)
	if !ok || (approval == "" && !s.n.cfg.RequireApproval) {
		return nil
	}
	if approval == "" {
		return invalid("this node's signer checks payments: give approval, the client key's signature of the payment (lnkit-signer approve)")
	}
	sig, err := hex.DecodeString(approval)
	if err != nil {
		return invalid("approval must be hex")
	}
	if feeLimitSat == nil {
		return invalid("an approval covers a fee limit: give fee_limit_sat")
	}
	if err := call(a, sig); err != nil {
		return fmt.Errorf("the signer refused the payment: %w", err)
	}
	return nil
}

// timeoutTicks is how many timer ticks of interval tick cover timeout (at least one).
func timeoutTicks(timeout, tick time.Duration) int {
	n := (timeout + tick - 1) / tick
	return int(max(1, min(n, math.MaxInt32)))
}

// sendError explains an error of PayBolt11Invoice or SendSpontaneousPaymentWithRetry: a request the
// node cannot send at all is an invalid params error; no route says why.
func sendError(err error, payee string, amountMsat uint64) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, channelmanager.ErrInvalidInvoice), errors.Is(err, router.ErrInvalidRouteParams),
		errors.Is(err, router.ErrRouteToSelf):
		return invalid("%w", err)
	case errors.Is(err, channelmanager.ErrRouteNotFound):
		return fmt.Errorf("no route to %s for %d msat: %s (%w)", payee, amountMsat, noRouteReason(err), err)
	}
	return err
}

// noRouteReason says in words why the router found no route.
func noRouteReason(err error) string {
	switch {
	case errors.Is(err, router.ErrNoFirstHops):
		return "no usable channel to send from"
	case errors.Is(err, router.ErrPayeeNotFound):
		return "the payee is not in the network graph, and neither a channel of ours nor a route hint reaches it"
	case errors.Is(err, router.ErrInsufficientLiquidity):
		return "the paths found cannot carry the amount together (more parts with --max_parts, if the payee takes multi-path)"
	case errors.Is(err, router.ErrFeeLimit):
		return "every route found costs more than the fee limit (--fee_limit_sat)"
	case errors.Is(err, router.ErrPayeeFeatures):
		return "the payee requires features lnkit does not support"
	case errors.Is(err, router.ErrNoRoute):
		return "no path meets the limits (the counts below say which limit ruled out how many channels)"
	}
	return "the router found none"
}

// Keysend pays a node without an invoice over routes the router finds (a usable channel with the
// payee is such a route); if the router finds none, a usable direct channel is tried before giving up.
func (s *service) Keysend(ctx context.Context, p nodeapi.KeysendParams) (*nodeapi.Payment, error) {
	dest, err := parseNodeID(p.NodeID)
	if err != nil {
		return nil, err
	}
	if p.AmountMsat == 0 || p.AmountMsat > router.MaxValueMsat {
		return nil, invalid("amount_msat must be from 1 to %d", uint64(router.MaxValueMsat))
	}
	if dest.IsEqual(s.n.nodeID) {
		return nil, invalid("cannot pay ourselves")
	}
	lim, err := s.sendLimits(p.MaxParts, p.FeeLimitSat, p.TimeoutSecs)
	if err != nil {
		return nil, err
	}
	if p.Preimage != "" {
		if b, err := hex.DecodeString(p.Preimage); err != nil || len(b) != 32 {
			return nil, invalid("preimage must be 64 hex characters")
		}
	}
	if err := s.n.requireSynced("keysend"); err != nil {
		return nil, err
	}
	params := router.NewRouteParameters(nodeKey(dest.SerializeCompressed()), p.AmountMsat, keysendFinalCLTVDelta)
	if lim.feeLimitMsat != 0 {
		params.MaxTotalRoutingFeeMsat = lim.feeLimitMsat
	}
	var onion channelmanager.RecipientOnionFields
	params.MaxPathCount = 1
	if lim.maxPaths > 1 {
		// Several paths need a payment secret tying them together (multi-path keysend).
		var secret [32]byte
		_, _ = rand.Read(secret[:])
		onion.PaymentSecret = &secret
		params.MaxPathCount = lim.maxPaths
	}
	var preimage [32]byte
	var id events.PaymentID
	if p.Preimage != "" {
		b, err := hex.DecodeString(p.Preimage)
		if err != nil || len(b) != 32 {
			return nil, invalid("preimage must be 64 hex characters")
		}
		copy(preimage[:], b)
	} else {
		_, _ = rand.Read(preimage[:])
	}
	_, _ = rand.Read(id[:])
	hash := sha256.Sum256(preimage[:])
	if err := s.approve(p.Approval, p.FeeLimitSat, func(a approver, sig []byte) error {
		if p.Preimage == "" {
			return invalid("an approved keysend needs the preimage the approval's payment hash is of")
		}
		return a.ApproveKeysend(dest, hash, p.AmountMsat, lim.feeLimitMsat, sig)
	}); err != nil {
		return nil, err
	}
	rec := nodeapi.Payment{PaymentID: hex.EncodeToString(id[:]), PaymentHash: hex.EncodeToString(hash[:]),
		Destination: nodeIDHex(dest), AmountMsat: p.AmountMsat}
	return s.sendAndWait(ctx, rec, p.NoWait, func() error {
		_, err := s.n.cm.SendSpontaneousPaymentWithRetry(preimage, onion, id, params, lim.retry)
		if errors.Is(err, channelmanager.ErrRouteNotFound) {
			if route, derr := s.n.cm.DirectRoute(dest, p.AmountMsat, keysendFinalCLTVDelta); derr == nil {
				_, err = s.n.cm.SendSpontaneousPayment(route, preimage, id)
			}
		}
		return sendError(err, nodeIDHex(dest), p.AmountMsat)
	})
}
