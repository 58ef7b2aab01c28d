package main

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/stores/sqlitestore"
)

// The lease timing of the tests: 1.5 s, renewed every 300 ms, polled every 100 ms.
var testLease = leaseConfig{duration: 1500 * time.Millisecond, renew: 300 * time.Millisecond, poll: 100 * time.Millisecond}

func newTestLease(kv kvstore.KVStore, name string, lost func(error)) *lease {
	if lost == nil {
		lost = func(error) {}
	}
	return &lease{kv: kv, cfg: testLease, holder: name, nodeID: "n", log: slog.New(slog.DiscardHandler), onLost: lost}
}

// TestLeaseFencing: the first node takes the lease; a second waits while it is renewed; once the first
// stops renewing, the second takes it over after it expires, and every write of the first then fails
// (the lease key's version is the fencing token), marking its lease lost; a released lease is taken
// over at the next poll.
func TestLeaseFencing(t *testing.T) {
	kv := kvstore.NewMemStore()
	ctx := context.Background()
	var lostErr error
	var mu sync.Mutex
	a := newTestLease(kv, "a", func(err error) { mu.Lock(); lostErr = err; mu.Unlock() })
	require.NoError(t, a.acquire(ctx))
	require.True(t, a.valid())
	a.startRenewing()
	fa := &fencedStore{KVStore: kv, l: a}
	require.NoError(t, fa.Write(kvstore.Key{Primary: "x", Key: "1"}, []byte("a")))
	var b kvstore.Batch
	require.ErrorIs(t, fa.Commit(b.Put(keyLease, []byte("mine"))), kvstore.ErrInvalidKey, "the lease key is not the node's to write")
	// A token left behind (a renewal whose read-back failed) is read again, not taken for a takeover.
	a.mu.Lock()
	a.token--
	a.mu.Unlock()
	require.NoError(t, fa.Write(kvstore.Key{Primary: "x", Key: "1"}, []byte("a2")))
	require.True(t, a.valid())
	// A failed check of the caller's own is the caller's.
	var own kvstore.Batch
	require.ErrorIs(t, fa.Commit(own.Check(kvstore.Key{Primary: "x", Key: "1"}, 7).Put(kvstore.Key{Primary: "x", Key: "1"}, nil)),
		kvstore.ErrVersionMismatch)
	require.True(t, a.valid())

	// A standby waits while a renews.
	bl := newTestLease(kv, "b", nil)
	wctx, cancel := context.WithTimeout(ctx, 4*testLease.duration)
	defer cancel()
	took := make(chan time.Time, 1)
	go func() {
		require.NoError(t, bl.acquire(wctx))
		took <- time.Now()
	}()
	select {
	case <-took:
		t.Fatal("the standby took a lease that is being renewed")
	case <-time.After(2 * testLease.duration):
	}
	// a stops renewing (a pause): b takes over within duration + poll.
	a.stopRenewing()
	paused := time.Now()
	at := <-took
	require.Less(t, at.Sub(paused), testLease.duration+testLease.poll+200*time.Millisecond)
	require.False(t, a.valid(), "a's own clock ran out before b took over")

	err := fa.Write(kvstore.Key{Primary: "x", Key: "2"}, []byte("stale"))
	require.ErrorIs(t, err, errNotLeader)
	require.ErrorIs(t, err, kvstore.ErrVersionMismatch)
	_, _, err = kv.Read(kvstore.Key{Primary: "x", Key: "2"})
	require.ErrorIs(t, err, kvstore.ErrNotFound, "the stale write changed nothing")
	mu.Lock()
	require.ErrorIs(t, lostErr, ErrLeaseLost)
	require.ErrorContains(t, lostErr, "b took it over")
	mu.Unlock()
	require.ErrorIs(t, fa.Write(kvstore.Key{Primary: "x", Key: "3"}, nil), errNotLeader, "refused without asking the store")

	fb := &fencedStore{KVStore: kv, l: bl}
	require.NoError(t, fb.Write(kvstore.Key{Primary: "x", Key: "2"}, []byte("b")))
	// b releases: c takes over at once.
	bl.release()
	cl := newTestLease(kv, "c", nil)
	t0 := time.Now()
	require.NoError(t, cl.acquire(ctx))
	require.Less(t, time.Since(t0), testLease.poll+100*time.Millisecond)
	require.ErrorIs(t, fb.Write(kvstore.Key{Primary: "x", Key: "4"}, nil), errNotLeader)
}

// failingStore fails every commit while fail is set.
type failingStore struct {
	kvstore.KVStore
	mu   sync.Mutex
	fail bool
}

func (f *failingStore) Commit(b *kvstore.Batch) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.fail {
		return errors.New("connection refused")
	}
	return f.KVStore.Commit(b)
}

// TestLeaseExpiresWhenRenewalsFail: a leader that cannot renew (the store unreachable) stops acting
// when its lease runs out on its own clock, and says so.
func TestLeaseExpiresWhenRenewalsFail(t *testing.T) {
	fs := &failingStore{KVStore: kvstore.NewMemStore()}
	lost := make(chan error, 1)
	l := newTestLease(fs, "a", func(err error) { lost <- err })
	require.NoError(t, l.acquire(context.Background()))
	l.startRenewing()
	defer l.stopRenewing()
	fs.mu.Lock()
	fs.fail = true
	fs.mu.Unlock()
	t0 := time.Now()
	select {
	case err := <-lost:
		require.ErrorIs(t, err, ErrLeaseLost)
		require.ErrorContains(t, err, "not renewed for")
		require.Less(t, time.Since(t0), testLease.duration)
	case <-time.After(3 * testLease.duration):
		t.Fatal("the lease was not given up")
	}
	require.False(t, l.valid())
}

func TestLeaseConfigChecked(t *testing.T) {
	require.NoError(t, leaseConfig{duration: defaultLeaseDuration, renew: defaultLeaseRenew, poll: defaultLeasePoll}.check())
	require.Error(t, leaseConfig{duration: 10 * time.Second, renew: 5 * time.Second, poll: time.Second}.check())
	require.Error(t, leaseConfig{duration: 10 * time.Second, renew: time.Second}.check())
}

// sharedStores are the stores a standby pair is tested on: one MemStore, one SQLite file (a Store of
// its own for each node, as two processes would have), and PostgreSQL with PGSTORE_TEST_DSN.
var sharedStores = []string{"mem", "sqlite", "postgres"}

// pairOnStore configures the leader and standby nodes (one seed, two datadirs) on one store of kind.
func pairOnStore(t *testing.T, btcd *fakeBtcd, kind string, extra ...string) (leader, standby *Config) {
	t.Helper()
	args := append(append([]string{}, pairNodeArgs...), "-lease.duration", testLease.duration.String(),
		"-lease.renew", testLease.renew.String(), "-lease.poll", testLease.poll.String())
	args = append(args, extra...)
	leader = testNodeConfig(t, btcd, args...)
	standby = testNodeConfig(t, btcd, args...)
	seed := bytes.Repeat([]byte("5e"), 32)
	for _, c := range []*Config{leader, standby} {
		require.NoError(t, os.WriteFile(filepath.Join(c.DataDir, "seed"), seed, 0o600))
		c.leaseAlways = true
	}
	switch kind {
	case "mem":
		kv := kvstore.NewMemStore()
		for _, c := range []*Config{leader, standby} {
			c.openKV = func() (*openedStore, error) {
				return &openedStore{kv: kv, close: func() error { return nil }, desc: "mem (shared)"}, nil
			}
		}
	case "sqlite":
		path := filepath.Join(t.TempDir(), "shared.sqlite")
		for _, c := range []*Config{leader, standby} {
			c.Store = storeSQLite
			c.openKV = func() (*openedStore, error) {
				s, err := sqlitestore.Open(path)
				if err != nil {
					return nil, err
				}
				return &openedStore{kv: s, close: s.Close, desc: "sqlite " + path}, nil
			}
		}
	case "postgres":
		dsn, schema := pgTestDSN(t), pgSchema(t)
		usePostgres(t, leader, dsn, schema)
		usePostgres(t, standby, dsn, schema)
	}
	return leader, standby
}

// startStandby starts a node in the background: it waits for the lease. started receives Start's
// result.
func startStandby(t *testing.T, cfg *Config, log *slog.Logger) (n *Node, started <-chan error, cancel func()) {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	n, err := NewNode(cfg, log)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() { ch <- n.StartContext(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-n.stopped
	})
	t.Cleanup(n.Stop)
	return n, ch, cancel
}

// crash makes n stop as a killed process would: it writes, sends and broadcasts nothing more (its
// lease is marked lost without being released) and its goroutines end.
func crash(n *Node) {
	if l := n.lease.Load(); l != nil {
		l.lost.Store(true)
		l.stopRenewing()
	}
	n.Stop()
}

// TestStandbyTakesOverAfterTheLeaderDies: a leader and a standby with one seed on one store; the
// standby waits without listening or serving the control API; the leader has a channel with a third
// node and pays over it; the leader dies (writes nothing more, its lease not released); the standby
// takes the lease over within the lease's duration plus a poll, loads the state, redials the peer,
// the channel reestablishes and payments resume, both balances exact to the msat. On every store
// given (MemStore, SQLite, PostgreSQL with PGSTORE_TEST_DSN).
func TestStandbyTakesOverAfterTheLeaderDies(t *testing.T) {
	for _, st := range sharedStores {
		t.Run(st, func(t *testing.T) {
			btcd := newFakeBtcd(t)
			lcfg, scfg := pairOnStore(t, btcd, st)
			leader := startTestNode(t, lcfg, nil)
			peer := startTestNode(t, testNodeConfig(t, btcd, pairNodeArgs...), nil)
			var slog_ syncBuffer
			standby, started, _ := startStandby(t, scfg, slog.New(slog.NewTextHandler(&slog_, nil)))

			fundNode(t, btcd, leader, 800_000)
			openTestChannel(t, btcd, leader, peer, 400_000)
			payInvoices(t, leader, peer, 5, 11_000)
			settledPayments(t, leader, peer)
			before, _ := channelWith(leader, peer)
			require.False(t, standby.sup.Running(compStore), "the standby waits")
			require.False(t, standby.sup.Running(compPeers))
			require.False(t, standby.sup.Running(compRPC))
			require.NoFileExists(t, filepath.Join(scfg.DataDir, nodeapi.CookieFile), "no control API while standby")
			require.FileExists(t, filepath.Join(lcfg.DataDir, nodeapi.CookieFile))
			require.Contains(t, slog_.String(), "another node holds the lease")

			died := time.Now()
			crash(leader)
			select {
			case err := <-started:
				require.NoError(t, err)
			case <-time.After(testLease.duration + testLease.poll + 5*time.Second):
				t.Fatal("the standby did not take over")
			}
			took := time.Since(died)
			t.Logf("%s: the standby runs %s after the leader died (lease %s, poll %s)", st,
				took.Round(time.Millisecond), testLease.duration, testLease.poll)
			require.Less(t, took, testLease.duration+testLease.poll+time.Second)
			require.Contains(t, slog_.String(), "took over the lease")
			got, ok := channelWith(standby, peer)
			require.True(t, ok)
			require.Equal(t, before.BalanceMsat, got.BalanceMsat)
			require.Len(t, standby.store.listPayments(), 5)

			require.Eventually(t, func() bool { return usable(standby, peer) && usable(peer, standby) }, 20*time.Second,
				10*time.Millisecond, "the new leader redials the peer and the channel reestablishes")
			payInvoices(t, standby, peer, 3, 2_000)
			settledPayments(t, standby, peer)
			ca, _ := channelWith(standby, peer)
			cb, _ := channelWith(peer, standby)
			require.Equal(t, before.BalanceMsat-6_000, ca.BalanceMsat)
			require.EqualValues(t, 61_000, cb.BalanceMsat)
			require.EqualValues(t, 61_000, receivedMsat(peer))
		})
	}
}

// TestPausedLeaderIsFenced: a leader stops renewing its lease (as a paused process does) while its
// goroutines go on; the standby takes over; the old leader's next write is refused (fenced), it
// reports ErrLeaseLost on Fatal, its sockets send nothing, and it writes nothing at all after the
// takeover: the new leader's state is the one the peer sees.
func TestPausedLeaderIsFenced(t *testing.T) {
	for _, st := range sharedStores {
		t.Run(st, func(t *testing.T) {
			btcd := newFakeBtcd(t)
			lcfg, scfg := pairOnStore(t, btcd, st)
			leader := startTestNode(t, lcfg, nil)
			peer := startTestNode(t, testNodeConfig(t, btcd, pairNodeArgs...), nil)
			standby, started, _ := startStandby(t, scfg, nil)
			fundNode(t, btcd, leader, 800_000)
			openTestChannel(t, btcd, leader, peer, 400_000)
			payInvoices(t, leader, peer, 2, 9_000)
			settledPayments(t, leader, peer)

			leader.lease.Load().stopRenewing() // paused
			require.NoError(t, <-started)
			writes := leader.kvCount.writes.Load()
			require.False(t, leader.mayAct(), "the old leader's own clock says its lease ran out")

			// The old leader tries to act: a payment (its records and the manager would be written) and
			// a write of its peers.
			inv, err := (&service{n: peer}).Invoice(context.Background(), nodeapi.InvoiceParams{AmountMsat: 1_000})
			require.NoError(t, err)
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, _ = (&service{n: leader}).PayInvoice(ctx, nodeapi.PayInvoiceParams{Bolt11: inv.Bolt11})
			cancel()
			leader.savePeers()
			select {
			case err := <-leader.Fatal():
				require.ErrorIs(t, err, ErrLeaseLost)
				require.ErrorContains(t, err, "took it over")
			case <-time.After(5 * time.Second):
				t.Fatal("the old leader did not learn it lost the lease")
			}
			require.Equal(t, writes, leader.kvCount.writes.Load(), "the old leader wrote nothing after the takeover")
			leader.Stop()
			require.Equal(t, writes, leader.kvCount.writes.Load(), "nor while stopping")

			require.Eventually(t, func() bool { return usable(standby, peer) && usable(peer, standby) }, 20*time.Second,
				10*time.Millisecond)
			payInvoices(t, standby, peer, 1, 4_000)
			settledPayments(t, standby, peer)
			cb, _ := channelWith(peer, standby)
			require.EqualValues(t, 22_000, cb.BalanceMsat, "the old leader's attempt left nothing")
		})
	}
}

// commitFailStore is a store whose commits fail (a database that went away).
type commitFailStore struct {
	kvstore.KVStore
	err error
}

func (s commitFailStore) Commit(*kvstore.Batch) error { return s.err }

// TestNoBroadcastWithoutDurableState: when the held writes cannot be made durable, the node broadcasts
// nothing (the transactions may depend on them: a monitor update, a funding the manager just
// recorded) and keeps the writes for the next flush.
func TestNoBroadcastWithoutDurableState(t *testing.T) {
	down := errors.New("database unreachable")
	n := &Node{hot: kvstore.NewWriteBuffer(commitFailStore{KVStore: kvstore.NewMemStore(), err: down}), log: slog.New(slog.DiscardHandler)}
	require.NoError(t, n.hot.Write(kvstore.Key{Primary: "monitors", Key: "m"}, []byte("update")))
	g := gatedChain{n: n}
	require.ErrorIs(t, g.SendRawTransaction(context.Background(), wire.NewMsgTx(2)), down)
	// The node here has no btcd client: reaching it would panic.
	require.NotPanics(t, func() { g.BroadcastTransactions(wire.NewMsgTx(2)) })
	require.Equal(t, 1, n.hot.Pending(), "the held write waits for the next flush")
}
