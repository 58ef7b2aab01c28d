package fsstore

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand"
	"sort"
	"strings"
	"sync"
)

// memFS is an fsys in memory that keeps what was synced apart from what was not, so that it can
// crash: lose what was not synced, as a machine losing power may.
//
// A file has its data and its synced data; Sync makes them equal. A directory has its synced entries
// and the log of changes to them since its last syncDir (create, mkdir, rename within the directory,
// remove), each atomic. A crash keeps, in every directory, the synced entries plus a prefix of the log
// (none in the strict mode), and, of every file's unsynced data, nothing (strict) or all of it or a
// torn prefix of it. A crash also drops the locks: the process holding them died.
//
// memFS can also die part way: after crashAfter(n), n more changing operations succeed and every
// operation after them fails, until crash.
type memFS struct {
	mu    sync.Mutex
	root  *memNode
	locks map[string]bool
	gen   int // increased by crash; handles of an earlier generation fail

	armed bool
	left  int // changing operations left before dying, when armed
	dead  bool
	ops   int // changing operations done, for tests that count them

	// noSyncAll makes syncAll answer errSyncAllUnsupported, as on systems without syncfs.
	noSyncAll bool

	// fail, if not nil, makes a changing operation ("mkdir", "create", "write", "sync", "syncdir",
	// "rename", "remove", "truncate") on a name fail, without dying.
	fail func(op, name string) bool
}

type memNode struct {
	dir bool
	// files
	data, synced []byte
	// cut: since the last Sync, the file was emptied or truncated below its synced length, so data
	// need not begin with synced. If not, only appends were made: a crash keeps at least synced.
	cut bool
	// directories
	entries, syncedEntries map[string]*memNode
	log                    []memDirOp
}

// memDirOp is one change to a directory: name now points to node (nil: removed), and if from is not
// empty, from is removed (a rename).
type memDirOp struct {
	name, from string
	node       *memNode
}

var (
	errCrashed  = errors.New("memfs: the machine crashed")
	errInjected = errors.New("memfs: injected failure")
)

func newMemFS() *memFS {
	return &memFS{root: newMemDir(), locks: map[string]bool{}}
}

func newMemDir() *memNode {
	return &memNode{dir: true, entries: map[string]*memNode{}, syncedEntries: map[string]*memNode{}}
}

// crashAfter arms the fs to die after n more changing operations.
func (m *memFS) crashAfter(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.armed, m.left = true, n
}

func (m *memFS) isDead() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.dead
}

func (m *memFS) opCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.ops
}

// change accounts for one changing operation; the caller holds mu.
func (m *memFS) change(op, name string) error {
	if m.dead {
		return errCrashed
	}
	if m.fail != nil && m.fail(op, name) {
		return errInjected
	}
	if m.armed {
		if m.left == 0 {
			m.dead = true
			return errCrashed
		}
		m.left--
	}
	m.ops++
	return nil
}

// crash loses what was not synced (all of it if r is nil, else a random part), drops the locks and
// revives the fs.
func (m *memFS) crash(r *rand.Rand) {
	m.mu.Lock()
	defer m.mu.Unlock()
	seen := map[*memNode]bool{}
	var visit func(n *memNode)
	visit = func(n *memNode) {
		if seen[n] {
			return
		}
		seen[n] = true
		if !n.dir {
			if r != nil && !bytes.Equal(n.data, n.synced) {
				switch r.Intn(3) {
				case 0:
					n.synced = bytes.Clone(n.data)
				case 1:
					from := 0
					if !n.cut {
						from = len(n.synced) // an append: what was synced stays
					}
					n.synced = bytes.Clone(n.data[:from+r.Intn(len(n.data)-from+1)])
				}
			}
			n.data = bytes.Clone(n.synced)
			n.cut = false
			return
		}
		keep := 0
		if r != nil {
			keep = r.Intn(len(n.log) + 1)
		}
		for _, op := range n.log[:keep] {
			applyDirOp(n.syncedEntries, op)
		}
		n.log = nil
		n.entries = cloneEntries(n.syncedEntries)
		for _, c := range n.entries {
			visit(c)
		}
	}
	visit(m.root)
	m.locks = map[string]bool{}
	m.armed, m.dead = false, false
	m.gen++
}

// clone returns a copy of m as it is (a disk image), without its locks.
func (m *memFS) clone() *memFS {
	m.mu.Lock()
	defer m.mu.Unlock()
	copies := map[*memNode]*memNode{}
	var cp func(n *memNode) *memNode
	cp = func(n *memNode) *memNode {
		if n == nil {
			return nil
		}
		if c, ok := copies[n]; ok {
			return c
		}
		c := &memNode{dir: n.dir, data: bytes.Clone(n.data), synced: bytes.Clone(n.synced), cut: n.cut}
		copies[n] = c
		if n.dir {
			c.entries, c.syncedEntries = map[string]*memNode{}, map[string]*memNode{}
			for k, v := range n.entries {
				c.entries[k] = cp(v)
			}
			for k, v := range n.syncedEntries {
				c.syncedEntries[k] = cp(v)
			}
			for _, op := range n.log {
				c.log = append(c.log, memDirOp{name: op.name, from: op.from, node: cp(op.node)})
			}
		}
		return c
	}
	return &memFS{root: cp(m.root), locks: map[string]bool{}, noSyncAll: m.noSyncAll}
}

func applyDirOp(es map[string]*memNode, op memDirOp) {
	if op.from != "" {
		op.node = es[op.from]
		delete(es, op.from)
	}
	if op.node == nil {
		delete(es, op.name)
	} else {
		es[op.name] = op.node
	}
}

func cloneEntries(es map[string]*memNode) map[string]*memNode {
	out := make(map[string]*memNode, len(es))
	for k, v := range es {
		out[k] = v
	}
	return out
}

// lookup returns the parent directory of name and name's last element. The caller holds mu.
func (m *memFS) lookup(name string) (*memNode, string, error) {
	parts := strings.Split(name, "/")
	d := m.root
	for _, p := range parts[:len(parts)-1] {
		c, ok := d.entries[p]
		if !ok {
			return nil, "", fmt.Errorf("%s: %w", name, fs.ErrNotExist)
		}
		if !c.dir {
			return nil, "", fmt.Errorf("%s: not a directory", name)
		}
		d = c
	}
	return d, parts[len(parts)-1], nil
}

// node returns the node of name ("." is the root). The caller holds mu.
func (m *memFS) node(name string) (*memNode, error) {
	if name == "." {
		return m.root, nil
	}
	d, base, err := m.lookup(name)
	if err != nil {
		return nil, err
	}
	n, ok := d.entries[base]
	if !ok {
		return nil, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	return n, nil
}

func (m *memFS) logOp(d *memNode, op memDirOp) {
	applyDirOp(d.entries, op)
	d.log = append(d.log, op)
}

func (m *memFS) mkdir(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead {
		return errCrashed
	}
	d, base, err := m.lookup(name)
	if err != nil {
		return err
	}
	if _, ok := d.entries[base]; ok {
		return fmt.Errorf("%s: %w", name, fs.ErrExist)
	}
	if err := m.change("mkdir", name); err != nil {
		return err
	}
	m.logOp(d, memDirOp{name: base, node: newMemDir()})
	return nil
}

func (m *memFS) create(name string) (wfile, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead {
		return nil, errCrashed
	}
	d, base, err := m.lookup(name)
	if err != nil {
		return nil, err
	}
	if err := m.change("create", name); err != nil {
		return nil, err
	}
	n, ok := d.entries[base]
	switch {
	case !ok:
		n = &memNode{}
		m.logOp(d, memDirOp{name: base, node: n})
	case n.dir:
		return nil, fmt.Errorf("%s: is a directory", name)
	default:
		n.data, n.cut = nil, true
	}
	return &memFile{m: m, n: n, name: name, gen: m.gen}, nil
}

func (m *memFS) openAppend(name string) (afile, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead {
		return nil, false, errCrashed
	}
	d, base, err := m.lookup(name)
	if err != nil {
		return nil, false, err
	}
	n, ok := d.entries[base]
	if ok {
		if n.dir {
			return nil, false, fmt.Errorf("%s: is a directory", name)
		}
		return &memFile{m: m, n: n, name: name, gen: m.gen}, false, nil
	}
	if err := m.change("create", name); err != nil {
		return nil, false, err
	}
	n = &memNode{}
	m.logOp(d, memDirOp{name: base, node: n})
	return &memFile{m: m, n: n, name: name, gen: m.gen}, true, nil
}

func (m *memFS) readFile(name string) ([]byte, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead {
		return nil, errCrashed
	}
	n, err := m.node(name)
	if err != nil {
		return nil, err
	}
	if n.dir {
		return nil, fmt.Errorf("%s: is a directory", name)
	}
	return bytes.Clone(n.data), nil
}

func (m *memFS) readHead(name string, k int) ([]byte, error) {
	b, err := m.readFile(name)
	if len(b) > k {
		b = b[:k]
	}
	return b, err
}

func (m *memFS) rename(from, to string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead {
		return errCrashed
	}
	d, fbase, err := m.lookup(from)
	if err != nil {
		return err
	}
	d2, tbase, err := m.lookup(to)
	if err != nil {
		return err
	}
	if d != d2 {
		return fmt.Errorf("rename %s %s: memfs renames within a directory only", from, to)
	}
	n, ok := d.entries[fbase]
	if !ok {
		return fmt.Errorf("%s: %w", from, fs.ErrNotExist)
	}
	if t, ok := d.entries[tbase]; ok && (t.dir || n.dir) {
		return fmt.Errorf("rename %s %s: directories", from, to)
	}
	if err := m.change("rename", from); err != nil {
		return err
	}
	m.logOp(d, memDirOp{name: tbase, from: fbase})
	return nil
}

func (m *memFS) remove(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead {
		return errCrashed
	}
	d, base, err := m.lookup(name)
	if err != nil {
		return err
	}
	n, ok := d.entries[base]
	if !ok {
		return fmt.Errorf("%s: %w", name, fs.ErrNotExist)
	}
	if n.dir && len(n.entries) > 0 {
		return fmt.Errorf("%s: directory not empty", name)
	}
	if err := m.change("remove", name); err != nil {
		return err
	}
	m.logOp(d, memDirOp{name: base})
	return nil
}

func (m *memFS) readDir(name string) ([]dirEntry, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead {
		return nil, errCrashed
	}
	n, err := m.node(name)
	if err != nil {
		return nil, err
	}
	if !n.dir {
		return nil, fmt.Errorf("%s: not a directory", name)
	}
	out := make([]dirEntry, 0, len(n.entries))
	for k, c := range n.entries {
		out = append(out, dirEntry{name: k, dir: c.dir})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

func (m *memFS) syncDir(name string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead {
		return errCrashed
	}
	n, err := m.node(name)
	if err != nil {
		return err
	}
	if err := m.change("syncdir", name); err != nil {
		return err
	}
	n.syncedEntries = cloneEntries(n.entries)
	n.log = nil
	return nil
}

// syncAll makes every file's data and every directory's entries durable (syncfs).
func (m *memFS) syncAll() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.noSyncAll {
		return errSyncAllUnsupported
	}
	if m.dead {
		return errCrashed
	}
	if err := m.change("syncall", "."); err != nil {
		return err
	}
	var walk func(n *memNode)
	walk = func(n *memNode) {
		if !n.dir {
			n.synced, n.cut = bytes.Clone(n.data), false
			return
		}
		n.syncedEntries = cloneEntries(n.entries)
		n.log = nil
		for _, c := range n.entries {
			walk(c)
		}
	}
	walk(m.root)
	return nil
}

func (m *memFS) exists(name string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead {
		return false, errCrashed
	}
	_, err := m.node(name)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (m *memFS) lock(name string) (io.Closer, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.dead {
		return nil, errCrashed
	}
	if m.locks[name] {
		return nil, fmt.Errorf("%w: %s", ErrLocked, name)
	}
	m.locks[name] = true
	return memLock{m: m, name: name, gen: m.gen}, nil
}

type memLock struct {
	m    *memFS
	name string
	gen  int
}

func (l memLock) Close() error {
	l.m.mu.Lock()
	defer l.m.mu.Unlock()
	if l.gen == l.m.gen {
		delete(l.m.locks, l.name)
	}
	return nil
}

type memFile struct {
	m    *memFS
	n    *memNode
	name string
	gen  int
}

func (f *memFile) op(op string) error {
	if f.gen != f.m.gen {
		return errCrashed
	}
	return f.m.change(op, f.name)
}

func (f *memFile) Write(p []byte) (int, error) {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.op("write"); err != nil {
		return 0, err
	}
	f.n.data = append(f.n.data, p...)
	return len(p), nil
}

func (f *memFile) Sync() error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.op("sync"); err != nil {
		return err
	}
	// data's bytes are never changed in place (only appended to, cut, or replaced), so synced may
	// share them: a log's sync does not copy the whole log.
	f.n.synced = f.n.data[:len(f.n.data):len(f.n.data)]
	f.n.cut = false
	return nil
}

func (f *memFile) Truncate(size int64) error {
	f.m.mu.Lock()
	defer f.m.mu.Unlock()
	if err := f.op("truncate"); err != nil {
		return err
	}
	if size > int64(len(f.n.data)) {
		return fmt.Errorf("memfs: truncating %s to %d bytes extends it", f.name, size)
	}
	f.n.data = f.n.data[:size:size]
	if size < int64(len(f.n.synced)) {
		f.n.cut = true
	}
	return nil
}

func (f *memFile) Close() error { return nil }
