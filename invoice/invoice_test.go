package invoice

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"math"
	"math/rand"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/bech32"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
)

// keys.NodeSigner is a Signer: ChannelManager signs its invoices with the node key.
var _ Signer = keys.NodeSigner(nil)

var allNetworks = []*chaincfg.Params{&chaincfg.MainNetParams, &chaincfg.TestNet3Params, &chaincfg.SigNetParams,
	&chaincfg.RegressionNetParams}

func TestAmounts(t *testing.T) {
	good := []struct {
		text string
		msat uint64
	}{
		{"1", 100_000_000_000},
		{"20m", 2_000_000_000},
		{"2500u", 250_000_000},
		{"1n", 100},
		{"10p", 1},
		{"9678785340p", 967_878_534},
		{"184467440737095516150p", math.MaxUint64},
		{"184467440", 18_446_744_000_000_000_000},
	}
	for _, c := range good {
		got, err := parseAmount(c.text)
		if err != nil || got != c.msat {
			t.Errorf("parseAmount(%q) = %d, %v; want %d", c.text, got, err, c.msat)
		}
	}
	bad := []struct {
		text string
		want error
	}{
		{"2500x", ErrInvalidMultiplier},
		{"1p", ErrSubMsatPrecision},
		{"2500000001p", ErrSubMsatPrecision},
		{"0", ErrInvalidAmount},
		{"0m", ErrInvalidAmount},
		{"025m", ErrInvalidAmount},
		{"m", ErrInvalidAmount},
		{"2x5m", ErrInvalidAmount},
		{"184467441", ErrInvalidAmount},              // over 2^64 msat
		{"184467440737095516160p", ErrInvalidAmount}, // 2^64 msat
		{"99999999999999999999999m", ErrInvalidAmount},
	}
	for _, c := range bad {
		if got, err := parseAmount(c.text); !errors.Is(err, c.want) {
			t.Errorf("parseAmount(%q) = %d, %v; want %v", c.text, got, err, c.want)
		}
	}
	formats := []struct {
		msat uint64
		text string
	}{
		{100_000_000_000, "1"}, {2_000_000_000, "20m"}, {250_000_000, "2500u"}, {100, "1n"}, {1, "10p"},
		{967_878_534, "9678785340p"}, {2_500_000_000, "25m"}, {math.MaxUint64, "184467440737095516150p"},
		{1_000_000_000, "10m"}, {123_400, "1234n"},
	}
	for _, c := range formats {
		if got := formatAmount(c.msat); got != c.text {
			t.Errorf("formatAmount(%d) = %q, want %q", c.msat, got, c.text)
		}
	}
	rng := rand.New(rand.NewSource(1))
	for i := 0; i < 2000; i++ {
		msat := rng.Uint64() >> uint(rng.Intn(64))
		if msat == 0 {
			continue
		}
		text := formatAmount(msat)
		back, err := parseAmount(text)
		if err != nil || back != msat {
			t.Fatalf("%d -> %q -> %d, %v", msat, text, back, err)
		}
		// No shorter form exists: the next larger multiplier does not divide the amount.
		if len(text) > 1 && strings.HasSuffix(text, "0p") && msat%msatPerNano == 0 {
			t.Fatalf("%d written as %q though n would do", msat, text)
		}
	}
}

func TestBitConversions(t *testing.T) {
	rng := rand.New(rand.NewSource(2))
	for n := 0; n < 80; n++ {
		b := make([]byte, n)
		rng.Read(b)
		g := bytesToGroups(b)
		if len(g) != (8*n+4)/5 {
			t.Fatalf("%d bytes gave %d groups", n, len(g))
		}
		if back := groupsToBytes(g, false); !bytes.Equal(back, b) {
			t.Fatalf("%x -> %v -> %x", b, g, back)
		}
		if padded := groupsToBytes(g, true); len(padded) != (5*len(g)+7)/8 || !bytes.Equal(padded[:n], b) {
			t.Fatalf("padded %x from %x", padded, b)
		}
	}
	for _, v := range []uint64{0, 1, 31, 32, 60, 604800, 1<<35 - 1, math.MaxUint64} {
		g := uintToGroups(v)
		if back, ok := groupsToUint(g); !ok || back != v {
			t.Fatalf("%d -> %v -> %d %v", v, g, back, ok)
		}
		if len(g) > 0 && g[0] == 0 {
			t.Fatalf("%d not minimal: %v", v, g)
		}
	}
	if len(uintToGroups(0)) != 0 {
		t.Fatal("0 must take no group")
	}
	// 13 groups = 65 bits: fine with a leading zero bit, not with a leading one bit.
	if v, ok := groupsToUint(append([]byte{1}, make([]byte, 12)...)); !ok || v != 1<<60 {
		t.Fatalf("13 groups with value 2^60: %d %v", v, ok)
	}
	if _, ok := groupsToUint(append([]byte{16}, make([]byte, 12)...)); ok {
		t.Fatal("2^64 accepted")
	}
}

// randomInvoice builds an invoice with every field chosen at random, through New.
func randomInvoice(t testing.TB, rng *rand.Rand, key *btcec.PrivateKey) *Invoice {
	t.Helper()
	net := allNetworks[rng.Intn(len(allNetworks))]
	var hash, secret [32]byte
	rng.Read(hash[:])
	rng.Read(secret[:])
	ts := time.Unix(rng.Int63n(int64(MaxTimestamp)+1), 0)
	var opts []Option
	if rng.Intn(4) != 0 {
		amounts := []uint64{1, 10, 1000, 100_000_000_000, math.MaxUint64, rng.Uint64()>>uint(rng.Intn(64)) + 1}
		opts = append(opts, WithAmountMsat(amounts[rng.Intn(len(amounts))]))
	}
	if rng.Intn(2) == 0 {
		descs := []string{"", "1 cup coffee", "ナンセンス 1杯", strings.Repeat("é", 319), strings.Repeat("x", 639)}
		opts = append(opts, WithDescription(descs[rng.Intn(len(descs))]))
	} else {
		opts = append(opts, WithDescriptionHash(sha256.Sum256([]byte{byte(rng.Intn(256))})))
	}
	if rng.Intn(2) == 0 {
		vals := []time.Duration{0, time.Second, time.Hour, 7 * 24 * time.Hour, time.Duration(rng.Int63())}
		opts = append(opts, WithExpiry(vals[rng.Intn(len(vals))]))
	}
	if rng.Intn(2) == 0 {
		vals := []uint64{0, 9, 18, 144, math.MaxUint64, rng.Uint64()}
		opts = append(opts, WithMinFinalCLTVExpiryDelta(vals[rng.Intn(len(vals))]))
	}
	for i := rng.Intn(4); i > 0; i-- {
		opts = append(opts, WithFallbackAddress(randomAddress(t, rng, net)))
	}
	for i := rng.Intn(4); i > 0; i-- {
		hops := make([]HopHint, 1+rng.Intn(MaxHopsPerRouteHint))
		for j := range hops {
			priv, _ := btcec.NewPrivateKey()
			hops[j] = HopHint{
				NodeID:                    priv.PubKey(),
				ShortChannelID:            lnwire.NewShortChannelIDFromUint64(rng.Uint64()),
				FeeBaseMsat:               rng.Uint32(),
				FeeProportionalMillionths: rng.Uint32(),
				CLTVExpiryDelta:           uint16(rng.Uint32()),
			}
		}
		opts = append(opts, WithRouteHint(hops...))
	}
	if rng.Intn(2) == 0 {
		fv := DefaultFeatures()
		if rng.Intn(2) == 0 {
			fv.Set(lnwire.BasicMPPRequired)
		}
		for i := rng.Intn(3); i > 0; i-- {
			fv.Set(lnwire.FeatureBit(2*rng.Intn(2000) + 1)) // unknown odd bits are fine
		}
		if rng.Intn(4) == 0 {
			fv = lnwire.NewFeatureVector() // no `9` field at all
		}
		opts = append(opts, WithFeatures(fv))
	}
	if rng.Intn(3) == 0 {
		md := make([]byte, rng.Intn(MaxFieldDataBytes+1))
		rng.Read(md)
		opts = append(opts, WithMetadata(md))
	}
	if rng.Intn(2) == 0 {
		opts = append(opts, WithPayee(key.PubKey()))
	}
	inv, err := New(net, hash, secret, ts, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	// Fields a reader skips: unknown types, wrong lengths, unknown fallback versions.
	for i := rng.Intn(4); i > 0; i-- {
		var f TaggedField
		switch rng.Intn(3) {
		case 0:
			unknown := []byte{0, 2, 4, 7, 8, 10, 11, 12, 14, 15, 17, 18, 20, 21, 22, 25, 26, 28, 29, 30, 31}
			f.Type = unknown[rng.Intn(len(unknown))]
			f.Data = make([]byte, rng.Intn(maxFieldGroups+1))
		case 1:
			f.Type = []byte{tagPaymentHash, tagPaymentSecret, tagDescriptionHash, tagPayee}[rng.Intn(4)]
			f.Data = make([]byte, 51+rng.Intn(2)*3) // 51 or 54: wrong for all four
		case 2:
			f.Type = tagFallback
			f.Data = make([]byte, 1+rng.Intn(60))
			f.Data[0] = []byte{2, 3, 16, 19, 25, 31}[rng.Intn(6)] // not 0, 1, 17 or 18
		}
		for j := range f.Data[min(1, len(f.Data)):] {
			f.Data[1+j] = byte(rng.Intn(32))
		}
		if f.Type != tagFallback && len(f.Data) > 0 {
			f.Data[0] = byte(rng.Intn(32))
		}
		inv.ExtraFields = append(inv.ExtraFields, f)
	}
	return inv
}

func randomAddress(t testing.TB, rng *rand.Rand, net *chaincfg.Params) btcutil.Address {
	t.Helper()
	var (
		addr btcutil.Address
		err  error
	)
	b := make([]byte, 32)
	rng.Read(b)
	switch rng.Intn(5) {
	case 0:
		addr, err = btcutil.NewAddressPubKeyHash(b[:20], net)
	case 1:
		addr, err = btcutil.NewAddressScriptHashFromHash(b[:20], net)
	case 2:
		addr, err = btcutil.NewAddressWitnessPubKeyHash(b[:20], net)
	case 3:
		addr, err = btcutil.NewAddressWitnessScriptHash(b, net)
	default:
		addr, err = btcutil.NewAddressTaproot(b, net)
	}
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

// TestRoundTripRandom encodes random invoices with every field, decodes them, and checks that every
// field comes back, that the payee is the signer, and that the decoded invoice re-encodes identically.
func TestRoundTripRandom(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	key, _ := btcec.NewPrivateKey()
	signer := keySigner{key}
	n := 300
	if testing.Short() {
		n = 50
	}
	for i := 0; i < n; i++ {
		inv := randomInvoice(t, rng, key)
		s, err := inv.Encode(signer)
		if err != nil {
			t.Fatalf("#%d Encode: %v", i, err)
		}
		got, err := Decode(s, nil)
		if err != nil {
			t.Fatalf("#%d Decode(%s): %v", i, s, err)
		}
		sameFields(t, inv, got)
		if !got.Payee.IsEqual(key.PubKey()) || got.ExplicitPayee != inv.ExplicitPayee {
			t.Fatalf("#%d payee %x explicit %v", i, got.Payee.SerializeCompressed(), got.ExplicitPayee)
		}
		if again, err := got.EncodeSigned(); err != nil || again != s {
			t.Fatalf("#%d EncodeSigned = %v, %v", i, again, err)
		}
		if again, err := got.Encode(signer); err != nil || again != s {
			t.Fatalf("#%d re-sign = %v, %v", i, again, err)
		}
		if upper, err := Decode(strings.ToUpper(s), inv.Network); err != nil {
			t.Fatalf("#%d upper case: %v", i, err)
		} else {
			sameFields(t, inv, upper)
		}
		h1, err1 := inv.SigningHash()
		h2, err2 := got.SigningHash()
		if err1 != nil || err2 != nil || h1 != h2 {
			t.Fatalf("#%d signing hashes differ: %v %v", i, err1, err2)
		}
	}
}

// TestKeysManagerSigns signs with lnkit's own KeysManager, as ChannelManager will.
func TestKeysManagerSigns(t *testing.T) {
	km := keys.NewKeysManager([32]byte{7}, 1_700_000_000, 0)
	var hash [32]byte
	hash[0] = 1
	inv, err := New(&chaincfg.RegressionNetParams, hash, [32]byte{2}, time.Unix(1_700_000_000, 0),
		WithAmountMsat(50_000), WithDescription("lnkit"), WithExpiry(10*time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	s, err := inv.Encode(km)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(s, "lnbcrt500n1") {
		t.Errorf("invoice %s does not start with lnbcrt500n1", s)
	}
	got, err := Decode(s, &chaincfg.RegressionNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Payee.IsEqual(km.GetNodeID()) {
		t.Errorf("payee %x, want the node id %x", got.Payee.SerializeCompressed(), km.GetNodeID().SerializeCompressed())
	}
	// A signer whose key is not Payee is refused.
	inv.Payee = km.GetNodeID()
	other, _ := btcec.NewPrivateKey()
	if _, err := inv.Encode(keySigner{other}); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("foreign signer: %v, want ErrInvalidSignature", err)
	}
	if _, err := inv.Encode(km); err != nil {
		t.Errorf("own signer with Payee set: %v", err)
	}
}

func TestNewDefaults(t *testing.T) {
	inv, err := New(&chaincfg.MainNetParams, [32]byte{1}, [32]byte{2}, time.Unix(1_600_000_000, 5e8),
		WithDescription("d"), WithMetadata([]byte{1, 2}))
	if err != nil {
		t.Fatal(err)
	}
	if inv.AmountMsat != nil || inv.ExpirySeconds != nil || inv.MinFinalCLTVExpiryDelta != nil {
		t.Error("unset options must stay absent")
	}
	if inv.Timestamp.Unix() != 1_600_000_000 || inv.Timestamp.Nanosecond() != 0 {
		t.Errorf("timestamp %v not truncated to the second", inv.Timestamp)
	}
	want := []lnwire.FeatureBit{8, 14, 17, 48}
	if got := inv.Features.Bits(); len(got) != len(want) || got[3] != 48 {
		t.Errorf("features %v, want %v (metadata adds 48)", got, want)
	}
	if inv.ExplicitPayee || inv.Payee != nil {
		t.Error("no payee unless WithPayee")
	}
	// Neither or both descriptions.
	if _, err := New(&chaincfg.MainNetParams, [32]byte{}, [32]byte{}, time.Unix(1, 0)); !errors.Is(err, ErrInvalidDescription) {
		t.Errorf("no description: %v", err)
	}
	if _, err := New(nil, [32]byte{}, [32]byte{}, time.Unix(1, 0), WithDescription("")); !errors.Is(err, ErrUnknownNetwork) {
		t.Errorf("nil network: %v", err)
	}
	if _, err := New(&chaincfg.SimNetParams, [32]byte{}, [32]byte{}, time.Unix(1, 0), WithDescription("")); !errors.Is(err, ErrUnknownNetwork) {
		t.Errorf("simnet: %v", err)
	}
	if _, err := New(&chaincfg.MainNetParams, [32]byte{}, [32]byte{}, time.Unix(1, 0), WithDescription(""),
		WithExpiry(-time.Second)); err == nil {
		t.Error("negative expiry accepted")
	}
	// A custom signet counts as signet.
	custom := chaincfg.CustomSignetParams([]byte{0x51}, nil)
	inv, err = New(&custom, [32]byte{}, [32]byte{}, time.Unix(1, 0), WithDescription(""))
	if err != nil {
		t.Fatal(err)
	}
	key, _ := btcec.NewPrivateKey()
	s, err := inv.Encode(keySigner{key})
	if err != nil || !strings.HasPrefix(s, "lntbs1") {
		t.Fatalf("custom signet: %s, %v", s, err)
	}
	if got, err := Decode(s, &custom); err != nil || got.Network != &custom {
		t.Errorf("Decode for the custom signet: %v", err)
	}
}

func TestExpiryAndAmountAccessors(t *testing.T) {
	inv := &Invoice{Timestamp: time.Unix(1000, 0)}
	if inv.ExpiryOrDefault() != time.Hour || inv.ExpiresAt().Unix() != 4600 {
		t.Errorf("default expiry %v, expires at %v", inv.ExpiryOrDefault(), inv.ExpiresAt())
	}
	if inv.IsExpired(time.Unix(4599, 999_999_999)) || !inv.IsExpired(time.Unix(4600, 0)) {
		t.Error("expiry boundary wrong: expired at exactly timestamp+expiry")
	}
	if inv.MinFinalCLTVExpiryDeltaOrDefault() != 18 {
		t.Error("default cltv delta")
	}
	zero, big := uint64(0), uint64(math.MaxUint64)
	inv.ExpirySeconds = &zero
	if !inv.IsExpired(time.Unix(1000, 0)) || inv.IsExpired(time.Unix(999, 0)) {
		t.Error("zero expiry")
	}
	inv.ExpirySeconds = &big
	if inv.ExpiryOrDefault() != time.Duration(math.MaxInt64) || inv.IsExpired(time.Unix(1<<40, 0)) {
		t.Error("huge expiry must saturate, not wrap")
	}
	cltv := uint64(40)
	inv.MinFinalCLTVExpiryDelta = &cltv
	if inv.MinFinalCLTVExpiryDeltaOrDefault() != 40 {
		t.Error("explicit cltv delta")
	}
	if _, ok := inv.Amount(); ok {
		t.Error("no amount")
	}
	if _, ok := inv.AmountSat(); ok {
		t.Error("no amount in sat")
	}
	for _, c := range []struct{ msat, sat uint64 }{{1, 1}, {1000, 1}, {1001, 2}, {2_500_000, 2500}} {
		m := c.msat
		inv.AmountMsat = &m
		if got, ok := inv.Amount(); !ok || got != c.msat {
			t.Errorf("Amount %d", got)
		}
		if got, ok := inv.AmountSat(); !ok || uint64(got) != c.sat {
			t.Errorf("AmountSat(%d msat) = %d, want %d", c.msat, got, c.sat)
		}
	}
	if inv.MatchesDescription([]byte("x")) {
		t.Error("no h field matches nothing")
	}
}

// baseFields returns the fields of a minimal valid invoice (p, s, d, 9 with bits 8 and 14).
func baseFields() []TaggedField {
	var h [32]byte
	h[0] = 0xab
	return []TaggedField{
		{tagPaymentHash, encodeHash(h)},
		{tagPaymentSecret, encodeHash([32]byte{0x11})},
		{tagDescription, bytesToGroups([]byte("test"))},
		{tagFeatures, featureGroups(lnwire.NewFeatureVector(8, 14))},
	}
}

func with(fields []TaggedField, extra ...TaggedField) []TaggedField {
	return append(append([]TaggedField{}, fields...), extra...)
}

func without(fields []TaggedField, typ byte) []TaggedField {
	var out []TaggedField
	for _, f := range fields {
		if f.Type != typ {
			out = append(out, f)
		}
	}
	return out
}

// TestNonCanonicalPreserved decodes invoices whose fields use longer encodings than needed and checks
// that they come back byte for byte, and that a changed value is written in its minimal form.
func TestNonCanonicalPreserved(t *testing.T) {
	key, _ := btcec.NewPrivateKey()
	fields := with(baseFields(),
		TaggedField{tagExpiry, []byte{0, 0, 1, 28}},                   // 60 with two leading zero groups
		TaggedField{tagMinFinalCLTV, []byte{}},                        // 0 in zero groups
		TaggedField{tagDescriptionHash, make([]byte, 51)},             // wrong length: skipped
		TaggedField{tagPaymentHash, encodeHash([32]byte{9})},          // second p: skipped
		TaggedField{tagFallback, []byte{5, 1, 2, 3}},                  // witness version 5: skipped
		TaggedField{tagMetadata, append(bytesToGroups([]byte{1}), 0)}, // a spare group of padding
		TaggedField{2, []byte{1, 2, 3}},                               // unknown type
	)
	fields[2].Data = append(bytesToGroups([]byte("tests")), 0) // 45 bits: a spare group of padding
	fields[3].Data = append([]byte{0, 0}, fields[3].Data...)
	s := rawInvoice(t, "lnbc2000u", 1_500_000_000, fields, key)
	inv, err := Decode(s, &chaincfg.MainNetParams)
	if err != nil {
		t.Fatal(err)
	}
	if *inv.AmountMsat != 200_000_000 || *inv.ExpirySeconds != 60 || *inv.MinFinalCLTVExpiryDelta != 0 ||
		*inv.Description != "tests" || !bytes.Equal(inv.Metadata, []byte{1}) || len(inv.ExtraFields) != 4 {
		t.Fatalf("decoded %+v", inv)
	}
	if inv.PaymentHash[0] != 0xab {
		t.Error("the first p field must be used")
	}
	if out, err := inv.EncodeSigned(); err != nil || out != s {
		t.Fatalf("EncodeSigned:\n got  %s %v\n want %s", out, err, s)
	}
	if out, err := inv.Encode(keySigner{key}); err != nil || out != s {
		t.Fatalf("Encode:\n got  %s %v\n want %s", out, err, s)
	}

	// Change values: those fields and the amount are rewritten minimally, in place; the rest is kept.
	e, a := uint64(61), uint64(300_000_000)
	inv.ExpirySeconds, inv.AmountMsat = &e, &a
	out, err := inv.Encode(keySigner{key})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(out, "lnbc3m1") {
		t.Errorf("changed amount written as %s", out[:10])
	}
	got, err := Decode(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameFields(t, inv, got)
	_, data, _ := bech32.DecodeNoLimit(out)
	if x := findField(data, tagExpiry); !bytes.Equal(x, []byte{1, 29}) {
		t.Errorf("changed expiry written as %v, want minimal [1 29]", x)
	}
	if d := findField(data, tagDescription); len(d) != len(fields[2].Data) {
		t.Errorf("unchanged description re-encoded: %d groups, want the original %d", len(d), len(fields[2].Data))
	}

	// A `9` field without any bit set: kept as is when re-encoded.
	zero := with(without(baseFields(), tagFeatures), TaggedField{tagFeatures, []byte{0, 0}})
	s = rawInvoice(t, "lntb", 1, zero, key)
	inv, err = Decode(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !inv.Features.IsEmpty() {
		t.Errorf("features %v", inv.Features)
	}
	if out, err := inv.EncodeSigned(); err != nil || out != s {
		t.Errorf("zero features: %s %v, want %s", out, err, s)
	}
}

// findField returns the data of the first field of type typ in a data part (signature included).
func findField(data []byte, typ byte) []byte {
	d := data[timestampGroups : len(data)-signatureGroups]
	for len(d) >= 3 {
		n := int(d[1])<<5 | int(d[2])
		if d[0] == typ {
			return d[3 : 3+n]
		}
		d = d[3+n:]
	}
	return nil
}

// TestEditDecoded changes a decoded invoice and checks that the edit, and nothing else, changes.
func TestEditDecoded(t *testing.T) {
	const ignored = "lnbc25m1pvjluezpp5qqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqqqsyqcyq5rqwzqfqypqdq5vdhkven9v5sxyetpdeessp5zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zyg3zygs9q5sqqqqqqqqqqqqqqqqsgq2qrqqqfppnqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqppnqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqpp4qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqhpnqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqhp4qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqspnqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqsp4qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqnp5qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqnpkqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqz599y53s3ujmcfjp5xrdap68qxymkqphwsexhmhr8wdz5usdzkzrse33chw6dlp3jhuhge9ley7j2ayx36kawe7kmgg8sv5ugdyusdcqzn8z9x"
	inv, err := Decode(ignored, nil)
	if err != nil {
		t.Fatal(err)
	}
	key, _ := btcec.NewPrivateKey()
	edited := *inv
	edited.Payee = nil
	desc := "tea"
	edited.Description = &desc
	edited.AmountMsat = nil
	hopKey, _ := btcec.NewPrivateKey()
	edited.RouteHints = [][]HopHint{{{NodeID: hopKey.PubKey(), FeeBaseMsat: 1}}}
	out, err := edited.Encode(keySigner{key})
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(out, nil)
	if err != nil {
		t.Fatal(err)
	}
	sameFields(t, &edited, got)
	if len(got.ExtraFields) != 10 {
		t.Fatalf("%d extra fields kept", len(got.ExtraFields))
	}
	// The original is untouched by Encode and still re-encodes exactly.
	if s, err := inv.EncodeSigned(); err != nil || s != ignored {
		t.Errorf("original changed: %v", err)
	}
	// Dropping an extra field drops only it.
	edited.ExtraFields = edited.ExtraFields[1:]
	edited.layout = append([]layoutEntry{}, inv.layout...)
	if out, err = edited.Encode(keySigner{key}); err != nil {
		t.Fatal(err)
	}
	if got, err = Decode(out, nil); err != nil || len(got.ExtraFields) != 9 {
		t.Fatalf("after dropping one extra field: %v", err)
	}
}

// TestDecodeErrors feeds malformed invoices, each signed properly unless said otherwise.
func TestDecodeErrors(t *testing.T) {
	key, _ := btcec.NewPrivateKey()
	other, _ := btcec.NewPrivateKey()
	base := baseFields()
	nField := func(k *btcec.PrivateKey) TaggedField {
		return TaggedField{tagPayee, bytesToGroups(k.PubKey().SerializeCompressed())}
	}
	badPoint := make([]byte, 33)
	badPoint[0] = 2
	badPoint[1] = 0xff // x = 0xff00..00 is not on the curve? checked below by ParsePubKey anyway
	for i := 2; i < 33; i++ {
		badPoint[i] = 0xff
	}
	hop := make([]byte, hopHintSize)
	copy(hop, key.PubKey().SerializeCompressed())

	valid := rawInvoice(t, "lnbc", 1, base, key)
	if _, err := Decode(valid, nil); err != nil {
		t.Fatalf("base invoice refused: %v", err)
	}
	_, validData, _ := bech32.DecodeNoLimit(valid)
	bech32m, _ := bech32.EncodeM("lnbc", validData)
	badRecID := append([]byte{}, validData...)
	badRecID[len(badRecID)-1] |= 8 // recovery byte ends in the last groups: set a bit above 3
	badRecIDStr, _ := bech32.Encode("lnbc", badRecID)

	cases := []struct {
		name string
		s    string
		want error
	}{
		{"empty", "", ErrInvalidBech32},
		{"bad character", "lnbc1qqqqqqqqqqqqqqqbqqq", ErrInvalidBech32},
		{"non-ascii", "lnbc1qqqqqqqqqqqqqqq\x80qq", ErrInvalidBech32},
		{"bech32m checksum", bech32m, ErrInvalidChecksum},
		{"unknown prefix", rawInvoice(t, "lnxy", 1, base, key), ErrUnknownNetwork},
		{"not ln", rawInvoice(t, "bc", 1, base, key), ErrUnknownNetwork},
		{"simnet prefix", rawInvoice(t, "lnsb", 1, base, key), ErrUnknownNetwork},
		{"letters after prefix", rawInvoice(t, "lnbcx", 1, base, key), ErrUnknownNetwork},
		{"zero amount", rawInvoice(t, "lnbc0", 1, base, key), ErrInvalidAmount},
		{"leading zero", rawInvoice(t, "lnbc01m", 1, base, key), ErrInvalidAmount},
		{"overflowing amount", rawInvoice(t, "lnbc1000000000000", 1, base, key), ErrInvalidAmount},
		{"recovery id above 3", badRecIDStr, ErrInvalidSignature},
		{"no payment hash", rawInvoice(t, "lnbc", 1, without(base, tagPaymentHash), key), ErrMissingPaymentHash},
		{"short payment hash", rawInvoice(t, "lnbc", 1, with(without(base, tagPaymentHash),
			TaggedField{tagPaymentHash, make([]byte, 51)}), key), ErrMissingPaymentHash},
		{"no payment secret", rawInvoice(t, "lnbc", 1, without(base, tagPaymentSecret), key), ErrMissingPaymentSecret},
		{"no description", rawInvoice(t, "lnbc", 1, without(base, tagDescription), key), ErrInvalidDescription},
		{"both descriptions", rawInvoice(t, "lnbc", 1, with(base, TaggedField{tagDescriptionHash,
			encodeHash([32]byte{})}), key), ErrInvalidDescription},
		{"description not UTF-8", rawInvoice(t, "lnbc", 1, with(without(base, tagDescription),
			TaggedField{tagDescription, bytesToGroups([]byte{0xff, 0xfe})}), key), ErrInvalidDescription},
		{"unknown even feature", rawInvoice(t, "lnbc", 1, with(without(base, tagFeatures),
			TaggedField{tagFeatures, featureGroups(lnwire.NewFeatureVector(8, 14, 22))}), key),
			ErrUnknownRequiredFeature},
		{"basic_mpp without payment_secret", rawInvoice(t, "lnbc", 1, with(without(base, tagFeatures),
			TaggedField{tagFeatures, featureGroups(lnwire.NewFeatureVector(8, 17))}), key),
			lnwire.ErrMissingFeatureDependency},
		{"expiry over 64 bits", rawInvoice(t, "lnbc", 1, with(base, TaggedField{tagExpiry,
			append([]byte{16}, make([]byte, 12)...)}), key), ErrInvalidField},
		{"cltv over 64 bits", rawInvoice(t, "lnbc", 1, with(base, TaggedField{tagMinFinalCLTV,
			append([]byte{31}, make([]byte, 13)...)}), key), ErrInvalidField},
		{"n not a key", rawInvoice(t, "lnbc", 1, with(base, TaggedField{tagPayee, bytesToGroups(badPoint)}), key),
			ErrInvalidField},
		{"n of another key", rawInvoice(t, "lnbc", 1, with(base, nField(other)), key), ErrInvalidSignature},
		{"p2wpkh of 21 bytes", rawInvoice(t, "lnbc", 1, with(base, TaggedField{tagFallback,
			append([]byte{0}, bytesToGroups(make([]byte, 21))...)}), key), ErrInvalidField},
		{"p2pkh of 32 bytes", rawInvoice(t, "lnbc", 1, with(base, TaggedField{tagFallback,
			append([]byte{17}, bytesToGroups(make([]byte, 32))...)}), key), ErrInvalidField},
		{"p2sh of 19 bytes", rawInvoice(t, "lnbc", 1, with(base, TaggedField{tagFallback,
			append([]byte{18}, bytesToGroups(make([]byte, 19))...)}), key), ErrInvalidField},
		{"empty route hint", rawInvoice(t, "lnbc", 1, with(base, TaggedField{tagRouteHint, nil}), key),
			ErrInvalidField},
		{"route hint of 50 bytes", rawInvoice(t, "lnbc", 1, with(base, TaggedField{tagRouteHint,
			bytesToGroups(hop[:50])}), key), ErrInvalidField},
		{"route hint with a bad key", rawInvoice(t, "lnbc", 1, with(base, TaggedField{tagRouteHint,
			bytesToGroups(append(append([]byte{}, badPoint...), hop[33:]...))}), key), ErrInvalidField},
	}
	// Too short for the signature, and a field overrunning it.
	short, _ := bech32.Encode("lnbc", make([]byte, timestampGroups+signatureGroups-1))
	cases = append(cases, struct {
		name string
		s    string
		want error
	}{"too short", short, ErrInvalidLength})
	overrun := append(uintToFixedGroups(1, timestampGroups), tagDescription, 31, 31)
	overrun = append(overrun, make([]byte, signatureGroups)...)
	overrunStr, _ := bech32.Encode("lnbc", overrun)
	cases = append(cases, struct {
		name string
		s    string
		want error
	}{"field overruns", overrunStr, ErrInvalidLength})
	half := append(uintToFixedGroups(1, timestampGroups), tagDescription, 0)
	half = append(half, make([]byte, signatureGroups)...)
	halfStr, _ := bech32.Encode("lnbc", half)
	cases = append(cases, struct {
		name string
		s    string
		want error
	}{"half a field header", halfStr, ErrInvalidLength})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inv, err := Decode(c.s, nil)
			if inv != nil || !errors.Is(err, c.want) {
				t.Fatalf("Decode = %v, %v; want %v", inv != nil, err, c.want)
			}
		})
	}

	// And the good counterparts: a correct n field, high-S without n, unknown odd features.
	good := []struct {
		name   string
		s      string
		check  func(*Invoice) bool
		reason string
	}{
		{"n field", rawInvoice(t, "lnbc", 1, with(base, nField(key)), key),
			func(inv *Invoice) bool { return inv.ExplicitPayee && inv.Payee.IsEqual(key.PubKey()) }, "explicit payee"},
		{"odd unknown feature", rawInvoice(t, "lnbc", 1, with(without(base, tagFeatures),
			TaggedField{tagFeatures, featureGroups(lnwire.NewFeatureVector(8, 14, 1023))}), key),
			func(inv *Invoice) bool { return inv.Features.IsSet(1023) }, "bit 1023 kept"},
		{"var_onion_optin assumed", rawInvoice(t, "lnbc", 1, with(without(base, tagFeatures),
			TaggedField{tagFeatures, featureGroups(lnwire.NewFeatureVector(14, 16))}), key),
			func(inv *Invoice) bool { return inv.Features.IsSet(16) }, "payment_secret without bit 8"},
		{"no features", rawInvoice(t, "lnbc", 1, without(base, tagFeatures), key),
			func(inv *Invoice) bool { return inv.Features == nil }, "no 9 field"},
		{"witness v1 of 20 bytes skipped", rawInvoice(t, "lnbc", 1, with(base, TaggedField{tagFallback,
			append([]byte{1}, bytesToGroups(make([]byte, 20))...)}), key),
			func(inv *Invoice) bool { return len(inv.FallbackAddresses) == 0 && len(inv.ExtraFields) == 1 }, "kept as extra"},
		{"empty f skipped", rawInvoice(t, "lnbc", 1, with(base, TaggedField{tagFallback, nil}), key),
			func(inv *Invoice) bool { return len(inv.ExtraFields) == 1 }, "kept as extra"},
	}
	for _, c := range good {
		inv, err := Decode(c.s, nil)
		if err != nil || !c.check(inv) {
			t.Errorf("%s: %v (%s)", c.name, err, c.reason)
			continue
		}
		if out, err := inv.EncodeSigned(); err != nil || out != c.s {
			t.Errorf("%s: re-encoded %v", c.name, err)
		}
	}
}

func TestHighSSignatures(t *testing.T) {
	key, _ := btcec.NewPrivateKey()
	inv, err := New(&chaincfg.MainNetParams, [32]byte{1}, [32]byte{2}, time.Unix(1, 0), WithDescription("hi"))
	if err != nil {
		t.Fatal(err)
	}
	// Without n: a high-S signature is accepted through recovery.
	s, err := inv.Encode(highSSigner{key})
	if err != nil {
		t.Fatalf("high-S without n: %v", err)
	}
	got, err := Decode(s, nil)
	if err != nil || !got.Payee.IsEqual(key.PubKey()) {
		t.Fatalf("Decode high-S without n: %v", err)
	}
	var sc btcec.ModNScalar
	sc.SetByteSlice(got.Signature[32:])
	if !sc.IsOverHalfOrder() {
		t.Fatal("the test signer did not produce a high S")
	}
	// With n: refused, when encoding and when decoding.
	inv.Payee, inv.ExplicitPayee = key.PubKey(), true
	if _, err := inv.Encode(highSSigner{key}); !errors.Is(err, ErrHighSSignature) {
		t.Fatalf("Encode high-S with n: %v", err)
	}
	got.Payee, got.ExplicitPayee = key.PubKey(), true
	if _, err := got.EncodeSigned(); !errors.Is(err, ErrHighSSignature) {
		t.Fatalf("EncodeSigned high-S with n: %v", err)
	}
}

type failingSigner struct{ sig []byte }

var errSigner = errors.New("signer offline")

func (f failingSigner) SignInvoice(string, []byte) ([]byte, error) {
	if f.sig == nil {
		return nil, errSigner
	}
	return f.sig, nil
}

func TestEncodeErrors(t *testing.T) {
	key, _ := btcec.NewPrivateKey()
	fresh := func() *Invoice {
		inv, err := New(&chaincfg.TestNet3Params, [32]byte{1}, [32]byte{2}, time.Unix(1_000_000, 0),
			WithDescription("ok"))
		if err != nil {
			t.Fatal(err)
		}
		return inv
	}
	mainAddr, _ := btcutil.NewAddressWitnessPubKeyHash(make([]byte, 20), &chaincfg.MainNetParams)
	pubAddr, _ := btcutil.NewAddressPubKey(key.PubKey().SerializeCompressed(), &chaincfg.TestNet3Params)
	hop := HopHint{NodeID: key.PubKey()}
	zero := uint64(0)
	long := strings.Repeat("x", MaxFieldDataBytes+1)
	cases := []struct {
		name   string
		edit   func(*Invoice)
		signer Signer
		want   error
	}{
		{"nil network", func(i *Invoice) { i.Network = nil }, nil, ErrUnknownNetwork},
		{"zero amount", func(i *Invoice) { i.AmountMsat = &zero }, nil, ErrInvalidAmount},
		{"zero timestamp", func(i *Invoice) { i.Timestamp = time.Time{} }, nil, ErrInvalidTimestamp},
		{"timestamp 2^35", func(i *Invoice) { i.Timestamp = time.Unix(1<<35, 0) }, nil, ErrInvalidTimestamp},
		{"no secret", func(i *Invoice) { i.PaymentSecret = nil }, nil, ErrMissingPaymentSecret},
		{"no description", func(i *Invoice) { i.Description = nil }, nil, ErrInvalidDescription},
		{"both descriptions", func(i *Invoice) { i.DescriptionHash = &[32]byte{} }, nil, ErrInvalidDescription},
		{"long description", func(i *Invoice) { i.Description = &long }, nil, ErrInvalidDescription},
		{"description not UTF-8", func(i *Invoice) { d := "\xff"; i.Description = &d }, nil, ErrInvalidDescription},
		{"long metadata", func(i *Invoice) { i.Metadata = []byte(long) }, nil, ErrInvalidField},
		{"explicit payee without key", func(i *Invoice) { i.ExplicitPayee = true }, nil, ErrInvalidInvoice},
		{"mainnet fallback", func(i *Invoice) { i.FallbackAddresses = []btcutil.Address{mainAddr} }, nil, ErrInvalidFallback},
		{"p2pk fallback", func(i *Invoice) { i.FallbackAddresses = []btcutil.Address{pubAddr} }, nil, ErrInvalidFallback},
		{"empty route hint", func(i *Invoice) { i.RouteHints = [][]HopHint{{}} }, nil, ErrInvalidField},
		{"13 hops", func(i *Invoice) {
			i.RouteHints = [][]HopHint{make([]HopHint, 13)}
			for j := range i.RouteHints[0] {
				i.RouteHints[0][j] = hop
			}
		}, nil, ErrInvalidField},
		{"hop without key", func(i *Invoice) { i.RouteHints = [][]HopHint{{{}}} }, nil, ErrInvalidField},
		{"hop with a 25-bit block height", func(i *Invoice) {
			h := hop
			h.ShortChannelID.BlockHeight = 1 << 24
			i.RouteHints = [][]HopHint{{h}}
		}, nil, ErrInvalidField},
		{"unknown even feature", func(i *Invoice) { i.Features.Set(100) }, nil, ErrUnknownRequiredFeature},
		{"feature past the field", func(i *Invoice) { i.Features.Set(5115) }, nil, ErrInvalidField},
		{"basic_mpp alone", func(i *Invoice) { i.Features = lnwire.NewFeatureVector(17) }, nil,
			lnwire.ErrMissingFeatureDependency},
		{"extra field of a known kind", func(i *Invoice) {
			i.ExtraFields = []TaggedField{{tagRouteHint, bytesToGroups(make([]byte, hopHintSize))}}
		}, nil, ErrInvalidInvoice},
		{"extra p2wpkh fallback", func(i *Invoice) {
			i.ExtraFields = []TaggedField{{tagFallback, append([]byte{0}, bytesToGroups(make([]byte, 20))...)}}
		}, nil, ErrInvalidInvoice},
		{"extra d that would be read", func(i *Invoice) {
			i.Description, i.DescriptionHash = nil, &[32]byte{}
			i.ExtraFields = []TaggedField{{tagDescription, nil}}
		}, nil, ErrInvalidInvoice},
		{"extra type 32", func(i *Invoice) { i.ExtraFields = []TaggedField{{32, nil}} }, nil, ErrInvalidInvoice},
		{"extra group 32", func(i *Invoice) { i.ExtraFields = []TaggedField{{0, []byte{32}}} }, nil, ErrInvalidInvoice},
		{"extra too long", func(i *Invoice) { i.ExtraFields = []TaggedField{{0, make([]byte, 1024)}} }, nil,
			ErrInvalidInvoice},
		{"nil signer", func(*Invoice) {}, Signer(nil), ErrInvalidInvoice},
		{"signer error", func(*Invoice) {}, failingSigner{}, errSigner},
		{"short signature", func(*Invoice) {}, failingSigner{sig: make([]byte, 64)}, ErrInvalidSignature},
		{"bad header", func(*Invoice) {}, failingSigner{sig: make([]byte, 65)}, ErrInvalidSignature},
		{"unrecoverable", func(*Invoice) {}, failingSigner{sig: append([]byte{31}, make([]byte, 64)...)},
			ErrInvalidSignature},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			inv := fresh()
			c.edit(inv)
			signer := c.signer
			if signer == nil && c.name != "nil signer" {
				signer = keySigner{key}
			}
			if _, err := inv.Encode(signer); !errors.Is(err, c.want) {
				t.Fatalf("Encode: %v, want %v", err, c.want)
			}
		})
	}
	// EncodeSigned of an invoice never signed.
	if _, err := fresh().EncodeSigned(); !errors.Is(err, ErrInvalidSignature) {
		t.Errorf("EncodeSigned unsigned: %v", err)
	}
	if _, err := (&Invoice{}).SigningHash(); !errors.Is(err, ErrUnknownNetwork) {
		t.Errorf("SigningHash of an empty invoice: %v", err)
	}
}

// TestConcurrentUse reads one decoded invoice from many goroutines (run with -race).
func TestConcurrentUse(t *testing.T) {
	key, _ := btcec.NewPrivateKey()
	inv := randomInvoice(t, rand.New(rand.NewSource(4)), key)
	s, err := inv.Encode(keySigner{key})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := Decode(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if out, err := dec.EncodeSigned(); err != nil || out != s {
					t.Errorf("EncodeSigned: %v", err)
				}
				if _, err := dec.Encode(keySigner{key}); err != nil {
					t.Errorf("Encode: %v", err)
				}
				_ = dec.IsExpired(time.Unix(0, 0))
				_, _ = dec.SigningHash()
			}
		}()
	}
	wg.Wait()
}
