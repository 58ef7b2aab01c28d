package btcdchain

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"net"
	"time"
)

// reachTimeout bounds Reachable's TCP connect.
const reachTimeout = 3 * time.Second

// Host returns btcd's RPC address, host:port, as configured.
func (c *Client) Host() string { return c.cfg.Host }

// tlsConfigFor is the TLS configuration rpcclient uses for cert (PEM): btcd's certificate as the only
// root.
func tlsConfigFor(cert []byte) *tls.Config {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(cert)
	return &tls.Config{RootCAs: pool}
}

// Reachable says whether btcd's RPC port accepts a connection, at once: nil if it does, else the dial
// error (connection refused, no route, timeout...) or, with TLS, the handshake's (a certificate that is
// not btcd's). Use it to tell "btcd is down or elsewhere" apart from RPC failures: rpcclient retries a
// request on an unreachable server for about 20 seconds before it reports anything. The connection is
// closed without a request (after the TLS handshake, so that btcd logs nothing).
func (c *Client) Reachable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, reachTimeout)
	defer cancel()
	var conn net.Conn
	var err error
	if c.tlsConf != nil {
		d := tls.Dialer{Config: c.tlsConf.Clone()}
		conn, err = d.DialContext(ctx, "tcp", c.cfg.Host)
	} else {
		var d net.Dialer
		conn, err = d.DialContext(ctx, "tcp", c.cfg.Host)
	}
	if err != nil {
		return err
	}
	return conn.Close()
}
