package router

import (
	"errors"
	"math"
	"testing"

	"github.com/lnkit/lnkit/lnwire"
)

// pol is a policy for tests: base fee, ppm, CLTV delta, htlc_maximum_msat.
func pol(base, ppm uint32, cltv uint16, maxMsat uint64) *ChannelPolicy {
	return &ChannelPolicy{Timestamp: 1, FeeBaseMsat: base, FeeProportionalMillionths: ppm, CLTVExpiryDelta: cltv,
		HTLCMinimumMsat: 1, HTLCMaximumMsat: maxMsat}
}

func mustRoute(t *testing.T, g *NetworkGraph, payer [33]byte, params *RouteParameters, fh []FirstHop, s ScoreLookUp) *Route {
	t.Helper()
	r, err := g.FindRoute(payer, params, fh, s)
	if err != nil {
		t.Fatal(err)
	}
	v := g.ReadOnly()
	defer v.Release()
	if _, err := validateRoute(v, payer, params, fh, r); err != nil {
		t.Fatalf("invalid route: %v", err)
	}
	return r
}

// parallelGraph: payer P and payee Q joined by n two-hop routes P → A_i → Q over channels of capSat,
// with fee rates rising with i (route 0 the cheapest).
func parallelGraph(t *testing.T, n int, capSat uint64) (*NetworkGraph, [33]byte, [33]byte) {
	g := NewNetworkGraph(nil)
	p, q := testKey(1, 0), testKey(1, 1)
	for i := range n {
		a := testKey(1, 2+i)
		m := capSat * 1000
		addTestChannel(t, g, uint64(2*i+1)<<40, p, a, capSat, pol(0, 0, 40, m), pol(0, 0, 40, m))
		addTestChannel(t, g, uint64(2*i+2)<<40, a, q, capSat, pol(1000, uint32(100*(i+1)), 40, m), pol(0, 0, 40, m))
	}
	return g, p, q
}

// TestFindRouteMPP: an amount no single path can carry is split; the paths deliver exactly the amount
// and stay within capacity; with enough capacity each channel carries at most a quarter of it (the
// default saturation limit); impossible amounts give ErrInsufficientLiquidity, or ErrNoRoute without
// multi-path.
func TestFindRouteMPP(t *testing.T) {
	g, p, q := parallelGraph(t, 4, 1_000_000)
	params := NewRouteParameters(q, 1_500_000_000, 40)
	params.PayeeFeatures = mppFeatures
	r := mustRoute(t, g, p, &params, nil, aprioriScorer{})
	if len(r.Paths) < 2 || r.FinalValueMsat() != params.FinalValueMsat {
		t.Fatalf("%d paths delivering %d", len(r.Paths), r.FinalValueMsat())
	}

	g, p, q = parallelGraph(t, 20, 2_000_000)
	params = NewRouteParameters(q, 1_000_000_000, 40)
	params.PayeeFeatures = mppFeatures
	r = mustRoute(t, g, p, &params, nil, aprioriScorer{})
	if len(r.Paths) < 2 || r.FinalValueMsat() != params.FinalValueMsat {
		t.Fatalf("%d paths delivering %d", len(r.Paths), r.FinalValueMsat())
	}
	for _, path := range r.Paths {
		if amt := path.TotalAmountMsat(); amt > 2_000_000_000/4 {
			t.Fatalf("a path sends %d msat over a 2M sat channel (saturation limit 1/4)", amt)
		}
	}

	g, p, q = parallelGraph(t, 4, 1_000_000)
	params = NewRouteParameters(q, 4_100_000_000, 40)
	params.PayeeFeatures = mppFeatures
	if _, err := g.FindRoute(p, &params, nil, aprioriScorer{}); !errors.Is(err, ErrInsufficientLiquidity) {
		t.Fatalf("4.1M sat over 4 x 1M sat: %v", err)
	}
	params = NewRouteParameters(q, 1_500_000_000, 40) // no basic_mpp: a single path
	if _, err := g.FindRoute(p, &params, nil, aprioriScorer{}); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("1.5M sat on one path over 1M sat channels: %v", err)
	}
	params.PayeeFeatures, params.MaxPathCount = mppFeatures, 1
	if _, err := g.FindRoute(p, &params, nil, aprioriScorer{}); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("MaxPathCount 1: %v", err)
	}
}

// TestFindRouteMPPMaxPaths: with MaxPathCount 2 each path must carry at least half; the amount is then
// split in two.
func TestFindRouteMPPMaxPaths(t *testing.T) {
	g, p, q := parallelGraph(t, 4, 1_000_000)
	params := NewRouteParameters(q, 1_500_000_000, 40)
	params.PayeeFeatures, params.MaxPathCount = mppFeatures, 2
	r := mustRoute(t, g, p, &params, nil, nil)
	if len(r.Paths) != 2 {
		t.Fatalf("%d paths", len(r.Paths))
	}
}

// TestFindRouteHints: a payee outside the graph is reached through its invoice's private last hops
// (one hop, and two hops through a private node), with the hints' fees and CLTV deltas.
func TestFindRouteHints(t *testing.T) {
	g := NewNetworkGraph(nil)
	p, a, b, c, q := testKey(2, 0), testKey(2, 1), testKey(2, 2), testKey(2, 3), testKey(2, 4)
	addTestChannel(t, g, 1<<40, p, a, 1_000_000, pol(0, 0, 40, 1e9), pol(0, 0, 40, 1e9))
	addTestChannel(t, g, 2<<40, a, b, 1_000_000, pol(500, 100, 30, 1e9), pol(0, 0, 40, 1e9))
	params := NewRouteParameters(q, 50_000_000, 18)
	if _, err := g.FindRoute(p, &params, nil, nil); !errors.Is(err, ErrPayeeNotFound) {
		t.Fatalf("no hint: %v", err)
	}
	params.RouteHints = []RouteHint{{{SrcNodeID: b, SCID: 77 << 40, FeeBaseMsat: 1000, FeeProportionalMillionths: 10, CLTVExpiryDelta: 144}}}
	r := mustRoute(t, g, p, &params, nil, aprioriScorer{})
	hops := r.Paths[0].Hops
	if len(hops) != 3 || hops[2].ShortChannelID.ToUint64() != 77<<40 || hops[1].FeeMsat != 1000+50_000_000*10/1e6 || hops[1].CLTVExpiryDelta != 144 {
		t.Fatalf("route %+v", hops)
	}
	params.RouteHints = []RouteHint{{
		{SrcNodeID: b, SCID: 78 << 40, FeeBaseMsat: 1, CLTVExpiryDelta: 20},
		{SrcNodeID: c, SCID: 79 << 40, FeeBaseMsat: 2, CLTVExpiryDelta: 30, HTLCMaximumMsat: 10_000_000}}}
	if _, err := g.FindRoute(p, &params, nil, nil); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("hint below the amount: %v", err)
	}
	params.RouteHints[0][1].HTLCMaximumMsat = 0
	r = mustRoute(t, g, p, &params, nil, nil)
	if hops := r.Paths[0].Hops; len(hops) != 4 || idOf(hops[2].PubKey) != c || hops[3].ShortChannelID.ToUint64() != 79<<40 {
		t.Fatalf("route %+v", hops)
	}
}

// TestFindRouteFirstHops: first hops replace our graph channels: a payer outside the graph routes
// through them; a payer in the graph uses only them, within their outbound capacity.
func TestFindRouteFirstHops(t *testing.T) {
	g := NewNetworkGraph(nil)
	p, a, b, q := testKey(3, 0), testKey(3, 1), testKey(3, 2), testKey(3, 3)
	addTestChannel(t, g, 1<<40, p, a, 1_000_000, pol(0, 0, 40, 1e9), pol(0, 0, 40, 1e9))
	addTestChannel(t, g, 2<<40, a, q, 1_000_000, pol(0, 1, 40, 1e9), pol(0, 0, 40, 1e9))
	addTestChannel(t, g, 3<<40, b, q, 1_000_000, pol(0, 500, 40, 1e9), pol(0, 0, 40, 1e9))
	params := NewRouteParameters(q, 10_000_000, 18)
	r := mustRoute(t, g, p, &params, nil, nil)
	if r.Paths[0].Hops[0].ShortChannelID.ToUint64() != 1<<40 {
		t.Fatalf("graph first hop expected: %+v", r.Paths[0].Hops)
	}
	fh := []FirstHop{{SCID: 9 << 40, CounterpartyNodeID: b, OutboundCapacityMsat: 20_000_000}}
	r = mustRoute(t, g, p, &params, fh, nil)
	if hops := r.Paths[0].Hops; hops[0].ShortChannelID.ToUint64() != 9<<40 || idOf(hops[0].PubKey) != b {
		t.Fatalf("first hop to b expected: %+v", hops)
	}
	fh[0].OutboundCapacityMsat = 5_000_000
	if _, err := g.FindRoute(p, &params, fh, nil); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("first hop too small: %v", err)
	}
	private := testKey(3, 9)
	fh = []FirstHop{{SCID: 10 << 40, CounterpartyNodeID: a, OutboundCapacityMsat: 20_000_000}}
	r = mustRoute(t, g, private, &params, fh, nil)
	if len(r.Paths[0].Hops) != 2 {
		t.Fatalf("from a private payer: %+v", r.Paths[0].Hops)
	}
	fh = []FirstHop{{SCID: 11 << 40, CounterpartyNodeID: q, OutboundCapacityMsat: 20_000_000}}
	if r = mustRoute(t, g, private, &params, fh, nil); len(r.Paths[0].Hops) != 1 {
		t.Fatalf("direct channel to the payee: %+v", r.Paths[0].Hops)
	}
}

// TestFindRouteLimits: the cheapest path is longer than MaxPathLength or above the CLTV limit, so a
// dearer one is taken; disabled directions are never used; PreviouslyFailedChannels are avoided; fee
// limit.
func TestFindRouteLimits(t *testing.T) {
	g := NewNetworkGraph(nil)
	k := func(i int) [33]byte { return testKey(4, i) }
	// Cheap long path 0-1-2-3-4-9 (CLTV 100 each), dear short path 0-5-9, disabled shortcut 0-6-9.
	for i := range 4 {
		addTestChannel(t, g, uint64(i+1)<<40, k(i), k(i+1), 1_000_000, pol(0, 0, 100, 1e9), nil)
	}
	addTestChannel(t, g, 5<<40, k(4), k(9), 1_000_000, pol(0, 0, 100, 1e9), nil)
	addTestChannel(t, g, 6<<40, k(0), k(5), 1_000_000, pol(0, 0, 40, 1e9), nil)
	addTestChannel(t, g, 7<<40, k(5), k(9), 1_000_000, pol(5000, 0, 40, 1e9), nil)
	disabled := pol(0, 0, 10, 1e9)
	disabled.Disabled = true
	addTestChannel(t, g, 8<<40, k(0), k(6), 1_000_000, pol(0, 0, 10, 1e9), nil)
	addTestChannel(t, g, 9<<40, k(6), k(9), 1_000_000, disabled, nil)
	params := NewRouteParameters(k(9), 1_000_000, 18)
	if r := mustRoute(t, g, k(0), &params, nil, nil); len(r.Paths[0].Hops) != 5 {
		t.Fatalf("cheapest path expected: %d hops", len(r.Paths[0].Hops))
	}
	for _, tweak := range []func(*RouteParameters){
		func(p *RouteParameters) { p.MaxPathLength = 4 },
		func(p *RouteParameters) { p.MaxTotalCLTVExpiryDelta = 400 },
		func(p *RouteParameters) { p.PreviouslyFailedChannels = []uint64{3 << 40} },
	} {
		p := params
		tweak(&p)
		if r := mustRoute(t, g, k(0), &p, nil, nil); len(r.Paths[0].Hops) != 2 || r.TotalFeesMsat() != 5000 {
			t.Fatalf("short path expected: %+v", r.Paths[0].Hops)
		}
	}
	p := params
	p.MaxTotalRoutingFeeMsat, p.PreviouslyFailedChannels = 4999, []uint64{3 << 40}
	if _, err := g.FindRoute(k(0), &p, nil, nil); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("fee limit: %v", err)
	}
}

// TestFindRouteErrors: invalid parameters and payee features.
func TestFindRouteErrors(t *testing.T) {
	g, p, q := parallelGraph(t, 2, 1_000_000)
	base := NewRouteParameters(q, 1_000_000, 18)
	cases := []struct {
		name  string
		tweak func(*RouteParameters)
		fh    []FirstHop
		payer [33]byte
		want  error
	}{
		{"to self", func(r *RouteParameters) { r.Payee = p }, nil, p, ErrRouteToSelf},
		{"zero amount", func(r *RouteParameters) { r.FinalValueMsat = 0 }, nil, p, ErrInvalidRouteParams},
		{"above 21M BTC", func(r *RouteParameters) { r.FinalValueMsat = MaxValueMsat + 1 }, nil, p, ErrInvalidRouteParams},
		{"no paths", func(r *RouteParameters) { r.MaxPathCount = 0 }, nil, p, ErrInvalidRouteParams},
		{"CLTV", func(r *RouteParameters) { r.MaxTotalCLTVExpiryDelta = 18 }, nil, p, ErrInvalidRouteParams},
		{"hint from payee", func(r *RouteParameters) { r.RouteHints = []RouteHint{{{SrcNodeID: q}}} }, nil, p, ErrInvalidRouteParams},
		{"empty first hops", nil, []FirstHop{}, p, ErrNoFirstHops},
		{"first hop to self", nil, []FirstHop{{CounterpartyNodeID: p}}, p, ErrInvalidRouteParams},
		{"unknown payee", func(r *RouteParameters) { r.Payee = testKey(1, 99) }, nil, p, ErrPayeeNotFound},
		{"unknown payer", nil, nil, testKey(1, 98), ErrNoRoute},
		{"unknown required feature", func(r *RouteParameters) {
			r.PayeeFeatures = lnwire.NewFeatureVector(lnwire.VarOnionOptinRequired, 100)
		}, nil, p, ErrPayeeFeatures},
		{"no var_onion", func(r *RouteParameters) {
			r.PayeeFeatures = lnwire.NewFeatureVector(lnwire.PaymentSecretOptional)
		}, nil, p, ErrPayeeFeatures},
	}
	for _, c := range cases {
		params := base
		if c.tweak != nil {
			c.tweak(&params)
		}
		if _, err := g.FindRoute(c.payer, &params, c.fh, nil); !errors.Is(err, c.want) {
			t.Errorf("%s: %v, want %v", c.name, err, c.want)
		}
	}
}

// TestFeeFor checks BOLT 7's fee formula and its saturation.
func TestFeeFor(t *testing.T) {
	for _, c := range []struct {
		amt       uint64
		base, ppm uint32
		want      uint64
	}{{1_000_000, 1000, 1, 1001}, {999_999, 0, 1, 0}, {1e11, 1, 2500, 250_000_001},
		{math.MaxUint64, 0, 2, math.MaxUint64}, {math.MaxUint64 / 1000, 5, 1000, math.MaxUint64/1000/1000 + 5}} {
		if got := feeFor(c.amt, c.base, c.ppm); got != c.want {
			t.Errorf("feeFor(%d, %d, %d) = %d, want %d", c.amt, c.base, c.ppm, got, c.want)
		}
	}
}

// TestFindRouteLargeChannel: a capacity of 2^32 sat or more (kept outside the search's policy array)
// bounds amounts like any other.
func TestFindRouteLargeChannel(t *testing.T) {
	g := NewNetworkGraph(nil)
	a, b := testKey(12, 0), testKey(12, 1)
	capSat := uint64(50 * 100_000_000) // 50 BTC
	addTestChannel(t, g, 1<<40, a, b, capSat, pol(0, 0, 40, capSat*1000), nil)
	if c, _ := g.ChannelCapacityMsat(1 << 40); c != capSat*1000 {
		t.Fatalf("capacity %d", c)
	}
	params := NewRouteParameters(b, 45*100_000_000_000, 18) // 45 BTC: above a quarter, below the capacity
	mustRoute(t, g, a, &params, nil, nil)
	params.FinalValueMsat = capSat*1000 + 1
	if _, err := g.FindRoute(a, &params, nil, nil); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("above the capacity: %v", err)
	}
}

// TestFindRouteMPPFeeLimitFallback: a multi-path collection can gather paths whose fees add up past the
// limit (here one cheap channel, saturated at a quarter of its capacity, and many dear ones) while one
// path can carry the whole amount within it: that path is returned.
func TestFindRouteMPPFeeLimitFallback(t *testing.T) {
	g := NewNetworkGraph(nil)
	p, q, a := testKey(4, 0), testKey(4, 1), testKey(4, 2)
	const cheapSat, dearSat = 10_000_000, 4_000_000
	addTestChannel(t, g, 1<<40, p, a, cheapSat, pol(0, 0, 40, cheapSat*1000), pol(0, 0, 40, cheapSat*1000))
	addTestChannel(t, g, 2<<40, a, q, cheapSat, pol(1000, 1000, 40, cheapSat*1000), pol(0, 0, 40, cheapSat*1000))
	for i := range 14 {
		b := testKey(4, 3+i)
		addTestChannel(t, g, uint64(3+2*i)<<40, p, b, dearSat, pol(0, 0, 40, dearSat*1000), pol(0, 0, 40, dearSat*1000))
		addTestChannel(t, g, uint64(4+2*i)<<40, b, q, dearSat, pol(0, 30_000, 40, dearSat*1000), pol(0, 0, 40, dearSat*1000))
	}
	params := NewRouteParameters(q, 5_000_000_000, 40)
	params.PayeeFeatures = mppFeatures
	r := mustRoute(t, g, p, &params, nil, aprioriScorer{})
	if len(r.Paths) != 1 || r.Paths[0].Hops[0].ShortChannelID.ToUint64() != 1<<40 {
		t.Fatalf("want the single cheap path, got %d paths", len(r.Paths))
	}
	if fee, want := r.TotalFeesMsat(), feeFor(5_000_000_000, 1000, 1000); fee != want {
		t.Fatalf("fees %d msat, want %d", fee, want)
	}
}
