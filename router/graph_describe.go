package router

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"strconv"

	"github.com/lnkit/lnkit/lnwire"
)

// The shape of lnd's `lncli describegraph` output (numbers that lnd writes as strings are strings).
type dgPolicy struct {
	TimeLockDelta uint16 `json:"time_lock_delta"`
	MinHTLC       string `json:"min_htlc"`
	FeeBase       string `json:"fee_base_msat"`
	FeeRate       string `json:"fee_rate_milli_msat"`
	Disabled      bool   `json:"disabled"`
	MaxHTLC       string `json:"max_htlc_msat"`
	LastUpdate    uint32 `json:"last_update"`
}

type dgEdge struct {
	ChannelID  string    `json:"channel_id"`
	LastUpdate uint32    `json:"last_update"`
	Node1      string    `json:"node1_pub"`
	Node2      string    `json:"node2_pub"`
	Capacity   string    `json:"capacity"`
	P1         *dgPolicy `json:"node1_policy"`
	P2         *dgPolicy `json:"node2_policy"`
}

type dgNode struct {
	PubKey     string                     `json:"pub_key"`
	Alias      string                     `json:"alias"`
	LastUpdate uint32                     `json:"last_update"`
	Color      string                     `json:"color"`
	Features   map[string]json.RawMessage `json:"features"`
}

type dgGraph struct {
	Nodes []dgNode `json:"nodes"`
	Edges []dgEdge `json:"edges"`
}

// LoadDescribeGraph builds a graph from lnd's `describegraph` JSON: every edge becomes a channel
// (node1_policy is what node_1 advertises, for node_1 → node_2, i.e. direction 0), every node with a
// channel gets its alias, color, features and last_update as a node announcement (addresses are not
// kept). Timestamps are the JSON's (a policy's own last_update, else its edge's). For tests, benchmarks
// and bootstrapping; the graph has no UTXOLookup.
func LoadDescribeGraph(r io.Reader) (*NetworkGraph, error) {
	var dg dgGraph
	if err := json.NewDecoder(r).Decode(&dg); err != nil {
		return nil, fmt.Errorf("router: describegraph: %w", err)
	}
	g := NewNetworkGraph(nil)
	for i := range dg.Edges {
		if err := g.loadEdge(&dg.Edges[i]); err != nil {
			return nil, fmt.Errorf("router: describegraph edge %s: %w", dg.Edges[i].ChannelID, err)
		}
	}
	for i := range dg.Nodes {
		if err := g.loadNode(&dg.Nodes[i]); err != nil {
			return nil, fmt.Errorf("router: describegraph node %s: %w", dg.Nodes[i].PubKey, err)
		}
	}
	return g, nil
}

func (g *NetworkGraph) loadEdge(e *dgEdge) error {
	scid, err1 := strconv.ParseUint(e.ChannelID, 10, 64)
	capSat, err2 := strconv.ParseUint(e.Capacity, 10, 64)
	n1, err3 := parseNodeID(e.Node1)
	n2, err4 := parseNodeID(e.Node2)
	for _, err := range []error{err1, err2, err3, err4} {
		if err != nil {
			return err
		}
	}
	a := ChannelAnnouncementInfo{SCID: scid, NodeID1: n1, NodeID2: n2, CapacitySat: capSat}
	if err := g.AddChannel(a); err != nil {
		return err
	}
	for dir, p := range []*dgPolicy{e.P1, e.P2} {
		if p == nil {
			continue
		}
		cp, err := p.policy(e.LastUpdate)
		if err != nil {
			return err
		}
		if err := g.UpdateChannelPolicy(scid, uint8(dir), cp); err != nil {
			return err
		}
	}
	return nil
}

func (p *dgPolicy) policy(edgeUpdate uint32) (ChannelPolicy, error) {
	var vals [4]uint64
	for i, s := range []string{p.MinHTLC, p.MaxHTLC, p.FeeBase, p.FeeRate} {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil || (i >= 2 && v > 1<<32-1) {
			return ChannelPolicy{}, fmt.Errorf("policy value %q", s)
		}
		vals[i] = v
	}
	ts := p.LastUpdate
	if ts == 0 {
		ts = edgeUpdate
	}
	return ChannelPolicy{Timestamp: ts, Disabled: p.Disabled, CLTVExpiryDelta: p.TimeLockDelta,
		HTLCMinimumMsat: vals[0], HTLCMaximumMsat: vals[1], FeeBaseMsat: uint32(vals[2]),
		FeeProportionalMillionths: uint32(vals[3])}, nil
}

func (g *NetworkGraph) loadNode(n *dgNode) error {
	id, err := parseNodeID(n.PubKey)
	if err != nil {
		return err
	}
	if !g.NodeKnown(id) {
		return nil // BOLT 7: a node without channels is not kept
	}
	info := NodeAnnouncementInfo{Timestamp: n.LastUpdate, Features: lnwire.NewFeatureVector()}
	copy(info.Alias[:], n.Alias)
	if c, err := hex.DecodeString(n.Color); err == nil && len(c) == 3 {
		copy(info.RGBColor[:], c)
	}
	for k := range n.Features {
		bit, err := strconv.ParseUint(k, 10, 32)
		if err != nil || bit > uint64(lnwire.MaxFeatureBit) {
			return fmt.Errorf("feature bit %q", k)
		}
		info.Features.Set(lnwire.FeatureBit(bit))
	}
	return g.UpdateNodeInfo(id, info)
}

// NodeKnown reports whether the node is in the graph (it has at least one channel).
func (g *NetworkGraph) NodeKnown(id [33]byte) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	_, ok := g.d.nodeIdx[id]
	return ok
}

func parseNodeID(s string) ([33]byte, error) {
	var id [33]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 33 {
		return id, fmt.Errorf("node id %q", s)
	}
	copy(id[:], b)
	return id, nil
}
