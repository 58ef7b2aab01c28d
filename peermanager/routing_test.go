package peermanager

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/lnwire"
)

// fakeRoute is a RoutingMessageHandler that records what it is given, refuses messages whose first
// payload byte names a GossipAction (see gossipMsg), and hands out queued gossip within the budget.
type fakeRoute struct {
	mu          sync.Mutex
	connects    []nodeKey
	disconnects []nodeKey
	got         []lnwire.MessageType
	pending     map[nodeKey][]lnwire.Message
	budgets     []int
	connectErr  error
}

func newFakeRoute() *fakeRoute { return &fakeRoute{pending: map[nodeKey][]lnwire.Message{}} }

// gossipMsg is a gossip_timestamp_filter-sized message of type t (256-265) whose first byte says how
// fakeRoute answers it: 0 accepted, 1+GossipAction refused with that action, 0xff a plain error.
func gossipMsg(t lnwire.MessageType, verdict byte, size int) *lnwire.UnknownMessage {
	p := make([]byte, size)
	p[0] = verdict
	return &lnwire.UnknownMessage{Type: t, Payload: p}
}

var errGossipRefused = errors.New("refused by the fake routing handler")

func (f *fakeRoute) HandleRoutingMessage(from *btcec.PublicKey, msg lnwire.Message) error {
	f.mu.Lock()
	f.got = append(f.got, msg.MsgType())
	f.mu.Unlock()
	u, ok := msg.(*lnwire.UnknownMessage)
	if !ok || len(u.Payload) == 0 || u.Payload[0] == 0 {
		return nil
	}
	if u.Payload[0] == 0xff {
		return errGossipRefused
	}
	return &GossipError{Action: GossipAction(u.Payload[0] - 1), Err: fmt.Errorf("%w: type %d", errGossipRefused, u.Type)}
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

	// Every gossip type reaches the routing handler in order, not the channel or custom handler.
	var sent []lnwire.MessageType
	var pts [][]byte
	for typ := lnwire.MessageType(256); typ <= 265; typ++ {
		if typ == 259 {
			continue // announcement_signatures goes to the channel handler
		}
		sent = append(sent, typ)
		pts = append(pts, encodeGossip(t, gossipMsg(typ, 0, 40)))
	}
	require.NoError(t, r.sendRaw(pts...))
	require.Equal(t, sent, a.route.types())
	require.Empty(t, a.chanH.messages())
	require.Empty(t, a.custom.received())

	// Ignore: nothing is sent back. Warn (GossipError or any other error): a warning, still connected.
	require.NoError(t, r.send(gossipMsg(258, 1+byte(GossipIgnore), 40)))
	require.Empty(t, r.read())
	require.NoError(t, r.send(gossipMsg(258, 1+byte(GossipWarn), 40)))
	require.NoError(t, r.send(gossipMsg(257, 0xff, 40)))
	out := r.read()
	require.Len(t, out, 2)
	for _, m := range out {
		w, ok := m.(*lnwire.Warning)
		require.True(t, ok, "got %T", m)
		require.Contains(t, string(w.Data), errGossipRefused.Error())
	}
	require.False(t, r.desc.isDisconnected())

	// Disconnect: a warning, then the connection is failed; both handlers hear of it.
	err := r.send(gossipMsg(256, 1+byte(GossipDisconnect), 40))
	require.ErrorIs(t, err, ErrBadGossip)
	require.ErrorIs(t, err, errGossipRefused)
	out = r.read()
	require.Len(t, out, 1)
	require.IsType(t, &lnwire.Warning{}, out[0])
	require.False(t, a.chanH.isConnected(r.priv.PubKey()))
	require.Equal(t, []nodeKey{keyOf(r.priv.PubKey())}, a.route.disconnects)
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
		m := gossipMsg(258, 0, size)
		binary.BigEndian.PutUint32(m.Payload[1:], uint32(i))
		msgs = append(msgs, m)
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
	require.NoError(t, r.send(gossipMsg(256, 1+byte(GossipDisconnect), 40)))
	require.Empty(t, r.read())
	require.True(t, a.chanH.isConnected(r.priv.PubKey()))
}
