//go:build interop

package interop

import (
	"bufio"
	"context"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

// customMsg is one message `lncli subscribecustom` printed.
type customMsg struct {
	peer string
	typ  uint16
	data string
}

// customSub is a running `lncli subscribecustom` of one lnd and what it printed.
type customSub struct {
	mu   sync.Mutex
	msgs []customMsg
}

// subscribeCustomLine is lncli's line for a received message (lnd v0.20 prints text, not JSON).
var subscribeCustomLine = regexp.MustCompile(`^Received from peer ([0-9a-f]+): type=(\d+), data=([0-9a-f]*)$`)

// subscribeCustom runs `lncli subscribecustom` for l until the test ends and collects its output.
func subscribeCustom(t *testing.T, l *lnd) *customSub {
	t.Helper()
	c, cancel := context.WithCancel(context.Background())
	args := []string{"--lnddir=" + l.dir, "--rpcserver=" + l.rpcAddr, "--network=regtest", "subscribecustom"}
	cmd := exec.CommandContext(c, filepath.Join(l.binDir, "lncli"), args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	s := &customSub{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			m := subscribeCustomLine.FindStringSubmatch(sc.Text())
			if m == nil {
				continue
			}
			typ, _ := strconv.ParseUint(m[2], 10, 16)
			s.mu.Lock()
			s.msgs = append(s.msgs, customMsg{peer: m[1], typ: uint16(typ), data: m[3]})
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		_ = cmd.Wait()
	})
	return s
}

// has reports whether m was printed.
func (s *customSub) has(m customMsg) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, x := range s.msgs {
		if x == m {
			return true
		}
	}
	return false
}

// TestCustomMessages: custom messages between lnd and lnkit both ways. lnkit's sendcustommessage
// reaches alice's `lncli subscribecustom` (sent until one arrives, which also shows the subscription
// is live); alice's `lncli sendcustom` of a ping-app echo request (type 32769) reaches lnkit's event
// stream, and lnkit's echo reply (type 32771, the same data) reaches subscribecustom.
func TestCustomMessages(t *testing.T) {
	steps := newSteps(t)
	lk := needNode(t)
	alice := nw.alice
	if keyless() {
		_, err := os.Stat(filepath.Join(lk.dir, "seed"))
		require.True(t, os.IsNotExist(err), "a keyless node has no seed")
	}
	ensureConnected(t, lk)
	events := watchEvents(t, lk)
	sub := subscribeCustom(t, alice)
	steps.done("connected; subscribecustom and lnkit's event stream running")

	marker := customMsg{peer: lk.ID(), typ: 40001, data: "6c6e6b6974"} // "lnkit"
	waitFor(t, 30*time.Second, func() (bool, string) {
		if sub.has(marker) {
			return true, ""
		}
		_, err := lk.Client().SendCustomMessage(ctx(t, 10*time.Second),
			nodeapi.SendCustomMessageParams{Peer: alice.id(), Type: marker.typ, Data: marker.data})
		require.NoError(t, err)
		return false, "lnkit's message not in subscribecustom's output"
	})
	steps.done("lnkit sendcustommessage → lncli subscribecustom")

	data := hex.EncodeToString([]byte(fmt.Sprintf("ping-app %d", time.Now().UnixNano())))
	alice.must(t, nil, "sendcustom", "--peer", lk.ID(), "--type", "32769", "--data", data)
	e := events.wait(t, "custom_message", func(e nodeapi.Event) bool {
		return e.Type == "custom_message" && e.MsgType == 32769 && e.Data == data
	})
	require.Equal(t, alice.id(), e.NodeID)
	steps.done("lncli sendcustom 32769 → lnkit's event stream")

	echo := customMsg{peer: lk.ID(), typ: 32771, data: data}
	waitFor(t, 30*time.Second, func() (bool, string) { return sub.has(echo), "no echo reply in subscribecustom's output" })
	steps.done("lnkit's echo reply 32771 → lncli subscribecustom")

	// A wrong request is refused by lnkit before it reaches the wire.
	_, err := lk.Client().SendCustomMessage(ctx(t, 10*time.Second),
		nodeapi.SendCustomMessageParams{Peer: alice.id(), Type: 256, Data: "00"})
	require.ErrorContains(t, err, "below 32768")
}
