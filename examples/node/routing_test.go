package main

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
)

// syncBuffer is a log sink safe for the node's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testNodeConfig is the node's default configuration on regtest against btcd, without p2p listening,
// polling the chain every 20 ms.
func testNodeConfig(t testing.TB, btcd *fakeBtcd, extra ...string) *Config {
	t.Helper()
	args := append([]string{"-datadir", t.TempDir(), "-network", "regtest", "-btcd.rpchost", btcd.addr(),
		"-btcd.rpcuser", "u", "-btcd.rpcpass", "p", "-btcd.notls", "-listen", "off", "-rpclisten", "127.0.0.1:0", "-tick.chain", "20ms"}, extra...)
	cfg, rest, err := parseConfig(args)
	require.NoError(t, err)
	require.Empty(t, rest)
	return cfg
}

// withStore opens the store of a stopped node of cfg (-store fs) and calls f with it.
func withStore(t *testing.T, cfg *Config, f func(kv kvstore.KVStore)) {
	t.Helper()
	s, err := openKV(context.Background(), cfg.Store, filepath.Join(cfg.DataDir, "regtest"), cfg.PostgresDSN, cfg.PostgresTimeout)
	require.NoError(t, err)
	defer s.close()
	f(s.kv)
}

// startTestNode opens and starts a node on cfg's datadir; it is stopped at the end of the test (Stop
// may be called before).
func startTestNode(t testing.TB, cfg *Config, log *slog.Logger) *Node {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n, err := NewNode(cfg, log)
	require.NoError(t, err)
	require.NoError(t, n.Start())
	t.Cleanup(n.Stop)
	return n
}

// fundingFor is a transaction paying valueSat to the 2-of-2 P2WSH of the two keys, at output 0.
func fundingFor(t *testing.T, seed1, seed2 byte, valueSat int64) (*wire.MsgTx, [2][33]byte) {
	t.Helper()
	k1, id1 := testKey(seed1)
	k2, id2 := testKey(seed2)
	_, pk, err := bolt3.FundingScript(k1.PubKey(), k2.PubKey())
	require.NoError(t, err)
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: [32]byte{9}, Index: 0}})
	tx.AddTxOut(&wire.TxOut{Value: valueSat, PkScript: pk})
	b1, b2 := ordered(id1, id2)
	return tx, [2][33]byte{b1, b2}
}

// readGraph decodes the graph snapshot in kv.
func readGraph(t *testing.T, kv kvstore.KVStore) *router.NetworkGraph {
	t.Helper()
	data, _, err := kv.Read(graphKey)
	require.NoError(t, err)
	g, err := router.ReadNetworkGraph(data, nil)
	require.NoError(t, err)
	return g
}

func channelOf(g *router.NetworkGraph, scid uint64) (router.ChannelInfo, bool) {
	v := g.ReadOnly()
	defer v.Release()
	return v.Channel(scid)
}

// TestRoutingStateSurvivesRestart: a channel checked on chain through btcd, its nodes and policies,
// and what the scorer learned are in the datadir after Stop and back after a restart; a block spending
// the funding output closes the channel in the graph, and the snapshot saved with that block's
// checkpoint says so.
func TestRoutingStateSurvivesRestart(t *testing.T) {
	btcd := newFakeBtcd(t)
	fund, btcKeys := fundingFor(t, 31, 32, 1_000_000)
	height := btcd.mine(fund)
	btcd.mine()
	cfg := testNodeConfig(t, btcd)
	a, b := testID(1), testID(2)
	ab := scid(height, 1, 0)

	n := startTestNode(t, cfg, nil)
	// Recent timestamps: policies older than two weeks are pruned at the gossip sync's first tick.
	ts := uint32(time.Now().Unix())
	addChannel(t, n.routing.graph, testChannel{scid: ab, a: a, b: b, aPol: policy(1000, 100, 80, ts),
		bPol: policy(0, 2500, 40, ts+1), btcKeys: btcKeys, announce: time.Duration(time.Now().UnixNano())})
	announceNode(t, n.routing.graph, a, "alice", ts+2)
	before, ok := channelOf(n.routing.graph, ab)
	require.True(t, ok)
	require.EqualValues(t, 1_000_000, before.CapacitySat, "capacity from btcd's gettxout")
	require.Equal(t, &wire.OutPoint{Hash: fund.TxHash(), Index: 0}, before.FundingOutPoint)

	dirAB := router.DirectedChannel{SCID: ab, Direction: router.DirectionOf(a, b)}
	path := &router.Path{Hops: []router.RouteHop{{PubKey: mustPub(b), ShortChannelID: lnwire.NewShortChannelIDFromUint64(ab),
		FeeMsat: 200_000_000}}}
	n.routing.scorer.ProbeFailed(path, mustPub(a), ab, time.Duration(time.Now().UnixNano()))
	_, maxBefore, ok := n.routing.scorer.EstimatedLiquidityRange(dirAB, 1_000_000_000)
	require.True(t, ok)
	require.EqualValues(t, 200_000_000, maxBefore, "the failed probe bounds the liquidity")
	n.Stop()
	withStore(t, cfg, func(kv kvstore.KVStore) {
		for _, k := range []kvstore.Key{graphKey, scorerKey} {
			_, _, err := kv.Read(k)
			require.NoError(t, err, "%s saved at stop", k)
		}
	})

	n = startTestNode(t, cfg, nil)
	after, ok := channelOf(n.routing.graph, ab)
	require.True(t, ok)
	require.Equal(t, before, after)
	require.NotNil(t, after.Directions[0])
	require.NotNil(t, after.Directions[1])
	require.Equal(t, 1, n.routing.scorer.Len())
	_, maxAfter, ok := n.routing.scorer.EstimatedLiquidityRange(dirAB, 1_000_000_000)
	require.True(t, ok)
	require.InDelta(t, float64(maxBefore), float64(maxAfter), 1e6, "decayed by the seconds since, at most")

	svc := &service{n: n}
	ctx := context.Background()
	graph, err := svc.DescribeGraph(ctx)
	require.NoError(t, err)
	require.Len(t, graph.Channels, 1)
	require.Equal(t, fund.TxHash().String()+":0", graph.Channels[0].ChanPoint)
	require.EqualValues(t, 1_000_000, graph.Channels[0].CapacitySat)
	alice, err := svc.GetNodeInfo(ctx, nodeapi.GetNodeInfoParams{NodeID: nodeIDHexOf(a)})
	require.NoError(t, err)
	require.Equal(t, "alice", alice.Node.Alias)
	require.EqualValues(t, 1_000_000, alice.TotalCapacitySat)
	info, err := svc.GetInfo(ctx)
	require.NoError(t, err)
	require.Equal(t, true, info.Gossip.Enabled)
	require.Equal(t, 2, info.Gossip.NumNodes)
	require.Equal(t, 1, info.Gossip.NumChannels)

	spend := wire.NewMsgTx(2)
	spend.AddTxIn(&wire.TxIn{PreviousOutPoint: *before.FundingOutPoint})
	spend.AddTxOut(&wire.TxOut{Value: 999_000, PkScript: []byte{0x51}})
	spentAt := btcd.mine(spend)
	require.Eventually(t, func() bool {
		ci, ok := channelOf(n.routing.graph, ab)
		return ok && ci.SpentAtHeight == spentAt
	}, 10*time.Second, 10*time.Millisecond, "the graph sees the funding spend")
	require.Eventually(t, func() bool {
		tip, err := n.loadTip()
		return err == nil && tip.Height >= spentAt
	}, 10*time.Second, 10*time.Millisecond, "the block is checkpointed")
	ci, ok := channelOf(readGraph(t, n.kv), ab)
	require.True(t, ok)
	require.Equal(t, spentAt, ci.SpentAtHeight, "the snapshot is saved before the checkpoint that saw the spend")
}

func TestCorruptSnapshotsDoNotStopTheNode(t *testing.T) {
	btcd := newFakeBtcd(t)
	cfg := testNodeConfig(t, btcd)
	garbage := []byte("not a snapshot")
	withStore(t, cfg, func(kv kvstore.KVStore) {
		for _, k := range []kvstore.Key{graphKey, scorerKey} {
			require.NoError(t, kv.Write(k, garbage))
		}
	})
	var logs syncBuffer
	n := startTestNode(t, cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	require.Equal(t, 0, n.routing.graph.NumChannels())
	require.Equal(t, 0, n.routing.scorer.Len())
	require.Contains(t, logs.String(), "corrupt snapshot moved aside")
	for _, k := range []kvstore.Key{graphKey, scorerKey} {
		kept, _, err := n.kv.Read(kvstore.Key{Primary: k.Primary, Key: k.Key + corruptSuffix})
		require.NoError(t, err)
		require.Equal(t, garbage, kept, "%s kept aside", k)
	}
	info, err := (&service{n: n}).GetInfo(context.Background())
	require.NoError(t, err)
	require.Equal(t, 0, info.Gossip.NumNodes)

	n.Stop()
	withStore(t, cfg, func(kv kvstore.KVStore) {
		readGraph(t, kv)
		data, _, err := kv.Read(scorerKey)
		require.NoError(t, err)
		_, err = router.ReadProbabilisticScorer(data, router.DefaultProbabilisticScoringDecayParameters(),
			router.DefaultProbabilisticScoringFeeParameters(), nil)
		require.NoError(t, err, "a valid scorer snapshot replaces the corrupt one")
	})
}

func TestGossipOff(t *testing.T) {
	r := openRouting(kvstore.NewMemStore(), &chaincfg.RegressionNetParams, nil, false, slog.New(slog.DiscardHandler))
	require.Nil(t, r.handler(), "no routing handler for the PeerManager")
	require.False(t, r.gossipInfo().Enabled)
	r.tick(time.Now()) // no gossip sync: a no-op

	on := openRouting(kvstore.NewMemStore(), &chaincfg.RegressionNetParams, nil, true, slog.New(slog.DiscardHandler))
	require.NotNil(t, on.handler())
	require.True(t, on.gossipInfo().Enabled)
}
