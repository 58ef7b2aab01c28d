package nodeapi

// MethodSendCustomMessage sends a custom message (BOLT 1: a type lnwire does not know, at least 32768
// here) to a connected peer, as lncli sendcustom. Received ones arrive on the event stream as events of
// type custom_message.
const MethodSendCustomMessage = "sendcustommessage"

// MinCustomMessageType is the lowest message type sendcustommessage sends (lnd's
// CustomTypeStart): types below it belong to the BOLTs.
const MinCustomMessageType = 32768

// SendCustomMessageParams names the peer (hex node id, 33 bytes), the message type (at least
// MinCustomMessageType; an odd type is one the peer may ignore, an even one it must understand or
// disconnect) and the payload as hex (at most 65,533 bytes: a Lightning message is at most 65,535
// bytes with its 2-byte type).
type SendCustomMessageParams struct {
	Peer string `json:"peer"`
	Type uint16 `json:"type"`
	Data string `json:"data"`
}

// SendCustomMessageResult is empty: the message was queued on the peer's connection.
type SendCustomMessageResult struct{}
