package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/kvstore"
)

// Active/passive pairs (lnd's leader election, eclair's database lock): two nodes with one seed on one
// PostgreSQL database; only the holder of a lease runs, the other waits and takes over when the lease
// expires.
//
// The lease is the key ("lease", "", "leader"): JSON with the holder's id, our node id and an expiry
// in host time (Unix milliseconds). Its version is the fencing token: the leader adds a Check of the
// lease key at the version it holds to every batch it commits (fencedStore), so once another node has
// taken the lease over (a write of the key: a new version), every write of the old leader fails with
// kvstore.ErrVersionMismatch, whatever the old leader believes. The stores serialise a batch that
// checks the lease with a batch that writes it (pgstore's advisory locks, SQLite's write lock,
// fsstore's and MemStore's lock), so a stale batch either commits before the takeover or not at all.
//
// Timing (the defaults; -lease.duration, -lease.renew, -lease.poll):
//
//   - The leader renews the lease every 5 s, setting its expiry 15 s ahead. It holds itself to be the
//     leader until 15 s minus a margin of 3 s (a fifth) after the start of its last successful renewal,
//     on its own monotonic clock: past that (a renewal that failed for that long, a process that was
//     paused) it stops, even if nobody has taken over: it closes every peer connection, sends and
//     broadcasts nothing more (leaderGate) and exits with an error.
//   - A standby reads the lease every 2 s and takes it over (a batch that checks the version it read
//     and writes itself as holder) once the expiry has passed on its clock. After the leader dies, the
//     standby holds the lease within 15 + 2 = 17 s (the last renewal was at most 5 s before the death,
//     so 10 s plus the poll at best), then opens the store's state, catches up with the chain and
//     connects: about a second more. A leader that stops cleanly releases the lease (expiry now), and
//     the standby takes over at its next poll, within 2 s.
//   - Clocks: the expiry is compared with the standby's clock, so the two hosts' clocks should agree
//     within the margin; a standby whose clock runs ahead takes over early, and the leader, fenced,
//     then stops: nothing is written twice, only the switch comes early.
//
// The standby waits in the store component's Start, before anything else: it listens on no p2p port
// and serves no control API (the CLI finds no cookie) until it is the leader.
var keyLease = kvstore.Key{Primary: leaseNamespace, Key: "leader"}

// Lease timing defaults (see above).
const (
	defaultLeaseDuration = 15 * time.Second
	defaultLeaseRenew    = 5 * time.Second
	defaultLeasePoll     = 2 * time.Second
)

var (
	// errNotLeader is what the fenced store, the gated sockets and the gated broadcaster answer once
	// the node is no longer the leader.
	errNotLeader = errors.New("not the leader: the lease is lost")
	// ErrLeaseLost is the error Node.Fatal reports when the node lost its lease.
	ErrLeaseLost = errors.New("lost the lease")
)

// leaseValue is the lease key's value.
type leaseValue struct {
	Holder   string `json:"holder"`
	NodeID   string `json:"node_id"`
	Expires  int64  `json:"expires_unix_ms"`
	Acquired int64  `json:"acquired_unix_ms"`
}

func (v leaseValue) expires() time.Time { return time.UnixMilli(v.Expires) }

// leaseConfig is the timing of a lease.
type leaseConfig struct {
	duration, renew, poll time.Duration
}

// check refuses timings under which the leader could not renew in time.
func (c leaseConfig) check() error {
	if c.duration <= 0 || c.renew <= 0 || c.poll <= 0 {
		return errors.New("-lease.duration, -lease.renew and -lease.poll must be positive")
	}
	if 2*c.renew > c.duration-c.margin() {
		return fmt.Errorf("-lease.renew %s is too long for -lease.duration %s: the leader must be able to renew twice in %s",
			c.renew, c.duration, c.duration-c.margin())
	}
	return nil
}

// margin is how long before the lease's end, on its own clock, the leader stops acting.
func (c leaseConfig) margin() time.Duration { return c.duration / 5 }

// lease is this node's side of the lease: waiting for it, renewing it, and knowing when it is lost.
type lease struct {
	kv     kvstore.KVStore // the store without fencing
	cfg    leaseConfig
	holder string
	nodeID string
	log    *slog.Logger
	onLost func(error) // called once, from any goroutine, when the lease is lost

	// mu is held shared by every fenced commit and exclusively by a renewal (which changes the token).
	mu       sync.RWMutex
	token    uint64 // the lease key's version we wrote
	acquired time.Time
	// untilMono is when, on this process's monotonic clock (nanoseconds since leaseEpoch), the leader
	// stops acting: the start of the last successful renewal plus the duration minus the margin.
	untilMono atomic.Int64
	lost      atomic.Bool
	lostOnce  sync.Once
	lostErr   atomic.Pointer[error]

	stop chan struct{}
	done chan struct{}
}

// leaseEpoch is the base of the monotonic times the lease keeps as integers.
var leaseEpoch = time.Now()

func monoNow() int64 { return int64(time.Since(leaseEpoch)) }

// newHolderID names this process for the lease: host, pid and a random suffix (a restarted process is
// another holder).
func newHolderID() string {
	host, _ := os.Hostname()
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%s/%d/%s", host, os.Getpid(), hex.EncodeToString(r[:]))
}

// acquire waits until this node holds the lease: it takes a missing or expired lease over, and
// otherwise polls every cfg.poll. It returns ctx's error if ctx ends first.
func (l *lease) acquire(ctx context.Context) error {
	var lastHolder string
	for {
		raw, ver, err := l.kv.Read(keyLease)
		var cur leaseValue
		switch {
		case errors.Is(err, kvstore.ErrNotFound):
			ver = 0
		case err != nil:
			l.log.Warn("standby: reading the lease", "err", err)
		default:
			if jerr := json.Unmarshal(raw, &cur); jerr != nil {
				l.log.Warn("standby: the lease is unreadable; taking it over", "err", jerr)
				cur = leaseValue{}
			}
		}
		if err == nil || errors.Is(err, kvstore.ErrNotFound) {
			now := time.Now()
			// Ours already: a take whose read-back failed.
			if ver == 0 || !now.Before(cur.expires()) || cur.Holder == l.holder {
				ok, terr := l.take(ver, cur)
				if ok {
					return nil
				}
				if terr != nil {
					l.log.Warn("standby: taking the lease over", "err", terr)
				}
			} else if cur.Holder != lastHolder {
				lastHolder = cur.Holder
				l.log.Info("standby: another node holds the lease; waiting for it to expire", "holder", cur.Holder,
					"expires_in", time.Until(cur.expires()).Round(time.Millisecond))
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(l.cfg.poll):
		}
	}
}

// take writes this node as the holder if the lease key is still at version ver; it reports whether
// it did.
func (l *lease) take(ver uint64, prev leaseValue) (bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	start := monoNow()
	now := time.Now()
	v := leaseValue{Holder: l.holder, NodeID: l.nodeID, Expires: now.Add(l.cfg.duration).UnixMilli(), Acquired: now.UnixMilli()}
	if err := l.commitValue(ver, v); err != nil {
		if errors.Is(err, kvstore.ErrVersionMismatch) {
			return false, nil // another standby was faster
		}
		return false, err
	}
	tok, err := l.readOwnToken()
	if err != nil {
		return false, err
	}
	l.token = tok
	l.acquired = now
	l.untilMono.Store(start + int64(l.cfg.duration-l.cfg.margin()))
	if prev.Holder != "" {
		l.log.Info("took over the lease", "previous_holder", prev.Holder, "expired_ago",
			now.Sub(prev.expires()).Round(time.Millisecond), "token", tok)
	} else {
		l.log.Info("took the lease", "token", tok)
	}
	return true, nil
}

// commitValue writes v as the lease if the key is at version ver. The caller holds mu.
func (l *lease) commitValue(ver uint64, v leaseValue) error {
	b, _ := json.Marshal(v)
	var batch kvstore.Batch
	return l.kv.Commit(batch.Check(keyLease, ver).Put(keyLease, b))
}

// readOwnToken reads the lease back: its version if we hold it.
func (l *lease) readOwnToken() (uint64, error) {
	raw, ver, err := l.kv.Read(keyLease)
	if err != nil {
		return 0, err
	}
	var v leaseValue
	if err := json.Unmarshal(raw, &v); err != nil || v.Holder != l.holder {
		return 0, fmt.Errorf("%w: the lease is now %s's", kvstore.ErrVersionMismatch, v.Holder)
	}
	return ver, nil
}

// startRenewing renews the lease every cfg.renew until stopRenewing or the lease is lost.
func (l *lease) startRenewing() {
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(l.done)
		t := time.NewTicker(l.cfg.renew)
		defer t.Stop()
		for {
			select {
			case <-l.stop:
				return
			case <-t.C:
			}
			if l.lost.Load() {
				return
			}
			if !l.valid() {
				l.lose(l.expired())
				return
			}
			if err := l.renew(); err != nil {
				if errors.Is(err, kvstore.ErrVersionMismatch) {
					l.lose(l.takenOver())
					return
				}
				l.log.Warn("renewing the lease", "err", err)
			}
		}
	}()
}

// renew extends the lease.
func (l *lease) renew() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	start := monoNow()
	now := time.Now()
	v := leaseValue{Holder: l.holder, NodeID: l.nodeID, Expires: now.Add(l.cfg.duration).UnixMilli(), Acquired: l.acquired.UnixMilli()}
	err := l.commitValue(l.token, v)
	if errors.Is(err, kvstore.ErrVersionMismatch) && l.resyncLocked() {
		err = l.commitValue(l.token, v)
	}
	if err != nil {
		return err
	}
	l.untilMono.Store(start + int64(l.cfg.duration-l.cfg.margin()))
	if tok, err := l.readOwnToken(); err == nil {
		l.token = tok
	} else if errors.Is(err, kvstore.ErrVersionMismatch) {
		return err
	} else {
		// The lease is renewed; the token is read again when a write finds it stale (resyncLocked).
		l.log.Warn("reading the renewed lease back", "err", err)
	}
	return nil
}

// resyncLocked adopts the lease key's current version as the token if we still hold the lease (a
// renewal whose read-back failed left the token behind); it reports whether it did. The caller holds
// mu.
func (l *lease) resyncLocked() bool {
	tok, err := l.readOwnToken()
	if err != nil || tok == l.token {
		return false
	}
	l.token = tok
	return true
}

// valid says whether this node may still act as the leader: the lease is not known lost and its time
// has not run out on this process's clock.
func (l *lease) valid() bool {
	return !l.lost.Load() && monoNow() < l.untilMono.Load()
}

// expired describes a lease that ran out on this process's clock: taken over, if the store says so.
func (l *lease) expired() error {
	if raw, _, err := l.kv.Read(keyLease); err == nil {
		var v leaseValue
		if json.Unmarshal(raw, &v) == nil && v.Holder != l.holder {
			return l.takenOver()
		}
	}
	return fmt.Errorf("%w: not renewed for %s (this process was paused, or the store unreachable); "+
		"another node may hold it now", ErrLeaseLost, l.cfg.duration-l.cfg.margin())
}

// takenOver describes the lease's new holder.
func (l *lease) takenOver() error {
	raw, ver, err := l.kv.Read(keyLease)
	if err != nil {
		return fmt.Errorf("%w: the lease key moved past version %d (%v)", ErrLeaseLost, l.token, err)
	}
	var v leaseValue
	_ = json.Unmarshal(raw, &v)
	return fmt.Errorf("%w: %s took it over (lease version %d, ours was %d)", ErrLeaseLost, v.Holder, ver, l.token)
}

// lose marks the lease lost and tells the node, once.
func (l *lease) lose(err error) {
	l.lost.Store(true)
	l.lostOnce.Do(func() {
		l.lostErr.Store(&err)
		l.onLost(err)
	})
}

// err is why the lease was lost (nil if it was not).
func (l *lease) err() error {
	if p := l.lostErr.Load(); p != nil {
		return *p
	}
	return nil
}

// stopRenewing ends the renewals.
func (l *lease) stopRenewing() {
	if l.stop == nil {
		return
	}
	select {
	case <-l.stop:
	default:
		close(l.stop)
	}
	<-l.done
}

// release lets a standby take over at once: the lease's expiry becomes now (only if we still hold it).
func (l *lease) release() {
	l.stopRenewing()
	if l.lost.Load() {
		return
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	v := leaseValue{Holder: l.holder, NodeID: l.nodeID, Expires: time.Now().UnixMilli(), Acquired: l.acquired.UnixMilli()}
	if err := l.commitValue(l.token, v); err != nil {
		l.log.Warn("releasing the lease", "err", err)
		return
	}
	l.lost.Store(true) // we act no more
	l.log.Info("released the lease")
}

// fencedStore is the store as the leader writes it: every Write, Remove and Commit carries a Check
// of the lease key at the version the leader holds, so that it fails once another node took the
// lease. Such a failure, and any write after the lease was lost, is refused (errNotLeader, also
// wrapping kvstore.ErrVersionMismatch for the first) and the lease is marked lost at once. Reads pass
// through.
type fencedStore struct {
	kvstore.KVStore
	l *lease
}

func (f *fencedStore) Write(k kvstore.Key, v []byte) error {
	var b kvstore.Batch
	return f.Commit(b.Put(k, v))
}

func (f *fencedStore) Remove(k kvstore.Key) error {
	var b kvstore.Batch
	return f.Commit(b.Remove(k))
}

func (f *fencedStore) Commit(b *kvstore.Batch) error {
	if f.l.lost.Load() {
		return errNotLeader
	}
	f.l.mu.RLock()
	token := f.l.token
	ops := make([]kvstore.Op, 0, len(b.Ops)+1)
	ops = append(ops, kvstore.Op{Kind: kvstore.OpCheck, Key: keyLease, Version: token})
	for _, op := range b.Ops {
		if op.Key == keyLease {
			f.l.mu.RUnlock()
			return fmt.Errorf("%w: the lease key is the lease's alone", kvstore.ErrInvalidKey)
		}
		ops = append(ops, op)
	}
	err := f.KVStore.Commit(&kvstore.Batch{Ops: ops})
	f.l.mu.RUnlock()
	if !errors.Is(err, kvstore.ErrVersionMismatch) {
		return err
	}
	if _, ver, rerr := f.KVStore.Read(keyLease); rerr == nil && ver == token {
		return err // one of the caller's own checks failed
	}
	f.l.mu.Lock()
	resynced := f.l.resyncLocked()
	f.l.mu.Unlock()
	if resynced {
		return f.commitOnce(b, err)
	}
	f.l.lose(f.l.takenOver())
	return fmt.Errorf("%w: %w", errNotLeader, err)
}

// commitOnce is Commit again after the token was resynced; a second mismatch on the lease is final.
func (f *fencedStore) commitOnce(b *kvstore.Batch, first error) error {
	f.l.mu.RLock()
	token := f.l.token
	ops := append([]kvstore.Op{{Kind: kvstore.OpCheck, Key: keyLease, Version: token}}, b.Ops...)
	err := f.KVStore.Commit(&kvstore.Batch{Ops: ops})
	f.l.mu.RUnlock()
	if errors.Is(err, kvstore.ErrVersionMismatch) {
		if _, ver, rerr := f.KVStore.Read(keyLease); rerr != nil || ver != token {
			f.l.lose(f.l.takenOver())
			return fmt.Errorf("%w: %w", errNotLeader, err)
		}
	}
	return err
}

// leaderGate keeps a node that is not (or no longer) the leader from acting: its peer sockets write
// nothing (gatedConn) and its transactions are not broadcast (gatedChain). Without a lease it is
// always open.
func (n *Node) mayAct() bool {
	l := n.lease.Load()
	return l == nil || l.valid()
}

// gatedConn is a peer socket that writes only while the node may act; otherwise it closes.
type gatedConn struct {
	net.Conn
	n *Node
}

func (c *gatedConn) Write(b []byte) (int, error) {
	if !c.n.mayAct() {
		_ = c.Conn.Close()
		return 0, errNotLeader
	}
	return c.Conn.Write(b)
}

// gatedChain is how the node broadcasts: through btcd, while it may act.
type gatedChain struct{ n *Node }

func (g gatedChain) BroadcastTransactions(txs ...*wire.MsgTx) {
	if len(txs) == 0 {
		return
	}
	if !g.n.mayAct() {
		g.n.log.Warn("not broadcasting: not the leader", "transactions", len(txs))
		return
	}
	// What made the transactions (a monitor's update, the manager's state) is durable first; if it
	// cannot be, nothing is broadcast: the library offers them again later.
	if err := g.n.flush(); err != nil {
		g.n.log.Error("not broadcasting: the state behind the transactions is not durable", "transactions", len(txs), "err", err)
		return
	}
	g.n.noteBroadcast(txs...)
	g.n.chain.BroadcastTransactions(txs...)
}

// SendRawTransaction hands tx to btcd at once, while the node may act.
func (g gatedChain) SendRawTransaction(ctx context.Context, tx *wire.MsgTx) error {
	if !g.n.mayAct() {
		return errNotLeader
	}
	if err := g.n.flush(); err != nil {
		return fmt.Errorf("not broadcasting: %w", err)
	}
	g.n.noteBroadcast(tx)
	return g.n.chain.SendRawTransaction(ctx, tx)
}

// leaseLost is the lease's onLost: the node stops acting at once (the gate is closed by the lease
// itself), cuts its peer connections and reports the error on Fatal; runDaemon then stops it and
// exits.
func (n *Node) leaseLost(err error) {
	var writes int64
	if n.kvCount != nil {
		writes = n.kvCount.writes.Load()
	}
	n.log.Error("this node is no longer the leader: it stops now and writes, sends and broadcasts nothing more",
		"err", err, "writes_so_far", writes)
	go func() {
		n.mu.Lock()
		for c := range n.conns {
			c.Close()
		}
		n.mu.Unlock()
	}()
	select {
	case n.fatal <- err:
	default:
	}
}

// Fatal reports an error after which the node must stop (the lease lost).
func (n *Node) Fatal() <-chan error { return n.fatal }
