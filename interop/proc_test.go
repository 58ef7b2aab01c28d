//go:build interop

package interop

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is one child process (btcd, an lnd, the lnkit node) with its output appended to a log file.
type proc struct {
	name    string
	logPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited and been reaped
	err     error         // Wait's result, valid once done is closed
}

// startProc starts bin with args, appending its stdout and stderr to logPath. The child gets SIGKILL if
// the test binary dies (Pdeathsig), so that no daemon outlives an aborted run.
func startProc(name, logPath, bin string, args ...string) (*proc, error) {
	f, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "\n=== %s: %s %s\n", time.Now().Format(time.RFC3339Nano), bin, strings.Join(args, " "))
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	// Pdeathsig fires when the thread that forked exits: keep this goroutine on its thread while forking.
	runtime.LockOSThread()
	err = cmd.Start()
	runtime.UnlockOSThread()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("starting %s: %w", name, err)
	}
	p := &proc{name: name, logPath: logPath, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		f.Close()
		close(p.done)
	}()
	return p, nil
}

// exited reports whether the process has ended (and how).
func (p *proc) exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// stop sends SIGTERM and waits up to timeout, then SIGKILLs.
func (p *proc) stop(timeout time.Duration) {
	if done, _ := p.exited(); done {
		return
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(timeout):
		p.kill()
	}
}

// kill sends SIGKILL (kill -9) and waits until the process is reaped.
func (p *proc) kill() {
	if done, _ := p.exited(); done {
		return
	}
	_ = p.cmd.Process.Kill()
	<-p.done
}

// logTail returns the last n lines of the process's log, for failure messages.
func logTail(path string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// logLines returns the last n lines of a log that contain substr.
func logLines(path, substr string, n int) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return "(" + err.Error() + ")"
	}
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	if len(out) > n {
		out = out[len(out)-n:]
	}
	return strings.Join(out, "\n")
}

// portAllocator hands out free loopback ports, never the same one twice in a run.
type portAllocator struct {
	mu   sync.Mutex
	used map[int]bool
}

var ports = &portAllocator{used: map[int]bool{}}

// next returns "127.0.0.1:P" for a port that was free a moment ago (found by binding port 0).
func (a *portAllocator) next() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	for {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			panic(fmt.Sprintf("no free loopback port: %v", err))
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		if !a.used[port] {
			a.used[port] = true
			return fmt.Sprintf("127.0.0.1:%d", port)
		}
	}
}

// waitFor polls cond until it returns true or timeout passes; on timeout it fails the test with cond's
// last message and the caller's position. The poll interval starts at 50 ms and grows to 500 ms.
func waitFor(t testing.TB, timeout time.Duration, cond func() (bool, string)) {
	t.Helper()
	if err := poll(timeout, cond); err != nil {
		_, file, line, _ := runtime.Caller(1)
		t.Fatalf("%s:%d: %v", filepath.Base(file), line, err)
	}
}

// poll is waitFor without a test: it returns an error saying what was last seen on timeout.
func poll(timeout time.Duration, cond func() (bool, string)) error {
	start := time.Now()
	deadline := start.Add(timeout)
	interval := 50 * time.Millisecond
	for {
		ok, msg := cond()
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("condition not met after %v; last: %s", time.Since(start).Round(time.Millisecond), msg)
		}
		time.Sleep(interval)
		if interval < 500*time.Millisecond {
			interval = interval * 3 / 2
		}
	}
}

// errOf returns "" for nil and the error's text otherwise, for poll messages.
func errOf(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
