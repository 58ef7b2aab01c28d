package channelmanager

import (
	"math/rand"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/keys/policy"
	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/lnwire"
)

// signerControl decides when the test's asynchronous signers answer: never while blocked, otherwise
// keys.ErrSignerPending with probability prob (a remote signer whose answer has not arrived; asking
// again later gets it, in whatever order the channels ask).
type signerControl struct {
	mu      sync.Mutex
	r       *rand.Rand
	prob    float64
	blocked bool
	pended  int // pending answers given since the last take
	total   int // pending answers given in all
}

func (s *signerControl) pend() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.blocked || (s.prob > 0 && s.r.Float64() < s.prob) {
		s.pended++
		s.total++
		return true
	}
	return false
}

func (s *signerControl) set(prob float64, blocked bool) {
	s.mu.Lock()
	s.prob, s.blocked = prob, blocked
	s.mu.Unlock()
}

// take returns and resets the number of pending answers given.
func (s *signerControl) take() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := s.pended
	s.pended = 0
	return n
}

// asyncKeys is a KeysManager whose channel signers answer through a signerControl.
type asyncKeys struct {
	KeysInterface
	ctl *signerControl
}

func (k *asyncKeys) DeriveChannelSigner(valueSat int64, id [32]byte) keys.ChannelSigner {
	return &asyncSigner{ChannelSigner: k.KeysInterface.DeriveChannelSigner(valueSat, id), ctl: k.ctl}
}

// asyncSigner answers keys.ErrSignerPending when its control says so. The parameters always reach
// the signer (a remote signer queues them in order before later requests); the answer may still be
// pending.
type asyncSigner struct {
	keys.ChannelSigner
	ctl *signerControl
}

func (s *asyncSigner) ProvideChannelParameters(p *keys.ChannelTransactionParameters) error {
	if err := s.ChannelSigner.ProvideChannelParameters(p); err != nil {
		return err
	}
	if s.ctl.pend() {
		return keys.ErrSignerPending
	}
	return nil
}

func (s *asyncSigner) SignCounterpartyCommitment(c *keys.CommitmentTx) (*ecdsa.Signature, []*ecdsa.Signature, error) {
	if s.ctl.pend() {
		return nil, nil, keys.ErrSignerPending
	}
	return s.ChannelSigner.SignCounterpartyCommitment(c)
}

func (s *asyncSigner) ValidateHolderCommitment(c *keys.CommitmentTx, sig *ecdsa.Signature, htlcSigs []*ecdsa.Signature) error {
	if s.ctl.pend() {
		return keys.ErrSignerPending
	}
	return s.ChannelSigner.ValidateHolderCommitment(c, sig, htlcSigs)
}

func (s *asyncSigner) ValidateCounterpartyRevocation(n uint64, secret [32]byte) error {
	if s.ctl.pend() {
		return keys.ErrSignerPending
	}
	return s.ChannelSigner.ValidateCounterpartyRevocation(n, secret)
}

func (s *asyncSigner) ReleaseCommitmentSecret(n uint64) ([32]byte, error) {
	if s.ctl.pend() {
		return [32]byte{}, keys.ErrSignerPending
	}
	return s.ChannelSigner.ReleaseCommitmentSecret(n)
}

func (s *asyncSigner) GetPerCommitmentPoint(n uint64) (*btcec.PublicKey, error) {
	return s.ChannelSigner.GetPerCommitmentPoint(n)
}

func (s *asyncSigner) SignHolderCommitment(n uint64, tx *wire.MsgTx) (*ecdsa.Signature, error) {
	if s.ctl.pend() {
		return nil, keys.ErrSignerPending
	}
	return s.ChannelSigner.SignHolderCommitment(n, tx)
}

func (s *asyncSigner) SignClosingTransaction(c *keys.ClosingTx) (*ecdsa.Signature, error) {
	if s.ctl.pend() {
		return nil, keys.ErrSignerPending
	}
	return s.ChannelSigner.SignClosingTransaction(c)
}

// useAsyncSigner gives a node without channels an asynchronous signer and returns its control. With
// withPolicy, the signer behind it is keys/policy over the node's KeysManager, approving every payment
// (a validating signer must let every honest flow through).
func (n *testNode) useAsyncSigner(seed int64, withPolicy ...bool) *signerControl {
	ctl := &signerControl{r: rand.New(rand.NewSource(seed))}
	var inner KeysInterface = n.km
	if len(withPolicy) > 0 && withPolicy[0] {
		s, err := policy.New(n.km, kvstore.NewMemStore(), policy.Config{AllowUnapprovedPayments: true, MaxPushMsat: 1 << 62})
		require.NoError(n.t, err)
		inner = s
	}
	n.signer = &asyncKeys{KeysInterface: inner, ctl: ctl}
	n.start(nil)
	return ctl
}

// settleAsync settles the network, calling SignerUnblocked on every node whenever a signer answered
// pending, until nothing moves.
func (nw *network) settleAsync(ctls ...*signerControl) {
	for i := 0; i < 10_000; i++ {
		nw.settle()
		pended := 0
		for _, c := range ctls {
			pended += c.take()
		}
		if pended == 0 {
			return
		}
		for _, n := range nw.nodes {
			n.cm.SignerUnblocked(nil)
		}
	}
	nw.t.Fatal("network did not settle with asynchronous signers")
}

// TestAsyncSignerHoldsAndResumes: while Bob's signer does not answer, a payment to him stalls with
// nothing sent out of order (no revoke_and_ack, no commitment_signed of his); once it answers and the
// host calls SignerUnblocked, the payment completes, and a payment back works.
func TestAsyncSignerHoldsAndResumes(t *testing.T) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a := newTestNode(t, chain, "alice", 1)
	b := newTestNode(t, chain, "bob", 2)
	ctl := b.useAsyncSigner(7)
	nw := newNetwork(t, a, b)
	nw.connect(0, 1)
	id := nw.openChannel(0, 1, 1_000_000, 0)

	ctl.set(0, true)
	_, _, err := nw.pay(0, 1, 50_000_000)
	require.NoError(t, err)
	var fromBob []lnwire.Message
	nw.settleHolding(func(from int, m lnwire.Message) bool {
		if from == 1 {
			fromBob = append(fromBob, m)
		}
		return false
	})
	for _, m := range fromBob {
		switch m.(type) {
		case *lnwire.RevokeAndAck, *lnwire.CommitmentSigned:
			t.Fatalf("bob sent %s while his signer was not answering", m.MsgType())
		}
	}
	require.Positive(t, ctl.take(), "bob's signer was asked")
	require.Equal(t, 1, a.channel(id).NumPendingHTLCs)

	ctl.set(0, false)
	b.cm.SignerUnblocked(nil)
	nw.settle()
	require.Equal(t, 1, countEvents[events.PaymentSent](a.takeEvents()))
	checkBalances(t, a, b, id, 1_000_000_000-50_000_000)

	_, _, err = nw.pay(1, 0, 20_000_000)
	require.NoError(t, err)
	nw.settle()
	require.Equal(t, 1, countEvents[events.PaymentSent](b.takeEvents()))
	checkBalances(t, a, b, id, 1_000_000_000-30_000_000)
}

// TestAsyncSignerRandom: both signers answer pending at random (half the time), channels are driven
// by SignerUnblocked in whatever order the answers come; 40 payments each way all complete with
// exact balances, and a cooperative close (its closing_signed signed asynchronously too) ends it.
func TestAsyncSignerRandom(t *testing.T) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a := newTestNode(t, chain, "alice", 1)
	b := newTestNode(t, chain, "bob", 2)
	ca, cb := a.useAsyncSigner(1), b.useAsyncSigner(2)
	nw := newNetwork(t, a, b)
	nw.connect(0, 1)
	id := nw.openChannel(0, 1, 2_000_000, 500_000_000)
	ca.set(0.5, false)
	cb.set(0.5, false)
	r := rand.New(rand.NewSource(3))
	want := uint64(2_000_000_000 - 500_000_000)
	for i := 0; i < 80; i++ {
		from := i % 2
		amt := randAmount(r, 10_000, 5_000_000)
		_, _, err := nw.pay(from, 1-from, amt)
		require.NoError(t, err)
		if from == 0 {
			want -= amt
		} else {
			want += amt
		}
		if r.Intn(3) == 0 {
			nw.settleAsync(ca, cb)
		}
	}
	nw.settleAsync(ca, cb)
	require.Equal(t, 40, countEvents[events.PaymentSent](a.takeEvents()))
	require.Equal(t, 40, countEvents[events.PaymentSent](b.takeEvents()))
	checkBalances(t, a, b, id, want)

	require.NoError(t, a.cm.CloseChannel(id, b.id))
	nw.settleAsync(ca, cb)
	for _, n := range nw.nodes {
		evs := n.takeEvents()
		require.Equal(t, 1, countEvents[events.ChannelClosed](evs), "%s: %v", n.name, evs)
	}
	require.Len(t, a.chain.Mempool(), 1, "the closing transaction, signed by both; rejected: %v", a.chain.Rejected())
}

// TestAsyncSignerForceClose: a force close whose commitment the signer has not signed broadcasts nothing
// until the signer answers; ChainMonitor.SignerUnblocked then broadcasts it without waiting for a block.
func TestAsyncSignerForceClose(t *testing.T) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a := newTestNode(t, chain, "alice", 1)
	b := newTestNode(t, chain, "bob", 2)
	ctl := a.useAsyncSigner(5)
	nw := newNetwork(t, a, b)
	nw.connect(0, 1)
	id := nw.openChannel(0, 1, 1_000_000, 0)
	_, _, err := nw.pay(0, 1, 10_000_000)
	require.NoError(t, err)
	nw.settle()

	ctl.set(0, true)
	require.NoError(t, a.cm.ForceCloseBroadcastingLatestTxn(id, b.id))
	a.handleEvents()
	require.Empty(t, chain.Mempool(), "nothing signed, nothing broadcast")
	require.Positive(t, ctl.take())

	ctl.set(0, false)
	a.chainMon.SignerUnblocked()
	require.Len(t, chain.Mempool(), 1, "our commitment; rejected: %v", chain.Rejected())
	mon, ok := a.chainMon.GetMonitor(a.channel(id).FundingTxo)
	require.True(t, ok)
	latest, err := mon.UnsafeGetLatestHolderCommitmentTxn()
	require.NoError(t, err)
	require.Equal(t, latest[0].TxHash(), chain.Mempool()[0].TxHash())
}
