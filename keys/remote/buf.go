package remote

import (
	"bytes"
	"encoding/binary"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/wire"
)

// writer appends big-endian values to a buffer.
type writer struct{ b []byte }

func (w *writer) u8(v uint8)               { w.b = append(w.b, v) }
func (w *writer) u16(v uint16)             { w.b = binary.BigEndian.AppendUint16(w.b, v) }
func (w *writer) u32(v uint32)             { w.b = binary.BigEndian.AppendUint32(w.b, v) }
func (w *writer) u64(v uint64)             { w.b = binary.BigEndian.AppendUint64(w.b, v) }
func (w *writer) fixed(b []byte)           { w.b = append(w.b, b...) }
func (w *writer) bool(v bool)              { w.u8(boolByte(v)) }
func (w *writer) bytes16(b []byte)         { w.u16(uint16(len(b))); w.fixed(b) }
func (w *writer) point(p *btcec.PublicKey) { w.fixed(pointBytes(p)) }

// sig writes a signature as 64 bytes r || s, or 64 zero bytes for nil.
func (w *writer) sig(s *ecdsa.Signature) { w.fixed(sigBytes(s)) }

// tx writes a transaction as kind (0 nil, 1 without witness, 2 with witness), a u32 length and its
// serialization. The kind makes a transaction without inputs decode unambiguously.
func (w *writer) tx(tx *wire.MsgTx) {
	if tx == nil {
		w.u8(txNil)
		return
	}
	var buf bytes.Buffer
	kind := byte(txLegacy)
	if tx.HasWitness() {
		kind = txWitness
		_ = tx.Serialize(&buf)
	} else {
		_ = tx.SerializeNoWitness(&buf)
	}
	w.u8(kind)
	w.u32(uint32(buf.Len()))
	w.fixed(buf.Bytes())
}

func boolByte(v bool) byte {
	if v {
		return 1
	}
	return 0
}

// pointBytes is the 33-byte compressed encoding of p, or 33 zero bytes for nil.
func pointBytes(p *btcec.PublicKey) []byte {
	if p == nil {
		return make([]byte, 33)
	}
	return p.SerializeCompressed()
}

// sigBytes is r || s (32 bytes each), or 64 zero bytes for nil.
func sigBytes(s *ecdsa.Signature) []byte {
	out := make([]byte, 64)
	if s == nil {
		return out
	}
	r, sv := s.R(), s.S()
	r.PutBytesUnchecked(out[:32])
	sv.PutBytesUnchecked(out[32:])
	return out
}

// Transaction encoding kinds.
const (
	txNil     = 0
	txLegacy  = 1
	txWitness = 2
)

// reader decodes what a writer wrote. It keeps the first error and returns zero values after it; every
// length is checked against the bytes left before anything is allocated.
type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: %s", ErrMalformed, fmt.Sprintf(format, args...))
	}
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.fail("need %d bytes, %d left", n, len(r.b))
		return nil
	}
	out := r.b[:n:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() uint8 {
	if b := r.take(1); b != nil {
		return b[0]
	}
	return 0
}

func (r *reader) u16() uint16 {
	if b := r.take(2); b != nil {
		return binary.BigEndian.Uint16(b)
	}
	return 0
}

func (r *reader) u32() uint32 {
	if b := r.take(4); b != nil {
		return binary.BigEndian.Uint32(b)
	}
	return 0
}

func (r *reader) u64() uint64 {
	if b := r.take(8); b != nil {
		return binary.BigEndian.Uint64(b)
	}
	return 0
}

func (r *reader) bool() bool {
	switch v := r.u8(); v {
	case 0:
		return false
	case 1:
		return true
	default:
		r.fail("boolean %d", v)
		return false
	}
}

func (r *reader) fixed32() (out [32]byte) {
	copy(out[:], r.take(32))
	return out
}

// bytes16 reads a u16 length and that many bytes (a copy; nil for length 0), at most max.
func (r *reader) bytes16(max int) []byte {
	n := int(r.u16())
	if n > max {
		r.fail("length %d above %d", n, max)
		return nil
	}
	b := r.take(n)
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// point reads 33 bytes; 33 zero bytes give nil.
func (r *reader) point() *btcec.PublicKey {
	b := r.take(33)
	if b == nil || isZero(b) {
		return nil
	}
	if b[0] != 2 && b[0] != 3 {
		r.fail("point prefix %#x", b[0])
		return nil
	}
	p, err := btcec.ParsePubKey(b)
	if err != nil {
		r.fail("invalid point: %v", err)
		return nil
	}
	return p
}

// sig reads 64 bytes r || s; 64 zero bytes give nil. r and s must be in [1, n-1].
func (r *reader) sig() *ecdsa.Signature {
	b := r.take(64)
	if b == nil || isZero(b) {
		return nil
	}
	var rs, ss btcec.ModNScalar
	if rs.SetByteSlice(b[:32]) || ss.SetByteSlice(b[32:]) || rs.IsZero() || ss.IsZero() {
		r.fail("signature scalar out of range")
		return nil
	}
	return ecdsa.NewSignature(&rs, &ss)
}

// tx reads a transaction written by writer.tx, of at most MaxTxLen bytes.
func (r *reader) tx() *wire.MsgTx {
	kind := r.u8()
	if r.err != nil || kind == txNil {
		return nil
	}
	if kind != txLegacy && kind != txWitness {
		r.fail("transaction kind %d", kind)
		return nil
	}
	n := r.u32()
	if r.err == nil && n > MaxTxLen {
		r.fail("transaction of %d bytes above %d", n, MaxTxLen)
		return nil
	}
	b := r.take(int(n))
	if r.err != nil {
		return nil
	}
	tx, err := parseTx(b, kind == txWitness)
	if err != nil {
		r.fail("%v", err)
		return nil
	}
	return tx
}

// done fails unless every byte was read.
func (r *reader) done() {
	if r.err == nil && len(r.b) != 0 {
		r.fail("%d trailing bytes", len(r.b))
	}
}

func isZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
