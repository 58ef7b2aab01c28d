package lnwire

// MessageType is the 2-byte type that starts every Lightning message (BOLT 1, "Lightning Message Format").
type MessageType uint16

// Message is any Lightning message. Every message type of BOLT 1 and BOLT 2 has a concrete struct type in
// this package that implements Message; messages of unknown types decode to *UnknownMessage.
// Encode a message with EncodeMessage and decode one with DecodeMessage.
type Message interface {
	// MsgType returns the message's type.
	MsgType() MessageType
}
