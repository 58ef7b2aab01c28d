package events

import (
	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/lnwire"
)

// MessageSendEvent is a message that a message handler (the ChannelManager) wants sent to a peer, pulled
// by the PeerManager through GetAndClearPendingMsgEvents. The PeerManager sends Msg (if not nil) to the
// peer NodeID, then disconnects the peer if DisconnectPeer is set.
type MessageSendEvent struct {
	// NodeID is the peer's node public key.
	NodeID *btcec.PublicKey
	// Msg is the message to send, or nil to only disconnect.
	Msg lnwire.Message
	// DisconnectPeer asks that the connection be closed after Msg is written (BOLT 1: after sending an
	// `error` the sender may close the connection).
	DisconnectPeer bool
}
