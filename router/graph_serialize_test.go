package router

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/lnwire"
)

// richGraph has every kind of state a snapshot keeps: announcements with features and addresses,
// channel features, missing and disabled directions, funding outpoints, a spent channel, recently
// removed channels, and free slots.
func richGraph(t testing.TB) *NetworkGraph {
	rng := rand.New(rand.NewSource(5))
	rg := newRandGraph(t, rng, 77, 12, 40)
	g := rg.g
	for i, id := range rg.nodes {
		info := NodeAnnouncementInfo{Timestamp: uint32(1000 + i), RGBColor: [3]byte{byte(i), 2, 3},
			Features:  lnwire.NewFeatureVector(lnwire.VarOnionOptinRequired, lnwire.FeatureBit(200+2*i)),
			Addresses: bytes.Repeat([]byte{byte(i)}, i)}
		copy(info.Alias[:], fmt.Sprintf("node %d", i))
		if i%3 != 0 && g.NodeKnown(id) {
			if err := g.UpdateNodeInfo(id, info); err != nil {
				t.Fatal(err)
			}
		}
	}
	extra := ann(99<<40|1, rg.nodes[0], rg.nodes[1], 0)
	extra.Features = lnwire.NewFeatureVector(lnwire.FeatureBit(301))
	extra.AnnouncedAt = 1_700_000_000 * time.Second
	if err := g.AddChannel(extra); err != nil {
		t.Fatal(err)
	}
	g.mu.Lock()
	g.d.setFunding(g.d.chanIdx[rg.chans[3].scid], wire.OutPoint{Hash: chainhash.Hash{7}, Index: 2})
	g.d.setFunding(g.d.chanIdx[rg.chans[4].scid], wire.OutPoint{Hash: chainhash.Hash{8}, Index: 0})
	g.mu.Unlock()
	g.BlockConnected(block(900_000, spendingTx(wire.OutPoint{Hash: chainhash.Hash{8}, Index: 0})), 900_000)
	for _, c := range rg.chans[5:9] {
		if err := g.RemoveChannel(c.scid); err != nil {
			t.Fatal(err)
		}
	}
	g.mu.Lock()
	g.d.removed[12345] = 1_700_000_000
	g.d.removed[1] = 1_700_000_001
	g.mu.Unlock()
	return g
}

// snapshotOf lists everything a graph's views show, in a canonical order.
func snapshotOf(g *NetworkGraph) map[string]string {
	out := map[string]string{}
	v := g.ReadOnly()
	defer v.Release()
	v.ForEachChannel(func(ci ChannelInfo) bool {
		s := fmt.Sprintf("%x %x %x %d %d", ci.Features.Encode(), ci.NodeID1, ci.NodeID2, ci.CapacitySat, ci.SpentAtHeight)
		for _, d := range ci.Directions {
			if d != nil {
				s += fmt.Sprintf(" %+v", *d)
			}
		}
		if ci.FundingOutPoint != nil {
			s += " " + ci.FundingOutPoint.String()
		}
		out[fmt.Sprint("c", ci.SCID)] = s
		return true
	})
	v.ForEachNode(func(ni NodeInfo) bool {
		s := fmt.Sprintf("%v", len(ni.Channels))
		if a := ni.Announcement; a != nil {
			s += fmt.Sprintf(" %d %x %x %x %x", a.Timestamp, a.Features.Encode(), a.RGBColor, a.Alias, a.Addresses)
		}
		out[fmt.Sprintf("n%x", ni.NodeID)] = s
		return true
	})
	return out
}

// TestGraphWriteRead: a snapshot reads back to the same graph (same views, same routes) and writes
// back byte for byte.
func TestGraphWriteRead(t *testing.T) {
	for _, g := range []*NetworkGraph{NewNetworkGraph(nil), richGraph(t), loadGraphFile(t, extractPath)} {
		data := g.Write()
		g2, err := ReadNetworkGraph(data, nil)
		if err != nil {
			t.Fatal(err)
		}
		if again := g2.Write(); !bytes.Equal(again, data) {
			t.Fatalf("rewrite differs: %d and %d bytes", len(data), len(again))
		}
		a, b := snapshotOf(g), snapshotOf(g2)
		if len(a) != len(b) {
			t.Fatalf("%d entries, read back %d", len(a), len(b))
		}
		for k, s := range a {
			if b[k] != s {
				t.Fatalf("%s:\n%s\n%s", k, s, b[k])
			}
		}
		if len(g.d.removed) != len(g2.d.removed) {
			t.Fatal("removed channels differ")
		}
	}
}

// TestReadNetworkGraphCorrupt: truncations and flipped bytes give ErrCorruptGraph (or a graph that
// writes back identically), never a panic.
func TestReadNetworkGraphCorrupt(t *testing.T) {
	data := richGraph(t).Write()
	for i := range len(data) {
		checkRead(t, data[:i])
		b := bytes.Clone(data)
		b[i] ^= 0x41
		checkRead(t, b)
	}
}

func checkRead(t *testing.T, data []byte) {
	t.Helper()
	g, err := ReadNetworkGraph(data, nil)
	if err != nil {
		if !errors.Is(err, ErrCorruptGraph) {
			t.Fatalf("error not ErrCorruptGraph: %v", err)
		}
		return
	}
	if !bytes.Equal(g.Write(), data) {
		t.Fatalf("accepted %x but writes back differently", data)
	}
}

// FuzzReadNetworkGraph: ReadNetworkGraph never panics, and what it reads writes back identically.
func FuzzReadNetworkGraph(f *testing.F) {
	f.Add(NewNetworkGraph(nil).Write())
	f.Add(richGraph(f).Write())
	g := NewNetworkGraph(nil)
	addTestChannel(f, g, 1, testKey(1, 1), testKey(1, 2), 10, pol(1, 2, 3, 4), nil)
	f.Add(g.Write())
	f.Fuzz(func(t *testing.T, data []byte) { checkRead(t, data) })
}
