package proxy

import (
	"errors"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/lnwire"
)

// Every ChannelMessageHandler method reaches the inner handler, with its arguments and results.
func TestChannelHandlerPassesThrough(t *testing.T) {
	inner := &recorder{features: lnwire.NewFeatureVector(lnwire.FeatureBit(17))}
	px := New(Options{})
	h := px.Channel(inner)
	a := peerKey(t, 1)

	require.NoError(t, h.PeerConnected(a, &lnwire.Init{}, true))
	h.HandleChannelMessage(a, fee(1))
	h.HandleChannelMessage(a, fee(2))
	require.Same(t, inner.features, h.ProvidedInitFeatures(a))
	out := events.MessageSendEvent{NodeID: a, Msg: fee(3)}
	inner.pending = []events.MessageSendEvent{out}
	require.Equal(t, []events.MessageSendEvent{out}, h.GetAndClearPendingMsgEvents())
	st, ok := px.Stats(a)
	require.True(t, ok)
	require.Equal(t, PeerStats{NodeID: idHex(a), In: 2, Out: 1}, st)
	h.PeerDisconnected(a)

	calls, msgs := inner.got()
	require.Equal(t, []string{"connected", "msg", "msg", "features", "pending", "disconnected"}, calls)
	require.Equal(t, []lnwire.Message{fee(1), fee(2)}, msgs)
	_, ok = px.Stats(a)
	require.False(t, ok, "state removed at PeerDisconnected")

	// A refusal of the inner handler is returned and leaves no state.
	inner.connectErr = errors.New("no")
	require.ErrorIs(t, h.PeerConnected(a, &lnwire.Init{}, false), inner.connectErr)
	require.Empty(t, px.AllStats())
}

// A filtered message does not reach the inner handler; the peer is cut off (its later messages are
// dropped too) and the next pull disconnects it with a warning, once.
func TestChannelHandlerFilterCutsOff(t *testing.T) {
	inner := &recorder{}
	bad := errors.New("fee 2 refused")
	px := New(Options{Filter: func(_ *btcec.PublicKey, m lnwire.Message) error {
		if u, ok := m.(*lnwire.UpdateFee); ok && u.FeeratePerKw == 2 {
			return bad
		}
		return nil
	}})
	h := px.Channel(inner)
	a, b := peerKey(t, 1), peerKey(t, 2)
	require.NoError(t, h.PeerConnected(a, &lnwire.Init{}, true))
	require.NoError(t, h.PeerConnected(b, &lnwire.Init{}, true))

	h.HandleChannelMessage(a, fee(1))
	h.HandleChannelMessage(a, fee(2))
	h.HandleChannelMessage(a, fee(3)) // after the drop: dropped as well
	h.HandleChannelMessage(b, fee(3)) // another peer is not affected
	_, msgs := inner.got()
	require.Equal(t, []lnwire.Message{fee(1), fee(3)}, msgs)

	evs := h.GetAndClearPendingMsgEvents()
	require.Len(t, evs, 1)
	require.True(t, evs[0].NodeID.IsEqual(a))
	require.True(t, evs[0].DisconnectPeer)
	require.Contains(t, string(evs[0].Msg.(*lnwire.Warning).Data), "fee 2 refused")
	require.Empty(t, h.GetAndClearPendingMsgEvents(), "the disconnect is asked once")

	st, _ := px.Stats(a)
	require.Equal(t, uint64(3), st.In)
	require.Equal(t, uint64(2), st.Dropped)

	// A new connection starts clean.
	h.PeerDisconnected(a)
	require.NoError(t, h.PeerConnected(a, &lnwire.Init{}, true))
	h.HandleChannelMessage(a, fee(4))
	_, msgs = inner.got()
	require.Equal(t, fee(4), msgs[len(msgs)-1])
}

// The token bucket: Burst messages at once, then Rate per second, per peer, with the fake clock.
func TestChannelHandlerRateLimit(t *testing.T) {
	clk := newFakeClock()
	inner := &recorder{}
	px := New(Options{Rate: 2, Burst: 3, Clock: clk.Now})
	h := px.Channel(inner)
	a, b := peerKey(t, 1), peerKey(t, 2)
	require.NoError(t, h.PeerConnected(a, &lnwire.Init{}, true))
	require.NoError(t, h.PeerConnected(b, &lnwire.Init{}, true))

	for i := range 3 {
		h.HandleChannelMessage(a, fee(uint32(i)))
	}
	clk.advance(500 * time.Millisecond) // one token back
	h.HandleChannelMessage(a, fee(3))
	for i := range 3 {
		h.HandleChannelMessage(b, fee(uint32(10+i))) // b has its own bucket
	}
	_, msgs := inner.got()
	require.Len(t, msgs, 7)
	require.Empty(t, h.GetAndClearPendingMsgEvents(), "no peer over its rate yet")

	h.HandleChannelMessage(a, fee(4)) // bucket empty: dropped, a is cut off
	evs := h.GetAndClearPendingMsgEvents()
	require.Len(t, evs, 1)
	require.True(t, evs[0].NodeID.IsEqual(a))
	require.Contains(t, string(evs[0].Msg.(*lnwire.Warning).Data), ErrRateLimited.Error())
	st, _ := px.Stats(a)
	require.Equal(t, PeerStats{NodeID: idHex(a), In: 5, Dropped: 1}, st)
}

// A refill never exceeds Burst, however long the peer was quiet.
func TestRateLimitRefillCapped(t *testing.T) {
	clk := newFakeClock()
	px := New(Options{Rate: 1, Burst: 2, Clock: clk.Now})
	c := px.Custom(nil)
	a := peerKey(t, 1)
	clk.advance(time.Hour)
	var errs []error
	for range 3 {
		errs = append(errs, c.HandleCustomMessage(a, &lnwire.UnknownMessage{Type: 40001}))
	}
	require.NoError(t, errs[0])
	require.NoError(t, errs[1])
	require.ErrorIs(t, errs[2], ErrRateLimited)
}

// A clock going back gives no tokens, and time is counted again only from the latest reading.
func TestRateLimitClockBackwards(t *testing.T) {
	clk := newFakeClock()
	px := New(Options{Rate: 1, Burst: 1, Clock: clk.Now})
	c := px.Custom(nil)
	a := peerKey(t, 1)
	msg := &lnwire.UnknownMessage{Type: 40001}
	require.NoError(t, c.HandleCustomMessage(a, msg))
	clk.advance(-time.Hour)
	require.ErrorIs(t, c.HandleCustomMessage(a, msg), ErrRateLimited)
	clk.advance(time.Hour) // back where it was: still no time has passed
	require.ErrorIs(t, c.HandleCustomMessage(a, msg), ErrRateLimited)
	clk.advance(time.Second)
	require.NoError(t, c.HandleCustomMessage(a, msg))
}

// MaxPeers bounds the state: a peer beyond it is refused at PeerConnected; a departure makes room.
func TestMaxPeers(t *testing.T) {
	inner := &recorder{}
	px := New(Options{MaxPeers: 2})
	h := px.Channel(inner)
	require.NoError(t, h.PeerConnected(peerKey(t, 1), &lnwire.Init{}, true))
	require.NoError(t, h.PeerConnected(peerKey(t, 2), &lnwire.Init{}, true))
	require.ErrorIs(t, h.PeerConnected(peerKey(t, 3), &lnwire.Init{}, true), ErrTooManyPeers)
	require.Len(t, px.AllStats(), 2)
	calls, _ := inner.got()
	require.Equal(t, []string{"connected", "connected"}, calls, "the refused peer never reached the inner handler")
	h.PeerDisconnected(peerKey(t, 1))
	require.NoError(t, h.PeerConnected(peerKey(t, 3), &lnwire.Init{}, true))

	// Without a ChannelHandler, custom messages create state lazily within the same bound.
	px2 := New(Options{MaxPeers: 1})
	c := px2.Custom(nil)
	require.NoError(t, c.HandleCustomMessage(peerKey(t, 1), &lnwire.UnknownMessage{Type: 40001}))
	require.ErrorIs(t, c.HandleCustomMessage(peerKey(t, 2), &lnwire.UnknownMessage{Type: 40001}), ErrTooManyPeers)
	require.Len(t, px2.AllStats(), 1)
}
