package router

import (
	"bytes"
	"fmt"
	"math/rand"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/lnwire"
)

// testNow is the host time of the gossip tests (Unix seconds 1,760,000,000: October 2025).
const testNow = 1_760_000_000 * time.Second

var testNet = &chaincfg.RegressionNetParams

func gossipKey(rng *rand.Rand) *btcec.PrivateKey {
	var b [32]byte
	rng.Read(b[:])
	priv, _ := btcec.PrivKeyFromBytes(b[:])
	return priv
}

func signHash(t testing.TB, priv *btcec.PrivateKey, data []byte) lnwire.Sig {
	sig, err := lnwire.NewSigFromECDSA(ecdsa.Sign(priv, chainhash.DoubleHashB(data)))
	require.NoError(t, err)
	return sig
}

// gossipChannel is a channel of a test network: its nodes' keys in BOLT 7 order.
type gossipChannel struct {
	scid       uint64
	node       [2]*btcec.PrivateKey
	bitcoinKey [2]*btcec.PrivateKey
}

func newGossipChannel(rng *rand.Rand, scid uint64, a, b *btcec.PrivateKey) *gossipChannel {
	c := &gossipChannel{scid: scid, node: [2]*btcec.PrivateKey{a, b}, bitcoinKey: [2]*btcec.PrivateKey{gossipKey(rng), gossipKey(rng)}}
	if bytes.Compare(a.PubKey().SerializeCompressed(), b.PubKey().SerializeCompressed()) > 0 {
		c.node[0], c.node[1] = b, a
	}
	return c
}

// announcement returns the channel's signed channel_announcement.
func (c *gossipChannel) announcement(t testing.TB) *lnwire.ChannelAnnouncement {
	m := &lnwire.ChannelAnnouncement{Features: lnwire.NewFeatureVector(), ChainHash: *testNet.GenesisHash,
		ShortChannelID: lnwire.NewShortChannelIDFromUint64(c.scid),
		NodeID1:        c.node[0].PubKey(), NodeID2: c.node[1].PubKey(),
		BitcoinKey1: c.bitcoinKey[0].PubKey(), BitcoinKey2: c.bitcoinKey[1].PubKey()}
	data := m.DataToSign()
	m.NodeSignature1 = signHash(t, c.node[0], data)
	m.NodeSignature2 = signHash(t, c.node[1], data)
	m.BitcoinSignature1 = signHash(t, c.bitcoinKey[0], data)
	m.BitcoinSignature2 = signHash(t, c.bitcoinKey[1], data)
	return m
}

// update returns a signed channel_update of direction dir at ts with fee base feeBase msat.
func (c *gossipChannel) update(t testing.TB, dir uint8, ts uint32, feeBase uint32) *lnwire.ChannelUpdate {
	m := &lnwire.ChannelUpdate{ChainHash: *testNet.GenesisHash, ShortChannelID: lnwire.NewShortChannelIDFromUint64(c.scid),
		Timestamp: ts, MessageFlags: lnwire.ChanUpdateMsgFlagMustBeOne, ChannelFlags: dir, CLTVExpiryDelta: 40 + uint16(dir),
		HTLCMinimumMsat: 1000, FeeBaseMsat: feeBase, FeeProportionalMillionths: 100 + uint32(dir),
		HTLCMaximumMsat: 100_000_000}
	m.Signature = signHash(t, c.node[dir], m.DataToSign())
	return m
}

// nodeAnnouncement returns a signed node_announcement.
func nodeAnnouncement(t testing.TB, priv *btcec.PrivateKey, ts uint32, alias string) *lnwire.NodeAnnouncement {
	m := &lnwire.NodeAnnouncement{Features: lnwire.NewFeatureVector(lnwire.GossipQueriesOptional), Timestamp: ts,
		NodeID: priv.PubKey(), RGBColor: [3]byte{1, 2, 3}}
	copy(m.Alias[:], alias)
	m.Signature = signHash(t, priv, m.DataToSign())
	return m
}

// gossipWorld is a random network of nodes and channels, with every message it has signed.
type gossipWorld struct {
	nodes    []*btcec.PrivateKey
	channels []*gossipChannel
	msgs     []lnwire.Message // announcements, then updates, then node announcements
}

// newGossipWorld builds nNodes nodes and nChannels channels (each with both updates), and a
// node_announcement for every node with a channel. Channels are spread over blocks 100,000-200,000
// with several per block.
func newGossipWorld(t testing.TB, seed int64, nNodes, nChannels int) *gossipWorld {
	rng := rand.New(rand.NewSource(seed))
	w := &gossipWorld{}
	for i := 0; i < nNodes; i++ {
		w.nodes = append(w.nodes, gossipKey(rng))
	}
	used := map[uint64]bool{}
	hasChannel := map[int]bool{}
	for len(w.channels) < nChannels {
		a, b := rng.Intn(nNodes), rng.Intn(nNodes)
		if a == b {
			continue
		}
		scid := lnwire.ShortChannelID{BlockHeight: uint32(100_000 + rng.Intn(100_000)), TxIndex: uint32(rng.Intn(4)),
			OutputIndex: uint16(rng.Intn(2))}.ToUint64()
		if used[scid] {
			continue
		}
		used[scid] = true
		hasChannel[a], hasChannel[b] = true, true
		w.channels = append(w.channels, newGossipChannel(rng, scid, w.nodes[a], w.nodes[b]))
	}
	base := uint32(testNow/time.Second) - 86_400
	for _, c := range w.channels {
		w.msgs = append(w.msgs, c.announcement(t))
	}
	for _, c := range w.channels {
		for dir := uint8(0); dir < 2; dir++ {
			w.msgs = append(w.msgs, c.update(t, dir, base+uint32(rng.Intn(3600)), uint32(rng.Intn(2000))))
		}
	}
	for i, n := range w.nodes {
		if hasChannel[i] {
			w.msgs = append(w.msgs, nodeAnnouncement(t, n, base+uint32(rng.Intn(3600)), "node"))
		}
	}
	return w
}

// newTestSync returns a sync over an empty graph, ticked to testNow.
func newTestSync(cfg GossipConfig) *P2PGossipSync {
	s := NewP2PGossipSync(NewNetworkGraph(nil), testNet, cfg, nil)
	s.TimerTick(testNow)
	return s
}

// graphDigest describes a graph's channels, policies and node announcements, for comparing graphs.
func graphDigest(g *NetworkGraph) map[string]string {
	out := map[string]string{}
	v := g.ReadOnly()
	defer v.Release()
	v.ForEachChannel(func(c ChannelInfo) bool {
		d := ""
		for _, p := range c.Directions {
			if p != nil {
				d += " " + policyString(p)
			} else {
				d += " -"
			}
		}
		out["c"+lnwire.NewShortChannelIDFromUint64(c.SCID).String()] = fmt.Sprintf("%x %x%s", c.NodeID1, c.NodeID2, d)
		return true
	})
	v.ForEachNode(func(n NodeInfo) bool {
		a := "-"
		if n.Announcement != nil {
			a = fmt.Sprintf("%q %x %d", n.Announcement.Alias[:], n.Announcement.Addresses, n.Announcement.Timestamp)
		}
		out[fmt.Sprintf("n%x", n.NodeID)] = a
		return true
	})
	return out
}

func policyString(p *ChannelPolicy) string {
	return fmt.Sprintf("%d/%v/%d/%d/%d/%d/%d", p.Timestamp, p.Disabled, p.CLTVExpiryDelta, p.HTLCMinimumMsat,
		p.HTLCMaximumMsat, p.FeeBaseMsat, p.FeeProportionalMillionths)
}
