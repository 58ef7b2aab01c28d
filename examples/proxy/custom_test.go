package proxy

import (
	"bytes"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
)

type seen struct {
	peer *btcec.PublicKey
	msg  *lnwire.UnknownMessage
}

// The ping-app echo: a request is answered with the reply type and the same payload; the reply
// itself goes to the fallback on the other side; unknown odd types go to the fallback; unknown even
// types are refused (BOLT 1), as is anything the filter drops.
func TestCustomHandlerAppProtocol(t *testing.T) {
	var got []seen
	filtered := errors.New("type 40003 filtered")
	px := New(Options{Filter: func(_ *btcec.PublicKey, m lnwire.Message) error {
		if m.MsgType() == 40003 {
			return filtered
		}
		return nil
	}})
	c := px.Custom(func(p *btcec.PublicKey, m *lnwire.UnknownMessage) { got = append(got, seen{p, m}) })
	require.NoError(t, c.Handle(EchoRequestType, Echo))
	a := peerKey(t, 1)

	require.NoError(t, c.HandleCustomMessage(a, &lnwire.UnknownMessage{Type: EchoRequestType, Payload: []byte("hi")}))
	out := c.GetAndClearPendingCustomMessages()
	require.Len(t, out, 1)
	require.True(t, out[0].NodeID.IsEqual(a))
	require.Equal(t, &lnwire.UnknownMessage{Type: EchoReplyType, Payload: []byte("hi")}, out[0].Msg)
	require.Empty(t, c.GetAndClearPendingCustomMessages())
	require.Empty(t, got, "a handled type does not reach the fallback")

	reply := &lnwire.UnknownMessage{Type: EchoReplyType, Payload: []byte("hi")}
	require.NoError(t, c.HandleCustomMessage(a, reply))
	require.Equal(t, []seen{{a, reply}}, got, "a reply is not answered; it reaches the fallback")
	require.Empty(t, c.GetAndClearPendingCustomMessages())

	require.ErrorIs(t, c.HandleCustomMessage(a, &lnwire.UnknownMessage{Type: 40000}), ErrUnknownEvenType)
	require.ErrorIs(t, c.HandleCustomMessage(a, &lnwire.UnknownMessage{Type: 40003}), filtered)
	require.Len(t, got, 1)

	// An even type the application registers is accepted; its handler's error is returned.
	appErr := errors.New("bad request")
	require.NoError(t, c.Handle(40000, func(*btcec.PublicKey, []byte) (*Reply, error) { return nil, appErr }))
	require.ErrorIs(t, c.HandleCustomMessage(a, &lnwire.UnknownMessage{Type: 40000}), appErr)
	require.NoError(t, c.Handle(40000, nil))
	require.ErrorIs(t, c.HandleCustomMessage(a, &lnwire.UnknownMessage{Type: 40000}), ErrUnknownEvenType)
	require.ErrorIs(t, c.Handle(lnwire.MsgWarning, Echo), ErrInvalidMessage)

	st, _ := px.Stats(a)
	require.Equal(t, PeerStats{NodeID: idHex(a), In: 6, Out: 1, Dropped: 1}, st)
}

// Send's queue is bounded per peer and in total, refuses invalid messages, and (once a
// ChannelHandler reports connections) peers that are not connected; a disconnect drops the peer's
// queue and frees its share of the total.
func TestCustomHandlerQueueBounds(t *testing.T) {
	px := New(Options{MaxQueuedPerPeer: 2, MaxQueued: 3})
	h := px.Channel(&recorder{})
	c := px.Custom(nil)
	a, b := peerKey(t, 1), peerKey(t, 2)

	require.ErrorIs(t, c.Send(a, 40001, nil), peermanager.ErrPeerNotConnected)
	require.NoError(t, h.PeerConnected(a, &lnwire.Init{}, true))
	require.NoError(t, h.PeerConnected(b, &lnwire.Init{}, true))
	require.ErrorIs(t, c.Send(a, lnwire.MsgUpdateFee, nil), ErrInvalidMessage)
	require.ErrorIs(t, c.Send(a, 40001, make([]byte, MaxCustomPayload+1)), ErrInvalidMessage)
	require.ErrorIs(t, c.Send(nil, 40001, nil), ErrInvalidMessage)

	payload := []byte{1}
	require.NoError(t, c.Send(a, 40001, payload))
	payload[0] = 9 // Send copied it
	require.NoError(t, c.Send(a, 40002, nil))
	require.ErrorIs(t, c.Send(a, 40003, nil), ErrQueueFull, "per peer")
	require.NoError(t, c.Send(b, 40001, nil))
	require.ErrorIs(t, c.Send(b, 40003, nil), ErrQueueFull, "in total")

	// A reply that does not fit is dropped and counted.
	require.NoError(t, c.Handle(EchoRequestType, Echo))
	require.NoError(t, c.HandleCustomMessage(b, &lnwire.UnknownMessage{Type: EchoRequestType}))
	st, _ := px.Stats(b)
	require.Equal(t, uint64(1), st.Dropped)

	h.PeerDisconnected(a)
	require.ErrorIs(t, c.Send(a, 40001, nil), peermanager.ErrPeerNotConnected)
	require.NoError(t, c.Send(b, 40004, nil), "a's share of the total was freed")
	out := c.GetAndClearPendingCustomMessages()
	require.Len(t, out, 2)
	for _, m := range out {
		require.True(t, m.NodeID.IsEqual(b))
	}
	require.Equal(t, []lnwire.MessageType{40001, 40004}, []lnwire.MessageType{out[0].Msg.Type, out[1].Msg.Type})

	// Without a disconnect, a pull frees the queue too.
	require.NoError(t, h.PeerConnected(a, &lnwire.Init{}, true))
	require.NoError(t, c.Send(a, 40001, []byte{1}))
	out = c.GetAndClearPendingCustomMessages()
	require.Equal(t, []byte{1}, out[0].Msg.Payload)
	st, _ = px.Stats(a)
	require.Equal(t, uint64(1), st.Out)
}

// A custom message from a cut-off peer is dropped with ErrPeerCutOff; custom and channel messages
// share the peer's rate.
func TestCustomHandlerSharesPeerState(t *testing.T) {
	clk := newFakeClock()
	px := New(Options{Rate: 1, Burst: 2, Clock: clk.Now})
	h := px.Channel(&recorder{})
	c := px.Custom(nil)
	a := peerKey(t, 1)
	require.NoError(t, h.PeerConnected(a, &lnwire.Init{}, true))
	h.HandleChannelMessage(a, fee(1))
	require.NoError(t, c.HandleCustomMessage(a, &lnwire.UnknownMessage{Type: 40001}))
	require.ErrorIs(t, c.HandleCustomMessage(a, &lnwire.UnknownMessage{Type: 40001}), ErrRateLimited)
	clk.advance(2 * time.Second)
	h.HandleChannelMessage(a, fee(2))
	h.HandleChannelMessage(a, fee(3))
	h.HandleChannelMessage(a, fee(4)) // over: cut off
	require.ErrorIs(t, c.HandleCustomMessage(a, &lnwire.UnknownMessage{Type: 40001}), ErrPeerCutOff)
}

// FuzzCustomHandler feeds arbitrary types and payloads through the dispatch: it never panics, an echo
// request is answered with its payload, an unknown even type is refused, and the queue stays bounded.
func FuzzCustomHandler(f *testing.F) {
	f.Add(uint16(32769), []byte("hi"))
	f.Add(uint16(32770), []byte{})
	f.Add(uint16(32771), []byte{0})
	f.Fuzz(func(t *testing.T, typ uint16, payload []byte) {
		px := New(Options{MaxQueuedPerPeer: 1, MaxQueued: 1})
		c := px.Custom(nil)
		require.NoError(t, c.Handle(EchoRequestType, Echo))
		a := peerKey(t, 1)
		m := &lnwire.UnknownMessage{Type: lnwire.MessageType(typ), Payload: payload}
		for range 2 {
			err := c.HandleCustomMessage(a, m)
			switch {
			case m.Type == EchoRequestType || m.Type.IsOdd():
				require.NoError(t, err)
			default:
				require.ErrorIs(t, err, ErrUnknownEvenType)
			}
		}
		out := c.GetAndClearPendingCustomMessages()
		if m.Type == EchoRequestType && len(payload) <= MaxCustomPayload {
			require.Len(t, out, 1)
			require.True(t, bytes.Equal(payload, out[0].Msg.Payload))
		} else {
			require.Empty(t, out)
		}
	})
}

// Concurrent calls from several peers' goroutines (run with -race): every message is counted once
// and every echo reply is pulled once.
func TestConcurrentUse(t *testing.T) {
	px := New(Options{MaxQueuedPerPeer: 1000, MaxQueued: 10000})
	h := px.Channel(&recorder{})
	c := px.Custom(nil)
	require.NoError(t, c.Handle(EchoRequestType, Echo))
	const peers, msgs = 4, 200
	var wg sync.WaitGroup
	var mu sync.Mutex
	pulled := 0
	for i := range peers {
		id := peerKey(t, byte(i))
		require.NoError(t, h.PeerConnected(id, &lnwire.Init{}, true))
		wg.Add(2)
		go func() {
			defer wg.Done()
			for range msgs {
				h.HandleChannelMessage(id, fee(1))
				require.NoError(t, c.HandleCustomMessage(id, &lnwire.UnknownMessage{Type: EchoRequestType}))
			}
		}()
		go func() {
			defer wg.Done()
			for range msgs {
				n := len(c.GetAndClearPendingCustomMessages())
				mu.Lock()
				pulled += n
				mu.Unlock()
				_ = px.AllStats()
			}
		}()
	}
	wg.Wait()
	pulled += len(c.GetAndClearPendingCustomMessages())
	require.Equal(t, peers*msgs, pulled)
	for _, st := range px.AllStats() {
		require.Equal(t, PeerStats{NodeID: st.NodeID, In: 2 * msgs, Out: msgs}, st)
	}
}
