package btcdchain

import (
	"context"
	"encoding/pem"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestReachable: a listening port is reachable; a closed one gives the dial error at once.
func TestReachable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	c := testClient(t, Config{Host: addr}, newFakeChain(0))
	require.Equal(t, addr, c.Host())
	require.NoError(t, c.Reachable(context.Background()))

	require.NoError(t, ln.Close())
	err = c.Reachable(context.Background())
	require.ErrorIs(t, err, syscall.ECONNREFUSED)
}

// TestReachableTLS: with TLS the handshake is part of reaching btcd: its certificate passes, another
// root does not.
func TestReachableTLS(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.NotFoundHandler())
	srv.Config.ErrorLog = log.New(io.Discard, "", 0)
	srv.StartTLS()
	defer srv.Close()
	c := testClient(t, Config{Host: strings.TrimPrefix(srv.URL, "https://")}, newFakeChain(0))
	c.tlsConf = tlsConfigFor(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}))
	require.NoError(t, c.Reachable(context.Background()))
	c.tlsConf = tlsConfigFor(nil)
	require.ErrorContains(t, c.Reachable(context.Background()), "certificate")
}
