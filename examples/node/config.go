package main

import (
	"bufio"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chaincfg"
)

// Config is the node's configuration: command-line flags, optionally preset from a config file of
// `name = value` lines (the flag names without the dash; a `#` at the start of a line or after a space
// starts a comment, one inside a value does not). Flags given on the command line win over the file.
type Config struct {
	DataDir    string
	ConfigFile string
	Network    string

	BtcdRPCHost string
	BtcdRPCUser string
	BtcdRPCPass string
	BtcdRPCCert string
	BtcdNoTLS   bool

	// Store is where the node keeps its state: fs (a directory, the default), sqlite (a file) or
	// postgres (PostgresDSN), all in <datadir>/<network> but the last.
	Store       string
	PostgresDSN string
	// PostgresTimeout bounds each store call and is the sessions' idle_in_transaction_session_timeout:
	// a leader stopped inside a transaction holds the lease key's lock no longer than that.
	PostgresTimeout time.Duration

	// Signer is a remote signer's host:port (examples/signer): the node then holds no private key and
	// asks it for every signature; SignerPubKey is the signer's link key (hex), pinned.
	Signer       string
	SignerPubKey string
	// RequireApproval refuses payinvoice and keysend without an approval: for a signer that checks
	// payments (lnkit-signer -client-key), which would refuse to sign for an unapproved one.
	RequireApproval bool

	Listen    string
	RPCListen string
	FeeURL    string
	LogLevel  string
	// GRPCListen is the gRPC control API's address (grpcapi), loopback only; "" or "off": none.
	GRPCListen string

	// Host timers (the library only counts the ticks it is given).
	PeerTick    time.Duration
	ManagerTick time.Duration
	ChainPoll   time.Duration
	FeeRefresh  time.Duration
	// ArchiveEvery is how often fully resolved channel monitors are archived (also once at start).
	ArchiveEvery time.Duration
	// GossipTick is how often the gossip sync is given the time; GraphSave how often the network
	// graph and the scorer are written to disk.
	GossipTick time.Duration
	GraphSave  time.Duration

	// Gossip: take part in BOLT 7 gossip (the graph is loaded and saved either way). GossipVerifyFunding:
	// check each channel_announcement's funding output on btcd (script, capacity, outpoint).
	Gossip              bool
	GossipVerifyFunding bool

	// Anchor reserve, in satoshis: openchannel keeps AnchorReserveSat in the wallet per anchor channel
	// (the new one included), at most AnchorMaxReserveSat, to pay for fee bumping (see onchain.go).
	AnchorReserveSat    int64
	AnchorMaxReserveSat int64

	// Our node_announcement (BOLT 7), broadcast once we have an announced channel and every
	// NodeAnnInterval: Alias (at most 32 bytes of UTF-8), Color (6 hex digits, rrggbb) and AnnounceAddr
	// (comma-separated host:port; only these are advertised, none by default). See announce.go.
	Alias           string
	Color           string
	AnnounceAddr    string
	NodeAnnInterval time.Duration

	// The lease of an active/passive pair (standby.go), with -store postgres.
	LeaseDuration time.Duration
	LeaseRenew    time.Duration
	LeasePoll     time.Duration

	// The message proxy (service_custom.go, examples/proxy): each peer may send PeerMsgRate channel and custom
	// messages per second with bursts of PeerMsgBurst (0 disables the limit); CustomEcho answers the
	// ping-app echo (custom type 32769).
	PeerMsgRate  float64
	PeerMsgBurst int
	CustomEcho   bool

	// openKV, set by tests, replaces -store; leaseAlways, set by tests, takes the lease on any store;
	// redialMin, set by tests, is the first delay between redials of a peer (default 500 ms).
	openKV      func() (*openedStore, error)
	leaseAlways bool
	redialMin   time.Duration
}

// networkParams maps -network to chain parameters.
func networkParams(name string) (*chaincfg.Params, error) {
	switch name {
	case "mainnet", "bitcoin":
		return &chaincfg.MainNetParams, nil
	case "testnet", "testnet3":
		return &chaincfg.TestNet3Params, nil
	case "signet":
		return &chaincfg.SigNetParams, nil
	case "regtest":
		return &chaincfg.RegressionNetParams, nil
	}
	return nil, fmt.Errorf("unknown network %q (want regtest, testnet, signet or mainnet)", name)
}

// defaultPorts gives the default p2p and control ports of a network.
func defaultPorts(network string) (p2p, rpc int) {
	switch network {
	case "testnet", "testnet3":
		return 19735, 19835
	case "signet":
		return 39735, 39835
	}
	return 9735, 9835 // mainnet and regtest
}

// defaultBtcdRPC gives btcd's default RPC port for a network.
func defaultBtcdRPC(network string) string {
	switch network {
	case "testnet", "testnet3":
		return "127.0.0.1:18334"
	case "signet":
		return "127.0.0.1:38332"
	case "regtest":
		return "127.0.0.1:18334"
	}
	return "127.0.0.1:8334"
}

// newFlagSet defines the node's flags on cfg.
func newFlagSet(cfg *Config) *flag.FlagSet {
	fs := flag.NewFlagSet("lnkit-node", flag.ContinueOnError)
	home, _ := os.UserHomeDir()
	fs.StringVar(&cfg.DataDir, "datadir", filepath.Join(home, ".lnkit-node"), "directory for the seed, channel state, wallet and cookie")
	fs.StringVar(&cfg.ConfigFile, "config", "", "config file of `name = value` lines (default <datadir>/lnkit-node.conf if it exists)")
	fs.StringVar(&cfg.Network, "network", "regtest", "regtest, testnet, signet or mainnet")
	fs.StringVar(&cfg.BtcdRPCHost, "btcd.rpchost", "", "btcd RPC host:port (default: btcd's port for the network on 127.0.0.1)")
	fs.StringVar(&cfg.BtcdRPCUser, "btcd.rpcuser", "", "btcd RPC user")
	fs.StringVar(&cfg.BtcdRPCPass, "btcd.rpcpass", "", "btcd RPC password")
	fs.StringVar(&cfg.BtcdRPCCert, "btcd.rpccert", "", "btcd RPC TLS certificate (default ~/.btcd/rpc.cert)")
	fs.BoolVar(&cfg.BtcdNoTLS, "btcd.notls", false, "talk to btcd without TLS")
	fs.StringVar(&cfg.Store, "store", storeFS, "where the state is kept: fs (<datadir>/<network>/store), sqlite (<datadir>/<network>/store.sqlite) or postgres (-postgres.dsn)")
	fs.StringVar(&cfg.PostgresDSN, "postgres.dsn", "", "PostgreSQL connection string for -store postgres (postgres://user:pass@host:5432/db)")
	fs.DurationVar(&cfg.PostgresTimeout, "postgres.timeout", 10*time.Second,
		"with -store postgres: the longest a store call may take (also PostgreSQL's idle_in_transaction_session_timeout)")
	fs.DurationVar(&cfg.LeaseDuration, "lease.duration", defaultLeaseDuration,
		"with -store postgres: how long the leader's lease lasts without renewal (a standby takes over after it)")
	fs.DurationVar(&cfg.LeaseRenew, "lease.renew", defaultLeaseRenew, "with -store postgres: how often the leader renews its lease")
	fs.DurationVar(&cfg.LeasePoll, "lease.poll", defaultLeasePoll, "with -store postgres: how often a standby checks the lease")
	fs.StringVar(&cfg.Listen, "listen", "", "Lightning p2p listen address (default 0.0.0.0:9735 on mainnet/regtest); \"off\" to not listen")
	fs.StringVar(&cfg.RPCListen, "rpclisten", "", "control API address, loopback only (default 127.0.0.1:9835); \"off\" for none")
	fs.StringVar(&cfg.GRPCListen, "grpclisten", "off", "gRPC control API address, loopback only (e.g. 127.0.0.1:10019; same cookie); \"off\" for none")
	fs.StringVar(&cfg.Signer, "signer", "", "a remote signer's host:port (examples/signer): the node holds no private key and asks it for every signature")
	fs.StringVar(&cfg.SignerPubKey, "signer-pubkey", "", "the remote signer's link public key (hex, 33 bytes), as lnkit-signer prints it; required with -signer")
	fs.BoolVar(&cfg.RequireApproval, "require-approval", false, "with -signer: refuse payinvoice and keysend without the user's approval (for a signer started with -client-key)")
	fs.StringVar(&cfg.FeeURL, "feeurl", "", "fee estimates from a URL in lnd's fee.url JSON format instead of btcd's estimatefee")
	fs.StringVar(&cfg.LogLevel, "loglevel", "info", "debug, info, warn or error")
	fs.DurationVar(&cfg.PeerTick, "tick.peer", 10*time.Second, "interval of PeerManager.TimerTickOccurred (pings)")
	fs.DurationVar(&cfg.ManagerTick, "tick.manager", 60*time.Second, "interval of ChannelManager.TimerTickOccurred (update_fee, retries)")
	fs.DurationVar(&cfg.ChainPoll, "tick.chain", 500*time.Millisecond, "how often btcd is polled for new blocks")
	fs.DurationVar(&cfg.FeeRefresh, "tick.fees", 30*time.Second, "how often fee estimates are refreshed")
	fs.DurationVar(&cfg.ArchiveEvery, "tick.archive", 10*time.Minute, "how often monitors of fully resolved channels are archived")
	fs.DurationVar(&cfg.GossipTick, "tick.gossip", 5*time.Second, "interval of P2PGossipSync.TimerTick (gossip flushes, sync timeouts, pruning)")
	fs.DurationVar(&cfg.GraphSave, "tick.graph", 5*time.Minute, "how often the network graph and the scorer are saved (also at stop)")
	fs.BoolVar(&cfg.Gossip, "gossip", true, "take part in gossip (BOLT 7) to learn the network graph; -gossip=false to turn it off")
	fs.BoolVar(&cfg.GossipVerifyFunding, "gossip.verifyfunding", true,
		"check each announced channel's funding output on btcd (getblock, gettxout): capacity, and closes seen on chain")
	fs.Int64Var(&cfg.AnchorReserveSat, "anchor.reserve", defaultAnchorReserveSat,
		"sat kept in the wallet per anchor channel to bump its force close (a CPFP child for a ~1,000 vB commitment at ~10 sat/vB)")
	fs.Int64Var(&cfg.AnchorMaxReserveSat, "anchor.maxreserve", defaultAnchorMaxReserveSat,
		"cap on the anchor reserve, sat (channels rarely all close at once)")
	fs.StringVar(&cfg.Alias, "alias", "", "node alias in our node_announcement (at most 32 bytes)")
	fs.StringVar(&cfg.Color, "color", "3399ff", "node colour in our node_announcement, rrggbb")
	fs.StringVar(&cfg.AnnounceAddr, "announceaddr", "", "comma-separated host:port addresses to advertise in our node_announcement (none by default)")
	fs.DurationVar(&cfg.NodeAnnInterval, "tick.nodeann", time.Hour, "how often our node_announcement is broadcast while we have a public channel")
	fs.Float64Var(&cfg.PeerMsgRate, "peer-msg-rate", defaultPeerMsgRate,
		"channel and custom messages per second a peer may send on average (0: no limit); a peer over it is disconnected")
	fs.IntVar(&cfg.PeerMsgBurst, "peer-msg-burst", defaultPeerMsgBurst, "messages a peer may send at once above -peer-msg-rate")
	fs.BoolVar(&cfg.CustomEcho, "custom-echo", true, "answer the ping-app echo (custom message 32769 answered with 32771); -custom-echo=false to turn it off")
	return fs
}

// parseConfig parses args (flags, then an optional command with its arguments) and the config file.
// It returns the remaining arguments (the CLI command, if any).
func parseConfig(args []string) (*Config, []string, error) {
	cfg := &Config{}
	fs := newFlagSet(cfg)
	if err := fs.Parse(args); err != nil {
		return nil, nil, err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	file := cfg.ConfigFile
	if file == "" {
		file = filepath.Join(cfg.DataDir, "lnkit-node.conf")
		if _, err := os.Stat(file); err != nil {
			file = ""
		}
	}
	if file != "" {
		if err := applyConfigFile(fs, file, set); err != nil {
			return nil, nil, err
		}
	}
	if _, err := networkParams(cfg.Network); err != nil {
		return nil, nil, err
	}
	if err := cfg.leaseConfig().check(); err != nil {
		return nil, nil, err
	}
	switch cfg.Store {
	case storeFS, storeSQLite:
	case storePostgres:
		if cfg.PostgresDSN == "" {
			return nil, nil, errors.New("-store postgres needs -postgres.dsn")
		}
	default:
		return nil, nil, fmt.Errorf("-store %q: want fs, sqlite or postgres", cfg.Store)
	}
	p2p, rpc := defaultPorts(cfg.Network)
	if cfg.Listen == "" {
		cfg.Listen = fmt.Sprintf("0.0.0.0:%d", p2p)
	}
	if cfg.RPCListen == "" {
		cfg.RPCListen = fmt.Sprintf("127.0.0.1:%d", rpc)
	}
	if err := checkGRPCListen(cfg); err != nil {
		return nil, nil, err
	}
	if cfg.BtcdRPCHost == "" {
		cfg.BtcdRPCHost = defaultBtcdRPC(cfg.Network)
	}
	if cfg.BtcdRPCCert == "" && !cfg.BtcdNoTLS {
		if home, err := os.UserHomeDir(); err == nil {
			cfg.BtcdRPCCert = filepath.Join(home, ".btcd", "rpc.cert")
		}
	}
	if cfg.PostgresTimeout <= 0 {
		return nil, nil, errors.New("-postgres.timeout must be positive")
	}
	if cfg.PeerTick <= 0 || cfg.ManagerTick <= 0 || cfg.ChainPoll <= 0 || cfg.FeeRefresh <= 0 || cfg.ArchiveEvery <= 0 ||
		cfg.GossipTick <= 0 || cfg.GraphSave <= 0 {
		return nil, nil, errors.New("tick intervals must be positive")
	}
	if cfg.AnchorReserveSat < 0 || cfg.AnchorMaxReserveSat < 0 {
		return nil, nil, errors.New("the anchor reserve must not be negative")
	}
	if cfg.PeerMsgRate < 0 || (cfg.PeerMsgRate > 0 && cfg.PeerMsgBurst < 1) {
		return nil, nil, errors.New("-peer-msg-rate must not be negative and -peer-msg-burst must be at least 1")
	}
	if _, err := cfg.nodeAnnouncement(); err != nil || cfg.NodeAnnInterval <= 0 {
		return nil, nil, errors.Join(err, errors.New("alias, color, announceaddr or tick.nodeann invalid"))
	}
	return cfg, fs.Args(), nil
}

// applyConfigFile sets every flag named in file that was not given on the command line.
func applyConfigFile(fs *flag.FlagSet, file string, set map[string]bool) error {
	f, err := os.Open(file)
	if err != nil {
		return fmt.Errorf("config file: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(stripComment(sc.Text()))
		if text == "" {
			continue
		}
		name, value, ok := strings.Cut(text, "=")
		if !ok {
			// A bare name sets a boolean flag.
			name, value = text, "true"
		}
		name, value = strings.TrimSpace(name), strings.TrimSpace(value)
		if fs.Lookup(name) == nil {
			return fmt.Errorf("%s:%d: unknown option %q", file, line, name)
		}
		if set[name] || name == "config" || name == "datadir" {
			continue
		}
		if err := fs.Set(name, value); err != nil {
			return fmt.Errorf("%s:%d: %s: %w", file, line, name, err)
		}
	}
	return sc.Err()
}

// stripComment removes a comment from a config file line: from a `#` at the start of the line (after
// optional spaces) or preceded by a space or tab, to the end. A `#` inside a value (a password
// `a#b`, a colour) is part of it.
func stripComment(line string) string {
	for i := 0; i < len(line); i++ {
		if line[i] == '#' && (i == 0 || line[i-1] == ' ' || line[i-1] == '\t') {
			return line[:i]
		}
	}
	return line
}

// leaseEnabled says whether the node runs as one of an active/passive pair: with -store postgres.
func (c *Config) leaseEnabled() bool { return c.Store == storePostgres || c.leaseAlways }

func (c *Config) leaseConfig() leaseConfig {
	return leaseConfig{duration: c.LeaseDuration, renew: c.LeaseRenew, poll: c.LeasePoll}
}
