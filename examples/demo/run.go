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
	"github.com/lnkit/lnkit/invoice"
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
	// CarolPayments is the number of payments from Alice to Carol through Bob, each over one of Carol's
	// BOLT 11 invoices (default 20); negative for none.
	CarolPayments int
	// InFlight is how many payments of one direction may be in flight at once (default 5).
	InFlight int
	// ChannelValueSat is the capacity of each channel, alice–bob and bob–carol (default 1,000,000 sat).
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
	if o.CarolPayments == 0 {
		o.CarolPayments = 20
	}
	if o.CarolPayments < 0 {
		o.CarolPayments = 0
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
	ctx               context.Context
	o                 options
	p                 *progress
	chain             *testchain.Chain
	alice, bob, carol *node
	book              *paymentBook
	sum               *summary
}

// nodes returns the nodes created so far.
func (d *demo) nodes() []*node {
	var out []*node
	for _, n := range []*node{d.alice, d.bob, d.carol} {
		if n != nil {
			out = append(out, n)
		}
	}
	return out
}

// runDemo runs the demo and returns its summary (also on failure, as far as it got).
func runDemo(ctx context.Context, o options) (*summary, error) {
	o = o.withDefaults()
	d := &demo{ctx: ctx, o: o, p: &progress{w: o.Out, start: time.Now()}, book: newPaymentBook(),
		sum: &summary{ForceClose: o.ForceClose, ChannelValueSat: o.ChannelValueSat, ToSelfDelay: o.ToSelfDelay,
			FeeBaseMsat: bobFeeBaseMsat, FeePPM: bobFeePPM}}
	err := d.run()
	d.sum.Elapsed = time.Since(d.p.start)
	d.sum.collectStats(d.alice, d.bob, d.carol)
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

// Bob's forwarding policy (BOLT 7 fee_base_msat and fee_proportional_millionths): what Alice pays him
// for each payment to Carol, fee = base + amount × ppm / 10^6.
const (
	bobFeeBaseMsat = 1000
	bobFeePPM      = 1000
)

// bobFee is Bob's fee for forwarding amtMsat.
func bobFee(amtMsat uint64) uint64 {
	return bobFeeBaseMsat + amtMsat*bobFeePPM/1_000_000
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

	aliceCfg, bobCfg, carolCfg := config.Default(), config.Default(), config.Default()
	for _, c := range []*config.UserConfig{&aliceCfg, &bobCfg, &carolCfg} {
		c.ChannelHandshakeConfig.MinimumDepth = o.MinimumDepth
		c.ChannelHandshakeConfig.OurMaxAcceptedHTLCs = uint16(max(50, 2*o.InFlight))
	}
	// Bob sets the delay Alice must wait before she can spend her to_local after a force close.
	bobCfg.ChannelHandshakeConfig.OurToSelfDelay = o.ToSelfDelay
	// Bob's fee for forwarding to Carol: his channel_update for the private bob–carol channel goes to
	// Carol, who puts it in her invoices' route hints.
	bobCfg.ChannelConfig.ForwardingFeeBaseMsat = bobFeeBaseMsat
	bobCfg.ChannelConfig.ForwardingFeeProportionalMillionths = bobFeePPM

	d.alice, err = newNode("alice", d.chain, dir, aliceCfg, o, logger, d.p, d.book)
	if err != nil {
		return err
	}
	d.bob, err = newNode("bob", d.chain, dir, bobCfg, o, logger, d.p, d.book)
	if err != nil {
		d.alice.stop()
		return err
	}
	d.carol, err = newNode("carol", d.chain, dir, carolCfg, o, logger, d.p, d.book)
	if err != nil {
		d.alice.stop()
		d.bob.stop()
		return err
	}
	// Alice and Carol first, so that they do not try to redial Bob while he shuts down.
	defer func() {
		d.alice.stop()
		d.carol.stop()
		d.bob.stop()
	}()
	for _, n := range d.nodes() {
		d.p.printf("%-5s is %x", n.name, n.id.SerializeCompressed())
	}

	// Alice's and Bob's wallets get coins to fund their channels.
	d.chain.FundAddress(d.alice.wallet.PkScript(), o.ChannelValueSat+100_000)
	d.chain.FundAddress(d.bob.wallet.PkScript(), o.ChannelValueSat+100_000)
	d.chain.MineBlocks(1)
	d.sum.AliceWalletBeforeSat = d.alice.wallet.Balance()
	d.sum.BobCarol.BobWalletBeforeSat = d.bob.wallet.Balance()
	d.p.printf("alice's and bob's wallets hold %s and %s sat at height %d", fmtInt(d.sum.AliceWalletBeforeSat),
		fmtInt(d.sum.BobCarol.BobWalletBeforeSat), d.chain.Height())

	if err := d.connect(); err != nil {
		return fmt.Errorf("connecting: %w", err)
	}
	det, fee, after, err := d.openChannel(d.alice, d.bob, d.sum.AliceWalletBeforeSat)
	if err != nil {
		return fmt.Errorf("opening alice's channel to bob: %w", err)
	}
	chanID := det.ChannelID
	d.sum.ChannelID, d.sum.FundingTxo, d.sum.FundingFeeSat, d.sum.AliceWalletAfterSat = chanID, det.FundingTxo, fee, after
	d.sum.ChannelType, d.sum.CommitFeeratePerKw = det.ChannelType.String(), det.FeeratePerKw

	bc := &d.sum.BobCarol
	det, fee, after, err = d.openChannel(d.bob, d.carol, bc.BobWalletBeforeSat)
	if err != nil {
		return fmt.Errorf("opening bob's channel to carol: %w", err)
	}
	bc.ChannelID, bc.ShortChannelID, bc.FundingTxo, bc.FundingFeeSat, bc.BobWalletAfterSat = det.ChannelID,
		det.ShortChannelID, det.FundingTxo, fee, after
	bc.BobSCIDAlias = det.OutboundSCIDAlias
	// Carol's invoices can only show Alice the way through Bob once Carol has Bob's channel_update of
	// their private channel (sent after channel_ready) and his scid alias for it (in channel_ready).
	if err := d.waitFor("bob's channel_update and scid alias for the bob–carol channel at carol", func() bool {
		c, ok := d.carol.channel(bc.ChannelID)
		return ok && c.CounterpartyForwardingInfo != nil && c.InboundSCIDAlias == bc.BobSCIDAlias
	}); err != nil {
		return err
	}
	fi, _ := d.carol.channel(bc.ChannelID)
	d.p.printf("carol has bob's channel_update for %v (his alias %v): fee %d msat + %d ppm, cltv_expiry_delta %d",
		bc.ShortChannelID, bc.BobSCIDAlias, fi.CounterpartyForwardingInfo.FeeBaseMsat,
		fi.CounterpartyForwardingInfo.FeeProportionalMillionths, fi.CounterpartyForwardingInfo.CLTVExpiryDelta)

	rng := rand.New(rand.NewPCG(o.Seed, 0x6c6e6b6974))
	budget := uint64(o.ChannelValueSat) * 1000 * 6 / 10
	if err := d.payMany(d.alice, d.bob, nil, o.Payments, budget, &d.sum.AliceToBob, rng, chanID); err != nil {
		return fmt.Errorf("alice → bob payments: %w", err)
	}
	if bd, _ := d.bob.channel(chanID); o.BackPayments > 0 && bd.BalanceMsat < uint64(o.BackPayments)*1_000_000 {
		d.p.printf("bob has %s msat: too little for %d payments back; skipping them", fmtUint(bd.BalanceMsat), o.BackPayments)
		d.sum.Notes = append(d.sum.Notes, "bob's payments back were skipped: he had too little to send")
		d.o.BackPayments = 0
	}
	if d.o.BackPayments > 0 {
		bd, _ := d.bob.channel(chanID)
		if err := d.payMany(d.bob, d.alice, nil, d.o.BackPayments, bd.BalanceMsat*3/10, &d.sum.BobToAlice, rng, chanID); err != nil {
			return fmt.Errorf("bob → alice payments: %w", err)
		}
	}
	if o.CarolPayments > 0 {
		// A third of what can still go through: what Alice can send to Bob, and Bob to Carol.
		ad, _ := d.alice.channel(chanID)
		bd, _ := d.bob.channel(bc.ChannelID)
		budget := min(ad.OutboundCapacityMsat, bd.OutboundCapacityMsat) * 3 / 10
		if err := d.payMany(d.alice, d.carol, d.bob, o.CarolPayments, budget, &d.sum.AliceToCarol, rng, chanID); err != nil {
			return fmt.Errorf("alice → carol payments: %w", err)
		}
	}
	ab, err := d.checkChannelBalances(chanID, bc.ChannelID)
	if err != nil {
		return err
	}
	if err := d.closeBobCarol(); err != nil {
		return err
	}
	if o.ForceClose {
		return d.forceClose(ab)
	}
	return d.closeAliceBob(ab)
}

// problems returns the first problem any node recorded.
func (d *demo) problems() error {
	for _, n := range d.nodes() {
		if err := n.firstProblem(); err != nil {
			return err
		}
	}
	return nil
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

// mine mines n blocks and lets every node process what the blocks caused.
func (d *demo) mine(n int) {
	d.chain.MineBlocks(n)
	for _, nd := range d.nodes() {
		nd.sync()
	}
}

// connect starts Bob's listener on 127.0.0.1 and has Alice and Carol dial it.
func (d *demo) connect() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	d.bob.serve(ln)
	addr := ln.Addr().String()
	d.p.printf("bob listens on %s; alice and carol dial", addr)
	for _, n := range []*node{d.alice, d.carol} {
		if err := n.dial(addr, d.bob.id); err != nil {
			return err
		}
	}
	if err := d.waitFor("the BOLT 8 handshakes and init exchanges", func() bool {
		return d.alice.connected(d.bob.id) && d.bob.connected(d.alice.id) && d.carol.connected(d.bob.id) &&
			d.bob.connected(d.carol.id)
	}); err != nil {
		return err
	}
	d.p.printf("connected: handshakes and init done, alice–bob and carol–bob")
	return nil
}

// openChannel opens a private channel of ChannelValueSat from funder to fundee and mines it to
// readiness; walletBefore is the funder's wallet balance before. It checks the funding and returns the
// channel (as the funder sees it), the funding fee and the funder's wallet balance after.
func (d *demo) openChannel(funder, fundee *node, walletBefore int64) (channelmanager.ChannelDetails, int64, int64, error) {
	var det channelmanager.ChannelDetails
	label := funder.name + "–" + fundee.name
	var userID [16]byte
	copy(userID[:], "demo "+label)
	if _, err := funder.cm.CreateChannel(fundee.id, d.o.ChannelValueSat, 0, userID, nil); err != nil {
		return det, 0, 0, err
	}
	funder.wake()
	d.p.printf("%s opens a %s sat private channel to %s", funder.name, fmtInt(d.o.ChannelValueSat), fundee.name)
	var pend events.ChannelPending
	if err := d.waitFor(label+": ChannelPending on both sides", func() bool {
		var ok bool
		pend, ok = funder.pendingWith(fundee)
		_, ok2 := fundee.pendingWith(funder)
		return ok && ok2
	}); err != nil {
		return det, 0, 0, err
	}
	fundingTxid := pend.FundingTxo.Hash
	if err := d.waitFor(label+": the funding transaction in the mempool", func() bool { return d.chain.InMempool(fundingTxid) }); err != nil {
		return det, 0, 0, err
	}
	d.p.printf("%s: funding transaction %s broadcast; channel %s pending", label, fundingTxid, pend.ChannelID)

	// Confirm it: one block includes it; the rest bring it to minimum_depth.
	for i := uint32(0); i < d.o.MinimumDepth; i++ {
		d.mine(1)
		d.p.printf("mined block %d: funding has %d confirmation(s)", d.chain.Height(), d.chain.Confirmations(fundingTxid))
	}
	id := pend.ChannelID
	if err := d.waitFor(label+": ChannelReady on both sides and a usable channel", func() bool {
		a, okA := funder.channel(id)
		b, okB := fundee.channel(id)
		return okA && okB && a.IsUsable && b.IsUsable && funder.sawReady(id) && fundee.sawReady(id)
	}); err != nil {
		return det, 0, 0, err
	}
	det, _ = funder.channel(id)
	d.p.printf("%s: channel ready: scid %v, type %s, commitment feerate %d sat/kw", label, det.ShortChannelID,
		det.ChannelType, det.FeeratePerKw)

	// Funding fee: what the funder's wallet paid on top of the channel value.
	ftx := funder.fundingTx(fundingTxid)
	if ftx == nil {
		return det, 0, 0, fmt.Errorf("%s: %s's funding transaction is not the one the channel uses", label, funder.name)
	}
	in, err := inputValue(d.chain, ftx)
	if err != nil {
		return det, 0, 0, err
	}
	fee := in - outputValue(ftx)
	after := funder.wallet.Balance()
	spent := walletBefore - after
	d.sum.check(fmt.Sprintf("funding %s: %s's wallet paid the channel value plus the funding fee", label, funder.name),
		spent == d.o.ChannelValueSat+fee,
		"wallet %s -> %s sat: spent %s = %s + fee %s", fmtInt(walletBefore), fmtInt(after),
		fmtInt(spent), fmtInt(d.o.ChannelValueSat), fmtInt(fee))
	d.sum.check(fmt.Sprintf("funding %s: the channel is a private anchors channel (option_anchors_zero_fee_htlc_tx)", label),
		det.ChannelType.Anchors && !det.IsAnnounced, "type %s, announced %v", det.ChannelType, det.IsAnnounced)
	d.sum.check(fmt.Sprintf("funding %s: %s starts with the whole channel", label, funder.name),
		det.BalanceMsat == uint64(d.o.ChannelValueSat)*1000, "%s msat", fmtUint(det.BalanceMsat))
	return det, fee, after, nil
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

// payMany sends count payments from one node to another, at most InFlight at once, and waits for
// every outcome. With via nil, to is from's peer on channel chanID and each payment goes over that
// channel (CreateInboundPayment, SendPaymentWithRoute with a one-hop route). Otherwise to gives a
// BOLT 11 invoice for each payment (CreateBolt11Invoice), from pays it with PayBolt11Invoice and its
// router, which finds the way through via (from's peer on chanID) from the invoice's route hint.
func (d *demo) payMany(from, to, via *node, count int, budgetMsat uint64, st *payStats, rng *rand.Rand, chanID lnwire.ChannelID) error {
	lo, hi := amountRange(count, budgetMsat)
	label := from.name + " → " + to.name
	how := ""
	if via != nil {
		how = ", through " + via.name + " over " + to.name + "'s invoices"
	}
	d.p.printf("%s: %d payments of %s..%s msat, up to %d in flight%s", label, count, fmtUint(lo), fmtUint(hi), d.o.InFlight, how)
	peer := to
	if via != nil {
		peer = via
	}
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
		var fee uint64 // what the payer should pay in routing fees
		if via != nil {
			fee = bobFee(amt)
		}
		need := amt + fee
		if err := d.waitFor(fmt.Sprintf("%s: a free in-flight slot for payment %d", label, i+1), func() bool {
			prune()
			return len(inflight) < d.o.InFlight
		}); err != nil {
			return err
		}
		report()
		if from == d.alice && to == d.bob && d.o.DropConnectionAfter > 0 && i == d.o.DropConnectionAfter {
			d.p.printf("%s: dropping the TCP connection with %d payment(s) in flight", label, len(inflight))
			d.alice.dropConnections()
		}
		// Wait until the channel can carry it; if nothing is in flight and it still cannot, the
		// payment fails here (the amounts are chosen so that this does not happen).
		var capErr error
		if err := d.waitFor(fmt.Sprintf("%s: capacity for payment %d", label, i+1), func() bool {
			prune()
			det, ok := from.channel(chanID)
			if ok && det.IsUsable && det.OutboundCapacityMsat >= need {
				return true
			}
			if len(inflight) == 0 && ok && det.IsUsable {
				capErr = fmt.Errorf("outbound capacity %d msat < %d msat", det.OutboundCapacityMsat, need)
				return true
			}
			return false
		}); err != nil {
			return err
		}
		p := &payment{index: i + 1, from: from, to: to, amountMsat: amt, expectFeeMsat: fee, started: time.Now()}
		var idIn [8]byte
		binary.BigEndian.PutUint64(idIn[:], uint64(i))
		p.id = events.PaymentID(sha256.Sum256(append([]byte(label), idIn[:]...)))
		all = append(all, p)
		if capErr != nil {
			p.done, p.reason, p.sendErr = true, "no capacity", capErr
			d.logPayment(p)
			continue
		}
		var send func() error
		if via == nil {
			hash, secret, err := to.cm.CreateInboundPayment(amt, 3600, 0)
			if err != nil {
				return fmt.Errorf("payment %d: CreateInboundPayment: %w", i+1, err)
			}
			p.hash = hash
			route := router.SinglePath(router.RouteHop{PubKey: to.id, FeeMsat: amt,
				CLTVExpiryDelta: channelmanager.DefaultMinFinalCLTVExpiryDelta + 6})
			send = func() error { return from.cm.SendPaymentWithRoute(route, hash, &secret, p.id) }
		} else {
			// The payee makes an invoice, the payer decodes it from its bech32 string, as over the wire.
			_, s, err := to.cm.CreateBolt11Invoice(channelmanager.Bolt11InvoiceParams{AmountMsat: amt,
				Description: fmt.Sprintf("lnkit demo: %s's payment %d", from.name, i+1), Timestamp: time.Now()})
			if err != nil {
				return fmt.Errorf("payment %d: CreateBolt11Invoice: %w", i+1, err)
			}
			inv, err := invoice.Decode(s, &chaincfg.RegressionNetParams)
			if err != nil {
				return fmt.Errorf("payment %d: decoding %s's invoice: %w", i+1, to.name, err)
			}
			if i == 0 {
				d.p.printf("%s's first invoice: %s", to.name, s)
				d.checkRouteHints(inv, to, via)
			}
			p.hash = inv.PaymentHash
			// One path, so that Bob's fee is exactly his policy's for the whole amount.
			cfg := channelmanager.Bolt11PaymentConfig{MaxPathCount: 1, Retry: channelmanager.Retry{Attempts: 3}}
			send = func() error { return from.cm.PayBolt11Invoice(inv, 0, p.id, cfg) }
		}
		d.book.add(p)
		// A send refused because the channel is momentarily unusable (the peer is reconnecting) was never
		// sent, so it is safe to try again with the same payment id once the channel is back.
		err := send()
		for attempt := 1; err != nil && retryable(err) && attempt <= 50; attempt++ {
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
				return ok && det.IsUsable && from.connected(peer.id) && peer.connected(from.id)
			}); werr != nil {
				return werr
			}
			err = send()
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

// retryable says whether a send was refused only because the channel is momentarily unusable (no
// route found, for a routed payment): nothing was sent.
func retryable(err error) bool {
	return errors.Is(err, channelmanager.ErrChannelUnavailable) || errors.Is(err, channelmanager.ErrRouteNotFound)
}

// checkRouteHints checks an invoice of the payee: since its only channel (with via) is private, it
// carries one route hint, via's hop over that channel with via's forwarding policy. The hop names the
// channel by via's scid alias (the real short_channel_id stays private), or by the real one if via
// gave no alias.
func (d *demo) checkRouteHints(inv *invoice.Invoice, payee, via *node) {
	bc := &d.sum.BobCarol
	want, kind := bc.BobSCIDAlias, "scid alias"
	if want.ToUint64() == 0 {
		want, kind = bc.ShortChannelID, "real short_channel_id"
	}
	var desc string
	ok := len(inv.RouteHints) == 1 && len(inv.RouteHints[0]) == 1
	if ok {
		h := inv.RouteHints[0][0]
		desc = fmt.Sprintf("%s's hop over %v (his %s of the channel): fee %d msat + %d ppm, cltv_expiry_delta %d", via.name,
			h.ShortChannelID, kind, h.FeeBaseMsat, h.FeeProportionalMillionths, h.CLTVExpiryDelta)
		ok = h.NodeID.IsEqual(via.id) && h.ShortChannelID == want && h.FeeBaseMsat == bobFeeBaseMsat &&
			h.FeeProportionalMillionths == bobFeePPM && h.CLTVExpiryDelta == via.cfg.ChannelConfig.CLTVExpiryDelta
	} else {
		desc = fmt.Sprintf("%d route hints", len(inv.RouteHints))
	}
	d.sum.RouteHint = desc
	d.sum.check(fmt.Sprintf("invoice: %s's invoices carry one route hint, %s's private channel to her with his fee policy",
		payee.name, via.name), ok && inv.Payee.IsEqual(payee.id), "%s", desc)
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
	fee := ""
	if p.feePaidMsat > 0 {
		fee = fmt.Sprintf(" + fee %s msat", fmtUint(p.feePaidMsat))
	}
	d.p.printf("  %s → %s payment %d: %s msat%s %s (%s)", p.from.name, p.to.name, p.index, fmtUint(p.amountMsat), fee, status,
		p.elapsed.Round(time.Millisecond))
}

// checkChannelBalances waits for both channels to settle (no HTLC left) and checks every balance and
// Bob's forwards; it returns the alice–bob channel as Alice sees it.
func (d *demo) checkChannelBalances(ab, bc lnwire.ChannelID) (channelmanager.ChannelDetails, error) {
	capMsat := uint64(d.o.ChannelValueSat) * 1000
	var a, b, b2, c channelmanager.ChannelDetails
	if err := d.waitFor("both channels to settle every HTLC", func() bool {
		var okA, okB, okB2, okC bool
		a, okA = d.alice.channel(ab)
		b, okB = d.bob.channel(ab)
		b2, okB2 = d.bob.channel(bc)
		c, okC = d.carol.channel(bc)
		return okA && okB && okB2 && okC && a.NumPendingHTLCs == 0 && b.NumPendingHTLCs == 0 && b2.NumPendingHTLCs == 0 &&
			c.NumPendingHTLCs == 0 && a.BalanceMsat+b.BalanceMsat == capMsat && b2.BalanceMsat+c.BalanceMsat == capMsat
	}); err != nil {
		if a.ChannelID == ab {
			d.sum.check("balances: alice and bob agree", false, "alice %s msat (%d HTLCs) + bob %s msat (%d HTLCs) != %s msat",
				fmtUint(a.BalanceMsat), a.NumPendingHTLCs, fmtUint(b.BalanceMsat), b.NumPendingHTLCs, fmtUint(capMsat))
		}
		if b2.ChannelID == bc {
			d.sum.check("balances: bob and carol agree", false, "bob %s msat (%d HTLCs) + carol %s msat (%d HTLCs) != %s msat",
				fmtUint(b2.BalanceMsat), b2.NumPendingHTLCs, fmtUint(c.BalanceMsat), c.NumPendingHTLCs, fmtUint(capMsat))
		}
		return a, err
	}
	s := d.sum
	s.AliceBalanceMsat, s.BobBalanceMsat = a.BalanceMsat, b.BalanceMsat
	s.BobCarol.BobBalanceMsat, s.BobCarol.CarolBalanceMsat = b2.BalanceMsat, c.BalanceMsat
	s.CommitFeeratePerKw = a.FeeratePerKw
	s.BobCarol.CommitFeeratePerKw = b2.FeeratePerKw
	fwd, failedBack := d.bob.forwardEvents()
	s.Forwards, s.FailedBack = len(fwd), failedBack
	s.FeesEarnedMsat, s.ForwardedMsat = 0, 0
	fwdPath := true
	for _, f := range fwd {
		s.FeesEarnedMsat += f.FeeEarnedMsat
		s.ForwardedMsat += f.OutboundAmountForwardedMsat
		fwdPath = fwdPath && f.PrevChannelID == ab && f.NextChannelID == bc && !f.ClaimedOnChain &&
			f.IncomingAmountMsat == f.OutboundAmountForwardedMsat+f.FeeEarnedMsat
	}
	toCarol, fees := s.AliceToCarol.OKMsat, s.AliceToCarol.FeesMsat

	s.check("payments: every payment succeeded",
		s.AliceToBob.Failed == 0 && s.BobToAlice.Failed == 0 && s.AliceToCarol.Failed == 0 && s.AliceToBob.OK == d.o.Payments &&
			s.BobToAlice.OK == d.o.BackPayments && s.AliceToCarol.OK == d.o.CarolPayments,
		"alice → bob %d/%d, bob → alice %d/%d, alice → carol %d/%d", s.AliceToBob.OK, d.o.Payments,
		s.BobToAlice.OK, d.o.BackPayments, s.AliceToCarol.OK, d.o.CarolPayments)
	s.check("payments: every payee claimed exactly the invoiced amount",
		s.AliceToBob.ClaimMismatch == 0 && s.BobToAlice.ClaimMismatch == 0 && s.AliceToCarol.ClaimMismatch == 0,
		"%d + %d + %d mismatches", s.AliceToBob.ClaimMismatch, s.BobToAlice.ClaimMismatch, s.AliceToCarol.ClaimMismatch)
	s.check("payments: alice paid bob's advertised fee on each payment to carol (base + amount × ppm / 10^6), none on direct ones",
		s.AliceToCarol.FeeMismatch+s.AliceToBob.FeeMismatch+s.BobToAlice.FeeMismatch == 0 &&
			s.AliceToCarol.FeesMsat == s.AliceToCarol.ExpectedFeesMsat && s.AliceToBob.FeesMsat+s.BobToAlice.FeesMsat == 0,
		"to carol: %s msat paid, %s msat expected; %d mismatches", fmtUint(s.AliceToCarol.FeesMsat),
		fmtUint(s.AliceToCarol.ExpectedFeesMsat), s.AliceToCarol.FeeMismatch+s.AliceToBob.FeeMismatch+s.BobToAlice.FeeMismatch)
	s.check("forwards: bob forwarded each payment to carol once, alice–bob to bob–carol (PaymentForwarded), failing none back",
		s.Forwards == s.AliceToCarol.OK && fwdPath && s.FailedBack == 0 && s.ForwardedMsat == toCarol,
		"%d PaymentForwarded for %d payments, %s msat forwarded, %d HTLCHandlingFailed", s.Forwards, s.AliceToCarol.OK,
		fmtUint(s.ForwardedMsat), s.FailedBack)
	s.check("forwards: bob's fees earned (sum of FeeEarnedMsat) are exactly the fees alice paid",
		s.FeesEarnedMsat == fees, "%s msat earned, %s msat paid", fmtUint(s.FeesEarnedMsat), fmtUint(fees))

	s.check("balances alice–bob: the balances sum to the capacity", a.BalanceMsat+b.BalanceMsat == capMsat,
		"%s + %s = %s msat", fmtUint(a.BalanceMsat), fmtUint(b.BalanceMsat), fmtUint(a.BalanceMsat+b.BalanceMsat))
	want := capMsat - s.AliceToBob.OKMsat + s.BobToAlice.OKMsat - toCarol - fees
	s.check("balances alice–bob: alice's balance is the capacity minus what she sent bob, plus what he sent her, minus what she sent carol and the fees",
		a.BalanceMsat == want, "%s msat, expected %s msat", fmtUint(a.BalanceMsat), fmtUint(want))
	s.check("balances bob–carol: the balances sum to the capacity", b2.BalanceMsat+c.BalanceMsat == capMsat,
		"%s + %s = %s msat", fmtUint(b2.BalanceMsat), fmtUint(c.BalanceMsat), fmtUint(b2.BalanceMsat+c.BalanceMsat))
	s.check("balances bob–carol: carol's balance is exactly what alice sent her", c.BalanceMsat == toCarol,
		"%s msat, expected %s msat", fmtUint(c.BalanceMsat), fmtUint(toCarol))
	// Bob's side: the direct payments moved his alice–bob balance by their amounts; the forwards moved
	// it up by the amounts to carol plus his fees, and his bob–carol balance down by the same amounts.
	bobWant := s.AliceToBob.OKMsat - s.BobToAlice.OKMsat + toCarol + fees
	s.check("balances: bob's channels moved by the amounts and he gained exactly the fees",
		b.BalanceMsat == bobWant && b2.BalanceMsat == capMsat-toCarol,
		"alice–bob %s msat = %s (direct, net) + %s (to carol) + %s (fees); bob–carol %s msat = %s - %s",
		fmtUint(b.BalanceMsat), fmtInt(int64(s.AliceToBob.OKMsat)-int64(s.BobToAlice.OKMsat)), fmtUint(toCarol), fmtUint(fees),
		fmtUint(b2.BalanceMsat), fmtUint(capMsat), fmtUint(toCarol))
	d.p.printf("settled: alice–bob: alice %s msat, bob %s msat; bob–carol: bob %s msat, carol %s msat",
		fmtUint(a.BalanceMsat), fmtUint(b.BalanceMsat), fmtUint(b2.BalanceMsat), fmtUint(c.BalanceMsat))
	return a, nil
}

// closeResult is what a cooperative close established.
type closeResult struct {
	txid                     chainhash.Hash
	feeSat, roundingSat      int64
	funderOnSat, fundeeOnSat int64
}

// closeAliceBob closes the alice–bob channel cooperatively and records the result.
func (d *demo) closeAliceBob(det channelmanager.ChannelDetails) error {
	r, err := d.cooperativeClose(d.alice, d.bob, det, d.sum.AliceBalanceMsat, d.sum.BobBalanceMsat)
	d.sum.ClosingTxid, d.sum.ClosingFeeSat, d.sum.RoundingSat = r.txid, r.feeSat, r.roundingSat
	d.sum.AliceOnChainSat, d.sum.BobOnChainSat = r.funderOnSat, r.fundeeOnSat
	return err
}

// closeBobCarol closes the bob–carol channel cooperatively and records the result.
func (d *demo) closeBobCarol() error {
	bc := &d.sum.BobCarol
	det, ok := d.bob.channel(bc.ChannelID)
	if !ok {
		return errors.New("bob no longer lists his channel with carol")
	}
	r, err := d.cooperativeClose(d.bob, d.carol, det, bc.BobBalanceMsat, bc.CarolBalanceMsat)
	bc.ClosingTxid, bc.ClosingFeeSat, bc.RoundingSat = r.txid, r.feeSat, r.roundingSat
	bc.BobOnChainSat, bc.CarolOnChainSat = r.funderOnSat, r.fundeeOnSat
	return err
}

// cooperativeClose has the funder close the channel with shutdown/closing_signed and checks the
// closing outputs against the balances (funderMsat, fundeeMsat).
func (d *demo) cooperativeClose(funder, fundee *node, det channelmanager.ChannelDetails, funderMsat, fundeeMsat uint64) (closeResult, error) {
	var r closeResult
	id, fundingOP := det.ChannelID, det.FundingTxo
	label := funder.name + "–" + fundee.name
	d.p.printf("%s closes the channel with %s cooperatively", funder.name, fundee.name)
	if err := funder.cm.CloseChannel(id, fundee.id); err != nil {
		return r, fmt.Errorf("CloseChannel: %w", err)
	}
	funder.wake()
	var closingTxid chainhash.Hash
	if err := d.waitFor(label+": the closing transaction in the mempool", func() bool {
		h, ok := d.chain.SpentBy(fundingOP)
		closingTxid = h
		return ok && d.chain.InMempool(h)
	}); err != nil {
		return r, err
	}
	if err := d.waitFor(label+": ChannelClosed (CooperativeClosure) on both sides", func() bool {
		return hasClosed(funder, id, events.CooperativeClosure) && hasClosed(fundee, id, events.CooperativeClosure)
	}); err != nil {
		return r, err
	}
	closing, _, _ := d.chain.GetTransaction(closingTxid)
	r.txid = closingTxid
	d.p.printf("%s: closing transaction %s broadcast (%d outputs)", label, closingTxid, len(closing.TxOut))
	d.mine(1)
	d.sum.check("close "+label+": the closing transaction confirmed", d.chain.Confirmations(closingTxid) == 1,
		"%d confirmation(s) at height %d", d.chain.Confirmations(closingTxid), d.chain.Height())

	// The monitors could hand the closing outputs over as SpendableOutputs after AntiReorgDelay
	// confirmations, but only if the manager gave them the shutdown script (see the report): check them
	// when they come, note their absence otherwise.
	d.mine(channelmonitor.AntiReorgDelay - 1)
	d.p.printf("mined %d more blocks (height %d)", channelmonitor.AntiReorgDelay-1, d.chain.Height())
	// Each node's shutdown script is the same for all its channels: count only this transaction's
	// outputs (still unspent).
	funderOn, fundeeOn := unspentTo(d.chain, closing, funder.shutdownScript), unspentTo(d.chain, closing, fundee.shutdownScript)
	r.funderOnSat, r.fundeeOnSat = funderOn, fundeeOn
	r.feeSat = d.o.ChannelValueSat - outputValue(closing)
	floorF, floorE := int64(funderMsat/1000), int64(fundeeMsat/1000)
	// The balances are in msat, the outputs in whole sat: the sub-sat remainders (at most 1 sat in all
	// here, as the two balances sum to a whole number of sat) are rounded away and go to the fee.
	r.roundingSat = d.o.ChannelValueSat - floorF - floorE

	// An output below the dust limit is left out of the closing transaction (BOLT 2 closing rules).
	dust := int64(max(funder.cfg.ChannelHandshakeConfig.OurDustLimitSat, fundee.cfg.ChannelHandshakeConfig.OurDustLimitSat))
	wantE := floorE
	if wantE < dust {
		wantE = 0
	}
	toShutdown := payTo(closing, funder.shutdownScript) + payTo(closing, fundee.shutdownScript)
	negotiated := r.feeSat - r.roundingSat - (floorE - wantE)
	d.sum.check(fmt.Sprintf("close %s: the closing transaction pays only %s's and %s's shutdown scripts, one output each", label, funder.name, fundee.name),
		toShutdown == outputValue(closing) && len(closing.TxOut) <= 2 && (wantE == 0 || payTo(closing, fundee.shutdownScript) > 0),
		"%d outputs", len(closing.TxOut))
	d.sum.check(fmt.Sprintf("close %s: %s's on-chain amount is %s's channel balance in sat (rounded down)", label, fundee.name, fundee.name),
		fundeeOn == wantE, "%s sat on chain, balance %s msat", fmtInt(fundeeOn), fmtUint(fundeeMsat))
	d.sum.check(fmt.Sprintf("close %s: %s's on-chain amount is %s's balance minus the closing fee (the funder pays it)", label, funder.name, funder.name),
		funderOn == floorF-negotiated, "%s sat on chain = %s - %s", fmtInt(funderOn), fmtInt(floorF), fmtInt(negotiated))
	d.sum.check("close "+label+": the closing fee is positive and at least the relay minimum",
		negotiated > 0 && negotiated*1000 >= relayFloorPerKw*txWeight(closing),
		"%s sat for %d weight units", fmtInt(r.feeSat), txWeight(closing))
	d.sum.check("close "+label+": nothing lost: on-chain amounts + closing fee = channel value",
		funderOn+fundeeOn+r.feeSat == d.o.ChannelValueSat,
		"%s + %s + %s = %s", fmtInt(funderOn), fmtInt(fundeeOn), fmtInt(r.feeSat), fmtInt(funderOn+fundeeOn+r.feeSat))
	for _, n := range []*node{funder, fundee} {
		want := funderOn
		if n == fundee {
			want = fundeeOn
		}
		if len(spendableFor(n, id)) > 0 {
			d.checkSpendable("close "+label, n, id, closingTxid, want)
		} else if want > 0 {
			d.sum.Notes = append(d.sum.Notes, fmt.Sprintf("%s got no SpendableOutputs for the %s closing output "+
				"(the channel manager never gives the monitor its shutdown script); the output is checked on chain instead", n.name, label))
		}
	}
	return r, nil
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
