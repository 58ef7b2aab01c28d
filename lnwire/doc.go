// Package lnwire encodes and decodes Lightning messages: the BOLT 1 framing, fundamental types, BigSize
// and TLV streams, the BOLT 9 feature bitfields, and the messages of BOLT 1 (init, error, warning, ping,
// pong) and BOLT 2 (channel establishment v1, normal operation, closing, reestablish).
//
// # Framing
//
// EncodeMessage returns type || payload; DecodeMessage takes the same. Messages of types this package
// does not know decode to *UnknownMessage without error: the caller ignores odd ones and closes the
// connection on even ones (BOLT 1, "it's OK to be odd"). A message is at most 65535 bytes.
//
// # Extensions and byte-exact re-encoding
//
// Every known message may be followed by its BOLT 1 `extension`, a TLV stream. Decoding parses it
// strictly: a truncated or misordered stream, or an unknown even record, is an error. Records the message
// defines become struct fields; the other (odd) records are kept in the message's ExtraTLVs field and
// written back unchanged, so that a decoded message re-encodes to exactly the bytes it came from (feature
// bitfields also keep any leading zero bytes they were received with).
//
// Conventions for optional data: a pointer field that is nil, or a slice field that is nil, means the TLV
// record is absent; a non-nil empty slice is a record present with an empty value. Mandatory
// variable-length fields (error data, ping padding, scripts, HTLC signatures) decode as nil when empty.
//
// # Validation
//
// Decoding checks what the wire format defines: lengths, BigSize and truncated-integer minimality, valid
// compressed points (ErrInvalidPoint), satoshi amounts that fit in a btcutil.Amount (ErrAmountOverflow)
// and the exact lengths of known TLV records (ErrInvalidTLVValue). Semantic checks (reserve versus dust
// limit, max_accepted_htlcs, and so on) belong to the channel state machine. Decoding never panics and
// allocates at most a small multiple of the input size.
//
// # Concurrency
//
// *FeatureVector is safe for concurrent use. Message structs are plain data: share them read-only.
package lnwire
