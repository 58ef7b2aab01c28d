package lnwire

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

// ErrInvalidBool is returned when a byte that BOLT 7 defines as a boolean (`full_information`,
// `sync_complete`) is neither 0 nor 1.
var ErrInvalidBool = errors.New("lnwire: boolean byte is neither 0 nor 1")

// TLV types of the query messages (BOLT 7, "Query Messages").
const (
	// QueryShortChannelIDsTLVQueryFlags is `query_flags` of query_short_channel_ids_tlvs.
	QueryShortChannelIDsTLVQueryFlags uint64 = 1
	// QueryChannelRangeTLVQueryOption is `query_option` of query_channel_range_tlvs.
	QueryChannelRangeTLVQueryOption uint64 = 1
	// ReplyChannelRangeTLVTimestamps is `timestamps_tlv` of reply_channel_range_tlvs.
	ReplyChannelRangeTLVTimestamps uint64 = 1
	// ReplyChannelRangeTLVChecksums is `checksums_tlv` of reply_channel_range_tlvs.
	ReplyChannelRangeTLVChecksums uint64 = 3
)

// Bits of `query_option_flags` (query_channel_range).
const (
	QueryOptionWantTimestamps uint64 = 1 << 0 // the sender wants timestamps_tlv in the replies
	QueryOptionWantChecksums  uint64 = 1 << 1 // the sender wants checksums_tlv in the replies
)

// encodedShortIDs reads `len` and `encoded_short_ids`, returning the ids, their encoding and the
// kept zlib bytes.
func (r *reader) encodedShortIDs(field string) ([]ShortChannelID, Encoding, zlibArray) {
	n := r.u16(field + " length")
	raw := r.take(field, int(n))
	if r.err != nil {
		return nil, 0, nil
	}
	ids, enc, err := DecodeShortChannelIDs(raw)
	if err != nil {
		r.fail(field, err)
		return nil, 0, nil
	}
	return ids, enc, keepZlib(raw)
}

func (r *reader) boolean(field string) bool {
	v := r.u8(field)
	if v > 1 {
		r.fail(field, fmt.Errorf("%w: %d", ErrInvalidBool, v))
	}
	return v == 1
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// appendEncodedShortIDs appends `len` and `encoded_short_ids`.
func appendEncodedShortIDs(b []byte, field string, enc Encoding, ids []ShortChannelID, kept zlibArray) ([]byte, error) {
	arr, err := appendArray(nil, field, enc, EncodeShortChannelIDs(ids), kept)
	if err != nil {
		return nil, err
	}
	return appendVarBytes(b, field, arr)
}

// QueryShortChannelIDs is the `query_short_channel_ids` message (type 261, BOLT 7, "The
// query_short_channel_ids/reply_short_channel_ids_end Messages"): it asks for the announcements and
// updates of the listed channels.
//
// A message decoded from zlib-encoded arrays keeps their bytes and re-encodes them unchanged as long as
// the ids and flags are not modified; otherwise set the encodings to EncodingUncompressed (this package
// does not compress, see EncodingZlib).
type QueryShortChannelIDs struct {
	// ChainHash identifies the chain the short_channel_ids refer to.
	ChainHash chainhash.Hash
	// Encoding is the encoding_type of encoded_short_ids.
	Encoding Encoding
	// ShortChannelIDs are the queried channels; BOLT 7 wants them in ascending order (not checked).
	// Empty decodes as nil.
	ShortChannelIDs []ShortChannelID
	// QueryFlags is the `query_flags` TLV (type 1): one bitfield (QueryFlag*) per short_channel_id.
	// Nil: absent; a non-nil empty slice is present with no flags.
	QueryFlags []uint64
	// QueryFlagsEncoding is the encoding_type of query_flags.
	QueryFlagsEncoding Encoding
	// ExtraTLVs holds the (odd) extension records this package does not interpret.
	ExtraTLVs TLVStream

	zlibIDs, zlibFlags zlibArray
}

// MsgType returns MsgQueryShortChannelIDs.
func (m *QueryShortChannelIDs) MsgType() MessageType { return MsgQueryShortChannelIDs }

// AppendPayload appends the payload encoding. It returns ErrZlibNotWritten or ErrUnknownEncoding for an
// array it cannot write (see the type's documentation).
func (m *QueryShortChannelIDs) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ChainHash[:]...)
	b, err := appendEncodedShortIDs(b, "encoded_short_ids", m.Encoding, m.ShortChannelIDs, m.zlibIDs)
	if err != nil {
		return nil, err
	}
	var own TLVStream
	if m.QueryFlags != nil {
		v, err := appendArray(nil, "query_flags", m.QueryFlagsEncoding, EncodeQueryFlags(m.QueryFlags), m.zlibFlags)
		if err != nil {
			return nil, err
		}
		own = append(own, TLVRecord{Type: QueryShortChannelIDsTLVQueryFlags, Value: v})
	}
	return appendExtension(b, own, m.ExtraTLVs, QueryShortChannelIDsTLVQueryFlags)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors. encoded_short_ids and
// query_flags fail with the errors of DecodeShortChannelIDs and DecodeQueryFlags (the latter also
// wrapping ErrInvalidTLVValue), and with ErrInvalidTLVValue when there is not exactly one flag per
// short_channel_id.
func (m *QueryShortChannelIDs) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out QueryShortChannelIDs
	out.ChainHash = r.hash("chain_hash")
	out.ShortChannelIDs, out.Encoding, out.zlibIDs = r.encodedShortIDs("encoded_short_ids")
	if r.err != nil {
		return r.err
	}
	ext, err := decodeExtension(r.rest(), QueryShortChannelIDsTLVQueryFlags)
	if err != nil {
		return err
	}
	if v, ok := ext.get(QueryShortChannelIDsTLVQueryFlags); ok {
		flags, enc, err := DecodeQueryFlags(v)
		if err != nil {
			return fmt.Errorf("query_flags: %w: %w", ErrInvalidTLVValue, err)
		}
		if len(flags) != len(out.ShortChannelIDs) {
			return fmt.Errorf("query_flags: %w: %d flags for %d short_channel_ids", ErrInvalidTLVValue, len(flags), len(out.ShortChannelIDs))
		}
		if flags == nil {
			flags = []uint64{}
		}
		out.QueryFlags, out.QueryFlagsEncoding, out.zlibFlags = flags, enc, keepZlib(v)
	}
	out.ExtraTLVs = ext.extra
	*m = out
	return nil
}

// ReplyShortChannelIDsEnd is the `reply_short_channel_ids_end` message (type 262, BOLT 7): it ends the
// answer to a query_short_channel_ids.
type ReplyShortChannelIDsEnd struct {
	// ChainHash is that of the query.
	ChainHash chainhash.Hash
	// FullInformation (`full_information`, formerly `complete`) is false if the sender does not keep
	// up-to-date information for the chain. The byte must be 0 or 1 (ErrInvalidBool).
	FullInformation bool
	// ExtraTLVs holds the (odd) extension records, re-encoded unchanged.
	ExtraTLVs TLVStream
}

// MsgType returns MsgReplyShortChannelIDsEnd.
func (m *ReplyShortChannelIDsEnd) MsgType() MessageType { return MsgReplyShortChannelIDsEnd }

// AppendPayload appends the payload encoding.
func (m *ReplyShortChannelIDsEnd) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ChainHash[:]...)
	b = appendBool(b, m.FullInformation)
	return appendExtension(b, nil, m.ExtraTLVs)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *ReplyShortChannelIDsEnd) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out ReplyShortChannelIDsEnd
	out.ChainHash = r.hash("chain_hash")
	out.FullInformation = r.boolean("full_information")
	var err error
	if out.ExtraTLVs, err = r.extraOnly(); err != nil {
		return err
	}
	*m = out
	return nil
}

// QueryChannelRange is the `query_channel_range` message (type 263, BOLT 7, "The query_channel_range
// and reply_channel_range Messages"): it asks for the channels whose funding transactions are in a
// range of blocks.
type QueryChannelRange struct {
	// ChainHash identifies the chain.
	ChainHash chainhash.Hash
	// FirstBlocknum is the first block height of the range.
	FirstBlocknum uint32
	// NumberOfBlocks is the number of blocks in the range (at least 1).
	NumberOfBlocks uint32
	// QueryOption is the `query_option` TLV (type 1): QueryOptionWantTimestamps and
	// QueryOptionWantChecksums, as a minimally encoded BigSize. Nil: absent.
	QueryOption *uint64
	// ExtraTLVs holds the (odd) extension records this package does not interpret.
	ExtraTLVs TLVStream
}

// MsgType returns MsgQueryChannelRange.
func (m *QueryChannelRange) MsgType() MessageType { return MsgQueryChannelRange }

// EndBlocknum returns FirstBlocknum + NumberOfBlocks (the first block after the range), without
// overflow.
func (m *QueryChannelRange) EndBlocknum() uint64 {
	return uint64(m.FirstBlocknum) + uint64(m.NumberOfBlocks)
}

// AppendPayload appends the payload encoding.
func (m *QueryChannelRange) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ChainHash[:]...)
	b = appendU32(b, m.FirstBlocknum)
	b = appendU32(b, m.NumberOfBlocks)
	var own TLVStream
	if m.QueryOption != nil {
		own = append(own, TLVRecord{Type: QueryChannelRangeTLVQueryOption, Value: AppendBigSize(nil, *m.QueryOption)})
	}
	return appendExtension(b, own, m.ExtraTLVs, QueryChannelRangeTLVQueryOption)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors. A query_option that is not
// exactly one canonical BigSize is ErrInvalidTLVValue.
func (m *QueryChannelRange) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out QueryChannelRange
	out.ChainHash = r.hash("chain_hash")
	out.FirstBlocknum = r.u32("first_blocknum")
	out.NumberOfBlocks = r.u32("number_of_blocks")
	if r.err != nil {
		return r.err
	}
	ext, err := decodeExtension(r.rest(), QueryChannelRangeTLVQueryOption)
	if err != nil {
		return err
	}
	if v, ok := ext.get(QueryChannelRangeTLVQueryOption); ok {
		opt, n, err := ReadBigSize(v)
		if err != nil {
			return fmt.Errorf("query_option: %w: %w", ErrInvalidTLVValue, err)
		}
		if n != len(v) {
			return fmt.Errorf("query_option: %w: %d bytes after the bigsize", ErrInvalidTLVValue, len(v)-n)
		}
		out.QueryOption = &opt
	}
	out.ExtraTLVs = ext.extra
	*m = out
	return nil
}

// ReplyChannelRange is the `reply_channel_range` message (type 264, BOLT 7): one part of the answer
// to a query_channel_range.
//
// Zlib-encoded arrays are kept and re-encoded as QueryShortChannelIDs does.
type ReplyChannelRange struct {
	// ChainHash is that of the query.
	ChainHash chainhash.Hash
	// FirstBlocknum is the first block height this reply covers.
	FirstBlocknum uint32
	// NumberOfBlocks is the number of blocks this reply covers.
	NumberOfBlocks uint32
	// SyncComplete (`sync_complete`) is true on the last reply. The byte must be 0 or 1 (ErrInvalidBool).
	SyncComplete bool
	// Encoding is the encoding_type of encoded_short_ids.
	Encoding Encoding
	// ShortChannelIDs are the channels in the range, in ascending order (not checked). Empty decodes as
	// nil.
	ShortChannelIDs []ShortChannelID
	// Timestamps is the `timestamps_tlv` (type 1): one pair per short_channel_id. Nil: absent; a non-nil
	// empty slice is present and empty.
	Timestamps []ChannelUpdateTimestamps
	// TimestampsEncoding is the encoding_type of timestamps_tlv.
	TimestampsEncoding Encoding
	// Checksums is the `checksums_tlv` (type 3): one pair per short_channel_id. Nil: absent.
	Checksums []ChannelUpdateChecksums
	// ExtraTLVs holds the (odd) extension records this package does not interpret.
	ExtraTLVs TLVStream

	zlibIDs, zlibTimestamps zlibArray
}

// MsgType returns MsgReplyChannelRange.
func (m *ReplyChannelRange) MsgType() MessageType { return MsgReplyChannelRange }

// EndBlocknum returns FirstBlocknum + NumberOfBlocks (the first block after the reply's range), without
// overflow.
func (m *ReplyChannelRange) EndBlocknum() uint64 {
	return uint64(m.FirstBlocknum) + uint64(m.NumberOfBlocks)
}

// AppendPayload appends the payload encoding. It returns ErrZlibNotWritten or ErrUnknownEncoding for an
// array it cannot write.
func (m *ReplyChannelRange) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ChainHash[:]...)
	b = appendU32(b, m.FirstBlocknum)
	b = appendU32(b, m.NumberOfBlocks)
	b = appendBool(b, m.SyncComplete)
	b, err := appendEncodedShortIDs(b, "encoded_short_ids", m.Encoding, m.ShortChannelIDs, m.zlibIDs)
	if err != nil {
		return nil, err
	}
	var own TLVStream
	if m.Timestamps != nil {
		v, err := appendArray(nil, "timestamps_tlv", m.TimestampsEncoding, EncodeTimestamps(m.Timestamps), m.zlibTimestamps)
		if err != nil {
			return nil, err
		}
		own = append(own, TLVRecord{Type: ReplyChannelRangeTLVTimestamps, Value: v})
	}
	if m.Checksums != nil {
		own = append(own, TLVRecord{Type: ReplyChannelRangeTLVChecksums, Value: encodeChecksums(m.Checksums)})
	}
	return appendExtension(b, own, m.ExtraTLVs, ReplyChannelRangeTLVTimestamps, ReplyChannelRangeTLVChecksums)
}

// DecodePayload decodes the payload; see DecodeMessage and QueryShortChannelIDs.DecodePayload for the
// errors. timestamps_tlv and checksums_tlv must hold one pair per short_channel_id (ErrInvalidTLVValue).
func (m *ReplyChannelRange) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out ReplyChannelRange
	out.ChainHash = r.hash("chain_hash")
	out.FirstBlocknum = r.u32("first_blocknum")
	out.NumberOfBlocks = r.u32("number_of_blocks")
	out.SyncComplete = r.boolean("sync_complete")
	out.ShortChannelIDs, out.Encoding, out.zlibIDs = r.encodedShortIDs("encoded_short_ids")
	if r.err != nil {
		return r.err
	}
	ext, err := decodeExtension(r.rest(), ReplyChannelRangeTLVTimestamps, ReplyChannelRangeTLVChecksums)
	if err != nil {
		return err
	}
	n := len(out.ShortChannelIDs)
	if v, ok := ext.get(ReplyChannelRangeTLVTimestamps); ok {
		ts, enc, err := DecodeTimestamps(v)
		if err != nil {
			return fmt.Errorf("timestamps_tlv: %w: %w", ErrInvalidTLVValue, err)
		}
		if len(ts) != n {
			return fmt.Errorf("timestamps_tlv: %w: %d pairs for %d short_channel_ids", ErrInvalidTLVValue, len(ts), n)
		}
		if ts == nil {
			ts = []ChannelUpdateTimestamps{}
		}
		out.Timestamps, out.TimestampsEncoding, out.zlibTimestamps = ts, enc, keepZlib(v)
	}
	if v, ok := ext.get(ReplyChannelRangeTLVChecksums); ok {
		cs, err := decodeChecksums(v)
		if err != nil {
			return fmt.Errorf("checksums_tlv: %w: %w", ErrInvalidTLVValue, err)
		}
		if len(cs) != n {
			return fmt.Errorf("checksums_tlv: %w: %d pairs for %d short_channel_ids", ErrInvalidTLVValue, len(cs), n)
		}
		if cs == nil {
			cs = []ChannelUpdateChecksums{}
		}
		out.Checksums = cs
	}
	out.ExtraTLVs = ext.extra
	*m = out
	return nil
}

// GossipTimestampFilter is the `gossip_timestamp_filter` message (type 265, BOLT 7, "The
// gossip_timestamp_filter Message"): it asks the receiver to relay only gossip whose timestamp is in
// [FirstTimestamp, FirstTimestamp+TimestampRange).
type GossipTimestampFilter struct {
	// ChainHash identifies the chain.
	ChainHash chainhash.Hash
	// FirstTimestamp is the start of the range, in seconds since the UNIX epoch. 0xFFFFFFFF with a zero
	// range asks for no relayed gossip.
	FirstTimestamp uint32
	// TimestampRange is the length of the range, in seconds.
	TimestampRange uint32
	// ExtraTLVs holds the (odd) extension records, re-encoded unchanged.
	ExtraTLVs TLVStream
}

// MsgType returns MsgGossipTimestampFilter.
func (m *GossipTimestampFilter) MsgType() MessageType { return MsgGossipTimestampFilter }

// InRange reports whether timestamp is in the filter's range, computed without overflow.
func (m *GossipTimestampFilter) InRange(timestamp uint32) bool {
	return timestamp >= m.FirstTimestamp && uint64(timestamp) < uint64(m.FirstTimestamp)+uint64(m.TimestampRange)
}

// AppendPayload appends the payload encoding.
func (m *GossipTimestampFilter) AppendPayload(b []byte) ([]byte, error) {
	b = append(b, m.ChainHash[:]...)
	b = appendU32(b, m.FirstTimestamp)
	b = appendU32(b, m.TimestampRange)
	return appendExtension(b, nil, m.ExtraTLVs)
}

// DecodePayload decodes the payload; see DecodeMessage for the errors.
func (m *GossipTimestampFilter) DecodePayload(payload []byte) error {
	r := &reader{b: payload}
	var out GossipTimestampFilter
	out.ChainHash = r.hash("chain_hash")
	out.FirstTimestamp = r.u32("first_timestamp")
	out.TimestampRange = r.u32("timestamp_range")
	var err error
	if out.ExtraTLVs, err = r.extraOnly(); err != nil {
		return err
	}
	*m = out
	return nil
}
