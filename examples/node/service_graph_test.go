package main

import (
	"encoding/hex"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/router"
)

// smallGraph is A–B (both policies, both nodes announced) and B–C (B's policy only; C unannounced).
func smallGraph(t *testing.T) (*router.NetworkGraph, [3][33]byte) {
	t.Helper()
	g := router.NewNetworkGraph(nil)
	ids := [3][33]byte{testID(1), testID(2), testID(3)}
	addChannel(t, g, testChannel{scid: scid(700, 3, 1), a: ids[0], b: ids[1], capSat: 1_000_000,
		aPol: policy(1000, 100, 80, 1_700_000_100), bPol: &router.ChannelPolicy{Timestamp: 1_700_000_200, Disabled: true,
			FeeBaseMsat: 0, FeeProportionalMillionths: 2500, CLTVExpiryDelta: 40, HTLCMinimumMsat: 1, HTLCMaximumMsat: 1_000_000_000}})
	addChannel(t, g, testChannel{scid: scid(600, 1, 0), a: ids[1], b: ids[2], capSat: 1_500_000,
		aPol: policy(0, 1, 18, 1_700_000_050)})
	announceNode(t, g, ids[0], "alice", 1_700_000_300)
	announceNode(t, g, ids[1], "bob", 1_700_000_301)
	return g, ids
}

func TestDescribeGraph(t *testing.T) {
	g, ids := smallGraph(t)
	v := g.ReadOnly()
	res := describeGraph(v)
	v.Release()

	require.Len(t, res.Nodes, 3)
	for i := 1; i < len(res.Nodes); i++ {
		require.Less(t, res.Nodes[i-1].NodeID, res.Nodes[i].NodeID, "nodes sorted by id")
	}
	byID := map[string]nodeapi.GraphNode{}
	for _, n := range res.Nodes {
		byID[n.NodeID] = n
	}
	alice := byID[hex.EncodeToString(ids[0][:])]
	require.Equal(t, nodeapi.GraphNode{NodeID: hex.EncodeToString(ids[0][:]), Alias: "alice", Color: "#3399ff",
		Addresses: []string{"127.0.0.1:9735"}, Features: hex.EncodeToString(payeeFeatures().Encode()),
		LastUpdate: 1_700_000_300}, alice)
	carol := byID[hex.EncodeToString(ids[2][:])]
	require.Equal(t, nodeapi.GraphNode{NodeID: hex.EncodeToString(ids[2][:]), Addresses: []string{}}, carol,
		"a node without node_announcement")

	require.Len(t, res.Channels, 2)
	bc, ab := res.Channels[0], res.Channels[1] // by scid: 600x1x0 first
	require.Equal(t, "600x1x0", bc.ShortChannelID)
	require.Equal(t, scid(600, 1, 0), bc.SCID)
	require.Equal(t, "700x3x1", ab.ShortChannelID)
	require.EqualValues(t, 1_000_000, ab.CapacitySat)
	require.Empty(t, ab.ChanPoint, "no UTXO lookup: funding outpoint unknown")
	n1, n2 := ordered(ids[0], ids[1])
	require.Equal(t, hex.EncodeToString(n1[:]), ab.Node1)
	require.Equal(t, hex.EncodeToString(n2[:]), ab.Node2)
	alicePol := &nodeapi.GraphPolicy{FeeBaseMsat: 1000, FeeProportionalMillionths: 100, CLTVExpiryDelta: 80,
		HTLCMinimumMsat: 1000, HTLCMaximumMsat: 990_000_000, LastUpdate: 1_700_000_100}
	bobPol := &nodeapi.GraphPolicy{FeeProportionalMillionths: 2500, CLTVExpiryDelta: 40, HTLCMinimumMsat: 1,
		HTLCMaximumMsat: 1_000_000_000, Disabled: true, LastUpdate: 1_700_000_200}
	if n1 == ids[0] {
		require.Equal(t, alicePol, ab.Node1Policy)
		require.Equal(t, bobPol, ab.Node2Policy)
	} else {
		require.Equal(t, bobPol, ab.Node1Policy)
		require.Equal(t, alicePol, ab.Node2Policy)
	}
	require.EqualValues(t, 1_700_000_200, ab.LastUpdate, "the newer policy's time")
	require.True(t, (bc.Node1Policy == nil) != (bc.Node2Policy == nil), "B–C has one policy")
}

func TestNodeInfo(t *testing.T) {
	g, ids := smallGraph(t)
	v := g.ReadOnly()
	defer v.Release()

	bob, err := nodeInfo(v, ids[1])
	require.NoError(t, err)
	require.Equal(t, "bob", bob.Node.Alias)
	require.Equal(t, 2, bob.NumChannels)
	require.EqualValues(t, 2_500_000, bob.TotalCapacitySat)
	require.Equal(t, []string{"600x1x0", "700x3x1"}, []string{bob.Channels[0].ShortChannelID, bob.Channels[1].ShortChannelID})

	carol, err := nodeInfo(v, ids[2])
	require.NoError(t, err)
	require.Equal(t, 1, carol.NumChannels)
	require.Empty(t, carol.Node.Alias)

	unknown := testID(9)
	_, err = nodeInfo(v, unknown)
	require.ErrorContains(t, err, "is not in the network graph (3 nodes known")
	require.ErrorContains(t, err, hex.EncodeToString(unknown[:]), "the error names the node")
}

func TestAliasString(t *testing.T) {
	var a [32]byte
	copy(a[:], "caf\xc3\xa9 \xff")
	require.Equal(t, "café \uFFFD", aliasString(a))
	require.Equal(t, "", aliasString([32]byte{}))
	copy(a[:], strings.Repeat("x", 32))
	require.Equal(t, strings.Repeat("x", 32), aliasString(a))
}
