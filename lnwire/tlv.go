package lnwire

import (
	"errors"
	"fmt"
	"sort"
)

// Errors returned when a TLV stream is malformed (BOLT 1, "Type-Length-Value Format", reader requirements).
var (
	// ErrTLVNotIncreasing is returned when record types are not strictly increasing (this includes duplicates).
	ErrTLVNotIncreasing = errors.New("lnwire: tlv record types are not strictly increasing")
	// ErrTLVLengthTooLarge is returned when a record's length exceeds the bytes left in the stream.
	ErrTLVLengthTooLarge = errors.New("lnwire: tlv record length exceeds remaining stream")
	// ErrUnknownEvenType is returned for a record (or message) of an unknown even type, which a reader
	// must refuse ("it's OK to be odd").
	ErrUnknownEvenType = errors.New("lnwire: unknown required (even) type")
	// ErrInvalidTLVValue is returned when a known record's value does not decode as its type requires.
	ErrInvalidTLVValue = errors.New("lnwire: invalid tlv record value")
)

// TLVRecord is one raw record of a TLV stream: a BigSize type and its value bytes.
type TLVRecord struct {
	Type  uint64
	Value []byte
}

// TLVStream is a decoded TLV stream: records in strictly increasing type order. Decoding keeps every
// record, known or not, so that a message re-encodes byte for byte; use CheckUnknownEven to refuse the
// unknown even ones.
type TLVStream []TLVRecord

// DecodeTLVStream parses b as a complete TLV stream. It checks the framing rules of BOLT 1: canonical
// BigSize type and length (ErrNonCanonicalBigSize), no record running past the end (ErrShortRead,
// ErrTLVLengthTooLarge), and strictly increasing types (ErrTLVNotIncreasing). Values alias b.
func DecodeTLVStream(b []byte) (TLVStream, error) {
	var s TLVStream
	for len(b) > 0 {
		t, n, err := ReadBigSize(b)
		if err != nil {
			return nil, fmt.Errorf("tlv type: %w", err)
		}
		b = b[n:]
		l, n, err := ReadBigSize(b)
		if err != nil {
			return nil, fmt.Errorf("tlv length of type %d: %w", t, err)
		}
		b = b[n:]
		if l > uint64(len(b)) {
			return nil, fmt.Errorf("%w: type %d length %d, %d left", ErrTLVLengthTooLarge, t, l, len(b))
		}
		if len(s) > 0 && t <= s[len(s)-1].Type {
			return nil, fmt.Errorf("%w: %d after %d", ErrTLVNotIncreasing, t, s[len(s)-1].Type)
		}
		s = append(s, TLVRecord{Type: t, Value: b[:l:l]})
		b = b[l:]
	}
	return s, nil
}

// Append appends the encoding of the stream to b. Records must already be in increasing type order;
// use Set to build a stream in that order.
func (s TLVStream) Append(b []byte) []byte {
	for _, r := range s {
		b = AppendBigSize(b, r.Type)
		b = AppendBigSize(b, uint64(len(r.Value)))
		b = append(b, r.Value...)
	}
	return b
}

// Encode returns the stream's encoding.
func (s TLVStream) Encode() []byte { return s.Append(nil) }

// Get returns the value of the record of type t and whether it is present.
func (s TLVStream) Get(t uint64) ([]byte, bool) {
	i := sort.Search(len(s), func(i int) bool { return s[i].Type >= t })
	if i < len(s) && s[i].Type == t {
		return s[i].Value, true
	}
	return nil, false
}

// Set returns the stream with the record of type t set to value, keeping types in increasing order
// (replacing an existing record of that type).
func (s TLVStream) Set(t uint64, value []byte) TLVStream {
	i := sort.Search(len(s), func(i int) bool { return s[i].Type >= t })
	if i < len(s) && s[i].Type == t {
		s[i].Value = value
		return s
	}
	s = append(s, TLVRecord{})
	copy(s[i+1:], s[i:])
	s[i] = TLVRecord{Type: t, Value: value}
	return s
}

// Delete returns the stream without the record of type t.
func (s TLVStream) Delete(t uint64) TLVStream {
	i := sort.Search(len(s), func(i int) bool { return s[i].Type >= t })
	if i < len(s) && s[i].Type == t {
		return append(s[:i], s[i+1:]...)
	}
	return s
}

// CheckUnknownEven returns ErrUnknownEvenType if the stream holds an even-typed record whose type is not
// among known. Unknown odd records are allowed and ignored (BOLT 1).
func (s TLVStream) CheckUnknownEven(known ...uint64) error {
next:
	for _, r := range s {
		if r.Type%2 == 1 {
			continue
		}
		for _, k := range known {
			if r.Type == k {
				continue next
			}
		}
		return fmt.Errorf("%w: tlv type %d", ErrUnknownEvenType, r.Type)
	}
	return nil
}
