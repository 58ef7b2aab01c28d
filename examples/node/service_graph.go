package main

import (
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
)

// The network graph's API methods. Each reads the graph under one read-only view (the graph's read
// lock, which gossip waits for), copies what it needs and releases it before encoding.

func (s *service) DescribeGraph(ctx context.Context) (*nodeapi.DescribeGraphResult, error) {
	v := s.n.routing.graph.ReadOnly()
	defer v.Release()
	return describeGraph(v), nil
}

func (s *service) GetNodeInfo(ctx context.Context, p nodeapi.GetNodeInfoParams) (*nodeapi.GetNodeInfoResult, error) {
	pub, err := parseNodeID(p.NodeID)
	if err != nil {
		return nil, err
	}
	v := s.n.routing.graph.ReadOnly()
	defer v.Release()
	return nodeInfo(v, nodeKey(pub.SerializeCompressed()))
}

// gossipInfo is getinfo's gossip section.
func (r *routing) gossipInfo() nodeapi.GossipInfo {
	gi := nodeapi.GossipInfo{NumNodes: r.graph.NumNodes(), NumChannels: r.graph.NumChannels()}
	if r.gossip != nil {
		st := r.gossip.Stats()
		gi.Enabled, gi.Synced = true, r.gossip.IsSynced()
		gi.ChannelAnnouncements, gi.ChannelUpdates, gi.NodeAnnouncements = st.ChannelAnnouncements,
			st.ChannelUpdates, st.NodeAnnouncements
	}
	return gi
}

// describeGraph copies the view: nodes by id, channels by short channel id.
func describeGraph(v *router.ReadOnlyNetworkGraph) *nodeapi.DescribeGraphResult {
	res := &nodeapi.DescribeGraphResult{Nodes: make([]nodeapi.GraphNode, 0, v.NumNodes()),
		Channels: make([]nodeapi.GraphChannel, 0, v.NumChannels())}
	v.ForEachNode(func(ni router.NodeInfo) bool {
		res.Nodes = append(res.Nodes, apiNode(ni))
		return true
	})
	v.ForEachChannel(func(ci router.ChannelInfo) bool {
		res.Channels = append(res.Channels, apiChannel(ci))
		return true
	})
	slices.SortFunc(res.Nodes, func(a, b nodeapi.GraphNode) int { return strings.Compare(a.NodeID, b.NodeID) })
	slices.SortFunc(res.Channels, func(a, b nodeapi.GraphChannel) int { return cmp.Compare(a.SCID, b.SCID) })
	return res
}

// nodeInfo is getnodeinfo for id: the node, its channels and their total capacity.
func nodeInfo(v *router.ReadOnlyNetworkGraph, id [33]byte) (*nodeapi.GetNodeInfoResult, error) {
	ni, ok := v.Node(id)
	if !ok {
		return nil, fmt.Errorf("node %x is not in the network graph (%d nodes known; a node appears once a "+
			"channel of it is announced)", id, v.NumNodes())
	}
	res := &nodeapi.GetNodeInfoResult{Node: apiNode(ni), Channels: make([]nodeapi.GraphChannel, 0, len(ni.Channels))}
	for _, scid := range ni.Channels {
		ci, ok := v.Channel(scid)
		if !ok {
			continue
		}
		res.Channels = append(res.Channels, apiChannel(ci))
		res.TotalCapacitySat += ci.CapacitySat
	}
	slices.SortFunc(res.Channels, func(a, b nodeapi.GraphChannel) int { return cmp.Compare(a.SCID, b.SCID) })
	res.NumChannels = len(res.Channels)
	return res, nil
}

func apiNode(ni router.NodeInfo) nodeapi.GraphNode {
	n := nodeapi.GraphNode{NodeID: hex.EncodeToString(ni.NodeID[:]), Addresses: []string{}}
	a := ni.Announcement
	if a == nil {
		return n
	}
	n.Alias = aliasString(a.Alias)
	n.Color = fmt.Sprintf("#%02x%02x%02x", a.RGBColor[0], a.RGBColor[1], a.RGBColor[2])
	n.Features = featuresHex(a.Features)
	n.LastUpdate = int64(a.Timestamp)
	addrs, _, err := lnwire.DecodeNodeAddresses(a.Addresses)
	if err == nil {
		for _, ad := range addrs {
			if ad.Type != lnwire.AddressTorV2 { // deprecated: BOLT 7 says to ignore it
				n.Addresses = append(n.Addresses, ad.String())
			}
		}
	}
	return n
}

func apiChannel(ci router.ChannelInfo) nodeapi.GraphChannel {
	c := nodeapi.GraphChannel{ShortChannelID: lnwire.NewShortChannelIDFromUint64(ci.SCID).String(), SCID: ci.SCID,
		CapacitySat: ci.CapacitySat, Node1: hex.EncodeToString(ci.NodeID1[:]), Node2: hex.EncodeToString(ci.NodeID2[:]),
		Features: featuresHex(ci.Features), SpentAtHeight: ci.SpentAtHeight,
		Node1Policy: apiPolicy(ci.Directions[0]), Node2Policy: apiPolicy(ci.Directions[1])}
	if op := ci.FundingOutPoint; op != nil {
		c.ChanPoint = op.String()
	}
	for _, p := range []*nodeapi.GraphPolicy{c.Node1Policy, c.Node2Policy} {
		if p != nil {
			c.LastUpdate = max(c.LastUpdate, p.LastUpdate)
		}
	}
	return c
}

func apiPolicy(p *router.ChannelPolicy) *nodeapi.GraphPolicy {
	if p == nil {
		return nil
	}
	return &nodeapi.GraphPolicy{FeeBaseMsat: p.FeeBaseMsat, FeeProportionalMillionths: p.FeeProportionalMillionths,
		CLTVExpiryDelta: p.CLTVExpiryDelta, HTLCMinimumMsat: p.HTLCMinimumMsat, HTLCMaximumMsat: p.HTLCMaximumMsat,
		Disabled: p.Disabled, LastUpdate: int64(p.Timestamp)}
}

// aliasString is the alias without its zero padding, invalid UTF-8 replaced (BOLT 7: the alias is
// UTF-8 but MAY be invalid; it must not be trusted).
func aliasString(a [32]byte) string {
	b := a[:]
	for len(b) > 0 && b[len(b)-1] == 0 {
		b = b[:len(b)-1]
	}
	return strings.ToValidUTF8(string(b), "\uFFFD")
}

func featuresHex(f *lnwire.FeatureVector) string {
	if f == nil {
		return ""
	}
	return hex.EncodeToString(f.Encode())
}

func nodeKey(b []byte) [33]byte {
	var k [33]byte
	copy(k[:], b)
	return k
}
