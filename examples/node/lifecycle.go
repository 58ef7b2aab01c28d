package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"time"
)

// component is one part of the node with a lifecycle of its own (the NANO design: parts started and
// stopped independently, as lnd's subsystems are): the store, the chain follower, the event loop, the
// gossip sync, the peer listener, the event stream and the control API.
//
// Start brings the part up and returns once it runs (its goroutines started); an error means it did
// not start and holds nothing. Stop ends it and returns once every goroutine it started has ended and
// its state is flushed; it is only called on a started component. A component may be started again
// after Stop: it then starts afresh from what it finds in the node (the store's state, the known
// peers). The supervisor never calls Start and Stop of one component at the same time.
type component interface {
	Name() string
	Start(ctx context.Context) error
	Stop(ctx context.Context) error
}

// supervisor runs the node's components in dependency order: each is added after the components it
// depends on, StartAll starts them in that order and StopAll stops them in reverse. One component can
// be stopped and started again while the others run (Stop, Start), as long as what depends on it is
// stopped first and what it depends on is running: the supervisor refuses otherwise, naming the
// component in the way. Lifecycle calls are serialised.
type supervisor struct {
	log *slog.Logger

	op    sync.Mutex // held through every Start/Stop
	mu    sync.Mutex // guards the fields below (read by Running without op)
	comps []*supervised
}

type supervised struct {
	c       component
	deps    []string
	running bool
}

// errUnknownComponent: Start or Stop named a component the supervisor does not have.
var errUnknownComponent = errors.New("no such component")

func newSupervisor(log *slog.Logger) *supervisor {
	return &supervisor{log: log}
}

// add appends a component that depends on deps, which must have been added before (so that the order
// of addition is a dependency order). It panics otherwise: a wiring mistake, not a runtime condition.
func (s *supervisor) add(c component, deps ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range deps {
		if s.findLocked(d) == nil {
			panic(fmt.Sprintf("supervisor: %s depends on %s, which was not added before it", c.Name(), d))
		}
	}
	if s.findLocked(c.Name()) != nil {
		panic("supervisor: component " + c.Name() + " added twice")
	}
	s.comps = append(s.comps, &supervised{c: c, deps: deps})
}

func (s *supervisor) findLocked(name string) *supervised {
	for _, sc := range s.comps {
		if sc.c.Name() == name {
			return sc
		}
	}
	return nil
}

// names lists the components in dependency order.
func (s *supervisor) names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, len(s.comps))
	for i, sc := range s.comps {
		out[i] = sc.c.Name()
	}
	return out
}

// Running says whether the named component is started.
func (s *supervisor) Running(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.findLocked(name)
	return sc != nil && sc.running
}

// StartAll starts every stopped component in dependency order. If one fails, those StartAll started
// are stopped again (in reverse) and the error names the component.
func (s *supervisor) StartAll(ctx context.Context) error {
	s.op.Lock()
	defer s.op.Unlock()
	var started []*supervised
	for _, sc := range s.snapshot() {
		if s.isRunning(sc) {
			continue
		}
		if err := s.startLocked(ctx, sc); err != nil {
			slices.Reverse(started)
			for _, st := range started {
				s.stopLocked(context.WithoutCancel(ctx), st)
			}
			return err
		}
		started = append(started, sc)
	}
	return nil
}

// StopAll stops every running component in reverse dependency order. Every component is stopped even
// if some fail; the errors are joined.
func (s *supervisor) StopAll(ctx context.Context) error {
	s.op.Lock()
	defer s.op.Unlock()
	comps := s.snapshot()
	slices.Reverse(comps)
	var errs []error
	for _, sc := range comps {
		if s.isRunning(sc) {
			errs = append(errs, s.stopLocked(ctx, sc))
		}
	}
	return errors.Join(errs...)
}

// Start starts one stopped component; what it depends on must be running. Starting a running
// component does nothing.
func (s *supervisor) Start(ctx context.Context, name string) error {
	s.op.Lock()
	defer s.op.Unlock()
	s.mu.Lock()
	sc := s.findLocked(name)
	if sc == nil {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", errUnknownComponent, name)
	}
	if sc.running {
		s.mu.Unlock()
		return nil
	}
	for _, d := range sc.deps {
		if !s.findLocked(d).running {
			s.mu.Unlock()
			return fmt.Errorf("cannot start %s: it depends on %s, which is stopped", name, d)
		}
	}
	s.mu.Unlock()
	return s.startLocked(ctx, sc)
}

// Stop stops one running component; nothing running may depend on it. Stopping a stopped component
// does nothing.
func (s *supervisor) Stop(ctx context.Context, name string) error {
	s.op.Lock()
	defer s.op.Unlock()
	s.mu.Lock()
	sc := s.findLocked(name)
	if sc == nil {
		s.mu.Unlock()
		return fmt.Errorf("%w: %s", errUnknownComponent, name)
	}
	if !sc.running {
		s.mu.Unlock()
		return nil
	}
	for _, other := range s.comps {
		if other.running && slices.Contains(other.deps, name) {
			s.mu.Unlock()
			return fmt.Errorf("cannot stop %s: %s depends on it and is running", name, other.c.Name())
		}
	}
	s.mu.Unlock()
	return s.stopLocked(ctx, sc)
}

func (s *supervisor) snapshot() []*supervised {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.comps)
}

func (s *supervisor) isRunning(sc *supervised) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return sc.running
}

func (s *supervisor) startLocked(ctx context.Context, sc *supervised) error {
	name := sc.c.Name()
	t0 := time.Now()
	if err := sc.c.Start(ctx); err != nil {
		return fmt.Errorf("starting %s: %w", name, err)
	}
	s.mu.Lock()
	sc.running = true
	s.mu.Unlock()
	s.log.Debug("component started", "component", name, "took", time.Since(t0).Round(time.Millisecond))
	return nil
}

func (s *supervisor) stopLocked(ctx context.Context, sc *supervised) error {
	name := sc.c.Name()
	t0 := time.Now()
	err := sc.c.Stop(ctx)
	s.mu.Lock()
	sc.running = false
	s.mu.Unlock()
	if err != nil {
		s.log.Warn("component stopped with an error", "component", name, "err", err)
		return fmt.Errorf("stopping %s: %w", name, err)
	}
	s.log.Debug("component stopped", "component", name, "took", time.Since(t0).Round(time.Millisecond))
	return nil
}
