package router

import (
	"sync/atomic"

	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/lnwire"
)

// ChannelInfo is a copy of what the graph holds on a channel.
type ChannelInfo struct {
	SCID             uint64
	NodeID1, NodeID2 [33]byte
	// CapacitySat is the funding value, 0 if unknown.
	CapacitySat uint64
	Features    *lnwire.FeatureVector
	// Directions[0] is node_1's policy (node_1 → node_2), Directions[1] node_2's; nil before the
	// direction's first channel_update (or after it went stale).
	Directions [2]*ChannelPolicy
	// FundingOutPoint is the funding output when known.
	FundingOutPoint *wire.OutPoint
	// SpentAtHeight is the height of the block that spent the funding output; 0 if unspent.
	SpentAtHeight uint32
}

// NodeInfo is a copy of what the graph holds on a node.
type NodeInfo struct {
	NodeID [33]byte
	// Announcement is nil until a node_announcement arrives.
	Announcement *NodeAnnouncementInfo
	// Channels lists the node's channels' short_channel_ids.
	Channels []uint64
}

// ReadOnlyNetworkGraph is a view of the graph that holds its read lock (LDK's ReadOnlyNetworkGraph):
// gossip waits while a view is held, so release it promptly. A view may be used from several
// goroutines; Release it once, after the last use (further calls are no-ops).
type ReadOnlyNetworkGraph struct {
	g        *NetworkGraph
	released atomic.Bool
}

// ReadOnly returns a view holding the graph's read lock until Release.
func (g *NetworkGraph) ReadOnly() *ReadOnlyNetworkGraph {
	g.mu.RLock()
	return &ReadOnlyNetworkGraph{g: g}
}

// Release gives back the read lock.
func (v *ReadOnlyNetworkGraph) Release() {
	if v.released.CompareAndSwap(false, true) {
		v.g.mu.RUnlock()
	}
}

// NumChannels counts the view's channels.
func (v *ReadOnlyNetworkGraph) NumChannels() int { return len(v.g.d.chanIdx) }

// NumNodes counts the view's nodes.
func (v *ReadOnlyNetworkGraph) NumNodes() int { return len(v.g.d.nodeIdx) }

// Channel returns the channel, false if unknown.
func (v *ReadOnlyNetworkGraph) Channel(scid uint64) (ChannelInfo, bool) {
	c, ok := v.g.d.chanIdx[scid]
	if !ok {
		return ChannelInfo{}, false
	}
	return v.g.d.channelInfo(c), true
}

// Node returns the node, false if unknown.
func (v *ReadOnlyNetworkGraph) Node(id [33]byte) (NodeInfo, bool) {
	n, ok := v.g.d.nodeIdx[id]
	if !ok {
		return NodeInfo{}, false
	}
	return v.g.d.nodeInfo(n), true
}

// ForEachChannel calls fn for every channel, in slot order, until fn returns false.
func (v *ReadOnlyNetworkGraph) ForEachChannel(fn func(ChannelInfo) bool) {
	d := &v.g.d
	for c := range d.chans {
		if d.chans[c].flags&chanLive != 0 && !fn(d.channelInfo(uint32(c))) {
			return
		}
	}
}

// ForEachNode calls fn for every node, in slot order, until fn returns false.
func (v *ReadOnlyNetworkGraph) ForEachNode(fn func(NodeInfo) bool) {
	d := &v.g.d
	for n := range d.nodeKeys {
		if d.nodeFlags[n]&nodeLive != 0 && !fn(d.nodeInfo(uint32(n))) {
			return
		}
	}
}

func (d *graphData) channelInfo(c uint32) ChannelInfo {
	ch := &d.chans[c]
	ci := ChannelInfo{SCID: ch.scid, NodeID1: d.nodeKeys[ch.node[0]], NodeID2: d.nodeKeys[ch.node[1]],
		CapacitySat: ch.capSat, Features: lnwire.DecodeFeatureVector(d.chanFeat[c])}
	for dir := range 2 {
		p := &d.pol[2*c+uint32(dir)]
		if p.flags&polUpdate != 0 {
			ci.Directions[dir] = &ChannelPolicy{Timestamp: d.polTS[2*c+uint32(dir)], Disabled: p.flags&polDisabled != 0,
				CLTVExpiryDelta: p.cltv, HTLCMinimumMsat: p.htlcMin, HTLCMaximumMsat: p.htlcMax,
				FeeBaseMsat: p.feeBase, FeeProportionalMillionths: p.feePPM}
		}
	}
	if op, ok := d.chanFunding[c]; ok {
		ci.FundingOutPoint = &op
	}
	ci.SpentAtHeight = d.spent[c].height
	return ci
}

func (d *graphData) nodeInfo(n uint32) NodeInfo {
	ni := NodeInfo{NodeID: d.nodeKeys[n]}
	if d.nodeFlags[n]&nodeHasAnn != 0 {
		a := &d.nodeAnns[n]
		ni.Announcement = &NodeAnnouncementInfo{Timestamp: a.ts, Features: lnwire.DecodeFeatureVector(a.features),
			RGBColor: a.rgb, Alias: a.alias, Addresses: append([]byte(nil), a.addrs...)}
	}
	for _, in := range d.nodeIn[n] {
		ni.Channels = append(ni.Channels, in.scid)
	}
	return ni
}
