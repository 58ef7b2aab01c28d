package invoice

import (
	"errors"
	"fmt"
)

// Errors returned by Decode, Encode, EncodeSigned, SigningHash and New. Each returned error wraps exactly
// one of these (use errors.Is); some of them wrap a more general one, as noted.
var (
	// ErrInvalidBech32 is a string that is not bech32 at all (BOLT 11, "Encoding Overview"; BIP 173):
	// shorter than 8 characters, a character outside ASCII 33..126 or outside the bech32 alphabet.
	ErrInvalidBech32 = errors.New("invoice: malformed bech32 string")

	// ErrMissingSeparator is a string without the '1' separating the human-readable part from the data
	// part, or with it in a place where it cannot be. It wraps ErrInvalidBech32.
	ErrMissingSeparator = fmt.Errorf("%w: no valid '1' separator", ErrInvalidBech32)

	// ErrMixedCase is a string mixing upper- and lower-case letters (BIP 173). It wraps ErrInvalidBech32.
	ErrMixedCase = fmt.Errorf("%w: mixed case", ErrInvalidBech32)

	// ErrInvalidChecksum is a wrong bech32 checksum, including a bech32m checksum (BOLT 11: "if the
	// checksum is incorrect: MUST fail the payment").
	ErrInvalidChecksum = errors.New("invoice: invalid bech32 checksum")

	// ErrUnknownNetwork is a prefix other than lnbc, lntb, lntbs and lnbcrt (BOLT 11, "Human-Readable
	// Part": a reader that does not understand the prefix MUST fail the payment), or chain parameters
	// other than mainnet, testnet3, signet and regtest.
	ErrUnknownNetwork = errors.New("invoice: unknown network")

	// ErrNetworkMismatch is an invoice for another network than the one Decode was asked for.
	ErrNetworkMismatch = errors.New("invoice: invoice is for another network")

	// ErrInvalidAmount is an amount that is not a positive decimal integer without leading zeros followed
	// by an optional multiplier, or that does not fit in 64 bits of millisatoshis.
	ErrInvalidAmount = errors.New("invoice: invalid amount")

	// ErrInvalidMultiplier is an amount followed by something other than m, u, n or p. It wraps
	// ErrInvalidAmount.
	ErrInvalidMultiplier = fmt.Errorf("%w: unknown multiplier", ErrInvalidAmount)

	// ErrSubMsatPrecision is a `p` amount whose last digit is not 0 (BOLT 11: MUST fail the payment). It
	// wraps ErrInvalidAmount.
	ErrSubMsatPrecision = fmt.Errorf("%w: sub-millisatoshi precision", ErrInvalidAmount)

	// ErrInvalidLength is a data part too short for the timestamp and the signature, or a tagged field
	// whose data_length runs past the signature.
	ErrInvalidLength = errors.New("invoice: invalid data length")

	// ErrInvalidSignature is a signature that does not check: a recovery id above 3, no public key
	// recoverable, a signature not made by the `n` field's key, or a signer whose key is not Payee.
	ErrInvalidSignature = errors.New("invoice: invalid signature")

	// ErrHighSSignature is a signature whose s is above half the group order on an invoice carrying an `n`
	// field: verification against `n` requires the low-S form (BOLT 11, "Tagged Fields"; only public-key
	// recovery accepts high S). It wraps ErrInvalidSignature.
	ErrHighSSignature = fmt.Errorf("%w: non-canonical (high-S) signature with an n field", ErrInvalidSignature)

	// ErrMissingPaymentHash is an invoice without a `p` field of data_length 52.
	ErrMissingPaymentHash = errors.New("invoice: missing payment hash (p field)")

	// ErrMissingPaymentSecret is an invoice without an `s` field of data_length 52.
	ErrMissingPaymentSecret = errors.New("invoice: missing payment secret (s field)")

	// ErrInvalidDescription is an invoice with neither or both of a `d` and an `h` field (a writer MUST
	// include exactly one), a `d` field that is not UTF-8, or one longer than 639 bytes.
	ErrInvalidDescription = errors.New("invoice: invalid description")

	// ErrUnknownRequiredFeature is a `9` field setting an even feature bit this package does not know
	// (BOLT 11, "Feature Bits": MUST fail the payment). The message names the bit.
	ErrUnknownRequiredFeature = errors.New("invoice: unknown required feature")

	// ErrInvalidField is a known tagged field with malformed content: an `x` or `c` value over 64 bits, an
	// `n` field that is not a public key, an `r` field that is not a whole number of 51-byte hops or holds
	// a bad public key, a version 0, 17 or 18 `f` field with a wrong program length, or a field too long
	// for its 10-bit data_length (more than 1023 5-bit groups, i.e. 639 bytes).
	ErrInvalidField = errors.New("invoice: invalid tagged field")

	// ErrInvalidFallback is a fallback address Encode cannot write: not P2PKH, P2SH, P2WPKH, P2WSH or
	// P2TR, or not for the invoice's network.
	ErrInvalidFallback = errors.New("invoice: unsupported fallback address")

	// ErrInvalidTimestamp is a timestamp before 1970 or at or after 2^35 seconds (the field is 35 bits).
	ErrInvalidTimestamp = errors.New("invoice: timestamp out of range")

	// ErrInvalidInvoice is an Invoice that Encode cannot write for another reason (a nil Network or
	// Payee where one is needed, a bad extra field, a nil Signer...). The message says which.
	ErrInvalidInvoice = errors.New("invoice: invalid invoice")
)
