// Package fsstore is the filesystem kvstore.KVStore, the default store of lnkit hosts: one file per
// value, written so that a crash of the process or the machine at any moment leaves every change
// whose call returned, and every batch either whole or absent.
//
// # Layout
//
// A store owns its directory (give it one of its own, not a directory other programs write to):
//
//	<dir>/.fsstore.lock                the lock (flock) that keeps a second Open out
//	<dir>/.fsstore.journal             the batch journal; empty between batches
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
// # Writing
//
// Write, Remove, and a Commit whose batch ends up changing one key, write the value to the temporary
// file, fsync it, rename it over the key's file and fsync the directory (a remove: unlink, fsync the
// directory). A batch that changes several keys first writes the journal: every change with its
// value and resulting version, under a header with the body's length and CRC-32C. Once the journal
// is fsynced the batch is decided; the store then writes and fsyncs the temporary files, renames them
// all into place (removes the removed keys) while readers wait, fsyncs the directories, and empties
// the journal (fsynced). Version checks are evaluated first, under the store's lock, before anything
// is written. A new namespace directory is fsynced into its parent before a value goes in it.
//
// Open takes the lock, then recovers: a journal that checks out is replayed (writing every change
// again, so replaying twice is harmless), one that does not (torn: the crash came before it was
// synced, so none of its batch was applied) is discarded; temporary files are removed; and every
// directory is fsynced, so that what a crashed process left visible is durable before anyone reads it.
//
// A change that fails part way after it became visible (an fsync error after a rename, a rename
// error inside a journaled batch) leaves the store failed: every later call returns an error wrapping
// ErrFailed, and the host must reopen the store, which completes a journaled batch.
//
// # Concurrency
//
// Changes of one key are serialized, and its readers wait while one is in progress. A change whose
// operations are all on one key (Write, Remove, a compare-and-set of a key) runs concurrently with
// changes of other keys, so that concurrent writers share the disk's fsyncs; any other batch runs
// alone, and readers wait only while it renames its files into place. List and ListAll may show a key
// whose creating Write has not returned yet. The store starts no goroutine and reads no clock.
package fsstore

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
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
	tmpPrefix     = ".tmp."
	emptyName     = "@" // an empty namespace
)

// Options configures a Store. The zero value (or nil) is the durable default.
type Options struct {
	// NoSync skips every fsync. The store then survives a crash of the process but not of the
	// machine, which may lose recent changes or leave damaged files (refused with ErrCorrupt). For
	// tests and throw-away nodes only.
	NoSync bool

	fs fsys // tests: the file system; nil: the operating system's
}

// Store is the filesystem KVStore. It is safe for concurrent use.
type Store struct {
	fs     fsys
	dir    string
	noSync bool
	lock   io.Closer

	// cmu orders changes: a change whose operations (checks included) are all on one key holds it
	// shared, with the key's stripe, so that changes of different keys run (and fsync) concurrently;
	// any other change holds it exclusively.
	cmu sync.RWMutex
	// stripes serialize the changes of each key and keep the key's readers waiting until a change of
	// it is durable. A key's stripe is s.stripe(key).
	stripes [64]sync.RWMutex
	// mu is shared by readers and held exclusively by a batch while it renames its files into place.
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
	s := &Store{fs: fsy, dir: dir, noSync: o.NoSync, lock: lock, dirs: map[string]bool{}}
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

// Close releases the directory, after the calls in progress. Later calls return kvstore.ErrClosed;
// closing again does nothing.
func (s *Store) Close() error {
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
	st := s.stripe(k)
	st.RLock()
	defer st.RUnlock()
	if err := s.usable(); err != nil {
		return nil, 0, err
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
	return s.listKeys(nsDir(primary, secondary))
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
	err := s.walk(func(primary, secondary, dir string) error {
		names, err := s.listKeys(dir)
		for _, n := range names {
			out = append(out, kvstore.Key{Primary: primary, Secondary: secondary, Key: n})
		}
		return err
	}, nil)
	if err != nil {
		return nil, err
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
	k := b.Ops[0].Key
	for _, op := range b.Ops[1:] {
		if op.Key != k {
			s.cmu.Lock()
			defer s.cmu.Unlock()
			return s.commit(b.Ops, true)
		}
	}
	s.cmu.RLock()
	defer s.cmu.RUnlock()
	st := s.stripe(k)
	st.Lock()
	defer st.Unlock()
	return s.commit(b.Ops, false)
}

// commit checks and applies ops. The caller holds cmu, exclusively if exclusive, else shared with the
// stripe of the only key of ops.
func (s *Store) commit(ops []kvstore.Op, exclusive bool) error {
	if err := s.usable(); err != nil {
		return err
	}
	for _, op := range ops {
		if op.Kind != kvstore.OpCheck {
			continue
		}
		have, err := s.version(op.Key)
		if err != nil {
			return err
		}
		if have != op.Version {
			return fmt.Errorf("%w: %s at version %d, not %d", kvstore.ErrVersionMismatch, op.Key, have, op.Version)
		}
	}
	cs, err := s.plan(ops)
	if err != nil {
		return err
	}
	switch len(cs) {
	case 0:
		return nil
	case 1:
		if exclusive {
			st := s.stripe(cs[0].key)
			st.Lock()
			defer st.Unlock()
		}
		return s.commitOne(cs[0])
	default:
		return s.commitMany(cs)
	}
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
// before it (0 after a remove).
func (s *Store) plan(ops []kvstore.Op) ([]change, error) {
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
			v, err := s.version(op.Key)
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

// commitOne makes a change to one key: rename or unlink, then fsync the directory. The caller holds
// the key's stripe, so the key's readers wait until the change is durable: none sees a value a crash
// could take back.
func (s *Store) commitOne(c change) error {
	dir, path := nsDir(c.key.Primary, c.key.Secondary), keyPath(c.key)
	if !c.put {
		err := s.fs.remove(path)
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("fsstore: %w", err)
		}
		if err := s.syncDir(dir); err != nil {
			return s.fail(err)
		}
		return nil
	}
	if err := s.ensureDir(c.key); err != nil {
		return err
	}
	tmp := tmpPath(c.key)
	if err := s.writeFile(tmp, encodeRecordHeader(c.version, c.value), c.value); err != nil {
		_ = s.fs.remove(tmp)
		return err
	}
	if err := s.fs.rename(tmp, path); err != nil {
		_ = s.fs.remove(tmp)
		return fmt.Errorf("fsstore: %w", err)
	}
	if err := s.syncDir(dir); err != nil {
		return s.fail(err)
	}
	return nil
}

// commitMany makes the changes of a batch through the journal. The caller holds cmu exclusively.
func (s *Store) commitMany(cs []change) error {
	for _, c := range cs {
		if c.put {
			if err := s.ensureDir(c.key); err != nil {
				return err
			}
		}
	}
	if err := s.writeFile(journalName, encodeJournal(cs)); err != nil {
		return s.dropJournal(err)
	}
	// The batch is decided: a crash from here on is followed by the journal's replay.
	if err := s.stage(cs); err != nil {
		return s.dropJournal(err)
	}
	if err := s.install(cs); err != nil {
		return s.fail(err)
	}
	return nil
}

// dropJournal empties the journal of a batch that failed before any of it was visible, and returns
// err. If it cannot, the store fails: the batch may still be replayed by the next Open.
func (s *Store) dropJournal(err error) error {
	if jerr := s.writeFile(journalName); jerr != nil {
		return s.fail(errors.Join(err, jerr))
	}
	return err
}

// stage writes the temporary file of every put, durably. On error it removes those it wrote.
func (s *Store) stage(cs []change) error {
	for i, c := range cs {
		if !c.put {
			continue
		}
		if err := s.writeFile(tmpPath(c.key), encodeRecordHeader(c.version, c.value), c.value); err != nil {
			for _, d := range cs[:i+1] {
				if d.put {
					_ = s.fs.remove(tmpPath(d.key))
				}
			}
			return err
		}
	}
	return nil
}

// install renames the staged files into place and removes the removed keys, with readers waiting,
// then makes that durable and empties the journal.
func (s *Store) install(cs []change) error {
	var dirs []string
	touched := map[string]bool{}
	s.mu.Lock()
	for _, c := range cs {
		var err error
		if c.put {
			err = s.fs.rename(tmpPath(c.key), keyPath(c.key))
		} else if err = s.fs.remove(keyPath(c.key)); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			s.mu.Unlock()
			return fmt.Errorf("fsstore: %w", err)
		}
		if d := nsDir(c.key.Primary, c.key.Secondary); !touched[d] {
			touched[d] = true
			dirs = append(dirs, d)
		}
	}
	s.mu.Unlock()
	for _, d := range dirs {
		if err := s.syncDir(d); err != nil {
			return err
		}
	}
	return s.writeFile(journalName)
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
	f, err := s.fs.create(name)
	if err != nil {
		return fmt.Errorf("fsstore: %w", err)
	}
	for _, p := range parts {
		if len(p) > 0 && err == nil {
			_, err = f.Write(p)
		}
	}
	if err == nil && !s.noSync {
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

// Recovery.

// knownDir syncs a namespace directory found at Open and remembers it (its parent is synced next).
func (s *Store) knownDir(dir string) error {
	if err := s.syncDir(dir); err != nil {
		return err
	}
	s.dmu.Lock()
	defer s.dmu.Unlock()
	s.dirs[dir] = true
	return nil
}

// recover brings the directory to a consistent, durable state at Open: the journal replayed or
// discarded, temporary files removed, every directory synced.
func (s *Store) recover() error {
	if insensitive, err := s.fs.exists(caseProbeName); err != nil {
		return err
	} else if insensitive {
		return errors.New("the file system is not case-sensitive: keys that differ only in case would collide")
	}
	j, err := s.fs.readFile(journalName)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if err := s.writeFile(journalName); err != nil {
			return err
		}
		if err := s.syncDir("."); err != nil {
			return err
		}
	case err != nil:
		return err
	case len(j) > 0:
		cs, err := decodeJournal(j)
		switch {
		case errors.Is(err, errTorn):
			if err := s.writeFile(journalName); err != nil {
				return err
			}
		case err != nil:
			return fmt.Errorf("%w (%s)", err, s.describe(journalName))
		default:
			for _, c := range cs {
				if c.put {
					if err := s.ensureDir(c.key); err != nil {
						return err
					}
				}
			}
			if err := s.stage(cs); err != nil {
				return err
			}
			if err := s.install(cs); err != nil {
				return err
			}
		}
	}
	err = s.walk(func(_, _, dir string) error {
		es, err := s.fs.readDir(dir)
		if err != nil {
			return fmt.Errorf("fsstore: %w", err)
		}
		for _, e := range es {
			if !e.dir && strings.HasPrefix(e.name, tmpPrefix) {
				if err := s.fs.remove(dir + "/" + e.name); err != nil && !errors.Is(err, fs.ErrNotExist) {
					return fmt.Errorf("fsstore: %w", err)
				}
			}
		}
		return s.knownDir(dir)
	}, s.knownDir)
	if err != nil {
		return err
	}
	return s.syncDir(".")
}
