package sphinx

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Sizes of the returned error packet (BOLT 4, "Returning Errors").
const (
	// MinErrorPayloadLen is the least failure_len + pad_len an erring node may send, and what
	// CreateErrorPacket pads to: 256 bytes.
	MinErrorPayloadLen = 256
	// MinErrorPacketSize is the size of the smallest well-formed error packet: hmac (32) +
	// failure_len (2) + pad_len (2) + MinErrorPayloadLen.
	MinErrorPacketSize = HMACSize + 4 + MinErrorPayloadLen
	// errorDecryptRounds is how many hops DecryptErrorPacket always processes so its timing does not
	// reveal the erring node's position: 27, the most hops a TLV-payload route can have (BOLT 4,
	// "Returning Errors", origin node requirements).
	errorDecryptRounds = 27
)

// Errors returned by DecryptErrorPacket.
var (
	// ErrErrorPacketTooShort is returned for a packet shorter than HMAC + failure_len + pad_len.
	ErrErrorPacketTooShort = errors.New("sphinx: error packet too short")
	// ErrUnknownErrorSource is returned when no hop's um-key HMAC matches: the error was corrupted on
	// the way back and cannot be attributed.
	ErrUnknownErrorSource = errors.New("sphinx: error packet matches no hop")
)

// CreateErrorPacket builds the return packet of the erring node (BOLT 4, "Returning Errors"):
// hmac || u16 failure_len || failuremsg || u16 pad_len || pad, with pad zero bytes making failure_len
// + pad_len equal to 256 (or 0 padding if the failuremsg is already longer), the hmac keyed by the
// um key of sharedSecret over the rest, and the whole obfuscated with the ammag stream. The result
// is what the node puts in update_fail_htlc's reason. A failure.Data longer than MaxFailureDataLen
// is cut to that length.
func CreateErrorPacket(sharedSecret [32]byte, failure FailureMessage) []byte {
	return CreateErrorPacketPadded(sharedSecret, failure, MinErrorPayloadLen)
}

// CreateErrorPacketPadded is CreateErrorPacket padding failure_len + pad_len to payloadLen instead of
// 256 (values under 256 are raised to 256, values over 65535 lowered to it). Nodes that support
// attributable failures pad to 1024, as in the BOLT 4 "Returning Errors" test vector; nodes that do
// not may fail to parse anything but 256.
func CreateErrorPacketPadded(sharedSecret [32]byte, failure FailureMessage, payloadLen int) []byte {
	payloadLen = max(min(payloadLen, 0xffff), MinErrorPayloadLen)
	msg := failure.Encode()
	if len(msg) > 0xffff {
		msg = msg[:0xffff]
	}
	pad := max(payloadLen-len(msg), 0)
	if pad > 0xffff { // unreachable with payloadLen <= 0xffff; keeps the u16 honest
		pad = 0xffff
	}

	pkt := make([]byte, HMACSize, HMACSize+4+len(msg)+pad)
	pkt = binary.BigEndian.AppendUint16(pkt, uint16(len(msg)))
	pkt = append(pkt, msg...)
	pkt = binary.BigEndian.AppendUint16(pkt, uint16(pad))
	pkt = append(pkt, make([]byte, pad)...)

	um := generateKey(keyTypeUm, sharedSecret[:])
	m := hmac.New(sha256.New, um[:])
	m.Write(pkt[HMACSize:])
	m.Sum(pkt[:0])
	xorStream(generateKey(keyTypeAmmag, sharedSecret[:]), pkt)
	return pkt
}

// ObfuscateErrorPacket applies one hop's ammag stream to a returning error packet (BOLT 4,
// "Returning Errors"): every intermediate node calls it with the shared secret of the HTLC it
// forwarded before passing the error back. It returns a new slice; packet is not modified.
func ObfuscateErrorPacket(sharedSecret [32]byte, packet []byte) []byte {
	out := append([]byte(nil), packet...)
	xorStream(generateKey(keyTypeAmmag, sharedSecret[:]), out)
	return out
}

// DecryptErrorPacket is the payer's side of "Returning Errors" (BOLT 4): it peels the ammag layer
// of each hop in route order, using the shared secrets NewOnionPacket returned, until the um-key
// HMAC of a hop matches, and returns that hop's index (0 = first hop) and its failure message.
// failure.Data keeps any bytes after the code; the origin ignores what it does not understand.
//
// To hide the erring node's position it always runs 27 rounds, the extra ones on a dummy key.
// Errors: ErrErrorPacketTooShort (hopIndex -1); ErrUnknownErrorSource (hopIndex -1) when no HMAC
// matches; ErrMalformedFailureMessage with the hop's index when its HMAC matches but failure_len is
// inconsistent or shorter than the 2-byte code.
func DecryptErrorPacket(sharedSecrets [][32]byte, packet []byte) (hopIndex int, failure FailureMessage, err error) {
	if len(packet) < HMACSize+4 {
		return -1, FailureMessage{}, fmt.Errorf("%w: %d bytes", ErrErrorPacketTooShort, len(packet))
	}
	buf := append([]byte(nil), packet...)
	found := -1
	var dummy [32]byte
	var want [HMACSize]byte
	for i := 0; i < max(errorDecryptRounds, len(sharedSecrets)); i++ {
		ss := &dummy
		if i < len(sharedSecrets) && found < 0 {
			ss = &sharedSecrets[i]
		}
		xorStream(generateKey(keyTypeAmmag, ss[:]), buf)
		um := generateKey(keyTypeUm, ss[:])
		m := hmac.New(sha256.New, um[:])
		m.Write(buf[HMACSize:])
		m.Sum(want[:0])
		if hmac.Equal(want[:], buf[:HMACSize]) && found < 0 && ss != &dummy {
			found = i
			packet = append([]byte(nil), buf...)
		}
	}
	if found < 0 {
		return -1, FailureMessage{}, ErrUnknownErrorSource
	}
	body := packet[HMACSize:]
	l := int(binary.BigEndian.Uint16(body))
	if 2+l > len(body) {
		return found, FailureMessage{}, fmt.Errorf("%w: failure_len %d exceeds the %d bytes left", ErrMalformedFailureMessage, l, len(body)-2)
	}
	failure, err = DecodeFailureMessage(body[2 : 2+l])
	if err != nil {
		return found, FailureMessage{}, err
	}
	return found, failure, nil
}
