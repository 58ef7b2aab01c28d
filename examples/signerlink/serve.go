package signerlink

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
)

// ServeConfig configures Serve.
type ServeConfig struct {
	// Key is the signer's link key; NodePub the node's link public key, the only one accepted.
	Key     *btcec.PrivateKey
	NodePub *btcec.PublicKey
	// Handle answers one request frame (remote.Server.Handle). Frames of one link are handled one at a
	// time, in order, and the answers sent in that order.
	Handle func(request []byte) (response []byte)

	// HandshakeTimeout bounds a handshake; PingInterval is the node's ping interval (a link silent
	// for three is dropped); WriteTimeout bounds a write. Zero means the Default* value.
	HandshakeTimeout, PingInterval, WriteTimeout time.Duration
	// MaxHandshakes bounds the handshakes in progress (0: 8); more connections wait to be accepted.
	MaxHandshakes int
	// MaxLinks is how many links of the node are served at once (0: 1). A new link beyond it closes
	// the oldest: a node that links again after its old link died. An active/standby pair of nodes
	// sharing one identity (and link key) needs 2.
	MaxLinks int
	// Logger, when set, logs links and refusals.
	Logger *slog.Logger
	// OnReject, when set, is told of every connection refused during the handshake and why.
	OnReject func(remote net.Addr, err error)
}

// Serve accepts links from the node on ln until ctx is done, then closes ln and every link and returns
// ctx's error. A node that does not know the signer's key, or whose link key is not NodePub, is
// dropped during the handshake. When the node links again, its oldest link is closed (beyond MaxLinks). Errors: a
// missing Key, NodePub or Handle; ln's Accept failing for a reason other than ctx.
func Serve(ctx context.Context, ln net.Listener, cfg ServeConfig) error {
	if cfg.Key == nil || cfg.NodePub == nil || cfg.Handle == nil {
		return errors.New("link: ServeConfig needs Key, NodePub and Handle")
	}
	maxHS := cfg.MaxHandshakes
	if maxHS <= 0 {
		maxHS = 8
	}
	srv := &server{cfg: cfg, conns: map[net.Conn]struct{}{}, handshakes: make(chan struct{}, maxHS)}
	stop := context.AfterFunc(ctx, func() { _ = ln.Close() })
	defer stop()
	defer srv.closeAll()
	for {
		srv.handshakes <- struct{}{}
		conn, err := ln.Accept()
		if err != nil {
			<-srv.handshakes
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return err
		}
		srv.track(conn, true)
		srv.wg.Add(1)
		go srv.serveConn(conn)
	}
}

// server is Serve's state.
type server struct {
	cfg        ServeConfig
	wg         sync.WaitGroup
	handshakes chan struct{}

	mu     sync.Mutex
	closed bool
	conns  map[net.Conn]struct{}
	links  []net.Conn // the node's authenticated links, oldest first (at most MaxLinks)
}

// track adds or removes a connection; a connection added after closeAll is closed.
func (srv *server) track(c net.Conn, add bool) {
	srv.mu.Lock()
	defer srv.mu.Unlock()
	if !add {
		delete(srv.conns, c)
		for i, l := range srv.links {
			if l == c {
				srv.links = append(srv.links[:i], srv.links[i+1:]...)
				break
			}
		}
		return
	}
	if srv.closed {
		_ = c.Close()
		return
	}
	srv.conns[c] = struct{}{}
}

// closeAll closes every connection and waits for their goroutines.
func (srv *server) closeAll() {
	srv.mu.Lock()
	srv.closed = true
	for c := range srv.conns {
		_ = c.Close()
	}
	srv.mu.Unlock()
	srv.wg.Wait()
}

// serveConn authenticates one connection and answers its frames until it fails.
func (srv *server) serveConn(conn net.Conn) {
	defer srv.wg.Done()
	defer srv.track(conn, false)
	defer conn.Close()
	cfg := srv.cfg
	s, err := respond(conn, cfg.Key, cfg.NodePub, orDefault(cfg.HandshakeTimeout, DefaultHandshakeTimeout))
	<-srv.handshakes
	if err != nil {
		if cfg.OnReject != nil {
			cfg.OnReject(conn.RemoteAddr(), err)
		}
		if cfg.Logger != nil {
			cfg.Logger.Warn("link refused", "remote", conn.RemoteAddr(), "err", err)
		}
		return
	}
	s.idle = 3 * orDefault(cfg.PingInterval, DefaultPingInterval)
	s.writeTimeout = orDefault(cfg.WriteTimeout, DefaultWriteTimeout)
	srv.mu.Lock()
	for len(srv.links) >= max(1, cfg.MaxLinks) {
		_ = srv.links[0].Close() // the node linked again: its oldest link is dead
		srv.links = srv.links[1:]
	}
	srv.links = append(srv.links, conn)
	srv.mu.Unlock()
	if cfg.Logger != nil {
		cfg.Logger.Info("node linked", "remote", conn.RemoteAddr())
	}
	for {
		f, err := s.readFrame()
		if err != nil {
			if cfg.Logger != nil {
				cfg.Logger.Info("node link closed", "remote", conn.RemoteAddr(), "err", err)
			}
			return
		}
		if err := s.writeFrames([][]byte{cfg.Handle(f)}); err != nil {
			return
		}
	}
}
