package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/node/wallet"
	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/examples/signerlink"
	"github.com/lnkit/lnkit/keys"
	signerpolicy "github.com/lnkit/lnkit/keys/policy"
	"github.com/lnkit/lnkit/keys/remote"
	"github.com/lnkit/lnkit/kvstore"
)

// testSigner is lnkit-signer in process for the node's tests: a seed's KeysManager under keys/policy
// and its wallet behind remote.Server, served by signerlink on loopback. It can be stopped and started
// again on the same port; its state (the policy's store) stays.
type testSigner struct {
	t      *testing.T
	seed   [32]byte
	store  *kvstore.MemStore // the policy's state, kept across restarts
	addr   string
	key    *btcec.PrivateKey
	node   *btcec.PublicKey
	srv    *remote.Server
	policy *signerpolicy.Signer
	client *btcec.PrivateKey // the user's client key, approving payments
	nodeID *btcec.PublicKey  // the node id the signer's seed gives

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// seedWallet is remote.WalletInner over the seed's wallet.SeedSigner (lnkit-signer adds a spend policy).
type seedWallet struct{ ws *wallet.SeedSigner }

func (w seedWallet) AccountPubKey(netName string) (string, error) {
	k, err := w.ws.AccountPubKey(&chaincfg.RegressionNetParams)
	if err != nil || netName != chaincfg.RegressionNetParams.Name {
		return "", errors.Join(err, errors.New("regtest only"))
	}
	return k.String(), nil
}

func (w seedWallet) SignWalletInputs(netName string, tx *wire.MsgTx, prevOuts []*wire.TxOut, paths []*remote.WalletPath) ([]wire.TxWitness, error) {
	ps := make([]*wallet.KeyPath, len(paths))
	for i, p := range paths {
		if p != nil {
			ps[i] = &wallet.KeyPath{Chain: p.Chain, Index: p.Index}
		}
	}
	return w.ws.SignInputs(tx, prevOuts, ps, &chaincfg.RegressionNetParams)
}

// startTestSigner starts a signer for the node whose data directory is cfg.DataDir (its link key is
// created there) and points cfg at it.
func startTestSigner(t *testing.T, cfg *Config) *testSigner {
	t.Helper()
	s := &testSigner{t: t, store: kvstore.NewMemStore()}
	_, _ = rand.Read(s.seed[:])
	var err error
	s.client, err = btcec.NewPrivateKey()
	require.NoError(t, err)
	s.build()
	require.NoError(t, os.MkdirAll(cfg.DataDir, 0o700))
	nodeKey, _, err := signerlink.LoadOrCreateKey(filepath.Join(cfg.DataDir, "signer_link_key"))
	require.NoError(t, err)
	s.node = nodeKey.PubKey()
	s.key, err = btcec.NewPrivateKey()
	require.NoError(t, err)
	s.start("127.0.0.1:0")
	t.Cleanup(s.stop)
	cfg.Signer = s.addr
	cfg.SignerPubKey = hex.EncodeToString(s.key.PubKey().SerializeCompressed())
	return s
}

// build makes the signer's process state from its seed and its policy's store, as lnkit-signer does
// at each start.
func (s *testSigner) build() {
	t := s.t
	km := keys.NewKeysManager(s.seed, 1, 0)
	ws, err := wallet.NewSeedSigner(s.seed[:])
	require.NoError(t, err)
	// The node's wallet closes and sweeps to its own addresses: the policy allows the first ones.
	var allow [][]byte
	acct, err := ws.AccountPubKey(&chaincfg.RegressionNetParams)
	require.NoError(t, err)
	for c := uint32(0); c < 2; c++ {
		ck, err := acct.Derive(c)
		require.NoError(t, err)
		for i := uint32(0); i < 50; i++ {
			k, err := ck.Derive(i)
			require.NoError(t, err)
			pub, err := k.ECPubKey()
			require.NoError(t, err)
			allow = append(allow, p2wpkh(pub))
		}
	}
	ps, err := signerpolicy.New(km, s.store, signerpolicy.Config{ClientKey: s.client.PubKey(), Allowlist: allow})
	require.NoError(t, err)
	ps.SetTime(uint64(time.Now().Unix()))
	srv, err := remote.NewServer(remote.ServerConfig{Inner: ps, Approver: ps, Wallet: seedWallet{ws}})
	require.NoError(t, err)
	s.srv, s.policy, s.nodeID = srv, ps, km.GetNodeID()
}

func p2wpkh(pub *btcec.PublicKey) []byte {
	return append([]byte{0, 20}, btcutil.Hash160(pub.SerializeCompressed())...)
}

// start serves on addr (the first start picks a free port, later ones reuse it).
func (s *testSigner) start(addr string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ln net.Listener
	var err error
	for i := 0; i < 100; i++ { // the old listener's port may take a moment to free
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.NoError(s.t, err)
	s.addr = ln.Addr().String()
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel, s.done = cancel, make(chan struct{})
	done := s.done
	go func() {
		defer close(done)
		_ = signerlink.Serve(ctx, ln, signerlink.ServeConfig{Key: s.key, NodePub: s.node, Handle: s.handle})
	}()
}

// handle answers a request with the host's time given to the policy first (as lnkit-signer does).
func (s *testSigner) handle(req []byte) []byte {
	s.policy.SetTime(uint64(time.Now().Unix()))
	return s.srv.Handle(req)
}

// stop stops serving (links drop); start again with restart.
func (s *testSigner) stop() {
	s.mu.Lock()
	cancel, done := s.cancel, s.done
	s.cancel = nil
	s.mu.Unlock()
	if cancel != nil {
		cancel()
		<-done
	}
}

// restart starts a new signer process on the same seed, policy state and port.
func (s *testSigner) restart() {
	s.build()
	s.start(s.addr)
}

// approveInvoice is the user's client approving bolt11 with a fee limit of feeLimitSat.
func (s *testSigner) approveInvoice(bolt11 string, feeLimitSat uint64) string {
	h := signerpolicy.InvoiceApprovalHash(bolt11, feeLimitSat*1000)
	return hex.EncodeToString(ecdsa.Sign(s.client, h[:]).Serialize())
}

// TestKeylessNode: a node started with -signer holds no private key (no seed file; its node key,
// channel keys and wallet are the signer's). Against an ordinary node it gets a channel, receives
// payments, and pays an invoice the user approved; an unapproved payment is refused before anything
// leaves (-require-approval), and one whose approval does not match is refused by the signer; a
// cooperative close pays its wallet.
func TestKeylessNode(t *testing.T) {
	btcd := newFakeBtcd(t)
	a := startTestNode(t, testNodeConfig(t, btcd, pairNodeArgs...), nil)
	cfgB := testNodeConfig(t, btcd, append([]string{"-require-approval"}, pairNodeArgs...)...)
	signer := startTestSigner(t, cfgB)
	b := startTestNode(t, cfgB, nil)
	_, err := os.Stat(filepath.Join(cfgB.DataDir, "seed"))
	require.True(t, os.IsNotExist(err), "a keyless node has no seed")
	require.True(t, b.nodeID.IsEqual(signer.nodeID), "the node's id is the signer's")

	fundNode(t, btcd, a, 2_000_000)
	openTestChannel(t, btcd, a, b, 1_000_000)
	ctx := context.Background()
	sa, sb := &service{n: a}, &service{n: b}
	for i := 0; i < 5; i++ {
		inv, err := sb.Invoice(ctx, nodeapi.InvoiceParams{AmountMsat: 20_000_000})
		require.NoError(t, err)
		p, err := sa.PayInvoice(ctx, nodeapi.PayInvoiceParams{Bolt11: inv.Bolt11})
		require.NoError(t, err)
		require.Equal(t, nodeapi.StatusSucceeded, p.Status, "payment %d to the keyless node", i)
	}

	inv, err := sa.Invoice(ctx, nodeapi.InvoiceParams{AmountMsat: 30_000_000})
	require.NoError(t, err)
	_, err = sb.PayInvoice(ctx, nodeapi.PayInvoiceParams{Bolt11: inv.Bolt11})
	require.ErrorContains(t, err, "approval", "no approval: refused before anything leaves")
	fee := uint64(100)
	_, err = sb.PayInvoice(ctx, nodeapi.PayInvoiceParams{Bolt11: inv.Bolt11, FeeLimitSat: &fee,
		Approval: signer.approveInvoice(inv.Bolt11, fee+1)})
	require.ErrorContains(t, err, "payment-approved", "an approval of another fee limit")
	p, err := sb.PayInvoice(ctx, nodeapi.PayInvoiceParams{Bolt11: inv.Bolt11, FeeLimitSat: &fee,
		Approval: signer.approveInvoice(inv.Bolt11, fee)})
	require.NoError(t, err)
	require.Equal(t, nodeapi.StatusSucceeded, p.Status, "the approved payment")

	// The keyless node funds a channel of its own: its wallet's inputs are signed by the signer.
	fundNode(t, btcd, b, 600_000)
	openTestChannel(t, btcd, b, a, 300_000)
	require.Len(t, b.cm.ListChannels(), 2)

	// A cooperative close of the first channel, from the keyless node: the signer signs a close paying
	// its wallet, which sees the coin.
	first, ok := channelWith(b, a)
	require.True(t, ok)
	for _, c := range b.cm.ListChannels() {
		if !c.IsOutbound {
			first = c
		}
	}
	before, _ := b.wallet.Balance()
	_, err = sb.CloseChannel(ctx, nodeapi.CloseChannelParams{ChannelID: hex.EncodeToString(first.ChannelID[:])})
	require.NoError(t, err)
	require.Eventually(t, func() bool {
		btcd.mineMempool()
		conf, _ := b.wallet.Balance()
		return conf > before
	}, 20*time.Second, 50*time.Millisecond, "the close pays the keyless node's wallet: a has %d channels, b %d", len(a.cm.ListChannels()), len(b.cm.ListChannels()))
}

// TestKeylessSignerRestart: while an ordinary node pays a keyless one invoice after invoice, the
// keyless node's signer is stopped and started again (a new process on the same seed and policy
// state), twice. Payments meeting a stopped signer wait (the keyless node's messages are
// held, its peer's commitment is kept) and go on when it is back; every payment settles and the
// balances move by exactly the succeeded payments.
func TestKeylessSignerRestart(t *testing.T) {
	btcd := newFakeBtcd(t)
	a := startTestNode(t, testNodeConfig(t, btcd, pairNodeArgs...), nil)
	cfgB := testNodeConfig(t, btcd, pairNodeArgs...)
	signer := startTestSigner(t, cfgB)
	b := startTestNode(t, cfgB, nil)
	fundNode(t, btcd, a, 1_000_000)
	openTestChannel(t, btcd, a, b, 500_000)

	stop := make(chan struct{})
	attempts := make(chan int, 1)
	go func() { attempts <- payStream(t, a, b, stop) }()
	waitMore := func(what string) { waitMorePayments(t, a, what) }
	waitMore("the start")
	for i := 0; i < 2; i++ {
		signer.stop()
		time.Sleep(300 * time.Millisecond) // payments meet the stopped signer
		signer.restart()
		waitMore("the signer's restart")
	}
	close(stop)
	n := <-attempts
	sum, ok := settledPayments(t, a, b)
	require.Positive(t, ok)
	require.Equal(t, sum, receivedMsat(b), "the keyless node received exactly the succeeded payments")
	cb, _ := channelWith(b, a)
	require.Equal(t, sum, cb.BalanceMsat, "its balance moved by exactly those")
	t.Logf("%d payments attempted, %d succeeded (%d msat)", n, ok, sum)
}
