package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

func TestLogLimiter(t *testing.T) {
	l := logLimiter{every: time.Minute}
	t0 := time.Unix(1_700_000_000, 0)
	ok, held := l.allow("a", t0)
	require.True(t, ok)
	require.Zero(t, held)
	for i := 1; i <= 3; i++ {
		ok, _ = l.allow("a", t0.Add(time.Duration(i)*10*time.Second))
		require.False(t, ok)
	}
	ok, _ = l.allow("b", t0.Add(time.Second))
	require.True(t, ok, "kinds are limited apart")
	ok, held = l.allow("a", t0.Add(time.Minute))
	require.True(t, ok)
	require.Equal(t, 3, held)
}

// TestBtcdUnreachableAtStart: a node whose btcd is not there says so at once, naming the address and
// the dial error, keeps trying, and starts once btcd is up.
func TestBtcdUnreachableAtStart(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close()) // nothing listens there now

	var logs syncBuffer
	cfg := testNodeConfig(t, newFakeBtcd(t), "-btcd.rpchost", addr)
	n, err := NewNode(cfg, slog.New(slog.NewTextHandler(&logs, nil)))
	require.NoError(t, err)
	started := make(chan error, 1)
	go func() { started <- n.Start() }()
	t.Cleanup(n.Stop)
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "btcd is unreachable at "+addr) },
		2*time.Second, 5*time.Millisecond, "said at once")
	require.Contains(t, logs.String(), "connection refused")
	require.Contains(t, logs.String(), "-btcd.rpchost")

	newFakeBtcdAt(t, addr)
	select {
	case err := <-started:
		require.NoError(t, err)
	case <-time.After(20 * time.Second):
		t.Fatal("the node did not start once btcd was up")
	}
	info, err := (&service{n: n}).GetInfo(context.Background())
	require.NoError(t, err)
	require.True(t, info.SyncedToChain)
}

// TestBtcdLostItsChain: btcd restarted on regtest with an empty chain (below the node's tip) makes the
// node unsynced and logs one message saying so and what to do, not one per poll; while unsynced,
// openchannel, keysend, payinvoice and sendpayment are refused.
func TestBtcdLostItsChain(t *testing.T) {
	btcd := newFakeBtcd(t)
	var logs syncBuffer
	n := startTestNode(t, testNodeConfig(t, btcd), slog.New(slog.NewTextHandler(&logs, nil)))
	for range 3 {
		btcd.mine()
	}
	require.Eventually(t, func() bool { return n.follower.Tip().Height == 3 }, 5*time.Second, 5*time.Millisecond)

	btcd.reset()
	const says = "btcd's chain is behind the node's"
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), says) }, 5*time.Second, 5*time.Millisecond)
	time.Sleep(500 * time.Millisecond) // 25 more polls
	out := logs.String()
	require.Equal(t, 1, strings.Count(out, says), "one message, not one per poll:\n%s", out)
	for _, s := range []string{"btcd was restarted on regtest and lost its blocks", "btcd's best block is at height 0",
		"processed blocks up to height 3", "what_to_do", "move " + n.dir + " aside"} {
		require.Contains(t, out, s)
	}

	svc := &service{n: n}
	ctx := context.Background()
	info, err := svc.GetInfo(ctx)
	require.NoError(t, err)
	require.False(t, info.SyncedToChain)
	peer := nodeIDHexOf(testID(50))
	_, err = svc.OpenChannel(ctx, nodeapi.OpenChannelParams{NodeID: peer, AmountSat: 100_000})
	require.ErrorIs(t, err, errNotSynced)
	require.ErrorContains(t, err, "openchannel is refused")
	_, err = svc.Keysend(ctx, nodeapi.KeysendParams{NodeID: peer, AmountMsat: 1000})
	require.ErrorIs(t, err, errNotSynced)
	bolt11, _ := testInvoice(t, 50, 50_000)
	_, err = svc.PayInvoice(ctx, nodeapi.PayInvoiceParams{Bolt11: bolt11})
	require.ErrorIs(t, err, errNotSynced)
	_, err = svc.SendPayment(ctx, nodeapi.SendPaymentParams{NodeID: peer, AmountMsat: 1000, PaymentHash: strings.Repeat("ab", 32)})
	require.ErrorIs(t, err, errNotSynced)
	require.Empty(t, n.store.listPayments(), "nothing recorded")
	// Input errors are still input errors.
	_, err = svc.Keysend(ctx, nodeapi.KeysendParams{NodeID: peer})
	require.ErrorIs(t, err, nodeapi.ErrInvalidParams)
}

// TestBtcdUnreachableSaysWhy: a certificate that is not btcd's, or a server without TLS, is named as
// such rather than as btcd being down.
func TestBtcdUnreachableSaysWhy(t *testing.T) {
	p := btcdUnreachable("127.0.0.1:1", &tls.CertificateVerificationError{Err: errors.New("x509: unknown authority")})
	require.Contains(t, p.todo, "-btcd.rpccert")
	p = btcdUnreachable("127.0.0.1:1", fmt.Errorf("dial: %w", tls.RecordHeaderError{Msg: "first record does not look like a TLS handshake"}))
	require.Contains(t, p.todo, "-btcd.notls")
	p = btcdUnreachable("127.0.0.1:1", syscall.ECONNREFUSED)
	require.Contains(t, p.what, "btcd is unreachable at 127.0.0.1:1")
	require.Contains(t, p.todo, "-btcd.rpchost")
}
