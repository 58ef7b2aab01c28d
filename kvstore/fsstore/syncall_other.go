//go:build !linux

package fsstore

// syncAll is not available here: the store syncs file by file.
func (o osFS) syncAll() error { return errSyncAllUnsupported }
