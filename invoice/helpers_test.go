package invoice

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil/bech32"
)

// keySigner signs with a private key, as keys.KeysManager does with the node key.
type keySigner struct{ key *btcec.PrivateKey }

func (k keySigner) SignInvoice(hrp string, data5 []byte) ([]byte, error) {
	hash := signingHash(hrp, data5)
	return ecdsa.SignCompact(k.key, hash[:], true), nil
}

// highSSigner returns the high-S twin of a low-S signature (same r, s' = N - s, recovery id flipped so
// that recovery still finds the signer's key).
type highSSigner struct{ key *btcec.PrivateKey }

func (k highSSigner) SignInvoice(hrp string, data5 []byte) ([]byte, error) {
	hash := signingHash(hrp, data5)
	sig := ecdsa.SignCompact(k.key, hash[:], true)
	var s btcec.ModNScalar
	s.SetByteSlice(sig[33:])
	s.Negate()
	b := s.Bytes()
	copy(sig[33:], b[:])
	recID := (sig[0] - 31) ^ 1 // the nonce point's y parity flips with s
	sig[0] = 31 + recID
	return sig, nil
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}

func mustKey(t testing.TB, s string) *btcec.PrivateKey {
	t.Helper()
	k, _ := btcec.PrivKeyFromBytes(mustHex(t, s))
	return k
}

func mustPub(t testing.TB, s string) *btcec.PublicKey {
	t.Helper()
	k, err := btcec.ParsePubKey(mustHex(t, s))
	if err != nil {
		t.Fatalf("bad pubkey %q: %v", s, err)
	}
	return k
}

// readJSON decodes a testdata file strictly: a field of the file missing from v fails the test, so that
// no field of a vector goes unchecked by accident.
func readJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
}

// rawInvoice assembles an invoice from raw parts and signs it with key, bypassing every check Encode
// makes, to build malformed invoices.
func rawInvoice(t testing.TB, hrp string, timestamp uint64, fields []TaggedField, key *btcec.PrivateKey) string {
	t.Helper()
	data := uintToFixedGroups(timestamp, timestampGroups)
	for _, f := range fields {
		data = append(data, f.Type, byte(len(f.Data)>>5), byte(len(f.Data)&31))
		data = append(data, f.Data...)
	}
	hash := signingHash(hrp, data)
	sig := ecdsa.SignCompact(key, hash[:], true)
	sigBytes := append(append([]byte{}, sig[1:]...), sig[0]-31)
	s, err := bech32.Encode(hrp, append(data, bytesToGroups(sigBytes)...))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// sameFields compares the exported fields of two invoices except the payee and the signature.
func sameFields(t testing.TB, want, got *Invoice) {
	t.Helper()
	if got.Network.Name != want.Network.Name {
		t.Fatalf("network %s, want %s", got.Network.Name, want.Network.Name)
	}
	if !reflect.DeepEqual(got.AmountMsat, want.AmountMsat) {
		t.Fatalf("amount %v, want %v", ptrString(got.AmountMsat), ptrString(want.AmountMsat))
	}
	if got.Timestamp.Unix() != want.Timestamp.Unix() {
		t.Fatalf("timestamp %v, want %v", got.Timestamp, want.Timestamp)
	}
	if got.PaymentHash != want.PaymentHash || !reflect.DeepEqual(got.PaymentSecret, want.PaymentSecret) {
		t.Fatalf("payment hash/secret differ")
	}
	if !reflect.DeepEqual(got.Description, want.Description) ||
		!reflect.DeepEqual(got.DescriptionHash, want.DescriptionHash) {
		t.Fatalf("description %v/%v, want %v/%v", ptrString(got.Description), got.DescriptionHash,
			ptrString(want.Description), want.DescriptionHash)
	}
	if !reflect.DeepEqual(got.ExpirySeconds, want.ExpirySeconds) ||
		!reflect.DeepEqual(got.MinFinalCLTVExpiryDelta, want.MinFinalCLTVExpiryDelta) {
		t.Fatalf("expiry %v cltv %v, want %v %v", ptrString(got.ExpirySeconds),
			ptrString(got.MinFinalCLTVExpiryDelta), ptrString(want.ExpirySeconds),
			ptrString(want.MinFinalCLTVExpiryDelta))
	}
	if len(got.FallbackAddresses) != len(want.FallbackAddresses) {
		t.Fatalf("%d fallbacks, want %d", len(got.FallbackAddresses), len(want.FallbackAddresses))
	}
	for i, a := range want.FallbackAddresses {
		g := got.FallbackAddresses[i]
		if reflect.TypeOf(g) != reflect.TypeOf(a) || g.EncodeAddress() != a.EncodeAddress() {
			t.Fatalf("fallback %d: %T %s, want %T %s", i, g, g.EncodeAddress(), a, a.EncodeAddress())
		}
	}
	if len(got.RouteHints) != len(want.RouteHints) {
		t.Fatalf("%d route hints, want %d", len(got.RouteHints), len(want.RouteHints))
	}
	for i, hops := range want.RouteHints {
		if len(got.RouteHints[i]) != len(hops) {
			t.Fatalf("route hint %d: %d hops, want %d", i, len(got.RouteHints[i]), len(hops))
		}
		for j, h := range hops {
			g := got.RouteHints[i][j]
			if !g.NodeID.IsEqual(h.NodeID) || g.ShortChannelID != h.ShortChannelID ||
				g.FeeBaseMsat != h.FeeBaseMsat || g.FeeProportionalMillionths != h.FeeProportionalMillionths ||
				g.CLTVExpiryDelta != h.CLTVExpiryDelta {
				t.Fatalf("route hint %d hop %d: %+v, want %+v", i, j, g, h)
			}
		}
	}
	if !got.Features.Equal(want.Features) {
		t.Fatalf("features %v, want %v", got.Features, want.Features)
	}
	if !bytes.Equal(got.Metadata, want.Metadata) || (got.Metadata == nil) != (want.Metadata == nil) {
		t.Fatalf("metadata %x, want %x", got.Metadata, want.Metadata)
	}
	if len(got.ExtraFields) != len(want.ExtraFields) {
		t.Fatalf("%d extra fields, want %d", len(got.ExtraFields), len(want.ExtraFields))
	}
	for i, f := range want.ExtraFields {
		if got.ExtraFields[i].Type != f.Type || !bytes.Equal(got.ExtraFields[i].Data, f.Data) {
			t.Fatalf("extra field %d: %+v, want %+v", i, got.ExtraFields[i], f)
		}
	}
}

func ptrString[T any](p *T) string {
	if p == nil {
		return "<nil>"
	}
	return fmt.Sprint(*p)
}
