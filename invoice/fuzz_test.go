package invoice

import (
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/bech32"
)

// fuzzKey signs the fuzzer's re-encodings.
var fuzzKey, _ = btcec.PrivKeyFromBytes([]byte{0x42, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
	18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31})

// FuzzDecode checks that Decode never panics, that an invoice it accepts re-encodes with its own
// signature to exactly the input (in lower case) and decodes again to the same fields, and that it can
// be signed anew (by another key) into an invoice that decodes to the same fields.
func FuzzDecode(f *testing.F) {
	var valid validFile
	readJSON(f, "valid-invoices.json", &valid)
	for _, v := range valid.Invoices {
		f.Add(v.Invoice)
	}
	var invalid invalidFile
	readJSON(f, "invalid-invoices.json", &invalid)
	for _, v := range invalid.Invoices {
		f.Add(v.Invoice)
	}
	for _, s := range []string{"", "lnbc1", "lnbc1qqqqqqqq", "LNBC10U1", "lntbs1", "lnbcrt1"} {
		f.Add(s)
	}
	f.Fuzz(checkDecoded)
}

// checkDecoded is the property both fuzz targets check on the string s.
func checkDecoded(t *testing.T, s string) {
	inv, err := Decode(s, nil)
	if err != nil {
		if inv != nil {
			t.Fatalf("invoice returned with error %v", err)
		}
		return
	}
	out, err := inv.EncodeSigned()
	if err != nil {
		t.Fatalf("decoded invoice does not re-encode: %v", err)
	}
	if out != strings.ToLower(s) {
		t.Fatalf("re-encoded differently:\n in  %s\n out %s", s, out)
	}
	again, err := Decode(out, inv.Network)
	if err != nil {
		t.Fatalf("re-encoded invoice refused: %v", err)
	}
	sameFields(t, inv, again)
	if !again.Payee.IsEqual(inv.Payee) || again.Signature != inv.Signature {
		t.Fatal("payee or signature changed")
	}

	// Signed anew by another key (with an n field if it had one).
	resigned := *inv
	resigned.Payee = fuzzKey.PubKey()
	if !inv.ExplicitPayee {
		resigned.Payee = nil
	}
	out, err = resigned.Encode(keySigner{fuzzKey})
	if err != nil {
		t.Fatalf("decoded invoice cannot be signed anew: %v", err)
	}
	again, err = Decode(out, nil)
	if err != nil {
		t.Fatalf("re-signed invoice refused: %v", err)
	}
	sameFields(t, inv, again)
	if !again.Payee.IsEqual(fuzzKey.PubKey()) || again.ExplicitPayee != inv.ExplicitPayee {
		t.Fatal("re-signed payee wrong")
	}
}

// FuzzDecodeData fuzzes the data part behind a valid checksum (and, when sign is set, a valid signature
// by fuzzKey), which random strings almost never reach: hrp is the human-readable part, fields the
// tagged fields as 5-bit groups (each byte taken modulo 32). The checks are FuzzDecode's.
func FuzzDecodeData(f *testing.F) {
	f.Add("lnbc", uint64(1496314658), []byte{1, 1, 20}, true)
	base := []byte{}
	for _, tf := range baseFields() {
		base = append(base, tf.Type, byte(len(tf.Data)>>5), byte(len(tf.Data)&31))
		base = append(base, tf.Data...)
	}
	f.Add("lnbc2500u", uint64(1), base, true)
	f.Add("lntb20m", uint64(1<<35-1), append(append([]byte{}, base...), 9, 1, 1, 17, 0, 0), true)
	f.Add("lnbcrt10p", uint64(0), append(append([]byte{}, base...), 19, 1, 21, 0), false)
	f.Fuzz(func(t *testing.T, hrp string, timestamp uint64, fields []byte, sign bool) {
		data := uintToFixedGroups(timestamp&(1<<35-1), timestampGroups)
		for _, g := range fields {
			data = append(data, g&31)
		}
		if sign {
			sig := keySigner{fuzzKey}
			compact, _ := sig.SignInvoice(strings.ToLower(hrp), data)
			data = append(data, bytesToGroups(append(compact[1:], compact[0]-31))...)
		}
		s, err := bech32.Encode(hrp, data)
		if err != nil {
			return
		}
		checkDecoded(t, s)
	})
}
