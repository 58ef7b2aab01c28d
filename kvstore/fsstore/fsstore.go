// Package fsstore is the filesystem kvstore.KVStore, the default store of lnkit hosts: one file per
// value and a write-ahead log, written so that a crash of the process or the machine at any moment
// leaves every change whose call returned, and every batch either whole or absent.
//
// # Layout
//
// A store owns its directory (give it one of its own, not a directory other programs write to):
//
//	<dir>/.fsstore.lock                the lock (flock) that keeps a second Open out
//	<dir>/.fsstore.log                 the write-ahead log: changes not yet in their files
//	<dir>/.fsstore.journal             the batch journal of DirectWrites mode; empty between batches
//	<dir>/<primary>/<secondary>/<key>  one value
//	<dir>/<primary>/<secondary>/.tmp.<key>  a value being written
//
// An empty namespace is the directory "@" (the key "" / "" / "k" is <dir>/@/@/k). Key parts are
// [A-Za-z0-9_-], so "@", the dot files and the temporary files cannot collide with them. Names are
// kept as given, so the file system must be case-sensitive; Open refuses one that is not.
//
// A value file is a 32-byte header and the value:
//
//	"lnkv" | format 1 | 3 zero bytes | version u64 | value length u64 | CRC-32C of the value u32 | CRC-32C of the first 28 bytes u32
//
// (integers big-endian). The header's checksum makes the version trustworthy without reading the
// value; the length and the value's checksum catch a torn or damaged file. Such a file is never
// returned: Read, and a change that needs the key's version, fail with an error wrapping ErrCorrupt.
// Remove still removes it.
//
// The log is a sequence of records, one per change (a Write, a Remove, or a Commit that changes
// anything), and the journal is one such record under its own magic ("lnkj"): a 24-byte header
//
//	"lnkl" | format 1 | 3 zero bytes | body length u64 | CRC-32C of the body u32 | CRC-32C of the first 20 bytes u32
//
// and a body with, for every key the change writes or removes, in the order the keys first appear:
//
//	kind[1] (1 put, 2 remove) | len[1] primary | len[1] secondary | len[1] key | for a put: version u64 | length u64 | value
//
// A record carries the versions the change results in, not increments, so applying it twice is
// harmless.
//
// # Writing (the default: the log)
//
// A change's checks are evaluated, and its versions computed, under the store's lock, against the
// latest state of each key (a change logged but not yet synced, the table, the file); a change that
// changes nothing (failed checks aside) writes nothing. Its record is appended to the log, the log is
// fsynced (the first time the log file is created, its directory too), and the change is applied
// to an in-memory table (key → value and version, or removed) that Read, List and ListAll consult
// before the files. The call returns once the log is synced: that is the durability point, one
// fsync per change whatever its size. Concurrent changes share it (group commit): a change appends
// its record, then the first caller to reach the sync point takes the sync role, fsyncs everything
// appended so far, applies those records to the table in order (a batch at once, for readers) and
// wakes the callers it covered; those that came after it wait for the role and do the same.
//
// Checkpoint: when the log grows past Options.CheckpointBytes (8 MiB by default), the change that
// crossed the threshold, in its own goroutine, writes every key of the table to its file (each value
// to its temporary file, renamed into place), truncates the log (fsynced) and empties the table. On
// Linux the files are made durable with two syncfs(2) calls, one after the temporary files are
// written and one after the renames, instead of an fsync per file and per directory; elsewhere it is
// done as DirectWrites does for a batch (each file fsynced, each directory touched fsynced once). The
// log is truncated only after, so a crash during a checkpoint replays it. A key written
// many times between two checkpoints reaches its file once; a key written and removed in between
// never touches the files. The checkpoint is a latency spike: the call that crossed the threshold
// returns only after it, and the changes that come during it wait for it (a file written per distinct
// key since the last one: tens of milliseconds for a few hundred keys on a fast disk; the default
// threshold bounds it). Readers are not held up, and never see an older value: they read
// the table until it is emptied, when the files hold the same values. Close checkpoints too.
//
// # Writing (DirectWrites)
//
// With Options.DirectWrites there is no log, and every change is in its files before its call
// returns. Write, Remove, and a Commit whose batch ends up changing one key, write the value to the
// temporary file, fsync it, rename it over the key's file and fsync the directory (a remove: unlink,
// fsync the directory): two fsyncs. A batch that changes several keys first writes the journal (its
// record, above). Once the journal is fsynced the batch is decided; the store then writes and
// fsyncs the temporary files, renames them all into place (removes the removed keys) while readers
// wait, fsyncs the directories, and empties the journal (fsynced): N + D + 2 fsyncs. Version checks
// are evaluated first, under the store's lock, before anything is written. A new namespace
// directory is fsynced into its parent before a value goes in it (in both modes).
//
// Options.NoSync skips every fsync, in both modes.
//
// # Recovery
//
// Open takes the lock, then recovers, whichever mode it opens in (so a directory written in one mode
// opens in the other):
//
//   - A journal that checks out is replayed (writing every change again); one that does not (torn:
//     the crash came before it was synced, so none of its batch was applied) is discarded.
//   - The log's records that check out are replayed in order into a table, which is checkpointed
//     into the files; then the log is truncated. What follows the last good record is a torn tail
//     (the record being written when the machine stopped: its change never returned) and is
//     discarded. But a damaged record followed by a good one stops Open with ErrCorrupt: if the good
//     one was synced, so was the damaged one (an fsync covers everything written before it), and
//     dropping it, with or without the changes after it, would lose changes that returned, silently.
//     The store cannot tell that from a disk that wrote two unsynced records out of order, and a
//     silent loss is the worse mistake; the error gives the offset, where the operator may cut the
//     log to accept losing what follows.
//   - Temporary files are removed, and every directory is fsynced, so that what a crashed process
//     left visible is durable before anyone reads it.
//
// A change that fails part way after it may have become durable (an fsync error of the log, or of a
// directory after a rename, a rename error inside a journaled batch or a checkpoint) leaves the
// store failed: every later call returns an error wrapping ErrFailed, and the host must reopen the
// store, which completes what the log or the journal holds. (A checkpoint runs after the change that
// triggered it is durable: that change returns nil, and the next call reports the failure.)
//
// # Concurrency
//
// In log mode, changes are evaluated and appended one at a time, and share their fsyncs; readers
// wait only while a synced group of records is applied to the table. In DirectWrites mode, changes
// of one key are serialized, and its readers wait while one is in progress; a change whose
// operations are all on one key runs concurrently with changes of other keys, so that concurrent
// writers share the disk's fsyncs; any other batch runs alone, and readers wait only while it
// renames its files into place (List and ListAll may show a key whose creating Write has not
// returned yet). In both modes a reader never sees a change before it is durable, nor part of a
// batch. The store starts no goroutine and reads no clock.
package fsstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"sync"

	"github.com/lnkit/lnkit/kvstore"
)

var (
	// ErrCorrupt: a value file or the journal is damaged (bad checksum, wrong length, unknown
	// format). The store returns no data from it.
	ErrCorrupt = errors.New("fsstore: corrupt file")
	// ErrLocked: another Store (in this or another process) has the directory open.
	ErrLocked = errors.New("fsstore: directory in use by another store")
	// ErrFailed: a change failed after part of it became visible; the store refuses every call until
	// it is reopened.
	ErrFailed = errors.New("fsstore: a change failed part way; reopen the store")
)

const (
	lockName      = ".fsstore.lock"
	caseProbeName = ".FSSTORE.LOCK" // exists only if names are not case-sensitive
	journalName   = ".fsstore.journal"
	logName       = ".fsstore.log"
	tmpPrefix     = ".tmp."
	emptyName     = "@" // an empty namespace

	// DefaultCheckpointBytes is Options.CheckpointBytes when not set.
	DefaultCheckpointBytes = 8 << 20
)

// Options configures a Store. The zero value (or nil) is the durable default.
type Options struct {
	// NoSync skips every fsync, in both modes. The store then survives a crash of the process but not
	// of the machine, which may lose recent changes or leave damaged files (refused with ErrCorrupt).
	// For tests and throw-away nodes only.
	NoSync bool

	// DirectWrites turns the log off: every change is written to its files (temporary file, fsync,
	// rename, directory fsync; a journal first for a batch of several keys) before its call
	// returns. Slower (two fsyncs per write, N + D + 2 per batch), but the files are always current.
	DirectWrites bool

	// CheckpointBytes is the size of the log past which the change that crosses it checkpoints
	// (writes the table to the files and empties the log); 0 (or less) is DefaultCheckpointBytes.
	// A larger value writes rewritten keys to their files less often, at the cost of longer
	// checkpoints, more memory (the table holds the latest value of every key changed since the last
	// checkpoint) and a longer replay at Open after a crash. Not used with DirectWrites.
	CheckpointBytes int64

	fs fsys // tests: the file system; nil: the operating system's
}

// Store is the filesystem KVStore. It is safe for concurrent use.
type Store struct {
	fs     fsys
	dir    string
	noSync bool
	direct bool
	// fileByFile: the file system cannot be synced as a whole (no syncfs): checkpoints fsync each
	// file and directory. Found at Open.
	fileByFile bool
	lock       io.Closer

	log logState // log mode

	// DirectWrites mode. cmu orders changes: a change whose operations (checks included) are all on one key holds it
	// shared, with the key's stripe, so that changes of different keys run (and fsync) concurrently;
	// any other change holds it exclusively.
	cmu sync.RWMutex
	// stripes serialize the changes of each key and keep the key's readers waiting until a change of
	// it is durable. A key's stripe is s.stripe(key).
	stripes [64]sync.RWMutex
	// mu is shared by readers. In DirectWrites mode a batch holds it exclusively while it renames its
	// files into place; in log mode, it guards the table, held exclusively while records are applied
	// to it and when a checkpoint empties it.
	mu sync.RWMutex

	dmu  sync.Mutex
	dirs map[string]bool // namespace directories ("p" and "p/s" on disk) durable in their parent

	smu    sync.Mutex
	closed bool
	failed error
}

var _ kvstore.KVStore = (*Store)(nil)

// Open opens the store in dir, creating the directory if needed, and recovers from a crash (see the
// package doc). It fails with an error wrapping ErrLocked if another Store has dir open, and with
// one wrapping ErrCorrupt if the journal checks out but cannot be understood. Close releases it.
func Open(dir string, opts *Options) (*Store, error) {
	var o Options
	if opts != nil {
		o = *opts
	}
	fsy := o.fs
	if fsy == nil {
		if err := makeDir(dir, o.NoSync); err != nil {
			return nil, fmt.Errorf("fsstore: %w", err)
		}
		fsy = osFS{root: dir}
	}
	lock, err := fsy.lock(lockName)
	if err != nil {
		if !errors.Is(err, ErrLocked) {
			err = fmt.Errorf("fsstore: %w", err)
		}
		return nil, err
	}
	s := &Store{fs: fsy, dir: dir, noSync: o.NoSync, direct: o.DirectWrites, lock: lock, dirs: map[string]bool{}}
	s.log.ckptBytes = o.CheckpointBytes
	if s.log.ckptBytes <= 0 {
		s.log.ckptBytes = DefaultCheckpointBytes
	}
	s.log.latest = map[kvstore.Key]latestChange{}
	s.log.table = table{}
	s.log.gcond.L = &s.log.gmu
	if err := s.recover(); err != nil {
		lock.Close()
		return nil, fmt.Errorf("fsstore: opening %s: %w", dir, err)
	}
	return s, nil
}

// makeDir creates dir if it does not exist, making its entry durable.
func makeDir(dir string, noSync bool) error {
	if _, err := os.Stat(dir); err == nil || !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if noSync {
		return nil
	}
	return osFS{root: filepath.Dir(dir)}.syncDir(".")
}

// Close releases the directory, after the calls in progress; in log mode it checkpoints first. Later
// calls return kvstore.ErrClosed; closing again does nothing.
func (s *Store) Close() error {
	if !s.direct {
		return s.closeLog()
	}
	s.cmu.Lock()
	defer s.cmu.Unlock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.smu.Lock()
	defer s.smu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	return s.lock.Close()
}

// usable returns why the store cannot be used, if it cannot.
func (s *Store) usable() error {
	s.smu.Lock()
	defer s.smu.Unlock()
	if s.closed {
		return kvstore.ErrClosed
	}
	if s.failed != nil {
		return fmt.Errorf("%w: %w", ErrFailed, s.failed)
	}
	return nil
}

// fail marks the store failed and returns err wrapped in ErrFailed.
func (s *Store) fail(err error) error {
	s.smu.Lock()
	defer s.smu.Unlock()
	if s.failed == nil {
		s.failed = err
	}
	return fmt.Errorf("%w: %w", ErrFailed, err)
}

// stripe returns the lock of k's stripe (FNV-1a of the key's parts).
func (s *Store) stripe(k kvstore.Key) *sync.RWMutex {
	h := uint32(2166136261)
	for _, part := range [3]string{k.Primary, k.Secondary, k.Key} {
		for i := 0; i < len(part); i++ {
			h = (h ^ uint32(part[i])) * 16777619
		}
		h = (h ^ '/') * 16777619
	}
	return &s.stripes[h%uint32(len(s.stripes))]
}

// Names on disk.

func encodeName(part string) string {
	if part == "" {
		return emptyName
	}
	return part
}

// decodeName returns the namespace a directory name stands for; ok is false for names that are not
// the store's.
func decodeName(name string) (part string, ok bool) {
	if name == emptyName {
		return "", true
	}
	return name, validName(name)
}

func validName(name string) bool { return kvstore.Key{Key: name}.Validate() == nil }

func nsDir(primary, secondary string) string {
	return encodeName(primary) + "/" + encodeName(secondary)
}

func keyPath(k kvstore.Key) string { return nsDir(k.Primary, k.Secondary) + "/" + k.Key }

func tmpPath(k kvstore.Key) string { return nsDir(k.Primary, k.Secondary) + "/" + tmpPrefix + k.Key }

// Reading.

// Read implements kvstore.KVStore. A damaged value file gives an error wrapping ErrCorrupt.
func (s *Store) Read(k kvstore.Key) ([]byte, uint64, error) {
	if err := k.Validate(); err != nil {
		return nil, 0, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.direct {
		st := s.stripe(k)
		st.RLock()
		defer st.RUnlock()
	}
	if err := s.usable(); err != nil {
		return nil, 0, err
	}
	if e, ok := s.log.table.get(k); ok {
		if e.version == 0 {
			return nil, 0, fmt.Errorf("%w: %s", kvstore.ErrNotFound, k)
		}
		return bytes.Clone(e.value), e.version, nil
	}
	b, err := s.fs.readFile(keyPath(k))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, 0, fmt.Errorf("%w: %s", kvstore.ErrNotFound, k)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("fsstore: %w", err)
	}
	v, ver, err := decodeRecord(b)
	if err != nil {
		return nil, 0, fmt.Errorf("%w (%s)", err, s.describe(keyPath(k)))
	}
	return v, ver, nil
}

func (s *Store) describe(name string) string { return filepath.Join(s.dir, filepath.FromSlash(name)) }

// List implements kvstore.KVStore.
func (s *Store) List(primary, secondary string) ([]string, error) {
	if err := kvstore.ValidateNamespace(primary, secondary); err != nil {
		return nil, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(); err != nil {
		return nil, err
	}
	names, err := s.listKeys(nsDir(primary, secondary))
	if err != nil {
		return nil, err
	}
	return s.log.table.merge(nsKey{primary, secondary}, names), nil
}

// listKeys returns the key names in a namespace directory, sorted. The caller holds mu.
func (s *Store) listKeys(dir string) ([]string, error) {
	es, err := s.fs.readDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("fsstore: %w", err)
	}
	out := []string{}
	for _, e := range es {
		if !e.dir && validName(e.name) {
			out = append(out, e.name)
		}
	}
	sort.Strings(out)
	return out, nil
}

// ListAll implements kvstore.KVStore.
func (s *Store) ListAll() ([]kvstore.Key, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if err := s.usable(); err != nil {
		return nil, err
	}
	out := []kvstore.Key{}
	seen := map[nsKey]bool{}
	add := func(ns nsKey, names []string) {
		for _, n := range s.log.table.merge(ns, names) {
			out = append(out, kvstore.Key{Primary: ns.primary, Secondary: ns.secondary, Key: n})
		}
	}
	err := s.walk(func(primary, secondary, dir string) error {
		names, err := s.listKeys(dir)
		ns := nsKey{primary, secondary}
		seen[ns] = true
		add(ns, names)
		return err
	}, nil)
	if err != nil {
		return nil, err
	}
	for ns := range s.log.table {
		if !seen[ns] {
			add(ns, nil) // a namespace whose directory the next checkpoint creates
		}
	}
	sort.Slice(out, func(i, j int) bool { return kvstore.Less(out[i], out[j]) })
	return out, nil
}

// walk calls ns for every namespace directory and then, if not nil, primary for every primary
// namespace directory, with names on disk.
func (s *Store) walk(ns func(primary, secondary, dir string) error, primary func(dir string) error) error {
	top, err := s.fs.readDir(".")
	if err != nil {
		return fmt.Errorf("fsstore: %w", err)
	}
	for _, p := range top {
		pname, ok := decodeName(p.name)
		if !p.dir || !ok {
			continue
		}
		subs, err := s.fs.readDir(p.name)
		if err != nil {
			return fmt.Errorf("fsstore: %w", err)
		}
		for _, d := range subs {
			sname, ok := decodeName(d.name)
			if !d.dir || !ok || pname == "" && sname != "" {
				continue
			}
			if err := ns(pname, sname, p.name+"/"+d.name); err != nil {
				return err
			}
		}
		if primary != nil {
			if err := primary(p.name); err != nil {
				return err
			}
		}
	}
	return nil
}

// Writing.

// Write implements kvstore.KVStore.
func (s *Store) Write(k kvstore.Key, value []byte) error {
	var b kvstore.Batch
	return s.Commit(b.Put(k, value))
}

// Remove implements kvstore.KVStore.
func (s *Store) Remove(k kvstore.Key) error {
	var b kvstore.Batch
	return s.Commit(b.Remove(k))
}

// Commit implements kvstore.KVStore. A nil batch is an empty one.
func (s *Store) Commit(b *kvstore.Batch) error {
	if b == nil || len(b.Ops) == 0 {
		return s.usable()
	}
	if err := b.Validate(); err != nil {
		return err
	}
	if s.direct {
		return s.commitDirect(b.Ops)
	}
	return s.commitLog(b.Ops)
}

// check evaluates the checks of ops against the versions version gives.
func (s *Store) check(ops []kvstore.Op, version func(kvstore.Key) (uint64, error)) error {
	for _, op := range ops {
		if op.Kind != kvstore.OpCheck {
			continue
		}
		have, err := version(op.Key)
		if err != nil {
			return err
		}
		if have != op.Version {
			return fmt.Errorf("%w: %s at version %d, not %d", kvstore.ErrVersionMismatch, op.Key, have, op.Version)
		}
	}
	return nil
}

// version returns the version of k on disk (0: absent).
func (s *Store) version(k kvstore.Key) (uint64, error) {
	h, err := s.fs.readHead(keyPath(k), recordHeaderLen)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("fsstore: %w", err)
	}
	v, _, _, err := decodeRecordHeader(h)
	if err != nil {
		return 0, fmt.Errorf("%w (%s)", err, s.describe(keyPath(k)))
	}
	return v, nil
}

// plan turns the puts and removes of a batch into one change per key, in the order the keys first
// appear: the last operation on a key wins, and each put counts one version from the key's version
// before it (from version; 0 after a remove).
func plan(ops []kvstore.Op, version func(kvstore.Key) (uint64, error)) ([]change, error) {
	var cs []change
	index := map[kvstore.Key]int{}
	for _, op := range ops {
		if op.Kind == kvstore.OpCheck {
			continue
		}
		i, seen := index[op.Key]
		if !seen {
			i = len(cs)
			index[op.Key] = i
			cs = append(cs, change{key: op.Key})
		}
		c := &cs[i]
		if op.Kind == kvstore.OpRemove {
			*c = change{key: op.Key}
			continue
		}
		if !seen {
			v, err := version(op.Key)
			if err != nil {
				return nil, err
			}
			c.version = v
		}
		c.put, c.value = true, op.Value
		c.version++
	}
	return cs, nil
}

// ensureDir creates the namespace directories of k if needed and makes sure their entries are
// durable (once per directory and Open: a directory found on disk may have been created by a process
// that crashed before syncing its parent).
func (s *Store) ensureDir(k kvstore.Key) error {
	s.dmu.Lock()
	defer s.dmu.Unlock()
	p := encodeName(k.Primary)
	d := p + "/" + encodeName(k.Secondary)
	if s.dirs[d] {
		return nil
	}
	for _, x := range [2][2]string{{p, "."}, {d, p}} {
		dir, parent := x[0], x[1]
		if s.dirs[dir] {
			continue
		}
		if err := s.fs.mkdir(dir); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("fsstore: %w", err)
		}
		if err := s.syncDir(parent); err != nil {
			return err
		}
		s.dirs[dir] = true
	}
	return nil
}

// writeFile replaces the content of name by parts, durably.
func (s *Store) writeFile(name string, parts ...[]byte) error {
	return s.writeFileSync(name, !s.noSync, parts...)
}

// writeFileSync is writeFile, with the file fsynced only if sync.
func (s *Store) writeFileSync(name string, sync bool, parts ...[]byte) error {
	f, err := s.fs.create(name)
	if err != nil {
		return fmt.Errorf("fsstore: %w", err)
	}
	for _, p := range parts {
		if len(p) > 0 && err == nil {
			_, err = f.Write(p)
		}
	}
	if err == nil && sync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsstore: writing %s: %w", s.describe(name), err)
	}
	return nil
}

func (s *Store) syncDir(name string) error {
	if s.noSync {
		return nil
	}
	if err := s.fs.syncDir(name); err != nil {
		return fmt.Errorf("fsstore: syncing directory %s: %w", s.describe(name), err)
	}
	return nil
}
