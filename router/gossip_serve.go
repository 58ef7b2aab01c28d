package router

import (
	"fmt"
	"math"
	"slices"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/lnwire"
)

// Query flag bits of query_short_channel_ids (BOLT 7); a query without flags wants them all.
const (
	queryFlagAnn   uint64 = 1 << 0
	queryFlagUpd1  uint64 = 1 << 1
	queryFlagUpd2  uint64 = 1 << 2
	queryFlagNode1 uint64 = 1 << 3
	queryFlagNode2 uint64 = 1 << 4
	queryFlagsAll         = queryFlagAnn | queryFlagUpd1 | queryFlagUpd2 | queryFlagNode1 | queryFlagNode2
)

// replyChannelRangeMaxIDs: short_channel_ids per reply_channel_range we send.
var replyChannelRangeMaxIDs = 8000 // a variable for tests

// scidReply is our answer in progress to a peer's query_short_channel_ids.
type scidReply struct {
	ids   []lnwire.ShortChannelID
	flags []uint64 // nil: all
	i     int      // next id
	part  int      // next part of ids[i] (0 announcement, 1-2 updates, 3-4 node announcements)
	sent  map[[33]byte]struct{}
}

// rangeReply is our answer in progress to a peer's query_channel_range.
type rangeReply struct {
	q       *lnwire.QueryChannelRange
	ids     []uint64 // the channels in range, ascending
	i       int      // next id
	next    uint64   // first_blocknum of the next reply
	started bool
	done    bool
}

// backfill sends a peer, after its gossip_timestamp_filter, the messages held in its range.
type backfill struct {
	first, end uint64 // timestamps [first, end)
	scids      []uint64
	nodes      [][33]byte
	i, part    int
	j          int
}

// emitter collects messages for one PendingMessages call within its byte budget.
type emitter struct {
	out    []lnwire.Message
	budget int
}

// raw adds an encoded message if it fits; false when the budget is exhausted.
func (e *emitter) raw(b []byte) bool {
	if len(b) > e.budget {
		return false
	}
	e.budget -= len(b)
	if m, err := lnwire.DecodeMessage(b); err == nil {
		e.out = append(e.out, m)
	}
	return true
}

// msg adds a message if it fits.
func (e *emitter) msg(m lnwire.Message) bool {
	b, err := lnwire.EncodeMessage(m)
	if err != nil {
		return true // drop what does not encode
	}
	if len(b) > e.budget {
		return false
	}
	e.budget -= len(b)
	e.out = append(e.out, m)
	return true
}

// PendingMessages returns the gossip waiting for a peer, at most budgetBytes of it (encoded sizes):
// our control messages first, then the answers to its queries and filter, then relayed gossip
// released by the last flush. What does not fit waits for the next call.
func (s *P2PGossipSync) PendingMessages(id *btcec.PublicKey, budgetBytes int) []lnwire.Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peers[nodeKeyOf(id)]
	if p == nil || budgetBytes <= 0 {
		return nil
	}
	e := &emitter{budget: budgetBytes}
	for len(p.outbox) > 0 && e.msg(p.outbox[0]) {
		p.outbox[0] = nil
		p.outbox = p.outbox[1:]
	}
	if len(p.outbox) > 0 {
		return e.out
	}
	if p.scidReply != nil && s.emitSCIDReply(p, e) {
		p.scidReply = nil
	}
	if p.scidReply == nil && p.rangeReply != nil && s.emitRangeReply(p.rangeReply, e) {
		p.rangeReply = nil
	}
	if p.scidReply == nil && p.rangeReply == nil && p.backfill != nil && s.emitBackfill(p.backfill, e) {
		p.backfill = nil
	}
	if p.scidReply == nil && p.rangeReply == nil && p.backfill == nil {
		s.emitRelay(p, e)
	}
	return e.out
}

// emitChannel adds the parts of a stored channel selected by want, from *part on; it reports
// whether the channel is done (false: the budget ran out).
func (s *P2PGossipSync) emitChannel(c *storedChannel, want uint64, part *int, sent map[[33]byte]struct{}, e *emitter) bool {
	for ; *part < 5; *part++ {
		var raw []byte
		switch *part {
		case 0:
			if want&queryFlagAnn != 0 {
				raw = c.ann
			}
		case 1, 2:
			if want&(queryFlagUpd1<<(*part-1)) != 0 {
				raw = c.upd[*part-1]
			}
		case 3, 4:
			if want&(queryFlagNode1<<(*part-3)) == 0 || c.ann == nil {
				continue
			}
			n1, n2, ok := annNodeIDs(c.ann)
			node := n1
			if *part == 4 {
				node = n2
			}
			if _, dup := sent[node]; !ok || dup {
				continue
			}
			if n := s.store.nodes[node]; n != nil {
				raw = n.ann
			}
			if raw != nil && sent != nil {
				if !e.raw(raw) {
					return false
				}
				sent[node] = struct{}{}
				continue
			}
		}
		if raw != nil && !e.raw(raw) {
			return false
		}
	}
	return true
}

// emitSCIDReply continues the answer to query_short_channel_ids; true when reply_short_channel_ids_end
// has been added.
func (s *P2PGossipSync) emitSCIDReply(p *gossipPeer, e *emitter) bool {
	r := p.scidReply
	for ; r.i < len(r.ids); r.i, r.part = r.i+1, 0 {
		c := s.store.chans[r.ids[r.i].ToUint64()]
		if c == nil {
			continue
		}
		want := queryFlagsAll
		if r.flags != nil {
			want = r.flags[r.i]
		}
		if !s.emitChannel(c, want, &r.part, r.sent, e) {
			return false
		}
	}
	return e.msg(&lnwire.ReplyShortChannelIDsEnd{ChainHash: s.chain, FullInformation: true})
}

// emitRangeReply continues the answer to query_channel_range: replies of at most
// replyChannelRangeMaxIDs ids, each starting where the previous one ended (or, when a block's
// channels are split between two replies, at that block), the last reaching the query's end.
func (s *P2PGossipSync) emitRangeReply(r *rangeReply, e *emitter) bool {
	end := r.q.EndBlocknum()
	for !r.done {
		if !r.started {
			r.next, r.started = uint64(r.q.FirstBlocknum), true
		}
		n := min(len(r.ids)-r.i, replyChannelRangeMaxIDs)
		batch := r.ids[r.i : r.i+n]
		final := r.i+n == len(r.ids)
		stop, following := end, end
		if !final {
			last := batch[n-1] >> 40
			stop, following = r.ids[r.i+n]>>40, r.ids[r.i+n]>>40
			if following == last {
				stop = last + 1 // the block's channels continue in the next reply
			}
		}
		reply := &lnwire.ReplyChannelRange{ChainHash: r.q.ChainHash, FirstBlocknum: uint32(r.next),
			NumberOfBlocks: uint32(min(stop-r.next, math.MaxUint32)), SyncComplete: final,
			Encoding: lnwire.EncodingUncompressed}
		reply.ShortChannelIDs = make([]lnwire.ShortChannelID, 0, n)
		for _, id := range batch {
			reply.ShortChannelIDs = append(reply.ShortChannelIDs, lnwire.NewShortChannelIDFromUint64(id))
		}
		if !e.msg(reply) {
			return false
		}
		r.i, r.next, r.done = r.i+n, following, final
	}
	return true
}

// emitBackfill continues sending the messages in a peer's timestamp range: channels (each
// announcement before its updates, and only with an update in range), then nodes.
func (s *P2PGossipSync) emitBackfill(b *backfill, e *emitter) bool {
	in := func(ts uint32) bool { return uint64(ts) >= b.first && uint64(ts) < b.end }
	for ; b.i < len(b.scids); b.i, b.part = b.i+1, 0 {
		c := s.store.chans[b.scids[b.i]]
		if c == nil {
			continue
		}
		var want uint64
		for d := 0; d < 2; d++ {
			if c.upd[d] != nil && in(c.updTS[d]) {
				want |= queryFlagUpd1 << d
			}
		}
		if want == 0 {
			continue
		}
		if !s.emitChannel(c, want|queryFlagAnn, &b.part, nil, e) {
			return false
		}
	}
	for ; b.j < len(b.nodes); b.j++ {
		if n := s.store.nodes[b.nodes[b.j]]; n != nil && in(n.ts) && !e.raw(n.ann) {
			return false
		}
	}
	return true
}

// emitRelay adds the released relay entries the peer asked for (its filter), or that we generated.
func (s *P2PGossipSync) emitRelay(p *gossipPeer, e *emitter) {
	l := &s.relay
	if p.relaySeq < l.first {
		s.stats.relayDropped.Add(l.first - p.relaySeq)
		p.relaySeq = l.first
	}
	for ; p.relaySeq < l.flushed; p.relaySeq++ {
		ent := l.at(p.relaySeq)
		if ent.origin == p.id || !s.store.current(ent) {
			continue
		}
		if ent.origin != ourOrigin && (p.filter == nil || !p.filter.InRange(ent.ts)) {
			continue
		}
		if !e.raw(ent.msg) {
			return
		}
	}
}

// handleQueryChannelRange starts our answer (sent by PendingMessages).
func (s *P2PGossipSync) handleQueryChannelRange(from [33]byte, m *lnwire.QueryChannelRange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peers[from]
	switch {
	case p == nil:
		return nil
	case p.rangeReply != nil:
		return warn(fmt.Errorf("%w: query_channel_range", ErrQueryPending))
	case m.NumberOfBlocks == 0:
		return warn(fmt.Errorf("%w: query_channel_range of 0 blocks", ErrInvalidQuery))
	}
	r := &rangeReply{q: m}
	if m.ChainHash == s.chain {
		r.ids = s.store.scidsInRange(uint64(m.FirstBlocknum), m.EndBlocknum())
	}
	p.rangeReply = r
	return nil
}

// handleQueryShortChannelIDs starts our answer (sent by PendingMessages).
func (s *P2PGossipSync) handleQueryShortChannelIDs(from [33]byte, m *lnwire.QueryShortChannelIDs) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peers[from]
	switch {
	case p == nil:
		return nil
	case p.scidReply != nil:
		return warn(fmt.Errorf("%w: query_short_channel_ids", ErrQueryPending))
	case m.ChainHash != s.chain:
		// BOLT 7: "if does not maintain up-to-date channel information for chain_hash: MUST set
		// full_information to 0".
		p.outbox = append(p.outbox, &lnwire.ReplyShortChannelIDsEnd{ChainHash: m.ChainHash})
		return nil
	case len(m.QueryFlags) != 0 && len(m.QueryFlags) != len(m.ShortChannelIDs):
		return warn(fmt.Errorf("%w: %d query_flags for %d ids", ErrInvalidQuery, len(m.QueryFlags), len(m.ShortChannelIDs)))
	}
	r := &scidReply{ids: m.ShortChannelIDs, sent: make(map[[33]byte]struct{})}
	if len(m.QueryFlags) != 0 {
		r.flags = m.QueryFlags
	}
	p.scidReply = r
	return nil
}

// handleTimestampFilter sets what the peer wants relayed and starts sending what we hold in its range.
func (s *P2PGossipSync) handleTimestampFilter(from [33]byte, m *lnwire.GossipTimestampFilter) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peers[from]
	if p == nil {
		return nil
	}
	p.backfill = nil
	if m.ChainHash != s.chain {
		p.filter = nil
		return fmt.Errorf("%w: gossip_timestamp_filter for %s", ErrUnknownChain, m.ChainHash)
	}
	f := *m
	p.filter = &f
	p.relaySeq = s.relay.head()
	first := uint64(m.FirstTimestamp)
	end := first + uint64(m.TimestampRange)
	if end <= first {
		return nil
	}
	b := &backfill{first: first, end: end, scids: make([]uint64, 0, len(s.store.chans))}
	for scid := range s.store.chans {
		b.scids = append(b.scids, scid)
	}
	slices.Sort(b.scids)
	for id := range s.store.nodes {
		b.nodes = append(b.nodes, id)
	}
	p.backfill = b
	return nil
}
