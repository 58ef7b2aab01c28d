package router

import (
	"encoding/binary"
	"slices"

	"github.com/lnkit/lnkit/lnwire"
)

// The gossip store keeps the signed messages behind the graph, encoded as on the wire (type
// included), so that queries can be answered and gossip relayed byte for byte (BOLT 7: "SHOULD ...
// store the signature associated with the announcement"). The graph keeps only what routing needs.

// storedChannel is a channel's signed messages.
type storedChannel struct {
	ann     []byte    // channel_announcement; nil if the channel came from elsewhere (a snapshot)
	upd     [2][]byte // latest channel_update per direction; nil if none
	updTS   [2]uint32
	relayed bool     // the announcement has been queued for relay
	origin  [33]byte // the peer that sent the announcement
}

// storedNode is a node's latest node_announcement.
type storedNode struct {
	ann []byte
	ts  uint32
}

type gossipStore struct {
	chans map[uint64]*storedChannel
	nodes map[[33]byte]*storedNode
}

func (st *gossipStore) init() {
	st.chans = make(map[uint64]*storedChannel)
	st.nodes = make(map[[33]byte]*storedNode)
}

// putChannel keeps a new channel's announcement (not relayed until its first update).
func (st *gossipStore) putChannel(scid uint64, raw []byte, from [33]byte) {
	c := st.chans[scid]
	if c == nil {
		c = &storedChannel{}
		st.chans[scid] = c
	}
	if c.ann == nil {
		c.ann, c.origin = raw, from
	}
}

// putUpdate keeps a channel_update if newer than the one held and queues it for relay, preceded by
// the channel's announcement the first time (BOLT 7: the announcement takes the update's timestamp).
func (st *gossipStore) putUpdate(scid uint64, dir uint8, ts uint32, raw []byte, from [33]byte, relay *relayLog) {
	dir &= 1
	c := st.chans[scid]
	if c == nil {
		c = &storedChannel{}
		st.chans[scid] = c
	}
	if c.upd[dir] != nil && ts <= c.updTS[dir] {
		return
	}
	c.upd[dir], c.updTS[dir] = raw, ts
	if c.ann != nil && !c.relayed {
		c.relayed = true
		relay.push(relayEntry{msg: c.ann, ts: ts, origin: c.origin, kind: relayChannelAnn, scid: scid})
	}
	relay.push(relayEntry{msg: raw, ts: ts, origin: from, kind: relayChannelUpdate, scid: scid, dir: dir})
}

// putNode keeps a node_announcement if newer and queues it for relay.
func (st *gossipStore) putNode(node [33]byte, ts uint32, raw []byte, from [33]byte, relay *relayLog) {
	n := st.nodes[node]
	if n != nil && ts <= n.ts {
		return
	}
	st.nodes[node] = &storedNode{ann: raw, ts: ts}
	relay.push(relayEntry{msg: raw, ts: ts, origin: from, kind: relayNodeAnn, node: node})
}

// current reports whether a relay entry is still the latest message of its kind (a newer update
// queued after it makes it redundant: BOLT 7's relay list "replacing any older updates").
func (st *gossipStore) current(e *relayEntry) bool {
	switch e.kind {
	case relayChannelUpdate:
		c := st.chans[e.scid]
		return c != nil && c.updTS[e.dir] == e.ts
	case relayNodeAnn:
		n := st.nodes[e.node]
		return n != nil && n.ts == e.ts
	default:
		return st.chans[e.scid] != nil
	}
}

// scidsInRange returns the announced channels in blocks [first, end), ascending.
func (st *gossipStore) scidsInRange(first, end uint64) []uint64 {
	var ids []uint64
	for scid, c := range st.chans {
		if b := scid >> 40; c.ann != nil && b >= first && b < end {
			ids = append(ids, scid)
		}
	}
	slices.Sort(ids)
	return ids
}

// sweep drops the messages of channels and nodes the graph no longer holds; it returns how many.
// Called with the sync's lock (the graph's read lock is taken inside).
func (st *gossipStore) sweep(g *NetworkGraph) int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	n := 0
	for scid := range st.chans {
		if _, ok := g.d.chanIdx[scid]; !ok {
			delete(st.chans, scid)
			n++
		}
	}
	for id := range st.nodes {
		if _, ok := g.d.nodeIdx[id]; !ok {
			delete(st.nodes, id)
			n++
		}
	}
	return n
}

// annNodeIDs reads node_id_1 and node_id_2 from an encoded channel_announcement (type, four
// signatures, features, chain_hash, short_channel_id, then the two node ids).
func annNodeIDs(raw []byte) (n1, n2 [33]byte, ok bool) {
	off := 2 + 4*lnwire.SigSize
	if len(raw) < off+2 {
		return n1, n2, false
	}
	off += 2 + int(binary.BigEndian.Uint16(raw[off:])) + 32 + 8
	if len(raw) < off+66 {
		return n1, n2, false
	}
	copy(n1[:], raw[off:])
	copy(n2[:], raw[off+33:])
	return n1, n2, true
}

// Kinds of relay entries.
const (
	relayChannelAnn uint8 = iota
	relayChannelUpdate
	relayNodeAnn
)

// relayEntry is one message waiting to be relayed.
type relayEntry struct {
	msg    []byte // encoded, type included
	ts     uint32 // its timestamp (an announcement's: its first update's)
	origin [33]byte
	kind   uint8
	dir    uint8
	scid   uint64
	node   [33]byte
}

// relayLog is the relay queue shared by all peers: entries numbered by a sequence, each peer holding
// its position. Entries are released at each flush (BOLT 7's staggered broadcast) and dropped, oldest
// first, beyond MaxRelayMessages or MaxRelayBytes.
type relayLog struct {
	entries  []relayEntry
	first    uint64 // sequence of entries[0]
	flushed  uint64 // entries below this sequence are released
	bytes    int
	maxMsgs  int
	maxBytes int
}

// head is the sequence the next entry will take.
func (l *relayLog) head() uint64 { return l.first + uint64(len(l.entries)) }

func (l *relayLog) push(e relayEntry) {
	l.entries = append(l.entries, e)
	l.bytes += len(e.msg)
	for len(l.entries) > 1 && (len(l.entries) > l.maxMsgs || l.bytes > l.maxBytes) {
		l.bytes -= len(l.entries[0].msg)
		l.entries[0] = relayEntry{}
		l.entries = l.entries[1:]
		l.first++
	}
	if l.flushed < l.first {
		l.flushed = l.first
	}
}

// flush releases every entry queued so far.
func (l *relayLog) flush() { l.flushed = l.head() }

// at returns the entry with sequence seq (first <= seq < head).
func (l *relayLog) at(seq uint64) *relayEntry { return &l.entries[seq-l.first] }
