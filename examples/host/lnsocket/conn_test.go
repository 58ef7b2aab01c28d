package lnsocket

import (
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/peermanager"
)

// fakeHost records what a Conn calls on its PeerManager.
type fakeHost struct {
	mu           sync.Mutex
	reads        [][]byte
	pauseNext    bool
	readErr      error
	processed    int
	disconnected int
	spaceAvail   chan peermanager.SocketDescriptor
	readCh       chan []byte
}

func newFakeHost() *fakeHost {
	return &fakeHost{spaceAvail: make(chan peermanager.SocketDescriptor, 16), readCh: make(chan []byte, 16)}
}

func (h *fakeHost) ReadEvent(d peermanager.SocketDescriptor, data []byte) (bool, error) {
	h.mu.Lock()
	h.reads = append(h.reads, data)
	pause, err := h.pauseNext, h.readErr
	h.pauseNext = false
	h.mu.Unlock()
	h.readCh <- data
	return pause, err
}

func (h *fakeHost) WriteBufferSpaceAvail(d peermanager.SocketDescriptor) error {
	h.spaceAvail <- d
	return nil
}

func (h *fakeHost) SocketDisconnected(peermanager.SocketDescriptor) {
	h.mu.Lock()
	h.disconnected++
	h.mu.Unlock()
}

func (h *fakeHost) ProcessEvents() {
	h.mu.Lock()
	h.processed++
	h.mu.Unlock()
}

func (h *fakeHost) counts() (reads, processed, disconnected int) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.reads), h.processed, h.disconnected
}

// pipeConn starts a Conn on one end of an in-memory pipe (writes block until the other end
// reads, which makes back-pressure visible) and returns it with the other end.
func pipeConn(t *testing.T, host *fakeHost, maxBuf int) (*Conn, net.Conn, *sync.WaitGroup) {
	t.Helper()
	a, b := net.Pipe()
	var wg sync.WaitGroup
	c := NewConn(a, host, Options{MaxBuffer: maxBuf, WriteTimeout: 5 * time.Second})
	c.Start(&wg)
	t.Cleanup(func() {
		c.Close()
		_ = b.Close()
		wg.Wait()
	})
	return c, b, &wg
}

func waitDone(t *testing.T, ch <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// TestPeerConnBackPressure: SendData takes only what fits in the buffer, and once the buffer has been
// written out the connection calls WriteBufferSpaceAvail, so the PeerManager sends the rest.
func TestPeerConnBackPressure(t *testing.T) {
	host := newFakeHost()
	c, other, _ := pipeConn(t, host, 16)
	data := []byte("0123456789abcdefghijklmnopqrstuv") // 32 bytes
	require.Equal(t, 16, c.SendData(data, false), "only the buffer's 16 bytes are taken")
	require.Equal(t, int64(1), c.stats.PartialSends.Load())

	got := make([]byte, 16)
	_, err := io.ReadFull(other, got)
	require.NoError(t, err)
	require.Equal(t, data[:16], got)
	select {
	case d := <-host.spaceAvail:
		require.Same(t, c, d.(*Conn))
	case <-time.After(10 * time.Second):
		t.Fatal("no WriteBufferSpaceAvail after the buffer drained")
	}

	require.Equal(t, 16, c.SendData(data[16:], false))
	_, err = io.ReadFull(other, got)
	require.NoError(t, err)
	require.Equal(t, data[16:], got)
	require.Eventually(t, func() bool { return c.stats.BytesOut.Load() == 32 }, 10*time.Second, time.Millisecond)
	select {
	case <-host.spaceAvail:
		t.Fatal("WriteBufferSpaceAvail without a refused SendData")
	default:
	}
}

// TestPeerConnPauseAndResume: after ReadEvent asks to pause, nothing more is read until SendData passes
// resumeRead; every chunk read is followed by ProcessEvents.
func TestPeerConnPauseAndResume(t *testing.T) {
	host := newFakeHost()
	host.pauseNext = true
	c, other, _ := pipeConn(t, host, 1024)

	_, err := other.Write([]byte("first"))
	require.NoError(t, err)
	require.Equal(t, []byte("first"), <-host.readCh)

	// net.Pipe writes complete only when read: this one stays pending while the reader is paused.
	wrote := make(chan struct{})
	go func() {
		_, _ = other.Write([]byte("second"))
		close(wrote)
	}()
	select {
	case <-wrote:
		t.Fatal("the connection read while paused")
	case <-time.After(100 * time.Millisecond):
	}
	reads, _, _ := host.counts()
	require.Equal(t, 1, reads)

	require.Zero(t, c.SendData(nil, true), "an empty SendData only resumes reading")
	waitDone(t, wrote, "the paused write to complete after resuming")
	require.Equal(t, []byte("second"), <-host.readCh)
	require.Equal(t, int64(1), c.stats.ReadPauses.Load())
	require.Eventually(t, func() bool { _, p, _ := host.counts(); return p == 2 }, 10*time.Second, time.Millisecond,
		"ProcessEvents after each chunk")
}

// TestPeerConnRemoteClose: a connection closed by the peer is reported once with SocketDisconnected,
// and SendData then takes nothing.
func TestPeerConnRemoteClose(t *testing.T) {
	host := newFakeHost()
	c, other, _ := pipeConn(t, host, 1024)
	require.NoError(t, other.Close())
	waitDone(t, c.done, "the reader to end")
	_, _, disc := host.counts()
	require.Equal(t, 1, disc)
	require.True(t, c.IsClosed())
	require.Zero(t, c.SendData([]byte("late"), false))
}

// TestPeerConnDisconnectSocket: when the PeerManager closes the connection, it is not told back.
func TestPeerConnDisconnectSocket(t *testing.T) {
	host := newFakeHost()
	c, other, _ := pipeConn(t, host, 1024)
	c.DisconnectSocket()
	waitDone(t, c.done, "the reader to end")
	_, err := other.Read(make([]byte, 1))
	require.Error(t, err, "the peer sees the connection closed")
	_, _, disc := host.counts()
	require.Zero(t, disc, "no SocketDisconnected after DisconnectSocket")
}

// TestPeerConnReadEventError: when ReadEvent refuses the data the PeerManager has already forgotten
// the connection: it is closed without SocketDisconnected.
func TestPeerConnReadEventError(t *testing.T) {
	host := newFakeHost()
	host.readErr = errors.New("bad act one")
	c, other, _ := pipeConn(t, host, 1024)
	_, err := other.Write([]byte("garbage"))
	require.NoError(t, err)
	<-host.readCh
	waitDone(t, c.done, "the reader to end")
	_, processed, disc := host.counts()
	require.Zero(t, disc)
	require.Zero(t, processed, "no ProcessEvents after a refused read")
	require.Equal(t, int64(1), c.stats.ReadEventErrs.Load())
}

// TestPeerConnQueueRaw: act one is written even when it exceeds the buffer limit, ahead of later data.
func TestPeerConnQueueRaw(t *testing.T) {
	host := newFakeHost()
	c, other, _ := pipeConn(t, host, 4)
	act1 := make([]byte, 50)
	for i := range act1 {
		act1[i] = byte(i)
	}
	c.QueueRaw(act1)
	got := make([]byte, 50)
	_, err := io.ReadFull(other, got)
	require.NoError(t, err)
	require.Equal(t, act1, got)
}

// BenchmarkPeerConnSend measures SendData plus the writer goroutine over a pipe.
func BenchmarkPeerConnSend(b *testing.B) {
	host := newFakeHost()
	a, o := net.Pipe()
	var wg sync.WaitGroup
	c := NewConn(a, host, Options{MaxBuffer: 64 << 10, WriteTimeout: 5 * time.Second})
	c.Start(&wg)
	go func() { _, _ = io.Copy(io.Discard, o) }()
	msg := make([]byte, 1400)
	b.SetBytes(int64(len(msg)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for off := 0; off < len(msg); {
			n := c.SendData(msg[off:], false)
			off += n
			if off < len(msg) {
				<-host.spaceAvail
			}
		}
	}
	b.StopTimer()
	c.Close()
	_ = o.Close()
	wg.Wait()
}

// TestPeerConnBeforeWriteFails: when the host cannot make durable what the bytes depend on (its
// before-write hook fails), the bytes never reach the socket: the connection closes instead, and the
// PeerManager is told, so that both sides resume from durable state with channel_reestablish.
func TestPeerConnBeforeWriteFails(t *testing.T) {
	host := newFakeHost()
	a, other := net.Pipe()
	var wg sync.WaitGroup
	c := NewConn(a, host, Options{MaxBuffer: 1024, WriteTimeout: 5 * time.Second,
		BeforeWrite: func() error { return errors.New("store unreachable") }})
	c.Start(&wg)
	t.Cleanup(func() {
		c.Close()
		_ = other.Close()
		wg.Wait()
	})
	require.Equal(t, 17, c.SendData([]byte("commitment_signed"), false))
	n, err := other.Read(make([]byte, 64))
	require.Zero(t, n, "no byte left")
	require.Error(t, err, "the connection closed")
	waitDone(t, c.done, "the reader to end")
	_, _, disc := host.counts()
	require.Equal(t, 1, disc)
}
