package peermanager

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"math/rand"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/noise"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
)

const customType lnwire.MessageType = 32801 // odd
const customEven lnwire.MessageType = 32800

func TestHandshakeAndInitExchange(t *testing.T) {
	for seed := int64(1); seed <= 5; seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) {
			a := newNode(t, 1, nodeOpts{chanFeat: []lnwire.FeatureBit{lnwire.StaticRemoteKeyRequired},
				customFeat: []lnwire.FeatureBit{101}})
			b := newNode(t, 2, nodeOpts{chanFeat: []lnwire.FeatureBit{lnwire.StaticRemoteKeyOptional}})
			l := connect(t, a, b, seed)
			l.maxChk = 1 + int(seed*7) // chunk sizes differ per run, down to 1..8 bytes
			l.run()
			require.NoError(t, l.errA)
			require.NoError(t, l.errB)

			require.True(t, a.chanH.isConnected(b.id()))
			require.True(t, b.chanH.isConnected(a.id()))
			require.False(t, a.chanH.inbound[keyOf(b.id())], "a dialled out")
			require.True(t, b.chanH.inbound[keyOf(a.id())], "b accepted")

			// b sees a's features: the union of a's channel and custom handler features.
			initAtB := b.chanH.inits[keyOf(a.id())]
			require.True(t, initAtB.Features.IsSet(lnwire.StaticRemoteKeyRequired))
			require.True(t, initAtB.Features.IsSet(101))
			require.Equal(t, []chainhash.Hash{*chaincfg.MainNetParams.GenesisHash}, initAtB.Networks)

			peers := b.pm.GetPeerNodeIDs()
			require.Len(t, peers, 1)
			require.True(t, peers[0].NodeID.IsEqual(a.id()))
			require.True(t, peers[0].Inbound)
			require.True(t, peers[0].InitFeatures.IsSet(101))
			peers = a.pm.GetPeerNodeIDs()
			require.Len(t, peers, 1)
			require.True(t, peers[0].NodeID.IsEqual(b.id()))
			require.False(t, peers[0].Inbound)
			a.chanH.checkNoViolations(t)
			b.chanH.checkNoViolations(t)
		})
	}
}

// channelMessages returns a varied batch of messages a channel handler might send.
func channelMessages(n int) []lnwire.Message {
	var out []lnwire.Message
	for i := 0; i < n; i++ {
		var id lnwire.ChannelID
		id[0], id[1] = byte(i), byte(i>>8)
		switch i % 3 {
		case 0:
			out = append(out, &lnwire.UpdateFee{ChannelID: id, FeeratePerKw: uint32(253 + i)})
		case 1:
			out = append(out, &lnwire.Shutdown{ChannelID: id, ScriptPubKey: bytes.Repeat([]byte{byte(i)}, 22)})
		default:
			out = append(out, &lnwire.Warning{ChannelID: id, Data: []byte(fmt.Sprintf("warning %d", i))})
		}
	}
	return out
}

func encodeAll(t *testing.T, msgs []lnwire.Message) [][]byte {
	var out [][]byte
	for _, m := range msgs {
		b, err := lnwire.EncodeMessage(m)
		require.NoError(t, err)
		out = append(out, b)
	}
	return out
}

func TestChannelMessagesRouted(t *testing.T) {
	a := newNode(t, 1, nodeOpts{})
	b := newNode(t, 2, nodeOpts{})
	l := connect(t, a, b, 7)
	l.run()

	sent := channelMessages(200)
	for _, m := range sent {
		a.chanH.queue(events.MessageSendEvent{NodeID: b.id(), Msg: m})
	}
	// An event for a node we are not connected to is dropped.
	a.chanH.queue(events.MessageSendEvent{NodeID: privFromSeed(99).PubKey(), Msg: sent[0]})
	l.run()

	got := b.chanH.messages()
	require.Len(t, got, len(sent))
	gotEnc := make([]lnwire.Message, len(got))
	for i, r := range got {
		require.True(t, r.from.IsEqual(a.id()))
		gotEnc[i] = r.msg
	}
	require.Equal(t, encodeAll(t, sent), encodeAll(t, gotEnc), "same messages, same order")

	// An error with DisconnectPeer: b receives the error, then both sides see the disconnect.
	errMsg := &lnwire.Error{Data: []byte("bye")}
	a.chanH.queue(events.MessageSendEvent{NodeID: b.id(), Msg: errMsg, DisconnectPeer: true})
	l.run()
	got = b.chanH.messages()
	require.Equal(t, encodeAll(t, []lnwire.Message{errMsg}), encodeAll(t, []lnwire.Message{got[len(got)-1].msg}))
	require.True(t, l.da.isDisconnected())
	require.False(t, a.chanH.isConnected(b.id()))
	require.False(t, b.chanH.isConnected(a.id()))
	require.Empty(t, a.pm.GetPeerNodeIDs())
	require.Empty(t, b.pm.GetPeerNodeIDs())
	require.Equal(t, "disconnect", b.chanH.eventLog()[len(b.chanH.eventLog())-1])
	a.chanH.checkNoViolations(t)
	b.chanH.checkNoViolations(t)
}

func TestDisconnectEventWithoutMessage(t *testing.T) {
	a := newNode(t, 1, nodeOpts{})
	b := newNode(t, 2, nodeOpts{})
	l := connect(t, a, b, 8)
	l.run()
	a.chanH.queue(events.MessageSendEvent{NodeID: b.id(), DisconnectPeer: true})
	l.run()
	require.True(t, l.da.isDisconnected())
	require.False(t, a.chanH.isConnected(b.id()))
	require.False(t, b.chanH.isConnected(a.id()))
}

func TestCustomMessages(t *testing.T) {
	a := newNode(t, 1, nodeOpts{})
	b := newNode(t, 2, nodeOpts{proxy: true, customType: []lnwire.MessageType{customType, customEven}})
	l := connect(t, a, b, 9)
	l.run()

	// Through SendCustomMessage and through the custom handler's pending list.
	m1 := &lnwire.UnknownMessage{Type: customType, Payload: []byte("one")}
	m2 := &lnwire.UnknownMessage{Type: customEven, Payload: []byte("two")}
	require.NoError(t, a.pm.SendCustomMessage(b.id(), m1))
	a.custom.queue(CustomMessage{NodeID: b.id(), Msg: m2})
	l.run()
	got := b.custom.received()
	require.Len(t, got, 2)
	require.Equal(t, m1, got[0].Msg)
	require.Equal(t, m2, got[1].Msg)
	require.True(t, got[0].NodeID.IsEqual(a.id()))
	proxy := b.pm.customHandler.(*proxyCustom)
	require.Equal(t, 2, proxy.handledCount())

	// An odd type the handler refuses is ignored; gossip is ignored, even type 256.
	require.NoError(t, a.pm.SendCustomMessage(b.id(), &lnwire.UnknownMessage{Type: 32803, Payload: []byte{1}}))
	require.ErrorIs(t, a.pm.SendCustomMessage(b.id(), &lnwire.UnknownMessage{Type: 256, Payload: []byte{1}}), ErrInvalidCustomMessage)
	for _, pa := range a.pm.peers { // a malformed channel_announcement, queued below the API
		pa.mu.Lock()
		pa.queuePlaintext([]byte{0x01, 0x00, 1})
		pa.mu.Unlock()
	}
	l.run()
	require.Len(t, b.custom.received(), 2)
	require.Equal(t, 3, proxy.handledCount()) // 32803 reached the handler; 256 did not
	require.True(t, b.chanH.isConnected(a.id()))

	// An even type the handler refuses: b warns and disconnects.
	require.NoError(t, a.pm.SendCustomMessage(b.id(), &lnwire.UnknownMessage{Type: 32802}))
	l.run()
	require.ErrorIs(t, l.errB, ErrUnknownEvenMessage)
	require.ErrorIs(t, l.errB, errNotMine)
	require.False(t, b.chanH.isConnected(a.id()))
	require.False(t, a.chanH.isConnected(b.id()))
	msgs := a.chanH.messages()
	require.NotEmpty(t, msgs)
	w, ok := msgs[len(msgs)-1].msg.(*lnwire.Warning)
	require.True(t, ok)
	require.Contains(t, string(w.Data), "32802")

	// Errors of SendCustomMessage.
	require.ErrorIs(t, a.pm.SendCustomMessage(b.id(), &lnwire.UnknownMessage{Type: customType}), ErrPeerNotConnected)
	require.ErrorIs(t, a.pm.SendCustomMessage(b.id(), &lnwire.UnknownMessage{Type: lnwire.MsgPing}), ErrInvalidCustomMessage)
	require.ErrorIs(t, a.pm.SendCustomMessage(b.id(), nil), ErrInvalidCustomMessage)
	require.ErrorIs(t, a.pm.SendCustomMessage(nil, m1), ErrInvalidArgument)
}

func TestNoCustomHandler(t *testing.T) {
	a := newNode(t, 1, nodeOpts{})
	b := newNode(t, 2, nodeOpts{noCustom: true})
	l := connect(t, a, b, 10)
	l.run()
	require.NoError(t, a.pm.SendCustomMessage(b.id(), &lnwire.UnknownMessage{Type: customType}))
	l.run()
	require.True(t, b.chanH.isConnected(a.id()), "unknown odd message ignored")
	require.NoError(t, a.pm.SendCustomMessage(b.id(), &lnwire.UnknownMessage{Type: customEven}))
	l.run()
	require.ErrorIs(t, l.errB, ErrUnknownEvenMessage)
	require.False(t, a.chanH.isConnected(b.id()))
}

func TestNoChannelHandler(t *testing.T) {
	a := newNode(t, 1, nodeOpts{})
	b := newNode(t, 2, nodeOpts{noChan: true, customType: []lnwire.MessageType{customType}})
	l := connect(t, a, b, 11)
	l.run()
	a.chanH.queue(events.MessageSendEvent{NodeID: b.id(), Msg: &lnwire.UpdateFee{FeeratePerKw: 300}})
	require.NoError(t, a.pm.SendCustomMessage(b.id(), &lnwire.UnknownMessage{Type: customType}))
	l.run()
	require.NoError(t, l.errB)
	require.Len(t, b.custom.received(), 1)
	require.Len(t, b.pm.GetPeerNodeIDs(), 1)
}

func TestPingPongOverTicks(t *testing.T) {
	a := newNode(t, 1, nodeOpts{})
	b := newNode(t, 2, nodeOpts{})
	l := connect(t, a, b, 12)
	l.run()
	l.run() // nothing more to move: both sides idle

	for tick := 0; tick < 6; tick++ {
		a.pm.TimerTickOccurred()
		b.pm.TimerTickOccurred()
		l.run()
		require.True(t, a.chanH.isConnected(b.id()), "tick %d", tick)
		require.True(t, b.chanH.isConnected(a.id()), "tick %d", tick)
	}
	// Pings were answered: both sides sent and received pongs.
	pa := a.pm.peerByNode(b.id())
	require.NotNil(t, pa)
	pa.mu.Lock()
	require.False(t, pa.awaitingPong)
	pa.mu.Unlock()
}

func (pm *PeerManager) peerByNode(id *btcec.PublicKey) *peer {
	return pm.connectedPeer(keyOf(id))
}

func TestPingSentOnlyWhenIdle(t *testing.T) {
	a := newNode(t, 1, nodeOpts{cfg: Config{PingIntervalTicks: 2}})
	b := newNode(t, 2, nodeOpts{})
	l := connect(t, a, b, 13)
	l.run()
	p := a.pm.peerByNode(b.id())
	awaiting := func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.awaitingPong
	}
	a.pm.TimerTickOccurred() // traffic (init) was received since creation: no ping
	require.False(t, awaiting())
	a.pm.TimerTickOccurred() // idle 1 tick
	require.False(t, awaiting())
	a.pm.TimerTickOccurred() // idle 2 ticks: ping
	require.True(t, awaiting())
	l.run()
	require.False(t, awaiting(), "pong received")
}

func TestDisconnectOnMissingPong(t *testing.T) {
	a := newNode(t, 1, nodeOpts{})
	b := newNode(t, 2, nodeOpts{})
	l := connect(t, a, b, 14)
	l.run()
	a.pm.TimerTickOccurred() // init was traffic
	a.pm.TimerTickOccurred() // idle: ping queued and written, but b never reads it
	require.False(t, l.da.isDisconnected())
	a.pm.TimerTickOccurred() // no pong, no traffic: disconnect
	require.True(t, l.da.isDisconnected())
	require.False(t, a.chanH.isConnected(b.id()))
	require.Empty(t, a.pm.GetPeerNodeIDs())
	l.run()
	require.False(t, b.chanH.isConnected(a.id()))
}

func TestPongWaitExtendedWhilePeerIsBusy(t *testing.T) {
	a := newNode(t, 1, nodeOpts{cfg: Config{MaxPongWaitTicks: 3}})
	r, _ := rawConnect(t, a, 50)
	require.NoError(t, r.send(&lnwire.Init{}))
	a.pm.TimerTickOccurred()
	a.pm.TimerTickOccurred() // ping
	msgs := r.read()
	require.IsType(t, &lnwire.Ping{}, msgs[len(msgs)-1])
	for i := 0; i < 2; i++ { // keeps sending other traffic, no pong
		require.NoError(t, r.send(&lnwire.UnknownMessage{Type: customType}))
		a.pm.TimerTickOccurred()
		require.False(t, r.desc.isDisconnected(), "tick %d", i)
	}
	require.NoError(t, r.send(&lnwire.UnknownMessage{Type: customType}))
	a.pm.TimerTickOccurred() // MaxPongWaitTicks reached
	require.True(t, r.desc.isDisconnected())
}

func TestUnknownRequiredFeatureDisconnects(t *testing.T) {
	a := newNode(t, 1, nodeOpts{})
	b := newNode(t, 2, nodeOpts{chanFeat: []lnwire.FeatureBit{100}}) // requires bit 100, unknown to a
	l := connect(t, a, b, 15)
	l.run()
	require.ErrorIs(t, l.errA, ErrUnknownRequiredFeature)
	require.False(t, a.chanH.isConnected(b.id()))
	require.False(t, b.chanH.isConnected(a.id()))
	require.Empty(t, a.pm.GetPeerNodeIDs())
	require.Empty(t, b.pm.GetPeerNodeIDs())
	// b had accepted a's init, so it got a's warning before the disconnect.
	msgs := b.chanH.messages()
	require.Len(t, msgs, 1)
	require.IsType(t, &lnwire.Warning{}, msgs[0].msg)
	require.Equal(t, []string{"connect", "msg", "disconnect"}, b.chanH.eventLog())
	require.Empty(t, a.chanH.eventLog())
	a.chanH.checkNoViolations(t)
	b.chanH.checkNoViolations(t)

	// The optional bit 101 is fine.
	c := newNode(t, 3, nodeOpts{chanFeat: []lnwire.FeatureBit{101}})
	l = connect(t, a, c, 16)
	l.run()
	require.NoError(t, l.errA)
	require.True(t, a.chanH.isConnected(c.id()))
}

func TestNoCommonNetwork(t *testing.T) {
	a := newNode(t, 1, nodeOpts{})
	b := newNode(t, 2, nodeOpts{cfg: Config{ChainHashes: []chainhash.Hash{*chaincfg.TestNet3Params.GenesisHash}}})
	l := connect(t, a, b, 17)
	l.run()
	require.ErrorIs(t, l.errA, ErrNoCommonNetwork)
	require.ErrorIs(t, l.errB, ErrNoCommonNetwork)
	require.Empty(t, a.chanH.eventLog())
	require.Empty(t, b.chanH.eventLog())

	// One chain in common is enough.
	c := newNode(t, 3, nodeOpts{cfg: Config{ChainHashes: []chainhash.Hash{
		*chaincfg.TestNet3Params.GenesisHash, *chaincfg.MainNetParams.GenesisHash}}})
	l = connect(t, a, c, 18)
	l.run()
	require.True(t, a.chanH.isConnected(c.id()))
	require.True(t, c.chanH.isConnected(a.id()))
}

func TestPeerConnectedRejected(t *testing.T) {
	a := newNode(t, 1, nodeOpts{})
	b := newNode(t, 2, nodeOpts{})
	b.chanH.rejectConnect = errors.New("no thanks")
	l := connect(t, a, b, 19)
	l.run()
	require.ErrorIs(t, l.errB, ErrPeerRejected)
	require.ErrorIs(t, l.errB, b.chanH.rejectConnect)
	require.Empty(t, b.chanH.eventLog(), "no PeerDisconnected after a refused PeerConnected")
	require.Empty(t, b.pm.GetPeerNodeIDs())
	require.False(t, a.chanH.isConnected(b.id()))
	a.chanH.checkNoViolations(t)
}

func TestRawPeerProtocol(t *testing.T) {
	t.Run("init contents", func(t *testing.T) {
		a := newNode(t, 1, nodeOpts{chanFeat: []lnwire.FeatureBit{lnwire.VarOnionOptinRequired}})
		_, init := rawConnect(t, a, 50)
		require.True(t, init.Features.IsSet(lnwire.VarOnionOptinRequired))
		require.Equal(t, []chainhash.Hash{*chaincfg.MainNetParams.GenesisHash}, init.Networks)
	})
	t.Run("init without networks accepted", func(t *testing.T) {
		a := newNode(t, 1, nodeOpts{})
		r, _ := rawConnect(t, a, 50)
		require.NoError(t, r.send(&lnwire.Init{}))
		require.True(t, a.chanH.isConnected(r.priv.PubKey()))
	})
	t.Run("message before init", func(t *testing.T) {
		a := newNode(t, 1, nodeOpts{})
		r, _ := rawConnect(t, a, 50)
		require.ErrorIs(t, r.send(&lnwire.Ping{}), ErrMessageBeforeInit)
		require.Empty(t, a.chanH.eventLog())
		_, err := a.pm.ReadEvent(r.desc, []byte{1})
		require.ErrorIs(t, err, ErrUnknownDescriptor, "forgotten after the error")
	})
	t.Run("invalid init", func(t *testing.T) {
		a := newNode(t, 1, nodeOpts{})
		r, _ := rawConnect(t, a, 50)
		require.ErrorIs(t, r.sendRaw([]byte{0, 16, 0}), ErrInvalidMessage)
	})
	t.Run("empty message", func(t *testing.T) {
		a := newNode(t, 1, nodeOpts{})
		r, _ := rawConnect(t, a, 50)
		require.NoError(t, r.send(&lnwire.Init{}))
		require.ErrorIs(t, r.sendRaw([]byte{}), ErrInvalidMessage)
		require.False(t, a.chanH.isConnected(r.priv.PubKey()))
	})
	t.Run("feature dependency", func(t *testing.T) {
		a := newNode(t, 1, nodeOpts{chanFeat: []lnwire.FeatureBit{lnwire.PaymentSecretOptional}})
		r, _ := rawConnect(t, a, 50)
		err := r.send(&lnwire.Init{Features: lnwire.NewFeatureVector(lnwire.PaymentSecretOptional)})
		require.ErrorIs(t, err, ErrBadFeatureDependency)
	})
	t.Run("unknown required feature in globalfeatures", func(t *testing.T) {
		a := newNode(t, 1, nodeOpts{})
		r, _ := rawConnect(t, a, 50)
		err := r.send(&lnwire.Init{GlobalFeatures: lnwire.NewFeatureVector(40)})
		require.ErrorIs(t, err, ErrUnknownRequiredFeature)
		msgs := r.read()
		require.Len(t, msgs, 1)
		require.IsType(t, &lnwire.Warning{}, msgs[0])
	})
	t.Run("empty networks list", func(t *testing.T) {
		a := newNode(t, 1, nodeOpts{})
		r, _ := rawConnect(t, a, 50)
		require.ErrorIs(t, r.send(&lnwire.Init{Networks: []chainhash.Hash{}}), ErrNoCommonNetwork)
	})
	t.Run("ping pong", func(t *testing.T) {
		a := newNode(t, 1, nodeOpts{})
		r, _ := rawConnect(t, a, 50)
		require.NoError(t, r.send(&lnwire.Init{}))
		require.NoError(t, r.send(&lnwire.Ping{NumPongBytes: 10, Ignored: make([]byte, 3)}))
		msgs := r.read()
		require.Len(t, msgs, 1)
		require.Equal(t, make([]byte, 10), msgs[0].(*lnwire.Pong).Ignored)
		require.NoError(t, r.send(&lnwire.Ping{NumPongBytes: lnwire.MaxPongBytes}))
		msgs = r.read()
		require.Len(t, msgs, 1)
		require.Len(t, msgs[0].(*lnwire.Pong).Ignored, lnwire.MaxPongBytes)
		require.NoError(t, r.send(&lnwire.Ping{NumPongBytes: 65532}), "no pong due")
		require.NoError(t, r.send(&lnwire.Ping{NumPongBytes: 65535}))
		require.Empty(t, r.read())
		require.NoError(t, r.send(&lnwire.Pong{Ignored: make([]byte, 5)}), "unsolicited pong ignored")
		require.Empty(t, a.chanH.messages(), "ping/pong are not routed to the handler")
	})
	t.Run("pong of the wrong length", func(t *testing.T) {
		a := newNode(t, 1, nodeOpts{})
		r, _ := rawConnect(t, a, 50)
		require.NoError(t, r.send(&lnwire.Init{}))
		a.pm.TimerTickOccurred()
		a.pm.TimerTickOccurred()
		msgs := r.read()
		ping := msgs[len(msgs)-1].(*lnwire.Ping)
		err := r.send(&lnwire.Pong{Ignored: make([]byte, int(ping.NumPongBytes)+1)})
		require.ErrorIs(t, err, ErrBadPong)
		require.False(t, a.chanH.isConnected(r.priv.PubKey()))
	})
	t.Run("right pong", func(t *testing.T) {
		a := newNode(t, 1, nodeOpts{})
		r, _ := rawConnect(t, a, 50)
		require.NoError(t, r.send(&lnwire.Init{}))
		a.pm.TimerTickOccurred()
		a.pm.TimerTickOccurred()
		msgs := r.read()
		ping := msgs[len(msgs)-1].(*lnwire.Ping)
		require.NoError(t, r.send(&lnwire.Pong{Ignored: make([]byte, ping.NumPongBytes)}))
		a.pm.TimerTickOccurred()
		require.False(t, r.desc.isDisconnected())
	})
	t.Run("duplicate init", func(t *testing.T) {
		a := newNode(t, 1, nodeOpts{})
		r, _ := rawConnect(t, a, 50)
		require.NoError(t, r.send(&lnwire.Init{}))
		require.ErrorIs(t, r.send(&lnwire.Init{}), ErrDuplicateInit)
		require.Equal(t, []string{"connect", "disconnect"}, a.chanH.eventLog())
	})
	t.Run("malformed known message", func(t *testing.T) {
		a := newNode(t, 1, nodeOpts{})
		r, _ := rawConnect(t, a, 50)
		require.NoError(t, r.send(&lnwire.Init{}))
		err := r.sendRaw([]byte{0, byte(lnwire.MsgUpdateFee), 1, 2, 3})
		require.ErrorIs(t, err, ErrInvalidMessage)
		require.ErrorIs(t, err, lnwire.ErrShortRead)
		msgs := r.read()
		require.Len(t, msgs, 1)
		require.IsType(t, &lnwire.Warning{}, msgs[0])
	})
	t.Run("error routed and logged", func(t *testing.T) {
		var logBuf syncBuffer
		a := newNode(t, 1, nodeOpts{logger: slog.New(slog.NewTextHandler(&logBuf, nil))})
		r, _ := rawConnect(t, a, 50)
		require.NoError(t, r.send(&lnwire.Init{}))
		require.NoError(t, r.send(&lnwire.Error{Data: []byte("bad \x00 thing")}))
		msgs := a.chanH.messages()
		require.Len(t, msgs, 1)
		require.Equal(t, []byte("bad \x00 thing"), msgs[0].msg.(*lnwire.Error).Data)
		require.Contains(t, logBuf.String(), "peer sent error")
		require.Contains(t, logBuf.String(), `bad \\x00 thing`, "logged escaped")
	})
	t.Run("several messages in one read, split init", func(t *testing.T) {
		a := newNode(t, 1, nodeOpts{})
		r, _ := rawConnect(t, a, 50)
		var stream []byte
		for _, m := range append([]lnwire.Message{&lnwire.Init{}}, channelMessages(5)...) {
			b, err := lnwire.EncodeMessage(m)
			require.NoError(t, err)
			stream, err = r.tr.AppendEncryptedMessage(stream, b)
			require.NoError(t, err)
		}
		for i := 0; i < len(stream); i += 3 {
			_, err := a.pm.ReadEvent(r.desc, stream[i:min(len(stream), i+3)])
			require.NoError(t, err)
		}
		require.Len(t, a.chanH.messages(), 5)
	})
}

func TestGarbageFromSocket(t *testing.T) {
	rng := rand.New(rand.NewSource(5))
	for i := 0; i < 50; i++ {
		a := newNode(t, 1, nodeOpts{})
		d := newPipe()
		require.NoError(t, a.pm.NewInboundConnection(d))
		junk := make([]byte, 1+rng.Intn(200))
		rng.Read(junk)
		junk[0] = byte(i % 3) // sometimes a valid version byte
		var err error
		for len(junk) > 0 && err == nil {
			n := min(len(junk), 1+rng.Intn(60))
			_, err = a.pm.ReadEvent(d, junk[:n])
			junk = junk[n:]
		}
		if err != nil {
			require.ErrorIs(t, err, ErrHandshakeFailed)
		}
	}

	// Garbage after a completed handshake fails decryption.
	a := newNode(t, 1, nodeOpts{})
	r, _ := rawConnect(t, a, 50)
	require.NoError(t, r.send(&lnwire.Init{}))
	_, err := a.pm.ReadEvent(r.desc, bytes.Repeat([]byte{0x5a}, 40))
	require.ErrorIs(t, err, ErrDecryptFailed)
	require.ErrorIs(t, err, noise.ErrBadLengthTag)
	require.False(t, a.chanH.isConnected(r.priv.PubKey()))
	require.Empty(t, a.pm.GetPeerNodeIDs())
}

func TestHandshakeWithWrongNodeID(t *testing.T) {
	a := newNode(t, 1, nodeOpts{})
	b := newNode(t, 2, nodeOpts{})
	d, db := newPipe(), newPipe()
	act1, err := a.pm.NewOutboundConnection(privFromSeed(77).PubKey(), d) // not b's key
	require.NoError(t, err)
	require.NoError(t, b.pm.NewInboundConnection(db))
	_, err = b.pm.ReadEvent(db, act1)
	require.ErrorIs(t, err, ErrHandshakeFailed)
	require.ErrorIs(t, err, noise.ErrAct1BadTag)
}

func TestBackPressure(t *testing.T) {
	cfg := Config{OutboundBufferPauseBytes: 4096}
	a := newNode(t, 1, nodeOpts{cfg: cfg})
	b := newNode(t, 2, nodeOpts{cfg: cfg, customType: []lnwire.MessageType{customType}})
	l := connect(t, a, b, 20)
	l.run()

	// a's socket takes only 7 bytes per write.
	l.da.mu.Lock()
	l.da.limit = 7
	l.da.mu.Unlock()
	const n = 300
	for i := 0; i < n; i++ {
		a.custom.queue(CustomMessage{NodeID: b.id(), Msg: &lnwire.UnknownMessage{
			Type: customType, Payload: bytes.Repeat([]byte{byte(i)}, 100)}})
	}
	a.pm.ProcessEvents()
	// Only about the pause limit has been encrypted; the rest waits as plaintext.
	p := a.pm.peerByNode(b.id())
	p.mu.Lock()
	encrypted := len(p.outbuf) - p.outOff
	pendingCount := len(p.pending)
	p.mu.Unlock()
	require.LessOrEqual(t, encrypted, 4096+noise.MaxPacketSize)
	require.Greater(t, pendingCount, n/2)

	// a now receives data while its queue to b is full: it asks the host to pause reading.
	require.NoError(t, b.pm.SendCustomMessage(a.id(), &lnwire.UnknownMessage{Type: customType}))
	l.step()
	require.True(t, l.da.isPaused(), "a paused reading")

	l.run()
	got := b.custom.received()
	require.Len(t, got, n)
	for i, m := range got {
		require.Equal(t, bytes.Repeat([]byte{byte(i)}, 100), m.Msg.Payload)
	}
	require.False(t, l.da.isPaused(), "reading resumed")
	l.da.mu.Lock()
	resumes, calls := l.da.resumes, l.da.sendCalls
	l.da.mu.Unlock()
	require.Positive(t, resumes)
	require.Greater(t, calls, n*100/7, "everything went out 7 bytes at a time")
	require.True(t, a.chanH.isConnected(b.id()))
}

func TestPingFloodDisconnects(t *testing.T) {
	a := newNode(t, 1, nodeOpts{cfg: Config{OutboundBufferPauseBytes: 1000, MaxOutboundBufferBytes: 200000}})
	r, _ := rawConnect(t, a, 50)
	require.NoError(t, r.send(&lnwire.Init{}))
	r.desc.mu.Lock()
	r.desc.blocked = true // the raw peer never reads
	r.desc.mu.Unlock()
	var err error
	for i := 0; i < 10 && err == nil; i++ {
		err = r.send(&lnwire.Ping{NumPongBytes: lnwire.MaxPongBytes})
	}
	require.ErrorIs(t, err, ErrOutboundBufferFull)
}

func TestDuplicateConnectionKeepsNewer(t *testing.T) {
	a := newNode(t, 1, nodeOpts{})
	b := newNode(t, 2, nodeOpts{})
	l1 := connect(t, a, b, 21)
	l1.run()
	l2 := connect(t, a, b, 22)
	l2.run()
	l1.run()
	l2.run()
	require.True(t, l1.da.isDisconnected() || l1.db.isDisconnected(), "older connection closed")
	require.False(t, l2.da.isDisconnected())
	require.False(t, l2.db.isDisconnected())
	require.Equal(t, []string{"connect", "disconnect", "connect"}, a.chanH.eventLog())
	require.Equal(t, []string{"connect", "disconnect", "connect"}, b.chanH.eventLog())
	require.Len(t, a.pm.GetPeerNodeIDs(), 1)
	require.Len(t, b.pm.GetPeerNodeIDs(), 1)

	// The new connection works.
	a.chanH.queue(events.MessageSendEvent{NodeID: b.id(), Msg: &lnwire.UpdateFee{FeeratePerKw: 1000}})
	l2.run()
	require.Len(t, b.chanH.messages(), 1)
	a.chanH.checkNoViolations(t)
	b.chanH.checkNoViolations(t)
}

func TestHandshakeTimeout(t *testing.T) {
	a := newNode(t, 1, nodeOpts{})
	d := newPipe()
	require.NoError(t, a.pm.NewInboundConnection(d))
	a.pm.TimerTickOccurred()
	require.False(t, d.isDisconnected())
	a.pm.TimerTickOccurred()
	require.True(t, d.isDisconnected())
	_, err := a.pm.ReadEvent(d, []byte{0})
	require.ErrorIs(t, err, ErrUnknownDescriptor)

	// A peer that finished noise but never sends init also times out.
	r, _ := rawConnect(t, a, 50)
	a.pm.TimerTickOccurred()
	a.pm.TimerTickOccurred()
	require.True(t, r.desc.isDisconnected())
}

type sliceDesc []byte

func (sliceDesc) SendData([]byte, bool) int { return 0 }
func (sliceDesc) DisconnectSocket()         {}

func TestDescriptorErrors(t *testing.T) {
	a := newNode(t, 1, nodeOpts{})
	require.ErrorIs(t, a.pm.NewInboundConnection(sliceDesc{1}), ErrDescriptorNotComparable)
	_, err := a.pm.NewOutboundConnection(privFromSeed(3).PubKey(), sliceDesc{1})
	require.ErrorIs(t, err, ErrDescriptorNotComparable)
	require.ErrorIs(t, a.pm.NewInboundConnection(nil), ErrInvalidArgument)
	_, err = a.pm.NewOutboundConnection(nil, newPipe())
	require.ErrorIs(t, err, ErrInvalidArgument)
	d := newPipe()
	require.NoError(t, a.pm.NewInboundConnection(d))
	require.ErrorIs(t, a.pm.NewInboundConnection(d), ErrDuplicateDescriptor)
	_, err = a.pm.ReadEvent(sliceDesc{1}, []byte{1})
	require.ErrorIs(t, err, ErrUnknownDescriptor)
	_, err = a.pm.ReadEvent(newPipe(), []byte{1})
	require.ErrorIs(t, err, ErrUnknownDescriptor)
	require.ErrorIs(t, a.pm.WriteBufferSpaceAvail(newPipe()), ErrUnknownDescriptor)
	a.pm.SocketDisconnected(newPipe()) // ignored
	a.pm.SocketDisconnected(d)
	require.ErrorIs(t, a.pm.WriteBufferSpaceAvail(d), ErrUnknownDescriptor)
	a.pm.DisconnectByNodeID(privFromSeed(3).PubKey()) // not connected: nothing
	a.pm.DisconnectByNodeID(nil)
}

type zeroEntropy struct{}

func (zeroEntropy) GetSecureRandomBytes() [32]byte { return [32]byte{} }

func TestBadEntropy(t *testing.T) {
	pm := New(MessageHandler{}, testSigner{privFromSeed(1)}, zeroEntropy{}, Config{}, nil)
	require.ErrorIs(t, pm.NewInboundConnection(newPipe()), ErrNoEntropy)
	_, err := pm.NewOutboundConnection(privFromSeed(2).PubKey(), newPipe())
	require.ErrorIs(t, err, ErrNoEntropy)
}

func TestDisconnectByNodeID(t *testing.T) {
	a := newNode(t, 1, nodeOpts{})
	b := newNode(t, 2, nodeOpts{})
	l := connect(t, a, b, 23)
	l.run()
	a.pm.DisconnectByNodeID(b.id())
	require.True(t, l.da.isDisconnected())
	require.Equal(t, []string{"connect", "disconnect"}, a.chanH.eventLog())
	l.run()
	require.Equal(t, []string{"connect", "disconnect"}, b.chanH.eventLog())
}

// TestConcurrentPeers runs a hub with several peers, each link shuttled by its own goroutine, while
// other goroutines call ProcessEvents, TimerTickOccurred and GetPeerNodeIDs on the hub. Run with -race.
func TestConcurrentPeers(t *testing.T) {
	hub := newNode(t, 1, nodeOpts{customType: []lnwire.MessageType{customType}})
	const peers = 6
	const perPeer = 40
	links := make([]*link, peers)
	spokes := make([]*node, peers)
	for i := range spokes {
		spokes[i] = newNode(t, byte(10+i), nodeOpts{customType: []lnwire.MessageType{customType}})
		links[i] = connect(t, spokes[i], hub, int64(100+i))
	}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for i := range links {
		wg.Add(1)
		go func(l *link, spoke *node) {
			defer wg.Done()
			l.run()
			for j := 0; j < perPeer; j++ {
				// Spoke to hub (custom and channel messages), and hub to spoke.
				if err := spoke.pm.SendCustomMessage(hub.id(), &lnwire.UnknownMessage{
					Type: customType, Payload: []byte{byte(j)}}); err != nil {
					t.Error(err)
					return
				}
				spoke.chanH.queue(events.MessageSendEvent{NodeID: hub.id(), Msg: &lnwire.UpdateFee{FeeratePerKw: uint32(j)}})
				hub.custom.queue(CustomMessage{NodeID: spoke.id(), Msg: &lnwire.UnknownMessage{
					Type: customType, Payload: []byte{byte(j)}}})
				for k := 0; k < 3; k++ {
					spoke.pm.ProcessEvents()
					hub.pm.ProcessEvents()
					l.step()
				}
			}
			l.run()
		}(links[i], spokes[i])
	}
	var bg sync.WaitGroup
	bg.Add(1)
	go func() {
		defer bg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			hub.pm.ProcessEvents()
			_ = hub.pm.GetPeerNodeIDs()
		}
	}()
	wg.Wait()
	close(stop)
	bg.Wait()
	for i, l := range links {
		l.run()
		require.NoError(t, l.errA, "link %d", i)
		require.NoError(t, l.errB, "link %d", i)
		require.Len(t, spokes[i].custom.received(), perPeer, "spoke %d", i)
	}
	require.Len(t, hub.custom.received(), peers*perPeer)
	require.Len(t, hub.chanH.messages(), peers*perPeer)
	// Per spoke, the hub saw its messages in order.
	next := map[nodeKey]uint32{}
	for _, m := range hub.chanH.messages() {
		k := keyOf(m.from)
		require.Equal(t, next[k], m.msg.(*lnwire.UpdateFee).FeeratePerKw)
		next[k]++
	}
	require.Len(t, hub.pm.GetPeerNodeIDs(), peers)
	hub.chanH.checkNoViolations(t)
}

// TestConcurrentTicksAndReads has one goroutine pushing channel messages through ProcessEvents while
// another ticks the timer and lists peers; the peer gets the messages in order. Run with -race.
func TestConcurrentTicksAndReads(t *testing.T) {
	a := newNode(t, 1, nodeOpts{cfg: Config{PingIntervalTicks: 1000}})
	b := newNode(t, 2, nodeOpts{})
	l := connect(t, a, b, 30)
	l.run()
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 200; i++ {
			a.chanH.queue(events.MessageSendEvent{NodeID: b.id(), Msg: &lnwire.UpdateFee{FeeratePerKw: uint32(i)}})
			a.pm.ProcessEvents()
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 50; i++ {
			a.pm.TimerTickOccurred()
			_ = a.pm.GetPeerNodeIDs()
		}
	}()
	wg.Wait()
	l.run()
	msgs := b.chanH.messages()
	require.Len(t, msgs, 200)
	for i, m := range msgs {
		require.Equal(t, uint32(i), m.msg.(*lnwire.UpdateFee).FeeratePerKw)
	}
}

func TestConnectionToSelfRefused(t *testing.T) {
	a := newNode(t, 1, nodeOpts{})
	_, err := a.pm.NewOutboundConnection(a.id(), newPipe())
	require.ErrorIs(t, err, ErrInvalidArgument)

	// An inbound connection whose initiator turns out to hold our own key.
	d := newPipe()
	require.NoError(t, a.pm.NewInboundConnection(d))
	hs, act1, err := noise.NewInitiator(a.id(), noise.PrivateKeyECDH(a.priv), privFromSeed(40), a.id())
	require.NoError(t, err)
	_, err = a.pm.ReadEvent(d, act1)
	require.NoError(t, err)
	act3, _, err := hs.ReadAct(d.take())
	require.NoError(t, err)
	_, err = a.pm.ReadEvent(d, act3)
	require.ErrorIs(t, err, ErrHandshakeFailed)
	require.Empty(t, a.chanH.eventLog())
}

// TestBytesDuringHandshakeCompletion feeds the peer's init while the PeerManager is between finishing
// act three and queueing its own init (from inside the handler call it makes there, which the contract
// forbids, but which must still be safe): the bytes are parked and processed in order.
func TestBytesDuringHandshakeCompletion(t *testing.T) {
	a := newNode(t, 1, nodeOpts{})
	d := newPipe()
	require.NoError(t, a.pm.NewInboundConnection(d))
	rp := privFromSeed(41)
	hs, act1, err := noise.NewInitiator(rp.PubKey(), noise.PrivateKeyECDH(rp), privFromSeed(42), a.id())
	require.NoError(t, err)
	_, err = a.pm.ReadEvent(d, act1)
	require.NoError(t, err)
	act3, _, err := hs.ReadAct(d.take())
	require.NoError(t, err)
	tr := hs.Transport()
	var early []byte
	for _, m := range []lnwire.Message{&lnwire.Init{}, &lnwire.UpdateFee{FeeratePerKw: 7}} {
		b, err := lnwire.EncodeMessage(m)
		require.NoError(t, err)
		early, err = tr.AppendEncryptedMessage(early, b)
		require.NoError(t, err)
	}
	var nestedErr error
	nestedCalls := 0
	a.chanH.onFeatures = func() {
		nestedCalls++
		_, nestedErr = a.pm.ReadEvent(d, early)
	}
	_, err = a.pm.ReadEvent(d, act3)
	require.NoError(t, err)
	require.NoError(t, nestedErr)
	require.Equal(t, 1, nestedCalls)
	require.Equal(t, []string{"connect", "msg"}, a.chanH.eventLog())

	// The peer got our init first.
	pts, err := tr.Decrypt(d.take())
	require.NoError(t, err)
	require.NotEmpty(t, pts)
	m, err := lnwire.DecodeMessage(pts[0])
	require.NoError(t, err)
	require.IsType(t, &lnwire.Init{}, m)
}

// syncBuffer is a bytes.Buffer safe for concurrent writes (a log destination).
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// keys.KeysManager is the production NodeSigner and EntropySource.
var (
	_ NodeSigner    = (*keys.KeysManager)(nil)
	_ EntropySource = (*keys.KeysManager)(nil)
)

func TestWithKeysManager(t *testing.T) {
	mk := func(seed byte) (*PeerManager, *fakeChan, *keys.KeysManager) {
		km := keys.NewKeysManager([32]byte{seed}, 1700000000, 0)
		ch := newFakeChan()
		return New(MessageHandler{Chan: ch}, km, km, Config{}, nil), ch, km
	}
	pmA, chA, kmA := mk(1)
	pmB, chB, kmB := mk(2)
	a := &node{pm: pmA, chanH: chA, custom: newFakeCustom(nil)}
	b := &node{pm: pmB, chanH: chB, custom: newFakeCustom(nil)}
	// Build the link by hand: the node ids come from the KeysManagers, not from node.priv.
	l := &link{t: t, a: a, b: b, da: newPipe(), db: newPipe(), rng: rand.New(rand.NewSource(3)), maxChk: 50}
	act1, err := pmA.NewOutboundConnection(kmB.GetNodeID(), l.da)
	require.NoError(t, err)
	require.NoError(t, pmB.NewInboundConnection(l.db))
	l.inflightAB = act1
	l.run()
	require.True(t, chA.isConnected(kmB.GetNodeID()))
	require.True(t, chB.isConnected(kmA.GetNodeID()))
}

// TestHandshakeComplete: a connection is complete for HandshakeComplete only once the handshake and the
// init exchange are done, on both sides; an unknown or disconnected one is not.
func TestHandshakeComplete(t *testing.T) {
	a := newNode(t, 1, nodeOpts{chanFeat: []lnwire.FeatureBit{lnwire.StaticRemoteKeyRequired}})
	b := newNode(t, 2, nodeOpts{chanFeat: []lnwire.FeatureBit{lnwire.StaticRemoteKeyOptional}})
	l := connect(t, a, b, 1)
	require.False(t, a.pm.HandshakeComplete(l.da))
	require.False(t, b.pm.HandshakeComplete(l.db), "act one not even read")
	l.run()
	require.NoError(t, l.errA)
	require.NoError(t, l.errB)
	require.True(t, a.pm.HandshakeComplete(l.da))
	require.True(t, b.pm.HandshakeComplete(l.db))
	require.False(t, b.pm.HandshakeComplete(newPipe()), "unknown connection")
	b.pm.SocketDisconnected(l.db)
	require.False(t, b.pm.HandshakeComplete(l.db))
}
