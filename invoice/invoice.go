package invoice

import (
	"crypto/sha256"
	"fmt"
	"math"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"

	"github.com/lnkit/lnkit/lnwire"
)

const (
	// DefaultExpiry is the expiry that applies when an invoice has no `x` field (BOLT 11, "Tagged
	// Fields": default 3600 seconds).
	DefaultExpiry = 3600 * time.Second

	// DefaultMinFinalCLTVExpiryDelta is the min_final_cltv_expiry_delta, in blocks, that applies when an
	// invoice has no `c` field (BOLT 11, "Tagged Fields": default 18).
	DefaultMinFinalCLTVExpiryDelta uint64 = 18

	// MaxTimestamp is the largest timestamp, in seconds since 1970, that the 35-bit field holds.
	MaxTimestamp uint64 = 1<<35 - 1

	// MaxFieldDataBytes is the most bytes a variable-length field such as `d` or `m` can carry: 1023
	// 5-bit groups (BOLT 11: "1023 x 5 bits, or 639 bytes").
	MaxFieldDataBytes = 639

	// MaxHopsPerRouteHint is the most hops one `r` field can carry: 12 hops of 51 bytes fit in 639 bytes.
	MaxHopsPerRouteHint = MaxFieldDataBytes / hopHintSize
)

// HopHint is one entry of an `r` field (BOLT 11, "Tagged Fields"): a channel, not announced publicly,
// on the way from a public node to the payee, with the routing parameters its channel_update would carry
// (BOLT 7). An entry is 51 bytes on the wire.
type HopHint struct {
	// NodeID is the node at the start of the channel (33-byte compressed key).
	NodeID *btcec.PublicKey
	// ShortChannelID identifies the channel (8 bytes).
	ShortChannelID lnwire.ShortChannelID
	// FeeBaseMsat is fee_base_msat, in millisatoshis (4 bytes).
	FeeBaseMsat uint32
	// FeeProportionalMillionths is fee_proportional_millionths, in millionths of the amount (4 bytes).
	FeeProportionalMillionths uint32
	// CLTVExpiryDelta is cltv_expiry_delta, in blocks (2 bytes).
	CLTVExpiryDelta uint16
}

// TaggedField is a tagged field kept verbatim because a reader skips it (BOLT 11, "Tagged Fields"): an
// unknown type, a `p`, `h`, `s` or `n` field of the wrong data_length, an `f` field with a version this
// package cannot turn into an address (1 with a program other than 32 bytes, 2 to 31), or a repeat of a
// single-valued field (only the first is used).
type TaggedField struct {
	// Type is the 5-bit field type (0..31); the field's letter is the bech32 character of this value.
	Type byte
	// Data is the field's data as 5-bit groups, each 0..31; data_length is len(Data), at most 1023.
	Data []byte
}

// Letter returns the bech32 character naming the field type, e.g. 'p' for 1.
func (f TaggedField) Letter() byte { return bech32Alphabet[f.Type&31] }

// Invoice is a BOLT 11 payment request.
//
// Build one with New (or a struct literal, which Encode checks), or get one from Decode. An Invoice is a
// plain value: its methods only read it, so any number of goroutines may call them at once, but writing
// its fields while others read them needs the caller's own synchronisation.
type Invoice struct {
	// Network is the chain the invoice is for: chaincfg.MainNetParams (prefix lnbc), TestNet3Params
	// (lntb), SigNetParams (lntbs) or RegressionNetParams (lnbcrt). Any *chaincfg.Params with one of
	// these names is accepted.
	Network *chaincfg.Params

	// AmountMsat is the amount requested, in millisatoshis; nil for an invoice of any amount (a payer
	// SHOULD then ask how much to pay). Zero is not an amount. Encode writes it in bitcoin with the
	// largest multiplier that represents it exactly (m, u, n, or p: ten pico-bitcoin per millisatoshi).
	AmountMsat *uint64

	// Timestamp is the creation time, to the second, between 1970 and 2^35-1 seconds after (the 35-bit
	// timestamp of the data part). Decode returns it in UTC.
	Timestamp time.Time

	// PaymentHash is the `p` field: SHA256 of the payment preimage.
	PaymentHash [32]byte

	// PaymentSecret is the `s` field, to be sent as payment_secret (BOLT 4). Decode refuses invoices
	// without one, and Encode refuses to write one without.
	PaymentSecret *[32]byte

	// Description is the `d` field (UTF-8, at most 639 bytes). Exactly one of Description and
	// DescriptionHash is set.
	Description *string

	// DescriptionHash is the `h` field: SHA256 of a description given by other means (see
	// MatchesDescription).
	DescriptionHash *[32]byte

	// ExpirySeconds is the `x` field, in seconds after Timestamp; nil when absent (DefaultExpiry applies,
	// see ExpiryOrDefault).
	ExpirySeconds *uint64

	// MinFinalCLTVExpiryDelta is the `c` field, in blocks; nil when absent
	// (DefaultMinFinalCLTVExpiryDelta applies, see MinFinalCLTVExpiryDeltaOrDefault).
	MinFinalCLTVExpiryDelta *uint64

	// FallbackAddresses are the `f` fields, most preferred first: *btcutil.AddressPubKeyHash (version
	// 17), *btcutil.AddressScriptHash (18), *btcutil.AddressWitnessPubKeyHash and
	// *btcutil.AddressWitnessScriptHash (0), *btcutil.AddressTaproot (1).
	FallbackAddresses []btcutil.Address

	// RouteHints are the `r` fields, most preferred first; each is a route of one or more hops (at most
	// MaxHopsPerRouteHint) from a public node to the payee.
	RouteHints [][]HopHint

	// Features is the `9` field; nil or empty when absent (Encode then omits the field). Unknown odd
	// bits are kept; Decode refuses unknown even bits (see KnownFeatures).
	Features *lnwire.FeatureVector

	// Metadata is the `m` field, to be sent as payment_metadata (BOLT 4); nil when absent. At most 639
	// bytes.
	Metadata []byte

	// Payee is the payee's node ID: the `n` field when ExplicitPayee, otherwise the key recovered from
	// the signature. Encode checks that the signer's key is Payee when Payee is set.
	Payee *btcec.PublicKey

	// ExplicitPayee says the invoice carries Payee in an `n` field. Decode sets it when the field was
	// present; Encode then writes it and the signature must be low-S.
	ExplicitPayee bool

	// ExtraFields are the fields a reader skips (see TaggedField), kept so that the invoice re-encodes
	// byte for byte: Encode writes each entry where Decode found it (entries added since go last).
	// Encode refuses an entry a reader would not skip.
	ExtraFields []TaggedField

	// Signature is r || s (32 bytes each, big-endian) of a decoded invoice; EncodeSigned writes it.
	Signature [64]byte

	// RecoveryID is the signature's recovery id (0..3).
	RecoveryID byte

	// amountRaw is the amount part of the human-readable part as received ("" when none).
	amountRaw string
	// layout is the order and raw content of the decoded tagged fields.
	layout []layoutEntry
}

// layoutEntry records one tagged field of a decoded invoice, in order.
type layoutEntry struct {
	typ byte
	// extra is the index into ExtraFields, as decoded, of a skipped field; -1 for a field decoded into
	// the struct. Encode finds a skipped field by its content, so that ExtraFields may be edited.
	extra int
	// raw is the data as received; canon, for a decoded field, is what its value encodes to (nil when
	// the value encodes to no field at all: a `9` field with no bit set).
	raw, canon []byte
}

// Signer signs an invoice with the payee's node key. keys.NodeSigner satisfies it.
type Signer interface {
	// SignInvoice returns a recoverable signature of SHA256(hrp || data5 packed into bytes, zero-padded)
	// in the 65-byte form [header || r || s] with header = 27 + 4 + recovery id (compressed key) or
	// 27 + recovery id. data5 is the data part before the signature, one 5-bit group per byte; the
	// signer sees the whole invoice, so a validating signer can check what it signs (BOLT 11).
	SignInvoice(hrp string, data5 []byte) ([]byte, error)
}

// Amount returns the amount requested in millisatoshis and true, or 0 and false for an invoice of any
// amount.
func (inv *Invoice) Amount() (msat uint64, ok bool) {
	if inv.AmountMsat == nil {
		return 0, false
	}
	return *inv.AmountMsat, true
}

// AmountSat returns the amount requested rounded up to whole satoshis, and false for an invoice of any
// amount.
func (inv *Invoice) AmountSat() (btcutil.Amount, bool) {
	msat, ok := inv.Amount()
	if !ok {
		return 0, false
	}
	return btcutil.Amount(msat/1000 + min(msat%1000, 1)), true
}

// ExpiryOrDefault returns the `x` field as a duration, or DefaultExpiry (one hour) when it is absent.
// Values beyond what a time.Duration holds (about 292 years) are capped.
func (inv *Invoice) ExpiryOrDefault() time.Duration {
	if inv.ExpirySeconds == nil {
		return DefaultExpiry
	}
	if *inv.ExpirySeconds > uint64(math.MaxInt64/int64(time.Second)) {
		return time.Duration(math.MaxInt64)
	}
	return time.Duration(*inv.ExpirySeconds) * time.Second
}

// MinFinalCLTVExpiryDeltaOrDefault returns the `c` field in blocks, or DefaultMinFinalCLTVExpiryDelta
// (18) when it is absent. A payer must use at least this delta for the final HTLC.
func (inv *Invoice) MinFinalCLTVExpiryDeltaOrDefault() uint64 {
	if inv.MinFinalCLTVExpiryDelta == nil {
		return DefaultMinFinalCLTVExpiryDelta
	}
	return *inv.MinFinalCLTVExpiryDelta
}

// ExpiresAt returns Timestamp plus the expiry (ExpiryOrDefault), to the second. After it, a payer
// SHOULD NOT pay and the payee SHOULD NOT accept payment (BOLT 11, "Payer / Payee Requirements").
// A sum past the year 292277026596 is capped.
func (inv *Invoice) ExpiresAt() time.Time {
	ts := inv.Timestamp.Unix()
	exp := uint64(DefaultExpiry / time.Second)
	if inv.ExpirySeconds != nil {
		exp = *inv.ExpirySeconds
	}
	if exp > uint64(math.MaxInt64) || ts > math.MaxInt64-int64(exp) {
		return time.Unix(math.MaxInt64-62135596800, 0).UTC() // the largest time.Unix that keeps Unix() exact
	}
	return time.Unix(ts+int64(exp), 0).UTC()
}

// IsExpired reports whether now is at or after ExpiresAt. The caller supplies now (from a block
// timestamp or its own clock); this package reads no clock.
func (inv *Invoice) IsExpired(now time.Time) bool {
	return !now.Before(inv.ExpiresAt())
}

// MatchesDescription reports whether description hashes (SHA256) to DescriptionHash, as a payer MUST
// check for an invoice with an `h` field (BOLT 11, "Tagged Fields"). It is false when there is no `h`
// field.
func (inv *Invoice) MatchesDescription(description []byte) bool {
	if inv.DescriptionHash == nil {
		return false
	}
	return sha256.Sum256(description) == *inv.DescriptionHash
}

// KnownFeatures returns the invoice feature bits this package understands (BOLT 9, context 9): both bits
// of var_onion_optin (8/9), payment_secret (14/15), basic_mpp (16/17) and option_payment_metadata
// (48/49). Decode refuses an invoice setting any other even bit.
func KnownFeatures() *lnwire.FeatureVector {
	return lnwire.NewFeatureVector(
		lnwire.VarOnionOptinRequired, lnwire.VarOnionOptinOptional,
		lnwire.PaymentSecretRequired, lnwire.PaymentSecretOptional,
		lnwire.BasicMPPRequired, lnwire.BasicMPPOptional,
		lnwire.PaymentMetadataRequired, lnwire.PaymentMetadataOptional,
	)
}

// DefaultFeatures returns the features of the invoices lnkit's node issues: var_onion_optin and
// payment_secret required (bits 8 and 14), basic_mpp optional (bit 17).
func DefaultFeatures() *lnwire.FeatureVector {
	return lnwire.NewFeatureVector(lnwire.VarOnionOptinRequired, lnwire.PaymentSecretRequired,
		lnwire.BasicMPPOptional)
}

// Option sets an optional field of an invoice built by New; it may refuse its argument.
type Option func(*Invoice) error

// WithAmountMsat requests amountMsat millisatoshis (it must be positive).
func WithAmountMsat(amountMsat uint64) Option {
	return func(inv *Invoice) error { inv.AmountMsat = &amountMsat; return nil }
}

// WithDescription sets the `d` field (UTF-8, at most 639 bytes) and clears DescriptionHash.
func WithDescription(description string) Option {
	return func(inv *Invoice) error { inv.Description, inv.DescriptionHash = &description, nil; return nil }
}

// WithDescriptionHash sets the `h` field (SHA256 of the description) and clears Description.
func WithDescriptionHash(hash [32]byte) Option {
	return func(inv *Invoice) error { inv.DescriptionHash, inv.Description = &hash, nil; return nil }
}

// WithExpiry sets the `x` field to expiry, truncated to whole seconds. A negative expiry makes New
// return ErrInvalidField.
func WithExpiry(expiry time.Duration) Option {
	return func(inv *Invoice) error {
		if expiry < 0 {
			return fmt.Errorf("%w: negative expiry %v", ErrInvalidField, expiry)
		}
		secs := uint64(expiry / time.Second)
		inv.ExpirySeconds = &secs
		return nil
	}
}

// WithMinFinalCLTVExpiryDelta sets the `c` field, in blocks.
func WithMinFinalCLTVExpiryDelta(blocks uint64) Option {
	return func(inv *Invoice) error { inv.MinFinalCLTVExpiryDelta = &blocks; return nil }
}

// WithFallbackAddress appends an `f` field (see Invoice.FallbackAddresses for the address types).
func WithFallbackAddress(addr btcutil.Address) Option {
	return func(inv *Invoice) error { inv.FallbackAddresses = append(inv.FallbackAddresses, addr); return nil }
}

// WithRouteHint appends an `r` field: a route of 1 to MaxHopsPerRouteHint hops ending at the payee.
func WithRouteHint(hops ...HopHint) Option {
	return func(inv *Invoice) error {
		inv.RouteHints = append(inv.RouteHints, append([]HopHint(nil), hops...))
		return nil
	}
}

// WithFeatures replaces the default features (DefaultFeatures) with a copy of features.
func WithFeatures(features *lnwire.FeatureVector) Option {
	return func(inv *Invoice) error { inv.Features = features.Clone(); return nil }
}

// WithPayee writes the payee's node ID in an `n` field (ExplicitPayee). Without it the payer recovers
// the key from the signature, which makes the invoice 56 characters shorter.
func WithPayee(nodeID *btcec.PublicKey) Option {
	return func(inv *Invoice) error { inv.Payee, inv.ExplicitPayee = nodeID, true; return nil }
}

// WithMetadata sets the `m` field (at most 639 bytes) and, unless the features already mention it,
// sets option_payment_metadata as required (bit 48) so that a payer that cannot carry it does not pay.
func WithMetadata(metadata []byte) Option {
	return func(inv *Invoice) error { inv.Metadata = append([]byte{}, metadata...); return nil }
}

// New returns an invoice for network net with the given payment hash and secret, created at timestamp
// (the caller's clock: this package reads none), with DefaultFeatures and the options applied. It must
// be given a description (WithDescription or WithDescriptionHash). Sign and write it with Encode.
//
// Errors: everything Encode checks before signing (ErrUnknownNetwork, ErrInvalidTimestamp,
// ErrInvalidAmount, ErrInvalidDescription, ErrInvalidField, ErrInvalidFallback,
// ErrUnknownRequiredFeature, lnwire.ErrMissingFeatureDependency, ErrInvalidInvoice).
func New(net *chaincfg.Params, paymentHash, paymentSecret [32]byte, timestamp time.Time,
	opts ...Option) (*Invoice, error) {

	inv := &Invoice{
		Network:       net,
		Timestamp:     time.Unix(timestamp.Unix(), 0).UTC(),
		PaymentHash:   paymentHash,
		PaymentSecret: &paymentSecret,
		Features:      DefaultFeatures(),
	}
	for _, opt := range opts {
		if err := opt(inv); err != nil {
			return nil, err
		}
	}
	if inv.Metadata != nil && inv.Features != nil && !inv.Features.Supports(lnwire.PaymentMetadataRequired) {
		inv.Features.Set(lnwire.PaymentMetadataRequired)
	}
	if _, _, err := inv.serialize(); err != nil {
		return nil, err
	}
	return inv, nil
}
