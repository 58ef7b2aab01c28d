package router

import "math"

// aprioriScorer stands in for the ProbabilisticScorer in tests and benchmarks: per candidate hop, the
// work of LDK's a-priori penalty without learned data: a base penalty (1,000 msat + 8,192 msat per
// 2^30 msat of amount) plus a liquidity penalty of −log10 of the success probability
// (capacity − in flight − amount)/capacity (a float log), times 30,000 msat + 192 msat per 2^20 msat
// of amount; an amount above the capacity costs 1e14 msat (considered impossible). Stateless.
type aprioriScorer struct{}

func (aprioriScorer) ChannelPenaltyMsat(_ DirectedChannel, u ChannelUsage) uint64 {
	amt := u.AmountMsat + u.InflightHTLCMsat
	base := 1000 + (u.AmountMsat>>20)*8192>>10
	if u.EffectiveCapacityMsat == 0 || amt >= u.EffectiveCapacityMsat {
		return 100_000_000_000_000
	}
	p := float64(u.EffectiveCapacityMsat-amt) / float64(u.EffectiveCapacityMsat)
	nl := math.Min(-math.Log10(p), 2)
	return base + uint64(nl*(30_000+float64(u.AmountMsat>>20)*192))
}
