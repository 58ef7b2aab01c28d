package router

import (
	"math/rand"
	"sync"
	"testing"
)

// TestGraphConcurrentReads: route searches, views, snapshots and capacity lookups run while gossip
// is applied (run it with -race). Every route found is valid in the view it was found in.
func TestGraphConcurrentReads(t *testing.T) {
	rng := rand.New(rand.NewSource(9))
	rg := newRandGraph(t, rng, 99, 30, 120)
	g := rg.g
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for r := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			readLoop(t, rg, int64(r), stop)
		}()
	}
	wrng := rand.New(rand.NewSource(10))
	for i := range 3000 {
		c := rg.chans[wrng.Intn(len(rg.chans))]
		switch i % 10 {
		case 0:
			_ = g.RemoveChannel(c.scid)
		case 1:
			_ = g.AddChannel(ann(c.scid, rg.nodes[c.a], rg.nodes[c.b], c.capSat))
		default:
			p := *pol(uint32(wrng.Intn(2000)), uint32(wrng.Intn(5000)), 40, c.capSat*1000)
			p.Timestamp = uint32(i + 2)
			_ = g.UpdateChannelPolicy(c.scid, uint8(i&1), p)
		}
	}
	close(stop)
	wg.Wait()
}

func readLoop(t *testing.T, rg *randGraph, seed int64, stop <-chan struct{}) {
	rng := rand.New(rand.NewSource(seed))
	for {
		select {
		case <-stop:
			return
		default:
		}
		a, b := rng.Intn(len(rg.nodes)), rng.Intn(len(rg.nodes))
		if a == b {
			continue
		}
		params := NewRouteParameters(rg.nodes[b], 1_000_000+uint64(rng.Intn(1e9)), 18)
		params.PayeeFeatures = mppFeatures
		v := rg.g.ReadOnly()
		if r, err := v.FindRoute(rg.nodes[a], &params, nil, aprioriScorer{}); err == nil {
			if _, err := validateRoute(v, rg.nodes[a], &params, nil, r); err != nil {
				t.Errorf("invalid route: %v", err)
			}
		}
		v.Release()
		rg.g.ChannelCapacityMsat(rg.chans[rng.Intn(len(rg.chans))].scid)
		if rng.Intn(50) == 0 {
			if _, err := ReadNetworkGraph(rg.g.Write(), nil); err != nil {
				t.Errorf("snapshot: %v", err)
			}
		}
	}
}
