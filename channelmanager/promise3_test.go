package channelmanager

import (
	"bytes"
	"fmt"
	"math/rand"
	"sort"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/lnwire"
)

// TestPromise3ThroughApply checks promise 3 (ARCH.md) on what apply does, through the manager's test
// hook: two nodes open a channel, make random payments both ways and close it cooperatively, while
// their persisters answer InProgress (switched on and off at random) and the test completes the
// updates in flight a random prefix of a random channel at a time, interleaved at random with the
// delivery of messages. For each node and channel it asserts that:
//   - no message (but `error`, `warning` and channel_reestablish, which depend on no new state) is
//     queued for the PeerManager, and no transaction broadcast, while an update handed to the monitor
//     before it is not persisted, as the test knows from the statuses and its own completions;
//   - the manager's own view agrees: nothing leaves while it counts an update in flight, and it never
//     counts as complete an update the test did not complete;
//   - each message has the state it depends on persisted: a revoke_and_ack our current holder commitment
//     (the one it makes the previous revocable), a commitment_signed the counterparty commitment it signs
//     (also when retransmitted after reconnecting), update_fulfill_htlc its
//     preimage, shutdown our closing script, funding_signed and the funding broadcast the new monitor,
//     the closing broadcast the closing transaction.
func TestPromise3ThroughApply(t *testing.T) {
	seeds := 6
	if testing.Short() {
		seeds = 2
	}
	for seed := int64(1); seed <= int64(seeds); seed++ {
		t.Run(fmt.Sprint(seed), func(t *testing.T) { testPromise3(t, seed) })
	}
}

func testPromise3(t *testing.T, seed int64) {
	r := rand.New(rand.NewSource(seed))
	nw, a, b := twoNodes(t)
	nodes := []*testNode{a, b}
	checks := make([]*promise3, len(nodes))
	for i, n := range nodes {
		checks[i] = watchPromise3(n)
		n.persist.asyncNew = true
		n.persist.setAsync(true)
	}
	id := openAsync(t, r, nw, checks)
	amounts := map[events.PaymentID]uint64{}
	for round := 0; round < 25; round++ {
		for k := r.Intn(3); k >= 0; k-- {
			from := r.Intn(2)
			amt := randAmount(r, 10_000, 30_000_000)
			if pid, _, err := nw.pay(from, 1-from, amt); err == nil {
				amounts[pid] = amt
			}
		}
		if r.Intn(4) == 0 {
			nodes[r.Intn(2)].persist.setAsync(r.Intn(2) == 0)
		}
		for k := r.Intn(30); k > 0; k-- {
			stepAsync(t, r, nw, checks)
		}
	}
	driveAsync(t, r, nw, checks)
	wantA := uint64(1_000_000_000)
	for i, n := range nodes {
		for _, e := range n.takeEvents() {
			if ps, ok := e.(events.PaymentSent); ok {
				require.Contains(t, amounts, ps.PaymentID)
				if i == 0 {
					wantA -= amounts[ps.PaymentID]
				} else {
					wantA += amounts[ps.PaymentID]
				}
				delete(amounts, ps.PaymentID)
			}
		}
	}
	require.Empty(t, amounts, "every payment sent succeeded")
	checkBalances(t, a, b, id, wantA)

	closer := r.Intn(2)
	require.NoError(t, nodes[closer].cm.CloseChannel(id, nodes[1-closer].id))
	driveAsync(t, r, nw, checks)
	for i, p := range checks {
		if n := len(p.violations); n > 0 {
			t.Fatalf("%s: %d violations of promise 3, the first: %s", nodes[i].name, n, strings.Join(p.violations[:min(n, 5)], "; "))
		}
		require.Positive(t, p.inProgress, "%s: some updates were persisted asynchronously", nodes[i].name)
		require.Positive(t, p.heldAndSent, "%s: some messages waited for persistence", nodes[i].name)
		require.Positive(t, p.closingBroadcasts, "%s broadcast the closing transaction", nodes[i].name)
	}
	require.Positive(t, checks[0].fundingBroadcasts, "alice broadcast the funding transaction")
}

// openAsync opens a 1,000,000 sat channel from node 0 to node 1 with asynchronous persistence.
func openAsync(t *testing.T, r *rand.Rand, nw *network, checks []*promise3) lnwire.ChannelID {
	a, b := nw.nodes[0], nw.nodes[1]
	a.chain.FundAddress(a.wallet.PkScript(), 1_100_000)
	a.chain.MineBlocks(1)
	_, err := a.cm.CreateChannel(b.id, 1_000_000, 0, [16]byte{1}, nil)
	require.NoError(t, err)
	driveAsync(t, r, nw, checks)
	require.Len(t, a.chain.Mempool(), 1, "funding broadcast")
	a.chain.MineBlocks(int(a.cfg.ChannelHandshakeConfig.MinimumDepth))
	driveAsync(t, r, nw, checks)
	for _, n := range nw.nodes {
		require.Equal(t, 1, countEvents[events.ChannelReady](n.takeEvents()), n.name)
	}
	return a.cm.ListChannels()[0].ChannelID
}

// stepAsync makes one random step: complete a random prefix of one channel's in-flight updates at a
// random node, or deliver one message. It returns false if neither was possible.
func stepAsync(t *testing.T, r *rand.Rand, nw *network, checks []*promise3) bool {
	i := r.Intn(len(nw.nodes))
	if r.Intn(3) == 0 && checks[i].completeSome(t, r, nw.nodes[i]) {
		return true
	}
	if nw.deliverOne(r) {
		return true
	}
	for j := range nw.nodes {
		if checks[j].completeSome(t, r, nw.nodes[j]) {
			return true
		}
	}
	return false
}

// driveAsync steps until no message is queued and no update is in flight.
func driveAsync(t *testing.T, r *rand.Rand, nw *network, checks []*promise3) {
	for i := 0; i < 100_000; i++ {
		if !stepAsync(t, r, nw, checks) {
			for _, n := range nw.nodes {
				n.handleEvents()
			}
			if !stepAsync(t, r, nw, checks) {
				return
			}
		}
	}
	t.Fatal("did not settle")
}

// promise3 watches one node's manager through its hook and checks promise 3 (see
// TestPromise3ThroughApply). The test runs on one goroutine, so it needs no lock.
type promise3 struct {
	handed   map[*channel][]applyTrace
	done     map[wire.OutPoint]int64 // highest update id the test reported persisted, -1 for none
	inFlight map[*channel]map[uint64]bool

	violations                           []string
	inProgress, heldAndSent              int
	fundingBroadcasts, closingBroadcasts int
}

// watchPromise3 sets a node's hook to a new promise3.
func watchPromise3(n *testNode) *promise3 {
	p := &promise3{handed: map[*channel][]applyTrace{}, done: map[wire.OutPoint]int64{},
		inFlight: map[*channel]map[uint64]bool{}}
	n.cm.hook = p.observe
	return p
}

func (p *promise3) violate(format string, args ...any) {
	p.violations = append(p.violations, fmt.Sprintf(format, args...))
}

func (p *promise3) doneUpTo(op wire.OutPoint) int64 {
	if d, ok := p.done[op]; ok {
		return d
	}
	return -1
}

// persisted says whether an update handed over is persisted: synchronously, or completed by the test.
func (p *promise3) persisted(c *channel, h applyTrace) bool {
	return h.status == channelmonitor.Completed || int64(h.update.UpdateID) <= p.doneUpTo(c.fundingOutPoint)
}

func (p *promise3) observe(e applyTrace) {
	switch e.kind {
	case traceHandedOver:
		p.handed[e.c] = append(p.handed[e.c], e)
		if e.status == channelmonitor.InProgress {
			p.inProgress++
			if p.inFlight[e.c] == nil {
				p.inFlight[e.c] = map[uint64]bool{}
			}
			p.inFlight[e.c][e.update.UpdateID] = true
		}
	case traceCompleted:
		if int64(e.updateID) > p.doneUpTo(e.c.fundingOutPoint) {
			p.violate("manager completed update %d, persisted only up to %d", e.updateID, p.doneUpTo(e.c.fundingOutPoint))
		}
		for id := range p.inFlight[e.c] {
			if id <= e.updateID {
				delete(p.inFlight[e.c], id)
			}
		}
	case traceSent:
		p.sent(e.c, e.msg)
	case traceBroadcast:
		p.leaves(e.c, "broadcast")
		p.broadcast(e.c, e.tx)
	}
}

// leaves checks that everything handed over for c is persisted and that the manager counts nothing in
// flight as what goes by leaves.
func (p *promise3) leaves(c *channel, what string) {
	waited := false
	for _, h := range p.handed[c] {
		if !p.persisted(c, h) {
			p.violate("%s left before update %d was persisted", what, h.update.UpdateID)
		}
		waited = waited || h.status == channelmonitor.InProgress
	}
	if len(p.inFlight[c]) > 0 {
		p.violate("%s left with updates %v in flight", what, p.inFlight[c])
	}
	if waited {
		p.heldAndSent++
	}
}

// hasPersisted says whether a persisted update of c has a step that match accepts.
func (p *promise3) hasPersisted(c *channel, match func(channelmonitor.UpdateStep) bool) bool {
	for _, h := range p.handed[c] {
		for _, s := range h.update.Steps {
			if p.persisted(c, h) && match(s) {
				return true
			}
		}
	}
	return false
}

// monitorPersisted says whether c's first monitor (update 0) is persisted.
func (p *promise3) monitorPersisted(c *channel) bool {
	for _, h := range p.handed[c] {
		if h.update.UpdateID == 0 && p.persisted(c, h) {
			return true
		}
	}
	return false
}

func (p *promise3) sent(c *channel, msg lnwire.Message) {
	switch msg.(type) {
	case *lnwire.Error, *lnwire.Warning, *lnwire.ChannelReestablish:
		return
	}
	p.leaves(c, msg.MsgType().String())
	var ok bool
	switch m := msg.(type) {
	case *lnwire.RevokeAndAck:
		// It revokes our commitment localCommitNum-1: commitment localCommitNum must be persisted (a
		// retransmission after reconnecting depends on the same).
		k := c.localCommitNum
		ok = k == 0 || p.hasPersisted(c, func(s channelmonitor.UpdateStep) bool {
			h, is := s.(channelmonitor.LatestHolderCommitment)
			return is && h.CommitmentNumber >= k
		})
	case *lnwire.CommitmentSigned:
		// It signs the counterparty's commitment remoteCommitNum+1, which must be persisted first.
		k := c.remoteCommitNum + 1
		ok = p.hasPersisted(c, func(s channelmonitor.UpdateStep) bool {
			cp, is := s.(channelmonitor.LatestCounterpartyCommitment)
			return is && cp.CommitmentNumber >= k
		})
	case *lnwire.UpdateFulfillHTLC:
		ok = p.hasPersisted(c, func(s channelmonitor.UpdateStep) bool {
			pp, is := s.(channelmonitor.PaymentPreimage)
			return is && pp.Preimage == m.PaymentPreimage
		})
	case *lnwire.Shutdown:
		ok = p.hasPersisted(c, func(s channelmonitor.UpdateStep) bool {
			ss, is := s.(channelmonitor.ShutdownScript)
			return is && bytes.Equal(ss.Script, m.ScriptPubKey)
		})
	case *lnwire.FundingSigned:
		ok = p.monitorPersisted(c)
	default:
		return
	}
	if !ok {
		p.violate("%s left before the state it depends on was persisted", msg.MsgType())
	}
}

func (p *promise3) broadcast(c *channel, tx *wire.MsgTx) {
	if c.fundingTx != nil && tx.TxHash() == c.fundingTx.TxHash() {
		p.fundingBroadcasts++
		if !p.monitorPersisted(c) {
			p.violate("funding broadcast before the monitor was persisted")
		}
		return
	}
	p.closingBroadcasts++
	if !p.hasPersisted(c, func(s channelmonitor.UpdateStep) bool {
		ct, is := s.(channelmonitor.ClosingTransaction)
		return is && ct.Tx.TxHash() == tx.TxHash()
	}) {
		p.violate("closing transaction %s broadcast before the monitor had it", tx.TxHash())
	}
}

// completeSome reports a random prefix of one channel's in-flight updates at n persisted; false if
// none is in flight.
func (p *promise3) completeSome(t *testing.T, r *rand.Rand, n *testNode) bool {
	n.persist.mu.Lock()
	var ops []wire.OutPoint
	for op, ids := range n.persist.inFlight {
		if len(ids) > 0 {
			ops = append(ops, op)
		}
	}
	if len(ops) == 0 {
		n.persist.mu.Unlock()
		return false
	}
	sort.Slice(ops, func(i, j int) bool { return bytes.Compare(ops[i].Hash[:], ops[j].Hash[:]) < 0 })
	op := ops[r.Intn(len(ops))]
	ids := n.persist.inFlight[op]
	k := r.Intn(len(ids))
	id := ids[k]
	n.persist.inFlight[op] = append([]uint64(nil), ids[k+1:]...)
	n.persist.mu.Unlock()
	p.done[op] = max(p.doneUpTo(op), int64(id))
	require.NoError(t, n.chainMon.ChannelMonitorUpdated(op, id))
	return true
}
