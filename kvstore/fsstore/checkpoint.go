package fsstore

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
)

// Writing changes to their files (a checkpoint, a journaled batch) and recovery at Open.

// writeChanges writes cs to their files durably: the namespace directories, every value to its
// temporary file (fsynced), the renames and removals, then every directory touched fsynced once.
// Readers are not held up: the caller serves them the same values from the table.
func (s *Store) writeChanges(cs []change) error {
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
	return s.install(cs, false)
}

// writeChangesBulk is writeChanges for a checkpoint, where the log still holds every change until it
// returns: where the file system can be synced as a whole (syncfs on Linux), the temporary files are
// written without an fsync each, one syncAll makes them durable, the renames and removals follow, and
// a second syncAll makes those durable — two syncs instead of one per key and one per directory.
// Elsewhere (fileByFile), or with NoSync, it is writeChanges. A crash part way leaves the log to replay.
func (s *Store) writeChangesBulk(cs []change) error {
	if s.noSync || s.fileByFile {
		return s.writeChanges(cs)
	}
	for _, c := range cs {
		if c.put {
			if err := s.ensureDir(c.key); err != nil {
				return err
			}
		}
	}
	if err := s.stageSync(cs, false); err != nil {
		return err
	}
	if err := s.fs.syncAll(); err != nil {
		return fmt.Errorf("fsstore: syncing the file system: %w", err)
	}
	if _, err := s.rename(cs, false); err != nil {
		return err
	}
	if err := s.fs.syncAll(); err != nil {
		return fmt.Errorf("fsstore: syncing the file system: %w", err)
	}
	return nil
}

// stage writes the temporary file of every put, durably. On error it removes those it wrote.
func (s *Store) stage(cs []change) error { return s.stageSync(cs, !s.noSync) }

// stageSync is stage, with each file fsynced only if sync.
func (s *Store) stageSync(cs []change, sync bool) error {
	for i, c := range cs {
		if !c.put {
			continue
		}
		if err := s.writeFileSync(tmpPath(c.key), sync, encodeRecordHeader(c.version, c.value), c.value); err != nil {
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

// install renames the staged files into place and removes the removed keys (with readers waiting on
// mu if lockReaders), then fsyncs each directory it changed.
func (s *Store) install(cs []change, lockReaders bool) error {
	dirs, err := s.rename(cs, lockReaders)
	if err != nil {
		return err
	}
	for _, d := range dirs {
		if err := s.syncDir(d); err != nil {
			return err
		}
	}
	return nil
}

// rename renames the staged files into place and removes the removed keys (with readers waiting on mu
// if lockReaders), and returns the directories it changed.
func (s *Store) rename(cs []change, lockReaders bool) ([]string, error) {
	var dirs []string
	touched := map[string]bool{}
	if lockReaders {
		s.mu.Lock()
	}
	for _, c := range cs {
		var err error
		if c.put {
			err = s.fs.rename(tmpPath(c.key), keyPath(c.key))
		} else if err = s.fs.remove(keyPath(c.key)); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			if lockReaders {
				s.mu.Unlock()
			}
			return nil, fmt.Errorf("fsstore: %w", err)
		}
		if d := nsDir(c.key.Primary, c.key.Secondary); !touched[d] {
			touched[d] = true
			dirs = append(dirs, d)
		}
	}
	if lockReaders {
		s.mu.Unlock()
	}
	return dirs, nil
}

// checkpoint writes the table to the files and empties the log and the table. The caller holds wmu
// and the sync role. Records appended while the role's holder synced are synced and applied first,
// as the log is about to be emptied. Readers keep reading the table until the files hold its values.
func (s *Store) checkpoint() error {
	l := &s.log
	if len(l.pending) > 0 {
		if err := s.syncLog(); err != nil {
			return err
		}
		s.apply(l.seq)
	}
	if cs := l.table.changes(); len(cs) > 0 {
		if err := s.writeChangesBulk(cs); err != nil {
			return err
		}
	}
	if l.size > 0 {
		if err := l.f.Truncate(0); err != nil {
			return fmt.Errorf("fsstore: truncating %s: %w", s.describe(logName), err)
		}
		if err := s.syncLog(); err != nil {
			return err
		}
		l.size = 0
	}
	s.mu.Lock()
	l.table = table{}
	s.mu.Unlock()
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
// discarded, the log replayed into the files and emptied, temporary files removed, every directory
// synced; then, in log mode, it opens the log.
func (s *Store) recover() error {
	if insensitive, err := s.fs.exists(caseProbeName); err != nil {
		return err
	} else if insensitive {
		return errors.New("the file system is not case-sensitive: keys that differ only in case would collide")
	}
	// Whether checkpoints can sync the file system as a whole; syncing it now also makes durable
	// what a crashed process wrote.
	if !s.noSync {
		switch err := s.fs.syncAll(); {
		case errors.Is(err, errSyncAllUnsupported):
			s.fileByFile = true
		case err != nil:
			return fmt.Errorf("syncing the file system: %w", err)
		}
	}
	if err := s.recoverJournal(); err != nil {
		return err
	}
	if err := s.recoverLog(); err != nil {
		return err
	}
	err := s.walk(func(_, _, dir string) error {
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
	if !s.direct {
		f, _, err := s.fs.openAppend(logName)
		if err != nil {
			return fmt.Errorf("fsstore: %w", err)
		}
		s.log.f = f
	}
	// Makes durable what a crashed process left visible, and the entry of a log just created.
	return s.syncDir(".")
}

// recoverJournal replays the journal of DirectWrites mode if it checks out, discards it if it is
// torn, and creates it (empty) in DirectWrites mode if it does not exist.
func (s *Store) recoverJournal() error {
	j, err := s.fs.readFile(journalName)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if !s.direct {
			return nil
		}
		if err := s.writeFile(journalName); err != nil {
			return err
		}
		return s.syncDir(".")
	case err != nil:
		return err
	case len(j) == 0:
		return nil
	}
	cs, err := decodeJournal(j)
	switch {
	case errors.Is(err, errTorn):
	case err != nil:
		return fmt.Errorf("%w (%s)", err, s.describe(journalName))
	default:
		if err := s.writeChanges(cs); err != nil {
			return err
		}
	}
	return s.writeFile(journalName)
}

// recoverLog replays the log, if there is one and it is not empty: every record that checks out, in
// order, into a table that is then written to the files; then it truncates the log (see decodeLog
// for the tail that does not check out). Records carry the versions they result in, so replaying a
// log twice (a crash during recovery) gives the same files.
func (s *Store) recoverLog() error {
	b, err := s.fs.readFile(logName)
	if errors.Is(err, fs.ErrNotExist) || err == nil && len(b) == 0 {
		return nil
	}
	if err != nil {
		return fmt.Errorf("fsstore: %w", err)
	}
	records, _, err := decodeLog(b)
	if err != nil {
		return fmt.Errorf("%w (%s)", err, s.describe(logName))
	}
	t := table{}
	for _, cs := range records {
		for _, c := range cs {
			t.set(c)
		}
	}
	if cs := t.changes(); len(cs) > 0 {
		if err := s.writeChangesBulk(cs); err != nil {
			return err
		}
	}
	f, _, err := s.fs.openAppend(logName)
	if err != nil {
		return fmt.Errorf("fsstore: %w", err)
	}
	err = f.Truncate(0)
	if err == nil && !s.noSync {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fsstore: truncating %s: %w", s.describe(logName), err)
	}
	return nil
}
