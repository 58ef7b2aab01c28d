package fsstore

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// fsys is every file operation the store makes, on slash-separated names relative to the store's
// directory ("." is the directory itself). osFS is the real one; the tests' memFS keeps what was not
// synced apart so that it can lose it in a simulated crash.
type fsys interface {
	// mkdir creates a directory; if name exists the error wraps fs.ErrExist.
	mkdir(name string) error
	// create opens name for writing, creating it or emptying it.
	create(name string) (wfile, error)
	// openAppend opens name for appending, creating it if it does not exist (created reports that).
	openAppend(name string) (f afile, created bool, err error)
	// readFile returns the whole content of name.
	readFile(name string) ([]byte, error)
	// readHead returns the first n bytes of name, fewer if it is shorter.
	readHead(name string, n int) ([]byte, error)
	// rename replaces to with from, atomically; both are in the same directory.
	rename(from, to string) error
	// remove removes a file; if it does not exist the error wraps fs.ErrNotExist.
	remove(name string) error
	// readDir lists a directory, sorted by name.
	readDir(name string) ([]dirEntry, error)
	// syncDir makes the directory's entries durable.
	syncDir(name string) error
	// syncAll makes everything written under the store's directory durable, files and directory
	// entries, in one call (syncfs on Linux); errSyncAllUnsupported where the system has no such call.
	syncAll() error
	// exists reports whether name exists.
	exists(name string) (bool, error)
	// lock takes the exclusive lock of the store named by the file name, without waiting. If someone
	// holds it the error wraps ErrLocked. Closing the result releases it.
	lock(name string) (io.Closer, error)
}

// wfile is a file open for writing.
type wfile interface {
	Write(p []byte) (int, error)
	Sync() error
	Close() error
}

// afile is a file open for appending: every Write goes to its end, and Truncate cuts it.
type afile interface {
	wfile
	Truncate(size int64) error
}

type dirEntry struct {
	name string
	dir  bool // a directory; otherwise a regular file (other kinds are not listed)
}

// osFS is fsys on the operating system's file system, under root.
type osFS struct {
	root string
}

func (o osFS) path(name string) string { return filepath.Join(o.root, filepath.FromSlash(name)) }

func (o osFS) mkdir(name string) error { return os.Mkdir(o.path(name), 0o700) }

func (o osFS) create(name string) (wfile, error) {
	return os.OpenFile(o.path(name), os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
}

func (o osFS) openAppend(name string) (afile, bool, error) {
	f, err := os.OpenFile(o.path(name), os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err == nil {
		return f, true, nil
	}
	if !errors.Is(err, fs.ErrExist) {
		return nil, false, err
	}
	f, err = os.OpenFile(o.path(name), os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, false, err
	}
	return f, false, nil
}

func (o osFS) readFile(name string) ([]byte, error) { return os.ReadFile(o.path(name)) }

func (o osFS) readHead(name string, n int) ([]byte, error) {
	f, err := os.Open(o.path(name))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b := make([]byte, n)
	m, err := io.ReadFull(f, b)
	if errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		err = nil
	}
	return b[:m], err
}

func (o osFS) rename(from, to string) error { return os.Rename(o.path(from), o.path(to)) }

func (o osFS) remove(name string) error { return os.Remove(o.path(name)) }

func (o osFS) readDir(name string) ([]dirEntry, error) {
	es, err := os.ReadDir(o.path(name))
	out := make([]dirEntry, 0, len(es))
	for _, e := range es {
		switch {
		case e.IsDir():
			out = append(out, dirEntry{name: e.Name(), dir: true})
		case e.Type().IsRegular():
			out = append(out, dirEntry{name: e.Name()})
		}
	}
	return out, err
}

func (o osFS) syncDir(name string) error {
	f, err := os.Open(o.path(name))
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// errSyncAllUnsupported: the file system cannot be synced as a whole; the store syncs file by file.
var errSyncAllUnsupported = errors.New("fsstore: no whole-file-system sync here")

func (o osFS) exists(name string) (bool, error) {
	_, err := os.Lstat(o.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

func (o osFS) lock(name string) (io.Closer, error) {
	f, err := os.OpenFile(o.path(name), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := flock(f); err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}
