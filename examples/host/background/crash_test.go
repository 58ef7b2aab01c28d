package background_test

import (
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
)

// errCrashed is what a "crashed" node's manager persister answers.
var errCrashed = errors.New("the process died")

// crashedPersist is the manager persister of a node whose process died: a persist with nothing to
// write succeeds (the Processor asks before every write), the first one with something to write fails,
// and every one after it.
func (s *stack) crashedPersist(force bool) error {
	if force || s.cm.GetAndClearNeedsPersistence() {
		s.lost.Store(true)
	}
	if s.lost.Load() {
		return errCrashed
	}
	return nil
}

// TestCrashBeforeManagerPersist: the process dies where the Processor must persist the manager before
// Bob's answer to a payment leaves. From the moment Bob's manager can no longer be persisted, no byte of
// his may leave: Alice's update_add_htlc and commitment_signed reach him, his monitor records the new
// commitment, but his revoke_and_ack never goes out (the pass skips ProcessEvents, the socket's
// BeforeWrite fails and the connection closes). Bob then restarts from his files, which hold the
// manager from before the payment and the monitor from after it. The channel must reestablish
// without a force close; the payment must have exactly one outcome (Bob's restarted manager may fail
// it back or claim it); both sides' balances must match those outcomes to the msat; and the next
// payment must succeed.
func TestCrashBeforeManagerPersist(t *testing.T) {
	dir := t.TempDir()
	chain, alice, bob, err := newPair(dir)
	require.NoError(t, err)
	defer func() { _ = alice.stop() }()
	id, err := openChannel(chain, alice, bob, 250_000)
	require.NoError(t, err)
	require.NoError(t, bob.proc.RunPass()) // quiet: everything so far is in Bob's file
	before := fileBytes(bob.mgrFile)
	aliceStart := channelOf(t, alice, id).BalanceMsat

	bob.crashed.Store(true)
	const amountMsat = 20_000_000
	first := pay(t, alice, bob, amountMsat, 1)
	require.NoError(t, waitUntil("Bob's connection to close", func() bool { return !alice.connectedTo(bob) }))
	require.True(t, bob.lost.Load(), "Bob's persist failed: that is what closed the connection")
	require.Equal(t, before, fileBytes(bob.mgrFile), "nothing of the payment reached Bob's manager file")
	require.Nil(t, outcome(alice, first), "the payment is in flight: Bob never answered")

	// The crash: Bob's process is gone (his last persists fail, his objects are dropped).
	_ = bob.stop()
	bob2, err := restartStack("bob", chain, dir)
	require.NoError(t, err)
	defer func() { _ = bob2.stop() }()
	ln, err := bob2.listen()
	require.NoError(t, err)
	defer ln.Close()
	require.NoError(t, alice.connect(bob2, ln.Addr().String()))
	require.NoError(t, waitUntil("the channel to reestablish", func() bool { return alice.usable(id) && bob2.usable(id) }),
		"alice: %s; bob: %s", alice.diag(), bob2.diag())

	require.NoError(t, waitUntil("the first payment's outcome", func() bool { return outcome(alice, first) != nil }))
	paid := uint64(0) // what Bob holds: the payments that succeeded
	if sent, ok := outcome(alice, first).(events.PaymentSent); ok {
		require.Equal(t, sha256.Sum256(sent.PaymentPreimage[:]), sent.PaymentHash)
		paid += amountMsat
	} // else failed back: Alice keeps the amount
	second := pay(t, alice, bob2, amountMsat, 2)
	require.NoError(t, waitUntil("the second payment", func() bool { return outcome(alice, second) != nil }))
	require.IsType(t, events.PaymentSent{}, outcome(alice, second), "the channel works after the restart")
	paid += amountMsat
	for _, p := range []events.PaymentID{first, second} {
		require.Equal(t, 1, countOutcomes(alice, p), "exactly one outcome per payment")
	}

	var a, b channelmanager.ChannelDetails
	require.NoError(t, waitUntil("the balances to settle", func() bool {
		a, b = channelOf(t, alice, id), channelOf(t, bob2, id)
		return b.BalanceMsat == paid && a.BalanceMsat == aliceStart-paid
	}), "alice holds %d msat, bob %d; %d paid", a.BalanceMsat, b.BalanceMsat, paid)
	require.Empty(t, chain.Mempool(), "nothing was broadcast: no force close")
	require.NoError(t, errors.Join(alice.problem(), bob2.problem()))
}

// pay sends amountMsat from a to b over their channel (a one-hop route); it returns the payment id.
func pay(t *testing.T, a, b *stack, amountMsat uint64, n byte) events.PaymentID {
	t.Helper()
	hash, secret, err := b.cm.CreateInboundPayment(amountMsat, 3600, 0)
	require.NoError(t, err)
	route := router.SinglePath(router.RouteHop{PubKey: b.id, FeeMsat: amountMsat,
		CLTVExpiryDelta: channelmanager.DefaultMinFinalCLTVExpiryDelta + 6})
	id := events.PaymentID{n}
	require.NoError(t, a.cm.SendPaymentWithRoute(route, hash, &secret, id))
	a.proc.Wake()
	return id
}

// outcome is the first PaymentSent or PaymentFailed s saw for id, or nil.
func outcome(s *stack, id events.PaymentID) events.Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range s.payments {
		if isOutcome(e, id) {
			return e
		}
	}
	return nil
}

// countOutcomes counts the PaymentSent and PaymentFailed s saw for id.
func countOutcomes(s *stack, id events.PaymentID) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, e := range s.payments {
		if isOutcome(e, id) {
			n++
		}
	}
	return n
}

func isOutcome(e events.Event, id events.PaymentID) bool {
	switch ev := e.(type) {
	case events.PaymentSent:
		return ev.PaymentID == id
	case events.PaymentFailed:
		return ev.PaymentID == id
	}
	return false
}

func channelOf(t *testing.T, s *stack, id lnwire.ChannelID) channelmanager.ChannelDetails {
	t.Helper()
	for _, d := range s.cm.ListChannels() {
		if d.ChannelID == id {
			return d
		}
	}
	t.Fatalf("no channel %x", id)
	return channelmanager.ChannelDetails{}
}
