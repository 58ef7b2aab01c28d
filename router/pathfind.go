package router

import (
	"errors"
	"fmt"
	"math"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/lnwire"
)

// routeCapacityProvisionFactor: a multi-path search collects paths for up to this many times the
// amount, then keeps the cheapest (LDK's ROUTE_CAPACITY_PROVISION_FACTOR).
const routeCapacityProvisionFactor = 3

// FindRoute finds a route from payer to params.Payee (see ReadOnlyNetworkGraph.FindRoute), holding the
// graph's read lock for the search.
func (g *NetworkGraph) FindRoute(payer [33]byte, params *RouteParameters, firstHops []FirstHop, scorer ScoreLookUp) (*Route, error) {
	v := g.ReadOnly()
	defer v.Release()
	return v.FindRoute(payer, params, firstHops, scorer)
}

// FindRoute finds a route from payer to params.Payee delivering params.FinalValueMsat, as LDK's
// find_route: a Dijkstra from the payee toward the payer over the graph, the route hints and the first
// hops, with fees and CLTV deltas accumulated backward hop by hop (BOLT 4, BOLT 7), every hop within
// its htlc_minimum_msat, htlc_maximum_msat and capacity, no disabled direction, no node or channel
// whose features require an unknown bit, no loop, within the path length, CLTV and fee limits; its
// cost is the fees plus the scorer's penalties (scorer may be nil: no penalties).
//
// The scorer is called with the graph's read lock held: it must not call the graph's mutating methods.
//
// firstHops nil: our channels are taken from the graph. Non-nil: they are the only first hops (and an
// empty list is ErrNoFirstHops).
//
// Multi-path (when the payee's features have basic_mpp and MaxPathCount > 1): if one path cannot carry
// the amount, paths are collected, each hop carrying at least 1/MaxPathCount of the amount and, while
// any is found, at most capacity/2^MaxChannelSaturationPowerOfHalf, with the liquidity used by earlier
// paths taken into account, until three times the amount is covered; the cheapest per msat are kept.
// If the paths kept cost more than MaxTotalRoutingFeeMsat, one path carrying the whole amount is
// searched for before giving up.
//
// Errors: ErrRouteToSelf, ErrInvalidRouteParams, ErrNoFirstHops, ErrPayeeFeatures, ErrPayeeNotFound,
// ErrNoRoute, ErrInsufficientLiquidity, ErrFeeLimit.
func (v *ReadOnlyNetworkGraph) FindRoute(payer [33]byte, params *RouteParameters, firstHops []FirstHop, scorer ScoreLookUp) (*Route, error) {
	if params == nil {
		return nil, fmt.Errorf("%w: no parameters", ErrInvalidRouteParams)
	}
	if err := params.validate(payer, firstHops); err != nil {
		return nil, err
	}
	s, _ := v.g.pool.Get().(*searchScratch)
	if s == nil {
		s = new(searchScratch)
	}
	sr := &search{d: &v.g.d, s: s, scorer: scorer}
	defer func() {
		s.release(int(sr.graphNodes))
		v.g.pool.Put(s)
	}()
	mpp, err := sr.setup(payer, params, firstHops)
	if err != nil {
		return nil, err
	}
	paths, err := sr.collect(params, mpp)
	if err != nil {
		if mpp && errors.Is(err, ErrFeeLimit) {
			return v.singlePathFallback(payer, params, firstHops, scorer, err)
		}
		return nil, err
	}
	return sr.route(paths, params)
}

// singlePathFallback searches for one path carrying the whole amount after a multi-path collection
// failed on the fee limit: the collection favours low penalties over low fees and can gather paths
// whose fees add up past the limit while a single cheaper path exists. mppErr is returned if none does.
func (v *ReadOnlyNetworkGraph) singlePathFallback(payer [33]byte, params *RouteParameters, firstHops []FirstHop,
	scorer ScoreLookUp, mppErr error) (*Route, error) {
	single := *params
	single.MaxPathCount = 1
	r, err := v.FindRoute(payer, &single, firstHops, scorer)
	if err != nil {
		return nil, mppErr
	}
	return r, nil
}

// setup sizes the scratch, places payer and payee, and adds the first hops and route hints.
func (sr *search) setup(payer [33]byte, params *RouteParameters, firstHops []FirstHop) (mpp bool, err error) {
	d, s := sr.d, sr.s
	sr.graphNodes, sr.virtBase = uint32(len(d.nodeKeys)), uint32(len(d.pol))
	s.prepare(len(d.nodeKeys), len(d.pol))
	sr.payer, sr.payee = sr.nodeFor(payer), sr.nodeFor(params.Payee)
	sr.firstGiven = firstHops != nil
	for _, fh := range firstHops {
		lim := fh.OutboundCapacityMsat
		if fh.HTLCMaximumMsat != 0 {
			lim = min(lim, fh.HTLCMaximumMsat)
		}
		s.addVirtEdge(virtEdge{scid: fh.SCID, htlcMin: fh.HTLCMinimumMsat, limit: lim, src: sr.payer,
			dst: sr.nodeFor(fh.CounterpartyNodeID), dir: DirectionOf(payer, fh.CounterpartyNodeID), first: true})
	}
	for _, h := range params.RouteHints {
		sr.addHint(h, params.Payee)
	}
	if sr.payee >= sr.graphNodes && !s.hasVirt[sr.payee] {
		return false, fmt.Errorf("%w: %x", ErrPayeeNotFound, params.Payee)
	}
	for _, scid := range params.PreviouslyFailedChannels {
		sr.excludeChannel(scid)
	}
	sr.maxLen = params.MaxPathLength
	sr.maxCLTV = params.MaxTotalCLTVExpiryDelta - params.FinalCLTVExpiryDelta
	sr.maxFee = min(params.MaxTotalRoutingFeeMsat, MaxValueMsat)
	return sr.payeeFeatures(params)
}

// nodeFor returns a node's slot in the graph, or a virtual one.
func (sr *search) nodeFor(key [33]byte) uint32 {
	if n, ok := sr.d.nodeIdx[key]; ok {
		return n
	}
	return sr.s.addVirtNode(key)
}

// addHint adds a route hint's hops as virtual edges, each into the next hop's source (the last into
// the payee).
func (sr *search) addHint(h RouteHint, payee [33]byte) {
	for j, hop := range h {
		dst := payee
		if j+1 < len(h) {
			dst = h[j+1].SrcNodeID
		}
		lim := hop.HTLCMaximumMsat
		if lim == 0 {
			lim = math.MaxUint64
		}
		sr.s.addVirtEdge(virtEdge{scid: hop.SCID, htlcMin: hop.HTLCMinimumMsat, limit: lim,
			src: sr.nodeFor(hop.SrcNodeID), dst: sr.nodeFor(dst), feeBase: hop.FeeBaseMsat,
			feePPM: hop.FeeProportionalMillionths, cltv: uint32(hop.CLTVExpiryDelta),
			dir: DirectionOf(hop.SrcNodeID, dst)})
	}
}

// excludeChannel makes a channel (graph, first hop or hint) unusable for this search.
func (sr *search) excludeChannel(scid uint64) {
	if c, ok := sr.d.chanIdx[scid]; ok {
		sr.exhaustChannel(2 * c)
	}
	for i := range sr.s.edges {
		if sr.s.edges[i].scid == scid {
			sr.exhaustChannel(sr.virtBase + uint32(i))
		}
	}
}

// payeeFeatures checks the payee's features (the invoice's, else its node_announcement's) and says
// whether multi-path is allowed.
func (sr *search) payeeFeatures(params *RouteParameters) (bool, error) {
	fv := params.PayeeFeatures
	if fv == nil && sr.payee < sr.graphNodes && sr.d.nodeFlags[sr.payee]&nodeHasAnn != 0 {
		fv = lnwire.DecodeFeatureVector(sr.d.nodeAnns[sr.payee].features)
	}
	if fv == nil || fv.IsEmpty() {
		return false, nil
	}
	if u := fv.UnknownRequiredFeatures(knownFeatures); len(u) > 0 {
		return false, fmt.Errorf("%w: requires %v", ErrPayeeFeatures, u)
	}
	if !fv.Supports(lnwire.VarOnionOptinRequired) {
		return false, fmt.Errorf("%w: no var_onion_optin", ErrPayeeFeatures)
	}
	mpp := params.MaxPathCount > 1 && fv.Supports(lnwire.BasicMPPRequired) && fv.Supports(lnwire.PaymentSecretRequired)
	return mpp, nil
}

// route turns the selected paths into a Route.
func (sr *search) route(paths []*foundPath, params *RouteParameters) (*Route, error) {
	keys := make(map[uint32]*btcec.PublicKey)
	r := &Route{Paths: make([]Path, 0, len(paths))}
	for _, p := range paths {
		pp, err := sr.toPath(p, params.FinalCLTVExpiryDelta, keys)
		if err != nil {
			return nil, err
		}
		r.Paths = append(r.Paths, pp)
	}
	return r, nil
}
