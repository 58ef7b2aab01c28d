package nodeapi

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Server defaults; each can be changed with a ServerOption.
const (
	// DefaultMaxBodyBytes bounds a request body (1 MiB); a larger body is answered with HTTP 413.
	DefaultMaxBodyBytes = 1 << 20
	// DefaultCallTimeout caps how long one method call may take, whatever the client asks; methods
	// that wait (openchannel, payinvoice, keysend) see it as their context's deadline.
	DefaultCallTimeout = 120 * time.Second
	// DefaultKeepAliveInterval is how often an idle event stream gets a comment line, so proxies
	// and clients see the connection is alive.
	DefaultKeepAliveInterval = 15 * time.Second
	// DefaultMaxBatch bounds the number of requests in one batch.
	DefaultMaxBatch = 1000
	// DefaultBodyTimeout bounds how long a request's body may take to arrive (headers: 10 s).
	DefaultBodyTimeout = 10 * time.Second

	// sseWriteTimeout bounds one write to an event stream; a client that stops reading is dropped.
	sseWriteTimeout = 30 * time.Second
)

type serverConfig struct {
	maxBodyBytes int64
	bodyTimeout  time.Duration
	callTimeout  time.Duration
	keepAlive    time.Duration
	maxBatch     int
	webUI        http.Handler // WithWebUI; nil: no web page
}

// ServerOption changes a Server setting; pass options to NewServer.
type ServerOption func(*serverConfig)

// WithMaxBodyBytes sets the largest accepted request body, in bytes (default DefaultMaxBodyBytes).
// Values <= 0 are ignored.
func WithMaxBodyBytes(n int64) ServerOption {
	return func(c *serverConfig) {
		if n > 0 {
			c.maxBodyBytes = n
		}
	}
}

// WithBodyTimeout sets how long a request's body may take to arrive (default DefaultBodyTimeout): a
// client that sends its headers and then trickles the body, or never sends it, is cut off then.
// Values <= 0 are ignored.
func WithBodyTimeout(d time.Duration) ServerOption {
	return func(c *serverConfig) {
		if d > 0 {
			c.bodyTimeout = d
		}
	}
}

// WithCallTimeout sets the server-side cap on one method call (default DefaultCallTimeout).
// Values <= 0 are ignored.
func WithCallTimeout(d time.Duration) ServerOption {
	return func(c *serverConfig) {
		if d > 0 {
			c.callTimeout = d
		}
	}
}

// WithKeepAliveInterval sets how often an idle event stream gets a keep-alive comment (default
// DefaultKeepAliveInterval). Values <= 0 are ignored.
func WithKeepAliveInterval(d time.Duration) ServerOption {
	return func(c *serverConfig) {
		if d > 0 {
			c.keepAlive = d
		}
	}
}

// WithMaxBatch sets the largest number of requests accepted in one batch (default DefaultMaxBatch).
// Values <= 0 are ignored.
func WithMaxBatch(n int) ServerOption {
	return func(c *serverConfig) {
		if n > 0 {
			c.maxBatch = n
		}
	}
}

// Server serves a Service as JSON-RPC 2.0 over HTTP (POST /) and its events as Server-Sent Events
// (GET /events). Every request must carry the cookie token, either as HTTP Basic auth with user
// CookieUser (as bitcoind's cookie) or as "Authorization: Bearer <token>".
//
// A Server is an http.Handler; Serve and Shutdown run it on a listener. It is safe for concurrent
// use.
type Server struct {
	svc         Service
	tokenDigest [sha256.Size]byte
	userDigest  [sha256.Size]byte
	hasToken    bool
	logger      *slog.Logger
	cfg         serverConfig

	// ctx is canceled by Shutdown: it ends event streams and the contexts of calls in progress.
	ctx    context.Context
	cancel context.CancelFunc

	mu      sync.Mutex
	servers []*http.Server
	hooked  map[*http.Server]bool // http.Servers whose Shutdown also shuts this Server down
	closed  bool

	activeStreams atomic.Int64 // event streams being served (for tests)

	web *webAuth // the web page's logins and sessions (webauth.go); nil without WithWebUI
}

// NewServer returns a Server exposing svc. token is the secret of the cookie file (see
// WriteCookie); an empty token refuses every request. A nil logger discards logs.
func NewServer(svc Service, token string, logger *slog.Logger, opts ...ServerOption) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg := serverConfig{
		maxBodyBytes: DefaultMaxBodyBytes,
		bodyTimeout:  DefaultBodyTimeout,
		callTimeout:  DefaultCallTimeout,
		keepAlive:    DefaultKeepAliveInterval,
		maxBatch:     DefaultMaxBatch,
	}
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		svc:         svc,
		tokenDigest: sha256.Sum256([]byte(token)),
		userDigest:  sha256.Sum256([]byte(CookieUser)),
		hasToken:    token != "",
		logger:      logger,
		cfg:         cfg,
		ctx:         ctx,
		cancel:      cancel,
	}
	if cfg.webUI != nil {
		s.web = newWebAuth(time.Now)
	}
	return s
}

// Handler returns the Server as an http.Handler.
func (s *Server) Handler() http.Handler { return s }

// Serve accepts connections on l until Shutdown is called; it then returns http.ErrServerClosed.
// It may be called for several listeners.
func (s *Server) Serve(l net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger.Handler(), slog.LevelWarn),
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		l.Close()
		return http.ErrServerClosed
	}
	s.servers = append(s.servers, hs)
	s.mu.Unlock()
	return hs.Serve(l)
}

// Shutdown stops the Server: listeners are closed, event streams end, calls in progress see their
// context canceled, and Shutdown waits for their replies to be written (until ctx is done, when it
// returns ctx's error). A Server cannot be restarted: later calls get a canceled context.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	servers := s.servers
	s.mu.Unlock()
	s.cancel()
	var errs []error
	for _, hs := range servers {
		if err := hs.Shutdown(ctx); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// ServeHTTP implements http.Handler. When the Server is the handler of an http.Server of the
// caller's, that http.Server's Shutdown also ends event streams and cancels calls in progress (as
// Server.Shutdown does), so that it does not wait for streams that never end.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if hs, ok := r.Context().Value(http.ServerContextKey).(*http.Server); ok {
		s.hookShutdown(hs)
	}
	if s.web != nil && isWebUIPath(r.URL.Path) {
		s.serveWebUI(w, r)
		return
	}
	if !s.authorized(r) {
		// A browser logged in to the web page (webauth.go) is authorized by its session cookie.
		err := s.sessionAuth(r)
		if err != nil && !errors.Is(err, errNoSession) {
			writeErrorReply(w, http.StatusForbidden, CodeUnauthorized, "forbidden: "+err.Error())
			return
		}
		if err != nil {
			// The body is never read: close the connection rather than wait for it (a slow client
			// holds nothing then).
			w.Header().Set("Connection", "close")
			if _, cerr := r.Cookie(SessionCookieName); cerr != nil {
				// (not to a browser whose session ended: it would prompt for a password)
				w.Header().Set("WWW-Authenticate", `Basic realm="lnkit"`)
			}
			writeErrorReply(w, http.StatusUnauthorized, CodeUnauthorized, "unauthorized: missing or wrong cookie")
			return
		}
	}
	switch r.URL.Path {
	case "/":
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", http.MethodPost)
			writeErrorReply(w, http.StatusMethodNotAllowed, CodeInvalidRequest, "JSON-RPC requests must use POST")
			return
		}
		s.serveRPC(w, r)
	case "/events":
		if r.Method != http.MethodGet {
			w.Header().Set("Allow", http.MethodGet)
			writeErrorReply(w, http.StatusMethodNotAllowed, CodeInvalidRequest, "the event stream must use GET")
			return
		}
		s.serveEvents(w, r)
	default:
		writeErrorReply(w, http.StatusNotFound, CodeInvalidRequest, "not found: use POST / or GET /events")
	}
}

// hookShutdown makes hs's Shutdown cancel s.ctx (once per http.Server).
func (s *Server) hookShutdown(hs *http.Server) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hooked[hs] {
		return
	}
	if s.hooked == nil {
		s.hooked = map[*http.Server]bool{}
	}
	s.hooked[hs] = true
	hs.RegisterOnShutdown(s.cancel)
}

// authorized reports whether r carries the token. Both the user name and the token are compared as
// SHA-256 digests with subtle.ConstantTimeCompare, so the time taken depends neither on where a
// wrong value differs nor on its length.
func (s *Server) authorized(r *http.Request) bool {
	h := r.Header.Get("Authorization")
	var user, pass string
	switch {
	case len(h) > 6 && strings.EqualFold(h[:6], "Basic "):
		var ok bool
		user, pass, ok = r.BasicAuth()
		if !ok {
			return false
		}
	case len(h) > 7 && strings.EqualFold(h[:7], "Bearer "):
		user, pass = CookieUser, strings.TrimSpace(h[7:])
	default:
		return false
	}
	return s.checkCredentials(user, pass)
}

func (s *Server) checkCredentials(user, pass string) bool {
	u := sha256.Sum256([]byte(user))
	p := sha256.Sum256([]byte(pass))
	okUser := subtle.ConstantTimeCompare(u[:], s.userDigest[:])
	okPass := subtle.ConstantTimeCompare(p[:], s.tokenDigest[:])
	return okUser&okPass == 1 && s.hasToken
}

func (s *Server) serveRPC(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(s.cfg.bodyTimeout)) // the headers had ReadHeaderTimeout
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.maxBodyBytes))
	if err != nil {
		// What is left of the body is not read: close the connection after the reply.
		w.Header().Set("Connection", "close")
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			writeErrorReply(w, http.StatusRequestEntityTooLarge, CodeInvalidRequest,
				fmt.Sprintf("request body larger than %d bytes", s.cfg.maxBodyBytes))
			return
		}
		writeErrorReply(w, http.StatusBadRequest, CodeParseError, "reading request body: "+err.Error())
		return
	}
	_ = rc.SetReadDeadline(time.Time{})
	reply := s.handleBody(r.Context(), body)
	if reply == nil {
		// Only notifications: JSON-RPC 2.0 sends nothing back.
		w.WriteHeader(http.StatusNoContent)
		return
	}
	writeJSON(w, http.StatusOK, reply)
}

// response is a JSON-RPC 2.0 response object. ID is the request's id, byte for byte.
type response struct {
	JSONRPC string          `json:"jsonrpc"`
	Result  json.RawMessage `json:"result,omitempty"`
	Error   *Error          `json:"error,omitempty"`
	ID      json.RawMessage `json:"id"`
}

var nullID = json.RawMessage("null")

func errorResponse(id json.RawMessage, code int, msg string) *response {
	if id == nil {
		id = nullID
	}
	return &response{JSONRPC: "2.0", Error: &Error{Code: code, Message: msg}, ID: id}
}

// internalErrorReply is sent if a reply cannot be encoded (it never should).
var internalErrorReply = []byte(`{"jsonrpc":"2.0","error":{"code":-32603,"message":"internal error: encoding the reply"},"id":null}`)

// handleBody answers one HTTP request body: a request or a batch. It returns nil when nothing is to
// be sent back (the body held only notifications).
func (s *Server) handleBody(ctx context.Context, body []byte) []byte {
	var reply any
	trimmed := bytes.TrimLeft(body, " \t\r\n")
	switch {
	case !json.Valid(body):
		reply = errorResponse(nil, CodeParseError, "parse error: the body is not valid JSON")
	case trimmed[0] == '[':
		var elems []json.RawMessage
		if err := json.Unmarshal(body, &elems); err != nil {
			reply = errorResponse(nil, CodeParseError, "parse error: "+err.Error())
			break
		}
		if len(elems) == 0 {
			reply = errorResponse(nil, CodeInvalidRequest, "invalid request: empty batch")
			break
		}
		if len(elems) > s.cfg.maxBatch {
			reply = errorResponse(nil, CodeInvalidRequest,
				fmt.Sprintf("invalid request: batch of %d requests, at most %d allowed", len(elems), s.cfg.maxBatch))
			break
		}
		var out []*response
		for _, e := range elems {
			if resp := s.handleOne(ctx, e); resp != nil {
				out = append(out, resp)
			}
		}
		if len(out) == 0 {
			return nil
		}
		reply = out
	default:
		resp := s.handleOne(ctx, body)
		if resp == nil {
			return nil
		}
		reply = resp
	}
	b, err := marshal(reply)
	if err != nil {
		s.logger.Error("nodeapi: encoding reply", "err", err)
		return internalErrorReply
	}
	return b
}

// marshal encodes v without escaping <, > and & so that ids and texts go back as they came.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}

// handleOne answers one request object; it returns nil for a well-formed notification.
func (s *Server) handleOne(ctx context.Context, raw json.RawMessage) *response {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil || m == nil {
		return errorResponse(nil, CodeInvalidRequest, "invalid request: a request must be a JSON object")
	}
	id, hasID := m["id"]
	if hasID {
		id = bytes.TrimSpace(id)
		if !validID(id) {
			return errorResponse(nil, CodeInvalidRequest, "invalid request: id must be a string, a number or null")
		}
	}
	var version string
	if v, ok := m["jsonrpc"]; !ok || json.Unmarshal(v, &version) != nil || version != "2.0" {
		return errorResponse(id, CodeInvalidRequest, `invalid request: "jsonrpc" must be "2.0"`)
	}
	var method string
	if v, ok := m["method"]; !ok || isNull(bytes.TrimSpace(v)) || json.Unmarshal(v, &method) != nil {
		return errorResponse(id, CodeInvalidRequest, `invalid request: "method" must be a string`)
	}
	params := bytes.TrimSpace(m["params"])
	if len(params) > 0 && params[0] != '{' && params[0] != '[' && !isNull(params) {
		return errorResponse(id, CodeInvalidRequest, `invalid request: "params" must be an object or an array`)
	}

	result, rpcErr := s.call(ctx, method, params)
	if !hasID {
		return nil
	}
	if rpcErr != nil {
		return errorResponse(id, rpcErr.Code, rpcErr.Message)
	}
	return &response{JSONRPC: "2.0", Result: result, ID: id}
}

// validID reports whether id (valid JSON) is a string, a number or null.
func validID(id []byte) bool {
	if len(id) == 0 {
		return false
	}
	switch c := id[0]; {
	case c == '"', c == '-', c >= '0' && c <= '9':
		return true
	default:
		return isNull(id)
	}
}

func isNull(b []byte) bool { return string(b) == "null" }

// call runs one method and returns its JSON result or the error to send. A panic in the service is
// recovered and reported as CodeInternal.
func (s *Server) call(ctx context.Context, name string, params json.RawMessage) (result json.RawMessage, rpcErr *Error) {
	h, ok := methods[name]
	if !ok {
		return nil, &Error{Code: CodeMethodNotFound, Message: fmt.Sprintf("method not found: %.64q", name)}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.callTimeout)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()

	start := time.Now()
	defer func() {
		if p := recover(); p != nil {
			s.logger.Error("nodeapi: panic in method", "method", name, "panic", fmt.Sprint(p),
				"stack", string(debug.Stack()))
			result, rpcErr = nil, &Error{Code: CodeInternal, Message: "internal error"}
		}
		if rpcErr != nil {
			s.logger.Debug("nodeapi: call failed", "method", name, "code", rpcErr.Code,
				"err", rpcErr.Message, "took", time.Since(start))
		} else {
			s.logger.Debug("nodeapi: call", "method", name, "took", time.Since(start))
		}
	}()

	v, err := h.invoke(ctx, s.svc, params)
	if err != nil {
		return nil, toRPCError(err)
	}
	b, err := marshal(v)
	if err != nil {
		return nil, &Error{Code: CodeInternal, Message: "internal error: encoding the result: " + err.Error()}
	}
	return b, nil
}

// toRPCError maps a Service error to the error sent, as the Service documentation says.
func toRPCError(err error) *Error {
	var e *Error
	if errors.As(err, &e) && e != nil {
		return &Error{Code: e.Code, Message: e.Message}
	}
	if errors.Is(err, ErrInvalidParams) {
		return &Error{Code: CodeInvalidParams, Message: err.Error()}
	}
	return &Error{Code: CodeFailed, Message: err.Error()}
}

// handler calls one Service method with decoded params.
type handler struct {
	invoke func(ctx context.Context, svc Service, params json.RawMessage) (any, error)
}

func noParams[R any](f func(Service, context.Context) (R, error)) handler {
	return handler{invoke: func(ctx context.Context, svc Service, raw json.RawMessage) (any, error) {
		if err := decodeParams(raw, nil, &struct{}{}); err != nil {
			return nil, err
		}
		return f(svc, ctx)
	}}
}

func withParams[P, R any](f func(Service, context.Context, P) (R, error)) handler {
	names := jsonFieldNames(reflect.TypeFor[P]())
	return handler{invoke: func(ctx context.Context, svc Service, raw json.RawMessage) (any, error) {
		var p P
		if err := decodeParams(raw, names, &p); err != nil {
			return nil, err
		}
		return f(svc, ctx, p)
	}}
}

// jsonFieldNames lists the JSON names of a params struct's fields in declaration order: the order
// of positional params.
func jsonFieldNames(t reflect.Type) []string {
	var names []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	return names
}

var methods = map[string]handler{
	MethodGetInfo:           noParams(Service.GetInfo),
	MethodConnect:           withParams(Service.Connect),
	MethodListPeers:         noParams(Service.ListPeers),
	MethodNewAddress:        noParams(Service.NewAddress),
	MethodWalletBalance:     noParams(Service.WalletBalance),
	MethodListBalances:      noParams(Service.ListBalances),
	MethodOpenChannel:       withParams(Service.OpenChannel),
	MethodListChannels:      noParams(Service.ListChannels),
	MethodCloseChannel:      withParams(Service.CloseChannel),
	MethodInvoice:           withParams(Service.Invoice),
	MethodDecodeInvoice:     withParams(Service.DecodeInvoice),
	MethodPayInvoice:        withParams(Service.PayInvoice),
	MethodKeysend:           withParams(Service.Keysend),
	MethodSendPayment:       withParams(Service.SendPayment),
	MethodListPayments:      noParams(Service.ListPayments),
	MethodListInvoices:      noParams(Service.ListInvoices),
	MethodDescribeGraph:     noParams(Service.DescribeGraph),
	MethodGetNodeInfo:       withParams(Service.GetNodeInfo),
	MethodQueryRoutes:       withParams(Service.QueryRoutes),
	MethodForwardingHistory: withParams(Service.ForwardingHistory),
	MethodUpdateChanPolicy:  withParams(Service.UpdateChanPolicy),
	MethodSendCustomMessage: withParams(Service.SendCustomMessage),
	MethodStop: noParams(func(svc Service, ctx context.Context) (struct{}, error) {
		return struct{}{}, svc.Stop(ctx)
	}),
}

// decodeParams decodes raw (absent, null, an object or an array of positional values named by
// names) into dst, refusing unknown fields, extra positional values and wrong types. Errors wrap
// ErrInvalidParams.
func decodeParams(raw json.RawMessage, names []string, dst any) error {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || isNull(raw) {
		return nil
	}
	if raw[0] == '[' {
		var elems []json.RawMessage
		if err := json.Unmarshal(raw, &elems); err != nil {
			return fmt.Errorf("%w: %s", ErrInvalidParams, strings.TrimPrefix(err.Error(), "json: "))
		}
		if len(elems) > len(names) {
			return fmt.Errorf("%w: %d positional params given, at most %d accepted (%s)",
				ErrInvalidParams, len(elems), len(names), strings.Join(names, ", "))
		}
		obj := make(map[string]json.RawMessage, len(elems))
		for i, e := range elems {
			obj[names[i]] = e
		}
		var err error
		if raw, err = json.Marshal(obj); err != nil {
			return fmt.Errorf("%w: %s", ErrInvalidParams, err)
		}
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(dst); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return fmt.Errorf("%w: %s: expected %s, got %s", ErrInvalidParams, te.Field, kindName(te.Type), te.Value)
		}
		if errors.As(err, &te) {
			return fmt.Errorf("%w: expected an object or an array, got %s", ErrInvalidParams, te.Value)
		}
		return fmt.Errorf("%w: %s", ErrInvalidParams, strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

func kindName(t reflect.Type) string {
	if t == nil {
		return "another type"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "a boolean"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer (" + t.Kind().String() + ")"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return "a non-negative integer (" + t.Kind().String() + ")"
	default:
		return t.String()
	}
}

// serveEvents streams svc's events as Server-Sent Events until the client goes away, the service
// closes the subscription or the Server shuts down; the subscription is canceled in every case.
func (s *Server) serveEvents(w http.ResponseWriter, r *http.Request) {
	rc := http.NewResponseController(w)
	events, unsubscribe, err := s.subscribe()
	if err != nil {
		writeErrorReply(w, http.StatusInternalServerError, CodeInternal, "internal error: subscribing to events")
		return
	}
	defer unsubscribe()
	s.activeStreams.Add(1)
	defer s.activeStreams.Add(-1)
	// A write deadline left behind would break the next request on a reused connection.
	defer rc.SetWriteDeadline(time.Time{})

	h := w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.WriteHeader(http.StatusOK)
	// The first comment tells the client the subscription is in place.
	if !s.writeFrame(w, rc, ": subscribed\n\n") {
		return
	}
	ticker := time.NewTicker(s.cfg.keepAlive)
	defer ticker.Stop()
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.ctx.Done():
			return
		case <-ticker.C:
			if !s.writeFrame(w, rc, ": keep-alive\n\n") {
				return
			}
		case ev, ok := <-events:
			if !ok {
				return
			}
			data, err := json.Marshal(ev)
			if err != nil {
				s.logger.Error("nodeapi: encoding event", "err", err)
				continue
			}
			if !s.writeFrame(w, rc, "event: "+sseField(ev.Type)+"\ndata: "+string(data)+"\n\n") {
				return
			}
		}
	}
}

// subscribe calls svc.SubscribeEvents, turning a panic into an error.
func (s *Server) subscribe() (events <-chan Event, unsubscribe func(), err error) {
	defer func() {
		if p := recover(); p != nil {
			s.logger.Error("nodeapi: panic in SubscribeEvents", "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
			err = fmt.Errorf("panic: %v", p)
		}
	}()
	events, unsubscribe = s.svc.SubscribeEvents()
	if unsubscribe == nil {
		unsubscribe = func() {}
	}
	return events, unsubscribe, nil
}

// writeFrame writes and flushes one SSE frame; false means the client is gone.
func (s *Server) writeFrame(w http.ResponseWriter, rc *http.ResponseController, frame string) bool {
	_ = rc.SetWriteDeadline(time.Now().Add(sseWriteTimeout)) // unsupported by some writers: fine
	if _, err := io.WriteString(w, frame); err != nil {
		return false
	}
	if err := rc.Flush(); err != nil {
		s.logger.Debug("nodeapi: flushing event stream", "err", err)
		return false
	}
	return true
}

// sseField makes s safe as an SSE field value (no line breaks).
func sseField(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '\n' || r == '\r' || r == 0 {
			return -1
		}
		return r
	}, s)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
	_, _ = w.Write([]byte("\n"))
}

func writeErrorReply(w http.ResponseWriter, status, code int, msg string) {
	b, err := marshal(errorResponse(nil, code, msg))
	if err != nil {
		b = internalErrorReply
	}
	writeJSON(w, status, b)
}
