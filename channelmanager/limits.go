package channelmanager

import (
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
)

// Limits on what peers can make us keep before they have put money into a channel with us. Anyone can
// connect and send `open_channel`; without these bounds a single peer, or many cheap identities, could
// make us hold unbounded channel state (BOLT 2 leaves this to each implementation).
const (
	// MaxUnfundedChansPerPeer is how many inbound channels a peer may have with us whose funding
	// transaction has not confirmed yet: not yet funded, awaiting manual acceptance, or funded and
	// unconfirmed (LDK's MAX_UNFUNDED_CHANS_PER_PEER). More `open_channel`s get an `error` for their
	// temporary channel id and leave no state. Four lets an honest peer open a few channels at once
	// while bounding what one identity can make us hold; channels we open do not count.
	MaxUnfundedChansPerPeer = 4

	// MaxNoChannelPeers is how many connected peers without a funded channel with us we accept (LDK's
	// MAX_NO_CHANNEL_PEERS): beyond it PeerConnected refuses an inbound connection from another such
	// peer with ErrTooManyPeers, and the PeerManager disconnects it. Outbound connections (we chose the
	// peer) and peers with a funded channel are never refused. 250 is generous for an honest node's
	// inbound connections while capping what anonymous peers can pin to 250 × MaxUnfundedChansPerPeer
	// channel states.
	MaxNoChannelPeers = 250
)

// unfundedInbound says whether a channel counts towards MaxUnfundedChansPerPeer: the counterparty opened
// it and its funding transaction has not confirmed.
func (c *channel) unfundedInbound() bool {
	if c.outbound {
		return false
	}
	return c.state < stateAwaitingChannelReady || c.state == stateAwaitingManualAccept ||
		c.state == stateAwaitingChannelReady && c.fundingConfHeight == 0
}

// unfundedInboundCount counts the peer's channels that unfundedInbound. The caller holds ps.mu.
func (ps *peerState) unfundedInboundCount() int {
	n := 0
	for _, c := range ps.channels {
		if c.unfundedInbound() {
			n++
		}
	}
	return n
}

// hasFundedChannel says whether the peer has a channel other than unfunded inbound ones: a channel we
// opened, or one whose funding confirmed. The caller holds ps.mu.
func (ps *peerState) hasFundedChannel() bool { return len(ps.channels) > ps.unfundedInboundCount() }

// peersWithoutFundedChannel counts the connected peers without a funded channel.
func (cm *ChannelManager) peersWithoutFundedChannel() int {
	n := 0
	for _, ps := range cm.allPeers() {
		ps.mu.Lock()
		if ps.connected && !ps.hasFundedChannel() {
			n++
		}
		ps.mu.Unlock()
	}
	return n
}

// admitPeer decides whether PeerConnected accepts a peer: an inbound peer without a funded channel is
// refused once MaxNoChannelPeers such peers are connected. Concurrent connections are counted without
// a global lock, so simultaneous calls may exceed the limit by their number.
func (cm *ChannelManager) admitPeer(node *btcec.PublicKey, inbound bool) error {
	if !inbound {
		return nil
	}
	if ps := cm.peer(node, false); ps != nil {
		ps.mu.Lock()
		funded := ps.hasFundedChannel()
		ps.mu.Unlock()
		if funded {
			return nil
		}
	}
	if n := cm.peersWithoutFundedChannel(); n >= MaxNoChannelPeers {
		return fmt.Errorf("%w: %d connected", ErrTooManyPeers, n)
	}
	return nil
}

// forgetPeerIfEmpty removes a disconnected peer without channels from the peer map, so that peers that
// come and go do not make it grow. The caller holds ps.mu.
func (cm *ChannelManager) forgetPeerIfEmpty(ps *peerState) {
	if ps.connected || len(ps.channels) > 0 {
		return
	}
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if k := nodeKey(ps.nodeID); cm.peers[k] == ps {
		delete(cm.peers, k)
	}
}
