// Package grpcapi serves the lnkit example node's control API over gRPC (service lnkitrpc.Node):
// the same nodeapi.Service the JSON-RPC API serves, with the same cookie authentication, each
// method's params and results converted field by field, and the event stream as a server-streaming
// call.
package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime/debug"
	"sync"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/keepalive"
	"google.golang.org/grpc/status"

	"github.com/lnkit/lnkit/examples/node/lnkitrpc"
	"github.com/lnkit/lnkit/examples/nodeapi"
)

// Defaults of the Server's bounds.
const (
	// DefaultMaxRecvBytes bounds a request message (1 MiB, as the JSON-RPC API's body).
	DefaultMaxRecvBytes = 1 << 20
	// DefaultMaxSendBytes bounds a response message (64 MiB: describegraph of a large graph).
	DefaultMaxSendBytes = 64 << 20
	// DefaultMaxStreamsPerConn bounds the calls in progress on one connection (HTTP/2 streams).
	DefaultMaxStreamsPerConn = 64
	// DefaultMaxEventStreams bounds the SubscribeEvents calls in progress over all connections; more
	// are refused with ResourceExhausted.
	DefaultMaxEventStreams = 32
	// Keepalive: a client may ping at most every KeepaliveMinTime (more often, it is disconnected);
	// the server pings a connection idle for KeepaliveTime and closes it if the ping is not answered
	// within KeepaliveTimeout (so an event stream to a vanished client ends), and closes a connection
	// without calls for MaxConnectionIdle.
	KeepaliveMinTime  = 10 * time.Second
	KeepaliveTime     = time.Minute
	KeepaliveTimeout  = 20 * time.Second
	MaxConnectionIdle = 5 * time.Minute
)

// ErrServerClosed is returned by Serve once Shutdown was called.
var ErrServerClosed = errors.New("grpcapi: server closed")

type config struct {
	maxRecvBytes      int
	maxSendBytes      int
	maxStreamsPerConn uint32
	maxEventStreams   int
	callTimeout       time.Duration
}

// Option changes a Server setting; pass options to NewServer.
type Option func(*config)

// WithMaxRecvBytes sets the largest request message accepted, in bytes (default
// DefaultMaxRecvBytes); a larger one is refused with ResourceExhausted. Values <= 0 are ignored.
func WithMaxRecvBytes(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxRecvBytes = n
		}
	}
}

// WithMaxEventStreams sets how many SubscribeEvents calls may be in progress at once (default
// DefaultMaxEventStreams). Values <= 0 are ignored.
func WithMaxEventStreams(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxEventStreams = n
		}
	}
}

// WithCallTimeout sets the server-side cap on one unary call (default nodeapi.DefaultCallTimeout,
// as the JSON-RPC API's). Values <= 0 are ignored.
func WithCallTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.callTimeout = d
		}
	}
}

// Server serves a nodeapi.Service as the gRPC service lnkitrpc.Node. Every call must carry the
// cookie token in its metadata (AuthMetadataKey); calls without it fail with Unauthenticated. It is
// safe for concurrent use.
type Server struct {
	lnkitrpc.UnimplementedNodeServer

	svc    nodeapi.Service
	creds  credentials
	logger *slog.Logger
	cfg    config
	gs     *grpc.Server

	// ctx is canceled by Shutdown: it ends event streams and the contexts of calls in progress.
	ctx    context.Context
	cancel context.CancelFunc

	eventSlots chan struct{} // one token per SubscribeEvents in progress

	mu     sync.Mutex
	closed bool
}

// NewServer returns a Server exposing svc. token is the cookie's secret (nodeapi.WriteCookie); an
// empty token refuses every call. A nil logger discards logs.
func NewServer(svc nodeapi.Service, token string, logger *slog.Logger, opts ...Option) *Server {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg := config{
		maxRecvBytes:      DefaultMaxRecvBytes,
		maxSendBytes:      DefaultMaxSendBytes,
		maxStreamsPerConn: DefaultMaxStreamsPerConn,
		maxEventStreams:   DefaultMaxEventStreams,
		callTimeout:       nodeapi.DefaultCallTimeout,
	}
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{svc: svc, creds: newCredentials(token), logger: logger, cfg: cfg, ctx: ctx, cancel: cancel,
		eventSlots: make(chan struct{}, cfg.maxEventStreams)}
	s.gs = grpc.NewServer(
		grpc.MaxRecvMsgSize(cfg.maxRecvBytes),
		grpc.MaxSendMsgSize(cfg.maxSendBytes),
		grpc.MaxConcurrentStreams(cfg.maxStreamsPerConn),
		grpc.KeepaliveEnforcementPolicy(keepalive.EnforcementPolicy{MinTime: KeepaliveMinTime, PermitWithoutStream: true}),
		grpc.KeepaliveParams(keepalive.ServerParameters{MaxConnectionIdle: MaxConnectionIdle, Time: KeepaliveTime,
			Timeout: KeepaliveTimeout}),
		grpc.ChainUnaryInterceptor(s.unaryInterceptor),
		grpc.ChainStreamInterceptor(s.streamInterceptor),
	)
	lnkitrpc.RegisterNodeServer(s.gs, s)
	return s
}

// Serve accepts connections on l until Shutdown; it then returns nil (or ErrServerClosed when
// called after Shutdown). Other errors are the listener's.
func (s *Server) Serve(l net.Listener) error {
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		l.Close()
		return ErrServerClosed
	}
	if err := s.gs.Serve(l); err != nil && !errors.Is(err, grpc.ErrServerStopped) {
		return fmt.Errorf("grpcapi: %w", err)
	}
	return nil
}

// Shutdown stops the Server: listeners are closed, event streams end, calls in progress see their
// context canceled, and Shutdown waits for them to return (until ctx is done: connections are then
// closed at once and ctx's error returned).
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	s.mu.Unlock()
	s.cancel()
	done := make(chan struct{})
	go func() {
		s.gs.GracefulStop()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		s.gs.Stop()
		<-done
		return ctx.Err()
	}
}

// unaryInterceptor checks the cookie, caps the call's time (callTimeout; Shutdown cancels it) and
// turns a panic in the service into Internal, as the JSON-RPC server does.
func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo,
	h grpc.UnaryHandler) (resp any, err error) {
	if err := s.creds.check(ctx); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.callTimeout)
	defer cancel()
	stop := context.AfterFunc(s.ctx, cancel)
	defer stop()
	defer s.recoverPanic(info.FullMethod, &err)
	start := time.Now()
	resp, err = h(ctx, req)
	s.logger.Debug("grpcapi: call", "method", info.FullMethod, "took", time.Since(start), "err", err)
	return resp, err
}

// streamInterceptor checks the cookie of a streaming call and recovers a panic as Internal.
func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo,
	h grpc.StreamHandler) (err error) {
	if err := s.creds.check(ss.Context()); err != nil {
		return err
	}
	defer s.recoverPanic(info.FullMethod, &err)
	return h(srv, ss)
}

func (s *Server) recoverPanic(method string, err *error) {
	if p := recover(); p != nil {
		s.logger.Error("grpcapi: panic in method", "method", method, "panic", fmt.Sprint(p),
			"stack", string(debug.Stack()))
		*err = status.Error(codes.Internal, "internal error")
	}
}
