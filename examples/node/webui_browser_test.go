//go:build browser

package main

// The web page (package webui) in a real headless Chromium, driven with chromedp: two real nodes on
// the fake btcd; the page logs in through the one-time URL, connects, opens a channel, pays an
// invoice and shows the payment and the new balances without a reload. Debian's chromium
// (apt-get install -y chromium) at /usr/bin/chromium, or the binary LNKIT_CHROMIUM names.
// LNKIT_SCREENSHOTS=1 writes full-page screenshots to docs/screenshots/.

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

// browserWait bounds each wait for the page.
const browserWait = 30 * time.Second

// newBrowser starts a headless Chromium with a fresh profile and no background traffic (the
// machine's closed network would flood it with refused connections) and returns a tab's context.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	path := os.Getenv("LNKIT_CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("no Chromium at %s (apt-get install -y chromium, or set LNKIT_CHROMIUM): %v", path, err)
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1000),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() {
		cancelTab()
		cancelAlloc()
	})
	require.NoError(t, chromedp.Do(ctx), "start Chromium")
	return ctx
}

// brun runs browser actions, failing the test on an error.
func brun(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, browserWait)
	defer cancel()
	require.NoError(t, chromedp.Do(tctx, actions...), what)
}

// waitJS polls the page until the JavaScript expression expr is true.
func waitJS(t *testing.T, ctx context.Context, expr, what string) {
	t.Helper()
	deadline := time.Now().Add(browserWait)
	for {
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		if err == nil && ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the page never showed %s (%s): last error %v; page errors: %q", what, expr, err,
				pageText(ctx, "document.querySelectorAll('.error:not([hidden])')"))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// jsString evaluates expr to a string in the page.
func jsString(t *testing.T, ctx context.Context, expr string) string {
	t.Helper()
	tctx, cancel := context.WithTimeout(ctx, browserWait)
	defer cancel()
	s, err := chromedp.Run(tctx, chromedp.Evaluate[string](expr))
	require.NoError(t, err, "evaluate %s", expr)
	return s
}

// pageText joins the texts of the elements a selector expression finds (for failure messages).
func pageText(ctx context.Context, nodesExpr string) string {
	s, _ := chromedp.Run(ctx, chromedp.Evaluate[string]("Array.from("+nodesExpr+").map(e => e.textContent).join(' | ')"))
	return s
}

// screenshot writes a full-page PNG of the page to docs/screenshots/name when LNKIT_SCREENSHOTS=1.
func screenshot(t *testing.T, ctx context.Context, name string) {
	t.Helper()
	if os.Getenv("LNKIT_SCREENSHOTS") != "1" {
		return
	}
	png, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	require.NoError(t, err, "screenshot")
	dir := filepath.Join("..", "..", "docs", "screenshots")
	require.NoError(t, os.MkdirAll(dir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, name), png, 0o644))
}

// apiClient is a control API client of n with its cookie, and n's API base URL.
func apiClient(t *testing.T, n *Node) (*nodeapi.Client, string) {
	t.Helper()
	token, err := nodeapi.ReadCookie(n.cfg.DataDir)
	require.NoError(t, err)
	base := "http://" + *n.rpcAddr.Load()
	c := nodeapi.NewClient(base, token)
	t.Cleanup(c.Close)
	return c, base
}

// plainGet fetches url without credentials or redirects and returns the status and body.
func plainGet(t *testing.T, url string) (int, string) {
	t.Helper()
	hc := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

// channelLocalText is the "ours" cell of the page's channel row with id, or "" without the row.
func channelLocalText(t *testing.T, ctx context.Context, channelID string) string {
	return jsString(t, ctx, fmt.Sprintf(
		`(document.querySelector('tr[data-channel-id=%q] [data-testid=channel-local]') || {textContent: ""}).textContent`,
		channelID))
}

// mempoolLen is the number of transactions btcd holds unmined.
func mempoolLen(f *fakeBtcd) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.mempool)
}

// satText is how the page writes msat as sat (en-US grouping, up to 3 decimals).
func satText(msat uint64) string {
	whole := strconv.FormatUint(msat/1000, 10)
	var b strings.Builder
	for i, r := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if frac := msat % 1000; frac != 0 {
		b.WriteString(strings.TrimRight(fmt.Sprintf(".%03d", frac), "0"))
	}
	return b.String()
}

func TestBrowserWebUI(t *testing.T) {
	btcd := newFakeBtcd(t)
	a := startTestNode(t, testNodeConfig(t, btcd, pairNodeArgs...), nil)
	b := startTestNode(t, testNodeConfig(t, btcd, pairNodeArgs...), nil)
	fundNode(t, btcd, a, 1_000_000)
	apiA, baseA := apiClient(t, a)
	apiB, _ := apiClient(t, b)
	bID := nodeIDHex(b.nodeID)
	bg := context.Background()

	// Without a login, no page: /ui/ and its files answer 401 with how to log in.
	for _, p := range []string{"/ui/", "/ui/app.js", "/ui/qr.png?data=x"} {
		status, body := plainGet(t, baseA+p)
		require.Equal(t, http.StatusUnauthorized, status, p)
		require.Contains(t, body, "lnkit-node webui", p)
		require.NotContains(t, body, "<html", p)
	}

	// Log in with the one-time URL: the page shows the node.
	login, err := apiA.WebLogin(bg)
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(login.URL, baseA+"/ui/login?token="), login.URL)
	ctx := newBrowser(t)
	brun(t, ctx, "open the login URL", chromedp.Navigate(login.URL))
	waitJS(t, ctx, fmt.Sprintf(`document.getElementById('node-id').textContent === %q`, nodeIDHex(a.nodeID)), "the node id")
	require.Equal(t, baseA+"/ui/", jsString(t, ctx, "location.href"), "the login redirects to the page")
	// The token worked once: a second use is refused.
	status, _ := plainGet(t, login.URL)
	require.Equal(t, http.StatusUnauthorized, status, "a login token works once")
	// A mark that a reload would wipe.
	require.Equal(t, "1", jsString(t, ctx, `String(window.noReload = 1)`))
	waitJS(t, ctx, `document.getElementById('events-status').textContent === 'live'`, "the live event stream")
	waitJS(t, ctx, `document.getElementById('bal-onchain').textContent === '1,000,000'`, "the wallet balance")

	// Connect to b from the page.
	brun(t, ctx, "connect", chromedp.SetValue(chromedp.ID("connect-addr"), bID+"@"+b.listenAddr()),
		chromedp.Click(chromedp.ID("connect-submit")))
	waitJS(t, ctx, fmt.Sprintf(`document.querySelector('tr[data-node-id=%q]')`, bID), "the peer")

	// Open a channel from the page, then mine until it is usable on both sides.
	brun(t, ctx, "open a channel", chromedp.SetValue(chromedp.ID("open-peer"), bID),
		chromedp.SetValue(chromedp.ID("open-amount"), "200000"), chromedp.Click(chromedp.ID("open-submit")))
	waitJS(t, ctx, `!document.getElementById('open-result').hidden`, "the open channel result")
	chans, err := apiA.ListChannels(bg)
	require.NoError(t, err)
	require.Len(t, chans.Channels, 1)
	txid, err := chainhash.NewHashFromStr(chans.Channels[0].FundingTxid)
	require.NoError(t, err)
	require.Contains(t, jsString(t, ctx, `document.getElementById('open-result').textContent`), txid.String())
	require.Eventually(t, func() bool { return btcd.inMempool(*txid) }, 10*time.Second, 10*time.Millisecond)
	btcd.mineMempool()
	deadline := time.Now().Add(browserWait)
	for !(usable(a, b) && usable(b, a)) {
		require.True(t, time.Now().Before(deadline), "the channel becomes usable on both sides")
		btcd.mine()
		time.Sleep(50 * time.Millisecond)
	}
	chanID := chans.Channels[0].ChannelID
	waitJS(t, ctx, fmt.Sprintf(`document.querySelector('tr[data-channel-id=%q][data-usable=true]')`, chanID),
		"the usable channel")
	chans, err = apiA.ListChannels(bg)
	require.NoError(t, err)
	before := chans.Channels[0].LocalBalanceMsat
	waitJS(t, ctx, fmt.Sprintf(`document.getElementById('bal-channels').textContent === %q`, satText(before)),
		"the balance in channels")
	require.Equal(t, satText(before), channelLocalText(t, ctx, chanID))

	// Pay an invoice of b from the page: the payment and the new balances appear without a reload.
	const payMsat = 50_000_000
	inv, err := apiB.Invoice(bg, nodeapi.InvoiceParams{AmountMsat: payMsat, Description: "browser test"})
	require.NoError(t, err)
	brun(t, ctx, "enter the invoice", chromedp.SetValue(chromedp.ID("pay-bolt11"), inv.Bolt11))
	require.Equal(t, "1", jsString(t, ctx, `String(+document.getElementById('pay-bolt11').dispatchEvent(new Event('input')))`))
	waitJS(t, ctx, `document.getElementById('pay-preview').textContent.startsWith('50,000 sat to ')`,
		"what the invoice asks")
	require.Contains(t, jsString(t, ctx, `document.getElementById('pay-preview').textContent`), "“browser test”")
	brun(t, ctx, "pay", chromedp.Click(chromedp.ID("pay-submit")))
	waitJS(t, ctx, fmt.Sprintf(`(document.querySelector('tr[data-payment-hash=%q] [data-testid=payment-status]') || {}).textContent === 'succeeded'`,
		inv.PaymentHash), "the succeeded payment")
	chans, err = apiA.ListChannels(bg)
	require.NoError(t, err)
	after := chans.Channels[0].LocalBalanceMsat
	require.Equal(t, before-payMsat, after, "a paid b over the direct channel, without fee")
	waitJS(t, ctx, fmt.Sprintf(`document.querySelector('tr[data-channel-id=%q] [data-testid=channel-local]').textContent === %q`,
		chanID, satText(after)), "the channel's new balance")
	waitJS(t, ctx, fmt.Sprintf(`document.getElementById('bal-channels').textContent === %q`, satText(after)),
		"the new balance in channels")
	waitJS(t, ctx, `document.querySelector('#event-log li[data-type=payment_sent]')`, "the payment_sent event")
	require.Equal(t, "1", jsString(t, ctx, `String(window.noReload)`), "the page was not reloaded")
	screenshot(t, ctx, "webui-paid.png")

	// A garbage invoice: the API's error shows next to the form.
	_, apiErr := apiA.PayInvoice(bg, nodeapi.PayInvoiceParams{Bolt11: "lnbcrt1garbage"})
	require.Error(t, apiErr)
	brun(t, ctx, "pay garbage", chromedp.SetValue(chromedp.ID("pay-bolt11"), "lnbcrt1garbage"),
		chromedp.Click(chromedp.ID("pay-submit")))
	waitJS(t, ctx, `!document.getElementById('pay-error').hidden`, "the payment error")
	require.Equal(t, apiErr.Error(), jsString(t, ctx, `document.getElementById('pay-error').textContent`))

	// An invoice made on the page, with its QR code.
	brun(t, ctx, "make an invoice", chromedp.SetValue(chromedp.ID("invoice-amount"), "1234.5"),
		chromedp.SetValue(chromedp.ID("invoice-memo"), "coffee"), chromedp.Click(chromedp.ID("invoice-submit")))
	waitJS(t, ctx, `document.getElementById('invoice-qr').complete && document.getElementById('invoice-qr').naturalWidth > 100`,
		"the invoice's QR code")
	bolt11 := jsString(t, ctx, `document.getElementById('invoice-bolt11').textContent`)
	dec, err := apiA.DecodeInvoice(bg, nodeapi.DecodeInvoiceParams{Bolt11: bolt11})
	require.NoError(t, err)
	require.Equal(t, uint64(1_234_500), dec.AmountMsat)
	require.Equal(t, "coffee", dec.Description)
	waitJS(t, ctx, fmt.Sprintf(`document.querySelector('tr[data-testid=invoice-row][data-payment-hash=%q]')`, dec.PaymentHash),
		"the new invoice in the list")
	require.Equal(t, "1", jsString(t, ctx, `String(window.noReload)`), "the page was not reloaded")
	screenshot(t, ctx, "webui.png")

	// Force close from the page (a second click confirms): the channel leaves the list, and what it
	// holds for us on chain shows with the height it is ours at.
	force := chromedp.CSS(fmt.Sprintf(`tr[data-channel-id=%q] [data-testid=channel-force-close]`, chanID))
	brun(t, ctx, "arm the force close", chromedp.Click(force))
	waitJS(t, ctx, fmt.Sprintf(`document.querySelector('tr[data-channel-id=%q] [data-testid=channel-force-close]').textContent === 'really force close?'`,
		chanID), "the force close asking for confirmation")
	require.Zero(t, mempoolLen(btcd), "one click closes nothing")
	brun(t, ctx, "force close", chromedp.Click(force))
	waitJS(t, ctx, `document.getElementById('close-result').textContent.includes('closing transaction')`, "the force close")
	require.Eventually(t, func() bool { return mempoolLen(btcd) > 0 }, 10*time.Second, 10*time.Millisecond,
		"the commitment transaction is broadcast")
	btcd.mineMempool()
	waitJS(t, ctx, fmt.Sprintf(`!document.querySelector('tr[data-channel-id=%q]')`, chanID), "the channel gone from the list")
	waitJS(t, ctx, `Array.from(document.querySelectorAll('tr[data-testid=claimable-row]')).some(r =>
		r.textContent.includes('(closed)') && /(final|claimable) at [0-9]+/.test(r.textContent))`, "the closed channel's balance with its height")
	var wb *nodeapi.WalletBalanceResult
	require.Eventually(t, func() bool {
		wb, err = apiA.WalletBalance(bg)
		return err == nil && wb.OnchainClaimableSat > 0
	}, browserWait, 50*time.Millisecond)
	waitJS(t, ctx, fmt.Sprintf(`document.getElementById('bal-claimable').textContent === %q`, satText(uint64(wb.OnchainClaimableSat)*1000)),
		"the claimable balance")
	require.Equal(t, "1", jsString(t, ctx, `String(window.noReload)`), "the page was not reloaded")
	screenshot(t, ctx, "webui-force-closed.png")
}
