// Package bench holds the router's benchmarks on the real mainnet graph and the side-by-side timing
// against lnd (compare.sh). Test files only: it is a host, so it may read the clock.
package bench

import (
	"bytes"
	"flag"
	"math/rand"
	"os"
	"runtime"
	"slices"
	"sort"
	"testing"
	"time"

	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
)

var graphPath = flag.String("graph", "../../../shared/data/lngraph/cln-gossmap-2026-02-03/describegraph.json",
	"lnd describegraph JSON of the mainnet graph")

func loadGraph(tb testing.TB) *router.NetworkGraph {
	tb.Helper()
	f, err := os.Open(*graphPath)
	if err != nil {
		tb.Skipf("mainnet graph not available: %v", err)
	}
	defer f.Close()
	g, err := router.LoadDescribeGraph(f)
	if err != nil {
		tb.Fatal(err)
	}
	return g
}

type query struct {
	src, dst [33]byte
	amtMsat  uint64
}

// lndQueries draws queries exactly as lndroute does (same candidates: nodes with at least 3 enabled
// directions of their own, sorted; same math/rand sequence), so that seed 1 and n 100 give the
// queries of `lndroute -n 100 -seed 1`.
func lndQueries(v *router.ReadOnlyNetworkGraph, n int, seed int64, amtsSat ...uint64) []query {
	cands := candidates(v)
	rng := rand.New(rand.NewSource(seed))
	var qs []query
	for i := 0; i < n; i++ {
		s, d := cands[rng.Intn(len(cands))], cands[rng.Intn(len(cands))]
		if s == d {
			i--
			continue
		}
		qs = append(qs, query{s, d, amtsSat[i%len(amtsSat)] * 1000})
	}
	return qs
}

func candidates(v *router.ReadOnlyNetworkGraph) [][33]byte {
	deg := map[[33]byte]int{}
	v.ForEachChannel(func(ci router.ChannelInfo) bool {
		for dir, id := range [2][33]byte{ci.NodeID1, ci.NodeID2} {
			if p := ci.Directions[dir]; p != nil && !p.Disabled {
				deg[id]++
			}
		}
		return true
	})
	var out [][33]byte
	for id, d := range deg {
		if d >= 3 {
			out = append(out, id)
		}
	}
	slices.SortFunc(out, func(a, b [33]byte) int { return bytes.Compare(a[:], b[:]) })
	return out
}

// lndFeatures are the payee features lndroute gives every node: TLV onion required, payment secret
// optional (no basic_mpp: single paths).
var lndFeatures = lnwire.NewFeatureVector(lnwire.VarOnionOptinRequired, lnwire.PaymentSecretOptional)

// mppFeatures allow multi-path.
var mppFeatures = lnwire.NewFeatureVector(lnwire.VarOnionOptinRequired, lnwire.PaymentSecretRequired,
	lnwire.BasicMPPOptional)

// lndParams are the limits of lndroute's queries: fee limit 5% of the amount, CLTV limit 2,016 blocks.
func lndParams(q query) router.RouteParameters {
	p := router.NewRouteParameters(q.dst, q.amtMsat, 18)
	p.PayeeFeatures = lndFeatures
	p.MaxTotalRoutingFeeMsat = q.amtMsat / 20
	p.MaxTotalCLTVExpiryDelta = 2016
	return p
}

// timeQueries runs each query once and returns the times in ms, how many were routed, and the routes.
func timeQueries(v *router.ReadOnlyNetworkGraph, qs []query, sc router.ScoreLookUp, params func(query) router.RouteParameters) ([]float64, int, []*router.Route) {
	times := make([]float64, len(qs))
	routes := make([]*router.Route, len(qs))
	found := 0
	for i, q := range qs {
		p := params(q)
		t0 := time.Now()
		r, err := v.FindRoute(q.src, &p, nil, sc)
		times[i] = float64(time.Since(t0).Nanoseconds()) / 1e6
		if err == nil {
			found++
			routes[i] = r
		}
	}
	return times, found, routes
}

// quantiles returns p50, p90 and the mean (lndroute's convention: sorted[n/2], sorted[n*9/10]).
func quantiles(times []float64) (p50, p90, mean float64) {
	s := slices.Clone(times)
	sort.Float64s(s)
	for _, t := range s {
		mean += t
	}
	return s[len(s)/2], s[len(s)*9/10], mean / float64(len(s))
}

// BenchmarkFindRoute: the 100 queries of `lndroute -n 100 -seed 1` (1,000, 10,000 and 100,000 sat,
// single path), with the scorer on; b.N passes over them; p50 and p90 per query in ms.
func BenchmarkFindRoute(b *testing.B) {
	g := loadGraph(b)
	v := g.ReadOnly()
	defer v.Release()
	qs := lndQueries(v, 100, 1, 1_000, 10_000, 100_000)
	sc := scorer(g)
	runtime.GC()
	b.ResetTimer()
	var all []float64
	found := 0
	for range b.N {
		times, f, _ := timeQueries(v, qs, sc, lndParams)
		all, found = append(all, times...), f
	}
	p50, p90, _ := quantiles(all)
	b.ReportMetric(p50, "p50-ms")
	b.ReportMetric(p90, "p90-ms")
	b.ReportMetric(float64(found), "found")
	b.ReportMetric(0, "ns/op")
}

// mppQueries are seeded payments of 1,000,000 to 5,000,000 sat between the same candidates.
func mppQueries(v *router.ReadOnlyNetworkGraph, n int) []query {
	return lndQueries(v, n, 2, 1_000_000, 2_000_000, 5_000_000)
}

func mppParams(q query) router.RouteParameters {
	p := router.NewRouteParameters(q.dst, q.amtMsat, 18)
	p.PayeeFeatures = mppFeatures
	return p
}

// BenchmarkFindRouteMPP: 60 multi-path payments (1M, 2M, 5M sat; LDK's default limits), scorer on.
func BenchmarkFindRouteMPP(b *testing.B) {
	g := loadGraph(b)
	v := g.ReadOnly()
	defer v.Release()
	qs := mppQueries(v, 60)
	sc := scorer(g)
	runtime.GC()
	b.ResetTimer()
	var all []float64
	found, paths := 0, 0
	for range b.N {
		times, f, routes := timeQueries(v, qs, sc, mppParams)
		all, found, paths = append(all, times...), f, 0
		for _, r := range routes {
			if r != nil {
				paths += len(r.Paths)
			}
		}
	}
	p50, p90, _ := quantiles(all)
	b.ReportMetric(p50, "p50-ms")
	b.ReportMetric(p90, "p90-ms")
	b.ReportMetric(float64(found), "found")
	b.ReportMetric(float64(paths)/float64(max(found, 1)), "paths/route")
	b.ReportMetric(0, "ns/op")
}

// heapMB is the live heap after gcs garbage collections, in MB (two empty the sync.Pools, one keeps
// their objects in the victim cache).
func heapMB(gcs int) float64 {
	for range gcs {
		runtime.GC()
	}
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / 1e6
}

// BenchmarkGraphHeap: the Go heap the mainnet graph takes (read from its snapshot, so no JSON garbage
// counts), and with the pooled scratch of a route search (freed by the GC when idle).
func BenchmarkGraphHeap(b *testing.B) {
	data := loadGraph(b).Write()
	for range b.N {
		before := heapMB(2)
		g, err := router.ReadNetworkGraph(data, nil)
		if err != nil {
			b.Fatal(err)
		}
		graph := heapMB(2) - before
		v := g.ReadOnly()
		qs := lndQueries(v, 1, 1, 1000)
		v.Release()
		p := lndParams(qs[0])
		g.FindRoute(qs[0].src, &p, nil, nil) //nolint:errcheck
		search := heapMB(1) - before
		runtime.KeepAlive(g)
		b.ReportMetric(graph, "graph-MB")
		b.ReportMetric(search, "with-search-MB")
		b.ReportMetric(float64(len(data))/1e6, "snapshot-MB")
		b.ReportMetric(0, "ns/op")
	}
}

// BenchmarkReadNetworkGraph: loading the mainnet graph from its snapshot.
func BenchmarkReadNetworkGraph(b *testing.B) {
	data := loadGraph(b).Write()
	b.SetBytes(int64(len(data)))
	b.ResetTimer()
	for range b.N {
		if _, err := router.ReadNetworkGraph(data, nil); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkWriteNetworkGraph: writing its snapshot.
func BenchmarkWriteNetworkGraph(b *testing.B) {
	g := loadGraph(b)
	b.ResetTimer()
	for range b.N {
		g.Write()
	}
}
