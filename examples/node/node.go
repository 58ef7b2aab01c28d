package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/examples/host/background"
	"github.com/lnkit/lnkit/examples/host/lnsocket"
	"github.com/lnkit/lnkit/examples/node/btcdchain"
	"github.com/lnkit/lnkit/examples/node/wallet"
	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
)

const version = "lnkit-node 0.1"

// Node is the example host around lnkit: it owns the sockets, the timers, the files and the btcd
// connection, and drives the library's components (which do none of that themselves).
//
// Its parts are components (lifecycle.go, components.go) run by a supervisor: the store (the state),
// the event stream, the chain follower, the event loop, the gossip sync, the peer listener and the
// control API, started in that order and stopped in reverse; each can be stopped and started again
// while the others run. Goroutines: one event loop (examples/host/background's Processor: events, timers,
// persistence; fee bumping runs there, in the chain monitor's event handler), the chain poller, fee
// refresher and monitor archiver, the gossip timer and graph saver, the p2p listener, two per
// connection (examples/host/lnsocket) and the control API.
type Node struct {
	cfg    *Config
	net    *chaincfg.Params
	dir    string // <datadir>/<network>
	log    *slog.Logger
	nodeID *btcec.PublicKey
	// signer holds every key (signer.go): the seed's in process, or a remote signer's client (-signer).
	signer nodeSigner
	// signerStop ends the remote signer's link (-signer); signerUnblocked says the signer answered
	// since the event loop last told the channel manager.
	signerStop      context.CancelFunc
	signerUnblocked atomic.Bool
	// admitLog rate-limits the log lines of refused inbound connections (admit.go).
	admitLog logLimiter
	chain    *btcdchain.Client
	hub      *eventHub
	sup      *supervisor

	// The state, read from the store by the store component's Start (openState) and valid while it
	// runs: every other component depends on it.
	opened  *openedStore   // the store -store names
	kvCount *countingStore // counts what the node writes into it
	kv      kvstore.KVStore
	// hot holds the writes of the payment path (monitors, the manager's records, payment and forward
	// records) until flush commits them together: one store commit per socket write or event-loop
	// pass instead of one per change. Nothing that depends on them leaves before that (flush).
	hot        *kvstore.WriteBuffer
	keys       *walletKeys
	persister  *channelmonitor.KVStorePersister
	chainMon   *channelmonitor.ChainMonitor
	cm         *channelmanager.ChannelManager
	pm         *peermanager.PeerManager
	bcast      chaininterface.BroadcasterInterface // the chain, telling the wallet of our own transactions
	bumper     *bumper                             // answers the chain monitor's fee-bumping events
	follower   *btcdchain.Follower
	listener0  *chainListener // the channel manager's and chain monitor's position on the chain
	wallet     *wallet.Wallet
	store      *store
	forwards   *forwardLog // the forwarding history
	routing    *routing    // the network graph, gossip and scorer
	gossipGate *gossipGate // the PeerManager's routing handler (nil without -gossip)
	msgProxy   *msgProxy   // the PeerManager's channel and custom handlers (service_custom.go)
	// announcer remembers our last node_announcement (used by the gossip component's loop only).
	announcer announcer

	persistMu     sync.Mutex // serialises writes of the channel manager and the chain tip
	persistFailed bool       // the last write of the manager failed: the next one is made whatever it says

	// proc is the event loop's background.Processor while it runs (and the last one after).
	proc    atomic.Pointer[background.Processor]
	wakeCh  chan struct{}          // wakes the event loop (its Processor's Config.Wake)
	stopReq chan struct{}          // the control API's stop command; runDaemon waits on it
	rpcAddr atomic.Pointer[string] // the control API's address while it runs

	lease atomic.Pointer[lease] // with a lease (-store postgres): this node's, once it holds it
	fatal chan error            // Fatal: the lease was lost
	out   gatedChain            // broadcasting, gated on the lease

	stopOnce sync.Once
	stopped  chan struct{} // closed when Stop has finished

	mu        sync.Mutex
	peers     *peerRun // the peer listener's current run; nil while it is stopped
	conns     map[*lnsocket.Conn]connInfo
	peerAddrs map[string]string // node id hex → address we dial (persisted in peers.json)
	opening   map[[32]byte]chan openResult
	// fundingTxs are the funding transactions we built, until used or discarded (in memory only: after
	// a restart a discarded funding transaction's inputs stay locked until the wallet sees them spent).
	fundingTxs map[chainhash.Hash]*wire.MsgTx
	synced     bool
	// closeWatch: closechannel waits for the transaction spending a funding outpoint (noteBroadcast).
	closeWatch map[wire.OutPoint]chan chainhash.Hash
	// redialing: the peers (node id hex) a redial loop runs for.
	redialing map[string]bool
	// peersSaveMu orders the writes of peerAddrs (savePeers).
	peersSaveMu sync.Mutex

	// chainFailing: the last poll of btcd failed (the next one first checks that btcd is reachable);
	// chainLog rate-limits the reports of chain problems (chainhealth.go).
	chainFailing atomic.Bool
	chainLog     logLimiter
}

type connInfo struct {
	nodeID  string // empty for inbound until known
	addr    string
	inbound bool
}

type openResult struct {
	pending events.ChannelPending
	err     error
}

// walletKeys is the KeysManager with the wallet's script as the destination of closes and sweeps, so
// that funds leaving channels land in the on-chain wallet directly (LDK hosts do the same by
// implementing SignerProvider's script methods).
type walletKeys struct {
	nodeSigner
	script []byte
}

func (k *walletKeys) GetDestinationScript([32]byte) ([]byte, error) {
	return append([]byte(nil), k.script...), nil
}

func (k *walletKeys) GetShutdownScriptPubKey() ([]byte, error) {
	return append([]byte(nil), k.script...), nil
}

// loadSeed reads <datadir>/seed (64 hex characters) or creates it with mode 0600.
func loadSeed(datadir string) ([32]byte, error) {
	var seed [32]byte
	path := filepath.Join(datadir, "seed")
	b, err := os.ReadFile(path)
	if err == nil {
		raw, derr := hex.DecodeString(strings.TrimSpace(string(b)))
		if derr != nil || len(raw) != 32 {
			return seed, fmt.Errorf("%s: want 64 hex characters", path)
		}
		copy(seed[:], raw)
		return seed, nil
	}
	if !os.IsNotExist(err) {
		return seed, err
	}
	if _, err := rand.Read(seed[:]); err != nil {
		return seed, err
	}
	if err := writeFileAtomic(path, []byte(hex.EncodeToString(seed[:])+"\n"), 0o600); err != nil {
		return seed, err
	}
	return seed, nil
}

// writeFileAtomic writes data to path through a synced temporary file and a rename.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return err
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// NewNode prepares a node on cfg.DataDir: the seed and the btcd client, and the components that Start
// runs (the state itself is read when the store component starts). The caller must hold the datadir's
// lock (lockDataDir) for as long as the Node exists.
func NewNode(cfg *Config, log *slog.Logger) (*Node, error) {
	params, err := networkParams(cfg.Network)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, err
	}
	dir := filepath.Join(cfg.DataDir, params.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	n := &Node{cfg: cfg, net: params, dir: dir, log: log, hub: newEventHub(),
		wakeCh: make(chan struct{}, 1), stopReq: make(chan struct{}, 1), stopped: make(chan struct{}), fatal: make(chan error, 1),
		conns: map[*lnsocket.Conn]connInfo{}, peerAddrs: map[string]string{}, opening: map[[32]byte]chan openResult{},
		fundingTxs: map[chainhash.Hash]*wire.MsgTx{}, closeWatch: map[wire.OutPoint]chan chainhash.Hash{},
		redialing: map[string]bool{}, chainLog: logLimiter{every: chainLogEvery}, admitLog: logLimiter{every: time.Minute}}
	n.out = gatedChain{n: n}
	if n.signer, err = n.newNodeSigner(cfg); err != nil {
		return nil, err
	}
	n.nodeID = n.signer.GetNodeID()

	n.chain, err = btcdchain.New(btcdchain.Config{Host: cfg.BtcdRPCHost, User: cfg.BtcdRPCUser, Pass: cfg.BtcdRPCPass,
		CertPath: cfg.BtcdRPCCert, DisableTLS: cfg.BtcdNoTLS, Params: params, FeeURL: cfg.FeeURL}, log.With("component", "btcd"))
	if err != nil {
		return nil, fmt.Errorf("btcd: %w", err)
	}
	n.sup = newSupervisor(log.With("component", "supervisor"))
	n.sup.add(&storeComponent{n: n})
	n.sup.add(&eventsComponent{n: n})
	n.sup.add(&chainComponent{n: n}, compStore)
	n.sup.add(&eventLoopComponent{n: n}, compStore)
	n.sup.add(&gossipComponent{n: n}, compStore)
	n.sup.add(&peerComponent{n: n}, compStore, compEventLoop)
	if cfg.RPCListen != "off" {
		n.sup.add(&rpcComponent{n: n}, compStore) // without the event stream, /events answers with an empty stream
	}
	return n, nil
}

// Start starts every component (catching up with the chain first) and returns once the node runs.
func (n *Node) Start() error { return n.StartContext(context.Background()) }

// StartContext is Start, giving up when ctx ends: a standby waits for the lease until then.
func (n *Node) StartContext(ctx context.Context) error {
	if err := n.sup.StartAll(ctx); err != nil {
		return err
	}
	n.log.Info("node started", "node_id", hex.EncodeToString(n.nodeID.SerializeCompressed()), "network", n.net.Name,
		"listen", n.listenAddr())
	return nil
}

// Stop stops every component in reverse order (closing the sockets, ending the loops and flushing
// the state) and closes the btcd client. It may be called more than once, and concurrently: every
// call returns once the node has stopped.
func (n *Node) Stop() {
	n.stopOnce.Do(func() {
		if err := n.sup.StopAll(context.Background()); err != nil {
			if l := n.lease.Load(); l != nil && l.err() != nil {
				n.log.Info("stopped; what it would still have written was refused (not the leader)", "err", err)
			} else {
				n.log.Error("stopping the node", "err", err)
			}
		}
		n.chain.Close()
		if n.signerStop != nil {
			n.signerStop()
		}
		close(n.stopped)
	})
	<-n.stopped
}

// requestStop asks runDaemon to stop the node (the control API's stop command).
func (n *Node) requestStop() {
	select {
	case n.stopReq <- struct{}{}:
	default:
	}
}

// chainListener hands each block to the chain monitor, the channel manager (both must see every
// block) and the network graph (funding spends close channels); the chain loop then checkpoints the
// manager and the tip. The wallet follows the chain as a listener of its own,
// from its own saved position.
type chainListener struct{ n *Node }

func (l *chainListener) BlockConnected(block *wire.MsgBlock, height uint32) {
	n := l.n
	n.chainMon.BlockConnected(block, height)
	n.cm.BlockConnected(block, height)
	n.routing.graph.BlockConnected(block, height)
	n.afterBlock(btcdchain.BlockRef{Hash: block.BlockHash(), Height: height})
}

func (l *chainListener) BlockDisconnected(header *wire.BlockHeader, height uint32) {
	n := l.n
	n.cm.BlockDisconnected(header, height)
	n.chainMon.BlockDisconnected(header, height)
	n.routing.graph.BlockDisconnected(header, height)
	n.afterBlock(btcdchain.BlockRef{Hash: header.PrevBlock, Height: height - 1})
}

func (n *Node) afterBlock(tip btcdchain.BlockRef) {
	n.hub.publish(nodeapi.Event{Type: "block", Height: tip.Height})
}

// checkpoint persists the channel manager, then records the block it has processed (the chain
// monitor persists the monitors itself). After a crash the blocks since the last checkpoint are
// delivered again, which the components take as no-ops.
func (n *Node) checkpoint() {
	tip, ok := n.follower.ListenerTip(n.listener0)
	if !ok {
		return
	}
	// The monitors' and the manager's records of the blocks go first: the tip says they were seen.
	if err := n.persistAndFlush(true); err != nil {
		n.log.Error("checkpoint", "err", err)
		return
	}
	if err := n.routing.saveIfSpendsChanged(); err != nil {
		n.log.Error("saving the network graph", "err", err)
		return
	}
	if err := n.saveTip(tip); err != nil {
		n.log.Error("saving chain tip", "err", err)
	}
}

func (n *Node) wake() {
	select {
	case n.wakeCh <- struct{}{}:
	default:
	}
}

func (n *Node) setSynced(v bool) {
	n.mu.Lock()
	n.synced = v
	n.mu.Unlock()
}

// eventLoop runs a background.Processor until stop is closed: it handles the components' events,
// persists the channel manager (and flushes the held writes) before the PeerManager sends what they
// produced, and drives the PeerManager's and the ChannelManager's timers. The library says when it has
// work (EventOrPersistenceNeeded, UpdateAvailable): the Processor waits on that, on wake and on the
// timers instead of polling; its 1 s safety ticker only catches work nothing signals. Stopping persists
// the manager once more (forced).
func (n *Node) eventLoop(stop <-chan struct{}) {
	p := background.Start(background.Config{
		ChannelManager: n.cm, ChainMonitor: n.chainMon, PeerManager: n.pm,
		EventHandler: n.handleEvent, Persister: background.PersisterFunc(n.persistAndFlush),
		PeerTickInterval: n.cfg.PeerTick, ManagerTickInterval: n.cfg.ManagerTick, SafetyInterval: time.Second,
		// A remote signer's answers are handed to the manager and the monitors on this goroutine.
		BeforePass: n.unblockSigner,
		Wake:       n.wakeCh,
		Logger:     n.log,
	})
	n.proc.Store(p)
	<-stop
	_ = p.Stop() // its final persist's error is the event-loop component's Stop's to report
}

// processEvents runs one pass of the event loop's Processor now (see eventLoop), also after it
// stopped: events are handled, the manager persisted, and what they produced handed to the
// PeerManager.
func (n *Node) processEvents() {
	if p := n.proc.Load(); p != nil {
		_ = p.RunPass() // logged by the Processor
	}
}

// beforeWrite is every peer connection's before-write hook: the event loop's Processor.BeforeWrite,
// which persists the manager and flushes the held writes (persistAndFlush) before bytes leave; before
// the loop's first start, persistAndFlush itself.
func (n *Node) beforeWrite() error {
	if p := n.proc.Load(); p != nil {
		return p.BeforeWrite()
	}
	if err := n.persistAndFlush(false); err != nil {
		n.log.Error("not sending: the state the bytes depend on is not durable", "err", err)
		return err
	}
	return nil
}

// pollChain brings the components up to btcd's tip and checkpoints what they processed. A failure
// makes the node unsynced (openchannel and payments are refused) and is reported, rate-limited, in
// words (chainhealth.go).
func (n *Node) pollChain() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if n.chainFailing.Load() {
		// The last poll failed: first see whether btcd is there at all, at once (rpcclient retries an
		// unreachable server for some 20 s before it reports anything).
		if err := n.chain.Reachable(ctx); err != nil {
			n.setSynced(false)
			n.reportChainProblem(btcdUnreachable(n.chain.Host(), err))
			return
		}
	}
	changed, err := n.follower.Poll(ctx)
	if err != nil {
		n.setSynced(false)
		n.chainFailing.Store(true)
		n.reportChainProblem(n.explainChainError(ctx, err))
		return
	}
	if n.chainFailing.Swap(false) {
		n.log.Info("following btcd again", "btcd", n.chain.Host(), "height", n.follower.Tip().Height)
	}
	n.setSynced(true)
	if changed {
		n.checkpoint()
		n.wake()
	}
}

// saveRouting writes the network graph and scorer snapshots.
func (n *Node) saveRouting() {
	if err := n.routing.save(time.Now()); err != nil {
		n.log.Error("saving the network graph and scorer", "err", err)
	}
}

// archive archives the monitors of fully resolved channels (see archiveResolved).
func (n *Node) archive() {
	archiveResolved(n.chainMon, n.log, n.hub)
}

// refreshFees refreshes the fee estimates and offers our unconfirmed transactions again.
func (n *Node) refreshFees() {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	if err := n.chain.RefreshFees(ctx); err != nil {
		n.log.Warn("refreshing fee estimates", "err", err)
	}
	cancel()
	// Our own unconfirmed transactions (funding change, sweeps) are offered again.
	n.out.BroadcastTransactions(n.wallet.UnconfirmedTransactions()...)
}

// handleEvent is the host's reaction to each event of the ChannelManager and the ChainMonitor.
func (n *Node) handleEvent(e events.Event) error {
	switch ev := e.(type) {
	case events.FundingGenerationReady:
		n.fundChannel(ev)
	case events.ChannelPending:
		n.mu.Lock()
		ch := n.opening[ev.FormerTemporaryChannelID]
		delete(n.opening, ev.FormerTemporaryChannelID)
		tx := n.fundingTxs[ev.FundingTxo.Hash]
		delete(n.fundingTxs, ev.FundingTxo.Hash)
		n.mu.Unlock()
		var broadcastErr error
		if tx != nil {
			// The manager has broadcast it (through a queue); hand it to btcd now as well, so that
			// openchannel returns with the funding transaction in the mempool, or says that btcd
			// refused it.
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			if err := n.out.SendRawTransaction(ctx, tx); err != nil && !errors.Is(err, btcdchain.ErrAlreadyKnown) {
				n.log.Error("broadcasting funding transaction", "txid", tx.TxHash(), "err", err)
				broadcastErr = fmt.Errorf("btcd refused the funding transaction %s of channel %s: %w", tx.TxHash(),
					hex.EncodeToString(ev.ChannelID[:]), err)
			}
			cancel()
		}
		if ch != nil {
			ch <- openResult{pending: ev, err: broadcastErr}
		}
		n.hub.publish(nodeapi.Event{Type: "channel_pending", ChannelID: hex.EncodeToString(ev.ChannelID[:]),
			NodeID: hex.EncodeToString(ev.CounterpartyNodeID.SerializeCompressed())})
	case events.ChannelReady:
		n.hub.publish(nodeapi.Event{Type: "channel_ready", ChannelID: hex.EncodeToString(ev.ChannelID[:]),
			NodeID: hex.EncodeToString(ev.CounterpartyNodeID.SerializeCompressed())})
	case events.ChannelClosed:
		n.mu.Lock()
		ch := n.opening[ev.ChannelID] // a channel that closed before funding is known by its temporary id
		delete(n.opening, ev.ChannelID)
		n.mu.Unlock()
		if ch != nil {
			ch <- openResult{err: fmt.Errorf("channel closed: %s %s", ev.Reason, ev.Message)}
		}
		n.hub.publish(nodeapi.Event{Type: "channel_closed", ChannelID: hex.EncodeToString(ev.ChannelID[:]),
			NodeID: nodeIDHex(ev.CounterpartyNodeID), Reason: strings.TrimSpace(ev.Reason.String() + " " + ev.Message)})
	case events.DiscardFunding:
		n.mu.Lock()
		tx := n.fundingTxs[ev.FundingTxid]
		delete(n.fundingTxs, ev.FundingTxid)
		n.mu.Unlock()
		if tx != nil {
			if err := n.wallet.UnlockInputs(tx); err != nil {
				n.log.Warn("unlocking discarded funding inputs", "err", err)
			}
		}
	case events.PaymentClaimable:
		if ev.Purpose.PaymentPreimage != nil {
			// Recorded as paid before the claim: once ClaimFunds has handed the preimage to the monitor
			// the money is ours (off chain, or on chain at worst), and PaymentClaimed is not re-sent
			// after a crash.
			n.paymentReceived(events.PaymentClaimed{PaymentHash: ev.PaymentHash, AmountMsat: ev.AmountMsat}, false)
			if err := n.cm.ClaimFunds(*ev.Purpose.PaymentPreimage); err != nil {
				n.log.Warn("claiming payment", "hash", hex.EncodeToString(ev.PaymentHash[:]), "err", err)
			}
		} else if err := n.cm.FailHTLCBackwards(ev.PaymentHash); err != nil {
			n.log.Warn("failing unknown payment", "err", err)
		}
	case events.PaymentClaimed:
		n.paymentReceived(ev, true)
	case events.PaymentSent:
		id := hex.EncodeToString(ev.PaymentID[:])
		n.store.updatePayment(id, func(p *nodeapi.Payment) {
			p.Status = nodeapi.StatusSucceeded
			p.Preimage = hex.EncodeToString(ev.PaymentPreimage[:])
			p.FeeMsat = ev.FeePaidMsat
		})
		n.hub.publish(nodeapi.Event{Type: "payment_sent", PaymentID: id, PaymentHash: hex.EncodeToString(ev.PaymentHash[:])})
	case events.PaymentPathFailed:
		id := hex.EncodeToString(ev.PaymentID[:])
		n.store.updatePayment(id, func(p *nodeapi.Payment) {
			p.FailureCode = ev.FailureCode
			p.FailureReason = failureName(ev.FailureCode)
		})
	case events.PaymentFailed:
		id := hex.EncodeToString(ev.PaymentID[:])
		p, _ := n.store.updatePayment(id, func(p *nodeapi.Payment) {
			p.Status = nodeapi.StatusFailed
			if p.FailureReason == "" {
				p.FailureReason = ev.Reason.String()
			} else {
				p.FailureReason += " (" + ev.Reason.String() + ")"
			}
		})
		n.hub.publish(nodeapi.Event{Type: "payment_failed", PaymentID: id, PaymentHash: hex.EncodeToString(ev.PaymentHash[:]),
			Reason: p.FailureReason})
	case events.PaymentForwarded:
		if err := n.forwards.add(n.forwardRecord(ev, time.Now())); err != nil {
			// Returned: the manager keeps the event and hands it over again.
			return fmt.Errorf("recording forward: %w", err)
		}
		n.hub.publish(nodeapi.Event{Type: "payment_forwarded", ChannelID: hex.EncodeToString(ev.PrevChannelID[:]),
			NextChannelID: hex.EncodeToString(ev.NextChannelID[:]), AmountMsat: ev.OutboundAmountForwardedMsat,
			FeeMsat: ev.FeeEarnedMsat})
	case events.HTLCHandlingFailed:
		e := nodeapi.Event{Type: "htlc_handling_failed", ChannelID: hex.EncodeToString(ev.PrevChannelID[:]),
			FailureCode: ev.FailureCode}
		if ev.FailedNextDestination.NextChannelID != (lnwire.ChannelID{}) {
			e.NextChannelID = hex.EncodeToString(ev.FailedNextDestination.NextChannelID[:])
		}
		if ev.FailureCode != 0 {
			e.Reason = failureName(ev.FailureCode)
		} else {
			e.Reason = "the next hop's failure, relayed"
		}
		if scid := ev.FailedNextDestination.UnknownNextSCID; scid != 0 {
			e.ShortChannelID = lnwire.NewShortChannelIDFromUint64(scid).String()
		}
		n.hub.publish(e)
	case events.ProbeSuccessful:
		n.hub.publish(nodeapi.Event{Type: "probe_successful", PaymentID: hex.EncodeToString(ev.PaymentID[:]),
			PaymentHash: hex.EncodeToString(ev.PaymentHash[:])})
	case events.ProbeFailed:
		e := nodeapi.Event{Type: "probe_failed", PaymentID: hex.EncodeToString(ev.PaymentID[:]),
			PaymentHash: hex.EncodeToString(ev.PaymentHash[:])}
		if ev.ShortChannelID != 0 {
			e.ShortChannelID = lnwire.NewShortChannelIDFromUint64(ev.ShortChannelID).String()
		}
		n.hub.publish(e)
	case events.SpendableOutputs:
		n.sweep(ev)
	case events.BumpChannelClose:
		n.bumper.handle(ev)
	case events.BumpHTLCResolution:
		n.bumper.handle(ev)
	case events.OpenChannelRequest:
		// Only with ManuallyAcceptInboundChannels, which this node does not set.
	}
	return nil
}

// forwardRecord describes a forward for the history, with the channels' short ids and peers when the
// manager still knows the channels.
func (n *Node) forwardRecord(ev events.PaymentForwarded, now time.Time) nodeapi.Forward {
	rec := nodeapi.Forward{Timestamp: now.Unix(), PrevChannelID: hex.EncodeToString(ev.PrevChannelID[:]),
		NextChannelID: hex.EncodeToString(ev.NextChannelID[:]), AmountInMsat: ev.IncomingAmountMsat,
		AmountOutMsat: ev.OutboundAmountForwardedMsat, FeeMsat: ev.FeeEarnedMsat, ClaimedOnChain: ev.ClaimedOnChain}
	for _, c := range n.cm.ListChannels() {
		var scid string
		if c.ShortChannelID != (lnwire.ShortChannelID{}) {
			scid = c.ShortChannelID.String()
		}
		switch c.ChannelID {
		case ev.PrevChannelID:
			rec.PrevShortChannelID, rec.PrevNodeID = scid, nodeIDHex(c.CounterpartyNodeID)
		case ev.NextChannelID:
			rec.NextShortChannelID, rec.NextNodeID = scid, nodeIDHex(c.CounterpartyNodeID)
		}
	}
	return rec
}

// fundChannel builds and hands over the funding transaction a channel asked for.
func (n *Node) fundChannel(ev events.FundingGenerationReady) {
	feerate := n.chain.EstimateFeeratePerKw(chaininterface.NonAnchorChannelFee)
	tx, err := n.wallet.FundTransaction([]*wire.TxOut{{Value: ev.ChannelValueSat, PkScript: ev.OutputScript}}, feerate)
	if err == nil {
		err = n.cm.FundingTransactionGenerated(ev.TemporaryChannelID, ev.CounterpartyNodeID, tx)
		if err != nil {
			_ = n.wallet.UnlockInputs(tx)
		} else {
			n.mu.Lock()
			n.fundingTxs[tx.TxHash()] = tx
			n.mu.Unlock()
		}
	}
	if err != nil {
		n.log.Warn("funding channel", "temp", hex.EncodeToString(ev.TemporaryChannelID[:]), "err", err)
		_ = n.cm.ForceCloseBroadcastingLatestTxn(ev.TemporaryChannelID, ev.CounterpartyNodeID)
		n.mu.Lock()
		ch := n.opening[ev.TemporaryChannelID]
		delete(n.opening, ev.TemporaryChannelID)
		n.mu.Unlock()
		if ch != nil {
			ch <- openResult{err: fmt.Errorf("funding: %w", err)}
		}
	}
}

// sweep spends outputs the monitors handed over into the wallet, unless they already pay the wallet.
func (n *Node) sweep(ev events.SpendableOutputs) {
	var descs []events.SpendableOutputDescriptor
	for _, d := range ev.Outputs {
		if d.Kind == events.StaticOutput && n.wallet.IsMine(d.Output.PkScript) {
			continue // already the wallet's: it saw the output in its block
		}
		descs = append(descs, d)
	}
	if len(descs) == 0 {
		return
	}
	feerate := n.chain.EstimateFeeratePerKw(chaininterface.OutputSpendingFee)
	tx, err := n.wallet.SweepSpendableOutputs(descs, feerate, n.signer)
	if err != nil {
		n.log.Error("sweeping spendable outputs", "channel", hex.EncodeToString(ev.ChannelID[:]), "err", err)
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := n.out.SendRawTransaction(ctx, tx); err != nil {
		n.log.Warn("broadcasting sweep", "txid", tx.TxHash(), "err", err)
	}
	n.log.Info("swept spendable outputs", "txid", tx.TxHash(), "outputs", len(descs))
}

// paymentReceived records a claimed payment against its invoice (or as a keysend receipt) and, when
// announce, tells the event stream.
func (n *Node) paymentReceived(ev events.PaymentClaimed, announce bool) {
	hash := hex.EncodeToString(ev.PaymentHash[:])
	now := time.Now().Unix()
	inv, ok := n.store.invoice(hash)
	if ok && inv.Status == nodeapi.InvoicePaid && inv.ReceivedMsat == ev.AmountMsat {
		if announce {
			n.hub.publish(nodeapi.Event{Type: "payment_received", PaymentHash: hash, AmountMsat: ev.AmountMsat})
		}
		return
	}
	if !ok {
		inv = nodeapi.Invoice{PaymentHash: hash, Keysend: true, CreatedAt: now}
	}
	inv.Status = nodeapi.InvoicePaid
	inv.ReceivedMsat = ev.AmountMsat
	inv.PaidAt = now
	n.store.putInvoice(inv)
	if announce {
		n.hub.publish(nodeapi.Event{Type: "payment_received", PaymentHash: hash, AmountMsat: ev.AmountMsat})
	}
}

func nodeIDHex(k *btcec.PublicKey) string {
	if k == nil {
		return ""
	}
	return hex.EncodeToString(k.SerializeCompressed())
}

func parseNodeID(s string) (*btcec.PublicKey, error) {
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 33 {
		return nil, invalid("node id must be 66 hex characters")
	}
	k, err := btcec.ParsePubKey(b)
	if err != nil {
		return nil, invalid("node id: %v", err)
	}
	return k, nil
}

// normNodeID returns the node id s (hex, any case) in its canonical form, lower-case hex: the form
// node ids take as keys (saved peers, connections, records).
func normNodeID(s string) (string, error) {
	k, err := parseNodeID(s)
	if err != nil {
		return "", err
	}
	return nodeIDHex(k), nil
}

// eventHub fans node events out to the control API's subscribers. It is the event stream component:
// closed (the initial state, and after close), it has no subscribers, gives new ones a closed channel
// and drops what is published.
type eventHub struct {
	mu     sync.Mutex
	next   int
	subs   map[int]chan nodeapi.Event
	closed bool
}

func newEventHub() *eventHub { return &eventHub{subs: map[int]chan nodeapi.Event{}, closed: true} }

// open lets subscribers in.
func (h *eventHub) open() {
	h.mu.Lock()
	h.closed = false
	h.mu.Unlock()
}

// close ends every subscription (their channels are closed) and refuses new ones until open.
func (h *eventHub) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for id, ch := range h.subs {
		delete(h.subs, id)
		close(ch)
	}
}

func (h *eventHub) subscribe() (<-chan nodeapi.Event, func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	ch := make(chan nodeapi.Event, 256)
	if h.closed {
		close(ch)
		return ch, func() {}
	}
	id := h.next
	h.next++
	h.subs[id] = ch
	return ch, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		if c, ok := h.subs[id]; ok {
			delete(h.subs, id)
			close(c)
		}
	}
}

func (h *eventHub) publish(e nodeapi.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ch := range h.subs {
		select {
		case ch <- e:
		default: // a slow subscriber misses events rather than stalling the node
		}
	}
}
