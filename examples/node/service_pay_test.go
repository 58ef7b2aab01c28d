package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/invoice"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
)

// keySigner signs invoices with a test key.
type keySigner byte

func (s keySigner) SignInvoice(hrp string, data5 []byte) ([]byte, error) {
	priv, _ := testKey(byte(s))
	hash, err := keys.InvoiceSigningHash(hrp, data5)
	if err != nil {
		return nil, err
	}
	return ecdsa.SignCompact(priv, hash[:], true), nil
}

// testInvoice is a regtest invoice of payee testKey(seed) for amtMsat (0: any amount).
func testInvoice(t *testing.T, seed byte, amtMsat uint64) (bolt11 string, hash [32]byte) {
	t.Helper()
	var preimage, secret [32]byte
	_, _ = rand.Read(preimage[:])
	_, _ = rand.Read(secret[:])
	hash = sha256.Sum256(preimage[:])
	opts := []invoice.Option{invoice.WithDescription("test")}
	if amtMsat != 0 {
		opts = append(opts, invoice.WithAmountMsat(amtMsat))
	}
	inv, err := invoice.New(&chaincfg.RegressionNetParams, hash, secret, time.Now(), opts...)
	require.NoError(t, err)
	s, err := inv.Encode(keySigner(seed))
	require.NoError(t, err)
	return s, hash
}

func TestTimeoutTicks(t *testing.T) {
	for _, tc := range []struct {
		timeout, tick time.Duration
		want          int
	}{
		{60 * time.Second, 60 * time.Second, 1},
		{60 * time.Second, 2 * time.Second, 30},
		{61 * time.Second, 2 * time.Second, 31},
		{time.Second, time.Minute, 1},
		{0, time.Minute, 1},
		{math.MaxUint32 * time.Second, time.Nanosecond, math.MaxInt32},
	} {
		require.Equal(t, tc.want, timeoutTicks(tc.timeout, tc.tick), "%v / %v", tc.timeout, tc.tick)
	}
}

func TestSendLimits(t *testing.T) {
	s := &service{n: &Node{cfg: &Config{ManagerTick: 2 * time.Second}}}
	l, err := s.sendLimits(0, nil, 0)
	require.NoError(t, err)
	require.Equal(t, limits{retry: channelmanager.Retry{TimeoutTicks: 30}}, l, "defaults: the router's, 60 s")
	fee, huge := uint64(25), uint64(math.MaxUint64/1000)
	l, err = s.sendLimits(4, &fee, 7)
	require.NoError(t, err)
	require.Equal(t, limits{maxPaths: 4, feeLimitMsat: 25_000, retry: channelmanager.Retry{TimeoutTicks: 4}}, l)
	l, err = s.sendLimits(255, &huge, 1)
	require.NoError(t, err)
	require.Equal(t, uint64(math.MaxUint64), l.feeLimitMsat, "no overflow")
	zero := uint64(0)
	_, err = s.sendLimits(1, &zero, 0)
	require.ErrorIs(t, err, nodeapi.ErrInvalidParams)
	require.ErrorContains(t, err, "fee_limit_sat must be at least 1")
	_, err = s.sendLimits(256, nil, 0)
	require.ErrorIs(t, err, nodeapi.ErrInvalidParams)
}

func TestSendError(t *testing.T) {
	payee := nodeIDHexOf(testID(5))
	require.NoError(t, sendError(nil, payee, 1))
	other := errors.New("peer offline")
	require.Equal(t, other, sendError(other, payee, 1))
	err := sendError(fmt.Errorf("%w: bad", channelmanager.ErrInvalidInvoice), payee, 1)
	require.ErrorIs(t, err, nodeapi.ErrInvalidParams)
	for _, tc := range []struct {
		cause error
		says  string
	}{
		{router.ErrNoFirstHops, "no usable channel to send from"},
		{router.ErrPayeeNotFound, "the payee is not in the network graph"},
		{router.ErrInsufficientLiquidity, "the paths found cannot carry the amount together"},
		{router.ErrFeeLimit, "every route found costs more than the fee limit"},
		{router.ErrPayeeFeatures, "the payee requires features"},
		{router.ErrNoRoute, "no path meets the limits"},
		{errors.New("?"), "the router found none"},
	} {
		err := sendError(fmt.Errorf("%w: %w", channelmanager.ErrRouteNotFound, tc.cause), payee, 5000)
		require.ErrorContains(t, err, "no route to "+payee+" for 5000 msat: "+tc.says)
		require.ErrorIs(t, err, channelmanager.ErrRouteNotFound)
		require.ErrorIs(t, err, tc.cause)
		require.False(t, errors.Is(err, nodeapi.ErrInvalidParams))
	}
}

// TestPaymentsGoThroughTheRouter: the node gives its ChannelManager a router, so payinvoice and keysend
// ask it for a route (without one they would fail with ErrNoRouter): without channels the payment
// fails at once saying why, and is recorded failed; a payee in the graph but out of reach says so too.
func TestPaymentsGoThroughTheRouter(t *testing.T) {
	btcd := newFakeBtcd(t)
	n := startTestNode(t, testNodeConfig(t, btcd), nil)
	require.NotNil(t, n.routing.router)
	svc := &service{n: n}
	ctx := context.Background()

	bolt11, hash := testInvoice(t, 20, 50_000)
	_, err := svc.PayInvoice(ctx, nodeapi.PayInvoiceParams{Bolt11: bolt11, TimeoutSecs: 5})
	require.ErrorContains(t, err, "no route to "+nodeIDHexOf(testID(20))+" for 50000 msat: no usable channel to send from")
	require.ErrorIs(t, err, channelmanager.ErrRouteNotFound)
	p, ok := n.store.payment(hex.EncodeToString(hash[:]))
	require.True(t, ok)
	require.Equal(t, nodeapi.StatusFailed, p.Status)
	require.Contains(t, p.FailureReason, "no usable channel")

	_, err = svc.Keysend(ctx, nodeapi.KeysendParams{NodeID: nodeIDHexOf(testID(21)), AmountMsat: 1000})
	require.ErrorContains(t, err, "no usable channel to send from")
	ps := n.store.listPayments()
	require.Len(t, ps, 2)
	ks := ps[0]
	if ks.Destination != nodeIDHexOf(testID(21)) {
		ks = ps[1]
	}
	require.Equal(t, nodeIDHexOf(testID(21)), ks.Destination)
	require.Equal(t, nodeapi.StatusFailed, ks.Status)
	require.Len(t, ks.PaymentHash, 64, "a keysend record has its hash from the start")

	// Invalid requests are refused before anything is recorded.
	for _, tc := range []struct {
		name string
		call func() error
		says string
	}{
		{"keysend zero", func() error {
			_, err := svc.Keysend(ctx, nodeapi.KeysendParams{NodeID: nodeIDHexOf(testID(21))})
			return err
		}, "amount_msat"},
		{"keysend to ourselves", func() error {
			_, err := svc.Keysend(ctx, nodeapi.KeysendParams{NodeID: nodeIDHex(n.nodeID), AmountMsat: 1})
			return err
		}, "ourselves"},
		{"keysend max_parts", func() error {
			_, err := svc.Keysend(ctx, nodeapi.KeysendParams{NodeID: nodeIDHexOf(testID(21)), AmountMsat: 1, MaxParts: 300})
			return err
		}, "max_parts"},
		{"payinvoice fee limit 0", func() error {
			zero := uint64(0)
			_, err := svc.PayInvoice(ctx, nodeapi.PayInvoiceParams{Bolt11: bolt11, FeeLimitSat: &zero})
			return err
		}, "fee_limit_sat"},
		{"payinvoice amount on an invoice with one", func() error {
			_, err := svc.PayInvoice(ctx, nodeapi.PayInvoiceParams{Bolt11: bolt11, AmountMsat: 1})
			return err
		}, "leave amount_msat out"},
	} {
		err := tc.call()
		require.ErrorIs(t, err, nodeapi.ErrInvalidParams, tc.name)
		require.ErrorContains(t, err, tc.says, tc.name)
	}
	require.Len(t, n.store.listPayments(), 2)
}

// TestReconcilePayments: a payment recorded pending that the manager does not know is marked failed;
// one it knows stays pending (its events will finish it); finished records are left alone.
func TestReconcilePayments(t *testing.T) {
	s := testRecords(t, kvstore.NewMemStore())
	var known events.PaymentID
	known[0] = 0xaa
	s.putPayment(nodeapi.Payment{PaymentID: hex.EncodeToString(known[:]), Status: nodeapi.StatusPending, CreatedAt: 1})
	s.putPayment(nodeapi.Payment{PaymentID: "bb", Status: nodeapi.StatusPending, CreatedAt: 2})
	s.putPayment(nodeapi.Payment{PaymentID: "cc", Status: nodeapi.StatusSucceeded, CreatedAt: 3})
	s.putPayment(nodeapi.Payment{PaymentID: "dd", Status: nodeapi.StatusFailed, FailureReason: "x", CreatedAt: 4})
	done := s.waitPayment("bb")
	failed := reconcilePayments(s, []channelmanager.RecentPayment{{PaymentID: known}})
	require.Equal(t, []string{"bb"}, failed)
	ps := s.listPayments()
	require.Equal(t, nodeapi.StatusPending, ps[0].Status)
	require.Equal(t, nodeapi.StatusFailed, ps[1].Status)
	require.Equal(t, unknownToManager, ps[1].FailureReason)
	require.Equal(t, nodeapi.StatusSucceeded, ps[2].Status)
	require.Equal(t, "x", ps[3].FailureReason)
	select {
	case <-done:
		t.Fatal("a waiter heard of an outcome before it was durable")
	default:
	}
	s.release() // the node's flush
	require.Equal(t, "bb", (<-done).PaymentID)
	require.Empty(t, reconcilePayments(s, nil)[1:], "only the one the manager knew is left pending")
}

// TestPendingPaymentUnknownAfterRestartFails: a payment recorded pending just before the node died
// (the manager's state on disk never had it) is failed at the next start, and its invoice can be
// paid again (a new attempt, not "already pending").
func TestPendingPaymentUnknownAfterRestartFails(t *testing.T) {
	btcd := newFakeBtcd(t)
	cfg := testNodeConfig(t, btcd)
	n := startTestNode(t, cfg, nil)
	bolt11, hash := testInvoice(t, 22, 10_000)
	id := hex.EncodeToString(hash[:])
	n.store.putPayment(nodeapi.Payment{PaymentID: id, PaymentHash: id, Destination: nodeIDHexOf(testID(22)),
		AmountMsat: 10_000, Status: nodeapi.StatusPending, CreatedAt: time.Now().Unix()})
	svc := &service{n: n}
	_, err := svc.PayInvoice(context.Background(), nodeapi.PayInvoiceParams{Bolt11: bolt11})
	require.ErrorContains(t, err, "already pending", "while the record is pending")
	n.Stop()

	n = startTestNode(t, cfg, nil)
	p, ok := n.store.payment(id)
	require.True(t, ok)
	require.Equal(t, nodeapi.StatusFailed, p.Status)
	require.Equal(t, unknownToManager, p.FailureReason)
	svc = &service{n: n}
	_, err = svc.PayInvoice(context.Background(), nodeapi.PayInvoiceParams{Bolt11: bolt11})
	require.ErrorContains(t, err, "no usable channel to send from", "a new attempt")
	require.Len(t, n.store.listPayments(), 2, "under a new payment id")
}

// TestForwardEventsAreRecordedAndPublished: PaymentForwarded goes to the forwarding history (and is
// back after a restart) and to the event stream, as do HTLCHandlingFailed and the probe events.
func TestForwardEventsAreRecordedAndPublished(t *testing.T) {
	btcd := newFakeBtcd(t)
	cfg := testNodeConfig(t, btcd)
	n := startTestNode(t, cfg, nil)
	evs, cancel := n.hub.subscribe()
	defer cancel()
	prev, next := lnwire.ChannelID{1}, lnwire.ChannelID{2}
	require.NoError(t, n.handleEvent(events.PaymentForwarded{PrevChannelID: prev, NextChannelID: next,
		IncomingAmountMsat: 101_010, OutboundAmountForwardedMsat: 100_000, FeeEarnedMsat: 1010}))
	require.Equal(t, nodeapi.Event{Type: "payment_forwarded", ChannelID: hex.EncodeToString(prev[:]),
		NextChannelID: hex.EncodeToString(next[:]), AmountMsat: 100_000, FeeMsat: 1010}, <-evs)
	require.NoError(t, n.handleEvent(events.HTLCHandlingFailed{PrevChannelID: prev,
		FailedNextDestination: events.HTLCDestination{NextChannelID: next}, FailureCode: 0x100c}))
	require.Equal(t, nodeapi.Event{Type: "htlc_handling_failed", ChannelID: hex.EncodeToString(prev[:]),
		NextChannelID: hex.EncodeToString(next[:]), FailureCode: 0x100c, Reason: "fee_insufficient"}, <-evs)
	require.NoError(t, n.handleEvent(events.HTLCHandlingFailed{PrevChannelID: prev,
		FailedNextDestination: events.HTLCDestination{UnknownNextSCID: scid(700, 1, 0)}, FailureCode: 0x400a}))
	require.Equal(t, nodeapi.Event{Type: "htlc_handling_failed", ChannelID: hex.EncodeToString(prev[:]),
		ShortChannelID: "700x1x0", FailureCode: 0x400a, Reason: "unknown_next_peer"}, <-evs)
	require.NoError(t, n.handleEvent(events.ProbeSuccessful{PaymentID: events.PaymentID{3}, PaymentHash: [32]byte{4}}))
	e := <-evs
	require.Equal(t, "probe_successful", e.Type)
	require.Equal(t, hex.EncodeToString([]byte{3})+fmt.Sprintf("%062d", 0), e.PaymentID)
	require.NoError(t, n.handleEvent(events.ProbeFailed{PaymentID: events.PaymentID{3}, ShortChannelID: scid(700, 1, 0)}))
	e = <-evs
	require.Equal(t, "probe_failed", e.Type)
	require.Equal(t, "700x1x0", e.ShortChannelID)

	svc := &service{n: n}
	h, err := svc.ForwardingHistory(context.Background(), nodeapi.ForwardingHistoryParams{})
	require.NoError(t, err)
	require.Len(t, h.Forwards, 1)
	f := h.Forwards[0]
	require.InDelta(t, time.Now().Unix(), f.Timestamp, 5)
	require.Equal(t, nodeapi.Forward{Timestamp: f.Timestamp, PrevChannelID: hex.EncodeToString(prev[:]),
		NextChannelID: hex.EncodeToString(next[:]), AmountInMsat: 101_010, AmountOutMsat: 100_000, FeeMsat: 1010}, f,
		"channels the manager does not know have no short id nor peer")
	require.EqualValues(t, 1010, h.TotalFeeMsat)
	n.Stop()

	n = startTestNode(t, cfg, nil)
	h, err = (&service{n: n}).ForwardingHistory(context.Background(), nodeapi.ForwardingHistoryParams{Limit: 1})
	require.NoError(t, err)
	require.Equal(t, []nodeapi.Forward{f}, h.Forwards)
}

func TestUpdateChanPolicyErrors(t *testing.T) {
	btcd := newFakeBtcd(t)
	n := startTestNode(t, testNodeConfig(t, btcd), nil)
	svc := &service{n: n}
	ctx := context.Background()
	one, zero := uint32(1), uint16(0)
	_, err := svc.UpdateChanPolicy(ctx, nodeapi.UpdateChanPolicyParams{})
	require.ErrorIs(t, err, nodeapi.ErrInvalidParams)
	_, err = svc.UpdateChanPolicy(ctx, nodeapi.UpdateChanPolicyParams{TimeLockDelta: &zero})
	require.ErrorIs(t, err, nodeapi.ErrInvalidParams)
	_, err = svc.UpdateChanPolicy(ctx, nodeapi.UpdateChanPolicyParams{ChannelID: "nothex", FeeRatePPM: &one})
	require.ErrorContains(t, err, "no channel with short channel id nothex")
	_, err = svc.UpdateChanPolicy(ctx, nodeapi.UpdateChanPolicyParams{ChannelID: "abc", FeeRatePPM: &one})
	require.ErrorIs(t, err, nodeapi.ErrInvalidParams)
	_, err = svc.UpdateChanPolicy(ctx, nodeapi.UpdateChanPolicyParams{ChannelID: hex32('z'), FeeRatePPM: &one})
	require.ErrorIs(t, err, nodeapi.ErrInvalidParams)
	_, err = svc.UpdateChanPolicy(ctx, nodeapi.UpdateChanPolicyParams{ChannelID: hex32('a'), FeeRatePPM: &one})
	require.ErrorContains(t, err, "no channel")
	_, err = svc.UpdateChanPolicy(ctx, nodeapi.UpdateChanPolicyParams{ChannelID: "700x1x0", FeeRatePPM: &one})
	require.ErrorContains(t, err, "no channel with short channel id 700x1x0")
	res, err := svc.UpdateChanPolicy(ctx, nodeapi.UpdateChanPolicyParams{FeeRatePPM: &one})
	require.NoError(t, err)
	require.Equal(t, &nodeapi.UpdateChanPolicyResult{Updated: []nodeapi.ChannelPolicy{}}, res, "no channels: none updated")
}

func TestFailureName(t *testing.T) {
	for code, want := range map[uint16]string{0: "unreadable failure", 0x400f: "incorrect_or_unknown_payment_details",
		0x100c: "fee_insufficient", 0x100d: "incorrect_cltv_expiry", 0x100e: "expiry_too_soon", 0x1007: "temporary_channel_failure",
		0x2002: "temporary_node_failure", 0x6002: "permanent_node_failure", 0x1014: "channel_disabled", 0x17: "mpp_timeout",
		0x4008: "permanent_channel_failure", 0x100b: "amount_below_minimum", 0x1234: "failure 0x1234"} {
		require.Equal(t, want, failureName(code), "%#x", code)
	}
}

// TestPartialSendWaitsForTheOutcome: a multi-path payment whose later paths could not leave
// (ErrPartialSend) is in flight, not failed: the call waits for the manager's outcome. Any other error
// of the send fails the record at once.
func TestPartialSendWaitsForTheOutcome(t *testing.T) {
	s := testRecords(t, kvstore.NewMemStore())
	svc := &service{n: &Node{store: s, log: slog.New(slog.DiscardHandler), wakeCh: make(chan struct{}, 1)}}
	ctx := context.Background()

	done := make(chan *nodeapi.Payment)
	go func() {
		p, err := svc.sendAndWait(ctx, nodeapi.Payment{PaymentID: "aa"}, false, func() error {
			return fmt.Errorf("%w: 1 of 2 paths sent", channelmanager.ErrPartialSend)
		})
		require.NoError(t, err)
		done <- p
	}()
	require.Eventually(t, func() bool {
		p, ok := s.payment("aa")
		return ok && p.Status == nodeapi.StatusPending
	}, 5*time.Second, time.Millisecond)
	select {
	case <-done:
		t.Fatal("returned before the outcome")
	case <-time.After(50 * time.Millisecond):
	}
	s.updatePayment("aa", func(p *nodeapi.Payment) { p.Status = nodeapi.StatusSucceeded })
	s.release() // the node's flush: the outcome is durable
	require.Equal(t, nodeapi.StatusSucceeded, (<-done).Status)

	_, err := svc.sendAndWait(ctx, nodeapi.Payment{PaymentID: "bb"}, false, func() error { return errors.New("peer offline") })
	require.ErrorContains(t, err, "peer offline")
	p, _ := s.payment("bb")
	require.Equal(t, nodeapi.StatusFailed, p.Status)
	require.Equal(t, "peer offline", p.FailureReason)
}

// TestNoRedialWhileAConnectionIsBeingMade: while an outbound connection to a peer is registered (here
// stuck in its handshake), neither a redial nor connect dials it again: a connection replaced by a
// newer one must not start a chain of replacements.
func TestNoRedialWhileAConnectionIsBeingMade(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer ln.Close()
	var mu sync.Mutex
	var accepted []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			accepted = append(accepted, c) // never answers the handshake
			mu.Unlock()
		}
	}()
	count := func() int {
		mu.Lock()
		defer mu.Unlock()
		return len(accepted)
	}
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range accepted {
			_ = c.Close()
		}
	}()

	btcd := newFakeBtcd(t)
	n := startTestNode(t, testNodeConfig(t, btcd), nil)
	peer := mustPub(testID(30))
	require.False(t, n.hasOutboundConn(peer))
	require.NoError(t, n.dial(peer, ln.Addr().String()))
	require.Eventually(t, func() bool { return count() == 1 }, 5*time.Second, 5*time.Millisecond)
	require.True(t, n.hasOutboundConn(peer))
	require.False(t, n.isConnected(peer))

	n.redial(n.peers, peer) // returns at once
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	_, err = (&service{n: n}).Connect(ctx, nodeapi.ConnectParams{NodeID: nodeIDHex(peer), Address: ln.Addr().String()})
	require.Error(t, err, "the handshake never completes")
	time.Sleep(100 * time.Millisecond)
	require.Equal(t, 1, count(), "no second connection")
}
