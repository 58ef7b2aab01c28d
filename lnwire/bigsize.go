package lnwire

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Errors returned by the BigSize and truncated-integer decoders (BOLT 1, "Appendix A: BigSize" and
// "Fundamental Types").
var (
	// ErrNonCanonicalBigSize is returned when a BigSize value is encoded in more bytes than it needs.
	ErrNonCanonicalBigSize = errors.New("lnwire: decoded bigsize is not canonical")
	// ErrNonMinimalTruncatedInt is returned when a tu16/tu32/tu64 has a leading zero byte.
	ErrNonMinimalTruncatedInt = errors.New("lnwire: truncated integer is not minimally encoded")
	// ErrTruncatedIntTooLong is returned when a tu16/tu32/tu64 is longer than its type allows.
	ErrTruncatedIntTooLong = errors.New("lnwire: truncated integer is too long")
	// ErrShortRead is returned whenever the input ends before a field is complete.
	ErrShortRead = errors.New("lnwire: unexpected end of data")
)

// BigSizeLen returns the number of bytes (1, 3, 5 or 9) that AppendBigSize writes for v.
func BigSizeLen(v uint64) int {
	switch {
	case v < 0xfd:
		return 1
	case v <= 0xffff:
		return 3
	case v <= 0xffffffff:
		return 5
	default:
		return 9
	}
}

// AppendBigSize appends the BOLT 1 BigSize encoding of v (big-endian, canonical) to b.
func AppendBigSize(b []byte, v uint64) []byte {
	switch {
	case v < 0xfd:
		return append(b, byte(v))
	case v <= 0xffff:
		return binary.BigEndian.AppendUint16(append(b, 0xfd), uint16(v))
	case v <= 0xffffffff:
		return binary.BigEndian.AppendUint32(append(b, 0xfe), uint32(v))
	default:
		return binary.BigEndian.AppendUint64(append(b, 0xff), v)
	}
}

// ReadBigSize decodes one BigSize value from the front of b and returns it with the number of bytes
// consumed. It returns ErrShortRead if b ends early and ErrNonCanonicalBigSize if the value could have
// been encoded in fewer bytes (BOLT 1, Appendix A).
func ReadBigSize(b []byte) (uint64, int, error) {
	if len(b) == 0 {
		return 0, 0, ErrShortRead
	}
	switch b[0] {
	case 0xfd:
		if len(b) < 3 {
			return 0, 0, ErrShortRead
		}
		v := uint64(binary.BigEndian.Uint16(b[1:3]))
		if v < 0xfd {
			return 0, 0, ErrNonCanonicalBigSize
		}
		return v, 3, nil
	case 0xfe:
		if len(b) < 5 {
			return 0, 0, ErrShortRead
		}
		v := uint64(binary.BigEndian.Uint32(b[1:5]))
		if v <= 0xffff {
			return 0, 0, ErrNonCanonicalBigSize
		}
		return v, 5, nil
	case 0xff:
		if len(b) < 9 {
			return 0, 0, ErrShortRead
		}
		v := binary.BigEndian.Uint64(b[1:9])
		if v <= 0xffffffff {
			return 0, 0, ErrNonCanonicalBigSize
		}
		return v, 9, nil
	default:
		return uint64(b[0]), 1, nil
	}
}

// AppendTruncatedUint64 appends v as a BOLT 1 truncated integer (tu64): big-endian with all leading zero
// bytes removed, so 0 is encoded as zero bytes. It also serves tu16 and tu32 values.
func AppendTruncatedUint64(b []byte, v uint64) []byte {
	var full [8]byte
	binary.BigEndian.PutUint64(full[:], v)
	i := 0
	for i < 8 && full[i] == 0 {
		i++
	}
	return append(b, full[i:]...)
}

// DecodeTruncatedUint decodes a truncated integer of at most maxLen bytes (2 for tu16, 4 for tu32, 8 for
// tu64). It returns ErrTruncatedIntTooLong if b is longer than maxLen and ErrNonMinimalTruncatedInt if b
// has a leading zero byte (BOLT 1, "Fundamental Types").
func DecodeTruncatedUint(b []byte, maxLen int) (uint64, error) {
	if len(b) > maxLen {
		return 0, fmt.Errorf("%w: %d bytes, at most %d", ErrTruncatedIntTooLong, len(b), maxLen)
	}
	if len(b) > 0 && b[0] == 0 {
		return 0, ErrNonMinimalTruncatedInt
	}
	var v uint64
	for _, c := range b {
		v = v<<8 | uint64(c)
	}
	return v, nil
}
