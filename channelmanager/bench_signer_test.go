package channelmanager

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/examples/signerlink"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/keys/policy"
	"github.com/lnkit/lnkit/keys/remote"
	"github.com/lnkit/lnkit/kvstore"
)

// BenchmarkPaymentSigner measures payments/s on one channel between two in-process nodes (10 payments
// in flight, alternating direction, in-memory monitors) with each node's signer: plain (the
// KeysManager), policy (keys/policy over it, in process), and remote (keys/remote's Client on the
// node, its Server with the policy behind a real BOLT 8 link on 127.0.0.1, answers asynchronous and
// picked up through SignerUnblocked). All three run in the same invocation; their ratio is the cost of
// the policy and of the link. It also reports process CPU per payment.
func BenchmarkPaymentSigner(b *testing.B) {
	for _, mode := range []string{"plain", "policy", "remote"} {
		b.Run(mode, func(b *testing.B) { benchSigner(b, mode) })
	}
}

// benchSignerNode gives a node without channels the signer of mode; answered is told when a remote
// signer's answer arrives.
func benchSignerNode(b *testing.B, n *testNode, mode string, answered chan struct{}) {
	if mode == "plain" {
		return
	}
	ps, err := policy.New(n.km, kvstore.NewMemStore(), policy.Config{AllowUnapprovedPayments: true, MaxPushMsat: 1 << 62})
	require.NoError(b, err)
	if mode == "policy" {
		n.signer = ps
		n.start(nil)
		return
	}
	srv, err := remote.NewServer(remote.ServerConfig{Inner: ps, Approver: ps})
	require.NoError(b, err)
	signerKey, _ := btcec.NewPrivateKey()
	nodeKey, _ := btcec.NewPrivateKey()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	go func() {
		_ = signerlink.Serve(ctx, ln, signerlink.ServeConfig{Key: signerKey, NodePub: nodeKey.PubKey(), Handle: srv.Handle})
	}()
	client := remote.NewClient(remote.ClientConfig{OnAnswer: func() {
		select {
		case answered <- struct{}{}:
		default:
		}
	}})
	b.Cleanup(client.Close)
	d := &signerlink.Dialer{Addr: ln.Addr().String(), Key: nodeKey, SignerPub: signerKey.PubKey(), Client: client}
	go func() { _ = d.Run(ctx) }()
	wait, cancelWait := context.WithTimeout(ctx, 10*time.Second)
	defer cancelWait()
	require.NoError(b, client.WaitConnected(wait))
	n.signer = client
	n.start(nil)
}

// settleSigners settles nw, handing remote answers to the managers, until nothing moves.
func settleSigners(nw *network, answered chan struct{}) {
	for i := 0; i < 10_000; i++ {
		nw.settle()
		select {
		case <-answered:
			for _, n := range nw.nodes {
				n.cm.SignerUnblocked(nil)
			}
		case <-time.After(50 * time.Millisecond):
			return
		}
	}
}

func benchSigner(b *testing.B, mode string) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	answered := make(chan struct{}, 1)
	nodes := [2]*testNode{newTestNode(b, chain, "alice", 1), newTestNode(b, chain, "bob", 2)}
	for _, n := range nodes {
		benchSignerNode(b, n, mode, answered)
	}
	nw := newNetwork(b, nodes[0], nodes[1])
	nw.connect(0, 1)
	a := nodes[0]
	a.chain.FundAddress(a.wallet.PkScript(), 20_000_000)
	a.chain.MineBlocks(1)
	_, err := a.cm.CreateChannel(nodes[1].id, 10_000_000, 5_000_000_000, [16]byte{1}, nil)
	require.NoError(b, err)
	settleSigners(nw, answered)
	a.chain.MineBlocks(int(a.cfg.ChannelHandshakeConfig.MinimumDepth))
	settleSigners(nw, answered)
	chans := a.cm.ListChannels()
	require.Len(b, chans, 1)
	require.True(b, chans[0].IsUsable, "the channel is usable")
	id := chans[0].ChannelID
	for _, n := range nodes {
		n.takeEvents()
	}
	start := a.channel(id).BalanceMsat

	const inflight = 10
	b.ResetTimer()
	cpu := startBenchCPU()
	started, done, pending := 0, 0, 0
	var sent [2]int
	for done < b.N {
		for pending < inflight && started < b.N {
			from := started & 1
			if _, _, err := nw.pay(from, 1-from, benchPaymentMsat); err != nil {
				b.Fatalf("payment %d: %v", started, err)
			}
			sent[from]++
			started++
			pending++
		}
		delivered := nw.step()
		progressed := false
		for i, n := range nodes {
			evs := n.takeEvents()
			if f := countEvents[events.PaymentFailed](evs); f != 0 {
				b.Fatalf("node %d: %d payments failed", i, f)
			}
			if k := countEvents[events.PaymentSent](evs); k > 0 {
				done += k
				pending -= k
				progressed = true
			}
		}
		wait := time.Duration(0)
		if delivered == 0 && !progressed {
			wait = 10 * time.Second // only an answer of the signer can move things now
		}
		select {
		case <-answered:
			for _, n := range nodes {
				n.cm.SignerUnblocked(nil)
			}
		case <-time.After(wait):
			if wait > 0 && mode != "remote" {
				continue // events are handled at the next step
			}
			if wait > 0 {
				b.Fatalf("stalled with %d payments pending", pending)
			}
		}
	}
	b.StopTimer()
	cpu.report(b, b.N)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payments/s")
	settleSigners(nw, answered)
	checkBalances(b, nodes[0], nodes[1], id, start-uint64(sent[0])*benchPaymentMsat+uint64(sent[1])*benchPaymentMsat)
}
