package main

import (
	"bytes"
	"encoding/hex"
	"flag"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Every option of the node is documented in exactly one section of the config file, and the file as
// written (every line commented out) changes nothing.
func TestConfigDocCoversEveryOption(t *testing.T) {
	seen := map[string]int{}
	for _, s := range configSections {
		for _, name := range s.names {
			seen[name]++
		}
	}
	fs := newFlagSet(&Config{})
	fs.VisitAll(func(f *flag.Flag) {
		require.Equalf(t, 1, seen[f.Name], "option %q must be in exactly one configSections entry", f.Name)
		delete(seen, f.Name)
	})
	require.Empty(t, seen, "configSections names options that do not exist")

	doc, err := sampleConfig()
	require.NoError(t, err)
	fs.VisitAll(func(f *flag.Flag) {
		if cmdLineOnly[f.Name] {
			require.Containsf(t, string(doc), "# (command line only: -"+f.Name, "option %q", f.Name)
			return
		}
		require.Containsf(t, string(doc), "\n# "+f.Name+" =", "option %q has no line", f.Name)
	})
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lnkit-node.conf"), doc, 0o600))
	withDoc, _, err := parseConfig([]string{"-datadir", dir})
	require.NoError(t, err)
	without, _, err := parseConfig([]string{"-datadir", dir, "-config", os.DevNull})
	require.NoError(t, err)
	withDoc.ConfigFile, without.ConfigFile = "", ""
	require.Equal(t, without, withDoc, "the commented-out file must change nothing")
}

// Each documented default, uncommented, is a value the node accepts and is the flag's default.
func TestConfigDocDefaultsParse(t *testing.T) {
	doc, err := sampleConfig()
	require.NoError(t, err)
	var lines []string
	for _, l := range strings.Split(string(doc), "\n") {
		name, value, ok := strings.Cut(strings.TrimPrefix(l, "# "), " = ")
		if !strings.HasPrefix(l, "# ") || !ok || newFlagSet(&Config{}).Lookup(name) == nil || value == "" {
			continue
		}
		lines = append(lines, name+" = "+value)
	}
	require.Greater(t, len(lines), 20, "most options have a plain default")
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "lnkit-node.conf"), []byte(strings.Join(lines, "\n")+"\n"), 0o600))
	got, _, err := parseConfig([]string{"-datadir", dir})
	require.NoError(t, err)
	want, _, err := parseConfig([]string{"-datadir", dir, "-config", os.DevNull})
	require.NoError(t, err)
	got.ConfigFile, want.ConfigFile = "", ""
	require.Equal(t, want, got)
}

// examples/node/lnkit-node.conf.sample is what `lnkit-node sampleconfig` prints (regenerate it with
// LNKIT_UPDATE_SAMPLE=1 go test -run TestSampleConfigFile .).
func TestSampleConfigFile(t *testing.T) {
	doc, err := sampleConfig()
	require.NoError(t, err)
	if os.Getenv("LNKIT_UPDATE_SAMPLE") == "1" {
		require.NoError(t, os.WriteFile("lnkit-node.conf.sample", doc, 0o644))
	}
	committed, err := os.ReadFile("lnkit-node.conf.sample")
	require.NoError(t, err)
	require.Equal(t, string(doc), string(committed), "lnkit-node.conf.sample is stale: regenerate it")

	var out, errOut bytes.Buffer
	require.Equal(t, 0, run([]string{"-datadir", t.TempDir(), "sampleconfig"}, &out, &errOut), errOut.String())
	require.Equal(t, doc, out.Bytes())
}

// The first run creates the seed and a documented config file and says where they are and how to back
// the seed up (without printing the seed); a second run says nothing.
func TestFirstRunSaysWhereTheSeedIsAndHowToBackItUp(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "node")
	cfg, _, err := parseConfig([]string{"-datadir", dir, "-network", "regtest"})
	require.NoError(t, err)
	fr := checkFirstRun(cfg)
	require.NoError(t, os.MkdirAll(dir, 0o700))
	seed, err := loadSeed(dir) // what NewNode does
	require.NoError(t, err)
	fr.writeConfig()
	var msg bytes.Buffer
	fr.report(&msg)
	out := msg.String()
	seedPath := filepath.Join(dir, "seed")
	require.Contains(t, out, "A new seed was created: "+seedPath)
	require.Contains(t, out, "Back it up now")
	require.Contains(t, out, "cp "+seedPath)
	require.Contains(t, out, filepath.Join(dir, "regtest", "store"), "says where channel state is")
	require.Contains(t, out, filepath.Join(dir, "lnkit-node.conf"))
	require.NotContains(t, out, hex.EncodeToString(seed[:]), "the seed itself is never printed")

	st, err := os.Stat(filepath.Join(dir, "lnkit-node.conf"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	again, _, err := parseConfig([]string{"-datadir", dir})
	require.NoError(t, err, "the written config file parses")
	require.Equal(t, cfg.Listen, again.Listen)

	second := checkFirstRun(again)
	_, err = loadSeed(dir)
	require.NoError(t, err)
	second.writeConfig()
	msg.Reset()
	second.report(&msg)
	require.Empty(t, msg.String(), "nothing to say on later runs")
}

// A keyless node (-signer) creates no seed: the message points at the signer instead.
func TestFirstRunKeyless(t *testing.T) {
	dir := t.TempDir()
	cfg, _, err := parseConfig([]string{"-datadir", dir, "-store", "sqlite", "-signer", "127.0.0.1:9"})
	require.NoError(t, err)
	fr := checkFirstRun(cfg)
	fr.writeConfig()
	var msg bytes.Buffer
	fr.report(&msg)
	require.NotContains(t, msg.String(), "A new seed")
	require.Contains(t, msg.String(), "back up its seed")
	require.Contains(t, msg.String(), filepath.Join(dir, "regtest", "store.sqlite"))
	require.NoFileExists(t, filepath.Join(dir, "seed"))
}

// The real binary's first start (run, as main calls it) says where the seed is and how to back it up;
// its second start does not.
func TestFirstRunOfTheDaemon(t *testing.T) {
	btcd := newFakeBtcd(t)
	dir := filepath.Join(t.TempDir(), "fresh")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	rpc := l.Addr().String()
	require.NoError(t, l.Close())
	args := []string{"-datadir", dir, "-btcd.rpchost", btcd.addr(), "-btcd.notls", "-btcd.rpcuser", "u", "-btcd.rpcpass", "p", "-listen", "off", "-rpclisten", rpc,
		"-gossip=false"}
	start := func() string {
		var stderr syncBuffer
		done := make(chan int, 1)
		go func() { done <- run(args, io.Discard, &stderr) }()
		require.Eventually(t, func() bool {
			return run(append(append([]string{}, args...), "getinfo"), io.Discard, io.Discard) == 0
		}, 30*time.Second, 50*time.Millisecond, "the node did not start: %s", stderr.String())
		require.Equal(t, 0, run(append(append([]string{}, args...), "stop"), io.Discard, io.Discard))
		select {
		case code := <-done:
			require.Equal(t, 0, code, stderr.String())
		case <-time.After(30 * time.Second):
			t.Fatal("the node did not stop")
		}
		return stderr.String()
	}
	first := start()
	require.Contains(t, first, "A new seed was created: "+filepath.Join(dir, "seed"))
	require.Contains(t, first, "A config file documenting every option was written: "+filepath.Join(dir, "lnkit-node.conf"))
	require.FileExists(t, filepath.Join(dir, "lnkit-node.conf"))
	second := start()
	require.NotContains(t, second, "first run")
	require.NotContains(t, second, "A new seed")
}
