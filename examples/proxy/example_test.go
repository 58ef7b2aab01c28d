package proxy_test

import (
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/examples/proxy"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
)

// nopChannels stands for the host's ChannelManager.
type nopChannels struct{}

func (nopChannels) HandleChannelMessage(*btcec.PublicKey, lnwire.Message)    {}
func (nopChannels) PeerConnected(*btcec.PublicKey, *lnwire.Init, bool) error { return nil }
func (nopChannels) PeerDisconnected(*btcec.PublicKey)                        {}
func (nopChannels) ProvidedInitFeatures(*btcec.PublicKey) *lnwire.FeatureVector {
	return lnwire.NewFeatureVector()
}
func (nopChannels) GetAndClearPendingMsgEvents() []events.MessageSendEvent { return nil }

// A host puts the proxy between its PeerManager and its handlers: the ChannelHandler wraps the
// channel manager, the CustomHandler speaks ping-app and hands other odd custom messages to the host.
// Below, the calls the PeerManager makes when a peer connects and sends an echo request are made by
// hand.
func Example() {
	km := keys.NewKeysManager([32]byte{1}, 0, 0)
	px := proxy.New(proxy.Options{Rate: 200, Burst: 400})
	custom := px.Custom(func(peer *btcec.PublicKey, msg *lnwire.UnknownMessage) {
		fmt.Printf("fallback: type %d, %q\n", uint16(msg.Type), msg.Payload)
	})
	if err := custom.Handle(proxy.EchoRequestType, proxy.Echo); err != nil {
		panic(err)
	}
	chans := px.Channel(nopChannels{})
	pm := peermanager.New(peermanager.MessageHandler{Chan: chans, Custom: custom}, km, km, peermanager.Config{}, nil)
	_ = pm // the host registers its connections with pm and calls pm.ProcessEvents

	peer := keys.NewKeysManager([32]byte{2}, 0, 0).GetNodeID()
	_ = chans.PeerConnected(peer, &lnwire.Init{}, true)
	_ = custom.HandleCustomMessage(peer, &lnwire.UnknownMessage{Type: proxy.EchoRequestType, Payload: []byte("ping")})
	_ = custom.HandleCustomMessage(peer, &lnwire.UnknownMessage{Type: 40001, Payload: []byte("app")})
	for _, m := range custom.GetAndClearPendingCustomMessages() { // what pm.ProcessEvents sends
		fmt.Printf("reply: type %d, %q\n", uint16(m.Msg.Type), m.Msg.Payload)
	}
	st, _ := px.Stats(peer)
	fmt.Printf("in %d, out %d, dropped %d\n", st.In, st.Out, st.Dropped)
	// Output:
	// fallback: type 40001, "app"
	// reply: type 32771, "ping"
	// in 2, out 1, dropped 0
}
