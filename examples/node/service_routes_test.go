package main

import (
	"errors"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
)

// routeGraph: we (P) have a private channel to A (a first hop, not in the graph); A–B is public with
// A's policy 1000 msat + 100 ppm, 80 blocks; B is announced with var_onion_optin and basic_mpp.
type routeGraph struct {
	g         *router.NetworkGraph
	p, a, b   [33]byte
	firstHop  router.FirstHop
	scorer    *router.ProbabilisticScorer
	ab        uint64
	firstSCID uint64
}

func newRouteGraph(t *testing.T) *routeGraph {
	t.Helper()
	r := &routeGraph{g: router.NewNetworkGraph(nil), p: testID(10), a: testID(11), b: testID(12),
		ab: scid(650, 2, 0), firstSCID: scid(640, 1, 1)}
	addChannel(t, r.g, testChannel{scid: r.ab, a: r.a, b: r.b, capSat: 1_000_000,
		aPol: policy(1000, 100, 80, 1_700_000_000), bPol: policy(5, 5, 5, 1_700_000_000)})
	announceNode(t, r.g, r.b, "bob", 1_700_000_001)
	r.firstHop = router.FirstHop{SCID: r.firstSCID, CounterpartyNodeID: r.a, OutboundCapacityMsat: 500_000_000}
	r.scorer = router.NewProbabilisticScorer(router.DefaultProbabilisticScoringDecayParameters(),
		router.DefaultProbabilisticScoringFeeParameters(), r.g)
	return r
}

func (r *routeGraph) query(t *testing.T, p nodeapi.QueryRoutesParams, hops []router.FirstHop) (*nodeapi.QueryRoutesResult, error) {
	t.Helper()
	if p.NodeID == "" {
		p.NodeID = nodeIDHexOf(r.b)
	}
	payee, err := parseNodeID(p.NodeID)
	require.NoError(t, err)
	params, err := routeParams(nodeKey(payee.SerializeCompressed()), p)
	if err != nil {
		return nil, err
	}
	return queryRoutes(r.g, r.scorer, r.p, hops, params, 500)
}

func nodeIDHexOf(id [33]byte) string { return nodeIDHex(mustPub(id)) }

func mustPub(id [33]byte) *btcec.PublicKey {
	k, err := btcec.ParsePubKey(id[:])
	if err != nil {
		panic(err)
	}
	return k
}

func TestQueryRoutesTwoHops(t *testing.T) {
	r := newRouteGraph(t)
	res, err := r.query(t, nodeapi.QueryRoutesParams{AmountSat: 100_000}, []router.FirstHop{r.firstHop})
	require.NoError(t, err)
	fee := uint64(1000 + 100_000_000*100/1_000_000) // A's policy toward B on the amount forwarded
	want := &nodeapi.QueryRoutesResult{Paths: []nodeapi.RoutePath{{
		Hops: []nodeapi.RouteHop{
			{NodeID: nodeIDHexOf(r.a), ShortChannelID: "640x1x1", SCID: r.firstSCID, AmountToForwardMsat: 100_000_000,
				FeeMsat: fee, CLTVExpiryDelta: 80, ExpiryHeight: 540},
			{NodeID: nodeIDHexOf(r.b), ShortChannelID: "650x2x0", SCID: r.ab, AmountToForwardMsat: 100_000_000,
				FeeMsat: 0, CLTVExpiryDelta: 40, ExpiryHeight: 540},
		},
		AmountMsat: 100_000_000, TotalAmountMsat: 100_000_000 + fee, TotalFeesMsat: fee, TotalCLTVDelta: 120,
		TotalTimeLock: 620}},
		AmountMsat: 100_000_000, TotalAmountMsat: 100_000_000 + fee, TotalFeesMsat: fee, TotalTimeLock: 620, BlockHeight: 500}
	require.Equal(t, want, res)

	// The final CLTV delta moves the time locks; allowing several paths still finds the one.
	res, err = r.query(t, nodeapi.QueryRoutesParams{AmountSat: 100_000, FinalCLTVDelta: 18, MaxPaths: 3},
		[]router.FirstHop{r.firstHop})
	require.NoError(t, err)
	require.Len(t, res.Paths, 1)
	require.EqualValues(t, 500+80+18, res.TotalTimeLock)
	require.EqualValues(t, 518, res.Paths[0].Hops[0].ExpiryHeight)
}

func TestQueryRoutesErrors(t *testing.T) {
	r := newRouteGraph(t)
	hops := []router.FirstHop{r.firstHop}
	zero := uint64(0)
	cases := []struct {
		name    string
		p       nodeapi.QueryRoutesParams
		hops    []router.FirstHop
		is      error // errors.Is target
		message string
	}{
		{"payee not in the graph", nodeapi.QueryRoutesParams{NodeID: nodeIDHexOf(testID(20)), AmountSat: 1000}, hops,
			router.ErrPayeeNotFound, "no route to"},
		{"no usable channel", nodeapi.QueryRoutesParams{AmountSat: 1000}, []router.FirstHop{},
			router.ErrNoFirstHops, "no usable channel to send from"},
		{"more than the first hop holds", nodeapi.QueryRoutesParams{AmountSat: 600_000}, hops, router.ErrNoRoute,
			"ruled out by liquidity 2"},
		{"fee limit", nodeapi.QueryRoutesParams{AmountSat: 100_000, FeeLimitSat: &zero}, hops, router.ErrNoRoute, "fee limit 2"},
		{"to ourselves", nodeapi.QueryRoutesParams{NodeID: nodeIDHexOf(r.p), AmountSat: 1}, hops,
			nodeapi.ErrInvalidParams, "ourselves"},
		{"zero amount", nodeapi.QueryRoutesParams{AmountSat: 0}, hops, nodeapi.ErrInvalidParams, "amount_sat"},
		{"amount above 21M BTC", nodeapi.QueryRoutesParams{AmountSat: 21e14 + 1}, hops, nodeapi.ErrInvalidParams, "amount_sat"},
		{"max_paths", nodeapi.QueryRoutesParams{AmountSat: 1, MaxPaths: 256}, hops, nodeapi.ErrInvalidParams, "max_paths"},
		{"final delta", nodeapi.QueryRoutesParams{AmountSat: 1, FinalCLTVDelta: 1008}, hops, nodeapi.ErrInvalidParams,
			"final_cltv_delta"},
	}
	for _, tc := range cases {
		_, err := r.query(t, tc.p, tc.hops)
		require.Error(t, err, tc.name)
		require.ErrorContains(t, err, tc.message, tc.name)
		if tc.is != nil {
			require.True(t, errors.Is(err, tc.is), "%s: %v is not %v", tc.name, err, tc.is)
		}
	}
}

func TestFirstHops(t *testing.T) {
	a, b := mustPub(testID(1)), mustPub(testID(2))
	chans := []channelmanager.ChannelDetails{
		{CounterpartyNodeID: a, ShortChannelID: lnwire.NewShortChannelIDFromUint64(scid(100, 2, 1)), OutboundCapacityMsat: 7000},
		{CounterpartyNodeID: b, OutboundCapacityMsat: 9000}, // not confirmed yet: no short channel id
	}
	require.Equal(t, []router.FirstHop{{SCID: scid(100, 2, 1), CounterpartyNodeID: testID(1), OutboundCapacityMsat: 7000}},
		firstHops(chans))
	require.NotNil(t, firstHops(nil), "no channels is an empty list (FindRoute: no first hop), not nil (use the graph)")
}

func TestRouteParamsDefaults(t *testing.T) {
	p, err := routeParams(testID(2), nodeapi.QueryRoutesParams{AmountSat: 1000})
	require.NoError(t, err)
	require.EqualValues(t, 1_000_000, p.FinalValueMsat)
	require.EqualValues(t, queryRoutesFinalCLTVDelta, p.FinalCLTVExpiryDelta)
	require.EqualValues(t, 1, p.MaxPathCount)
	require.EqualValues(t, 1_000_000/100+50_000, p.MaxTotalRoutingFeeMsat, "the router's default fee limit")
	huge := uint64(1 << 62)
	p, err = routeParams(testID(2), nodeapi.QueryRoutesParams{AmountSat: 1000, FeeLimitSat: &huge})
	require.NoError(t, err)
	require.EqualValues(t, uint64(1<<64-1), p.MaxTotalRoutingFeeMsat, "no overflow")
}
