package nodeapi

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"mime"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The web page's login (WithWebUI). A caller holding the cookie token mints a one-time login token
// (POST /ui/token); GET /ui/login?token=… exchanges it for a session cookie and redirects to /ui/. The
// session cookie then opens /ui/… and authenticates POST / and GET /events, with CSRF checks.
const (
	// LoginTokenLifetime is how long a login token may wait before its one use.
	LoginTokenLifetime = 2 * time.Minute
	// SessionLifetime is how long a web session lasts from its login.
	SessionLifetime = 24 * time.Hour
	// SessionCookieName is the name of the web session's cookie.
	SessionCookieName = "lnkit_session"

	// maxLoginTokens bounds the login tokens waiting for their use; minting one more drops the oldest.
	maxLoginTokens = 16
	// maxSessions bounds the live sessions; a login beyond it ends the oldest session.
	maxSessions = 32
	// maxWebUIPathBytes bounds the paths under /ui/.
	maxWebUIPathBytes = 4096
)

// Paths of the web page's login.
const (
	webUIPrefix    = "/ui/"
	webUITokenPath = "/ui/token"
	webUILoginPath = "/ui/login"
)

// unauthorizedWebText is the whole answer to a /ui/ request without a valid session: no page asset
// is ever served before login.
const unauthorizedWebText = "unauthorized: run `lnkit-node webui` on the node's machine for a one-time login URL\n"

// Errors of a request authenticated by a web session (sent with HTTP 403).
var (
	// ErrCrossOrigin: the request's Origin is not the page's own.
	ErrCrossOrigin = errors.New("cross-origin request refused")
	// ErrNotJSON: a POST must have Content-Type application/json (a form post cannot).
	ErrNotJSON = errors.New("a request with a session cookie must have Content-Type: application/json")
)

// WithWebUI serves ui, the web page, under /ui/ to browsers logged in with a session (ui sees the
// path with /ui removed: "/" for the page, "/app.js", …). Without this option /ui/ paths are not
// found and session cookies are ignored; a nil ui is the same as no option.
func WithWebUI(ui http.Handler) ServerOption {
	return func(c *serverConfig) { c.webUI = ui }
}

// secretList holds up to max secrets by their SHA-256 digests, each with its expiry; lookups compare
// every entry in constant time.
type secretList struct {
	max     int
	entries []secretEntry // oldest first
}

type secretEntry struct {
	digest  [sha256.Size]byte
	expires time.Time
}

// add stores a new random secret valid until expires and returns it (64 hex digits).
func (l *secretList) add(now, expires time.Time) (string, error) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", err
	}
	secret := hex.EncodeToString(b[:])
	l.prune(now)
	if len(l.entries) >= l.max {
		l.entries = l.entries[len(l.entries)-l.max+1:]
	}
	l.entries = append(l.entries, secretEntry{digest: sha256.Sum256([]byte(secret)), expires: expires})
	return secret, nil
}

// find reports whether secret is held and not expired; with remove, a match is removed (one use).
func (l *secretList) find(secret string, now time.Time, remove bool) bool {
	l.prune(now)
	d := sha256.Sum256([]byte(secret))
	found := -1
	for i := range l.entries {
		if subtle.ConstantTimeCompare(d[:], l.entries[i].digest[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return false
	}
	if remove {
		l.entries = append(l.entries[:found], l.entries[found+1:]...)
	}
	return true
}

// prune drops expired entries.
func (l *secretList) prune(now time.Time) {
	kept := l.entries[:0]
	for _, e := range l.entries {
		if now.Before(e.expires) {
			kept = append(kept, e)
		}
	}
	l.entries = kept
}

// webAuth holds the login tokens and sessions of the web page. It is safe for concurrent use.
type webAuth struct {
	now      func() time.Time
	mu       sync.Mutex
	logins   secretList
	sessions secretList
}

func newWebAuth(now func() time.Time) *webAuth {
	return &webAuth{now: now, logins: secretList{max: maxLoginTokens}, sessions: secretList{max: maxSessions}}
}

// mintLogin returns a new one-time login token and its expiry.
func (a *webAuth) mintLogin() (string, time.Time, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	exp := now.Add(LoginTokenLifetime)
	tok, err := a.logins.add(now, exp)
	return tok, exp, err
}

// login uses token up and returns a new session, or ok false if the token is unknown, used or
// expired.
func (a *webAuth) login(token string) (session string, expires time.Time, ok bool, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	if !a.logins.find(token, now, true) {
		return "", time.Time{}, false, nil
	}
	expires = now.Add(SessionLifetime)
	session, err = a.sessions.add(now, expires)
	return session, expires, err == nil, err
}

// validSession reports whether r carries the cookie of a live session.
func (a *webAuth) validSession(r *http.Request) bool {
	c, err := r.Cookie(SessionCookieName)
	if err != nil || c.Value == "" {
		return false
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.sessions.find(c.Value, a.now(), false)
}

// checkCSRF applies the rules for a request authenticated by a session cookie (beyond the cookie's
// SameSite=Strict): an Origin header, when present, must be the request's own ("http://" + Host);
// a POST must have Content-Type application/json, which a cross-site form cannot send. It returns
// ErrCrossOrigin or ErrNotJSON.
func checkCSRF(r *http.Request) error {
	if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
		return ErrCrossOrigin
	}
	if r.Method == http.MethodPost {
		mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "application/json" {
			return ErrNotJSON
		}
	}
	return nil
}

// isWebUIPath reports whether path belongs to the web page (/ui and everything under /ui/).
func isWebUIPath(path string) bool {
	return path == "/ui" || strings.HasPrefix(path, webUIPrefix)
}
