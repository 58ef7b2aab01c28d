package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/examples/host/background"
	"github.com/lnkit/lnkit/examples/host/lnsocket"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
	"github.com/lnkit/lnkit/router"
)

// payment is one payment of the demo, shared by its payer's and payee's records.
type payment struct {
	index      int
	id         events.PaymentID
	hash       [32]byte
	from, to   *node
	amountMsat uint64
	// expectFeeMsat is the routing fee the payer should pay (0 over a direct channel).
	expectFeeMsat uint64
	started       time.Time

	// Guarded by the payments' owner lock (paymentBook.mu).
	sendErr     error
	done        bool // the payer saw PaymentSent or PaymentFailed (or the send was refused)
	ok          bool
	reason      string
	claimedMsat uint64 // the payee's PaymentClaimed amount
	claimed     bool
	feePaidMsat uint64
	elapsed     time.Duration
}

// finished says whether nothing more will happen to the payment: failed, or sent and claimed.
func (p *payment) finished() bool { return p.done && (!p.ok || p.claimed) }

// paymentBook records every payment by id (payer side) and hash (payee side).
type paymentBook struct {
	mu     sync.Mutex
	byID   map[events.PaymentID]*payment
	byHash map[[32]byte]*payment
}

func newPaymentBook() *paymentBook {
	return &paymentBook{byID: map[events.PaymentID]*payment{}, byHash: map[[32]byte]*payment{}}
}

func (b *paymentBook) add(p *payment) {
	b.mu.Lock()
	b.byID[p.id] = p
	b.byHash[p.hash] = p
	b.mu.Unlock()
}

// node is one full lnkit stack with its host glue: keys, persister, chain monitor, channel manager,
// peer manager, the sockets (examples/host/lnsocket) and the background.Processor that processes events,
// persists the manager (before any byte that depends on it leaves) and drives the timers.
type node struct {
	name      string
	km        *keys.KeysManager
	id        *btcec.PublicKey
	chain     *testchain.Chain
	wallet    *testchain.Wallet
	persister *channelmonitor.FilesystemPersister
	chainMon  *channelmonitor.ChainMonitor
	cm        *channelmanager.ChannelManager
	pm        *peermanager.PeerManager
	// router finds the routes of PayBolt11Invoice: over the node's network graph (empty here, since
	// every channel of the demo is private), its usable channels (first hops) and the invoice's route
	// hints, with a probabilistic scorer.
	router   *router.DefaultRouter
	cfg      config.UserConfig
	log      *slog.Logger
	progress *progress
	book     *paymentBook
	opts     options

	shutdownScript    []byte
	destinationScript []byte

	stats  lnsocket.Stats
	proc   *background.Processor
	stopCh chan struct{}
	wg     sync.WaitGroup // the sockets' goroutines, the listener's and the redials

	mu         sync.Mutex
	stopping   bool
	conns      map[*lnsocket.Conn]struct{}
	listener   net.Listener
	reconnects int
	fundingTxs []*wire.MsgTx
	pending    []events.ChannelPending
	ready      []events.ChannelReady
	closed     []events.ChannelClosed
	spendable  []events.SpendableOutputs
	discarded  []events.DiscardFunding
	pathFails  int
	forwards   []events.PaymentForwarded   // HTLCs we forwarded and claimed back, with our fee
	failedBack []events.HTLCHandlingFailed // HTLCs we failed back instead of forwarding
	problems   []error                     // what went wrong in event handling; any of them fails the demo
	eventCount map[string]int
}

// nodeSeed derives a node's fixed 32-byte seed from its name, so that every run has the same node ids
// and scripts.
func nodeSeed(name string) [32]byte {
	return sha256.Sum256([]byte("lnkit demo seed: " + name))
}

// newNode builds a node's stack on chain, with its monitor files under dir.
func newNode(name string, chain *testchain.Chain, dir string, cfg config.UserConfig, o options,
	logger *slog.Logger, prog *progress, book *paymentBook) (*node, error) {
	now := time.Now()
	km := keys.NewKeysManager(nodeSeed(name), uint64(now.Unix()), uint32(now.Nanosecond()))
	walletKey, _ := btcec.PrivKeyFromBytes(sha256Bytes("lnkit demo wallet: " + name))
	persister, err := channelmonitor.NewFilesystemPersister(filepath.Join(dir, name))
	if err != nil {
		return nil, fmt.Errorf("%s: persister: %w", name, err)
	}
	log := logger.With("node", name)
	chainMon := channelmonitor.NewChainMonitor(nil, chain, log.With("component", "chainmonitor"), chain, persister)
	cm, err := channelmanager.New(chain, chainMon, chain, log.With("component", "channelmanager"), km, cfg,
		channelmanager.ChainParams{Net: &chaincfg.RegressionNetParams, BestBlock: chain.BestBlock()})
	if err != nil {
		_ = persister.Close()
		return nil, fmt.Errorf("%s: channel manager: %w", name, err)
	}
	pm := peermanager.New(peermanager.MessageHandler{Chan: cm}, km, km, peermanager.Config{
		ChainHashes:              []chainhash.Hash{*chaincfg.RegressionNetParams.GenesisHash},
		OutboundBufferPauseBytes: o.PeerPauseBytes,
	}, log.With("component", "peermanager"))
	graph := router.NewNetworkGraph(nil)
	scorer := router.NewProbabilisticScorer(router.DefaultProbabilisticScoringDecayParameters(),
		router.DefaultProbabilisticScoringFeeParameters(), graph)
	rt := router.NewDefaultRouter(graph, scorer, km.GetNodeID())
	cm.SetRouter(rt)
	shutdown, err := km.GetShutdownScriptPubKey()
	if err != nil {
		_ = persister.Close()
		return nil, err
	}
	dest, err := km.GetDestinationScript([32]byte{})
	if err != nil {
		_ = persister.Close()
		return nil, err
	}
	n := &node{
		name: name, km: km, id: km.GetNodeID(), chain: chain, wallet: testchain.NewWallet(chain, walletKey),
		persister: persister, chainMon: chainMon, cm: cm, pm: pm, router: rt, cfg: cfg, log: log, progress: prog,
		book: book, opts: o, shutdownScript: shutdown, destinationScript: dest,
		stopCh: make(chan struct{}), conns: map[*lnsocket.Conn]struct{}{},
		eventCount: map[string]int{},
	}
	// Both the channel manager and the chain monitor must see every block.
	chain.RegisterListener(cm)
	chain.RegisterListener(chainMon)
	n.proc = background.Start(background.Config{
		ChannelManager: cm, ChainMonitor: chainMon, PeerManager: pm, EventHandler: n.handleEvent,
		// The manager's snapshot is written before any byte that depends on it leaves.
		Persister:        &background.FilePersister{Manager: cm, Path: filepath.Join(dir, name+"-manager.bin")},
		PeerTickInterval: o.Tick * time.Duration(o.PeerTimerEvery), ManagerTickInterval: o.Tick * time.Duration(o.ManagerTimerEvery),
		SafetyInterval: o.Tick,
		// The scorer's knowledge decays with the host's time.
		Jobs: []background.Job{{Name: "scorer decay", Interval: o.Tick * time.Duration(o.ManagerTimerEvery),
			Run: func() { rt.TimerTick(time.Duration(time.Now().UnixNano())) }}},
		Logger: log.With("component", "background"),
	})
	return n, nil
}

func sha256Bytes(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// wake asks the node's Processor to process events now rather than at the next tick.
func (n *node) wake() { n.proc.Wake() }

// sync returns once every event queued before the call was handled and what it produced was
// persisted and handed to the PeerManager.
func (n *node) sync() {
	if err := n.proc.RunPass(); err != nil {
		n.problem(err)
	}
}

// problem records something that makes the demo fail.
func (n *node) problem(err error) {
	n.mu.Lock()
	n.problems = append(n.problems, err)
	n.mu.Unlock()
	n.log.Error("problem", "err", err)
}

// firstProblem returns the first recorded problem, if any.
func (n *node) firstProblem() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.problems) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %w", n.name, n.problems[0])
}

// handleEvent is the node's events.Handler.
func (n *node) handleEvent(e events.Event) error {
	n.mu.Lock()
	n.eventCount[fmt.Sprintf("%T", e)]++
	n.mu.Unlock()
	n.log.Debug("event", "event", e.String())
	switch ev := e.(type) {
	case events.FundingGenerationReady:
		n.fundChannel(ev)
	case events.ChannelPending:
		n.mu.Lock()
		n.pending = append(n.pending, ev)
		n.mu.Unlock()
	case events.ChannelReady:
		n.mu.Lock()
		n.ready = append(n.ready, ev)
		n.mu.Unlock()
	case events.ChannelClosed:
		n.mu.Lock()
		n.closed = append(n.closed, ev)
		n.mu.Unlock()
	case events.DiscardFunding:
		n.mu.Lock()
		n.discarded = append(n.discarded, ev)
		for _, tx := range n.fundingTxs {
			if tx.TxHash() == chainhash.Hash(ev.FundingTxid) {
				n.wallet.UnlockInputs(tx)
			}
		}
		n.mu.Unlock()
	case events.PaymentClaimable:
		n.claim(ev)
	case events.PaymentClaimed:
		n.book.mu.Lock()
		if p := n.book.byHash[ev.PaymentHash]; p != nil && p.to == n {
			p.claimed, p.claimedMsat = true, ev.AmountMsat
		}
		n.book.mu.Unlock()
	case events.PaymentSent:
		n.book.mu.Lock()
		p := n.book.byID[ev.PaymentID]
		if p != nil && p.from == n && !p.done {
			p.done, p.ok, p.feePaidMsat = true, true, ev.FeePaidMsat
			p.elapsed = time.Since(p.started)
		}
		n.book.mu.Unlock()
		if p == nil {
			n.problem(fmt.Errorf("PaymentSent for unknown payment id %x", ev.PaymentID[:4]))
		} else if sha256.Sum256(ev.PaymentPreimage[:]) != p.hash || ev.PaymentHash != p.hash {
			n.problem(fmt.Errorf("payment %d: PaymentSent preimage does not match the payment hash", p.index))
		}
	case events.PaymentPathFailed:
		n.mu.Lock()
		n.pathFails++
		n.mu.Unlock()
		n.log.Warn("payment path failed", "hash", fmt.Sprintf("%x", ev.PaymentHash[:4]),
			"code", fmt.Sprintf("0x%04x", ev.FailureCode), "permanent", ev.PaymentFailedPermanently)
	case events.PaymentFailed:
		n.book.mu.Lock()
		if p := n.book.byID[ev.PaymentID]; p != nil && p.from == n && !p.done {
			p.done, p.ok, p.reason = true, false, ev.Reason.String()
			p.elapsed = time.Since(p.started)
		}
		n.book.mu.Unlock()
	case events.PaymentForwarded:
		n.mu.Lock()
		n.forwards = append(n.forwards, ev)
		n.mu.Unlock()
	case events.HTLCHandlingFailed:
		n.mu.Lock()
		n.failedBack = append(n.failedBack, ev)
		n.mu.Unlock()
		n.log.Warn("HTLC failed back", "event", ev.String())
	case events.SpendableOutputs:
		n.mu.Lock()
		n.spendable = append(n.spendable, ev)
		n.mu.Unlock()
	case events.OpenChannelRequest:
		// Only produced with ManuallyAcceptInboundChannels, which the demo does not set.
		n.problem(fmt.Errorf("unexpected OpenChannelRequest %s", ev))
	}
	return nil
}

// fundChannel answers FundingGenerationReady with a wallet transaction paying the funding output.
func (n *node) fundChannel(ev events.FundingGenerationReady) {
	feerate := chaininterface.ClampFeerate(n.chain, chaininterface.ChannelCloseMinimum)
	tx, err := n.wallet.FundTransaction([]*wire.TxOut{{Value: ev.ChannelValueSat, PkScript: ev.OutputScript}}, feerate)
	if err != nil {
		n.problem(fmt.Errorf("funding the channel: %w", err))
		_ = n.cm.ForceRejectChannel(ev.TemporaryChannelID, ev.CounterpartyNodeID)
		return
	}
	if err := n.cm.FundingTransactionGenerated(ev.TemporaryChannelID, ev.CounterpartyNodeID, tx); err != nil {
		n.wallet.UnlockInputs(tx)
		n.problem(fmt.Errorf("FundingTransactionGenerated: %w", err))
		return
	}
	n.mu.Lock()
	n.fundingTxs = append(n.fundingTxs, tx)
	n.mu.Unlock()
}

// claim claims a payment we expect, for exactly the amount we asked; anything else is failed back.
func (n *node) claim(ev events.PaymentClaimable) {
	n.book.mu.Lock()
	p := n.book.byHash[ev.PaymentHash]
	n.book.mu.Unlock()
	switch {
	case p == nil || p.to != n:
		n.problem(fmt.Errorf("PaymentClaimable for a payment we did not ask for (%x)", ev.PaymentHash[:4]))
	case ev.AmountMsat != p.amountMsat:
		n.problem(fmt.Errorf("payment %d: claimable %d msat, invoice says %d msat", p.index, ev.AmountMsat, p.amountMsat))
	case ev.Purpose.PaymentPreimage == nil:
		n.problem(fmt.Errorf("payment %d: claimable without a preimage", p.index))
	default:
		if err := n.cm.ClaimFunds(*ev.Purpose.PaymentPreimage); err != nil {
			n.problem(fmt.Errorf("payment %d: ClaimFunds: %w", p.index, err))
		}
		return
	}
	if err := n.cm.FailHTLCBackwards(ev.PaymentHash); err != nil {
		n.problem(fmt.Errorf("FailHTLCBackwards: %w", err))
	}
}

// serve accepts inbound connections on ln until the node stops.
func (n *node) serve(ln net.Listener) {
	n.mu.Lock()
	n.listener = ln
	n.mu.Unlock()
	n.wg.Add(1)
	go func() {
		defer n.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					n.problem(fmt.Errorf("accept: %w", err))
				}
				return
			}
			err = n.addConn(nil, "", func(o lnsocket.Options) (*lnsocket.Conn, error) {
				return lnsocket.SetupInbound(n.pm, nc, o)
			})
			if err != nil {
				_ = nc.Close() // already closed if the PeerManager refused it
				n.log.Warn("inbound connection refused", "err", err)
			}
		}
	}()
}

// dial opens an outbound connection to the node id at addr.
func (n *node) dial(addr string, id *btcec.PublicKey) error {
	return n.addConn(id, addr, func(o lnsocket.Options) (*lnsocket.Conn, error) {
		o.DialTimeout = 5 * time.Second
		return lnsocket.Connect(context.Background(), n.pm, id, addr, o)
	})
}

// addConn opens a connection with open (lnsocket.Connect or SetupInbound) and tracks it: an outbound
// one (theirID set) is redialled at addr if it drops while the node runs. Every connection persists
// the manager before its bytes leave (the Processor's BeforeWrite).
func (n *node) addConn(theirID *btcec.PublicKey, addr string, open func(lnsocket.Options) (*lnsocket.Conn, error)) error {
	n.mu.Lock()
	if n.stopping {
		n.mu.Unlock()
		return errors.New("node is stopping")
	}
	n.wg.Add(1) // the watcher below, added before stop waits
	n.mu.Unlock()
	pc, err := open(lnsocket.Options{MaxBuffer: n.opts.SocketBufferBytes, WriteTimeout: n.opts.WriteTimeout,
		Stats: &n.stats, Logger: n.log, AfterRead: n.wake, BeforeWrite: n.proc.BeforeWrite, WaitGroup: &n.wg})
	if err != nil {
		n.wg.Done()
		return err
	}
	n.mu.Lock()
	if n.stopping {
		n.mu.Unlock()
		pc.Close() // its reader tells the PeerManager
		n.wg.Done()
		return errors.New("node is stopping")
	}
	n.conns[pc] = struct{}{}
	n.mu.Unlock()
	go func() {
		defer n.wg.Done()
		<-pc.Done()
		n.mu.Lock()
		delete(n.conns, pc)
		redial := theirID != nil && !n.stopping
		n.mu.Unlock()
		n.wake()
		if redial {
			n.redial(addr, theirID)
		}
	}()
	return nil
}

// redial reconnects after an outbound connection dropped, a few times with a short pause.
func (n *node) redial(addr string, id *btcec.PublicKey) {
	for attempt := 1; attempt <= 20; attempt++ {
		select {
		case <-n.stopCh:
			return
		case <-time.After(200 * time.Millisecond):
		}
		n.progress.printf("%s: connection to the peer dropped; reconnecting (attempt %d)", n.name, attempt)
		if err := n.dial(addr, id); err == nil {
			n.mu.Lock()
			n.reconnects++
			n.mu.Unlock()
			return
		} else {
			n.log.Warn("reconnect failed", "err", err)
		}
	}
	n.problem(errors.New("could not reconnect to the peer"))
}

// dropConnections closes every connection abruptly, as a network failure would (the PeerManager
// learns it from the reader, and an outbound connection is redialled).
func (n *node) dropConnections() {
	n.mu.Lock()
	conns := make([]*lnsocket.Conn, 0, len(n.conns))
	for c := range n.conns {
		conns = append(conns, c)
	}
	n.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
}

// connected says whether the PeerManager has a connected peer (init exchanged) with id.
func (n *node) connected(id *btcec.PublicKey) bool {
	for _, p := range n.pm.GetPeerNodeIDs() {
		if p.NodeID.IsEqual(id) {
			return true
		}
	}
	return false
}

// channel returns the details of a channel, if the manager still lists it.
func (n *node) channel(id lnwire.ChannelID) (channelmanager.ChannelDetails, bool) {
	for _, d := range n.cm.ListChannels() {
		if d.ChannelID == id {
			return d, true
		}
	}
	return channelmanager.ChannelDetails{}, false
}

// closedEvents returns a copy of the ChannelClosed events so far.
func (n *node) closedEvents() []events.ChannelClosed {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]events.ChannelClosed(nil), n.closed...)
}

// forwardEvents returns a copy of the PaymentForwarded events so far and the number of
// HTLCHandlingFailed events.
func (n *node) forwardEvents() ([]events.PaymentForwarded, int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]events.PaymentForwarded(nil), n.forwards...), len(n.failedBack)
}

// pendingWith returns the ChannelPending event of the node's channel with peer, if any.
func (n *node) pendingWith(peer *node) (events.ChannelPending, bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ev := range n.pending {
		if ev.CounterpartyNodeID.IsEqual(peer.id) {
			return ev, true
		}
	}
	return events.ChannelPending{}, false
}

// sawReady says whether the node saw ChannelReady for channel id.
func (n *node) sawReady(id lnwire.ChannelID) bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ev := range n.ready {
		if ev.ChannelID == id {
			return true
		}
	}
	return false
}

// fundingTx returns the funding transaction the node built with txid, if any.
func (n *node) fundingTx(txid chainhash.Hash) *wire.MsgTx {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, tx := range n.fundingTxs {
		if tx.TxHash() == txid {
			return tx
		}
	}
	return nil
}

// spendableEvents returns a copy of the SpendableOutputs events so far.
func (n *node) spendableEvents() []events.SpendableOutputs {
	n.mu.Lock()
	defer n.mu.Unlock()
	return append([]events.SpendableOutputs(nil), n.spendable...)
}

// stop ends the node's goroutines and closes its sockets and files.
func (n *node) stop() {
	n.mu.Lock()
	if n.stopping {
		n.mu.Unlock()
		return
	}
	n.stopping = true
	ln := n.listener
	conns := make([]*lnsocket.Conn, 0, len(n.conns))
	for c := range n.conns {
		conns = append(conns, c)
	}
	n.mu.Unlock()
	close(n.stopCh)
	if ln != nil {
		_ = ln.Close()
	}
	for _, c := range conns {
		c.Close()
	}
	n.wg.Wait()
	if err := n.proc.Stop(); err != nil {
		n.problem(fmt.Errorf("stopping: %w", err))
	}
	if err := n.persister.Close(); err != nil {
		n.log.Warn("closing persister", "err", err)
	}
}

// removeAll removes a directory tree, reporting failures on stderr.
func removeAll(dir string) {
	if err := os.RemoveAll(dir); err != nil {
		fmt.Fprintf(os.Stderr, "demo: removing %s: %v\n", dir, err)
	}
}
