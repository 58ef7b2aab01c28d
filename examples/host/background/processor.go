package background

import (
	"fmt"
	"sync"
	"time"
)

// Processor runs the passes on its goroutine (see the package doc). Its methods are safe for
// concurrent use.
type Processor struct {
	cfg  Config
	wake chan struct{} // Wake's signal (capacity 1)
	stop chan struct{} // closed by Stop
	done chan struct{} // closed when the goroutine has returned

	passMu    sync.Mutex // one pass at a time
	persistMu sync.Mutex // one PersistManager call at a time

	stopOnce sync.Once
	stopErr  error
}

// Start starts the Processor's goroutine, which runs a first pass at once. Stop ends it.
func Start(cfg Config) *Processor {
	p := &Processor{cfg: cfg.withDefaults(), wake: make(chan struct{}, 1), stop: make(chan struct{}),
		done: make(chan struct{})}
	go p.run()
	return p
}

// Wake asks for a pass now rather than at the next signal or tick. It never blocks.
func (p *Processor) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Stop ends the goroutine, waits for it (a pass under way finishes first) and persists the manager
// once more, forced. It returns that persist's error (wrapped); later calls return the same. Do not
// call it from the EventHandler, BeforePass or a Job: they run on the goroutine it waits for.
func (p *Processor) Stop() error {
	p.stopOnce.Do(func() {
		close(p.stop)
		<-p.done
		p.stopErr = p.persist(true)
	})
	return p.stopErr
}

// RunPass runs one pass now, on the caller's goroutine (after any pass under way), also after Stop (a
// host drains once more before it shuts down): when it returns, every event queued before the call
// was handed to the handler, and what it produced was persisted and handed to the PeerManager.
// Errors: the persist's (wrapped; ProcessEvents was not called if the first persist failed).
func (p *Processor) RunPass() error {
	return p.pass()
}

// BeforeWrite persists the manager if it changed: give it to every connection as its before-write
// hook (lnsocket.Options.BeforeWrite), so that bytes the PeerManager pulled on a socket goroutine do
// not leave before the state they depend on. It returns the persist's error (wrapped), and the
// connection then writes nothing and closes.
func (p *Processor) BeforeWrite() error {
	if err := p.persist(false); err != nil {
		p.cfg.Logger.Error("not sending: the state the bytes depend on is not durable", "err", err)
		return err
	}
	return nil
}

// persist calls the Persister (if any), one call at a time.
func (p *Processor) persist(force bool) error {
	if p.cfg.Persister == nil {
		return nil
	}
	p.persistMu.Lock()
	defer p.persistMu.Unlock()
	if err := p.cfg.Persister.PersistManager(force); err != nil {
		return fmt.Errorf("background: persisting the channel manager: %w", err)
	}
	return nil
}

// pass handles the events, persists, then lets the PeerManager send, and persists what its pull
// changed (a commitment_signed is signed when it is pulled; BeforeWrite would write it anyway
// before those bytes leave).
func (p *Processor) pass() error {
	p.passMu.Lock()
	defer p.passMu.Unlock()
	c := p.cfg
	if c.BeforePass != nil {
		c.BeforePass()
	}
	if c.EventHandler != nil {
		if c.ChannelManager != nil {
			if err := c.ChannelManager.ProcessPendingEvents(c.EventHandler); err != nil {
				c.Logger.Warn("channel manager events", "err", err)
			}
		}
		if c.ChainMonitor != nil {
			if err := c.ChainMonitor.ProcessPendingEvents(c.EventHandler); err != nil {
				c.Logger.Warn("chain monitor events", "err", err)
			}
		}
	}
	if err := p.persist(false); err != nil {
		c.Logger.Error("not sending this pass: the manager is not durable", "err", err)
		return err
	}
	if c.PeerManager != nil {
		c.PeerManager.ProcessEvents()
	}
	if err := p.persist(false); err != nil {
		c.Logger.Error("end of the pass", "err", err)
		return err
	}
	return nil
}

// run is the Processor's goroutine.
func (p *Processor) run() {
	defer close(p.done)
	c := p.cfg
	safety := time.NewTicker(c.SafetyInterval)
	peerTick := time.NewTicker(c.PeerTickInterval)
	mgrTick := time.NewTicker(c.ManagerTickInterval)
	defer safety.Stop()
	defer peerTick.Stop()
	defer mgrTick.Stop()
	jobs := newJobTimer(c.Jobs, time.Now())
	defer jobs.stop()
	hostWake := c.Wake
	_ = p.pass()
	for {
		var mgrSignal, monSignal <-chan struct{}
		if c.ChannelManager != nil {
			mgrSignal = c.ChannelManager.EventOrPersistenceNeeded()
		}
		if c.ChainMonitor != nil {
			monSignal = c.ChainMonitor.UpdateAvailable()
		}
		select {
		case <-p.stop:
			return
		case <-safety.C:
		case <-p.wake:
		case _, ok := <-hostWake:
			if !ok {
				hostWake = nil // closed: it wakes nothing more
			}
		case <-mgrSignal:
		case <-monSignal:
		case <-peerTick.C:
			if c.PeerManager != nil {
				c.PeerManager.TimerTickOccurred()
			}
		case <-mgrTick.C:
			if c.ChannelManager != nil {
				c.ChannelManager.TimerTickOccurred()
			}
		case now := <-jobs.c():
			jobs.runDue(now)
		}
		_ = p.pass()
	}
}
