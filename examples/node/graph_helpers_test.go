package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
)

// testKey returns a deterministic key pair and its compressed node id.
func testKey(seed byte) (*btcec.PrivateKey, [33]byte) {
	var b [32]byte
	b[31] = seed
	b[0] = 0x11
	priv, _ := btcec.PrivKeyFromBytes(b[:])
	return priv, nodeKey(priv.PubKey().SerializeCompressed())
}

// testID is testKey's node id.
func testID(seed byte) [33]byte {
	_, id := testKey(seed)
	return id
}

// ordered returns a and b in BOLT 7 order (node_1 first).
func ordered(a, b [33]byte) (n1, n2 [33]byte) {
	if bytes.Compare(a[:], b[:]) < 0 {
		return a, b
	}
	return b, a
}

// testChannel is a channel to add to a graph, with each end's policy (nil: none yet).
type testChannel struct {
	scid     uint64
	a, b     [33]byte
	capSat   uint64
	aPol     *router.ChannelPolicy // a's direction (a → b)
	bPol     *router.ChannelPolicy
	btcKeys  [2][33]byte // bitcoin_key_1/2 (zero: no funding check)
	announce time.Duration
}

func addChannel(t *testing.T, g *router.NetworkGraph, c testChannel) {
	t.Helper()
	n1, n2 := ordered(c.a, c.b)
	err := g.AddChannel(router.ChannelAnnouncementInfo{SCID: c.scid, NodeID1: n1, NodeID2: n2, CapacitySat: c.capSat,
		BitcoinKey1: c.btcKeys[0], BitcoinKey2: c.btcKeys[1], AnnouncedAt: c.announce})
	if err != nil {
		t.Fatalf("adding channel %s: %v", lnwire.NewShortChannelIDFromUint64(c.scid), err)
	}
	for _, d := range []struct {
		from, to [33]byte
		p        *router.ChannelPolicy
	}{{c.a, c.b, c.aPol}, {c.b, c.a, c.bPol}} {
		if d.p == nil {
			continue
		}
		if err := g.UpdateChannelPolicy(c.scid, router.DirectionOf(d.from, d.to), *d.p); err != nil {
			t.Fatalf("policy of %s: %v", lnwire.NewShortChannelIDFromUint64(c.scid), err)
		}
	}
}

// announceNode gives the node a node_announcement with alias, color 0x3399ff, one IPv4 address and
// the features a payee needs (var_onion_optin, payment_secret, basic_mpp).
func announceNode(t *testing.T, g *router.NetworkGraph, id [33]byte, alias string, ts uint32) {
	t.Helper()
	var a [32]byte
	copy(a[:], alias)
	addrs, err := lnwire.AppendNodeAddresses(nil, []lnwire.NodeAddress{
		{Type: lnwire.AddressIPv4, Addr: []byte{127, 0, 0, 1}, Port: 9735}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = g.UpdateNodeInfo(id, router.NodeAnnouncementInfo{Timestamp: ts, Alias: a, RGBColor: [3]byte{0x33, 0x99, 0xff},
		Addresses: addrs, Features: payeeFeatures()})
	if err != nil {
		t.Fatalf("announcing %s: %v", alias, err)
	}
}

func payeeFeatures() *lnwire.FeatureVector {
	return lnwire.NewFeatureVector(lnwire.VarOnionOptinOptional, lnwire.PaymentSecretOptional, lnwire.BasicMPPOptional)
}

func policy(base, ppm uint32, cltv uint16, ts uint32) *router.ChannelPolicy {
	return &router.ChannelPolicy{Timestamp: ts, FeeBaseMsat: base, FeeProportionalMillionths: ppm, CLTVExpiryDelta: cltv,
		HTLCMinimumMsat: 1000, HTLCMaximumMsat: 990_000_000}
}

func scid(block, tx uint32, out uint16) uint64 {
	return lnwire.ShortChannelID{BlockHeight: block, TxIndex: tx, OutputIndex: out}.ToUint64()
}
