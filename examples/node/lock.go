package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// lockFileName is the lock file in the data directory. It stays behind when the node exits: the
// lock is the flock on it, not its existence, so a left-over file never blocks a start.
const lockFileName = ".lock"

// ErrDataDirInUse is what errors.Is matches on the *DataDirInUseError of lockDataDir.
var ErrDataDirInUse = errors.New("data directory is in use by another lnkit-node process")

// DataDirInUseError is lockDataDir's error when another process holds the data directory's lock.
type DataDirInUseError struct {
	Dir string // the data directory, as given
	PID int    // the holder's process id from the lock file; 0 if it could not be read
}

func (e *DataDirInUseError) Error() string {
	msg := fmt.Sprintf("data directory %s is in use by another lnkit-node process", e.Dir)
	if e.PID > 0 {
		msg += fmt.Sprintf(" (pid %d)", e.PID)
	}
	return msg
}

// Is makes errors.Is(err, ErrDataDirInUse) true.
func (e *DataDirInUseError) Is(target error) bool { return target == ErrDataDirInUse }

// dataDirLock is a held data directory lock. Keep it reachable until release: the lock lives as
// long as its open file.
type dataDirLock struct {
	f *os.File
}

// lockDataDir creates dir (0700) if needed and takes an exclusive, non-blocking advisory lock
// (flock) on dir/.lock, creating the file with mode 0600, then writes this process's PID into it
// for people and for the error of the next process. If another process (or another lockDataDir in
// this one) holds the lock, it returns a *DataDirInUseError. The operating system drops the lock
// when the process dies, however it dies. Where there is no flock (lock_other.go) it does not lock.
func lockDataDir(dir string) (*dataDirLock, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, lockFileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock file: %w", err)
	}
	locked, err := tryLock(f)
	switch {
	case err != nil:
		err = fmt.Errorf("locking %s: %w", path, err)
	case !locked:
		err = &DataDirInUseError{Dir: dir, PID: readPID(f)}
	default:
		if err = writePID(f); err != nil {
			err = fmt.Errorf("writing %s: %w", path, err)
		}
	}
	if err != nil {
		_ = f.Close()
		return nil, err
	}
	return &dataDirLock{f: f}, nil
}

// release empties the lock file and closes it, which drops the lock.
func (l *dataDirLock) release() {
	_ = l.f.Truncate(0)
	_ = l.f.Close()
}

// writePID replaces the lock file's content with this process's PID and a newline.
func writePID(f *os.File) error {
	if err := f.Truncate(0); err != nil {
		return err
	}
	_, err := f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	return err
}

// readPID returns the PID in the lock file, or 0 if there is none (e.g. the holder has not
// written it yet).
func readPID(f *os.File) int {
	b, err := io.ReadAll(io.LimitReader(f, 32))
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return 0
	}
	return pid
}
