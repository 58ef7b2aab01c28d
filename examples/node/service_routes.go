package main

import (
	"context"
	"errors"
	"fmt"
	"math"

	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/router"
)

// queryRoutesFinalCLTVDelta is queryroutes' final CLTV delta when none is given, in blocks (as
// sendpayment's).
const queryRoutesFinalCLTVDelta = 40

// maxAmountSat is the most that can exist: 21 million bitcoin, in satoshis.
const maxAmountSat = router.MaxValueMsat / 1000

func (s *service) QueryRoutes(ctx context.Context, p nodeapi.QueryRoutesParams) (*nodeapi.QueryRoutesResult, error) {
	n := s.n
	payee, err := parseNodeID(p.NodeID)
	if err != nil {
		return nil, err
	}
	params, err := routeParams(nodeKey(payee.SerializeCompressed()), p)
	if err != nil {
		return nil, err
	}
	payer := nodeKey(n.nodeID.SerializeCompressed())
	hops := firstHops(n.cm.ListUsableChannels())
	return queryRoutes(n.routing.graph, n.routing.scorer, payer, hops, params, n.follower.Tip().Height)
}

// routeParams checks queryroutes' params and turns them into FindRoute's.
func routeParams(payee [33]byte, p nodeapi.QueryRoutesParams) (*router.RouteParameters, error) {
	if p.AmountSat == 0 || p.AmountSat > maxAmountSat {
		return nil, invalid("amount_sat must be from 1 to %d", uint64(maxAmountSat))
	}
	if p.MaxPaths > math.MaxUint8 {
		return nil, invalid("max_paths must be at most %d", math.MaxUint8)
	}
	delta := p.FinalCLTVDelta
	if delta == 0 {
		delta = queryRoutesFinalCLTVDelta
	}
	rp := router.NewRouteParameters(payee, p.AmountSat*1000, delta)
	if delta >= rp.MaxTotalCLTVExpiryDelta {
		return nil, invalid("final_cltv_delta must be below %d blocks", rp.MaxTotalCLTVExpiryDelta)
	}
	rp.MaxPathCount = max(1, uint8(p.MaxPaths))
	if p.FeeLimitSat != nil {
		rp.MaxTotalRoutingFeeMsat = math.MaxUint64
		if *p.FeeLimitSat < math.MaxUint64/1000 {
			rp.MaxTotalRoutingFeeMsat = *p.FeeLimitSat * 1000
		}
	}
	return &rp, nil
}

// firstHops are our usable channels as FindRoute's first hops. The ChannelManager does not report
// the counterparty's htlc_minimum_msat nor a per-HTLC maximum: OutboundCapacityMsat bounds the
// hop. Channels without a short channel id yet are left out.
func firstHops(chans []channelmanager.ChannelDetails) []router.FirstHop {
	out := make([]router.FirstHop, 0, len(chans))
	for _, c := range chans {
		scid := c.ShortChannelID.ToUint64()
		if scid == 0 || c.CounterpartyNodeID == nil {
			continue
		}
		out = append(out, router.FirstHop{SCID: scid, CounterpartyNodeID: nodeKey(c.CounterpartyNodeID.SerializeCompressed()),
			OutboundCapacityMsat: c.OutboundCapacityMsat})
	}
	return out
}

// queryRoutes finds a route from payer and describes it, its time locks counted from height.
func queryRoutes(g *router.NetworkGraph, scorer router.ScoreLookUp, payer [33]byte, hops []router.FirstHop,
	params *router.RouteParameters, height uint32) (*nodeapi.QueryRoutesResult, error) {
	route, err := g.FindRoute(payer, params, hops, scorer)
	switch {
	case errors.Is(err, router.ErrRouteToSelf) || errors.Is(err, router.ErrInvalidRouteParams):
		return nil, invalid("%v", err)
	case errors.Is(err, router.ErrNoFirstHops):
		return nil, fmt.Errorf("no route to %x: no usable channel to send from (%w)", params.Payee, err)
	case err != nil:
		return nil, fmt.Errorf("no route to %x for %d msat: %w", params.Payee, params.FinalValueMsat, err)
	}
	res := &nodeapi.QueryRoutesResult{Paths: make([]nodeapi.RoutePath, 0, len(route.Paths)), BlockHeight: height,
		AmountMsat: route.FinalValueMsat(), TotalAmountMsat: route.TotalAmountMsat(), TotalFeesMsat: route.TotalFeesMsat()}
	for i := range route.Paths {
		p := apiPath(&route.Paths[i], height)
		res.Paths = append(res.Paths, p)
		res.TotalTimeLock = max(res.TotalTimeLock, p.TotalTimeLock)
	}
	return res, nil
}

// apiPath describes a path in lnd's terms: each hop's amount to forward and fee, and the expiry of
// the HTLC it sends on. FindRoute's RouteHop has LDK's convention (FeeMsat is the hop's fee, at the
// last hop the amount delivered; CLTVExpiryDelta the hop's delta, at the last hop the final delta).
func apiPath(p *router.Path, height uint32) nodeapi.RoutePath {
	n := len(p.Hops)
	out := nodeapi.RoutePath{Hops: make([]nodeapi.RouteHop, n), AmountMsat: p.Hops[n-1].FeeMsat,
		TotalAmountMsat: p.TotalAmountMsat(), TotalFeesMsat: p.TotalFeesMsat(), TotalCLTVDelta: p.TotalCLTVDelta()}
	out.TotalTimeLock = height + out.TotalCLTVDelta
	forward, expiry := out.AmountMsat, height+p.Hops[n-1].CLTVExpiryDelta
	for i := n - 1; i >= 0; i-- {
		h := &p.Hops[i]
		hop := nodeapi.RouteHop{NodeID: nodeIDHex(h.PubKey), ShortChannelID: h.ShortChannelID.String(),
			SCID: h.ShortChannelID.ToUint64(), AmountToForwardMsat: forward, CLTVExpiryDelta: h.CLTVExpiryDelta,
			ExpiryHeight: expiry}
		if i < n-1 {
			hop.FeeMsat = h.FeeMsat
			forward += h.FeeMsat
			expiry += h.CLTVExpiryDelta
		}
		out.Hops[i] = hop
	}
	return out
}
