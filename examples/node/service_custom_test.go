package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

// connectedPair starts two nodes on btcd (no channel) and connects the first to the second.
func connectedPair(t *testing.T, btcd *fakeBtcd, extra ...string) (a, b *Node) {
	t.Helper()
	args := append(append([]string{}, pairNodeArgs...), extra...)
	a = startTestNode(t, testNodeConfig(t, btcd, args...), nil)
	b = startTestNode(t, testNodeConfig(t, btcd, args...), nil)
	_, err := (&service{n: a}).Connect(context.Background(), nodeapi.ConnectParams{NodeID: nodeIDHex(b.nodeID), Address: b.listenAddr()})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return a.isConnected(b.nodeID) && b.isConnected(a.nodeID) },
		10*time.Second, 10*time.Millisecond)
	return a, b
}

// nextCustom waits for the next custom_message event on ch.
func nextCustom(t *testing.T, ch <-chan nodeapi.Event) nodeapi.Event {
	t.Helper()
	return nextOfType(t, ch, "custom_message")
}

// sendcustommessage A→B: B's event stream shows the message with its type and data; an echo request
// shows on B's stream and its reply, with the same data, on A's.
func TestSendCustomMessageBetweenNodes(t *testing.T) {
	btcd := newFakeBtcd(t)
	a, b := connectedPair(t, btcd)
	ctx := context.Background()
	evA, stopA := a.hub.subscribe()
	defer stopA()
	evB, stopB := b.hub.subscribe()
	defer stopB()
	sa := &service{n: a}

	_, err := sa.SendCustomMessage(ctx, nodeapi.SendCustomMessageParams{Peer: nodeIDHex(b.nodeID), Type: 40001, Data: "c0ffee"})
	require.NoError(t, err)
	e := nextCustom(t, evB)
	require.Equal(t, nodeapi.Event{Type: "custom_message", NodeID: nodeIDHex(a.nodeID), MsgType: 40001, Data: "c0ffee"}, e)

	_, err = sa.SendCustomMessage(ctx, nodeapi.SendCustomMessageParams{Peer: nodeIDHex(b.nodeID), Type: 32769, Data: "0102"})
	require.NoError(t, err)
	e = nextCustom(t, evB)
	require.Equal(t, nodeapi.Event{Type: "custom_message", NodeID: nodeIDHex(a.nodeID), MsgType: 32769, Data: "0102"}, e)
	e = nextCustom(t, evA)
	require.Equal(t, nodeapi.Event{Type: "custom_message", NodeID: nodeIDHex(b.nodeID), MsgType: 32771, Data: "0102"}, e)

	st, ok := b.msgProxy.px.Stats(a.nodeID)
	require.True(t, ok)
	require.Equal(t, uint64(2), st.In)
	require.Equal(t, uint64(1), st.Out)
	require.Zero(t, st.Dropped)
}

// With -custom-echo=false the request still reaches the event stream but is not answered; an even
// type the node does not understand disconnects the sender (BOLT 1).
func TestCustomEchoOffAndUnknownEven(t *testing.T) {
	btcd := newFakeBtcd(t)
	a, b := connectedPair(t, btcd, "-custom-echo=false")
	ctx := context.Background()
	evA, stopA := a.hub.subscribe()
	defer stopA()
	evB, stopB := b.hub.subscribe()
	defer stopB()
	sa := &service{n: a}

	_, err := sa.SendCustomMessage(ctx, nodeapi.SendCustomMessageParams{Peer: nodeIDHex(b.nodeID), Type: 32769, Data: "01"})
	require.NoError(t, err)
	require.Equal(t, uint16(32769), nextCustom(t, evB).MsgType)
	// A marker after it: A sees no echo reply before the marker's own echo would have come.
	_, err = (&service{n: b}).SendCustomMessage(ctx, nodeapi.SendCustomMessageParams{Peer: nodeIDHex(a.nodeID), Type: 40001, Data: "02"})
	require.NoError(t, err)
	require.Equal(t, nodeapi.Event{Type: "custom_message", NodeID: nodeIDHex(b.nodeID), MsgType: 40001, Data: "02"}, nextCustom(t, evA))

	_, err = sa.SendCustomMessage(ctx, nodeapi.SendCustomMessageParams{Peer: nodeIDHex(b.nodeID), Type: 40000, Data: ""})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return !b.isConnected(a.nodeID) }, 10*time.Second, 10*time.Millisecond,
		"b disconnects a over an even type it does not know")
}

// sendcustommessage refuses bad input with invalid params, and a peer that is not connected with a
// clear error.
func TestSendCustomMessageErrors(t *testing.T) {
	btcd := newFakeBtcd(t)
	n := startTestNode(t, testNodeConfig(t, btcd, pairNodeArgs...), nil)
	s := &service{n: n}
	ctx := context.Background()
	other := nodeIDHex(startTestNode(t, testNodeConfig(t, btcd), nil).nodeID)
	for name, p := range map[string]nodeapi.SendCustomMessageParams{
		"peer not hex":   {Peer: "zz", Type: 40001},
		"peer too short": {Peer: other[:64], Type: 40001},
		"type too low":   {Peer: other, Type: 32767},
		"type zero":      {Peer: other, Type: 0},
		"data not hex":   {Peer: other, Type: 40001, Data: "abc"},
		"data too long":  {Peer: other, Type: 40001, Data: strings.Repeat("00", 65534)},
	} {
		_, err := s.SendCustomMessage(ctx, p)
		require.ErrorIs(t, err, nodeapi.ErrInvalidParams, name)
	}
	_, err := s.SendCustomMessage(ctx, nodeapi.SendCustomMessageParams{Peer: other, Type: 40001, Data: "00"})
	require.ErrorContains(t, err, "not connected")
	require.NotErrorIs(t, err, nodeapi.ErrInvalidParams)
}

// A payment stream stays far below the default rate limit: it measures the messages per second a
// peer sends (the numbers behind defaultPeerMsgRate and defaultPeerMsgBurst) and checks that
// nothing was dropped.
func TestPaymentStreamNotThrottled(t *testing.T) {
	if testing.Short() {
		t.Skip("a payment stream")
	}
	btcd := newFakeBtcd(t)
	a, b := startPair(t, btcd, 1_000_000)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var mu sync.Mutex
	var attempts int
	for range 4 { // four payers at once: more than one stream's sequential round trips
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := payStream(t, a, b, stop)
			mu.Lock()
			attempts += n
			mu.Unlock()
		}()
	}
	const window = 100 * time.Millisecond
	inAt := func(n, peer *Node) uint64 { st, _ := n.msgProxy.px.Stats(peer.nodeID); return st.In }
	startA, startB := inAt(a, b), inAt(b, a)
	lastA, lastB := startA, startB
	var maxWindow uint64
	begin := time.Now()
	for time.Since(begin) < 3*time.Second {
		time.Sleep(window)
		ia, ib := inAt(a, b), inAt(b, a)
		maxWindow = max(maxWindow, ia-lastA, ib-lastB)
		lastA, lastB = ia, ib
	}
	close(stop)
	wg.Wait()
	el := time.Since(begin).Seconds()
	rateA, rateB := float64(lastA-startA)/el, float64(lastB-startB)/el
	t.Logf("%d payments in %.1f s; messages/s received by the payer %.0f, by the payee %.0f; at most %d in %v",
		attempts, el, rateA, rateB, maxWindow, window)
	for _, n := range []*Node{a, b} {
		for _, st := range n.msgProxy.px.AllStats() {
			require.Zero(t, st.Dropped, fmt.Sprintf("%+v", st))
		}
	}
	require.Less(t, max(rateA, rateB)*5, float64(defaultPeerMsgRate), "the default rate is well above a payment stream")
	require.Less(t, maxWindow*5, uint64(defaultPeerMsgBurst), "the default burst is well above a payment stream's")
}

// B's rate limit (-peer-msg-rate, -peer-msg-burst) end to end: A's custom messages beyond the burst
// are dropped (odd types: nothing else happens), and a channel message beyond it (A's open_channel)
// cuts A off: B sends a warning and disconnects.
func TestPeerRateLimitCutsOff(t *testing.T) {
	btcd := newFakeBtcd(t)
	a := startTestNode(t, testNodeConfig(t, btcd, pairNodeArgs...), nil)
	var logs syncBuffer
	b := startTestNode(t, testNodeConfig(t, btcd, append([]string{"-peer-msg-rate", "0.001", "-peer-msg-burst", "3"}, pairNodeArgs...)...),
		slog.New(slog.NewTextHandler(&logs, nil)))
	fundNode(t, btcd, a, 400_000)
	ctx := context.Background()
	sa := &service{n: a}
	_, err := sa.Connect(ctx, nodeapi.ConnectParams{NodeID: nodeIDHex(b.nodeID), Address: b.listenAddr()})
	require.NoError(t, err)
	require.Eventually(t, func() bool { return a.isConnected(b.nodeID) && b.isConnected(a.nodeID) }, 10*time.Second, 10*time.Millisecond)
	evB, stopB := b.hub.subscribe()
	defer stopB()

	for i := range 4 {
		_, err := sa.SendCustomMessage(ctx, nodeapi.SendCustomMessageParams{Peer: nodeIDHex(b.nodeID), Type: 40001, Data: fmt.Sprintf("%02x", i)})
		require.NoError(t, err)
	}
	for i := range 3 {
		require.Equal(t, fmt.Sprintf("%02x", i), nextCustom(t, evB).Data)
	}
	require.Eventually(t, func() bool { st, _ := b.msgProxy.px.Stats(a.nodeID); return st.In == 4 && st.Dropped == 1 },
		10*time.Second, 10*time.Millisecond, "the fourth message is dropped")
	require.True(t, b.isConnected(a.nodeID), "a dropped odd custom message does not disconnect")

	_, _ = sa.OpenChannel(ctx, nodeapi.OpenChannelParams{NodeID: nodeIDHex(b.nodeID), AmountSat: 100_000})
	// The disconnect removes B's state for A (a redial starts it afresh, with no drop).
	require.Eventually(t, func() bool { st, ok := b.msgProxy.px.Stats(a.nodeID); return !ok || st.Dropped == 0 },
		10*time.Second, 10*time.Millisecond, "b disconnects a over its open_channel beyond the rate")
	require.Contains(t, logs.String(), "peer cut off: disconnecting")
	_, ok := channelWith(b, a)
	require.False(t, ok, "the dropped open_channel never reached b's channel manager")
}

// The proxy's flags: defaults, and values refused.
func TestPeerMsgFlags(t *testing.T) {
	cfg, _, err := parseConfig([]string{"-datadir", t.TempDir()})
	require.NoError(t, err)
	require.Equal(t, float64(defaultPeerMsgRate), cfg.PeerMsgRate)
	require.Equal(t, defaultPeerMsgBurst, cfg.PeerMsgBurst)
	require.True(t, cfg.CustomEcho)
	cfg, _, err = parseConfig([]string{"-datadir", t.TempDir(), "-peer-msg-rate", "0", "-peer-msg-burst", "0", "-custom-echo=false"})
	require.NoError(t, err, "a zero rate turns the limit off")
	require.False(t, cfg.CustomEcho)
	for _, args := range [][]string{{"-peer-msg-rate", "-1"}, {"-peer-msg-rate", "5", "-peer-msg-burst", "0"}} {
		_, _, err := parseConfig(append([]string{"-datadir", t.TempDir()}, args...))
		require.Error(t, err, "%v", args)
	}
}

// A peer cut off by the rate limit in the middle of payments (a misbehaving counterparty, as far as
// the node can tell): the dropped channel message is never half-applied. The connection closes, the
// peers reconnect, channel_reestablish resends, and when the stream stops every payment has settled,
// both balances moved by exactly what succeeded, and the channel is still open.
func TestRateLimitCutOffDuringPayments(t *testing.T) {
	btcd := newFakeBtcd(t)
	limit := []string{"-peer-msg-rate", "10", "-peer-msg-burst", "12"}
	a := startTestNode(t, testNodeConfig(t, btcd, append(append([]string{}, pairNodeArgs...), limit...)...), nil)
	var logs syncBuffer
	b := startTestNode(t, testNodeConfig(t, btcd, append(append([]string{}, pairNodeArgs...), limit...)...),
		slog.New(slog.NewTextHandler(&logs, nil)))
	fundNode(t, btcd, a, 1_000_000)
	openTestChannel(t, btcd, a, b, 500_000)
	ca0, _ := channelWith(a, b)

	stop := make(chan struct{})
	done := make(chan int)
	go func() { done <- payStream(t, a, b, stop) }()
	var once sync.Once
	end := func() { once.Do(func() { close(stop); <-done }) }
	defer end()
	require.Eventually(t, func() bool { return strings.Count(logs.String(), "peer cut off") >= 2 },
		60*time.Second, 20*time.Millisecond, "the payment stream goes over b's limit")
	waitMorePayments(t, a, "the cut-offs")
	end()

	sum, succeeded := settledPayments(t, a, b)
	require.Greater(t, succeeded, 5)
	ca, okA := channelWith(a, b)
	cb, okB := channelWith(b, a)
	require.True(t, okA && okB, "the channel is still open on both sides")
	require.Equal(t, ca0.BalanceMsat-sum, ca.BalanceMsat, "the payer's balance moved by exactly what succeeded")
	require.Equal(t, sum, cb.BalanceMsat, "the payee's balance is exactly what succeeded")
	require.Equal(t, sum, receivedMsat(b), "the payee's invoices say the same")
}
