package router

import (
	"fmt"
	"math/bits"
	"slices"
)

// collect runs searches until the paths found can carry the amount (LDK's path collection), then
// selects among them.
func (sr *search) collect(params *RouteParameters, mpp bool) ([]*foundPath, error) {
	final := params.FinalValueMsat
	sr.sat = params.MaxChannelSaturationPowerOfHalf
	sr.minContrib = final
	if mpp {
		sr.minContrib = (final + uint64(params.MaxPathCount) - 1) / uint64(params.MaxPathCount)
	}
	recommended := final * routeCapacityProvisionFactor
	var paths []*foundPath
	var collected uint64
	for runs := 0; runs < 4*int(params.MaxPathCount)+8; runs++ {
		found := sr.run(final)
		if found {
			p := sr.extract()
			if i := sr.overLimit(p); i >= 0 {
				sr.exhaustChannel(p.edges[i]) // rare: overpaying a later htlc_minimum_msat broke a limit
				continue
			}
			sr.commit(p)
			paths, collected = append(paths, p), addSat(collected, p.value)
		}
		if !found && sr.sat != 0 {
			sr.sat = 0 // no path within the saturation limit: drop it (LDK)
			continue
		}
		if !found || !mpp || collected >= recommended || len(paths) == 1 && collected >= final {
			break
		}
	}
	return sr.selectPaths(paths, collected, params)
}

// selectPaths keeps the paths that deliver the amount at the least cost per msat (LDK's steps 5-8):
// the most expensive per msat are dropped while the rest still cover the amount, the overpayment is
// taken off the path with the lowest proportional fees, and identical paths are merged.
func (sr *search) selectPaths(paths []*foundPath, collected uint64, params *RouteParameters) ([]*foundPath, error) {
	final := params.FinalValueMsat
	switch {
	case len(paths) == 0:
		return nil, sr.noRouteError()
	case collected < final:
		return nil, fmt.Errorf("%w: %d paths carry %d of %d msat", ErrInsufficientLiquidity, len(paths), collected, final)
	}
	slices.SortStableFunc(paths, func(a, b *foundPath) int { return cmpCostPerValue(b, a) })
	over := collected - final
	kept := paths[:0]
	for i, p := range paths {
		if left := len(paths) - i + len(kept); left > 1 && p.value <= over {
			over -= p.value
			continue
		}
		kept = append(kept, p)
	}
	if over > 0 {
		p := slices.MinFunc(kept, func(a, b *foundPath) int {
			if c := sumPPM(sr, a) - sumPPM(sr, b); c != 0 {
				return int(max(-1, min(1, c)))
			}
			return cmpU64(b.cost(), a.cost())
		})
		sr.recompute(p, p.value-over)
	}
	kept = sr.mergeSame(kept)
	if len(kept) > int(params.MaxPathCount) {
		return nil, fmt.Errorf("%w: the amount needs %d paths, more than %d", ErrInsufficientLiquidity, len(kept), params.MaxPathCount)
	}
	var fees uint64
	for _, p := range kept {
		fees = addSat(fees, p.feeSum)
	}
	if fees > params.MaxTotalRoutingFeeMsat {
		return nil, fmt.Errorf("%w: %d msat of fees, limit %d", ErrFeeLimit, fees, params.MaxTotalRoutingFeeMsat)
	}
	return kept, nil
}

// mergeSame merges paths over the same edges into one.
func (sr *search) mergeSame(paths []*foundPath) []*foundPath {
	out := paths[:0]
	for _, p := range paths {
		merged := false
		for _, q := range out {
			if sameEdges(p, q) {
				sr.recompute(q, q.value+p.value)
				merged = true
				break
			}
		}
		if !merged {
			out = append(out, p)
		}
	}
	return out
}

// cmpCostPerValue compares a.cost/a.value with b.cost/b.value exactly.
func cmpCostPerValue(a, b *foundPath) int {
	ah, al := bits.Mul64(a.cost(), b.value)
	bh, bl := bits.Mul64(b.cost(), a.value)
	if ah != bh {
		return cmpU64(ah, bh)
	}
	return cmpU64(al, bl)
}

func cmpU64(a, b uint64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// sumPPM is the sum of the path's proportional fees (its hops after the first).
func sumPPM(sr *search, p *foundPath) int64 {
	var t int64
	for _, e := range p.edges[1:] {
		t += int64(sr.edge(e).feePPM)
	}
	return t
}

// noRouteError says why no path was found: how many candidate hops each limit ruled out.
func (sr *search) noRouteError() error {
	st := sr.s.stats
	return fmt.Errorf("%w: candidate hops ruled out by liquidity %d, htlc_minimum_msat %d, CLTV limit %d, "+
		"path length %d, fee limit %d", ErrNoRoute, st.liquidity, st.htlcMin, st.cltv, st.length, st.fee)
}
