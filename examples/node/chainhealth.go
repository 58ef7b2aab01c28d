package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/lnkit/lnkit/examples/node/btcdchain"
)

// This file is how the node tells the user that it cannot follow btcd: btcd unreachable (at start the
// node waits for it), or btcd's chain no longer the one the node's state is on (btcd restarted on
// regtest, which loses its blocks). Each problem is logged at once, then at most once a minute while
// it lasts, saying what happened and what to do.

// chainLogEvery is how often the same chain problem is logged again while it lasts.
const chainLogEvery = time.Minute

// Kinds of chain problems (the logLimiter's keys).
const (
	problemUnreachable = "unreachable" // no TCP connection to btcd's RPC port
	problemBehind      = "behind"      // btcd's best block is below the node's
	problemForeign     = "foreign"     // btcd's chain does not hold the node's block
	problemPoll        = "poll"        // any other failure of a poll
)

// chainProblem is a failure to follow btcd, in words: what happened and what to do.
type chainProblem struct {
	kind string
	what string
	todo string
	err  error // the underlying error
}

func (p *chainProblem) Error() string { return p.what + ": " + p.todo }
func (p *chainProblem) Unwrap() error { return p.err }

// logLimiter lets a message of each kind through at most once per interval and counts what it held
// back in between.
type logLimiter struct {
	mu    sync.Mutex
	every time.Duration
	last  map[string]time.Time
	held  map[string]int
}

// allow says whether a message of kind may be logged at now, and how many were held back since the
// last one.
func (l *logLimiter) allow(kind string, now time.Time) (ok bool, held int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.last == nil {
		l.last, l.held = map[string]time.Time{}, map[string]int{}
	}
	if last, seen := l.last[kind]; seen && now.Sub(last) < l.every {
		l.held[kind]++
		return false, 0
	}
	held = l.held[kind]
	l.last[kind], l.held[kind] = now, 0
	return true, held
}

// btcdUnreachable describes a failed connection to btcd (btcdchain.Client.Reachable's error).
func btcdUnreachable(host string, err error) *chainProblem {
	p := &chainProblem{kind: problemUnreachable, err: err,
		what: fmt.Sprintf("btcd is unreachable at %s (%v)", host, err),
		todo: "start btcd, or give its RPC address with -btcd.rpchost; the node keeps trying"}
	var cert *tls.CertificateVerificationError
	var record tls.RecordHeaderError
	switch {
	case errors.As(err, &cert):
		p.todo = "the server there does not present btcd's certificate: give btcd's rpc.cert with -btcd.rpccert; the node keeps trying"
	case errors.As(err, &record):
		p.todo = "the server there does not speak TLS: btcd runs with --notls? then give -btcd.notls; the node keeps trying"
	}
	return p
}

// explainChainError turns an error of following btcd into a chainProblem: btcd unreachable, btcd's
// chain behind the node's or another chain (ErrForeignChain), or another failure.
func (n *Node) explainChainError(ctx context.Context, err error) *chainProblem {
	var p *chainProblem
	if errors.As(err, &p) {
		return p
	}
	host := n.chain.Host()
	if errors.Is(err, btcdchain.ErrForeignChain) {
		tip := n.follower.Tip()
		best, berr := n.chain.BestBlock(ctx)
		if berr != nil {
			return &chainProblem{kind: problemPoll, err: err, what: fmt.Sprintf("polling btcd at %s: %v", host, err),
				todo: "the node keeps trying"}
		}
		start := "start over: stop the node and move " + n.dir + " aside (or use another -datadir)"
		if n.net.Name == "regtest" {
			start += "; mining blocks on btcd does not help, they make another chain"
		}
		if best.Height < tip.Height {
			p = &chainProblem{kind: problemBehind, err: err,
				what: fmt.Sprintf("btcd's chain is behind the node's: btcd's best block is at height %d, the node has "+
					"processed blocks up to height %d (%s), which btcd does not have", best.Height, tip.Height, tip.Hash)}
			if n.net.Name == "regtest" {
				p.what += "; btcd was restarted on regtest and lost its blocks"
				p.todo = "the node's channels and wallet are on the lost chain: give btcd its old chain back, or " + start
			} else {
				p.todo = "btcd is resyncing or runs another network; the node waits until btcd has its block, or " + start
			}
			return p
		}
		return &chainProblem{kind: problemForeign, err: err,
			what: fmt.Sprintf("btcd's chain does not hold the block the node processed at height %d (%s); btcd's best "+
				"block is at height %d: btcd runs another chain (restarted on regtest with new blocks, or another network)",
				tip.Height, tip.Hash, best.Height),
			todo: "give btcd the node's chain back, or " + start}
	}
	if rerr := n.chain.Reachable(ctx); rerr != nil {
		return btcdUnreachable(host, rerr)
	}
	return &chainProblem{kind: problemPoll, err: err, what: fmt.Sprintf("polling btcd at %s: %v", host, err),
		todo: "the node keeps trying"}
}

// reportChainProblem logs p at once the first time, then at most once every chainLogEvery per kind.
func (n *Node) reportChainProblem(p *chainProblem) {
	ok, held := n.chainLog.allow(p.kind, time.Now())
	if !ok {
		return
	}
	attrs := []any{"what_to_do", p.todo, "btcd", n.chain.Host()}
	if held > 0 {
		attrs = append(attrs, "times_since_last_report", held)
	}
	n.log.Error(p.what, attrs...)
}

// waitForBtcd returns once btcd's RPC port accepts connections, saying at once, and then after 2, 4,
// 8... attempts, that it is unreachable and why. Errors: ctx's end (with the last dial error).
func (n *Node) waitForBtcd(ctx context.Context) error {
	delay := time.Second
	for attempt := 1; ; attempt++ {
		err := n.chain.Reachable(ctx)
		if err == nil {
			if attempt > 1 {
				n.log.Info("btcd is reachable", "btcd", n.chain.Host(), "attempts", attempt)
			}
			return nil
		}
		if attempt&(attempt-1) == 0 {
			p := btcdUnreachable(n.chain.Host(), err)
			n.log.Error(p.what, "what_to_do", p.todo, "attempts", attempt, "next_attempt_in", delay.String())
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("btcd is unreachable at %s: %w (gave up: %w)", n.chain.Host(), err, ctx.Err())
		case <-time.After(delay):
		}
		delay = min(2*delay, 30*time.Second)
	}
}
