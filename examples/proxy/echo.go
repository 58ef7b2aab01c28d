package proxy

import (
	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/lnwire"
)

// The ping-app protocol's message types (see the package doc).
const (
	// EchoRequestType asks the peer to send the payload back.
	EchoRequestType lnwire.MessageType = 32769
	// EchoReplyType carries a request's payload back.
	EchoReplyType lnwire.MessageType = 32771
)

// Echo is the ping-app AppHandler for EchoRequestType: it replies with EchoReplyType and the same
// payload. It never fails.
func Echo(_ *btcec.PublicKey, payload []byte) (*Reply, error) {
	return &Reply{Type: EchoReplyType, Payload: payload}, nil
}
