package noise

import (
	"bytes"
	"errors"
	"math/rand"
	"runtime"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/stretchr/testify/require"
)

func newKey(t testing.TB, seed byte) *btcec.PrivateKey {
	t.Helper()
	var b [32]byte
	for i := range b {
		b[i] = seed
	}
	k, err := EphemeralKeyFromBytes(b)
	require.NoError(t, err)
	return k
}

// handshakePair runs a full handshake between two fresh parties and returns (initiator, responder)
// transports.
func handshakePair(t testing.TB, seed byte) (*Transport, *Transport) {
	t.Helper()
	iStatic, rStatic := newKey(t, seed), newKey(t, seed+1)
	iEph, rEph := newKey(t, seed+2), newKey(t, seed+3)

	ini, act1, err := NewInitiator(iStatic.PubKey(), PrivateKeyECDH(iStatic), iEph, rStatic.PubKey())
	require.NoError(t, err)
	res, err := NewResponder(rStatic.PubKey(), PrivateKeyECDH(rStatic), rEph)
	require.NoError(t, err)
	require.True(t, ini.IsInitiator())
	require.False(t, res.IsInitiator())
	require.Len(t, act1, ActOneSize)

	require.Equal(t, ActOneSize, res.NextActSize())
	act2, done, err := res.ReadAct(act1)
	require.NoError(t, err)
	require.False(t, done)
	require.Len(t, act2, ActTwoSize)
	require.Nil(t, res.Transport())

	require.Equal(t, ActTwoSize, ini.NextActSize())
	act3, done, err := ini.ReadAct(act2)
	require.NoError(t, err)
	require.True(t, done)
	require.Len(t, act3, ActThreeSize)

	require.Equal(t, ActThreeSize, res.NextActSize())
	out, done, err := res.ReadAct(act3)
	require.NoError(t, err)
	require.True(t, done)
	require.Empty(t, out)

	require.True(t, res.RemoteStatic().IsEqual(iStatic.PubKey()))
	require.True(t, ini.RemoteStatic().IsEqual(rStatic.PubKey()))
	return ini.Transport(), res.Transport()
}

func TestHandshakeAndTransportRoundTrip(t *testing.T) {
	a, b := handshakePair(t, 0x31)
	for i := 0; i < 1200; i++ { // crosses two rotations in each direction
		msg := bytes.Repeat([]byte{byte(i)}, i%300)
		pkt, err := a.EncryptMessage(msg)
		require.NoError(t, err)
		got, err := b.Decrypt(pkt)
		require.NoError(t, err)
		require.Equal(t, [][]byte{msg}, got)

		pkt, err = b.EncryptMessage(msg)
		require.NoError(t, err)
		got, err = a.Decrypt(pkt)
		require.NoError(t, err)
		require.Equal(t, [][]byte{msg}, got)
	}
}

func TestDecryptSplitAtEveryByte(t *testing.T) {
	msgs := [][]byte{[]byte("first"), {}, bytes.Repeat([]byte{7}, 100), []byte("last")}
	// Build the same stream once per split point with fresh transports (nonces are stateful).
	var streamLen int
	for split := 0; ; split++ {
		a, b := handshakePair(t, 0x41)
		var stream []byte
		for _, m := range msgs {
			p, err := a.EncryptMessage(m)
			require.NoError(t, err)
			stream = append(stream, p...)
		}
		streamLen = len(stream)
		if split > streamLen {
			break
		}
		first, err := b.Decrypt(stream[:split])
		require.NoError(t, err)
		second, err := b.Decrypt(stream[split:])
		require.NoError(t, err)
		got := append(first, second...)
		require.Len(t, got, len(msgs), "split %d", split)
		for i := range msgs {
			require.True(t, bytes.Equal(msgs[i], got[i]), "split %d message %d", split, i)
		}
		require.Equal(t, 0, b.Buffered())
	}
	require.Greater(t, streamLen, 100)
}

func TestDecryptRandomChunks(t *testing.T) {
	a, b := handshakePair(t, 0x51)
	rng := rand.New(rand.NewSource(1))
	var stream []byte
	var want [][]byte
	for i := 0; i < 600; i++ {
		m := make([]byte, rng.Intn(2000))
		rng.Read(m)
		want = append(want, m)
		p, err := a.EncryptMessage(m)
		require.NoError(t, err)
		stream = append(stream, p...)
	}
	var got [][]byte
	for len(stream) > 0 {
		n := min(len(stream), rng.Intn(3000))
		out, err := b.Decrypt(stream[:n])
		require.NoError(t, err)
		got = append(got, out...)
		stream = stream[n:]
	}
	require.Equal(t, len(want), len(got))
	for i := range want {
		require.True(t, bytes.Equal(want[i], got[i]), "message %d", i)
	}
}

func TestMaxMessageSize(t *testing.T) {
	a, b := handshakePair(t, 0x61)
	big := bytes.Repeat([]byte{0xab}, MaxMessageSize)
	pkt, err := a.EncryptMessage(big)
	require.NoError(t, err)
	require.Len(t, pkt, MaxPacketSize)
	got, err := b.Decrypt(pkt)
	require.NoError(t, err)
	require.Len(t, got, 1)
	require.True(t, bytes.Equal(big, got[0]))

	_, err = a.EncryptMessage(make([]byte, MaxMessageSize+1))
	require.ErrorIs(t, err, ErrMessageTooLarge)
	// A refused message consumes no nonce: the next one still decrypts.
	pkt, err = a.EncryptMessage([]byte("after"))
	require.NoError(t, err)
	got, err = b.Decrypt(pkt)
	require.NoError(t, err)
	require.Equal(t, [][]byte{[]byte("after")}, got)
}

func TestDecryptTampered(t *testing.T) {
	for _, tc := range []struct {
		name string
		pos  func(pktLen int) int
		want error
	}{
		{"length", func(int) int { return 0 }, ErrBadLengthTag},
		{"length tag", func(int) int { return LengthHeaderSize - 1 }, ErrBadLengthTag},
		{"body", func(int) int { return LengthHeaderSize }, ErrBadMessageTag},
		{"body tag", func(n int) int { return n - 1 }, ErrBadMessageTag},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, b := handshakePair(t, 0x71)
			good, err := a.EncryptMessage([]byte("good"))
			require.NoError(t, err)
			bad, err := a.EncryptMessage([]byte("tampered"))
			require.NoError(t, err)
			bad[tc.pos(len(bad))] ^= 0x01
			got, err := b.Decrypt(append(good, bad...))
			require.ErrorIs(t, err, tc.want)
			require.Equal(t, [][]byte{[]byte("good")}, got, "messages before the failure are returned")
			_, err = b.Decrypt([]byte{0})
			require.ErrorIs(t, err, ErrTransportFailed)
		})
	}
}

func TestHandshakeErrors(t *testing.T) {
	s, e := newKey(t, 0x11), newKey(t, 0x12)
	ecdh := PrivateKeyECDH(s)

	_, _, err := NewInitiator(nil, ecdh, e, s.PubKey())
	require.ErrorIs(t, err, ErrInvalidKey)
	_, _, err = NewInitiator(s.PubKey(), nil, e, s.PubKey())
	require.ErrorIs(t, err, ErrInvalidKey)
	_, _, err = NewInitiator(s.PubKey(), ecdh, nil, s.PubKey())
	require.ErrorIs(t, err, ErrInvalidKey)
	_, _, err = NewInitiator(s.PubKey(), ecdh, e, nil)
	require.ErrorIs(t, err, ErrInvalidKey)
	_, err = NewResponder(s.PubKey(), ecdh, nil)
	require.ErrorIs(t, err, ErrInvalidKey)

	// A failing ECDH function surfaces as ErrECDH wrapping the caller's error.
	boom := errors.New("signer offline")
	failing := func(*btcec.PublicKey) ([32]byte, error) { return [32]byte{}, boom }
	remote := newKey(t, 0x13)
	_, act1, err := NewInitiator(s.PubKey(), ecdh, e, remote.PubKey())
	require.NoError(t, err)
	res, err := NewResponder(remote.PubKey(), failing, newKey(t, 0x14))
	require.NoError(t, err)
	_, _, err = res.ReadAct(act1)
	require.ErrorIs(t, err, ErrECDH)
	require.ErrorIs(t, err, boom)

	// Initiator side: act three needs ECDH with our static key.
	ini, act1, err := NewInitiator(s.PubKey(), failing, e, remote.PubKey())
	require.NoError(t, err)
	res, err = NewResponder(remote.PubKey(), PrivateKeyECDH(remote), newKey(t, 0x15))
	require.NoError(t, err)
	act2, _, err := res.ReadAct(act1)
	require.NoError(t, err)
	_, _, err = ini.ReadAct(act2)
	require.ErrorIs(t, err, ErrECDH)
	require.ErrorIs(t, err, boom)

	// Act one from an initiator that has the wrong static key for us fails the tag check.
	_, act1, err = NewInitiator(s.PubKey(), ecdh, e, newKey(t, 0x16).PubKey())
	require.NoError(t, err)
	res, err = NewResponder(remote.PubKey(), PrivateKeyECDH(remote), newKey(t, 0x17))
	require.NoError(t, err)
	_, _, err = res.ReadAct(act1)
	require.ErrorIs(t, err, ErrAct1BadTag)
}

func TestEphemeralKeyFromBytes(t *testing.T) {
	_, err := EphemeralKeyFromBytes([32]byte{})
	require.ErrorIs(t, err, ErrInvalidKey)
	var all [32]byte
	for i := range all {
		all[i] = 0xff
	}
	_, err = EphemeralKeyFromBytes(all) // above the group order
	require.ErrorIs(t, err, ErrInvalidKey)
	k, err := EphemeralKeyFromBytes([32]byte{31: 1})
	require.NoError(t, err)
	require.True(t, k.PubKey().IsEqual(btcec.PrivKeyFromScalar(new(btcec.ModNScalar).SetInt(1)).PubKey()))
}

func TestECDHSymmetric(t *testing.T) {
	a, b := newKey(t, 0x21), newKey(t, 0x22)
	require.Equal(t, ECDH(a, b.PubKey()), ECDH(b, a.PubKey()))
	_, err := PrivateKeyECDH(a)(nil)
	require.ErrorIs(t, err, ErrInvalidKey)
}

// TestTransportConcurrent has goroutines encrypting on both sides while others decrypt; run with -race.
func TestTransportConcurrent(t *testing.T) {
	a, b := handshakePair(t, 0x81)
	const n = 300
	type pipe struct {
		mu   sync.Mutex
		data []byte
	}
	var ab, ba pipe
	var wg sync.WaitGroup
	send := func(tr *Transport, p *pipe) {
		defer wg.Done()
		for i := 0; i < n; i++ {
			// Encrypt and append under the pipe lock so packets stay in nonce order.
			p.mu.Lock()
			pkt, err := tr.EncryptMessage([]byte{byte(i)})
			p.data = append(p.data, pkt...)
			p.mu.Unlock()
			if err != nil {
				t.Error(err)
				return
			}
		}
	}
	recv := func(tr *Transport, p *pipe, out *int) {
		defer wg.Done()
		for *out < n {
			p.mu.Lock()
			chunk := p.data
			p.data = nil
			p.mu.Unlock()
			if len(chunk) == 0 {
				runtime.Gosched()
				continue
			}
			msgs, err := tr.Decrypt(chunk)
			if err != nil {
				t.Error(err)
				return
			}
			for _, m := range msgs {
				if int(m[0]) != *out%256 {
					t.Errorf("out of order: got %d want %d", m[0], *out%256)
					return
				}
				*out++
			}
		}
	}
	var gotA, gotB int
	wg.Add(4)
	go send(a, &ab)
	go send(b, &ba)
	go recv(b, &ab, &gotB)
	go recv(a, &ba, &gotA)
	wg.Wait()
	require.Equal(t, n, gotA)
	require.Equal(t, n, gotB)
}

// FuzzResponderActOne feeds arbitrary bytes as act one (and, if accepted, the rest as act three): the
// responder must return an error or valid output, never panic.
func FuzzResponderActOne(f *testing.F) {
	s, e := newKey(f, 0x21), newKey(f, 0x22)
	ie := newKey(f, 0x12)
	_, act1, err := NewInitiator(newKey(f, 0x11).PubKey(), PrivateKeyECDH(newKey(f, 0x11)), ie, s.PubKey())
	require.NoError(f, err)
	f.Add(act1)
	f.Add(act1[:49])
	f.Add(append([]byte{1}, act1[1:]...))
	f.Add(append(append([]byte{}, act1...), make([]byte, ActThreeSize)...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		res, err := NewResponder(s.PubKey(), PrivateKeyECDH(s), e)
		if err != nil {
			t.Fatal(err)
		}
		first := data[:min(len(data), ActOneSize)]
		out, done, err := res.ReadAct(first)
		if err != nil {
			if out != nil || done || res.NextActSize() != 0 {
				t.Fatalf("failed act one left state: out=%x done=%v", out, done)
			}
			return
		}
		if len(out) != ActTwoSize || done {
			t.Fatalf("act two has %d bytes, done=%v", len(out), done)
		}
		_, done, err = res.ReadAct(data[ActOneSize:])
		if err == nil && (!done || res.Transport() == nil || res.RemoteStatic() == nil) {
			t.Fatal("accepted act three without completing")
		}
	})
}

// FuzzTransportDecrypt feeds arbitrary bytes, in chunks of a fuzzed size, to a transport's decryptor.
// It must fail cleanly or return messages, never panic.
func FuzzTransportDecrypt(f *testing.F) {
	a, _ := handshakePair(f, 0x91)
	pkt, err := a.EncryptMessage([]byte("seed"))
	require.NoError(f, err)
	f.Add(pkt, uint8(5))
	f.Add([]byte{}, uint8(0))
	f.Add(bytes.Repeat([]byte{0xff}, 100), uint8(17))
	var ck, sk, rk [32]byte
	ck[0], sk[0], rk[0] = 1, 2, 3
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8) {
		tr := NewTransport(sk, rk, ck)
		size := int(chunk) + 1
		for len(data) > 0 {
			n := min(size, len(data))
			msgs, err := tr.Decrypt(data[:n])
			for _, m := range msgs {
				if len(m) > MaxMessageSize {
					t.Fatalf("message of %d bytes", len(m))
				}
			}
			if err != nil {
				return
			}
			data = data[n:]
		}
	})
}

// FuzzTransportRoundTrip encrypts fuzzed messages and decrypts the stream split at fuzzed points.
func FuzzTransportRoundTrip(f *testing.F) {
	f.Add([]byte("hello world"), uint8(3), uint8(7))
	f.Add([]byte{}, uint8(0), uint8(0))
	var ck, sk, rk [32]byte
	ck[0], sk[0], rk[0] = 4, 5, 6
	f.Fuzz(func(t *testing.T, data []byte, parts uint8, chunk uint8) {
		send, recv := NewTransport(sk, rk, ck), NewTransport(rk, sk, ck)
		// Cut data into up to parts+1 messages.
		var msgs [][]byte
		step := len(data)/(int(parts)+1) + 1
		for i := 0; i < len(data); i += step {
			msgs = append(msgs, data[i:min(len(data), i+step)])
		}
		var stream []byte
		for _, m := range msgs {
			var err error
			stream, err = send.AppendEncryptedMessage(stream, m)
			if err != nil {
				t.Fatal(err)
			}
		}
		var got [][]byte
		size := int(chunk) + 1
		for len(stream) > 0 {
			n := min(size, len(stream))
			out, err := recv.Decrypt(stream[:n])
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, out...)
			stream = stream[n:]
		}
		if len(got) != len(msgs) {
			t.Fatalf("got %d messages, want %d", len(got), len(msgs))
		}
		for i := range msgs {
			if !bytes.Equal(got[i], msgs[i]) {
				t.Fatalf("message %d differs", i)
			}
		}
	})
}

// BenchmarkHandshake measures full three-act handshakes (both sides), reported as handshakes/s.
func BenchmarkHandshake(b *testing.B) {
	iStatic, rStatic := newKey(b, 0x01), newKey(b, 0x02)
	iECDH, rECDH := PrivateKeyECDH(iStatic), PrivateKeyECDH(rStatic)
	iEph, rEph := newKey(b, 0x03), newKey(b, 0x04)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ini, act1, err := NewInitiator(iStatic.PubKey(), iECDH, iEph, rStatic.PubKey())
		if err != nil {
			b.Fatal(err)
		}
		res, err := NewResponder(rStatic.PubKey(), rECDH, rEph)
		if err != nil {
			b.Fatal(err)
		}
		act2, _, err := res.ReadAct(act1)
		if err != nil {
			b.Fatal(err)
		}
		act3, _, err := ini.ReadAct(act2)
		if err != nil {
			b.Fatal(err)
		}
		if _, _, err := res.ReadAct(act3); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "handshakes/s")
}

// BenchmarkTransportEncryptDecrypt measures encrypting and decrypting one message (MB/s of plaintext).
func BenchmarkTransportEncryptDecrypt(b *testing.B) {
	for _, size := range []int{1024, MaxMessageSize} {
		b.Run(map[int]string{1024: "1KB", MaxMessageSize: "64KB"}[size], func(b *testing.B) {
			a, r := handshakePair(b, 0xa1)
			msg := make([]byte, size)
			buf := make([]byte, 0, size+LengthHeaderSize+MACSize)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				pkt, err := a.AppendEncryptedMessage(buf[:0], msg)
				if err != nil {
					b.Fatal(err)
				}
				out, err := r.Decrypt(pkt)
				if err != nil || len(out) != 1 {
					b.Fatal(err)
				}
			}
		})
	}
}
