//go:build interop

package interop

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

// Test21Failover: two lnkit nodes with one seed on one PostgreSQL database (-store postgres), an
// active/passive pair (examples/node/standby.go, the default lease: 15 s, renewed every 5 s, polled
// every 2 s). alice (lnd) has a channel to the pair and pays a stream of its invoices; the leader is
// killed (kill -9) in the middle; the standby takes over (timed), redials alice, the channel
// reestablishes, the stream finishes: every invoice paid once, with its amount, balances equal to the
// msat on both sides. Then the old leader's datadir runs again as the standby, the new leader is
// stopped with SIGSTOP, the standby takes over and is paid; the stopped one, continued with SIGCONT,
// finds its lease taken over, writes nothing and exits with code 3 and a message saying so.
//
// PostgreSQL: a throwaway cluster from initdb and pg_ctl ($PATH or /usr/lib/postgresql/*/bin; as root
// run as the postgres user), in the run's directory. Without them the test skips, unless
// LNKIT_REQUIRE_POSTGRES=1.
func Test21Failover(t *testing.T) {
	needNode(t) // the binary exists and the suite runs lnkit scenarios
	alice := nw.alice
	dsn := startFailoverPostgres(t)
	bin := nw.lk.bin
	seed := bytes.Repeat([]byte("fa"), 32)
	mk := func(name string) *lnkitNode {
		n := &lnkitNode{name: name, dir: filepath.Join(nw.dir, name), p2pAddr: ports.next(), rpcAddr: ports.next(), bin: bin, net: nw}
		require.NoError(t, os.MkdirAll(n.dir, 0o700))
		if !keyless() {
			require.NoError(t, os.WriteFile(filepath.Join(n.dir, "seed"), seed, 0o600))
		}
		return n
	}
	one, two := mk("lnkit-one"), mk("lnkit-two")
	extra := []string{"-store", "postgres", "-postgres.dsn", dsn}
	if keyless() {
		// The pair shares one identity: one signer (serving both links) and one node link key.
		one.signerExtra = []string{"-max-links", "2"}
		flags, err := one.signerArgs()
		require.NoError(t, err)
		key, err := os.ReadFile(filepath.Join(one.dir, "signer_link_key"))
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(filepath.Join(two.dir, "signer_link_key"), key, 0o600))
		extra = append(extra, flags...)
	}
	t.Cleanup(func() {
		for _, n := range []*lnkitNode{one, two} {
			n.mu.Lock()
			p := n.p
			n.mu.Unlock()
			if p != nil {
				_ = p.cmd.Process.Signal(syscall.SIGCONT)
			}
			n.Stop()
		}
	})
	steps := newSteps(t)

	require.NoError(t, one.failoverStart(extra, true), "the leader")
	require.NoError(t, two.failoverStart(extra, false), "the standby")
	waitFor(t, 30*time.Second, func() (bool, string) {
		return strings.Contains(logTail(two.logPath(), 200), "another node holds the lease"), "the standby does not wait"
	})
	require.NoFileExists(t, filepath.Join(two.dir, nodeapi.CookieFile), "the standby serves no control API")
	steps.done("leader up, standby waiting")

	one.connect(t, alice)
	chanTxid := alice.openChannel(t, one.ID(), 1_000_000, 0, true)
	confirmChannelsWith(t, one, alice, chanTxid)
	steps.done("alice's channel to the pair")

	// The payment stream, as Test06's: each invoice retried until paid.
	const n, workers = 30, 3
	amts := varied(n, 21)
	invs := make([]*nodeapi.InvoiceResult, n)
	for i := range invs {
		invs[i] = one.invoice(t, amts[i], fmt.Sprintf("failover %d", i))
	}
	streamCtx, stopStream := context.WithTimeout(context.Background(), 4*time.Minute)
	defer stopStream()
	succeeded, streamErr := payInvoicesFromLnd(streamCtx, alice, invs, workers)
	waitFor(t, time.Minute, func() (bool, string) {
		return succeeded.Load() >= 5, fmt.Sprintf("%d payments settled", succeeded.Load())
	})
	one.Kill()
	killed := time.Now()
	steps.done(fmt.Sprintf("stream until kill -9 of the leader (%d settled)", succeeded.Load()))

	waitFor(t, 60*time.Second, func() (bool, string) { return two.failoverReady() })
	takeover := time.Since(killed)
	waitFor(t, 60*time.Second, func() (bool, string) {
		c := two.channel(t, chanTxid)
		lc := alice.channel(t, chanTxid)
		return c != nil && c.IsUsable && lc != nil && lc.Active, fmt.Sprintf("lnkit %+v alice %+v", c, lc)
	})
	reestablished := time.Since(killed)
	t.Logf("kill -9 of the leader: the standby took the lease over and serves after %s (documented: within 17 s "+
		"plus its start), the channel with alice is usable again after %s", takeover.Round(100*time.Millisecond),
		reestablished.Round(100*time.Millisecond))
	require.Contains(t, logTail(two.logPath(), 400), "took over the lease")
	require.Less(t, takeover, 17*time.Second+15*time.Second, "takeover within the lease, a poll and the start")
	steps.done("standby took over")
	for done := 0; done < workers; done++ {
		require.NoError(t, <-streamErr)
	}
	steps.done("stream finished on the new leader")

	// Every invoice paid once with its amount, and the channel's balances agree to the msat.
	var sum uint64
	for _, a := range amts {
		sum += a
	}
	waitFor(t, 30*time.Second, func() (bool, string) {
		byHash := map[string]nodeapi.Invoice{}
		for _, inv := range two.invoices(t) {
			byHash[inv.PaymentHash] = inv
		}
		for i, inv := range invs {
			got, ok := byHash[inv.PaymentHash]
			if !ok || got.Status != nodeapi.InvoicePaid || got.ReceivedMsat != amts[i] {
				return false, fmt.Sprintf("invoice %d: %+v", i, got)
			}
		}
		return true, ""
	})
	checkChannelWith(t, two, alice, chanTxid)
	require.EqualValues(t, sum, two.channel(t, chanTxid).LocalBalanceMsat, "lnkit holds exactly what was paid")
	steps.done(fmt.Sprintf("%d invoices paid once, %d msat, balances equal", n, sum))

	// The SIGSTOP variant: one runs again, as the standby; two is stopped; one takes over.
	one.mu.Lock()
	one.p, one.api = nil, nil
	one.mu.Unlock()
	require.NoError(t, one.failoverStart(extra, false))
	waitFor(t, 30*time.Second, func() (bool, string) {
		return strings.Count(logTail(one.logPath(), 400), "another node holds the lease") > 0, "the restarted node does not wait"
	})
	two.mu.Lock()
	twoProc := two.p
	two.mu.Unlock()
	require.NoError(t, twoProc.cmd.Process.Signal(syscall.SIGSTOP))
	stopped := time.Now()
	waitFor(t, 60*time.Second, func() (bool, string) { return one.failoverReady() })
	t.Logf("SIGSTOP of the leader: the standby serves after %s", time.Since(stopped).Round(100*time.Millisecond))
	waitFor(t, 2*time.Minute, func() (bool, string) {
		c := one.channel(t, chanTxid)
		lc := alice.channel(t, chanTxid)
		return c != nil && c.IsUsable && lc != nil && lc.Active, fmt.Sprintf("lnkit %+v alice %+v", c, lc)
	})
	last := one.invoice(t, 7_000, "after the second failover")
	waitFor(t, 2*time.Minute, func() (bool, string) {
		p, err := alice.payInvoice(ctx(t, 90*time.Second), last.Bolt11)
		if err != nil {
			return false, err.Error()
		}
		return p.Status == "SUCCEEDED", fmt.Sprintf("%+v", p)
	})
	steps.done("second takeover (leader stopped), paid")

	require.NoError(t, twoProc.cmd.Process.Signal(syscall.SIGCONT))
	select {
	case <-twoProc.done:
	case <-time.After(60 * time.Second):
		t.Fatalf("the continued old leader did not exit:\n%s", logTail(two.logPath(), 30))
	}
	var exitErr *exec.ExitError
	require.True(t, errors.As(twoProc.err, &exitErr), "exit status: %v", twoProc.err)
	require.Equal(t, 3, exitErr.ExitCode(), "exit code of a node that lost its lease\n%s", logTail(two.logPath(), 30))
	tail := logTail(two.logPath(), 200)
	require.Contains(t, tail, "lnkit-node: exiting: lost the lease")
	require.Contains(t, tail, "took it over")
	lost, closed := logInt(tail, `writes_so_far=(\d+)`), logInt(tail, `store closed" writes=(\d+)`)
	require.GreaterOrEqual(t, lost, int64(1))
	require.Equal(t, lost, closed, "the old leader wrote nothing after it found its lease taken over:\n%s", tail)
	at := strings.Index(tail, "no longer the leader")
	require.GreaterOrEqual(t, at, 0)
	require.NotContains(t, tail[at:], `msg="broadcast transaction"`, "nothing broadcast after the lease was lost")
	steps.done("the continued old leader wrote nothing and exited with code 3")

	checkChannelWith(t, one, alice, chanTxid)
	require.EqualValues(t, sum+7_000, one.channel(t, chanTxid).LocalBalanceMsat)
	one.Stop()
}

// logInt returns the last match of re's first group in s as an integer (-1 if none).
func logInt(s, re string) int64 {
	m := regexp.MustCompile(re).FindAllStringSubmatch(s, -1)
	if len(m) == 0 {
		return -1
	}
	v, _ := strconv.ParseInt(m[len(m)-1][1], 10, 64)
	return v
}

// failoverStart runs the node binary with extra flags; with wait, until its API answers (a leader),
// otherwise without waiting (a standby, which serves no API until it takes over).
func (n *lnkitNode) failoverStart(extra []string, wait bool) error {
	_ = os.Remove(filepath.Join(n.dir, nodeapi.CookieFile))
	p, err := startProc(n.name, n.logPath(), n.bin, append(n.args(), extra...)...)
	if err != nil {
		return err
	}
	n.mu.Lock()
	n.p, n.api = p, nil
	n.mu.Unlock()
	if !wait {
		return nil
	}
	return poll(60*time.Second, n.failoverReady)
}

// failoverReady says whether the node's control API answers getinfo (a leader), remembering the
// client and the node id.
func (n *lnkitNode) failoverReady() (bool, string) {
	n.mu.Lock()
	p := n.p
	n.mu.Unlock()
	if done, err := p.exited(); done {
		return false, fmt.Sprintf("%s exited: %v\n%s", n.name, err, logTail(n.logPath(), 20))
	}
	c, err := nodeapi.DialDatadir(n.dir, n.rpcAddr)
	if err != nil {
		return false, "no cookie: " + err.Error()
	}
	cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := c.GetInfo(cctx)
	if err != nil {
		return false, err.Error()
	}
	n.mu.Lock()
	n.api, n.id = c, info.NodeID
	n.mu.Unlock()
	return true, ""
}

// startFailoverPostgres starts a throwaway PostgreSQL cluster for the test and returns its DSN; it is
// stopped and removed at the end of the test.
func startFailoverPostgres(t *testing.T) string {
	t.Helper()
	bin, err := postgresBinDir()
	if err != nil {
		if os.Getenv("LNKIT_REQUIRE_POSTGRES") == "1" {
			t.Fatalf("LNKIT_REQUIRE_POSTGRES=1 but %v", err)
		}
		t.Skipf("no PostgreSQL (initdb, pg_ctl): %v", err)
	}
	// Not under the run's directory: as root, the cluster runs as postgres, who cannot enter it (0700).
	dir, err := os.MkdirTemp("", "lnkit-failover-pg-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		require.NoError(t, err, "as root, PostgreSQL runs as the postgres user")
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		require.NoError(t, os.Chown(dir, uid, gid))
	}
	addr := ports.next()
	port := addr[strings.LastIndexByte(addr, ':')+1:]
	run := func(name string, args ...string) {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s: %s", name, out)
	}
	data := filepath.Join(dir, "data")
	run("initdb", "-D", data, "-U", "postgres", "--auth=trust", "--no-sync")
	run("pg_ctl", "-D", data, "-w", "-l", filepath.Join(dir, "postgres.log"), "-o",
		fmt.Sprintf("-p %s -k %s -c listen_addresses=127.0.0.1 -c fsync=on", port, dir), "start")
	t.Cleanup(func() {
		cmd := exec.Command(filepath.Join(bin, "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		_ = cmd.Run()
	})
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%s/postgres?sslmode=disable", port)
}

var pgBinOnce struct {
	sync.Once
	dir string
	err error
}

// postgresBinDir finds the directory of initdb and pg_ctl.
func postgresBinDir() (string, error) {
	pgBinOnce.Do(func() {
		if p, err := exec.LookPath("pg_ctl"); err == nil {
			if _, err := exec.LookPath("initdb"); err == nil {
				pgBinOnce.dir = filepath.Dir(p)
				return
			}
		}
		matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
		if len(matches) > 0 {
			pgBinOnce.dir = filepath.Dir(matches[len(matches)-1])
			return
		}
		pgBinOnce.err = errors.New("initdb and pg_ctl are neither in $PATH nor in /usr/lib/postgresql/*/bin")
	})
	return pgBinOnce.dir, pgBinOnce.err
}

// payInvoicesFromLnd has l pay every invoice of invs with `workers` payers, each invoice retried until
// paid (while the payee is down, or its channel not yet reestablished) until ctx ends. It returns
// the count of paid invoices, updated as they are, and a channel with one result per worker: nil, or
// why an invoice was not paid (an INCORRECT_PAYMENT_DETAILS refusal, or the time ran out).
func payInvoicesFromLnd(streamCtx context.Context, l *lnd, invs []*nodeapi.InvoiceResult, workers int) (*atomic.Int32, <-chan error) {
	succeeded := new(atomic.Int32)
	jobs := make(chan int, len(invs))
	for i := range invs {
		jobs <- i
	}
	close(jobs)
	streamErr := make(chan error, workers)
	for w := 0; w < workers; w++ {
		go func() {
			for i := range jobs {
				for {
					if streamCtx.Err() != nil {
						streamErr <- fmt.Errorf("invoice %d not paid: %v", i, streamCtx.Err())
						return
					}
					p, err := l.payInvoice(streamCtx, invs[i].Bolt11)
					if err == nil && p.Status == "SUCCEEDED" {
						succeeded.Add(1)
						break
					}
					if err == nil && strings.Contains(p.FailureReason, "INCORRECT_PAYMENT_DETAILS") {
						streamErr <- fmt.Errorf("invoice %d refused: %+v", i, p)
						return
					}
					time.Sleep(500 * time.Millisecond)
				}
			}
			streamErr <- nil
		}()
	}
	return succeeded, streamErr
}
