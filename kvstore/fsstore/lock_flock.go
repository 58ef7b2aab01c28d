//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package fsstore

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// flock takes an exclusive flock on f without waiting. The lock belongs to the open file, so a
// second Open of the same directory fails even in the same process, and the operating system drops
// it when the process dies, however it dies.
func flock(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return fmt.Errorf("%w: %s", ErrLocked, f.Name())
	}
	if err != nil {
		return fmt.Errorf("fsstore: locking %s: %w", f.Name(), err)
	}
	return nil
}
