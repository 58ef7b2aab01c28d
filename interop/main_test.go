//go:build interop

// Package interop runs lnkit's example node against lnd v0.20 on a regtest btcd: connections and
// features, anchor channels both ways, payments, concurrency, failures, crash recovery, closes and
// update_fee. Run it with .ci/interop/run.sh (or `go test -tags interop ./interop/ -v`); see README.md.
package interop

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// network is everything the tests share: one btcd, a fee source, lnd nodes and the lnkit node.
type network struct {
	dir    string
	binDir string
	btcd   *btcd
	fees   *feeServer
	faucet *faucet

	alice *lnd // the lnd every scenario talks to
	bob   *lnd // a second lnd, started by the lnd-only self check

	lk      *lnkitNode // nil if the node could not be built or started
	nodeErr error      // why lk is nil

	mu   sync.Mutex
	lnds []*lnd
}

var nw *network

// initialFeeSatPerKvB is the fee source's starting feerate: 2500 sat/kvB = 625 sat/kw.
const initialFeeSatPerKvB = 2500

var started = time.Now()

// logf prints a timestamped harness message to stderr (shown with or without -v).
func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "interop [%6.1fs] %s\n", time.Since(started).Seconds(), fmt.Sprintf(format, args...))
}

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	root, err := moduleRoot()
	if err != nil {
		logf("cannot find the module root: %v", err)
		return 1
	}
	binDir, err := findBinaries(root)
	if err != nil {
		logf("%v", err)
		return 1
	}
	dir, err := os.MkdirTemp("", "lnkit-interop-")
	if err != nil {
		logf("%v", err)
		return 1
	}
	logf("binaries in %s; logs and data in %s", binDir, dir)

	// Build the node while the chain starts (it may not compile while it is being written: then only
	// the lnd-side checks can pass).
	nodeBin := filepath.Join(dir, "lnkit-node")
	buildDone := make(chan error, 1)
	go func() {
		t0 := time.Now()
		// examples/node is a module of its own (it links the database drivers): build it there.
		pkg := "."
		if v := os.Getenv("LNKIT_INTEROP_NODE_PKG"); v != "" {
			pkg = v
		}
		cmd := exec.Command("go", "build", "-o", nodeBin, pkg)
		cmd.Dir = filepath.Join(root, "examples", "node")
		out, err := cmd.CombinedOutput()
		if err != nil {
			err = fmt.Errorf("go build %s: %v\n%s", pkg, err, bytes.TrimSpace(out))
		} else if keyless() {
			err = buildSigner(root, dir)
		}
		if err == nil {
			logf("lnkit node built in %.1fs", time.Since(t0).Seconds())
		}
		buildDone <- err
	}()

	nw = &network{dir: dir, binDir: binDir}
	code := 1
	defer func() {
		nw.teardown()
		if code != 0 || os.Getenv("LNKIT_INTEROP_KEEP") != "" {
			nw.printLogs()
		} else {
			os.RemoveAll(dir)
		}
	}()
	if err := nw.startChain(); err != nil {
		logf("%v", err)
		<-buildDone
		return 1
	}
	if err := <-buildDone; err != nil {
		nw.nodeErr = err
		logf("the lnkit node is not available; lnkit scenarios will fail (skip with LNKIT_INTEROP_LND_ONLY=1):\n%v", err)
	} else if err := nw.startLnkit(nodeBin); err != nil {
		nw.nodeErr = err
		logf("the lnkit node did not start: %v", err)
	}
	code = m.Run()
	return code
}

// moduleRoot is the directory of lnkit's go.mod.
func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", err
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside a module")
	}
	return filepath.Dir(gomod), nil
}

// findBinaries returns the directory holding btcd, btcctl, lnd and lncli ($LNKIT_INTEROP_BIN or
// ~/.cache/lnkit-interop/bin), running .ci/interop/build.sh when one is missing.
func findBinaries(root string) (string, error) {
	dir := os.Getenv("LNKIT_INTEROP_BIN")
	if dir == "" {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(home, ".cache", "lnkit-interop", "bin")
	}
	missing := false
	for _, b := range []string{"btcd", "btcctl", "lnd", "lncli"} {
		if _, err := os.Stat(filepath.Join(dir, b)); err != nil {
			missing = true
		}
	}
	if !missing {
		return dir, nil
	}
	logf("building btcd and lnd into %s (several minutes)", dir)
	t0 := time.Now()
	cmd := exec.Command("bash", filepath.Join(root, ".ci", "interop", "build.sh"))
	cmd.Env = append(os.Environ(), "LNKIT_INTEROP_BIN="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("build.sh: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	logf("built in %.0fs", time.Since(t0).Seconds())
	return lines[len(lines)-1], nil
}

// startChain starts the fee source, btcd (mining to the faucet: 500 blocks, so segwit is active and 400
// coinbases are mature) and alice, funded with five 2 BTC outputs.
func (n *network) startChain() error {
	n.fees = newFeeServer(initialFeeSatPerKvB)
	n.faucet = newFaucet()
	t0 := time.Now()
	b, err := startBtcd(n.binDir, filepath.Join(n.dir, "btcd"), n.faucet.addr.EncodeAddress())
	if err != nil {
		return err
	}
	n.btcd = b
	logf("btcd up in %.1fs", time.Since(t0).Seconds())
	t0 = time.Now()
	if _, err := b.generateErr(500); err != nil {
		return err
	}
	logf("500 blocks mined in %.1fs", time.Since(t0).Seconds())
	t0 = time.Now()
	alice, err := n.startLnd("alice", "lnd")
	if err != nil {
		return err
	}
	n.alice = alice
	logf("alice (lnd) up in %.1fs: %s", time.Since(t0).Seconds(), alice.id())
	return nil
}

// startLnd starts a new lnd node named name with binary bin and funds its wallet from the faucet with
// five outputs of 2 BTC (several, so that it can fund channels in parallel), confirmed.
func (n *network) startLnd(name, bin string) (*lnd, error) {
	l := &lnd{name: name, dir: filepath.Join(n.dir, name), rpcAddr: ports.next(), p2pAddr: ports.next(),
		restAddr: ports.next(), binDir: n.binDir, bin: bin, net: n}
	if err := l.start(); err != nil {
		return nil, err
	}
	n.mu.Lock()
	n.lnds = append(n.lnds, l)
	n.mu.Unlock()
	var addr struct {
		Address string `json:"address"`
	}
	if err := l.cliJSON(&addr, "newaddress", "p2wkh"); err != nil {
		return nil, err
	}
	outs := make([]payment, 5)
	for i := range outs {
		outs[i] = payment{addr.Address, 2e8}
	}
	if _, err := n.faucet.send(n.btcd, outs...); err != nil {
		return nil, err
	}
	if _, err := n.btcd.generateErr(1); err != nil {
		return nil, err
	}
	err := poll(60*time.Second, func() (bool, string) {
		var bal lndWalletBalance
		if err := l.cliJSON(&bal, "walletbalance"); err != nil {
			return false, err.Error()
		}
		return bal.ConfirmedBalance >= 10e8, fmt.Sprintf("%s wallet: %d sat confirmed", name, bal.ConfirmedBalance)
	})
	return l, err
}

// startLnkit starts the lnkit node (its wallet is funded by the scenarios that need coins).
func (n *network) startLnkit(bin string) error {
	t0 := time.Now()
	lk := &lnkitNode{name: "lnkit", dir: filepath.Join(n.dir, "lnkit"), p2pAddr: ports.next(), rpcAddr: ports.next(),
		bin: bin, net: n}
	if err := lk.start(); err != nil {
		return err
	}
	n.lk = lk
	logf("lnkit node up in %.1fs: %s", time.Since(t0).Seconds(), lk.ID())
	return nil
}

// teardown stops every process, lnkit first.
func (n *network) teardown() {
	if n.lk != nil {
		n.lk.Stop()
	}
	stopSigners()
	n.mu.Lock()
	lnds := append([]*lnd(nil), n.lnds...)
	n.mu.Unlock()
	var wg sync.WaitGroup
	for _, l := range lnds {
		wg.Add(1)
		go func() { defer wg.Done(); l.stop() }()
	}
	wg.Wait()
	if n.btcd != nil {
		n.btcd.p.stop(30 * time.Second)
	}
	if n.fees != nil {
		n.fees.close()
	}
}

// printLogs lists where each daemon logged.
func (n *network) printLogs() {
	logf("logs kept in %s:", n.dir)
	if n.btcd != nil {
		fmt.Fprintf(os.Stderr, "  btcd:  %s (and %s)\n", n.btcd.p.logPath, filepath.Join(n.btcd.dir, "logs"))
	}
	for _, l := range n.lnds {
		fmt.Fprintf(os.Stderr, "  %s: %s (and %s)\n", l.name, l.logPath(),
			filepath.Join(l.dir, "logs", "bitcoin", "regtest", "lnd.log"))
	}
	if n.lk != nil {
		fmt.Fprintf(os.Stderr, "  lnkit: %s\n", n.lk.logPath())
	}
}

// needNode returns the lnkit node, failing the test if it is unavailable (or skipping it when
// LNKIT_INTEROP_LND_ONLY is set).
func needNode(t *testing.T) *lnkitNode {
	t.Helper()
	if nw.lk == nil {
		if os.Getenv("LNKIT_INTEROP_LND_ONLY") != "" {
			t.Skipf("lnkit node unavailable: %v", nw.nodeErr)
		}
		t.Fatalf("lnkit node unavailable: %v", nw.nodeErr)
	}
	if !nw.lk.running() {
		t.Fatalf("lnkit node is not running (an earlier test killed it?)\n%s", logTail(nw.lk.logPath(), 30))
	}
	return nw.lk
}

// mine mines n blocks and waits until alice (and the lnkit node, when running) have processed them.
func (n *network) mine(t testing.TB, blocks int) {
	t.Helper()
	n.btcd.generate(t, blocks)
	n.waitSynced(t)
}

func (n *network) waitSynced(t testing.TB) {
	t.Helper()
	tip := n.btcd.height(t)
	n.mu.Lock()
	lnds := append([]*lnd(nil), n.lnds...)
	n.mu.Unlock()
	for _, l := range lnds {
		if l.p != nil {
			if done, _ := l.p.exited(); !done {
				l.waitSynced(t)
			}
		}
	}
	if n.lk != nil && n.lk.running() {
		waitFor(t, 60*time.Second, func() (bool, string) {
			info, err := n.lk.Client().GetInfo(ctx(t, 5*time.Second))
			if err != nil {
				return false, err.Error()
			}
			return info.BlockHeight >= uint32(tip), fmt.Sprintf("lnkit at %d of %d", info.BlockHeight, tip)
		})
	}
}
