package channelmanager

// Two-node tests with real ChannelManagers behind real PeerManagers: every message goes through the
// lnwire codec, BOLT 8 encryption and the BOLT 1 init exchange. The sockets are in-memory descriptors;
// the test plays the host, moving bytes between the two PeerManagers in random chunk sizes and
// interleavings, dropping connections with bytes in flight and dialling again.

import (
	"bytes"
	"errors"
	"math"
	"math/rand"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
	"github.com/lnkit/lnkit/router"
)

// memSocket is an in-memory peermanager.SocketDescriptor. What the PeerManager writes stays in out
// until the test hands it to the other side; it always takes every byte offered.
type memSocket struct {
	mu           sync.Mutex
	out          []byte
	disconnected bool // DisconnectSocket was called
	paused       bool // ReadEvent asked to pause reading; SendData(resumeRead) clears it
	// notify, if set, is signalled (without blocking) whenever data is written.
	notify chan struct{}
}

func (s *memSocket) SendData(data []byte, resumeRead bool) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if resumeRead {
		s.paused = false
	}
	if s.disconnected {
		return 0
	}
	s.out = append(s.out, data...)
	if s.notify != nil && len(data) > 0 {
		select {
		case s.notify <- struct{}{}:
		default:
		}
	}
	return len(data)
}

func (s *memSocket) DisconnectSocket() {
	s.mu.Lock()
	s.disconnected = true
	s.mu.Unlock()
}

func (s *memSocket) take() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	b := s.out
	s.out = nil
	return b
}

func (s *memSocket) buffered() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.out)
}

func (s *memSocket) isDisconnected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.disconnected
}

func (s *memSocket) isPaused() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.paused
}

func (s *memSocket) setPaused() {
	s.mu.Lock()
	s.paused = true
	s.mu.Unlock()
}

// regtestGenesis is the chain both PeerManagers announce in `init`.
var regtestGenesis = []chainhash.Hash{*chaincfg.RegressionNetParams.GenesisHash}

// pmNode is a testNode with a PeerManager in front of its ChannelManager.
type pmNode struct {
	*testNode
	pm *peermanager.PeerManager
}

func newPMNode(t testing.TB, chain *testchain.Chain, name string, seed byte) *pmNode {
	n := newTestNode(t, chain, name, seed)
	pm := peermanager.New(peermanager.MessageHandler{Chan: n.cm}, n.km, n.km, peermanager.Config{ChainHashes: regtestGenesis}, nil)
	return &pmNode{testNode: n, pm: pm}
}

// host does what a host's event loop does between reads: handle both components' events (funding,
// claims), then let the PeerManager move the ChannelManager's messages onto the connections.
func (n *pmNode) host() {
	n.handleEvents()
	n.pm.ProcessEvents()
}

func (n *pmNode) connected(to *pmNode) bool {
	for _, p := range n.pm.GetPeerNodeIDs() {
		if p.NodeID.IsEqual(to.id) {
			return true
		}
	}
	return false
}

// pmLink is one TCP connection between two PeerManagers; a dialled b. Bytes written by one side wait in
// flight until the test feeds them to the other side's ReadEvent.
type pmLink struct {
	t      testing.TB
	a, b   *pmNode
	sa, sb *memSocket // each side's descriptor
	ab, ba []byte     // in flight a→b and b→a
	// closedA/closedB: that side's socket is closed (by its PeerManager or by the host after a
	// ReadEvent error); the other side sees end-of-stream once the bytes before the close arrive.
	closedA, closedB bool
	errA, errB       error // ReadEvent errors
}

// dial opens a new connection from a to b: a new BOLT 8 handshake, then `init`, then
// `channel_reestablish` for every channel they share.
func dial(t testing.TB, a, b *pmNode) *pmLink {
	l := &pmLink{t: t, a: a, b: b, sa: &memSocket{}, sb: &memSocket{}}
	act1, err := a.pm.NewOutboundConnection(b.id, l.sa)
	require.NoError(t, err)
	require.NoError(t, b.pm.NewInboundConnection(l.sb))
	l.ab = append(l.ab, act1...)
	return l
}

func (l *pmLink) up() bool { return !l.closedA && !l.closedB }

// feed hands up to n bytes in flight to the receiving side (n < 0: everything); it reports progress.
func (l *pmLink) feed(toA bool, n int) bool {
	buf, sock, to, closed, errp := &l.ab, l.sb, l.b, &l.closedB, &l.errB
	if toA {
		buf, sock, to, closed, errp = &l.ba, l.sa, l.a, &l.closedA, &l.errA
	}
	if *closed {
		*buf = nil
		return false
	}
	if len(*buf) == 0 || sock.isPaused() {
		return false
	}
	if n < 0 || n > len(*buf) {
		n = len(*buf)
	}
	chunk := (*buf)[:n]
	*buf = (*buf)[n:]
	pause, err := to.pm.ReadEvent(sock, chunk)
	if err != nil {
		// The PeerManager has forgotten the connection: the host closes the socket.
		*errp, *closed = err, true
		return true
	}
	if pause {
		sock.setPaused()
	}
	return true
}

// collect moves what both PeerManagers wrote into flight and notices closed sockets.
func (l *pmLink) collect() bool {
	progress := false
	if out := l.sa.take(); len(out) > 0 {
		l.ab = append(l.ab, out...)
		progress = true
	}
	if out := l.sb.take(); len(out) > 0 {
		l.ba = append(l.ba, out...)
		progress = true
	}
	if !l.closedA && l.sa.isDisconnected() {
		l.closedA, progress = true, true
	}
	if !l.closedB && l.sb.isDisconnected() {
		l.closedB, progress = true, true
	}
	// End of stream reaches the other side once the bytes written before the close are delivered.
	if l.closedA && !l.closedB && len(l.ab) == 0 {
		l.closedB = true
		l.b.pm.SocketDisconnected(l.sb)
		progress = true
	}
	if l.closedB && !l.closedA && len(l.ba) == 0 {
		l.closedA = true
		l.a.pm.SocketDisconnected(l.sa)
		progress = true
	}
	return progress
}

// pump runs both hosts and delivers everything in flight; it reports whether anything happened.
func (l *pmLink) pump() bool {
	l.a.host()
	l.b.host()
	progress := l.collect()
	if l.feed(false, -1) {
		progress = true
	}
	if l.feed(true, -1) {
		progress = true
	}
	if l.collect() {
		progress = true
	}
	return progress
}

// settle pumps until nothing moves.
func (l *pmLink) settle() {
	idle := 0
	for i := 0; i < 100_000; i++ {
		if l.pump() {
			idle = 0
			continue
		}
		if idle++; idle == 2 {
			return
		}
	}
	l.t.Fatal("peer link did not settle")
}

// stepRandom runs the hosts sometimes and delivers a random chunk in a random direction: messages get
// split across reads and the two directions interleave at random.
func (l *pmLink) stepRandom(r *rand.Rand) {
	if r.Intn(3) == 0 {
		l.a.host()
	}
	if r.Intn(3) == 0 {
		l.b.host()
	}
	l.collect()
	sizes := []int{1, 7, 50, 300, 2000, -1}
	l.feed(r.Intn(2) == 0, sizes[r.Intn(len(sizes))])
	l.collect()
}

// cut drops the connection the way a dead TCP link does: both hosts see it close, and every byte
// still in flight is lost.
func (l *pmLink) cut() {
	l.ab, l.ba = nil, nil
	if !l.closedA {
		l.closedA = true
		l.a.pm.SocketDisconnected(l.sa)
	}
	if !l.closedB {
		l.closedB = true
		l.b.pm.SocketDisconnected(l.sb)
	}
}

// inFlight counts the bytes written and not yet read.
func (l *pmLink) inFlight() int { return len(l.ab) + len(l.ba) + l.sa.buffered() + l.sb.buffered() }

// pmPair is two PeerManager-fronted nodes on one chain, connected once.
func pmPair(t testing.TB) (*pmNode, *pmNode, *pmLink) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a := newPMNode(t, chain, "alice", 1)
	b := newPMNode(t, chain, "bob", 2)
	l := dial(t, a, b)
	l.settle()
	require.NoError(t, l.errA)
	require.NoError(t, l.errB)
	require.True(t, l.up())
	require.True(t, a.connected(b), "alice sees bob connected")
	require.True(t, b.connected(a), "bob sees alice connected")
	return a, b, l
}

// pmOpenChannel opens a channel a→b over the link and mines it to readiness.
func pmOpenChannel(t testing.TB, l *pmLink, valueSat int64, pushMsat uint64) lnwire.ChannelID {
	a, b := l.a, l.b
	a.chain.FundAddress(a.wallet.PkScript(), valueSat+100_000)
	a.chain.MineBlocks(1)
	_, err := a.cm.CreateChannel(b.id, valueSat, pushMsat, [16]byte{7}, nil)
	require.NoError(t, err)
	l.settle()
	require.Equal(t, 1, countEvents[events.ChannelPending](a.takeEvents()))
	require.Equal(t, 1, countEvents[events.ChannelPending](b.takeEvents()))
	require.Len(t, a.chain.Mempool(), 1, "funding transaction broadcast; rejected: %v", a.chain.Rejected())
	a.chain.MineBlocks(int(a.cfg.ChannelHandshakeConfig.MinimumDepth))
	l.settle()
	require.Equal(t, 1, countEvents[events.ChannelReady](a.takeEvents()))
	require.Equal(t, 1, countEvents[events.ChannelReady](b.takeEvents()))
	var id lnwire.ChannelID
	for _, d := range a.cm.ListUsableChannels() {
		if d.CounterpartyNodeID.IsEqual(b.id) {
			id = d.ChannelID
		}
	}
	require.NotEqual(t, lnwire.ChannelID{}, id)
	require.True(t, b.channel(id).IsUsable)
	return id
}

// payTo starts a payment of amountMsat from one node to the other over their direct channel, with an
// invoice made by the payee; it returns the payment hash.
func payTo(t testing.TB, from, to *testNode, amountMsat uint64, n int) ([32]byte, error) {
	hash, secret, err := to.cm.CreateInboundPayment(amountMsat, 3600, 0)
	require.NoError(t, err)
	var id events.PaymentID
	copy(id[:], sha256Bytes(append(hash[:], byte(n), byte(n>>8), byte(n>>16))))
	route := router.SinglePath(router.RouteHop{PubKey: to.id, FeeMsat: amountMsat, CLTVExpiryDelta: DefaultMinFinalCLTVExpiryDelta + 6})
	return hash, from.cm.SendPaymentWithRoute(route, hash, &secret, id)
}

// pmClose closes cooperatively over the link and checks the closing transaction on chain against each
// side's balance.
func pmClose(t *testing.T, l *pmLink, id lnwire.ChannelID) {
	a, b := l.a, l.b
	balA, balB := a.channel(id).BalanceMsat/1000, b.channel(id).BalanceMsat/1000
	fundingTxo := a.channel(id).FundingTxo
	require.NoError(t, a.cm.CloseChannel(id, b.id))
	l.settle()
	evA, evB := a.takeEvents(), b.takeEvents()
	for _, evs := range [][]events.Event{evA, evB} {
		closed := 0
		for _, e := range evs {
			if ev, ok := e.(events.ChannelClosed); ok {
				require.Equal(t, events.CooperativeClosure, ev.Reason)
				require.Equal(t, id, ev.ChannelID)
				closed++
			}
		}
		require.Equal(t, 1, closed, "one ChannelClosed: %v", evs)
	}
	spender, ok := a.chain.SpentBy(fundingTxo)
	require.True(t, ok, "closing transaction in the mempool; rejected: %v", a.chain.Rejected())
	closing, height, ok := a.chain.GetTransaction(spender)
	require.True(t, ok)
	require.Zero(t, height)
	a.chain.MineBlocks(1)
	require.Equal(t, uint32(1), a.chain.Confirmations(spender), "closing transaction confirmed")
	scriptA, err := a.km.GetShutdownScriptPubKey()
	require.NoError(t, err)
	scriptB, err := b.km.GetShutdownScriptPubKey()
	require.NoError(t, err)
	var outA, outB int64
	for _, o := range closing.TxOut {
		switch {
		case bytes.Equal(o.PkScript, scriptA):
			outA = o.Value
		case bytes.Equal(o.PkScript, scriptB):
			outB = o.Value
		default:
			t.Fatalf("closing output to an unknown script %x", o.PkScript)
		}
	}
	require.Equal(t, int64(balB), outB, "the fundee gets its whole balance")
	fee := int64(balA) - outA
	require.True(t, fee > 0 && fee < 2_000, "the funder pays a sane fee: %d sat", fee)
	l.settle()
	// The monitors see the closing transaction confirm; the channel is forgotten.
	for _, n := range []*pmNode{a, b} {
		for _, d := range n.cm.ListChannels() {
			require.NotEqual(t, id, d.ChannelID, "%s still lists the channel in state %s", n.name, d.State)
		}
	}
}

// TestPeerManagerPaymentsReconnectClose opens a channel between two full stacks connected through
// PeerManagers, sends 200 payments each way with several in flight, bytes split at random and the two
// directions interleaved, changes the feerate (update_fee) midway, drops the connection with HTLCs in
// flight several times and dials again (a fresh Noise handshake, `init`, `channel_reestablish`), then
// closes cooperatively and checks the closing transaction against the balances.
func TestPeerManagerPaymentsReconnectClose(t *testing.T) {
	n := 200
	if testing.Short() {
		n = 60
	}
	a, b, l := pmPair(t)
	id := pmOpenChannel(t, l, 10_000_000, 5_000_000_000)
	r := rand.New(rand.NewSource(11))
	nodes := []*pmNode{a, b}
	logs := []*payLog{newPayLog(), newPayLog()}
	sent := []int{0, 0}
	cuts, cutsWithHTLCs := 0, 0
	feeUpdated := false
	var oldFeerate uint32
	for iter := 0; sent[0] < n || sent[1] < n; iter++ {
		require.Less(t, iter, 100*n, "no progress: sent %v", sent)
		from := r.Intn(2)
		amt := randAmount(r, 1_000, 5_000_000)
		if sent[from] < n && l.up() && nodes[from].channel(id).OutboundCapacityMsat > amt {
			hash, err := payTo(t, nodes[from].testNode, nodes[1-from].testNode, amt, iter)
			if err == nil {
				logs[from].amounts[hash] = amt
				sent[from]++
			}
		}
		for k := r.Intn(10); k > 0; k-- {
			l.stepRandom(r)
		}
		// Every so often the connection dies with whatever is in flight, and Alice dials again.
		if r.Intn(25) == 0 {
			if a.channel(id).NumPendingHTLCs > 0 && l.inFlight() > 0 {
				cutsWithHTLCs++
			}
			cuts++
			l.cut()
			l.a.host()
			l.b.host()
			require.False(t, a.channel(id).IsUsable, "not usable while disconnected")
			l = dial(t, a, b)
		}
		// Halfway, the fee estimate moves and the funder's timer tick sends update_fee.
		if !feeUpdated && sent[0]+sent[1] >= n && a.channel(id).IsUsable {
			feeUpdated = true
			oldFeerate = a.channel(id).FeeratePerKw
			a.chain.SetDefaultFeeratePerKw(oldFeerate * 2)
			a.cm.TimerTickOccurred()
		}
		logs[0].account(a.takeEvents())
		logs[1].account(b.takeEvents())
	}
	l.settle()
	require.NoError(t, l.errA)
	require.NoError(t, l.errB)
	require.True(t, l.up())
	logs[0].account(a.takeEvents())
	logs[1].account(b.takeEvents())
	require.Empty(t, logs[0].amounts, "alice's payments unresolved")
	require.Empty(t, logs[1].amounts, "bob's payments unresolved")
	require.Zero(t, logs[0].failed+logs[1].failed, "no payment failed")
	require.Greater(t, cuts, 0)
	require.Greater(t, cutsWithHTLCs, 0, "at least one disconnect with HTLCs in flight")
	checkBalances(t, a.testNode, b.testNode, id, 5_000_000_000-logs[0].sent+logs[1].sent)
	require.True(t, feeUpdated)
	require.Equal(t, a.channel(id).FeeratePerKw, b.channel(id).FeeratePerKw, "both sides on the new feerate")
	require.Equal(t, oldFeerate*2, a.channel(id).FeeratePerKw, "update_fee went through")
	t.Logf("alice sent %d msat, bob %d msat; %d disconnects (%d with HTLCs in flight)", logs[0].sent, logs[1].sent, cuts, cutsWithHTLCs)

	// Liveness: a timer tick pings, the pong comes back, nobody is disconnected.
	a.pm.TimerTickOccurred()
	b.pm.TimerTickOccurred()
	l.settle()
	a.pm.TimerTickOccurred()
	b.pm.TimerTickOccurred()
	l.settle()
	require.True(t, l.up(), "pings answered")
	pmClose(t, l, id)
}

// TestPeerManagerReestablishHTLCsInFlight drops the connection at chosen points of a payment exchange
// — after the update_add_htlc, after the commitment_signed, after the revoke_and_ack — with the rest
// lost in flight, and checks that the new connection's `channel_reestablish` completes every payment.
func TestPeerManagerReestablishHTLCsInFlight(t *testing.T) {
	a, b, l := pmPair(t)
	id := pmOpenChannel(t, l, 2_000_000, 500_000_000)
	r := rand.New(rand.NewSource(5))
	logs := []*payLog{newPayLog(), newPayLog()}
	total := 0
	for round := 0; round < 30; round++ {
		// A few payments each way, then deliver only part of the traffic.
		for k := 0; k < 1+round%3; k++ {
			from, to := a, b
			if k%2 == 1 {
				from, to = b, a
			}
			amt := randAmount(r, 50_000, 3_000_000)
			hash, err := payTo(t, from.testNode, to.testNode, amt, total)
			require.NoError(t, err)
			logs[k%2].amounts[hash] = amt
			total++
		}
		for k := round % 7; k > 0; k-- {
			l.stepRandom(r)
		}
		pending := a.channel(id).NumPendingHTLCs + b.channel(id).NumPendingHTLCs
		require.Greater(t, pending, 0, "round %d: HTLCs in flight at the cut", round)
		l.cut()
		l.settle() // the dead link moves nothing
		// Nothing can be sent while disconnected.
		_, err := payTo(t, a.testNode, b.testNode, 10_000, 1_000_000+round)
		require.ErrorIs(t, err, ErrChannelUnavailable)
		l = dial(t, a, b)
		// Sometimes the new connection dies too, before or during channel_reestablish.
		if round%5 == 4 {
			for k := r.Intn(6); k > 0; k-- {
				l.stepRandom(r)
			}
			l.cut()
			l = dial(t, a, b)
		}
		l.settle()
		require.True(t, l.up())
		require.True(t, a.channel(id).IsUsable)
		logs[0].account(a.takeEvents())
		logs[1].account(b.takeEvents())
		require.Empty(t, logs[0].amounts, "round %d: alice's payments unresolved", round)
		require.Empty(t, logs[1].amounts, "round %d: bob's payments unresolved", round)
	}
	require.Zero(t, logs[0].failed+logs[1].failed)
	checkBalances(t, a.testNode, b.testNode, id, 1_500_000_000-logs[0].sent+logs[1].sent)
	pmClose(t, l, id)
}

// TestPeerManagerForceClose: Alice force-closes; Bob receives the `error` through the PeerManagers and
// closes too; Alice's commitment transaction confirms; after to_self_delay Alice's to_local output is
// swept to her destination script and both get SpendableOutputs.
func TestPeerManagerForceClose(t *testing.T) {
	a, b, l := pmPair(t)
	id := pmOpenChannel(t, l, 1_000_000, 300_000_000)
	for i := 0; i < 5; i++ {
		_, err := payTo(t, a.testNode, b.testNode, 1_000_000, i)
		require.NoError(t, err)
		l.settle()
	}
	checkBalances(t, a.testNode, b.testNode, id, 700_000_000-5_000_000)
	fundingTxo := a.channel(id).FundingTxo
	mon, ok := a.chainMon.GetMonitor(fundingTxo)
	require.True(t, ok)
	want, err := mon.LatestHolderCommitmentTx()
	require.NoError(t, err)
	a.takeEvents()
	b.takeEvents()
	sweepScript, err := a.km.GetDestinationScript(a.channelKeysID(t, id))
	require.NoError(t, err)

	require.NoError(t, a.cm.ForceCloseBroadcastingLatestTxn(id, b.id))
	l.settle()
	// Alice's monitor broadcast her latest commitment.
	spender, ok := a.chain.SpentBy(fundingTxo)
	require.True(t, ok, "commitment broadcast; rejected: %v", a.chain.Rejected())
	require.Equal(t, want.TxHash(), spender, "Alice's latest commitment is in the mempool")
	requireClosed(t, a.takeEvents(), id, events.HolderForceClosed)
	// Bob got the error over the wire and failed the channel on his side.
	requireClosed(t, b.takeEvents(), id, events.CounterpartyForceClosed)
	require.Equal(t, "Closed", b.channel(id).State)
	// The PeerManagers stay connected: an `error` for one channel does not drop the peer.
	require.True(t, l.up())

	a.chain.MineBlocks(1)
	l.settle()
	require.Equal(t, uint32(1), a.chain.Confirmations(spender), "commitment confirmed")
	// Alice's to_local is locked for Bob's to_self_delay (144 blocks), then swept.
	var aSpendable, bSpendable int
	for i := 0; i < 144+12; i++ {
		a.chain.MineBlocks(1)
		l.settle()
		aSpendable += countEvents[events.SpendableOutputs](a.takeEvents())
		bSpendable += countEvents[events.SpendableOutputs](b.takeEvents())
	}
	require.Greater(t, bSpendable, 0, "Bob's to_remote output is reported spendable")
	require.Greater(t, aSpendable, 0, "Alice's swept to_local is reported spendable")
	swept := false
	for h := a.chain.Height(); h > a.chain.Height()-20; h-- {
		blk, _ := a.chain.BlockAt(h)
		for _, tx := range blk.Transactions {
			for _, in := range tx.TxIn {
				if in.PreviousOutPoint.Hash == spender {
					require.Len(t, tx.TxOut, 1)
					require.Equal(t, sweepScript, tx.TxOut[0].PkScript)
					swept = true
				}
			}
		}
	}
	require.True(t, swept, "to_local swept to Alice's destination script")
}

// channelKeysID returns the keys id of one of the node's channels.
func (n *testNode) channelKeysID(t testing.TB, id lnwire.ChannelID) [32]byte {
	_, c := n.cm.findChannel(id)
	if c != nil {
		return c.keysID
	}
	t.Fatalf("%s: channel %s is gone", n.name, id)
	return [32]byte{}
}

// requireClosed asserts exactly one ChannelClosed for id with the given reason.
func requireClosed(t testing.TB, evs []events.Event, id lnwire.ChannelID, reason events.ClosureReason) events.ChannelClosed {
	t.Helper()
	var found []events.ChannelClosed
	for _, e := range evs {
		if ev, ok := e.(events.ChannelClosed); ok && ev.ChannelID == id {
			found = append(found, ev)
		}
	}
	require.Len(t, found, 1, "one ChannelClosed for %s in %v", id, evs)
	require.Equal(t, reason, found[0].Reason, "closure reason (message %q)", found[0].Message)
	return found[0]
}

// tally counts one payer's outcomes in TestPeerManagerConcurrentHosts; done closes when all its
// payments are resolved or something went wrong.
type tally struct {
	mu           sync.Mutex
	sent, failed int
	sentMsat     uint64
	amounts      map[[32]byte]uint64
	errs         []error
	doneAt       int
	done         chan struct{}
	finished     bool
}

// finish closes done once; the caller holds mu.
func (tl *tally) finish() {
	if !tl.finished {
		tl.finished = true
		close(tl.done)
	}
}

func (tl *tally) fail(err error) {
	tl.mu.Lock()
	defer tl.mu.Unlock()
	tl.errs = append(tl.errs, err)
	tl.finish()
}

// TestPeerManagerConcurrentHosts runs each node's host loop on its own goroutine, as a real host reading
// a socket would, while two more goroutines send payments both ways, calling into both managers
// concurrently (SendPaymentWithRoute, CreateInboundPayment, ListChannels, ProcessEvents). Run with
// -race it checks that the managers are safe for concurrent use; in any case every payment must
// complete and the balances must agree.
func TestPeerManagerConcurrentHosts(t *testing.T) {
	n := 100
	if testing.Short() {
		n = 30
	}
	a, b, l := pmPair(t)
	id := pmOpenChannel(t, l, 10_000_000, 5_000_000_000)
	l.settle()
	// This test is about concurrency. With many small payments in flight both ways, the dust exposure
	// limit (ChannelConfig.MaxDustHTLCExposureMsat, see dust_test.go) would fail some of them depending
	// on the interleaving; it is lifted so that every payment must complete.
	for _, n := range []*pmNode{a, b} {
		n.cm.cfg.ChannelConfig.MaxDustHTLCExposureMsat = math.MaxUint64
	}
	// From here on each host goroutine owns its node's socket reads and events.
	wakeA, wakeB := make(chan struct{}, 1), make(chan struct{}, 1)
	l.sb.mu.Lock()
	l.sb.notify = wakeA // bob writes: alice has something to read
	l.sb.mu.Unlock()
	l.sa.mu.Lock()
	l.sa.notify = wakeB
	l.sa.mu.Unlock()

	newTally := func() *tally { return &tally{amounts: map[[32]byte]uint64{}, doneAt: n, done: make(chan struct{})} }
	tallies := []*tally{newTally(), newTally()}
	nodes := []*pmNode{a, b}
	socks := []*memSocket{l.sa, l.sb}
	wakes := []chan struct{}{wakeA, wakeB}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := range nodes {
		me, peerSock, mySock, wake, tl := nodes[i], socks[1-i], socks[i], wakes[i], tallies[i]
		handler := func(e events.Event) error {
			tl.mu.Lock()
			defer tl.mu.Unlock()
			switch ev := e.(type) {
			case events.PaymentClaimable:
				if err := me.cm.ClaimFunds(*ev.Purpose.PaymentPreimage); err != nil {
					tl.errs = append(tl.errs, err)
				}
			case events.PaymentSent:
				tl.sent++
				tl.sentMsat += tl.amounts[ev.PaymentHash]
			case events.PaymentFailed:
				tl.failed++
			case events.ChannelClosed:
				tl.errs = append(tl.errs, errors.New("channel closed: "+ev.Message))
			}
			if tl.sent+tl.failed == tl.doneAt || len(tl.errs) > 0 {
				tl.finish()
			}
			return nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				case <-wake:
				}
				if data := peerSock.take(); len(data) > 0 {
					if _, err := me.pm.ReadEvent(mySock, data); err != nil {
						tl.fail(err)
						return
					}
				}
				if err := me.cm.ProcessPendingEvents(handler); err != nil {
					tl.fail(err)
				}
				me.pm.ProcessEvents()
			}
		}()
	}
	// The payers.
	var payers sync.WaitGroup
	for i := range nodes {
		from, to, tl := nodes[i], nodes[1-i], tallies[i]
		payers.Add(1)
		go func() {
			defer payers.Done()
			r := rand.New(rand.NewSource(int64(40 + i)))
			for k := 0; k < n; k++ {
				amt := randAmount(r, 1_000, 2_000_000)
				hash, secret, err := to.cm.CreateInboundPayment(amt, 3600, 0)
				if err == nil && len(from.cm.ListUsableChannels()) != 1 {
					err = errors.New("channel not usable")
				}
				if err != nil {
					tl.fail(err)
					return
				}
				var pid events.PaymentID
				copy(pid[:], sha256Bytes(hash[:]))
				tl.mu.Lock()
				tl.amounts[hash] = amt
				tl.mu.Unlock()
				route := router.SinglePath(router.RouteHop{PubKey: to.id, FeeMsat: amt, CLTVExpiryDelta: DefaultMinFinalCLTVExpiryDelta + 6})
				if err := from.cm.SendPaymentWithRoute(route, hash, &secret, pid); err != nil {
					tl.fail(err)
					return
				}
				from.pm.ProcessEvents()
			}
		}()
	}
	payers.Wait()
	// Each tally finishes when all its payments are resolved, or at the first error.
	for _, tl := range tallies {
		<-tl.done
	}
	close(stop)
	wg.Wait()
	for i, tl := range tallies {
		require.Empty(t, tl.errs, "node %d", i)
		require.Equal(t, n, tl.sent, "node %d: every payment sent", i)
		require.Zero(t, tl.failed)
	}
	// Back to the single-threaded host: deliver what is left and check.
	for _, s := range socks {
		s.mu.Lock()
		s.notify = nil
		s.mu.Unlock()
	}
	l.settle()
	require.True(t, l.up())
	checkBalances(t, a.testNode, b.testNode, id, 5_000_000_000-tallies[0].sentMsat+tallies[1].sentMsat)
	pmClose(t, l, id)
}
