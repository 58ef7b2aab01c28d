package invoice

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/bech32"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/lnkit/lnkit/lnwire"
)

// Decode parses and checks the BOLT 11 invoice s (all lower case or all upper case).
//
// net selects the network the invoice must be for; nil accepts lnbc, lntb, lntbs and lnbcrt and sets
// Network to the matching chaincfg parameters. When the invoice has an `n` field the signature is
// verified against it (and must be low-S); otherwise the payee is recovered from the signature (high or
// low S). Fields a reader must skip are kept in ExtraFields.
//
// Errors: ErrInvalidBech32 (ErrMissingSeparator, ErrMixedCase), ErrInvalidChecksum, ErrUnknownNetwork,
// ErrNetworkMismatch, ErrInvalidAmount (ErrInvalidMultiplier, ErrSubMsatPrecision), ErrInvalidLength,
// ErrInvalidField, ErrInvalidDescription, ErrMissingPaymentHash, ErrMissingPaymentSecret,
// ErrUnknownRequiredFeature, lnwire.ErrMissingFeatureDependency (basic_mpp without payment_secret),
// ErrInvalidSignature (ErrHighSSignature). It never panics.
//
// Source: BOLT 11, "Encoding Overview", "Human-Readable Part", "Data Part", "Tagged Fields" and "Feature
// Bits" (reader requirements).
func Decode(s string, net *chaincfg.Params) (*Invoice, error) {
	hrp, data, version, err := bech32.DecodeNoLimitWithVersion(s)
	if err != nil {
		return nil, bech32Error(err)
	}
	if version != bech32.Version0 {
		return nil, fmt.Errorf("%w: bech32m checksum", ErrInvalidChecksum)
	}

	params, amountText, err := splitHRP(hrp)
	if err != nil {
		return nil, err
	}
	if net != nil {
		want, err := prefixFor(net)
		if err != nil {
			return nil, err
		}
		if got, _ := prefixFor(params); got != want {
			return nil, fmt.Errorf("%w: prefix %s, expected %s", ErrNetworkMismatch, got, want)
		}
		params = net
	}
	inv := &Invoice{Network: params}
	if amountText != "" {
		msat, err := parseAmount(amountText)
		if err != nil {
			return nil, err
		}
		inv.AmountMsat, inv.amountRaw = &msat, amountText
	}

	if len(data) < timestampGroups+signatureGroups {
		return nil, fmt.Errorf("%w: %d data characters, need at least %d", ErrInvalidLength, len(data),
			timestampGroups+signatureGroups)
	}
	sigStart := len(data) - signatureGroups
	ts, _ := groupsToUint(data[:timestampGroups])
	inv.Timestamp = time.Unix(int64(ts), 0).UTC()

	if err := inv.decodeFields(data[timestampGroups:sigStart]); err != nil {
		return nil, err
	}
	if err := inv.checkSemantics(); err != nil {
		return nil, err
	}

	sig := groupsToBytes(data[sigStart:], false)
	copy(inv.Signature[:], sig[:64])
	inv.RecoveryID = sig[64]
	var explicit *btcec.PublicKey
	if inv.ExplicitPayee {
		explicit = inv.Payee
	}
	payee, err := checkSignature(signingHash(hrp, data[:sigStart]), inv.Signature, inv.RecoveryID, explicit)
	if err != nil {
		return nil, err
	}
	inv.Payee = payee
	return inv, nil
}

// bech32Error maps an error of the bech32 package to this package's sentinels.
func bech32Error(err error) error {
	var (
		mixed    bech32.ErrMixedCase
		sep      bech32.ErrInvalidSeparatorIndex
		checksum bech32.ErrInvalidChecksum
	)
	switch {
	case errors.As(err, &mixed):
		return fmt.Errorf("%w: %v", ErrMixedCase, err)
	case errors.As(err, &sep):
		return fmt.Errorf("%w: %v", ErrMissingSeparator, err)
	case errors.As(err, &checksum):
		return fmt.Errorf("%w: %v", ErrInvalidChecksum, err)
	default:
		return fmt.Errorf("%w: %v", ErrInvalidBech32, err)
	}
}

// singleValued reports whether only the first readable field of type typ is used (all but `f` and `r`).
func singleValued(typ byte) bool {
	switch typ {
	case tagPaymentHash, tagPaymentSecret, tagDescription, tagDescriptionHash, tagPayee, tagExpiry,
		tagMinFinalCLTV, tagFeatures, tagMetadata:
		return true
	}
	return false
}

// classify reports whether a reader decodes the field (true) or skips it (false), given which
// single-valued types it has already decoded (seen, updated). BOLT 11, "Tagged Fields": skip unknown
// types, `p`, `h`, `s`, `n` of the wrong length and `f` of an unknown version; this package also skips
// `f` fields it cannot represent (witness version 1 with a program other than 32 bytes, 2 to 16) and
// repeats of single-valued fields.
func classify(typ byte, data []byte, seen *[32]bool) bool {
	known := false
	switch typ {
	case tagPaymentHash, tagPaymentSecret, tagDescriptionHash:
		known = len(data) == hash256Groups && !seen[typ]
	case tagPayee:
		known = len(data) == pubkeyGroups && !seen[typ]
	case tagDescription, tagExpiry, tagMinFinalCLTV, tagFeatures, tagMetadata:
		known = !seen[typ]
	case tagFallback:
		if len(data) > 0 {
			switch data[0] {
			case 0, 17, 18:
				known = true
			case 1:
				known = (len(data)-1)*5/8 == 32
			}
		}
	case tagRouteHint:
		known = true
	}
	if known && singleValued(typ) {
		seen[typ] = true
	}
	return known
}

// decodeFields reads the tagged fields (the data part between the timestamp and the signature).
func (inv *Invoice) decodeFields(d []byte) error {
	var seen [32]bool
	for len(d) > 0 {
		if len(d) < fieldHeaderGroup {
			return fmt.Errorf("%w: %d characters left before the signature, too few for a field",
				ErrInvalidLength, len(d))
		}
		typ := d[0]
		n := int(d[1])<<5 | int(d[2])
		if len(d) < fieldHeaderGroup+n {
			return fmt.Errorf("%w: field %c of data_length %d overruns the signature", ErrInvalidLength,
				bech32Alphabet[typ], n)
		}
		data := bytes.Clone(d[fieldHeaderGroup : fieldHeaderGroup+n])
		d = d[fieldHeaderGroup+n:]

		if !classify(typ, data, &seen) {
			inv.layout = append(inv.layout, layoutEntry{typ: typ, extra: len(inv.ExtraFields), raw: data})
			inv.ExtraFields = append(inv.ExtraFields, TaggedField{Type: typ, Data: data})
			continue
		}
		canon, err := inv.decodeField(typ, data)
		if err != nil {
			return err
		}
		inv.layout = append(inv.layout, layoutEntry{typ: typ, extra: -1, raw: data, canon: canon})
	}
	return nil
}

// decodeField stores the value of a field classify accepted and returns the groups that value encodes
// to (nil for a `9` field without any bit set, which a writer omits).
func (inv *Invoice) decodeField(typ byte, data []byte) ([]byte, error) {
	switch typ {
	case tagPaymentHash:
		copy(inv.PaymentHash[:], groupsToBytes(data, false))
		return encodeHash(inv.PaymentHash), nil

	case tagPaymentSecret:
		var secret [32]byte
		copy(secret[:], groupsToBytes(data, false))
		inv.PaymentSecret = &secret
		return encodeHash(secret), nil

	case tagDescriptionHash:
		var h [32]byte
		copy(h[:], groupsToBytes(data, false))
		inv.DescriptionHash = &h
		return encodeHash(h), nil

	case tagDescription:
		b := groupsToBytes(data, false)
		if !utf8.Valid(b) {
			return nil, fmt.Errorf("%w: d field is not UTF-8", ErrInvalidDescription)
		}
		desc := string(b)
		inv.Description = &desc
		return bytesToGroups(b), nil

	case tagPayee:
		key, err := btcec.ParsePubKey(groupsToBytes(data, false))
		if err != nil {
			return nil, fmt.Errorf("%w: n field: %v", ErrInvalidField, err)
		}
		inv.Payee, inv.ExplicitPayee = key, true
		return bytesToGroups(key.SerializeCompressed()), nil

	case tagExpiry, tagMinFinalCLTV:
		v, ok := groupsToUint(data)
		if !ok {
			return nil, fmt.Errorf("%w: %c field exceeds 64 bits", ErrInvalidField, bech32Alphabet[typ])
		}
		if typ == tagExpiry {
			inv.ExpirySeconds = &v
		} else {
			inv.MinFinalCLTVExpiryDelta = &v
		}
		return uintToGroups(v), nil

	case tagFeatures:
		fv := featuresFromGroups(data)
		inv.Features = fv
		return featureGroups(fv), nil

	case tagMetadata:
		inv.Metadata = groupsToBytes(data, false)
		return bytesToGroups(inv.Metadata), nil

	case tagFallback:
		addr, err := decodeFallback(data, inv.Network)
		if err != nil {
			return nil, err
		}
		inv.FallbackAddresses = append(inv.FallbackAddresses, addr)
		return encodeFallback(addr, inv.Network)

	case tagRouteHint:
		hops, err := decodeRouteHint(data)
		if err != nil {
			return nil, err
		}
		inv.RouteHints = append(inv.RouteHints, hops)
		return encodeRouteHint(hops)
	}
	return nil, fmt.Errorf("%w: type %d", ErrInvalidField, typ) // not reached: classify knows these
}

// decodeFallback reads an `f` field: a 5-bit version, then a witness program (version 0 or 1), a public
// key hash (17) or a script hash (18), BOLT 11, "Tagged Fields".
func decodeFallback(data []byte, net *chaincfg.Params) (btcutil.Address, error) {
	version := data[0]
	prog := groupsToBytes(data[1:], false)
	var (
		addr btcutil.Address
		err  error
	)
	switch {
	case version == 0 && len(prog) == 20:
		addr, err = btcutil.NewAddressWitnessPubKeyHash(prog, net)
	case version == 0 && len(prog) == 32:
		addr, err = btcutil.NewAddressWitnessScriptHash(prog, net)
	case version == 1 && len(prog) == 32:
		addr, err = btcutil.NewAddressTaproot(prog, net)
	case version == 17 && len(prog) == 20:
		addr, err = btcutil.NewAddressPubKeyHash(prog, net)
	case version == 18 && len(prog) == 20:
		addr, err = btcutil.NewAddressScriptHashFromHash(prog, net)
	default:
		return nil, fmt.Errorf("%w: f field version %d with a %d-byte program", ErrInvalidField, version,
			len(prog))
	}
	if err != nil {
		return nil, fmt.Errorf("%w: f field: %v", ErrInvalidField, err)
	}
	return addr, nil
}

// decodeRouteHint reads an `r` field: one or more 51-byte hops.
func decodeRouteHint(data []byte) ([]HopHint, error) {
	b := groupsToBytes(data, false)
	if len(b) == 0 || len(b)%hopHintSize != 0 {
		return nil, fmt.Errorf("%w: r field of %d bytes is not a whole number of %d-byte hops",
			ErrInvalidField, len(b), hopHintSize)
	}
	hops := make([]HopHint, 0, len(b)/hopHintSize)
	for ; len(b) > 0; b = b[hopHintSize:] {
		key, err := btcec.ParsePubKey(b[:33])
		if err != nil {
			return nil, fmt.Errorf("%w: r field: %v", ErrInvalidField, err)
		}
		hops = append(hops, HopHint{
			NodeID:                    key,
			ShortChannelID:            lnwire.NewShortChannelIDFromUint64(be64(b[33:41])),
			FeeBaseMsat:               uint32(be64(b[41:45])),
			FeeProportionalMillionths: uint32(be64(b[45:49])),
			CLTVExpiryDelta:           uint16(be64(b[49:51])),
		})
	}
	return hops, nil
}

// be64 reads up to 8 bytes as a big-endian number.
func be64(b []byte) uint64 {
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v
}

// featuresFromGroups reads a `9` field: a big-endian bitfield whose bit 0 is the lowest bit of the last
// group (BOLT 11, "Feature Bits").
func featuresFromGroups(data []byte) *lnwire.FeatureVector {
	fv := lnwire.NewFeatureVector()
	n := len(data)
	for i, g := range data {
		for b := 0; b < 5; b++ {
			if g&(1<<b) != 0 {
				fv.Set(lnwire.FeatureBit((n-1-i)*5 + b))
			}
		}
	}
	return fv
}

// checkSemantics applies the reader requirements on the set of fields: exactly one payment hash and
// payment secret, exactly one of `d` and `h`, no unknown even feature bit and the features' dependencies.
func (inv *Invoice) checkSemantics() error {
	var hasHash bool
	for _, e := range inv.layout {
		if e.extra < 0 && e.typ == tagPaymentHash {
			hasHash = true
		}
	}
	if !hasHash {
		return ErrMissingPaymentHash
	}
	if inv.PaymentSecret == nil {
		return ErrMissingPaymentSecret
	}
	if (inv.Description == nil) == (inv.DescriptionHash == nil) {
		return fmt.Errorf("%w: need exactly one of a d and an h field", ErrInvalidDescription)
	}
	return checkFeatures(inv.Features)
}

// checkFeatures refuses unknown even bits (BOLT 11, "Feature Bits": MUST fail the payment) and a
// feature set without its dependency (MUST NOT attempt the payment). var_onion_optin is ASSUMED (BOLT 9),
// so payment_secret does not need bit 8 or 9 here.
func checkFeatures(fv *lnwire.FeatureVector) error {
	known := KnownFeatures()
	for _, b := range fv.Bits() {
		if b.IsRequired() && !known.IsSet(b) {
			return fmt.Errorf("%w: bit %d", ErrUnknownRequiredFeature, uint32(b))
		}
	}
	if fv.Supports(lnwire.BasicMPPRequired) && !fv.Supports(lnwire.PaymentSecretRequired) {
		return fmt.Errorf("invoice: %w: basic_mpp without payment_secret", lnwire.ErrMissingFeatureDependency)
	}
	return nil
}

// signingHash is SHA256 of the human-readable part (lower case) followed by the data part without the
// signature, packed into bytes with zero padding (BOLT 11, "Data Part").
func signingHash(hrp string, data []byte) [32]byte {
	h := sha256.New()
	h.Write([]byte(hrp))
	h.Write(groupsToBytes(data, true))
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// checkSignature checks an invoice signature over hash. With explicit (the `n` field) it verifies
// against that key and requires the low-S form; otherwise it recovers the key, accepting high or low S
// (BOLT 11, "Tagged Fields", reader). It returns the payee's key.
func checkSignature(hash [32]byte, sig [64]byte, recoveryID byte, explicit *btcec.PublicKey) (*btcec.PublicKey, error) {
	if recoveryID > 3 {
		return nil, fmt.Errorf("%w: recovery id %d", ErrInvalidSignature, recoveryID)
	}
	if explicit != nil {
		var r, s btcec.ModNScalar
		if r.SetByteSlice(sig[:32]) || s.SetByteSlice(sig[32:]) || r.IsZero() || s.IsZero() {
			return nil, fmt.Errorf("%w: r or s out of range", ErrInvalidSignature)
		}
		if s.IsOverHalfOrder() {
			return nil, ErrHighSSignature
		}
		if !ecdsa.NewSignature(&r, &s).Verify(hash[:], explicit) {
			return nil, fmt.Errorf("%w: not made by the n field's key", ErrInvalidSignature)
		}
		return explicit, nil
	}
	var compact [65]byte
	compact[0] = 27 + 4 + recoveryID
	copy(compact[1:], sig[:])
	key, _, err := ecdsa.RecoverCompact(compact[:], hash[:])
	if err != nil {
		return nil, fmt.Errorf("%w: public key recovery failed (%v)", ErrInvalidSignature, err)
	}
	return key, nil
}
