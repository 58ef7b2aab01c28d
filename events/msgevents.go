package events

import (
	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/lnwire"
)

// MessageSendEvent is a message that a message handler (the ChannelManager) wants sent to a peer, pulled
// by the PeerManager through GetAndClearPendingMsgEvents. The PeerManager sends Msg (if not nil) to the
// peer NodeID, then disconnects the peer if DisconnectPeer is set. A Broadcast event is gossip for the
// whole network instead (see Broadcast).
type MessageSendEvent struct {
	// NodeID is the peer's node public key; nil for a Broadcast.
	NodeID *btcec.PublicKey
	// Broadcast marks Msg as our own gossip (a channel_announcement or channel_update of one of our
	// public channels, BOLT 7) for every peer, like LDK's BroadcastChannelAnnouncement and
	// BroadcastChannelUpdate: the PeerManager hands it to its routing handler's BroadcastAnnouncement,
	// which applies it to the graph and relays it; without a routing handler it is dropped.
	Broadcast bool
	// Msg is the message to send, or nil to only disconnect.
	Msg lnwire.Message
	// DisconnectPeer asks that the connection be closed after Msg is written (BOLT 1: after sending an
	// `error` the sender may close the connection).
	DisconnectPeer bool
}
