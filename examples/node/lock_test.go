//go:build darwin || dragonfly || freebsd || linux || netbsd || openbsd

package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

// lockHelperEnv, set to a directory, turns the test binary into a helper process that locks the
// directory, prints "locked" and holds the lock until its stdin closes or it is killed.
const lockHelperEnv = "LNKIT_NODE_TEST_LOCK_HELPER"

func TestMain(m *testing.M) {
	if dir := os.Getenv(lockHelperEnv); dir != "" {
		os.Exit(holdLock(dir))
	}
	os.Exit(m.Run())
}

func holdLock(dir string) int {
	lock, err := lockDataDir(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer lock.release()
	fmt.Println("locked")
	_, _ = io.Copy(io.Discard, os.Stdin)
	return 0
}

// inUseMessage is the error text for dir held by pid.
func inUseMessage(dir string, pid int) string {
	return fmt.Sprintf("data directory %s is in use by another lnkit-node process (pid %d)", dir, pid)
}

func readLockFile(t *testing.T, dir string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, lockFileName))
	require.NoError(t, err)
	return string(b)
}

func TestDataDirLockExcludesUntilReleased(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data") // created by lockDataDir
	first, err := lockDataDir(dir)
	require.NoError(t, err)
	st, err := os.Stat(dir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), st.Mode().Perm())
	st, err = os.Stat(filepath.Join(dir, lockFileName))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	require.Equal(t, fmt.Sprintf("%d\n", os.Getpid()), readLockFile(t, dir))

	_, err = lockDataDir(dir)
	require.ErrorIs(t, err, ErrDataDirInUse)
	require.EqualError(t, err, inUseMessage(dir, os.Getpid()))
	var inUse *DataDirInUseError
	require.ErrorAs(t, err, &inUse)
	require.Equal(t, DataDirInUseError{Dir: dir, PID: os.Getpid()}, *inUse)

	// Without a PID in the file the message leaves it out.
	require.NoError(t, os.WriteFile(filepath.Join(dir, lockFileName), nil, 0o600))
	_, err = lockDataDir(dir)
	require.ErrorIs(t, err, ErrDataDirInUse)
	require.EqualError(t, err, "data directory "+dir+" is in use by another lnkit-node process")

	first.release()
	require.Empty(t, readLockFile(t, dir), "release empties the file")
	second, err := lockDataDir(dir)
	require.NoError(t, err)
	second.release()
}

// startLockHolder runs the test binary as a helper process holding dir's lock.
func startLockHolder(t *testing.T, dir string) *exec.Cmd {
	exe, err := os.Executable()
	require.NoError(t, err)
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+dir)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	require.NoError(t, err)
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		_ = stdin.Close()
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "the helper process did not take the lock")
	require.Equal(t, "locked\n", line)
	return cmd
}

func TestDataDirLockHeldByAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	holder := startLockHolder(t, dir)
	pid := holder.Process.Pid

	_, err := lockDataDir(dir)
	require.ErrorIs(t, err, ErrDataDirInUse)
	require.EqualError(t, err, inUseMessage(dir, pid))

	// kill -9: the kernel drops the lock; the file and its PID stay behind and do not block.
	require.NoError(t, holder.Process.Signal(syscall.SIGKILL))
	require.Error(t, holder.Wait())
	require.Equal(t, fmt.Sprintf("%d\n", pid), readLockFile(t, dir))
	lock, err := lockDataDir(dir)
	require.NoError(t, err)
	defer lock.release()
	require.Equal(t, fmt.Sprintf("%d\n", os.Getpid()), readLockFile(t, dir))
}

func TestNodeRefusesLockedDataDir(t *testing.T) {
	dir := t.TempDir()
	lock, err := lockDataDir(dir)
	require.NoError(t, err)
	defer lock.release()

	var stdout, stderr bytes.Buffer
	// A btcd that is not there, so that a start that got past the lock would fail rather than hang.
	code := run([]string{"-datadir", dir, "-btcd.rpchost", "127.0.0.1:1", "-btcd.notls", "-listen", "off",
		"-rpclisten", "127.0.0.1:0"}, &stdout, &stderr)
	require.Equal(t, 1, code)
	require.Contains(t, stderr.String(), inUseMessage(dir, os.Getpid()))

	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "the refused node wrote nothing")
	require.Equal(t, lockFileName, entries[0].Name())
	require.Equal(t, fmt.Sprintf("%d\n", os.Getpid()), readLockFile(t, dir))
}

func TestCLICommandDoesNotTakeTheLock(t *testing.T) {
	dir := t.TempDir()
	lock, err := lockDataDir(dir)
	require.NoError(t, err)
	defer lock.release()
	token, err := nodeapi.WriteCookie(dir)
	require.NoError(t, err)
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			ID     uint64 `json:"id"`
			Method string `json:"method"`
		}
		_ = json.NewDecoder(r.Body).Decode(&req)
		if _, pass, _ := r.BasicAuth(); pass != token || req.Method != nodeapi.MethodGetInfo {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		fmt.Fprintf(w, `{"jsonrpc":"2.0","id":%d,"result":{"node_id":"02ab"}}`, req.ID)
	}))
	defer api.Close()

	var stdout, stderr bytes.Buffer
	code := run([]string{"-datadir", dir, "-rpclisten", strings.TrimPrefix(api.URL, "http://"), "getinfo"}, &stdout, &stderr)
	require.Equal(t, 0, code, stderr.String())
	require.Contains(t, stdout.String(), `"node_id": "02ab"`)
}
