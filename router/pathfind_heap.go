package router

// nodeHeap is a 4-ary min-heap of nodes by cost, with decrease-key: each node's position lives in
// pos (-1 when not in the heap). A 4-ary heap is shallower than a binary one and its children share a
// cache line.
type nodeHeap struct {
	items []heapItem
}

type heapItem struct {
	cost uint64
	node uint32
}

func (h *nodeHeap) reset() { h.items = h.items[:0] }

// push inserts node, or lowers its cost if already in the heap (pos[node] >= 0).
func (h *nodeHeap) push(node uint32, cost uint64, pos []int32) {
	i := int(pos[node])
	if i < 0 {
		i = len(h.items)
		h.items = append(h.items, heapItem{cost: cost, node: node})
	} else {
		h.items[i].cost = cost
	}
	h.up(i, pos)
}

// pop removes and returns the cheapest node; ok is false when empty.
func (h *nodeHeap) pop(pos []int32) (node uint32, ok bool) {
	n := len(h.items)
	if n == 0 {
		return 0, false
	}
	top := h.items[0]
	pos[top.node] = -1
	last := h.items[n-1]
	h.items = h.items[:n-1]
	if n > 1 {
		h.items[0] = last
		h.down(0, pos)
	}
	return top.node, true
}

func (h *nodeHeap) up(i int, pos []int32) {
	it := h.items[i]
	for i > 0 {
		p := (i - 1) / 4
		if h.items[p].cost <= it.cost {
			break
		}
		h.items[i] = h.items[p]
		pos[h.items[i].node] = int32(i)
		i = p
	}
	h.items[i] = it
	pos[it.node] = int32(i)
}

func (h *nodeHeap) down(i int, pos []int32) {
	it := h.items[i]
	n := len(h.items)
	for {
		c := 4*i + 1
		if c >= n {
			break
		}
		best := c
		for j := c + 1; j < c+4 && j < n; j++ {
			if h.items[j].cost < h.items[best].cost {
				best = j
			}
		}
		if h.items[best].cost >= it.cost {
			break
		}
		h.items[i] = h.items[best]
		pos[h.items[i].node] = int32(i)
		i = best
	}
	h.items[i] = it
	pos[it.node] = int32(i)
}
