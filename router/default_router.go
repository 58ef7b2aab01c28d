package router

import (
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
)

// DefaultRouter finds routes on a NetworkGraph with a Score and learns from payment outcomes (LDK's
// DefaultRouter): it is the router a ChannelManager pays with. The host passes the time with TimerTick
// (the scorer's knowledge decays with it); outcomes are scored at the last time passed.
// Safe for concurrent use.
type DefaultRouter struct {
	graph  *NetworkGraph
	scorer Score
	payer  *btcec.PublicKey

	mu  sync.Mutex
	now time.Duration // host time (since the Unix epoch) of the last TimerTick
}

// NewDefaultRouter returns a router for payer (our node id) over graph, scoring with scorer (nil: no
// penalties, nothing learned).
func NewDefaultRouter(graph *NetworkGraph, scorer Score, payer *btcec.PublicKey) *DefaultRouter {
	return &DefaultRouter{graph: graph, scorer: scorer, payer: payer}
}

// TimerTick passes the host's time (since the Unix epoch) and lets the scorer's knowledge decay.
func (r *DefaultRouter) TimerTick(now time.Duration) {
	r.mu.Lock()
	r.now = max(r.now, now)
	now = r.now
	r.mu.Unlock()
	if r.scorer != nil {
		r.scorer.TimePassed(now)
	}
}

func (r *DefaultRouter) time() time.Duration {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.now
}

// FindRoute finds a route from payer with the scorer (see ReadOnlyNetworkGraph.FindRoute for the
// parameters and errors).
func (r *DefaultRouter) FindRoute(payer [33]byte, params *RouteParameters, firstHops []FirstHop) (*Route, error) {
	var lookup ScoreLookUp
	if r.scorer != nil {
		lookup = r.scorer
	}
	return r.graph.FindRoute(payer, params, firstHops, lookup)
}

// PaymentPathFailed scores a path that failed at the channel failingSCID (0: not attributable).
func (r *DefaultRouter) PaymentPathFailed(path *Path, failingSCID uint64) {
	if r.scorer != nil {
		r.scorer.PaymentPathFailed(path, r.payer, failingSCID, r.time())
	}
}

// ProbeFailed scores a probe that failed at the channel failingSCID.
func (r *DefaultRouter) ProbeFailed(path *Path, failingSCID uint64) {
	if r.scorer != nil {
		r.scorer.ProbeFailed(path, r.payer, failingSCID, r.time())
	}
}

// ProbeSuccessful scores a probe that reached its last hop.
func (r *DefaultRouter) ProbeSuccessful(path *Path) {
	if r.scorer != nil {
		r.scorer.ProbeSuccessful(path, r.payer, r.time())
	}
}

// PaymentPathSuccessful scores a path that carried its amount.
func (r *DefaultRouter) PaymentPathSuccessful(path *Path) {
	if r.scorer != nil {
		r.scorer.PaymentPathSuccessful(path, r.payer, r.time())
	}
}
