package lnwire

import (
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/wire"
)

// Errors returned by the fundamental-type helpers.
var (
	// ErrInvalidShortChannelID is returned by ParseShortChannelID and for out-of-range components.
	ErrInvalidShortChannelID = errors.New("lnwire: invalid short channel id")
	// ErrInvalidSignature is returned when a 64-byte signature's r or s is zero or not below the group
	// order, or when a signature cannot be converted to the compact form.
	ErrInvalidSignature = errors.New("lnwire: invalid signature")
	// ErrInvalidSignedIntLen is returned by DecodeSignedInt for an input that is not 1, 2, 4 or 8 bytes.
	ErrInvalidSignedIntLen = errors.New("lnwire: signed integer must be 1, 2, 4 or 8 bytes")
)

// ChannelID is the 32-byte `channel_id` (BOLT 2, "Definition of channel_id"). Before the funding
// transaction exists the same type carries the random `temporary_channel_id`. The all-zero ChannelID in
// `error` and `warning` refers to all channels (BOLT 1).
type ChannelID [32]byte

// NewChannelIDFromOutPoint derives the channel_id of a channel funded by op: the funding txid (in its
// wire byte order, as in the `funding_txid` field) with its last 2 bytes XORed with the big-endian
// funding output index (BOLT 2, "Definition of channel_id"). Only the low 16 bits of op.Index are used;
// funding_output_index is a u16 on the wire.
func NewChannelIDFromOutPoint(op wire.OutPoint) ChannelID {
	var id ChannelID
	copy(id[:], op.Hash[:])
	id[30] ^= byte(op.Index >> 8)
	id[31] ^= byte(op.Index)
	return id
}

// IsZero reports whether every byte of id is zero (the "all channels" id of `error`/`warning`).
func (id ChannelID) IsZero() bool { return id == ChannelID{} }

// String returns the 64-character lowercase hex of the 32 bytes in wire order.
func (id ChannelID) String() string { return hex.EncodeToString(id[:]) }

// ShortChannelID is the 8-byte `short_channel_id` (BOLT 7, "Definition of short_channel_id"): the
// funding transaction's block height (3 bytes), its index in the block (3 bytes) and the funding output
// index (2 bytes), big-endian.
type ShortChannelID struct {
	// BlockHeight is the height of the block holding the funding transaction; at most 2^24-1.
	BlockHeight uint32
	// TxIndex is the funding transaction's index in that block; at most 2^24-1.
	TxIndex uint32
	// OutputIndex is the funding output's index in the transaction.
	OutputIndex uint16
}

// NewShortChannelIDFromUint64 splits the u64 form of a short_channel_id into its parts.
func NewShortChannelIDFromUint64(v uint64) ShortChannelID {
	return ShortChannelID{
		BlockHeight: uint32(v >> 40),
		TxIndex:     uint32(v>>16) & 0xffffff,
		OutputIndex: uint16(v),
	}
}

// ToUint64 returns the u64 wire form: BlockHeight<<40 | TxIndex<<16 | OutputIndex. Bits of BlockHeight
// and TxIndex above 24 are dropped (see Valid).
func (s ShortChannelID) ToUint64() uint64 {
	return uint64(s.BlockHeight&0xffffff)<<40 | uint64(s.TxIndex&0xffffff)<<16 | uint64(s.OutputIndex)
}

// Valid reports whether BlockHeight and TxIndex fit in their 3-byte wire fields.
func (s ShortChannelID) Valid() bool { return s.BlockHeight <= 0xffffff && s.TxIndex <= 0xffffff }

// String returns the human-readable form "BlockHeightxTxIndexxOutputIndex", e.g. "539268x845x1" (BOLT 7).
func (s ShortChannelID) String() string {
	return fmt.Sprintf("%dx%dx%d", s.BlockHeight, s.TxIndex, s.OutputIndex)
}

// ParseShortChannelID parses the human-readable form "539268x845x1" (BOLT 7). It returns an error
// wrapping ErrInvalidShortChannelID if the form is wrong or a part is out of range (block height and
// transaction index are 24 bits, output index 16 bits).
func ParseShortChannelID(s string) (ShortChannelID, error) {
	parts := strings.Split(s, "x")
	if len(parts) != 3 {
		return ShortChannelID{}, fmt.Errorf("%w: %q is not BxTxO", ErrInvalidShortChannelID, s)
	}
	var vals [3]uint64
	limits := [3]int{24, 24, 16}
	for i, p := range parts {
		// ParseUint accepts only digits here (base 10, no sign), but reject "+" and empty parts early.
		if p == "" || p[0] == '+' || p[0] == '-' {
			return ShortChannelID{}, fmt.Errorf("%w: %q", ErrInvalidShortChannelID, s)
		}
		v, err := strconv.ParseUint(p, 10, limits[i])
		if err != nil {
			return ShortChannelID{}, fmt.Errorf("%w: %q: %v", ErrInvalidShortChannelID, s, err)
		}
		vals[i] = v
	}
	return ShortChannelID{BlockHeight: uint32(vals[0]), TxIndex: uint32(vals[1]), OutputIndex: uint16(vals[2])}, nil
}

// SigSize is the size of a `signature` on the wire: r and s, each 32 bytes big-endian (BOLT 1).
const SigSize = 64

// Sig is a 64-byte compact ECDSA signature r||s exactly as on the wire (BOLT 1 `signature`). It is kept
// raw so that messages re-encode byte for byte; ToSignature validates it.
type Sig [SigSize]byte

// NewSigFromECDSA converts a btcec ECDSA signature to the wire form. It returns an error wrapping
// ErrInvalidSignature for a nil signature or one with a zero r or s.
func NewSigFromECDSA(sig *ecdsa.Signature) (Sig, error) {
	var out Sig
	if sig == nil {
		return out, fmt.Errorf("%w: nil signature", ErrInvalidSignature)
	}
	r, s := sig.R(), sig.S()
	if r.IsZero() || s.IsZero() {
		return out, fmt.Errorf("%w: zero r or s", ErrInvalidSignature)
	}
	r.PutBytesUnchecked(out[:32])
	s.PutBytesUnchecked(out[32:])
	return out, nil
}

// NewSigFromDER parses a strict DER signature (as used in Bitcoin transactions, without the trailing
// sighash byte) and converts it to the wire form. Errors wrap ErrInvalidSignature; trailing bytes and
// non-minimal integer encodings are refused. High-S signatures are accepted and kept as they are.
func NewSigFromDER(der []byte) (Sig, error) {
	sig, err := ecdsa.ParseDERSignature(der)
	if err != nil {
		return Sig{}, fmt.Errorf("%w: %v", ErrInvalidSignature, err)
	}
	out, err := NewSigFromECDSA(sig)
	if err != nil {
		return Sig{}, err
	}
	if canon, _ := out.ToDER(); string(canon) != string(der) {
		return Sig{}, fmt.Errorf("%w: not strict DER (trailing or padding bytes)", ErrInvalidSignature)
	}
	return out, nil
}

// ToSignature converts the wire form to a btcec ECDSA signature. It returns an error wrapping
// ErrInvalidSignature if r or s is zero or not below the secp256k1 group order. It does not check low-S.
func (s Sig) ToSignature() (*ecdsa.Signature, error) {
	var r, sv btcec.ModNScalar
	if overflow := r.SetByteSlice(s[:32]); overflow {
		return nil, fmt.Errorf("%w: r >= group order", ErrInvalidSignature)
	}
	if overflow := sv.SetByteSlice(s[32:]); overflow {
		return nil, fmt.Errorf("%w: s >= group order", ErrInvalidSignature)
	}
	if r.IsZero() || sv.IsZero() {
		return nil, fmt.Errorf("%w: zero r or s", ErrInvalidSignature)
	}
	return ecdsa.NewSignature(&r, &sv), nil
}

// ToDER returns the strict DER encoding of r and s exactly as they are (no low-S normalisation, no
// sighash byte), for use in a witness. Errors are those of ToSignature.
func (s Sig) ToDER() ([]byte, error) {
	if _, err := s.ToSignature(); err != nil {
		return nil, err
	}
	derInt := func(v []byte) []byte {
		for len(v) > 1 && v[0] == 0 {
			v = v[1:]
		}
		if v[0]&0x80 != 0 {
			return append([]byte{0x00}, v...)
		}
		return v
	}
	r, sv := derInt(s[:32]), derInt(s[32:])
	out := make([]byte, 0, 6+len(r)+len(sv))
	out = append(out, 0x30, byte(4+len(r)+len(sv)), 0x02, byte(len(r)))
	out = append(out, r...)
	out = append(out, 0x02, byte(len(sv)))
	return append(out, sv...), nil
}

// AppendS8 appends v as an s8 (BOLT 1, "Fundamental Types": big-endian two's complement).
func AppendS8(b []byte, v int8) []byte { return append(b, byte(v)) }

// AppendS16 appends v as a 2-byte s16.
func AppendS16(b []byte, v int16) []byte { return binary.BigEndian.AppendUint16(b, uint16(v)) }

// AppendS32 appends v as a 4-byte s32.
func AppendS32(b []byte, v int32) []byte { return binary.BigEndian.AppendUint32(b, uint32(v)) }

// AppendS64 appends v as an 8-byte s64.
func AppendS64(b []byte, v int64) []byte { return binary.BigEndian.AppendUint64(b, uint64(v)) }

// SignedIntLen returns the smallest signed-integer width (1, 2, 4 or 8 bytes) that holds v.
func SignedIntLen(v int64) int {
	switch {
	case v >= -1<<7 && v < 1<<7:
		return 1
	case v >= -1<<15 && v < 1<<15:
		return 2
	case v >= -1<<31 && v < 1<<31:
		return 4
	default:
		return 8
	}
}

// AppendSignedInt appends v in the smallest of s8, s16, s32 and s64 that holds it (BOLT 1, Appendix D).
func AppendSignedInt(b []byte, v int64) []byte {
	switch SignedIntLen(v) {
	case 1:
		return AppendS8(b, int8(v))
	case 2:
		return AppendS16(b, int16(v))
	case 4:
		return AppendS32(b, int32(v))
	default:
		return AppendS64(b, v)
	}
}

// DecodeSignedInt decodes a big-endian two's complement s8, s16, s32 or s64, chosen by len(b). It
// returns ErrInvalidSignedIntLen for any other length. A wider encoding than needed is accepted, since
// fixed-width fields are wider than their values.
func DecodeSignedInt(b []byte) (int64, error) {
	switch len(b) {
	case 1:
		return int64(int8(b[0])), nil
	case 2:
		return int64(int16(binary.BigEndian.Uint16(b))), nil
	case 4:
		return int64(int32(binary.BigEndian.Uint32(b))), nil
	case 8:
		return int64(binary.BigEndian.Uint64(b)), nil
	default:
		return 0, fmt.Errorf("%w: got %d", ErrInvalidSignedIntLen, len(b))
	}
}
