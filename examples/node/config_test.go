package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestConfigFileAndFlags(t *testing.T) {
	dir := t.TempDir()
	conf := "# a comment\nnetwork = regtest\nbtcd.rpcuser = alice\nbtcd.rpcpass = secret # trailing comment\nbtcd.notls\ntick.manager = 5s\nlisten = 127.0.0.1:1234\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lnkit-node.conf"), []byte(conf), 0o600))
	cfg, rest, err := parseConfig([]string{"-datadir", dir, "-listen", "127.0.0.1:9999", "getinfo"})
	require.NoError(t, err)
	require.Equal(t, []string{"getinfo"}, rest)
	require.Equal(t, "alice", cfg.BtcdRPCUser)
	require.Equal(t, "secret", cfg.BtcdRPCPass)
	require.True(t, cfg.BtcdNoTLS)
	require.Equal(t, 5*time.Second, cfg.ManagerTick)
	require.Equal(t, "127.0.0.1:9999", cfg.Listen, "the command line wins over the file")
	require.Equal(t, "127.0.0.1:9835", cfg.RPCListen)
	require.Equal(t, "127.0.0.1:18334", cfg.BtcdRPCHost)
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	_, _, err := parseConfig([]string{"-datadir", dir, "-network", "moon"})
	require.ErrorContains(t, err, "unknown network")
	require.NoError(t, os.WriteFile(filepath.Join(dir, "bad.conf"), []byte("nosuchoption = 1\n"), 0o600))
	_, _, err = parseConfig([]string{"-datadir", dir, "-config", filepath.Join(dir, "bad.conf")})
	require.ErrorContains(t, err, "unknown option")
	_, _, err = parseConfig([]string{"-datadir", dir, "-tick.peer", "0s"})
	require.Error(t, err)
}

func TestSeedFileIsPrivateAndStable(t *testing.T) {
	dir := t.TempDir()
	s1, err := loadSeed(dir)
	require.NoError(t, err)
	st, err := os.Stat(filepath.Join(dir, "seed"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	s2, err := loadSeed(dir)
	require.NoError(t, err)
	require.Equal(t, s1, s2)
	require.NotEqual(t, [32]byte{}, s1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "seed"), []byte("zz\n"), 0o600))
	_, err = loadSeed(dir)
	require.Error(t, err)
}

func TestOnChainFlags(t *testing.T) {
	dir := t.TempDir()
	cfg, _, err := parseConfig([]string{"-datadir", dir})
	require.NoError(t, err)
	require.EqualValues(t, 10_000, cfg.AnchorReserveSat, "lnd's 10,000 sat per anchor channel")
	require.EqualValues(t, 100_000, cfg.AnchorMaxReserveSat, "lnd's cap")
	require.Equal(t, 10*time.Minute, cfg.ArchiveEvery)
	cfg, _, err = parseConfig([]string{"-datadir", dir, "-anchor.reserve", "0", "-tick.archive", "5s"})
	require.NoError(t, err)
	require.Zero(t, cfg.AnchorReserveSat)
	require.Equal(t, 5*time.Second, cfg.ArchiveEvery)
	_, _, err = parseConfig([]string{"-datadir", dir, "-anchor.maxreserve", "-1"})
	require.ErrorContains(t, err, "must not be negative")
	_, _, err = parseConfig([]string{"-datadir", dir, "-tick.archive", "0s"})
	require.ErrorContains(t, err, "positive")
}

// TestConfigFileComments: `#` starts a comment at the start of a line or after a space or tab, not
// inside a value (a password with a `#`).
func TestConfigFileComments(t *testing.T) {
	dir := t.TempDir()
	conf := "  # indented comment\nbtcd.rpcpass = a#b\nalias = x#y\t# after a tab\nbtcd.rpcuser = u # after a space\n#network = mainnet\n"
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lnkit-node.conf"), []byte(conf), 0o600))
	cfg, _, err := parseConfig([]string{"-datadir", dir})
	require.NoError(t, err)
	require.Equal(t, "a#b", cfg.BtcdRPCPass)
	require.Equal(t, "x#y", cfg.Alias)
	require.Equal(t, "u", cfg.BtcdRPCUser)
	require.Equal(t, "regtest", cfg.Network)
	require.Equal(t, "a ", stripComment("a #b"))
	require.Equal(t, "", stripComment("#"))
	require.Equal(t, "color=#3399ff", stripComment("color=#3399ff"))
}

// TestHelpWithoutNode: help needs no running node (no cookie in the datadir); a command that calls the
// node says how to start one.
func TestHelpWithoutNode(t *testing.T) {
	cfg := &Config{DataDir: t.TempDir(), RPCListen: "127.0.0.1:1"}
	var out, errOut bytes.Buffer
	require.Equal(t, 0, runCLI(cfg, []string{"help"}, &out, &errOut), errOut.String())
	require.Contains(t, out.String(), "payinvoice")
	require.Contains(t, out.String(), "sampleconfig", "the commands of a stopped node are listed too")
	require.Contains(t, out.String(), "migrate -from")
	out.Reset()
	require.Equal(t, 0, runCLI(cfg, []string{"payinvoice", "--help"}, &out, &errOut))
	require.Contains(t, out.String(), "approval")
	errOut.Reset()
	require.Equal(t, 1, runCLI(cfg, []string{"getinfo"}, &out, &errOut))
	require.Contains(t, errOut.String(), "is the node running?")
}
