//go:build interop

package interop

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

const (
	publicChanSat = 1_500_000
	publicAlias   = "lnkit-interop"
	publicColor   = "12ab34"
)

// Test16PublicChannel: lnkit, restarted with an alias and a colour in its config file, opens a public
// channel (openchannel --public) to alice; six blocks later both sides exchange
// announcement_signatures. alice's describegraph then has the channel with lnkit's policy (lnkit's
// defaults, which no lnd default matches: base 1000 msat, 0 ppm, time lock 72) and lnkit's
// node_announcement (alias, colour, no address: none is configured); lnkit's describegraph has both
// policies of the channel; lnkit's private channels to alice stay out of lnd's graph.
func Test16PublicChannel(t *testing.T) {
	steps := newSteps(t)
	lk := needNode(t)
	alice := nw.alice
	conf := fmt.Sprintf("alias = %s\ncolor = %s\n", publicAlias, publicColor)
	require.NoError(t, os.WriteFile(filepath.Join(lk.dir, "lnkit-node.conf"), []byte(conf), 0o600))
	lk.Restart(t)
	ensureConnected(t, lk)
	ensureFunded(t, lk)
	steps.done("lnkit restarted with an alias")

	r, err := lk.Client().OpenChannel(ctx(t, 2*time.Minute), nodeapi.OpenChannelParams{NodeID: alice.id(),
		AmountSat: publicChanSat, Public: true})
	txid := mustCall(t, "openchannel --public", r, err).FundingTxid
	require.NotEmpty(t, txid)
	waitFor(t, 30*time.Second, func() (bool, string) {
		return nw.btcd.inMempool(t, txid), "funding tx not in the mempool"
	})
	nw.mine(t, 6)
	waitFor(t, 60*time.Second, func() (bool, string) {
		lc, kc := alice.channel(t, txid), lk.channel(t, txid)
		return lc != nil && lc.Active && kc != nil && kc.IsUsable && kc.Public && kc.Announced,
			fmt.Sprintf("alice %+v, lnkit %+v", lc, kc)
	})
	lc := alice.channel(t, txid)
	require.False(t, lc.Private, "lnd sees the announce_channel bit")
	steps.done("both sides have the announcement signatures")

	// lnd's graph: the channel with lnkit's policy and lnkit's node.
	var edge *lndEdge
	var node *lndNode
	waitFor(t, 3*time.Minute, func() (bool, string) {
		var g struct {
			Nodes []lndNode `json:"nodes"`
			Edges []lndEdge `json:"edges"`
		}
		if err := alice.cliJSON(&g, "describegraph"); err != nil {
			return false, err.Error()
		}
		edge, node = nil, nil
		for i := range g.Edges {
			if g.Edges[i].ChannelID == lc.Scid {
				edge = &g.Edges[i]
			}
		}
		for i := range g.Nodes {
			if g.Nodes[i].PubKey == lk.ID() {
				node = &g.Nodes[i]
			}
		}
		switch {
		case edge == nil:
			return false, "alice's graph lacks " + lc.ScidStr
		case policyOf(edge, lk.ID()) == nil:
			return false, fmt.Sprintf("alice's edge has no lnkit policy: %+v", edge)
		case node == nil || node.Alias != publicAlias:
			return false, fmt.Sprintf("alice's graph node for lnkit: %+v", node)
		}
		return true, ""
	})
	p := policyOf(edge, lk.ID())
	require.EqualValues(t, 1000, p.FeeBaseMsat)
	require.EqualValues(t, 0, p.FeeRateMilliMsat)
	require.EqualValues(t, 72, p.TimeLockDelta)
	require.False(t, p.Disabled)
	require.LessOrEqual(t, int64(p.MaxHTLCMsat), int64(publicChanSat)*1000)
	require.Greater(t, int64(p.MaxHTLCMsat), int64(0))
	require.EqualValues(t, publicChanSat, edge.Capacity)
	require.Equal(t, "#"+publicColor, node.Color)
	require.Empty(t, node.Addresses, "lnkit advertises no address unless configured")
	require.NotEmpty(t, node.Features)
	steps.done("alice's describegraph has lnkit's channel policy and node announcement")

	// lnkit's graph: both directions, alice's as lnd has it, lnkit's with the same fields. lnd may keep
	// an earlier timestamp for lnkit's side: lnkit's channel_update to alice before the announcement
	// (dont_forward, BOLT 7) carries the same policy, and lnd ignores a newer update that changes
	// nothing but the timestamp for a day (its keep-alive rule).
	var ke lndEdge
	waitFor(t, 3*time.Minute, func() (bool, string) {
		if err := alice.cliJSON(&ke, "getchaninfo", "--chan_id="+strconv.FormatInt(int64(lc.Scid), 10)); err != nil {
			return false, err.Error()
		}
		g, err := lk.Client().DescribeGraph(ctx(t, 10*time.Second))
		if err != nil {
			return false, err.Error()
		}
		got := findChannel(g, uint64(lc.Scid))
		if got == nil {
			return false, "lnkit's graph lacks " + lc.ScidStr
		}
		ours, theirs := got.Node1Policy, got.Node2Policy
		if got.Node1 != lk.ID() {
			ours, theirs = theirs, ours
		}
		lo, la := policyOf(&ke, lk.ID()), policyOf(&ke, alice.id())
		sameFields := ours != nil && lo != nil && ours.LastUpdate >= int64(lo.LastUpdate)
		if sameFields {
			cp := *ours
			cp.LastUpdate = int64(lo.LastUpdate)
			sameFields = samePolicy(&cp, lo)
		}
		return sameFields && samePolicy(theirs, la),
			fmt.Sprintf("lnkit %+v / %+v, lnd %+v / %+v", ours, theirs, lo, la)
	})
	steps.done("lnkit's describegraph has both policies as lnd's")

	// lnkit's private channels to alice are not in lnd's graph.
	var g struct {
		Edges []lndEdge `json:"edges"`
	}
	require.NoError(t, alice.cliJSON(&g, "describegraph"))
	for _, c := range lk.channels(t) {
		if c.NodeID != alice.id() || c.Public || c.ShortChannelID == "" {
			continue
		}
		lnc := alice.channel(t, c.FundingTxid)
		if lnc == nil {
			continue
		}
		for _, e := range g.Edges {
			require.NotEqual(t, lnc.Scid, e.ChannelID, "private channel %s in lnd's graph", c.ShortChannelID)
		}
	}
	steps.done("private channels stay private")
}
