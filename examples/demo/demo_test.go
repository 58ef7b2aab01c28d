package main

import (
	"bytes"
	"context"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// syncBuffer is a bytes.Buffer safe for the demo's concurrent progress lines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testOptions are the demo's options for a test: full size normally, fewer payments with -short.
func testOptions(t *testing.T, out *syncBuffer) options {
	o := options{Payments: 100, BackPayments: 10, CarolPayments: 20, Out: out, LogOut: out}
	if testing.Short() {
		o.Payments, o.BackPayments, o.CarolPayments = 20, 4, 5
	}
	return o
}

// runAndCheck runs the demo and checks what every run must establish; it returns the summary.
func runAndCheck(t *testing.T, o options) *summary {
	t.Helper()
	before := runtime.NumGoroutine()
	out := o.Out.(*syncBuffer)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	s, err := runDemo(ctx, o)
	if err != nil || testing.Verbose() {
		t.Logf("demo output:\n%s", out)
	}
	require.NoError(t, err)
	require.NotNil(t, s)
	require.Empty(t, s.failedChecks())
	require.NotEmpty(t, s.Checks)

	// Payments: every one succeeded and the balances moved by exactly their amounts.
	require.Equal(t, o.Payments, s.AliceToBob.Attempted)
	require.Equal(t, o.Payments, s.AliceToBob.OK)
	require.Equal(t, o.BackPayments, s.BobToAlice.OK)
	require.Equal(t, o.CarolPayments, s.AliceToCarol.Attempted)
	require.Equal(t, o.CarolPayments, s.AliceToCarol.OK)
	require.Zero(t, s.AliceToBob.Failed+s.BobToAlice.Failed+s.AliceToCarol.Failed)
	require.Zero(t, s.AliceToBob.FeesMsat+s.BobToAlice.FeesMsat, "a direct channel has no routing fee")
	require.Zero(t, s.AliceToBob.ClaimMismatch+s.BobToAlice.ClaimMismatch+s.AliceToCarol.ClaimMismatch)

	// Alice → Carol through Bob: Alice paid Bob's fee policy on each payment (base 1,000 msat + 1,000
	// ppm of at least 1,000 sat: above 2,000 msat each), and Bob earned exactly that, in one
	// PaymentForwarded per payment, forwarding exactly the amounts.
	toCarol, fees := s.AliceToCarol.OKMsat, s.AliceToCarol.FeesMsat
	require.Zero(t, s.AliceToCarol.FeeMismatch)
	require.Equal(t, s.AliceToCarol.ExpectedFeesMsat, fees)
	require.GreaterOrEqual(t, fees, uint64(o.CarolPayments)*2_000)
	require.Equal(t, o.CarolPayments, s.Forwards)
	require.Equal(t, fees, s.FeesEarnedMsat)
	require.Equal(t, toCarol, s.ForwardedMsat)
	require.Zero(t, s.FailedBack)
	require.NotZero(t, s.BobCarol.BobSCIDAlias.ToUint64(), "bob gave carol an scid alias")
	require.NotEqual(t, s.BobCarol.ShortChannelID, s.BobCarol.BobSCIDAlias)
	require.Contains(t, s.RouteHint, "bob's hop over "+s.BobCarol.BobSCIDAlias.String()+" (his scid alias of the channel): fee 1000 msat + 1000 ppm")

	// Balances: Alice paid the amounts and the fees, Bob's two channels moved by the amounts and he
	// gained exactly the fees, Carol received the amounts.
	capMsat := uint64(s.ChannelValueSat) * 1000
	bc := s.BobCarol
	require.Equal(t, capMsat, s.AliceBalanceMsat+s.BobBalanceMsat)
	require.Equal(t, capMsat-s.AliceToBob.OKMsat+s.BobToAlice.OKMsat-toCarol-fees, s.AliceBalanceMsat)
	require.Equal(t, capMsat, bc.BobBalanceMsat+bc.CarolBalanceMsat)
	require.Equal(t, toCarol, bc.CarolBalanceMsat)
	require.Equal(t, capMsat-toCarol, bc.BobBalanceMsat)
	require.Equal(t, s.AliceToBob.OKMsat-s.BobToAlice.OKMsat+fees, s.BobBalanceMsat+bc.BobBalanceMsat-capMsat)

	// Funding: each funder's wallet paid the channel value and the fee.
	require.Positive(t, s.FundingFeeSat)
	require.Equal(t, s.AliceWalletBeforeSat-s.AliceWalletAfterSat, s.ChannelValueSat+s.FundingFeeSat)
	require.Positive(t, bc.FundingFeeSat)
	require.Equal(t, bc.BobWalletBeforeSat-bc.BobWalletAfterSat, s.ChannelValueSat+bc.FundingFeeSat)
	require.Equal(t, "anchors", s.ChannelType)

	// Bob–Carol closes cooperatively in every variant: Carol gets her balance, Bob pays the fee.
	floorB, floorC := int64(bc.BobBalanceMsat/1000), int64(bc.CarolBalanceMsat/1000)
	require.Equal(t, floorC, bc.CarolOnChainSat, "carol gets her balance")
	require.Positive(t, bc.ClosingFeeSat)
	require.Equal(t, floorB-(bc.ClosingFeeSat-bc.RoundingSat), bc.BobOnChainSat, "bob pays the closing fee")
	require.Equal(t, s.ChannelValueSat, bc.BobOnChainSat+bc.CarolOnChainSat+bc.ClosingFeeSat)

	// The summary is printed.
	text := out.String()
	require.Contains(t, text, "summary")
	require.Contains(t, text, "RESULT: OK")
	require.Contains(t, text, "alice → bob: "+itoa(o.Payments)+"/"+itoa(o.Payments)+" done")
	require.Contains(t, text, "alice → carol: "+itoa(o.CarolPayments)+"/"+itoa(o.CarolPayments)+" done")
	require.Contains(t, text, "bob closes the channel with carol cooperatively")

	// Clean-up: the temp dir is gone and every goroutine the demo started has ended.
	_, statErr := os.Stat(s.TempDir)
	require.True(t, os.IsNotExist(statErr), "temp dir %s removed", s.TempDir)
	requireNoGoroutinesLeft(t, before)
	return s
}

// requireNoGoroutinesLeft waits (up to 10 s) for the goroutine count to fall back to before. It polls
// in the test's own goroutine: require.Eventually would add one of its own to the count.
func requireNoGoroutinesLeft(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines left running (%d before):\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func itoa(n int) string { return fmtInt(int64(n)) }

// TestDemoCooperativeClose runs the default demo: open both channels, pay both ways between alice and
// bob, pay carol through bob, close both channels cooperatively.
func TestDemoCooperativeClose(t *testing.T) {
	out := &syncBuffer{}
	s := runAndCheck(t, testOptions(t, out))
	require.False(t, s.ForceClose)
	floorA, floorB := int64(s.AliceBalanceMsat/1000), int64(s.BobBalanceMsat/1000)
	require.Equal(t, floorB, s.BobOnChainSat, "bob gets his balance")
	require.Positive(t, s.ClosingFeeSat)
	require.Equal(t, floorA-(s.ClosingFeeSat-s.RoundingSat), s.AliceOnChainSat, "alice pays the closing fee")
	require.Equal(t, s.ChannelValueSat, s.AliceOnChainSat+s.BobOnChainSat+s.ClosingFeeSat)
	require.Contains(t, out.String(), "alice closes the channel with bob cooperatively")
}

// TestDemoForceClose runs the demo ending with Alice's force close of alice–bob and both sweeps (bob–carol
// still closes cooperatively).
func TestDemoForceClose(t *testing.T) {
	out := &syncBuffer{}
	o := testOptions(t, out)
	o.ForceClose = true
	s := runAndCheck(t, o)
	require.True(t, s.ForceClose)
	toLocal, toRemote := anchorCommitmentOutputsSat(s.AliceBalanceMsat, s.BobBalanceMsat, s.CommitFeeratePerKw, 0)
	require.Equal(t, toLocal, s.ToLocalSat)
	require.Equal(t, toRemote, s.ToRemoteSat)
	require.Equal(t, s.ToLocalSat-s.AliceSweepFeeSat, s.AliceOnChainSat)
	require.Equal(t, s.ToRemoteSat-s.BobSweepFeeSat, s.BobOnChainSat)
	require.Equal(t, s.CommitmentHeight+uint32(s.ToSelfDelay), s.AliceSweepHeight, "alice waits to_self_delay")
	require.Equal(t, s.CommitmentHeight+1, s.BobSweepHeight, "bob's to_remote has a 1-block CSV")
	require.Equal(t, s.ChannelValueSat, s.AliceOnChainSat+s.BobOnChainSat+s.AliceSweepFeeSat+s.BobSweepFeeSat+
		s.CommitmentFeeSat+s.AnchorSat)
	require.Equal(t, int64(2*anchorOutputSat), s.AnchorSat)
	require.Contains(t, out.String(), "alice force-closes the channel")
}

// TestDemoBackPressure runs the demo with tiny socket buffers and a small PeerManager pause limit, so
// that SendData keeps refusing bytes and WriteBufferSpaceAvail has to restart the writes.
func TestDemoBackPressure(t *testing.T) {
	out := &syncBuffer{}
	o := options{Payments: 30, BackPayments: 5, CarolPayments: 5, InFlight: 8, SocketBufferBytes: 256, PeerPauseBytes: 300,
		Out: out, LogOut: out}
	if testing.Short() {
		o.Payments, o.BackPayments, o.CarolPayments = 10, 3, 3
	}
	s := runAndCheck(t, o)
	require.Positive(t, s.PartialSends, "SendData refused bytes")
	require.Positive(t, s.SpaceAvail, "WriteBufferSpaceAvail restarted the writes")
}

// TestDemoInterrupted: a cancelled context stops the demo with an error, and it still cleans up.
func TestDemoInterrupted(t *testing.T) {
	out := &syncBuffer{}
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	s, err := runDemo(ctx, options{Payments: 5, Out: out})
	require.Error(t, err)
	require.ErrorIs(t, err, context.Canceled)
	require.Contains(t, out.String(), "RESULT: FAILED")
	_, statErr := os.Stat(s.TempDir)
	require.True(t, os.IsNotExist(statErr))
	requireNoGoroutinesLeft(t, before)
}

// TestAmountRange: the payment amounts stay within 1,000..50,000 sat and their expected total within
// the budget.
func TestAmountRange(t *testing.T) {
	for _, tc := range []struct {
		count  int
		budget uint64
		lo, hi uint64
	}{
		{100, 600_000_000, 1_000_000, 11_000_000},
		{10, 130_000_000, 1_000_000, 25_000_000},
		{3, 600_000_000, 1_000_000, 50_000_000}, // capped at 50,000 sat
		{1000, 600_000_000, 300_000, 900_000},   // small mean: lo is half of it
		{100_000, 600_000_000, 3_000, 9_000},
		{1_000_000, 600_000_000, 1_000, 1_000}, // never below 1 sat
		{0, 600_000, 300_000, 900_000},         // count 0 is treated as 1
	} {
		lo, hi := amountRange(tc.count, tc.budget)
		require.Equal(t, tc.lo, lo, "lo for %d payments of %d msat", tc.count, tc.budget)
		require.Equal(t, tc.hi, hi, "hi for %d payments of %d msat", tc.count, tc.budget)
		require.LessOrEqual(t, lo, hi)
	}
}

// TestFmt checks the thousands separators of the summary.
func TestFmt(t *testing.T) {
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", -1234567: "-1,234,567",
		1_000_000_000: "1,000,000,000"} {
		require.Equal(t, want, fmtInt(in))
	}
	require.Equal(t, "18,446,744,073,709,551,615", fmtUint(^uint64(0)))
	require.True(t, strings.HasPrefix(fmtUint(12345), "12,"))
}

// TestDemoReconnect drops Alice's TCP connection while payments are in flight: she redials, the
// channel is reestablished over the new connection, and every payment still completes.
func TestDemoReconnect(t *testing.T) {
	out := &syncBuffer{}
	o := options{Payments: 40, BackPayments: 5, CarolPayments: 5, InFlight: 5, DropConnectionAfter: 17, Out: out, LogOut: out}
	if testing.Short() {
		o.Payments, o.CarolPayments, o.DropConnectionAfter = 20, 3, 7
	}
	s := runAndCheck(t, o)
	require.Equal(t, int64(1), s.Reconnects)
	require.Contains(t, out.String(), "dropping the TCP connection")
}
