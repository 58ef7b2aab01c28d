package router

import (
	"math/rand"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
)

// memSocket is one end of an in-memory connection: what the PeerManager writes is kept for the test
// to deliver to the other end.
type memSocket struct {
	mu     sync.Mutex
	out    []byte
	closed bool
}

func (s *memSocket) SendData(data []byte, _ bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return 0
	}
	s.out = append(s.out, data...)
	return len(data)
}

func (s *memSocket) DisconnectSocket() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
}

func (s *memSocket) take() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.out
	s.out = nil
	return b
}

// gossipNode is a PeerManager whose only handler is a P2PGossipSync.
type gossipNode struct {
	km   *keys.KeysManager
	sync *P2PGossipSync
	pm   *peermanager.PeerManager
}

func newGossipNode(seed byte, cfg GossipConfig) *gossipNode {
	n := &gossipNode{km: keys.NewKeysManager([32]byte{seed}, 1, 0)}
	n.sync = newTestSync(cfg)
	n.pm = peermanager.New(peermanager.MessageHandler{Route: n.sync}, n.km, n.km, peermanager.Config{}, nil)
	return n
}

// memLink is an in-memory connection between a (initiator) and b.
type memLink struct {
	t      *testing.T
	a, b   *gossipNode
	sa, sb *memSocket
}

func linkNodes(t *testing.T, a, b *gossipNode) *memLink {
	l := &memLink{t: t, a: a, b: b, sa: &memSocket{}, sb: &memSocket{}}
	act1, err := a.pm.NewOutboundConnection(b.km.GetNodeID(), l.sa)
	require.NoError(t, err)
	require.NoError(t, b.pm.NewInboundConnection(l.sb))
	_, err = b.pm.ReadEvent(l.sb, act1)
	require.NoError(t, err)
	return l
}

// step moves what each side wrote to the other; it reports whether any byte moved.
func (l *memLink) step() bool {
	moved := false
	if out := l.sa.take(); len(out) > 0 {
		_, err := l.b.pm.ReadEvent(l.sb, out)
		require.NoError(l.t, err)
		moved = true
	}
	if out := l.sb.take(); len(out) > 0 {
		_, err := l.a.pm.ReadEvent(l.sa, out)
		require.NoError(l.t, err)
		moved = true
	}
	return moved
}

// settle runs the links' nodes until nothing moves, ticking the host time by a minute whenever the
// links are idle (so relayed gossip is flushed), at most ticks times.
func settle(t *testing.T, now *time.Duration, ticks int, links ...*memLink) {
	nodes := map[*gossipNode]bool{}
	for _, l := range links {
		nodes[l.a], nodes[l.b] = true, true
	}
	for i := 0; i < ticks; i++ {
		for round := 0; round < 100_000; round++ {
			for n := range nodes {
				n.pm.ProcessEvents()
			}
			moved := false
			for _, l := range links {
				if l.step() {
					moved = true
				}
			}
			if !moved {
				break
			}
		}
		*now += time.Minute
		for n := range nodes {
			n.sync.TimerTick(*now)
			n.pm.TimerTickOccurred()
		}
	}
}

// TestGossipInitialSyncConverges: a node with an empty graph syncs, through gossip queries over a
// PeerManager connection, the whole graph of a peer; a third node syncs it from the second (which
// learned it by gossip); new gossip then reaches both by relay.
func TestGossipInitialSyncConverges(t *testing.T) {
	nNodes, nChannels := 60, 250
	if raceEnabled {
		nNodes, nChannels = 25, 90 // ECDSA is some fifty times slower under the race detector
	}
	w := newGossipWorld(t, 21, nNodes, nChannels)
	a := newGossipNode(1, GossipConfig{})
	b := newGossipNode(2, GossipConfig{QueryBatchSize: 40})
	c := newGossipNode(3, GossipConfig{QueryBatchSize: 100})
	feeder := gossipKey(rand.New(rand.NewSource(22))).PubKey()
	require.NoError(t, a.sync.PeerConnected(feeder, &lnwire.Init{Features: lnwire.NewFeatureVector()}, true))
	for _, m := range w.msgs {
		require.NoError(t, a.sync.HandleRoutingMessage(feeder, m))
	}
	a.sync.PeerDisconnected(feeder)
	want := graphDigest(a.sync.graph)
	require.Equal(t, nChannels, a.sync.graph.NumChannels())

	now := testNow
	ab := linkNodes(t, a, b)
	settle(t, &now, 3, ab)
	require.True(t, b.sync.IsSynced())
	require.Equal(t, want, graphDigest(b.sync.graph))

	bc := linkNodes(t, b, c)
	settle(t, &now, 3, ab, bc)
	require.True(t, c.sync.IsSynced())
	require.Equal(t, want, graphDigest(c.sync.graph))

	// A new update enters at a; the next flushes carry it to b, then c.
	ch := w.channels[0]
	upd := ch.update(t, 1, uint32(now/time.Second), 4242)
	require.NoError(t, a.sync.HandleRoutingMessage(feeder, upd))
	settle(t, &now, 3, ab, bc)
	require.Equal(t, graphDigest(a.sync.graph), graphDigest(c.sync.graph))
	require.EqualValues(t, 4242, channelInfo(t, c.sync.graph, ch.scid).Directions[1].FeeBaseMsat)

	// c checked each message once: no message was verified twice.
	st := c.sync.Stats()
	require.Zero(t, st.Invalid)
	require.EqualValues(t, nChannels, st.ChannelAnnouncements)
	require.EqualValues(t, 2*nChannels+1, st.ChannelUpdates)
}

// TestGossipSyncOverPeerManagerBadPeer: a peer sending a channel_update with a bad signature is
// warned and disconnected by the PeerManager.
func TestGossipSyncOverPeerManagerBadPeer(t *testing.T) {
	w := newGossipWorld(t, 23, 4, 3)
	a := newGossipNode(4, GossipConfig{})
	b := newGossipNode(5, GossipConfig{})
	now := testNow
	ab := linkNodes(t, a, b)
	settle(t, &now, 1, ab)
	require.Len(t, a.pm.GetPeerNodeIDs(), 1)
	// a sends b the announcement and a forged update, as relayed gossip from its own origin.
	require.NoError(t, a.sync.BroadcastAnnouncement(w.msgs[0]))
	ann := w.msgs[0].(*lnwire.ChannelAnnouncement)
	c := w.channels[0]
	forged := c.update(t, 0, uint32(now/time.Second), 1)
	forged.FeeBaseMsat = 2 // the signature no longer matches
	a.sync.mu.Lock()
	raw, err := lnwire.EncodeMessage(forged)
	require.NoError(t, err)
	a.sync.store.putUpdate(ann.ShortChannelID.ToUint64(), 0, forged.Timestamp, raw, ourOrigin, &a.sync.relay)
	a.sync.relay.flush()
	a.sync.mu.Unlock()
	for i := 0; i < 10; i++ {
		a.pm.ProcessEvents()
		b.pm.ProcessEvents()
		if out := ab.sa.take(); len(out) > 0 {
			if _, err = b.pm.ReadEvent(ab.sb, out); err != nil {
				break
			}
		}
	}
	require.ErrorIs(t, err, peermanager.ErrBadGossip)
	require.ErrorIs(t, err, ErrInvalidSignature)
	require.Empty(t, b.pm.GetPeerNodeIDs())
	require.Equal(t, 1, b.sync.graph.NumChannels(), "the announcement was applied, the forged update not")
	require.Nil(t, channelInfo(t, b.sync.graph, c.scid).Directions[0])
}
