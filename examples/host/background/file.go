package background

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
)

// ManagerWriter is what FilePersister needs from the manager (*channelmanager.ChannelManager).
type ManagerWriter interface {
	GetAndClearNeedsPersistence() bool
	Write() []byte
}

// FilePersister is a Persister that writes the manager's snapshot (Write) to one file, atomically: a
// temporary file, fsynced, renamed over Path, then the directory fsynced. Read it back with
// channelmanager.Read. A host with a kvstore.KVStore writes the manager's records instead (PersistTo).
type FilePersister struct {
	Manager ManagerWriter
	Path    string

	mu     sync.Mutex
	failed bool // the last write failed: the next one is made whatever the manager says
}

// PersistManager writes the snapshot if the manager needs persisting, with force, or after a failed
// write (the manager had already cleared its flag). Errors: the file system's.
func (f *FilePersister) PersistManager(force bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.Manager.GetAndClearNeedsPersistence() && !force && !f.failed {
		return nil
	}
	err := writeFileAtomic(f.Path, f.Manager.Write())
	f.failed = err != nil
	return err
}

// writeFileAtomic writes data to path through a synced temporary file and a rename.
func writeFileAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	file, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	_, err = file.Write(data)
	if err == nil {
		err = file.Sync()
	}
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		_ = dir.Sync()
		_ = dir.Close()
	}
	return nil
}
