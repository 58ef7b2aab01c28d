package lnwire

import (
	"encoding/binary"
	"fmt"
)

// MessageType is the 2-byte type that starts every Lightning message (BOLT 1, "Lightning Message Format").
type MessageType uint16

// The message types this package decodes (BOLT 1, BOLT 2 and BOLT 7).
const (
	MsgWarning                 MessageType = 1
	MsgInit                    MessageType = 16
	MsgError                   MessageType = 17
	MsgPing                    MessageType = 18
	MsgPong                    MessageType = 19
	MsgOpenChannel             MessageType = 32
	MsgAcceptChannel           MessageType = 33
	MsgFundingCreated          MessageType = 34
	MsgFundingSigned           MessageType = 35
	MsgChannelReady            MessageType = 36
	MsgShutdown                MessageType = 38
	MsgClosingSigned           MessageType = 39
	MsgUpdateAddHTLC           MessageType = 128
	MsgUpdateFulfillHTLC       MessageType = 130
	MsgUpdateFailHTLC          MessageType = 131
	MsgCommitmentSigned        MessageType = 132
	MsgRevokeAndAck            MessageType = 133
	MsgUpdateFee               MessageType = 134
	MsgUpdateFailMalformedHTLC MessageType = 135
	MsgChannelReestablish      MessageType = 136
	MsgChannelAnnouncement     MessageType = 256
	MsgNodeAnnouncement        MessageType = 257
	MsgChannelUpdate           MessageType = 258
	MsgAnnouncementSignatures  MessageType = 259
	MsgQueryShortChannelIDs    MessageType = 261
	MsgReplyShortChannelIDsEnd MessageType = 262
	MsgQueryChannelRange       MessageType = 263
	MsgReplyChannelRange       MessageType = 264
	MsgGossipTimestampFilter   MessageType = 265
)

var messageNames = map[MessageType]string{
	MsgWarning:                 "warning",
	MsgInit:                    "init",
	MsgError:                   "error",
	MsgPing:                    "ping",
	MsgPong:                    "pong",
	MsgOpenChannel:             "open_channel",
	MsgAcceptChannel:           "accept_channel",
	MsgFundingCreated:          "funding_created",
	MsgFundingSigned:           "funding_signed",
	MsgChannelReady:            "channel_ready",
	MsgShutdown:                "shutdown",
	MsgClosingSigned:           "closing_signed",
	MsgUpdateAddHTLC:           "update_add_htlc",
	MsgUpdateFulfillHTLC:       "update_fulfill_htlc",
	MsgUpdateFailHTLC:          "update_fail_htlc",
	MsgCommitmentSigned:        "commitment_signed",
	MsgRevokeAndAck:            "revoke_and_ack",
	MsgUpdateFee:               "update_fee",
	MsgUpdateFailMalformedHTLC: "update_fail_malformed_htlc",
	MsgChannelReestablish:      "channel_reestablish",
	MsgChannelAnnouncement:     "channel_announcement",
	MsgNodeAnnouncement:        "node_announcement",
	MsgChannelUpdate:           "channel_update",
	MsgAnnouncementSignatures:  "announcement_signatures",
	MsgQueryShortChannelIDs:    "query_short_channel_ids",
	MsgReplyShortChannelIDsEnd: "reply_short_channel_ids_end",
	MsgQueryChannelRange:       "query_channel_range",
	MsgReplyChannelRange:       "reply_channel_range",
	MsgGossipTimestampFilter:   "gossip_timestamp_filter",
}

// String returns the spec name of the type (e.g. "update_add_htlc"), or "unknown(N)".
func (t MessageType) String() string {
	if n, ok := messageNames[t]; ok {
		return n
	}
	return fmt.Sprintf("unknown(%d)", uint16(t))
}

// IsOdd reports whether t is odd. A node must ignore an unknown odd message and close the connection on
// an unknown even one (BOLT 1, "it's OK to be odd").
func (t MessageType) IsOdd() bool { return t%2 == 1 }

// IsKnown reports whether this package decodes messages of type t into a concrete struct.
func (t MessageType) IsKnown() bool { return newMessage(t) != nil }

// Message is any Lightning message. Every message type of BOLT 1, BOLT 2 and BOLT 7 has a concrete struct
// type in this package that implements Message; messages of unknown types decode to *UnknownMessage.
// Encode a message with EncodeMessage and decode one with DecodeMessage.
//
// Messages are plain data: do not modify one while another goroutine reads it.
type Message interface {
	// MsgType returns the message's type.
	MsgType() MessageType
}

// PayloadCodec is implemented by every message type of this package: the payload (everything after the
// 2-byte type, extension included) codec used by EncodeMessage and DecodeMessage.
type PayloadCodec interface {
	Message
	// AppendPayload appends the payload encoding to b.
	AppendPayload(b []byte) ([]byte, error)
	// DecodePayload replaces the message's fields with those decoded from payload. The message keeps
	// references into payload.
	DecodePayload(payload []byte) error
}

// UnknownMessage is a message whose type this package does not know. DecodeMessage returns it with a nil
// error; the caller applies BOLT 1: ignore it if the type is odd, close the connection if it is even
// (unless it handles the type itself, e.g. a custom message).
type UnknownMessage struct {
	Type    MessageType
	Payload []byte
}

// MsgType returns m.Type.
func (m *UnknownMessage) MsgType() MessageType { return m.Type }

// AppendPayload appends the raw payload.
func (m *UnknownMessage) AppendPayload(b []byte) ([]byte, error) { return append(b, m.Payload...), nil }

// DecodePayload keeps payload as is.
func (m *UnknownMessage) DecodePayload(payload []byte) error {
	m.Payload = payload
	return nil
}

func newMessage(t MessageType) PayloadCodec {
	switch t {
	case MsgWarning:
		return &Warning{}
	case MsgInit:
		return &Init{}
	case MsgError:
		return &Error{}
	case MsgPing:
		return &Ping{}
	case MsgPong:
		return &Pong{}
	case MsgOpenChannel:
		return &OpenChannel{}
	case MsgAcceptChannel:
		return &AcceptChannel{}
	case MsgFundingCreated:
		return &FundingCreated{}
	case MsgFundingSigned:
		return &FundingSigned{}
	case MsgChannelReady:
		return &ChannelReady{}
	case MsgShutdown:
		return &Shutdown{}
	case MsgClosingSigned:
		return &ClosingSigned{}
	case MsgUpdateAddHTLC:
		return &UpdateAddHTLC{}
	case MsgUpdateFulfillHTLC:
		return &UpdateFulfillHTLC{}
	case MsgUpdateFailHTLC:
		return &UpdateFailHTLC{}
	case MsgCommitmentSigned:
		return &CommitmentSigned{}
	case MsgRevokeAndAck:
		return &RevokeAndAck{}
	case MsgUpdateFee:
		return &UpdateFee{}
	case MsgUpdateFailMalformedHTLC:
		return &UpdateFailMalformedHTLC{}
	case MsgChannelReestablish:
		return &ChannelReestablish{}
	case MsgChannelAnnouncement:
		return &ChannelAnnouncement{}
	case MsgNodeAnnouncement:
		return &NodeAnnouncement{}
	case MsgChannelUpdate:
		return &ChannelUpdate{}
	case MsgAnnouncementSignatures:
		return &AnnouncementSignatures{}
	case MsgQueryShortChannelIDs:
		return &QueryShortChannelIDs{}
	case MsgReplyShortChannelIDsEnd:
		return &ReplyShortChannelIDsEnd{}
	case MsgQueryChannelRange:
		return &QueryChannelRange{}
	case MsgReplyChannelRange:
		return &ReplyChannelRange{}
	case MsgGossipTimestampFilter:
		return &GossipTimestampFilter{}
	default:
		return nil
	}
}

// EncodeMessage returns type (2 bytes, big-endian) || payload. It returns ErrUnsupportedMessage if m
// does not implement PayloadCodec, ErrMessageTooLarge if the result exceeds MaxMessageSize bytes, and the
// message's own encoding errors (ErrMissingPoint, ErrFieldTooLong, ErrInvalidExtraTLVs,
// ErrNegativeAmount, ErrInvalidAddress, ErrZlibNotWritten, ErrUnknownEncoding).
func EncodeMessage(m Message) ([]byte, error) {
	pc, ok := m.(PayloadCodec)
	if !ok || m == nil {
		return nil, fmt.Errorf("%w: %T", ErrUnsupportedMessage, m)
	}
	b := binary.BigEndian.AppendUint16(make([]byte, 0, 64), uint16(m.MsgType()))
	b, err := pc.AppendPayload(b)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", m.MsgType(), err)
	}
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %v is %d bytes", ErrMessageTooLarge, m.MsgType(), len(b))
	}
	return b, nil
}

// PeekMessageType returns the type of an encoded message (its first two bytes); false if b is shorter.
func PeekMessageType(b []byte) (MessageType, bool) {
	if len(b) < 2 {
		return 0, false
	}
	return MessageType(binary.BigEndian.Uint16(b)), true
}

// DecodeMessage decodes a whole message (type || payload), copying b first so the result does not alias
// the caller's buffer. A type this package does not know gives *UnknownMessage and a nil error. A known
// type gives its struct, or an error wrapping ErrShortRead (fields missing), ErrInvalidPoint,
// ErrAmountOverflow, ErrInvalidTLVValue (a known TLV record is malformed), ErrUnknownEvenType (the
// extension holds an unknown even record) or a TLV framing sentinel (ErrNonCanonicalBigSize,
// ErrTLVNotIncreasing, ErrTLVLengthTooLarge). Bytes after the fixed fields are the message's BOLT 1
// `extension` and must form a valid TLV stream, except in channel_announcement and channel_update, which
// keep them raw (see ChannelUpdate.ExtraData). The BOLT 7 messages add ErrInvalidAddress, ErrInvalidBool
// and the encoded-array errors (ErrInvalidEncodedArray, ErrUnknownEncoding, ErrInflatedTooLarge). Inputs
// over MaxMessageSize bytes give ErrMessageTooLarge.
func DecodeMessage(b []byte) (Message, error) {
	if len(b) > MaxMessageSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrMessageTooLarge, len(b))
	}
	if len(b) < 2 {
		return nil, fmt.Errorf("message type: %w", ErrShortRead)
	}
	buf := append([]byte(nil), b...)
	t := MessageType(binary.BigEndian.Uint16(buf))
	m := newMessage(t)
	if m == nil {
		m = &UnknownMessage{Type: t}
	}
	if err := m.DecodePayload(buf[2:]); err != nil {
		return nil, fmt.Errorf("%v: %w", t, err)
	}
	return m, nil
}
