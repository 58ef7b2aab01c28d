package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
)

// options configure one run of the demo. Zero values take the defaults of withDefaults.
type options struct {
	// ForceClose ends the demo with Alice's force close and the sweeps instead of a cooperative close.
	ForceClose bool
	// Payments is the number of payments from Alice to Bob (default 100), BackPayments from Bob to
	// Alice (default 10); negative for none.
	Payments     int
	BackPayments int
	// InFlight is how many payments of one direction may be in flight at once (default 5).
	InFlight int
	// ChannelValueSat is the channel's capacity (default 1,000,000 sat).
	ChannelValueSat int64
	// ToSelfDelay is the to_self_delay, in blocks, Bob imposes on Alice's to_local (default 20).
	ToSelfDelay uint16
	// MinimumDepth is the number of funding confirmations each side requires (default 3).
	MinimumDepth uint32
	// FeeratePerKw is the test chain's fee estimate for every target, in sat per 1000 weight units
	// (default 1000).
	FeeratePerKw uint32
	// Verbose logs every payment and the library's debug logs.
	Verbose bool
	// Out receives the progress log and the summary (default: discarded). LogOut receives the
	// library's slog output (warnings, or everything with Verbose; default: discarded).
	Out    io.Writer
	LogOut io.Writer
	// StepTimeout bounds each wait for a condition (default 30 s).
	StepTimeout time.Duration
	// Tick is the host loop's period (default 100 ms); PeerTimerEvery and ManagerTimerEvery say every how
	// many ticks PeerManager.TimerTickOccurred (default 20: 2 s) and ChannelManager.TimerTickOccurred
	// (default 50: 5 s) run.
	Tick              time.Duration
	PeerTimerEvery    int
	ManagerTimerEvery int
	// SocketBufferBytes is each socket's outgoing buffer limit (default 256 KiB): SendData takes at most
	// this much that has not been written yet. WriteTimeout bounds each socket write (default 10 s).
	SocketBufferBytes int
	WriteTimeout      time.Duration
	// PeerPauseBytes is the PeerManager's OutboundBufferPauseBytes (0: the library default).
	PeerPauseBytes int
	// Seed chooses the payment amounts (default 1).
	Seed uint64
	// DropConnectionAfter, if positive, closes Alice's TCP connection abruptly after that many of her
	// payments were sent (some still in flight): she redials, the channel is reestablished
	// (channel_reestablish), and the payments go on.
	DropConnectionAfter int
}

func (o options) withDefaults() options {
	if o.Payments == 0 {
		o.Payments = 100
	}
	if o.Payments < 0 {
		o.Payments = 0
	}
	if o.BackPayments == 0 {
		o.BackPayments = 10
	}
	if o.BackPayments < 0 {
		o.BackPayments = 0
	}
	if o.InFlight <= 0 {
		o.InFlight = 5
	}
	if o.ChannelValueSat == 0 {
		o.ChannelValueSat = 1_000_000
	}
	if o.ToSelfDelay == 0 {
		o.ToSelfDelay = 20
	}
	if o.MinimumDepth == 0 {
		o.MinimumDepth = 3
	}
	if o.FeeratePerKw == 0 {
		o.FeeratePerKw = 1000
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	if o.LogOut == nil {
		o.LogOut = io.Discard
	}
	if o.StepTimeout <= 0 {
		o.StepTimeout = 30 * time.Second
	}
	if o.Tick <= 0 {
		o.Tick = 100 * time.Millisecond
	}
	if o.PeerTimerEvery <= 0 {
		o.PeerTimerEvery = 20
	}
	if o.ManagerTimerEvery <= 0 {
		o.ManagerTimerEvery = 50
	}
	if o.SocketBufferBytes <= 0 {
		o.SocketBufferBytes = 256 << 10
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = 10 * time.Second
	}
	if o.Seed == 0 {
		o.Seed = 1
	}
	return o
}

// progress prints timestamped progress lines; safe for concurrent use.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	start time.Time
}

func (p *progress) printf(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "[%7.3fs] %s\n", time.Since(p.start).Seconds(), fmt.Sprintf(format, args...))
}

// println prints a line without timestamp (the summary).
func (p *progress) println(format string, args ...any) {
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, format+"\n", args...)
}

// run runs the demo; it returns an error if any step or check failed.
func run(ctx context.Context, o options) error {
	_, err := runDemo(ctx, o)
	return err
}

// demo is the state of one run.
type demo struct {
	ctx        context.Context
	o          options
	p          *progress
	chain      *testchain.Chain
	alice, bob *node
	book       *paymentBook
	sum        *summary
}

// runDemo runs the demo and returns its summary (also on failure, as far as it got).
func runDemo(ctx context.Context, o options) (*summary, error) {
	o = o.withDefaults()
	d := &demo{ctx: ctx, o: o, p: &progress{w: o.Out, start: time.Now()}, book: newPaymentBook(),
		sum: &summary{ForceClose: o.ForceClose, ChannelValueSat: o.ChannelValueSat, ToSelfDelay: o.ToSelfDelay}}
	err := d.run()
	d.sum.Elapsed = time.Since(d.p.start)
	if d.alice != nil && d.bob != nil {
		d.sum.collectStats(d.alice, d.bob)
	}
	d.sum.print(d.p, o.Verbose)
	if err == nil {
		if bad := d.sum.failedChecks(); len(bad) > 0 {
			names := make([]string, len(bad))
			for i, c := range bad {
				names[i] = c.Name
			}
			err = fmt.Errorf("%d check(s) failed: %s", len(bad), strings.Join(names, "; "))
		}
	}
	if err == nil {
		d.p.println("RESULT: OK (%d checks passed)", len(d.sum.Checks))
	} else {
		d.p.println("RESULT: FAILED: %v", err)
	}
	return d.sum, err
}

func (d *demo) run() error {
	o := d.o
	// The library's own logs: errors only, or everything with -v (a force close makes the peer log a
	// warning about the `error` it received, which is expected here).
	level := slog.LevelError
	if o.Verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(o.LogOut, &slog.HandlerOptions{Level: level}))

	dir, err := os.MkdirTemp("", "lnkit-demo-")
	if err != nil {
		return err
	}
	d.sum.TempDir = dir
	defer removeAll(dir)

	// The chain: 101 blocks so that the first coinbase is mature, as on a fresh regtest node.
	d.chain = testchain.New(&chaincfg.RegressionNetParams)
	d.chain.SetDefaultFeeratePerKw(o.FeeratePerKw)
	d.chain.MineBlocks(101)
	d.sum.FeeratePerKw = o.FeeratePerKw

	aliceCfg, bobCfg := config.Default(), config.Default()
	for _, c := range []*config.UserConfig{&aliceCfg, &bobCfg} {
		c.ChannelHandshakeConfig.MinimumDepth = o.MinimumDepth
		c.ChannelHandshakeConfig.OurMaxAcceptedHTLCs = uint16(max(50, 2*o.InFlight))
	}
	// Bob sets the delay Alice must wait before she can spend her to_local after a force close.
	bobCfg.ChannelHandshakeConfig.OurToSelfDelay = o.ToSelfDelay

	d.alice, err = newNode("alice", d.chain, dir, aliceCfg, o, logger, d.p, d.book)
	if err != nil {
		return err
	}
	d.bob, err = newNode("bob", d.chain, dir, bobCfg, o, logger, d.p, d.book)
	if err != nil {
		d.alice.stop()
		return err
	}
	// Alice first, so that she does not try to redial Bob while he shuts down.
	defer func() {
		d.alice.stop()
		d.bob.stop()
	}()
	d.p.printf("alice is %x", d.alice.id.SerializeCompressed())
	d.p.printf("bob   is %x", d.bob.id.SerializeCompressed())

	// Alice's wallet gets coins to fund the channel.
	d.chain.FundAddress(d.alice.wallet.PkScript(), o.ChannelValueSat+100_000)
	d.chain.MineBlocks(1)
	d.sum.AliceWalletBeforeSat = d.alice.wallet.Balance()
	d.p.printf("alice's wallet holds %s sat at height %d", fmtInt(d.sum.AliceWalletBeforeSat), d.chain.Height())

	if err := d.connect(); err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	chanID, err := d.openChannel()
	if err != nil {
		return fmt.Errorf("opening the channel: %w", err)
	}
	d.sum.ChannelID = chanID

	rng := rand.New(rand.NewPCG(o.Seed, 0x6c6e6b6974))
	budget := uint64(o.ChannelValueSat) * 1000 * 6 / 10
	if err := d.payMany(d.alice, d.bob, o.Payments, budget, &d.sum.AliceToBob, rng, chanID); err != nil {
		return fmt.Errorf("alice → bob payments: %w", err)
	}
	if bd, _ := d.bob.channel(chanID); o.BackPayments > 0 && bd.BalanceMsat < uint64(o.BackPayments)*1_000_000 {
		d.p.printf("bob has %s msat: too little for %d payments back; skipping them", fmtUint(bd.BalanceMsat), o.BackPayments)
		d.sum.Notes = append(d.sum.Notes, "bob's payments back were skipped: he had too little to send")
		d.o.BackPayments = 0
	}
	if d.o.BackPayments > 0 {
		bd, _ := d.bob.channel(chanID)
		if err := d.payMany(d.bob, d.alice, d.o.BackPayments, bd.BalanceMsat*3/10, &d.sum.BobToAlice, rng, chanID); err != nil {
			return fmt.Errorf("bob → alice payments: %w", err)
		}
	}
	det, err := d.checkChannelBalances(chanID)
	if err != nil {
		return err
	}
	if o.ForceClose {
		return d.forceClose(det)
	}
	return d.cooperativeClose(det)
}

// problems returns the first problem either node recorded.
func (d *demo) problems() error {
	if err := d.alice.firstProblem(); err != nil {
		return err
	}
	return d.bob.firstProblem()
}

// waitFor polls cond until it holds, for at most StepTimeout; it fails early if a node recorded a
// problem or the context ends.
func (d *demo) waitFor(what string, cond func() bool) error {
	deadline := time.Now().Add(d.o.StepTimeout)
	for {
		if cond() {
			return nil
		}
		if err := d.problems(); err != nil {
			return fmt.Errorf("while waiting for %s: %w", what, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out after %s waiting for %s", d.o.StepTimeout, what)
		}
		select {
		case <-d.ctx.Done():
			return fmt.Errorf("interrupted while waiting for %s: %w", what, d.ctx.Err())
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// mine mines n blocks and lets both nodes process what the blocks caused.
func (d *demo) mine(n int) {
	d.chain.MineBlocks(n)
	d.alice.sync()
	d.bob.sync()
}

// connect starts Bob's listener on 127.0.0.1 and has Alice dial it.
func (d *demo) connect() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	d.bob.serve(ln)
	addr := ln.Addr().String()
	d.p.printf("bob listens on %s; alice dials", addr)
	if err := d.alice.dial(addr, d.bob.id); err != nil {
		return err
	}
	if err := d.waitFor("the BOLT 8 handshake and init exchange", func() bool {
		return d.alice.connected(d.bob.id) && d.bob.connected(d.alice.id)
	}); err != nil {
		return err
	}
	d.p.printf("connected: handshake and init done on both sides")
	return nil
}

// openChannel opens Alice's channel to Bob and mines it to readiness.
func (d *demo) openChannel() (lnwire.ChannelID, error) {
	var userID [16]byte
	copy(userID[:], "lnkit demo chan")
	if _, err := d.alice.cm.CreateChannel(d.bob.id, d.o.ChannelValueSat, 0, userID, nil); err != nil {
		return lnwire.ChannelID{}, err
	}
	d.alice.wake()
	d.p.printf("alice opens a %s sat channel to bob", fmtInt(d.o.ChannelValueSat))
	var pend events.ChannelPending
	if err := d.waitFor("ChannelPending on both sides", func() bool {
		d.alice.mu.Lock()
		defer d.alice.mu.Unlock()
		d.bob.mu.Lock()
		defer d.bob.mu.Unlock()
		if len(d.alice.pending) == 0 || len(d.bob.pending) == 0 {
			return false
		}
		pend = d.alice.pending[0]
		return true
	}); err != nil {
		return lnwire.ChannelID{}, err
	}
	fundingTxid := pend.FundingTxo.Hash
	if err := d.waitFor("the funding transaction in the mempool", func() bool { return d.chain.InMempool(fundingTxid) }); err != nil {
		return lnwire.ChannelID{}, err
	}
	d.sum.FundingTxo = pend.FundingTxo
	d.p.printf("funding transaction %s broadcast; channel %s pending", fundingTxid, pend.ChannelID)

	// Confirm it: one block includes it; the rest bring it to minimum_depth.
	for i := uint32(0); i < d.o.MinimumDepth; i++ {
		d.mine(1)
		d.p.printf("mined block %d: funding has %d confirmation(s)", d.chain.Height(), d.chain.Confirmations(fundingTxid))
	}
	id := pend.ChannelID
	if err := d.waitFor("ChannelReady on both sides and a usable channel", func() bool {
		a, okA := d.alice.channel(id)
		b, okB := d.bob.channel(id)
		d.alice.mu.Lock()
		ra := len(d.alice.ready)
		d.alice.mu.Unlock()
		d.bob.mu.Lock()
		rb := len(d.bob.ready)
		d.bob.mu.Unlock()
		return okA && okB && a.IsUsable && b.IsUsable && ra > 0 && rb > 0
	}); err != nil {
		return id, err
	}
	det, _ := d.alice.channel(id)
	d.sum.ChannelType = det.ChannelType.String()
	d.sum.CommitFeeratePerKw = det.FeeratePerKw
	d.p.printf("channel ready: scid %v, type %s, commitment feerate %d sat/kw", det.ShortChannelID, det.ChannelType, det.FeeratePerKw)

	// Funding fee: what Alice's wallet paid on top of the channel value.
	d.alice.mu.Lock()
	var ftx *wire.MsgTx
	if len(d.alice.fundingTxs) > 0 {
		ftx = d.alice.fundingTxs[0]
	}
	d.alice.mu.Unlock()
	if ftx == nil || ftx.TxHash() != fundingTxid {
		return id, errors.New("alice's funding transaction is not the one the channel uses")
	}
	in, err := inputValue(d.chain, ftx)
	if err != nil {
		return id, err
	}
	d.sum.FundingFeeSat = in - outputValue(ftx)
	d.sum.AliceWalletAfterSat = d.alice.wallet.Balance()
	spent := d.sum.AliceWalletBeforeSat - d.sum.AliceWalletAfterSat
	d.sum.check("funding: alice's wallet paid the channel value plus the funding fee",
		spent == d.o.ChannelValueSat+d.sum.FundingFeeSat,
		"wallet %s -> %s sat: spent %s = %s + fee %s", fmtInt(d.sum.AliceWalletBeforeSat), fmtInt(d.sum.AliceWalletAfterSat),
		fmtInt(spent), fmtInt(d.o.ChannelValueSat), fmtInt(d.sum.FundingFeeSat))
	d.sum.check("funding: the channel is an anchors channel (option_anchors_zero_fee_htlc_tx)", det.ChannelType.Anchors,
		"type %s", det.ChannelType)
	d.sum.check("funding: alice starts with the whole channel", det.BalanceMsat == uint64(d.o.ChannelValueSat)*1000,
		"%s msat", fmtUint(det.BalanceMsat))
	return id, nil
}

// amountRange returns the range of payment amounts, in msat, for count payments that together spend
// about budgetMsat: uniform in [lo, hi] with mean budget/count, between 1 and 50,000 sat.
func amountRange(count int, budgetMsat uint64) (lo, hi uint64) {
	mean := budgetMsat / uint64(max(count, 1))
	lo = min(1_000_000, mean/2)
	hi = min(50_000_000, 2*mean-lo)
	lo = max(lo, 1_000)
	hi = max(hi, lo)
	return lo, hi
}

// payMany sends count payments from one node to the other, at most InFlight at once, and waits for
// every outcome.
func (d *demo) payMany(from, to *node, count int, budgetMsat uint64, st *payStats, rng *rand.Rand, chanID lnwire.ChannelID) error {
	lo, hi := amountRange(count, budgetMsat)
	label := from.name + " → " + to.name
	d.p.printf("%s: %d payments of %s..%s msat, up to %d in flight", label, count, fmtUint(lo), fmtUint(hi), d.o.InFlight)
	var all, inflight []*payment
	step := max(1, count/10)
	reported := 0
	report := func() {
		d.book.mu.Lock()
		done, ok := 0, 0
		var okMsat uint64
		for _, p := range all {
			if p.finished() {
				done++
				if p.ok {
					ok++
					okMsat += p.amountMsat
				}
			}
		}
		d.book.mu.Unlock()
		if done >= reported+step || (done == count && reported < count) {
			reported = done
			d.p.printf("%s: %d/%d done, %d ok, %s msat delivered", label, done, count, ok, fmtUint(okMsat))
		}
	}
	// prune drops finished payments from the in-flight list.
	prune := func() {
		d.book.mu.Lock()
		kept := inflight[:0]
		for _, p := range inflight {
			if !p.finished() {
				kept = append(kept, p)
			} else if d.o.Verbose {
				d.logPayment(p)
			}
		}
		inflight = kept
		d.book.mu.Unlock()
	}
	for i := 0; i < count; i++ {
		amt := lo + rng.Uint64N(hi-lo+1)
		if err := d.waitFor(fmt.Sprintf("%s: a free in-flight slot for payment %d", label, i+1), func() bool {
			prune()
			return len(inflight) < d.o.InFlight
		}); err != nil {
			return err
		}
		report()
		if from == d.alice && d.o.DropConnectionAfter > 0 && i == d.o.DropConnectionAfter {
			d.p.printf("%s: dropping the TCP connection with %d payment(s) in flight", label, len(inflight))
			d.alice.dropConnections()
		}
		// Wait until the channel can carry it; if nothing is in flight and it still cannot, the
		// payment fails here (the amounts are chosen so that this does not happen).
		var capErr error
		if err := d.waitFor(fmt.Sprintf("%s: capacity for payment %d", label, i+1), func() bool {
			prune()
			det, ok := from.channel(chanID)
			if ok && det.IsUsable && det.OutboundCapacityMsat >= amt {
				return true
			}
			if len(inflight) == 0 && ok && det.IsUsable {
				capErr = fmt.Errorf("outbound capacity %d msat < %d msat", det.OutboundCapacityMsat, amt)
				return true
			}
			return false
		}); err != nil {
			return err
		}
		p := &payment{index: i + 1, from: from, to: to, amountMsat: amt, started: time.Now()}
		var idIn [8]byte
		binary.BigEndian.PutUint64(idIn[:], uint64(i))
		p.id = events.PaymentID(sha256.Sum256(append([]byte(label), idIn[:]...)))
		all = append(all, p)
		if capErr != nil {
			p.done, p.reason, p.sendErr = true, "no capacity", capErr
			d.logPayment(p)
			continue
		}
		hash, secret, err := to.cm.CreateInboundPayment(amt, 3600, 0)
		if err != nil {
			return fmt.Errorf("payment %d: CreateInboundPayment: %w", i+1, err)
		}
		p.hash = hash
		d.book.add(p)
		route := router.SinglePath(router.RouteHop{PubKey: to.id, FeeMsat: amt,
			CLTVExpiryDelta: channelmanager.DefaultMinFinalCLTVExpiryDelta + 6})
		// A send refused because the channel is momentarily unusable (the peer is reconnecting) was never
		// sent, so it is safe to try again with the same payment id once the channel is back.
		err = from.cm.SendPaymentWithRoute(route, hash, &secret, p.id)
		for attempt := 1; err != nil && errors.Is(err, channelmanager.ErrChannelUnavailable) && attempt <= 50; attempt++ {
			if attempt == 1 {
				d.p.printf("%s: payment %d not sent (%v); retrying once the channel is usable again", label, i+1, err)
			}
			st.SendRetries++
			select {
			case <-d.ctx.Done():
				return d.ctx.Err()
			case <-time.After(100 * time.Millisecond):
			}
			if werr := d.waitFor(fmt.Sprintf("%s: the channel to be usable again for payment %d", label, i+1), func() bool {
				det, ok := from.channel(chanID)
				return ok && det.IsUsable && d.alice.connected(d.bob.id) && d.bob.connected(d.alice.id)
			}); werr != nil {
				return werr
			}
			err = from.cm.SendPaymentWithRoute(route, hash, &secret, p.id)
		}
		if err != nil {
			d.book.mu.Lock()
			p.done, p.reason, p.sendErr = true, "send refused", err
			d.book.mu.Unlock()
			d.logPayment(p)
			continue
		}
		from.wake()
		inflight = append(inflight, p)
	}
	if err := d.waitFor(label+": every payment's outcome", func() bool {
		prune()
		return len(inflight) == 0
	}); err != nil {
		return err
	}
	report()
	st.add(all)
	return nil
}

// logPayment prints one payment's outcome.
func (d *demo) logPayment(p *payment) {
	status := "ok"
	if !p.ok {
		status = "FAILED: " + p.reason
		if p.sendErr != nil {
			status += ": " + p.sendErr.Error()
		}
	}
	d.p.printf("  %s → %s payment %d: %s msat %s (%s)", p.from.name, p.to.name, p.index, fmtUint(p.amountMsat), status,
		p.elapsed.Round(time.Millisecond))
}

// checkChannelBalances waits for both sides to settle (no HTLC left) and checks their balances.
func (d *demo) checkChannelBalances(id lnwire.ChannelID) (channelmanager.ChannelDetails, error) {
	capMsat := uint64(d.o.ChannelValueSat) * 1000
	var a, b channelmanager.ChannelDetails
	if err := d.waitFor("both sides to settle every HTLC", func() bool {
		var okA, okB bool
		a, okA = d.alice.channel(id)
		b, okB = d.bob.channel(id)
		return okA && okB && a.NumPendingHTLCs == 0 && b.NumPendingHTLCs == 0 && a.BalanceMsat+b.BalanceMsat == capMsat
	}); err != nil {
		if a.ChannelID == id {
			d.sum.check("balances: alice and bob agree", false, "alice %s msat (%d HTLCs) + bob %s msat (%d HTLCs) != %s msat",
				fmtUint(a.BalanceMsat), a.NumPendingHTLCs, fmtUint(b.BalanceMsat), b.NumPendingHTLCs, fmtUint(capMsat))
		}
		return a, err
	}
	d.sum.AliceBalanceMsat, d.sum.BobBalanceMsat = a.BalanceMsat, b.BalanceMsat
	d.sum.CommitFeeratePerKw = a.FeeratePerKw
	d.sum.check("balances: alice's and bob's balances sum to the capacity", a.BalanceMsat+b.BalanceMsat == capMsat,
		"%s + %s = %s msat", fmtUint(a.BalanceMsat), fmtUint(b.BalanceMsat), fmtUint(a.BalanceMsat+b.BalanceMsat))
	want := capMsat - d.sum.AliceToBob.OKMsat + d.sum.BobToAlice.OKMsat
	d.sum.check("balances: alice's balance is the capacity minus what she sent plus what she received",
		a.BalanceMsat == want, "%s msat, expected %s msat", fmtUint(a.BalanceMsat), fmtUint(want))
	d.sum.check("payments: every payment succeeded",
		d.sum.AliceToBob.Failed == 0 && d.sum.BobToAlice.Failed == 0 && d.sum.AliceToBob.OK == d.o.Payments &&
			d.sum.BobToAlice.OK == d.o.BackPayments,
		"alice → bob %d/%d, bob → alice %d/%d", d.sum.AliceToBob.OK, d.o.Payments, d.sum.BobToAlice.OK, d.o.BackPayments)
	d.sum.check("payments: every payee claimed exactly the invoiced amount",
		d.sum.AliceToBob.ClaimMismatch == 0 && d.sum.BobToAlice.ClaimMismatch == 0,
		"%d + %d mismatches", d.sum.AliceToBob.ClaimMismatch, d.sum.BobToAlice.ClaimMismatch)
	d.p.printf("settled: alice %s msat, bob %s msat", fmtUint(a.BalanceMsat), fmtUint(b.BalanceMsat))
	return a, nil
}

// cooperativeClose closes the channel with shutdown/closing_signed and checks the closing outputs.
func (d *demo) cooperativeClose(det channelmanager.ChannelDetails) error {
	id, fundingOP := det.ChannelID, det.FundingTxo
	d.p.printf("alice closes the channel cooperatively")
	if err := d.alice.cm.CloseChannel(id, d.bob.id); err != nil {
		return fmt.Errorf("CloseChannel: %w", err)
	}
	d.alice.wake()
	var closingTxid chainhash.Hash
	if err := d.waitFor("the closing transaction in the mempool", func() bool {
		h, ok := d.chain.SpentBy(fundingOP)
		closingTxid = h
		return ok && d.chain.InMempool(h)
	}); err != nil {
		return err
	}
	if err := d.waitFor("ChannelClosed (CooperativeClosure) on both sides", func() bool {
		return hasClosed(d.alice, id, events.CooperativeClosure) && hasClosed(d.bob, id, events.CooperativeClosure)
	}); err != nil {
		return err
	}
	closing, _, _ := d.chain.GetTransaction(closingTxid)
	d.sum.ClosingTxid = closingTxid
	d.p.printf("closing transaction %s broadcast (%d outputs)", closingTxid, len(closing.TxOut))
	d.mine(1)
	d.sum.check("close: the closing transaction confirmed", d.chain.Confirmations(closingTxid) == 1,
		"%d confirmation(s) at height %d", d.chain.Confirmations(closingTxid), d.chain.Height())

	// The monitors could hand the closing outputs over as SpendableOutputs after AntiReorgDelay
	// confirmations, but only if the manager gave them the shutdown script (see the report): check them
	// when they come, note their absence otherwise.
	d.mine(channelmonitor.AntiReorgDelay - 1)
	d.p.printf("mined %d more blocks (height %d)", channelmonitor.AntiReorgDelay-1, d.chain.Height())
	aliceOn, _ := chainBalance(d.chain, d.alice.shutdownScript)
	bobOn, _ := chainBalance(d.chain, d.bob.shutdownScript)
	d.sum.AliceOnChainSat, d.sum.BobOnChainSat = aliceOn, bobOn
	d.sum.ClosingFeeSat = d.o.ChannelValueSat - outputValue(closing)
	floorA, floorB := int64(d.sum.AliceBalanceMsat/1000), int64(d.sum.BobBalanceMsat/1000)
	// The balances are in msat, the outputs in whole sat: the sub-sat remainders (at most 1 sat in all
	// here, as the two balances sum to a whole number of sat) are rounded away and go to the fee.
	d.sum.RoundingSat = d.o.ChannelValueSat - floorA - floorB

	// An output below the dust limit is left out of the closing transaction (BOLT 2 closing rules).
	dust := int64(max(d.alice.cfg.ChannelHandshakeConfig.OurDustLimitSat, d.bob.cfg.ChannelHandshakeConfig.OurDustLimitSat))
	wantBob := floorB
	if wantBob < dust {
		wantBob = 0
	}
	toShutdown := payTo(closing, d.alice.shutdownScript) + payTo(closing, d.bob.shutdownScript)
	negotiated := d.sum.ClosingFeeSat - d.sum.RoundingSat - (floorB - wantBob)
	d.sum.check("close: the closing transaction pays only alice's and bob's shutdown scripts, one output each",
		toShutdown == outputValue(closing) && len(closing.TxOut) <= 2 && (wantBob == 0 || payTo(closing, d.bob.shutdownScript) > 0),
		"%d outputs", len(closing.TxOut))
	d.sum.check("close: bob's on-chain amount is his channel balance in sat (rounded down)", bobOn == wantBob,
		"%s sat on chain, balance %s msat", fmtInt(bobOn), fmtUint(d.sum.BobBalanceMsat))
	d.sum.check("close: alice's on-chain amount is her balance minus the closing fee", aliceOn == floorA-negotiated,
		"%s sat on chain = %s - %s", fmtInt(aliceOn), fmtInt(floorA), fmtInt(negotiated))
	d.sum.check("close: the closing fee is positive and at least the relay minimum",
		negotiated > 0 && negotiated*1000 >= relayFloorPerKw*txWeight(closing),
		"%s sat for %d weight units", fmtInt(d.sum.ClosingFeeSat), txWeight(closing))
	d.sum.check("close: nothing lost: on-chain amounts + closing fee = channel value",
		aliceOn+bobOn+d.sum.ClosingFeeSat == d.o.ChannelValueSat,
		"%s + %s + %s = %s", fmtInt(aliceOn), fmtInt(bobOn), fmtInt(d.sum.ClosingFeeSat), fmtInt(aliceOn+bobOn+d.sum.ClosingFeeSat))
	for _, n := range []*node{d.alice, d.bob} {
		want := aliceOn
		if n == d.bob {
			want = bobOn
		}
		if len(spendableFor(n, id)) > 0 {
			d.checkSpendable("close", n, id, closingTxid, want)
		} else {
			d.sum.Notes = append(d.sum.Notes, fmt.Sprintf("%s got no SpendableOutputs for the closing output "+
				"(the channel manager never gives the monitor its shutdown script); the output is checked on chain instead", n.name))
		}
	}
	return nil
}

// forceClose has Alice broadcast her commitment, mines until both sides swept their outputs, and
// checks every amount against the commitment transaction read from the chain.
func (d *demo) forceClose(det channelmanager.ChannelDetails) error {
	id, fundingOP := det.ChannelID, det.FundingTxo
	mon, ok := d.alice.chainMon.GetMonitor(fundingOP)
	if !ok {
		return errors.New("alice's chain monitor does not watch the channel")
	}
	holder, err := mon.LatestHolderCommitmentTx()
	if err != nil {
		return fmt.Errorf("alice's latest commitment: %w", err)
	}
	if dust := d.bob.cfg.ChannelHandshakeConfig.OurDustLimitSat; det.BalanceMsat/1000 > uint64(d.o.ChannelValueSat)-dust {
		return fmt.Errorf("the force-close demo needs bob to hold more than the dust limit (%d sat): make some payments", dust)
	}
	d.p.printf("alice force-closes the channel")
	if err := d.alice.cm.ForceCloseBroadcastingLatestTxn(id, d.bob.id); err != nil {
		return fmt.Errorf("ForceCloseBroadcastingLatestTxn: %w", err)
	}
	d.alice.wake()
	var commitTxid chainhash.Hash
	if err := d.waitFor("alice's commitment in the mempool", func() bool {
		h, ok := d.chain.SpentBy(fundingOP)
		commitTxid = h
		return ok && d.chain.InMempool(h)
	}); err != nil {
		return err
	}
	if err := d.waitFor("ChannelClosed on both sides (HolderForceClosed, CounterpartyForceClosed)", func() bool {
		return hasClosed(d.alice, id, events.HolderForceClosed) && hasClosed(d.bob, id, events.CounterpartyForceClosed)
	}); err != nil {
		return err
	}
	commit, _, _ := d.chain.GetTransaction(commitTxid)
	d.sum.CommitmentTxid = commitTxid
	d.sum.check("force close: the broadcast transaction is alice's latest commitment", commitTxid == holder.TxHash(),
		"%s", commitTxid)
	d.sum.check("force close: it has the BOLT 3 commitment markers (locktime 0x20…, sequence 0x80…)",
		len(commit.TxIn) == 1 && commit.LockTime>>24 == 0x20 && commit.TxIn[0].Sequence>>24 == 0x80,
		"locktime %#x, sequence %#x", commit.LockTime, commit.TxIn[0].Sequence)
	d.mine(1)
	_, commitHeight, _ := d.chain.GetTransaction(commitTxid)
	d.sum.CommitmentHeight = commitHeight
	d.p.printf("commitment %s confirmed at height %d (%d outputs)", commitTxid, commitHeight, len(commit.TxOut))

	// Mine block by block until both sweeps are confirmed and reported, watching when they appear.
	delay := uint32(d.o.ToSelfDelay)
	type sweepSeen struct {
		txid        chainhash.Hash
		tx          *wire.MsgTx
		input       int // commitment output index it spends
		seenAt      uint32
		confirmedAt uint32
	}
	var aliceSw, bobSw *sweepSeen
	limit := commitHeight + delay + 20
	for {
		for i := range commit.TxOut {
			op := wire.OutPoint{Hash: commitTxid, Index: uint32(i)}
			spender, ok := d.chain.SpentBy(op)
			if !ok {
				continue
			}
			tx, h, _ := d.chain.GetTransaction(spender)
			var slot **sweepSeen
			who := ""
			switch {
			case payTo(tx, d.alice.destinationScript) > 0:
				slot, who = &aliceSw, "alice's to_local"
			case payTo(tx, d.bob.destinationScript) > 0:
				slot, who = &bobSw, "bob's to_remote"
			default:
				continue
			}
			if *slot == nil {
				*slot = &sweepSeen{txid: spender, tx: tx, input: i, seenAt: d.chain.Height()}
				d.p.printf("height %d: %s sweep %s broadcast", d.chain.Height(), who, spender)
			}
			if h > 0 && (*slot).confirmedAt == 0 {
				(*slot).confirmedAt = h
				d.p.printf("height %d: %s sweep confirmed", h, who)
			}
		}
		if aliceSw != nil && bobSw != nil && aliceSw.confirmedAt > 0 && bobSw.confirmedAt > 0 &&
			len(spendableFor(d.alice, id)) > 0 && len(spendableFor(d.bob, id)) > 0 {
			break
		}
		if d.chain.Height() >= limit {
			return fmt.Errorf("no sweeps after %d blocks (alice's seen: %v, bob's seen: %v)", limit-commitHeight,
				aliceSw != nil, bobSw != nil)
		}
		if err := d.ctx.Err(); err != nil {
			return err
		}
		if err := d.problems(); err != nil {
			return err
		}
		if aliceSw == nil && d.chain.Height() == commitHeight+1 {
			d.p.printf("waiting out to_self_delay: alice's to_local is locked for %d blocks", delay)
		}
		d.mine(1)
	}
	d.sum.AliceSweepTxid, d.sum.BobSweepTxid = aliceSw.txid, bobSw.txid
	d.sum.AliceSweepHeight, d.sum.BobSweepHeight = aliceSw.confirmedAt, bobSw.confirmedAt

	// Amounts: the commitment's outputs against the balances (BOLT 3, "Fee Calculation" and
	// "Commitment Transaction Outputs": the funder pays the fee and both 330-sat anchors).
	floorA, floorB := int64(d.sum.AliceBalanceMsat/1000), int64(d.sum.BobBalanceMsat/1000)
	d.sum.RoundingSat = d.o.ChannelValueSat - floorA - floorB
	var anchors int64
	nAnchors := 0
	for i, o := range commit.TxOut {
		if o.Value == anchorOutputSat && i != aliceSw.input && i != bobSw.input {
			anchors += o.Value
			nAnchors++
		}
	}
	d.sum.AnchorSat = anchors
	d.sum.ToLocalSat = commit.TxOut[aliceSw.input].Value
	d.sum.ToRemoteSat = commit.TxOut[bobSw.input].Value
	d.sum.CommitmentFeeSat = d.o.ChannelValueSat - outputValue(commit)
	wantFee := commitmentFeeSat(d.sum.CommitFeeratePerKw, 0)
	wantLocal, wantRemote := anchorCommitmentOutputsSat(d.sum.AliceBalanceMsat, d.sum.BobBalanceMsat, d.sum.CommitFeeratePerKw, 0)
	d.sum.check("force close: the commitment has to_local, to_remote and two 330-sat anchors",
		len(commit.TxOut) == 4 && nAnchors == 2, "%d outputs, %d anchors", len(commit.TxOut), nAnchors)
	d.sum.check("force close: the commitment fee is feerate × 1124 / 1000 (BOLT 3, anchors, no HTLCs)",
		d.sum.CommitmentFeeSat == wantFee+d.sum.RoundingSat,
		"%s sat (feerate %d sat/kw: expected %s + %d rounding)", fmtInt(d.sum.CommitmentFeeSat), d.sum.CommitFeeratePerKw,
		fmtInt(wantFee), d.sum.RoundingSat)
	d.sum.check("force close: to_local is alice's balance minus the commitment fee and the anchors",
		d.sum.ToLocalSat == wantLocal,
		"%s sat = %s - %s - %d", fmtInt(d.sum.ToLocalSat), fmtInt(floorA), fmtInt(wantFee), 2*anchorOutputSat)
	d.sum.check("force close: to_remote is bob's balance", d.sum.ToRemoteSat == wantRemote,
		"%s sat, balance %s msat", fmtInt(d.sum.ToRemoteSat), fmtUint(d.sum.BobBalanceMsat))

	// Timing: Bob's to_remote has a 1-block CSV (anchors); Alice's to_local waits to_self_delay.
	d.sum.check("force close: bob's to_remote sweep uses the 1-block CSV and confirmed right after",
		bobSw.tx.TxIn[0].Sequence == 1 && bobSw.confirmedAt == commitHeight+1,
		"sequence %d, confirmed at +%d", bobSw.tx.TxIn[0].Sequence, bobSw.confirmedAt-commitHeight)
	d.sum.check("force close: alice's to_local sweep waited exactly to_self_delay blocks",
		aliceSw.tx.TxIn[0].Sequence == delay && aliceSw.seenAt == commitHeight+delay-1 && aliceSw.confirmedAt == commitHeight+delay,
		"sequence %d, broadcast at +%d, confirmed at +%d (to_self_delay %d)", aliceSw.tx.TxIn[0].Sequence,
		aliceSw.seenAt-commitHeight, aliceSw.confirmedAt-commitHeight, delay)

	sweptA, sweptB := outputValue(aliceSw.tx), outputValue(bobSw.tx)
	d.sum.AliceSweepFeeSat, d.sum.BobSweepFeeSat = d.sum.ToLocalSat-sweptA, d.sum.ToRemoteSat-sweptB
	aliceOn, _ := chainBalance(d.chain, d.alice.destinationScript)
	bobOn, _ := chainBalance(d.chain, d.bob.destinationScript)
	d.sum.AliceOnChainSat, d.sum.BobOnChainSat = aliceOn, bobOn
	for _, s := range []struct {
		who     string
		tx      *wire.MsgTx
		fee     int64
		onChain int64
		swept   int64
		script  []byte
	}{{"alice", aliceSw.tx, d.sum.AliceSweepFeeSat, aliceOn, sweptA, d.alice.destinationScript},
		{"bob", bobSw.tx, d.sum.BobSweepFeeSat, bobOn, sweptB, d.bob.destinationScript}} {
		w := txWeight(s.tx)
		d.sum.check(fmt.Sprintf("force close: %s's sweep pays one output to %s's destination script", s.who, s.who),
			len(s.tx.TxIn) == 1 && len(s.tx.TxOut) == 1 && payTo(s.tx, s.script) == s.swept, "%d in, %d out", len(s.tx.TxIn), len(s.tx.TxOut))
		d.sum.check(fmt.Sprintf("force close: %s's sweep fee is positive and at least the relay minimum", s.who),
			s.fee > 0 && s.fee*1000 >= relayFloorPerKw*w, "%s sat for %d weight units (%d sat/kw)", fmtInt(s.fee), w, s.fee*1000/max(w, 1))
		d.sum.check(fmt.Sprintf("force close: %s's on-chain amount is the swept amount", s.who),
			s.onChain == s.swept, "%s sat on chain, sweep output %s sat", fmtInt(s.onChain), fmtInt(s.swept))
	}
	d.sum.check("force close: alice's swept amount is her to_local minus the sweep fee",
		sweptA == d.sum.ToLocalSat-d.sum.AliceSweepFeeSat && sweptA == wantLocal-d.sum.AliceSweepFeeSat,
		"%s = %s - %s", fmtInt(sweptA), fmtInt(d.sum.ToLocalSat), fmtInt(d.sum.AliceSweepFeeSat))
	total := aliceOn + bobOn + d.sum.AliceSweepFeeSat + d.sum.BobSweepFeeSat + d.sum.CommitmentFeeSat + anchors
	d.sum.check("force close: nothing lost: swept + sweep fees + commitment fee + anchors = channel value",
		total == d.o.ChannelValueSat, "%s sat", fmtInt(total))
	d.checkSpendable("force close", d.alice, id, aliceSw.txid, aliceOn)
	d.checkSpendable("force close", d.bob, id, bobSw.txid, bobOn)

	// Bob answered Alice's error by broadcasting his own commitment; the chain refused it (it
	// conflicts with Alice's). That is expected; list other refusals.
	for _, r := range d.chain.Rejected() {
		spendsFunding := len(r.Tx.TxIn) == 1 && r.Tx.TxIn[0].PreviousOutPoint == fundingOP
		if !spendsFunding {
			d.sum.check("force close: the chain refused no sweep", false, "%s: %v", r.Txid, r.Err)
		}
	}
	return nil
}

// checkSpendable checks that the node's SpendableOutputs for the channel describe exactly its outputs
// of tx, worth want sat.
func (d *demo) checkSpendable(step string, n *node, id lnwire.ChannelID, txid chainhash.Hash, want int64) {
	var total int64
	var count int
	good := true
	for _, ev := range spendableFor(n, id) {
		for _, o := range ev.Outputs {
			count++
			total += o.Output.Value
			if o.Kind != events.StaticOutput || o.OutPoint.Hash != txid {
				good = false
			}
			if out, ok := d.chain.UTXO(o.OutPoint); !ok || out.Value != o.Output.Value {
				good = false
			}
		}
	}
	d.sum.check(fmt.Sprintf("%s: %s's SpendableOutputs describe %s's on-chain output", step, n.name, n.name),
		good && count == 1 && total == want, "%d descriptor(s) worth %s sat, expected one of %s sat", count, fmtInt(total), fmtInt(want))
}

// hasClosed says whether the node saw ChannelClosed for id with the reason.
func hasClosed(n *node, id lnwire.ChannelID, reason events.ClosureReason) bool {
	for _, ev := range n.closedEvents() {
		if ev.ChannelID == id && ev.Reason == reason {
			return true
		}
	}
	return false
}

// spendableFor returns the node's SpendableOutputs events for channel id.
func spendableFor(n *node, id lnwire.ChannelID) []events.SpendableOutputs {
	var out []events.SpendableOutputs
	for _, ev := range n.spendableEvents() {
		if ev.ChannelID == id {
			out = append(out, ev)
		}
	}
	return out
}
