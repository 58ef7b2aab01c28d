// Package router holds the route types that ChannelManager pays along. Path finding over the network
// graph comes in a later release; today a caller builds a Route by hand (for example one hop over a
// direct channel).
package router

import (
	"errors"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/lnwire"
)

// RouteHop is one hop of a path, in LDK's convention: FeeMsat is the fee this hop's node charges for
// forwarding to the next hop, except on the last hop, where it is the amount delivered to the recipient;
// CLTVExpiryDelta is the delta this hop's node requires, and on the last hop the recipient's
// min_final_cltv_expiry_delta.
type RouteHop struct {
	// PubKey is the node id of the hop.
	PubKey *btcec.PublicKey
	// ShortChannelID is the channel that reaches this hop from the previous one (for the first hop, one
	// of our channels; zero means "any usable channel with this peer").
	ShortChannelID  lnwire.ShortChannelID
	FeeMsat         uint64
	CLTVExpiryDelta uint32
}

// Route is one path from us to the recipient. Hops[0] is our direct peer.
type Route struct {
	Hops []RouteHop
}

// ErrEmptyRoute is returned for a route without hops; ErrRouteTooLong for more than 20 hops (BOLT 4: the
// onion holds at most 20 legacy-sized hop payloads).
var (
	ErrEmptyRoute   = errors.New("router: route has no hops")
	ErrRouteTooLong = errors.New("router: route has more than 20 hops")
)

// Validate checks the route's shape.
func (r *Route) Validate() error {
	switch {
	case len(r.Hops) == 0:
		return ErrEmptyRoute
	case len(r.Hops) > 20:
		return ErrRouteTooLong
	}
	for _, h := range r.Hops {
		if h.PubKey == nil {
			return errors.New("router: hop without a node id")
		}
	}
	return nil
}

// TotalAmountMsat is what the first HTLC carries: the delivered amount plus every fee.
func (r *Route) TotalAmountMsat() uint64 {
	var t uint64
	for _, h := range r.Hops {
		t += h.FeeMsat
	}
	return t
}

// TotalFeesMsat is the sum of the routing fees (every hop but the last).
func (r *Route) TotalFeesMsat() uint64 {
	if len(r.Hops) == 0 {
		return 0
	}
	return r.TotalAmountMsat() - r.Hops[len(r.Hops)-1].FeeMsat
}

// TotalCLTVDelta is the sum of the hops' CLTV deltas.
func (r *Route) TotalCLTVDelta() uint32 {
	var t uint32
	for _, h := range r.Hops {
		t += h.CLTVExpiryDelta
	}
	return t
}
