//go:build interop

package interop

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil/bech32"
)

// BOLT 11 tagged-field types (the bech32 value of the tag letter).
const (
	tagPaymentHash   = 1  // p
	tagPaymentSecret = 16 // s
	tagMinFinalCLTV  = 24 // c
)

// invoiceEdit says which fields of an lnd invoice forgeInvoice replaces; nil/zero keeps the field.
type invoiceEdit struct {
	paymentHash   *[32]byte
	paymentSecret *[32]byte
	minFinalCLTV  uint64 // 0: keep
}

// forgeInvoice rewrites fields of an invoice issued by l and signs the result with l's node key (through
// signrpc), so that the payer sees a valid invoice from l whose payment details l does not expect. This
// is how the suite makes lnkit pay lnd with an unknown payment hash, a wrong payment secret or a final
// CLTV delta below what lnd's invoice requires. The result is checked to recover l's node id.
func forgeInvoice(l *lnd, payReq string, edit invoiceEdit) (string, error) {
	hrp, data, err := bech32.DecodeNoLimit(payReq)
	if err != nil {
		return "", err
	}
	const sigWords = 104 // 65 bytes of signature and recovery id in 5-bit words
	if len(data) < 7+sigWords {
		return "", errors.New("invoice too short")
	}
	body := data[:len(data)-sigWords]
	out := append([]byte{}, body[:7]...) // timestamp
	sawC := false
	for i := 7; i < len(body); {
		if i+3 > len(body) {
			return "", errors.New("truncated tagged field")
		}
		typ := body[i]
		n := int(body[i+1])<<5 | int(body[i+2])
		if i+3+n > len(body) {
			return "", errors.New("tagged field overruns the invoice")
		}
		val := body[i+3 : i+3+n]
		switch {
		case typ == tagPaymentHash && edit.paymentHash != nil:
			val = bytesToWords(edit.paymentHash[:])
		case typ == tagPaymentSecret && edit.paymentSecret != nil:
			val = bytesToWords(edit.paymentSecret[:])
		case typ == tagMinFinalCLTV && edit.minFinalCLTV != 0:
			val, sawC = uintToWords(edit.minFinalCLTV), true
		}
		out = appendField(out, typ, val)
		i += 3 + n
	}
	if edit.minFinalCLTV != 0 && !sawC {
		out = appendField(out, tagMinFinalCLTV, uintToWords(edit.minFinalCLTV))
	}
	// The signature covers the human-readable part's bytes followed by the data part in 8-bit bytes
	// (zero-padded), hashed once with SHA-256 (BOLT 11, "Requirements" of the signature field).
	msgBytes, err := bech32.ConvertBits(out, 5, 8, true)
	if err != nil {
		return "", err
	}
	msg := append([]byte(hrp), msgBytes...)
	sig, err := l.signCompact(msg)
	if err != nil {
		return "", fmt.Errorf("signing the forged invoice: %w", err)
	}
	digest := sha256.Sum256(msg)
	pub, _, err := ecdsa.RecoverCompact(sig, digest[:])
	if err != nil {
		return "", err
	}
	if got := hex.EncodeToString(pub.SerializeCompressed()); got != l.id() {
		return "", fmt.Errorf("forged invoice signature recovers %s, want %s", got, l.id())
	}
	// Compact signatures start with 27 + 4 (compressed key) + recovery id; BOLT 11 puts R||S first and the
	// recovery id (0..3) last.
	rsv := append(append([]byte{}, sig[1:]...), sig[0]-27-4)
	out = append(out, bytesToWords(rsv)...)
	return bech32.Encode(hrp, out)
}

func appendField(out []byte, typ byte, val []byte) []byte {
	return append(append(out, typ, byte(len(val)>>5), byte(len(val)&31)), val...)
}

func bytesToWords(b []byte) []byte {
	w, err := bech32.ConvertBits(b, 8, 5, true)
	if err != nil {
		panic(err)
	}
	return w
}

// uintToWords is v big-endian in the fewest 5-bit words.
func uintToWords(v uint64) []byte {
	var w []byte
	for v > 0 {
		w = append([]byte{byte(v & 31)}, w...)
		v >>= 5
	}
	if len(w) == 0 {
		w = []byte{0}
	}
	return w
}
