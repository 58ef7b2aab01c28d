package peermanager

import (
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/internal/noise"
	"github.com/lnkit/lnkit/lnwire"
)

// FuzzInboundBytes feeds arbitrary bytes, in chunks of a fuzzed size, to an inbound connection. The
// PeerManager must fail with a handshake error (and forget the connection) or wait for more; never panic.
func FuzzInboundBytes(f *testing.F) {
	a := newNode(f, 1, nodeOpts{})
	_, act1, err := noise.NewInitiator(privFromSeed(9).PubKey(), noise.PrivateKeyECDH(privFromSeed(9)),
		privFromSeed(10), a.id())
	require.NoError(f, err)
	f.Add(act1, uint8(0))
	f.Add(append(append([]byte{}, act1...), make([]byte, 66)...), uint8(13))
	f.Add([]byte{1, 2, 3}, uint8(1))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		d := newPipe()
		if err := a.pm.NewInboundConnection(d); err != nil {
			t.Fatal(err)
		}
		size := int(chunk) + 1
		for len(data) > 0 {
			n := min(size, len(data))
			_, err := a.pm.ReadEvent(d, data[:n])
			data = data[n:]
			if err != nil {
				if !errors.Is(err, ErrHandshakeFailed) {
					t.Fatalf("unexpected error %v", err)
				}
				if _, err := a.pm.ReadEvent(d, []byte{0}); !errors.Is(err, ErrUnknownDescriptor) {
					t.Fatalf("connection not forgotten: %v", err)
				}
				return
			}
		}
		a.pm.SocketDisconnected(d)
	})
}

// FuzzConnectedPeerMessages completes a handshake and init exchange with a raw peer, then sends the
// fuzzed messages (each a 2-byte length and that many bytes, encrypted properly) so that the message
// handling after init is exercised. Never a panic, and the handler sees a consistent connect/disconnect
// sequence.
func FuzzConnectedPeerMessages(f *testing.F) {
	enc := func(msgs ...lnwire.Message) []byte {
		var out []byte
		for _, m := range msgs {
			b, err := lnwire.EncodeMessage(m)
			require.NoError(f, err)
			out = binary.BigEndian.AppendUint16(out, uint16(len(b)))
			out = append(out, b...)
		}
		return out
	}
	f.Add(enc(&lnwire.Ping{NumPongBytes: 4}, &lnwire.Pong{}, &lnwire.UpdateFee{FeeratePerKw: 1}))
	f.Add(enc(&lnwire.Init{}, &lnwire.Error{Data: []byte("x")}))
	f.Add(enc(&lnwire.UnknownMessage{Type: customType}, &lnwire.UnknownMessage{Type: customEven}))
	f.Add([]byte{0, 1, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		a := newNode(t, 1, nodeOpts{customType: []lnwire.MessageType{customType}})
		r, _ := rawConnect(t, a, 50)
		if err := r.send(&lnwire.Init{}); err != nil {
			t.Fatal(err)
		}
		var pts [][]byte
		for len(data) >= 2 {
			n := int(binary.BigEndian.Uint16(data))
			data = data[2:]
			n = min(n, len(data))
			pts = append(pts, data[:n])
			data = data[n:]
		}
		var err error
		for _, pt := range pts {
			if err = r.sendRaw(pt); err != nil {
				break
			}
			a.pm.TimerTickOccurred()
		}
		a.chanH.checkNoViolations(t)
		if err != nil {
			if len(a.pm.GetPeerNodeIDs()) != 0 || a.chanH.isConnected(r.priv.PubKey()) {
				t.Fatalf("peer still connected after error %v", err)
			}
		}
	})
}

// BenchmarkPeerManagerHandshake measures connections per second through two PeerManagers: the three
// acts, the init exchange, and the disconnect.
func BenchmarkPeerManagerHandshake(b *testing.B) {
	x := newNode(b, 1, nodeOpts{})
	y := newNode(b, 2, nodeOpts{})
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		l := connect(b, x, y, int64(i))
		l.maxChk = 1 << 16
		l.run()
		if !x.chanH.isConnected(y.id()) {
			b.Fatal("not connected")
		}
		x.pm.DisconnectByNodeID(y.id())
		l.run()
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}

// BenchmarkPeerManagerMessages measures custom messages (100-byte payload) per second from one
// PeerManager to another, through encryption, the in-memory socket, decryption, decoding and the handler.
func BenchmarkPeerManagerMessages(b *testing.B) {
	x := newNode(b, 1, nodeOpts{})
	y := newNode(b, 2, nodeOpts{customType: []lnwire.MessageType{customType}})
	l := connect(b, x, y, 1)
	l.maxChk = 1 << 16
	l.run()
	msg := &lnwire.UnknownMessage{Type: customType, Payload: make([]byte, 100)}
	const batch = 64
	yID := y.id()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += batch {
		for j := 0; j < batch; j++ {
			if err := x.pm.SendCustomMessage(yID, msg); err != nil {
				b.Fatal(err)
			}
		}
		l.step()
		y.custom.mu.Lock()
		y.custom.got = y.custom.got[:0]
		y.custom.mu.Unlock()
	}
	b.StopTimer()
	msgs := (b.N + batch - 1) / batch * batch
	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
}
