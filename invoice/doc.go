// Package invoice reads and writes BOLT 11 payment requests ("Invoice Protocol for Lightning Payments").
//
// An invoice is a bech32 string (BIP 173, without the 90-character limit) whose human-readable part is
// "ln" + a currency prefix + an optional amount, and whose data part is a 35-bit timestamp, a list of
// tagged fields and a 520-bit recoverable signature.
//
// Decode parses and checks a string: checksum, prefix and amount, field layout, the payee's signature
// (recovered, or verified against the `n` field), the mandatory `p` and `s` fields, exactly one of `d`/`h`,
// and the feature bits. Encode writes and signs an Invoice with a Signer (keys.NodeSigner satisfies it).
// New builds the invoices lnkit's own node issues.
//
// Decoded invoices re-encode byte for byte: the order of the fields, any field a reader must skip
// (ExtraFields), and non-minimal encodings of unchanged values are remembered, so EncodeSigned of a
// decoded invoice returns the string it came from (in lower case).
//
// The package reads no clock: IsExpired takes the current time from the caller.
package invoice
