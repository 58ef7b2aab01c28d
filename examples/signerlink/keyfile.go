package signerlink

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/btcsuite/btcd/btcec/v2"
)

// LoadOrCreateSecret returns the 32-byte secret in the file at path, creating the file (mode 0600,
// fresh random bytes) when it does not exist. created reports a new file. A new file is written to a
// temporary name, synced and linked into place, so an existing secret is never overwritten and a crash
// never leaves a partial one. Errors: a file that is not exactly 32 bytes, or that its group or others
// may read or write; I/O errors.
func LoadOrCreateSecret(path string) (secret [32]byte, created bool, err error) {
	secret, err = readSecret(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return secret, false, err
	}
	if _, err := rand.Read(secret[:]); err != nil {
		return secret, false, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return secret, false, err
	}
	defer os.Remove(tmp.Name())
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return secret, false, err
	}
	if _, err := tmp.Write(secret[:]); err != nil {
		tmp.Close()
		return secret, false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return secret, false, err
	}
	if err := tmp.Close(); err != nil {
		return secret, false, err
	}
	if err := os.Link(tmp.Name(), path); err != nil {
		if errors.Is(err, fs.ErrExist) { // created meanwhile by someone else: theirs wins
			secret, err = readSecret(path)
			return secret, false, err
		}
		return secret, false, err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return secret, true, nil
}

// readSecret reads a 32-byte secret file that only its owner may access.
func readSecret(path string) ([32]byte, error) {
	var secret [32]byte
	fi, err := os.Stat(path)
	if err != nil {
		return secret, err
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return secret, fmt.Errorf("link: %s: mode %v lets others read or write it; chmod 600", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return secret, err
	}
	if len(b) != 32 {
		return secret, fmt.Errorf("link: %s: %d bytes, want 32", path, len(b))
	}
	copy(secret[:], b)
	return secret, nil
}

// LoadOrCreateKey is LoadOrCreateSecret for a private key (a link key). Errors: those of
// LoadOrCreateSecret; a file whose bytes are not a valid secp256k1 scalar.
func LoadOrCreateKey(path string) (*btcec.PrivateKey, bool, error) {
	secret, created, err := LoadOrCreateSecret(path)
	if err != nil {
		return nil, false, err
	}
	var k btcec.ModNScalar
	if overflow := k.SetBytes(&secret); overflow != 0 || k.IsZero() {
		return nil, false, fmt.Errorf("link: %s is not a valid private key", path)
	}
	return btcec.PrivKeyFromScalar(&k), created, nil
}
