package bench

import (
	"github.com/lnkit/lnkit/router"
)

// scorer is the one the benchmarks search with: router's ProbabilisticScorer with its default
// parameters and no learned data, as a node that has just synced the graph has.
func scorer(g *router.NetworkGraph) router.ScoreLookUp {
	return router.NewProbabilisticScorer(router.DefaultProbabilisticScoringDecayParameters(),
		router.DefaultProbabilisticScoringFeeParameters(), g)
}

const scorerName = "ProbabilisticScorer (default parameters, nothing learned)"
