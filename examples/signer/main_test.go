package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/signerlink"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/keys/remote"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader on different goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// printed returns the hex value printed after label on out.
func printed(t *testing.T, out, label string) string {
	t.Helper()
	for _, line := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(line, label+": "); ok {
			return v
		}
	}
	t.Fatalf("%q not printed in %q", label, out)
	return ""
}

// startRun runs the signer with cfg and returns its address once it listens.
func startRun(t *testing.T, cfg *config) (addr string, out *syncBuffer, stop func()) {
	t.Helper()
	ready := make(chan net.Addr, 1)
	cfg.ready = func(a net.Addr) { ready <- a }
	out = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, cfg, out, slog.New(slog.NewTextHandler(io.Discard, nil))) }()
	select {
	case a := <-ready:
		addr = a.String()
	case err := <-done:
		t.Fatalf("run: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("signer did not start")
	}
	stop = func() {
		cancel()
		require.ErrorIs(t, <-done, context.Canceled)
	}
	return addr, out, stop
}

// TestRunServesNode starts lnkit-signer on a fresh datadir, links a node to it, and checks ECDH against
// the seed's KeysManager; a restart keeps the seed and the link key.
func TestRunServesNode(t *testing.T) {
	dir := t.TempDir()
	nodeKey, err := btcec.NewPrivateKey()
	require.NoError(t, err)
	cfg := &config{DataDir: filepath.Join(dir, "signer"), Listen: "127.0.0.1:0", NodeLinkKey: nodeKey.PubKey()}
	addr, out, stop := startRun(t, cfg)
	require.Contains(t, out.String(), "created a new seed")
	for _, name := range []string{"seed", "link_key"} {
		fi, err := os.Stat(filepath.Join(cfg.DataDir, name))
		require.NoError(t, err)
		require.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), name)
	}
	fi, err := os.Stat(cfg.DataDir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o700), fi.Mode().Perm())

	signerPubHex := printed(t, out.String(), "signer link key")
	b, err := hex.DecodeString(signerPubHex)
	require.NoError(t, err)
	signerPub, err := btcec.ParsePubKey(b)
	require.NoError(t, err)
	seed, err := os.ReadFile(filepath.Join(cfg.DataDir, "seed"))
	require.NoError(t, err)
	km := keys.NewKeysManager([32]byte(seed), 1, 1)
	require.Equal(t, hex.EncodeToString(km.GetNodeID().SerializeCompressed()), printed(t, out.String(), "node id"))

	client := remote.NewClient(remote.ClientConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	dialed := make(chan error, 1)
	go func() { dialed <- signerlink.Dial(ctx, addr, nodeKey, signerPub, client) }()
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	require.NoError(t, client.WaitConnected(wctx))
	peer, _ := btcec.NewPrivateKey()
	got, err := client.ECDH(peer.PubKey())
	require.NoError(t, err)
	want, _ := km.ECDH(peer.PubKey())
	require.Equal(t, want, got)
	require.True(t, km.GetNodeID().IsEqual(client.GetNodeID()))
	cancel()
	require.ErrorIs(t, <-dialed, context.Canceled)
	stop()

	_, out2, stop2 := startRun(t, cfg)
	defer stop2()
	require.NotContains(t, out2.String(), "created a new seed")
	require.Equal(t, signerPubHex, printed(t, out2.String(), "signer link key"))
	require.Equal(t, printed(t, out.String(), "node id"), printed(t, out2.String(), "node id"))
}

// TestRunWithoutNodeKey creates and prints the keys, then stops.
func TestRunWithoutNodeKey(t *testing.T) {
	var out bytes.Buffer
	err := run(t.Context(), &config{DataDir: t.TempDir(), Listen: "127.0.0.1:0"}, &out, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.ErrorIs(t, err, errNoNodeKey)
	require.Len(t, printed(t, out.String(), "signer link key"), 66)
}

// countingInner is a policy stand-in: it counts the node id requests it answers.
type countingInner struct {
	*keys.KeysManager
	n *atomic.Int32
}

func (c countingInner) GetNodeID() *btcec.PublicKey { c.n.Add(1); return c.KeysManager.GetNodeID() }

// TestRunWrap serves the signer Wrap returns.
func TestRunWrap(t *testing.T) {
	nodeKey, _ := btcec.NewPrivateKey()
	var calls atomic.Int32
	var wrappedDir string
	cfg := &config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", NodeLinkKey: nodeKey.PubKey(),
		Wrap: func(km *keys.KeysManager, dir string) (remote.Inner, error) {
			wrappedDir = dir
			return countingInner{km, &calls}, nil
		}}
	addr, out, stop := startRun(t, cfg)
	defer stop()
	require.Equal(t, cfg.DataDir, wrappedDir)
	b, _ := hex.DecodeString(printed(t, out.String(), "signer link key"))
	signerPub, err := btcec.ParsePubKey(b)
	require.NoError(t, err)
	client := remote.NewClient(remote.ClientConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	go func() { _ = signerlink.Dial(ctx, addr, nodeKey, signerPub, client) }()
	require.NotNil(t, client.GetNodeID())
	require.Equal(t, int32(1), calls.Load())

	cfg2 := &config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", NodeLinkKey: nodeKey.PubKey(),
		Wrap: func(*keys.KeysManager, string) (remote.Inner, error) { return nil, errors.New("no policy state") }}
	err = run(t.Context(), cfg2, io.Discard, slog.New(slog.NewTextHandler(io.Discard, nil)))
	require.ErrorContains(t, err, "no policy state")
}

// TestListenAddress refuses addresses other than loopback without -allow-remote.
func TestListenAddress(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:9736": true, "[::1]:9736": true, "localhost:9736": true,
		"0.0.0.0:9736": false, "192.168.1.5:9736": false, ":9736": false, "nonsense": false} {
		err := checkListen(addr, false)
		require.Equal(t, ok, err == nil, addr)
	}
	require.NoError(t, checkListen("0.0.0.0:9736", true))
	err := run(t.Context(), &config{DataDir: t.TempDir(), Listen: "0.0.0.0:0"}, io.Discard, nil)
	require.ErrorContains(t, err, "allow-remote")
}

// TestFlags parses the command line.
func TestFlags(t *testing.T) {
	k, _ := btcec.NewPrivateKey()
	cfg, err := parseFlags([]string{"-datadir", "/x", "-listen", "127.0.0.1:1", "-node-link-key",
		hex.EncodeToString(k.PubKey().SerializeCompressed())}, io.Discard)
	require.NoError(t, err)
	require.Equal(t, "/x", cfg.DataDir)
	require.True(t, k.PubKey().IsEqual(cfg.NodeLinkKey))
	for _, bad := range []string{"zz", hex.EncodeToString(k.PubKey().SerializeUncompressed()), "02"} {
		_, err = parseFlags([]string{"-node-link-key", bad}, io.Discard)
		require.Error(t, err, bad)
		_, err = parseFlags([]string{"-client-key", bad}, io.Discard)
		require.Error(t, err, bad)
	}

	// The defaults: policy on, no client key, the wallet on regtest with funding outputs allowed.
	require.True(t, cfg.Policy)
	require.Nil(t, cfg.ClientKey)
	require.Same(t, &chaincfg.RegressionNetParams, cfg.Wallet.Net)
	require.Equal(t, uint32(defaultScanBound), cfg.Wallet.ScanBound)
	require.True(t, cfg.Wallet.AllowFunding)
	require.Empty(t, cfg.Wallet.AllowScripts)

	cfg, err = parseFlags([]string{"-policy=false", "-client-key", hex.EncodeToString(k.PubKey().SerializeCompressed()),
		"-network", "testnet", "-wallet-scan-bound", "300", "-allow-funding=false", "-allow-script", "0014" + strings.Repeat("ab", 20),
		"-allow-script", "51"}, io.Discard)
	require.NoError(t, err)
	require.False(t, cfg.Policy)
	require.True(t, k.PubKey().IsEqual(cfg.ClientKey))
	require.Same(t, &chaincfg.TestNet3Params, cfg.Wallet.Net)
	require.Equal(t, uint32(300), cfg.Wallet.ScanBound)
	require.False(t, cfg.Wallet.AllowFunding)
	require.Equal(t, [][]byte{append([]byte{0, 0x14}, bytes.Repeat([]byte{0xab}, 20)...), {0x51}}, cfg.Wallet.AllowScripts)
	for _, bad := range [][]string{{"-network", "bitcoin"}, {"-wallet-scan-bound", "0"}, {"-allow-script", "zz"},
		{"-allow-script", ""}} {
		_, err = parseFlags(bad, io.Discard)
		require.Error(t, err, bad)
	}
}
