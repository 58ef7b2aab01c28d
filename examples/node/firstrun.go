package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// firstRun is what a node start found in its data directory before it created anything: whether the
// seed and the config file existed. The node's first start creates the seed (NewNode) and a documented
// config file; report then tells the user where they are and how to back the seed up.
type firstRun struct {
	cfg        *Config
	seedPath   string
	hadSeed    bool
	confPath   string // the default config file, written on the first run unless -config names one
	hadConfig  bool
	wroteConf  bool
	confErr    error
	storeWhere string
}

// checkFirstRun looks at cfg's data directory before the node starts.
func checkFirstRun(cfg *Config) *firstRun {
	fr := &firstRun{cfg: cfg, seedPath: filepath.Join(cfg.DataDir, "seed"),
		confPath: filepath.Join(cfg.DataDir, "lnkit-node.conf"), storeWhere: storeLocation(cfg)}
	fr.hadSeed = exists(fr.seedPath)
	fr.hadConfig = cfg.ConfigFile != "" || exists(fr.confPath)
	return fr
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return !errors.Is(err, fs.ErrNotExist)
}

// storeLocation says where -store keeps the node's state, in words.
func storeLocation(cfg *Config) string {
	net := cfg.Network
	if p, err := networkParams(cfg.Network); err == nil {
		net = p.Name
	}
	switch cfg.Store {
	case storeSQLite:
		return filepath.Join(cfg.DataDir, net, sqliteFileName) + " (SQLite)"
	case storePostgres:
		return "the PostgreSQL database of -postgres.dsn"
	}
	return filepath.Join(cfg.DataDir, net, storeDirName) + " (a directory)"
}

// writeConfig writes the documented config file (every option commented out, so it changes nothing)
// when the data directory has none and -config names none. A failure is reported, not fatal.
func (fr *firstRun) writeConfig() {
	if fr.hadConfig {
		return
	}
	doc, err := sampleConfig()
	if err == nil {
		err = writeFileAtomic(fr.confPath, doc, 0o600)
	}
	fr.wroteConf, fr.confErr = err == nil, err
}

// report writes, after a successful start, what the first run created and how to back it up; on
// later runs it writes nothing. Keyless nodes (-signer) have no seed: the signer holds it.
func (fr *firstRun) report(w io.Writer) {
	newSeed := fr.cfg.Signer == "" && !fr.hadSeed && exists(fr.seedPath)
	if !newSeed && !fr.wroteConf && fr.confErr == nil {
		return
	}
	var b strings.Builder
	fmt.Fprintf(&b, "\nlnkit-node: first run in %s\n", fr.cfg.DataDir)
	if newSeed {
		fmt.Fprintf(&b, `
A new seed was created: %[1]s
(64 hex characters, readable only by this user). It is the node's identity and the key to every
coin of its wallet and every channel: anyone who reads it can take them, and nothing is recovered
without it.

Back it up now, before you fund the node:
  - copy it to storage that is offline and yours only, for example
        cp %[1]s /media/usb/lnkit-seed
    or write its 64 characters on paper (cat %[1]s) and keep the paper safe;
  - never send it anywhere, and delete any copy you do not control.

The seed alone gives back the node id and the wallet's keys (BIP 84, m/84'/coin'/0'), but this node
does not rescan old blocks for coins, and the seed does not restore channels: their state is in
%[2]s.
Back that up too, with the node stopped (or with the database's own backups for -store postgres).
Never run two copies of a node, and never run one from a copy older than its last payment: its peers
would see revoked state and could take the channels' funds.
`, fr.seedPath, fr.storeWhere)
	} else if fr.cfg.Signer != "" {
		fmt.Fprintf(&b, "\nThe keys are the signer's (-signer %s): back up its seed. Channel state is in %s.\n",
			fr.cfg.Signer, fr.storeWhere)
	}
	switch {
	case fr.wroteConf:
		fmt.Fprintf(&b, "\nA config file documenting every option was written: %s\n", fr.confPath)
		b.WriteString("(every line is commented out; uncomment one to change it).\n")
	case fr.confErr != nil:
		fmt.Fprintf(&b, "\nThe documented config file could not be written (%v); "+
			"`lnkit-node sampleconfig` prints it.\n", fr.confErr)
	}
	_, _ = io.WriteString(w, b.String()+"\n")
}
