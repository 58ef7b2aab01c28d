package channelmanager

// Benchmarks of on-chain work (see BENCHMARKS.md, "On chain"):
//
//   - BenchmarkJustice483HTLCs: a revoked commitment with 483 HTLC outputs confirms; the monitor
//     classifies it, plans its claims and signs the justice transaction(s). The baseline in the same
//     run is the bare secp256k1 cost of that many signatures (BenchmarkJustice483HTLCs/floor).
//   - BenchmarkMonitorAfterPayments: the size of a monitor and the cost of one update (apply + encode
//     for the update log) after 100,000 payments, against the same on a fresh channel.

import (
	"crypto/sha256"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/internal/testchain"
)

// justiceFixture is Alice's monitor, serialized, and Bob's revoked commitment with 483 HTLCs.
func justiceFixture(b *testing.B) ([]byte, *wire.MsgTx, *testNode) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a := newTestNode(b, chain, "alice", 1)
	bob := newTestNode(b, chain, "bob", 2)
	for _, n := range []*testNode{a, bob} {
		n.cfg.ChannelHandshakeConfig.NegotiateAnchorsZeroFeeHTLCTx = false
		n.start(nil)
	}
	nw := newNetwork(b, a, bob)
	nw.connect(0, 1)
	id := nw.openChannel(0, 1, 10_000_000, 0)
	bob.autoClaim = false
	var hashes [][32]byte
	for i := 0; i < 483; i++ {
		_, hash, err := nw.pay(0, 1, 10_000_000)
		if err != nil {
			b.Fatalf("HTLC %d: %v", i, err)
		}
		hashes = append(hashes, hash)
	}
	nw.settle()
	funding := a.channel(id).FundingTxo
	m, _ := bob.chainMon.GetMonitor(funding)
	commit, err := m.LatestHolderCommitmentTx()
	if err != nil || len(commit.TxOut) < 483 {
		b.Fatalf("bob's commitment has %d outputs: %v", len(commit.TxOut), err)
	}
	for _, h := range hashes {
		_ = bob.cm.FailHTLCBackwards(h)
	}
	nw.settle()
	am, _ := a.chainMon.GetMonitor(funding)
	return am.Write(), commit, a
}

// countingBroadcaster counts what it is given.
type countingBroadcaster struct{ txs []*wire.MsgTx }

func (c *countingBroadcaster) BroadcastTransactions(txs ...*wire.MsgTx) {
	c.txs = append(c.txs, txs...)
}

func BenchmarkJustice483HTLCs(b *testing.B) {
	snap, commit, a := justiceFixture(b)
	height := a.chain.Height() + 1
	block := &wire.MsgBlock{Transactions: []*wire.MsgTx{commit}}
	b.Run("justice", func(b *testing.B) {
		var weight, count int64
		for i := 0; i < b.N; i++ {
			b.StopTimer()
			m, err := channelmonitor.ReadChannelMonitor(snap, a.km)
			if err != nil {
				b.Fatal(err)
			}
			bc := &countingBroadcaster{}
			cm := channelmonitor.NewChainMonitor(nil, bc, nil, a.chain, a.persist)
			_ = cm.LoadMonitor(m)
			b.StartTimer()
			cm.BlockConnected(block, height)
			b.StopTimer()
			weight, count = 0, int64(len(bc.txs))
			var inputs int
			for _, tx := range bc.txs {
				weight += int64(tx.SerializeSizeStripped()*3 + tx.SerializeSize())
				inputs += len(tx.TxIn)
			}
			if inputs < 483 {
				b.Fatalf("justice spends %d inputs, want ≥ 483", inputs)
			}
			b.StartTimer()
		}
		b.ReportMetric(float64(count), "txs")
		b.ReportMetric(float64(weight), "WU")
	})
	b.Run("floor", func(b *testing.B) {
		// The secp256k1 work justice cannot avoid: one signature per input (484).
		key, _ := btcec.PrivKeyFromBytes([]byte{7})
		for i := 0; i < b.N; i++ {
			for j := 0; j < 484; j++ {
				d := sha256.Sum256([]byte{byte(j), byte(j >> 8), byte(i)})
				_ = ecdsa.Sign(key, d[:])
			}
		}
	})
}

// BenchmarkMonitorAfterPayments makes LNKIT_BENCH_PAYMENTS payments (default 100,000) over one channel,
// 50 in flight at a time, and reports the payee's monitor size and the cost of one monitor update
// before and after. Run with -benchtime 1x: the payments are the setup, not the loop.
func BenchmarkMonitorAfterPayments(b *testing.B) {
	total := 100_000
	if s := os.Getenv("LNKIT_BENCH_PAYMENTS"); s != "" {
		total, _ = strconv.Atoi(s)
	}
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a := newTestNode(b, chain, "alice", 1)
	bob := newTestNode(b, chain, "bob", 2)
	nw := newNetwork(b, a, bob)
	nw.connect(0, 1)
	id := nw.openChannel(0, 1, 16_000_000, 8_000_000_000)
	funding := a.channel(id).FundingTxo
	sizeBefore, costBefore := monitorCost(b, bob, funding)
	start := time.Now()
	for done := 0; done < total; {
		for k := 0; k < 50 && done < total; k++ {
			if _, _, err := nw.pay(done%2, 1-done%2, 1_000_000); err != nil {
				b.Fatalf("payment %d: %v", done, err)
			}
			done++
		}
		nw.settle()
		a.takeEvents()
		bob.takeEvents()
	}
	elapsed := time.Since(start)
	sizeAfter, costAfter := monitorCost(b, bob, funding)
	b.ReportMetric(float64(sizeBefore), "B-monitor-before")
	b.ReportMetric(float64(sizeAfter), "B-monitor-after")
	b.ReportMetric(float64(sizeAfter-sizeBefore)/float64(total), "B/payment")
	b.ReportMetric(float64(costBefore.Nanoseconds()), "ns/update-before")
	b.ReportMetric(float64(costAfter.Nanoseconds()), "ns/update-after")
	b.ReportMetric(float64(costAfter)/float64(costBefore), "update-cost-ratio")
	b.ReportMetric(float64(total)/elapsed.Seconds(), "payments/s")
}

// monitorCost returns the payee's monitor size and what one update costs the FilesystemPersister's
// scheme: applying and encoding the update, plus its share of a full snapshot — one every 64 updates,
// but not before the update log is half the snapshot's size.
func monitorCost(b *testing.B, n *testNode, funding wire.OutPoint) (int, time.Duration) {
	m, _ := n.chainMon.GetMonitor(funding)
	snap := m.Write()
	const rounds = 20
	start := time.Now()
	for i := 0; i < rounds; i++ {
		_ = m.Write()
	}
	snapshot := time.Since(start) / rounds
	copyMon, err := channelmonitor.ReadChannelMonitor(snap, n.km)
	if err != nil {
		b.Fatal(err)
	}
	_, point := btcec.PrivKeyFromBytes([]byte{9})
	u0 := &channelmonitor.ChannelMonitorUpdate{Steps: []channelmonitor.UpdateStep{channelmonitor.LatestCounterpartyCommitment{
		PerCommitmentPoint: point, HTLCs: []channelmonitor.CounterpartyHTLC{{OutputIndex: 2, Source: make([]byte, 33)}}}}}
	start = time.Now()
	for i := 0; i < rounds; i++ {
		u := &channelmonitor.ChannelMonitorUpdate{UpdateID: copyMon.LatestUpdateID() + 1, Steps: []channelmonitor.UpdateStep{
			channelmonitor.LatestCounterpartyCommitment{CommitmentNumber: 1 << 40, Txid: sha256.Sum256([]byte{byte(i)}),
				PerCommitmentPoint: point, HTLCs: []channelmonitor.CounterpartyHTLC{{OutputIndex: 2, AmountMsat: 1_000_000,
					Source: make([]byte, 33)}}}}}
		if err := copyMon.Update(u); err != nil {
			b.Fatal(err)
		}
		_ = u.Encode()
	}
	apply := time.Since(start) / rounds
	recBytes := len(u0.Encode()) + 8
	every := max(64, len(snap)/(2*recBytes))
	return len(snap), apply + snapshot/time.Duration(every)
}
