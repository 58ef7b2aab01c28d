package router

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrCorruptGraph is returned (wrapped) by ReadNetworkGraph for data that is not a snapshot Write
// produces: truncated, a non-minimal number, an out-of-range value or index, a duplicate, trailing
// bytes.
var ErrCorruptGraph = errors.New("router: corrupt graph snapshot")

// snapWriter appends the snapshot's encodings: big-endian fixed integers and minimal uvarints.
type snapWriter struct{ b []byte }

func (w *snapWriter) u8(v uint8)     { w.b = append(w.b, v) }
func (w *snapWriter) u32(v uint32)   { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *snapWriter) u64(v uint64)   { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *snapWriter) uv(v uint64)    { w.b = binary.AppendUvarint(w.b, v) }
func (w *snapWriter) fixed(b []byte) { w.b = append(w.b, b...) }
func (w *snapWriter) bytes(b []byte) { w.uv(uint64(len(b))); w.fixed(b) }

// snapReader reads them back; it keeps the first error and returns zero values after it.
type snapReader struct {
	b   []byte
	err error
}

func (r *snapReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrCorruptGraph}, args...)...)
	}
}

func (r *snapReader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("truncated")
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *snapReader) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *snapReader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *snapReader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

// uv reads a minimal uvarint no larger than max.
func (r *snapReader) uv(max uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b)
	if n <= 0 || n != len(binary.AppendUvarint(nil, v)) || v > max {
		r.fail("bad number")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// bytes reads a length-prefixed byte string (copied; nil when empty).
func (r *snapReader) bytes() []byte {
	n := r.uv(uint64(len(r.b)))
	if b := r.take(int(n)); len(b) > 0 {
		return append([]byte(nil), b...)
	}
	return nil
}

// count reads an element count, each element taking at least minSize bytes.
func (r *snapReader) count(minSize int) int {
	return int(r.uv(uint64(len(r.b) / minSize)))
}
