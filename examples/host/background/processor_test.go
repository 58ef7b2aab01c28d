package background

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/examples/host/lnsocket"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
)

const (
	hour    = time.Hour
	waitFor = 10 * time.Second
	poll    = 2 * time.Millisecond
)

func ready(b byte) events.Event { return events.ChannelReady{ChannelID: lnwire.ChannelID{b}} }

// TestEventsHandled: the manager's and the monitor's events reach the handler in order, woken by their
// signals alone; an event the handler refuses stays queued and is handed over again at a later pass.
func TestEventsHandled(t *testing.T) {
	r := newRig()
	r.cm.push(ready(1), ready(2))
	r.mon.push(ready(3))
	p := Start(r.config())
	defer func() { require.NoError(t, p.Stop()) }()
	require.Eventually(t, func() bool { return len(r.handledEvents()) == 3 }, waitFor, poll)
	require.Equal(t, []events.Event{ready(1), ready(2), ready(3)}, r.handledEvents())

	r.mu.Lock()
	r.refuse = errors.New("not now")
	r.mu.Unlock()
	r.cm.push(ready(4))
	require.Eventually(t, func() bool {
		r.cm.mu.Lock()
		defer r.cm.mu.Unlock()
		return r.cm.passes >= 3
	}, waitFor, poll)
	require.Equal(t, 1, r.cm.queued(), "the refused event stays queued")
	r.mu.Lock()
	r.refuse = nil
	r.mu.Unlock()
	p.Wake()
	require.Eventually(t, func() bool { return len(r.handledEvents()) == 4 }, waitFor, poll)
	require.Zero(t, r.cm.queued())
}

// TestPersistBeforeProcessEvents: in every pass the manager changed by the events is persisted before
// PeerManager.ProcessEvents runs (the fake PeerManager checks it each time it pulls), and BeforePass
// runs first.
func TestPersistBeforeProcessEvents(t *testing.T) {
	r := newRig()
	var before, outOfOrder atomic.Int64
	cfg := r.config()
	cfg.BeforePass = func() {
		// Every earlier pass pulled once; this one has not yet.
		if r.pm.processed.Load() != before.Add(1)-1 {
			outOfOrder.Add(1)
		}
	}
	p := Start(cfg)
	defer func() { require.NoError(t, p.Stop()) }()
	for i := range 20 {
		r.cm.push(ready(byte(i)))
		require.NoError(t, p.RunPass())
	}
	require.Len(t, r.handledEvents(), 20)
	require.Positive(t, r.persist.writes.Load())
	require.Positive(t, r.pm.processed.Load())
	require.Zero(t, r.pm.sawDirty.Load(), "ProcessEvents never ran with unpersisted manager changes")
	require.Positive(t, before.Load())
	require.Zero(t, outOfOrder.Load(), "BeforePass runs at the start of each pass")
}

// pipeHost is the PeerManager side of an lnsocket connection, for the BeforeWrite tests.
type pipeHost struct{}

func (pipeHost) ReadEvent(peermanager.SocketDescriptor, []byte) (bool, error) { return false, nil }
func (pipeHost) WriteBufferSpaceAvail(peermanager.SocketDescriptor) error     { return nil }
func (pipeHost) SocketDisconnected(peermanager.SocketDescriptor)              {}
func (pipeHost) ProcessEvents()                                               {}
func (pipeHost) NewOutboundConnection(*btcec.PublicKey, peermanager.SocketDescriptor) ([]byte, error) {
	return nil, nil
}
func (pipeHost) NewInboundConnection(peermanager.SocketDescriptor) error { return nil }

// pipeConn is an lnsocket connection whose before-write hook is p.BeforeWrite, over an in-memory pipe
// (a write returns only once the other end read it); it returns the other end.
func pipeConn(t *testing.T, p *Processor) (*lnsocket.Conn, net.Conn) {
	t.Helper()
	a, b := net.Pipe()
	var wg sync.WaitGroup
	c, err := lnsocket.SetupInbound(pipeHost{}, a, lnsocket.Options{BeforeWrite: p.BeforeWrite, WaitGroup: &wg})
	require.NoError(t, err)
	t.Cleanup(func() {
		c.Close()
		_ = b.Close()
		wg.Wait()
	})
	return c, b
}

// TestBeforeWritePersistsFirst: bytes a socket goroutine writes leave only after the manager's changes
// were persisted by the connection's BeforeWrite (the persister sees nothing sent yet when it writes).
func TestBeforeWritePersistsFirst(t *testing.T) {
	r := newRig()
	var sent atomic.Int64
	var sentAtWrite []int64
	var mu sync.Mutex
	r.persist.onWrite = func() {
		mu.Lock()
		sentAtWrite = append(sentAtWrite, sent.Load())
		mu.Unlock()
	}
	p := Start(r.config())
	defer func() { require.NoError(t, p.Stop()) }()
	require.NoError(t, p.RunPass()) // nothing to persist: the first pass ran or runs now
	c, other := pipeConn(t, p)

	r.cm.dirty.Store(true) // as when the PeerManager's pull signed a commitment
	require.Equal(t, 17, c.SendData([]byte("commitment_signed"), false))
	buf := make([]byte, 64)
	n, err := other.Read(buf)
	require.NoError(t, err)
	sent.Add(int64(n))
	require.Equal(t, "commitment_signed", string(buf[:n]))
	require.False(t, r.cm.dirty.Load(), "persisted")
	mu.Lock()
	defer mu.Unlock()
	require.Equal(t, []int64{0}, sentAtWrite, "the write was persisted before any byte left")
}

// TestPersistErrorStopsBytes: while the persister fails, a pass does not call ProcessEvents and
// returns the error; BeforeWrite returns it, so a connection writes nothing and closes. Once the
// persister works again, the bytes flow.
func TestPersistErrorStopsBytes(t *testing.T) {
	r := newRig()
	p := Start(r.config())
	defer func() { require.NoError(t, p.Stop()) }()
	require.NoError(t, p.RunPass())
	pulled := r.pm.processed.Load()

	r.persist.fail(errDisk)
	r.cm.push(ready(1))
	require.ErrorIs(t, p.RunPass(), errDisk)
	require.ErrorIs(t, p.RunPass(), errDisk)
	require.Equal(t, pulled, r.pm.processed.Load(), "no ProcessEvents while the manager cannot be persisted")
	require.ErrorIs(t, p.BeforeWrite(), errDisk)

	c, other := pipeConn(t, p)
	c.SendData([]byte("revoke_and_ack"), false)
	n, err := other.Read(make([]byte, 64))
	require.Zero(t, n, "no byte left")
	require.Error(t, err, "the connection closed")
	require.True(t, c.IsClosed())

	r.persist.fail(nil)
	require.NoError(t, p.RunPass())
	require.Greater(t, r.pm.processed.Load(), pulled)
	require.Zero(t, r.pm.sawDirty.Load())
}

// TestTimersTick: the PeerManager's and the ChannelManager's timers and the host's jobs run at their
// intervals, and each tick is followed by a pass (the safety ticker too).
func TestTimersTick(t *testing.T) {
	r := newRig()
	var jobRuns, never atomic.Int64
	cfg := r.config()
	cfg.PeerTickInterval = 5 * time.Millisecond
	cfg.ManagerTickInterval = 7 * time.Millisecond
	cfg.Jobs = []Job{{Name: "snapshot", Interval: 6 * time.Millisecond, Run: func() { jobRuns.Add(1) }},
		{Name: "disabled", Interval: 0, Run: func() { never.Add(1) }}}
	p := Start(cfg)
	defer func() { require.NoError(t, p.Stop()) }()
	require.Eventually(t, func() bool {
		return r.pm.ticks.Load() >= 3 && r.cm.ticks.Load() >= 3 && jobRuns.Load() >= 3
	}, waitFor, poll)
	require.Greater(t, r.pm.processed.Load(), int64(3), "passes follow the ticks")
	require.Zero(t, never.Load())

	r2 := newRig()
	cfg2 := r2.config()
	cfg2.SafetyInterval = 5 * time.Millisecond
	p2 := Start(cfg2)
	defer func() { require.NoError(t, p2.Stop()) }()
	require.Eventually(t, func() bool { return r2.pm.processed.Load() >= 3 }, waitFor, poll, "the safety ticker runs passes")
	require.Zero(t, r2.pm.ticks.Load())
}

// TestWakeSignals: Wake and the host's own Wake channel each run a pass.
func TestWakeSignals(t *testing.T) {
	r := newRig()
	hostWake := make(chan struct{}, 1)
	cfg := r.config()
	cfg.Wake = hostWake
	p := Start(cfg)
	defer func() { require.NoError(t, p.Stop()) }()
	require.Eventually(t, func() bool { return r.pm.processed.Load() >= 1 }, waitFor, poll, "the first pass")
	n := r.pm.processed.Load()
	p.Wake()
	require.Eventually(t, func() bool { return r.pm.processed.Load() > n }, waitFor, poll)
	n = r.pm.processed.Load()
	hostWake <- struct{}{}
	require.Eventually(t, func() bool { return r.pm.processed.Load() > n }, waitFor, poll)
}

// TestStopWaitsAndPersists: Stop waits for the pass under way, then persists the manager, forced; no
// pass runs on its own afterwards, and Stop returns the final persist's error each time it is called.
func TestStopWaitsAndPersists(t *testing.T) {
	r := newRig()
	release := make(chan struct{})
	inPass := make(chan struct{})
	var once sync.Once
	r.pm.onProcess = func() {
		once.Do(func() {
			close(inPass)
			<-release
		})
	}
	p := Start(r.config())
	<-inPass
	stopped := make(chan error, 1)
	go func() { stopped <- p.Stop() }()
	select {
	case <-stopped:
		t.Fatal("Stop returned during a pass")
	case <-time.After(50 * time.Millisecond):
	}
	require.Zero(t, r.persist.forced.Load())
	close(release)
	require.NoError(t, <-stopped)
	require.Equal(t, int64(1), r.persist.forced.Load(), "the final persist, forced")

	n := r.pm.processed.Load()
	p.Wake()
	r.cm.push(ready(9))
	time.Sleep(50 * time.Millisecond)
	require.Equal(t, n, r.pm.processed.Load(), "no pass after Stop")
	require.NoError(t, p.RunPass(), "a host may still drain once more")
	require.Len(t, r.handledEvents(), 1)

	r2 := newRig()
	r2.persist.fail(errDisk)
	p2 := Start(r2.config())
	require.ErrorIs(t, p2.Stop(), errDisk)
	require.ErrorIs(t, p2.Stop(), errDisk, "the same answer again")
}
