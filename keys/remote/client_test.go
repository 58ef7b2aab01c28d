package remote

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/txscript"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/keys"
)

// norm turns signer results into comparable values.
func norm(v any) any {
	switch x := v.(type) {
	case *ecdsa.Signature:
		if x == nil {
			return "nil sig"
		}
		return hex.EncodeToString(x.Serialize())
	case []*ecdsa.Signature:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = norm(s)
		}
		return out
	case *btcec.PublicKey:
		if x == nil {
			return "nil key"
		}
		return hex.EncodeToString(x.SerializeCompressed())
	case keys.ChannelPublicKeys:
		return []any{norm(x.FundingPubkey), norm(x.RevocationBasepoint), norm(x.PaymentPoint),
			norm(x.DelayedPaymentBasepoint), norm(x.HTLCBasepoint)}
	case [2]any:
		return [2]any{norm(x[0]), norm(x[1])}
	}
	return v
}

// asyncWaiter retries an asynchronous call until it is answered, waiting for OnAnswer in between.
type asyncWaiter struct{ answered chan struct{} }

func newAsyncWaiter() *asyncWaiter { return &asyncWaiter{answered: make(chan struct{}, 1)} }

func (w *asyncWaiter) onAnswer() {
	select {
	case w.answered <- struct{}{}:
	default:
	}
}

func (w *asyncWaiter) wait(t testing.TB, fn func() (any, error)) (any, error) {
	t.Helper()
	for i := 0; i < 10; i++ {
		v, err := fn()
		if !errors.Is(err, keys.ErrSignerPending) {
			return v, err
		}
		select {
		case <-w.answered:
		case <-time.After(5 * time.Second):
			t.Fatal("no answer")
		}
	}
	t.Fatal("still pending")
	return nil, nil
}

// TestClientMatchesKeysManager calls every method through a Client and a Server over a KeysManager
// and directly on the KeysManager: the results are the same.
func TestClientMatchesKeysManager(t *testing.T) {
	f := newFixture(t)
	w := newAsyncWaiter()
	c, s := newPair(t, f, ClientConfig{OnAnswer: w.onAnswer})
	startPump(t, c, s)
	rs := c.DeriveChannelSigner(f.value, f.keysID)
	_, err := w.wait(t, func() (any, error) { return nil, rs.ProvideChannelParameters(f.params) })
	require.NoError(t, err)

	cpPoint := func(n uint64) *btcec.PublicKey { p, _ := f.cp.GetPerCommitmentPoint(n); return p }
	ourPoint := func(n uint64) *btcec.PublicKey { p, _ := f.local.GetPerCommitmentPoint(n); return p }
	cpSecret, _ := f.cp.ReleaseCommitmentSecret(3)
	cpCommit, holder := f.counterpartyCommitment(t, 4), f.holderCommitment(t, 4)
	cpSig, cpHTLCSigs, err := f.cp.SignCounterpartyCommitment(f.cpView(t, holder))
	require.NoError(t, err)
	ours := f.local.Pubkeys()
	single := txscript.SigHashSingle | txscript.SigHashAnyOneCanPay
	htlcCP := checksig(t, keys.DerivePublicKey(ours.HTLCBasepoint, cpPoint(4)))
	htlcOurs := checksig(t, keys.DerivePublicKey(ours.HTLCBasepoint, ourPoint(4)))
	delayed := checksig(t, keys.DerivePublicKey(ours.DelayedPaymentBasepoint, ourPoint(4)))
	justice := checksig(t, keys.DeriveRevocationPublicKey(ours.RevocationBasepoint, cpPoint(3)))
	data5 := []byte{3, 1, 17, 31, 0, 4, 9, 22, 30}
	gossip := []byte("a channel_update's signed part")
	payee := f.cpKM.GetNodeID()

	type pair = func(keys.NodeSigner, keys.SignerProvider, keys.ChannelSigner) (any, error)
	cases := []struct {
		name  string
		async bool
		call  pair
	}{
		{"ECDH", false, func(n keys.NodeSigner, _ keys.SignerProvider, _ keys.ChannelSigner) (any, error) {
			return n.ECDH(payee)
		}},
		{"GetNodeID", false, func(n keys.NodeSigner, _ keys.SignerProvider, _ keys.ChannelSigner) (any, error) {
			return n.GetNodeID(), nil
		}},
		{"SignGossipMessage", false, func(n keys.NodeSigner, _ keys.SignerProvider, _ keys.ChannelSigner) (any, error) {
			return n.SignGossipMessage(gossip)
		}},
		{"SignInvoice", false, func(n keys.NodeSigner, _ keys.SignerProvider, _ keys.ChannelSigner) (any, error) {
			return n.SignInvoice("lnbcrt10u", data5)
		}},
		{"SignInvoice bad group", false, func(n keys.NodeSigner, _ keys.SignerProvider, _ keys.ChannelSigner) (any, error) {
			return n.SignInvoice("lnbcrt10u", []byte{32})
		}},
		{"Pubkeys", false, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return cs.Pubkeys(), nil
		}},
		{"ChannelKeysID", false, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return cs.ChannelKeysID(), nil
		}},
		{"Write", false, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return cs.Write(), nil
		}},
		{"GetDestinationScript", false, func(_ keys.NodeSigner, sp keys.SignerProvider, _ keys.ChannelSigner) (any, error) {
			return sp.GetDestinationScript(f.keysID)
		}},
		{"GetShutdownScriptPubKey", false, func(_ keys.NodeSigner, sp keys.SignerProvider, _ keys.ChannelSigner) (any, error) {
			return sp.GetShutdownScriptPubKey()
		}},
		{"GetPerCommitmentPoint 0", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return cs.GetPerCommitmentPoint(0)
		}},
		{"GetPerCommitmentPoint 1000", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return cs.GetPerCommitmentPoint(1000)
		}},
		{"ReleaseCommitmentSecret", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return cs.ReleaseCommitmentSecret(3)
		}},
		{"ReleaseCommitmentSecret out of range", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return cs.ReleaseCommitmentSecret(keys.MaxCommitmentIndex + 1)
		}},
		{"ProvideChannelParameters", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return nil, cs.ProvideChannelParameters(f.params)
		}},
		{"SignCounterpartyCommitment", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			sig, htlcSigs, err := cs.SignCounterpartyCommitment(cpCommit)
			return [2]any{sig, htlcSigs}, err
		}},
		{"ValidateHolderCommitment", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return nil, cs.ValidateHolderCommitment(holder, cpSig, cpHTLCSigs)
		}},
		{"ValidateCounterpartyRevocation", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return nil, cs.ValidateCounterpartyRevocation(3, cpSecret)
		}},
		{"SignHolderCommitment", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return cs.SignHolderCommitment(4, holder.Tx)
		}},
		{"SignClosingTransaction", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return cs.SignClosingTransaction(f.closing())
		}},
		{"SignClosingTransaction mismatch", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			cl := f.closing()
			cl.ToHolderSat++
			return cs.SignClosingTransaction(cl)
		}},
		{"SignCounterpartyHTLCTx", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return cs.SignCounterpartyHTLCTx(spendTx(0, 20_000), 0, htlcCP, 20_000, cpPoint(4), single)
		}},
		{"SignHolderHTLCTx", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return cs.SignHolderHTLCTx(spendTx(0, 20_000), 0, htlcOurs, 20_000, ourPoint(4), txscript.SigHashAll)
		}},
		{"SignDelayedOutput", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return cs.SignDelayedOutput(spendTx(144, 70_000), 0, delayed, 70_000, ourPoint(4))
		}},
		{"SignJustice", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return cs.SignJustice(spendTx(0, 70_000), 0, justice, 70_000, cpSecret)
		}},
		{"SignPaymentOutput", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return cs.SignPaymentOutput(spendTx(1, 50_000), 0, p2wpkh(ours.PaymentPoint), 50_000)
		}},
		{"SignAnchor", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return cs.SignAnchor(spendTx(0, 330), 0, anchorScript(t, ours.FundingPubkey), 330)
		}},
		{"SignAnchor wrong key", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return cs.SignAnchor(spendTx(0, 330), 0, anchorScript(t, payee), 330)
		}},
		{"SignAnchor bad index", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return cs.SignAnchor(spendTx(0, 330), 3, anchorScript(t, ours.FundingPubkey), 330)
		}},
		{"SignAnchor nil tx", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return cs.SignAnchor(nil, 0, anchorScript(t, ours.FundingPubkey), 330)
		}},
		{"SignChannelAnnouncementWithFundingKey", true, func(_ keys.NodeSigner, _ keys.SignerProvider, cs keys.ChannelSigner) (any, error) {
			return cs.SignChannelAnnouncementWithFundingKey([]byte("announcement from offset 256"))
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			want, wantErr := tc.call(f.km, f.km, f.local)
			call := func() (any, error) { return tc.call(c, c, rs) }
			var got any
			var err error
			if tc.async {
				got, err = w.wait(t, call)
			} else {
				got, err = call()
			}
			require.Equal(t, norm(want), norm(got))
			for _, word := range []string{"bad", "mismatch", "wrong", "nil", "out of range"} {
				if strings.Contains(tc.name, word) {
					require.Error(t, wantErr, "the direct call must fail too")
				}
			}
			if wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, sentinel := range []error{keys.ErrCommitmentMismatch, keys.ErrScriptKeyMismatch, keys.ErrInputIndexOutOfRange,
				keys.ErrNilTransaction, keys.ErrInvalidEncoding, keys.ErrCommitmentNumberOutOfRange} {
				require.Equal(t, errors.Is(wantErr, sentinel), errors.Is(err, sentinel), "%v vs %v", wantErr, err)
			}
		})
	}

	// Random values are fresh every time.
	id1, id2 := c.GenerateChannelKeysID(true, 5, [16]byte{9}), c.GenerateChannelKeysID(true, 5, [16]byte{9})
	require.NotEqual(t, id1, id2)
	require.NotEqual(t, [32]byte{}, id1)
	r1, r2 := c.GetSecureRandomBytes(), c.GetSecureRandomBytes()
	require.NotEqual(t, r1, r2)
	require.NotEqual(t, [32]byte{}, r1)

	// Without an Approver every payment is approved.
	require.NoError(t, c.ApproveInvoice("lnbc1...", 1000, nil))
	require.NoError(t, c.ApproveKeysend(payee, [32]byte{1}, 5000, 10, []byte{1, 2}))

	// A re-read signer is the same channel.
	rs2, err := c.ReadChannelSigner(rs.Write())
	require.NoError(t, err)
	require.Equal(t, norm(f.local.Pubkeys()), norm(rs2.Pubkeys()))
	_, err = c.ReadChannelSigner([]byte{1})
	require.ErrorIs(t, err, keys.ErrInvalidEncoding)
}

// cpView returns our commitment c as the counterparty describes it (their counterparty commitment).
func (f *fixture) cpView(t testing.TB, c *keys.CommitmentTx) *keys.CommitmentTx {
	t.Helper()
	cc, err := f.cpParams.NewCommitmentTx(false, c.CommitmentNumber, c.PerCommitmentPoint, c.FeeratePerKw,
		c.ToBroadcasterMsat, c.ToCountersignatoryMsat, htlcs())
	require.NoError(t, err)
	require.Equal(t, c.Tx.TxHash(), cc.Tx.TxHash())
	return cc
}
