// Package router finds routes over the Lightning Network and holds the route types the ChannelManager
// pays along: a Route is one or more Paths (several for a multi-path payment), a Path a list of
// RouteHops from our peer to the recipient.
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

// Path is one path from us to the recipient. Hops[0] is our direct peer.
type Path struct {
	Hops []RouteHop
}

// Route is how a payment travels: one Path, or several that together deliver the amount (a multi-path
// payment, BOLT 4 `payment_data.total_msat`).
type Route struct {
	Paths []Path
}

// SinglePath returns a Route of one path through hops.
func SinglePath(hops ...RouteHop) *Route { return &Route{Paths: []Path{{Hops: hops}}} }

// ErrEmptyRoute is returned for a route without hops; ErrRouteTooLong for more than 20 hops (BOLT 4: the
// onion holds at most 20 legacy-sized hop payloads).
var (
	ErrEmptyRoute   = errors.New("router: route has no hops")
	ErrRouteTooLong = errors.New("router: route has more than 20 hops")
)

// ErrNoPaths is returned for a route without paths.
var ErrNoPaths = errors.New("router: route has no paths")

// Validate checks every path's shape. Errors: ErrNoPaths, and those of Path.Validate.
func (r *Route) Validate() error {
	if len(r.Paths) == 0 {
		return ErrNoPaths
	}
	for i := range r.Paths {
		if err := r.Paths[i].Validate(); err != nil {
			return err
		}
	}
	return nil
}

// TotalAmountMsat is what the route's first HTLCs carry together: every path's amount and fees.
func (r *Route) TotalAmountMsat() uint64 {
	var t uint64
	for i := range r.Paths {
		t += r.Paths[i].TotalAmountMsat()
	}
	return t
}

// TotalFeesMsat is the routing fees of every path.
func (r *Route) TotalFeesMsat() uint64 {
	var t uint64
	for i := range r.Paths {
		t += r.Paths[i].TotalFeesMsat()
	}
	return t
}

// FinalValueMsat is what the recipient receives over all paths.
func (r *Route) FinalValueMsat() uint64 {
	var t uint64
	for i := range r.Paths {
		if n := len(r.Paths[i].Hops); n > 0 {
			t += r.Paths[i].Hops[n-1].FeeMsat
		}
	}
	return t
}

// Validate checks the path's shape. Errors: ErrEmptyRoute, ErrRouteTooLong.
func (r *Path) Validate() error {
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

// TotalAmountMsat is what the path's first HTLC carries: the delivered amount plus every fee.
func (r *Path) TotalAmountMsat() uint64 {
	var t uint64
	for _, h := range r.Hops {
		t += h.FeeMsat
	}
	return t
}

// TotalFeesMsat is the sum of the routing fees (every hop but the last).
func (r *Path) TotalFeesMsat() uint64 {
	if len(r.Hops) == 0 {
		return 0
	}
	return r.TotalAmountMsat() - r.Hops[len(r.Hops)-1].FeeMsat
}

// TotalCLTVDelta is the sum of the hops' CLTV deltas.
func (r *Path) TotalCLTVDelta() uint32 {
	var t uint32
	for _, h := range r.Hops {
		t += h.CLTVExpiryDelta
	}
	return t
}
