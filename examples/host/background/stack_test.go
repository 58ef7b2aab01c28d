package background_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
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
	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/examples/host/background"
	"github.com/lnkit/lnkit/examples/host/lnsocket"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
)

// stack is one node as a host builds it: the library's components on a test chain, driven only by a
// background.Processor and lnsocket connections on 127.0.0.1.
type stack struct {
	id        *btcec.PublicKey
	wallet    *testchain.Wallet
	persister *channelmonitor.FilesystemPersister
	chainMon  *channelmonitor.ChainMonitor
	cm        *channelmanager.ChannelManager
	pm        *peermanager.PeerManager
	mgrFile   string
	proc      *background.Processor
	sockets   sync.WaitGroup // the connections' goroutines and the accept loop
	crashed   atomic.Bool    // the node "died": its manager is persisted no more (crashedPersist)
	lost      atomic.Bool    // a persist failed since crashed was set

	mu      sync.Mutex
	conns   []*lnsocket.Conn
	pending []events.ChannelPending
	ready   []events.ChannelReady
	errs    []error
	// payments: PaymentSent, PaymentFailed and PaymentClaimed, in order.
	payments []events.Event
}

// newStack builds a node named name on chain, its files under dir, and starts its Processor.
func newStack(name string, chain *testchain.Chain, dir string) (*stack, error) {
	return buildStack(name, chain, dir, false)
}

// restartStack builds the node named name again from its files under dir, as a host starting after a
// crash does: the monitors from the FilesystemPersister, the manager from its file (channelmanager.Read).
func restartStack(name string, chain *testchain.Chain, dir string) (*stack, error) {
	return buildStack(name, chain, dir, true)
}

func buildStack(name string, chain *testchain.Chain, dir string, restart bool) (*stack, error) {
	km := keys.NewKeysManager(sha256.Sum256([]byte("background example "+name)), 1, 0)
	walletKey, _ := btcec.PrivKeyFromBytes(sha256Bytes("background example wallet " + name))
	persister, err := channelmonitor.NewFilesystemPersister(filepath.Join(dir, name, "monitors"))
	if err != nil {
		return nil, err
	}
	cfg := config.Default()
	cfg.ChannelHandshakeConfig.MinimumDepth = 1
	chainMon := channelmonitor.NewChainMonitor(nil, chain, nil, chain, persister)
	mgrFile := filepath.Join(dir, name, "manager.bin")
	var cm *channelmanager.ChannelManager
	if restart {
		cm, err = readManager(km, chain, chainMon, persister, cfg, mgrFile)
	} else {
		cm, err = channelmanager.New(chain, chainMon, chain, nil, km, cfg,
			channelmanager.ChainParams{Net: &chaincfg.RegressionNetParams, BestBlock: chain.BestBlock()})
	}
	if err != nil {
		return nil, errors.Join(err, persister.Close())
	}
	pm := peermanager.New(peermanager.MessageHandler{Chan: cm}, km, km, peermanager.Config{
		ChainHashes: []chainhash.Hash{*chaincfg.RegressionNetParams.GenesisHash}}, nil)
	s := &stack{id: km.GetNodeID(), wallet: testchain.NewWallet(chain, walletKey), persister: persister,
		chainMon: chainMon, cm: cm, pm: pm, mgrFile: mgrFile}
	chain.RegisterListener(cm)
	chain.RegisterListener(chainMon)
	file := &background.FilePersister{Manager: cm, Path: s.mgrFile}
	s.proc = background.Start(background.Config{
		ChannelManager: cm, ChainMonitor: chainMon, PeerManager: pm, EventHandler: s.handle,
		Persister: background.PersisterFunc(func(force bool) error {
			if s.crashed.Load() {
				return s.crashedPersist(force)
			}
			return file.PersistManager(force)
		}),
		// The default intervals: the PeerManager's pong deadline is one tick.
	})
	return s, nil
}

// readManager loads the monitors persister holds into chainMon and reads the manager from its file.
func readManager(km *keys.KeysManager, chain *testchain.Chain, chainMon *channelmonitor.ChainMonitor,
	persister *channelmonitor.FilesystemPersister, cfg config.UserConfig, mgrFile string) (*channelmanager.ChannelManager, error) {
	mons, err := persister.ReadChannelMonitors(km)
	if err != nil {
		return nil, err
	}
	for _, m := range mons {
		if err := chainMon.LoadMonitor(m); err != nil {
			return nil, err
		}
	}
	data, err := os.ReadFile(mgrFile)
	if err != nil {
		return nil, err
	}
	return channelmanager.Read(data, channelmanager.ReadArgs{FeeEstimator: chain, Watch: chainMon, Broadcaster: chain,
		Keys: km, Config: cfg, Net: &chaincfg.RegressionNetParams, Monitors: mons})
}

func sha256Bytes(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

// handle is the node's event handler: it funds the channels it opens, claims the payments it can and
// records the rest.
func (s *stack) handle(e events.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch ev := e.(type) {
	case events.FundingGenerationReady:
		tx, err := s.wallet.FundTransaction([]*wire.TxOut{{Value: ev.ChannelValueSat, PkScript: ev.OutputScript}}, 1000)
		if err == nil {
			err = s.cm.FundingTransactionGenerated(ev.TemporaryChannelID, ev.CounterpartyNodeID, tx)
		}
		if err != nil {
			s.errs = append(s.errs, fmt.Errorf("funding: %w", err))
		}
	case events.ChannelPending:
		s.pending = append(s.pending, ev)
	case events.ChannelReady:
		s.ready = append(s.ready, ev)
	case events.PaymentClaimable:
		if ev.Purpose.PaymentPreimage != nil {
			if err := s.cm.ClaimFunds(*ev.Purpose.PaymentPreimage); err != nil {
				s.errs = append(s.errs, fmt.Errorf("claim: %w", err))
			}
		}
	case events.PaymentSent, events.PaymentFailed, events.PaymentClaimed:
		s.payments = append(s.payments, ev)
	}
	return nil
}

// options are the connections' options: wake the Processor after reads, persist before writes.
func (s *stack) options() lnsocket.Options {
	return lnsocket.Options{AfterRead: s.proc.Wake, BeforeWrite: s.proc.BeforeWrite, WaitGroup: &s.sockets}
}

func (s *stack) track(c *lnsocket.Conn) {
	s.mu.Lock()
	s.conns = append(s.conns, c)
	s.mu.Unlock()
}

// listen accepts connections on 127.0.0.1 (SetupInbound) until ln closes; it returns the address.
func (s *stack) listen() (net.Listener, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s.sockets.Add(1)
	go func() {
		defer s.sockets.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			if c, err := lnsocket.SetupInbound(s.pm, nc, s.options()); err == nil {
				s.track(c)
			}
		}
	}()
	return ln, nil
}

// connect dials peer at addr (Connect).
func (s *stack) connect(peer *stack, addr string) error {
	c, err := lnsocket.Connect(context.Background(), s.pm, peer.id, addr, s.options())
	if err != nil {
		return err
	}
	s.track(c)
	return nil
}

func (s *stack) connectedTo(peer *stack) bool {
	for _, d := range s.pm.GetPeerNodeIDs() {
		if d.NodeID.IsEqual(peer.id) {
			return true
		}
	}
	return false
}

func (s *stack) pendingChannel() (events.ChannelPending, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.pending) == 0 {
		return events.ChannelPending{}, false
	}
	return s.pending[0], true
}

func (s *stack) sawReady(id lnwire.ChannelID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, ev := range s.ready {
		if ev.ChannelID == id {
			return true
		}
	}
	return false
}

func (s *stack) usable(id lnwire.ChannelID) bool {
	for _, d := range s.cm.ListChannels() {
		if d.ChannelID == id && d.IsUsable {
			return true
		}
	}
	return false
}

func (s *stack) problem() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return errors.Join(s.errs...)
}

// stop closes the connections, waits for their goroutines, and stops the Processor (its final
// persist) and the monitors' persister.
func (s *stack) stop() error {
	s.mu.Lock()
	conns := s.conns
	s.mu.Unlock()
	for _, c := range conns {
		c.Close()
	}
	s.sockets.Wait()
	return errors.Join(s.proc.Stop(), s.persister.Close())
}

// waitUntil polls cond every 5 ms for up to 20 s.
func waitUntil(what string, cond func() bool) error {
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			return fmt.Errorf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil
}

// openChannel runs the two stacks through a channel's opening over TCP on 127.0.0.1: bob listens,
// alice connects, opens a channel of valueSat, it is mined to one confirmation, and both sides see
// it ready and usable. It returns the channel id.
func openChannel(chain *testchain.Chain, alice, bob *stack, valueSat int64) (lnwire.ChannelID, error) {
	var id lnwire.ChannelID
	ln, err := bob.listen()
	if err != nil {
		return id, err
	}
	defer ln.Close()
	if err := alice.connect(bob, ln.Addr().String()); err != nil {
		return id, err
	}
	if err := waitUntil("init", func() bool { return alice.connectedTo(bob) && bob.connectedTo(alice) }); err != nil {
		return id, err
	}
	chain.FundAddress(alice.wallet.PkScript(), valueSat+100_000)
	chain.MineBlocks(1)
	if _, err := alice.cm.CreateChannel(bob.id, valueSat, 0, [16]byte{1}, nil); err != nil {
		return id, err
	}
	alice.proc.Wake()
	var pend events.ChannelPending
	if err := waitUntil("ChannelPending", func() bool {
		var ok bool
		pend, ok = alice.pendingChannel()
		_, ok2 := bob.pendingChannel()
		return ok && ok2
	}); err != nil {
		return id, errors.Join(err, alice.problem(), bob.problem(), fmt.Errorf("alice: %s; bob: %s", alice.diag(), bob.diag()))
	}
	if err := waitUntil("the funding transaction", func() bool { return chain.InMempool(pend.FundingTxo.Hash) }); err != nil {
		return id, err
	}
	chain.MineBlocks(1)
	id = pend.ChannelID
	err = waitUntil("ChannelReady", func() bool {
		return alice.sawReady(id) && bob.sawReady(id) && alice.usable(id) && bob.usable(id)
	})
	return id, errors.Join(err, alice.problem(), bob.problem())
}

// newPair builds alice and bob on a fresh test chain under dir.
func newPair(dir string) (*testchain.Chain, *stack, *stack, error) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.SetDefaultFeeratePerKw(1000)
	chain.MineBlocks(101)
	alice, err := newStack("alice", chain, dir)
	if err != nil {
		return nil, nil, nil, err
	}
	bob, err := newStack("bob", chain, dir)
	if err != nil {
		return nil, nil, nil, errors.Join(err, alice.stop())
	}
	return chain, alice, bob, nil
}

var _ chaininterface.FeeEstimator = (*testchain.Chain)(nil)

// fileBytes reads a file, or nil.
func fileBytes(path string) []byte {
	b, _ := os.ReadFile(path)
	return b
}

// diag describes the node's channels and peers, for a failure's message.
func (s *stack) diag() string {
	out := fmt.Sprintf("peers %d;", len(s.pm.GetPeerNodeIDs()))
	for _, d := range s.cm.ListChannels() {
		out += fmt.Sprintf(" channel %s ready=%v usable=%v funding=%v;", d.ChannelID, d.IsChannelReady, d.IsUsable, d.FundingTxo)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return out + fmt.Sprintf(" pending %d ready %d", len(s.pending), len(s.ready))
}
