// Package lnwire encodes and decodes Lightning messages: the BOLT 1 framing, fundamental types, BigSize
// and TLV streams, the BOLT 9 feature bitfields, and the messages of BOLT 1 (init, error, warning, ping,
// pong), BOLT 2 (channel establishment v1, normal operation, closing, reestablish) and BOLT 7 (the
// announcements, channel_update, announcement_signatures and the gossip queries).
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
// The signed gossip messages channel_announcement and channel_update are the exception: BOLT 7 has no
// TLV stream for them and their signatures cover whatever follows the defined fields, so those bytes are
// kept raw (ExtraData) and written back as they came, whether or not they form a TLV stream.
//
// Conventions for optional data: a pointer field that is nil, or a slice field that is nil, means the TLV
// record is absent; a non-nil empty slice is a record present with an empty value. Mandatory
// variable-length fields (error data, ping padding, scripts, HTLC signatures) decode as nil when empty.
//
// # Encoded arrays of the gossip queries
//
// The short_channel_id lists, query flags and timestamps of the gossip queries start with an encoding
// type. Type 0 (uncompressed) is read and written. Type 1 (zlib), which BOLT 7 now forbids sending, is
// read for old peers, with the inflated size bounded by MaxInflatedSize; a decoded message keeps the
// compressed bytes so it re-encodes unchanged, but this package never compresses anything itself.
//
// # Validation
//
// Decoding checks what the wire format defines: lengths, BigSize and truncated-integer minimality, valid
// compressed points (ErrInvalidPoint), satoshi amounts that fit in a btcutil.Amount (ErrAmountOverflow)
// and the exact lengths of known TLV records (ErrInvalidTLVValue). Semantic checks (reserve versus dust
// limit, max_accepted_htlcs, and so on) belong to the channel state machine. Decoding never panics and
// allocates at most a small multiple of the input size, except for zlib-encoded arrays, whose inflated
// data is bounded by MaxInflatedSize (523,968 bytes).
//
// # Concurrency
//
// *FeatureVector is safe for concurrent use. Message structs are plain data: share them read-only.
package lnwire
