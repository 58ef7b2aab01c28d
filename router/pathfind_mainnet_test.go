package router

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"math/rand"
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/lnkit/lnkit/lnwire"
)

var writeExtract = flag.Bool("write-extract", false, "rewrite testdata/lngraph-extract.json from the mainnet graph")

// routableNodes returns the nodes with at least minDeg enabled outgoing directions, sorted.
func routableNodes(v *ReadOnlyNetworkGraph, minDeg int) [][33]byte {
	deg := map[[33]byte]int{}
	v.ForEachChannel(func(ci ChannelInfo) bool {
		for dir, id := range [2][33]byte{ci.NodeID1, ci.NodeID2} {
			if p := ci.Directions[dir]; p != nil && !p.Disabled {
				deg[id]++
			}
		}
		return true
	})
	var out [][33]byte
	for id, d := range deg {
		if d >= minDeg {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b [33]byte) int { return slices.Compare(a[:], b[:]) })
	return out
}

// testQuery is a payment to route.
type testQuery struct {
	src, dst [33]byte
	amt      uint64
}

// seededQueries picks n distinct source/target pairs among nodes, amounts cycling over amtsSat.
func seededQueries(nodes [][33]byte, n int, seed int64, amtsSat ...uint64) []testQuery {
	rng := rand.New(rand.NewSource(seed))
	var qs []testQuery
	for len(qs) < n {
		s, d := nodes[rng.Intn(len(nodes))], nodes[rng.Intn(len(nodes))]
		if s != d {
			qs = append(qs, testQuery{s, d, amtsSat[len(qs)%len(amtsSat)] * 1000})
		}
	}
	return qs
}

var mppFeatures = lnwire.NewFeatureVector(lnwire.VarOnionOptinRequired, lnwire.PaymentSecretRequired,
	lnwire.BasicMPPOptional)

// checkQueries routes every query (half of them with first hops made from the payer's channels) and
// validates each route; it returns how many were found.
func checkQueries(t *testing.T, g *NetworkGraph, qs []testQuery) int {
	t.Helper()
	v := g.ReadOnly()
	defer v.Release()
	found := 0
	probabilistic := NewProbabilisticScorer(DefaultProbabilisticScoringDecayParameters(),
		DefaultProbabilisticScoringFeeParameters(), g)
	for i, q := range qs {
		var scorer ScoreLookUp = probabilistic // the real scorer for most; the simple one for a quarter
		if i%4 == 3 {
			scorer = aprioriScorer{}
		}
		params := NewRouteParameters(q.dst, q.amt, 40)
		params.PayeeFeatures = mppFeatures
		var firstHops []FirstHop
		if i%2 == 1 {
			firstHops = firstHopsFromGraph(v, q.src)
		}
		r, err := v.FindRoute(q.src, &params, firstHops, scorer)
		if err != nil {
			if !errors.Is(err, ErrNoRoute) && !errors.Is(err, ErrInsufficientLiquidity) && !errors.Is(err, ErrFeeLimit) {
				t.Fatalf("query %d: %v", i, err)
			}
			continue
		}
		found++
		over, err := validateRoute(v, q.src, &params, firstHops, r)
		if err != nil {
			t.Fatalf("query %d (%d msat, %d paths): %v", i, q.amt, len(r.Paths), err)
		}
		if over > 0 {
			t.Logf("query %d: %d hops overpay a later htlc_minimum_msat", i, over)
		}
	}
	return found
}

// firstHopsFromGraph makes first hops of the payer's enabled channels, with half their capacity
// available.
func firstHopsFromGraph(v *ReadOnlyNetworkGraph, payer [33]byte) []FirstHop {
	ni, _ := v.Node(payer)
	out := []FirstHop{}
	for _, scid := range ni.Channels {
		ci, _ := v.Channel(scid)
		peer, dir := ci.NodeID2, 0
		if ci.NodeID2 == payer {
			peer, dir = ci.NodeID1, 1
		}
		if p := ci.Directions[dir]; p != nil && !p.Disabled {
			out = append(out, FirstHop{SCID: scid, CounterpartyNodeID: peer, OutboundCapacityMsat: ci.CapacitySat * 500,
				HTLCMinimumMsat: p.HTLCMinimumMsat})
		}
	}
	return out
}

// TestFindRouteExtract: seeded queries on the repository's extract of the mainnet graph; every route
// found is valid.
func TestFindRouteExtract(t *testing.T) {
	g := loadGraphFile(t, extractPath)
	v := g.ReadOnly()
	nodes := routableNodes(v, 2)
	v.Release()
	qs := seededQueries(nodes, 300, 7, 1_000, 10_000, 100_000, 1_000_000, 5_000_000)
	found := checkQueries(t, g, qs)
	t.Logf("extract: %d nodes, %d channels; %d of %d queries routed", g.NumNodes(), g.NumChannels(), found, len(qs))
	if found < len(qs)/2 {
		t.Fatalf("only %d of %d routed", found, len(qs))
	}
}

// TestFindRouteMainnet: the same on the whole February 2026 graph (skipped without it).
func TestFindRouteMainnet(t *testing.T) {
	if testing.Short() {
		t.Skip("short")
	}
	g := loadGraphFile(t, mainnetGraphPath)
	v := g.ReadOnly()
	nodes := routableNodes(v, 3)
	v.Release()
	qs := seededQueries(nodes, 200, 11, 1_000, 10_000, 100_000, 1_000_000, 3_000_000)
	found := checkQueries(t, g, qs)
	t.Logf("mainnet: %d of %d queries routed", found, len(qs))
	if found < len(qs)*8/10 {
		t.Fatalf("only %d of %d routed", found, len(qs))
	}
}

// TestWriteExtract rewrites the extract (with -write-extract): the channels among the neighbours of
// four nodes of the mainnet graph, picked by seed among nodes with 8 to 30 enabled directions.
func TestWriteExtract(t *testing.T) {
	if !*writeExtract {
		t.Skip("-write-extract not set")
	}
	g := loadGraphFile(t, mainnetGraphPath)
	v := g.ReadOnly()
	defer v.Release()
	keep := extractNodes(v)
	var edges []map[string]any
	nodes := map[[33]byte]bool{}
	v.ForEachChannel(func(ci ChannelInfo) bool {
		if keep[ci.NodeID1] && keep[ci.NodeID2] && len(edges) < 600 {
			edges = append(edges, dgEdgeJSON(ci))
			nodes[ci.NodeID1], nodes[ci.NodeID2] = true, true
		}
		return true
	})
	var nodeList []map[string]any
	for id := range nodes {
		ni, _ := v.Node(id)
		alias := ""
		if ni.Announcement != nil {
			alias = string(trimZero(ni.Announcement.Alias[:]))
		}
		nodeList = append(nodeList, map[string]any{"pub_key": hex.EncodeToString(id[:]), "alias": alias})
	}
	slices.SortFunc(nodeList, func(a, b map[string]any) int { return cmpStr(a["pub_key"].(string), b["pub_key"].(string)) })
	out, _ := json.Marshal(map[string]any{"nodes": nodeList, "edges": edges})
	if err := os.WriteFile(extractPath, out, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d nodes, %d channels", len(nodeList), len(edges))
}

func extractNodes(v *ReadOnlyNetworkGraph) map[[33]byte]bool {
	var mid [][33]byte
	deg := routableNodes(v, 8)
	big := routableNodes(v, 31)
	for _, id := range deg {
		if _, isBig := slices.BinarySearchFunc(big, id, func(a, b [33]byte) int { return slices.Compare(a[:], b[:]) }); !isBig {
			mid = append(mid, id)
		}
	}
	rng := rand.New(rand.NewSource(3))
	keep := map[[33]byte]bool{}
	for range 4 {
		c := mid[rng.Intn(len(mid))]
		keep[c] = true
		ni, _ := v.Node(c)
		for _, scid := range ni.Channels {
			ci, _ := v.Channel(scid)
			keep[ci.NodeID1], keep[ci.NodeID2] = true, true
		}
	}
	return keep
}

func dgEdgeJSON(ci ChannelInfo) map[string]any {
	e := map[string]any{"channel_id": strconv.FormatUint(ci.SCID, 10), "node1_pub": hex.EncodeToString(ci.NodeID1[:]),
		"node2_pub": hex.EncodeToString(ci.NodeID2[:]), "capacity": strconv.FormatUint(ci.CapacitySat, 10)}
	for dir, key := range []string{"node1_policy", "node2_policy"} {
		p := ci.Directions[dir]
		if p == nil {
			e[key] = nil
			continue
		}
		e[key] = map[string]any{"time_lock_delta": p.CLTVExpiryDelta, "min_htlc": strconv.FormatUint(p.HTLCMinimumMsat, 10),
			"fee_base_msat": strconv.FormatUint(uint64(p.FeeBaseMsat), 10), "fee_rate_milli_msat": strconv.FormatUint(uint64(p.FeeProportionalMillionths), 10),
			"disabled": p.Disabled, "max_htlc_msat": strconv.FormatUint(p.HTLCMaximumMsat, 10)}
	}
	return e
}

func trimZero(b []byte) []byte {
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return b
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
