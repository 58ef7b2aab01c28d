package peermanager

import (
	"errors"
	"net/netip"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/lnwire"
)

// TestBroadcastEventsGoToRoutingHandler: the channel handler's Broadcast events reach the routing
// handler's BroadcastAnnouncement, in order, and are not sent to any peer directly; without a routing
// handler they are dropped.
func TestBroadcastEventsGoToRoutingHandler(t *testing.T) {
	a := newNode(t, 1, nodeOpts{route: true})
	r, _ := rawConnect(t, a, 7)
	require.NoError(t, r.send(&lnwire.Init{}))
	ann := &lnwire.ChannelAnnouncement{}
	upd := &lnwire.ChannelUpdate{Timestamp: 5}
	a.chanH.queue(events.MessageSendEvent{Msg: ann, Broadcast: true})
	a.chanH.queue(events.MessageSendEvent{Msg: upd, Broadcast: true})
	a.route.broadcastErr = errors.New("refused: only logged")
	a.pm.ProcessEvents()
	require.Equal(t, []lnwire.Message{ann, upd}, a.route.broadcast)
	require.Empty(t, r.read(), "a broadcast is not sent to peers by the PeerManager")

	b := newNode(t, 2, nodeOpts{})
	rb, _ := rawConnect(t, b, 8)
	require.NoError(t, rb.send(&lnwire.Init{}))
	b.chanH.queue(events.MessageSendEvent{Msg: upd, Broadcast: true})
	b.pm.ProcessEvents()
	require.Empty(t, rb.read())
}

// TestChannelUpdateWithoutRoutingHandler: a channel_update still reaches the channel handler (its
// counterparties' forwarding parameters); other gossip, and a channel_update that does not decode, are
// ignored.
func TestChannelUpdateWithoutRoutingHandler(t *testing.T) {
	a := newNode(t, 1, nodeOpts{})
	r, _ := rawConnect(t, a, 7)
	require.NoError(t, r.send(&lnwire.Init{}))
	for _, m := range gossipSamples() {
		require.NoError(t, r.send(m))
	}
	require.NoError(t, r.sendRaw([]byte{0x01, 0x02, 0xff}))
	got := a.chanH.messages()
	require.Len(t, got, 1)
	require.IsType(t, &lnwire.ChannelUpdate{}, got[0].msg)
	require.Empty(t, r.read())
}

// TestBroadcastNodeAnnouncement: signed with the node key, features of our init, addresses in type
// order, timestamps strictly increasing; BOLT 7's address rules and a missing routing handler are
// errors.
func TestBroadcastNodeAnnouncement(t *testing.T) {
	a := newNode(t, 1, nodeOpts{route: true, chanFeat: []lnwire.FeatureBit{lnwire.StaticRemoteKeyRequired}})
	var alias [32]byte
	copy(alias[:], "lnkit ⚡")
	v4, err := lnwire.NewIPAddress(netip.MustParseAddrPort("127.0.0.1:9735"))
	require.NoError(t, err)
	v6, err := lnwire.NewIPAddress(netip.MustParseAddrPort("[2001:db8::1]:9735"))
	require.NoError(t, err)
	dns, err := lnwire.NewDNSHostnameAddress("node.example", 9735)
	require.NoError(t, err)
	require.NoError(t, a.pm.BroadcastNodeAnnouncement([3]byte{1, 2, 3}, alias, []lnwire.NodeAddress{dns, v6, v4}, 1000))
	require.NoError(t, a.pm.BroadcastNodeAnnouncement([3]byte{1, 2, 3}, alias, nil, 900))
	require.NoError(t, a.pm.BroadcastNodeAnnouncement([3]byte{1, 2, 3}, alias, nil, 5000))
	require.Len(t, a.route.broadcast, 3)
	var ts []uint32
	for _, m := range a.route.broadcast {
		na := m.(*lnwire.NodeAnnouncement)
		ts = append(ts, na.Timestamp)
		require.True(t, na.NodeID.IsEqual(a.priv.PubKey()))
		sig, err := na.Signature.ToSignature()
		require.NoError(t, err)
		require.True(t, sig.Verify(chainhash.DoubleHashB(na.DataToSign()), na.NodeID))
		require.True(t, na.Features.IsSet(lnwire.StaticRemoteKeyRequired))
		require.True(t, na.Features.IsSet(lnwire.GossipQueriesOptional))
		require.Equal(t, alias, na.Alias)
		// It encodes and decodes as any peer's.
		b, err := lnwire.EncodeMessage(na)
		require.NoError(t, err)
		_, err = lnwire.DecodeMessage(b)
		require.NoError(t, err)
	}
	require.Equal(t, []uint32{1000, 1001, 5000}, ts)
	first := a.route.broadcast[0].(*lnwire.NodeAnnouncement)
	require.Equal(t, []lnwire.NodeAddress{v4, v6, dns}, first.Addresses, "ascending type order")

	bad := []struct {
		name  string
		addrs []lnwire.NodeAddress
		alias [32]byte
	}{
		{"port 0", []lnwire.NodeAddress{{Type: lnwire.AddressIPv4, Addr: []byte{1, 2, 3, 4}}}, alias},
		{"two DNS names", []lnwire.NodeAddress{dns, dns}, alias},
		{"tor v2", []lnwire.NodeAddress{{Type: lnwire.AddressTorV2, Addr: make([]byte, 10), Port: 1}}, alias},
		{"short IPv4", []lnwire.NodeAddress{{Type: lnwire.AddressIPv4, Addr: []byte{1}, Port: 1}}, alias},
		{"alias not UTF-8", nil, [32]byte{0xff, 0xfe}},
		{"zero inside the alias", nil, [32]byte{'a', 0, 'b'}},
	}
	for _, tc := range bad {
		require.ErrorIs(t, a.pm.BroadcastNodeAnnouncement([3]byte{}, tc.alias, tc.addrs, 1), ErrInvalidNodeAnnouncement, tc.name)
	}
	require.Len(t, a.route.broadcast, 3)

	a.route.broadcastErr = errors.New("unknown node")
	require.ErrorIs(t, a.pm.BroadcastNodeAnnouncement([3]byte{}, alias, nil, 1), a.route.broadcastErr)

	noRoute := newNode(t, 2, nodeOpts{})
	require.ErrorIs(t, noRoute.pm.BroadcastNodeAnnouncement([3]byte{}, alias, nil, 1), ErrNoRoutingHandler)
}
