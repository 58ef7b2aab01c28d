package fsstore

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/lnkit/lnkit/kvstore"
)

// DirectWrites mode: every change is written to its files before its call returns (see the package
// doc).

// commitDirect is Commit in DirectWrites mode: it takes the locks (see Store.cmu) and commits.
func (s *Store) commitDirect(ops []kvstore.Op) error {
	k := ops[0].Key
	for _, op := range ops[1:] {
		if op.Key != k {
			s.cmu.Lock()
			defer s.cmu.Unlock()
			return s.commit(ops, true)
		}
	}
	s.cmu.RLock()
	defer s.cmu.RUnlock()
	st := s.stripe(k)
	st.Lock()
	defer st.Unlock()
	return s.commit(ops, false)
}

// commit checks and applies ops. The caller holds cmu, exclusively if exclusive, else shared with the
// stripe of the only key of ops.
func (s *Store) commit(ops []kvstore.Op, exclusive bool) error {
	if err := s.usable(); err != nil {
		return err
	}
	if err := s.check(ops, s.version); err != nil {
		return err
	}
	cs, err := plan(ops, s.version)
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
	if err := s.install(cs, true); err != nil {
		return s.fail(err)
	}
	if err := s.writeFile(journalName); err != nil {
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
