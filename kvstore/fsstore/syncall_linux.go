//go:build linux

package fsstore

import (
	"os"

	"golang.org/x/sys/unix"
)

// syncAll syncs the file system holding the store (syncfs(2)): every dirty file and directory entry on
// it, ours included.
func (o osFS) syncAll() error {
	f, err := os.Open(o.root)
	if err != nil {
		return err
	}
	defer f.Close()
	return unix.Syncfs(int(f.Fd()))
}
