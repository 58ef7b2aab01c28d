package background

import (
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeManager is a ManagerWriter whose snapshot is a version number.
type fakeManager struct {
	dirty   atomic.Bool
	version atomic.Int64
}

func (m *fakeManager) GetAndClearNeedsPersistence() bool { return m.dirty.Swap(false) }
func (m *fakeManager) Write() []byte                     { return []byte{byte(m.version.Load())} }

func (m *fakeManager) change() {
	m.version.Add(1)
	m.dirty.Store(true)
}

// TestFilePersister: the snapshot is written when the manager needs it or with force, not otherwise;
// a failed write returns the error, leaves no temporary file, and the next call writes again even
// though the manager already cleared its flag.
func TestFilePersister(t *testing.T) {
	dir := t.TempDir()
	m := &fakeManager{}
	f := &FilePersister{Manager: m, Path: filepath.Join(dir, "manager.bin")}

	require.NoError(t, f.PersistManager(false))
	_, err := os.Stat(f.Path)
	require.ErrorIs(t, err, os.ErrNotExist, "nothing changed: nothing written")
	require.NoError(t, f.PersistManager(true))
	require.Equal(t, []byte{0}, readFile(t, f.Path), "forced")

	m.change()
	require.NoError(t, f.PersistManager(false))
	require.Equal(t, []byte{1}, readFile(t, f.Path))

	// The directory goes away: the write fails, and is made again once it is back.
	require.NoError(t, os.RemoveAll(dir))
	m.change()
	require.Error(t, f.PersistManager(false))
	require.False(t, m.dirty.Load(), "the manager's flag was cleared by the failed call")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	require.NoError(t, f.PersistManager(false))
	require.Equal(t, []byte{2}, readFile(t, f.Path), "written after the failure without a new change")
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary file left")
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return b
}
