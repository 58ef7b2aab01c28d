package main

import (
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestInboundHandshakeCaps: connections that never start the handshake count against the per-IP bound;
// the one past it is closed at once (it reads EOF), one within it is kept waiting for act one (its read
// times out); once the earlier ones close, a new one is accepted again.
func TestInboundHandshakeCaps(t *testing.T) {
	btcd := newFakeBtcd(t)
	n := startTestNode(t, testNodeConfig(t, btcd, pairNodeArgs...), nil)
	addr := n.listenAddr()
	require.NotEmpty(t, addr)
	// accepted reports whether c is kept open (waiting for act one) rather than closed by the node.
	accepted := func(c net.Conn) bool {
		require.NoError(t, c.SetReadDeadline(time.Now().Add(300*time.Millisecond)))
		_, err := c.Read(make([]byte, 1))
		return errors.Is(err, os.ErrDeadlineExceeded)
	}
	var idle []net.Conn
	for i := 0; i < maxPendingHandshakesPerIP; i++ {
		c, err := net.Dial("tcp", addr)
		require.NoError(t, err)
		defer c.Close()
		require.True(t, accepted(c), "connection %d within the bound", i)
		idle = append(idle, c)
	}
	extra, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer extra.Close()
	require.NoError(t, extra.SetReadDeadline(time.Now().Add(2*time.Second)))
	_, err = extra.Read(make([]byte, 1))
	require.ErrorIs(t, err, io.EOF, "the connection past the bound is closed at once")

	for _, c := range idle {
		c.Close()
	}
	require.Eventually(t, func() bool { return n.admitInbound(extra.LocalAddr()) == "" }, 5*time.Second, 20*time.Millisecond,
		"closed connections no longer count")
	again, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer again.Close()
	require.True(t, accepted(again), "accepted again")
}
