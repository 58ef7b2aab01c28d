package channelmanager

// Benchmarks of the payment path (see BENCHMARKS.md at the repository root for results and commands).
//
//   - BenchmarkPayment: one payment at a time between two in-process nodes (wire encode/decode kept,
//     in-memory monitor persistence): update_add_htlc, commitment_signed/revoke_and_ack both ways,
//     update_fulfill_htlc, commitment_signed/revoke_and_ack both ways. Payments alternate direction so
//     the balances stay put.
//   - BenchmarkPaymentCryptoFloor: only the secp256k1 work that one such payment cannot avoid (see
//     paymentFloor for the count, derived from channel_update.go and payments.go).
//   - BenchmarkPaymentOverFloor: both, interleaved one after the other, reporting their ratio.
//   - BenchmarkPaymentThroughput: many payments in flight on one channel, messages delivered in
//     batches, monitors persisted with the FilesystemPersister (fsync on) in b.TempDir().
//   - BenchmarkPaymentThroughputParallel: the same with each node on its own goroutine.
//   - BenchmarkSecp256k1Primitives: the unit costs the floor is made of.
//
// All of them only run with -bench; they check that every payment succeeded but never assert timing.

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
)

// benchPaymentMsat is the amount of each benchmark payment: 20,000 sat, far above the dust limits, so
// every commitment that carries the HTLC has an HTLC output and needs an HTLC signature.
const benchPaymentMsat = 20_000_000

// benchChannel opens a 10,000,000 sat channel from node 0 to node 1 with half pushed to node 1.
func benchChannel(b *testing.B, nw *network) lnwire.ChannelID {
	return nw.openChannel(0, 1, 10_000_000, 5_000_000_000)
}

// benchOnePayment sends one payment from node from to node 1-from and settles the network; it fails the
// benchmark unless the payer saw PaymentSent and the payee PaymentClaimed.
func benchOnePayment(b *testing.B, nw *network, from int) {
	if _, _, err := nw.pay(from, 1-from, benchPaymentMsat); err != nil {
		b.Fatalf("pay: %v", err)
	}
	nw.settle()
	if got := countEvents[events.PaymentSent](nw.nodes[from].takeEvents()); got != 1 {
		b.Fatalf("payer saw %d PaymentSent", got)
	}
	if got := countEvents[events.PaymentClaimed](nw.nodes[1-from].takeEvents()); got != 1 {
		b.Fatalf("payee saw %d PaymentClaimed", got)
	}
}

// BenchmarkPayment measures one payment at a time, add then fulfill, each with the full
// commitment_signed / revoke_and_ack exchange in both directions, between two in-process nodes with
// in-memory monitor persistence (the harness's memPersister). Messages go through the wire codec.
func BenchmarkPayment(b *testing.B) {
	nw, a, bob := twoNodes(b)
	id := benchChannel(b, nw)
	start := a.channel(id).BalanceMsat
	commits0 := benchCommitmentsSigned(nw, id)
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startBenchCPU()
	for i := 0; i < b.N; i++ {
		benchOnePayment(b, nw, i&1)
	}
	b.StopTimer()
	cpu.report(b, b.N)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payments/s")
	b.ReportMetric(float64(benchCommitmentsSigned(nw, id)-commits0)/float64(b.N), "commitments/payment")
	b.ReportMetric(benchMonitorBytes(a), "monitor-bytes")
	want := start
	if b.N%2 == 1 {
		want -= benchPaymentMsat
	}
	checkBalances(b, a, bob, id, want)
}

// floorKeys are the long-lived keys the crypto floor works with: each side's funding key and the
// basepoints of BOLT 3 (payment_basepoint is static with option_static_remotekey and needs no
// derivation).
type floorKeys struct {
	funding          *btcec.PrivateKey
	revocationBase   *btcec.PrivateKey
	delayedBase      *btcec.PrivateKey
	htlcBase         *btcec.PrivateKey
	revocationBasePt *btcec.PublicKey
	delayedBasePt    *btcec.PublicKey
	htlcBasePt       *btcec.PublicKey
	fundingPt        *btcec.PublicKey
	node             *btcec.PrivateKey
	nodePt           *btcec.PublicKey
}

func newFloorKeys(label string) *floorKeys {
	k := func(s string) *btcec.PrivateKey {
		p, _ := btcec.PrivKeyFromBytes(sha256Bytes([]byte(label + s)))
		return p
	}
	f := &floorKeys{funding: k("funding"), revocationBase: k("revocation"), delayedBase: k("delayed"),
		htlcBase: k("htlc"), node: k("node")}
	f.revocationBasePt, f.delayedBasePt = f.revocationBase.PubKey(), f.delayedBase.PubKey()
	f.htlcBasePt, f.fundingPt, f.nodePt = f.htlcBase.PubKey(), f.funding.PubKey(), f.node.PubKey()
	return f
}

// floorCommitmentKeys derives the four per-commitment public keys of a commitment owned by owner,
// countersigned by other, with the owner's per-commitment point p (BOLT 3, "Key Derivation"):
// revocationpubkey (two scalar multiplications), local_delayedpubkey, local_htlcpubkey and
// remote_htlcpubkey (one base-point multiplication each). It returns remote_htlcpubkey, the key the HTLC
// signatures verify against.
func floorCommitmentKeys(owner, other *floorKeys, p *btcec.PublicKey) *btcec.PublicKey {
	if keys.DeriveRevocationPublicKey(other.revocationBasePt, p) == nil ||
		keys.DerivePublicKey(owner.delayedBasePt, p) == nil ||
		keys.DerivePublicKey(owner.htlcBasePt, p) == nil {
		panic("derivation failed")
	}
	return keys.DerivePublicKey(other.htlcBasePt, p)
}

// floorHTLCPrivKey is the countersigner's remote_htlc private key for point p: htlc_basepoint_secret +
// SHA256(p || htlc_basepoint), a hash and a scalar addition with the basepoint cached: no curve work.
func floorHTLCPrivKey(k *floorKeys, p *btcec.PublicKey) *btcec.PrivateKey {
	h := sha256.New()
	h.Write(p.SerializeCompressed())
	h.Write(k.htlcBasePt.SerializeCompressed())
	var sum [32]byte
	h.Sum(sum[:0])
	var t btcec.ModNScalar
	t.SetBytes(&sum)
	t.Add(&k.htlcBase.Key)
	return btcec.PrivKeyFromScalar(&t)
}

// floorState is the per-benchmark state of paymentFloor: both sides' keys, the commitment height
// reached, and fixed 32-byte digests standing in for the BIP 143 sighashes (hashing is not secp256k1
// work; RFC 6979 makes signing cost independent of the digest's value).
type floorState struct {
	side    [2]*floorKeys
	digest  [32]byte
	htlcDig [32]byte
	onionSK *btcec.PrivateKey
	n       uint64
}

func newFloorState() *floorState {
	s := &floorState{side: [2]*floorKeys{newFloorKeys("alice"), newFloorKeys("bob")}}
	s.digest = sha256.Sum256([]byte("commitment sighash"))
	s.htlcDig = sha256.Sum256([]byte("htlc sighash"))
	s.onionSK, _ = btcec.PrivKeyFromBytes(sha256Bytes([]byte("session")))
	return s
}

// secretFor is owner's per-commitment secret n (BOLT 3's generation; SHA256 only).
func (s *floorState) secretFor(owner int, n uint64) [32]byte {
	seed := sha256.Sum256([]byte{byte(owner)})
	return keys.BuildCommitmentSecret(seed, keys.MaxCommitmentIndex-n)
}

// paymentFloor does the secp256k1 work that one payment from side `from` to the other needs at the
// least, as the channel code's message flow requires it (channel_update.go: sendCommitmentSigned,
// receiveCommitmentSigned, revokeMsg, receiveRevokeAndAck; payments.go: buildOnion, incomingCommitted).
// A payment signs four new commitments: the payee's and the payer's with the HTLC (add), then the
// payer's and the payee's without it (fulfill). For each commitment:
//
//   - the owner computes its per-commitment point once (1 base-point multiplication), sends it in
//     revoke_and_ack, and the countersigner parses it (1 point decompression);
//   - the countersigner derives the commitment's four keys (revocationpubkey: 2 scalar multiplications;
//     local_delayedpubkey, local_htlcpubkey, remote_htlcpubkey: 1 base-point multiplication each) and
//     signs it (1 ECDSA signature); if it carries the HTLC, it signs the HTLC transaction too (1 ECDSA
//     signature with a derived key that costs no curve operation);
//   - the owner derives the same four keys and verifies the signature (1 ECDSA verification) and the
//     HTLC signature (1 more);
//   - the owner revokes its previous commitment; the countersigner checks the revealed secret against
//     the point it holds (1 base-point multiplication).
//
// The onion adds, at the payer, the ephemeral public key (1 base-point multiplication) and the ECDH (1
// scalar multiplication), and at the payee the ephemeral key's decompression and its ECDH (1 scalar
// multiplication). Totals per payment: 4 signatures + 2 HTLC signatures, 4 + 2 verifications, 8 key
// sets (16 scalar and 24 base-point multiplications), 4 per-commitment points, 4 secret checks, 5 point
// decompressions, and the onion's 1 base-point and 2 scalar multiplications.
func (s *floorState) paymentFloor(from int) {
	to := 1 - from
	// The four commitments in the order they are signed: (owner, carries the HTLC).
	plan := [4]struct {
		owner int
		htlc  bool
	}{{to, true}, {from, true}, {from, false}, {to, false}}

	// Onion, payer side: ephemeral key and ECDH with the payee's node key.
	epk := s.onionSK.PubKey()
	floorECDH(s.onionSK, s.side[to].nodePt)
	// Payee side: parse the ephemeral key from the packet, ECDH with its node secret.
	floorECDH(s.side[to].node, floorParsePoint(epk.SerializeCompressed()))

	for i, c := range plan {
		owner, other := s.side[c.owner], s.side[1-c.owner]
		n := s.n + uint64(i/2) + 1
		// The owner's point for commitment n, computed once by the owner, parsed by the countersigner.
		secret := s.secretFor(c.owner, n)
		p, err := keys.ComputePerCommitmentPoint(secret)
		if err != nil {
			panic(err)
		}
		p = floorParsePoint(p.SerializeCompressed())

		// Countersigner: keys, commitment signature, HTLC signature.
		floorCommitmentKeys(owner, other, p)
		sig := ecdsa.Sign(other.funding, s.digest[:])
		var htlcSig *ecdsa.Signature
		if c.htlc {
			htlcSig = ecdsa.Sign(floorHTLCPrivKey(other, p), s.htlcDig[:])
		}
		// Owner: the same keys, then verify.
		remoteHTLCKey := floorCommitmentKeys(owner, other, p)
		if !sig.Verify(s.digest[:], other.fundingPt) {
			panic("commitment signature")
		}
		if c.htlc && !htlcSig.Verify(s.htlcDig[:], remoteHTLCKey) {
			panic("htlc signature")
		}
		// Revocation of the owner's previous commitment: the countersigner checks secret·G.
		prev := s.secretFor(c.owner, n-1)
		if _, err := keys.ComputePerCommitmentPoint(prev); err != nil {
			panic(err)
		}
	}
	s.n += 2
}

func floorECDH(priv *btcec.PrivateKey, pub *btcec.PublicKey) [32]byte {
	var p, r btcec.JacobianPoint
	pub.AsJacobian(&p)
	btcec.ScalarMultNonConst(&priv.Key, &p, &r)
	r.ToAffine()
	return sha256.Sum256(btcec.NewPublicKey(&r.X, &r.Y).SerializeCompressed())
}

func floorParsePoint(b []byte) *btcec.PublicKey {
	p, err := btcec.ParsePubKey(b)
	if err != nil {
		panic(err)
	}
	return p
}

// BenchmarkPaymentCryptoFloor measures paymentFloor: the secp256k1 work one payment of BenchmarkPayment
// cannot do without.
func BenchmarkPaymentCryptoFloor(b *testing.B) {
	s := newFloorState()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startBenchCPU()
	for i := 0; i < b.N; i++ {
		s.paymentFloor(i & 1)
	}
	cpu.report(b, b.N)
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "payments/s")
}

// BenchmarkPaymentOverFloor runs one payment and one crypto floor alternately and reports the ratio of
// their total times ("pay/floor"), so that both halves see the same machine load; ns/op is for the pair.
func BenchmarkPaymentOverFloor(b *testing.B) {
	nw, _, _ := twoNodes(b)
	benchChannel(b, nw)
	s := newFloorState()
	var payNs, floorNs time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t0 := time.Now()
		benchOnePayment(b, nw, i&1)
		t1 := time.Now()
		s.paymentFloor(i & 1)
		t2 := time.Now()
		payNs += t1.Sub(t0)
		floorNs += t2.Sub(t1)
	}
	b.ReportMetric(float64(payNs)/float64(floorNs), "pay/floor")
	b.ReportMetric(float64(payNs.Nanoseconds())/float64(b.N), "ns/payment")
	b.ReportMetric(float64(floorNs.Nanoseconds())/float64(b.N), "ns/floor")
}

// benchProcessCPU returns the CPU time (user + system, all threads) this process has used, read from
// /proc/self/stat (Linux, whose USER_HZ is 100: 10 ms ticks); ok is false elsewhere.
func benchProcessCPU() (time.Duration, bool) {
	data, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0, false
	}
	// Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
	i := bytes.LastIndexByte(data, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(string(data[i+1:]))
	if len(f) < 13 {
		return 0, false
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(u+s) * 10 * time.Millisecond, true
}

// benchCPUMeter reports the process CPU time per payment ("cpu-us/payment") between start and stop: with
// other work on the machine it tells what the payments cost regardless of how much CPU they got.
type benchCPUMeter struct {
	start time.Duration
	ok    bool
}

func startBenchCPU() benchCPUMeter {
	c, ok := benchProcessCPU()
	return benchCPUMeter{start: c, ok: ok}
}

func (m benchCPUMeter) report(b *testing.B, payments int) {
	end, ok := benchProcessCPU()
	if !m.ok || !ok || payments == 0 {
		return
	}
	b.ReportMetric(float64((end-m.start).Microseconds())/float64(payments), "cpu-us/payment")
}

// benchCountingPersister counts what reaches the underlying persister: monitor updates, and the HTLC
// signatures made (one per untrimmed HTLC of every counterparty commitment signed).
type benchCountingPersister struct {
	inner    channelmonitor.Persist
	updates  atomic.Int64
	htlcSigs atomic.Int64
}

func (c *benchCountingPersister) PersistNewChannel(op wire.OutPoint, m *channelmonitor.ChannelMonitor) channelmonitor.ChannelMonitorUpdateStatus {
	return c.inner.PersistNewChannel(op, m)
}

func (c *benchCountingPersister) UpdatePersistedChannel(op wire.OutPoint, u *channelmonitor.ChannelMonitorUpdate, m *channelmonitor.ChannelMonitor) channelmonitor.ChannelMonitorUpdateStatus {
	c.updates.Add(1)
	if u != nil {
		for _, st := range u.Steps {
			var hs []channelmonitor.CounterpartyHTLC
			switch cc := st.(type) {
			case channelmonitor.LatestCounterpartyCommitment:
				hs = cc.HTLCs
			case *channelmonitor.LatestCounterpartyCommitment:
				hs = cc.HTLCs
			}
			for _, h := range hs {
				if h.OutputIndex >= 0 {
					c.htlcSigs.Add(1)
				}
			}
		}
	}
	return c.inner.UpdatePersistedChannel(op, u, m)
}

// newBenchPersistNode is newTestNode with the given monitor persister instead of the in-memory one
// (such a node cannot restart()).
func newBenchPersistNode(b *testing.B, chain *testchain.Chain, name string, seedByte byte, p channelmonitor.Persist) *testNode {
	n := &testNode{t: b, name: name, chain: chain, cfg: testConfig(), autoClaim: true}
	n.seed[0] = seedByte
	n.km = keys.NewKeysManager(n.seed, 1_700_000_000, 0)
	n.id = n.km.GetNodeID()
	wk, _ := btcec.PrivKeyFromBytes(sha256Bytes([]byte(name + " wallet")))
	n.wallet = testchain.NewWallet(chain, wk)
	n.chainMon = channelmonitor.NewChainMonitor(nil, chain, nil, chain, p)
	var err error
	n.cm, err = New(chain, n.chainMon, chain, nil, n.km, n.cfg, ChainParams{Net: &chaincfg.RegressionNetParams, BestBlock: chain.BestBlock()})
	require.NoError(b, err)
	n.proxy = &testchain.ListenerProxy{}
	chain.RegisterListener(n.proxy)
	n.proxy.Set(n.cm, n.chainMon)
	return n
}

// BenchmarkPaymentThroughput keeps `inflight` payments in flight on one channel (alternating
// direction) and delivers messages in rounds: each round hands every queued message to its peer, so
// the updates that arrive while a node waits for revoke_and_ack share the next commitment_signed.
// Monitors are persisted by FilesystemPersister in b.TempDir() (fsync on unless the sub-benchmark says
// nosync). b.N counts completed payments. Besides payments/s it reports, per payment: process CPU
// time, monitor updates (persister calls), commitments signed, delivery rounds and HTLC signatures;
// and the final size of a serialized monitor.
func BenchmarkPaymentThroughput(b *testing.B) {
	for _, tc := range []struct {
		inflight int
		sync     bool
	}{{50, true}, {50, false}, {1, true}, {10, true}, {200, true}} {
		name := fmt.Sprintf("inflight=%d/fsync", tc.inflight)
		if !tc.sync {
			name = fmt.Sprintf("inflight=%d/nosync", tc.inflight)
		}
		b.Run(name, func(b *testing.B) { benchThroughput(b, tc.inflight, tc.sync) })
	}
}

// benchMonitorBytes is the size of node n's (only) channel monitor serialized, which is what every
// snapshot of it writes.
func benchMonitorBytes(n *testNode) float64 {
	mons := n.chainMon.ListMonitors()
	if len(mons) != 1 {
		return 0
	}
	return float64(len(mons[0].Write()))
}

// benchCommitmentsSigned is the number of commitments both nodes of nw hold for channel id so far
// (the sum of their local commitment numbers): each one cost a commitment_signed and a revoke_and_ack.
func benchCommitmentsSigned(nw *network, id lnwire.ChannelID) uint64 {
	var sum uint64
	for i, n := range nw.nodes {
		ps := n.cm.peer(nw.nodes[1-i].id, false)
		ps.mu.Lock()
		sum += ps.channels[id].localCommitNum
		ps.mu.Unlock()
	}
	return sum
}

func benchThroughput(b *testing.B, inflight int, fsync bool) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	var ps [2]*benchCountingPersister
	var nodes [2]*testNode
	for i, name := range []string{"alice", "bob"} {
		fp, err := channelmonitor.NewFilesystemPersister(b.TempDir())
		require.NoError(b, err)
		fp.NoSync = !fsync
		b.Cleanup(func() { fp.Close() })
		ps[i] = &benchCountingPersister{inner: fp}
		nodes[i] = newBenchPersistNode(b, chain, name, byte(i+1), ps[i])
	}
	nw := newNetwork(b, nodes[0], nodes[1])
	nw.connect(0, 1)
	id := benchChannel(b, nw)
	start := nodes[0].channel(id).BalanceMsat
	updates0 := ps[0].updates.Load() + ps[1].updates.Load()
	sigs0 := ps[0].htlcSigs.Load() + ps[1].htlcSigs.Load()
	commits0 := benchCommitmentsSigned(nw, id)

	b.ReportAllocs()
	b.ResetTimer()
	cpu := startBenchCPU()
	started, done, pending, rounds, idle := 0, 0, 0, 0, 0
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
		rounds++
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
		if delivered == 0 && !progressed {
			// The claims happen when events are handled; step handles them first thing next round.
			if idle++; idle > 3 {
				b.Fatalf("stalled with %d payments pending", pending)
			}
		} else {
			idle = 0
		}
	}
	b.StopTimer()
	cpu.report(b, b.N)
	elapsed := b.Elapsed().Seconds()
	nw.settle()
	b.ReportMetric(float64(b.N)/elapsed, "payments/s")
	b.ReportMetric(float64(ps[0].updates.Load()+ps[1].updates.Load()-updates0)/float64(b.N), "monitor-updates/payment")
	b.ReportMetric(float64(benchCommitmentsSigned(nw, id)-commits0)/float64(b.N), "commitments/payment")
	b.ReportMetric(float64(rounds)/float64(b.N), "rounds/payment")
	b.ReportMetric(float64(ps[0].htlcSigs.Load()+ps[1].htlcSigs.Load()-sigs0)/float64(b.N), "htlc-sigs/payment")
	b.ReportMetric(benchMonitorBytes(nodes[0]), "monitor-bytes")
	checkBalances(b, nodes[0], nodes[1], id, start-uint64(sent[0])*benchPaymentMsat+uint64(sent[1])*benchPaymentMsat)
}

// BenchmarkSecp256k1Primitives measures the operations paymentFloor is made of, to read its total.
func BenchmarkSecp256k1Primitives(b *testing.B) {
	s := newFloorState()
	k := s.side[0]
	p, _ := keys.ComputePerCommitmentPoint(s.secretFor(0, 1))
	pb := p.SerializeCompressed()
	sig := ecdsa.Sign(k.funding, s.digest[:])
	run := func(name string, f func()) {
		b.Run(name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				f()
			}
		})
	}
	run("ScalarBaseMult", func() {
		var r btcec.JacobianPoint
		btcec.ScalarBaseMultNonConst(&k.htlcBase.Key, &r)
	})
	run("ScalarMult", func() {
		var a, r btcec.JacobianPoint
		p.AsJacobian(&a)
		btcec.ScalarMultNonConst(&k.htlcBase.Key, &a, &r)
	})
	run("ParsePubKey", func() { floorParsePoint(pb) })
	run("ECDSASign", func() { ecdsa.Sign(k.funding, s.digest[:]) })
	run("ECDSAVerify", func() {
		if !sig.Verify(s.digest[:], k.fundingPt) {
			panic("verify")
		}
	})
	run("DerivePublicKey", func() { keys.DerivePublicKey(k.htlcBasePt, p) })
	run("DeriveRevocationPublicKey", func() { keys.DeriveRevocationPublicKey(k.revocationBasePt, p) })
	run("ComputePerCommitmentPoint", func() { keys.ComputePerCommitmentPoint(s.secretFor(0, 1)) })
}

// benchMailbox is one node's inbox in BenchmarkPaymentThroughputParallel: encoded messages from the
// peer, in order, and a wake-up signal.
type benchMailbox struct {
	mu     sync.Mutex
	msgs   [][]byte
	notify chan struct{}
}

func newBenchMailbox() *benchMailbox { return &benchMailbox{notify: make(chan struct{}, 1)} }

func (m *benchMailbox) push(batch [][]byte) {
	if len(batch) == 0 {
		return
	}
	m.mu.Lock()
	m.msgs = append(m.msgs, batch...)
	m.mu.Unlock()
	select {
	case m.notify <- struct{}{}:
	default:
	}
}

func (m *benchMailbox) take() [][]byte {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.msgs
	m.msgs = nil
	return out
}

// benchParallelSlack bounds how far one direction of BenchmarkPaymentThroughputParallel may run ahead of
// the other, in payments started by one side beyond those completed by the other: the two goroutines
// do not get the CPU evenly, and an uncoupled fast direction would drain its sender's balance.
const benchParallelSlack = 60

// benchParallelNode runs one node of BenchmarkPaymentThroughputParallel on its own goroutine until stop is
// closed: it keeps `window` payments of its own in flight to the peer (until it has started `quota`,
// never more than benchParallelSlack ahead of the peer's completed payments), handles whatever the peer
// sent since its last turn, claims what it is paid, and sends what the manager queued. It returns the
// first failure.
func benchParallelNode(self, peer *testNode, in, out *benchMailbox, window, quota int, done, myDone, peerDone *atomic.Int64, stop <-chan struct{}) error {
	started, pending := 0, 0
	var seq uint64
	for {
		select {
		case <-stop:
			return nil
		default:
		}
		busy := false
		// Keep the two directions in step (at most benchParallelSlack payments apart) so that neither side's
		// balance runs out.
		for pending < window && started < quota && int64(started)-peerDone.Load() < benchParallelSlack {
			hash, secret, err := peer.cm.CreateInboundPayment(benchPaymentMsat, 3600, 0)
			if err != nil {
				return err
			}
			seq++
			var pid events.PaymentID
			copy(pid[:], sha256Bytes(append(hash[:], byte(seq), byte(seq>>8), byte(seq>>16))))
			route := router.SinglePath(router.RouteHop{PubKey: peer.id, FeeMsat: benchPaymentMsat, CLTVExpiryDelta: DefaultMinFinalCLTVExpiryDelta + 6})
			if err := self.cm.SendPaymentWithRoute(route, hash, &secret, pid); err != nil {
				return fmt.Errorf("%s: payment %d: %w", self.name, started, err)
			}
			started++
			pending++
			busy = true
		}
		msgs := in.take()
		if len(msgs) == 0 && !busy {
			select {
			case <-in.notify:
			case <-stop:
				return nil
			case <-time.After(30 * time.Second):
				return fmt.Errorf("%s: stalled with %d payments pending", self.name, pending)
			}
			msgs = in.take()
		}
		for _, b := range msgs {
			m, err := lnwire.DecodeMessage(b)
			if err != nil {
				return err
			}
			self.cm.HandleChannelMessage(peer.id, m)
		}
		var ferr error
		handle := func(e events.Event) error {
			switch ev := e.(type) {
			case events.PaymentClaimable:
				if err := self.cm.ClaimFunds(*ev.Purpose.PaymentPreimage); err != nil {
					ferr = err
				}
			case events.PaymentSent:
				pending--
				done.Add(1)
				myDone.Add(1)
			case events.PaymentFailed:
				ferr = fmt.Errorf("%s: payment failed: %v", self.name, ev)
			}
			return nil
		}
		if err := self.cm.ProcessPendingEvents(handle); err != nil {
			return err
		}
		if ferr != nil {
			return ferr
		}
		var batch [][]byte
		for _, me := range self.cm.GetAndClearPendingMsgEvents() {
			if me.Msg == nil {
				continue
			}
			if _, bad := me.Msg.(*lnwire.Error); bad {
				return fmt.Errorf("%s sends error: %s", self.name, me.Msg.(*lnwire.Error).Data)
			}
			b, err := lnwire.EncodeMessage(me.Msg)
			if err != nil {
				return err
			}
			batch = append(batch, b)
		}
		out.push(batch)
	}
}

// BenchmarkPaymentThroughputParallel is BenchmarkPaymentThroughput/inflight=50/fsync with each node on
// its own goroutine, as two nodes on two machines would be: 25 payments in flight each way, each node
// handling every message that arrived since its last turn in one go. Monitors persist to
// FilesystemPersister with fsync. Both nodes share this machine's cores with everything else running.
func BenchmarkPaymentThroughputParallel(b *testing.B) {
	const inflight = 50
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	var ps [2]*benchCountingPersister
	var nodes [2]*testNode
	for i, name := range []string{"alice", "bob"} {
		fp, err := channelmonitor.NewFilesystemPersister(b.TempDir())
		require.NoError(b, err)
		b.Cleanup(func() { fp.Close() })
		ps[i] = &benchCountingPersister{inner: fp}
		nodes[i] = newBenchPersistNode(b, chain, name, byte(i+1), ps[i])
	}
	nw := newNetwork(b, nodes[0], nodes[1])
	nw.connect(0, 1)
	id := benchChannel(b, nw)
	start := nodes[0].channel(id).BalanceMsat
	updates0 := ps[0].updates.Load() + ps[1].updates.Load()
	sigs0 := ps[0].htlcSigs.Load() + ps[1].htlcSigs.Load()
	commits0 := benchCommitmentsSigned(nw, id)
	boxes := [2]*benchMailbox{newBenchMailbox(), newBenchMailbox()}
	quota := [2]int{(b.N + 1) / 2, b.N / 2}

	var done atomic.Int64
	var nodeDone [2]atomic.Int64
	stop := make(chan struct{})
	errs := make(chan error, 2)
	var wg sync.WaitGroup
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startBenchCPU()
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			if err := benchParallelNode(nodes[i], nodes[1-i], boxes[i], boxes[1-i], inflight/2, quota[i], &done, &nodeDone[i], &nodeDone[1-i], stop); err != nil {
				errs <- err
			}
		}(i)
	}
	var failure error
	for failure == nil && done.Load() < int64(b.N) {
		select {
		case failure = <-errs:
		case <-time.After(time.Millisecond):
		}
	}
	close(stop)
	wg.Wait()
	b.StopTimer()
	cpu.report(b, b.N)
	if failure != nil {
		b.Fatal(failure)
	}
	elapsed := b.Elapsed().Seconds()
	// Deliver what is still queued so that both sides agree before checking balances.
	for i := 0; i < 2; i++ {
		for _, raw := range boxes[i].take() {
			m, err := lnwire.DecodeMessage(raw)
			require.NoError(b, err)
			nodes[i].cm.HandleChannelMessage(nodes[1-i].id, m)
		}
	}
	nw.settle()
	b.ReportMetric(float64(b.N)/elapsed, "payments/s")
	b.ReportMetric(float64(ps[0].updates.Load()+ps[1].updates.Load()-updates0)/float64(b.N), "monitor-updates/payment")
	b.ReportMetric(float64(benchCommitmentsSigned(nw, id)-commits0)/float64(b.N), "commitments/payment")
	b.ReportMetric(float64(ps[0].htlcSigs.Load()+ps[1].htlcSigs.Load()-sigs0)/float64(b.N), "htlc-sigs/payment")
	b.ReportMetric(benchMonitorBytes(nodes[0]), "monitor-bytes")
	checkBalances(b, nodes[0], nodes[1], id, start-uint64(quota[0])*benchPaymentMsat+uint64(quota[1])*benchPaymentMsat)
}
