package nodeapi

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

const (
	// CookieUser is the HTTP Basic user name that goes with the cookie token (as bitcoind's).
	CookieUser = "__cookie__"
	// CookieFile is the cookie's file name in the data directory.
	CookieFile = ".cookie"
	// cookieTokenBytes is the token's size before hex encoding.
	cookieTokenBytes = 32
)

// ErrBadCookie is returned by ReadCookie for a cookie file that is not "__cookie__:<token>".
var ErrBadCookie = errors.New("nodeapi: malformed cookie file")

// WriteCookie makes a new token (32 random bytes, hex: 64 characters) and writes
// "__cookie__:<token>" to <datadir>/.cookie with mode 0600, atomically (a temporary file in datadir
// renamed over the old cookie), so a reader sees either the old or the new cookie, never part of
// one. datadir must exist. It returns the token, or the error from crypto/rand or the file system.
func WriteCookie(datadir string) (token string, err error) {
	var b [cookieTokenBytes]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("nodeapi: making cookie: %w", err)
	}
	token = hex.EncodeToString(b[:])

	f, err := os.CreateTemp(datadir, CookieFile+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("nodeapi: writing cookie: %w", err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(0o600); err != nil {
		return "", fmt.Errorf("nodeapi: writing cookie: %w", err)
	}
	if _, err = f.WriteString(CookieUser + ":" + token); err != nil {
		return "", fmt.Errorf("nodeapi: writing cookie: %w", err)
	}
	if err = f.Sync(); err != nil {
		return "", fmt.Errorf("nodeapi: writing cookie: %w", err)
	}
	if err = f.Close(); err != nil {
		return "", fmt.Errorf("nodeapi: writing cookie: %w", err)
	}
	if err = os.Rename(tmp, filepath.Join(datadir, CookieFile)); err != nil {
		return "", fmt.Errorf("nodeapi: writing cookie: %w", err)
	}
	return token, nil
}

// ReadCookie returns the token of <datadir>/.cookie. It returns the file system's error (e.g.
// fs.ErrNotExist when the node is not running) or ErrBadCookie.
func ReadCookie(datadir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(datadir, CookieFile))
	if err != nil {
		return "", fmt.Errorf("nodeapi: reading cookie: %w", err)
	}
	user, token, ok := strings.Cut(strings.TrimSpace(string(b)), ":")
	if !ok || user != CookieUser || token == "" || strings.ContainsAny(token, " \t\r\n") {
		return "", ErrBadCookie
	}
	return token, nil
}

// RemoveCookie deletes <datadir>/.cookie (when the node stops). A missing file is not an error.
func RemoveCookie(datadir string) error {
	err := os.Remove(filepath.Join(datadir, CookieFile))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("nodeapi: removing cookie: %w", err)
	}
	return nil
}
