package peermanager

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/lnwire"
)

// fakeRoute is a RoutingMessageHandler that records what it is given, refuses messages whose first
// gossip_timestamp_filter names a GossipAction (see verdict), and hands out queued gossip within the budget.
type fakeRoute struct {
	mu          sync.Mutex
	connects    []nodeKey
	disconnects []nodeKey
	got         []lnwire.MessageType
	pending     map[nodeKey][]lnwire.Message
	budgets     []int
	connectErr  error
	// broadcast records BroadcastAnnouncement's messages; broadcastErr is its answer.
	broadcast    []lnwire.Message
	broadcastErr error
}

func newFakeRoute() *fakeRoute { return &fakeRoute{pending: map[nodeKey][]lnwire.Message{}} }

// verdict is a gossip_timestamp_filter whose first_timestamp says how fakeRoute answers it: 0
// accepted, 1+GossipAction refused with that action, 0xff a plain error.
func verdict(v uint32) *lnwire.GossipTimestampFilter {
	return &lnwire.GossipTimestampFilter{FirstTimestamp: v}
}

// gossipSamples returns a well-formed message of every type the routing handler gets.
func gossipSamples() []lnwire.Message {
	pub := privFromSeed(9).PubKey()
	ids := []lnwire.ShortChannelID{lnwire.NewShortChannelIDFromUint64(1 << 40)}
	return []lnwire.Message{
		&lnwire.ChannelAnnouncement{NodeID1: pub, NodeID2: pub, BitcoinKey1: pub, BitcoinKey2: pub},
		&lnwire.NodeAnnouncement{NodeID: pub},
		&lnwire.ChannelUpdate{},
		&lnwire.QueryShortChannelIDs{ShortChannelIDs: ids},
		&lnwire.ReplyShortChannelIDsEnd{},
		&lnwire.QueryChannelRange{NumberOfBlocks: 1},
		&lnwire.ReplyChannelRange{ShortChannelIDs: ids},
		&lnwire.GossipTimestampFilter{},
	}
}

var errGossipRefused = errors.New("refused by the fake routing handler")

func (f *fakeRoute) HandleRoutingMessage(from *btcec.PublicKey, msg lnwire.Message) error {
	f.mu.Lock()
	f.got = append(f.got, msg.MsgType())
	f.mu.Unlock()
	v, ok := msg.(*lnwire.GossipTimestampFilter)
	if !ok || v.FirstTimestamp == 0 {
		return nil
	}
	if v.FirstTimestamp == 0xff {
		return errGossipRefused
	}
	return &GossipError{Action: GossipAction(v.FirstTimestamp - 1), Err: fmt.Errorf("%w: %d", errGossipRefused, v.FirstTimestamp)}
}

func (f *fakeRoute) PeerConnected(id *btcec.PublicKey, _ *lnwire.Init, _ bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.connectErr != nil {
		return f.connectErr
	}
	f.connects = append(f.connects, keyOf(id))
	return nil
}

func (f *fakeRoute) PeerDisconnected(id *btcec.PublicKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.disconnects = append(f.disconnects, keyOf(id))
}

func (f *fakeRoute) ProvidedInitFeatures(*btcec.PublicKey) *lnwire.FeatureVector {
	return lnwire.NewFeatureVector(lnwire.GossipQueriesOptional)
}

func (f *fakeRoute) PendingMessages(id *btcec.PublicKey, budget int) []lnwire.Message {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.budgets = append(f.budgets, budget)
	q := f.pending[keyOf(id)]
	var out []lnwire.Message
	for len(q) > 0 {
		b, err := lnwire.EncodeMessage(q[0])
		if err != nil || len(b) > budget {
			break
		}
		budget -= len(b)
		out = append(out, q[0])
		q = q[1:]
	}
	f.pending[keyOf(id)] = q
	return out
}

func (f *fakeRoute) BroadcastAnnouncement(msg lnwire.Message) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.broadcast = append(f.broadcast, msg)
	return f.broadcastErr
}

func (f *fakeRoute) queue(id *btcec.PublicKey, msgs ...lnwire.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending[keyOf(id)] = append(f.pending[keyOf(id)], msgs...)
}

func (f *fakeRoute) left(id *btcec.PublicKey) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.pending[keyOf(id)])
}

func (f *fakeRoute) types() []lnwire.MessageType {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]lnwire.MessageType(nil), f.got...)
}

func encodeGossip(t *testing.T, m lnwire.Message) []byte {
	b, err := lnwire.EncodeMessage(m)
	require.NoError(t, err)
	return b
}

func TestRoutingHandlerGetsGossip(t *testing.T) {
	a := newNode(t, 1, nodeOpts{route: true})
	r, init := rawConnect(t, a, 7)
	require.True(t, init.Features.IsSet(lnwire.GossipQueriesOptional), "the routing handler's features are advertised")
	require.NoError(t, r.send(&lnwire.Init{}))
	require.True(t, a.chanH.isConnected(r.priv.PubKey()))
	require.Equal(t, []nodeKey{keyOf(r.priv.PubKey())}, a.route.connects)

	// Every gossip type reaches the routing handler in order, not the custom handler; the channel
	// handler gets channel_update only (for its counterparties' forwarding parameters), and
	// announcement_signatures, exchanged with the channel's peer, goes to it alone.
	var sent []lnwire.MessageType
	var pts [][]byte
	for _, m := range gossipSamples() {
		sent = append(sent, m.MsgType())
		pts = append(pts, encodeGossip(t, m))
	}
	require.NoError(t, r.sendRaw(pts...))
	require.Equal(t, sent, a.route.types())
	require.Len(t, a.chanH.messages(), 1)
	require.IsType(t, &lnwire.ChannelUpdate{}, a.chanH.messages()[0].msg)
	require.Empty(t, a.custom.received())
	require.NoError(t, r.send(&lnwire.AnnouncementSignatures{}))
	require.Len(t, a.chanH.messages(), 2)
	require.Equal(t, sent, a.route.types())

	// Ignore: nothing is sent back. Warn (GossipError or any other error): a warning, still connected.
	require.NoError(t, r.send(verdict(1+uint32(GossipIgnore))))
	require.Empty(t, r.read())
	require.NoError(t, r.send(verdict(1+uint32(GossipWarn))))
	require.NoError(t, r.send(verdict(0xff)))
	out := r.read()
	require.Len(t, out, 2)
	for _, m := range out {
		w, ok := m.(*lnwire.Warning)
		require.True(t, ok, "got %T", m)
		require.Contains(t, string(w.Data), errGossipRefused.Error())
	}
	require.False(t, r.desc.isDisconnected())

	// Disconnect: a warning, then the connection is failed; both handlers hear of it.
	err := r.send(verdict(1 + uint32(GossipDisconnect)))
	require.ErrorIs(t, err, ErrBadGossip)
	require.ErrorIs(t, err, errGossipRefused)
	out = r.read()
	require.Len(t, out, 1)
	require.IsType(t, &lnwire.Warning{}, out[0])
	require.False(t, a.chanH.isConnected(r.priv.PubKey()))
	require.Equal(t, []nodeKey{keyOf(r.priv.PubKey())}, a.route.disconnects)
}

// TestRoutingHandlerMalformedGossip: with a routing handler, gossip that does not decode is invalid
// (the handler gets typed messages only).
func TestRoutingHandlerMalformedGossip(t *testing.T) {
	a := newNode(t, 1, nodeOpts{route: true})
	r, _ := rawConnect(t, a, 7)
	require.NoError(t, r.send(&lnwire.Init{}))
	require.ErrorIs(t, r.sendRaw([]byte{0x01, 0x00, 1}), ErrInvalidMessage)
	require.Empty(t, a.route.types())
}

func TestRoutingHandlerRejectsPeer(t *testing.T) {
	a := newNode(t, 1, nodeOpts{route: true})
	a.route.connectErr = errGossipRefused
	r, _ := rawConnect(t, a, 7)
	err := r.send(&lnwire.Init{})
	require.ErrorIs(t, err, ErrPeerRejected)
	require.ErrorIs(t, err, errGossipRefused)
	// The channel handler had accepted the peer: it is told the peer went, and nobody else is.
	require.False(t, a.chanH.isConnected(r.priv.PubKey()))
	a.chanH.checkNoViolations(t)
	require.Empty(t, a.route.disconnects)
}

// TestGossipPulledWithinBudget: ProcessEvents takes only as much gossip as the peer's outbound buffer
// holds before it pauses, so a peer that does not read keeps the rest in the routing handler.
func TestGossipPulledWithinBudget(t *testing.T) {
	const pause = 16 * 1024
	a := newNode(t, 1, nodeOpts{route: true, cfg: Config{OutboundBufferPauseBytes: pause}})
	b := newNode(t, 2, nodeOpts{route: true})
	l := connect(t, a, b, 3)
	l.run()
	require.True(t, a.chanH.isConnected(b.id()))

	const n, size = 100, 1000
	var msgs []lnwire.Message
	for i := 0; i < n; i++ {
		msgs = append(msgs, &lnwire.ChannelUpdate{Timestamp: uint32(i), ExtraData: make([]byte, size-2-136)})
	}
	a.route.queue(b.id(), msgs...)

	// a's socket takes nothing (b does not read): one ProcessEvents moves at most a pause's worth onto
	// the connection.
	l.da.mu.Lock()
	l.da.blocked = true
	l.da.mu.Unlock()
	a.pm.ProcessEvents()
	taken := n - a.route.left(b.id())
	require.Positive(t, taken)
	require.LessOrEqual(t, taken*(size+2), pause)
	a.pm.ProcessEvents()
	require.Equal(t, n-taken, a.route.left(b.id()), "nothing more is pulled while the buffer is full")

	// Once the socket drains, everything arrives.
	l.da.mu.Lock()
	l.da.blocked = false
	l.da.mu.Unlock()
	require.NoError(t, a.pm.WriteBufferSpaceAvail(l.da))
	l.run()
	require.Zero(t, a.route.left(b.id()))
	got := b.route.types()
	require.Len(t, got, n)
	a.route.mu.Lock()
	for _, bgt := range a.route.budgets {
		require.LessOrEqual(t, bgt, pause)
	}
	a.route.mu.Unlock()
}

// TestNoRoutingHandler: without one, gossip is ignored and the connection kept.
func TestNoRoutingHandler(t *testing.T) {
	a := newNode(t, 1, nodeOpts{})
	r, init := rawConnect(t, a, 7)
	require.False(t, init.Features.IsSet(lnwire.GossipQueriesOptional))
	require.NoError(t, r.send(&lnwire.Init{}))
	require.NoError(t, r.send(verdict(1+uint32(GossipDisconnect))))
	require.Empty(t, r.read())
	require.True(t, a.chanH.isConnected(r.priv.PubKey()))
}
