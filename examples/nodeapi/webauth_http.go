package nodeapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
)

// WebLoginResult is the answer to POST /ui/token: a one-time login token for the web page.
type WebLoginResult struct {
	// Token is the secret (64 hex digits); it works once, until ExpiresAt (unix seconds).
	Token     string `json:"token"`
	LoginPath string `json:"login_path"` // "/ui/login?token=…"
	ExpiresAt int64  `json:"expires_at"`
	// URL is LoginPath on the address the Client called (filled in by Client.WebLogin, not sent).
	URL string `json:"-"`
}

// errNoSession: the request carries no valid web session.
var errNoSession = errors.New("no web session")

// sessionAuth checks a request to POST / or GET /events that has no Authorization header: nil if it
// carries a live session cookie and passes checkCSRF; errNoSession, ErrCrossOrigin or ErrNotJSON
// otherwise.
func (s *Server) sessionAuth(r *http.Request) error {
	if s.web == nil || r.Header.Get("Authorization") != "" || !s.web.validSession(r) {
		return errNoSession
	}
	return checkCSRF(r)
}

// serveWebUI answers every path under /ui/: the token mint (cookie token), the login exchange (login
// token) and the page itself (session); anything else is 401 with a plain text saying how to log in.
func (s *Server) serveWebUI(w http.ResponseWriter, r *http.Request) {
	switch {
	case r.URL.Path == webUITokenPath:
		s.serveMintLogin(w, r)
	case r.URL.Path == webUILoginPath:
		s.serveLogin(w, r)
	case len(r.URL.Path) > maxWebUIPathBytes || !s.web.validSession(r):
		writeWebUnauthorized(w)
	case r.Header.Get("Origin") != "" && checkCSRF(r) != nil:
		http.Error(w, ErrCrossOrigin.Error(), http.StatusForbidden)
	default:
		setWebHeaders(w.Header())
		http.StripPrefix("/ui", s.cfg.webUI).ServeHTTP(w, r)
	}
}

// serveMintLogin answers POST /ui/token, for a caller with the cookie token, with a WebLoginResult.
func (s *Server) serveMintLogin(w http.ResponseWriter, r *http.Request) {
	if !s.authorized(r) {
		w.Header().Set("Connection", "close")
		writeErrorReply(w, http.StatusUnauthorized, CodeUnauthorized, "unauthorized: missing or wrong cookie")
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		writeErrorReply(w, http.StatusMethodNotAllowed, CodeInvalidRequest, "minting a login token must use POST")
		return
	}
	tok, exp, err := s.web.mintLogin()
	if err != nil {
		writeErrorReply(w, http.StatusInternalServerError, CodeInternal, "internal error: minting a login token")
		return
	}
	b, err := marshal(WebLoginResult{Token: tok, LoginPath: webUILoginPath + "?token=" + tok, ExpiresAt: exp.Unix()})
	if err != nil {
		writeErrorReply(w, http.StatusInternalServerError, CodeInternal, "internal error: encoding the reply")
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	writeJSON(w, http.StatusOK, b)
}

// serveLogin answers GET /ui/login?token=…: a valid login token (used up here) gets a session
// cookie and a redirect to /ui/; anything else gets 401.
func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		writeWebUnauthorized(w)
		return
	}
	session, expires, ok, err := s.web.login(r.URL.Query().Get("token"))
	if err != nil {
		http.Error(w, "internal error: starting a session", http.StatusInternalServerError)
		return
	}
	if !ok {
		writeWebUnauthorized(w)
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name:     SessionCookieName,
		Value:    session,
		Path:     "/",
		Expires:  expires,
		MaxAge:   int(SessionLifetime.Seconds()),
		HttpOnly: true,
		SameSite: http.SameSiteStrictMode,
	})
	setWebHeaders(w.Header())
	http.Redirect(w, r, webUIPrefix, http.StatusSeeOther)
}

// setWebHeaders sets what every answer to a logged-in browser carries: nothing cached, no framing,
// no referrer (the login URL held a token), scripts and connections only from the node itself.
func setWebHeaders(h http.Header) {
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Content-Security-Policy",
		"default-src 'self'; img-src 'self'; connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'")
}

func writeWebUnauthorized(w http.ResponseWriter) {
	w.Header().Set("Connection", "close")
	setWebHeaders(w.Header())
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = io.WriteString(w, unauthorizedWebText)
}

// WebLogin asks the node (with the cookie token) for a one-time login URL of its web page. It returns
// an *Error if the node refused (CodeInvalidRequest: no web page), or a wrapped transport error.
func (c *Client) WebLogin(ctx context.Context) (*WebLoginResult, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+webUITokenPath, nil)
	if err != nil {
		return nil, fmt.Errorf("nodeapi: web login: %w", err)
	}
	req.SetBasicAuth(CookieUser, c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("nodeapi: web login: %w", err)
	}
	defer resp.Body.Close()
	var res WebLoginResult
	if err := readJSONReply(resp, &res); err != nil {
		return nil, err
	}
	u, err := url.Parse(c.url + res.LoginPath)
	if err != nil || !strings.HasPrefix(res.LoginPath, webUILoginPath+"?") {
		return nil, fmt.Errorf("nodeapi: web login: %w: login path %.100q", ErrMalformedResponse, res.LoginPath)
	}
	res.URL = u.String()
	return &res, nil
}

// readJSONReply decodes a 200 reply's JSON body into dst; another status comes back as the reply's
// *Error when it has one, else as ErrMalformedResponse.
func readJSONReply(resp *http.Response, dst any) error {
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return fmt.Errorf("nodeapi: reading reply: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var r clientResponse
		if json.Unmarshal(data, &r) == nil && r.Error != nil {
			return r.Error
		}
		return fmt.Errorf("nodeapi: %w: HTTP %d: %.200q", ErrMalformedResponse, resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, dst); err != nil {
		return fmt.Errorf("nodeapi: %w: %v", ErrMalformedResponse, err)
	}
	return nil
}
