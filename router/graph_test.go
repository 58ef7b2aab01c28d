package router

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/lnkit/lnkit/lnwire"
)

func ann(scid uint64, a, b [33]byte, capSat uint64) ChannelAnnouncementInfo {
	if DirectionOf(a, b) == 1 {
		a, b = b, a
	}
	return ChannelAnnouncementInfo{SCID: scid, NodeID1: a, NodeID2: b, CapacitySat: capSat}
}

// TestGraphChecks: the checks before signature verification and the errors of the mutation API.
func TestGraphChecks(t *testing.T) {
	g := NewNetworkGraph(nil)
	a, b := testKey(5, 0), testKey(5, 1)
	scid := uint64(700_000)<<40 | 12<<16 | 1
	if g.ChannelKnown(scid) {
		t.Fatal("known before the announcement")
	}
	if err := g.IsChannelUpdateNewer(scid, 0, 10); !errors.Is(err, ErrUnknownChannel) {
		t.Fatalf("update of an unknown channel: %v", err)
	}
	if err := g.UpdateNodeInfo(a, NodeAnnouncementInfo{Timestamp: 5}); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("node announcement before any channel: %v", err)
	}
	bad := ann(scid, a, b, 1000)
	bad.NodeID1, bad.NodeID2 = bad.NodeID2, bad.NodeID1
	if err := g.AddChannel(bad); !errors.Is(err, ErrInvalidChannel) {
		t.Fatalf("descending node ids: %v", err)
	}
	if err := g.AddChannel(ann(scid, a, b, 1000)); err != nil {
		t.Fatal(err)
	}
	if !g.ChannelKnown(scid) || g.AddChannel(ann(scid, a, b, 1000)) == nil {
		t.Fatal("duplicate channel accepted")
	}
	if err := g.AddChannel(ann(scid, a, b, 1000)); !errors.Is(err, ErrDuplicateChannel) {
		t.Fatal(err)
	}
	if err := g.IsChannelUpdateNewer(scid, 1, 10); err != nil {
		t.Fatalf("first update: %v", err)
	}
	p := ChannelPolicy{Timestamp: 10, HTLCMaximumMsat: 1_000_000}
	if err := g.UpdateChannelPolicy(scid, 1, p); err != nil {
		t.Fatal(err)
	}
	for _, ts := range []uint32{9, 10} {
		if err := g.IsChannelUpdateNewer(scid, 1, ts); !errors.Is(err, ErrStaleUpdate) {
			t.Fatalf("timestamp %d after 10: %v", ts, err)
		}
		p.Timestamp = ts
		if err := g.UpdateChannelPolicy(scid, 1, p); !errors.Is(err, ErrStaleUpdate) {
			t.Fatalf("update at %d after 10: %v", ts, err)
		}
	}
	if err := g.IsChannelUpdateNewer(scid, 0, 1); err != nil {
		t.Fatalf("other direction: %v", err)
	}
	p.Timestamp, p.HTLCMaximumMsat = 11, 1_000_001
	if err := g.UpdateChannelPolicy(scid, 1, p); !errors.Is(err, ErrInvalidPolicy) {
		t.Fatalf("htlc_maximum_msat above capacity: %v", err)
	}
	p.HTLCMaximumMsat, p.HTLCMinimumMsat = 10, 11
	if err := g.UpdateChannelPolicy(scid, 1, p); !errors.Is(err, ErrInvalidPolicy) {
		t.Fatalf("htlc_maximum_msat below htlc_minimum_msat: %v", err)
	}
	checkNodeAnnouncements(t, g, a)
	if c, ok := g.ChannelCapacityMsat(scid); !ok || c != 1_000_000 {
		t.Fatalf("capacity %d %v", c, ok)
	}
	if _, ok := g.ChannelCapacityMsat(scid + 1); ok {
		t.Fatal("capacity of an unknown channel")
	}
}

func checkNodeAnnouncements(t *testing.T, g *NetworkGraph, a [33]byte) {
	t.Helper()
	info := NodeAnnouncementInfo{Timestamp: 50, Features: lnwire.NewFeatureVector(lnwire.VarOnionOptinRequired),
		Addresses: []byte{1, 127, 0, 0, 1, 0x26, 0x07}}
	copy(info.Alias[:], "alice")
	if err := g.IsNodeAnnouncementNewer(a, 50); err != nil {
		t.Fatal(err)
	}
	if err := g.UpdateNodeInfo(a, info); err != nil {
		t.Fatal(err)
	}
	if err := g.IsNodeAnnouncementNewer(a, 50); !errors.Is(err, ErrStaleUpdate) {
		t.Fatalf("same timestamp: %v", err)
	}
	if err := g.IsNodeAnnouncementNewer(testKey(5, 99), 50); !errors.Is(err, ErrUnknownNode) {
		t.Fatalf("unknown node: %v", err)
	}
	v := g.ReadOnly()
	defer v.Release()
	ni, ok := v.Node(a)
	if !ok || ni.Announcement == nil || ni.Announcement.Alias != info.Alias || string(ni.Announcement.Addresses) != string(info.Addresses) ||
		!ni.Announcement.Features.Equal(info.Features) || len(ni.Channels) != 1 {
		t.Fatalf("node %+v", ni)
	}
}

// TestGraphRemove: removing channels removes nodes left without any; removing a node removes its
// channels; freed slots are reused.
func TestGraphRemove(t *testing.T) {
	g := NewNetworkGraph(nil)
	k := func(i int) [33]byte { return testKey(6, i) }
	addTestChannel(t, g, 1, k(0), k(1), 1000, nil, nil)
	addTestChannel(t, g, 2, k(1), k(2), 1000, nil, nil)
	addTestChannel(t, g, 3, k(2), k(3), 1000, nil, nil)
	if err := g.RemoveChannel(1); err != nil || g.NumNodes() != 3 || g.NodeKnown(k(0)) {
		t.Fatalf("after removing 1: %v, %d nodes", err, g.NumNodes())
	}
	if err := g.RemoveChannel(1); !errors.Is(err, ErrUnknownChannel) {
		t.Fatal(err)
	}
	if err := g.RemoveNode(k(2)); err != nil || g.NumChannels() != 0 || g.NumNodes() != 0 {
		t.Fatalf("after removing node 2: %v, %d channels %d nodes", err, g.NumChannels(), g.NumNodes())
	}
	if err := g.RemoveNode(k(2)); !errors.Is(err, ErrUnknownNode) {
		t.Fatal(err)
	}
	addTestChannel(t, g, 4, k(4), k(5), 1000, pol(0, 0, 40, 1e6), nil)
	if len(g.d.chans) != 3 || len(g.d.nodeKeys) != 4 {
		t.Fatalf("slots not reused: %d channels, %d nodes", len(g.d.chans), len(g.d.nodeKeys))
	}
	params := NewRouteParameters(k(5), 1000, 18)
	mustRoute(t, g, k(4), &params, nil, nil)
}

// TestGraphPrune: a direction whose update is older than two weeks loses its policy; a channel with no
// fresh direction goes once its announcement is two weeks old, with its nodes; it is refused for a
// week, then accepted again.
func TestGraphPrune(t *testing.T) {
	g := NewNetworkGraph(nil)
	day := 24 * time.Hour
	now := 1_800_000_000 * time.Second
	a, b, c := testKey(7, 0), testKey(7, 1), testKey(7, 2)
	fresh := &ChannelPolicy{Timestamp: unixSeconds(now - day), HTLCMaximumMsat: 1000}
	stale := &ChannelPolicy{Timestamp: unixSeconds(now - 15*day), HTLCMaximumMsat: 1000}
	addTestChannel(t, g, 1, a, b, 1000, fresh, stale)
	addTestChannel(t, g, 2, b, c, 1000, stale, stale)
	newAnn := ann(3, a, c, 1000)
	newAnn.AnnouncedAt = now - day
	if err := g.AddChannel(newAnn); err != nil {
		t.Fatal(err)
	}
	if n := g.RemoveStaleChannelsAndTracking(now); n != 0 {
		t.Fatalf("removed %d at the first pass (announcements of unknown time start counting)", n)
	}
	v := g.ReadOnly()
	ci, _ := v.Channel(1)
	v.Release()
	if ci.Directions[DirectionOf(a, b)] == nil || ci.Directions[DirectionOf(b, a)] != nil {
		t.Fatalf("channel 1 should keep only its fresh direction: %+v", ci.Directions)
	}
	if n := g.RemoveStaleChannelsAndTracking(now + 14*day + time.Second); n != 2 || g.ChannelKnown(2) || g.ChannelKnown(3) {
		t.Fatalf("removed %d", n)
	}
	if !g.ChannelKnown(1) || g.NumNodes() != 2 {
		t.Fatalf("channel 1 (stale now, but its announcement time unknown: counting starts) or its nodes gone: %d nodes", g.NumNodes())
	}
	if err := g.AddChannel(ann(2, b, c, 1000)); !errors.Is(err, ErrRecentlyRemoved) {
		t.Fatalf("re-adding a pruned channel: %v", err)
	}
	g.RemoveStaleChannelsAndTracking(now + 21*day + 2*time.Second)
	if err := g.AddChannel(ann(2, b, c, 1000)); err != nil {
		t.Fatalf("a week after pruning: %v", err)
	}
}

// TestGraphBadInput: inputs a peer or host could get wrong give errors, not panics.
func TestGraphBadInput(t *testing.T) {
	g := NewNetworkGraph(nil)
	a, b := testKey(13, 0), testKey(13, 1)
	addTestChannel(t, g, 5, a, b, 1000, nil, nil)
	if err := g.UpdateChannelPolicy(5, 2, ChannelPolicy{Timestamp: 1}); !errors.Is(err, ErrInvalidPolicy) {
		t.Fatalf("direction 2: %v", err)
	}
	if err := g.AddChannel(ChannelAnnouncementInfo{SCID: 6, NodeID1: a, NodeID2: a}); !errors.Is(err, ErrInvalidChannel) {
		t.Fatalf("channel to itself: %v", err)
	}
	if _, err := g.FindRoute(a, nil, nil, nil); !errors.Is(err, ErrInvalidRouteParams) {
		t.Fatalf("nil parameters: %v", err)
	}
	if _, err := LoadDescribeGraph(strings.NewReader(`{"edges":[{"channel_id":"x"}]}`)); err == nil {
		t.Fatal("bad describegraph accepted")
	}
}
