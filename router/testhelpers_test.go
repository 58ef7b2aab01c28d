package router

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"os"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
)

// mainnetGraphPath is the February 2026 mainnet graph (outside the repository; tests skip without it).
const mainnetGraphPath = "../../shared/data/lngraph/cln-gossmap-2026-02-03/describegraph.json"

// extractPath is the small extract of it kept in the repository (see testdata/README.md).
const extractPath = "testdata/lngraph-extract.json"

func loadGraphFile(t testing.TB, path string) *NetworkGraph {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Skipf("graph not available: %v", err)
	}
	defer f.Close()
	g, err := LoadDescribeGraph(f)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// testKey returns the i-th deterministic node id of a seed (a valid compressed public key).
func testKey(seed int64, i int) [33]byte {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:], uint64(seed))
	binary.BigEndian.PutUint64(b[8:], uint64(i))
	sk := sha256.Sum256(b[:])
	priv, _ := btcec.PrivKeyFromBytes(sk[:])
	var id [33]byte
	copy(id[:], priv.PubKey().SerializeCompressed())
	return id
}

// addTestChannel adds a channel between a and b (in either order) with the policies a→b and b→a
// (nil: no update).
func addTestChannel(t testing.TB, g *NetworkGraph, scid uint64, a, b [33]byte, capSat uint64, ab, ba *ChannelPolicy) {
	t.Helper()
	n1, n2 := a, b
	if DirectionOf(a, b) == 1 {
		n1, n2 = b, a
	}
	if err := g.AddChannel(ChannelAnnouncementInfo{SCID: scid, NodeID1: n1, NodeID2: n2, CapacitySat: capSat}); err != nil {
		t.Fatal(err)
	}
	for _, x := range []struct {
		p        *ChannelPolicy
		from, to [33]byte
	}{{ab, a, b}, {ba, b, a}} {
		if x.p != nil {
			if err := g.UpdateChannelPolicy(scid, DirectionOf(x.from, x.to), *x.p); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func idOf(pk *btcec.PublicKey) [33]byte {
	var id [33]byte
	copy(id[:], pk.SerializeCompressed())
	return id
}

// validateRoute checks a route independently of the search, from the graph's public view: every hop
// an enabled direction of a known channel (or a first hop, or a route hint hop), amounts and fees
// recomputed hop by hop (BOLT 4/7), CLTV deltas, htlc_minimum/maximum, capacity (summed over the
// route's paths per direction), no loops, the limits of params. It returns the number of hops whose
// fee exceeds the required one (overpaying a later htlc_minimum_msat).
func validateRoute(v *ReadOnlyNetworkGraph, payer [33]byte, params *RouteParameters, firstHops []FirstHop, r *Route) (int, error) {
	if err := r.Validate(); err != nil {
		return 0, err
	}
	used := map[DirectedChannel]uint64{}
	var delivered, fees uint64
	over := 0
	for pi := range r.Paths {
		o, err := validatePath(v, payer, params, firstHops, &r.Paths[pi], used)
		if err != nil {
			return over, fmt.Errorf("path %d: %w", pi, err)
		}
		over += o
		delivered += r.Paths[pi].Hops[len(r.Paths[pi].Hops)-1].FeeMsat
		fees += r.Paths[pi].TotalFeesMsat()
	}
	if delivered < params.FinalValueMsat {
		return over, fmt.Errorf("delivers %d of %d msat", delivered, params.FinalValueMsat)
	}
	if len(r.Paths) > int(params.MaxPathCount) {
		return over, fmt.Errorf("%d paths, max %d", len(r.Paths), params.MaxPathCount)
	}
	if fees > params.MaxTotalRoutingFeeMsat {
		return over, fmt.Errorf("fees %d above %d", fees, params.MaxTotalRoutingFeeMsat)
	}
	return over, nil
}

// hopEdge is what a hop's channel allows, from the graph, a first hop or a hint.
type hopEdge struct {
	pol     ChannelPolicy
	capMsat uint64 // 0: no known capacity
}

func findEdge(v *ReadOnlyNetworkGraph, params *RouteParameters, firstHops []FirstHop, first bool, from, to [33]byte, scid uint64) (hopEdge, error) {
	if first && firstHops != nil {
		for _, fh := range firstHops {
			if fh.SCID == scid && fh.CounterpartyNodeID == to {
				maxH := fh.OutboundCapacityMsat
				if fh.HTLCMaximumMsat != 0 {
					maxH = min(maxH, fh.HTLCMaximumMsat)
				}
				return hopEdge{pol: ChannelPolicy{HTLCMinimumMsat: fh.HTLCMinimumMsat, HTLCMaximumMsat: maxH},
					capMsat: fh.OutboundCapacityMsat}, nil
			}
		}
		return hopEdge{}, fmt.Errorf("first hop %d to %x is not one of firstHops", scid, to[:4])
	}
	for _, h := range params.RouteHints {
		for j, hop := range h {
			dst := params.Payee
			if j+1 < len(h) {
				dst = h[j+1].SrcNodeID
			}
			if hop.SCID == scid && hop.SrcNodeID == from && dst == to {
				maxH := hop.HTLCMaximumMsat
				if maxH == 0 {
					maxH = 1<<64 - 1
				}
				return hopEdge{pol: ChannelPolicy{HTLCMinimumMsat: hop.HTLCMinimumMsat, HTLCMaximumMsat: maxH,
					FeeBaseMsat: hop.FeeBaseMsat, FeeProportionalMillionths: hop.FeeProportionalMillionths,
					CLTVExpiryDelta: hop.CLTVExpiryDelta}}, nil
			}
		}
	}
	ci, ok := v.Channel(scid)
	if !ok {
		return hopEdge{}, fmt.Errorf("unknown channel %d", scid)
	}
	dir := DirectionOf(from, to)
	if [2][33]byte{ci.NodeID1, ci.NodeID2} != [2][33]byte{from, to} && [2][33]byte{ci.NodeID2, ci.NodeID1} != [2][33]byte{from, to} {
		return hopEdge{}, fmt.Errorf("channel %d does not join %x and %x", scid, from[:4], to[:4])
	}
	p := ci.Directions[dir]
	if p == nil || p.Disabled || ci.SpentAtHeight != 0 {
		return hopEdge{}, fmt.Errorf("channel %d direction %d not usable", scid, dir)
	}
	return hopEdge{pol: *p, capMsat: ci.CapacitySat * 1000}, nil
}

func validatePath(v *ReadOnlyNetworkGraph, payer [33]byte, params *RouteParameters, firstHops []FirstHop, p *Path, used map[DirectedChannel]uint64) (int, error) {
	k := len(p.Hops)
	if k > int(params.MaxPathLength) {
		return 0, fmt.Errorf("%d hops, max %d", k, params.MaxPathLength)
	}
	nodes := make([][33]byte, k+1)
	nodes[0] = payer
	seen := map[[33]byte]bool{payer: true}
	for i, h := range p.Hops {
		nodes[i+1] = idOf(h.PubKey)
		if seen[nodes[i+1]] {
			return 0, fmt.Errorf("loop at hop %d", i)
		}
		seen[nodes[i+1]] = true
	}
	if nodes[k] != params.Payee {
		return 0, fmt.Errorf("ends at %x, not the payee", nodes[k][:4])
	}
	edges := make([]hopEdge, k)
	for i, h := range p.Hops {
		e, err := findEdge(v, params, firstHops, i == 0, nodes[i], nodes[i+1], h.ShortChannelID.ToUint64())
		if err != nil {
			return 0, fmt.Errorf("hop %d: %w", i, err)
		}
		edges[i] = e
	}
	return checkAmounts(params, p, nodes, edges, used)
}

// checkAmounts recomputes the amounts backward and checks fees, limits and CLTV.
func checkAmounts(params *RouteParameters, p *Path, nodes [][33]byte, edges []hopEdge, used map[DirectedChannel]uint64) (int, error) {
	k := len(p.Hops)
	over := 0
	amt := p.Hops[k-1].FeeMsat // over the last edge
	cltv := params.FinalCLTVExpiryDelta
	if p.Hops[k-1].CLTVExpiryDelta != params.FinalCLTVExpiryDelta {
		return 0, fmt.Errorf("last hop CLTV %d, final %d", p.Hops[k-1].CLTVExpiryDelta, params.FinalCLTVExpiryDelta)
	}
	for i := k - 1; i >= 0; i-- {
		e := edges[i]
		if amt < e.pol.HTLCMinimumMsat || amt > e.pol.HTLCMaximumMsat || e.capMsat != 0 && amt > e.capMsat {
			return over, fmt.Errorf("hop %d: %d msat outside [%d, %d] or above capacity %d", i, amt,
				e.pol.HTLCMinimumMsat, e.pol.HTLCMaximumMsat, e.capMsat)
		}
		dc := DirectedChannel{SCID: p.Hops[i].ShortChannelID.ToUint64(), Direction: DirectionOf(nodes[i], nodes[i+1])}
		used[dc] += amt
		if e.capMsat != 0 && used[dc] > e.capMsat {
			return over, fmt.Errorf("hop %d: paths use %d msat of capacity %d", i, used[dc], e.capMsat)
		}
		if i == 0 {
			break
		}
		// Node i (hop i-1's node) forwards amt over edge i with its policy.
		want := feeFor(amt, e.pol.FeeBaseMsat, e.pol.FeeProportionalMillionths)
		got := p.Hops[i-1].FeeMsat
		if got < want {
			return over, fmt.Errorf("hop %d: fee %d below %d", i-1, got, want)
		}
		if got > want {
			over++
		}
		if p.Hops[i-1].CLTVExpiryDelta != uint32(e.pol.CLTVExpiryDelta) {
			return over, fmt.Errorf("hop %d: CLTV delta %d, policy %d", i-1, p.Hops[i-1].CLTVExpiryDelta, e.pol.CLTVExpiryDelta)
		}
		cltv += uint32(e.pol.CLTVExpiryDelta)
		amt += got
	}
	if cltv > params.MaxTotalCLTVExpiryDelta || cltv != p.TotalCLTVDelta() {
		return over, fmt.Errorf("total CLTV %d (hops say %d), max %d", cltv, p.TotalCLTVDelta(), params.MaxTotalCLTVExpiryDelta)
	}
	return over, nil
}
