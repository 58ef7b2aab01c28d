//go:build interop

package interop

import (
	"fmt"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

// Policy alice sets on her side of the public channel to dave (lncli updatechanpolicy): values no lnd
// default has, so that lnkit's copy can only come from alice's channel_update.
const (
	gossipBaseFeeMsat = 1234
	gossipFeeRatePPM  = 567
	gossipTimeLock    = 60
	gossipMinHTLCMsat = 2000
	gossipMaxHTLCMsat = 1_500_000_000
	gossipChanSat     = 2_000_000
	gossipPaySat      = 50_000
)

// lndPolicy is a direction of lncli getchaninfo / describegraph.
type lndPolicy struct {
	TimeLockDelta    jint `json:"time_lock_delta"`
	MinHTLC          jint `json:"min_htlc"`
	FeeBaseMsat      jint `json:"fee_base_msat"`
	FeeRateMilliMsat jint `json:"fee_rate_milli_msat"`
	Disabled         bool `json:"disabled"`
	MaxHTLCMsat      jint `json:"max_htlc_msat"`
	LastUpdate       jint `json:"last_update"`
}

// lndEdge is lncli getchaninfo's channel.
type lndEdge struct {
	ChannelID   jint       `json:"channel_id"`
	ChanPoint   string     `json:"chan_point"`
	Node1Pub    string     `json:"node1_pub"`
	Node2Pub    string     `json:"node2_pub"`
	Capacity    jint       `json:"capacity"`
	Node1Policy *lndPolicy `json:"node1_policy"`
	Node2Policy *lndPolicy `json:"node2_policy"`
}

// lndNode is a node of lncli describegraph.
type lndNode struct {
	PubKey    string `json:"pub_key"`
	Alias     string `json:"alias"`
	Color     string `json:"color"`
	Addresses []struct {
		Addr string `json:"addr"`
	} `json:"addresses"`
	Features map[string]lndFeature `json:"features"`
}

// Test15Gossip: two lnd nodes, alice and dave, with a public channel (announced after 6 confirmations);
// lnkit, a peer of alice with a channel to her, learns both nodes (aliases, colors, addresses, features)
// and the channel (capacity and funding outpoint checked on btcd, both directions' policies, alice's set
// with updatechanpolicy) through gossip, as lnd's own graph has them; queryroutes to dave then gives
// the two-hop path lnkit → alice → dave with alice's fee and time lock.
func Test15Gossip(t *testing.T) {
	steps := newSteps(t)
	lk := needNode(t)
	alice := nw.alice
	ensureConnected(t, lk)
	ensureOutbound(t, lk, alice, 2*gossipPaySat*1000)
	steps.done("lnkit has a usable channel to alice")

	dave := ensureLnd(t, "dave")
	dave.connect(t, alice.uri())
	waitFor(t, 30*time.Second, func() (bool, string) {
		return alice.peer(t, dave.id()) != nil, "alice and dave are not peers"
	})
	fundingTxid := alice.openChannel(t, dave.id(), gossipChanSat, 0, false)
	waitFor(t, 30*time.Second, func() (bool, string) {
		return nw.btcd.inMempool(t, fundingTxid), "funding tx not in the mempool"
	})
	nw.mine(t, 6) // lnd announces a channel at 6 confirmations
	waitFor(t, 60*time.Second, func() (bool, string) {
		a, d := alice.channel(t, fundingTxid), dave.channel(t, fundingTxid)
		return a != nil && d != nil && a.Active && d.Active, "alice–dave channel not active"
	})
	ch := alice.channel(t, fundingTxid)
	chanID := "--chan_id=" + strconv.FormatInt(int64(ch.Scid), 10)
	policyArgs := []string{"updatechanpolicy", "--chan_point=" + ch.ChannelPoint,
		"--base_fee_msat=" + strconv.Itoa(gossipBaseFeeMsat), "--fee_rate_ppm=" + strconv.Itoa(gossipFeeRatePPM),
		"--time_lock_delta=" + strconv.Itoa(gossipTimeLock), "--min_htlc_msat=" + strconv.Itoa(gossipMinHTLCMsat),
		"--max_htlc_msat=" + strconv.Itoa(gossipMaxHTLCMsat)}
	steps.done("alice–dave public channel confirmed")

	// alice's policy is set once lnd has announced the channel (it is in describegraph, which lists
	// public channels only): an update made before goes to dave alone, as for a private channel.
	waitFor(t, 60*time.Second, func() (bool, string) {
		var g struct {
			Edges []lndEdge `json:"edges"`
		}
		if err := alice.cliJSON(&g, "describegraph"); err != nil {
			return false, err.Error()
		}
		for _, e := range g.Edges {
			if e.ChannelID == ch.Scid {
				return e.Node1Policy != nil && e.Node2Policy != nil, fmt.Sprintf("lnd's edge %+v", e)
			}
		}
		return false, fmt.Sprintf("alice has not announced %s yet", ch.ScidStr)
	})
	steps.done("lnd announced the channel")
	alice.must(t, nil, policyArgs...)
	var edge lndEdge
	waitFor(t, 30*time.Second, func() (bool, string) {
		if err := alice.cliJSON(&edge, "getchaninfo", chanID); err != nil {
			return false, err.Error()
		}
		p := policyOf(&edge, alice.id())
		return p != nil && int(p.FeeBaseMsat) == gossipBaseFeeMsat, fmt.Sprintf("alice's policy %+v", p)
	})
	steps.done("alice updated her policy")

	var got *nodeapi.GraphChannel
	waitFor(t, 90*time.Second, func() (bool, string) {
		// lnd's edge again: dave may have updated his side meanwhile.
		if err := alice.cliJSON(&edge, "getchaninfo", chanID); err != nil {
			return false, err.Error()
		}
		g, err := lk.Client().DescribeGraph(ctx(t, 10*time.Second))
		if err != nil {
			return false, err.Error()
		}
		got = findChannel(g, uint64(ch.Scid))
		if got == nil {
			return false, fmt.Sprintf("lnkit's graph (%d nodes, %d channels) lacks %s", len(g.Nodes), len(g.Channels), ch.ScidStr)
		}
		return samePolicy(got.Node1Policy, edge.Node1Policy) && samePolicy(got.Node2Policy, edge.Node2Policy),
			fmt.Sprintf("lnkit %+v / %+v, lnd %+v / %+v", got.Node1Policy, got.Node2Policy, edge.Node1Policy, edge.Node2Policy)
	})
	require.Equal(t, edge.Node1Pub, got.Node1)
	require.Equal(t, edge.Node2Pub, got.Node2)
	require.EqualValues(t, edge.Capacity, got.CapacitySat, "capacity (from btcd's gettxout)")
	require.EqualValues(t, gossipChanSat, got.CapacitySat)
	require.Equal(t, edge.ChanPoint, got.ChanPoint)
	require.Equal(t, ch.ScidStr, got.ShortChannelID)
	require.Zero(t, got.SpentAtHeight)
	steps.done("lnkit's graph has the channel with lnd's policies")

	checkGossipNodes(t, lk, alice, dave)
	steps.done("lnkit's graph has both nodes as lnd's describegraph has them")

	checkQueryRoutes(t, lk, alice, dave, policyOf(&edge, alice.id()))
	steps.done("queryroutes lnkit → alice → dave")
}

// ensureOutbound makes sure lnkit has a usable channel to l that can send minMsat, opening one if
// none can.
func ensureOutbound(t *testing.T, lk *lnkitNode, l *lnd, minMsat uint64) {
	t.Helper()
	for _, c := range lk.channels(t) {
		if c.NodeID == l.id() && c.IsUsable && c.OutboundCapacityMsat >= minMsat && c.ShortChannelID != "" {
			return
		}
	}
	ensureFunded(t, lk)
	txid := openLnkitChannelTo(t, lk, l, 1_000_000, 0)
	confirmChannelsWith(t, lk, l, txid)
}

// usableSCIDs lists the short channel ids of lnkit's usable channels to l.
func usableSCIDs(t *testing.T, lk *lnkitNode, l *lnd) []string {
	t.Helper()
	var out []string
	for _, c := range lk.channels(t) {
		if c.NodeID == l.id() && c.IsUsable {
			out = append(out, c.ShortChannelID)
		}
	}
	return out
}

func findChannel(g *nodeapi.DescribeGraphResult, scid uint64) *nodeapi.GraphChannel {
	for i := range g.Channels {
		if g.Channels[i].SCID == scid {
			return &g.Channels[i]
		}
	}
	return nil
}

// policyOf is the direction of e whose source is node.
func policyOf(e *lndEdge, node string) *lndPolicy {
	if e.Node1Pub == node {
		return e.Node1Policy
	}
	return e.Node2Policy
}

func samePolicy(k *nodeapi.GraphPolicy, l *lndPolicy) bool {
	if k == nil || l == nil {
		return k == nil && l == nil
	}
	return int64(k.FeeBaseMsat) == int64(l.FeeBaseMsat) && int64(k.FeeProportionalMillionths) == int64(l.FeeRateMilliMsat) &&
		int64(k.CLTVExpiryDelta) == int64(l.TimeLockDelta) && int64(k.HTLCMinimumMsat) == int64(l.MinHTLC) &&
		int64(k.HTLCMaximumMsat) == int64(l.MaxHTLCMsat) && k.Disabled == l.Disabled && k.LastUpdate == int64(l.LastUpdate)
}

// checkGossipNodes compares lnkit's nodes alice and dave (describegraph and getnodeinfo) with lnd's
// describegraph.
func checkGossipNodes(t *testing.T, lk *lnkitNode, alice, dave *lnd) {
	t.Helper()
	// Both graphs, once each has both nodes' announcements (dave's reaches alice by gossip too).
	want := map[string]lndNode{}
	var kg *nodeapi.DescribeGraphResult
	waitFor(t, 60*time.Second, func() (bool, string) {
		var lg struct {
			Nodes []lndNode `json:"nodes"`
		}
		if err := alice.cliJSON(&lg, "describegraph"); err != nil {
			return false, err.Error()
		}
		for _, n := range lg.Nodes {
			want[n.PubKey] = n
		}
		g, err := lk.Client().DescribeGraph(ctx(t, 10*time.Second))
		if err != nil {
			return false, err.Error()
		}
		kg = g
		for _, l := range []*lnd{alice, dave} {
			if n := findNode(g, l.id()); n == nil || n.Alias != l.name {
				return false, fmt.Sprintf("lnkit's node %s: %+v", l.name, n)
			}
			if want[l.id()].Alias != l.name {
				return false, fmt.Sprintf("alice's describegraph node %s: %+v", l.name, want[l.id()])
			}
		}
		return true, ""
	})
	for _, l := range []*lnd{alice, dave} {
		k, w := findNode(kg, l.id()), want[l.id()]
		require.Equal(t, w.Alias, k.Alias, l.name)
		require.Equal(t, w.Color, k.Color, l.name)
		var addrs []string
		for _, a := range w.Addresses {
			addrs = append(addrs, a.Addr)
		}
		require.ElementsMatch(t, addrs, k.Addresses, "%s's addresses", l.name)
		require.Equal(t, lndFeatureBits(w.Features), featureBits(t, k.Features), "%s's features", l.name)
	}
	info, err := lk.Client().GetNodeInfo(ctx(t, 10*time.Second), nodeapi.GetNodeInfoParams{NodeID: dave.id()})
	require.NoError(t, err)
	require.Equal(t, "dave", info.Node.Alias)
	require.Equal(t, 1, info.NumChannels)
	require.EqualValues(t, gossipChanSat, info.TotalCapacitySat)
	gi := lk.info(t).Gossip
	require.True(t, gi.Enabled)
	require.GreaterOrEqual(t, gi.NumNodes, 2)
	require.GreaterOrEqual(t, gi.NumChannels, 1)
}

func findNode(g *nodeapi.DescribeGraphResult, id string) *nodeapi.GraphNode {
	for i := range g.Nodes {
		if g.Nodes[i].NodeID == id {
			return &g.Nodes[i]
		}
	}
	return nil
}

func lndFeatureBits(f map[string]lndFeature) []int {
	var bits []int
	for k := range f {
		b, err := strconv.Atoi(k)
		if err == nil {
			bits = append(bits, b)
		}
	}
	sort.Ints(bits)
	return bits
}

// checkQueryRoutes asks lnkit for a route to dave and checks it hop by hop against alice's policy
// toward dave (lnd's getchaninfo): fee = base + amount × ppm / 1,000,000, time lock = height +
// alice's delta + the final delta.
func checkQueryRoutes(t *testing.T, lk *lnkitNode, alice, dave *lnd, ap *lndPolicy) {
	t.Helper()
	const finalDelta = 40
	amtMsat := uint64(gossipPaySat * 1000)
	r, err := lk.Client().QueryRoutes(ctx(t, 30*time.Second), nodeapi.QueryRoutesParams{NodeID: dave.id(),
		AmountSat: gossipPaySat, FinalCLTVDelta: finalDelta})
	r = mustCall(t, "queryroutes", r, err)
	require.Len(t, r.Paths, 1, "one path: %+v", r)
	hops := r.Paths[0].Hops
	require.Len(t, hops, 2, "lnkit → alice → dave: %+v", hops)
	fee := uint64(ap.FeeBaseMsat) + amtMsat*uint64(ap.FeeRateMilliMsat)/1_000_000
	require.EqualValues(t, gossipBaseFeeMsat+gossipPaySat*1000*gossipFeeRatePPM/1_000_000, fee)

	require.Equal(t, alice.id(), hops[0].NodeID)
	require.Contains(t, usableSCIDs(t, lk, alice), hops[0].ShortChannelID, "first hop: a usable lnkit channel to alice")
	require.Equal(t, fee, hops[0].FeeMsat, "alice's fee")
	require.Equal(t, amtMsat, hops[0].AmountToForwardMsat)
	require.EqualValues(t, ap.TimeLockDelta, hops[0].CLTVExpiryDelta)
	require.Equal(t, dave.id(), hops[1].NodeID)
	require.Equal(t, amtMsat, hops[1].AmountToForwardMsat)
	require.Zero(t, hops[1].FeeMsat)
	require.EqualValues(t, finalDelta, hops[1].CLTVExpiryDelta)

	require.Equal(t, fee, r.TotalFeesMsat)
	require.Equal(t, amtMsat+fee, r.TotalAmountMsat)
	require.Equal(t, amtMsat, r.AmountMsat)
	require.Equal(t, r.BlockHeight+uint32(ap.TimeLockDelta)+finalDelta, r.TotalTimeLock)
	require.Equal(t, r.BlockHeight+finalDelta, hops[0].ExpiryHeight, "the HTLC alice sends dave")
	require.GreaterOrEqual(t, int(r.BlockHeight), nw.btcd.height(t)-1)
}
