package channelmanager

import (
	"errors"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/keys/policy"
	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/router"
)

// usePolicySigner gives a node without channels a validating signer (keys/policy over its
// KeysManager) whose payments the returned client key approves.
func (n *testNode) usePolicySigner(t *testing.T) (*policy.Signer, *btcec.PrivateKey) {
	client, _ := btcec.PrivKeyFromBytes(sha256Bytes([]byte(n.name + " client")))
	s, err := policy.New(n.km, kvstore.NewMemStore(), policy.Config{ClientKey: client.PubKey()})
	require.NoError(t, err)
	s.SetTime(1_700_000_000)
	n.signer = s
	n.start(nil)
	return s, client
}

// singleHopRoute pays amt to the peer to over our channel with it.
func singleHopRoute(to *btcec.PublicKey, amt uint64) *router.Route {
	return router.SinglePath(router.RouteHop{PubKey: to, FeeMsat: amt, CLTVExpiryDelta: DefaultMinFinalCLTVExpiryDelta + 6})
}

// approve has the user's client approve paying hash to payee.
func approve(t *testing.T, s *policy.Signer, client *btcec.PrivateKey, payee *btcec.PublicKey, hash [32]byte, amountMsat uint64) {
	h := policy.KeysendApprovalHash(payee, hash, amountMsat, 0)
	require.NoError(t, s.ApproveKeysend(payee, hash, amountMsat, 0, ecdsa.Sign(client, h[:]).Serialize()))
}

// TestPolicySignerChannel: two real ChannelManagers whose signers are wrapped by keys/policy. Approved
// payments both ways pass every rule; an unapproved one is refused by Alice's signer at her
// commitment_signed, which waits (nothing else of hers leaves, nothing is corrupted) until the user
// approves it and the host calls SignerUnblocked, and then completes; a cooperative close to the
// wallet passes.
func TestPolicySignerChannel(t *testing.T) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a := newTestNode(t, chain, "alice", 1)
	b := newTestNode(t, chain, "bob", 2)
	sa, ca := a.usePolicySigner(t)
	sb, cb := b.usePolicySigner(t)
	nw := newNetwork(t, a, b)
	nw.connect(0, 1)
	id := nw.openChannel(0, 1, 1_000_000, 0)

	pay := func(from int, amt uint64, approved bool) [32]byte {
		s, c := sa, ca
		if from == 1 {
			s, c = sb, cb
		}
		to := nw.nodes[1-from]
		hash, secret, err := to.cm.CreateInboundPayment(amt, 3600, 0)
		require.NoError(t, err)
		if approved {
			approve(t, s, c, to.id, hash, amt)
		}
		var pid [32]byte
		copy(pid[:], sha256Bytes(append(hash[:], byte(from))))
		route := singleHopRoute(to.id, amt)
		require.NoError(t, nw.nodes[from].cm.SendPaymentWithRoute(route, hash, &secret, pid))
		return hash
	}
	for i := 0; i < 6; i++ {
		pay(0, 20_000_000, true)
		nw.settle()
	}
	pay(1, 10_000_000, true)
	nw.settle()
	require.Equal(t, 6, countEvents[events.PaymentSent](a.takeEvents()))
	require.Equal(t, 1, countEvents[events.PaymentSent](b.takeEvents()))
	checkBalances(t, a, b, id, 1_000_000_000-120_000_000+10_000_000)

	// Unapproved: Alice's signer refuses her commitment_signed; the update_add_htlc went out, nothing
	// after it did.
	hash := pay(0, 30_000_000, false)
	var fromAlice []lnwire.Message
	nw.settleHolding(func(from int, m lnwire.Message) bool {
		if from == 0 {
			fromAlice = append(fromAlice, m)
		}
		return false
	})
	for _, m := range fromAlice {
		_, commit := m.(*lnwire.CommitmentSigned)
		require.False(t, commit, "no commitment_signed for an unapproved payment")
	}
	require.Equal(t, 1, a.channel(id).NumPendingHTLCs)
	a.cm.SignerUnblocked(nil) // still unapproved: still refused
	nw.settle()
	require.Zero(t, countEvents[events.PaymentSent](a.takeEvents()))

	approve(t, sa, ca, b.id, hash, 30_000_000)
	a.cm.SignerUnblocked(nil)
	nw.settle()
	require.Equal(t, 1, countEvents[events.PaymentSent](a.takeEvents()))
	checkBalances(t, a, b, id, 1_000_000_000-150_000_000+10_000_000)

	require.NoError(t, a.cm.CloseChannel(id, b.id))
	nw.settle()
	require.Equal(t, 1, countEvents[events.ChannelClosed](a.takeEvents()))
	require.Len(t, chain.Mempool(), 1, "the closing transaction; rejected: %v", chain.Rejected())
}

// TestPolicySignerRefusesRevokedBroadcast: after a payment, the policy will not sign Alice's revoked
// commitment (what a compromised node would ask for), and it signs her latest one.
func TestPolicySignerRefusesRevokedBroadcast(t *testing.T) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a := newTestNode(t, chain, "alice", 1)
	b := newTestNode(t, chain, "bob", 2)
	sa, ca := a.usePolicySigner(t)
	nw := newNetwork(t, a, b)
	nw.connect(0, 1)
	id := nw.openChannel(0, 1, 1_000_000, 0)
	// Alice's current commitment, unsigned (signing it for broadcast would make the policy refuse to
	// ever revoke it: rule revoke-not-closed).
	ps, c, err := a.cm.channelFor(b.id, id)
	require.NoError(t, err)
	keysID, num := c.keysID, c.localCommitNum
	point, err := c.signer.GetPerCommitmentPoint(num)
	require.NoError(t, err)
	bc, err := c.buildCommitment(true, num, point, c.viewAt(true, num))
	ps.mu.Unlock()
	require.NoError(t, err)
	old := bc.tx.Tx

	hash, secret, err := b.cm.CreateInboundPayment(5_000_000, 3600, 0)
	require.NoError(t, err)
	approve(t, sa, ca, b.id, hash, 5_000_000)
	require.NoError(t, a.cm.SendPaymentWithRoute(singleHopRoute(b.id, 5_000_000), hash, &secret, [32]byte{9}))
	nw.settle()
	require.Equal(t, 1, countEvents[events.PaymentSent](a.takeEvents()))

	signer := sa.DeriveChannelSigner(1_000_000, keysID)
	_, err = signer.SignHolderCommitment(num, old)
	var v *policy.Violation
	require.True(t, errors.As(err, &v), "refused: %v", err)
	require.Equal(t, policy.Rule("commitment-holder-not-revoked"), v.Rule)

	mon, ok := a.chainMon.GetMonitor(a.channel(id).FundingTxo)
	require.True(t, ok)
	latest, err := mon.UnsafeGetLatestHolderCommitmentTxn()
	require.NoError(t, err, "the latest commitment is signed")
	require.NotEqual(t, old.TxHash(), latest[0].TxHash())
}

// TestPolicySignerRefusesPush: a funder whose validating signer refuses the channel (a push the user
// did not allow: funding-push-approved) abandons it at once, ChannelClosed and DiscardFunding, rather
// than keeping it waiting; the fundee forgets it; nothing was broadcast.
func TestPolicySignerRefusesPush(t *testing.T) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a := newTestNode(t, chain, "alice", 1)
	b := newTestNode(t, chain, "bob", 2)
	a.usePolicySigner(t)
	nw := newNetwork(t, a, b)
	nw.connect(0, 1)
	a.chain.FundAddress(a.wallet.PkScript(), 2_000_000)
	a.chain.MineBlocks(1)
	_, err := a.cm.CreateChannel(b.id, 1_000_000, 100_000_000, [16]byte{1}, nil)
	require.NoError(t, err)
	nw.settle()
	evs := a.takeEvents()
	require.Equal(t, 1, countEvents[events.ChannelClosed](evs), "%v", evs)
	require.Equal(t, 1, countEvents[events.DiscardFunding](evs), "%v", evs)
	require.Empty(t, a.cm.ListChannels())
	require.Empty(t, chain.Mempool())
	b.takeEvents()
	require.Empty(t, b.cm.ListChannels(), "the fundee forgot it")
}
