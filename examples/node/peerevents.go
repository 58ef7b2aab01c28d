package main

import (
	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
)

// peerEvents wraps the PeerManager's channel message handler to publish peer_connected and
// peer_disconnected events: a peer is connected once every handler accepted its init (PeerConnected
// returned nil), and the PeerManager calls PeerDisconnected only for such a peer.
type peerEvents struct {
	peermanager.ChannelMessageHandler
	hub *eventHub
}

func (p peerEvents) PeerConnected(id *btcec.PublicKey, init *lnwire.Init, inbound bool) error {
	if err := p.ChannelMessageHandler.PeerConnected(id, init, inbound); err != nil {
		return err
	}
	p.hub.publish(nodeapi.Event{Type: "peer_connected", NodeID: nodeIDHex(id)})
	return nil
}

func (p peerEvents) PeerDisconnected(id *btcec.PublicKey) {
	p.ChannelMessageHandler.PeerDisconnected(id)
	p.hub.publish(nodeapi.Event{Type: "peer_disconnected", NodeID: nodeIDHex(id)})
}
