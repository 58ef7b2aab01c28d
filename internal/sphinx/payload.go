package sphinx

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/lnwire"
)

// TLV types of the onion hop payload (BOLT 4, "Packet Structure", payload format).
const (
	TypeAmtToForward           uint64 = 2
	TypeOutgoingCLTVValue      uint64 = 4
	TypeShortChannelID         uint64 = 6
	TypePaymentData            uint64 = 8
	TypeEncryptedRecipientData uint64 = 10
	TypeCurrentPathKey         uint64 = 12
	TypePaymentMetadata        uint64 = 16
	TypeTotalAmountMsat        uint64 = 18
	// TypeKeysendPreimage is the spontaneous-payment ("keysend") preimage record, an odd type outside
	// BOLT 4 that carries a 32-byte preimage.
	TypeKeysendPreimage uint64 = 5482373484
)

// knownPayloadTypes lists every type HopPayload decodes.
var knownPayloadTypes = []uint64{
	TypeAmtToForward, TypeOutgoingCLTVValue, TypeShortChannelID, TypePaymentData,
	TypeEncryptedRecipientData, TypeCurrentPathKey, TypePaymentMetadata, TypeTotalAmountMsat,
	TypeKeysendPreimage,
}

func isKnownPayloadType(t uint64) bool {
	for _, k := range knownPayloadTypes {
		if k == t {
			return true
		}
	}
	return false
}

// PaymentData is the payment_data record (type 8): the invoice's 32-byte payment_secret and the
// total amount of the (possibly multi-part) payment in millisatoshi.
type PaymentData struct {
	PaymentSecret [32]byte
	TotalMsat     uint64
}

// HopPayload is the decoded TLV payload for one hop (BOLT 4, "Packet Structure", payload format).
type HopPayload struct {
	// AmtToForwardMsat is amt_to_forward (type 2, tu64), in millisatoshi.
	AmtToForwardMsat uint64
	// OutgoingCLTVValue is outgoing_cltv_value (type 4, tu32), a block height.
	OutgoingCLTVValue uint32
	// ShortChannelID is short_channel_id (type 6, 8 bytes) of the outgoing channel; nil for the final
	// hop and inside a blinded route.
	ShortChannelID *uint64
	// PaymentData is payment_data (type 8), normally present for the final hop only.
	PaymentData *PaymentData
	// PaymentMetadata is payment_metadata (type 16), nil when absent.
	PaymentMetadata []byte
	// KeysendPreimage is the keysend preimage (type 5482373484, 32 bytes), nil when absent.
	KeysendPreimage *[32]byte
	// EncryptedRecipientData is encrypted_recipient_data (type 10), kept raw; nil when absent. Its
	// presence marks a hop inside a blinded route.
	EncryptedRecipientData []byte
	// CurrentPathKey is current_path_key (type 12, a 33-byte point), given to the introduction node
	// of a blinded route; nil when absent.
	CurrentPathKey *btcec.PublicKey
	// TotalAmountMsat is total_amount_msat (type 18, tu64), the blinded-route counterpart of
	// payment_data's total_msat; nil when absent.
	TotalAmountMsat *uint64
	// Extra holds records of other types: on decode, the unknown odd records (unknown even ones are
	// refused); on encode they are written as given, in type order.
	Extra lnwire.TLVStream
}

// PayloadError describes an invalid hop payload. errors.Is(err, ErrInvalidHopPayload) holds for it.
// Type and Offset locate the offending record when known (0 otherwise); Failure turns them into the
// invalid_onion_payload failure (BOLT 4, "Failure Messages").
type PayloadError struct {
	// Type is the TLV type at fault, 0 if the failure cannot be narrowed to one type.
	Type uint64
	// Offset is the byte offset of that record in the decrypted payload, 0 if unknown.
	Offset uint16
	// Err describes the problem.
	Err error
}

func (e *PayloadError) Error() string {
	if e.Type != 0 {
		return fmt.Sprintf("sphinx: invalid hop payload: tlv type %d at offset %d: %v", e.Type, e.Offset, e.Err)
	}
	return fmt.Sprintf("sphinx: invalid hop payload: %v", e.Err)
}

// Unwrap returns ErrInvalidHopPayload and the underlying error.
func (e *PayloadError) Unwrap() []error { return []error{ErrInvalidHopPayload, e.Err} }

// Failure returns the invalid_onion_payload failure (PERM|22) for this error.
func (e *PayloadError) Failure() FailureMessage { return NewInvalidOnionPayload(e.Type, e.Offset) }

// TotalMsat returns the total amount of the payment this HTLC belongs to, in millisatoshi:
// payment_data's total_msat, else total_amount_msat, else amt_to_forward, which a final node must
// assume when neither is present (BOLT 4, "Packet Structure", reader requirements).
func (p *HopPayload) TotalMsat() uint64 {
	switch {
	case p.PaymentData != nil:
		return p.PaymentData.TotalMsat
	case p.TotalAmountMsat != nil:
		return *p.TotalAmountMsat
	default:
		return p.AmtToForwardMsat
	}
}

// ErrDuplicatePayloadType is returned by HopPayload.Encode when Extra repeats a type, or holds a type
// that has its own field.
var ErrDuplicatePayloadType = errors.New("sphinx: duplicate hop payload tlv type")

// Encode returns the payload's TLV stream, without a length prefix, ready for Hop.Payload.
//
// amt_to_forward and outgoing_cltv_value are written unless both are zero in a payload that carries
// EncryptedRecipientData but no TotalAmountMsat: a non-final hop inside a blinded route, which must
// not carry them. Every other
// record is written when its field is non-nil. It returns ErrDuplicatePayloadType if Extra holds a
// type that has its own field or holds a type twice.
func (p *HopPayload) Encode() ([]byte, error) {
	var s lnwire.TLVStream
	blindedIntermediate := p.EncryptedRecipientData != nil && p.TotalAmountMsat == nil &&
		p.AmtToForwardMsat == 0 && p.OutgoingCLTVValue == 0
	if !blindedIntermediate {
		s = s.Set(TypeAmtToForward, lnwire.AppendTruncatedUint64(nil, p.AmtToForwardMsat))
		s = s.Set(TypeOutgoingCLTVValue, lnwire.AppendTruncatedUint64(nil, uint64(p.OutgoingCLTVValue)))
	}
	if p.ShortChannelID != nil {
		s = s.Set(TypeShortChannelID, binary.BigEndian.AppendUint64(nil, *p.ShortChannelID))
	}
	if p.PaymentData != nil {
		v := append([]byte(nil), p.PaymentData.PaymentSecret[:]...)
		s = s.Set(TypePaymentData, lnwire.AppendTruncatedUint64(v, p.PaymentData.TotalMsat))
	}
	if p.EncryptedRecipientData != nil {
		s = s.Set(TypeEncryptedRecipientData, p.EncryptedRecipientData)
	}
	if p.CurrentPathKey != nil {
		s = s.Set(TypeCurrentPathKey, p.CurrentPathKey.SerializeCompressed())
	}
	if p.PaymentMetadata != nil {
		s = s.Set(TypePaymentMetadata, p.PaymentMetadata)
	}
	if p.TotalAmountMsat != nil {
		s = s.Set(TypeTotalAmountMsat, lnwire.AppendTruncatedUint64(nil, *p.TotalAmountMsat))
	}
	if p.KeysendPreimage != nil {
		s = s.Set(TypeKeysendPreimage, p.KeysendPreimage[:])
	}
	for i, r := range p.Extra {
		if isKnownPayloadType(r.Type) {
			return nil, fmt.Errorf("%w: extra record of type %d has its own field", ErrDuplicatePayloadType, r.Type)
		}
		for _, q := range p.Extra[:i] {
			if q.Type == r.Type {
				return nil, fmt.Errorf("%w: extra record type %d repeated", ErrDuplicatePayloadType, r.Type)
			}
		}
		s = s.Set(r.Type, r.Value)
	}
	return s.Encode(), nil
}

// DecodeHopPayload decodes a hop's TLV payload (ProcessedPacket.Payload) and applies the BOLT 4
// reader requirements that depend only on the payload ("Packet Structure", Requirements):
//
//   - the stream must be a valid TLV stream and hold no unknown even type;
//   - known records must have valid values (tu64/tu32 minimal, 8-byte short_channel_id, 32..40-byte
//     payment_data, a valid 33-byte current_path_key, a 32-byte keysend preimage);
//   - with encrypted_recipient_data (blinded route): a non-final hop may carry nothing but types 10
//     and 12; a final hop only types 2, 4, 10, 12 and 18, and must carry 2, 4 and 18;
//   - otherwise: current_path_key is refused, amt_to_forward and outgoing_cltv_value are required,
//     and a non-final hop (isFinal false) needs short_channel_id.
//
// Checks that need the HTLC (the update_add_htlc path_key, amounts and expiries) are the caller's.
// Every error is a *PayloadError (errors.Is ErrInvalidHopPayload) whose Failure() is the
// invalid_onion_payload to return. The result does not alias b.
func DecodeHopPayload(b []byte, isFinal bool) (*HopPayload, error) {
	b = append([]byte(nil), b...)
	stream, err := lnwire.DecodeTLVStream(b)
	if err != nil {
		return nil, &PayloadError{Err: err}
	}
	// Byte offset of each record, for invalid_onion_payload.
	offsets := make([]int, len(stream))
	off := 0
	for i, r := range stream {
		offsets[i] = off
		off += lnwire.BigSizeLen(r.Type) + lnwire.BigSizeLen(uint64(len(r.Value))) + len(r.Value)
	}
	fail := func(i int, err error) error {
		o := offsets[i]
		if o > 0xffff {
			o = 0xffff
		}
		return &PayloadError{Type: stream[i].Type, Offset: uint16(o), Err: err}
	}

	p := &HopPayload{}
	var haveAmt, haveCLTV bool
	for i, r := range stream {
		v := r.Value
		switch r.Type {
		case TypeAmtToForward:
			x, err := lnwire.DecodeTruncatedUint(v, 8)
			if err != nil {
				return nil, fail(i, fmt.Errorf("amt_to_forward: %w", err))
			}
			p.AmtToForwardMsat, haveAmt = x, true
		case TypeOutgoingCLTVValue:
			x, err := lnwire.DecodeTruncatedUint(v, 4)
			if err != nil {
				return nil, fail(i, fmt.Errorf("outgoing_cltv_value: %w", err))
			}
			p.OutgoingCLTVValue, haveCLTV = uint32(x), true
		case TypeShortChannelID:
			if len(v) != 8 {
				return nil, fail(i, fmt.Errorf("%w: short_channel_id is %d bytes", lnwire.ErrInvalidTLVValue, len(v)))
			}
			scid := binary.BigEndian.Uint64(v)
			p.ShortChannelID = &scid
		case TypePaymentData:
			if len(v) < 32 {
				return nil, fail(i, fmt.Errorf("%w: payment_data is %d bytes", lnwire.ErrInvalidTLVValue, len(v)))
			}
			total, err := lnwire.DecodeTruncatedUint(v[32:], 8)
			if err != nil {
				return nil, fail(i, fmt.Errorf("payment_data total_msat: %w", err))
			}
			pd := &PaymentData{TotalMsat: total}
			copy(pd.PaymentSecret[:], v[:32])
			p.PaymentData = pd
		case TypeEncryptedRecipientData:
			p.EncryptedRecipientData = v
		case TypeCurrentPathKey:
			if len(v) != PubKeySize {
				return nil, fail(i, fmt.Errorf("%w: current_path_key is %d bytes", lnwire.ErrInvalidTLVValue, len(v)))
			}
			k, err := btcec.ParsePubKey(v)
			if err != nil {
				return nil, fail(i, fmt.Errorf("%w: current_path_key: %v", lnwire.ErrInvalidTLVValue, err))
			}
			p.CurrentPathKey = k
		case TypePaymentMetadata:
			p.PaymentMetadata = v
		case TypeTotalAmountMsat:
			x, err := lnwire.DecodeTruncatedUint(v, 8)
			if err != nil {
				return nil, fail(i, fmt.Errorf("total_amount_msat: %w", err))
			}
			p.TotalAmountMsat = &x
		case TypeKeysendPreimage:
			if len(v) != 32 {
				return nil, fail(i, fmt.Errorf("%w: keysend preimage is %d bytes", lnwire.ErrInvalidTLVValue, len(v)))
			}
			var pre [32]byte
			copy(pre[:], v)
			p.KeysendPreimage = &pre
		default:
			if r.Type%2 == 0 {
				return nil, fail(i, lnwire.ErrUnknownEvenType)
			}
			p.Extra = append(p.Extra, r)
		}
	}

	missing := func(t uint64, name string) error {
		return &PayloadError{Type: t, Err: fmt.Errorf("missing %s", name)}
	}
	if p.EncryptedRecipientData != nil {
		allowed := []uint64{TypeEncryptedRecipientData, TypeCurrentPathKey}
		if isFinal {
			allowed = append(allowed, TypeAmtToForward, TypeOutgoingCLTVValue, TypeTotalAmountMsat)
		}
		for i, r := range stream {
			ok := false
			for _, a := range allowed {
				ok = ok || r.Type == a
			}
			if !ok {
				return nil, fail(i, errors.New("record not allowed in a blinded hop payload"))
			}
		}
		if isFinal {
			switch {
			case !haveAmt:
				return nil, missing(TypeAmtToForward, "amt_to_forward")
			case !haveCLTV:
				return nil, missing(TypeOutgoingCLTVValue, "outgoing_cltv_value")
			case p.TotalAmountMsat == nil:
				return nil, missing(TypeTotalAmountMsat, "total_amount_msat")
			}
		}
		return p, nil
	}
	if p.CurrentPathKey != nil {
		for i, r := range stream {
			if r.Type == TypeCurrentPathKey {
				return nil, fail(i, errors.New("current_path_key without encrypted_recipient_data"))
			}
		}
	}
	switch {
	case !haveAmt:
		return nil, missing(TypeAmtToForward, "amt_to_forward")
	case !haveCLTV:
		return nil, missing(TypeOutgoingCLTVValue, "outgoing_cltv_value")
	case !isFinal && p.ShortChannelID == nil:
		return nil, missing(TypeShortChannelID, "short_channel_id")
	}
	return p, nil
}
