package signerlink

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/keys/remote"
)

// Defaults of the Dialer's and Serve's timings.
const (
	DefaultMinBackoff       = 200 * time.Millisecond
	DefaultMaxBackoff       = 30 * time.Second
	DefaultPingInterval     = 15 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultWriteTimeout     = 30 * time.Second
)

// Dialer keeps a node's remote.Client linked to its signer: it dials, runs the handshake, marks the
// client Connected, moves frames both ways, and after any failure marks it Disconnected and dials
// again after a backoff that doubles from MinBackoff up to MaxBackoff (reset by a link that came up).
// Responses are fed to the client on the link's reader goroutine, which therefore also runs the
// client's OnAnswer (see remote.ClientConfig.OnAnswer).
type Dialer struct {
	// Addr is the signer's host:port.
	Addr string
	// Key is the node's link key; SignerPub the signer's link public key, pinned.
	Key       *btcec.PrivateKey
	SignerPub *btcec.PublicKey
	// Client is the node's signer client.
	Client *remote.Client

	// Timings; zero means the Default* value.
	MinBackoff, MaxBackoff, PingInterval, HandshakeTimeout, WriteTimeout time.Duration
	// Logger, when set, logs link ups and failures.
	Logger *slog.Logger
	// OnError, when set, is told why each attempt or link ended (never with ctx's error).
	OnError func(error)
}

// Dial links client to the signer at addr until ctx is done, reconnecting after failures (see Dialer,
// with default timings). linkKey is the node's link key, signerPub the signer's link key. It returns
// ctx's error, or an error at once for a missing argument.
func Dial(ctx context.Context, addr string, linkKey *btcec.PrivateKey, signerPub *btcec.PublicKey, client *remote.Client) error {
	d := &Dialer{Addr: addr, Key: linkKey, SignerPub: signerPub, Client: client}
	return d.Run(ctx)
}

// Run links the client until ctx is done (see Dialer). It returns ctx's error, or an error at once for
// a missing Key, SignerPub or Client.
func (d *Dialer) Run(ctx context.Context) error {
	if d.Key == nil || d.SignerPub == nil || d.Client == nil {
		return errors.New("link: Dialer needs Key, SignerPub and Client")
	}
	minB, maxB := orDefault(d.MinBackoff, DefaultMinBackoff), orDefault(d.MaxBackoff, DefaultMaxBackoff)
	backoff := minB
	for {
		up, err := d.once(ctx)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if up {
			backoff = minB
		}
		if d.OnError != nil {
			d.OnError(err)
		}
		if d.Logger != nil {
			d.Logger.Warn("signer link down", "addr", d.Addr, "err", err, "retry_in", backoff)
		}
		t := time.NewTimer(backoff)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		backoff = min(2*backoff, maxB)
	}
}

// once dials and, if the handshake succeeds, runs the link until it fails. up reports whether the link
// came up.
func (d *Dialer) once(ctx context.Context) (up bool, err error) {
	hsTimeout := orDefault(d.HandshakeTimeout, DefaultHandshakeTimeout)
	nd := net.Dialer{Timeout: hsTimeout}
	conn, err := nd.DialContext(ctx, "tcp", d.Addr)
	if err != nil {
		return false, err
	}
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	defer stop()
	defer conn.Close()
	ping := orDefault(d.PingInterval, DefaultPingInterval)
	s, err := initiate(conn, d.Key, d.SignerPub, hsTimeout)
	if err != nil {
		return false, err
	}
	s.idle, s.writeTimeout = 3*ping, orDefault(d.WriteTimeout, DefaultWriteTimeout)
	if d.Logger != nil {
		d.Logger.Info("signer link up", "addr", d.Addr)
	}
	d.Client.Connected()
	defer d.Client.Disconnected()
	return true, d.pump(ctx, s, ping)
}

// pump moves frames until the link fails or ctx is done: requests out from this goroutine, responses
// in from a reader goroutine.
func (d *Dialer) pump(ctx context.Context, s *session, ping time.Duration) error {
	readErr := make(chan error, 1)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			f, err := s.readFrame()
			if err == nil {
				err = d.Client.HandleResponse(f)
			}
			if err != nil {
				readErr <- err
				return
			}
		}
	}()
	defer wg.Wait()
	defer s.conn.Close()
	ticker := time.NewTicker(ping)
	defer ticker.Stop()
	for {
		if frames := d.Client.PendingRequests(); len(frames) > 0 {
			if err := s.writeFrames(frames); err != nil {
				return err
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			return err
		case <-d.Client.RequestsReady():
		case <-ticker.C:
			if err := s.write(msgPing, nil); err != nil {
				return err
			}
		}
	}
}

func orDefault(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}
