package lnwire

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
)

// Errors returned by the message codec. Decoding errors wrap one of these (or one of the BigSize/TLV
// sentinels) together with the name of the field that failed, so test them with errors.Is.
var (
	// ErrMessageTooLarge is returned when a message (type included) is longer than MaxMessageSize bytes.
	ErrMessageTooLarge = errors.New("lnwire: message exceeds 65535 bytes")
	// ErrInvalidPoint is returned when a 33-byte `point` is not a valid compressed secp256k1 point.
	ErrInvalidPoint = errors.New("lnwire: invalid point")
	// ErrMissingPoint is returned when encoding a message whose mandatory point field is nil.
	ErrMissingPoint = errors.New("lnwire: mandatory point is nil")
	// ErrFieldTooLong is returned when encoding a variable-length field whose length does not fit its
	// u16 length prefix.
	ErrFieldTooLong = errors.New("lnwire: field too long for its length prefix")
	// ErrAmountOverflow is returned when a satoshi amount does not fit in a btcutil.Amount (int64). Such a
	// value is far above the 21 million BTC bound of BOLT 1 ("Fundamental Types").
	ErrAmountOverflow = errors.New("lnwire: satoshi amount overflows int64")
	// ErrNegativeAmount is returned when encoding a negative btcutil.Amount.
	ErrNegativeAmount = errors.New("lnwire: negative satoshi amount")
	// ErrInvalidExtraTLVs is returned when encoding a message whose ExtraTLVs are not in strictly
	// increasing type order or hold a type the message itself defines.
	ErrInvalidExtraTLVs = errors.New("lnwire: invalid extra tlv records")
	// ErrUnsupportedMessage is returned by EncodeMessage for a Message type this package cannot encode.
	ErrUnsupportedMessage = errors.New("lnwire: unsupported message type")
)

// MaxMessageSize is the largest Lightning message, type included, in bytes (BOLT 1, "Lightning Message
// Format"; the BOLT 8 length prefix is a u16).
const MaxMessageSize = 65535

// reader walks a payload. Every method records the first error and afterwards returns zero values, so a
// decoder reads all its fields and checks r.err once.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(field string, err error) {
	if r.err == nil {
		r.err = fmt.Errorf("%s: %w", field, err)
	}
}

// take returns the next n bytes (aliasing the input) or nil after recording ErrShortRead.
func (r *reader) take(field string, n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail(field, fmt.Errorf("%w: need %d bytes, have %d", ErrShortRead, n, len(r.b)))
		return nil
	}
	v := r.b[:n:n]
	r.b = r.b[n:]
	return v
}

func (r *reader) u8(field string) uint8 {
	if v := r.take(field, 1); v != nil {
		return v[0]
	}
	return 0
}

func (r *reader) u16(field string) uint16 {
	if v := r.take(field, 2); v != nil {
		return binary.BigEndian.Uint16(v)
	}
	return 0
}

func (r *reader) u32(field string) uint32 {
	if v := r.take(field, 4); v != nil {
		return binary.BigEndian.Uint32(v)
	}
	return 0
}

func (r *reader) u64(field string) uint64 {
	if v := r.take(field, 8); v != nil {
		return binary.BigEndian.Uint64(v)
	}
	return 0
}

// sat reads a u64 satoshi amount; values above math.MaxInt64 fail with ErrAmountOverflow.
func (r *reader) sat(field string) btcutil.Amount {
	v := r.u64(field)
	if v > math.MaxInt64 {
		r.fail(field, fmt.Errorf("%w: %d", ErrAmountOverflow, v))
		return 0
	}
	return btcutil.Amount(v)
}

func (r *reader) bytes32(field string) (out [32]byte) {
	if v := r.take(field, 32); v != nil {
		copy(out[:], v)
	}
	return out
}

func (r *reader) hash(field string) chainhash.Hash {
	return chainhash.Hash(r.bytes32(field))
}

func (r *reader) channelID(field string) ChannelID {
	return ChannelID(r.bytes32(field))
}

func (r *reader) sig(field string) (s Sig) {
	if v := r.take(field, SigSize); v != nil {
		copy(s[:], v)
	}
	return s
}

func (r *reader) scid(field string) ShortChannelID {
	return NewShortChannelIDFromUint64(r.u64(field))
}

func (r *reader) point(field string) *btcec.PublicKey {
	v := r.take(field, PointSize)
	if v == nil {
		return nil
	}
	pk, err := ParsePoint(v)
	if err != nil {
		r.fail(field, err)
		return nil
	}
	return pk
}

// varBytes reads a u16 length then that many bytes. A zero length gives nil.
func (r *reader) varBytes(field string) []byte {
	n := r.u16(field + " length")
	v := r.take(field, int(n))
	if len(v) == 0 {
		return nil
	}
	return v
}

// rest returns all bytes not read yet.
func (r *reader) rest() []byte {
	if r.err != nil {
		return nil
	}
	v := r.b
	r.b = nil
	return v
}

// writer helpers: each appends a field to b.

func appendU16(b []byte, v uint16) []byte { return binary.BigEndian.AppendUint16(b, v) }
func appendU32(b []byte, v uint32) []byte { return binary.BigEndian.AppendUint32(b, v) }
func appendU64(b []byte, v uint64) []byte { return binary.BigEndian.AppendUint64(b, v) }

func appendSat(b []byte, field string, v btcutil.Amount) ([]byte, error) {
	if v < 0 {
		return nil, fmt.Errorf("%s: %w: %d", field, ErrNegativeAmount, v)
	}
	return appendU64(b, uint64(v)), nil
}

func appendPoint(b []byte, field string, pk *btcec.PublicKey) ([]byte, error) {
	if pk == nil {
		return nil, fmt.Errorf("%s: %w", field, ErrMissingPoint)
	}
	return append(b, pk.SerializeCompressed()...), nil
}

func appendVarBytes(b []byte, field string, v []byte) ([]byte, error) {
	if len(v) > math.MaxUint16 {
		return nil, fmt.Errorf("%s: %w: %d bytes", field, ErrFieldTooLong, len(v))
	}
	return append(appendU16(b, uint16(len(v))), v...), nil
}

// PointSize is the size of a compressed secp256k1 point on the wire (BOLT 1, "Fundamental Types").
const PointSize = 33

// ParsePoint parses a 33-byte compressed secp256k1 point (BOLT 1 `point`). It returns an error wrapping
// ErrInvalidPoint if b is not 33 bytes, does not start with 0x02 or 0x03, or is not on the curve.
func ParsePoint(b []byte) (*btcec.PublicKey, error) {
	if len(b) != PointSize {
		return nil, fmt.Errorf("%w: %d bytes, want %d", ErrInvalidPoint, len(b), PointSize)
	}
	if b[0] != 0x02 && b[0] != 0x03 {
		return nil, fmt.Errorf("%w: prefix 0x%02x", ErrInvalidPoint, b[0])
	}
	pk, err := btcec.ParsePubKey(b)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidPoint, err)
	}
	return pk, nil
}

// tlvExtension is the result of splitting a message's extension TLV stream into the records the message
// defines and the others.
type tlvExtension struct {
	known TLVStream
	extra TLVStream
}

func (e tlvExtension) get(t uint64) ([]byte, bool) { return e.known.Get(t) }

// extraOnly finishes decoding a message that has no TLV record of its own: it returns the reader's first
// error, or else the message extension's unknown odd records (unknown even ones are an error).
func (r *reader) extraOnly() (TLVStream, error) {
	if r.err != nil {
		return nil, r.err
	}
	ext, err := decodeExtension(r.rest())
	if err != nil {
		return nil, err
	}
	return ext.extra, nil
}

// decodeExtension parses the bytes after a message's fixed fields as its BOLT 1 `extension` TLV stream.
// Records of the types in known are returned in known; the others must be odd (else ErrUnknownEvenType)
// and are returned in extra. An empty extension gives nil streams.
func decodeExtension(b []byte, known ...uint64) (tlvExtension, error) {
	var ext tlvExtension
	if len(b) == 0 {
		return ext, nil
	}
	s, err := DecodeTLVStream(b)
	if err != nil {
		return ext, fmt.Errorf("extension: %w", err)
	}
	if err := s.CheckUnknownEven(known...); err != nil {
		return ext, fmt.Errorf("extension: %w", err)
	}
next:
	for _, rec := range s {
		for _, k := range known {
			if rec.Type == k {
				ext.known = append(ext.known, rec)
				continue next
			}
		}
		ext.extra = append(ext.extra, rec)
	}
	return ext, nil
}

// appendExtension appends the TLV stream made of the message's own records (types listed in knownTypes;
// only those in own are present) merged with extra. extra must be strictly increasing and must not use
// any of knownTypes (ErrInvalidExtraTLVs).
func appendExtension(b []byte, own TLVStream, extra TLVStream, knownTypes ...uint64) ([]byte, error) {
	for i, rec := range extra {
		if i > 0 && rec.Type <= extra[i-1].Type {
			return nil, fmt.Errorf("%w: type %d after %d", ErrInvalidExtraTLVs, rec.Type, extra[i-1].Type)
		}
		for _, k := range knownTypes {
			if rec.Type == k {
				return nil, fmt.Errorf("%w: type %d is a field of this message", ErrInvalidExtraTLVs, rec.Type)
			}
		}
	}
	// own is built in increasing order by the caller; merge the two sorted lists.
	i, j := 0, 0
	for i < len(own) || j < len(extra) {
		var rec TLVRecord
		if j >= len(extra) || (i < len(own) && own[i].Type < extra[j].Type) {
			rec = own[i]
			i++
		} else {
			rec = extra[j]
			j++
		}
		b = AppendBigSize(b, rec.Type)
		b = AppendBigSize(b, uint64(len(rec.Value)))
		b = append(b, rec.Value...)
	}
	return b, nil
}
