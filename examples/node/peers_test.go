package main

import (
	"context"
	"encoding/json"
	"log/slog"
	"math/bits"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
)

// savedPeers reads the peers a node saved in its store.
func savedPeers(t *testing.T, kv kvstore.KVStore) map[string]string {
	t.Helper()
	b, err := readKey(kv, keyPeers)
	require.NoError(t, err)
	peers := map[string]string{}
	if b != nil {
		require.NoError(t, json.Unmarshal(b, &peers))
	}
	return peers
}

// TestConnectSavesOnlyHandshakenAddresses: connect normalises the node id (an upper-case one is saved
// lower-case, once), saves the address only after a handshake with it, dials nothing and saves nothing
// for a peer already connected, and fails at once with a wrong node id (the peer hangs up in the
// handshake) instead of waiting for the timeout.
func TestConnectSavesOnlyHandshakenAddresses(t *testing.T) {
	btcd := newFakeBtcd(t)
	a := startTestNode(t, testNodeConfig(t, btcd, pairNodeArgs...), nil)
	b := startTestNode(t, testNodeConfig(t, btcd, pairNodeArgs...), nil)
	svc := &service{n: a}
	ctx := context.Background()
	bID := nodeIDHex(b.nodeID)

	res, err := svc.Connect(ctx, nodeapi.ConnectParams{NodeID: strings.ToUpper(bID) + "@" + b.listenAddr()})
	require.NoError(t, err)
	require.Equal(t, bID, res.NodeID, "the node id answered in its canonical form")
	require.Equal(t, map[string]string{bID: b.listenAddr()}, savedPeers(t, a.kv))

	// Already connected: nothing is dialled, the address given is not saved.
	res, err = svc.Connect(ctx, nodeapi.ConnectParams{NodeID: bID, Address: "127.0.0.1:1"})
	require.NoError(t, err)
	require.Equal(t, bID, res.NodeID)
	require.Equal(t, map[string]string{bID: b.listenAddr()}, savedPeers(t, a.kv))
	a.mu.Lock()
	require.Equal(t, map[string]string{bID: b.listenAddr()}, a.peerAddrs)
	a.mu.Unlock()

	// A wrong node id at b's address: b cannot decrypt act one and hangs up; connect says so at once.
	wrong := nodeIDHexOf(testID(40))
	start := time.Now()
	_, err = svc.Connect(ctx, nodeapi.ConnectParams{NodeID: wrong, Address: b.listenAddr()})
	require.ErrorIs(t, err, errHandshakeClosed)
	require.ErrorContains(t, err, "is "+wrong+" the node id of the node listening there?")
	require.Less(t, time.Since(start), 5*time.Second, "no waiting for the 15 s timeout")
	require.NotContains(t, savedPeers(t, a.kv), wrong)

	// No port: 9735.
	cctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = svc.Connect(cctx, nodeapi.ConnectParams{NodeID: wrong + "@127.0.0.1"})
	require.ErrorContains(t, err, "127.0.0.1:9735")
	_, err = svc.Connect(ctx, nodeapi.ConnectParams{NodeID: wrong + "@127.0.0.1:x"})
	require.ErrorIs(t, err, nodeapi.ErrInvalidParams)
}

func TestWithDefaultPort(t *testing.T) {
	for in, want := range map[string]string{
		"example.com": "example.com:9735", "1.2.3.4": "1.2.3.4:9735", "[::1]": "[::1]:9735", "::1": "[::1]:9735",
		"1.2.3.4:10": "1.2.3.4:10", "[::1]:10": "[::1]:10", "host:": "host:9735",
	} {
		got, err := withDefaultPort(in)
		require.NoError(t, err, in)
		require.Equal(t, want, got, in)
	}
	for _, in := range []string{"host:x", "host:0", "host:70000", "a:b:c", ":10", "[]", "a b:1", "[::1"} {
		_, err := withDefaultPort(in)
		require.ErrorIs(t, err, nodeapi.ErrInvalidParams, in)
	}
}

// TestNormalisePeers: saved peers keyed by upper-case or mixed-case node ids (as earlier versions saved
// what the user typed) are keyed lower-case, the lower-case twin winning; junk is dropped.
func TestNormalisePeers(t *testing.T) {
	id := nodeIDHexOf(testID(41))
	log := slog.New(slog.DiscardHandler)
	out, changed := normalisePeers(map[string]string{strings.ToUpper(id): "127.0.0.1:1", id: "127.0.0.1:2",
		"nonsense": "127.0.0.1:3"}, log)
	require.True(t, changed)
	require.Equal(t, map[string]string{id: "127.0.0.1:2"}, out)
	out, changed = normalisePeers(map[string]string{strings.ToUpper(id): "127.0.0.1:1"}, log)
	require.True(t, changed)
	require.Equal(t, map[string]string{id: "127.0.0.1:1"}, out)
	out, changed = normalisePeers(map[string]string{id: "127.0.0.1:2"}, log)
	require.False(t, changed)
	require.Equal(t, map[string]string{id: "127.0.0.1:2"}, out)
}

// announceAddr gives node id, which must have a channel in g, a node_announcement with addr.
func announceAddr(t *testing.T, g *router.NetworkGraph, id [33]byte, addr string) {
	t.Helper()
	na, err := parseNodeAddress(addr)
	require.NoError(t, err)
	raw, err := lnwire.AppendNodeAddresses(nil, []lnwire.NodeAddress{na}, nil)
	require.NoError(t, err)
	require.NoError(t, g.UpdateNodeInfo(id, router.NodeAnnouncementInfo{Timestamp: uint32(time.Now().Unix()),
		Addresses: raw, Features: payeeFeatures()}))
}

// TestRestartReconnectsChannelPeers: after a restart the node reconnects to every peer it has a
// channel with, even one that only ever connected to it (no saved address), through the addresses of
// the peer's node_announcement in the graph; the address that worked is saved.
func TestRestartReconnectsChannelPeers(t *testing.T) {
	btcd := newFakeBtcd(t)
	a, b := startPair(t, btcd, 200_000) // a connected to b: b has no address of a
	require.Empty(t, savedPeers(t, b.kv))
	aID, bID := nodeKey(a.nodeID.SerializeCompressed()), nodeKey(b.nodeID.SerializeCompressed())
	// a's announcement, as gossip would have brought it to b.
	addChannel(t, b.routing.graph, testChannel{scid: scid(1, 1, 0), a: aID, b: bID, capSat: 200_000,
		announce: time.Duration(time.Now().UnixNano())})
	announceAddr(t, b.routing.graph, aID, a.listenAddr())

	// b restarts on another port: a's saved address of b is stale, so b has to dial a.
	cfgB := b.cfg
	b.Stop()
	require.Eventually(t, func() bool { return !a.isConnected(b.nodeID) }, 5*time.Second, 5*time.Millisecond)
	b = startTestNode(t, cfgB, nil)
	require.Eventually(t, func() bool { return usable(a, b) && usable(b, a) }, 20*time.Second, 10*time.Millisecond,
		"b redialled a at its announced address")
	require.True(t, b.isConnectedOutbound(a.nodeID), "b dialled a")
	want := map[string]string{nodeIDHex(a.nodeID): a.listenAddr()}
	require.Eventually(t, func() bool {
		got := savedPeers(t, b.kv)
		return len(got) == 1 && got[nodeIDHex(a.nodeID)] == want[nodeIDHex(a.nodeID)]
	}, 5*time.Second, 5*time.Millisecond, "the address that completed a handshake is saved")
}

// TestRedialLogsWithBackoff: a saved peer whose address hangs up at every handshake is redialled with
// backoff, and the failures are logged at the 1st, 2nd, 4th, 8th... attempt only. The saved upper-case
// node id is rewritten lower-case.
func TestRedialLogsWithBackoff(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var accepts atomic.Int64
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			accepts.Add(1)
			_ = c.Close() // a wrong node: hangs up in the handshake
		}
	}()
	btcd := newFakeBtcd(t)
	cfg := testNodeConfig(t, btcd, pairNodeArgs...)
	cfg.redialMin = 2 * time.Millisecond
	peer := nodeIDHexOf(testID(42))
	withStore(t, cfg, func(kv kvstore.KVStore) {
		require.NoError(t, kv.Write(keyPeers, []byte(`{"`+strings.ToUpper(peer)+`":"`+ln.Addr().String()+`"}`)))
	})
	var logs syncBuffer
	n := startTestNode(t, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	require.Equal(t, map[string]string{peer: ln.Addr().String()}, savedPeers(t, n.kv))
	require.Eventually(t, func() bool { return accepts.Load() >= 9 }, 20*time.Second, 5*time.Millisecond)
	n.Stop()
	attempts := accepts.Load()
	logged := int64(strings.Count(logs.String(), "cannot reconnect to peer"))
	t.Logf("%d attempts, %d logged", attempts, logged)
	require.GreaterOrEqual(t, logged, int64(4), "attempts 1, 2, 4 and 8 are logged")
	require.LessOrEqual(t, logged, int64(bits.Len64(uint64(attempts))), "only attempts that are powers of two")
	require.Contains(t, logs.String(), errHandshakeClosed.Error())
}
