package router

import (
	"errors"
	"fmt"
	"math"

	"github.com/lnkit/lnkit/invoice"
	"github.com/lnkit/lnkit/lnwire"
)

// Defaults of RouteParameters (LDK's).
const (
	// DefaultMaxTotalCLTVExpiryDelta bounds the sum of a path's CLTV deltas, the final one included
	// (LDK's DEFAULT_MAX_TOTAL_CLTV_EXPIRY_DELTA: one week of blocks).
	DefaultMaxTotalCLTVExpiryDelta = 1008
	// DefaultMaxPathCount is the most paths of a multi-path payment (LDK's DEFAULT_MAX_PATH_COUNT).
	DefaultMaxPathCount = 10
	// DefaultMaxPathLength is the most hops of a path: BOLT 4's 20 legacy-sized hop payloads; with TLV
	// payloads (61 bytes per intermediate hop, 93 for the final one with payment_data) 20 hops take
	// 1,252 of the onion's 1,300 bytes.
	DefaultMaxPathLength = 20
	// DefaultMaxChannelSaturationPowerOfHalf: a path uses at most 1/2^2 = 1/4 of a channel's capacity
	// while this limit holds (LDK's default; see RouteParameters).
	DefaultMaxChannelSaturationPowerOfHalf = 2
	// MaxValueMsat is the most that can exist: 21 million bitcoin.
	MaxValueMsat = 21_000_000 * 100_000_000 * 1000
)

// Errors of FindRoute (wrapped with details; test with errors.Is).
var (
	// ErrInvalidRouteParams: a zero or impossible amount, MaxPathCount or MaxPathLength 0, a
	// MaxTotalCLTVExpiryDelta not above the final delta, a route hint with the payee as a source, a
	// first hop to ourselves.
	ErrInvalidRouteParams = errors.New("router: invalid route parameters")
	// ErrRouteToSelf: the payee is the payer.
	ErrRouteToSelf = errors.New("router: cannot route to ourselves")
	// ErrPayeeFeatures: the payee's features require one lnkit does not know, or lack var_onion_optin.
	ErrPayeeFeatures = errors.New("router: payee features not supported")
	// ErrPayeeNotFound: the payee is not in the graph and no route hint or first hop reaches it.
	ErrPayeeNotFound = errors.New("router: payee not in the graph")
	// ErrNoFirstHops: firstHops is non-nil but empty: no channel to send from.
	ErrNoFirstHops = errors.New("router: no usable first hop")
	// ErrNoRoute: no path meets the limits (the error says how many candidate hops each limit ruled out).
	ErrNoRoute = errors.New("router: no route found")
	// ErrInsufficientLiquidity: paths were found but together cannot carry the amount (within
	// MaxPathCount paths, or, without multi-path, on a single path).
	ErrInsufficientLiquidity = errors.New("router: insufficient liquidity")
	// ErrFeeLimit: the route's fees exceed MaxTotalRoutingFeeMsat.
	ErrFeeLimit = errors.New("router: route fees above the limit")
)

// RouteHintHop is one hop of a private route to the payee (a BOLT 11 `r` entry): the channel from
// SrcNodeID to the next hop's source (or, for the last hop, to the payee), with the policy
// SrcNodeID applies to it.
type RouteHintHop struct {
	SrcNodeID                 [33]byte
	SCID                      uint64
	FeeBaseMsat               uint32
	FeeProportionalMillionths uint32
	CLTVExpiryDelta           uint16
	// HTLCMinimumMsat is 0 when not known; HTLCMaximumMsat 0 means no known limit.
	HTLCMinimumMsat uint64
	HTLCMaximumMsat uint64
}

// RouteHint is a private route to the payee, its hops in path order.
type RouteHint []RouteHintHop

// RouteHintsFromInvoice converts a BOLT 11 invoice's `r` fields.
func RouteHintsFromInvoice(hints [][]invoice.HopHint) []RouteHint {
	out := make([]RouteHint, 0, len(hints))
	for _, h := range hints {
		rh := make(RouteHint, 0, len(h))
		for _, hop := range h {
			if hop.NodeID == nil {
				continue
			}
			var id [33]byte
			copy(id[:], hop.NodeID.SerializeCompressed())
			rh = append(rh, RouteHintHop{SrcNodeID: id, SCID: hop.ShortChannelID.ToUint64(),
				FeeBaseMsat: hop.FeeBaseMsat, FeeProportionalMillionths: hop.FeeProportionalMillionths,
				CLTVExpiryDelta: hop.CLTVExpiryDelta})
		}
		out = append(out, rh)
	}
	return out
}

// FirstHop is one of our usable channels (from ChannelManager.ListUsableChannels). Given to FindRoute,
// first hops replace the graph's view of our own channels.
type FirstHop struct {
	SCID               uint64
	CounterpartyNodeID [33]byte
	// OutboundCapacityMsat is what we can send over it now (all HTLCs of the payment together).
	OutboundCapacityMsat uint64
	// HTLCMinimumMsat is the counterparty's htlc_minimum_msat (0 if unknown); HTLCMaximumMsat bounds
	// one HTLC (0: only OutboundCapacityMsat does).
	HTLCMinimumMsat uint64
	HTLCMaximumMsat uint64
}

// RouteParameters say what to pay and within which limits (LDK's RouteParameters and
// PaymentParameters). NewRouteParameters fills in the defaults; FindRoute uses the fields as set.
type RouteParameters struct {
	Payee [33]byte
	// PayeeFeatures are the invoice's features (BOLT 11 `9`); nil uses the payee's node_announcement.
	// Multi-path needs basic_mpp (and payment_secret, its dependency).
	PayeeFeatures *lnwire.FeatureVector
	// RouteHints are private routes to the payee (BOLT 11 `r`).
	RouteHints []RouteHint
	// FinalValueMsat is what the payee must receive.
	FinalValueMsat uint64
	// FinalCLTVExpiryDelta is the payee's min_final_cltv_expiry_delta, in blocks.
	FinalCLTVExpiryDelta uint32
	// MaxTotalCLTVExpiryDelta bounds a path's CLTV deltas, FinalCLTVExpiryDelta included.
	MaxTotalCLTVExpiryDelta uint32
	// MaxPathCount bounds the paths of the route (1: no multi-path).
	MaxPathCount uint8
	// MaxPathLength bounds a path's hops.
	MaxPathLength uint8
	// MaxChannelSaturationPowerOfHalf: a path may use at most capacity/2^n of a public channel (LDK):
	// 0 allows the whole capacity, 2 a quarter. The limit is dropped when no path meets it. It does not
	// apply to first hops (their liquidity is known) nor to route hints' htlc_maximum_msat.
	MaxChannelSaturationPowerOfHalf uint8
	// MaxTotalRoutingFeeMsat bounds the route's fees (all paths); math.MaxUint64 for no limit.
	MaxTotalRoutingFeeMsat uint64
	// PreviouslyFailedChannels are short_channel_ids not to use (e.g. where an earlier attempt failed).
	PreviouslyFailedChannels []uint64
}

// NewRouteParameters returns parameters with LDK's defaults: a fee limit of 1% + 50 sat,
// DefaultMaxTotalCLTVExpiryDelta, DefaultMaxPathCount, DefaultMaxPathLength and
// DefaultMaxChannelSaturationPowerOfHalf.
func NewRouteParameters(payee [33]byte, finalValueMsat uint64, finalCLTVExpiryDelta uint32) RouteParameters {
	return RouteParameters{Payee: payee, FinalValueMsat: finalValueMsat, FinalCLTVExpiryDelta: finalCLTVExpiryDelta,
		MaxTotalCLTVExpiryDelta: DefaultMaxTotalCLTVExpiryDelta, MaxPathCount: DefaultMaxPathCount,
		MaxPathLength: DefaultMaxPathLength, MaxChannelSaturationPowerOfHalf: DefaultMaxChannelSaturationPowerOfHalf,
		MaxTotalRoutingFeeMsat: finalValueMsat/100 + 50_000}
}

// validate checks the parameters that do not depend on the graph.
func (p *RouteParameters) validate(payer [33]byte, firstHops []FirstHop) error {
	switch {
	case p.Payee == payer:
		return ErrRouteToSelf
	case p.FinalValueMsat == 0 || p.FinalValueMsat > MaxValueMsat:
		return fmt.Errorf("%w: amount %d msat", ErrInvalidRouteParams, p.FinalValueMsat)
	case p.MaxPathCount == 0 || p.MaxPathLength == 0:
		return fmt.Errorf("%w: no paths or no hops allowed", ErrInvalidRouteParams)
	case p.MaxTotalCLTVExpiryDelta <= p.FinalCLTVExpiryDelta:
		return fmt.Errorf("%w: max total CLTV delta %d not above the final delta %d", ErrInvalidRouteParams,
			p.MaxTotalCLTVExpiryDelta, p.FinalCLTVExpiryDelta)
	case firstHops != nil && len(firstHops) == 0:
		return ErrNoFirstHops
	}
	for _, h := range p.RouteHints {
		for _, hop := range h {
			if hop.SrcNodeID == p.Payee {
				return fmt.Errorf("%w: route hint with the payee as a source", ErrInvalidRouteParams)
			}
		}
	}
	for _, fh := range firstHops {
		if fh.CounterpartyNodeID == payer {
			return fmt.Errorf("%w: first hop to ourselves", ErrInvalidRouteParams)
		}
	}
	return nil
}

// feeFor is BOLT 7's fee on amt: base + amt × ppm / 1,000,000 (rounded down), saturating.
func feeFor(amt uint64, base, ppm uint32) uint64 {
	prop := amt * uint64(ppm)
	if amt > math.MaxUint32 && prop/amt != uint64(ppm) {
		return math.MaxUint64
	}
	return addSat(prop/1_000_000, uint64(base))
}

func addSat(a, b uint64) uint64 {
	if s := a + b; s >= a {
		return s
	}
	return math.MaxUint64
}
