package policy

import (
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/invoice"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/kvstore"
)

// testNow is the host time the tests start at (unix seconds).
const testNow = 1_700_000_000

// harness drives one policy Signer (the holder, "A") against bare counterparty signers ("B").
type harness struct {
	t      *testing.T
	store  *kvstore.MemStore
	kmA    *keys.KeysManager
	pol    *Signer
	cfg    Config
	client *btcec.PrivateKey
	payee  *keys.KeysManager
	seeds  byte
	now    uint64 // host time given to the policy
}

// setTime moves the host time.
func (h *harness) setTime(now uint64) {
	h.now = now
	h.pol.SetTime(now)
}

func newHarness(t *testing.T, tweak func(*Config)) *harness {
	t.Helper()
	client, _ := btcec.PrivKeyFromBytes(bytes32(0xc1))
	payee := keys.NewKeysManager([32]byte{0xfe}, 1, 0)
	h := &harness{t: t, store: kvstore.NewMemStore(), kmA: keys.NewKeysManager([32]byte{1}, 1, 0), client: client, payee: payee, seeds: 1}
	h.cfg = Config{ClientKey: client.PubKey()}
	if tweak != nil {
		tweak(&h.cfg)
	}
	h.restart()
	return h
}

// restart makes a new Signer on the same store (and a new KeysManager with the same seed).
func (h *harness) restart() {
	h.t.Helper()
	h.kmA = keys.NewKeysManager([32]byte{1}, 2, 0)
	pol, err := New(h.kmA, h.store, h.cfg)
	require.NoError(h.t, err)
	h.pol = pol
	h.setTime(max(h.now, testNow))
}

func bytes32(b byte) []byte {
	out := make([]byte, 32)
	out[31] = b
	return out
}

// tHTLC is an HTLC of a test channel from A's view.
type tHTLC struct {
	out  bool // A offered it
	amt  uint64
	hash [32]byte
	cltv uint32
}

// chState is a test channel's balances (msat, before fee) and HTLCs.
type chState struct {
	toA, toB uint64
	htlcs    []tHTLC
	feerate  uint32
}

// testChan is one channel between A (through the policy) and B.
type testChan struct {
	h      *harness
	id     [32]byte
	value  int64
	a, b   keys.ChannelSigner
	pa, pb *keys.ChannelTransactionParameters
	st     chState
	hn, cn uint64 // A's latest validated holder commitment, B's latest signed commitment
}

// open opens a channel of valueSat with A as funder and runs the funding exchange.
func (h *harness) open(valueSat int64, anchors bool) *testChan {
	return h.openWith(valueSat, anchors, true)
}

// openWith opens a channel of valueSat funded by A (outbound) or by B.
func (h *harness) openWith(valueSat int64, anchors, outbound bool) *testChan {
	h.t.Helper()
	h.seeds++
	kmB := keys.NewKeysManager([32]byte{h.seeds, 0xbb}, 1, 0)
	tc := &testChan{h: h, value: valueSat}
	tc.id = h.pol.GenerateChannelKeysID(false, valueSat, [16]byte{h.seeds})
	tc.a = h.pol.DeriveChannelSigner(valueSat, tc.id)
	tc.b = kmB.DeriveChannelSigner(valueSat, kmB.GenerateChannelKeysID(true, valueSat, [16]byte{}))
	op := wire.OutPoint{Hash: sha256.Sum256([]byte{h.seeds}), Index: 1}
	tc.pa = &keys.ChannelTransactionParameters{IsOutbound: outbound, FundingOutPoint: op, ValueSat: valueSat, Anchors: anchors,
		HolderPubkeys: tc.a.Pubkeys(), CounterpartyPubkeys: tc.b.Pubkeys(), HolderToSelfDelay: 144, CounterpartyToSelfDelay: 144,
		HolderDustLimitSat: 354, CounterpartyDustLimitSat: 354}
	pb := *tc.pa
	pb.IsOutbound, pb.HolderPubkeys, pb.CounterpartyPubkeys = !outbound, tc.pa.CounterpartyPubkeys, tc.pa.HolderPubkeys
	tc.pb = &pb
	require.NoError(h.t, tc.a.ProvideChannelParameters(tc.pa))
	require.NoError(h.t, tc.b.ProvideChannelParameters(tc.pb))
	tc.st = chState{toA: uint64(valueSat) * 1000, feerate: 1000}
	if !outbound {
		tc.st.toA, tc.st.toB = 0, tc.st.toA
		require.NoError(h.t, tc.validate(0, tc.st))
	}
	_, _, err := tc.a.SignCounterpartyCommitment(tc.cpTx(0, tc.st))
	require.NoError(h.t, err)
	if outbound {
		require.NoError(h.t, tc.validate(0, tc.st))
	}
	return tc
}

func (tc *testChan) commitHTLCs(st chState, holder bool) []keys.CommitmentHTLC {
	out := make([]keys.CommitmentHTLC, len(st.htlcs))
	for i, x := range st.htlcs {
		out[i] = keys.CommitmentHTLC{Offered: x.out == holder, AmountMsat: x.amt, PaymentHash: x.hash, CltvExpiry: x.cltv}
	}
	return out
}

// holderTx is A's commitment n for st.
func (tc *testChan) holderTx(n uint64, st chState) *keys.CommitmentTx {
	tc.h.t.Helper()
	point, err := tc.a.GetPerCommitmentPoint(n)
	require.NoError(tc.h.t, err)
	c, err := tc.pa.NewCommitmentTx(true, n, point, st.feerate, st.toA, st.toB, tc.commitHTLCs(st, true))
	require.NoError(tc.h.t, err)
	return c
}

// cpTx is B's commitment n for st.
func (tc *testChan) cpTx(n uint64, st chState) *keys.CommitmentTx {
	tc.h.t.Helper()
	point, err := tc.b.GetPerCommitmentPoint(n)
	require.NoError(tc.h.t, err)
	c, err := tc.pa.NewCommitmentTx(false, n, point, st.feerate, st.toB, st.toA, tc.commitHTLCs(st, false))
	require.NoError(tc.h.t, err)
	return c
}

// validate gives A its commitment n for st with B's signatures.
func (tc *testChan) validate(n uint64, st chState) error {
	c := tc.holderTx(n, st)
	sig, htlcSigs, err := tc.b.SignCounterpartyCommitment(c)
	require.NoError(tc.h.t, err)
	return tc.a.ValidateHolderCommitment(c, sig, htlcSigs)
}

// round runs one full update to st: A signs B's next commitment, B revokes, A validates its next
// and revokes. It stops at the first refusal.
func (tc *testChan) round(st chState) error {
	tc.h.t.Helper()
	if _, _, err := tc.a.SignCounterpartyCommitment(tc.cpTx(tc.cn+1, st)); err != nil {
		return err
	}
	tc.cn++
	return tc.finish(st)
}

// finish completes a round whose counterparty commitment A already signed: B revokes, A validates
// its next commitment for st and revokes.
func (tc *testChan) finish(st chState) error {
	tc.h.t.Helper()
	secret, err := tc.b.ReleaseCommitmentSecret(tc.cn - 1)
	require.NoError(tc.h.t, err)
	if err := tc.a.ValidateCounterpartyRevocation(tc.cn-1, secret); err != nil {
		return err
	}
	if err := tc.validate(tc.hn+1, st); err != nil {
		return err
	}
	tc.hn++
	if _, err := tc.a.ReleaseCommitmentSecret(tc.hn - 1); err != nil {
		return err
	}
	tc.st = st
	return nil
}

// with returns st with an HTLC added (taken from the offerer's balance).
func (st chState) with(x tHTLC) chState {
	n := st
	n.htlcs = append(append([]tHTLC(nil), st.htlcs...), x)
	if x.out {
		n.toA -= x.amt
	} else {
		n.toB -= x.amt
	}
	return n
}

// settle returns st with HTLC i removed, paid to the receiver when fulfilled, else back to the offerer.
func (st chState) settle(i int, fulfilled bool) chState {
	n := st
	x := st.htlcs[i]
	n.htlcs = append(append([]tHTLC(nil), st.htlcs[:i]...), st.htlcs[i+1:]...)
	if x.out == fulfilled {
		n.toB += x.amt
	} else {
		n.toA += x.amt
	}
	return n
}

// requireRule checks that err is a Violation of rule r.
func requireRule(t *testing.T, err error, r Rule) {
	t.Helper()
	require.Error(t, err)
	require.ErrorIs(t, err, ErrPolicy)
	var v *Violation
	require.True(t, errors.As(err, &v), "not a Violation: %v", err)
	require.Equal(t, r, v.Rule, "%v", err)
}

// invoiceFor returns a signed invoice for amountMsat with payment hash hash, created at testNow.
func (h *harness) invoiceFor(hash [32]byte, amountMsat uint64) string {
	h.t.Helper()
	inv, err := invoice.New(&chaincfg.MainNetParams, hash, [32]byte{9}, time.Unix(int64(h.now), 0),
		invoice.WithAmountMsat(amountMsat), invoice.WithDescription("policy test"), invoice.WithExpiry(time.Hour))
	require.NoError(h.t, err)
	s, err := inv.Encode(h.payee)
	require.NoError(h.t, err)
	return s
}

// approveInvoice approves paying hash amountMsat with maxFee, signed by the client key.
func (h *harness) approveInvoice(hash [32]byte, amountMsat, maxFee uint64) error {
	bolt11 := h.invoiceFor(hash, amountMsat)
	d := InvoiceApprovalHash(bolt11, maxFee)
	return h.pol.ApproveInvoice(bolt11, maxFee, ecdsa.Sign(h.client, d[:]).Serialize())
}

func hashOf(b byte) [32]byte { return sha256.Sum256([]byte{b}) }

// openWithFirst opens an outbound channel whose first counterparty commitment is st, and returns
// the policy's answer to signing it.
func (h *harness) openWithFirst(valueSat int64, st chState) error {
	h.t.Helper()
	h.seeds++
	kmB := keys.NewKeysManager([32]byte{h.seeds, 0xbb}, 1, 0)
	tc := &testChan{h: h, value: valueSat}
	tc.id = h.pol.GenerateChannelKeysID(false, valueSat, [16]byte{h.seeds})
	tc.a = h.pol.DeriveChannelSigner(valueSat, tc.id)
	tc.b = kmB.DeriveChannelSigner(valueSat, [32]byte{h.seeds})
	tc.pa = &keys.ChannelTransactionParameters{IsOutbound: true, FundingOutPoint: wire.OutPoint{Index: uint32(h.seeds)}, ValueSat: valueSat,
		HolderPubkeys: tc.a.Pubkeys(), CounterpartyPubkeys: tc.b.Pubkeys(), HolderToSelfDelay: 144, CounterpartyToSelfDelay: 144,
		HolderDustLimitSat: 354, CounterpartyDustLimitSat: 354}
	require.NoError(h.t, tc.a.ProvideChannelParameters(tc.pa))
	_, _, err := tc.a.SignCounterpartyCommitment(tc.cpTx(0, st))
	return err
}
