// Command node is a complete Lightning node built on lnkit, the host a wallet developer would copy: btcd
// over RPC for the chain, a BIP84 wallet, TCP sockets wired to the PeerManager, timers, persistence
// under -datadir and a JSON-RPC control API on loopback.
//
// Run the node:
//
//	node -datadir ~/.lnkit-node -network regtest -btcd.rpcuser u -btcd.rpcpass p -btcd.rpccert ~/.btcd/rpc.cert
//
// Call it (the same binary, with a command after the flags):
//
//	node -datadir ~/.lnkit-node getinfo
//	node -datadir ~/.lnkit-node openchannel <node_id> 1000000
//
// The node holds an exclusive lock (flock) on <datadir>/.lock while it runs: a second node on the
// same datadir exits at once with an error naming the datadir and the holder's PID. The file left
// behind after a crash does not block a restart. Commands do not take the lock: they only talk to
// the running node.
//
// Everything the node persists lives in one store: -store fs (the default, <datadir>/<network>/store),
// sqlite or postgres (-postgres.dsn); `node migrate -from fs -to sqlite` copies a stopped node's store.
// With -store postgres, a second node with the same seed on the same database is a standby: it waits for
// the lease and takes over when the leader is gone (standby.go). A node that loses its lease exits with
// status 3.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	cfg, rest, err := parseConfig(args)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 2
	}
	if len(rest) > 0 && rest[0] == "migrate" {
		return runMigrate(cfg, rest[1:], stdout, stderr)
	}
	if len(rest) > 0 && rest[0] == "sampleconfig" {
		return runSampleConfig(rest[1:], stdout, stderr)
	}
	if len(rest) > 0 {
		return runCLI(cfg, rest, stdout, stderr)
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		fmt.Fprintln(stderr, "error: -loglevel:", err)
		return 2
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := runDaemon(cfg, log, stderr); err != nil {
		if errors.Is(err, ErrLeaseLost) {
			log.Error("another lnkit-node is the leader now; this one stopped without writing, sending or broadcasting "+
				"anything after it lost the lease, and exits", "err", err)
			fmt.Fprintln(stderr, "lnkit-node: exiting: "+err.Error()+" (this process wrote nothing after that)")
			return 3
		}
		log.Error("node failed", "err", err)
		return 1
	}
	return 0
}

// localCommandsHelp lists, after `help`, the commands that work on a stopped node's files.
const localCommandsHelp = `
without a running node:
  migrate -from fs|sqlite|postgres -to fs|sqlite|postgres [-from.dsn DSN] [-to.dsn DSN]
                                                copy a stopped node's store to another kind
  sampleconfig                                  print the config file documenting every option
`

// runCLI calls the running node's control API with one command.
func runCLI(cfg *Config, args []string, stdout, stderr io.Writer) int {
	if !nodeapi.NeedsNode(args) {
		// help and usage errors need no running node
		code := nodeapi.RunCLI(context.Background(), nil, args, stdout, stderr)
		if len(args) == 1 && args[0] == "help" {
			fmt.Fprint(stdout, localCommandsHelp)
		}
		return code
	}
	token, err := nodeapi.ReadCookie(cfg.DataDir)
	if err != nil {
		fmt.Fprintf(stderr, "error: reading the cookie in %s (is the node running?): %v\n", cfg.DataDir, err)
		return 1
	}
	client := nodeapi.NewClient("http://"+cfg.RPCListen, token)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	return nodeapi.RunCLI(ctx, client, args, stdout, stderr)
}

// runSampleConfig prints the documented config file (every option, its default, commented out).
func runSampleConfig(args []string, stdout, stderr io.Writer) int {
	if len(args) > 0 {
		fmt.Fprintln(stderr, "usage: lnkit-node sampleconfig > lnkit-node.conf")
		return 2
	}
	doc, err := sampleConfig()
	if err != nil {
		fmt.Fprintln(stderr, "error:", err)
		return 1
	}
	_, _ = stdout.Write(doc)
	return 0
}

// runDaemon runs the node until SIGINT/SIGTERM or the stop command, holding the data directory's
// lock (lockDataDir) throughout: a second node on the same datadir gets ErrDataDirInUse. On the first
// run it writes, to stderr, where the new seed is and how to back it up (firstrun.go).
func runDaemon(cfg *Config, log *slog.Logger, stderr io.Writer) error {
	startProfiling(cfg.DataDir, log)
	if cfg.RPCListen != "off" {
		host, _, err := net.SplitHostPort(cfg.RPCListen)
		if err != nil {
			return fmt.Errorf("-rpclisten: %w", err)
		}
		if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
			return fmt.Errorf("-rpclisten %s: the control API listens on loopback only", cfg.RPCListen)
		}
	}
	// Taken before any state in the datadir is read or written (only the config file has been read),
	// released after the cookie is removed.
	lock, err := lockDataDir(cfg.DataDir)
	if err != nil {
		return err
	}
	defer lock.release()
	first := checkFirstRun(cfg)
	node, err := NewNode(cfg, log)
	if err != nil {
		return err
	}
	first.writeConfig()
	// A standby waits for the lease inside Start: a signal ends the wait.
	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	if err := node.StartContext(ctx); err != nil {
		node.Stop()
		if ctx.Err() != nil {
			log.Info("stopped before it started (a standby that never became the leader)")
			return nil
		}
		return err
	}
	first.report(stderr)
	select {
	case <-ctx.Done():
		log.Info("shutting down (signal)")
	case <-node.stopReq:
		log.Info("shutting down (stop requested)")
	case err := <-node.Fatal():
		node.Stop()
		return err
	}
	node.Stop()
	return nil
}
