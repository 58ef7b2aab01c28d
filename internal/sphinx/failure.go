package sphinx

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/lnkit/lnkit/lnwire"
)

// FailureCode is a BOLT 4 failure_code (BOLT 4, "Failure Messages"). Its top bits are flags.
type FailureCode uint16

// Flags in the top byte of a FailureCode.
const (
	// FlagBadOnion (BADONION): the onion was unparsable, encrypted by the sending peer.
	FlagBadOnion FailureCode = 0x8000
	// FlagPerm (PERM): permanent failure (otherwise transient).
	FlagPerm FailureCode = 0x4000
	// FlagNode (NODE): node failure (otherwise channel).
	FlagNode FailureCode = 0x2000
	// FlagUpdate (UPDATE): a channel_update is enclosed.
	FlagUpdate FailureCode = 0x1000
)

// The failure codes of BOLT 4, "Failure Messages". The data each one carries is noted; see the New*
// constructors.
const (
	// InvalidRealm (PERM|1, invalid_realm): no data. Dropped from the current spec with the legacy
	// payload format; kept to name it when received.
	InvalidRealm = FlagPerm | 1
	// TemporaryNodeFailure (NODE|2, temporary_node_failure): no data.
	TemporaryNodeFailure = FlagNode | 2
	// PermanentNodeFailure (PERM|NODE|2, permanent_node_failure): no data.
	PermanentNodeFailure = FlagPerm | FlagNode | 2
	// RequiredNodeFeatureMissing (PERM|NODE|3, required_node_feature_missing): no data.
	RequiredNodeFeatureMissing = FlagPerm | FlagNode | 3
	// InvalidOnionVersion (BADONION|PERM|4, invalid_onion_version): sha256_of_onion.
	InvalidOnionVersion = FlagBadOnion | FlagPerm | 4
	// InvalidOnionHMAC (BADONION|PERM|5, invalid_onion_hmac): sha256_of_onion.
	InvalidOnionHMAC = FlagBadOnion | FlagPerm | 5
	// InvalidOnionKey (BADONION|PERM|6, invalid_onion_key): sha256_of_onion.
	InvalidOnionKey = FlagBadOnion | FlagPerm | 6
	// TemporaryChannelFailure (UPDATE|7, temporary_channel_failure): u16 len, channel_update.
	TemporaryChannelFailure = FlagUpdate | 7
	// PermanentChannelFailure (PERM|8, permanent_channel_failure): no data.
	PermanentChannelFailure = FlagPerm | 8
	// RequiredChannelFeatureMissing (PERM|9, required_channel_feature_missing): no data.
	RequiredChannelFeatureMissing = FlagPerm | 9
	// UnknownNextPeer (PERM|10, unknown_next_peer): no data.
	UnknownNextPeer = FlagPerm | 10
	// AmountBelowMinimum (UPDATE|11, amount_below_minimum): u64 htlc_msat, u16 len, channel_update.
	AmountBelowMinimum = FlagUpdate | 11
	// FeeInsufficient (UPDATE|12, fee_insufficient): u64 htlc_msat, u16 len, channel_update.
	FeeInsufficient = FlagUpdate | 12
	// IncorrectCLTVExpiry (UPDATE|13, incorrect_cltv_expiry): u32 cltv_expiry, u16 len,
	// channel_update.
	IncorrectCLTVExpiry = FlagUpdate | 13
	// ExpiryTooSoon (UPDATE|14, expiry_too_soon): u16 len, channel_update.
	ExpiryTooSoon = FlagUpdate | 14
	// IncorrectOrUnknownPaymentDetails (PERM|15, incorrect_or_unknown_payment_details): u64
	// htlc_msat, u32 height.
	IncorrectOrUnknownPaymentDetails = FlagPerm | 15
	// IncorrectPaymentAmount (PERM|16, incorrect_payment_amount): historical, replaced by
	// IncorrectOrUnknownPaymentDetails; no data.
	IncorrectPaymentAmount = FlagPerm | 16
	// FinalExpiryTooSoon (17, final_expiry_too_soon): historical, replaced by
	// IncorrectOrUnknownPaymentDetails; no data.
	FinalExpiryTooSoon FailureCode = 17
	// FinalIncorrectCLTVExpiry (18, final_incorrect_cltv_expiry): u32 cltv_expiry.
	FinalIncorrectCLTVExpiry FailureCode = 18
	// FinalIncorrectHTLCAmount (19, final_incorrect_htlc_amount): u64 incoming_htlc_amt.
	FinalIncorrectHTLCAmount FailureCode = 19
	// ChannelDisabled (UPDATE|20, channel_disabled): u16 disabled_flags, u16 len, channel_update.
	ChannelDisabled = FlagUpdate | 20
	// ExpiryTooFar (21, expiry_too_far): no data.
	ExpiryTooFar FailureCode = 21
	// InvalidOnionPayload (PERM|22, invalid_onion_payload): bigsize type, u16 offset.
	InvalidOnionPayload = FlagPerm | 22
	// MPPTimeout (23, mpp_timeout): no data.
	MPPTimeout FailureCode = 23
	// InvalidOnionBlinding (BADONION|PERM|24, invalid_onion_blinding): sha256_of_onion.
	InvalidOnionBlinding = FlagBadOnion | FlagPerm | 24
)

var failureNames = map[FailureCode]string{
	InvalidRealm:                     "invalid_realm",
	TemporaryNodeFailure:             "temporary_node_failure",
	PermanentNodeFailure:             "permanent_node_failure",
	RequiredNodeFeatureMissing:       "required_node_feature_missing",
	InvalidOnionVersion:              "invalid_onion_version",
	InvalidOnionHMAC:                 "invalid_onion_hmac",
	InvalidOnionKey:                  "invalid_onion_key",
	TemporaryChannelFailure:          "temporary_channel_failure",
	PermanentChannelFailure:          "permanent_channel_failure",
	RequiredChannelFeatureMissing:    "required_channel_feature_missing",
	UnknownNextPeer:                  "unknown_next_peer",
	AmountBelowMinimum:               "amount_below_minimum",
	FeeInsufficient:                  "fee_insufficient",
	IncorrectCLTVExpiry:              "incorrect_cltv_expiry",
	ExpiryTooSoon:                    "expiry_too_soon",
	IncorrectOrUnknownPaymentDetails: "incorrect_or_unknown_payment_details",
	IncorrectPaymentAmount:           "incorrect_payment_amount",
	FinalExpiryTooSoon:               "final_expiry_too_soon",
	FinalIncorrectCLTVExpiry:         "final_incorrect_cltv_expiry",
	FinalIncorrectHTLCAmount:         "final_incorrect_htlc_amount",
	ChannelDisabled:                  "channel_disabled",
	ExpiryTooFar:                     "expiry_too_far",
	InvalidOnionPayload:              "invalid_onion_payload",
	MPPTimeout:                       "mpp_timeout",
	InvalidOnionBlinding:             "invalid_onion_blinding",
}

// String returns the spec's name for the code (e.g. "temporary_channel_failure"), or
// "unknown_failure_code(0xNNNN)".
func (c FailureCode) String() string {
	if n, ok := failureNames[c]; ok {
		return n
	}
	return fmt.Sprintf("unknown_failure_code(0x%04x)", uint16(c))
}

// IsBadOnion reports whether the BADONION flag is set.
func (c FailureCode) IsBadOnion() bool { return c&FlagBadOnion != 0 }

// IsPermanent reports whether the PERM flag is set.
func (c FailureCode) IsPermanent() bool { return c&FlagPerm != 0 }

// IsNode reports whether the NODE flag is set.
func (c FailureCode) IsNode() bool { return c&FlagNode != 0 }

// HasUpdate reports whether the UPDATE flag is set: the data must carry a channel_update.
func (c FailureCode) HasUpdate() bool { return c&FlagUpdate != 0 }

// Errors about failure messages.
var (
	// ErrMalformedFailureMessage is returned when a failuremsg is shorter than its 2-byte code or its
	// data is shorter than the code's fields.
	ErrMalformedFailureMessage = errors.New("sphinx: malformed failure message")
	// ErrUnknownFailureCode is returned by field accessors for a code whose layout is not known.
	ErrUnknownFailureCode = errors.New("sphinx: unknown failure code")
	// ErrNoSuchField is returned by a field accessor when the code carries no such field.
	ErrNoSuchField = errors.New("sphinx: failure code has no such field")
)

// MaxFailureDataLen is the largest Data a FailureMessage can carry: failure_len is a u16 and covers
// the 2-byte code too.
const MaxFailureDataLen = 0xffff - 2

// FailureMessage is a failuremsg (BOLT 4, "Failure Messages"): a 2-byte failure_code and the data of
// that code, followed by an optional TLV extension.
type FailureMessage struct {
	Code FailureCode
	// Data is everything after the code: the code-specific fields (e.g. u64 htlc_msat and u32 height
	// for incorrect_or_unknown_payment_details) and any TLV extension, as encoded on the wire.
	Data []byte
}

// Encode returns the failuremsg bytes: big-endian code then Data.
func (f FailureMessage) Encode() []byte {
	out := binary.BigEndian.AppendUint16(make([]byte, 0, 2+len(f.Data)), uint16(f.Code))
	return append(out, f.Data...)
}

// DecodeFailureMessage parses a failuremsg. It needs only the 2-byte code; Data is a copy of the
// rest, which the accessors parse on demand. It returns ErrMalformedFailureMessage if b is shorter
// than 2 bytes.
func DecodeFailureMessage(b []byte) (FailureMessage, error) {
	if len(b) < 2 {
		return FailureMessage{}, fmt.Errorf("%w: %d bytes", ErrMalformedFailureMessage, len(b))
	}
	return FailureMessage{
		Code: FailureCode(binary.BigEndian.Uint16(b)),
		Data: append([]byte(nil), b[2:]...),
	}, nil
}

// String returns the code's name and the data length, for logs.
func (f FailureMessage) String() string {
	return fmt.Sprintf("%s (%d data bytes)", f.Code, len(f.Data))
}

// fieldsLen returns the number of Data bytes taken by the code's own fields, before any TLV
// extension. It returns ErrUnknownFailureCode for a code of unknown layout and
// ErrMalformedFailureMessage if Data is too short.
func (f FailureMessage) fieldsLen() (int, error) {
	need := func(n int) (int, error) {
		if len(f.Data) < n {
			return 0, fmt.Errorf("%w: %s needs %d data bytes, has %d", ErrMalformedFailureMessage, f.Code, n, len(f.Data))
		}
		return n, nil
	}
	withUpdate := func(prefix int) (int, error) {
		if _, err := need(prefix + 2); err != nil {
			return 0, err
		}
		l := int(binary.BigEndian.Uint16(f.Data[prefix:]))
		return need(prefix + 2 + l)
	}
	switch f.Code {
	case InvalidRealm, TemporaryNodeFailure, PermanentNodeFailure, RequiredNodeFeatureMissing,
		PermanentChannelFailure, RequiredChannelFeatureMissing, UnknownNextPeer,
		IncorrectPaymentAmount, FinalExpiryTooSoon, ExpiryTooFar, MPPTimeout:
		return 0, nil
	case InvalidOnionVersion, InvalidOnionHMAC, InvalidOnionKey, InvalidOnionBlinding:
		return need(32)
	case TemporaryChannelFailure, ExpiryTooSoon, AmountBelowMinimum, FeeInsufficient,
		IncorrectCLTVExpiry, ChannelDisabled:
		return withUpdate(updateOffset(f.Code))
	case IncorrectOrUnknownPaymentDetails:
		return need(12)
	case FinalIncorrectCLTVExpiry:
		return need(4)
	case FinalIncorrectHTLCAmount:
		return need(8)
	case InvalidOnionPayload:
		_, n, err := lnwire.ReadBigSize(f.Data)
		if err != nil {
			return 0, fmt.Errorf("%w: invalid_onion_payload type: %w", ErrMalformedFailureMessage, err)
		}
		return need(n + 2)
	default:
		return 0, fmt.Errorf("%w: 0x%04x", ErrUnknownFailureCode, uint16(f.Code))
	}
}

// updateOffset returns where the u16 length of the channel_update starts in the Data of a known
// UPDATE failure code.
func updateOffset(c FailureCode) int {
	switch c {
	case AmountBelowMinimum, FeeInsufficient:
		return 8 // u64 htlc_msat
	case IncorrectCLTVExpiry:
		return 4 // u32 cltv_expiry
	case ChannelDisabled:
		return 2 // u16 disabled_flags
	default:
		return 0
	}
}

// Validate checks that Data holds every field of the code. It returns ErrMalformedFailureMessage if
// not, and ErrUnknownFailureCode for a code whose layout is not known.
func (f FailureMessage) Validate() error {
	_, err := f.fieldsLen()
	return err
}

// SHA256OfOnion returns the sha256_of_onion of a BADONION failure (invalid_onion_version, _hmac,
// _key, _blinding). Errors: ErrNoSuchField for other codes, ErrMalformedFailureMessage.
func (f FailureMessage) SHA256OfOnion() ([32]byte, error) {
	var h [32]byte
	switch f.Code {
	case InvalidOnionVersion, InvalidOnionHMAC, InvalidOnionKey, InvalidOnionBlinding:
	default:
		return h, fmt.Errorf("%w: %s has no sha256_of_onion", ErrNoSuchField, f.Code)
	}
	if _, err := f.fieldsLen(); err != nil {
		return h, err
	}
	copy(h[:], f.Data)
	return h, nil
}

// ChannelUpdate returns the channel_update enclosed in an UPDATE failure, as it appears on the wire:
// normally starting with the 0x0102 message type, though historical implementations left it out.
// Errors: ErrNoSuchField for codes without the UPDATE flag, ErrMalformedFailureMessage,
// ErrUnknownFailureCode.
func (f FailureMessage) ChannelUpdate() ([]byte, error) {
	if !f.Code.HasUpdate() {
		return nil, fmt.Errorf("%w: %s has no channel_update", ErrNoSuchField, f.Code)
	}
	if _, err := f.fieldsLen(); err != nil {
		return nil, err
	}
	prefix := updateOffset(f.Code)
	l := int(binary.BigEndian.Uint16(f.Data[prefix:]))
	return append([]byte(nil), f.Data[prefix+2:prefix+2+l]...), nil
}

// Extension returns the TLV stream that follows the code's fields, empty if none. Errors:
// ErrUnknownFailureCode, ErrMalformedFailureMessage, or a TLV framing error from lnwire.
func (f FailureMessage) Extension() (lnwire.TLVStream, error) {
	n, err := f.fieldsLen()
	if err != nil {
		return nil, err
	}
	return lnwire.DecodeTLVStream(append([]byte(nil), f.Data[n:]...))
}

// WithExtension returns a copy of f with the encoding of ext appended to Data, after the code's
// fields.
func (f FailureMessage) WithExtension(ext lnwire.TLVStream) FailureMessage {
	d := append(append([]byte(nil), f.Data...), ext.Encode()...)
	return FailureMessage{Code: f.Code, Data: d}
}

// appendUpdate appends a u16 length and the channel_update bytes to b. An update longer than 65535
// bytes cannot be framed; it is cut to that length (a real channel_update is under 300 bytes).
func appendUpdate(b, update []byte) []byte {
	if len(update) > 0xffff {
		update = update[:0xffff]
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(update)))
	return append(b, update...)
}

func shaFailure(code FailureCode, sha256OfOnion [32]byte) FailureMessage {
	return FailureMessage{Code: code, Data: append([]byte(nil), sha256OfOnion[:]...)}
}

// NewInvalidOnionVersion returns invalid_onion_version (BADONION|PERM|4) with sha256_of_onion.
func NewInvalidOnionVersion(sha256OfOnion [32]byte) FailureMessage {
	return shaFailure(InvalidOnionVersion, sha256OfOnion)
}

// NewInvalidOnionHMAC returns invalid_onion_hmac (BADONION|PERM|5) with sha256_of_onion.
func NewInvalidOnionHMAC(sha256OfOnion [32]byte) FailureMessage {
	return shaFailure(InvalidOnionHMAC, sha256OfOnion)
}

// NewInvalidOnionKey returns invalid_onion_key (BADONION|PERM|6) with sha256_of_onion.
func NewInvalidOnionKey(sha256OfOnion [32]byte) FailureMessage {
	return shaFailure(InvalidOnionKey, sha256OfOnion)
}

// NewInvalidOnionBlinding returns invalid_onion_blinding (BADONION|PERM|24) with sha256_of_onion.
func NewInvalidOnionBlinding(sha256OfOnion [32]byte) FailureMessage {
	return shaFailure(InvalidOnionBlinding, sha256OfOnion)
}

// NewTemporaryChannelFailure returns temporary_channel_failure (UPDATE|7) carrying channelUpdate,
// the encoded channel_update message including its 0x0102 type.
func NewTemporaryChannelFailure(channelUpdate []byte) FailureMessage {
	return FailureMessage{Code: TemporaryChannelFailure, Data: appendUpdate(nil, channelUpdate)}
}

// NewAmountBelowMinimum returns amount_below_minimum (UPDATE|11): the HTLC amount in millisatoshi and
// the encoded channel_update.
func NewAmountBelowMinimum(htlcMsat uint64, channelUpdate []byte) FailureMessage {
	d := binary.BigEndian.AppendUint64(nil, htlcMsat)
	return FailureMessage{Code: AmountBelowMinimum, Data: appendUpdate(d, channelUpdate)}
}

// NewFeeInsufficient returns fee_insufficient (UPDATE|12): the HTLC amount in millisatoshi and the
// encoded channel_update.
func NewFeeInsufficient(htlcMsat uint64, channelUpdate []byte) FailureMessage {
	d := binary.BigEndian.AppendUint64(nil, htlcMsat)
	return FailureMessage{Code: FeeInsufficient, Data: appendUpdate(d, channelUpdate)}
}

// NewIncorrectCLTVExpiry returns incorrect_cltv_expiry (UPDATE|13): the cltv_expiry (block height)
// and the encoded channel_update.
func NewIncorrectCLTVExpiry(cltvExpiry uint32, channelUpdate []byte) FailureMessage {
	d := binary.BigEndian.AppendUint32(nil, cltvExpiry)
	return FailureMessage{Code: IncorrectCLTVExpiry, Data: appendUpdate(d, channelUpdate)}
}

// NewExpiryTooSoon returns expiry_too_soon (UPDATE|14) with the encoded channel_update.
func NewExpiryTooSoon(channelUpdate []byte) FailureMessage {
	return FailureMessage{Code: ExpiryTooSoon, Data: appendUpdate(nil, channelUpdate)}
}

// NewIncorrectOrUnknownPaymentDetails returns incorrect_or_unknown_payment_details (PERM|15): the
// HTLC amount in millisatoshi and the final node's best block height.
func NewIncorrectOrUnknownPaymentDetails(htlcMsat uint64, height uint32) FailureMessage {
	d := binary.BigEndian.AppendUint64(make([]byte, 0, 12), htlcMsat)
	return FailureMessage{Code: IncorrectOrUnknownPaymentDetails, Data: binary.BigEndian.AppendUint32(d, height)}
}

// NewFinalIncorrectCLTVExpiry returns final_incorrect_cltv_expiry (18) with the HTLC's cltv_expiry.
func NewFinalIncorrectCLTVExpiry(cltvExpiry uint32) FailureMessage {
	return FailureMessage{Code: FinalIncorrectCLTVExpiry, Data: binary.BigEndian.AppendUint32(nil, cltvExpiry)}
}

// NewFinalIncorrectHTLCAmount returns final_incorrect_htlc_amount (19) with the incoming HTLC amount
// in millisatoshi.
func NewFinalIncorrectHTLCAmount(incomingHTLCAmtMsat uint64) FailureMessage {
	return FailureMessage{Code: FinalIncorrectHTLCAmount, Data: binary.BigEndian.AppendUint64(nil, incomingHTLCAmtMsat)}
}

// NewChannelDisabled returns channel_disabled (UPDATE|20): disabled_flags (currently always 0) and
// the encoded channel_update.
func NewChannelDisabled(disabledFlags uint16, channelUpdate []byte) FailureMessage {
	d := binary.BigEndian.AppendUint16(nil, disabledFlags)
	return FailureMessage{Code: ChannelDisabled, Data: appendUpdate(d, channelUpdate)}
}

// NewInvalidOnionPayload returns invalid_onion_payload (PERM|22): the offending TLV type and its byte
// offset in the decrypted payload (both 0 when not narrowed down).
func NewInvalidOnionPayload(tlvType uint64, offset uint16) FailureMessage {
	d := lnwire.AppendBigSize(nil, tlvType)
	return FailureMessage{Code: InvalidOnionPayload, Data: binary.BigEndian.AppendUint16(d, offset)}
}

// NewFailure returns a failure of a code that carries no data: e.g. TemporaryNodeFailure,
// PermanentNodeFailure, RequiredNodeFeatureMissing, PermanentChannelFailure,
// RequiredChannelFeatureMissing, UnknownNextPeer, ExpiryTooFar, MPPTimeout.
func NewFailure(code FailureCode) FailureMessage { return FailureMessage{Code: code} }
