package channelmanager

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/invoice"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
)

// Errors of the BOLT 11 helpers.
var (
	// ErrInvoiceExpired: the invoice's expiry has passed (judged by the newest block timestamp seen).
	ErrInvoiceExpired = errors.New("channelmanager: invoice expired")
	// ErrInvalidInvoice: the invoice cannot be paid as given (wrong network, amount missing or given
	// twice, unknown required feature).
	ErrInvalidInvoice = errors.New("channelmanager: invalid invoice")
	// ErrNoRoute: no usable direct channel with the payee can carry the amount (lnkit pays over direct
	// channels until it has a router).
	ErrNoRoute = errors.New("channelmanager: no route")
)

// DefaultInvoiceExpirySecs is the expiry of invoices created without one (BOLT 11's default, 3600 s).
const DefaultInvoiceExpirySecs = 3600

// finalCLTVExpiryBuffer is added to an invoice's min_final_cltv_expiry_delta when we pay it, so that a
// block found while the HTLC travels does not make it too close to expiry at the payee.
const finalCLTVExpiryBuffer = 3

// Bolt11InvoiceParams describe an invoice for CreateBolt11Invoice.
type Bolt11InvoiceParams struct {
	// AmountMsat is the amount asked for, in millisatoshi; 0 makes an invoice for any amount.
	AmountMsat uint64
	// Description (field `d`) or DescriptionHash (field `h`): exactly one is used; an empty
	// Description with no DescriptionHash gives an empty `d`.
	Description     string
	DescriptionHash *[32]byte
	// ExpirySecs 0 means DefaultInvoiceExpirySecs.
	ExpirySecs uint32
	// MinFinalCLTVExpiryDelta 0 means DefaultMinFinalCLTVExpiryDelta (blocks).
	MinFinalCLTVExpiryDelta uint16
	// Timestamp is the invoice's creation time (field timestamp). The library reads no clock: the host
	// passes the current time.
	Timestamp time.Time
}

// CreateBolt11Invoice registers an inbound payment (as CreateInboundPayment does) and returns the
// BOLT 11 invoice for it, signed with the node key: payment hash, payment secret, amount,
// description, expiry, min_final_cltv_expiry_delta, the features var_onion_optin and
// payment_secret (required) and basic_mpp (optional), and route hints (`r`) for our private channels
// when we have no announced one (routeHints). It returns the invoice and its bech32 string.
// Errors: ErrAPIMisuse (zero Timestamp), invoice encoding errors.
func (cm *ChannelManager) CreateBolt11Invoice(p Bolt11InvoiceParams) (*invoice.Invoice, string, error) {
	if p.Timestamp.IsZero() {
		return nil, "", fmt.Errorf("%w: CreateBolt11Invoice needs the current time", ErrAPIMisuse)
	}
	if p.ExpirySecs == 0 {
		p.ExpirySecs = DefaultInvoiceExpirySecs
	}
	if p.MinFinalCLTVExpiryDelta == 0 {
		p.MinFinalCLTVExpiryDelta = DefaultMinFinalCLTVExpiryDelta
	}
	hash, secret, err := cm.CreateInboundPayment(p.AmountMsat, p.ExpirySecs, p.MinFinalCLTVExpiryDelta)
	if err != nil {
		return nil, "", err
	}
	opts := []invoice.Option{
		invoice.WithExpiry(time.Duration(p.ExpirySecs) * time.Second),
		invoice.WithMinFinalCLTVExpiryDelta(uint64(p.MinFinalCLTVExpiryDelta)),
		invoice.WithFeatures(invoice.DefaultFeatures()),
	}
	if p.AmountMsat > 0 {
		opts = append(opts, invoice.WithAmountMsat(p.AmountMsat))
	}
	for _, h := range cm.routeHints(p.AmountMsat) {
		opts = append(opts, invoice.WithRouteHint(h))
	}
	if p.DescriptionHash != nil {
		opts = append(opts, invoice.WithDescriptionHash(*p.DescriptionHash))
	} else {
		opts = append(opts, invoice.WithDescription(p.Description))
	}
	inv, err := invoice.New(cm.net, hash, secret, p.Timestamp, opts...)
	if err != nil {
		return nil, "", err
	}
	s, err := inv.Encode(cm.keys)
	if err != nil {
		return nil, "", err
	}
	return inv, s, nil
}

// DefaultBolt11RetryAttempts is how many routes SendPaymentForBolt11Invoice tries, in all, when the
// manager has a Router.
const DefaultBolt11RetryAttempts = 3

// Bolt11PaymentConfig limits how PayBolt11Invoice pays (LDK's RouteParametersConfig and Retry). Zero
// fields keep router.NewRouteParameters' defaults (fee limit 1% + 50 sat, 10 paths).
type Bolt11PaymentConfig struct {
	// MaxTotalRoutingFeeMsat bounds the fees of the whole payment, retries included; 0: the default.
	MaxTotalRoutingFeeMsat uint64
	// MaxPathCount bounds the paths of one route (1: no multi-path); 0: the default.
	MaxPathCount uint8
	Retry        Retry
}

// SendPaymentForBolt11Invoice pays a decoded invoice. With a Router (SetRouter) it is
// PayBolt11Invoice with DefaultBolt11RetryAttempts routes at most; without, it pays over a usable
// direct channel with the payee (DirectRoute). amountMsat must be 0 for an invoice with an amount and
// positive for one without. The outcome arrives as PaymentSent, or PaymentPathFailed then
// PaymentFailed, under paymentID (the payment hash is the usual choice: it makes paying the same
// invoice twice an ErrDuplicatePayment). Expiry is judged by the newest block timestamp seen; a host
// with a clock should also check inv.IsExpired(now). Errors: ErrInvalidInvoice, ErrInvoiceExpired,
// ErrNoRoute, and those of SendPayment and SendPaymentWithRoute.
func (cm *ChannelManager) SendPaymentForBolt11Invoice(inv *invoice.Invoice, amountMsat uint64, paymentID events.PaymentID) error {
	if cm.getRouter() != nil {
		return cm.PayBolt11Invoice(inv, amountMsat, paymentID, Bolt11PaymentConfig{Retry: Retry{Attempts: DefaultBolt11RetryAttempts}})
	}
	amountMsat, delta, err := cm.checkInvoice(inv, amountMsat)
	if err != nil {
		return err
	}
	route, err := cm.DirectRoute(inv.Payee, amountMsat, delta)
	if err != nil {
		return err
	}
	return cm.SendPaymentWithRoute(route, inv.PaymentHash, inv.PaymentSecret, paymentID)
}

// PayBolt11Invoice pays a decoded invoice through the Router (SendPayment) with the invoice's
// payee, features (multi-path if it offers basic_mpp), route hints (`r`) and final CLTV delta (plus
// a 3-block buffer). amountMsat as in SendPaymentForBolt11Invoice. Errors: ErrInvalidInvoice,
// ErrInvoiceExpired, and those of SendPayment.
func (cm *ChannelManager) PayBolt11Invoice(inv *invoice.Invoice, amountMsat uint64, paymentID events.PaymentID, cfg Bolt11PaymentConfig) error {
	amountMsat, delta, err := cm.checkInvoice(inv, amountMsat)
	if err != nil {
		return err
	}
	params := router.NewRouteParameters(nodeKey(inv.Payee), amountMsat, delta)
	params.PayeeFeatures = inv.Features
	if params.PayeeFeatures == nil {
		params.PayeeFeatures = lnwire.NewFeatureVector(lnwire.VarOnionOptinRequired, lnwire.PaymentSecretRequired)
	}
	params.RouteHints = router.RouteHintsFromInvoice(inv.RouteHints)
	if cfg.MaxTotalRoutingFeeMsat != 0 {
		params.MaxTotalRoutingFeeMsat = cfg.MaxTotalRoutingFeeMsat
	}
	if cfg.MaxPathCount != 0 {
		params.MaxPathCount = cfg.MaxPathCount
	}
	return cm.SendPayment(inv.PaymentHash, RecipientOnionFields{PaymentSecret: inv.PaymentSecret}, paymentID, params, cfg.Retry)
}

// checkInvoice checks an invoice before paying it and returns the amount to pay and the final CLTV
// delta to use.
func (cm *ChannelManager) checkInvoice(inv *invoice.Invoice, amountMsat uint64) (uint64, uint32, error) {
	if inv == nil || inv.Payee == nil {
		return 0, 0, fmt.Errorf("%w: no payee", ErrInvalidInvoice)
	}
	if inv.Network != nil && inv.Network.Net != cm.net.Net {
		return 0, 0, fmt.Errorf("%w: invoice is for %s, we are on %s", ErrInvalidInvoice, inv.Network.Name, cm.net.Name)
	}
	if inv.PaymentSecret == nil {
		return 0, 0, fmt.Errorf("%w: no payment secret", ErrInvalidInvoice)
	}
	if inv.Features != nil {
		if unknown := inv.Features.UnknownRequiredFeatures(invoice.KnownFeatures()); len(unknown) > 0 {
			return 0, 0, fmt.Errorf("%w: invoice requires features %v", ErrInvalidInvoice, unknown)
		}
	}
	if want, ok := inv.Amount(); ok {
		if amountMsat != 0 && amountMsat != want {
			return 0, 0, fmt.Errorf("%w: the invoice asks for %d msat; pay it with amount 0", ErrInvalidInvoice, want)
		}
		amountMsat = want
	} else if amountMsat == 0 {
		return 0, 0, fmt.Errorf("%w: the invoice has no amount: give one", ErrInvalidInvoice)
	}
	cm.mu.Lock()
	blockTime := cm.highestBlockTime
	cm.mu.Unlock()
	if blockTime != 0 && inv.IsExpired(time.Unix(int64(blockTime), 0)) {
		return 0, 0, ErrInvoiceExpired
	}
	delta := inv.MinFinalCLTVExpiryDeltaOrDefault() + finalCLTVExpiryBuffer
	if delta > 2016 {
		return 0, 0, fmt.Errorf("%w: min_final_cltv_expiry_delta %d is too far", ErrInvalidInvoice, delta)
	}
	return amountMsat, uint32(delta), nil
}

// MaxInvoiceRouteHints bounds the route hints CreateBolt11Invoice puts in an invoice.
const MaxInvoiceRouteHints = 3

// routeHints are the `r` fields of our invoices (BOLT 11): none when a usable announced channel lets
// payers find us through gossip; otherwise one single-hop hint per usable private channel whose
// counterparty's channel_update we have (its fees and CLTV delta towards us), those that can receive
// amountMsat first, then by inbound capacity, at most MaxInvoiceRouteHints.
func (cm *ChannelManager) routeHints(amountMsat uint64) []invoice.HopHint {
	var cands []ChannelDetails
	for _, d := range cm.ListUsableChannels() {
		if d.IsAnnounced {
			return nil
		}
		if d.CounterpartyForwardingInfo != nil && !d.CounterpartyForwardingInfo.Disabled && hintSCID(&d).ToUint64() != 0 {
			cands = append(cands, d)
		}
	}
	slices.SortFunc(cands, func(x, y ChannelDetails) int {
		xOK, yOK := x.InboundCapacityMsat >= amountMsat, y.InboundCapacityMsat >= amountMsat
		if xOK != yOK {
			if xOK {
				return -1
			}
			return 1
		}
		return cmp.Compare(y.InboundCapacityMsat, x.InboundCapacityMsat)
	})
	var out []invoice.HopHint
	for _, d := range cands[:min(len(cands), MaxInvoiceRouteHints)] {
		fi := d.CounterpartyForwardingInfo
		out = append(out, invoice.HopHint{NodeID: d.CounterpartyNodeID, ShortChannelID: hintSCID(&d),
			FeeBaseMsat: fi.FeeBaseMsat, FeeProportionalMillionths: fi.FeeProportionalMillionths, CLTVExpiryDelta: fi.CLTVExpiryDelta})
	}
	return out
}

// hintSCID is the short_channel_id a route hint names for a private channel: the counterparty's alias
// when it gave one (it recognizes it, and the real one stays private), else the real one, except for an
// option_scid_alias channel (BOLT 2: "MUST NOT use the real short_channel_id in BOLT 11 r fields"),
// which then gets no hint (zero).
func hintSCID(d *ChannelDetails) lnwire.ShortChannelID {
	if d.InboundSCIDAlias.ToUint64() != 0 || d.ChannelType.SCIDAlias {
		return d.InboundSCIDAlias
	}
	return d.ShortChannelID
}

// DirectRoute builds a one-hop route paying amountMsat to dest over the usable channel with it that
// can send the most now, with a final CLTV delta of finalCLTVDelta blocks (for SendPaymentWithRoute
// or SendSpontaneousPayment; a host without a router pays over it). Errors: ErrNoRoute.
func (cm *ChannelManager) DirectRoute(dest *btcec.PublicKey, amountMsat uint64, finalCLTVDelta uint32) (*router.Route, error) {
	var best *ChannelDetails
	for _, c := range cm.ListUsableChannels() {
		if !c.CounterpartyNodeID.IsEqual(dest) {
			continue
		}
		if best == nil || c.OutboundCapacityMsat > best.OutboundCapacityMsat {
			best = &c
		}
	}
	if best == nil {
		return nil, fmt.Errorf("%w: no usable channel with the payee", ErrNoRoute)
	}
	if best.OutboundCapacityMsat < amountMsat {
		return nil, fmt.Errorf("%w: the channel with the payee can send at most %d msat now", ErrNoRoute, best.OutboundCapacityMsat)
	}
	return router.SinglePath(router.RouteHop{PubKey: dest, ShortChannelID: best.ShortChannelID, FeeMsat: amountMsat,
		CLTVExpiryDelta: finalCLTVDelta}), nil
}
