package nodeapi

import (
	"encoding/hex"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

func TestWriteCookie(t *testing.T) {
	dir := t.TempDir()
	token, err := WriteCookie(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := hex.DecodeString(token); err != nil || len(b) != 32 || len(token) != 64 {
		t.Fatalf("token %q is not 32 bytes of hex", token)
	}
	path := filepath.Join(dir, CookieFile)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("cookie mode %v, want 0600", st.Mode().Perm())
	}
	content, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if string(content) != "__cookie__:"+token {
		t.Fatalf("cookie file holds %q", content)
	}
	got, err := ReadCookie(dir)
	if err != nil || got != token {
		t.Fatalf("ReadCookie = %q, %v; want %q", got, err, token)
	}

	// A second cookie replaces the first, with a new token, and leaves no temporary file.
	token2, err := WriteCookie(dir)
	if err != nil {
		t.Fatal(err)
	}
	if token2 == token {
		t.Fatal("two cookies with the same token")
	}
	if got, _ := ReadCookie(dir); got != token2 {
		t.Fatalf("ReadCookie after rewrite = %q, want %q", got, token2)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != CookieFile {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Fatalf("datadir holds %v, want only %s", names, CookieFile)
	}

	if err := RemoveCookie(dir); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadCookie(dir); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadCookie after RemoveCookie: %v", err)
	}
	if err := RemoveCookie(dir); err != nil {
		t.Fatalf("RemoveCookie twice: %v", err)
	}
}

func TestWriteCookieMissingDir(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "nope")
	if _, err := WriteCookie(dir); err == nil {
		t.Fatal("WriteCookie into a missing directory succeeded")
	}
}

func TestReadCookie(t *testing.T) {
	cases := []struct {
		content string
		token   string // "" means ErrBadCookie
	}{
		{"__cookie__:abc", "abc"},
		{"__cookie__:abc\n", "abc"},          // a trailing newline (hand-written file) is fine
		{"__cookie__:a:b", "a:b"},            // only the first colon separates
		{"__cookie__:", ""},                  // empty token
		{"__cookie__", ""},                   // no colon
		{"user:abc", ""},                     // wrong user
		{"", ""},                             // empty file
		{"__cookie__:ab cd", ""},             // space inside
		{"__cookie__:abc\n__cookie__:d", ""}, // two lines
	}
	for _, c := range cases {
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, CookieFile), []byte(c.content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := ReadCookie(dir)
		if c.token == "" {
			if !errors.Is(err, ErrBadCookie) {
				t.Fatalf("%q: got %q, %v; want ErrBadCookie", c.content, got, err)
			}
			continue
		}
		if err != nil || got != c.token {
			t.Fatalf("%q: got %q, %v; want %q", c.content, got, err, c.token)
		}
	}
}
