package router

import (
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/lnwire"
)

// foundPath is a path the search found, payer → payee. Edge i leads to nodes[i]; amts[i] is the HTLC
// over edge i; fees[i] is what nodes[i] charges to forward over edge i+1 (0 for the payee).
type foundPath struct {
	edges   []uint32
	nodes   []uint32
	amts    []uint64
	fees    []uint64
	value   uint64 // delivered to the payee (amts of the last edge)
	penalty uint64 // scorer penalties found by the search
	feeSum  uint64
}

// cost is what the path costs: fees plus penalties.
func (p *foundPath) cost() uint64 { return addSat(p.feeSum, p.penalty) }

// extract follows the next pointers from the payer to the payee.
func (sr *search) extract() *foundPath {
	s := sr.s
	st := &s.nodes[sr.payer]
	p := &foundPath{penalty: st.penalty}
	value := st.value
	for n := sr.payer; n != sr.payee && len(p.edges) <= int(sr.maxLen); {
		st := &s.nodes[n]
		p.edges = append(p.edges, st.edge)
		p.nodes = append(p.nodes, st.next)
		n = st.next
	}
	p.amts = make([]uint64, len(p.edges))
	p.fees = make([]uint64, len(p.edges))
	sr.recompute(p, value)
	return p
}

// recompute sets the path's amounts and fees for delivering value, hop by hop from the payee (BOLT 4:
// each hop's fee on what it forwards, BOLT 7's formula). Where an amount falls below an edge's
// htlc_minimum_msat it is raised to it, the difference going to the hop after that edge as extra fee
// (to the payee on the last edge), as LDK does.
func (sr *search) recompute(p *foundPath, value uint64) {
	k := len(p.edges)
	amt := value
	p.feeSum = 0
	for i := k - 1; i >= 0; i-- {
		ev := sr.edge(p.edges[i])
		p.fees[i] = 0
		if i < k-1 {
			next := sr.edge(p.edges[i+1])
			p.fees[i] = feeFor(amt, next.feeBase, next.feePPM)
			amt = addSat(amt, p.fees[i])
		}
		if amt < ev.htlcMin {
			if i < k-1 {
				p.fees[i] += ev.htlcMin - amt
			}
			amt = ev.htlcMin
		}
		p.amts[i] = amt
		p.feeSum = addSat(p.feeSum, p.fees[i])
	}
	p.value = p.amts[k-1]
}

// overLimit returns the first edge whose amount exceeds what it can still carry, or -1.
func (sr *search) overLimit(p *foundPath) int {
	for i, e := range p.edges {
		if lim := sr.edge(e).lim; p.amts[i] > lim || sr.s.used[e] > lim-p.amts[i] {
			return i
		}
	}
	return -1
}

// commit records the path's liquidity as used. If no edge reached its limit (what is left of it cannot
// carry the least contribution of a path), the path's middle channel is exhausted so that the next
// search does not find the same path again (LDK; LDK asks for the limit reached exactly, which fees
// recomputed for the path's final value usually miss by a few msat).
func (sr *search) commit(p *foundPath) {
	hit := false
	for i, e := range p.edges {
		sr.s.useLiquidity(e, p.amts[i])
		if lim := sr.edge(e).lim; sr.s.used[e] >= lim || lim-sr.s.used[e] < sr.minContrib {
			hit = true
		}
	}
	sr.anyUsed = true
	if !hit {
		sr.exhaustChannel(p.edges[len(p.edges)/2])
	}
}

// sameEdges reports whether two paths use the same edges.
func sameEdges(a, b *foundPath) bool {
	if len(a.edges) != len(b.edges) {
		return false
	}
	for i := range a.edges {
		if a.edges[i] != b.edges[i] {
			return false
		}
	}
	return true
}

// nodeKey is a node's id, graph or virtual.
func (sr *search) nodeKey(n uint32) [33]byte {
	if n < sr.graphNodes {
		return sr.d.nodeKeys[n]
	}
	return sr.s.virtKeys[n-sr.graphNodes]
}

// toPath builds the RouteHops (LDK's convention: a hop's fee and CLTV delta are those of the channel
// it forwards over; the last hop carries the amount and the final CLTV delta).
func (sr *search) toPath(p *foundPath, finalCLTV uint32, keys map[uint32]*btcec.PublicKey) (Path, error) {
	k := len(p.edges)
	hops := make([]RouteHop, k)
	for i := range p.edges {
		pk, err := sr.pubKey(p.nodes[i], keys)
		if err != nil {
			return Path{}, err
		}
		hops[i] = RouteHop{PubKey: pk, ShortChannelID: lnwire.NewShortChannelIDFromUint64(sr.edge(p.edges[i]).scid),
			FeeMsat: p.fees[i], CLTVExpiryDelta: finalCLTV}
		if i < k-1 {
			hops[i].CLTVExpiryDelta = sr.edge(p.edges[i+1]).cltv
		} else {
			hops[i].FeeMsat = p.amts[i]
		}
	}
	return Path{Hops: hops}, nil
}

func (sr *search) pubKey(n uint32, keys map[uint32]*btcec.PublicKey) (*btcec.PublicKey, error) {
	if pk, ok := keys[n]; ok {
		return pk, nil
	}
	id := sr.nodeKey(n)
	pk, err := btcec.ParsePubKey(id[:])
	if err != nil {
		return nil, fmt.Errorf("%w: node id %x on the path is not a public key", ErrNoRoute, id)
	}
	keys[n] = pk
	return pk, nil
}
