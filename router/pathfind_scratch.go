package router

import (
	"math"
)

// searchNode is a node's state in one search from the payee toward the payer (64 bytes). Amounts in
// msat. "After" means toward the payee.
type searchNode struct {
	cost    uint64 // fee + penalty: the heap's key
	fee     uint64 // fees charged by this node and the nodes after it
	value   uint64 // what the path delivers to the payee
	penalty uint64 // scorer penalties of the edges after this node
	pathMin uint64 // least amount into this node that meets every later htlc_minimum_msat
	next    uint32 // next node toward the payee
	edge    uint32 // edge from this node to next: a directed graph edge, or virtBase+i
	cltv    uint32 // CLTV deltas of this node and the nodes after it (final delta excluded)
	gen     uint32 // the state is valid iff gen equals the search's
	hops    uint8  // edges from this node to the payee
	done    bool   // popped: its cost is final
}

// virtEdge is an edge outside the graph's arrays: one of our first hops, or a route hint's hop.
type virtEdge struct {
	scid     uint64
	htlcMin  uint64
	limit    uint64 // most it can carry (first hop: outbound liquidity; hint: htlc max, else no limit)
	src, dst uint32
	feeBase  uint32
	feePPM   uint32
	cltv     uint32
	dir      uint8
	first    bool // first hop (no fee, no CLTV delta: it is our own channel)
}

// searchScratch is the reusable memory of route searches (pooled per graph): node states, the heap,
// per-edge used liquidity, virtual nodes and edges. Between searches every pos is -1 and every used
// entry 0.
type searchScratch struct {
	nodes    []searchNode
	pos      []int32
	heap     nodeHeap
	gen      uint32
	used     []uint64 // per edge: liquidity taken by the payment's paths found so far
	usedBits []uint64 // bit e set iff used[e] != 0: a 12 KB filter in front of the 800 KB array
	usedList []uint32 // edges with used != 0
	virtIn   [][]uint32
	hasVirt  []bool
	virtList []uint32 // nodes with hasVirt
	edges    []virtEdge
	virtKeys [][33]byte
	virtIdx  map[[33]byte]uint32
	stats    ignoreStats
}

// ignoreStats counts candidate hops each limit ruled out, for ErrNoRoute's message.
type ignoreStats struct {
	liquidity, htlcMin, cltv, length, fee uint32
}

// prepare sizes the scratch for n graph nodes and m directed graph edges.
func (s *searchScratch) prepare(n, m int) {
	if cap(s.nodes) < n {
		s.nodes = make([]searchNode, n, n+n/8+16)
		s.pos = make([]int32, n, cap(s.nodes))
		s.hasVirt = make([]bool, n, cap(s.nodes))
		s.virtIn = make([][]uint32, n, cap(s.nodes))
		for i := range s.pos {
			s.pos[i] = -1
		}
		s.gen = 0
	}
	s.nodes, s.pos, s.hasVirt, s.virtIn = s.nodes[:n], s.pos[:n], s.hasVirt[:n], s.virtIn[:n]
	if cap(s.used) < m {
		s.used = make([]uint64, m, m+m/8+16)
	}
	s.used = s.used[:m]
	if w := (m + 63) / 64; cap(s.usedBits) < w+64 {
		s.usedBits = make([]uint64, w, w+64+w/8)
	} else {
		s.usedBits = s.usedBits[:w]
	}
	if s.virtIdx == nil {
		s.virtIdx = make(map[[33]byte]uint32)
	}
	s.stats = ignoreStats{}
}

// addVirtNode returns a slot for a node outside the graph.
func (s *searchScratch) addVirtNode(key [33]byte) uint32 {
	if i, ok := s.virtIdx[key]; ok {
		return i
	}
	i := uint32(len(s.nodes))
	s.nodes = append(s.nodes, searchNode{})
	s.pos = append(s.pos, -1)
	s.hasVirt = append(s.hasVirt, false)
	s.virtIn = append(s.virtIn, nil)
	s.virtKeys = append(s.virtKeys, key)
	s.virtIdx[key] = i
	return i
}

// addVirtEdge adds an edge into v.dst, as edge number virtBase+len(edges).
func (s *searchScratch) addVirtEdge(v virtEdge) {
	id := uint32(len(s.edges))
	s.edges = append(s.edges, v)
	s.used = append(s.used, 0)
	if e := len(s.used) - 1; e/64 >= len(s.usedBits) {
		s.usedBits = append(s.usedBits, 0)
	}
	if !s.hasVirt[v.dst] {
		s.hasVirt[v.dst] = true
		s.virtList = append(s.virtList, v.dst)
	}
	s.virtIn[v.dst] = append(s.virtIn[v.dst], id)
}

// useLiquidity records amt more on edge e (saturating).
func (s *searchScratch) useLiquidity(e uint32, amt uint64) {
	if amt == 0 {
		return
	}
	if s.used[e] == 0 {
		s.usedList = append(s.usedList, e)
		s.usedBits[e/64] |= 1 << (e % 64)
	}
	s.used[e] = addSat(s.used[e], amt)
}

// exhaust makes edge e unusable for the rest of the search.
func (s *searchScratch) exhaust(e uint32) { s.useLiquidity(e, math.MaxUint64) }

// release returns the scratch to its between-searches state.
func (s *searchScratch) release(graphNodes int) {
	for _, e := range s.usedList {
		s.used[e] = 0
		s.usedBits[e/64] = 0
	}
	for _, n := range s.virtList {
		s.hasVirt[n], s.virtIn[n] = false, s.virtIn[n][:0]
	}
	for _, it := range s.heap.items {
		s.pos[it.node] = -1
	}
	s.heap.reset()
	s.usedList, s.virtList, s.edges, s.virtKeys = s.usedList[:0], s.virtList[:0], s.edges[:0], s.virtKeys[:0]
	clear(s.virtIdx)
	s.nodes, s.pos, s.hasVirt, s.virtIn = s.nodes[:graphNodes], s.pos[:graphNodes], s.hasVirt[:graphNodes], s.virtIn[:graphNodes]
}
