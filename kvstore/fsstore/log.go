package fsstore

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/lnkit/lnkit/kvstore"
)

// Log mode, the default: every change is one record appended to the log and synced, then applied to
// the table; checkpoints write the table to the files (see the package doc).

// logState is the log and the table of a store in log mode.
//
// Locks, in the order they are taken: the sync role (syncing, under gmu), then wmu, then mu (the
// store's) or gmu.
type logState struct {
	ckptBytes int64

	// wmu orders the changes: a change evaluates its checks and versions and appends its record
	// under it; records are applied to the table, and checkpoints run, under it.
	wmu     sync.Mutex
	f       afile
	size    int64       // bytes in the log
	seq     uint64      // records appended since Open
	pending []logRecord // appended, not yet applied, in order
	// latest holds, for each key a pending record changes, the last such record's sequence number and
	// the key's version after it (0: removed): the state the next change builds on.
	latest map[kvstore.Key]latestChange
	// table holds the changes applied since the last checkpoint; Read, List and ListAll consult it
	// before the files. Changed under wmu and the store's mu; read under either.
	table table

	gmu   sync.Mutex
	gcond sync.Cond // on gmu: syncing or synced changed
	// syncing: a caller holds the sync role, the only one that syncs, truncates or closes the log.
	syncing bool
	synced  uint64 // records synced and applied to the table
}

type logRecord struct {
	seq uint64
	cs  []change
}

type latestChange struct {
	seq, version uint64
}

// commitLog is Commit in log mode: append the change's record, then wait until it is synced and
// applied (syncing it, and the records of others, if no one else is).
func (s *Store) commitLog(ops []kvstore.Op) error {
	l := &s.log
	l.wmu.Lock()
	seq, err := s.appendChange(ops)
	l.wmu.Unlock()
	if err != nil {
		return err
	}
	return s.waitSynced(seq)
}

// appendChange evaluates ops against the latest state of their keys (pending records, the table,
// the files) and appends the record of what they change to the log. It returns the sequence number
// of the record to wait for: its own, or, for a change that changes nothing, the last one appended,
// whose state its checks saw. The caller holds wmu.
func (s *Store) appendChange(ops []kvstore.Op) (uint64, error) {
	l := &s.log
	if err := s.usable(); err != nil {
		return 0, err
	}
	if err := s.check(ops, s.latestVersion); err != nil {
		return 0, err
	}
	planned, err := plan(ops, s.latestVersion)
	if err != nil {
		return 0, err
	}
	cs := planned[:0]
	for _, c := range planned {
		if !c.put {
			if present, err := s.present(c.key); err != nil {
				return 0, err
			} else if !present {
				continue // removing an absent key changes nothing
			}
		}
		cs = append(cs, c)
	}
	if len(cs) == 0 {
		return l.seq, nil
	}
	rec := encodeLogRecord(cs)
	if _, err := l.f.Write(rec); err != nil {
		err = fmt.Errorf("fsstore: appending to %s: %w", s.describe(logName), err)
		if terr := l.f.Truncate(l.size); terr != nil {
			return 0, s.fail(errors.Join(err, terr))
		}
		return 0, err
	}
	l.size += int64(len(rec))
	l.seq++
	l.pending = append(l.pending, logRecord{seq: l.seq, cs: cs})
	for _, c := range cs {
		l.latest[c.key] = latestChange{seq: l.seq, version: c.version}
	}
	return l.seq, nil
}

// latestVersion returns the version of k after the changes appended so far (0: absent). The caller
// holds wmu.
func (s *Store) latestVersion(k kvstore.Key) (uint64, error) {
	if lc, ok := s.log.latest[k]; ok {
		return lc.version, nil
	}
	if e, ok := s.log.table.get(k); ok {
		return e.version, nil
	}
	return s.version(k)
}

// present reports whether k exists after the changes appended so far (a damaged file counts: a
// removal removes it). The caller holds wmu.
func (s *Store) present(k kvstore.Key) (bool, error) {
	if lc, ok := s.log.latest[k]; ok {
		return lc.version > 0, nil
	}
	if e, ok := s.log.table.get(k); ok {
		return e.version > 0, nil
	}
	ok, err := s.fs.exists(keyPath(k))
	if err != nil {
		return false, fmt.Errorf("fsstore: %w", err)
	}
	return ok, nil
}

// waitSynced returns once record seq is synced and applied. If no one holds the sync role, the
// caller takes it and leads: it syncs every record appended so far (group commit), applies them and
// wakes the callers they cover, then checkpoints if the log has grown past its threshold.
func (s *Store) waitSynced(seq uint64) error {
	l := &s.log
	l.gmu.Lock()
	for l.synced < seq && l.syncing {
		l.gcond.Wait()
	}
	if l.synced >= seq {
		l.gmu.Unlock()
		return nil
	}
	s.smu.Lock()
	failed, closed := s.failed, s.closed
	s.smu.Unlock()
	if failed != nil || closed { // a leader's sync failed (Close syncs what it finds)
		l.gmu.Unlock()
		if failed == nil {
			return kvstore.ErrClosed
		}
		return fmt.Errorf("%w: %w", ErrFailed, failed)
	}
	l.syncing = true
	l.gmu.Unlock()
	defer l.releaseSyncRole()
	return s.lead()
}

// takeSyncRole waits until no one holds the sync role and takes it.
func (l *logState) takeSyncRole() {
	l.gmu.Lock()
	for l.syncing {
		l.gcond.Wait()
	}
	l.syncing = true
	l.gmu.Unlock()
}

func (l *logState) releaseSyncRole() {
	l.gmu.Lock()
	l.syncing = false
	l.gcond.Broadcast()
	l.gmu.Unlock()
}

// lead syncs the records appended so far and applies them, then checkpoints if the log is past its
// threshold. The caller holds the sync role. A checkpoint that fails fails the store, but the
// caller's change is durable, so lead still returns nil: the next call reports the failure.
func (s *Store) lead() error {
	l := &s.log
	l.wmu.Lock()
	target := l.seq
	l.wmu.Unlock()
	if err := s.syncLog(); err != nil {
		return err
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	s.apply(target)
	if l.size > l.ckptBytes {
		if err := s.checkpoint(); err != nil {
			_ = s.fail(err)
		}
	}
	return nil
}

// syncLog fsyncs the log. If that fails, the store fails: what reached the disk is unknown, and the
// changes waiting on it may or may not survive a crash. The caller holds the sync role.
func (s *Store) syncLog() error {
	if s.noSync {
		return nil
	}
	if err := s.log.f.Sync(); err != nil {
		return s.fail(fmt.Errorf("fsstore: syncing %s: %w", s.describe(logName), err))
	}
	return nil
}

// apply applies the pending records up to target to the table, all at once for readers, and wakes
// the callers waiting for them. The caller holds wmu, and the sync role, which synced them.
func (s *Store) apply(target uint64) {
	l := &s.log
	n := 0
	for n < len(l.pending) && l.pending[n].seq <= target {
		n++
	}
	if n > 0 {
		s.mu.Lock()
		for _, r := range l.pending[:n] {
			for _, c := range r.cs {
				l.table.set(c)
			}
		}
		s.mu.Unlock()
		for _, r := range l.pending[:n] {
			for _, c := range r.cs {
				if lc, ok := l.latest[c.key]; ok && lc.seq <= target {
					delete(l.latest, c.key)
				}
			}
		}
		l.pending = slices.Delete(l.pending, 0, n)
	}
	l.gmu.Lock()
	if target > l.synced {
		l.synced = target
	}
	l.gcond.Broadcast()
	l.gmu.Unlock()
}

// closeLog is Close in log mode: it takes the sync role (after the leader in progress), syncs and
// applies what was appended, checkpoints unless the store failed, and closes the log and the lock.
func (s *Store) closeLog() error {
	l := &s.log
	l.takeSyncRole()
	defer l.releaseSyncRole()
	l.wmu.Lock()
	defer l.wmu.Unlock()
	s.smu.Lock()
	closed, failed := s.closed, s.failed
	s.smu.Unlock()
	if closed {
		return nil
	}
	var err error
	if failed == nil {
		err = s.checkpoint() // syncs and applies the pending records first
		if err != nil {
			err = s.fail(err)
		}
	}
	s.smu.Lock()
	s.closed = true
	s.smu.Unlock()
	if cerr := l.f.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("fsstore: %w", cerr)
	}
	if lerr := s.lock.Close(); err == nil {
		err = lerr
	}
	return err
}

// The table.

type nsKey struct{ primary, secondary string }

// entry is a key's value and version in the table; version 0: removed.
type entry struct {
	value   []byte
	version uint64
}

// table holds applied changes by namespace and key.
type table map[nsKey]map[string]entry

func (t table) set(c change) {
	ns := nsKey{c.key.Primary, c.key.Secondary}
	m := t[ns]
	if m == nil {
		m = map[string]entry{}
		t[ns] = m
	}
	if c.put {
		m[c.key.Key] = entry{value: c.value, version: c.version}
	} else {
		m[c.key.Key] = entry{}
	}
}

func (t table) get(k kvstore.Key) (entry, bool) {
	e, ok := t[nsKey{k.Primary, k.Secondary}][k.Key]
	return e, ok
}

// changes returns the table as changes to the files, sorted by key.
func (t table) changes() []change {
	var cs []change
	for ns, m := range t {
		for k, e := range m {
			key := kvstore.Key{Primary: ns.primary, Secondary: ns.secondary, Key: k}
			cs = append(cs, change{key: key, put: e.version > 0, value: e.value, version: e.version})
		}
	}
	sort.Slice(cs, func(i, j int) bool { return kvstore.Less(cs[i].key, cs[j].key) })
	return cs
}

// merge returns the sorted key names of one namespace: those of its files, with the table's changes.
func (t table) merge(ns nsKey, files []string) []string {
	m := t[ns]
	if len(m) == 0 {
		return files
	}
	set := make(map[string]bool, len(files)+len(m))
	for _, f := range files {
		set[f] = true
	}
	for k, e := range m {
		set[k] = e.version > 0
	}
	out := files[:0]
	for k, ok := range set {
		if ok {
			out = append(out, k)
		}
	}
	sort.Strings(out)
	return out
}
