package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

// fakeComponent records the supervisor's calls into a shared log.
type fakeComponent struct {
	name    string
	log     *[]string
	mu      *sync.Mutex
	failOn  string // "start" or "stop": fail that call
	running bool
}

func (f *fakeComponent) Name() string { return f.name }

func (f *fakeComponent) Start(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.running {
		panic(f.name + " started twice")
	}
	*f.log = append(*f.log, "start "+f.name)
	if f.failOn == "start" {
		return errors.New("boom")
	}
	f.running = true
	return nil
}

func (f *fakeComponent) Stop(context.Context) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.running {
		panic(f.name + " stopped while stopped")
	}
	f.running = false
	*f.log = append(*f.log, "stop "+f.name)
	if f.failOn == "stop" {
		return errors.New("bang")
	}
	return nil
}

// TestSupervisorOrder: components start in the order they were added (each after its dependencies),
// stop in reverse; one can be stopped and started alone only when nothing running depends on it and
// what it depends on runs; a failed start undoes the starts before it.
func TestSupervisorOrder(t *testing.T) {
	var log []string
	var mu sync.Mutex
	comps := map[string]*fakeComponent{}
	sup := newSupervisor(slog.New(slog.DiscardHandler))
	add := func(name string, deps ...string) {
		c := &fakeComponent{name: name, log: &log, mu: &mu}
		comps[name] = c
		sup.add(c, deps...)
	}
	add("store")
	add("events")
	add("chain", "store")
	add("loop", "store")
	add("peers", "store", "loop")
	add("rpc", "store", "events")
	require.Panics(t, func() { sup.add(&fakeComponent{name: "x"}, "nope") }, "a dependency added later")
	require.Panics(t, func() { sup.add(&fakeComponent{name: "store"}) }, "twice")
	ctx := context.Background()

	require.NoError(t, sup.StartAll(ctx))
	require.Equal(t, []string{"start store", "start events", "start chain", "start loop", "start peers", "start rpc"}, log)
	log = nil

	require.ErrorContains(t, sup.Stop(ctx, "loop"), "cannot stop loop: peers depends on it and is running")
	require.NoError(t, sup.Stop(ctx, "peers"))
	require.False(t, sup.Running("peers"))
	require.NoError(t, sup.Stop(ctx, "peers"), "stopping a stopped component does nothing")
	require.NoError(t, sup.Stop(ctx, "loop"))
	require.ErrorContains(t, sup.Start(ctx, "peers"), "cannot start peers: it depends on loop, which is stopped")
	require.NoError(t, sup.Start(ctx, "loop"))
	require.NoError(t, sup.Start(ctx, "peers"))
	require.NoError(t, sup.Start(ctx, "peers"), "starting a running component does nothing")
	require.ErrorIs(t, sup.Start(ctx, "nope"), errUnknownComponent)
	require.Equal(t, []string{"stop peers", "stop loop", "start loop", "start peers"}, log)
	log = nil

	comps["chain"].failOn = "stop"
	err := sup.StopAll(ctx)
	require.ErrorContains(t, err, "stopping chain: bang")
	require.Equal(t, []string{"stop rpc", "stop peers", "stop loop", "stop chain", "stop events", "stop store"}, log,
		"every component is stopped, in reverse, despite the error")
	log = nil

	comps["chain"].failOn = ""
	comps["peers"].failOn = "start"
	require.ErrorContains(t, sup.StartAll(ctx), "starting peers: boom")
	require.Equal(t, []string{"start store", "start events", "start chain", "start loop", "start peers",
		"stop loop", "stop chain", "stop events", "stop store"}, log, "what was started is stopped again")
	for name := range comps {
		require.False(t, sup.Running(name), name)
	}
}

// TestRestartComponentsDuringPayments: two nodes with a channel; while one pays the other invoice
// after invoice, the gossip sync and then the peer listener of each node are stopped and started
// again. Payments made while a listener is down fail (no usable channel) or wait for the
// reconnection; every payment settles, more succeed after the restarts, and both balances move by
// exactly the succeeded payments, to the msat.
func TestRestartComponentsDuringPayments(t *testing.T) {
	btcd := newFakeBtcd(t)
	a, b := startPair(t, btcd, 500_000)
	ca0, _ := channelWith(a, b)
	cb0, _ := channelWith(b, a)
	require.Zero(t, cb0.BalanceMsat)

	stop := make(chan struct{})
	attempts := make(chan int, 1)
	go func() { attempts <- payStream(t, a, b, stop) }()
	ctx := context.Background()
	waitMore := func(what string) { waitMorePayments(t, a, what) }
	waitMore("the start")
	for _, step := range []struct {
		node *Node
		comp string
	}{{a, compGossip}, {b, compGossip}, {b, compPeers}, {a, compPeers}, {b, compEvents}, {a, compRPC}, {b, compChain}} {
		what := fmt.Sprintf("restarting %s of %s", step.comp, map[*Node]string{a: "the payer", b: "the payee"}[step.node])
		require.NoError(t, step.node.sup.Stop(ctx, step.comp), what)
		require.False(t, step.node.sup.Running(step.comp))
		if step.comp == compPeers {
			require.Eventually(t, func() bool { return !a.isConnected(b.nodeID) && !b.isConnected(a.nodeID) },
				5*time.Second, 5*time.Millisecond, "%s: the peers are disconnected", what)
			require.Empty(t, step.node.listenAddr(), "no listener while stopped")
		}
		time.Sleep(150 * time.Millisecond) // payments meet the stopped component
		require.NoError(t, step.node.sup.Start(ctx, step.comp), what)
		if step.comp == compPeers {
			require.Eventually(t, func() bool { return usable(a, b) && usable(b, a) }, 20*time.Second, 10*time.Millisecond,
				"the channel reestablishes after %s", what)
		}
		waitMore(what)
	}
	// The event loop restarts only with what depends on it (the peer listener) stopped first.
	require.ErrorContains(t, a.sup.Stop(ctx, compEventLoop), "peers depends on it")
	require.NoError(t, a.sup.Stop(ctx, compPeers))
	require.NoError(t, a.sup.Stop(ctx, compEventLoop))
	require.NoError(t, a.sup.Start(ctx, compEventLoop))
	require.NoError(t, a.sup.Start(ctx, compPeers))
	require.Eventually(t, func() bool { return usable(a, b) && usable(b, a) }, 20*time.Second, 10*time.Millisecond)
	waitMore("restarting the payer's event loop")
	close(stop)
	n := <-attempts

	sum, succeeded := settledPayments(t, a, b)
	t.Logf("%d payments attempted, %d succeeded, %d msat", n, succeeded, sum)
	require.Greater(t, succeeded, 30)
	ca, _ := channelWith(a, b)
	cb, _ := channelWith(b, a)
	require.Equal(t, ca0.BalanceMsat-sum, ca.BalanceMsat, "the payer's balance moved by exactly what succeeded")
	require.Equal(t, sum, cb.BalanceMsat, "the payee's balance is exactly what succeeded")
	require.Equal(t, sum, receivedMsat(b), "the payee's invoices say the same")
	for _, p := range a.store.listPayments() {
		if p.Status == nodeapi.StatusFailed {
			require.True(t, strings.Contains(p.FailureReason, "no usable channel") || p.FailureReason != "",
				"failed payments say why: %+v", p)
		}
	}
}

// TestNodeRestartsInPlace: every component of a node stops and starts again on the same Node (the
// store component reads the state back), and the channel works on.
func TestNodeRestartsInPlace(t *testing.T) {
	btcd := newFakeBtcd(t)
	a, b := startPair(t, btcd, 300_000)
	payInvoices(t, a, b, 2, 4_000)
	settledPayments(t, a, b)
	ctx := context.Background()
	require.NoError(t, a.sup.StopAll(ctx))
	for _, name := range a.sup.names() {
		require.False(t, a.sup.Running(name), name)
	}
	require.NoError(t, a.sup.StartAll(ctx))
	require.Eventually(t, func() bool { return usable(a, b) && usable(b, a) }, 20*time.Second, 10*time.Millisecond)
	payInvoices(t, a, b, 2, 4_000)
	settledPayments(t, a, b)
	cb, _ := channelWith(b, a)
	require.EqualValues(t, 16_000, cb.BalanceMsat)
	require.Len(t, a.store.listPayments(), 4)
}
