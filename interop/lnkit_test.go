//go:build interop

package interop

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

// lnkitNode is the lnkit example node (examples/node) run as a process and driven through its
// control API.
type lnkitNode struct {
	name    string
	dir     string
	p2pAddr string
	rpcAddr string
	bin     string
	net     *network
	// extra are more flags for the node (TestThroughput's -store).
	extra []string
	// signer is the node's lnkit-signer when the suite runs keyless (signer_test.go), signerAddr its
	// address and signerFlags the node's flags for it.
	signer      *proc
	signerAddr  string
	signerFlags []string
	signerExtra []string // more flags for the signer (Test21's -max-links)

	mu  sync.Mutex
	p   *proc
	api *nodeapi.Client
	id  string
}

// defaultNodeTuning are the node's timer flags for the suite: the channel manager ticks (update_fee,
// retries) every 2 s instead of 60 s, fees are re-read every second, btcd is polled every 200 ms and
// resolved monitors are archived every 3 s instead of 10 min. LNKIT_INTEROP_NODE_FLAGS replaces them
// (space-separated).
const defaultNodeTuning = "-loglevel=debug -tick.manager=2s -tick.fees=1s -tick.chain=200ms -tick.archive=3s"

// nodeTuning is the node's timer flags in use.
func nodeTuning() string {
	if v, ok := os.LookupEnv("LNKIT_INTEROP_NODE_FLAGS"); ok {
		return v
	}
	return defaultNodeTuning
}

func (n *lnkitNode) args() []string {
	a := []string{
		"-datadir", n.dir, "-network", "regtest",
		"-btcd.rpchost", n.net.btcd.rpcAddr, "-btcd.rpcuser", btcdUser, "-btcd.rpcpass", btcdPass,
		"-btcd.rpccert", n.net.btcd.certPath,
		"-listen", n.p2pAddr, "-rpclisten", n.rpcAddr, "-feeurl", n.net.fees.url(),
	}
	a = append(a, n.extra...)
	return append(a, strings.Fields(nodeTuning())...)
}

func (n *lnkitNode) logPath() string { return filepath.Join(n.dir, "node.log") }

// start runs the node binary and waits until its API answers getinfo (a fresh cookie is written at
// every start, so the old one is removed first).
func (n *lnkitNode) start() error {
	if err := os.MkdirAll(n.dir, 0o700); err != nil {
		return err
	}
	_ = os.Remove(filepath.Join(n.dir, ".cookie"))
	args := n.args()
	if keyless() {
		sa, err := n.signerArgs()
		if err != nil {
			return err
		}
		args = append(args, sa...)
	}
	p, err := startProc(n.name, n.logPath(), n.bin, args...)
	if err != nil {
		return err
	}
	var api *nodeapi.Client
	var info *nodeapi.GetInfoResult
	err = poll(60*time.Second, func() (bool, string) {
		if done, err := p.exited(); done {
			return true, fmt.Sprintf("node exited: %v", err)
		}
		if api == nil {
			c, err := nodeapi.DialDatadir(n.dir, n.rpcAddr)
			if err != nil {
				return false, "no cookie yet: " + err.Error()
			}
			api = c
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		info, err = api.GetInfo(ctx)
		return err == nil, errOf(err)
	})
	if err == nil {
		if done, perr := p.exited(); done {
			err = fmt.Errorf("exited: %v", perr)
		}
	}
	if err != nil {
		p.kill()
		return fmt.Errorf("%s did not start: %w\n%s", n.name, err, logTail(n.logPath(), 30))
	}
	n.mu.Lock()
	n.p, n.api, n.id = p, api, info.NodeID
	n.mu.Unlock()
	return nil
}

// Client is the node's API client (a new one after each restart).
func (n *lnkitNode) Client() *nodeapi.Client {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.api
}

// ID is the node id (hex).
func (n *lnkitNode) ID() string {
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.id
}

// Kill sends SIGKILL (kill -9) and waits for the process to be gone.
func (n *lnkitNode) Kill() {
	n.mu.Lock()
	p := n.p
	n.mu.Unlock()
	if p != nil {
		p.kill()
	}
}

// Stop asks the node to shut down cleanly (SIGTERM; SIGKILL after 30 s).
func (n *lnkitNode) Stop() {
	n.mu.Lock()
	p := n.p
	n.mu.Unlock()
	if p != nil {
		p.stop(30 * time.Second)
	}
}

// Restart stops the node if it still runs and starts it again on the same data directory.
func (n *lnkitNode) Restart(t testing.TB) {
	t.Helper()
	n.Stop()
	if err := n.start(); err != nil {
		t.Fatal(err)
	}
}

// running reports whether the process is alive.
func (n *lnkitNode) running() bool {
	n.mu.Lock()
	p := n.p
	n.mu.Unlock()
	if p == nil {
		return false
	}
	done, _ := p.exited()
	return !done
}

// ctx returns a context for one API call (cancelled at the end of the test at the latest).
func ctx(t testing.TB, d time.Duration) context.Context {
	c, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return c
}

// mustCall fails the test with the API error.
func mustCall[R any](t testing.TB, what string, r R, err error) R {
	t.Helper()
	if err != nil {
		t.Fatalf("lnkit %s: %v", what, err)
	}
	return r
}

func (n *lnkitNode) info(t testing.TB) *nodeapi.GetInfoResult {
	t.Helper()
	r, err := n.Client().GetInfo(ctx(t, 10*time.Second))
	return mustCall(t, "getinfo", r, err)
}

func (n *lnkitNode) peers(t testing.TB) []nodeapi.Peer {
	t.Helper()
	r, err := n.Client().ListPeers(ctx(t, 10*time.Second))
	return mustCall(t, "listpeers", r, err).Peers
}

func (n *lnkitNode) peer(t testing.TB, id string) *nodeapi.Peer {
	t.Helper()
	for _, p := range n.peers(t) {
		if p.NodeID == id {
			return &p
		}
	}
	return nil
}

func (n *lnkitNode) channels(t testing.TB) []nodeapi.Channel {
	t.Helper()
	r, err := n.Client().ListChannels(ctx(t, 10*time.Second))
	return mustCall(t, "listchannels", r, err).Channels
}

// channel returns the channel funded by fundingTxid, or nil.
func (n *lnkitNode) channel(t testing.TB, fundingTxid string) *nodeapi.Channel {
	t.Helper()
	for _, c := range n.channels(t) {
		if c.FundingTxid == fundingTxid {
			return &c
		}
	}
	return nil
}

func (n *lnkitNode) balance(t testing.TB) *nodeapi.WalletBalanceResult {
	t.Helper()
	r, err := n.Client().WalletBalance(ctx(t, 10*time.Second))
	return mustCall(t, "walletbalance", r, err)
}

func (n *lnkitNode) newAddress(t testing.TB) string {
	t.Helper()
	r, err := n.Client().NewAddress(ctx(t, 10*time.Second))
	return mustCall(t, "newaddress", r, err).Address
}

func (n *lnkitNode) invoice(t testing.TB, amtMsat uint64, desc string) *nodeapi.InvoiceResult {
	t.Helper()
	r, err := n.Client().Invoice(ctx(t, 10*time.Second), nodeapi.InvoiceParams{AmountMsat: amtMsat, Description: desc})
	return mustCall(t, "invoice", r, err)
}

func (n *lnkitNode) invoices(t testing.TB) []nodeapi.Invoice {
	t.Helper()
	r, err := n.Client().ListInvoices(ctx(t, 10*time.Second))
	return mustCall(t, "listinvoices", r, err).Invoices
}

func (n *lnkitNode) connect(t testing.TB, l *lnd) {
	t.Helper()
	_, err := n.Client().Connect(ctx(t, 30*time.Second), nodeapi.ConnectParams{NodeID: l.id(), Address: l.p2pAddr})
	if err != nil && !strings.Contains(strings.ToLower(err.Error()), "already") {
		t.Fatalf("lnkit connect %s: %v", l.name, err)
	}
}
