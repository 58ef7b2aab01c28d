package invoice

import (
	"bytes"
	"fmt"
	"unicode/utf8"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/bech32"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/lnkit/lnkit/lnwire"
)

// Encode checks the invoice, signs it with signer and returns it as a lower-case bech32 string (use
// strings.ToUpper for a QR code). The invoice itself is not modified: Decode the result to get the
// signed Invoice.
//
// The fields of a decoded invoice are written in the order they were read, with their original encoding
// when their value is unchanged, and ExtraFields in their places; fields added since, or of an invoice
// built by New, follow in the order p, s, d, h, m, n, x, c, f, r, 9.
//
// Errors: ErrUnknownNetwork, ErrInvalidTimestamp, ErrInvalidAmount, ErrMissingPaymentSecret,
// ErrInvalidDescription, ErrInvalidField, ErrInvalidFallback, ErrUnknownRequiredFeature,
// lnwire.ErrMissingFeatureDependency, ErrInvalidInvoice (nil signer, ExplicitPayee without Payee, an
// extra field a reader would not skip), ErrInvalidSignature when the signer's signature does not check
// (ErrHighSSignature with ExplicitPayee) or its key is not Payee, or the signer's own error.
//
// Source: BOLT 11, writer requirements of "Human-Readable Part", "Data Part", "Tagged Fields".
func (inv *Invoice) Encode(signer Signer) (string, error) {
	if signer == nil {
		return "", fmt.Errorf("%w: nil signer", ErrInvalidInvoice)
	}
	hrp, data, err := inv.serialize()
	if err != nil {
		return "", err
	}
	hash := signingHash(hrp, data)
	compact, err := signer.SignInvoice(hrp, data)
	if err != nil {
		return "", fmt.Errorf("invoice: signing: %w", err)
	}
	if len(compact) != 65 || compact[0] < 27 || compact[0] > 34 {
		return "", fmt.Errorf("%w: signer returned a malformed compact signature", ErrInvalidSignature)
	}
	var sig [64]byte
	copy(sig[:], compact[1:])
	return inv.finish(hrp, data, hash, sig, (compact[0]-27)&3)
}

// EncodeSigned returns the invoice as a lower-case bech32 string carrying Signature and RecoveryID, as
// Decode left them: a decoded invoice comes back exactly as it was read (in lower case). The signature
// is checked as Decode checks it.
//
// Errors: those of Encode, without the signer's.
func (inv *Invoice) EncodeSigned() (string, error) {
	hrp, data, err := inv.serialize()
	if err != nil {
		return "", err
	}
	return inv.finish(hrp, data, signingHash(hrp, data), inv.Signature, inv.RecoveryID)
}

// SigningHash returns the digest the payee signs: SHA256 of the human-readable part and the data part
// without the signature, padded to a whole byte with zero bits (BOLT 11, "Data Part"). Errors: those
// Encode returns before signing.
func (inv *Invoice) SigningHash() ([32]byte, error) {
	hrp, data, err := inv.serialize()
	if err != nil {
		return [32]byte{}, err
	}
	return signingHash(hrp, data), nil
}

// finish checks the signature over hash and appends it to the data part.
func (inv *Invoice) finish(hrp string, data []byte, hash [32]byte, sig [64]byte, recoveryID byte) (string, error) {
	var explicit *btcec.PublicKey
	if inv.ExplicitPayee {
		explicit = inv.Payee
	}
	key, err := checkSignature(hash, sig, recoveryID, explicit)
	if err != nil {
		return "", err
	}
	if inv.Payee != nil && !key.IsEqual(inv.Payee) {
		return "", fmt.Errorf("%w: signed by %x, not by Payee", ErrInvalidSignature, key.SerializeCompressed())
	}
	sigBytes := append(sig[:], recoveryID)
	out, err := bech32.Encode(hrp, append(data, bytesToGroups(sigBytes)...))
	if err != nil { // not reached: every group is below 32
		return "", fmt.Errorf("%w: %v", ErrInvalidInvoice, err)
	}
	return out, nil
}

// outField is a tagged field about to be written.
type outField struct {
	typ   byte
	data  []byte
	extra bool
}

// defaultOrder is the order of the fields that have no place from a decoded layout.
var defaultOrder = []byte{tagPaymentHash, tagPaymentSecret, tagDescription, tagDescriptionHash, tagMetadata,
	tagPayee, tagExpiry, tagMinFinalCLTV, tagFallback, tagRouteHint, tagFeatures}

// serialize checks the invoice and returns its human-readable part and its data part without the
// signature (5-bit groups).
func (inv *Invoice) serialize() (string, []byte, error) {
	hrp, err := prefixFor(inv.Network)
	if err != nil {
		return "", nil, err
	}
	if inv.AmountMsat != nil {
		msat := *inv.AmountMsat
		if msat == 0 {
			return "", nil, fmt.Errorf("%w: zero", ErrInvalidAmount)
		}
		if raw, err := parseAmountIfAny(inv.amountRaw); err == nil && raw == msat {
			hrp += inv.amountRaw
		} else {
			hrp += formatAmount(msat)
		}
	}
	secs := inv.Timestamp.Unix()
	if secs < 0 || uint64(secs) > MaxTimestamp {
		return "", nil, fmt.Errorf("%w: %d seconds", ErrInvalidTimestamp, secs)
	}

	fresh, err := inv.freshFields()
	if err != nil {
		return "", nil, err
	}
	for i, f := range inv.ExtraFields {
		if f.Type > 31 || len(f.Data) > maxFieldGroups {
			return "", nil, fmt.Errorf("%w: extra field %d: type %d, %d groups", ErrInvalidInvoice, i, f.Type,
				len(f.Data))
		}
		for _, g := range f.Data {
			if g > 31 {
				return "", nil, fmt.Errorf("%w: extra field %d: group value %d", ErrInvalidInvoice, i, g)
			}
		}
	}
	fields := inv.mergeLayout(fresh)

	// Every field must read back as what it is: a known field decoded, an extra one skipped.
	var seen [32]bool
	for _, f := range fields {
		if classify(f.typ, f.data, &seen) == f.extra {
			if f.extra {
				return "", nil, fmt.Errorf("%w: extra field %c (type %d, %d groups) would not be skipped by a reader",
					ErrInvalidInvoice, bech32Alphabet[f.typ], f.typ, len(f.data))
			}
			return "", nil, fmt.Errorf("%w: field %c (type %d, %d groups) would be skipped by a reader",
				ErrInvalidInvoice, bech32Alphabet[f.typ], f.typ, len(f.data))
		}
	}

	size := timestampGroups
	for _, f := range fields {
		size += fieldHeaderGroup + len(f.data)
	}
	data := make([]byte, 0, size+signatureGroups)
	data = append(data, uintToFixedGroups(uint64(secs), timestampGroups)...)
	for _, f := range fields {
		data = append(data, f.typ, byte(len(f.data)>>5), byte(len(f.data)&31))
		data = append(data, f.data...)
	}
	return hrp, data, nil
}

// parseAmountIfAny parses a remembered amount text; "" (none) is an error.
func parseAmountIfAny(s string) (uint64, error) {
	if s == "" {
		return 0, ErrInvalidAmount
	}
	return parseAmount(s)
}

// freshFields encodes every field the invoice's values call for, by type, each in its minimal form.
func (inv *Invoice) freshFields() (map[byte][][]byte, error) {
	fresh := make(map[byte][][]byte)
	add := func(typ byte, data []byte) { fresh[typ] = append(fresh[typ], data) }

	add(tagPaymentHash, encodeHash(inv.PaymentHash))
	if inv.PaymentSecret == nil {
		return nil, ErrMissingPaymentSecret
	}
	add(tagPaymentSecret, encodeHash(*inv.PaymentSecret))
	switch {
	case (inv.Description == nil) == (inv.DescriptionHash == nil):
		return nil, fmt.Errorf("%w: need exactly one of Description and DescriptionHash", ErrInvalidDescription)
	case inv.Description != nil:
		d := *inv.Description
		if !utf8.ValidString(d) || len(d) > MaxFieldDataBytes {
			return nil, fmt.Errorf("%w: not UTF-8 or longer than %d bytes", ErrInvalidDescription,
				MaxFieldDataBytes)
		}
		add(tagDescription, bytesToGroups([]byte(d)))
	default:
		add(tagDescriptionHash, encodeHash(*inv.DescriptionHash))
	}
	if inv.Metadata != nil {
		if len(inv.Metadata) > MaxFieldDataBytes {
			return nil, fmt.Errorf("%w: metadata longer than %d bytes", ErrInvalidField, MaxFieldDataBytes)
		}
		add(tagMetadata, bytesToGroups(inv.Metadata))
	}
	if inv.ExplicitPayee {
		if inv.Payee == nil {
			return nil, fmt.Errorf("%w: ExplicitPayee without Payee", ErrInvalidInvoice)
		}
		add(tagPayee, bytesToGroups(inv.Payee.SerializeCompressed()))
	}
	if inv.ExpirySeconds != nil {
		add(tagExpiry, uintToGroups(*inv.ExpirySeconds))
	}
	if inv.MinFinalCLTVExpiryDelta != nil {
		add(tagMinFinalCLTV, uintToGroups(*inv.MinFinalCLTVExpiryDelta))
	}
	for _, addr := range inv.FallbackAddresses {
		g, err := encodeFallback(addr, inv.Network)
		if err != nil {
			return nil, err
		}
		add(tagFallback, g)
	}
	for _, hops := range inv.RouteHints {
		g, err := encodeRouteHint(hops)
		if err != nil {
			return nil, err
		}
		add(tagRouteHint, g)
	}
	if err := checkFeatures(inv.Features); err != nil {
		return nil, err
	}
	if g := featureGroups(inv.Features); g != nil {
		if len(g) > maxFieldGroups {
			return nil, fmt.Errorf("%w: feature bits above %d", ErrInvalidField, maxFieldGroups*5-1)
		}
		add(tagFeatures, g)
	}
	return fresh, nil
}

// mergeLayout orders the fresh fields and ExtraFields: first as the decoded layout had them (reusing a
// field's original encoding when its value has not changed), then whatever is left.
func (inv *Invoice) mergeLayout(fresh map[byte][][]byte) []outField {
	var out []outField
	usedExtra := make([]bool, len(inv.ExtraFields))
	var taken [32]int // fresh fields of each type already placed
	next := 0         // ExtraFields usually come in layout order: try the next one first
	for _, e := range inv.layout {
		if e.extra >= 0 {
			if i := inv.findExtra(e, next, usedExtra); i >= 0 {
				usedExtra[i], next = true, i+1
				out = append(out, outField{typ: e.typ, data: inv.ExtraFields[i].Data, extra: true})
			}
			continue
		}
		list := fresh[e.typ]
		switch k := taken[e.typ]; {
		case k < len(list):
			taken[e.typ]++
			data := list[k]
			if e.canon != nil && bytes.Equal(data, e.canon) {
				data = e.raw
			}
			out = append(out, outField{typ: e.typ, data: data})
		case len(list) == 0 && e.canon == nil:
			// A `9` field with no bit set: the value still encodes to "no field", keep it as it was.
			out = append(out, outField{typ: e.typ, data: e.raw})
		}
	}
	for _, typ := range defaultOrder {
		for _, data := range fresh[typ][taken[typ]:] {
			out = append(out, outField{typ: typ, data: data})
		}
	}
	for i, f := range inv.ExtraFields {
		if !usedExtra[i] {
			out = append(out, outField{typ: f.Type, data: f.Data, extra: true})
		}
	}
	return out
}

// findExtra returns the index of the unused entry of ExtraFields that a decoded layout entry refers to
// (same type and data), trying from first on, or -1 when it has been removed.
func (inv *Invoice) findExtra(e layoutEntry, first int, used []bool) int {
	match := func(i int) bool {
		f := inv.ExtraFields[i]
		return !used[i] && f.Type == e.typ && bytes.Equal(f.Data, e.raw)
	}
	for i := first; i < len(inv.ExtraFields); i++ {
		if match(i) {
			return i
		}
	}
	for i := 0; i < first && i < len(inv.ExtraFields); i++ {
		if match(i) {
			return i
		}
	}
	return -1
}

// encodeHash writes a 32-byte value as 52 groups.
func encodeHash(h [32]byte) []byte { return bytesToGroups(h[:]) }

// featureGroups writes the `9` field of fv in as few groups as possible, or nil when no bit is set.
func featureGroups(fv *lnwire.FeatureVector) []byte {
	bits := fv.Bits()
	if len(bits) == 0 {
		return nil
	}
	n := int(bits[len(bits)-1])/5 + 1
	out := make([]byte, n)
	for _, b := range bits {
		out[n-1-int(b)/5] |= 1 << (b % 5)
	}
	return out
}

// encodeFallback writes an `f` field for addr, which must be for net.
func encodeFallback(addr btcutil.Address, net *chaincfg.Params) ([]byte, error) {
	var (
		version byte
		prog    []byte
	)
	switch a := addr.(type) {
	case *btcutil.AddressPubKeyHash:
		version, prog = 17, a.Hash160()[:]
	case *btcutil.AddressScriptHash:
		version, prog = 18, a.Hash160()[:]
	case *btcutil.AddressWitnessPubKeyHash:
		version, prog = 0, a.WitnessProgram()
	case *btcutil.AddressWitnessScriptHash:
		version, prog = 0, a.WitnessProgram()
	case *btcutil.AddressTaproot:
		version, prog = 1, a.WitnessProgram()
	default:
		return nil, fmt.Errorf("%w: %T", ErrInvalidFallback, addr)
	}
	if !addr.IsForNet(net) {
		return nil, fmt.Errorf("%w: %s is not for %s", ErrInvalidFallback, addr.EncodeAddress(), net.Name)
	}
	return append([]byte{version}, bytesToGroups(prog)...), nil
}

// encodeRouteHint writes an `r` field of 1 to MaxHopsPerRouteHint hops.
func encodeRouteHint(hops []HopHint) ([]byte, error) {
	if len(hops) == 0 || len(hops) > MaxHopsPerRouteHint {
		return nil, fmt.Errorf("%w: route hint of %d hops (1 to %d)", ErrInvalidField, len(hops),
			MaxHopsPerRouteHint)
	}
	b := make([]byte, 0, len(hops)*hopHintSize)
	for i, h := range hops {
		if h.NodeID == nil {
			return nil, fmt.Errorf("%w: route hint hop %d has no NodeID", ErrInvalidField, i)
		}
		if !h.ShortChannelID.Valid() {
			return nil, fmt.Errorf("%w: route hint hop %d: short channel id %v out of range", ErrInvalidField,
				i, h.ShortChannelID)
		}
		b = append(b, h.NodeID.SerializeCompressed()...)
		scid := h.ShortChannelID.ToUint64()
		b = append(b, byte(scid>>56), byte(scid>>48), byte(scid>>40), byte(scid>>32), byte(scid>>24),
			byte(scid>>16), byte(scid>>8), byte(scid))
		b = append(b, byte(h.FeeBaseMsat>>24), byte(h.FeeBaseMsat>>16), byte(h.FeeBaseMsat>>8), byte(h.FeeBaseMsat))
		p := h.FeeProportionalMillionths
		b = append(b, byte(p>>24), byte(p>>16), byte(p>>8), byte(p))
		b = append(b, byte(h.CLTVExpiryDelta>>8), byte(h.CLTVExpiryDelta))
	}
	return bytesToGroups(b), nil
}
