package kvstore

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"sync"
)

// WriteBuffer is group commit for a host: a KVStore that holds every Write, Remove and Commit in
// memory and makes them durable together, as one Batch on the store beneath, when the host calls
// Flush. Reads, lists and version checks see the held changes.
//
// It keeps every guarantee of the package doc but the first: a change is durable once a Flush that
// started after it returned nil, not when its own call returns. A host that uses it must therefore
// Flush before anything that depends on the held changes leaves the process — bytes written to a peer's
// socket, a transaction broadcast, an answer to a user, a chain tip recorded elsewhere. Then a crash
// loses only whole flushes at the end (each is one atomic batch, committed in order), which is the same
// as the process having died before the calls they hold: nothing outside saw their effects. This is
// how the ChannelManager's own rule (persist before the messages that depend on it are sent) turns many
// small writes per payment into one commit per socket write.
//
// Versions: a held change counts in the key's version as it will once flushed. A Check in a Commit is
// evaluated at once against what the buffer shows; for a key with no held change it is also put in the
// flushed batch, so that a second writer that changed the key meanwhile (a standby that took a lease
// over) makes that Flush fail with ErrVersionMismatch, and nothing of it is applied.
//
// A failed Flush keeps its changes held (in order, ahead of newer ones) and returns the store's error;
// the next Flush tries them again. Nothing bounds what is held but the host's flushing. Safe for
// concurrent use; concurrent Flush calls are serialized, and one that waited commits whatever was held
// by then, so concurrent callers share the store's commits.
type WriteBuffer struct {
	inner KVStore

	flushMu  sync.Mutex // serializes Flush
	commitMu sync.Mutex // serializes Commit: a batch's checks and its holding are one step

	mu       sync.Mutex
	held     *heldLayer // changes not yet taken by a Flush
	flushing *heldLayer // the changes a Flush is committing, nil if none
	// epoch changes when a Flush takes the held layer and when it ends: a version computed from the
	// layers and the store's is only trusted if no flush started or ended meanwhile.
	epoch uint64
}

// heldLayer is a run of changes in the order they were made, and each key's resulting state.
type heldLayer struct {
	ops  []Op
	keys map[Key]*heldKey
}

// heldKey is what a layer did to one key.
type heldKey struct {
	value   []byte // the latest value; nil if the latest change removes the key
	removed bool   // the latest change removes the key
	reset   bool   // a Remove happened in the layer: the key's version no longer depends on lower layers
	puts    uint64 // writes since the layer began, or since its last Remove
}

func newHeldLayer() *heldLayer { return &heldLayer{keys: map[Key]*heldKey{}} }

// NewWriteBuffer returns a buffer over inner; inner must not be written by anyone else while the
// buffer holds changes of the same keys.
func NewWriteBuffer(inner KVStore) *WriteBuffer {
	return &WriteBuffer{inner: inner, held: newHeldLayer()}
}

// Pending returns how many operations are held (those of a Flush in progress included).
func (w *WriteBuffer) Pending() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(w.held.ops)
	if w.flushing != nil {
		n += len(w.flushing.ops)
	}
	return n
}

// Flush commits every held change to the store beneath as one batch and returns its error (the
// changes then stay held). Errors: the store's Commit's, ErrVersionMismatch included.
func (w *WriteBuffer) Flush() error {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	w.mu.Lock()
	if len(w.held.ops) == 0 {
		w.mu.Unlock()
		return nil
	}
	w.flushing, w.held = w.held, newHeldLayer()
	w.epoch++
	batch := Batch{Ops: w.flushing.ops}
	w.mu.Unlock()

	err := w.inner.Commit(&batch)

	w.mu.Lock()
	defer w.mu.Unlock()
	w.epoch++
	if err != nil {
		w.held = merge(w.flushing, w.held)
		w.flushing = nil
		return fmt.Errorf("kvstore: flushing %d held operations: %w", len(batch.Ops), err)
	}
	w.flushing = nil
	return nil
}

// merge returns the layer of lower's changes followed by upper's.
func merge(lower, upper *heldLayer) *heldLayer {
	out := &heldLayer{ops: append(lower.ops, upper.ops...), keys: lower.keys}
	for k, u := range upper.keys {
		l, ok := out.keys[k]
		if !ok || u.reset {
			out.keys[k] = u
			continue
		}
		out.keys[k] = &heldKey{value: u.value, removed: u.removed, reset: l.reset, puts: l.puts + u.puts}
	}
	return out
}

// view is what the layers say about a key: whether they decide its value, and the part of its
// version they account for.
type view struct {
	decided bool // a layer holds the key's latest state
	value   []byte
	removed bool
	puts    uint64 // writes held above the store's version
	needVer bool   // the store's version counts too (no held Remove)
	inFlush bool   // the layer being flushed touches the key
}

// viewLocked looks k up in the held layer, then in the one being flushed. The caller holds w.mu.
func (w *WriteBuffer) viewLocked(k Key) view {
	v := view{needVer: true}
	for _, l := range [2]*heldLayer{w.held, w.flushing} {
		if l == nil {
			continue
		}
		h, ok := l.keys[k]
		if !ok {
			continue
		}
		if !v.decided {
			v.decided, v.value, v.removed = true, h.value, h.removed
		}
		v.inFlush = v.inFlush || l == w.flushing
		v.puts += h.puts
		if h.reset {
			v.needVer = false
			break
		}
	}
	return v
}

// storeVersion returns k's version in the store beneath (0 if absent).
func (w *WriteBuffer) storeVersion(k Key) (uint64, error) {
	_, ver, err := w.inner.Read(k)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return 0, err
	}
	return ver, nil
}

// lookup returns k's value (nil, ok false if absent) and version as the buffer shows them.
func (w *WriteBuffer) lookup(k Key) (value []byte, ok bool, version uint64, err error) {
	for {
		w.mu.Lock()
		v, epoch := w.viewLocked(k), w.epoch
		w.mu.Unlock()
		if !v.decided {
			val, ver, err := w.inner.Read(k)
			if errors.Is(err, ErrNotFound) {
				return nil, false, 0, nil
			}
			return val, err == nil, ver, err
		}
		if v.removed {
			return nil, false, 0, nil
		}
		if !v.needVer {
			return bytes.Clone(v.value), true, v.puts, nil
		}
		if v.inFlush {
			// The store may or may not hold the flushed layer yet: wait for the flush to end.
			w.flushMu.Lock()
			w.flushMu.Unlock() //nolint:staticcheck // an empty critical section: waiting is the point
			continue
		}
		base, err := w.storeVersion(k)
		if err != nil {
			return nil, false, 0, err
		}
		w.mu.Lock()
		moved := w.epoch != epoch // a flush started or ended: the store's version may count held writes
		w.mu.Unlock()
		if !moved {
			return bytes.Clone(v.value), true, base + v.puts, nil
		}
	}
}

// Read implements KVStore: the held value if there is one, else the store's.
func (w *WriteBuffer) Read(k Key) ([]byte, uint64, error) {
	if err := k.Validate(); err != nil {
		return nil, 0, err
	}
	val, ok, ver, err := w.lookup(k)
	if err != nil {
		return nil, 0, err
	}
	if !ok {
		return nil, 0, fmt.Errorf("%w: %s", ErrNotFound, k)
	}
	return val, ver, nil
}

// Write implements KVStore; the write is held until the next Flush.
func (w *WriteBuffer) Write(k Key, value []byte) error {
	var b Batch
	return w.Commit(b.Put(k, value))
}

// Remove implements KVStore; the removal is held until the next Flush.
func (w *WriteBuffer) Remove(k Key) error {
	var b Batch
	return w.Commit(b.Remove(k))
}

// Commit implements KVStore: b's checks are evaluated now (see the type's doc), and its changes are
// held, atomically, until the next Flush. Errors: ErrInvalidKey, ErrVersionMismatch, the store's (reading
// a version).
func (w *WriteBuffer) Commit(b *Batch) error {
	if err := b.Validate(); err != nil {
		return err
	}
	w.commitMu.Lock()
	defer w.commitMu.Unlock()
	for {
		epoch, err := w.checkVersions(b)
		if err != nil {
			return err
		}
		w.mu.Lock()
		if w.epoch != epoch {
			w.mu.Unlock()
			continue // a flush started or ended while the versions were read: read them again
		}
		w.holdLocked(b)
		w.mu.Unlock()
		return nil
	}
}

// checkVersions evaluates b's checks against what the buffer shows and returns the epoch they were
// evaluated at (the current one if b has no check).
func (w *WriteBuffer) checkVersions(b *Batch) (uint64, error) {
	w.mu.Lock()
	epoch := w.epoch
	w.mu.Unlock()
	for _, op := range b.Ops {
		if op.Kind != OpCheck {
			continue
		}
		_, _, have, err := w.lookup(op.Key)
		if err != nil {
			return 0, err
		}
		if have != op.Version {
			return 0, fmt.Errorf("%w: %s at version %d, not %d", ErrVersionMismatch, op.Key, have, op.Version)
		}
	}
	return epoch, nil
}

// holdLocked appends b's operations to the held layer. A check of a key no layer touches goes along,
// for the store to evaluate at the flush. The caller holds w.mu and has checked b's versions.
func (w *WriteBuffer) holdLocked(b *Batch) {
	l := w.held
	for _, op := range b.Ops {
		switch op.Kind {
		case OpCheck:
			if !w.viewLocked(op.Key).decided {
				l.ops = append(l.ops, op)
			}
		case OpPut:
			v := bytes.Clone(op.Value)
			if v == nil {
				v = []byte{}
			}
			l.ops = append(l.ops, Op{Kind: OpPut, Key: op.Key, Value: v})
			h := l.key(op.Key)
			h.value, h.removed = v, false
			h.puts++
		case OpRemove:
			l.ops = append(l.ops, Op{Kind: OpRemove, Key: op.Key})
			h := l.key(op.Key)
			h.value, h.removed, h.reset, h.puts = nil, true, true, 0
		}
	}
}

func (l *heldLayer) key(k Key) *heldKey {
	h, ok := l.keys[k]
	if !ok {
		h = &heldKey{}
		l.keys[k] = h
	}
	return h
}

// overlay returns, in order from the oldest, the held states of keys for which keep is true.
func (w *WriteBuffer) overlay(keep func(Key) bool) []map[Key]bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []map[Key]bool // key → present
	for _, l := range [2]*heldLayer{w.flushing, w.held} {
		if l == nil {
			continue
		}
		m := map[Key]bool{}
		for k, h := range l.keys {
			if keep(k) {
				m[k] = !h.removed
			}
		}
		out = append(out, m)
	}
	return out
}

// List implements KVStore: the store's keys with the held changes applied.
func (w *WriteBuffer) List(primary, secondary string) ([]string, error) {
	if err := ValidateNamespace(primary, secondary); err != nil {
		return nil, err
	}
	layers := w.overlay(func(k Key) bool { return k.Primary == primary && k.Secondary == secondary })
	names, err := w.inner.List(primary, secondary)
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool, len(names))
	for _, n := range names {
		set[n] = true
	}
	for _, m := range layers {
		for k, present := range m {
			set[k.Key] = present
		}
	}
	out := make([]string, 0, len(set))
	for n, present := range set {
		if present {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out, nil
}

// ListAll implements KVStore: the store's keys with the held changes applied.
func (w *WriteBuffer) ListAll() ([]Key, error) {
	layers := w.overlay(func(Key) bool { return true })
	keys, err := w.inner.ListAll()
	if err != nil {
		return nil, err
	}
	set := make(map[Key]bool, len(keys))
	for _, k := range keys {
		set[k] = true
	}
	for _, m := range layers {
		for k, present := range m {
			set[k] = present
		}
	}
	out := make([]Key, 0, len(set))
	for k, present := range set {
		if present {
			out = append(out, k)
		}
	}
	sort.Slice(out, func(i, j int) bool { return Less(out[i], out[j]) })
	return out, nil
}

var _ KVStore = (*WriteBuffer)(nil)
