package keys

import (
	"bytes"
	"crypto/sha256"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

// twoSigners returns two channel signers from different KeysManagers, standing for the two peers.
func twoSigners(t testing.TB) (a, b *InMemorySigner) {
	kmA := NewKeysManager(sha256.Sum256([]byte("alice")), 1700000000, 1)
	kmB := NewKeysManager(sha256.Sum256([]byte("bob")), 1700000000, 2)
	a = kmA.deriveInMemorySigner(1_000_000, kmA.GenerateChannelKeysID(false, 1_000_000, [16]byte{1}))
	b = kmB.deriveInMemorySigner(1_000_000, kmB.GenerateChannelKeysID(true, 1_000_000, [16]byte{2}))
	return a, b
}

func mustScript(t testing.TB, b *txscript.ScriptBuilder) []byte {
	t.Helper()
	s, err := b.Script()
	require.NoError(t, err)
	return s
}

// fundingScript builds the BOLT 3 2-of-2 funding witness script with the keys in lexicographic order.
func fundingScript(t testing.TB, k1, k2 *btcec.PublicKey) []byte {
	a, b := k1.SerializeCompressed(), k2.SerializeCompressed()
	if bytes.Compare(a, b) > 0 {
		a, b = b, a
	}
	return mustScript(t, txscript.NewScriptBuilder().AddOp(txscript.OP_2).AddData(a).AddData(b).
		AddOp(txscript.OP_2).AddOp(txscript.OP_CHECKMULTISIG))
}

func withHashType(sig *ecdsa.Signature, ht txscript.SigHashType) []byte {
	return append(sig.Serialize(), byte(ht))
}

var fakePrev = wire.OutPoint{Hash: sha256.Sum256([]byte("parent")), Index: 3}

func TestSignFundingInputSpends(t *testing.T) {
	a, b := twoSigners(t)
	const value = 1_000_000
	script := fundingScript(t, a.Pubkeys().FundingPubkey, b.Pubkeys().FundingPubkey)
	tx := spendTx(fakePrev, 0xfffffffd, value)
	sigA, err := a.SignFundingInput(tx, 0, script, value)
	require.NoError(t, err)
	sigB, err := b.SignFundingInput(tx, 0, script, value)
	require.NoError(t, err)
	first, second := sigA, sigB
	if bytes.Compare(a.Pubkeys().FundingPubkey.SerializeCompressed(), b.Pubkeys().FundingPubkey.SerializeCompressed()) > 0 {
		first, second = sigB, sigA
	}
	tx.TxIn[0].Witness = wire.TxWitness{nil, withHashType(first, txscript.SigHashAll), withHashType(second, txscript.SigHashAll), script}
	require.NoError(t, runScript(t, p2wsh(script), tx, value))

	// Swapped signatures fail: the engine really checks them.
	tx.TxIn[0].Witness = wire.TxWitness{nil, withHashType(second, txscript.SigHashAll), withHashType(first, txscript.SigHashAll), script}
	require.Error(t, runScript(t, p2wsh(script), tx, value))

	// The precomputed-midstate variant agrees.
	hashes := txscript.NewTxSigHashes(tx, txscript.NewCannedPrevOutputFetcher(nil, 0))
	sigA2, err := a.SignFundingInputWithSigHashes(tx, 0, script, value, hashes)
	require.NoError(t, err)
	require.True(t, sigA.IsEqual(sigA2))
}

func TestSignAnchorAndPaymentSpends(t *testing.T) {
	a, _ := twoSigners(t)
	const value = 330

	anchor := mustScript(t, txscript.NewScriptBuilder().AddData(a.Pubkeys().FundingPubkey.SerializeCompressed()).
		AddOp(txscript.OP_CHECKSIG).AddOp(txscript.OP_IFDUP).AddOp(txscript.OP_NOTIF).AddOp(txscript.OP_16).
		AddOp(txscript.OP_CHECKSEQUENCEVERIFY).AddOp(txscript.OP_ENDIF))
	tx := spendTx(fakePrev, 0, value+1000)
	sig, err := a.SignAnchor(tx, 0, anchor, value+1000)
	require.NoError(t, err)
	tx.TxIn[0].Witness = wire.TxWitness{withHashType(sig, txscript.SigHashAll), anchor}
	require.NoError(t, runScript(t, p2wsh(anchor), tx, value+1000))

	// option_static_remotekey to_remote: P2WPKH to the payment point.
	payment := a.Pubkeys().PaymentPoint.SerializeCompressed()
	pkScript := append([]byte{0x00, 0x14}, btcutil.Hash160(payment)...)
	tx = spendTx(fakePrev, 0, 50_000)
	sig, err = a.SignPaymentOutput(tx, 0, pkScript, 50_000)
	require.NoError(t, err)
	tx.TxIn[0].Witness = wire.TxWitness{withHashType(sig, txscript.SigHashAll), payment}
	require.NoError(t, runScript(t, pkScript, tx, 50_000))

	// option_anchors to_remote: <payment point> OP_CHECKSIGVERIFY 1 OP_CHECKSEQUENCEVERIFY.
	toRemote := mustScript(t, txscript.NewScriptBuilder().AddData(payment).AddOp(txscript.OP_CHECKSIGVERIFY).
		AddOp(txscript.OP_1).AddOp(txscript.OP_CHECKSEQUENCEVERIFY))
	tx = spendTx(fakePrev, 1, 50_000)
	sig, err = a.SignPaymentOutput(tx, 0, toRemote, 50_000)
	require.NoError(t, err)
	tx.TxIn[0].Witness = wire.TxWitness{withHashType(sig, txscript.SigHashAll), toRemote}
	require.NoError(t, runScript(t, p2wsh(toRemote), tx, 50_000))
}

// toLocalScript builds the BOLT 3 to_local witness script.
func toLocalScript(t testing.TB, revocation, delayed *btcec.PublicKey, toSelfDelay int64) []byte {
	return mustScript(t, txscript.NewScriptBuilder().AddOp(txscript.OP_IF).AddData(revocation.SerializeCompressed()).
		AddOp(txscript.OP_ELSE).AddInt64(toSelfDelay).AddOp(txscript.OP_CHECKSEQUENCEVERIFY).AddOp(txscript.OP_DROP).
		AddData(delayed.SerializeCompressed()).AddOp(txscript.OP_ENDIF).AddOp(txscript.OP_CHECKSIG))
}

// TestDelayedAndJusticeSpends builds A's to_local output for commitment n from public data only (A's
// delayed basepoint and point, B's revocation basepoint); A sweeps it after the delay, and B, once A has
// released the secret, sweeps it with the revocation key: the key SignJustice uses is the one
// DeriveRevocationPublicKey predicted.
func TestDelayedAndJusticeSpends(t *testing.T) {
	a, b := twoSigners(t)
	const value, delay = 700_000, 144
	for _, n := range []uint64{0, 1, 2, 1000, MaxCommitmentIndex} {
		point, err := a.GetPerCommitmentPoint(n)
		require.NoError(t, err)
		revocation := DeriveRevocationPublicKey(b.Pubkeys().RevocationBasepoint, point)
		delayed := DerivePublicKey(a.Pubkeys().DelayedPaymentBasepoint, point)
		script := toLocalScript(t, revocation, delayed, delay)

		tx := spendTx(fakePrev, delay, value)
		sig, err := a.SignDelayedOutput(tx, 0, script, value, point)
		require.NoError(t, err)
		tx.TxIn[0].Witness = wire.TxWitness{withHashType(sig, txscript.SigHashAll), nil, script}
		require.NoError(t, runScript(t, p2wsh(script), tx, value), "delayed, n=%d", n)

		// Before the delay has passed the same spend is invalid.
		early := spendTx(fakePrev, delay-1, value)
		sig, err = a.SignDelayedOutput(early, 0, script, value, point)
		require.NoError(t, err)
		early.TxIn[0].Witness = wire.TxWitness{withHashType(sig, txscript.SigHashAll), nil, script}
		require.Error(t, runScript(t, p2wsh(script), early, value))

		secret, err := a.ReleaseCommitmentSecret(n)
		require.NoError(t, err)
		tx = spendTx(fakePrev, wire.MaxTxInSequenceNum, value)
		sig, err = b.SignJustice(tx, 0, script, value, secret)
		require.NoError(t, err)
		tx.TxIn[0].Witness = wire.TxWitness{withHashType(sig, txscript.SigHashAll), {1}, script}
		require.NoError(t, runScript(t, p2wsh(script), tx, value), "justice, n=%d", n)

		// A secret for another commitment gives another key: refused.
		other, err := a.ReleaseCommitmentSecret(n ^ 1)
		require.NoError(t, err)
		_, err = b.SignJustice(tx, 0, script, value, other)
		require.ErrorIs(t, err, ErrScriptKeyMismatch)
	}
}

// TestHTLCSignatures checks SignCounterpartyHTLCTx and SignHolderHTLCTx sign with the HTLC key derived
// from the right basepoint and point, with both supported sighash types.
func TestHTLCSignatures(t *testing.T) {
	a, b := twoSigners(t)
	const value = 20_000
	bPoint, err := b.GetPerCommitmentPoint(7)
	require.NoError(t, err)
	aPoint, err := a.GetPerCommitmentPoint(7)
	require.NoError(t, err)
	single := txscript.SigHashSingle | txscript.SigHashAnyOneCanPay

	type signFn func(tx *wire.MsgTx, script []byte, ht txscript.SigHashType) (*ecdsa.Signature, error)
	cases := []struct {
		name string
		key  *btcec.PublicKey
		sign signFn
	}{
		{"counterparty", DerivePublicKey(a.Pubkeys().HTLCBasepoint, bPoint), func(tx *wire.MsgTx, s []byte, ht txscript.SigHashType) (*ecdsa.Signature, error) {
			return a.SignCounterpartyHTLCTx(tx, 0, s, value, bPoint, ht)
		}},
		{"holder", DerivePublicKey(a.Pubkeys().HTLCBasepoint, aPoint), func(tx *wire.MsgTx, s []byte, ht txscript.SigHashType) (*ecdsa.Signature, error) {
			return a.SignHolderHTLCTx(tx, 0, s, value, aPoint, ht)
		}},
	}
	for _, tc := range cases {
		for _, ht := range []txscript.SigHashType{txscript.SigHashAll, single} {
			script := mustScript(t, txscript.NewScriptBuilder().AddData(tc.key.SerializeCompressed()).AddOp(txscript.OP_CHECKSIG))
			tx := spendTx(fakePrev, 1, value)
			sig, err := tc.sign(tx, script, ht)
			require.NoError(t, err, tc.name)
			tx.TxIn[0].Witness = wire.TxWitness{withHashType(sig, ht), script}
			require.NoError(t, runScript(t, p2wsh(script), tx, value), "%s %v", tc.name, ht)

			// Verify directly against the derived key as well.
			digest, err := txscript.CalcWitnessSigHash(script, txscript.NewTxSigHashes(tx, txscript.NewCannedPrevOutputFetcher(nil, 0)), ht, tx, 0, value)
			require.NoError(t, err)
			require.True(t, sig.Verify(digest, tc.key))

			if ht == single {
				// SIGHASH_SINGLE|ANYONECANPAY lets another input and output be added without
				// invalidating the signature (how anchor HTLC transactions get fees).
				tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: 9}})
				tx.AddTxOut(wire.NewTxOut(1, []byte{txscript.OP_RETURN}))
				require.NoError(t, runScript(t, p2wsh(script), tx, value))
			}
		}
	}
	// The other side's point gives another key, which the script does not hold.
	script := mustScript(t, txscript.NewScriptBuilder().AddData(cases[0].key.SerializeCompressed()).AddOp(txscript.OP_CHECKSIG))
	_, err = a.SignHolderHTLCTx(spendTx(fakePrev, 1, value), 0, script, value, aPoint, txscript.SigHashAll)
	require.ErrorIs(t, err, ErrScriptKeyMismatch)
}

func TestSignerBadInputs(t *testing.T) {
	a, _ := twoSigners(t)
	point, err := a.GetPerCommitmentPoint(0)
	require.NoError(t, err)
	fundKey := a.Pubkeys().FundingPubkey.SerializeCompressed()
	script := mustScript(t, txscript.NewScriptBuilder().AddData(fundKey).AddOp(txscript.OP_CHECKSIG))
	good := spendTx(fakePrev, 0, 10_000)
	htlcKey := DerivePublicKey(a.Pubkeys().HTLCBasepoint, point).SerializeCompressed()
	htlcScript := mustScript(t, txscript.NewScriptBuilder().AddData(htlcKey).AddOp(txscript.OP_CHECKSIG))

	nilIn := spendTx(fakePrev, 0, 10_000)
	nilIn.TxIn = append(nilIn.TxIn, nil)
	nilOut := spendTx(fakePrev, 0, 10_000)
	nilOut.TxOut = append(nilOut.TxOut, nil)
	noOutputs := spendTx(fakePrev, 0, 10_000)
	noOutputs.TxOut = nil
	// Contains the key but ends in OP_PUSHDATA1 without its length byte: does not parse.
	unparsable := append(append([]byte(nil), script...), txscript.OP_PUSHDATA1)

	cases := []struct {
		name string
		err  error
		call func() (*ecdsa.Signature, error)
	}{
		{"nil tx", ErrNilTransaction, func() (*ecdsa.Signature, error) { return a.SignFundingInput(nil, 0, script, 1) }},
		{"negative index", ErrInputIndexOutOfRange, func() (*ecdsa.Signature, error) { return a.SignFundingInput(good, -1, script, 1) }},
		{"index past end", ErrInputIndexOutOfRange, func() (*ecdsa.Signature, error) { return a.SignFundingInput(good, 1, script, 1) }},
		{"anchor with the funding script", ErrScriptKeyMismatch, func() (*ecdsa.Signature, error) { return a.SignAnchor(good, 0, script, 1) }},
		{"nil input", ErrInvalidTransaction, func() (*ecdsa.Signature, error) { return a.SignFundingInput(nilIn, 0, script, 1) }},
		{"nil output", ErrInvalidTransaction, func() (*ecdsa.Signature, error) { return a.SignFundingInput(nilOut, 0, script, 1) }},
		{"negative value", ErrInvalidValue, func() (*ecdsa.Signature, error) { return a.SignFundingInput(good, 0, script, -1) }},
		{"value too large", ErrInvalidValue, func() (*ecdsa.Signature, error) { return a.SignFundingInput(good, 0, script, btcutil.MaxSatoshi+1) }},
		{"empty script", ErrInvalidScript, func() (*ecdsa.Signature, error) { return a.SignFundingInput(good, 0, nil, 1) }},
		{"unparsable script", ErrInvalidScript, func() (*ecdsa.Signature, error) { return a.SignFundingInput(good, 0, unparsable, 1) }},
		{"wrong key in script", ErrScriptKeyMismatch, func() (*ecdsa.Signature, error) { return a.SignPaymentOutput(good, 0, script, 1) }},
		{"nil sighashes", ErrNilSigHashes, func() (*ecdsa.Signature, error) { return a.SignFundingInputWithSigHashes(good, 0, script, 1, nil) }},
		{"nil point", ErrNilKey, func() (*ecdsa.Signature, error) {
			return a.SignHolderHTLCTx(good, 0, htlcScript, 1, nil, txscript.SigHashAll)
		}},
		{"off-curve point", ErrInvalidPublicKey, func() (*ecdsa.Signature, error) {
			return a.SignCounterpartyHTLCTx(good, 0, htlcScript, 1, offCurveKey(), txscript.SigHashAll)
		}},
		{"nil point delayed", ErrNilKey, func() (*ecdsa.Signature, error) { return a.SignDelayedOutput(good, 0, script, 1, nil) }},
		{"sighash none", ErrUnsupportedSigHashType, func() (*ecdsa.Signature, error) {
			return a.SignHolderHTLCTx(good, 0, htlcScript, 1, point, txscript.SigHashNone)
		}},
		{"sighash single without output", ErrUnsupportedSigHashType, func() (*ecdsa.Signature, error) {
			return a.SignHolderHTLCTx(noOutputs, 0, htlcScript, 1, point, txscript.SigHashSingle|txscript.SigHashAnyOneCanPay)
		}},
		{"sighash single index past end", ErrInputIndexOutOfRange, func() (*ecdsa.Signature, error) {
			return a.SignHolderHTLCTx(good, 5, htlcScript, 1, point, txscript.SigHashAll)
		}},
		{"zero secret", ErrInvalidSecret, func() (*ecdsa.Signature, error) { return a.SignJustice(good, 0, script, 1, [32]byte{}) }},
		{"secret above n", ErrInvalidSecret, func() (*ecdsa.Signature, error) {
			var s [32]byte
			for i := range s {
				s[i] = 0xff
			}
			return a.SignJustice(good, 0, script, 1, s)
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sig, err := tc.call()
			require.ErrorIs(t, err, tc.err)
			require.Nil(t, sig)
		})
	}

	_, err = a.GetPerCommitmentPoint(MaxCommitmentIndex + 1)
	require.ErrorIs(t, err, ErrCommitmentNumberOutOfRange)
	_, err = a.ReleaseCommitmentSecret(MaxCommitmentIndex + 1)
	require.ErrorIs(t, err, ErrCommitmentNumberOutOfRange)

	_, err = NewInMemorySigner(ChannelSecrets{}, 1, [32]byte{})
	require.ErrorIs(t, err, ErrNilKey)
}

// TestReleasedSecretsFeedStorage passes A's released secrets to B's compact storage, as revoke_and_ack
// does, and checks the points match the secrets.
func TestReleasedSecretsFeedStorage(t *testing.T) {
	a, _ := twoSigners(t)
	store := NewCounterpartyCommitmentSecrets()
	for n := uint64(0); n < 300; n++ {
		secret, err := a.ReleaseCommitmentSecret(n)
		require.NoError(t, err)
		point, err := a.GetPerCommitmentPoint(n)
		require.NoError(t, err)
		fromSecret, err := ComputePerCommitmentPoint(secret)
		require.NoError(t, err)
		requireSamePub(t, point, fromSecret)
		index, err := CommitmentNumberToIndex(n)
		require.NoError(t, err)
		require.NoError(t, store.ProvideSecret(index, secret))
	}
	for n := uint64(0); n < 300; n++ {
		want, err := a.ReleaseCommitmentSecret(n)
		require.NoError(t, err)
		got, ok := store.GetSecretForCommitment(n)
		require.True(t, ok)
		require.Equal(t, want, got)
	}
	require.Equal(t, uint64(300), store.NumReceived())
}

// TestSignChannelAnnouncement: the bitcoin_signature of a channel_announcement is the funding key's
// deterministic signature of the double-SHA256 of the signed part; bytes that are not a
// channel_announcement naming our funding key are refused.
func TestSignChannelAnnouncement(t *testing.T) {
	a, b := twoSigners(t)
	announcement := func(key1, key2 *btcec.PublicKey) []byte {
		data := []byte{0, 0} // no features
		data = append(data, make([]byte, 32+8)...)
		data = append(data, key1.SerializeCompressed()...) // node ids: any keys will do here
		data = append(data, key2.SerializeCompressed()...)
		data = append(data, key1.SerializeCompressed()...)
		return append(data, key2.SerializeCompressed()...)
	}
	data := announcement(b.Pubkeys().FundingPubkey, a.Pubkeys().FundingPubkey)
	_, err := a.SignChannelAnnouncementWithFundingKey(announcement(b.Pubkeys().FundingPubkey, b.Pubkeys().HTLCBasepoint))
	require.ErrorIs(t, err, ErrInvalidEncoding, "not our funding key")
	_, err = a.SignChannelAnnouncementWithFundingKey(data[:100])
	require.ErrorIs(t, err, ErrInvalidEncoding, "truncated")
	sig, err := a.SignChannelAnnouncementWithFundingKey(data)
	require.NoError(t, err)
	h1 := sha256.Sum256(data)
	h2 := sha256.Sum256(h1[:])
	require.True(t, sig.Verify(h2[:], a.Pubkeys().FundingPubkey))
	again, err := a.SignChannelAnnouncementWithFundingKey(data)
	require.NoError(t, err)
	require.Equal(t, sig.Serialize(), again.Serialize(), "deterministic")
	_, err = a.SignChannelAnnouncementWithFundingKey(nil)
	require.ErrorIs(t, err, ErrInvalidEncoding)
}
