//go:build interop

package interop

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

// Payments over the network (issue 9): lnkit pays through lnd, lnd pays lnkit through lnd (public
// channel or route hints), lnkit forwards between two lnd nodes for its fee, and multi-path both ways.
// The lnd nodes: alice (every scenario's), gina (alice's public peer, Test17-18), erin (Test19's next
// hop) and frank (Test20's multi-path peer). The file is named to run after Test15 and Test16 (Go takes
// a package's files in byte order); the tests leave dave, Test15's lnd, alone all the same (Test15
// expects dave's only channel to be the one it opens), so that they can run in any order.

const (
	// Test17: what lnkit pays gina through alice (invoice, then keysend).
	routedInvoiceSat = 40_000
	routedKeysendSat = 12_345
	routedBaseMsat   = 1111
	routedFeePPM     = 2222
	routedTimeLock   = 70
	// Test18: what gina pays lnkit through alice.
	inboundPaySat = 30_000
	// Test19: what alice pays erin through lnkit, and lnkit's policy on its channel to erin (then raised).
	forwardPaySat       = 25_000
	fwdBaseMsat         = 2000
	fwdFeePPM           = 1500
	fwdTimeLock         = 50
	fwdRaisedBaseMsat   = 5000
	fwdRaisedFeePPM     = 3000
	codeFeeInsufficient = 0x100c // BOLT 4 UPDATE|12
	// Test20: two channels of mppChanSat each way between lnkit and frank; payments of mppPaySat need both.
	mppChanSat = 300_000
	mppPaySat  = 450_000
)

// feeOf is a forwarding fee (BOLT 7): base + amount × ppm / 10⁶, on the amount forwarded.
func feeOf(baseMsat, ppm, amtMsat uint64) uint64 { return baseMsat + amtMsat*ppm/1_000_000 }

// lndFwdEvent is one of lncli fwdinghistory's forwarding events.
type lndFwdEvent struct {
	ChanIDIn   jint `json:"chan_id_in"`
	ChanIDOut  jint `json:"chan_id_out"`
	AmtInMsat  jint `json:"amt_in_msat"`
	AmtOutMsat jint `json:"amt_out_msat"`
	FeeMsat    jint `json:"fee_msat"`
}

// waitForward waits until l's forwarding history has a forward of amtOutMsat and returns it (lnd
// writes its forwarding log in batches, every 15 s).
func (l *lnd) waitForward(t testing.TB, amtOutMsat uint64) lndFwdEvent {
	t.Helper()
	var found lndFwdEvent
	since := strconv.FormatInt(time.Now().Add(-time.Hour).Unix(), 10)
	waitFor(t, 60*time.Second, func() (bool, string) {
		var v struct {
			Events []lndFwdEvent `json:"forwarding_events"`
		}
		if err := l.cliJSON(&v, "fwdinghistory", "--start_time="+since, "--max_events=10000"); err != nil {
			return false, err.Error()
		}
		for _, e := range v.Events {
			if uint64(e.AmtOutMsat) == amtOutMsat {
				found = e
				return true, ""
			}
		}
		return false, fmt.Sprintf("%s has no forward of %d msat among %d", l.name, amtOutMsat, len(v.Events))
	})
	return found
}

// lndHopHint and lndDecoded are lncli decodepayreq's route hints.
type lndHopHint struct {
	NodeID                    string `json:"node_id"`
	ChanID                    jint   `json:"chan_id"`
	FeeBaseMsat               jint   `json:"fee_base_msat"`
	FeeProportionalMillionths jint   `json:"fee_proportional_millionths"`
	CltvExpiryDelta           jint   `json:"cltv_expiry_delta"`
}

type lndDecoded struct {
	RouteHints []struct {
		HopHints []lndHopHint `json:"hop_hints"`
	} `json:"route_hints"`
}

// addPrivateInvoice is addinvoice --private: route hints for l's private channels.
func (l *lnd) addPrivateInvoice(t testing.TB, amtMsat uint64, memo string) lndAddedInvoice {
	t.Helper()
	var v lndAddedInvoice
	l.must(t, &v, "addinvoice", "--amt_msat="+strconv.FormatUint(amtMsat, 10), "--memo="+memo, "--private")
	return v
}

// hintFor returns the route hint of payReq over the channel scid, or nil.
func (l *lnd) hintFor(t testing.TB, payReq string, scid uint64) *lndHopHint {
	t.Helper()
	var d lndDecoded
	l.must(t, &d, "decodepayreq", payReq)
	for _, h := range d.RouteHints {
		for i := range h.HopHints {
			if uint64(h.HopHints[i].ChanID) == scid {
				return &h.HopHints[i]
			}
		}
	}
	return nil
}

// lndInvoiceParts is lookupinvoice's amount paid and HTLCs.
type lndInvoiceParts struct {
	State       string `json:"state"`
	AmtPaidMsat jint   `json:"amt_paid_msat"`
	HTLCs       []struct {
		State   string `json:"state"`
		AmtMsat jint   `json:"amt_msat"`
	} `json:"htlcs"`
}

// settledHTLCs counts lnd's HTLC attempts of a payment that succeeded.
func settledHTLCs(p *lndPayment) int {
	n := 0
	for _, h := range p.HTLCs {
		if h.Status == "SUCCEEDED" {
			n++
		}
	}
	return n
}

// failureCodes lists the failure codes of lnd's failed HTLC attempts of a payment.
func failureCodes(p *lndPayment) []string {
	var out []string
	for _, h := range p.HTLCs {
		if h.Failure != nil {
			out = append(out, h.Failure.Code)
		}
	}
	return out
}

// requireRouted checks an lnkit payment succeeded with its preimage, paying feeMsat in routing fees.
func requireRouted(t *testing.T, p *nodeapi.Payment, amtMsat, feeMsat uint64) {
	t.Helper()
	require.Equal(t, nodeapi.StatusSucceeded, p.Status, "%+v", *p)
	require.Equal(t, amtMsat, p.AmountMsat)
	require.Equal(t, feeMsat, p.FeeMsat, "routing fee")
	pre, err := hex.DecodeString(p.Preimage)
	require.NoError(t, err)
	h := sha256.Sum256(pre)
	require.Equal(t, p.PaymentHash, hex.EncodeToString(h[:]), "preimage matches the hash")
}

// ensurePeers connects a and b (lnd nodes) if they are not peers.
func ensurePeers(t *testing.T, a, b *lnd) {
	t.Helper()
	if a.peer(t, b.id()) == nil {
		a.connect(t, b.uri())
	}
	waitFor(t, 30*time.Second, func() (bool, string) {
		return a.peer(t, b.id()) != nil && b.peer(t, a.id()) != nil, a.name + " and " + b.name + " are not peers"
	})
}

// ensurePublicLndChannel makes sure from has an active public channel to to (opening one of capSat
// if not), announced: in from's graph with both policies, and in lnkit's graph with from's policy
// (learnt by gossip). It returns from's view of the channel.
func ensurePublicLndChannel(t *testing.T, lk *lnkitNode, from, to *lnd, capSat int64) *lndChannel {
	t.Helper()
	ensurePeers(t, from, to)
	var ch *lndChannel
	for _, c := range from.channelsWith(t, to.id()) {
		if c.Active && !c.Private {
			ch = &c
			break
		}
	}
	if ch == nil {
		txid := from.openChannel(t, to.id(), capSat, 0, false)
		waitFor(t, 30*time.Second, func() (bool, string) {
			return nw.btcd.inMempool(t, txid), "funding tx not in the mempool"
		})
		nw.mine(t, 6) // lnd announces a channel at 6 confirmations
		waitFor(t, 60*time.Second, func() (bool, string) {
			a, b := from.channel(t, txid), to.channel(t, txid)
			return a != nil && b != nil && a.Active && b.Active, from.name + "–" + to.name + " channel not active"
		})
		ch = from.channel(t, txid)
	}
	waitFor(t, 2*time.Minute, func() (bool, string) {
		var e lndEdge
		if err := from.cliJSON(&e, "getchaninfo", "--chan_id="+strconv.FormatInt(int64(ch.Scid), 10)); err != nil {
			return false, err.Error()
		}
		if e.Node1Policy == nil || e.Node2Policy == nil {
			return false, fmt.Sprintf("%s's edge %+v", from.name, e)
		}
		g, err := lk.Client().DescribeGraph(ctx(t, 10*time.Second))
		if err != nil {
			return false, err.Error()
		}
		kc := findChannel(g, uint64(ch.Scid))
		if kc == nil {
			return false, "lnkit's graph lacks " + ch.ScidStr
		}
		p := kc.Node1Policy
		if kc.Node1 != from.id() {
			p = kc.Node2Policy
		}
		return p != nil, fmt.Sprintf("lnkit's channel %+v has no policy of %s", kc, from.name)
	})
	return ch
}

// ensureLocal makes sure l can send minSat to peer over one channel: if none of their channels has
// that much on l's side, peer pays l over the fullest one.
func ensureLocal(t *testing.T, l, peer *lnd, minSat int64) {
	t.Helper()
	var best *lndChannel
	for _, c := range l.channelsWith(t, peer.id()) {
		if c.Active && (best == nil || c.LocalBalance > best.LocalBalance) {
			best = &c
		}
	}
	require.NotNil(t, best, "%s has no active channel with %s", l.name, peer.name)
	// The channel reserve (1%) and the commitment fee stay on l's side.
	if int64(best.LocalBalance) >= minSat+int64(best.Capacity)/100+20_000 {
		return
	}
	amt := minSat + int64(best.Capacity)/100 + 20_000 - int64(best.LocalBalance)
	inv := l.addInvoice(t, uint64(amt)*1000, "balance for "+l.name, 0)
	p, err := peer.payInvoice(ctx(t, 2*time.Minute), inv.PaymentRequest, fmt.Sprintf("--outgoing_chan_id=%d", best.Scid))
	require.NoError(t, err)
	require.Equal(t, "SUCCEEDED", p.Status, "%s paying %s: %+v", peer.name, l.name, p)
}

// ensureLnkitInbound makes sure l can send needMsat to lnkit over one channel: if no channel has that
// much on l's side, lnkit pays l needMsat over its channel that can send the most (sendpayment takes
// the direct channel with the most outbound capacity; one is opened if none can), which then has at
// least needMsat on l's side.
func ensureLnkitInbound(t *testing.T, lk *lnkitNode, l *lnd, needMsat uint64) {
	t.Helper()
	for _, c := range lk.channels(t) {
		if c.NodeID == l.id() && c.IsUsable && c.InboundCapacityMsat >= needMsat {
			return
		}
	}
	ensureOutbound(t, lk, l, needMsat+10_000_000)
	inv := l.addInvoice(t, needMsat, "inbound for lnkit", 0)
	dec := l.decodePayReq(t, inv.PaymentRequest)
	p, err := lk.Client().SendPayment(ctx(t, 2*time.Minute), nodeapi.SendPaymentParams{NodeID: l.id(), AmountMsat: needMsat,
		PaymentHash: inv.RHash, PaymentSecret: dec.PaymentAddr, FinalCLTVDelta: uint32(dec.CltvExpiry) + 3})
	p = mustCall(t, "sendpayment", p, err)
	require.Equal(t, nodeapi.StatusSucceeded, p.Status, "%+v", *p)
}

// ensureLnkitPublic makes sure lnkit has an announced channel to l, opening a public one (1M sat, 300k
// pushed to l so that l can send over it too) if not.
func ensureLnkitPublic(t *testing.T, lk *lnkitNode, l *lnd) {
	t.Helper()
	for _, c := range lk.channels(t) {
		if c.NodeID == l.id() && c.IsUsable && c.Announced {
			return
		}
	}
	ensureFunded(t, lk)
	r, err := lk.Client().OpenChannel(ctx(t, 2*time.Minute), nodeapi.OpenChannelParams{NodeID: l.id(),
		AmountSat: 1_000_000, PushMsat: 300_000_000, Public: true})
	txid := mustCall(t, "openchannel --public", r, err).FundingTxid
	confirmChannelsWith(t, lk, l, txid)
	nw.mine(t, 5) // announced at 6 confirmations (confirmChannels may have mined only one)
	waitFor(t, 60*time.Second, func() (bool, string) {
		kc := lk.channel(t, txid)
		return kc != nil && kc.Announced, fmt.Sprintf("lnkit's channel %+v", kc)
	})
}

// lndRoutes reports whether l finds a route paying amtSat to dest (no route hints).
func lndRoutes(l *lnd, dest string, amtSat int64) (bool, string) {
	_, err := l.cli("queryroutes", "--dest="+dest, "--amt="+strconv.FormatInt(amtSat, 10))
	return err == nil, errOf(err)
}

// Test17RoutedPayment: lnkit pays gina, with whom it has no channel, through alice: gina's invoice
// (payinvoice through lnkit's router, over the alice–gina public channel lnkit learnt by gossip) and a
// keysend; alice earns her advertised fee on each (lncli fwdinghistory), which is what lnkit's payment
// records as its fee. A payee nobody reaches fails at once, saying why.
func Test17RoutedPayment(t *testing.T) {
	steps := newSteps(t)
	lk := needNode(t)
	alice := nw.alice
	ensureConnected(t, lk)
	ensureOutbound(t, lk, alice, 2*(routedInvoiceSat+routedKeysendSat)*1000)
	gina := ensureLnd(t, "gina")
	ch := ensurePublicLndChannel(t, lk, alice, gina, gossipChanSat)
	require.Nil(t, lk.peer(t, gina.id()), "lnkit and gina are not peers")
	steps.done("alice–gina public channel in lnkit's graph")

	// alice's policy toward gina: values no lnd default has.
	alice.must(t, nil, "updatechanpolicy", "--chan_point="+ch.ChannelPoint, "--base_fee_msat="+strconv.Itoa(routedBaseMsat),
		"--fee_rate_ppm="+strconv.Itoa(routedFeePPM), "--time_lock_delta="+strconv.Itoa(routedTimeLock))
	var ap *lndPolicy
	waitFor(t, 30*time.Second, func() (bool, string) {
		var edge lndEdge
		if err := alice.cliJSON(&edge, "getchaninfo", "--chan_id="+strconv.FormatInt(int64(ch.Scid), 10)); err != nil {
			return false, err.Error()
		}
		ap = policyOf(&edge, alice.id())
		return ap != nil && ap.FeeBaseMsat == routedBaseMsat && ap.FeeRateMilliMsat == routedFeePPM, fmt.Sprintf("alice's policy %+v", ap)
	})
	// lnkit's graph has alice's new policy (her channel_update, by gossip).
	waitFor(t, 90*time.Second, func() (bool, string) {
		g, err := lk.Client().DescribeGraph(ctx(t, 10*time.Second))
		if err != nil {
			return false, err.Error()
		}
		kc := findChannel(g, uint64(ch.Scid))
		if kc == nil {
			return false, "lnkit's graph lacks " + ch.ScidStr
		}
		p := kc.Node1Policy
		if kc.Node1 != alice.id() {
			p = kc.Node2Policy
		}
		return p != nil && int64(p.FeeBaseMsat) == int64(ap.FeeBaseMsat) && int64(p.FeeProportionalMillionths) == int64(ap.FeeRateMilliMsat),
			fmt.Sprintf("lnkit has %+v, alice %+v", p, ap)
	})
	steps.done("alice's new policy in lnkit's graph")

	amt := uint64(routedInvoiceSat * 1000)
	inv := gina.addInvoice(t, amt, "routed", 0)
	p, err := lk.Client().PayInvoice(ctx(t, 2*time.Minute), nodeapi.PayInvoiceParams{Bolt11: inv.PaymentRequest})
	p = mustCall(t, "payinvoice", p, err)
	fee := feeOf(uint64(ap.FeeBaseMsat), uint64(ap.FeeRateMilliMsat), amt)
	requireRouted(t, p, amt, fee)
	require.Equal(t, "SETTLED", gina.lookupInvoice(t, inv.RHash).State)
	ev := alice.waitForward(t, amt)
	require.EqualValues(t, fee, ev.FeeMsat, "alice's fee")
	require.EqualValues(t, amt+fee, ev.AmtInMsat)
	require.EqualValues(t, ch.Scid, ev.ChanIDOut)
	steps.done(fmt.Sprintf("payinvoice lnkit → alice → gina, alice earned %d msat", fee))

	kamt := uint64(routedKeysendSat * 1000)
	kp, err := lk.Client().Keysend(ctx(t, 2*time.Minute), nodeapi.KeysendParams{NodeID: gina.id(), AmountMsat: kamt})
	kp = mustCall(t, "keysend", kp, err)
	kfee := feeOf(uint64(ap.FeeBaseMsat), uint64(ap.FeeRateMilliMsat), kamt)
	requireRouted(t, kp, kamt, kfee)
	kev := alice.waitForward(t, kamt)
	require.EqualValues(t, kfee, kev.FeeMsat)
	var keysends int
	for _, i := range gina.listInvoices(t) {
		if i.IsKeysend && i.State == "SETTLED" && uint64(i.AmtPaidMsat) == kamt {
			keysends++
		}
	}
	require.Equal(t, 1, keysends, "gina received the keysend")
	steps.done("keysend lnkit → alice → gina")

	// Nobody reaches this node: the router says so, and nothing is sent.
	nobody := "0279be667ef9dcbbac55a06295ce870b07029bfcdb2dce28d959f2815b16f81798" // the generator: a key nobody uses
	_, err = lk.Client().Keysend(ctx(t, 30*time.Second), nodeapi.KeysendParams{NodeID: nobody, AmountMsat: 1000})
	require.ErrorContains(t, err, "no route to "+nobody+" for 1000 msat: the payee is not in the network graph")
	steps.done("no route: the reason is given")
}

// Test18LndPaysThroughLnd: gina, with no channel to lnkit, pays lnkit's invoices through alice. First
// with only private channels between lnkit and alice (lnkit's public ones are closed first): lnkit's
// invoice carries a route hint built from alice's channel_update, and gina, whose graph has no route
// to lnkit, pays over it. Then over a public channel lnkit opens to alice (announced at 6 blocks, in
// gina's graph by gossip): the invoice has no hint and gina finds the route herself.
func Test18LndPaysThroughLnd(t *testing.T) {
	steps := newSteps(t)
	lk := needNode(t)
	alice := nw.alice
	ensureConnected(t, lk)
	ensureFunded(t, lk)
	gina := ensureLnd(t, "gina")
	ensurePublicLndChannel(t, lk, alice, gina, gossipChanSat)
	amt := uint64(inboundPaySat * 1000)

	// Only private channels: close lnkit's public ones and wait until gina's graph forgets them.
	var closing []wire.OutPoint
	for _, c := range lk.channels(t) {
		if c.Public && c.FundingTxid != "" {
			_, err := lk.Client().CloseChannel(ctx(t, 30*time.Second), nodeapi.CloseChannelParams{ChannelID: c.ChannelID})
			require.NoError(t, err, "closing %s", c.ChannelID)
			closing = append(closing, outpoint(t, fmt.Sprintf("%s:%d", c.FundingTxid, c.FundingVout)))
		}
	}
	if len(closing) > 0 {
		waitFor(t, 60*time.Second, func() (bool, string) {
			for _, op := range closing {
				if nw.btcd.mempoolSpend(t, op) == nil {
					return false, "no closing transaction in the mempool for " + op.String()
				}
			}
			return true, ""
		})
		nw.mine(t, 6)
	}
	ensureLnkitInbound(t, lk, alice, 2*amt)
	ensureLocal(t, gina, alice, 2*inboundPaySat)
	waitFor(t, 60*time.Second, func() (bool, string) {
		ok, msg := lndRoutes(gina, lk.ID(), inboundPaySat)
		return !ok, "gina still finds a route to lnkit without hints: " + msg
	})
	steps.done(fmt.Sprintf("%d public channels closed; gina has no route to lnkit", len(closing)))

	// Hints come from alice's channel_updates of the private channels (a new channel's may take a moment).
	var ki *nodeapi.InvoiceResult
	var dec *nodeapi.DecodeInvoiceResult
	waitFor(t, 60*time.Second, func() (bool, string) {
		ki = lk.invoice(t, amt, "through alice, private")
		var err error
		dec, err = lk.Client().DecodeInvoice(ctx(t, 10*time.Second), nodeapi.DecodeInvoiceParams{Bolt11: ki.Bolt11})
		dec = mustCall(t, "decodeinvoice", dec, err)
		return len(dec.RouteHints) > 0, "lnkit's invoice has no route hints"
	})
	scids := usableSCIDs(t, lk, alice)
	for _, h := range dec.RouteHints {
		require.Len(t, h, 1, "single-hop hints")
		require.Equal(t, alice.id(), h[0].NodeID)
		require.Contains(t, scids, h[0].ShortChannelID, "a usable lnkit–alice channel")
	}
	// Each hint has alice's policy for her side of the channel (her channel_update to lnkit).
	hint := dec.RouteHints[0][0]
	for _, c := range alice.channelsWith(t, lk.ID()) {
		if c.ScidStr != hint.ShortChannelID {
			continue
		}
		var e lndEdge
		alice.must(t, &e, "getchaninfo", "--chan_id="+strconv.FormatInt(int64(c.Scid), 10))
		ap := policyOf(&e, alice.id())
		require.NotNil(t, ap, "alice's policy of %s", c.ScidStr)
		require.EqualValues(t, ap.FeeBaseMsat, hint.FeeBaseMsat)
		require.EqualValues(t, ap.FeeRateMilliMsat, hint.FeeProportionalMillionths)
		require.EqualValues(t, ap.TimeLockDelta, hint.CLTVExpiryDelta)
	}
	p, err := gina.payInvoice(ctx(t, 2*time.Minute), ki.Bolt11)
	require.NoError(t, err)
	require.Equal(t, "SUCCEEDED", p.Status, "%+v", p)
	require.EqualValues(t, amt, p.ValueMsat)
	require.True(t, hasPaidInvoice(lk.invoices(t), ki.PaymentHash, amt), "lnkit's invoice is paid")
	ev := alice.waitForward(t, amt)
	require.EqualValues(t, p.FeeMsat, ev.FeeMsat, "what gina paid alice")
	steps.done(fmt.Sprintf("gina → alice → lnkit over a route hint, fee %d msat", int64(p.FeeMsat)))

	ensureLnkitPublic(t, lk, alice)
	waitFor(t, 3*time.Minute, func() (bool, string) {
		return lndRoutes(gina, lk.ID(), inboundPaySat)
	})
	steps.done("public lnkit–alice channel announced; gina routes to lnkit")

	ki = lk.invoice(t, amt, "through alice, public")
	dec, err = lk.Client().DecodeInvoice(ctx(t, 10*time.Second), nodeapi.DecodeInvoiceParams{Bolt11: ki.Bolt11})
	dec = mustCall(t, "decodeinvoice", dec, err)
	require.Empty(t, dec.RouteHints, "with an announced channel the invoice needs no hints")
	p, err = gina.payInvoice(ctx(t, 2*time.Minute), ki.Bolt11)
	require.NoError(t, err)
	require.Equal(t, "SUCCEEDED", p.Status, "%+v", p)
	require.True(t, hasPaidInvoice(lk.invoices(t), ki.PaymentHash, amt), "lnkit's invoice is paid")
	steps.done("gina → alice → lnkit over the public channel")
}

// eventLog collects lnkit's events from its event stream.
type eventLog struct {
	mu  sync.Mutex
	evs []nodeapi.Event
}

func watchEvents(t *testing.T, lk *lnkitNode) *eventLog {
	t.Helper()
	c, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	ch, err := lk.Client().Events(c)
	require.NoError(t, err)
	l := &eventLog{}
	go func() {
		for e := range ch {
			l.mu.Lock()
			l.evs = append(l.evs, e)
			l.mu.Unlock()
		}
	}()
	return l
}

// wait waits for an event matching ok and returns it.
func (l *eventLog) wait(t *testing.T, what string, ok func(nodeapi.Event) bool) nodeapi.Event {
	t.Helper()
	var found nodeapi.Event
	waitFor(t, 30*time.Second, func() (bool, string) {
		l.mu.Lock()
		defer l.mu.Unlock()
		for _, e := range l.evs {
			if ok(e) {
				found = e
				return true, ""
			}
		}
		return false, fmt.Sprintf("no %s event among %d", what, len(l.evs))
	})
	return found
}

// Test19LnkitForwards: alice pays erin through lnkit (alice → lnkit over their channels, lnkit → erin
// over a private channel erin's invoice hints at, with the policy lnkit set with updatechanpolicy and
// sent erin in its channel_update). lnkit earns exactly its fee (forwardinghistory, the
// payment_forwarded event, alice's fee). Then lnkit raises its fee after erin made an invoice: alice's
// first attempt, at the old fee, comes back fee_insufficient with lnkit's new channel_update, and her
// retry at the new fee goes through.
func Test19LnkitForwards(t *testing.T) {
	steps := newSteps(t)
	lk := needNode(t)
	alice := nw.alice
	ensureConnected(t, lk)
	ensureFunded(t, lk)
	erin := ensureLnd(t, "erin")
	lk.connect(t, erin)
	waitFor(t, 30*time.Second, func() (bool, string) {
		return lk.peer(t, erin.id()) != nil && erin.peer(t, lk.ID()) != nil, "lnkit and erin are not peers"
	})
	var toErin *nodeapi.Channel
	for _, c := range lk.channels(t) {
		if c.NodeID == erin.id() && c.IsUsable && !c.Public && c.OutboundCapacityMsat >= 4*forwardPaySat*1000 {
			toErin = &c
			break
		}
	}
	if toErin == nil {
		txid := openLnkitChannelTo(t, lk, erin, 1_000_000, 0)
		confirmChannelsWith(t, lk, erin, txid)
		toErin = lk.channel(t, txid)
	}
	scid := erin.channel(t, toErin.FundingTxid).Scid
	// lnd hints only at channels with nodes its graph has as public (not to reveal unannounced nodes).
	ensureLnkitPublic(t, lk, alice)
	steps.done("lnkit has a private channel to erin and a public one")

	base, ppm, delta := uint32(fwdBaseMsat), uint32(fwdFeePPM), uint16(fwdTimeLock)
	up, err := lk.Client().UpdateChanPolicy(ctx(t, 30*time.Second), nodeapi.UpdateChanPolicyParams{ChannelID: toErin.ChannelID,
		BaseFeeMsat: &base, FeeRatePPM: &ppm, TimeLockDelta: &delta})
	up = mustCall(t, "updatechanpolicy", up, err)
	require.Equal(t, []nodeapi.ChannelPolicy{{ChannelID: toErin.ChannelID, ShortChannelID: toErin.ShortChannelID, NodeID: erin.id(),
		BaseFeeMsat: base, FeeRatePPM: ppm, TimeLockDelta: delta}}, up.Updated)
	kc := lk.channel(t, toErin.FundingTxid)
	require.Equal(t, [3]uint64{fwdBaseMsat, fwdFeePPM, fwdTimeLock}, [3]uint64{uint64(kc.FeeBaseMsat), uint64(kc.FeeRatePPM),
		uint64(kc.TimeLockDelta)}, "listchannels shows the policy")
	amt := uint64(forwardPaySat * 1000)
	fee := feeOf(fwdBaseMsat, fwdFeePPM, amt)
	ensureLnkitInbound(t, lk, alice, 2*(amt+feeOf(fwdRaisedBaseMsat, fwdRaisedFeePPM, amt)))

	// erin's invoice hints at the channel with lnkit's new policy once lnkit's channel_update reached her
	// (and lnkit's public channel, by gossip).
	var inv lndAddedInvoice
	waitFor(t, 2*time.Minute, func() (bool, string) {
		inv = erin.addPrivateInvoice(t, amt, "through lnkit")
		h := erin.hintFor(t, inv.PaymentRequest, uint64(scid))
		return h != nil && h.NodeID == lk.ID() && int64(h.FeeBaseMsat) == fwdBaseMsat && int64(h.FeeProportionalMillionths) == fwdFeePPM &&
			int64(h.CltvExpiryDelta) == fwdTimeLock, fmt.Sprintf("erin's hint %+v", h)
	})
	steps.done("lnkit's policy set; erin's invoice hints at it")

	events := watchEvents(t, lk)
	before, err := lk.Client().ForwardingHistory(ctx(t, 10*time.Second), nodeapi.ForwardingHistoryParams{})
	before = mustCall(t, "forwardinghistory", before, err)
	p, err := alice.payInvoice(ctx(t, 2*time.Minute), inv.PaymentRequest)
	require.NoError(t, err)
	require.Equal(t, "SUCCEEDED", p.Status, "%+v", p)
	require.EqualValues(t, fee, p.FeeMsat, "alice paid lnkit's fee")
	require.Equal(t, "SETTLED", erin.lookupInvoice(t, inv.RHash).State)
	fe := events.wait(t, "payment_forwarded", func(e nodeapi.Event) bool { return e.Type == "payment_forwarded" && e.AmountMsat == amt })
	require.Equal(t, fee, fe.FeeMsat)
	require.Equal(t, toErin.ChannelID, fe.NextChannelID)
	h, err := lk.Client().ForwardingHistory(ctx(t, 10*time.Second), nodeapi.ForwardingHistoryParams{Limit: 1})
	h = mustCall(t, "forwardinghistory", h, err)
	require.Equal(t, before.TotalForwards+1, h.TotalForwards)
	require.Len(t, h.Forwards, 1)
	f := h.Forwards[0]
	require.Equal(t, amt, f.AmountOutMsat)
	require.Equal(t, amt+fee, f.AmountInMsat)
	require.Equal(t, fee, f.FeeMsat)
	require.Equal(t, fee, h.TotalFeeMsat)
	require.Equal(t, toErin.ChannelID, f.NextChannelID)
	require.Equal(t, toErin.ShortChannelID, f.NextShortChannelID)
	require.Equal(t, erin.id(), f.NextNodeID)
	require.Equal(t, alice.id(), f.PrevNodeID)
	require.Contains(t, usableSCIDs(t, lk, alice), f.PrevShortChannelID)
	require.False(t, f.ClaimedOnChain)
	steps.done(fmt.Sprintf("alice → lnkit → erin: lnkit earned %d msat", fee))

	// A stale hint: erin's invoice has the old fee, lnkit then raises it.
	stale := erin.addPrivateInvoice(t, amt, "stale fee")
	require.EqualValues(t, fwdBaseMsat, erin.hintFor(t, stale.PaymentRequest, uint64(scid)).FeeBaseMsat)
	rb, rp := uint32(fwdRaisedBaseMsat), uint32(fwdRaisedFeePPM)
	up, err = lk.Client().UpdateChanPolicy(ctx(t, 30*time.Second), nodeapi.UpdateChanPolicyParams{ChannelID: toErin.ShortChannelID,
		BaseFeeMsat: &rb, FeeRatePPM: &rp})
	up = mustCall(t, "updatechanpolicy", up, err)
	require.Len(t, up.Updated, 1)
	require.Equal(t, uint16(fwdTimeLock), up.Updated[0].TimeLockDelta, "the time lock delta is kept")
	p, err = alice.payInvoice(ctx(t, 2*time.Minute), stale.PaymentRequest)
	require.NoError(t, err)
	raised := feeOf(fwdRaisedBaseMsat, fwdRaisedFeePPM, amt)
	require.Equal(t, "SUCCEEDED", p.Status, "%+v", p)
	require.Contains(t, failureCodes(p), "FEE_INSUFFICIENT", "the attempt at the old fee: %+v", p.HTLCs)
	require.EqualValues(t, raised, p.FeeMsat, "the retry paid the new fee")
	hf := events.wait(t, "htlc_handling_failed", func(e nodeapi.Event) bool { return e.Type == "htlc_handling_failed" })
	require.EqualValues(t, codeFeeInsufficient, hf.FailureCode)
	require.Equal(t, "fee_insufficient", hf.Reason)
	require.Equal(t, toErin.ChannelID, hf.NextChannelID)
	h, err = lk.Client().ForwardingHistory(ctx(t, 10*time.Second), nodeapi.ForwardingHistoryParams{Limit: 2})
	h = mustCall(t, "forwardinghistory", h, err)
	require.Equal(t, before.TotalForwards+2, h.TotalForwards)
	require.Equal(t, raised, h.Forwards[1].FeeMsat)
	require.Equal(t, fee+raised, h.TotalFeeMsat)
	steps.done(fmt.Sprintf("below lnkit's fee: fee_insufficient, then paid at %d msat", raised))
}

// Test20MultiPath: frank opens two channels of mppChanSat to lnkit and pays an lnkit invoice larger
// than either (several HTLCs over both); lnkit opens two to frank and pays frank's invoice of the same
// size with --max_parts (frank's invoice is settled by several HTLCs).
func Test20MultiPath(t *testing.T) {
	steps := newSteps(t)
	lk := needNode(t)
	ensureFunded(t, lk)
	frank := ensureLnd(t, "frank")
	lk.connect(t, frank)
	waitFor(t, 30*time.Second, func() (bool, string) {
		return lk.peer(t, frank.id()) != nil && frank.peer(t, lk.ID()) != nil, "lnkit and frank are not peers"
	})
	a := frank.openChannel(t, lk.ID(), mppChanSat, 0, true)
	b := frank.openChannel(t, lk.ID(), mppChanSat, 0, true)
	confirmChannelsWith(t, lk, frank, a, b)
	steps.done("frank opened two channels to lnkit")

	amt := uint64(mppPaySat * 1000)
	for _, c := range frank.channelsWith(t, lk.ID()) {
		require.Less(t, int64(c.LocalBalance)*1000, int64(amt), "no channel of frank's carries the payment alone")
	}
	ki := lk.invoice(t, amt, "multi-path in")
	p, err := frank.payInvoice(ctx(t, 2*time.Minute), ki.Bolt11)
	require.NoError(t, err)
	require.Equal(t, "SUCCEEDED", p.Status, "%+v", p)
	require.GreaterOrEqual(t, settledHTLCs(p), 2, "several HTLCs: %+v", p.HTLCs)
	require.True(t, hasPaidInvoice(lk.invoices(t), ki.PaymentHash, amt), "lnkit's invoice is paid in full")
	steps.done(fmt.Sprintf("frank → lnkit in %d parts", settledHTLCs(p)))

	c := openLnkitChannelTo(t, lk, frank, mppChanSat, 0)
	d := openLnkitChannelTo(t, lk, frank, mppChanSat, 0)
	confirmChannelsWith(t, lk, frank, c, d)
	for _, ch := range lk.channels(t) {
		if ch.NodeID == frank.id() {
			require.Less(t, ch.OutboundCapacityMsat, amt, "no channel of lnkit's carries the payment alone")
		}
	}
	steps.done("lnkit opened two channels to frank")

	inv := frank.addInvoice(t, amt, "multi-path out", 0)
	kp, err := lk.Client().PayInvoice(ctx(t, 2*time.Minute), nodeapi.PayInvoiceParams{Bolt11: inv.PaymentRequest, MaxParts: 4})
	kp = mustCall(t, "payinvoice --max_parts=4", kp, err)
	requireRouted(t, kp, amt, 0)
	var fi lndInvoiceParts
	frank.must(t, &fi, "lookupinvoice", inv.RHash)
	require.Equal(t, "SETTLED", fi.State)
	require.EqualValues(t, amt, fi.AmtPaidMsat)
	settled := 0
	for _, h := range fi.HTLCs {
		if h.State == "SETTLED" {
			settled++
		}
	}
	require.GreaterOrEqual(t, settled, 2, "frank's invoice was paid by several HTLCs: %+v", fi.HTLCs)
	steps.done(fmt.Sprintf("lnkit → frank in %d parts", settled))

	// One part is not enough: --max_parts=1 finds no route for the amount.
	inv = frank.addInvoice(t, amt, "one part", 0)
	_, err = lk.Client().PayInvoice(ctx(t, time.Minute), nodeapi.PayInvoiceParams{Bolt11: inv.PaymentRequest, MaxParts: 1})
	require.ErrorContains(t, err, "no route to "+frank.id())
	steps.done("--max_parts=1: no route")
}
