//go:build interop

package interop

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

// This file's name sorts after scenarios_test.go: go test runs a package's files in name order, so
// these scenarios (09-14) run after 01-08.
//
// The on-chain scenarios: force closes with HTLCs in flight, resolved on chain by lnkit's monitors
// (timeouts, preimage claims, HTLC-success and HTLC-timeout transactions bumped through the node's
// wallet), a commitment that only confirms with lnkit's CPFP child, and justice against a revoked
// commitment. Each opens its own channel, so that its accounting starts from a known state, and
// checks both sides: lnkit's walletbalance, listbalances and listpayments, lnd's pendingchannels,
// closedchannels, payments and invoices, and every transaction on chain (ledger).

// Amounts of the scenarios' HTLCs, in sat; all different from every channel balance, so that
// commitment outputs are told apart by value.
const (
	heldSat     = 150_000 // lnkit -> lnd, held by lnd (hold invoice)
	claimedSat  = 120_000 // lnd -> lnkit, claimed by lnkit while cut off from lnd
	holdCLTV    = 20      // final CLTV delta of the hold invoices, blocks (lnd's minimum is 18)
	maxFeeShare = 20      // lnkit's on-chain fees must stay under 1/maxFeeShare of what it claims
)

// ensureLnd starts (once) another lnd named name, funded like alice.
func ensureLnd(t *testing.T, name string) *lnd {
	t.Helper()
	nw.mu.Lock()
	for _, l := range nw.lnds {
		if l.name == name {
			nw.mu.Unlock()
			return l
		}
	}
	nw.mu.Unlock()
	l, err := nw.startLnd(name, "lnd")
	require.NoError(t, err)
	return l
}

// connectViaProxy connects lnkit to l through a new cutProxy.
func connectViaProxy(t *testing.T, lk *lnkitNode, l *lnd) *cutProxy {
	t.Helper()
	p := newCutProxy(t, l.p2pAddr)
	_, err := lk.Client().Connect(ctx(t, 30*time.Second), nodeapi.ConnectParams{NodeID: l.id(), Address: p.addr()})
	require.NoError(t, err)
	waitFor(t, 30*time.Second, func() (bool, string) {
		return lk.peer(t, l.id()) != nil && l.peer(t, lk.ID()) != nil, "lnkit and " + l.name + " are not peers"
	})
	return p
}

// claimWhileCutOff has l pay lnkit amtSat through p and cuts p once lnkit has claimed the payment
// but before its update_fulfill_htlc reaches l: the HTLC stays on both commitments, lnkit holding
// its preimage, l's payment in flight. It returns the payment hash.
func claimWhileCutOff(t *testing.T, lk *lnkitNode, l *lnd, p *cutProxy, amtSat int64) string {
	t.Helper()
	l.waitRoute(t, lk.ID(), amtSat)
	ki := lk.invoice(t, uint64(amtSat)*1000, "claimed while cut off")
	time.Sleep(time.Second) // nothing else in flight between them when the proxy starts counting
	p.arm()
	l.payInBackground(t, ki.Bolt11)
	waitFor(t, 30*time.Second, func() (bool, string) {
		for _, inv := range lk.invoices(t) {
			if inv.PaymentHash == ki.PaymentHash && inv.Status == nodeapi.InvoicePaid && p.muted() {
				return true, ""
			}
		}
		return false, fmt.Sprintf("proxy muted %v; lnkit's invoice not paid yet", p.muted())
	})
	time.Sleep(time.Second) // lnkit sends update_fulfill_htlc, which the proxy drops
	p.cut()
	waitFor(t, 30*time.Second, func() (bool, string) {
		return lk.peer(t, l.id()) == nil && l.peer(t, lk.ID()) == nil, "lnkit and " + l.name + " still connected"
	})
	pay := l.payment(t, ki.PaymentHash)
	require.NotNil(t, pay)
	require.Equal(t, "IN_FLIGHT", pay.Status, "%s never got lnkit's fulfill", l.name)
	return ki.PaymentHash
}

// commitmentOf waits for the transaction spending a channel's funding output (chanPoint, lnd's
// "txid:vout"), mines it and returns it with its height.
func commitmentOf(t *testing.T, chanPoint string, fromHeight int) (*wire.MsgTx, int) {
	t.Helper()
	op := outpoint(t, chanPoint)
	tx := mempoolOrChainSpend(t, op, fromHeight)
	mineUntil(t, 3, func() (bool, string) {
		_, ok := nw.btcd.findSpends(t, fromHeight, op)[op]
		return ok, "commitment " + txid(tx) + " not mined"
	})
	s := nw.btcd.findSpends(t, fromHeight, op)[op]
	require.Equal(t, txid(tx), txid(s.tx), "the commitment in the mempool is the one mined")
	return s.tx, s.height
}

// checkCommitmentFee checks that a commitment pays feerate (sat/kw) on BOLT 3's weight for its HTLCs
// (1124 + 172 per HTLC) plus the msat remainders of its outputs.
func checkCommitmentFee(t *testing.T, tx *wire.MsgTx, capacity, feerate int64, htlcs int) {
	t.Helper()
	var sum int64
	for _, o := range tx.TxOut {
		sum += o.Value
	}
	fee := feerate * (1124 + 172*int64(htlcs)) / 1000
	require.InDelta(t, fee, capacity-sum, 2, "commitment fee at %d sat/kw with %d HTLCs; outputs %v", feerate, htlcs,
		outValues(tx))
}

// settleLedger mines until lnkit's channel has no balance left and its wallet is settled, then
// checks that every start output reached the wallet through lnkit's own transactions, and that the
// wallet moved by exactly what they paid it, with fees under 1/maxFeeShare of what was claimed.
func settleLedger(t *testing.T, lk *lnkitNode, fundingTxid string, fromHeight int, start map[wire.OutPoint]int64,
	w0 int64) *ledger {
	t.Helper()
	mineUntil(t, 40, func() (bool, string) {
		c, w := lk.chanBalances(t, fundingTxid), lk.balance(t)
		done := (c == nil || len(c.Balances) == 0) && w.UnconfirmedSat == 0
		return done, fmt.Sprintf("lnkit balances %v, wallet %+v", balanceTypes(c), *w)
	})
	l := followLnkit(t, fromHeight, start, lk.bumpTxids(t))
	t.Logf("lnkit on chain: %s", l)
	require.Empty(t, l.unspent, "outputs of lnkit's left unclaimed")
	var want int64
	for _, v := range start {
		want += v
	}
	require.Equal(t, want, l.startSat, "lnkit claimed every output it owns")
	require.Equal(t, l.walletOut-l.walletIn, lk.settledWallet(t)-w0, "lnkit's wallet moved by what its transactions paid it")
	require.Less(t, l.feesSat*maxFeeShare, l.startSat+l.anchorSat, "fees %d sat", l.feesSat)
	suite.resolved = append(suite.resolved, fundingTxid)
	return l
}

// Test09LndForceClosesOnHeldPayment: lnkit pays an lnd hold invoice; lnd holds the HTLC and
// force-closes. Past the HTLC's expiry lnkit times it out on lnd's commitment (a claim its monitor
// signs and broadcasts alone: no second stage on the counterparty's commitment), the payment ends
// failed and lnkit has its balance and the HTLC back, less the fees; lnd never gets the HTLC.
func Test09LndForceClosesOnHeldPayment(t *testing.T) {
	lk := needNode(t)
	alice := nw.alice
	steps := newSteps(t)
	ensureConnected(t, lk)
	ensureFunded(t, lk)
	fund := openLnkitChannel(t, lk, 600_000, 100_000_000)
	confirmChannels(t, lk, fund)
	checkChannel(t, lk, fund)
	lc := alice.channel(t, fund)
	w0 := lk.settledWallet(t)
	steps.done("open 600,000 sat lnkit -> alice, 100,000 pushed")

	_, hash := newPreimage()
	inv := alice.addHoldInvoice(t, hash, heldSat*1000, holdCLTV)
	require.Equal(t, nodeapi.StatusPending, lk.payNoWait(t, inv.PaymentRequest).Status)
	expiry := alice.waitInvoiceAccepted(t, hash)
	steps.done(fmt.Sprintf("alice holds lnkit's %d sat HTLC (expiry %d)", heldSat, expiry))

	h0 := nw.btcd.height(t) + 1
	alice.closeChannel(t, lc.ChannelPoint, true)
	commit, _ := commitmentOf(t, lc.ChannelPoint, h0)
	checkCommitmentFee(t, commit, 600_000, int64(lc.FeePerKw), 1)
	htlc := outputIndex(t, commit, heldSat)
	require.GreaterOrEqual(t, outputIndex(t, commit, 100_000), 0, "alice's to_local is her balance: %v", outValues(commit))
	lkRemote := 600_000 - 100_000 - heldSat - 2*anchorSat - commitFeeWithHTLCs(int64(lc.FeePerKw), 1)
	remote := outputIndex(t, commit, lkRemote)
	require.GreaterOrEqual(t, remote, 0, "lnkit's to_remote should be %d: %v", lkRemote, outValues(commit))
	steps.done("alice's commitment confirmed")

	c := lk.waitBalances(t, fund, fmt.Sprintf("%s:%d", nodeapi.BalanceMaybeTimeout, heldSat),
		fmt.Sprintf("%s:%d", nodeapi.BalanceAwaitingConfirmations, lkRemote))
	for _, b := range c.Balances {
		if b.Type == nodeapi.BalanceMaybeTimeout {
			require.InDelta(t, expiry, b.ClaimableHeight, 1, "claimable at the HTLC's expiry")
			require.Equal(t, hash, b.PaymentHash)
		}
	}
	require.Equal(t, heldSat+lkRemote, lk.balance(t).OnchainClaimableSat, "walletbalance counts both")

	htlcOp := wire.OutPoint{Hash: commit.TxHash(), Index: uint32(htlc)}
	mineUntil(t, expiry-nw.btcd.height(t)+5, func() (bool, string) {
		_, ok := nw.btcd.findSpends(t, h0, htlcOp)[htlcOp]
		return ok, "the HTLC output is not spent yet"
	})
	timeout := nw.btcd.findSpends(t, h0, htlcOp)[htlcOp]
	require.EqualValues(t, expiry, timeout.tx.LockTime, "lnkit's timeout claim, locked to the expiry")
	steps.done(fmt.Sprintf("lnkit timed the HTLC out at height %d", timeout.height))

	mineUntil(t, 8, func() (bool, string) {
		p := lk.payment(t, hash)
		return p.Status == nodeapi.StatusFailed, fmt.Sprintf("lnkit payment %+v", *p)
	})
	settleLedger(t, lk, fund, h0, map[wire.OutPoint]int64{htlcOp: heldSat,
		{Hash: commit.TxHash(), Index: uint32(remote)}: lkRemote}, w0)
	steps.done("payment failed, lnkit's wallet has the HTLC and its balance back")

	require.NotEqual(t, "SETTLED", alice.invoiceState(t, hash), "alice was never paid")
	lndGetsToLocal(t, alice, lc.ChannelPoint, 100_000)
	steps.done("alice swept her balance after lnkit's to_self_delay")
}

// lndGetsToLocal mines until l's force close of chanPoint has matured and l has swept its to_local
// (toLocalSat), then checks closedchannels and that l's wallet grew by at least toLocalSat less the
// sweep fee.
func lndGetsToLocal(t *testing.T, l *lnd, chanPoint string, toLocalSat int64) {
	t.Helper()
	fc := l.forceClosing(t, chanPoint)
	require.NotNil(t, fc, "%s lists its force close as pending", l.name)
	t.Logf("%s's pending force close: %+v", l.name, *fc)
	before := l.totalBalance(t)
	if left := int(fc.MaturityHeight) - nw.btcd.height(t); left > 0 {
		nw.mine(t, left)
	}
	mineUntil(t, 10, func() (bool, string) {
		cc := l.closedChannel(t, chanPoint)
		return cc != nil, fmt.Sprintf("%s: %+v", l.name, l.forceClosing(t, chanPoint))
	})
	cc := l.closedChannel(t, chanPoint)
	t.Logf("%s's closed channel: %+v", l.name, *cc)
	require.Equal(t, "LOCAL_FORCE_CLOSE", cc.CloseType)
	// At least its to_local arrived (lnd's other closes may mature in the same blocks, so no upper bound).
	gain := l.totalBalance(t) - before
	require.Greater(t, gain, toLocalSat-2_000, "%s's wallet grew by %d sat, its to_local is %d", l.name, gain, toLocalSat)
}

// commitFeeWithHTLCs is an anchors commitment's fee with n HTLC outputs (BOLT 3: 1124 + 172 n WU).
func commitFeeWithHTLCs(feeratePerKw int64, n int) int64 {
	return feeratePerKw * (1124 + 172*int64(n)) / 1000
}

// Test10LndForceClosesOnClaimedHTLC: lnd pays lnkit; lnkit claims while cut off from lnd (a loopback
// proxy between them drops lnkit's update_fulfill_htlc and then closes), so the HTLC is still on
// lnd's commitment when lnd force-closes. lnkit claims it on chain with the preimage; lnd learns the
// preimage from that spend and its payment succeeds.
func Test10LndForceClosesOnClaimedHTLC(t *testing.T) {
	lk := needNode(t)
	carol := ensureLnd(t, "carol")
	steps := newSteps(t)
	ensureFunded(t, lk)
	p := connectViaProxy(t, lk, carol)
	fund := carol.openChannel(t, lk.ID(), 700_000, 0, false)
	confirmChannelsWith(t, lk, carol, fund)
	checkChannelWith(t, lk, carol, fund)
	lc := carol.channel(t, fund)
	w0 := lk.settledWallet(t)
	steps.done("open 700,000 sat carol -> lnkit through a proxy")

	hash := claimWhileCutOff(t, lk, carol, p, claimedSat)
	steps.done("lnkit claimed; its fulfill never reached carol")
	t.Logf("lnkit's balances of the open channel holding the claimed HTLC: %v (walletbalance %+v)",
		balanceTypes(lk.chanBalances(t, fund)), *lk.balance(t))

	h0 := nw.btcd.height(t) + 1
	carol.closeChannel(t, lc.ChannelPoint, true)
	commit, _ := commitmentOf(t, lc.ChannelPoint, h0)
	checkCommitmentFee(t, commit, 700_000, int64(lc.FeePerKw), 1)
	htlc := outputIndex(t, commit, claimedSat)
	require.GreaterOrEqual(t, htlc, 0, "the HTLC is on carol's commitment: %v", outValues(commit))
	steps.done("carol's commitment confirmed")

	c := lk.waitBalances(t, fund, fmt.Sprintf("%s:%d", nodeapi.BalanceContentious, claimedSat))
	require.Equal(t, hash, c.Balances[0].PaymentHash)
	require.NotZero(t, c.Balances[0].TimeoutHeight)
	htlcOp := wire.OutPoint{Hash: commit.TxHash(), Index: uint32(htlc)}
	mineUntil(t, 5, func() (bool, string) {
		_, ok := nw.btcd.findSpends(t, h0, htlcOp)[htlcOp]
		return ok, "the HTLC output is not spent yet"
	})
	claim := nw.btcd.findSpends(t, h0, htlcOp)[htlcOp]
	require.Less(t, claim.height, int(c.Balances[0].TimeoutHeight), "claimed before carol could time it out")
	mineUntil(t, 6, func() (bool, string) {
		pay := carol.payment(t, hash)
		return pay != nil && pay.Status == "SUCCEEDED", fmt.Sprintf("carol's payment %+v", pay)
	})
	steps.done(fmt.Sprintf("lnkit claimed the HTLC with its preimage at height %d; carol's payment succeeded", claim.height))

	settleLedger(t, lk, fund, h0, map[wire.OutPoint]int64{htlcOp: claimedSat}, w0)
	inv := lk.invoices(t)
	require.True(t, hasPaidInvoice(inv, hash, claimedSat*1000))
	lndGetsToLocal(t, carol, lc.ChannelPoint, 700_000-claimedSat-2*anchorSat-commitFeeWithHTLCs(int64(lc.FeePerKw), 1))
	steps.done("carol swept her balance, less the HTLC, after lnkit's to_self_delay")
}

func hasPaidInvoice(invs []nodeapi.Invoice, hash string, msat uint64) bool {
	for _, inv := range invs {
		if inv.PaymentHash == hash {
			return inv.Status == nodeapi.InvoicePaid && inv.ReceivedMsat == msat
		}
	}
	return false
}

// Test11LnkitForceClosesWithHTLCs: lnkit force-closes its anchor channel with an HTLC in flight each
// way: one it offered (an lnd hold invoice, never settled) and one offered to it whose preimage it
// holds (claimed while cut off). Its HTLC-success transaction, then after the expiry its HTLC-timeout
// transaction, are second-stage transactions whose fees its wallet pays (BumpHTLCResolution); their
// outputs are swept after lnd's to_self_delay. lnd's payment succeeds from the preimage on chain,
// lnkit's fails, and every sat of lnkit's reaches its wallet, less fees.
func Test11LnkitForceClosesWithHTLCs(t *testing.T) {
	lk := needNode(t)
	carol := ensureLnd(t, "carol")
	steps := newSteps(t)
	ensureFunded(t, lk)
	p := connectViaProxy(t, lk, carol)
	fund := openLnkitChannelTo(t, lk, carol, 800_000, 300_000_000)
	confirmChannelsWith(t, lk, carol, fund)
	checkChannelWith(t, lk, carol, fund)
	lc := carol.channel(t, fund)
	w0 := lk.settledWallet(t)
	steps.done("open 800,000 sat lnkit -> carol, 300,000 pushed, through a proxy")

	_, held := newPreimage()
	inv := carol.addHoldInvoice(t, held, heldSat*1000, holdCLTV)
	lk.payNoWait(t, inv.PaymentRequest)
	expiry := carol.waitInvoiceAccepted(t, held)
	claimed := claimWhileCutOff(t, lk, carol, p, claimedSat)
	steps.done(fmt.Sprintf("HTLCs both ways: %d sat held by carol (expiry %d), %d sat claimed by lnkit", heldSat, expiry, claimedSat))

	h0 := nw.btcd.height(t) + 1
	carolBefore := carol.totalBalance(t)
	lk.forceClose(t, fund)
	commit, _ := commitmentOf(t, lc.ChannelPoint, h0)
	checkCommitmentFee(t, commit, 800_000, int64(lc.FeePerKw), 2)
	lkLocal := 800_000 - 300_000 - heldSat - 2*anchorSat - commitFeeWithHTLCs(int64(lc.FeePerKw), 2)
	idx := map[string]int{"to_local": outputIndex(t, commit, lkLocal), "held": outputIndex(t, commit, heldSat),
		"claimed": outputIndex(t, commit, claimedSat), "carol": outputIndex(t, commit, 300_000-claimedSat)}
	for name, i := range idx {
		require.GreaterOrEqual(t, i, 0, "%s output in lnkit's commitment %v", name, outValues(commit))
	}
	op := func(name string) wire.OutPoint { return wire.OutPoint{Hash: commit.TxHash(), Index: uint32(idx[name])} }
	steps.done("lnkit's commitment confirmed")

	lk.waitBalances(t, fund, fmt.Sprintf("%s:%d", nodeapi.BalanceAwaitingConfirmations, lkLocal),
		fmt.Sprintf("%s:%d", nodeapi.BalanceMaybeTimeout, heldSat), fmt.Sprintf("%s:%d", nodeapi.BalanceContentious, claimedSat))
	success := waitSpentBy(t, h0, op("claimed"), 6)
	require.Zero(t, success.tx.LockTime, "an HTLC-success transaction")
	mineUntil(t, 6, func() (bool, string) {
		pay := carol.payment(t, claimed)
		return pay != nil && pay.Status == "SUCCEEDED", fmt.Sprintf("carol's payment %+v", pay)
	})
	steps.done(fmt.Sprintf("HTLC-success at height %d; carol's payment succeeded", success.height))

	timeout := waitSpentBy(t, h0, op("held"), expiry-nw.btcd.height(t)+6)
	require.EqualValues(t, expiry, timeout.tx.LockTime, "an HTLC-timeout transaction")
	mineUntil(t, 8, func() (bool, string) {
		pay := lk.payment(t, held)
		return pay.Status == nodeapi.StatusFailed, fmt.Sprintf("lnkit's payment %+v", *pay)
	})
	steps.done(fmt.Sprintf("HTLC-timeout at height %d; lnkit's payment failed", timeout.height))

	l := settleLedger(t, lk, fund, h0, map[wire.OutPoint]int64{op("to_local"): lkLocal, op("held"): heldSat,
		op("claimed"): claimedSat}, w0)
	require.Positive(t, l.walletIn, "the wallet paid the second-stage fees")
	require.True(t, hasPaidInvoice(lk.invoices(t), claimed, claimedSat*1000))
	require.NotEqual(t, "SETTLED", carol.invoiceState(t, held))
	steps.done("second-stage outputs swept; lnkit's wallet settled")

	mineUntil(t, 5, func() (bool, string) {
		cc := carol.closedChannel(t, lc.ChannelPoint)
		return cc != nil, "carol has not resolved the channel yet"
	})
	cc := carol.closedChannel(t, lc.ChannelPoint)
	require.Equal(t, "REMOTE_FORCE_CLOSE", cc.CloseType)
	require.EqualValues(t, 300_000-claimedSat, cc.SettledBalance, "carol gets her balance, less what she paid lnkit")
	gain := carol.totalBalance(t) - carolBefore
	require.Greater(t, gain, int64(300_000-claimedSat-2_000), "carol's wallet grew by %d sat, her to_remote is %d", gain,
		300_000-claimedSat)
}

// waitSpentBy mines up to max blocks until op is spent on chain and returns the spend.
func waitSpentBy(t *testing.T, fromHeight int, op wire.OutPoint, max int) spend {
	t.Helper()
	mineUntil(t, max, func() (bool, string) {
		_, ok := nw.btcd.findSpends(t, fromHeight, op)[op]
		return ok, fmt.Sprintf("%v not spent yet", op)
	})
	return nw.btcd.findSpends(t, fromHeight, op)[op]
}

// lowFeeFloorPerKw is the test miner's floor in Test12: 10 sat/vbyte, four times the commitment's.
const lowFeeFloorPerKw = 2500

// Test12LowFeeCommitmentCPFP: lnkit force-closes a channel whose commitment pays 625 sat/kw, fees
// rise to 2,500 sat/kw (the fee source says so), and blocks come from a miner (mineAtFeerate, see miner_test.go for why not btcd's own) that takes only
// packages paying 2,500 sat/kw. btcd relays the commitment (it pays its 1 sat/vB floor), the miner
// leaves it out, and it confirms only once lnkit's anchor CPFP child, funded by lnkit's wallet, lifts
// the package above the floor. This proves what lnkit does (the child, its fee, its replacement
// under the monitor's rising target) against a CPFP-aware miner; it cannot prove that btcd would
// mine such a package, since btcd's miner does not do CPFP at all.
func Test12LowFeeCommitmentCPFP(t *testing.T) {
	lk := needNode(t)
	steps := newSteps(t)
	ensureConnected(t, lk)
	ensureFunded(t, lk)
	// The wallet keeps a reserve to pay for fee bumping: an opening that leaves less is refused.
	w := lk.balance(t).ConfirmedSat
	_, err := lk.Client().OpenChannel(ctx(t, time.Minute), nodeapi.OpenChannelParams{NodeID: nw.alice.id(), AmountSat: w - 5_000})
	require.ErrorContains(t, err, "below the anchor reserve")
	fund := openLnkitChannel(t, lk, 500_000, 0)
	confirmChannels(t, lk, fund)
	lc := nw.alice.channel(t, fund)
	require.Less(t, int64(lc.FeePerKw), int64(lowFeeFloorPerKw))
	w0 := lk.settledWallet(t)
	steps.done(fmt.Sprintf("open 500,000 sat lnkit -> alice at %d sat/kw", lc.FeePerKw))

	h0 := nw.btcd.height(t) + 1
	lk.forceClose(t, fund)
	// The market moved after the close: the fee source now says what the miner takes, so lnkit's
	// target for the commitment (no HTLC at stake: the urgent estimate, climbing gently over a week)
	// starts there. Raised only now, so that lnkit, the funder, does not update_fee the commitment up.
	nw.fees.set(4 * lowFeeFloorPerKw)
	t.Cleanup(func() { nw.fees.set(initialFeeSatPerKvB) })
	commit := mempoolOrChainSpend(t, outpoint(t, lc.ChannelPoint), h0)
	blk := nw.mineAtFeerate(t, lowFeeFloorPerKw)
	require.False(t, blockHas(blk, commit.TxHash()), "the miner leaves a commitment at %d sat/kw out", lc.FeePerKw)
	require.True(t, nw.btcd.inMempool(t, txid(commit)), "btcd still relays it")
	steps.done("the commitment alone is not mined")

	var child *wire.MsgTx
	for i := 0; i < 6 && !blockHas(blk, commit.TxHash()); i++ {
		time.Sleep(time.Second) // lnkit answers the new block's BumpChannelClose
		blk = nw.mineAtFeerate(t, lowFeeFloorPerKw)
	}
	require.True(t, blockHas(blk, commit.TxHash()), "lnkit's CPFP got the commitment mined")
	child = childIn(blk, commit)
	require.NotNil(t, child, "a child of the commitment is in the same block")
	require.True(t, lk.bumpTxids(t)[child.TxHash()], "the child is lnkit's (its bumptx handler broadcast it)")
	pkgFee, pkgWeight := packageFee(t, commit, child)
	require.GreaterOrEqual(t, pkgFee*1000, int64(lowFeeFloorPerKw)*pkgWeight, "package feerate at the floor")
	steps.done(fmt.Sprintf("commitment + lnkit's child mined: %d sat on %d WU (%d sat/kw)", pkgFee, pkgWeight, pkgFee*1000/pkgWeight))

	lkLocal := 500_000 - 2*anchorSat - commitFeeSat(int64(lc.FeePerKw))
	local := outputIndex(t, commit, lkLocal)
	require.GreaterOrEqual(t, local, 0, "lnkit's to_local %d: %v", lkLocal, outValues(commit))
	l := settleLedger(t, lk, fund, h0, map[wire.OutPoint]int64{{Hash: commit.TxHash(), Index: uint32(local)}: lkLocal}, w0)
	require.EqualValues(t, anchorSat, l.anchorSat, "the child spent lnkit's anchor")
	steps.done("to_local swept after the delay; lnkit's wallet settled")
	mineUntil(t, 5, func() (bool, string) {
		return nw.alice.closedChannel(t, lc.ChannelPoint) != nil, "alice has not closed the channel yet"
	})
	cc := nw.alice.closedChannel(t, lc.ChannelPoint)
	require.Equal(t, "REMOTE_FORCE_CLOSE", cc.CloseType)
	require.Zero(t, cc.SettledBalance, "alice had nothing in the channel")
}

// childIn returns the transaction of blk spending an output of parent.
func childIn(blk *wire.MsgBlock, parent *wire.MsgTx) *wire.MsgTx {
	for _, tx := range blk.Transactions {
		for _, in := range tx.TxIn {
			if in.PreviousOutPoint.Hash == parent.TxHash() {
				return tx
			}
		}
	}
	return nil
}

// packageFee returns the fee (sat) and weight (WU) of commit and child together.
func packageFee(t *testing.T, txs ...*wire.MsgTx) (int64, int64) {
	t.Helper()
	var fee, weight int64
	for _, tx := range txs {
		for _, in := range tx.TxIn {
			fee += nw.btcd.rawTx(t, in.PreviousOutPoint.Hash.String()).TxOut[in.PreviousOutPoint.Index].Value
		}
		for _, o := range tx.TxOut {
			fee -= o.Value
		}
		weight += int64(tx.SerializeSizeStripped()*3 + tx.SerializeSize())
	}
	return fee, weight
}

// Test13Justice: lnd cheats. mallory (an lnd) is stopped and its data directory copied at a state
// where it holds 500,000 sat; two payments later (it holds 100,000) it is stopped again, the old copy
// put back, and it is started with --nolisten (so that lnkit cannot reach it and reveal the new
// state) and force-closes: it broadcasts a revoked commitment. lnkit takes everything with justice
// transactions; mallory ends with nothing from the channel.
func Test13Justice(t *testing.T) {
	lk := needNode(t)
	mallory := ensureLnd(t, "mallory")
	steps := newSteps(t)
	ensureFunded(t, lk)
	lk.connect(t, mallory)
	fund := openLnkitChannelTo(t, lk, mallory, 1_000_000, 600_000_000)
	confirmChannelsWith(t, lk, mallory, fund)
	lc := mallory.channel(t, fund)
	payLnkit(t, lk, mallory, 100_000)
	checkChannelWith(t, lk, mallory, fund)
	steps.done("open 1,000,000 sat lnkit -> mallory, 600,000 pushed; mallory pays back 100,000")

	old := mallory.dir + "-old"
	mallory.stop()
	require.NoError(t, exec.Command("cp", "-a", mallory.dir, old).Run())
	mallory.restart(t, "lnd")
	waitFor(t, 60*time.Second, func() (bool, string) {
		c := lk.channel(t, fund)
		return c != nil && c.IsUsable, "lnkit's channel with mallory not usable again"
	})
	payLnkit(t, lk, mallory, 200_000)
	payLnkit(t, lk, mallory, 200_000)
	checkChannelWith(t, lk, mallory, fund)
	w0 := lk.settledWallet(t)
	steps.done("mallory's state copied at 500,000 sat; now it holds 100,000")

	mallory.stop()
	require.NoError(t, os.Rename(mallory.dir, mallory.dir+"-new"))
	require.NoError(t, os.Rename(old, mallory.dir))
	mallory.extra = []string{"--nolisten"}
	mallory.restart(t, "lnd")
	time.Sleep(3 * time.Second)
	require.Nil(t, lk.peer(t, mallory.id()), "lnkit must not reach the restored mallory")
	before := mallory.totalBalance(t)
	steps.done("mallory restarted from the old copy, unreachable")

	h0 := nw.btcd.height(t) + 1
	mallory.closeChannel(t, lc.ChannelPoint, true)
	commit, _ := commitmentOf(t, lc.ChannelPoint, h0)
	checkCommitmentFee(t, commit, 1_000_000, int64(lc.FeePerKw), 0)
	revoked := outputIndex(t, commit, 500_000)
	lkRemote := 500_000 - 2*anchorSat - commitFeeSat(int64(lc.FeePerKw))
	remote := outputIndex(t, commit, lkRemote)
	require.True(t, revoked >= 0 && remote >= 0, "mallory's old commitment %v", outValues(commit))
	lk.waitBalances(t, fund, fmt.Sprintf("%s:%d", nodeapi.BalanceRevokedOutput, 500_000),
		fmt.Sprintf("%s:%d", nodeapi.BalanceAwaitingConfirmations, lkRemote))
	require.Equal(t, 500_000+lkRemote, lk.balance(t).OnchainClaimableSat, "walletbalance counts the justice claim")
	steps.done("mallory's revoked commitment confirmed")

	settleLedger(t, lk, fund, h0, map[wire.OutPoint]int64{{Hash: commit.TxHash(), Index: uint32(revoked)}: 500_000,
		{Hash: commit.TxHash(), Index: uint32(remote)}: lkRemote}, w0)
	steps.done("justice: lnkit took mallory's to_local")
	require.LessOrEqual(t, mallory.totalBalance(t), before, "mallory gained nothing from the channel")
	mineUntil(t, 5, func() (bool, string) {
		return mallory.closedChannel(t, lc.ChannelPoint) != nil, "mallory has not closed the channel yet"
	})
	// lnd reports the old balance as settled (it does not notice the revocation spend of its
	// to_local); its wallet, checked above, is what counts.
	t.Logf("mallory's closedchannels entry: %+v", *mallory.closedChannel(t, lc.ChannelPoint))
	require.LessOrEqual(t, mallory.totalBalance(t), before, "mallory gained nothing from the channel")
}

// Test14ArchiveResolvedMonitors: the node archives the monitors of the channels the on-chain
// scenarios resolved (with the suite's -tick.archive=3s; the default is 10 minutes): each leaves
// listbalances and, once the node stopped cleanly (the filesystem store writes what its log holds to
// the files), has moved in <datadir>/regtest/store (kvstore/fsstore's layout) from monitors/ to
// archived_monitors/. The node is started again for the tests after this one.
func Test14ArchiveResolvedMonitors(t *testing.T) {
	lk := needNode(t)
	if !strings.Contains(nodeTuning(), "-tick.archive") {
		t.Skip("the node's flags (LNKIT_INTEROP_NODE_FLAGS) do not shorten -tick.archive")
	}
	if len(suite.resolved) == 0 {
		t.Skip("no on-chain scenario ran")
	}
	nw.mine(t, 1)
	for _, fund := range suite.resolved {
		waitFor(t, 30*time.Second, func() (bool, string) {
			archived := strings.Contains(logLines(lk.logPath(), "archived the monitor", 100), fund)
			return archived && lk.chanBalances(t, fund) == nil, fmt.Sprintf("monitor of %s not archived", fund)
		})
	}
	lk.Stop()
	defer lk.Restart(t)
	dir := filepath.Join(lk.dir, "regtest", "store")
	for _, fund := range suite.resolved {
		_, live := os.Stat(filepath.Join(dir, "monitors", "@", fund+"_0"))
		_, archived := os.Stat(filepath.Join(dir, "archived_monitors", "@", fund+"_0"))
		require.True(t, os.IsNotExist(live), "monitor of %s still live: %v", fund, live)
		require.NoError(t, archived, "monitor of %s not in archived_monitors", fund)
	}
}

// payLnkit has l pay lnkit amtSat over their channel (an lnkit invoice) and checks it succeeded.
func payLnkit(t *testing.T, lk *lnkitNode, l *lnd, amtSat int64) {
	t.Helper()
	l.waitRoute(t, lk.ID(), amtSat)
	ki := lk.invoice(t, uint64(amtSat)*1000, "from "+l.name)
	p, err := l.payInvoice(ctx(t, 2*time.Minute), ki.Bolt11)
	require.NoError(t, err)
	require.Equal(t, "SUCCEEDED", p.Status, "%+v", p)
}
