// Command lnkit-signer holds a node's seed and signs for it: the node (examples/node with a
// keys/remote.Client) holds no private key of its own but its link key. The signer listens for the
// node's BOLT 8 link (package link), accepts only the node link key it is given, and answers every
// request with a keys/remote.Server over a keys.KeysManager, wrapped by the validating policy of
// keys/policy, and the node's on-chain wallet keys (examples/node/wallet.SeedSigner) behind a spend
// policy.
//
//	lnkit-signer -datadir ~/.lnkit-signer -listen 127.0.0.1:9736 -node-link-key <hex> \
//		-network regtest -client-key <hex>
//
// The datadir holds seed (the 32-byte seed: back it up) and link_key (the signer's link key), both
// mode 0600, created on first start, and policy, the policy's state (keep it with the seed: a policy
// that lost it may sign what it refused before). The signer prints its link public key, which the
// node pins, and the node id the seed gives. Run it once without -node-link-key to create the keys
// and print them.
//
// The policy (-policy, on by default) refuses every channel request that could lose funds (see
// keys/policy); payments are approved only with a signature of the user's client key (-client-key),
// over keys/policy.InvoiceApprovalHash or KeysendApprovalHash. Closing and sweep outputs must pay the
// wallet: its addresses below the scan bound, or -allow-script.
//
// The wallet (AccountPubKey, SignWalletInputs) serves only -network (default regtest). Every output of
// a wallet spend must pay the wallet itself (receive or change address below -wallet-scan-bound,
// default 10,000 each), any P2WSH script while -allow-funding (default true: channel funding outputs,
// which the signer cannot tell from other P2WSH scripts, so a compromised node could send the funds
// to one; turn it off to close that door), or a -allow-script; otherwise it is refused by rule
// "onchain-destination".
package main

import (
	"context"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/lnkit/lnkit/examples/signerlink"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/keys/policy"
	"github.com/lnkit/lnkit/keys/remote"
	"github.com/lnkit/lnkit/kvstore/fsstore"
)

// config is what run needs.
type config struct {
	// DataDir holds the seed and the link key.
	DataDir string
	// Listen is the TCP address to listen on; only loopback addresses unless AllowRemote.
	Listen      string
	AllowRemote bool
	// NodeLinkKey is the node's link public key, the only one accepted.
	NodeLinkKey *btcec.PublicKey

	// Policy wraps the KeysManager with keys/policy, its state in <DataDir>/policy; ClientKey is the
	// key whose signatures approve payments (nil: none is approved).
	Policy    bool
	ClientKey *btcec.PublicKey
	// AllowUnapproved lets the node pay without the user's approvals (policy.Config.AllowUnapprovedPayments;
	// the velocity limit still applies): for a node without a user's client, such as the interop suite's.
	AllowUnapproved bool
	// MaxPushMsat is the most the node may give away when it opens a channel (push_msat;
	// policy.Config.MaxPushMsat): pushes are refused by default.
	MaxPushMsat uint64
	// Wallet is the on-chain wallet's network and spend policy (a nil Net is regtest).
	Wallet walletConfig

	// Wrap, when set, turns the seed's KeysManager into the signer the server asks, instead of Policy
	// (tests). nil serves the KeysManager itself, or the policy.
	Wrap func(km *keys.KeysManager, dataDir string) (remote.Inner, error)
	// RefusalRule recognises the wrapper's refusals (remote.ServerConfig.RefusalRule).
	RefusalRule func(err error) (rule, detail string, refused bool)
	// PingInterval is the node's ping interval (0: signerlink.DefaultPingInterval).
	PingInterval time.Duration
	// MaxLinks is how many links of the node are served at once (signerlink.ServeConfig.MaxLinks).
	MaxLinks int
	// ready, when set, is told the address listened on (tests).
	ready func(addr net.Addr)
}

// errNoNodeKey is returned by run without a node link key, after creating and printing the keys.
var errNoNodeKey = errors.New("no -node-link-key: give the node's link public key (the node prints it)")

func main() {
	if ok, err := client(os.Args[1:], os.Stdout); ok {
		if err != nil {
			fmt.Fprintln(os.Stderr, "lnkit-signer:", err)
			os.Exit(1)
		}
		return
	}
	cfg, err := parseFlags(os.Args[1:], os.Stderr)
	if err != nil {
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if err := run(ctx, cfg, os.Stdout, log); err != nil && !errors.Is(err, context.Canceled) {
		fmt.Fprintln(os.Stderr, "lnkit-signer:", err)
		os.Exit(1)
	}
}

// parseFlags reads the command line. Errors: unknown flags, a node link key that is not a hex
// compressed public key (reported on out).
func parseFlags(args []string, out io.Writer) (*config, error) {
	fs := flag.NewFlagSet("lnkit-signer", flag.ContinueOnError)
	fs.SetOutput(out)
	home, _ := os.UserHomeDir()
	cfg := &config{}
	fs.StringVar(&cfg.DataDir, "datadir", filepath.Join(home, ".lnkit-signer"), "directory of the seed and the link key")
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:9736", "address to listen on for the node")
	fs.BoolVar(&cfg.AllowRemote, "allow-remote", false, "allow a -listen address that is not loopback")
	nodeKey := fs.String("node-link-key", "", "the node's link public key (hex, 33 bytes compressed)")
	fs.BoolVar(&cfg.Policy, "policy", true, "refuse channel requests that could lose funds (keys/policy; state in <datadir>/policy)")
	fs.IntVar(&cfg.MaxLinks, "max-links", 1, "links of the node served at once: 2 for an active/standby pair sharing the node's identity and link key")
	fs.Uint64Var(&cfg.MaxPushMsat, "max-push-msat", 0, "the most a channel the node opens may give the peer at open (push_msat), msat")
	fs.BoolVar(&cfg.AllowUnapproved, "allow-unapproved", false, "let the node pay without the user's approval (every other rule still applies)")
	clientKey := fs.String("client-key", "", "the public key (hex, 33 bytes compressed) whose signatures approve payments")
	network := fs.String("network", chaincfg.RegressionNetParams.Name, "the node's network: mainnet, testnet3, regtest, signet or simnet")
	var scanBound uint
	fs.UintVar(&scanBound, "wallet-scan-bound", defaultScanBound, "addresses of each wallet chain (receive, change) recognised as the wallet's")
	fs.BoolVar(&cfg.Wallet.AllowFunding, "allow-funding", true, "let wallet spends pay any P2WSH script (channel funding outputs)")
	fs.Func("allow-script", "a scriptPubKey (hex) wallet spends, closes and sweeps may pay besides the wallet (repeatable)", func(v string) error {
		b, err := hex.DecodeString(v)
		if err == nil && (len(b) == 0 || len(b) > remote.MaxScriptLen) {
			err = fmt.Errorf("%d bytes", len(b))
		}
		if err != nil {
			return fmt.Errorf("not a hex script: %w", err)
		}
		cfg.Wallet.AllowScripts = append(cfg.Wallet.AllowScripts, b)
		return nil
	})
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	var err error
	if cfg.NodeLinkKey, err = parseKey(out, "node-link-key", *nodeKey); err != nil {
		return nil, err
	}
	if cfg.ClientKey, err = parseKey(out, "client-key", *clientKey); err != nil {
		return nil, err
	}
	if cfg.Wallet.Net, err = networkByName(*network); err != nil {
		fmt.Fprintf(out, "-network: %v\n", err)
		return nil, err
	}
	if scanBound == 0 || scanBound > 1<<31 {
		fmt.Fprintf(out, "-wallet-scan-bound: %d is not in 1..2^31\n", scanBound)
		return nil, fmt.Errorf("bad -wallet-scan-bound %d", scanBound)
	}
	cfg.Wallet.ScanBound = uint32(scanBound)
	return cfg, nil
}

// parseKey parses flag name's value, a hex compressed public key (nil when empty), reporting a bad one
// on out.
func parseKey(out io.Writer, name, v string) (*btcec.PublicKey, error) {
	if v == "" {
		return nil, nil
	}
	b, err := hex.DecodeString(v)
	if err == nil && len(b) != 33 {
		err = fmt.Errorf("%d bytes, want 33", len(b))
	}
	var k *btcec.PublicKey
	if err == nil {
		k, err = btcec.ParsePubKey(b)
	}
	if err != nil {
		fmt.Fprintf(out, "-%s: not a hex compressed public key: %v\n", name, err)
		return nil, fmt.Errorf("bad -%s: %w", name, err)
	}
	return k, nil
}

// checkListen refuses an address that is not loopback unless allowRemote.
func checkListen(addr string, allowRemote bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-listen %q: %w", addr, err)
	}
	if allowRemote || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("-listen %q is not a loopback address; pass -allow-remote to listen there", addr)
}

// run loads or creates the keys, prints them on out and serves the node until ctx is done.
func run(ctx context.Context, cfg *config, out io.Writer, log *slog.Logger) error {
	if err := checkListen(cfg.Listen, cfg.AllowRemote); err != nil {
		return err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return err
	}
	seed, created, err := signerlink.LoadOrCreateSecret(filepath.Join(cfg.DataDir, "seed"))
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(out, "created a new seed in %s: back it up\n", filepath.Join(cfg.DataDir, "seed"))
	}
	linkKey, _, err := signerlink.LoadOrCreateKey(filepath.Join(cfg.DataDir, "link_key"))
	if err != nil {
		return err
	}
	now := time.Now()
	km := keys.NewKeysManager(seed, uint64(now.Unix()), uint32(now.Nanosecond()))
	fmt.Fprintf(out, "signer link key: %x\nnode id: %x\n", linkKey.PubKey().SerializeCompressed(),
		km.GetNodeID().SerializeCompressed())
	if cfg.NodeLinkKey == nil {
		return errNoNodeKey
	}
	wcfg := cfg.Wallet
	if wcfg.Net == nil {
		wcfg.Net = &chaincfg.RegressionNetParams
	}
	ws, err := newWalletSigner(seed[:], wcfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "wallet network: %s\n", wcfg.Net.Name)
	var inner remote.Inner = km
	refusal := cfg.RefusalRule
	var ps *policy.Signer
	switch {
	case cfg.Wrap != nil:
		if cfg.Policy {
			return errors.New("config: Wrap and Policy both set")
		}
		if inner, err = cfg.Wrap(km, cfg.DataDir); err != nil {
			return err
		}
	case cfg.Policy:
		store, err := fsstore.Open(filepath.Join(cfg.DataDir, "policy"), nil)
		if err != nil {
			return fmt.Errorf("policy state: %w", err)
		}
		defer store.Close()
		allow, err := ws.allowlist()
		if err != nil {
			return err
		}
		if ps, err = policy.New(km, store, policy.Config{ClientKey: cfg.ClientKey, Allowlist: allow, AllowUnapprovedPayments: cfg.AllowUnapproved,
			MaxPushMsat: cfg.MaxPushMsat}); err != nil {
			return err
		}
		ps.SetTime(uint64(time.Now().Unix()))
		inner, refusal = ps, policyRefusal
		fmt.Fprintf(out, "policy: on, state in %s\n", filepath.Join(cfg.DataDir, "policy"))
		if cfg.ClientKey == nil {
			fmt.Fprintln(out, "policy: no -client-key: no payment can be approved")
		}
	default:
		fmt.Fprintln(out, "policy: off: channel requests are signed unchecked (the wallet's spend policy still applies)")
	}
	srv, err := remote.NewServer(remote.ServerConfig{Inner: inner, Wallet: ws, RefusalRule: refusal})
	if err != nil {
		return err
	}
	handle := srv.Handle
	if ps != nil {
		// The policy reads no clock: give it the time before each request (approval expiry, velocity).
		handle = func(request []byte) []byte {
			ps.SetTime(uint64(time.Now().Unix()))
			return srv.Handle(request)
		}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "listening on %s for node link key %x\n", ln.Addr(), cfg.NodeLinkKey.SerializeCompressed())
	if cfg.ready != nil {
		cfg.ready(ln.Addr())
	}
	return signerlink.Serve(ctx, ln, signerlink.ServeConfig{Key: linkKey, NodePub: cfg.NodeLinkKey, Handle: handle, MaxLinks: cfg.MaxLinks,
		PingInterval: cfg.PingInterval, Logger: log})
}

// policyRefusal recognises keys/policy's refusals (remote.ServerConfig.RefusalRule): the client sees a
// remote.RefusedError with the rule's tag.
func policyRefusal(err error) (rule, detail string, refused bool) {
	var v *policy.Violation
	if errors.As(err, &v) {
		return string(v.Rule), v.Detail, true
	}
	return "", "", false
}
