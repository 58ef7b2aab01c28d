package background

import (
	"errors"
	"sync"
	"sync/atomic"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/wake"
)

// fakeSource is a fake ChannelManager or ChainMonitor: a queue of events handed over as the real ones
// do (an event whose handler fails stays queued with those after it), and the "needs persisting" flag
// that handling an event sets.
type fakeSource struct {
	signal wake.Notifier
	ticks  atomic.Int64
	dirty  atomic.Bool // changed since the last persist

	mu     sync.Mutex
	queue  []events.Event
	passes int // ProcessPendingEvents calls
}

func (s *fakeSource) push(evs ...events.Event) {
	s.mu.Lock()
	s.queue = append(s.queue, evs...)
	s.mu.Unlock()
	s.signal.Notify()
}

func (s *fakeSource) ProcessPendingEvents(h events.Handler) error {
	s.mu.Lock()
	s.passes++
	evs := append([]events.Event(nil), s.queue...)
	s.mu.Unlock()
	handled := 0
	var err error
	for _, e := range evs {
		if err = h(e); err != nil {
			break
		}
		handled++
	}
	s.mu.Lock()
	s.queue = s.queue[handled:]
	s.mu.Unlock()
	if handled > 0 {
		s.dirty.Store(true)
	}
	return err
}

func (s *fakeSource) queued() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.queue)
}

func (s *fakeSource) EventOrPersistenceNeeded() <-chan struct{} { return s.signal.Wait() }
func (s *fakeSource) UpdateAvailable() <-chan struct{}          { return s.signal.Wait() }
func (s *fakeSource) TimerTickOccurred()                        { s.ticks.Add(1) }

// fakePeers is a fake PeerManager that records whether the manager was durable each time it pulled.
type fakePeers struct {
	cm        *fakeSource
	ticks     atomic.Int64
	processed atomic.Int64
	sawDirty  atomic.Int64 // ProcessEvents calls made while the manager had unpersisted changes
	onProcess func()       // optional, called by ProcessEvents
}

func (p *fakePeers) ProcessEvents() {
	if p.cm.dirty.Load() {
		p.sawDirty.Add(1)
	}
	p.processed.Add(1)
	if p.onProcess != nil {
		p.onProcess()
	}
}

func (p *fakePeers) TimerTickOccurred() { p.ticks.Add(1) }

// fakePersister persists the fake manager (clears its flag) or fails with err.
type fakePersister struct {
	cm      *fakeSource
	err     atomic.Pointer[error]
	writes  atomic.Int64 // successful writes of a changed manager (or forced)
	forced  atomic.Int64
	calls   atomic.Int64
	onWrite func() // optional, called on each successful write
}

var errDisk = errors.New("disk full")

func (f *fakePersister) fail(err error) { f.err.Store(&err) }

func (f *fakePersister) PersistManager(force bool) error {
	f.calls.Add(1)
	if e := f.err.Load(); e != nil && *e != nil {
		return *e
	}
	if force {
		f.forced.Add(1)
	}
	if f.cm.dirty.Swap(false) || force {
		f.writes.Add(1)
		if f.onWrite != nil {
			f.onWrite()
		}
	}
	return nil
}

// rig is a Processor's fakes with a handler that records the events.
type rig struct {
	cm, mon *fakeSource
	pm      *fakePeers
	persist *fakePersister

	mu      sync.Mutex
	handled []events.Event
	refuse  error // the handler's answer while set
}

func newRig() *rig {
	r := &rig{cm: &fakeSource{}, mon: &fakeSource{}}
	r.pm = &fakePeers{cm: r.cm}
	r.persist = &fakePersister{cm: r.cm}
	return r
}

func (r *rig) handle(e events.Event) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.refuse != nil {
		return r.refuse
	}
	r.handled = append(r.handled, e)
	return nil
}

func (r *rig) handledEvents() []events.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]events.Event(nil), r.handled...)
}

// config is a Config over the rig with intervals long enough that only signals run passes.
func (r *rig) config() Config {
	return Config{ChannelManager: r.cm, ChainMonitor: r.mon, PeerManager: r.pm, EventHandler: r.handle,
		Persister: r.persist, PeerTickInterval: hour, ManagerTickInterval: hour, SafetyInterval: hour}
}
