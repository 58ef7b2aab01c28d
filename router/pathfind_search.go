package router

// search is one FindRoute call: the graph (read-locked), the scratch, and the limits of the run.
type search struct {
	d          *graphData
	s          *searchScratch
	scorer     ScoreLookUp
	payer      uint32
	payee      uint32
	graphNodes uint32
	virtBase   uint32 // first virtual edge number (= number of directed graph edge slots)
	firstGiven bool   // first hops replace the graph's edges from the payer
	sat        uint8  // current saturation limit (power of half)
	maxLen     uint8
	maxCLTV    uint32 // MaxTotalCLTVExpiryDelta minus the final delta
	minContrib uint64 // least a hop must be able to carry toward the payment
	maxFee     uint64
	anyUsed    bool // some edge has used liquidity (else the lookups are skipped)
}

// edgeView is what a relaxation needs of an edge, graph or virtual.
type edgeView struct {
	scid    uint64
	htlcMin uint64
	lim     uint64 // what it can still carry (limit minus used liquidity)
	used    uint64
	effCap  uint64 // capacity for the scorer
	e       uint32
	feeBase uint32
	feePPM  uint32
	cltv    uint32
	dir     uint8
}

// run is one Dijkstra from the payee toward the payer, for a path delivering up to pathValue. It
// reports whether the payer was reached; the path is then in the next pointers from the payer.
func (sr *search) run(pathValue uint64) bool {
	s := sr.s
	s.gen++
	if s.gen == 0 {
		for i := range s.nodes {
			s.nodes[i].gen = 0
		}
		s.gen = 1
	}
	defer sr.clearHeap()
	s.nodes[sr.payee] = searchNode{value: pathValue, gen: s.gen}
	s.heap.push(sr.payee, 0, s.pos)
	for {
		v, ok := s.heap.pop(s.pos)
		if !ok {
			return false
		}
		sv := &s.nodes[v]
		sv.done = true
		if v == sr.payer {
			return true
		}
		if v < sr.graphNodes && (v == sr.payee || sr.d.nodeFlags[v]&nodeBlocked == 0) {
			sr.relaxGraph(v, sv)
		}
		if s.hasVirt[v] {
			sr.relaxVirt(v, sv)
		}
	}
}

func (sr *search) clearHeap() {
	for _, it := range sr.s.heap.items {
		sr.s.pos[it.node] = -1
	}
	sr.s.heap.reset()
}

// relaxGraph considers every usable graph edge into v.
func (sr *search) relaxGraph(v uint32, sv *searchNode) {
	d, s := sr.d, sr.s
	var ev edgeView
	for _, in := range d.nodeIn[v] {
		p := &d.pol[in.e]
		if p.flags&polUsable == 0 {
			continue
		}
		if su := &s.nodes[in.src]; su.gen == s.gen && su.done || in.src == sr.payer && sr.firstGiven {
			continue
		}
		capSat := uint64(p.capSat)
		if capSat == capBig {
			capSat = d.chans[in.e>>1].capSat
		}
		lim, effCap := edgeLimit(capSat, p.htlcMax, sr.sat)
		ev = edgeView{scid: in.scid, htlcMin: p.htlcMin, lim: lim, effCap: effCap, e: in.e,
			feeBase: p.feeBase, feePPM: p.feePPM, cltv: uint32(p.cltv), dir: uint8(in.e & 1)}
		if sr.anyUsed && !sr.takeUsed(&ev) {
			continue
		}
		sr.consider(in.src, v, sv, &ev)
	}
}

// relaxVirt considers the first hops and route hint hops into v.
func (sr *search) relaxVirt(v uint32, sv *searchNode) {
	s := sr.s
	for _, id := range s.virtIn[v] {
		ve := &s.edges[id]
		if su := &s.nodes[ve.src]; su.gen == s.gen && su.done || ve.src == sr.payer && sr.firstGiven && !ve.first {
			continue
		}
		ev := edgeView{scid: ve.scid, htlcMin: ve.htlcMin, lim: ve.limit, effCap: ve.limit, e: sr.virtBase + id,
			feeBase: ve.feeBase, feePPM: ve.feePPM, cltv: ve.cltv, dir: ve.dir}
		if sr.anyUsed && !sr.takeUsed(&ev) {
			continue
		}
		sr.consider(ve.src, v, sv, &ev)
	}
}

// takeUsed subtracts the edge's used liquidity from its limit; false if nothing is left.
func (sr *search) takeUsed(ev *edgeView) bool {
	if sr.s.usedBits[ev.e/64]&(1<<(ev.e%64)) == 0 {
		return true
	}
	ev.used = sr.s.used[ev.e]
	if ev.used >= ev.lim {
		sr.s.stats.liquidity++
		return false
	}
	ev.lim -= ev.used
	return true
}

// edgeLimit is what a public edge may carry under the saturation limit (LDK's max_htlc_from_capacity):
// min(capacity/2^sat, htlc_maximum_msat), or htlc_maximum_msat/2^sat when the capacity is unknown;
// and the capacity the scorer sees.
func edgeLimit(capSat, htlcMax uint64, sat uint8) (lim, effCap uint64) {
	if capSat == 0 {
		return htlcMax >> sat, htlcMax
	}
	c := satToMsat(capSat)
	return min(c>>sat, htlcMax), c
}

// consider relaxes edge u → v: the amounts, fees and CLTV of the path through it, accumulated backward
// from v's state as BOLT 4/7 say (u charges its fee on what it forwards to v; the payer charges none),
// its limits, and its cost (fees plus scorer penalties). u's state is replaced if cheaper.
func (sr *search) consider(u, v uint32, sv *searchNode, ev *edgeView) {
	s := sr.s
	if ev.lim < sv.fee || ev.lim-sv.fee < sr.minContrib {
		s.stats.liquidity++
		return
	}
	contrib := min(ev.lim-sv.fee, sv.value)
	amt := contrib + sv.fee // the HTLC over u → v
	if amt < ev.htlcMin || amt < sv.pathMin {
		s.stats.htlcMin++
		return
	}
	if sv.hops >= sr.maxLen {
		s.stats.length++
		return
	}
	fee, cltv, pathMin := sv.fee, sv.cltv, max(ev.htlcMin, sv.pathMin)
	if u != sr.payer {
		fee = addSat(fee, feeFor(amt, ev.feeBase, ev.feePPM))
		cltv += ev.cltv
		pathMin = addSat(pathMin, feeFor(pathMin, ev.feeBase, ev.feePPM))
	}
	if cltv > sr.maxCLTV {
		s.stats.cltv++
		return
	}
	if fee > sr.maxFee {
		s.stats.fee++
		return
	}
	su := &s.nodes[u]
	fresh := su.gen != s.gen
	if !fresh && addSat(fee, sv.penalty) >= su.cost {
		return // penalties are never negative: cannot beat u's state
	}
	penalty := sv.penalty
	if sr.scorer != nil {
		pen := sr.scorer.ChannelPenaltyMsat(DirectedChannel{SCID: ev.scid, Direction: ev.dir},
			ChannelUsage{AmountMsat: amt, InflightHTLCMsat: ev.used, EffectiveCapacityMsat: ev.effCap})
		penalty = addSat(penalty, pen)
	}
	cost := addSat(fee, penalty)
	if !fresh && cost >= su.cost {
		return
	}
	*su = searchNode{cost: cost, fee: fee, value: contrib, penalty: penalty, pathMin: pathMin, next: v,
		edge: ev.e, cltv: cltv, gen: s.gen, hops: sv.hops + 1}
	s.heap.push(u, cost, s.pos)
}

// edge returns an edge's parameters (graph or virtual) at the current saturation, ignoring used
// liquidity.
func (sr *search) edge(e uint32) edgeView {
	if e >= sr.virtBase {
		ve := &sr.s.edges[e-sr.virtBase]
		return edgeView{scid: ve.scid, htlcMin: ve.htlcMin, lim: ve.limit, effCap: ve.limit, e: e,
			feeBase: ve.feeBase, feePPM: ve.feePPM, cltv: ve.cltv, dir: ve.dir}
	}
	p := &sr.d.pol[e]
	lim, effCap := edgeLimit(sr.d.capacitySat(e), p.htlcMax, sr.sat)
	return edgeView{scid: sr.d.chans[e>>1].scid, htlcMin: p.htlcMin, lim: lim, effCap: effCap, e: e,
		feeBase: p.feeBase, feePPM: p.feePPM, cltv: uint32(p.cltv), dir: uint8(e & 1)}
}

// exhaustChannel makes both directions of e's channel unusable (one edge for a virtual edge).
func (sr *search) exhaustChannel(e uint32) {
	sr.s.exhaust(e)
	if e < sr.virtBase {
		sr.s.exhaust(e ^ 1)
	}
	sr.anyUsed = true
}
