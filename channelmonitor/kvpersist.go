package channelmonitor

import (
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/kvstore"
)

// Namespaces of the KVStorePersister's keys (LDK's, for the first two).
const (
	// KVMonitorNamespace holds one full monitor per channel: ("monitors", "", "<txid>_<vout>").
	KVMonitorNamespace = "monitors"
	// KVMonitorUpdateNamespace holds the updates stored since a channel's monitor was last written in
	// full: ("monitor_updates", "<txid>_<vout>", "<update id, 20 decimal digits>").
	KVMonitorUpdateNamespace = "monitor_updates"
	// KVArchivedMonitorNamespace and KVArchivedMonitorUpdateNamespace receive an archived channel's
	// keys, laid out as above.
	KVArchivedMonitorNamespace       = "archived_monitors"
	KVArchivedMonitorUpdateNamespace = "archived_monitor_updates"
)

// DefaultMaximumPendingUpdates is KVStorePersisterOptions.MaximumPendingUpdates's default (LDK's
// usual choice).
const DefaultMaximumPendingUpdates = 64

// ErrUpdateGap is returned (wrapped, with ErrCorrupt) by KVStorePersister.ReadChannelMonitors when a
// channel's stored updates skip an update id: the monitor cannot be brought up to date.
var ErrUpdateGap = errors.New("channelmonitor: stored monitor updates skip an update")

// KVStorePersisterOptions configures a KVStorePersister.
type KVStorePersisterOptions struct {
	// MaximumPendingUpdates bounds the updates stored one by one beside a channel's full monitor: the
	// update that would be the MaximumPendingUpdates-th is not stored by itself, the monitor is written
	// in full instead and the stored updates removed. Reading a channel then replays fewer than this
	// many updates. 0 means DefaultMaximumPendingUpdates; 1 writes every update as a full monitor.
	MaximumPendingUpdates int
	// LogFraction, when set (FilesystemPersister's rule), also waits, before writing the monitor in
	// full, until the updates stored since the last full write add up to that fraction of its size
	// (0.5: half), so that a large monitor is not rewritten every MaximumPendingUpdates updates; at most
	// 16 × MaximumPendingUpdates updates are stored in any case, which bounds what a read replays. 0 (the
	// default) counts updates only, as LDK does.
	LogFraction float64
	// Async makes every Persist call return InProgress and queue its write; the host performs the
	// queued writes with PersistPending and reports what it returns to ChainMonitor.ChannelMonitorUpdated.
	Async bool
	// Logger receives the store errors behind UnrecoverableError answers; nil discards them.
	Logger *slog.Logger
}

// CompletedUpdate is a write PersistPending made durable: the host passes it to
// ChainMonitor.ChannelMonitorUpdated(FundingTxo, UpdateID).
type CompletedUpdate struct {
	FundingTxo wire.OutPoint
	UpdateID   uint64
}

// KVStorePersister stores monitors in a kvstore.KVStore the way LDK's MonitorUpdatingPersister does:
// a channel's monitor is written in full, and then each update by itself, so that persisting an update
// costs the update's size, not the monitor's (which grows with the channel's history).
//
// # Keys
//
//	("monitors", "", "<funding txid>_<output index>")                   the full monitor (ChannelMonitor.Write)
//	("monitor_updates", "<funding txid>_<output index>", "<update id>")  an update (ChannelMonitorUpdate.Encode)
//
// An update id is written as 20 decimal digits, zero-padded, so that List returns them in order. A
// monitor is written in full when the channel is new, when the ChainMonitor persists a change of chain
// state (UpdatePersistedChannel without an update), for updates sent after the channel closed
// (ClosedChannelUpdateID: they do not extend the id sequence), and every MaximumPendingUpdates updates:
// in place of the update that would be the MaximumPendingUpdates-th stored since the last full write,
// whatever caused that one (LDK counts by update id instead; counting what is stored also bounds a read
// after chain-state writes reset the count).
//
// # Atomicity
//
// A full write is one kvstore.Batch: the new monitor and the removal of every stored update it
// includes (id not above the monitor's LatestUpdateID, read before the monitor is serialized, so the
// serialized monitor includes at least those). The store applies all of it or none, even across a
// crash, so the stored state is at every moment either the old monitor with all its updates or the new
// monitor with the updates after it: never a monitor missing an update it needs, never one whose
// updates would apply twice. An update is one Write of its own key. Reading replays, in id order, the
// stored updates above the monitor's id and skips the others: such a stale update is left when an
// update's write follows a full write that already included it (a chain-state write that raced the
// update; with Async, writes made in queue order after the monitor moved on). A gap in the ids, an
// update whose key and content disagree, or one that does not decode or apply is an error
// (ErrCorrupt; a gap also ErrUpdateGap): the store lost data and replaying past it would give a monitor
// that does not know the channel's state.
//
// # Errors
//
// As FilesystemPersister does for I/O errors, a store error makes the call return UnrecoverableError
// (logged to Options.Logger): the ChannelManager then closes the channel, broadcasting from the
// in-memory monitor, and the host should stop once it can. The persister never panics.
//
// # Asynchronous writes
//
// With Options.Async, calls return InProgress and queue their writes, in order; PersistPending
// performs them (no goroutine: the host calls it, e.g. from its own background task) and returns the
// new channels and updates now durable. Chain-state writes are queued too (consecutive ones for a
// channel once) but not returned, as the ChainMonitor waits for none. A full write serializes the
// monitor when it is performed, so it holds everything the monitor had applied by then.
//
// Safe for concurrent use; writes of one channel are serialized.
type KVStorePersister struct {
	store   kvstore.KVStore
	maxPend int
	logFrac float64
	async   bool
	log     *slog.Logger
	mu      sync.Mutex // guards chans and queue
	chans   map[wire.OutPoint]*kvChannel
	queue   []kvWrite
	flushMu sync.Mutex // one PersistPending at a time, so the queue is performed in order
}

// kvChannel is what the persister knows of a channel's keys.
type kvChannel struct {
	mu   sync.Mutex
	name string // kvMonitorName
	// listed: updates holds the id of every update stored for the channel (else List tells).
	listed  bool
	updates []uint64 // ascending
	// logBytes is the size of the updates stored since the last full write, fullBytes that write's
	// (both 0 until this persister wrote one: LogFraction then does not delay the next).
	logBytes, fullBytes int
}

type kvWriteKind uint8

const (
	kvWriteNew kvWriteKind = iota + 1
	kvWriteUpdate
	kvWriteChainState
)

// kvWrite is one Persist call's write, performed at once or queued (Async).
type kvWrite struct {
	kind kvWriteKind
	op   wire.OutPoint
	mon  *ChannelMonitor
	id   uint64 // the update's id (kvWriteUpdate) or the new monitor's (kvWriteNew)
	enc  []byte // the encoded update, unless it is written in full (ClosedChannelUpdateID)
}

// NewKVStorePersister returns a persister writing to store. Call ReadChannelMonitors at start-up,
// before any Persist call: besides the monitors it learns which update keys exist, which otherwise a
// List of the channel's updates finds out on its first write.
func NewKVStorePersister(store kvstore.KVStore, opts KVStorePersisterOptions) *KVStorePersister {
	maxPend := opts.MaximumPendingUpdates
	if maxPend <= 0 {
		maxPend = DefaultMaximumPendingUpdates
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &KVStorePersister{store: store, maxPend: maxPend, logFrac: opts.LogFraction, async: opts.Async, log: log,
		chans: map[wire.OutPoint]*kvChannel{}}
}

// kvMonitorName is a channel's key in KVMonitorNamespace and namespace in KVMonitorUpdateNamespace.
func kvMonitorName(op wire.OutPoint) string {
	return op.Hash.String() + "_" + strconv.FormatUint(uint64(op.Index), 10)
}

// parseKVMonitorName reverses kvMonitorName (only what it writes: lower-case hex, no leading zeros).
func parseKVMonitorName(name string) (wire.OutPoint, error) {
	bad := fmt.Errorf("%w: monitor key %q is not <funding txid>_<output index>", ErrCorrupt, name)
	txid, idx, ok := strings.Cut(name, "_")
	if !ok {
		return wire.OutPoint{}, bad
	}
	h, err := chainhash.NewHashFromStr(txid)
	if err != nil {
		return wire.OutPoint{}, bad
	}
	index, err := strconv.ParseUint(idx, 10, 32)
	if err != nil {
		return wire.OutPoint{}, bad
	}
	op := wire.OutPoint{Hash: *h, Index: uint32(index)}
	if kvMonitorName(op) != name {
		return wire.OutPoint{}, bad
	}
	return op, nil
}

// kvUpdateName is an update's key: its id in 20 decimal digits, so that keys sort as ids do.
func kvUpdateName(id uint64) string {
	var b [20]byte
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + id%10)
		id /= 10
	}
	return string(b[:])
}

// parseKVUpdateName reverses kvUpdateName.
func parseKVUpdateName(name string) (uint64, error) {
	id, err := strconv.ParseUint(name, 10, 64)
	if err != nil || len(name) != 20 {
		return 0, fmt.Errorf("%w: update key %q is not a 20-digit update id", ErrCorrupt, name)
	}
	return id, nil
}

func kvMonitorKey(name string) kvstore.Key {
	return kvstore.Key{Primary: KVMonitorNamespace, Key: name}
}

func kvUpdateKey(name string, id uint64) kvstore.Key {
	return kvstore.Key{Primary: KVMonitorUpdateNamespace, Secondary: name, Key: kvUpdateName(id)}
}

// channel returns the channel's state, created on first use.
func (p *KVStorePersister) channel(op wire.OutPoint) *kvChannel {
	p.mu.Lock()
	defer p.mu.Unlock()
	c := p.chans[op]
	if c == nil {
		c = &kvChannel{name: kvMonitorName(op)}
		p.chans[op] = c
	}
	return c
}

// listUpdates returns the ids of the channel's stored updates, ascending.
func (p *KVStorePersister) listUpdates(name string) ([]uint64, error) {
	names, err := p.store.List(KVMonitorUpdateNamespace, name)
	if err != nil {
		return nil, err
	}
	ids := make([]uint64, 0, len(names))
	for _, n := range names {
		id, err := parseKVUpdateName(n)
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	sortU64(ids)
	return ids, nil
}

// PersistNewChannel implements Persist: the monitor is written in full.
func (p *KVStorePersister) PersistNewChannel(op wire.OutPoint, mon *ChannelMonitor) ChannelMonitorUpdateStatus {
	return p.submit(kvWrite{kind: kvWriteNew, op: op, mon: mon, id: mon.LatestUpdateID()})
}

// UpdatePersistedChannel implements Persist: the update is stored by itself, or, without one (a change
// of chain state), for ClosedChannelUpdateID, and every MaximumPendingUpdates updates, the monitor is
// written in full and the updates it includes removed, atomically.
func (p *KVStorePersister) UpdatePersistedChannel(op wire.OutPoint, u *ChannelMonitorUpdate, mon *ChannelMonitor) ChannelMonitorUpdateStatus {
	if u == nil {
		return p.submit(kvWrite{kind: kvWriteChainState, op: op, mon: mon})
	}
	w := kvWrite{kind: kvWriteUpdate, op: op, mon: mon, id: u.UpdateID}
	if u.UpdateID != ClosedChannelUpdateID {
		w.enc = u.Encode()
	}
	return p.submit(w)
}

// submit performs w, or queues it with Async.
func (p *KVStorePersister) submit(w kvWrite) ChannelMonitorUpdateStatus {
	if p.async {
		p.enqueue(w)
		return InProgress
	}
	if err := p.perform(w); err != nil {
		p.log.Error("cannot persist monitor", "funding", w.op, "update", w.id, "err", err)
		return UnrecoverableError
	}
	return Completed
}

// enqueue adds w to the queue; a chain-state write right after another of the same channel (nothing of
// the channel queued between) is already covered by it, as a full write serializes the monitor when
// performed.
func (p *KVStorePersister) enqueue(w kvWrite) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if w.kind == kvWriteChainState {
		for i := len(p.queue) - 1; i >= 0; i-- {
			if p.queue[i].op == w.op {
				if p.queue[i].kind == kvWriteChainState {
					return
				}
				break
			}
		}
	}
	p.queue = append(p.queue, w)
}

// perform makes w durable.
func (p *KVStorePersister) perform(w kvWrite) error {
	c := p.channel(w.op)
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.listed {
		ids, err := p.listUpdates(c.name)
		if err != nil {
			return err
		}
		c.updates, c.listed = ids, true
	}
	if w.kind == kvWriteUpdate && w.enc != nil && p.storeAlone(c) {
		if err := p.store.Write(kvUpdateKey(c.name, w.id), w.enc); err != nil {
			return err
		}
		c.add(w.id)
		c.logBytes += len(w.enc)
		return nil
	}
	return p.writeFull(c, w.mon)
}

// storeAlone says whether the next update is stored by itself rather than with a full write: fewer than
// MaximumPendingUpdates stored, or, with LogFraction, their size still under that fraction of the last
// full write (up to 16 × MaximumPendingUpdates updates).
func (p *KVStorePersister) storeAlone(c *kvChannel) bool {
	n := len(c.updates) + 1
	if n < p.maxPend {
		return true
	}
	return p.logFrac > 0 && n < 16*p.maxPend && float64(c.logBytes) < p.logFrac*float64(c.fullBytes)
}

// add records a stored update id, keeping c.updates ascending and without duplicates.
func (c *kvChannel) add(id uint64) {
	i := sort.Search(len(c.updates), func(i int) bool { return c.updates[i] >= id })
	if i < len(c.updates) && c.updates[i] == id {
		return
	}
	c.updates = append(c.updates, 0)
	copy(c.updates[i+1:], c.updates[i:])
	c.updates[i] = id
}

// writeFull writes the monitor in full and removes the stored updates it includes, in one batch. The
// caller holds c.mu.
func (p *KVStorePersister) writeFull(c *kvChannel, mon *ChannelMonitor) error {
	// Read the id first: the monitor may take further updates meanwhile (its ChainMonitor applies them
	// before calling Persist), so what Write serializes includes at least every update up to covered.
	covered := mon.LatestUpdateID()
	data := mon.Write()
	var b kvstore.Batch
	b.Put(kvMonitorKey(c.name), data)
	n := 0
	for _, id := range c.updates {
		if id > covered {
			break
		}
		b.Remove(kvUpdateKey(c.name, id))
		n++
	}
	if err := p.store.Commit(&b); err != nil {
		return err
	}
	c.updates = append(c.updates[:0], c.updates[n:]...)
	c.logBytes, c.fullBytes = 0, len(data)
	return nil
}

// PersistPending performs the writes queued by Persist calls (Async), in order, and returns the new
// channels and updates now durable, in order; the host reports each with
// ChainMonitor.ChannelMonitorUpdated(FundingTxo, UpdateID) (reporting the last of each channel is
// enough: it covers the ones before). On a store error it stops: the failed write and those after it
// stay queued for the next call, and the error is returned with what was done before it. Without Async
// it returns nothing.
func (p *KVStorePersister) PersistPending() ([]CompletedUpdate, error) {
	p.flushMu.Lock()
	defer p.flushMu.Unlock()
	var done []CompletedUpdate
	for {
		p.mu.Lock()
		if len(p.queue) == 0 {
			p.queue = nil
			p.mu.Unlock()
			return done, nil
		}
		w := p.queue[0]
		p.mu.Unlock()
		if err := p.perform(w); err != nil {
			p.log.Error("cannot persist monitor", "funding", w.op, "update", w.id, "err", err)
			return done, fmt.Errorf("channelmonitor: persisting %s (update %d): %w", w.op, w.id, err)
		}
		p.mu.Lock()
		p.queue[0] = kvWrite{}
		p.queue = p.queue[1:]
		p.mu.Unlock()
		if w.kind != kvWriteChainState {
			done = append(done, CompletedUpdate{FundingTxo: w.op, UpdateID: w.id})
		}
	}
}

// PendingWrites returns how many writes are queued (Async).
func (p *KVStorePersister) PendingWrites() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// ArchivePersistedChannel implements ArchivePersist, as FilesystemPersister moves the channel's
// directory aside: the monitor and its stored updates move, in one batch, to KVArchivedMonitorNamespace
// and KVArchivedMonitorUpdateNamespace, out of ReadChannelMonitors' way but kept for inspection. With
// writes of the channel still queued (Async) it refuses: the ChainMonitor keeps the monitor and tries
// again later.
func (p *KVStorePersister) ArchivePersistedChannel(op wire.OutPoint) error {
	p.mu.Lock()
	for _, w := range p.queue {
		if w.op == op {
			p.mu.Unlock()
			return fmt.Errorf("channelmonitor: %s has writes queued; archive after PersistPending", op)
		}
	}
	p.mu.Unlock()
	c := p.channel(op)
	c.mu.Lock()
	defer c.mu.Unlock()
	name := c.name
	data, _, err := p.store.Read(kvMonitorKey(name))
	if err != nil {
		return err
	}
	ids, err := p.listUpdates(name)
	if err != nil {
		return err
	}
	var b kvstore.Batch
	b.Put(kvstore.Key{Primary: KVArchivedMonitorNamespace, Key: name}, data)
	b.Remove(kvMonitorKey(name))
	for _, id := range ids {
		enc, _, err := p.store.Read(kvUpdateKey(name, id))
		if err != nil {
			return err
		}
		b.Put(kvstore.Key{Primary: KVArchivedMonitorUpdateNamespace, Secondary: name, Key: kvUpdateName(id)}, enc)
		b.Remove(kvUpdateKey(name, id))
	}
	if err := p.store.Commit(&b); err != nil {
		return err
	}
	c.updates, c.listed = nil, true
	p.mu.Lock()
	delete(p.chans, op)
	p.mu.Unlock()
	return nil
}

// ReadChannelMonitors reads every stored monitor and replays its updates above the monitor's own id
// (skipping older ones, which a write that raced a full write can leave). signerProvider re-derives the
// channel signers (keys.KeysManager). Errors: ErrCorrupt (an unreadable monitor or update, a key that
// is not the persister's, an update that does not apply), also ErrUpdateGap when an update is missing;
// the store's own. Each names the channel.
func (p *KVStorePersister) ReadChannelMonitors(signerProvider keys.SignerProvider) ([]*ChannelMonitor, error) {
	names, err := p.store.List(KVMonitorNamespace, "")
	if err != nil {
		return nil, err
	}
	out := make([]*ChannelMonitor, 0, len(names))
	for _, name := range names {
		mon, err := p.readChannel(name, signerProvider)
		if err != nil {
			return nil, fmt.Errorf("monitor %s: %w", name, err)
		}
		out = append(out, mon)
	}
	return out, nil
}

// readChannel reads one channel's monitor and updates, and records which update keys it has.
func (p *KVStorePersister) readChannel(name string, sp keys.SignerProvider) (*ChannelMonitor, error) {
	op, err := parseKVMonitorName(name)
	if err != nil {
		return nil, err
	}
	c := p.channel(op)
	c.mu.Lock()
	defer c.mu.Unlock()
	data, _, err := p.store.Read(kvMonitorKey(name))
	if err != nil {
		return nil, err
	}
	mon, err := ReadChannelMonitor(data, sp)
	if err != nil {
		return nil, err
	}
	if mon.FundingTxo() != op {
		return nil, fmt.Errorf("%w: the monitor is for channel %s", ErrCorrupt, mon.FundingTxo())
	}
	ids, err := p.listUpdates(name)
	if err != nil {
		return nil, err
	}
	for _, id := range ids {
		latest := mon.LatestUpdateID()
		if id <= latest {
			continue // included in the monitor
		}
		if id != latest+1 {
			return nil, fmt.Errorf("%w: %w: the monitor is at update %d, the next stored one is %d", ErrCorrupt, ErrUpdateGap, latest, id)
		}
		enc, _, err := p.store.Read(kvUpdateKey(name, id))
		if err != nil {
			return nil, fmt.Errorf("update %d: %w", id, err)
		}
		u, err := DecodeChannelMonitorUpdate(enc)
		if err != nil {
			return nil, fmt.Errorf("update %d: %w", id, err)
		}
		if u.UpdateID != id {
			return nil, fmt.Errorf("%w: update key %d holds update %d", ErrCorrupt, id, u.UpdateID)
		}
		if err := mon.Update(u); err != nil {
			return nil, fmt.Errorf("%w: update %d: %w", ErrCorrupt, id, err)
		}
	}
	c.updates, c.listed = ids, true
	return mon, nil
}

var (
	_ Persist        = (*KVStorePersister)(nil)
	_ ArchivePersist = (*KVStorePersister)(nil)
)
