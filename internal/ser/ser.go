// Package ser is the byte-level encoding of lnkit's persisted state (channel manager and monitors):
// big-endian integers, length-prefixed byte strings, points, transactions. A Reader keeps the first
// error and returns zero values after it, so decoders read straight through and check Err once; every
// length is bounded by what is left, so corrupt input cannot make it allocate without limit.
package ser

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// ErrCorrupt is returned (wrapped) for input that ends early or holds an invalid value.
var ErrCorrupt = errors.New("ser: corrupt data")

// Writer appends encoded values to a buffer.
type Writer struct{ b []byte }

// Bytes returns what was written.
func (w *Writer) Bytes() []byte { return w.b }

func (w *Writer) U8(v uint8)   { w.b = append(w.b, v) }
func (w *Writer) U16(v uint16) { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *Writer) U32(v uint32) { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *Writer) U64(v uint64) { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *Writer) I64(v int64)  { w.U64(uint64(v)) }
func (w *Writer) Bool(v bool) {
	if v {
		w.U8(1)
	} else {
		w.U8(0)
	}
}

// Fixed writes b as is (its length is implied by the type being written).
func (w *Writer) Fixed(b []byte) { w.b = append(w.b, b...) }

// Var writes a u32 length and b.
func (w *Writer) Var(b []byte) {
	w.U32(uint32(len(b)))
	w.b = append(w.b, b...)
}

// Point writes a 33-byte compressed point, or 33 zero bytes for nil.
func (w *Writer) Point(p *btcec.PublicKey) {
	if p == nil {
		w.b = append(w.b, make([]byte, 33)...)
		return
	}
	w.b = append(w.b, p.SerializeCompressed()...)
}

// Hash writes 32 bytes.
func (w *Writer) Hash(h chainhash.Hash) { w.b = append(w.b, h[:]...) }

// OutPoint writes a txid and an index.
func (w *Writer) OutPoint(op wire.OutPoint) {
	w.Hash(op.Hash)
	w.U32(op.Index)
}

// Tx writes a length-prefixed serialized transaction, or a zero length for nil.
func (w *Writer) Tx(tx *wire.MsgTx) {
	if tx == nil {
		w.U32(0)
		return
	}
	var buf bytes.Buffer
	_ = tx.Serialize(&buf)
	w.Var(buf.Bytes())
}

// Reader decodes values written by a Writer.
type Reader struct {
	b   []byte
	err error
}

// NewReader reads from b.
func NewReader(b []byte) *Reader { return &Reader{b: b} }

// Err returns the first error met, if any.
func (r *Reader) Err() error { return r.err }

// Remaining returns how many bytes are left.
func (r *Reader) Remaining() int { return len(r.b) }

// Fail records an error (for a value the caller found invalid).
func (r *Reader) Fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrCorrupt, fmt.Sprintf(format, args...))
	}
}

func (r *Reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.Fail("need %d bytes, %d left", n, len(r.b))
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *Reader) U8() uint8 {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *Reader) U16() uint16 {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint16(b)
}

func (r *Reader) U32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint32(b)
}

func (r *Reader) U64() uint64 {
	b := r.take(8)
	if b == nil {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func (r *Reader) I64() int64 { return int64(r.U64()) }

func (r *Reader) Bool() bool { return r.U8() != 0 }

// Fixed reads n bytes (a copy).
func (r *Reader) Fixed(n int) []byte { return append([]byte(nil), r.take(n)...) }

// Fixed32 reads 32 bytes into an array.
func (r *Reader) Fixed32() (out [32]byte) {
	copy(out[:], r.take(32))
	return out
}

// Var reads a u32 length and that many bytes (a copy; nil for length 0).
func (r *Reader) Var() []byte {
	n := r.U32()
	if n == 0 {
		return nil
	}
	return r.Fixed(int(n))
}

// Point reads a 33-byte point; 33 zero bytes give nil.
func (r *Reader) Point() *btcec.PublicKey {
	b := r.take(33)
	if b == nil || bytes.Equal(b, make([]byte, 33)) {
		return nil
	}
	p, err := btcec.ParsePubKey(b)
	if err != nil {
		r.Fail("invalid point: %v", err)
		return nil
	}
	return p
}

// Hash reads 32 bytes.
func (r *Reader) Hash() chainhash.Hash { return chainhash.Hash(r.Fixed32()) }

// OutPoint reads a txid and an index.
func (r *Reader) OutPoint() wire.OutPoint {
	h := r.Hash()
	return wire.OutPoint{Hash: h, Index: r.U32()}
}

// Tx reads a transaction written by Writer.Tx (nil for length 0).
func (r *Reader) Tx() *wire.MsgTx {
	b := r.Var()
	if b == nil || r.err != nil {
		return nil
	}
	tx := wire.NewMsgTx(2)
	if err := tx.Deserialize(bytes.NewReader(b)); err != nil {
		r.Fail("invalid transaction: %v", err)
		return nil
	}
	return tx
}

// Count reads a u32 element count and checks that at least minSize bytes per element are left.
func (r *Reader) Count(minSize int) int {
	n := r.U32()
	if r.err != nil {
		return 0
	}
	if minSize > 0 && uint64(n)*uint64(minSize) > uint64(len(r.b)) {
		r.Fail("count %d exceeds the data left", n)
		return 0
	}
	return int(n)
}
