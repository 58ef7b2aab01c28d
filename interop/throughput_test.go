//go:build interop

package interop

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

// TestThroughput measures payments per second over one channel for lnkit→lnkit (two extra example
// nodes A and B) and lnd→lnd (two extra lnd nodes C and D) on the suite's regtest chain, with the same
// client load: W workers, each sending keysend payments of the same amount one after the other through
// the node's control API (lnkit: nodeapi.Client.Keysend on A; lnd: REST SendPaymentSync on C, over
// one keep-alive HTTP client). Both sides keep their default persistence (lnkit: its store, fs by default,
// fsynced; lnd: bbolt with its default sync). The sides run one after
// the other (lnkit first), so they do not compete for the CPU with each other. Afterwards both channels'
// balances must have moved by exactly succeeded × amount, and the receivers must list as many keysend
// receipts.
//
// It only runs with LNKIT_THROUGHPUT=1 (see .ci/interop/throughput.sh). Environment:
//
//	LNKIT_THROUGHPUT_WORKERS      concurrent payers per side (default 20)
//	LNKIT_THROUGHPUT_SECS         measured seconds per side (default 30)
//	LNKIT_THROUGHPUT_WARMUP_SECS  seconds of load before the measurement starts (default 5)
//	LNKIT_THROUGHPUT_AMT_SAT      amount of each payment (default 1000: above the dust limit, so
//	                              every HTLC is an output of the commitments and gets a signature)
//	LNKIT_THROUGHPUT_CHAN_SAT     capacity of both channels (default 16000000, under the 2^24 limit)
//	LNKIT_THROUGHPUT_LND_API      v1 (default): POST /v1/channels/transactions (SendPaymentSync);
//	                              v2: POST /v2/router/send (SendPaymentV2, streaming, as lncli does)
//	LNKIT_THROUGHPUT_STORE        the lnkit nodes' store: fs (default), sqlite, postgres
//	LNKIT_THROUGHPUT_DEBUGLOG     1: keep the suite's debug logging on all four nodes (default: info
//	                              on all four, as a production node would run)
//
// A side that would drain its channel (more payments than about 95% of the capacity allows) stops
// early: its rate is then measured over the shorter window, which the table shows.
func TestThroughput(t *testing.T) {
	if os.Getenv("LNKIT_THROUGHPUT") != "1" {
		t.Skip("set LNKIT_THROUGHPUT=1 to measure payment throughput (.ci/interop/throughput.sh)")
	}
	cfg := tpConfigFromEnv(t)
	bin := filepath.Join(nw.dir, "lnkit-node")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("the lnkit node binary is not available (%v): %v", nw.nodeErr, err)
	}
	debug := os.Getenv("LNKIT_THROUGHPUT_DEBUGLOG") == "1"
	if _, set := os.LookupEnv("LNKIT_INTEROP_NODE_FLAGS"); !set && !debug {
		// The suite's timer flags, at info level (the harness reads this when a node starts).
		t.Setenv("LNKIT_INTEROP_NODE_FLAGS", strings.Replace(defaultNodeTuning, "-loglevel=debug", "-loglevel=info", 1))
	}
	var lndExtra []string
	if !debug {
		// go-flags keeps the last value given: this replaces the harness's debug subsystems.
		lndExtra = []string{"--debuglevel=info"}
	}
	steps := newSteps(t)

	// Four nodes: A and B (lnkit), C and D (lnd).
	var a, b *lnkitNode
	var c, d *lnd
	var wg sync.WaitGroup
	var startErr [4]error
	wg.Add(4)
	storeFlags := tpStoreFlags(t)
	go func() { defer wg.Done(); a, startErr[0] = tpStartLnkit(bin, "tp-lnkit-a", storeFlags[0]) }()
	go func() { defer wg.Done(); b, startErr[1] = tpStartLnkit(bin, "tp-lnkit-b", storeFlags[1]) }()
	go func() { defer wg.Done(); c, startErr[2] = tpStartLnd("tp-lnd-c", lndExtra) }()
	go func() { defer wg.Done(); d, startErr[3] = tpStartLnd("tp-lnd-d", lndExtra) }()
	wg.Wait()
	for _, n := range []*lnkitNode{a, b} {
		if n != nil {
			t.Cleanup(n.Stop)
		}
	}
	for _, l := range []*lnd{c, d} {
		if l != nil {
			t.Cleanup(l.stop)
		}
	}
	for _, err := range startErr {
		if err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("lnkit A %s (%s), lnkit B %s (%s)", a.ID(), a.logPath(), b.ID(), b.logPath())
	t.Logf("lnd C %s (%s), lnd D %s (%s)", c.id(), c.logPath(), d.id(), d.logPath())
	steps.done("start lnkit A, B and lnd C, D")

	// Fund A and C from one faucet transaction, 1 BTC each.
	fundSat := max(cfg.chanSat*2, 100_000_000)
	_, err := nw.faucet.send(nw.btcd, payment{a.newAddress(t), fundSat}, payment{c.newAddress(t), fundSat})
	if err != nil {
		t.Fatal(err)
	}
	tpMine(t, 1, a, b)
	waitFor(t, 60*time.Second, func() (bool, string) {
		ka, lc := a.balance(t), c.walletBalance(t)
		return ka.ConfirmedSat >= fundSat && int64(lc.ConfirmedBalance) >= fundSat,
			fmt.Sprintf("A wallet %+v, C wallet %+v", *ka, lc)
	})
	steps.done("fund A and C")

	// Connect, open A→B and C→D of the same size (C's is private: lnkit does not announce channels).
	if _, err := a.Client().Connect(ctx(t, 30*time.Second), nodeapi.ConnectParams{NodeID: b.ID(), Address: b.p2pAddr}); err != nil {
		t.Fatalf("lnkit connect A→B: %v", err)
	}
	c.connect(t, d.uri())
	waitFor(t, 30*time.Second, func() (bool, string) {
		return a.peer(t, b.ID()) != nil && b.peer(t, a.ID()) != nil && c.peer(t, d.id()) != nil && d.peer(t, c.id()) != nil,
			"A-B or C-D not peers yet"
	})
	r, err := a.Client().OpenChannel(ctx(t, 2*time.Minute), nodeapi.OpenChannelParams{NodeID: b.ID(), AmountSat: cfg.chanSat})
	lkTxid := mustCall(t, "openchannel A→B", r, err).FundingTxid
	if lkTxid == "" {
		t.Fatalf("openchannel A→B returned no funding txid: %+v", *r)
	}
	lndTxid := c.openChannel(t, d.id(), cfg.chanSat, 0, true)
	waitFor(t, 30*time.Second, func() (bool, string) {
		return nw.btcd.inMempool(t, lkTxid) && nw.btcd.inMempool(t, lndTxid), "funding transactions not in the mempool yet"
	})
	// lnkit's default minimum_depth is 6 (lnd here asks for 1).
	tpMine(t, 6, a, b)
	waitFor(t, 60*time.Second, func() (bool, string) {
		ka, kb := a.channel(t, lkTxid), b.channel(t, lkTxid)
		lc, ld := c.channel(t, lndTxid), d.channel(t, lndTxid)
		ok := ka != nil && ka.IsUsable && kb != nil && kb.IsUsable && lc != nil && lc.Active && ld != nil && ld.Active
		return ok, fmt.Sprintf("A %+v B %+v C %+v D %+v", ka, kb, lc, ld)
	})
	c.waitRoute(t, d.id(), cfg.amtSat)
	steps.done(fmt.Sprintf("open A→B (%s) and C→D (%s), %d sat each", lkTxid, lndTxid, cfg.chanSat))

	// Balances before.
	aBefore, bBefore := a.channel(t, lkTxid).LocalBalanceMsat, b.channel(t, lkTxid).LocalBalanceMsat
	cBefore, dBefore := int64(c.channel(t, lndTxid).LocalBalance), int64(d.channel(t, lndTxid).LocalBalance)
	cFeerate := int64(c.channel(t, lndTxid).FeePerKw)
	aFeerate := a.channel(t, lkTxid).FeeratePerKw

	probe := tpFsyncProbe(nw.dir, time.Second)
	t.Logf("fsync probe in %s: %s", nw.dir, probe)

	// At most ~95% of what the sender holds, so that neither side runs dry mid-window.
	budget := int((int64(aBefore)/1000 - cfg.chanSat/20) / cfg.amtSat)
	budgetLnd := int((cBefore - cfg.chanSat/20) / cfg.amtSat)
	pids := func(sender, receiver int) []tpProc {
		return []tpProc{{"sender", sender}, {"receiver", receiver}, {"btcd", nw.btcd.p.cmd.Process.Pid},
			{"harness", os.Getpid()}}
	}

	// lnkit A → B through A's control API.
	lkClient := a.Client()
	destB := b.ID()
	amtMsat := uint64(cfg.amtSat) * 1000
	lkRes := tpRunLoad("lnkit A→B", cfg, budget, pids(tpPid(a.p), tpPid(b.p)), func(ctx context.Context) (string, error) {
		p, err := lkClient.Keysend(ctx, nodeapi.KeysendParams{NodeID: destB, AmountMsat: amtMsat})
		if err != nil {
			return "", err
		}
		if p.Status != nodeapi.StatusSucceeded {
			return fmt.Sprintf("status %s: %s", p.Status, p.FailureReason), nil
		}
		if p.AmountMsat != amtMsat || p.FeeMsat != 0 {
			return fmt.Sprintf("succeeded with amount %d fee %d msat", p.AmountMsat, p.FeeMsat), nil
		}
		return "", nil
	})
	steps.done("lnkit load")

	// lnd C → D through C's REST API.
	rest, err := newTpLndREST(c, cfg.workers, cfg.lndAPI)
	if err != nil {
		t.Fatal(err)
	}
	destD, err := hex.DecodeString(d.id())
	if err != nil {
		t.Fatal(err)
	}
	lndRes := tpRunLoad("lnd C→D", cfg, budgetLnd, pids(tpPid(c.p), tpPid(d.p)), func(ctx context.Context) (string, error) {
		return rest.keysend(ctx, destD, cfg.amtSat)
	})
	rest.hc.CloseIdleConnections()
	steps.done("lnd load")

	// The numbers are real payments: balances moved by exactly succeeded × amount on both sides of both
	// channels, and each receiver lists that many paid keysend receipts.
	var ka, kb *nodeapi.Channel
	waitFor(t, 60*time.Second, func() (bool, string) {
		ka, kb = a.channel(t, lkTxid), b.channel(t, lkTxid)
		return ka != nil && kb != nil && ka.PendingHTLCs == 0 && kb.PendingHTLCs == 0,
			fmt.Sprintf("A-B pending HTLCs: %+v %+v", ka, kb)
	})
	var lc, ld *lndChannel
	waitFor(t, 60*time.Second, func() (bool, string) {
		lc, ld = c.channel(t, lndTxid), d.channel(t, lndTxid)
		return lc != nil && ld != nil && len(lc.PendingHTLCs) == 0 && len(ld.PendingHTLCs) == 0,
			"C-D pending HTLCs"
	})
	var problems []string
	check := func(ok bool, format string, args ...any) {
		if !ok {
			problems = append(problems, fmt.Sprintf(format, args...))
		}
	}
	lkMoved := uint64(lkRes.total) * amtMsat
	check(ka.FeeratePerKw == aFeerate, "A→B feerate moved %d → %d: balances not comparable", aFeerate, ka.FeeratePerKw)
	check(aBefore-ka.LocalBalanceMsat == lkMoved, "A's balance moved %d msat, want %d × %d = %d",
		int64(aBefore)-int64(ka.LocalBalanceMsat), lkRes.total, amtMsat, lkMoved)
	check(kb.LocalBalanceMsat-bBefore == lkMoved, "B's balance moved %d msat, want %d",
		int64(kb.LocalBalanceMsat)-int64(bBefore), lkMoved)
	lndMoved := int64(lndRes.total) * cfg.amtSat
	check(int64(lc.FeePerKw) == cFeerate, "C→D feerate moved %d → %d: balances not comparable", cFeerate, lc.FeePerKw)
	check(cBefore-int64(lc.LocalBalance) == lndMoved, "C's balance moved %d sat, want %d × %d = %d",
		cBefore-int64(lc.LocalBalance), lndRes.total, cfg.amtSat, lndMoved)
	check(int64(ld.LocalBalance)-dBefore == lndMoved, "D's balance moved %d sat, want %d", int64(ld.LocalBalance)-dBefore, lndMoved)

	var bPaid, aSucceeded int
	err = poll(60*time.Second, func() (bool, string) {
		bPaid = 0
		for _, inv := range b.invoices(t) {
			if inv.Keysend && inv.Status == nodeapi.InvoicePaid && inv.ReceivedMsat == amtMsat {
				bPaid++
			}
		}
		return bPaid == lkRes.total, fmt.Sprintf("B lists %d paid keysend receipts, want %d", bPaid, lkRes.total)
	})
	check(err == nil, "%v", err)
	lp, err := a.Client().ListPayments(ctx(t, time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range lp.Payments {
		if p.Destination == destB && p.Status == nodeapi.StatusSucceeded {
			aSucceeded++
		}
	}
	check(aSucceeded == lkRes.total, "A lists %d succeeded payments, want %d", aSucceeded, lkRes.total)
	var dSettled int
	err = poll(60*time.Second, func() (bool, string) {
		dSettled = 0
		for _, inv := range d.listInvoices(t) {
			if inv.IsKeysend && inv.State == "SETTLED" && int64(inv.AmtPaidMsat) == cfg.amtSat*1000 {
				dSettled++
			}
		}
		return dSettled == lndRes.total, fmt.Sprintf("D lists %d settled keysend invoices, want %d", dSettled, lndRes.total)
	})
	check(err == nil, "%v", err)
	cSucceeded := 0
	for _, p := range c.listPayments(t) {
		if p.Status == "SUCCEEDED" {
			cSucceeded++
		}
	}
	check(cSucceeded == lndRes.total, "C lists %d succeeded payments, want %d", cSucceeded, lndRes.total)
	steps.done("balances and receipts checked")

	report := tpReport(cfg, probe, lkRes, lndRes)
	fmt.Print(report)
	t.Logf("verified: A %+d msat, B %+d msat (%d payments, B lists %d receipts); C %+d sat, D %+d sat (%d payments, D lists %d receipts)",
		-int64(aBefore-ka.LocalBalanceMsat), int64(kb.LocalBalanceMsat-bBefore), lkRes.total, bPaid,
		int64(lc.LocalBalance)-cBefore, int64(ld.LocalBalance)-dBefore, lndRes.total, dSettled)
	if len(problems) > 0 {
		t.Fatalf("the measured payments do not add up:\n  %s", strings.Join(problems, "\n  "))
	}
	if lkRes.window <= 0 || lndRes.window <= 0 || lkRes.succeeded == 0 || lndRes.succeeded == 0 {
		t.Fatalf("a side completed no payment in its window (lnkit %d, lnd %d)", lkRes.succeeded, lndRes.succeeded)
	}
}

// tpConfig is the load, the same for both sides.
type tpConfig struct {
	workers int
	dur     time.Duration
	warmup  time.Duration
	amtSat  int64
	chanSat int64
	lndAPI  string
}

func tpConfigFromEnv(t *testing.T) tpConfig {
	t.Helper()
	num := func(name string, def int64) int64 {
		v := os.Getenv(name)
		if v == "" {
			return def
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 {
			t.Fatalf("%s=%q: want a positive integer", name, v)
		}
		return n
	}
	cfg := tpConfig{
		workers: int(num("LNKIT_THROUGHPUT_WORKERS", 20)),
		dur:     time.Duration(num("LNKIT_THROUGHPUT_SECS", 30)) * time.Second,
		warmup:  time.Duration(num("LNKIT_THROUGHPUT_WARMUP_SECS", 5)) * time.Second,
		amtSat:  num("LNKIT_THROUGHPUT_AMT_SAT", 1000),
		chanSat: num("LNKIT_THROUGHPUT_CHAN_SAT", 16_000_000),
		lndAPI:  os.Getenv("LNKIT_THROUGHPUT_LND_API"),
	}
	if cfg.lndAPI == "" {
		cfg.lndAPI = "v1"
	}
	if cfg.lndAPI != "v1" && cfg.lndAPI != "v2" {
		t.Fatalf("LNKIT_THROUGHPUT_LND_API=%q: want v1 or v2", cfg.lndAPI)
	}
	if cfg.chanSat >= 1<<24 {
		t.Fatalf("LNKIT_THROUGHPUT_CHAN_SAT=%d: channels must stay under 2^24 sat (no wumbo)", cfg.chanSat)
	}
	if cfg.amtSat*100 > cfg.chanSat {
		t.Fatalf("LNKIT_THROUGHPUT_AMT_SAT=%d is too large for %d sat channels", cfg.amtSat, cfg.chanSat)
	}
	return cfg
}

// tpStartLnkit starts one more lnkit example node (not the suite's nw.lk: nw.mine does not wait for it).
func tpStartLnkit(bin, name string, extra []string) (*lnkitNode, error) {
	n := &lnkitNode{name: name, dir: filepath.Join(nw.dir, name), p2pAddr: ports.next(), rpcAddr: ports.next(),
		bin: bin, net: nw, extra: extra}
	if err := n.start(); err != nil {
		return nil, err
	}
	return n, nil
}

// tpStoreFlags are the lnkit nodes' -store flags for LNKIT_THROUGHPUT_STORE (fs, the default; sqlite;
// postgres: a throwaway PostgreSQL cluster per node, as Test21Failover starts).
func tpStoreFlags(t *testing.T) [2][]string {
	switch s := os.Getenv("LNKIT_THROUGHPUT_STORE"); s {
	case "", "fs":
		return [2][]string{}
	case "sqlite":
		return [2][]string{{"-store", "sqlite"}, {"-store", "sqlite"}}
	case "postgres":
		var out [2][]string
		for i := range out {
			out[i] = []string{"-store", "postgres", "-postgres.dsn", startFailoverPostgres(t)}
		}
		return out
	default:
		t.Fatalf("LNKIT_THROUGHPUT_STORE=%q: fs, sqlite or postgres", s)
		return [2][]string{}
	}
}

// tpStartLnd starts one more lnd with extra flags (unfunded) and registers it with the network, so
// that nw.mine waits for it and the teardown stops it.
func tpStartLnd(name string, extra []string) (*lnd, error) {
	l := &lnd{name: name, dir: filepath.Join(nw.dir, name), rpcAddr: ports.next(), p2pAddr: ports.next(),
		restAddr: ports.next(), binDir: nw.binDir, bin: "lnd", extra: extra, net: nw}
	if err := l.start(); err != nil {
		return nil, err
	}
	nw.mu.Lock()
	nw.lnds = append(nw.lnds, l)
	nw.mu.Unlock()
	return l, nil
}

// tpMine mines blocks, waits for the suite's nodes (nw.mine) and for the extra lnkit nodes.
func tpMine(t *testing.T, blocks int, extra ...*lnkitNode) {
	t.Helper()
	nw.mine(t, blocks)
	tip := nw.btcd.height(t)
	waitFor(t, 60*time.Second, func() (bool, string) {
		for _, n := range extra {
			info, err := n.Client().GetInfo(ctx(t, 5*time.Second))
			if err != nil {
				return false, err.Error()
			}
			if info.BlockHeight < uint32(tip) {
				return false, fmt.Sprintf("%s at %d of %d", n.name, info.BlockHeight, tip)
			}
		}
		return true, ""
	})
}

func tpPid(p *proc) int {
	if p == nil || p.cmd.Process == nil {
		return 0
	}
	return p.cmd.Process.Pid
}

// tpLndREST sends keysend payments through lnd's REST API with one keep-alive HTTP client.
type tpLndREST struct {
	base     string
	macaroon string
	api      string
	hc       *http.Client
}

func newTpLndREST(l *lnd, workers int, api string) (*tpLndREST, error) {
	mac, err := os.ReadFile(filepath.Join(l.dir, "data", "chain", "bitcoin", "regtest", "admin.macaroon"))
	if err != nil {
		return nil, err
	}
	pem, err := os.ReadFile(filepath.Join(l.dir, "tls.cert"))
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("lnd tls.cert: no certificate")
	}
	// HTTP/1.1 with one kept-alive connection per worker, as nodeapi.Client does for lnkit.
	tr := &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConns: 2 * workers,
		MaxIdleConnsPerHost: 2 * workers, IdleConnTimeout: 90 * time.Second}
	return &tpLndREST{base: "https://" + l.restAddr, macaroon: hex.EncodeToString(mac), api: api,
		hc: &http.Client{Transport: tr}}, nil
}

// keysendRecord is the keysend preimage's TLV type in the final hop's onion payload.
const keysendRecord = "5482373484"

// keysendFinalCLTV is the final CLTV delta of the lnd keysend payments (lnd's keysend minimum).
const keysendFinalCLTV = 40

// keysend pays amtSat to dest with a fresh preimage; it returns "" when the payment succeeded with that
// preimage, a failure description when lnd reports a failed payment, or an error (transport, HTTP).
func (r *tpLndREST) keysend(ctx context.Context, dest []byte, amtSat int64) (string, error) {
	var preimage [32]byte
	if _, err := rand.Read(preimage[:]); err != nil {
		return "", err
	}
	hash := sha256.Sum256(preimage[:])
	b64 := base64.StdEncoding.EncodeToString
	req := map[string]any{
		"dest":                b64(dest),
		"amt":                 strconv.FormatInt(amtSat, 10),
		"payment_hash":        b64(hash[:]),
		"final_cltv_delta":    keysendFinalCLTV,
		"dest_custom_records": map[string]string{keysendRecord: b64(preimage[:])},
	}
	path := "/v1/channels/transactions"
	if r.api == "v2" {
		path = "/v2/router/send"
		req["timeout_seconds"] = 60
		req["no_inflight_updates"] = true
		req["fee_limit_sat"] = "0"
	}
	body, _ := json.Marshal(req)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, r.base+path, bytes.NewReader(body))
	if err != nil {
		return "", err
	}
	hreq.Header.Set("Grpc-Metadata-macaroon", r.macaroon)
	hreq.Header.Set("Content-Type", "application/json")
	resp, err := r.hc.Do(hreq)
	if err != nil {
		return "", err
	}
	defer func() {
		_, _ = io.Copy(io.Discard, resp.Body) // read to the end so that the connection is reused
		resp.Body.Close()
	}()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return "", fmt.Errorf("%s: HTTP %d: %s", path, resp.StatusCode, bytes.TrimSpace(data))
	}
	dec := json.NewDecoder(resp.Body)
	if r.api == "v1" {
		var v struct {
			PaymentError    string `json:"payment_error"`
			PaymentPreimage string `json:"payment_preimage"`
		}
		if err := dec.Decode(&v); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		if v.PaymentError != "" {
			return v.PaymentError, nil
		}
		if v.PaymentPreimage != b64(preimage[:]) {
			return fmt.Sprintf("succeeded with preimage %q, want %q", v.PaymentPreimage, b64(preimage[:])), nil
		}
		return "", nil
	}
	// v2 streams {"result": Payment} objects (only the final one with no_inflight_updates).
	for {
		var v struct {
			Result *struct {
				Status          string `json:"status"`
				FailureReason   string `json:"failure_reason"`
				PaymentPreimage string `json:"payment_preimage"`
			} `json:"result"`
			Error *struct {
				Message string `json:"message"`
			} `json:"error"`
		}
		if err := dec.Decode(&v); err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		switch {
		case v.Error != nil:
			return "", fmt.Errorf("%s: %s", path, v.Error.Message)
		case v.Result == nil:
			return "", fmt.Errorf("%s: an update without a result", path)
		case v.Result.Status == "SUCCEEDED":
			if v.Result.PaymentPreimage != hex.EncodeToString(preimage[:]) {
				return fmt.Sprintf("succeeded with preimage %q", v.Result.PaymentPreimage), nil
			}
			return "", nil
		case v.Result.Status == "FAILED":
			return "failed: " + v.Result.FailureReason, nil
		}
	}
}

// tpProc is a process whose CPU time is sampled during the measured window.
type tpProc struct {
	role string
	pid  int
}

// tpCPU is the CPU time of each process and of the whole machine at one moment.
type tpCPU struct {
	at      time.Time
	procs   []float64 // seconds of user+system CPU, by tpProc index
	wbytes  []float64 // bytes written to the storage layer (/proc/<pid>/io write_bytes), by tpProc index
	busy    float64   // machine: seconds not idle, all CPUs
	cpus    int
	readErr error
}

// clockTicks is USER_HZ, the unit of /proc's CPU times (100 on every Linux architecture Go runs on).
const clockTicks = 100

func tpSampleCPU(procs []tpProc) tpCPU {
	s := tpCPU{at: time.Now(), procs: make([]float64, len(procs)), wbytes: make([]float64, len(procs))}
	for i, p := range procs {
		if io, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", p.pid)); err == nil {
			for _, line := range strings.Split(string(io), "\n") {
				if v, ok := strings.CutPrefix(line, "write_bytes: "); ok {
					s.wbytes[i], _ = strconv.ParseFloat(v, 64)
				}
			}
		}
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid))
		if err != nil {
			s.readErr = err
			continue
		}
		// The command name is in parentheses and may hold spaces: fields count from the last ')'.
		f := strings.Fields(string(data[bytes.LastIndexByte(data, ')')+1:]))
		if len(f) < 13 {
			s.readErr = fmt.Errorf("/proc/%d/stat: %d fields", p.pid, len(f))
			continue
		}
		ut, _ := strconv.ParseFloat(f[11], 64)
		st, _ := strconv.ParseFloat(f[12], 64)
		s.procs[i] = (ut + st) / clockTicks
	}
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		s.readErr = err
		return s
	}
	for _, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if f[0] == "cpu" && len(f) >= 6 {
			var total, idle float64
			for i, v := range f[1:] {
				x, _ := strconv.ParseFloat(v, 64)
				if i >= 8 { // guest times are already counted in user
					break
				}
				total += x
				if i == 3 || i == 4 { // idle, iowait
					idle += x
				}
			}
			s.busy = (total - idle) / clockTicks
		} else if strings.HasPrefix(f[0], "cpu") {
			s.cpus++
		}
	}
	return s
}

// tpResult is one side's measurement.
type tpResult struct {
	name      string
	procs     []tpProc
	succeeded int           // payments that completed successfully inside the window
	window    time.Duration // measured wall time
	early     bool          // the window ended before its time: the payment budget was used up
	lat       []time.Duration
	buckets   []int // successes per 5 s of the window
	failed    int   // failed payments (whole run)
	errored   int   // calls that returned an error (whole run)
	reasons   map[string]int
	total     int // successful payments in the whole run (warm-up and tail included)
	cpu0      tpCPU
	cpu1      tpCPU
}

func (r *tpResult) rate() float64 {
	if r.window <= 0 {
		return 0
	}
	return float64(r.succeeded) / r.window.Seconds()
}

func (r *tpResult) percentile(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(p * float64(len(r.lat)-1))
	return r.lat[i]
}

const tpBucket = 5 * time.Second

// tpRunLoad runs cfg.workers goroutines, each calling pay one call after the other, for the warm-up
// and then the measured window (or until budget payments were started, failed ones not counted). pay
// returns "" for a payment that succeeded, a failure description for one that failed, or an error
// (after which the worker pauses 5 ms, so that a call refused at once does not spin).
func tpRunLoad(name string, cfg tpConfig, budget int, procs []tpProc, pay func(context.Context) (string, error)) *tpResult {
	type done struct {
		end     time.Time
		lat     time.Duration
		failure string
		err     error
	}
	res := &tpResult{name: name, procs: procs, reasons: map[string]int{}}
	logf("%s: %d workers, %v warm-up, %v measured", name, cfg.workers, cfg.warmup, cfg.dur)
	start := time.Now()
	mStart := start.Add(cfg.warmup)
	mEnd := mStart.Add(cfg.dur)
	var started atomic.Int64
	exhausted := make(chan struct{})
	var exhaustOnce sync.Once
	var exhaustedAt time.Time
	results := make([][]done, cfg.workers)
	var wg sync.WaitGroup
	for w := 0; w < cfg.workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(mEnd) {
				if started.Add(1) > int64(budget) {
					exhaustOnce.Do(func() { exhaustedAt = time.Now(); close(exhausted) })
					return
				}
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				t0 := time.Now()
				failure, err := pay(ctx)
				t1 := time.Now()
				cancel()
				results[w] = append(results[w], done{end: t1, lat: t1.Sub(t0), failure: failure, err: err})
				if err != nil || failure != "" {
					// Only payments that may have moved money use up the budget.
					started.Add(-1)
				}
				if err != nil {
					// A refused call (e.g. too many HTLCs in flight) returns at once: do not spin on it.
					time.Sleep(5 * time.Millisecond)
				}
			}
		}()
	}
	// CPU samples at the window's start and end (or when the budget runs out).
	time.Sleep(time.Until(mStart))
	res.cpu0 = tpSampleCPU(procs)
	select {
	case <-time.After(time.Until(mEnd)):
	case <-exhausted:
	}
	res.cpu1 = tpSampleCPU(procs)
	wg.Wait()
	end := mEnd
	select {
	case <-exhausted:
		if exhaustedAt.Before(mEnd) {
			end, res.early = exhaustedAt, true
		}
	default:
	}
	if end.Before(mStart) {
		end = mStart
	}
	res.window = end.Sub(mStart)
	res.buckets = make([]int, int((res.window+tpBucket-1)/tpBucket))
	for _, rs := range results {
		for _, d := range rs {
			switch {
			case d.err != nil:
				res.errored++
				res.reasons["error: "+tpShorten(d.err.Error())]++
				continue
			case d.failure != "":
				res.failed++
				res.reasons[tpShorten(d.failure)]++
				continue
			}
			res.total++
			if d.end.Before(mStart) || d.end.After(end) {
				continue
			}
			res.succeeded++
			res.lat = append(res.lat, d.lat)
			if i := int(d.end.Sub(mStart) / tpBucket); i < len(res.buckets) {
				res.buckets[i]++
			}
		}
	}
	sort.Slice(res.lat, func(i, j int) bool { return res.lat[i] < res.lat[j] })
	logf("%s: %d payments in %.1fs: %.1f/s (%d succeeded in all, %d failed, %d errors)", name, res.succeeded,
		res.window.Seconds(), res.rate(), res.total, res.failed, res.errored)
	return res
}

// tpShorten keeps failure texts short enough to group and print (hex ids would make each unique).
func tpShorten(s string) string {
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// tpFsyncResult is what one 4 KiB write + fsync costs on the disk the nodes use.
type tpFsyncResult struct {
	n        int
	p50, p99 time.Duration
	err      error
}

func (r tpFsyncResult) String() string {
	if r.err != nil {
		return "error: " + r.err.Error()
	}
	return fmt.Sprintf("%d × (4 KiB write + fsync) in 1 s: p50 %.2f ms, p99 %.2f ms", r.n,
		float64(r.p50.Microseconds())/1000, float64(r.p99.Microseconds())/1000)
}

// tpFsyncProbe overwrites a 4 KiB block and fsyncs it again and again for d.
func tpFsyncProbe(dir string, d time.Duration) tpFsyncResult {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return tpFsyncResult{err: err}
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, 4096)
	var lat []time.Duration
	for end := time.Now().Add(d); time.Now().Before(end); {
		t0 := time.Now()
		buf[0]++
		if _, err := f.WriteAt(buf, 0); err != nil {
			return tpFsyncResult{err: err}
		}
		if err := f.Sync(); err != nil {
			return tpFsyncResult{err: err}
		}
		lat = append(lat, time.Since(t0))
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	return tpFsyncResult{n: len(lat), p50: lat[len(lat)/2], p99: lat[len(lat)*99/100]}
}

func tpMs(d time.Duration) string { return fmt.Sprintf("%.1f", float64(d.Microseconds())/1000) }

// tpReport is the table printed at the end.
func tpReport(cfg tpConfig, probe tpFsyncResult, rs ...*tpResult) string {
	var b strings.Builder
	lndAPI := map[string]string{"v1": "REST /v1/channels/transactions", "v2": "REST /v2/router/send"}[cfg.lndAPI]
	fmt.Fprintf(&b, "\n=== payment throughput: %d workers per side, sequential keysend of %d sat each, %v measured after %v warm-up\n",
		cfg.workers, cfg.amtSat, cfg.dur, cfg.warmup)
	fmt.Fprintf(&b, "    one %d sat anchors channel per side; lnkit via nodeapi Keysend, lnd via %s; disk: %s\n",
		cfg.chanSat, lndAPI, probe)
	fmt.Fprintf(&b, "%-12s %10s %9s %7s %7s %8s %8s %8s   %s\n", "side", "payments/s", "payments", "window", "failed",
		"p50 ms", "p90 ms", "p99 ms", "CPU cores during the window")
	for _, r := range rs {
		win := fmt.Sprintf("%.1fs", r.window.Seconds())
		if r.early {
			win += "*"
		}
		fmt.Fprintf(&b, "%-12s %10.1f %9d %7s %7d %8s %8s %8s   %s\n", r.name, r.rate(), r.succeeded, win,
			r.failed+r.errored, tpMs(r.percentile(0.5)), tpMs(r.percentile(0.9)), tpMs(r.percentile(0.99)), tpCPUText(r))
	}
	if len(rs) == 2 && rs[1].rate() > 0 {
		fmt.Fprintf(&b, "ratio lnkit/lnd: %.2f\n", rs[0].rate()/rs[1].rate())
	}
	for _, r := range rs {
		var per []string
		for i, n := range r.buckets {
			w := tpBucket
			if i == len(r.buckets)-1 && r.window%tpBucket != 0 {
				w = r.window % tpBucket
			}
			per = append(per, fmt.Sprintf("%.0f", float64(n)/w.Seconds()))
		}
		fmt.Fprintf(&b, "%-12s per 5 s: %s /s; whole run %d succeeded, %d failed, %d errors\n", r.name,
			strings.Join(per, " "), r.total, r.failed, r.errored)
		if d := tpDiskText(r); d != "" {
			fmt.Fprintf(&b, "%-12s disk writes: %s\n", r.name, d)
		}
		var reasons []string
		for k, v := range r.reasons {
			reasons = append(reasons, fmt.Sprintf("%d × %s", v, k))
		}
		sort.Strings(reasons)
		for _, s := range reasons {
			fmt.Fprintf(&b, "%-12s   failure: %s\n", "", s)
		}
	}
	if rs[0].early || (len(rs) > 1 && rs[1].early) {
		fmt.Fprintf(&b, "* the window ended early: the channel's payment budget (~95%% of its capacity) was used up\n")
	}
	return b.String()
}

func tpCPUText(r *tpResult) string {
	if r.cpu0.readErr != nil || r.cpu1.readErr != nil {
		return fmt.Sprintf("(unavailable: %v %v)", r.cpu0.readErr, r.cpu1.readErr)
	}
	wall := r.cpu1.at.Sub(r.cpu0.at).Seconds()
	if wall <= 0 {
		return ""
	}
	var parts []string
	var sum float64
	for i, p := range r.procs {
		c := (r.cpu1.procs[i] - r.cpu0.procs[i]) / wall
		sum += c
		parts = append(parts, fmt.Sprintf("%s %.2f", p.role, c))
	}
	machine := (r.cpu1.busy - r.cpu0.busy) / wall
	parts = append(parts, fmt.Sprintf("other %.2f", max(machine-sum, 0)), fmt.Sprintf("machine %.2f of %d", machine, r.cpu1.cpus))
	return strings.Join(parts, ", ")
}

// tpDiskText is what the sender and the receiver wrote to disk per second and per payment.
func tpDiskText(r *tpResult) string {
	wall := r.cpu1.at.Sub(r.cpu0.at).Seconds()
	if wall <= 0 || len(r.procs) < 2 || len(r.cpu0.wbytes) < 2 || len(r.cpu1.wbytes) < 2 {
		return ""
	}
	var parts []string
	for i := 0; i < 2; i++ {
		w := r.cpu1.wbytes[i] - r.cpu0.wbytes[i]
		per := ""
		if r.succeeded > 0 {
			per = fmt.Sprintf(", %.1f KB/payment", w/float64(r.succeeded)/1000)
		}
		parts = append(parts, fmt.Sprintf("%s %.1f MB/s%s", r.procs[i].role, w/wall/1e6, per))
	}
	return strings.Join(parts, "; ")
}
