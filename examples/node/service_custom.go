package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/examples/proxy"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
)

// The message proxy's defaults, from measuring payment streams between two nodes on one machine
// (TestPaymentStreamNotThrottled, four payers at once: about 93 payments per second, each side
// receiving about 230 messages per second, at most 39 in any 100 ms). The limits are about ten times
// that rate and a hundred times that burst, so that they never throttle normal traffic (a
// reconnection's channel_reestablish per channel included); they stop a peer flooding us with
// messages that each cost a signature check or a disk write.
const (
	defaultPeerMsgRate  = 2000
	defaultPeerMsgBurst = 4000
)

// msgProxy is the node's message proxy (examples/proxy): between the PeerManager and the channel
// manager it rate-limits every peer (-peer-msg-rate, -peer-msg-burst); it publishes every custom
// message it accepts as a custom_message event, and answers the ping-app echo unless -custom-echo=false.
type msgProxy struct {
	px     *proxy.Proxy
	custom *proxy.CustomHandler
}

func newMsgProxy(cfg *Config, hub *eventHub, log *slog.Logger) *msgProxy {
	px := proxy.New(proxy.Options{Rate: cfg.PeerMsgRate, Burst: cfg.PeerMsgBurst, Logger: log})
	publish := func(peer *btcec.PublicKey, t lnwire.MessageType, payload []byte) {
		hub.publish(nodeapi.Event{Type: "custom_message", NodeID: nodeIDHex(peer), MsgType: uint16(t),
			Data: hex.EncodeToString(payload)})
	}
	m := &msgProxy{px: px, custom: px.Custom(func(peer *btcec.PublicKey, msg *lnwire.UnknownMessage) {
		publish(peer, msg.Type, msg.Payload)
	})}
	if cfg.CustomEcho {
		// The event first, then the reply.
		_ = m.custom.Handle(proxy.EchoRequestType, func(peer *btcec.PublicKey, payload []byte) (*proxy.Reply, error) {
			publish(peer, proxy.EchoRequestType, payload)
			return proxy.Echo(peer, payload)
		})
	}
	return m
}

// SendCustomMessage: see nodeapi.Service. The message is queued on the proxy and sent by the
// PeerManager's next ProcessEvents (woken at once).
func (s *service) SendCustomMessage(ctx context.Context, p nodeapi.SendCustomMessageParams) (*nodeapi.SendCustomMessageResult, error) {
	n := s.n
	pub, err := parseNodeID(p.Peer)
	if err != nil {
		return nil, err
	}
	if p.Type < nodeapi.MinCustomMessageType {
		return nil, invalid("type %d is below %d (the BOLTs' types)", p.Type, nodeapi.MinCustomMessageType)
	}
	data, err := hex.DecodeString(p.Data)
	if err != nil {
		return nil, invalid("data must be hex: %v", err)
	}
	if len(data) > proxy.MaxCustomPayload {
		return nil, invalid("data is %d bytes; at most %d fit in a message", len(data), proxy.MaxCustomPayload)
	}
	if !n.isConnected(pub) {
		return nil, fmt.Errorf("peer %s is not connected (connect first)", nodeIDHex(pub))
	}
	err = n.msgProxy.custom.Send(pub, lnwire.MessageType(p.Type), data)
	switch {
	case errors.Is(err, peermanager.ErrPeerNotConnected):
		return nil, fmt.Errorf("peer %s is not connected (connect first)", nodeIDHex(pub))
	case errors.Is(err, proxy.ErrQueueFull):
		return nil, fmt.Errorf("too many custom messages waiting for peer %s; try again", nodeIDHex(pub))
	case err != nil:
		return nil, err
	}
	n.wake()
	return &nodeapi.SendCustomMessageResult{}, nil
}
