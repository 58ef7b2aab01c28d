package nodeapi

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// fakeClock is a settable clock safe to read from the server's goroutines.
type fakeClock struct{ unixNano atomic.Int64 }

func (c *fakeClock) now() time.Time                    { return time.Unix(0, c.unixNano.Load()) }
func (c *fakeClock) advance(d time.Duration)           { c.unixNano.Add(int64(d)) }
func newFakeClock() *fakeClock                         { c := &fakeClock{}; c.unixNano.Store(time.Now().UnixNano()); return c }
func pageHandler() http.Handler                        { return http.HandlerFunc(servePage) }
func servePage(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "page:"+r.URL.Path) }

// webServer starts a Server with a web page (which answers "page:<path>") on a fake clock; it
// returns the server's URL, a cookie-token client and the clock.
func webServer(t *testing.T) (string, *Client, *fakeClock) {
	t.Helper()
	s := NewServer(newFake(), testToken, nil, WithWebUI(pageHandler()))
	clock := newFakeClock()
	s.web.now = clock.now
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	c := NewClient(ts.URL, testToken)
	t.Cleanup(c.Close)
	return ts.URL, c, clock
}

// webDo sends a request with optional session cookie and headers, without following redirects; it
// returns the response with its body read.
func webDo(t *testing.T, method, u, session, body string, headers ...string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if session != "" {
		req.AddCookie(&http.Cookie{Name: SessionCookieName, Value: session})
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

// webLogin mints a login URL with c and exchanges it, returning the session cookie's value.
func webLogin(t *testing.T, c *Client) string {
	t.Helper()
	login, err := c.WebLogin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := webDo(t, http.MethodGet, login.URL, "", "")
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: HTTP %d", resp.StatusCode)
	}
	for _, ck := range resp.Cookies() {
		if ck.Name == SessionCookieName {
			return ck.Value
		}
	}
	t.Fatal("login: no session cookie")
	return ""
}

const getinfoBody = `{"jsonrpc":"2.0","id":1,"method":"getinfo"}`

// mustUnauthorizedPage checks a /ui/ answer without a session: 401, plain text saying how to log
// in, no page.
func mustUnauthorizedPage(t *testing.T, what string, resp *http.Response, body string) {
	t.Helper()
	if resp.StatusCode != http.StatusUnauthorized || body != unauthorizedWebText ||
		!strings.HasPrefix(resp.Header.Get("Content-Type"), "text/plain") {
		t.Fatalf("%s: HTTP %d %q (%s), want 401 with the login hint", what, resp.StatusCode, body, resp.Header.Get("Content-Type"))
	}
}

func TestWebLoginOnce(t *testing.T) {
	base, c, _ := webServer(t)

	// No session: 401 everywhere, and no page.
	for _, p := range []string{"/ui/", "/ui", "/ui/app.js", "/ui/qr.png?data=x", "/ui/login", "/ui/login?token=00"} {
		resp, body := webDo(t, http.MethodGet, base+p, "", "")
		mustUnauthorizedPage(t, p, resp, body)
	}
	if resp, _ := webDo(t, http.MethodPost, base+"/", "", getinfoBody, "Content-Type", "application/json"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST / without a session: HTTP %d", resp.StatusCode)
	}
	if resp, _ := webDo(t, http.MethodGet, base+"/events", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /events without a session: HTTP %d", resp.StatusCode)
	}

	// The login URL gives a session cookie and redirects to the page.
	login, err := c.WebLogin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(login.URL, base+"/ui/login?token=") || len(login.Token) != 64 {
		t.Fatalf("login URL %q, token %q", login.URL, login.Token)
	}
	resp, _ := webDo(t, http.MethodGet, login.URL, "", "")
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/ui/" {
		t.Fatalf("login: HTTP %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	var session *http.Cookie
	for _, ck := range resp.Cookies() {
		if ck.Name == SessionCookieName {
			session = ck
		}
	}
	if session == nil || len(session.Value) != 64 || !session.HttpOnly || session.Secure ||
		session.SameSite != http.SameSiteStrictMode || session.Path != "/" || session.MaxAge != int(SessionLifetime.Seconds()) {
		t.Fatalf("session cookie %+v", session)
	}
	// The token worked once.
	resp, body := webDo(t, http.MethodGet, login.URL, "", "")
	mustUnauthorizedPage(t, "second use of the login URL", resp, body)

	// The session opens the page, the API and the event stream.
	resp, body = webDo(t, http.MethodGet, base+"/ui/", session.Value, "")
	if resp.StatusCode != http.StatusOK || body != "page:/" || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("page: HTTP %d %q %v", resp.StatusCode, body, resp.Header)
	}
	resp, body = webDo(t, http.MethodPost, base+"/", session.Value, getinfoBody, "Content-Type", "application/json")
	if resp.StatusCode != http.StatusOK || !strings.Contains(body, `"result"`) {
		t.Fatalf("POST / with a session: HTTP %d %s", resp.StatusCode, body)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/events", nil)
	req.AddCookie(&http.Cookie{Name: SessionCookieName, Value: session.Value})
	sresp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer sresp.Body.Close()
	line, _ := bufio.NewReader(sresp.Body).ReadString('\n')
	if sresp.StatusCode != http.StatusOK || line != ": subscribed\n" {
		t.Fatalf("events with a session: HTTP %d %q", sresp.StatusCode, line)
	}
	// A wrong session is no session.
	resp, body = webDo(t, http.MethodGet, base+"/ui/", strings.Repeat("0", 64), "")
	mustUnauthorizedPage(t, "wrong session", resp, body)
}

func TestWebLoginExpires(t *testing.T) {
	base, c, clock := webServer(t)
	login, err := c.WebLogin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := clock.now().Add(LoginTokenLifetime).Unix(); login.ExpiresAt != want {
		t.Fatalf("expires_at %d, want %d", login.ExpiresAt, want)
	}
	clock.advance(LoginTokenLifetime)
	resp, body := webDo(t, http.MethodGet, login.URL, "", "")
	mustUnauthorizedPage(t, "expired login token", resp, body)

	session := webLogin(t, c)
	clock.advance(SessionLifetime - time.Second)
	if resp, _ := webDo(t, http.MethodGet, base+"/ui/", session, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("session before its end: HTTP %d", resp.StatusCode)
	}
	clock.advance(time.Second)
	resp, body = webDo(t, http.MethodGet, base+"/ui/", session, "")
	mustUnauthorizedPage(t, "expired session", resp, body)
	resp, _ = webDo(t, http.MethodPost, base+"/", session, getinfoBody, "Content-Type", "application/json")
	if resp.StatusCode != http.StatusUnauthorized || resp.Header.Get("WWW-Authenticate") != "" {
		t.Fatalf("POST / with an expired session: HTTP %d, WWW-Authenticate %q (a browser would prompt)",
			resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
}

func TestWebSessionCSRF(t *testing.T) {
	base, c, _ := webServer(t)
	session := webLogin(t, c)
	host := strings.TrimPrefix(base, "http://")
	cases := []struct {
		name    string
		method  string
		path    string
		headers []string
		status  int
	}{
		{"cross-origin POST", http.MethodPost, "/", []string{"Content-Type", "application/json", "Origin", "http://evil.example"}, http.StatusForbidden},
		{"POST from another port", http.MethodPost, "/", []string{"Content-Type", "application/json", "Origin", "http://127.0.0.1:1"}, http.StatusForbidden},
		{"form-encoded POST", http.MethodPost, "/", []string{"Content-Type", "application/x-www-form-urlencoded"}, http.StatusForbidden},
		{"text/plain POST", http.MethodPost, "/", []string{"Content-Type", "text/plain"}, http.StatusForbidden},
		{"POST without a type", http.MethodPost, "/", nil, http.StatusForbidden},
		{"cross-origin event stream", http.MethodGet, "/events", []string{"Origin", "http://evil.example"}, http.StatusForbidden},
		{"cross-origin page", http.MethodGet, "/ui/", []string{"Origin", "http://evil.example"}, http.StatusForbidden},
		{"same-origin POST", http.MethodPost, "/", []string{"Content-Type", "application/json; charset=utf-8", "Origin", "http://" + host}, http.StatusOK},
	}
	for _, tc := range cases {
		resp, body := webDo(t, tc.method, base+tc.path, session, getinfoBody, tc.headers...)
		if resp.StatusCode != tc.status {
			t.Fatalf("%s: HTTP %d %s, want %d", tc.name, resp.StatusCode, body, tc.status)
		}
		if tc.status == http.StatusForbidden && strings.Contains(body, `"result"`) {
			t.Fatalf("%s: answered %s", tc.name, body)
		}
	}
}

func TestWebTokenNeedsCookie(t *testing.T) {
	base, c, _ := webServer(t)
	session := webLogin(t, c)
	// Neither nobody nor a session can mint a login token; only the cookie token can.
	if resp, _ := webDo(t, http.MethodPost, base+"/ui/token", "", ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("mint without credentials: HTTP %d", resp.StatusCode)
	}
	if resp, _ := webDo(t, http.MethodPost, base+"/ui/token", session, "", "Content-Type", "application/json"); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("mint with a session: HTTP %d", resp.StatusCode)
	}
	if resp, _ := webDo(t, http.MethodGet, base+"/ui/token", "", "", "Authorization", authHeader()); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("mint by GET: HTTP %d", resp.StatusCode)
	}
	// The cookie token does not open the page: the page is for sessions.
	resp, body := webDo(t, http.MethodGet, base+"/ui/", "", "", "Authorization", authHeader())
	mustUnauthorizedPage(t, "page with the cookie token", resp, body)
}

func TestWebLoginBounds(t *testing.T) {
	base, c, _ := webServer(t)
	var urls []string
	for range maxLoginTokens + 1 {
		login, err := c.WebLogin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		urls = append(urls, login.URL)
	}
	// The oldest token was dropped; the newest works.
	resp, body := webDo(t, http.MethodGet, urls[0], "", "")
	mustUnauthorizedPage(t, "dropped login token", resp, body)
	if resp, _ := webDo(t, http.MethodGet, urls[len(urls)-1], "", ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("newest login token: HTTP %d", resp.StatusCode)
	}

	first := webLogin(t, c)
	last := ""
	for range maxSessions - 1 {
		last = webLogin(t, c)
	}
	// first is now the oldest of maxSessions sessions (the login above made one more): it lasts
	// until one more login.
	if resp, _ := webDo(t, http.MethodGet, base+"/ui/", first, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("the oldest of %d sessions: HTTP %d", maxSessions, resp.StatusCode)
	}
	webLogin(t, c)
	if resp, _ := webDo(t, http.MethodGet, base+"/ui/", first, ""); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("the oldest session after %d more logins: HTTP %d", maxSessions, resp.StatusCode)
	}
	if resp, _ := webDo(t, http.MethodGet, base+"/ui/", last, ""); resp.StatusCode != http.StatusOK {
		t.Fatalf("a later session: HTTP %d", resp.StatusCode)
	}
}

func TestWebUIOff(t *testing.T) {
	s := NewServer(newFake(), testToken, nil)
	ts := httptest.NewServer(s)
	defer ts.Close()
	c := NewClient(ts.URL, testToken)
	defer c.Close()
	_, err := c.WebLogin(context.Background())
	var rpcErr *Error
	if err == nil || !errors.As(err, &rpcErr) || rpcErr.Code != CodeInvalidRequest {
		t.Fatalf("web login without a web page: %v", err)
	}
	// A session cookie means nothing without the option.
	resp, _ := webDo(t, http.MethodPost, ts.URL+"/", strings.Repeat("0", 64), getinfoBody, "Content-Type", "application/json")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("POST / with a cookie, no web page: HTTP %d", resp.StatusCode)
	}
}

func TestCLIWebUI(t *testing.T) {
	base, c, _ := webServer(t)
	code, out, errOut := runCLI(c, "webui")
	lines := strings.Split(strings.TrimSuffix(out, "\n"), "\n")
	if code != 0 || errOut != "" || len(lines) != 2 || !strings.HasPrefix(lines[0], base+"/ui/login?token=") ||
		!strings.Contains(lines[1], "works once") {
		t.Fatalf("webui: %d %q %q", code, out, errOut)
	}
	u, err := url.Parse(lines[0])
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := webDo(t, http.MethodGet, u.String(), "", ""); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("the printed URL logs in: HTTP %d", resp.StatusCode)
	}
	if code, out, _ := runCLI(nil, "help", "webui"); code != 0 || !strings.Contains(out, "works once, within 2 minutes") {
		t.Fatalf("help webui: %d %q", code, out)
	}
	// A wrong cookie: the error, status 1.
	if code, _, errOut := runCLI(NewClient(base, "wrong"), "webui"); code != 1 || !strings.Contains(errOut, "unauthorized") {
		t.Fatalf("webui with a wrong cookie: %d %q", code, errOut)
	}
}
