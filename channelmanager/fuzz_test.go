package channelmanager

// FuzzChannelPeer drives two nodes with an open channel through a script of actions read from the fuzz
// input: deliver, drop, duplicate, reorder or corrupt the messages in flight, start payments, change
// the feerate, disconnect and reconnect, mine blocks. The input's first byte picks the mode: even for
// a clean run, where only what a reliable transport allows happens (the message-perturbing actions
// deliver instead, and a corrupted message that still decodes is not delivered; one that does not
// decode is what a PeerManager drops the connection over), odd for a run where anything goes. At the
// end everything is delivered, the nodes reconnect and settle, and the run is checked:
//   - nothing panics;
//   - a clean run leaves the channel open and usable on both sides with no HTLC pending, every payment
//     resolved, what each payer was told it sent equal to what the payee claimed, and balances that
//     agree and add up;
//   - a perturbed run leaves the channel either closed by a side that noticed, or open on both sides
//     with balances that agree; when it is usable on both sides nothing is left pending, and a further
//     payment still works or makes a side close the channel: never a silent disagreement.

import (
	"math/rand"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/lnwire"
)

// Script opcodes (the op byte modulo fuzzOps).
const (
	fuzzDeliver    = iota // arg: direction. Deliver the oldest message of that direction.
	fuzzDeliver2          // the same: delivery is the commonest action
	fuzzDeliver3          // the same
	fuzzPay               // args: from|amount, amount. Start a payment.
	fuzzPay2              // the same
	fuzzDrop              // arg: direction. Lose its oldest message silently (perturbs).
	fuzzDuplicate         // arg: direction. Deliver its oldest message twice (perturbs).
	fuzzReorder           // arg: direction. Swap its two oldest messages (perturbs).
	fuzzInjectCopy        // args: index, flips. Deliver a corrupted copy of a queued message.
	fuzzCorrupt           // args: index, flips. Corrupt a queued message in place.
	fuzzReconnect         // Drop the connection (and everything in flight) and reconnect.
	fuzzMine              // Mine a block (at most fuzzMaxBlocks per run).
	fuzzDeliverAll        // Deliver everything in flight, in a random interleaving.
	fuzzFee               // arg: feerate choice. The fee estimate moves; the funder's timer ticks.
	fuzzOps
)

const (
	fuzzMaxActions = 400
	// fuzzMaxBlocks keeps HTLCs (cltv_expiry 30 blocks ahead) far from their on-chain deadline, so a
	// clean run never has a reason to force-close.
	fuzzMaxBlocks = 10
	fuzzValueSat  = 2_000_000
	fuzzPushMsat  = 800_000_000
)

// fuzzFeerates are the estimates the fee action picks from; the largest is under ten times the
// smallest, the bound a receiver puts on update_fee, so a clean run never refuses one.
var fuzzFeerates = []uint32{253, 500, 1000, 2000}

// fuzzInput reads the script; past its end every read is 0 and ok is false.
type fuzzInput struct {
	b []byte
	i int
}

func (s *fuzzInput) next() (byte, bool) {
	if s.i >= len(s.b) {
		return 0, false
	}
	s.i++
	return s.b[s.i-1], true
}

func (s *fuzzInput) byte() byte {
	v, _ := s.next()
	return v
}

// fuzzRun is one run's state.
type fuzzRun struct {
	t         *testing.T
	nw        *network
	a, b      *testNode
	id        lnwire.ChannelID
	in        *fuzzInput
	rng       *rand.Rand
	clean     bool // the script's mode: no message may be dropped, duplicated, reordered or corrupted
	perturbed bool // a message was dropped, duplicated, reordered or corrupted
	blocks    int
	payments  int
	// Per node: amounts of its pending payments by hash, what it sent and claimed, failures, closes.
	pending [2]map[[32]byte]uint64
	sent    [2]uint64
	claimed [2]uint64
	failed  [2]int
	closed  [2]bool
}

// dirIndexes returns the queue positions of the messages from→to, oldest first.
func (r *fuzzRun) dirIndexes(from int) []int {
	var out []int
	for k, q := range r.nw.queue {
		if q.from == from {
			out = append(out, k)
		}
	}
	return out
}

func (r *fuzzRun) removeAt(k int) queued {
	q := r.nw.queue[k]
	r.nw.queue = append(r.nw.queue[:k], r.nw.queue[k+1:]...)
	return q
}

// corrupt flips bytes of a copy of data as the script says.
func (r *fuzzRun) corrupt(data []byte) []byte {
	out := append([]byte(nil), data...)
	flips := 1 + int(r.in.byte()%4)
	for i := 0; i < flips; i++ {
		pos := (int(r.in.byte())<<8 | int(r.in.byte())) % len(out)
		mask := r.in.byte()
		if mask == 0 {
			mask = 0x01
		}
		out[pos] ^= mask
	}
	return out
}

// reconnect drops the connection with everything in flight, as a lost TCP link does, and reconnects.
func (r *fuzzRun) reconnect() {
	r.nw.disconnect(0, 1)
	r.nw.connect(0, 1)
}

// account reads both nodes' events.
func (r *fuzzRun) account() {
	for i, n := range []*testNode{r.a, r.b} {
		n.handleEvents()
		for _, e := range n.takeEvents() {
			switch ev := e.(type) {
			case events.PaymentSent:
				amt, ok := r.pending[i][ev.PaymentHash]
				require.True(r.t, ok, "%s: PaymentSent for a payment it did not start", n.name)
				r.sent[i] += amt
				delete(r.pending[i], ev.PaymentHash)
			case events.PaymentFailed:
				_, ok := r.pending[i][ev.PaymentHash]
				require.True(r.t, ok, "%s: PaymentFailed for a payment it did not start", n.name)
				r.failed[i]++
				delete(r.pending[i], ev.PaymentHash)
			case events.PaymentClaimed:
				r.claimed[i] += ev.AmountMsat
			case events.ChannelClosed:
				if ev.ChannelID == r.id {
					require.False(r.t, r.closed[i], "%s: ChannelClosed twice", n.name)
					r.closed[i] = true
				}
			}
		}
	}
}

func (r *fuzzRun) step(op byte) {
	nw := r.nw
	nw.collect()
	op %= fuzzOps
	if r.clean && (op == fuzzDrop || op == fuzzDuplicate || op == fuzzReorder) {
		op = fuzzDeliver
	}
	switch op {
	case fuzzDeliver, fuzzDeliver2, fuzzDeliver3:
		if idx := r.dirIndexes(int(r.in.byte() & 1)); len(idx) > 0 {
			nw.deliver(r.removeAt(idx[0]))
		}
	case fuzzPay, fuzzPay2:
		arg := r.in.byte()
		from := int(arg & 1)
		amt := 1_000 + uint64(arg>>1)*7_919 + uint64(r.in.byte())*150_000
		r.payments++
		if _, hash, err := nw.pay(from, 1-from, amt); err == nil {
			r.pending[from][hash] = amt
		}
	case fuzzDrop:
		if idx := r.dirIndexes(int(r.in.byte() & 1)); len(idx) > 0 {
			r.removeAt(idx[0])
			r.perturbed = true
		}
	case fuzzDuplicate:
		if idx := r.dirIndexes(int(r.in.byte() & 1)); len(idx) > 0 {
			q := nw.queue[idx[0]]
			nw.deliver(q)
			r.perturbed = true
		}
	case fuzzReorder:
		if idx := r.dirIndexes(int(r.in.byte() & 1)); len(idx) > 1 {
			nw.queue[idx[0]], nw.queue[idx[1]] = nw.queue[idx[1]], nw.queue[idx[0]]
			r.perturbed = true
		}
	case fuzzInjectCopy, fuzzCorrupt:
		pick := int(r.in.byte())
		var withData []int
		for k, q := range nw.queue {
			if q.data != nil {
				withData = append(withData, k)
			}
		}
		if len(withData) == 0 {
			return
		}
		k := withData[pick%len(withData)]
		q := nw.queue[k]
		bad := r.corrupt(q.data)
		m, err := lnwire.DecodeMessage(bad)
		if err != nil {
			// The receiving PeerManager cannot decode it: it sends a warning and drops the connection
			// (BOLT 1); the hosts reconnect. Nothing reached the channel manager: still a clean run.
			r.reconnect()
			return
		}
		if r.clean {
			return
		}
		r.perturbed = true
		if op == fuzzCorrupt {
			nw.queue[k].data = bad
			return
		}
		nw.nodes[q.to].cm.HandleChannelMessage(nw.nodes[q.from].id, m)
	case fuzzReconnect:
		r.reconnect()
	case fuzzMine:
		if r.blocks < fuzzMaxBlocks {
			r.blocks++
			r.a.chain.MineBlocks(1)
		}
	case fuzzDeliverAll:
		nw.settleRandom(r.rng)
	case fuzzFee:
		r.a.chain.SetDefaultFeeratePerKw(fuzzFeerates[int(r.in.byte())%len(fuzzFeerates)])
		r.a.cm.TimerTickOccurred()
	}
}

// channelOpen says whether the node still has the channel and has not closed it.
func (r *fuzzRun) channelOpen(n *testNode) (ChannelDetails, bool) {
	for _, d := range n.cm.ListChannels() {
		if d.ChannelID == r.id {
			return d, d.State != "Closed"
		}
	}
	return ChannelDetails{}, false
}

func runChannelScript(t *testing.T, script []byte) {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, fuzzValueSat, fuzzPushMsat)
	seed := int64(len(script))
	for _, c := range script {
		seed = seed*131 + int64(c)
	}
	r := &fuzzRun{t: t, nw: nw, a: a, b: b, id: id, in: &fuzzInput{b: script}, rng: rand.New(rand.NewSource(seed))}
	r.pending = [2]map[[32]byte]uint64{{}, {}}
	r.clean = r.in.byte()%2 == 0
	for i := 0; i < fuzzMaxActions; i++ {
		op, ok := r.in.next()
		if !ok {
			break
		}
		r.step(op)
		r.account()
	}
	// Deliver everything, reconnect (retransmitting whatever was lost), and deliver again.
	nw.settleRandom(r.rng)
	r.account()
	r.reconnect()
	nw.settleRandom(r.rng)
	r.account()

	da, openA := r.channelOpen(a)
	db, openB := r.channelOpen(b)
	t.Logf("clean %v, perturbed %v, %d payments started, sent %v msat, %v failed, closed %v, blocks %d",
		r.clean, r.perturbed, r.payments, r.sent, r.failed, r.closed, r.blocks)
	require.False(t, r.clean && r.perturbed)
	if !r.perturbed {
		require.False(t, r.closed[0] || r.closed[1], "a clean run closed the channel (alice %v, bob %v)", r.closed[0], r.closed[1])
		require.True(t, openA && openB)
		require.True(t, da.IsUsable && db.IsUsable, "usable after reconnecting: alice %s, bob %s", da.State, db.State)
		require.Empty(t, r.pending[0], "alice's payments unresolved")
		require.Empty(t, r.pending[1], "bob's payments unresolved")
		require.Equal(t, r.sent[0], r.claimed[1], "bob claimed what alice sent")
		require.Equal(t, r.sent[1], r.claimed[0], "alice claimed what bob sent")
		checkBalances(t, a, b, id, fuzzValueSat*1000-fuzzPushMsat-r.sent[0]+r.sent[1])
		return
	}
	if !openA || !openB {
		return
	}
	require.LessOrEqual(t, da.BalanceMsat+db.BalanceMsat, uint64(fuzzValueSat)*1000, "balances exceed the channel value")
	if !da.IsUsable || !db.IsUsable {
		if da.NumPendingHTLCs == 0 && db.NumPendingHTLCs == 0 {
			require.Equal(t, uint64(fuzzValueSat)*1000, da.BalanceMsat+db.BalanceMsat, "open on both sides: balances agree")
		}
		return
	}
	// Usable on both sides: everything must have settled, and the channel must still work.
	require.Zero(t, da.NumPendingHTLCs, "alice has HTLCs pending after settling")
	require.Zero(t, db.NumPendingHTLCs, "bob has HTLCs pending after settling")
	require.Equal(t, uint64(fuzzValueSat)*1000, da.BalanceMsat+db.BalanceMsat, "balances agree")
	before := da.BalanceMsat
	const probe = 50_000
	if _, hash, err := nw.pay(0, 1, probe); err == nil {
		r.pending[0][hash] = probe
		sentBefore := r.sent[0]
		nw.settleRandom(r.rng)
		r.account()
		da, openA = r.channelOpen(a)
		db, openB = r.channelOpen(b)
		if openA && openB && da.IsUsable && db.IsUsable {
			require.Equal(t, sentBefore+probe, r.sent[0], "the probe payment went through")
			checkBalances(t, a, b, id, before-probe)
		}
	}
}

// fuzzSeeds are scripts the seed corpus runs as a normal test.
var fuzzSeeds = [][]byte{
	// Payments both ways, delivered one message at a time.
	{0, fuzzPay, 0x10, 0x05, fuzzPay, 0x21, 0x03, fuzzDeliver, 0, fuzzDeliver, 1, fuzzDeliver, 0, fuzzDeliver, 1,
		fuzzDeliver2, 0, fuzzDeliver2, 1, fuzzDeliverAll},
	// Payments, a reconnect with HTLCs in flight, a fee change, blocks.
	{0, fuzzPay, 0x40, 0x20, fuzzDeliver, 0, fuzzPay, 0x31, 0x10, fuzzDeliver, 1, fuzzReconnect, fuzzFee, 2,
		fuzzMine, fuzzPay, 0x02, 0x01, fuzzDeliver, 0, fuzzDeliver, 1, fuzzMine, fuzzDeliverAll},
	// A corrupted update_add_htlc copy.
	{1, fuzzPay, 0x08, 0x04, fuzzInjectCopy, 0, 0, 0, 40, 0x04, fuzzDeliverAll},
	// Duplicate and reordered messages.
	{1, fuzzPay, 0x08, 0x04, fuzzDeliver, 0, fuzzDuplicate, 0, fuzzPay, 0x09, 0x02, fuzzReorder, 1, fuzzDeliverAll},
	// A dropped commitment_signed, recovered by reconnecting.
	{1, fuzzPay, 0x0a, 0x02, fuzzDeliver, 0, fuzzDrop, 0, fuzzDeliverAll, fuzzReconnect, fuzzDeliverAll},
	// A corrupted commitment_signed in place.
	{1, fuzzPay, 0x0c, 0x09, fuzzDeliver, 0, fuzzCorrupt, 0, 0, 0, 40, 0x80, fuzzDeliverAll},
	// Many payments and interleavings, fee moves, and corruptions that only the PeerManager sees.
	{0, fuzzPay, 1, 1, fuzzInjectCopy, 1, 0, 0, 98, 0x01, fuzzPay, 2, 2, fuzzPay, 3, 3, fuzzFee, 3, fuzzDeliver, 0, fuzzDeliver, 1, fuzzPay, 4, 4,
		fuzzDeliver, 1, fuzzFee, 0, fuzzDeliver, 0, fuzzDeliver, 0, fuzzReconnect, fuzzPay, 5, 5, fuzzDeliverAll},
}

func FuzzChannelPeer(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, script []byte) {
		runChannelScript(t, script)
	})
}
