package router

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/lnkit/lnkit/lnwire"
)

// peerSync is our initial query sync with one peer (BOLT 7, "Query Messages"): one
// query_channel_range over all blocks, then query_short_channel_ids for the channels we do not know,
// one batch at a time ("MUST NOT send query_short_channel_ids if it has sent a previous
// query_short_channel_ids to this peer and not received reply_short_channel_ids_end").
type peerSync struct {
	rangeQuery       *lnwire.QueryChannelRange // outstanding until its replies reach its end
	replies          int
	lastFirst        uint32
	pending          []uint64 // unknown channels still to query
	queryOutstanding bool
	full             bool // the peer's final reply_channel_range claimed full information
	lastProgress     time.Duration
}

// ourFilter is the gossip_timestamp_filter we send a peer on connection. A gossip_queries peer is
// asked for everything from shortly before the newest timestamp we hold (or from now, with an empty
// graph: the query sync fetches the rest); others for nothing (BOLT 7: "SHOULD set first_timestamp
// to 0xFFFFFFFF and timestamp_range to 0"). Called with s.mu.
func (s *P2PGossipSync) ourFilter(queries bool) *lnwire.GossipTimestampFilter {
	f := &lnwire.GossipTimestampFilter{ChainHash: s.chain, FirstTimestamp: math.MaxUint32}
	if !queries {
		return f
	}
	first := uint32(0)
	switch {
	case s.newestTS > 0:
		first = s.newestTS - min(s.newestTS, uint32(filterSlack/time.Second))
	case s.now > 0:
		first = uint32(min(s.now/time.Second, math.MaxUint32))
	}
	f.FirstTimestamp, f.TimestampRange = first, math.MaxUint32-first
	return f
}

// startSyncs asks connected gossip_queries peers for the channel range, up to MaxSyncPeers at once,
// until one sync completes. Called with s.mu.
func (s *P2PGossipSync) startSyncs() {
	if s.synced {
		return
	}
	syncing := 0
	for _, p := range s.peers {
		if p.sync != nil {
			syncing++
		}
	}
	for _, p := range s.peers {
		if syncing >= s.cfg.MaxSyncPeers {
			return
		}
		if !p.queries || p.sync != nil || p.syncDone {
			continue
		}
		q := &lnwire.QueryChannelRange{ChainHash: s.chain, FirstBlocknum: 0, NumberOfBlocks: math.MaxUint32}
		p.sync = &peerSync{rangeQuery: q, lastProgress: s.now}
		p.outbox = append(p.outbox, q)
		syncing++
	}
}

// abandonSync gives up our sync with p (it is not asked again). Called with s.mu.
func (s *P2PGossipSync) abandonSync(p *gossipPeer) {
	p.sync, p.syncDone = nil, true
}

// touch notes a message from a syncing peer as progress. Called with s.mu.
func (s *P2PGossipSync) touch(p *gossipPeer) {
	if p != nil && p.sync != nil {
		p.sync.lastProgress = s.now
	}
}

// unexpected settles a reply we did not ask for: ignored from a peer whose sync we gave up (a late
// answer), a warning otherwise.
func unexpected(p *gossipPeer, what string) error {
	err := fmt.Errorf("%w: %s", ErrUnexpectedReply, what)
	if p.syncDone {
		return err
	}
	return warn(err)
}

// handleReplyChannelRange collects the unknown channels of one reply (BOLT 7's ordering checked: the
// first reply starts at or before the query's first block, each reply overlaps the query and starts
// at or after the previous one); the reply reaching the query's end starts the id queries.
func (s *P2PGossipSync) handleReplyChannelRange(from [33]byte, m *lnwire.ReplyChannelRange) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peers[from]
	if p == nil {
		return nil
	}
	ps := p.sync
	if ps == nil || ps.rangeQuery == nil {
		return unexpected(p, "reply_channel_range")
	}
	q := ps.rangeQuery
	first, end := uint64(m.FirstBlocknum), m.EndBlocknum()
	var bad string
	switch {
	case m.ChainHash != s.chain:
		bad = "chain_hash"
	case ps.replies == 0 && first > uint64(q.FirstBlocknum):
		bad = "first reply starts after the query"
	case ps.replies > 0 && m.FirstBlocknum < ps.lastFirst:
		bad = "reply starts before the previous one"
	case first >= q.EndBlocknum() || end <= uint64(q.FirstBlocknum):
		bad = "reply outside the query"
	}
	if bad != "" {
		s.abandonSync(p)
		s.startSyncs()
		return warn(fmt.Errorf("%w: reply_channel_range: %s", ErrUnexpectedReply, bad))
	}
	ps.replies++
	ps.lastFirst = m.FirstBlocknum
	ps.lastProgress = s.now
	room := s.cfg.MaxSyncSCIDs - len(ps.pending)
	ps.pending = s.graph.appendUnknownChannels(ps.pending, m.ShortChannelIDs, first, end, room)
	if end < q.EndBlocknum() {
		return nil
	}
	ps.rangeQuery = nil
	ps.full = m.SyncComplete
	slices.Sort(ps.pending)
	ps.pending = slices.Compact(ps.pending)
	s.nextQuery(p)
	return nil
}

// handleReplyShortChannelIDsEnd closes one batch and sends the next (or completes the sync). A peer
// without full information is given up for another.
func (s *P2PGossipSync) handleReplyShortChannelIDsEnd(from [33]byte, m *lnwire.ReplyShortChannelIDsEnd) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	p := s.peers[from]
	if p == nil {
		return nil
	}
	ps := p.sync
	if ps == nil || !ps.queryOutstanding {
		return unexpected(p, "reply_short_channel_ids_end")
	}
	if m.ChainHash != s.chain || !m.FullInformation {
		s.log.Info("gossip sync peer lacks full information; asking another", "peer", p.short())
		s.abandonSync(p)
		s.startSyncs()
		if m.ChainHash != s.chain {
			return warn(fmt.Errorf("%w: reply_short_channel_ids_end for %s", ErrUnexpectedReply, m.ChainHash))
		}
		return nil
	}
	ps.queryOutstanding = false
	ps.lastProgress = s.now
	s.nextQuery(p)
	return nil
}

// nextQuery sends the next batch of unknown ids, or completes the sync. Called with s.mu.
func (s *P2PGossipSync) nextQuery(p *gossipPeer) {
	ps := p.sync
	if len(ps.pending) == 0 {
		s.abandonSync(p)
		if ps.full {
			s.synced = true
			s.stats.syncs.Add(1)
			s.log.Info("gossip sync complete", "peer", p.short())
		} else {
			s.startSyncs()
		}
		return
	}
	n := min(len(ps.pending), s.cfg.QueryBatchSize)
	q := &lnwire.QueryShortChannelIDs{ChainHash: s.chain, Encoding: lnwire.EncodingUncompressed,
		ShortChannelIDs: make([]lnwire.ShortChannelID, n)}
	for i, id := range ps.pending[:n] {
		q.ShortChannelIDs[i] = lnwire.NewShortChannelIDFromUint64(id)
	}
	ps.pending = ps.pending[n:]
	ps.queryOutstanding = true
	p.outbox = append(p.outbox, q)
}
