package router

import (
	"errors"
	"math"
	"math/rand"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
)

// gossipAction returns the action HandleRoutingMessage asked for (-1 for nil).
func gossipAction(t *testing.T, err error) peermanager.GossipAction {
	t.Helper()
	if err == nil {
		return -1
	}
	var ge *peermanager.GossipError
	require.True(t, errors.As(err, &ge), "not a GossipError: %v", err)
	return ge.Action
}

// fakePeer connects a peer (with gossip_queries) to s and returns its key.
func fakePeer(t *testing.T, s *P2PGossipSync, rng *rand.Rand, queries bool) *btcec.PublicKey {
	pub := gossipKey(rng).PubKey()
	f := lnwire.NewFeatureVector()
	if queries {
		f.Set(lnwire.GossipQueriesOptional)
	}
	require.NoError(t, s.PeerConnected(pub, &lnwire.Init{Features: f}, false))
	return pub
}

func ts(offset time.Duration) uint32 { return uint32((testNow + offset) / time.Second) }

func TestGossipChannelAnnouncementChecks(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	s := newTestSync(GossipConfig{})
	peer := fakePeer(t, s, rng, true)
	a, b := gossipKey(rng), gossipKey(rng)
	c := newGossipChannel(rng, lnwire.ShortChannelID{BlockHeight: 500, TxIndex: 1}.ToUint64(), a, b)

	// Each of the four signatures is checked: a wrong one is warned about and nothing is stored.
	for i := 0; i < 4; i++ {
		m := c.announcement(t)
		sigs := []*lnwire.Sig{&m.NodeSignature1, &m.NodeSignature2, &m.BitcoinSignature1, &m.BitcoinSignature2}
		*sigs[i] = m.NodeSignature1
		if i == 0 {
			*sigs[i] = m.BitcoinSignature2
		}
		err := s.HandleRoutingMessage(peer, m)
		require.Equal(t, peermanager.GossipWarn, gossipAction(t, err))
		require.ErrorIs(t, err, ErrInvalidSignature)
	}
	require.Zero(t, s.graph.NumChannels())

	// Another chain: ignored without a signature check.
	before := s.Stats().SignaturesChecked
	m := c.announcement(t)
	m.ChainHash = *chaincfg.MainNetParams.GenesisHash
	err := s.HandleRoutingMessage(peer, m)
	require.Equal(t, peermanager.GossipIgnore, gossipAction(t, err))
	require.ErrorIs(t, err, ErrUnknownChain)
	require.Equal(t, before, s.Stats().SignaturesChecked)

	// The valid announcement is applied with four checks; a duplicate costs none.
	require.NoError(t, s.HandleRoutingMessage(peer, c.announcement(t)))
	require.Equal(t, before+4, s.Stats().SignaturesChecked)
	require.Equal(t, 1, s.graph.NumChannels())
	err = s.HandleRoutingMessage(peer, c.announcement(t))
	require.Equal(t, peermanager.GossipIgnore, gossipAction(t, err))
	require.ErrorIs(t, err, ErrDuplicateChannel)
	require.Equal(t, before+4, s.Stats().SignaturesChecked)

	// Node ids out of order: warned about (before any signature check).
	c2 := newGossipChannel(rng, c.scid+1, a, b)
	m = c2.announcement(t)
	m.NodeID1, m.NodeID2 = m.NodeID2, m.NodeID1
	err = s.HandleRoutingMessage(peer, m)
	require.Equal(t, peermanager.GossipWarn, gossipAction(t, err))
	require.ErrorIs(t, err, ErrInvalidChannel)
	require.Equal(t, before+4, s.Stats().SignaturesChecked)
}

func TestGossipChannelUpdateChecks(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	s := newTestSync(GossipConfig{})
	peer := fakePeer(t, s, rng, true)
	c := newGossipChannel(rng, lnwire.ShortChannelID{BlockHeight: 600}.ToUint64(), gossipKey(rng), gossipKey(rng))

	// An update for a channel not announced: ignored, no signature check.
	err := s.HandleRoutingMessage(peer, c.update(t, 0, ts(-time.Hour), 10))
	require.Equal(t, peermanager.GossipIgnore, gossipAction(t, err))
	require.ErrorIs(t, err, ErrUnknownChannel)
	require.Zero(t, s.Stats().SignaturesChecked)

	require.NoError(t, s.HandleRoutingMessage(peer, c.announcement(t)))
	checks := s.Stats().SignaturesChecked

	// Timestamp ordering: newer applies, equal and older are ignored unchecked.
	require.NoError(t, s.HandleRoutingMessage(peer, c.update(t, 0, ts(-time.Hour), 10)))
	for _, off := range []time.Duration{-time.Hour, -2 * time.Hour} {
		err = s.HandleRoutingMessage(peer, c.update(t, 0, ts(off), 99))
		require.Equal(t, peermanager.GossipIgnore, gossipAction(t, err))
		require.ErrorIs(t, err, ErrStaleUpdate)
	}
	require.Equal(t, checks+1, s.Stats().SignaturesChecked)
	require.NoError(t, s.HandleRoutingMessage(peer, c.update(t, 0, ts(-time.Minute), 20)))
	info := channelInfo(t, s.graph, c.scid)
	require.EqualValues(t, 20, info.Directions[0].FeeBaseMsat)
	require.Nil(t, info.Directions[1])

	// Direction 1 is checked against node_id_2: signed by node 1, it is refused with a disconnect.
	m := c.update(t, 1, ts(-time.Hour), 10)
	m.Signature = signHash(t, c.node[0], m.DataToSign())
	err = s.HandleRoutingMessage(peer, m)
	require.Equal(t, peermanager.GossipDisconnect, gossipAction(t, err))
	require.ErrorIs(t, err, ErrInvalidSignature)
	require.Nil(t, channelInfo(t, s.graph, c.scid).Directions[1])
	require.NoError(t, s.HandleRoutingMessage(peer, c.update(t, 1, ts(-time.Hour), 10)))

	// Too far in the future, or older than two weeks: ignored.
	for _, off := range []time.Duration{25 * time.Hour, -15 * 24 * time.Hour} {
		err = s.HandleRoutingMessage(peer, c.update(t, 0, ts(off), 30))
		require.ErrorIs(t, err, ErrTimestampOutOfRange)
		require.Equal(t, peermanager.GossipIgnore, gossipAction(t, err))
	}
	// Another chain: ignored.
	m = c.update(t, 0, ts(0), 30)
	m.ChainHash = *chaincfg.MainNetParams.GenesisHash
	require.ErrorIs(t, s.HandleRoutingMessage(peer, m), ErrUnknownChain)
	require.EqualValues(t, 20, channelInfo(t, s.graph, c.scid).Directions[0].FeeBaseMsat)
}

func TestGossipNodeAnnouncementChecks(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	s := newTestSync(GossipConfig{})
	peer := fakePeer(t, s, rng, true)
	a, b, stranger := gossipKey(rng), gossipKey(rng), gossipKey(rng)
	c := newGossipChannel(rng, lnwire.ShortChannelID{BlockHeight: 700}.ToUint64(), a, b)
	require.NoError(t, s.HandleRoutingMessage(peer, c.announcement(t)))
	checks := s.Stats().SignaturesChecked

	// A node no channel announces: ignored unchecked.
	err := s.HandleRoutingMessage(peer, nodeAnnouncement(t, stranger, ts(-time.Hour), "x"))
	require.ErrorIs(t, err, ErrUnknownNode)
	require.Equal(t, checks, s.Stats().SignaturesChecked)

	// A bad signature: warned; then the valid one applies, and an older one is ignored.
	m := nodeAnnouncement(t, a, ts(-time.Hour), "alice")
	m.Signature = signHash(t, b, m.DataToSign())
	err = s.HandleRoutingMessage(peer, m)
	require.Equal(t, peermanager.GossipWarn, gossipAction(t, err))
	require.ErrorIs(t, err, ErrInvalidSignature)
	require.NoError(t, s.HandleRoutingMessage(peer, nodeAnnouncement(t, a, ts(-time.Hour), "alice")))
	require.ErrorIs(t, s.HandleRoutingMessage(peer, nodeAnnouncement(t, a, ts(-2*time.Hour), "old")), ErrStaleUpdate)
	v := s.graph.ReadOnly()
	n, ok := v.Node(nodeKeyOf(a.PubKey()))
	v.Release()
	require.True(t, ok)
	require.Equal(t, "alice", string(n.Announcement.Alias[:5]))
}

// TestGossipTooManyInvalid: past MaxInvalidMessages, a peer is disconnected.
func TestGossipTooManyInvalid(t *testing.T) {
	rng := rand.New(rand.NewSource(4))
	s := newTestSync(GossipConfig{MaxInvalidMessages: 3})
	peer := fakePeer(t, s, rng, true)
	c := newGossipChannel(rng, lnwire.ShortChannelID{BlockHeight: 800}.ToUint64(), gossipKey(rng), gossipKey(rng))
	for i := 0; i < 3; i++ {
		m := c.announcement(t)
		m.BitcoinSignature1 = m.BitcoinSignature2
		action := gossipAction(t, s.HandleRoutingMessage(peer, m))
		if i < 2 {
			require.Equal(t, peermanager.GossipWarn, action)
		} else {
			require.Equal(t, peermanager.GossipDisconnect, action)
		}
	}
	require.EqualValues(t, 3, s.Stats().Invalid)
}

func channelInfo(t *testing.T, g *NetworkGraph, scid uint64) ChannelInfo {
	t.Helper()
	v := g.ReadOnly()
	defer v.Release()
	c, ok := v.Channel(scid)
	require.True(t, ok)
	return c
}

// pull drains what s has for peer (with a large budget).
func pull(s *P2PGossipSync, peer *btcec.PublicKey) []lnwire.Message {
	var out []lnwire.Message
	for {
		msgs := s.PendingMessages(peer, 1<<20)
		if len(msgs) == 0 {
			return out
		}
		out = append(out, msgs...)
	}
}

func types(msgs []lnwire.Message) []lnwire.MessageType {
	var out []lnwire.MessageType
	for _, m := range msgs {
		out = append(out, m.MsgType())
	}
	return out
}

// TestGossipRelay: new valid gossip goes, at the next flush, to the peers whose filter covers it,
// the announcement only with (and before) its first update, never back to its origin.
func TestGossipRelay(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	s := newTestSync(GossipConfig{})
	src := fakePeer(t, s, rng, true)
	all := fakePeer(t, s, rng, true)
	future := fakePeer(t, s, rng, true)
	none := fakePeer(t, s, rng, false)
	for _, p := range []*btcec.PublicKey{src, all, future, none} {
		out := pull(s, p)
		require.NotEmpty(t, out)
		f, ok := out[0].(*lnwire.GossipTimestampFilter)
		require.True(t, ok)
		if p == none {
			require.EqualValues(t, math.MaxUint32, f.FirstTimestamp)
			require.Zero(t, f.TimestampRange)
		}
	}
	for _, p := range []*btcec.PublicKey{src, all} {
		require.NoError(t, s.HandleRoutingMessage(p, &lnwire.GossipTimestampFilter{ChainHash: *testNet.GenesisHash, TimestampRange: math.MaxUint32}))
	}
	require.NoError(t, s.HandleRoutingMessage(future, &lnwire.GossipTimestampFilter{ChainHash: *testNet.GenesisHash,
		FirstTimestamp: ts(time.Hour), TimestampRange: 1000}))

	a, b := gossipKey(rng), gossipKey(rng)
	c := newGossipChannel(rng, lnwire.ShortChannelID{BlockHeight: 900}.ToUint64(), a, b)
	require.NoError(t, s.HandleRoutingMessage(src, c.announcement(t)))
	s.TimerTick(testNow + time.Minute)
	require.Empty(t, pull(s, all), "no announcement without an update")

	require.NoError(t, s.HandleRoutingMessage(src, c.update(t, 0, ts(0), 5)))
	require.NoError(t, s.HandleRoutingMessage(src, nodeAnnouncement(t, a, ts(0), "a")))
	require.Empty(t, pull(s, all), "held until the flush")
	s.TimerTick(testNow + time.Minute + 30*time.Second)
	require.Empty(t, pull(s, all), "flushes are FlushInterval apart")
	s.TimerTick(testNow + 2*time.Minute)
	require.Equal(t, []lnwire.MessageType{lnwire.MsgChannelAnnouncement, lnwire.MsgChannelUpdate, lnwire.MsgNodeAnnouncement},
		types(pull(s, all)))
	require.Empty(t, pull(s, src), "not sent back to its origin")
	require.Empty(t, pull(s, future), "outside its filter")
	require.Empty(t, pull(s, none), "it asked for nothing")

	// A newer update replaces a queued one; dont_forward updates are not relayed.
	require.NoError(t, s.HandleRoutingMessage(src, c.update(t, 1, ts(time.Second), 6)))
	require.NoError(t, s.HandleRoutingMessage(src, c.update(t, 1, ts(2*time.Second), 7)))
	m := c.update(t, 0, ts(3*time.Second), 8)
	m.MessageFlags |= lnwire.ChanUpdateMsgFlagDontForward
	m.Signature = signHash(t, c.node[0], m.DataToSign())
	require.NoError(t, s.HandleRoutingMessage(src, m))
	s.TimerTick(testNow + 4*time.Minute)
	out := pull(s, all)
	require.Len(t, out, 1)
	require.EqualValues(t, ts(2*time.Second), out[0].(*lnwire.ChannelUpdate).Timestamp)
	require.EqualValues(t, 8, channelInfo(t, s.graph, c.scid).Directions[0].FeeBaseMsat, "dont_forward still applies")
}

// TestGossipRelayBounded: a peer that does not take its gossip misses what the bounded queue drops.
func TestGossipRelayBounded(t *testing.T) {
	rng := rand.New(rand.NewSource(6))
	s := newTestSync(GossipConfig{MaxRelayMessages: 10})
	src := fakePeer(t, s, rng, true)
	slow := fakePeer(t, s, rng, true)
	pull(s, slow)
	require.NoError(t, s.HandleRoutingMessage(slow, &lnwire.GossipTimestampFilter{ChainHash: *testNet.GenesisHash, TimestampRange: math.MaxUint32}))
	w := newGossipWorld(t, 7, 10, 20)
	for _, m := range w.msgs {
		require.NoError(t, s.HandleRoutingMessage(src, m))
	}
	s.TimerTick(testNow + time.Hour)
	var got []lnwire.MessageType
	for _, typ := range types(pull(s, slow)) {
		if typ != lnwire.MsgQueryChannelRange { // slow became the sync peer when src timed out
			got = append(got, typ)
		}
	}
	require.Len(t, got, 10, "%v", got)
	require.Positive(t, s.Stats().RelayDropped)
}

// TestGossipPendingBudget: PendingMessages never returns more than the budget.
func TestGossipPendingBudget(t *testing.T) {
	rng := rand.New(rand.NewSource(8))
	s := newTestSync(GossipConfig{})
	src := fakePeer(t, s, rng, true)
	w := newGossipWorld(t, 9, 20, 40)
	for _, m := range w.msgs {
		require.NoError(t, s.HandleRoutingMessage(src, m))
	}
	peer := fakePeer(t, s, rng, true)
	pull(s, peer)
	require.NoError(t, s.HandleRoutingMessage(peer, &lnwire.GossipTimestampFilter{ChainHash: *testNet.GenesisHash, TimestampRange: math.MaxUint32}))
	total := 0
	for {
		msgs := s.PendingMessages(peer, 1000)
		if len(msgs) == 0 {
			break
		}
		size := 0
		for _, m := range msgs {
			b, err := lnwire.EncodeMessage(m)
			require.NoError(t, err)
			size += len(b)
		}
		require.LessOrEqual(t, size, 1000)
		total += len(msgs)
	}
	require.Equal(t, len(w.msgs), total, "the backfill sends every message, over many calls")
}

// TestGossipAnswersQueries: query_channel_range and query_short_channel_ids (with and without
// query_flags) are answered from what the sync holds, as BOLT 7 says.
func TestGossipAnswersQueries(t *testing.T) {
	defer func(n int) { replyChannelRangeMaxIDs = n }(replyChannelRangeMaxIDs)
	replyChannelRangeMaxIDs = 7
	rng := rand.New(rand.NewSource(10))
	s := newTestSync(GossipConfig{})
	src := fakePeer(t, s, rng, true)
	w := newGossipWorld(t, 11, 15, 40)
	for _, m := range w.msgs {
		require.NoError(t, s.HandleRoutingMessage(src, m))
	}
	q := fakePeer(t, s, rng, true)
	pull(s, q)

	// query_channel_range: replies in order, contiguous, covering the query; every channel once.
	query := &lnwire.QueryChannelRange{ChainHash: *testNet.GenesisHash, FirstBlocknum: 120_000, NumberOfBlocks: 50_000}
	require.NoError(t, s.HandleRoutingMessage(q, query))
	err := s.HandleRoutingMessage(q, query)
	require.ErrorIs(t, err, ErrQueryPending, "a second query while the first is answered")
	out := pull(s, q)
	require.Greater(t, len(out), 1)
	var got []uint64
	next := uint64(query.FirstBlocknum)
	for i, m := range out {
		r := m.(*lnwire.ReplyChannelRange)
		first, last := uint64(r.FirstBlocknum), r.EndBlocknum()-1
		require.True(t, first == next || first+1 == next, "reply %d starts at %d, previous ended before %d", i, first, next)
		require.Equal(t, i == len(out)-1, r.SyncComplete)
		for _, id := range r.ShortChannelIDs {
			require.GreaterOrEqual(t, uint64(id.BlockHeight), first)
			require.LessOrEqual(t, uint64(id.BlockHeight), last)
			got = append(got, id.ToUint64())
		}
		next = last + 1
	}
	require.Equal(t, query.EndBlocknum(), next)
	var want []uint64
	for _, c := range w.channels {
		if b := c.scid >> 40; b >= 120_000 && b < 170_000 {
			want = append(want, c.scid)
		}
	}
	require.ElementsMatch(t, want, got)

	// query_short_channel_ids without flags: announcement, updates, node announcements once each.
	ids := []lnwire.ShortChannelID{lnwire.NewShortChannelIDFromUint64(w.channels[0].scid),
		lnwire.NewShortChannelIDFromUint64(w.channels[1].scid), lnwire.NewShortChannelIDFromUint64(1)}
	require.NoError(t, s.HandleRoutingMessage(q, &lnwire.QueryShortChannelIDs{ChainHash: *testNet.GenesisHash, ShortChannelIDs: ids}))
	out = pull(s, q)
	require.IsType(t, &lnwire.ReplyShortChannelIDsEnd{}, out[len(out)-1])
	require.True(t, out[len(out)-1].(*lnwire.ReplyShortChannelIDsEnd).FullInformation)
	nodes := map[[33]byte]int{}
	anns := 0
	for _, m := range out[:len(out)-1] {
		switch m := m.(type) {
		case *lnwire.ChannelAnnouncement:
			anns++
		case *lnwire.NodeAnnouncement:
			nodes[nodeKeyOf(m.NodeID)]++
		}
	}
	require.Equal(t, 2, anns)
	for _, n := range nodes {
		require.Equal(t, 1, n)
	}
	require.Equal(t, lnwire.MsgChannelAnnouncement, out[0].MsgType())

	// With query_flags: only what each flag asks.
	require.NoError(t, s.HandleRoutingMessage(q, &lnwire.QueryShortChannelIDs{ChainHash: *testNet.GenesisHash,
		ShortChannelIDs: ids[:2], QueryFlags: []uint64{queryFlagUpd2, queryFlagAnn}}))
	require.Equal(t, []lnwire.MessageType{lnwire.MsgChannelUpdate, lnwire.MsgChannelAnnouncement, lnwire.MsgReplyShortChannelIDsEnd},
		types(pull(s, q)))

	// Another chain: full_information 0.
	require.NoError(t, s.HandleRoutingMessage(q, &lnwire.QueryShortChannelIDs{ChainHash: *chaincfg.MainNetParams.GenesisHash, ShortChannelIDs: ids}))
	out = pull(s, q)
	require.Len(t, out, 1)
	require.False(t, out[0].(*lnwire.ReplyShortChannelIDsEnd).FullInformation)
}

// TestGossipSyncProtocol drives our side of the query sync by hand: the range query, batches of id
// queries one at a time, unexpected replies warned about.
func TestGossipSyncProtocol(t *testing.T) {
	rng := rand.New(rand.NewSource(12))
	s := newTestSync(GossipConfig{QueryBatchSize: 3})
	w := newGossipWorld(t, 13, 10, 8)

	// Without gossip_queries, a peer is not asked.
	plain := fakePeer(t, s, rng, false)
	require.Equal(t, []lnwire.MessageType{lnwire.MsgGossipTimestampFilter}, types(pull(s, plain)))

	p := fakePeer(t, s, rng, true)
	out := pull(s, p)
	require.Equal(t, []lnwire.MessageType{lnwire.MsgGossipTimestampFilter, lnwire.MsgQueryChannelRange}, types(out))
	require.EqualValues(t, ts(0), out[0].(*lnwire.GossipTimestampFilter).FirstTimestamp, "empty graph: from now on")
	q := out[1].(*lnwire.QueryChannelRange)
	other := fakePeer(t, s, rng, true)
	require.Equal(t, []lnwire.MessageType{lnwire.MsgGossipTimestampFilter}, types(pull(s, other)), "one sync peer at a time")

	// An unsolicited reply_short_channel_ids_end is warned about.
	err := s.HandleRoutingMessage(p, &lnwire.ReplyShortChannelIDsEnd{ChainHash: *testNet.GenesisHash, FullInformation: true})
	require.Equal(t, peermanager.GossipWarn, gossipAction(t, err))
	require.ErrorIs(t, err, ErrUnexpectedReply)

	// Two replies: the ids we do not know are queried 3 at a time.
	var ids []lnwire.ShortChannelID
	for _, c := range w.channels {
		ids = append(ids, lnwire.NewShortChannelIDFromUint64(c.scid))
	}
	sortSCIDs(ids)
	mid := ids[4].BlockHeight
	require.NoError(t, s.HandleRoutingMessage(p, &lnwire.ReplyChannelRange{ChainHash: q.ChainHash, FirstBlocknum: 0,
		NumberOfBlocks: mid, ShortChannelIDs: ids[:4]}))
	require.Empty(t, pull(s, p), "no id query before the range is complete")
	require.NoError(t, s.HandleRoutingMessage(p, &lnwire.ReplyChannelRange{ChainHash: q.ChainHash, FirstBlocknum: mid,
		NumberOfBlocks: math.MaxUint32 - mid, SyncComplete: true, ShortChannelIDs: ids[4:]}))
	var asked []lnwire.ShortChannelID
	for batch := 0; batch < 3; batch++ {
		out = pull(s, p)
		require.Len(t, out, 1, "one query at a time")
		qs := out[0].(*lnwire.QueryShortChannelIDs)
		require.LessOrEqual(t, len(qs.ShortChannelIDs), 3)
		asked = append(asked, qs.ShortChannelIDs...)
		require.Empty(t, pull(s, p))
		require.False(t, s.IsSynced())
		require.NoError(t, s.HandleRoutingMessage(p, &lnwire.ReplyShortChannelIDsEnd{ChainHash: q.ChainHash, FullInformation: true}))
	}
	require.Equal(t, ids, asked)
	require.True(t, s.IsSynced())
	require.EqualValues(t, 1, s.Stats().SyncsCompleted)
	require.Empty(t, pull(s, other), "synced: nobody else is asked")
}

// TestGossipSyncFailover: a sync peer that stays silent, or lacks information, is replaced.
func TestGossipSyncFailover(t *testing.T) {
	rng := rand.New(rand.NewSource(14))
	s := newTestSync(GossipConfig{SyncTimeout: time.Minute})
	p1 := fakePeer(t, s, rng, true)
	p2 := fakePeer(t, s, rng, true)
	first, second := p1, p2
	if len(pull(s, p1)) == 1 {
		first, second = p2, p1
	} else {
		pull(s, p2)
	}
	s.TimerTick(testNow + 30*time.Second)
	require.Empty(t, pull(s, second))
	s.TimerTick(testNow + 2*time.Minute)
	out := pull(s, second)
	require.Equal(t, []lnwire.MessageType{lnwire.MsgQueryChannelRange}, types(out), "silent sync peer replaced")
	// The late reply of the first peer is ignored, not warned about.
	err := s.HandleRoutingMessage(first, &lnwire.ReplyChannelRange{ChainHash: *testNet.GenesisHash, NumberOfBlocks: math.MaxUint32, SyncComplete: true})
	require.Equal(t, peermanager.GossipIgnore, gossipAction(t, err))

	// A reply starting after the query's first block is a violation: warned, sync given up.
	err = s.HandleRoutingMessage(second, &lnwire.ReplyChannelRange{ChainHash: *testNet.GenesisHash, FirstBlocknum: 5, NumberOfBlocks: 10})
	require.Equal(t, peermanager.GossipWarn, gossipAction(t, err))
	third := fakePeer(t, s, rng, true)
	require.Equal(t, []lnwire.MessageType{lnwire.MsgGossipTimestampFilter, lnwire.MsgQueryChannelRange}, types(pull(s, third)))
	// A peer disconnecting mid-sync hands over too.
	s.PeerDisconnected(third)
	require.False(t, s.IsSynced())
}

func sortSCIDs(ids []lnwire.ShortChannelID) {
	for i := 1; i < len(ids); i++ {
		for j := i; j > 0 && ids[j].ToUint64() < ids[j-1].ToUint64(); j-- {
			ids[j], ids[j-1] = ids[j-1], ids[j]
		}
	}
}
