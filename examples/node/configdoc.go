package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"strings"
)

// configSection groups options in the documented config file (lnkit-node.conf.sample, and the file a
// first run writes): a title, a paragraph on what they are for, and the flag names in order.
type configSection struct {
	title string
	about string
	names []string
}

// configSections lists every option of newFlagSet once. TestConfigDocCoversEveryOption fails when a flag
// is missing here, so a new option cannot go undocumented.
var configSections = []configSection{
	{"Files and network", "Where the node keeps its files, and which Bitcoin network it runs on. datadir and config " +
		"are read from the command line only (a config file cannot move the directory it lives in).",
		[]string{"datadir", "config", "network"}},
	{"btcd", "The node follows the chain and broadcasts through btcd's RPC server.",
		[]string{"btcd.rpchost", "btcd.rpcuser", "btcd.rpcpass", "btcd.rpccert", "btcd.notls", "feeurl"}},
	{"Store", "Where channel state, payments and the wallet's records are kept. Back it up: see the first-run " +
		"message (README.md, \"First run and backups\").",
		[]string{"store", "postgres.dsn", "postgres.timeout", "lease.duration", "lease.renew", "lease.poll"}},
	{"Remote signer", "With -signer the node holds no private key (examples/signer, README.md \"A remote signer\").",
		[]string{"signer", "signer-pubkey", "require-approval"}},
	{"Listening", "The Lightning port (BOLT 8) and the loopback control APIs (JSON-RPC with the web page, and gRPC; " +
		"authenticated by <datadir>/.cookie).",
		[]string{"listen", "rpclisten", "grpclisten"}},
	{"Peer messages", "Every peer's channel and custom messages pass through examples/proxy: a per-peer rate " +
		"limit, and the ping-app echo over custom messages (README.md, \"Custom messages and the message proxy\").",
		[]string{"peer-msg-rate", "peer-msg-burst", "custom-echo"}},
	{"Gossip and announcement", "BOLT 7: the network graph, and what we announce about ourselves.",
		[]string{"gossip", "gossip.verifyfunding", "alias", "color", "announceaddr"}},
	{"On-chain reserve", "Wallet funds kept back to fee-bump force closes of anchor channels.",
		[]string{"anchor.reserve", "anchor.maxreserve"}},
	{"Timers", "The host's timers: lnkit counts only the ticks it is given.",
		[]string{"tick.peer", "tick.manager", "tick.chain", "tick.fees", "tick.archive", "tick.gossip", "tick.graph",
			"tick.nodeann"}},
	{"Logging", "", []string{"loglevel"}},
}

// cmdLineOnly are the options a config file cannot set (applyConfigFile skips them).
var cmdLineOnly = map[string]bool{"datadir": true, "config": true}

// configDocDefaults replaces defaults that depend on the machine or the network in the documented file.
var configDocDefaults = map[string]string{
	"datadir":      "~/.lnkit-node",
	"listen":       "0.0.0.0:9735 (testnet 19735, signet 39735)",
	"rpclisten":    "127.0.0.1:9835 (testnet 19835, signet 39835)",
	"btcd.rpchost": "127.0.0.1:18334 on regtest and testnet, 38332 on signet, 8334 on mainnet",
	"btcd.rpccert": "~/.btcd/rpc.cert",
	"config":       "<datadir>/lnkit-node.conf",
}

// writeConfigDoc writes a config file documenting every option of fs: per section, each option's
// description, its default and a commented-out `name = default` line, so the file changes nothing
// until a line is uncommented.
func writeConfigDoc(w io.Writer, fs *flag.FlagSet) error {
	var b bytes.Buffer
	b.WriteString(`# lnkit-node configuration.
#
# One option per line as "name = value": the command-line flags without the dash. A bare name sets a
# boolean option (btcd.notls). "#" starts a comment at the start of a line or after a space; inside a value
# ("btcd.rpcpass = a#b") it does not. Options given on the command line win over this file.
#
# The node reads <datadir>/lnkit-node.conf, or the file -config names. Every option below is commented
# out and shows its default: uncomment a line to change it. "lnkit-node sampleconfig" prints this file.
`)
	for _, s := range configSections {
		fmt.Fprintf(&b, "\n# ---- %s ----\n", s.title)
		if s.about != "" {
			writeWrapped(&b, s.about, "# ")
		}
		for _, name := range s.names {
			f := fs.Lookup(name)
			if f == nil {
				return fmt.Errorf("config doc: no option %q", name)
			}
			b.WriteString("\n")
			writeWrapped(&b, f.Usage, "# ")
			if cmdLineOnly[name] {
				fmt.Fprintf(&b, "# (command line only: -%s; default: %s)\n", name, configDocDefaults[name])
				continue
			}
			def, ok := configDocDefaults[name]
			if !ok {
				def = f.DefValue
			}
			if def == "" {
				fmt.Fprintf(&b, "# (default: none)\n# %s =\n", name)
			} else if !ok {
				fmt.Fprintf(&b, "# %s = %s\n", name, def)
			} else {
				fmt.Fprintf(&b, "# (default: %s)\n# %s =\n", def, name)
			}
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// writeWrapped writes text as lines of at most ~100 characters, each starting with prefix.
func writeWrapped(b *bytes.Buffer, text, prefix string) {
	line := prefix
	for _, word := range strings.Fields(text) {
		if len(line) > len(prefix) && len(line)+1+len(word) > 100 {
			b.WriteString(line + "\n")
			line = prefix
		}
		if len(line) > len(prefix) {
			line += " "
		}
		line += word
	}
	if len(line) > len(prefix) {
		b.WriteString(line + "\n")
	}
}

// sampleConfig returns the documented config file for the node's flags.
func sampleConfig() ([]byte, error) {
	var b bytes.Buffer
	err := writeConfigDoc(&b, newFlagSet(&Config{}))
	return b.Bytes(), err
}
