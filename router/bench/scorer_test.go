package bench

import (
	"math"

	"github.com/lnkit/lnkit/router"
)

// scorer is the one the benchmarks search with. Until router's ProbabilisticScorer exists it is
// aprioriScorer; then make this function return the real scorer (its default parameters, no learned
// data, the graph as its ChannelCapacities).
func scorer(_ *router.NetworkGraph) router.ScoreLookUp { return aprioriScorer{} }

const scorerName = "stand-in a-priori scorer"

// aprioriScorer stands in for the ProbabilisticScorer (the same as router's test scorer): per candidate
// hop, a base penalty (1,000 msat + 8,192 msat per 2^30 msat of amount) plus −log10 of the success
// probability (capacity − in flight − amount)/capacity, a float log, times 30,000 msat + 192 msat per
// 2^20 msat of amount; an amount above the capacity costs 1e14 msat.
type aprioriScorer struct{}

func (aprioriScorer) ChannelPenaltyMsat(_ router.DirectedChannel, u router.ChannelUsage) uint64 {
	amt := u.AmountMsat + u.InflightHTLCMsat
	base := 1000 + (u.AmountMsat>>20)*8192>>10
	if u.EffectiveCapacityMsat == 0 || amt >= u.EffectiveCapacityMsat {
		return 100_000_000_000_000
	}
	p := float64(u.EffectiveCapacityMsat-amt) / float64(u.EffectiveCapacityMsat)
	nl := math.Min(-math.Log10(p), 2)
	return base + uint64(nl*(30_000+float64(u.AmountMsat>>20)*192))
}
