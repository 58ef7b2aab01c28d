package channelmanager

import (
	"crypto/sha256"
	"encoding/binary"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/lnwire"
)

// openChannelTemplate returns a valid open_channel from a to b (a's own channel state is left alone).
func openChannelTemplate(t *testing.T, a, b *testNode) *lnwire.OpenChannel {
	_, err := a.cm.CreateChannel(b.id, 100_000, 0, [16]byte{3}, nil)
	require.NoError(t, err)
	for _, m := range takeOutbox(a).others {
		if oc, ok := m.(*lnwire.OpenChannel); ok {
			return oc
		}
	}
	t.Fatal("no open_channel")
	return nil
}

// floodOpenChannels delivers n open_channels with distinct temporary ids from a to b and returns b's
// answers: the accept_channels and the errors, by temporary id.
func floodOpenChannels(t *testing.T, a, b *testNode, n int) (accepts []lnwire.ChannelID, errs map[lnwire.ChannelID]string) {
	tmpl := openChannelTemplate(t, a, b)
	errs = map[lnwire.ChannelID]string{}
	for i := 0; i < n; i++ {
		m := *tmpl
		m.TemporaryChannelID = sha256.Sum256(binary.BigEndian.AppendUint32(nil, uint32(i)))
		deliver(t, b, a, &m)
	}
	o := takeOutbox(b)
	for _, m := range o.others {
		if ac, ok := m.(*lnwire.AcceptChannel); ok {
			accepts = append(accepts, ac.TemporaryChannelID)
		}
	}
	for _, e := range o.errs {
		errs[e.ChannelID] = string(e.Data)
	}
	return accepts, errs
}

// TestUnfundedChannelsPerPeerCapped: one peer sends 2,000 open_channels. At most
// MaxUnfundedChansPerPeer are accepted (or, with manual acceptance, offered to the host); every other
// one gets an error for its temporary id and leaves no state behind.
func TestUnfundedChannelsPerPeerCapped(t *testing.T) {
	for _, manual := range []bool{false, true} {
		nw, a, b := twoNodes(t)
		if manual {
			b.cfg.ManuallyAcceptInboundChannels = true
			b.start(nil)
			nw.connect(0, 1)
		}
		accepts, errs := floodOpenChannels(t, a, b, 2000)
		require.Equal(t, MaxUnfundedChansPerPeer, len(b.cm.ListChannels()), "manual %v: channel states kept", manual)
		require.Equal(t, 2000-MaxUnfundedChansPerPeer, len(errs), "manual %v: the rest refused", manual)
		for _, text := range errs {
			require.Contains(t, text, "unfunded channels")
		}
		b.handleEvents()
		if manual {
			require.Empty(t, accepts)
			require.Equal(t, MaxUnfundedChansPerPeer, countEvents[events.OpenChannelRequest](b.takeEvents()))
		} else {
			require.Len(t, accepts, MaxUnfundedChansPerPeer)
			for _, id := range accepts {
				require.NotContains(t, errs, id)
			}
		}
		// The peer goes: its unfunded channels and its state are forgotten.
		nw.disconnect(0, 1)
		require.Empty(t, b.cm.ListChannels())
		require.Nil(t, b.cm.peer(a.id, false), "manual %v: no state left for the peer", manual)
	}
}

// randomPeers returns n new node ids.
func randomPeers(t *testing.T, n int) []*btcec.PublicKey {
	out := make([]*btcec.PublicKey, n)
	for i := range out {
		k, err := btcec.NewPrivateKey()
		require.NoError(t, err)
		out[i] = k.PubKey()
	}
	return out
}

// TestNoChannelPeersCapped: 300 inbound peers without channels connect; MaxNoChannelPeers are taken,
// the rest refused, while an outbound connection and a peer with a funded channel still get in.
// Disconnecting frees the slots and forgets the peers.
func TestNoChannelPeersCapped(t *testing.T) {
	nw, a, b := twoNodes(t)
	nw.openChannel(0, 1, 1_000_000, 0)
	nw.disconnect(0, 1)
	init := nw.initFor(a)
	peers := randomPeers(t, 300)
	for i, p := range peers {
		err := b.cm.PeerConnected(p, init, true)
		if i < MaxNoChannelPeers {
			require.NoError(t, err, "peer %d", i)
			continue
		}
		require.ErrorIs(t, err, ErrTooManyPeers, "peer %d", i)
		require.Nil(t, b.cm.peer(p, false), "no state for refused peer %d", i)
	}
	outbound := randomPeers(t, 1)[0]
	require.NoError(t, b.cm.PeerConnected(outbound, init, false), "outbound connections are not limited")
	nw.connect(0, 1) // alice, inbound for bob, has a funded channel
	nw.settle()
	require.True(t, b.cm.ListChannels()[0].IsUsable)

	b.cm.PeerDisconnected(peers[0])
	require.Nil(t, b.cm.peer(peers[0], false), "a disconnected peer without channels is forgotten")
	// The outbound peer, also without a channel, counts towards the limit (it was only not refused).
	require.ErrorIs(t, b.cm.PeerConnected(peers[MaxNoChannelPeers], init, true), ErrTooManyPeers)
	b.cm.PeerDisconnected(outbound)
	require.NoError(t, b.cm.PeerConnected(peers[MaxNoChannelPeers], init, true), "a slot is free")
	for _, p := range peers[1 : MaxNoChannelPeers+1] {
		b.cm.PeerDisconnected(p)
	}
	b.cm.mu.Lock()
	n := len(b.cm.peers)
	b.cm.mu.Unlock()
	require.Equal(t, 1, n, "only alice, who has a channel, is left")
}
