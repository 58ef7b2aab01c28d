package invoice

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/bech32"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/lnkit/lnkit/lnwire"
)

// The spec's examples (BOLT 11, "Examples" and "Examples of Invalid Invoices"), extracted to
// testdata/valid-invoices.json and testdata/invalid-invoices.json (see testdata's source notes in
// /work/shared/testvectors/README.md: copied verbatim).

type validFile struct {
	Description          string        `json:"description"`
	PrivateKey           string        `json:"private_key"`
	PayeePubkey          string        `json:"payee_pubkey"`
	DefaultPaymentSecret string        `json:"default_payment_secret"`
	Notes                []string      `json:"notes"`
	Invoices             []validVector `json:"invoices"`
}

type validVector struct {
	Title                   string  `json:"title"`
	Invoice                 string  `json:"invoice"`
	Network                 string  `json:"network"`
	CurrencyPrefix          string  `json:"currency_prefix"`
	AmountMsat              *uint64 `json:"amount_msat"`
	Timestamp               int64   `json:"timestamp"`
	PaymentHash             string  `json:"payment_hash"`
	PaymentSecret           *string `json:"payment_secret"`
	Description             *string `json:"description"`
	DescriptionHash         *string `json:"description_hash"`
	DescriptionHashPreimage *string `json:"description_hash_preimage"`
	Expiry                  *uint64 `json:"expiry"`
	MinFinalCLTVExpiryDelta *uint64 `json:"min_final_cltv_expiry_delta"`
	Fallbacks               []struct {
		Version    byte   `json:"version"`
		Type       string `json:"type"`
		ProgramHex string `json:"program_hex"`
		Address    string `json:"address"`
	} `json:"fallbacks"`
	RouteHints [][]struct {
		Pubkey                    string `json:"pubkey"`
		ShortChannelID            string `json:"short_channel_id"`
		ShortChannelIDHex         string `json:"short_channel_id_hex"`
		FeeBaseMsat               uint32 `json:"fee_base_msat"`
		FeeProportionalMillionths uint32 `json:"fee_proportional_millionths"`
		CLTVExpiryDelta           uint16 `json:"cltv_expiry_delta"`
	} `json:"route_hints"`
	Features       []uint32 `json:"features"`
	Metadata       *string  `json:"metadata"`
	PayeePubkey    *string  `json:"payee_pubkey"`
	PrivateKey     *string  `json:"private_key"`
	Signature      string   `json:"signature"`
	RecoveryFlag   byte     `json:"recovery_flag"`
	SignatureLowS  bool     `json:"signature_low_s"`
	SigningDataHex string   `json:"signing_data_hex"`
	SigningHash    string   `json:"signing_hash"`
	IgnoredFields  []struct {
		Tag        string `json:"tag"`
		DataLength int    `json:"data_length"`
		Version    *byte  `json:"version"`
		UnknownTag bool   `json:"unknown_tag"`
	} `json:"ignored_fields"`
	SpecBreakdownChecked     []string `json:"spec_breakdown_checked"` // informational
	RecoveredPubkey          *string  `json:"recovered_pubkey"`
	SignatureVerifiesAgainst *string  `json:"signature_verifies_against"`
	Note                     string   `json:"note"` // informational
}

type invalidFile struct {
	Description string   `json:"description"`
	Notes       []string `json:"notes"`
	Invoices    []struct {
		Reason     string `json:"reason"`
		ErrorClass string `json:"error_class"`
		Invoice    string `json:"invoice"`
	} `json:"invoices"`
}

var vectorNetworks = map[string]*chaincfg.Params{
	"bitcoin": &chaincfg.MainNetParams,
	"testnet": &chaincfg.TestNet3Params,
	"signet":  &chaincfg.SigNetParams,
	"regtest": &chaincfg.RegressionNetParams,
}

// knownTypes are the field types BOLT 11 defines, for checking ignored_fields' unknown_tag.
var knownTypes = map[byte]bool{tagPaymentHash: true, tagRouteHint: true, tagFeatures: true, tagExpiry: true,
	tagFallback: true, tagDescription: true, tagPaymentSecret: true, tagPayee: true, tagDescriptionHash: true,
	tagMinFinalCLTV: true, tagMetadata: true}

// TestValidVectors decodes every valid example and compares every field the file gives, then re-encodes
// it: signed anew with the example's private key, and with its own signature.
func TestValidVectors(t *testing.T) {
	var file validFile
	readJSON(t, "valid-invoices.json", &file)
	if len(file.Invoices) != 16 {
		t.Fatalf("%d valid vectors, the spec snapshot has 16", len(file.Invoices))
	}
	commonKey := mustKey(t, file.PrivateKey)
	if got := hex.EncodeToString(commonKey.PubKey().SerializeCompressed()); got != file.PayeePubkey {
		t.Fatalf("private_key's public key %s, file says %s", got, file.PayeePubkey)
	}
	for _, v := range file.Invoices {
		t.Run(v.Title, func(t *testing.T) {
			checkValidVector(t, v)
		})
	}
}

func checkValidVector(t *testing.T, v validVector) {
	net := vectorNetworks[v.Network]
	if net == nil {
		t.Fatalf("network %q not mapped", v.Network)
	}
	inv, err := Decode(v.Invoice, nil)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if inv.Network != net {
		t.Errorf("network %s, want %s", inv.Network.Name, net.Name)
	}
	if p, _ := prefixFor(inv.Network); p != v.CurrencyPrefix {
		t.Errorf("prefix %s, want %s", p, v.CurrencyPrefix)
	}
	if ptrString(inv.AmountMsat) != ptrString(v.AmountMsat) {
		t.Errorf("amount %s, want %s", ptrString(inv.AmountMsat), ptrString(v.AmountMsat))
	}
	if inv.Timestamp.Unix() != v.Timestamp {
		t.Errorf("timestamp %d, want %d", inv.Timestamp.Unix(), v.Timestamp)
	}
	if hex.EncodeToString(inv.PaymentHash[:]) != v.PaymentHash {
		t.Errorf("payment hash %x, want %s", inv.PaymentHash, v.PaymentHash)
	}
	if hexPtr(inv.PaymentSecret) != ptrString(v.PaymentSecret) {
		t.Errorf("payment secret %s, want %s", hexPtr(inv.PaymentSecret), ptrString(v.PaymentSecret))
	}
	if ptrString(inv.Description) != ptrString(v.Description) {
		t.Errorf("description %s, want %s", ptrString(inv.Description), ptrString(v.Description))
	}
	if hexPtr(inv.DescriptionHash) != ptrString(v.DescriptionHash) {
		t.Errorf("description hash %s, want %s", hexPtr(inv.DescriptionHash), ptrString(v.DescriptionHash))
	}
	if v.DescriptionHashPreimage != nil {
		if !inv.MatchesDescription([]byte(*v.DescriptionHashPreimage)) {
			t.Errorf("description_hash_preimage does not match")
		}
		if inv.MatchesDescription([]byte(*v.DescriptionHashPreimage + " ")) {
			t.Errorf("a different description matches")
		}
	}
	if ptrString(inv.ExpirySeconds) != ptrString(v.Expiry) {
		t.Errorf("expiry %s, want %s", ptrString(inv.ExpirySeconds), ptrString(v.Expiry))
	}
	if ptrString(inv.MinFinalCLTVExpiryDelta) != ptrString(v.MinFinalCLTVExpiryDelta) {
		t.Errorf("min_final_cltv_expiry_delta %s, want %s", ptrString(inv.MinFinalCLTVExpiryDelta),
			ptrString(v.MinFinalCLTVExpiryDelta))
	}
	// The defaults apply exactly when the field is absent.
	wantExpiry := uint64(3600)
	if v.Expiry != nil {
		wantExpiry = *v.Expiry
	}
	if inv.ExpiryOrDefault().Seconds() != float64(wantExpiry) ||
		inv.ExpiresAt().Unix() != v.Timestamp+int64(wantExpiry) {
		t.Errorf("expiry %v / expires at %v, want %d s after %d", inv.ExpiryOrDefault(), inv.ExpiresAt(),
			wantExpiry, v.Timestamp)
	}
	wantCLTV := uint64(18)
	if v.MinFinalCLTVExpiryDelta != nil {
		wantCLTV = *v.MinFinalCLTVExpiryDelta
	}
	if inv.MinFinalCLTVExpiryDeltaOrDefault() != wantCLTV {
		t.Errorf("cltv delta %d, want %d", inv.MinFinalCLTVExpiryDeltaOrDefault(), wantCLTV)
	}

	checkFallbacks(t, inv, v)
	checkRouteHints(t, inv, v)

	var bits []uint32
	for _, b := range inv.Features.Bits() {
		bits = append(bits, uint32(b))
	}
	if len(bits) != len(v.Features) {
		t.Errorf("features %v, want %v", bits, v.Features)
	} else {
		for i := range bits {
			if bits[i] != v.Features[i] {
				t.Errorf("features %v, want %v", bits, v.Features)
				break
			}
		}
	}
	if v.Metadata == nil {
		if inv.Metadata != nil {
			t.Errorf("metadata %x, want none", inv.Metadata)
		}
	} else if inv.Metadata == nil || hex.EncodeToString(inv.Metadata) != *v.Metadata {
		t.Errorf("metadata %x, want %s", inv.Metadata, *v.Metadata)
	}

	checkIgnored(t, inv, v)
	checkSignatureFields(t, inv, v)

	// Re-encoding: with the invoice's own signature, and (when the key is known) signed again.
	lower := strings.ToLower(v.Invoice)
	if out, err := inv.EncodeSigned(); err != nil || out != lower {
		t.Errorf("EncodeSigned = %q, %v\n want %q", out, err, lower)
	}
	if v.PrivateKey != nil {
		out, err := inv.Encode(keySigner{mustKey(t, *v.PrivateKey)})
		if err != nil || out != lower {
			t.Errorf("Encode = %q, %v\n want %q", out, err, lower)
		}
	}

	// Decoding for the right network gives the same invoice, for any other network an error.
	if again, err := Decode(v.Invoice, net); err != nil {
		t.Errorf("Decode with %s: %v", net.Name, err)
	} else {
		sameFields(t, inv, again)
	}
	for name, other := range vectorNetworks {
		if other == net {
			continue
		}
		if _, err := Decode(v.Invoice, other); !errors.Is(err, ErrNetworkMismatch) {
			t.Errorf("Decode for %s: %v, want ErrNetworkMismatch", name, err)
		}
	}
}

func checkFallbacks(t *testing.T, inv *Invoice, v validVector) {
	if len(inv.FallbackAddresses) != len(v.Fallbacks) {
		t.Fatalf("%d fallbacks, want %d", len(inv.FallbackAddresses), len(v.Fallbacks))
	}
	for i, f := range v.Fallbacks {
		addr := inv.FallbackAddresses[i]
		if addr.EncodeAddress() != f.Address {
			t.Errorf("fallback %d: %s, want %s", i, addr.EncodeAddress(), f.Address)
		}
		var (
			version byte
			prog    []byte
			typ     string
		)
		switch a := addr.(type) {
		case *btcutil.AddressPubKeyHash:
			version, prog, typ = 17, a.Hash160()[:], "p2pkh"
		case *btcutil.AddressScriptHash:
			version, prog, typ = 18, a.Hash160()[:], "p2sh"
		case *btcutil.AddressWitnessPubKeyHash:
			version, prog, typ = 0, a.WitnessProgram(), "p2wpkh"
		case *btcutil.AddressWitnessScriptHash:
			version, prog, typ = 0, a.WitnessProgram(), "p2wsh"
		case *btcutil.AddressTaproot:
			version, prog, typ = 1, a.WitnessProgram(), "p2tr"
		default:
			t.Fatalf("fallback %d: unexpected %T", i, addr)
		}
		if version != f.Version || typ != f.Type || hex.EncodeToString(prog) != f.ProgramHex {
			t.Errorf("fallback %d: version %d %s %x, want %d %s %s", i, version, typ, prog, f.Version, f.Type,
				f.ProgramHex)
		}
		if !addr.IsForNet(inv.Network) {
			t.Errorf("fallback %d is not for %s", i, inv.Network.Name)
		}
	}
}

func checkRouteHints(t *testing.T, inv *Invoice, v validVector) {
	if len(inv.RouteHints) != len(v.RouteHints) {
		t.Fatalf("%d route hints, want %d", len(inv.RouteHints), len(v.RouteHints))
	}
	for i, hops := range v.RouteHints {
		if len(inv.RouteHints[i]) != len(hops) {
			t.Fatalf("route hint %d: %d hops, want %d", i, len(inv.RouteHints[i]), len(hops))
		}
		for j, want := range hops {
			got := inv.RouteHints[i][j]
			scid := got.ShortChannelID.ToUint64()
			var scidHex [8]byte
			for k := range scidHex {
				scidHex[k] = byte(scid >> (56 - 8*k))
			}
			if hex.EncodeToString(got.NodeID.SerializeCompressed()) != want.Pubkey ||
				got.ShortChannelID.String() != want.ShortChannelID ||
				hex.EncodeToString(scidHex[:]) != want.ShortChannelIDHex ||
				got.FeeBaseMsat != want.FeeBaseMsat ||
				got.FeeProportionalMillionths != want.FeeProportionalMillionths ||
				got.CLTVExpiryDelta != want.CLTVExpiryDelta {
				t.Errorf("route hint %d hop %d: %x %v %d %d %d, want %+v", i, j,
					got.NodeID.SerializeCompressed(), got.ShortChannelID, got.FeeBaseMsat,
					got.FeeProportionalMillionths, got.CLTVExpiryDelta, want)
			}
		}
	}
}

func checkIgnored(t *testing.T, inv *Invoice, v validVector) {
	if len(inv.ExtraFields) != len(v.IgnoredFields) {
		t.Fatalf("%d extra fields, want %d ignored fields", len(inv.ExtraFields), len(v.IgnoredFields))
	}
	for i, want := range v.IgnoredFields {
		got := inv.ExtraFields[i]
		if string(got.Letter()) != want.Tag || len(got.Data) != want.DataLength {
			t.Errorf("ignored field %d: %c len %d, want %s len %d", i, got.Letter(), len(got.Data), want.Tag,
				want.DataLength)
		}
		if want.UnknownTag == knownTypes[got.Type] {
			t.Errorf("ignored field %d: type %d known=%v, file says unknown_tag=%v", i, got.Type,
				knownTypes[got.Type], want.UnknownTag)
		}
		if want.Version != nil && (len(got.Data) == 0 || got.Data[0] != *want.Version) {
			t.Errorf("ignored field %d: version %v, want %d", i, got.Data[:min(1, len(got.Data))], *want.Version)
		}
	}
}

func checkSignatureFields(t *testing.T, inv *Invoice, v validVector) {
	if hex.EncodeToString(inv.Signature[:]) != v.Signature || inv.RecoveryID != v.RecoveryFlag {
		t.Errorf("signature %x/%d, want %s/%d", inv.Signature, inv.RecoveryID, v.Signature, v.RecoveryFlag)
	}
	var s btcec.ModNScalar
	s.SetByteSlice(inv.Signature[32:])
	if !s.IsOverHalfOrder() != v.SignatureLowS {
		t.Errorf("low S = %v, want %v", !s.IsOverHalfOrder(), v.SignatureLowS)
	}

	// signing_data_hex: from the invoice string itself and from what Encode would sign.
	hrp, data, err := bech32.DecodeNoLimit(v.Invoice)
	if err != nil {
		t.Fatal(err)
	}
	fromString := append([]byte(hrp), groupsToBytes(data[:len(data)-signatureGroups], true)...)
	if hex.EncodeToString(fromString) != v.SigningDataHex {
		t.Errorf("signing data %x, want %s", fromString, v.SigningDataHex)
	}
	hrp2, data2, err := inv.serialize()
	if err != nil {
		t.Fatal(err)
	}
	fromFields := append([]byte(hrp2), groupsToBytes(data2, true)...)
	if hex.EncodeToString(fromFields) != v.SigningDataHex {
		t.Errorf("re-serialized signing data %x, want %s", fromFields, v.SigningDataHex)
	}
	hash, err := inv.SigningHash()
	if err != nil || hex.EncodeToString(hash[:]) != v.SigningHash {
		t.Errorf("SigningHash %x, %v, want %s", hash, err, v.SigningHash)
	}
	if sum := sha256.Sum256(fromString); hex.EncodeToString(sum[:]) != v.SigningHash {
		t.Errorf("sha256(signing data) %x, want %s", sum, v.SigningHash)
	}

	// The payee: the common key, or for the high-S example the key standard recovery gives.
	switch {
	case v.PayeePubkey != nil:
		if !inv.Payee.IsEqual(mustPub(t, *v.PayeePubkey)) {
			t.Errorf("payee %x, want %s", inv.Payee.SerializeCompressed(), *v.PayeePubkey)
		}
	case v.RecoveredPubkey != nil:
		if !inv.Payee.IsEqual(mustPub(t, *v.RecoveredPubkey)) {
			t.Errorf("recovered payee %x, want %s", inv.Payee.SerializeCompressed(), *v.RecoveredPubkey)
		}
	default:
		t.Fatal("vector names no payee")
	}
	if v.SignatureVerifiesAgainst != nil {
		// (r, s) verifies against this key when low S is not enforced...
		var r btcec.ModNScalar
		r.SetByteSlice(inv.Signature[:32])
		key := mustPub(t, *v.SignatureVerifiesAgainst)
		if !ecdsa.NewSignature(&r, &s).Verify(hash[:], key) {
			t.Errorf("signature does not verify against %s", *v.SignatureVerifiesAgainst)
		}
		// ...but not when that key is in an `n` field, which requires low S.
		if _, err := checkSignature(hash, inv.Signature, inv.RecoveryID, key); !errors.Is(err, ErrHighSSignature) {
			t.Errorf("with n = %s: %v, want ErrHighSSignature", *v.SignatureVerifiesAgainst, err)
		}
	}
	if inv.ExplicitPayee {
		t.Errorf("no valid example has an n field, got ExplicitPayee")
	}
}

func hexPtr(p *[32]byte) string {
	if p == nil {
		return "<nil>"
	}
	return hex.EncodeToString(p[:])
}

// invalidReasons maps each error_class of invalid-invoices.json to the error Decode must return.
var invalidReasons = map[string]error{
	"unknown_required_feature":      ErrUnknownRequiredFeature,
	"invalid_checksum":              ErrInvalidChecksum,
	"no_separator":                  ErrMissingSeparator,
	"mixed_case":                    ErrMixedCase,
	"unrecoverable_signature":       ErrInvalidSignature,
	"too_short":                     ErrInvalidLength,
	"invalid_multiplier":            ErrInvalidMultiplier,
	"sub_msat_precision":            ErrSubMsatPrecision,
	"missing_payment_secret":        ErrMissingPaymentSecret,
	"high_s_signature_with_n_field": ErrHighSSignature,
}

// TestInvalidVectors checks that every invalid example is refused for its stated reason.
func TestInvalidVectors(t *testing.T) {
	var file invalidFile
	readJSON(t, "invalid-invoices.json", &file)
	if len(file.Invoices) != 10 {
		t.Fatalf("%d invalid vectors, the spec snapshot has 10", len(file.Invoices))
	}
	for _, v := range file.Invoices {
		t.Run(v.Reason, func(t *testing.T) {
			want, ok := invalidReasons[v.ErrorClass]
			if !ok {
				t.Fatalf("error class %q not mapped to an error", v.ErrorClass)
			}
			for _, net := range []*chaincfg.Params{nil, &chaincfg.MainNetParams} {
				inv, err := Decode(v.Invoice, net)
				if inv != nil || !errors.Is(err, want) {
					t.Fatalf("Decode = %v, %v; want error %v", inv != nil, err, want)
				}
			}
		})
	}
}

// TestFeatureNames checks that the bits KnownFeatures lists are the spec's invoice features.
func TestKnownAndDefaultFeatures(t *testing.T) {
	known := KnownFeatures()
	for _, b := range []lnwire.FeatureBit{8, 9, 14, 15, 16, 17, 48, 49} {
		if !known.IsSet(b) {
			t.Errorf("bit %d not known", b)
		}
	}
	if len(known.Bits()) != 8 {
		t.Errorf("known bits %v", known.Bits())
	}
	def := DefaultFeatures()
	want := []lnwire.FeatureBit{lnwire.VarOnionOptinRequired, lnwire.PaymentSecretRequired, lnwire.BasicMPPOptional}
	got := def.Bits()
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] || got[2] != want[2] {
		t.Errorf("default features %v, want %v", got, want)
	}
	if err := checkFeatures(def); err != nil {
		t.Errorf("default features refused: %v", err)
	}
}
