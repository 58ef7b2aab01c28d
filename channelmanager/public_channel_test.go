package channelmanager

// Public channels (BOLT 7): announcement_signatures, channel_announcement, our channel_updates (public
// and private), the counterparty's channel_update, and their persistence.

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/ser"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
	"github.com/lnkit/lnkit/router"
)

// gossipAsRead is g as Read restores it: what encode keeps, with the per-connection state cleared.
func gossipAsRead(t testing.TB, g gossipState) gossipState {
	b := g.encode()
	if b == nil {
		return gossipState{}
	}
	out, err := decodeGossipState(b)
	require.NoError(t, err)
	if out.announcement != nil {
		out.ticksSinceBroadcast = RebroadcastTicks - 1
	}
	return out
}

// chainUTXO is a router.UTXOLookup over the test chain.
type chainUTXO struct{ chain *testchain.Chain }

func (u chainUTXO) FundingOutput(scid uint64) (router.FundingOutput, error) {
	id := lnwire.NewShortChannelIDFromUint64(scid)
	blk, ok := u.chain.BlockAt(id.BlockHeight)
	if !ok || int(id.TxIndex) >= len(blk.Transactions) {
		return router.FundingOutput{}, errors.New("no such transaction")
	}
	tx := blk.Transactions[id.TxIndex]
	op := wire.OutPoint{Hash: tx.TxHash(), Index: uint32(id.OutputIndex)}
	out, ok := u.chain.UTXO(op)
	if !ok {
		return router.FundingOutput{}, errors.New("spent or absent")
	}
	return router.FundingOutput{OutPoint: op, PkScript: out.PkScript, ValueSat: uint64(out.Value)}, nil
}

// gossipRecorder collects what each node broadcasts and what each node sends its peer, by type.
type gossipRecorder struct {
	broadcasts [2][]lnwire.Message
	sent       [2]map[lnwire.MessageType]int
	updatesTo  [2][]*lnwire.ChannelUpdate // channel_updates received from the peer
}

func recordGossip(nw *network) *gossipRecorder {
	g := &gossipRecorder{}
	g.sent[0], g.sent[1] = map[lnwire.MessageType]int{}, map[lnwire.MessageType]int{}
	nw.onBroadcast = func(from int, m lnwire.Message) { g.broadcasts[from] = append(g.broadcasts[from], m) }
	nw.observe = func(from, to int, m lnwire.Message) {
		g.sent[from][m.MsgType()]++
		if u, ok := m.(*lnwire.ChannelUpdate); ok {
			g.updatesTo[to] = append(g.updatesTo[to], u)
		}
	}
	return g
}

// take returns and forgets node i's broadcasts.
func (g *gossipRecorder) take(i int) []lnwire.Message {
	out := g.broadcasts[i]
	g.broadcasts[i] = nil
	return out
}

// publicPair opens a public channel from alice to bob (bob's fees differ from alice's) and mines it to
// readiness (MinimumDepth 3, below the announcement depth).
func publicPair(t *testing.T, public bool) (*network, *testNode, *testNode, lnwire.ChannelID, *gossipRecorder) {
	nw, a, b := twoNodesWith(t, func(node int, c *config.UserConfig) {
		c.ChannelHandshakeConfig.AnnouncedChannel = public && node == 0
		if node == 1 {
			c.ChannelConfig.ForwardingFeeBaseMsat = 2000
			c.ChannelConfig.ForwardingFeeProportionalMillionths = 150
			c.ChannelConfig.CLTVExpiryDelta = 40
		}
	})
	rec := recordGossip(nw)
	id := nw.openChannel(0, 1, 2_000_000, 300_000_000)
	return nw, a, b, id, rec
}

// newSync is a graph with a gossip sync over the test chain.
func newSync(chain *testchain.Chain) *router.P2PGossipSync {
	return router.NewP2PGossipSync(router.NewNetworkGraph(chainUTXO{chain}), &chaincfg.RegressionNetParams, router.GossipConfig{}, nil)
}

func ofType[T lnwire.Message](msgs []lnwire.Message) []T {
	var out []T
	for _, m := range msgs {
		if v, ok := m.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

func encoded(t testing.TB, m lnwire.Message) []byte {
	b, err := lnwire.EncodeMessage(m)
	require.NoError(t, err)
	return b
}

func verifies(pub *btcec.PublicKey, sig lnwire.Sig, data []byte) bool {
	return verifyGossipSig(pub, sig, chainhash.DoubleHashB(data))
}

// TestPublicChannelAnnouncement: announcement_signatures go out once the funding transaction is six
// deep, exactly once per side; both build the same channel_announcement, whose four signatures verify
// and which a P2PGossipSync accepts with both channel_updates; private updates went to the peer before.
func TestPublicChannelAnnouncement(t *testing.T) {
	nw, a, b, id, rec := publicPair(t, true)
	require.True(t, a.channel(id).IsPublic)
	require.True(t, b.channel(id).IsPublic, "the acceptor follows the opener's announce_channel bit")
	// At three confirmations: no announcement_signatures yet, but each side's channel_update went to
	// the other (dont_forward), and each knows the other's policy.
	require.Zero(t, rec.sent[0][lnwire.MsgAnnouncementSignatures]+rec.sent[1][lnwire.MsgAnnouncementSignatures])
	require.Equal(t, 1, rec.sent[0][lnwire.MsgChannelUpdate])
	require.Equal(t, 1, rec.sent[1][lnwire.MsgChannelUpdate])
	require.True(t, rec.updatesTo[1][0].DontForward())
	fa := a.channel(id).CounterpartyForwardingInfo
	require.NotNil(t, fa)
	require.Equal(t, CounterpartyForwardingInfo{FeeBaseMsat: 2000, FeeProportionalMillionths: 150, CLTVExpiryDelta: 40,
		HTLCMinimumMsat: a.cfg.ChannelHandshakeConfig.OurHTLCMinimumMsat, HTLCMaximumMsat: b.channel(id).HTLCMaximumMsat,
		Timestamp: fa.Timestamp}, *fa)
	require.Empty(t, rec.broadcasts[0])
	require.Empty(t, rec.broadcasts[1])

	nw.mine(2) // five confirmations
	require.Zero(t, rec.sent[0][lnwire.MsgAnnouncementSignatures]+rec.sent[1][lnwire.MsgAnnouncementSignatures])
	require.False(t, a.channel(id).IsAnnounced)
	nw.mine(1) // six
	require.Equal(t, 1, rec.sent[0][lnwire.MsgAnnouncementSignatures])
	require.Equal(t, 1, rec.sent[1][lnwire.MsgAnnouncementSignatures])
	require.True(t, a.channel(id).IsAnnounced)
	require.True(t, b.channel(id).IsAnnounced)
	nw.mine(3)
	require.Equal(t, 1, rec.sent[0][lnwire.MsgAnnouncementSignatures], "sent once")
	require.Equal(t, 1, rec.sent[1][lnwire.MsgAnnouncementSignatures], "sent once")

	ba, bb := rec.take(0), rec.take(1)
	require.Len(t, ba, 2)
	require.Len(t, bb, 2)
	annA, annB := ba[0].(*lnwire.ChannelAnnouncement), bb[0].(*lnwire.ChannelAnnouncement)
	require.Equal(t, encoded(t, annA), encoded(t, annB), "both sides build the same announcement")
	data := annA.DataToSign()
	require.True(t, bytes.Compare(annA.NodeID1.SerializeCompressed(), annA.NodeID2.SerializeCompressed()) < 0)
	require.True(t, verifies(annA.NodeID1, annA.NodeSignature1, data))
	require.True(t, verifies(annA.NodeID2, annA.NodeSignature2, data))
	require.True(t, verifies(annA.BitcoinKey1, annA.BitcoinSignature1, data))
	require.True(t, verifies(annA.BitcoinKey2, annA.BitcoinSignature2, data))
	require.Equal(t, a.channel(id).ShortChannelID, annA.ShortChannelID)

	updA, updB := ba[1].(*lnwire.ChannelUpdate), bb[1].(*lnwire.ChannelUpdate)
	require.False(t, updA.DontForward())
	require.False(t, updA.IsDisabled())
	require.NotEqual(t, updA.Direction(), updB.Direction())
	require.Equal(t, uint32(1000), updA.FeeBaseMsat)
	require.Equal(t, uint16(72), updA.CLTVExpiryDelta)
	require.Equal(t, uint32(2000), updB.FeeBaseMsat)
	require.Equal(t, b.cfg.ChannelHandshakeConfig.OurHTLCMinimumMsat, updA.HTLCMinimumMsat, "the peer's htlc_minimum_msat")
	require.LessOrEqual(t, updA.HTLCMaximumMsat, uint64(2_000_000_000))
	require.LessOrEqual(t, updA.HTLCMaximumMsat, uint64(b.channel(id).ChannelValueSat)*10*uint64(b.cfg.ChannelHandshakeConfig.MaxInboundHTLCValueInFlightPercent))
	require.Greater(t, updA.Timestamp, rec.updatesTo[1][0].Timestamp, "the public update is newer than the private one")

	// A P2PGossipSync (with a UTXO lookup on the chain) accepts the announcement and both updates.
	sync := newSync(a.chain)
	require.NoError(t, sync.BroadcastAnnouncement(annA))
	require.NoError(t, sync.BroadcastAnnouncement(updA))
	require.NoError(t, sync.BroadcastAnnouncement(updB))
	v := sync.Graph().ReadOnly()
	ci, ok := v.Channel(annA.ShortChannelID.ToUint64())
	v.Release()
	require.True(t, ok)
	require.Equal(t, uint64(2_000_000), ci.CapacitySat)
	require.NotNil(t, ci.Directions[0])
	require.NotNil(t, ci.Directions[1])
	pa := ci.Directions[updA.Direction()]
	require.Equal(t, uint32(1000), pa.FeeBaseMsat)
	require.Equal(t, uint16(40), ci.Directions[updB.Direction()].CLTVExpiryDelta)

	// Our node_announcement through a PeerManager with the sync as routing handler: accepted now that
	// the graph knows our channel, refused for a node without one.
	pm := peermanager.New(peermanager.MessageHandler{Route: sync}, a.km, a.km, peermanager.Config{ChainHashes: regtestGenesis}, nil)
	var alias [32]byte
	copy(alias[:], "alice")
	addr, err := lnwire.NewDNSHostnameAddress("alice.example", 9735)
	require.NoError(t, err)
	require.NoError(t, pm.BroadcastNodeAnnouncement([3]byte{1, 2, 3}, alias, []lnwire.NodeAddress{addr}, 100))
	require.NoError(t, pm.BroadcastNodeAnnouncement([3]byte{1, 2, 3}, alias, nil, 100), "timestamp moves up by itself")
	var key [33]byte
	copy(key[:], a.id.SerializeCompressed())
	v = sync.Graph().ReadOnly()
	ni, ok := v.Node(key)
	v.Release()
	require.True(t, ok)
	require.NotNil(t, ni.Announcement)
	require.Equal(t, alias, ni.Announcement.Alias)
	require.Equal(t, uint32(101), ni.Announcement.Timestamp)
	loner := newTestNode(t, a.chain, "carol", 3)
	pmC := peermanager.New(peermanager.MessageHandler{Route: sync}, loner.km, loner.km, peermanager.Config{ChainHashes: regtestGenesis}, nil)
	require.ErrorIs(t, pmC.BroadcastNodeAnnouncement([3]byte{}, alias, nil, 100), router.ErrUnknownNode)
	_ = nw
}

// TestAnnouncementSignaturesOnReconnect: after a reconnection each side sends its
// announcement_signatures again, once, and nothing is broadcast again; a channel that is not yet
// announced completes its announcement after the reconnection.
func TestAnnouncementSignaturesOnReconnect(t *testing.T) {
	nw, a, _, id, rec := publicPair(t, true)
	nw.mine(AnnouncementDepth - 3)
	require.True(t, a.channel(id).IsAnnounced)
	rec.take(0)
	rec.take(1)
	nw.disconnect(0, 1)
	nw.connect(0, 1)
	nw.settle()
	require.Equal(t, 2, rec.sent[0][lnwire.MsgAnnouncementSignatures])
	require.Equal(t, 2, rec.sent[1][lnwire.MsgAnnouncementSignatures])
	require.Empty(t, rec.broadcasts[0])
	require.Empty(t, rec.broadcasts[1])
	nw.mine(1)
	require.Equal(t, 2, rec.sent[0][lnwire.MsgAnnouncementSignatures])

	// Lost in flight: bob's announcement_signatures never reach alice. She sent hers and has not
	// announced; after reconnecting, both send theirs again and the announcement completes.
	nw2, a2, _, id2, rec2 := publicPair(t, true)
	nw2.mine(AnnouncementDepth - 4)
	nw2.nodes[0].chain.MineBlocks(1)
	nw2.collect()
	kept := nw2.queue[:0]
	for _, q := range nw2.queue {
		if m, err := lnwire.DecodeMessage(q.data); err == nil && q.from == 1 {
			if _, ok := m.(*lnwire.AnnouncementSignatures); ok {
				continue
			}
		}
		kept = append(kept, q)
	}
	nw2.queue = kept
	for len(nw2.queue) > 0 {
		q := nw2.queue[0]
		nw2.queue = nw2.queue[1:]
		nw2.deliver(q)
	}
	require.False(t, a2.channel(id2).IsAnnounced)
	nw2.disconnect(0, 1)
	nw2.connect(0, 1)
	nw2.settle()
	require.True(t, a2.channel(id2).IsAnnounced)
	require.Len(t, ofType[*lnwire.ChannelAnnouncement](rec2.broadcasts[0]), 1)
}

// TestChannelUpdateDisabledAndEnabled: the peer away DisableGossipTicks ticks makes a disabled
// channel_update, back EnableGossipTicks ticks an enabled one, each newer than the last and accepted by
// a P2PGossipSync; a policy change broadcasts a new update at once.
func TestChannelUpdateDisabledAndEnabled(t *testing.T) {
	nw, a, b, id, rec := publicPair(t, true)
	nw.mine(AnnouncementDepth - 3)
	all := rec.take(0)
	require.Len(t, all, 2)
	sync := newSync(a.chain)
	for _, m := range all {
		require.NoError(t, sync.BroadcastAnnouncement(m))
	}
	last := all[1].(*lnwire.ChannelUpdate)
	policy := func() *router.ChannelPolicy {
		v := sync.Graph().ReadOnly()
		defer v.Release()
		ci, ok := v.Channel(last.ShortChannelID.ToUint64())
		require.True(t, ok)
		return ci.Directions[last.Direction()]
	}
	next := func() *lnwire.ChannelUpdate {
		t.Helper()
		got := rec.take(0)
		require.Len(t, got, 1)
		u := got[0].(*lnwire.ChannelUpdate)
		require.Greater(t, u.Timestamp, last.Timestamp)
		require.NoError(t, sync.BroadcastAnnouncement(u))
		last = u
		return u
	}

	nw.disconnect(0, 1)
	for i := 0; i < DisableGossipTicks-1; i++ {
		a.cm.TimerTickOccurred()
		nw.collect()
	}
	require.Empty(t, rec.broadcasts[0])
	a.cm.TimerTickOccurred()
	nw.collect()
	require.True(t, next().IsDisabled())
	require.True(t, policy().Disabled)
	for i := 0; i < 3; i++ {
		a.cm.TimerTickOccurred()
		nw.collect()
	}
	require.Empty(t, rec.broadcasts[0], "disabled once")

	nw.connect(0, 1)
	nw.settle()
	for i := 0; i < EnableGossipTicks-1; i++ {
		a.cm.TimerTickOccurred()
		nw.collect()
	}
	require.Empty(t, rec.broadcasts[0])
	a.cm.TimerTickOccurred()
	nw.collect()
	require.False(t, next().IsDisabled())
	require.False(t, policy().Disabled)

	// A flap shorter than DisableGossipTicks changes nothing.
	nw.disconnect(0, 1)
	for i := 0; i < DisableGossipTicks-2; i++ {
		a.cm.TimerTickOccurred()
	}
	nw.connect(0, 1)
	nw.settle()
	for i := 0; i < 2*DisableGossipTicks; i++ {
		a.cm.TimerTickOccurred()
		nw.collect()
	}
	require.Empty(t, rec.broadcasts[0])

	// A policy change: a new update at once, in the graph and in ChannelDetails.
	cc := a.cfg.ChannelConfig
	cc.ForwardingFeeBaseMsat, cc.ForwardingFeeProportionalMillionths, cc.CLTVExpiryDelta = 5, 77, 100
	require.NoError(t, a.cm.UpdateChannelConfig(b.id, []lnwire.ChannelID{id}, cc))
	nw.collect()
	u := next()
	require.Equal(t, uint32(5), u.FeeBaseMsat)
	require.Equal(t, uint32(77), u.FeeProportionalMillionths)
	require.Equal(t, uint16(100), u.CLTVExpiryDelta)
	require.Equal(t, uint32(77), policy().FeeProportionalMillionths)
	d := a.channel(id)
	require.Equal(t, uint32(5), d.ForwardingFeeBaseMsat)
	require.Equal(t, uint16(100), d.CLTVExpiryDelta)
	require.NoError(t, a.cm.UpdateChannelConfig(b.id, []lnwire.ChannelID{id}, cc))
	nw.collect()
	require.Empty(t, rec.broadcasts[0], "no change, no update")
	require.ErrorIs(t, a.cm.UpdateChannelConfig(b.id, []lnwire.ChannelID{{9}}, cc), ErrChannelUnavailable)
	cc.CLTVExpiryDelta = 0
	require.ErrorIs(t, a.cm.UpdateChannelConfig(b.id, []lnwire.ChannelID{id}, cc), ErrAPIMisuse)

	// The periodic rebroadcast: announcement and a fresh update.
	for i := 0; i < RebroadcastTicks; i++ {
		a.cm.TimerTickOccurred()
	}
	nw.collect()
	got := rec.take(0)
	require.Len(t, got, 2)
	require.IsType(t, &lnwire.ChannelAnnouncement{}, got[0])
	require.Greater(t, got[1].(*lnwire.ChannelUpdate).Timestamp, last.Timestamp)
}

// TestPrivateChannelUpdate: a private channel is never announced; each side's channel_update goes to
// the other only (dont_forward), again after a reconnection, and ends in the peer's
// CounterpartyForwardingInfo; a policy change reaches the peer at once.
func TestPrivateChannelUpdate(t *testing.T) {
	nw, a, b, id, rec := publicPair(t, false)
	nw.mine(10)
	for i := 0; i < RebroadcastTicks+DisableGossipTicks; i++ {
		a.cm.TimerTickOccurred()
	}
	nw.settle()
	require.Empty(t, rec.broadcasts[0])
	require.Empty(t, rec.broadcasts[1])
	require.Zero(t, rec.sent[0][lnwire.MsgAnnouncementSignatures]+rec.sent[1][lnwire.MsgAnnouncementSignatures])
	require.False(t, a.channel(id).IsPublic)
	require.False(t, b.channel(id).IsAnnounced)
	require.Len(t, rec.updatesTo[0], 1)
	require.Len(t, rec.updatesTo[1], 1)
	require.True(t, rec.updatesTo[1][0].DontForward())
	info := b.channel(id).CounterpartyForwardingInfo
	require.NotNil(t, info)
	require.Equal(t, uint32(1000), info.FeeBaseMsat)
	require.Equal(t, uint16(72), info.CLTVExpiryDelta)
	require.Equal(t, b.cfg.ChannelHandshakeConfig.OurHTLCMinimumMsat, info.HTLCMinimumMsat)
	require.Equal(t, uint32(2000), a.channel(id).CounterpartyForwardingInfo.FeeBaseMsat)

	// The update is not broadcast: a P2PGossipSync would not know the channel anyway.
	sync := newSync(a.chain)
	require.ErrorIs(t, sync.BroadcastAnnouncement(rec.updatesTo[1][0]), router.ErrUnknownChannel)

	nw.disconnect(0, 1)
	nw.connect(0, 1)
	nw.settle()
	require.Len(t, rec.updatesTo[1], 2, "sent again after channel_reestablish")
	require.Greater(t, rec.updatesTo[1][1].Timestamp, rec.updatesTo[1][0].Timestamp)

	cc := a.cfg.ChannelConfig
	cc.ForwardingFeeBaseMsat = 7
	require.NoError(t, a.cm.UpdateChannelConfig(b.id, []lnwire.ChannelID{id}, cc))
	nw.settle()
	require.Equal(t, uint32(7), b.channel(id).CounterpartyForwardingInfo.FeeBaseMsat)
	require.Empty(t, rec.broadcasts[0])

	// Stale or replayed updates change nothing; one in our own direction is ignored.
	old := rec.updatesTo[1][0]
	b.cm.HandleChannelMessage(a.id, old)
	require.Equal(t, uint32(7), b.channel(id).CounterpartyForwardingInfo.FeeBaseMsat)
	b.cm.HandleChannelMessage(a.id, rec.updatesTo[0][0])
	require.Equal(t, uint32(7), b.channel(id).CounterpartyForwardingInfo.FeeBaseMsat)
	require.Empty(t, b.cm.GetAndClearPendingMsgEvents())

	// A forged update (bad signature): warning and disconnection, the channel is unharmed.
	forged := *rec.updatesTo[1][len(rec.updatesTo[1])-1]
	forged.Timestamp += 100
	forged.FeeBaseMsat = 0
	b.cm.HandleChannelMessage(a.id, &forged)
	evs := b.cm.GetAndClearPendingMsgEvents()
	require.Len(t, evs, 1)
	require.IsType(t, &lnwire.Warning{}, evs[0].Msg)
	require.True(t, evs[0].DisconnectPeer)
	require.Equal(t, uint32(7), b.channel(id).CounterpartyForwardingInfo.FeeBaseMsat)
	require.True(t, b.channel(id).IsUsable)
}

// TestBadAnnouncementSignatures: a wrong short_channel_id or signature gets a warning and a
// disconnection, never a closed channel; the real signatures afterwards still work.
func TestBadAnnouncementSignatures(t *testing.T) {
	nw, a, b, id, _ := publicPair(t, true)
	nw.mine(AnnouncementDepth - 3 - 1)
	scid := a.channel(id).ShortChannelID
	_, ca := a.cm.findChannel(id)
	_, cb := b.cm.findChannel(id)
	g := b.cm.gossipCtx()
	g.height++
	good, err := cb.sendAnnouncementSigs(g)
	require.NoError(t, err)
	sigs := good.msgs[0].msg.(*lnwire.AnnouncementSignatures)
	cb.gossip.annSigsSent = false

	for _, tc := range []struct {
		name string
		edit func(m *lnwire.AnnouncementSignatures)
	}{
		{"wrong scid", func(m *lnwire.AnnouncementSignatures) { m.ShortChannelID.TxIndex++ }},
		{"bad node signature", func(m *lnwire.AnnouncementSignatures) { m.NodeSignature = m.BitcoinSignature }},
		{"bad bitcoin signature", func(m *lnwire.AnnouncementSignatures) { m.BitcoinSignature[40] ^= 1 }},
		{"garbage signature", func(m *lnwire.AnnouncementSignatures) { m.NodeSignature = lnwire.Sig{} }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			m := *sigs
			tc.edit(&m)
			// Early (five confirmations): checked as it arrives, since our channel_ready is sent.
			a.cm.HandleChannelMessage(b.id, &m)
			evs := a.cm.GetAndClearPendingMsgEvents()
			require.Len(t, evs, 1)
			w, ok := evs[0].Msg.(*lnwire.Warning)
			require.True(t, ok, "%T", evs[0].Msg)
			require.True(t, evs[0].DisconnectPeer)
			require.Equal(t, id, w.ChannelID)
			require.Nil(t, ca.gossip.theirSigs)
			require.True(t, a.channel(id).IsUsable)
			require.Zero(t, countEvents[events.ChannelClosed](a.takeEvents()))
		})
	}
	require.Equal(t, scid, a.channel(id).ShortChannelID)
	// The genuine ones are kept early, and complete the announcement at six confirmations.
	a.cm.HandleChannelMessage(b.id, sigs)
	require.NotNil(t, ca.gossip.theirSigs)
	nw.mine(1)
	require.True(t, a.channel(id).IsAnnounced)
	require.True(t, b.channel(id).IsAnnounced)
}

// TestPublicChannelSnapshot: Write and Read keep the announcement, the policy, the last update's
// timestamp and the counterparty's forwarding info; the restarted node rebroadcasts on its first tick
// with a newer update. A snapshot without the gossip section (an older lnkit's) still loads, with its
// channels private.
func TestPublicChannelSnapshot(t *testing.T) {
	nw, a, b, id, rec := publicPair(t, true)
	nw.mine(AnnouncementDepth - 3)
	cc := a.cfg.ChannelConfig
	cc.ForwardingFeeBaseMsat = 3
	require.NoError(t, a.cm.UpdateChannelConfig(b.id, []lnwire.ChannelID{id}, cc))
	nw.settle()
	got := rec.take(0)
	lastTS := got[len(got)-1].(*lnwire.ChannelUpdate).Timestamp
	_, ca := a.cm.findChannel(id)
	wantAnn := encoded(t, ca.gossip.announcement)
	wantInfo := *a.channel(id).CounterpartyForwardingInfo

	snap := a.cm.Write()
	nw.disconnect(0, 1)
	a.restart(snap)
	d := a.channel(id)
	require.True(t, d.IsPublic)
	require.True(t, d.IsAnnounced)
	require.Equal(t, uint32(3), d.ForwardingFeeBaseMsat)
	require.Equal(t, wantInfo, *d.CounterpartyForwardingInfo)
	_, ca = a.cm.findChannel(id)
	require.Equal(t, wantAnn, encoded(t, ca.gossip.announcement))
	require.Equal(t, lastTS, ca.gossip.lastUpdateTS)

	a.cm.TimerTickOccurred()
	nw.collect()
	got = rec.take(0)
	require.Len(t, got, 2)
	require.Equal(t, wantAnn, encoded(t, got[0]))
	u := got[1].(*lnwire.ChannelUpdate)
	require.Greater(t, u.Timestamp, lastTS)
	require.Equal(t, uint32(3), u.FeeBaseMsat)
	nw.connect(0, 1)
	nw.settle()
	require.True(t, a.channel(id).IsUsable)

	// The same snapshot without its gossip section.
	var w ser.Writer
	a.cm.writeGossip(&w)
	full := a.cm.Write()
	require.True(t, bytes.HasSuffix(full, w.Bytes()))
	old := full[:len(full)-len(w.Bytes())]
	cm2, err := Read(old, ReadArgs{FeeEstimator: a.chain, Watch: a.chainMon, Broadcaster: a.chain, Keys: a.km,
		Config: a.cfg, Net: a.cm.net, Monitors: a.chainMon.ListMonitors()})
	require.NoError(t, err)
	var d2 *ChannelDetails
	for _, x := range cm2.ListChannels() {
		if x.ChannelID == id {
			d2 = &x
		}
	}
	require.NotNil(t, d2)
	require.False(t, d2.IsPublic)
	require.False(t, d2.IsAnnounced)
	require.Nil(t, d2.CounterpartyForwardingInfo)
	require.Equal(t, a.cfg.ChannelConfig.ForwardingFeeBaseMsat, d2.ForwardingFeeBaseMsat)

	// A gossip section with an unknown even record is refused; an unknown odd one is skipped.
	for _, tc := range []struct {
		typ uint64
		ok  bool
	}{{2, false}, {99, true}} {
		var s lnwire.TLVStream
		s = s.Set(tc.typ, []byte{1, 2, 3})
		_, err := Read(append(append([]byte{}, old...), s.Encode()...), ReadArgs{FeeEstimator: a.chain, Watch: a.chainMon,
			Broadcaster: a.chain, Keys: a.km, Config: a.cfg, Net: a.cm.net, Monitors: a.chainMon.ListMonitors()})
		if tc.ok {
			require.NoError(t, err)
		} else {
			require.ErrorIs(t, err, ErrCorrupt)
		}
	}
}

// TestGossipStateEncoding: every record survives encode and decode; corrupt records are ErrCorrupt.
func TestGossipStateEncoding(t *testing.T) {
	nw, a, _, id, _ := publicPair(t, true)
	nw.mine(AnnouncementDepth - 3)
	_, c := a.cm.findChannel(id)
	c.gossip.disabled = true
	b := c.gossip.encode()
	g, err := decodeGossipState(b)
	require.NoError(t, err)
	require.True(t, g.announce)
	require.True(t, g.disabled)
	require.Equal(t, *c.gossip.policy, *g.policy)
	require.Equal(t, *c.gossip.theirSigs, *g.theirSigs)
	require.Equal(t, *c.gossip.counterpartyInfo, *g.counterpartyInfo)
	require.Equal(t, c.gossip.lastUpdateTS, g.lastUpdateTS)
	require.Equal(t, encoded(t, c.gossip.announcement), encoded(t, g.announcement))
	for _, bad := range [][]byte{{0x07, 0x02, 0x01, 0x00}, {0x03, 0x01, 0x00}, {0x00, 0x00}, {0x05}} {
		_, err := decodeGossipState(bad)
		require.ErrorIs(t, err, ErrCorrupt, "%x", bad)
	}
}

// FuzzDecodeGossipState: no bytes make the gossip decoder panic; what decodes re-encodes to a stream
// that decodes the same.
func FuzzDecodeGossipState(f *testing.F) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	p := forwardingPolicy{FeeBaseMsat: 1, FeeProportionalMillionths: 2, CLTVExpiryDelta: 3}
	g := gossipState{announce: true, policy: &p, lastUpdateTS: 5, theirSigs: &annSigs{},
		counterpartyInfo: &CounterpartyForwardingInfo{FeeBaseMsat: 9}}
	f.Add(g.encode())
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := decodeGossipState(data)
		if err != nil {
			return
		}
		again, err := decodeGossipState(g.encode())
		require.NoError(t, err)
		require.Equal(t, g.encode(), again.encode())
	})
}

// TestPublicChannelThroughPeerManagers: two nodes with real PeerManagers and P2PGossipSyncs: the
// channel, both policies and both node_announcements end in each node's graph, relayed by the
// routing handlers; the counterparty's update also reaches the ChannelManager.
func TestPublicChannelThroughPeerManagers(t *testing.T) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	mk := func(name string, seed byte, public bool) (*pmNode, *router.P2PGossipSync) {
		n := newTestNode(t, chain, name, seed)
		n.cfg.ChannelHandshakeConfig.AnnouncedChannel = public
		n.start(nil)
		sync := newSync(chain)
		pm := peermanager.New(peermanager.MessageHandler{Chan: n.cm, Route: sync}, n.km, n.km, peermanager.Config{ChainHashes: regtestGenesis}, nil)
		return &pmNode{testNode: n, pm: pm}, sync
	}
	a, sa := mk("alice", 1, true)
	b, sb := mk("bob", 2, false)
	l := dial(t, a, b)
	l.settle()
	id := pmOpenChannel(t, l, 1_000_000, 0)
	var ticks time.Duration
	tick := func() {
		tip, _ := chain.BlockAt(chain.Height())
		ticks += router.DefaultFlushInterval
		now := time.Duration(tip.Header.Timestamp.Unix())*time.Second + ticks
		for _, s := range []*router.P2PGossipSync{sa, sb} {
			s.TimerTick(now)
		}
		l.settle()
	}
	for i := 0; i < AnnouncementDepth; i++ {
		chain.MineBlocks(1)
		l.settle()
	}
	require.True(t, a.channel(id).IsAnnounced)
	require.True(t, b.channel(id).IsAnnounced)
	tick()
	scid := a.channel(id).ShortChannelID.ToUint64()
	for _, s := range []*router.P2PGossipSync{sa, sb} {
		v := s.Graph().ReadOnly()
		ci, ok := v.Channel(scid)
		v.Release()
		require.True(t, ok)
		require.NotNil(t, ci.Directions[0])
		require.NotNil(t, ci.Directions[1])
	}
	var alias [32]byte
	copy(alias[:], "bob")
	tip, _ := chain.BlockAt(chain.Height())
	require.NoError(t, b.pm.BroadcastNodeAnnouncement([3]byte{9, 9, 9}, alias, nil, uint32(tip.Header.Timestamp.Unix())))
	tick()
	tick()
	var key [33]byte
	copy(key[:], b.id.SerializeCompressed())
	v := sa.Graph().ReadOnly()
	ni, ok := v.Node(key)
	v.Release()
	require.True(t, ok)
	require.NotNil(t, ni.Announcement, "bob's node_announcement relayed to alice")
	require.Equal(t, alias, ni.Announcement.Alias)
	require.Equal(t, uint32(1000), b.channel(id).CounterpartyForwardingInfo.FeeBaseMsat)
}

// TestClosedChannelUpdateDisabled: when an announced channel closes (here alice force-closes it), alice
// broadcasts her channel_update with the `disable` bit at once, newer than her last one and accepted by a
// gossip sync holding the channel, whose policy is then disabled; a private channel's close broadcasts
// nothing.
func TestClosedChannelUpdateDisabled(t *testing.T) {
	for _, public := range []bool{true, false} {
		nw, a, b, id, rec := publicPair(t, public)
		nw.mine(AnnouncementDepth - 3)
		sync := newSync(a.chain)
		for _, m := range rec.take(0) {
			require.NoError(t, sync.BroadcastAnnouncement(m))
		}
		require.NoError(t, a.cm.ForceCloseBroadcastingLatestTxn(id, b.id))
		nw.settle()
		ups := ofType[*lnwire.ChannelUpdate](rec.take(0))
		if !public {
			require.Empty(t, ups)
			continue
		}
		require.Len(t, ups, 1)
		require.True(t, ups[0].IsDisabled())
		require.NoError(t, sync.BroadcastAnnouncement(ups[0]))
		v := sync.Graph().ReadOnly()
		ci, ok := v.Channel(ups[0].ShortChannelID.ToUint64())
		require.True(t, ok)
		require.True(t, ci.Directions[ups[0].Direction()].Disabled, "the graph has it disabled")
		v.Release()
	}
}
