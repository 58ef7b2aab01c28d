package lnwire

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
)

// Errors returned for the encoded arrays of the gossip queries (BOLT 7, "Query Messages").
var (
	// ErrUnknownEncoding is returned when an encoded array starts with an encoding type other than 0
	// (uncompressed) or 1 (zlib, read only).
	ErrUnknownEncoding = errors.New("lnwire: unknown encoding type")
	// ErrInvalidEncodedArray is returned when an encoded array does not hold a whole number of entries,
	// when its zlib data is corrupt or followed by other bytes, or when it is empty (no encoding type).
	ErrInvalidEncodedArray = errors.New("lnwire: invalid encoded array")
	// ErrInflatedTooLarge is returned when zlib data inflates to more than MaxInflatedSize bytes, or an
	// array holds more than MaxEncodedEntries entries.
	ErrInflatedTooLarge = errors.New("lnwire: encoded array exceeds its size bound")
	// ErrZlibNotWritten is returned when encoding an array marked EncodingZlib whose entries are not the
	// ones it was received with: BOLT 7 forbids sending encoding 1, so this package never compresses.
	ErrZlibNotWritten = errors.New("lnwire: zlib encoding is read only")
)

// Encoding is the `encoding_type` byte that starts an encoded array of the gossip queries
// (`encoded_short_ids`, `encoded_query_flags`, `encoded_timestamps`; BOLT 7, "Query Messages").
type Encoding uint8

const (
	// EncodingUncompressed (0) is a plain array of the entries. It is the only encoding this package
	// writes.
	EncodingUncompressed Encoding = 0
	// EncodingZlib (1) is the array deflated with zlib. BOLT 7 now says it MUST NOT be used; this package
	// reads it (for old peers), with the inflated size bounded by MaxInflatedSize, and writes it only by
	// copying the bytes a decoded message arrived with.
	EncodingZlib Encoding = 1
)

// String returns "uncompressed", "zlib" or "unknown(N)".
func (e Encoding) String() string {
	switch e {
	case EncodingUncompressed:
		return "uncompressed"
	case EncodingZlib:
		return "zlib"
	default:
		return fmt.Sprintf("unknown(%d)", uint8(e))
	}
}

// Bounds on the encoded arrays.
//
// An uncompressed array is bounded by the message that carries it. A zlib array is not: deflate reaches
// about 1000:1, so a 65 KB message could inflate to some 64 MB. The bound chosen here is eight times
// what an uncompressed message can carry. The largest uncompressed list is that of a
// query_short_channel_ids filling a whole message: (65535 - 2 type - 32 chain_hash - 2 len - 1
// encoding_type) / 8 = 8,187 short_channel_ids. Sorted short_channel_ids compress less than four times
// with zlib (even 65,496 consecutive ones deflate to some 140 KB, too big for a message), so no
// legitimate old peer comes near eight times that; the whole public graph (about 50,000 channels) would
// also fit. With this bound, decoding an array at the bound allocates about 1.9 MB in all (inflated
// bytes and decoded entries) and takes under 2 ms; a zlib bomb is refused after about 1.4 MB.
const (
	// MaxUncompressedShortChannelIDs (8,187) is the most short_channel_ids an uncompressed
	// encoded_short_ids can carry in one message.
	MaxUncompressedShortChannelIDs = (MaxMessageSize - 2 - 32 - 2 - 1) / 8
	// MaxEncodedEntries (65,496) is the most entries (short_channel_ids, query flags or timestamp
	// pairs) one encoded array may decode to: 8 × MaxUncompressedShortChannelIDs.
	MaxEncodedEntries = 8 * MaxUncompressedShortChannelIDs
	// MaxInflatedSize (523,968 bytes) is the most bytes zlib data may inflate to: MaxEncodedEntries
	// entries of 8 bytes (a short_channel_id or a pair of u32 timestamps). Larger data is refused with
	// ErrInflatedTooLarge after reading at most one byte past the bound.
	MaxInflatedSize = MaxEncodedEntries * 8
)

// inflate returns the data zlib-deflated in b. Empty b (an encoding type with nothing after it, as old
// lnd wrote an empty zlib list) inflates to nothing. The stream must end exactly at the end of b.
func inflate(b []byte) ([]byte, error) {
	if len(b) == 0 {
		return nil, nil
	}
	src := bytes.NewReader(b)
	zr, err := zlib.NewReader(src)
	if err != nil {
		return nil, fmt.Errorf("%w: zlib: %v", ErrInvalidEncodedArray, err)
	}
	out, err := io.ReadAll(io.LimitReader(zr, MaxInflatedSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: zlib: %v", ErrInvalidEncodedArray, err)
	}
	if len(out) > MaxInflatedSize {
		return nil, fmt.Errorf("%w: zlib data inflates past %d bytes", ErrInflatedTooLarge, MaxInflatedSize)
	}
	// The reader stops at the stream's checksum; bytes.Reader is an io.ByteReader, so flate does not
	// read ahead and src.Len() is exactly what follows the stream.
	if src.Len() != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the zlib stream", ErrInvalidEncodedArray, src.Len())
	}
	return out, nil
}

// splitEncoded returns the encoding type of an encoded array and its data, inflated if it is zlib.
func splitEncoded(b []byte) (Encoding, []byte, error) {
	if len(b) == 0 {
		return 0, nil, fmt.Errorf("%w: no encoding type", ErrInvalidEncodedArray)
	}
	enc, data := Encoding(b[0]), b[1:]
	switch enc {
	case EncodingUncompressed:
		return enc, data, nil
	case EncodingZlib:
		out, err := inflate(data)
		return enc, out, err
	default:
		return enc, nil, fmt.Errorf("%w: %d", ErrUnknownEncoding, uint8(enc))
	}
}

// decodeFixed8 splits data into 8-byte entries and converts each with conv.
func decodeFixed8[T any](data []byte, conv func([]byte) T) ([]T, error) {
	if len(data)%8 != 0 {
		return nil, fmt.Errorf("%w: %d bytes is not a whole number of 8-byte entries", ErrInvalidEncodedArray, len(data))
	}
	n := len(data) / 8
	if n > MaxEncodedEntries {
		return nil, fmt.Errorf("%w: %d entries", ErrInflatedTooLarge, n)
	}
	if n == 0 {
		return nil, nil
	}
	out := make([]T, n)
	for i := range out {
		out[i] = conv(data[i*8 : i*8+8])
	}
	return out, nil
}

func scidFrom8(b []byte) ShortChannelID {
	return NewShortChannelIDFromUint64(binary.BigEndian.Uint64(b))
}

// EncodeShortChannelIDs returns `encoded_short_ids` with encoding type 0: the byte 0 followed by each
// 8-byte short_channel_id. BOLT 7 requires ascending order; ids are written in the order given. An empty
// list encodes as the single byte 0.
func EncodeShortChannelIDs(ids []ShortChannelID) []byte {
	b := make([]byte, 0, 1+8*len(ids))
	b = append(b, byte(EncodingUncompressed))
	for _, id := range ids {
		b = appendU64(b, id.ToUint64())
	}
	return b
}

// DecodeShortChannelIDs decodes `encoded_short_ids` (encoding type byte included) of either encoding
// and returns the ids (nil if none) and the encoding. Errors wrap ErrInvalidEncodedArray (empty input,
// not a whole number of ids, corrupt zlib), ErrUnknownEncoding or ErrInflatedTooLarge. The order of
// the ids is not checked.
func DecodeShortChannelIDs(b []byte) ([]ShortChannelID, Encoding, error) {
	enc, data, err := splitEncoded(b)
	if err != nil {
		return nil, enc, err
	}
	ids, err := decodeFixed8(data, scidFrom8)
	return ids, enc, err
}

// EncodeQueryFlags returns `query_flags` with encoding type 0: the byte 0 followed by one minimally
// encoded BigSize per flag (BOLT 7, "The query_short_channel_ids/reply_short_channel_ids_end
// Messages").
func EncodeQueryFlags(flags []uint64) []byte {
	b := make([]byte, 0, 1+len(flags))
	b = append(b, byte(EncodingUncompressed))
	for _, f := range flags {
		b = AppendBigSize(b, f)
	}
	return b
}

// DecodeQueryFlags decodes the value of the `query_flags` TLV (encoding type byte included) of either
// encoding and returns the flags (nil if none) and the encoding. Each flag must be a canonical BigSize
// (ErrNonCanonicalBigSize); a flag cut short gives ErrShortRead; more than MaxEncodedEntries flags give
// ErrInflatedTooLarge; the other errors are those of DecodeShortChannelIDs.
func DecodeQueryFlags(b []byte) ([]uint64, Encoding, error) {
	enc, data, err := splitEncoded(b)
	if err != nil {
		return nil, enc, err
	}
	var flags []uint64
	for len(data) > 0 {
		if len(flags) == MaxEncodedEntries {
			return nil, enc, fmt.Errorf("%w: more than %d query flags", ErrInflatedTooLarge, MaxEncodedEntries)
		}
		v, n, err := ReadBigSize(data)
		if err != nil {
			return nil, enc, fmt.Errorf("query flag %d: %w", len(flags), err)
		}
		flags = append(flags, v)
		data = data[n:]
	}
	return flags, enc, nil
}

// Bits of a query flag (`encoded_query_flags`, BOLT 7).
const (
	QueryFlagChannelAnnouncement uint64 = 1 << 0 // the sender wants the channel_announcement
	QueryFlagChannelUpdate1      uint64 = 1 << 1 // the channel_update of node_id_1
	QueryFlagChannelUpdate2      uint64 = 1 << 2 // the channel_update of node_id_2
	QueryFlagNodeAnnouncement1   uint64 = 1 << 3 // the node_announcement of node_id_1
	QueryFlagNodeAnnouncement2   uint64 = 1 << 4 // the node_announcement of node_id_2
)

// ChannelUpdateTimestamps is the `channel_update_timestamps` subtype of reply_channel_range (BOLT 7):
// the timestamps, in seconds since the UNIX epoch, of the latest channel_update of each end of a
// channel, 0 where there is none.
type ChannelUpdateTimestamps struct {
	NodeID1 uint32 // timestamp_node_id_1
	NodeID2 uint32 // timestamp_node_id_2
}

// ChannelUpdateChecksums is the `channel_update_checksums` subtype of reply_channel_range (BOLT 7): the
// CRC32C of the latest channel_update of each end (without its signature and timestamp), 0 where there
// is none.
type ChannelUpdateChecksums struct {
	NodeID1 uint32 // checksum_node_id_1
	NodeID2 uint32 // checksum_node_id_2
}

func pairFrom8(b []byte) (uint32, uint32) {
	return binary.BigEndian.Uint32(b), binary.BigEndian.Uint32(b[4:])
}

// EncodeTimestamps returns the `timestamps_tlv` value with encoding type 0: the byte 0 followed by
// each pair of u32 timestamps.
func EncodeTimestamps(ts []ChannelUpdateTimestamps) []byte {
	b := make([]byte, 0, 1+8*len(ts))
	b = append(b, byte(EncodingUncompressed))
	for _, t := range ts {
		b = appendU32(appendU32(b, t.NodeID1), t.NodeID2)
	}
	return b
}

// DecodeTimestamps decodes the `timestamps_tlv` value (encoding type byte included) of either encoding
// and returns the pairs (nil if none) and the encoding. The errors are those of DecodeShortChannelIDs.
func DecodeTimestamps(b []byte) ([]ChannelUpdateTimestamps, Encoding, error) {
	enc, data, err := splitEncoded(b)
	if err != nil {
		return nil, enc, err
	}
	ts, err := decodeFixed8(data, func(v []byte) ChannelUpdateTimestamps {
		a, c := pairFrom8(v)
		return ChannelUpdateTimestamps{NodeID1: a, NodeID2: c}
	})
	return ts, enc, err
}

// encodeChecksums returns the `checksums_tlv` value: the pairs, with no encoding type.
func encodeChecksums(cs []ChannelUpdateChecksums) []byte {
	b := make([]byte, 0, 8*len(cs))
	for _, c := range cs {
		b = appendU32(appendU32(b, c.NodeID1), c.NodeID2)
	}
	return b
}

func decodeChecksums(b []byte) ([]ChannelUpdateChecksums, error) {
	return decodeFixed8(b, func(v []byte) ChannelUpdateChecksums {
		a, c := pairFrom8(v)
		return ChannelUpdateChecksums{NodeID1: a, NodeID2: c}
	})
}

// zlibArray remembers the deflated bytes (after the encoding type) of an array received with
// EncodingZlib, so that a decoded message re-encodes byte for byte. It is unexported: this package
// never produces zlib data of its own.
type zlibArray []byte

// appendArray appends an encoded array: type 0 and enc0 (the uncompressed encoding of the current
// entries), or for EncodingZlib type 1 and the kept deflated bytes, which must still inflate to exactly
// the uncompressed entries enc0 (ErrZlibNotWritten otherwise). Any other encoding is
// ErrUnknownEncoding.
func appendArray(b []byte, field string, enc Encoding, enc0 []byte, kept zlibArray) ([]byte, error) {
	switch enc {
	case EncodingUncompressed:
		return append(b, enc0...), nil
	case EncodingZlib:
		plain, err := inflate(kept)
		if err != nil || !bytes.Equal(plain, enc0[1:]) {
			return nil, fmt.Errorf("%s: %w: set the encoding to EncodingUncompressed", field, ErrZlibNotWritten)
		}
		b = append(b, byte(EncodingZlib))
		return append(b, kept...), nil
	default:
		return nil, fmt.Errorf("%s: %w: %d", field, ErrUnknownEncoding, uint8(enc))
	}
}

// keepZlib returns the deflated bytes of raw (an encoded array) if it is zlib-encoded, else nil.
func keepZlib(raw []byte) zlibArray {
	if len(raw) > 1 && Encoding(raw[0]) == EncodingZlib {
		return zlibArray(slices.Clone(raw[1:]))
	}
	return nil
}
