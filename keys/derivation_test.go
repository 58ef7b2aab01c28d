package keys

import (
	"encoding/hex"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/stretchr/testify/require"
)

type keyDerivationFile struct {
	Common struct {
		BaseSecret          string `json:"base_secret"`
		PerCommitmentSecret string `json:"per_commitment_secret"`
		BasePoint           string `json:"base_point"`
		PerCommitmentPoint  string `json:"per_commitment_point"`
	} `json:"common"`
	Tests []struct {
		Name       string            `json:"name"`
		OutputName string            `json:"output_name"`
		Output     string            `json:"output"`
		Inputs     map[string]string `json:"inputs"`
	} `json:"tests"`
}

// TestKeyDerivationVectors checks all four BOLT 3 Appendix E vectors.
func TestKeyDerivationVectors(t *testing.T) {
	var f keyDerivationFile
	loadJSON(t, "key-derivation.json", &f)
	require.Len(t, f.Tests, 4)

	// The common values are consistent: the points are the secrets times G.
	baseSecret := mustPriv(t, f.Common.BaseSecret)
	requireSamePub(t, mustPub(t, f.Common.BasePoint), baseSecret.PubKey())
	pcp, err := ComputePerCommitmentPoint(mustHex32(t, f.Common.PerCommitmentSecret))
	require.NoError(t, err)
	requireSamePub(t, mustPub(t, f.Common.PerCommitmentPoint), pcp)

	seen := map[string]bool{}
	for _, tc := range f.Tests {
		t.Run(tc.Name, func(t *testing.T) {
			in := tc.Inputs
			switch tc.OutputName {
			case "localpubkey":
				got := DerivePublicKey(mustPub(t, in["basepoint"]), mustPub(t, in["per_commitment_point"]))
				requireSamePub(t, mustPub(t, tc.Output), got)
			case "localprivkey":
				got := DerivePrivateKey(mustPriv(t, in["basepoint_secret"]), mustPub(t, in["per_commitment_point"]))
				require.NotNil(t, got)
				gotBytes := got.Key.Bytes()
				require.Equal(t, tc.Output, hex.EncodeToString(gotBytes[:]))
				// The private derivation matches the public one.
				requireSamePub(t, DerivePublicKey(mustPub(t, in["basepoint"]), mustPub(t, in["per_commitment_point"])), got.PubKey())
			case "revocationpubkey":
				got := DeriveRevocationPublicKey(mustPub(t, in["revocation_basepoint"]), mustPub(t, in["per_commitment_point"]))
				requireSamePub(t, mustPub(t, tc.Output), got)
			case "revocationprivkey":
				got, err := DeriveRevocationPrivateKey(mustPriv(t, in["revocation_basepoint_secret"]), mustHex32(t, in["per_commitment_secret"]))
				require.NoError(t, err)
				gotBytes := got.Key.Bytes()
				require.Equal(t, tc.Output, hex.EncodeToString(gotBytes[:]))
				requireSamePub(t, DeriveRevocationPublicKey(mustPub(t, in["revocation_basepoint"]), mustPub(t, in["per_commitment_point"])), got.PubKey())
			default:
				t.Fatalf("unknown output %q", tc.OutputName)
			}
			seen[tc.OutputName] = true
		})
	}
	require.Len(t, seen, 4, "every derivation kind checked")
}

// TestAppendixCInternalDerivations re-derives the keys of the BOLT 3 Appendix C vectors from the
// basepoint secrets in the spec's INTERNAL comment.
func TestAppendixCInternalDerivations(t *testing.T) {
	var f legacyFile
	loadJSON(t, "commitment-and-htlc-txs-legacy.json", &f)
	c, iv := f.Common, f.Internal

	pcp, err := ComputePerCommitmentPoint(mustHex32(t, iv.XLocalPerCommitmentSecret[:64]))
	require.NoError(t, err)
	requireSamePub(t, mustPub(t, iv.LocalPerCommitmentPoint), pcp)

	localPayment := mustPriv(t, iv.LocalPaymentBasepointSecret)
	requireSamePub(t, mustPub(t, c.LocalPaymentBasepoint), localPayment.PubKey())
	requireSamePub(t, mustPub(t, c.LocalHTLCBasepoint), localPayment.PubKey())
	localPriv := DerivePrivateKey(localPayment, pcp)
	require.Equal(t, mustPriv(t, c.LocalPrivkey).Key, localPriv.Key)
	requireSamePub(t, mustPub(t, c.LocalHTLCPubkey), localPriv.PubKey())
	requireSamePub(t, mustPub(t, c.LocalHTLCPubkey), DerivePublicKey(mustPub(t, c.LocalHTLCBasepoint), pcp))

	remotePayment := mustPriv(t, iv.RemotePaymentBasepointSecret)
	requireSamePub(t, mustPub(t, c.RemotePaymentBasepoint), remotePayment.PubKey())
	remotePriv := DerivePrivateKey(remotePayment, pcp)
	require.Equal(t, mustPriv(t, iv.RemotePrivkey).Key, remotePriv.Key)
	requireSamePub(t, mustPub(t, c.RemoteHTLCPubkey), DerivePublicKey(mustPub(t, c.RemoteHTLCBasepoint), pcp))

	delayed := mustPriv(t, iv.LocalDelayedPaymentBasepointSecret)
	requireSamePub(t, mustPub(t, iv.LocalDelayedPaymentBasepoint), delayed.PubKey())
	delayedPriv := DerivePrivateKey(delayed, pcp)
	require.Equal(t, mustPriv(t, iv.LocalDelayedPrivkey).Key, delayedPriv.Key)
	requireSamePub(t, mustPub(t, c.LocalDelayedPubkey), DerivePublicKey(delayed.PubKey(), pcp))

	revBase := mustPriv(t, iv.RemoteRevocationBasepointSecret)
	requireSamePub(t, mustPub(t, iv.RemoteRevocationBasepoint), revBase.PubKey())
	revPub := DeriveRevocationPublicKey(revBase.PubKey(), pcp)
	requireSamePub(t, mustPub(t, c.LocalRevocationPubkey), revPub)
	revPriv, err := DeriveRevocationPrivateKey(revBase, mustHex32(t, iv.XLocalPerCommitmentSecret[:64]))
	require.NoError(t, err)
	requireSamePub(t, revPub, revPriv.PubKey())

	requireSamePub(t, mustPub(t, c.LocalFundingPubkey), mustPriv(t, c.LocalFundingPrivkey).PubKey())
	requireSamePub(t, mustPub(t, c.RemoteFundingPubkey), mustPriv(t, iv.RemoteFundingPrivkey).PubKey())
}

// offCurveKey returns a PublicKey value that is not a point on secp256k1.
func offCurveKey() *btcec.PublicKey {
	var x, y btcec.FieldVal
	x.SetInt(1)
	y.SetInt(1)
	return btcec.NewPublicKey(&x, &y)
}

func TestDerivationBadInputs(t *testing.T) {
	priv, _ := btcec.PrivKeyFromBytes([]byte{7})
	pub := priv.PubKey()
	bad := offCurveKey()
	require.False(t, bad.IsOnCurve())

	require.Nil(t, DerivePublicKey(nil, pub))
	require.Nil(t, DerivePublicKey(pub, nil))
	require.Nil(t, DerivePublicKey(bad, pub))
	require.Nil(t, DerivePublicKey(pub, bad))
	require.Nil(t, DerivePrivateKey(nil, pub))
	require.Nil(t, DerivePrivateKey(priv, nil))
	require.Nil(t, DerivePrivateKey(priv, bad))
	require.Nil(t, DeriveRevocationPublicKey(nil, pub))
	require.Nil(t, DeriveRevocationPublicKey(pub, nil))
	require.Nil(t, DeriveRevocationPublicKey(bad, pub))

	var secret [32]byte
	secret[31] = 5
	_, err := DeriveRevocationPrivateKey(nil, secret)
	require.ErrorIs(t, err, ErrNilKey)
	_, err = DeriveRevocationPrivateKey(priv, [32]byte{})
	require.ErrorIs(t, err, ErrInvalidSecret)
	var overN [32]byte
	for i := range overN {
		overN[i] = 0xff
	}
	_, err = DeriveRevocationPrivateKey(priv, overN)
	require.ErrorIs(t, err, ErrInvalidSecret)
	_, err = ComputePerCommitmentPoint([32]byte{})
	require.ErrorIs(t, err, ErrInvalidSecret)
	_, err = ComputePerCommitmentPoint(overN)
	require.ErrorIs(t, err, ErrInvalidSecret)
}

// TestDerivationAgreement checks over many keys that each private derivation matches its public one.
func TestDerivationAgreement(t *testing.T) {
	for i := 1; i <= 50; i++ {
		base, _ := btcec.PrivKeyFromBytes([]byte{byte(i), 0x55, byte(i * 7)})
		var secret [32]byte
		secret[0] = byte(i)
		secret[31] = 0x42
		pcp, err := ComputePerCommitmentPoint(secret)
		require.NoError(t, err)
		requireSamePub(t, DerivePublicKey(base.PubKey(), pcp), DerivePrivateKey(base, pcp).PubKey())
		rev, err := DeriveRevocationPrivateKey(base, secret)
		require.NoError(t, err)
		requireSamePub(t, DeriveRevocationPublicKey(base.PubKey(), pcp), rev.PubKey())
	}
}
