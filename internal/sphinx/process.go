package sphinx

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/lnwire"
)

// Errors returned by ProcessOnionPacket for an onion the processing node cannot peel. Each of the
// first three corresponds to a BADONION failure_code (BOLT 4, "Failure Messages"); BadOnionFailure
// performs that mapping.
var (
	// ErrInvalidOnionVersion: the version byte is not 0 (invalid_onion_version, BADONION|PERM|4).
	ErrInvalidOnionVersion = errors.New("sphinx: unknown onion version")
	// ErrInvalidOnionHMAC: the packet's HMAC does not match the one computed with the mu key
	// (invalid_onion_hmac, BADONION|PERM|5).
	ErrInvalidOnionHMAC = errors.New("sphinx: onion hmac mismatch")
	// ErrInvalidOnionKey: the ephemeral public_key is not a point on secp256k1
	// (invalid_onion_key, BADONION|PERM|6).
	ErrInvalidOnionKey = errors.New("sphinx: invalid onion ephemeral key")
	// ErrInvalidHopPayload: the HMAC was right but this hop's payload is malformed: a reserved length
	// (0 or 1), a length running past hop_payloads, an invalid TLV stream, or a missing or forbidden
	// field. It maps to invalid_onion_payload (PERM|22); errors carrying it are *PayloadError values.
	ErrInvalidHopPayload = errors.New("sphinx: invalid hop payload")
	// ErrECDH wraps an error returned by the caller's ECDHFunc.
	ErrECDH = errors.New("sphinx: ecdh failed")
)

// ECDHFunc performs the processing node's ECDH with the packet's ephemeral key and returns SHA256 of
// the compressed shared point (BOLT 4, "Shared Secret"); keys.NodeSigner.ECDH has this shape. A
// node receiving a blinded HTLC passes a function that uses its blinded private key instead.
type ECDHFunc func(pub *btcec.PublicKey) ([32]byte, error)

// PrivateKeyECDH returns an ECDHFunc for a private key held in memory: SHA256 of the compressed
// point priv*pub (BOLT 4, "Shared Secret"). priv must not be nil.
func PrivateKeyECDH(priv *btcec.PrivateKey) ECDHFunc {
	k := priv.Key
	return func(pub *btcec.PublicKey) ([32]byte, error) {
		if pub == nil {
			return [32]byte{}, errors.New("sphinx: nil public key")
		}
		ss, ok := ecdhScalar(&k, pub)
		if !ok {
			return [32]byte{}, errors.New("sphinx: ecdh result is the point at infinity")
		}
		return ss, nil
	}
}

// ProcessedPacket is the result of peeling one layer of an onion (BOLT 4, "Packet Forwarding").
type ProcessedPacket struct {
	// SharedSecret is the 32-byte secret shared with the payer. The node keeps it with the HTLC to
	// build (CreateErrorPacket) or obfuscate (ObfuscateErrorPacket) a returning error.
	SharedSecret [32]byte
	// Payload is this hop's raw TLV payload, without its BigSize length prefix. Decode it with
	// DecodeHopPayload.
	Payload []byte
	// IsFinal is true when the next HMAC is 32 zero bytes: this node is the final node.
	IsFinal bool
	// NextPacket is the onion to forward to the next hop, nil if IsFinal.
	NextPacket *OnionPacket
}

// ProcessOnionPacket checks and peels one layer of pkt as the processing node (BOLT 4, "Packet
// Forwarding"). associatedData is the data the payer committed to, the HTLC's 32-byte payment_hash.
// ecdh computes the shared secret with the node's key.
//
// It returns ErrInvalidOnionVersion, ErrInvalidOnionKey or ErrInvalidOnionHMAC (in that order of
// checking) for a packet that must be failed with update_fail_malformed_htlc (see BadOnionFailure),
// ErrECDH wrapping the ECDHFunc's error, and a *PayloadError (errors.Is ErrInvalidHopPayload) when
// the HMAC is right but the length prefix of this hop's payload is reserved (0 or 1), non-canonical,
// or runs past hop_payloads. It does not decode the payload's TLVs; see DecodeHopPayload.
//
// Cost: the ECDH, one scalar multiplication to blind the ephemeral key for the next hop, one point
// decompression, and ChaCha20 over 2600 bytes.
func ProcessOnionPacket(pkt *OnionPacket, associatedData []byte, ecdh ECDHFunc) (*ProcessedPacket, error) {
	if pkt == nil {
		return nil, errors.New("sphinx: nil onion packet")
	}
	if ecdh == nil {
		return nil, fmt.Errorf("%w: nil ECDHFunc", ErrECDH)
	}
	if v := pkt.Version(); v != OnionVersion {
		return nil, fmt.Errorf("%w: %d", ErrInvalidOnionVersion, v)
	}
	ephemeral, err := pkt.EphemeralKey()
	if err != nil {
		return nil, err
	}
	ss, err := ecdh(ephemeral)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrECDH, err)
	}

	// Check the HMAC over hop_payloads || associated data with the mu key.
	muKey := generateKey(keyTypeMu, ss[:])
	mac := hmac.New(sha256.New, muKey[:])
	mac.Write(pkt[hopPayloadsOffset:hmacOffset])
	mac.Write(associatedData)
	var want [HMACSize]byte
	mac.Sum(want[:0])
	if !hmac.Equal(want[:], pkt[hmacOffset:]) {
		return nil, ErrInvalidOnionHMAC
	}

	// Deobfuscate hop_payloads extended with 1300 zero bytes.
	var buf [2 * HopPayloadsSize]byte
	copy(buf[:], pkt[hopPayloadsOffset:hmacOffset])
	xorStream(generateKey(keyTypeRho, ss[:]), buf[:])

	length, n, err := lnwire.ReadBigSize(buf[:HopPayloadsSize])
	if err != nil {
		return nil, &PayloadError{Err: fmt.Errorf("payload length: %w", err)}
	}
	if length < 2 {
		return nil, &PayloadError{Err: fmt.Errorf("reserved payload length %d", length)}
	}
	if length > uint64(HopPayloadsSize-n-HMACSize) {
		return nil, &PayloadError{Err: fmt.Errorf("payload length %d exceeds hop_payloads", length)}
	}
	end := n + int(length)
	payload := make([]byte, length)
	copy(payload, buf[n:end])
	nextHMAC := buf[end : end+HMACSize]

	res := &ProcessedPacket{SharedSecret: ss, Payload: payload}
	var zero [HMACSize]byte
	if hmac.Equal(nextHMAC, zero[:]) {
		res.IsFinal = true
		return res, nil
	}

	// Blind the ephemeral key for the next hop: one scalar multiplication.
	factor := blindingFactor(pkt[pubKeyOffset:hopPayloadsOffset], ss)
	var point, blinded btcec.JacobianPoint
	ephemeral.AsJacobian(&point)
	btcec.ScalarMultNonConst(&factor, &point, &blinded)
	nextKey, ok := compressJacobian(&blinded)
	if !ok {
		// Only reachable if SHA256 returned a multiple of the curve order.
		return nil, fmt.Errorf("%w: blinded ephemeral key is the point at infinity", ErrInvalidOnionKey)
	}

	next := new(OnionPacket)
	next[versionOffset] = OnionVersion
	copy(next[pubKeyOffset:], nextKey[:])
	shift := end + HMACSize
	copy(next[hopPayloadsOffset:hmacOffset], buf[shift:shift+HopPayloadsSize])
	copy(next[hmacOffset:], nextHMAC)
	res.NextPacket = next
	return res, nil
}

// BadOnionFailure maps an error returned by ProcessOnionPacket to the failure_code and
// sha256_of_onion that update_fail_malformed_htlc carries (BOLT 2, "Removing an HTLC"; BOLT 4,
// "Failure Messages"): ErrInvalidOnionVersion to InvalidOnionVersion, ErrInvalidOnionHMAC to
// InvalidOnionHMAC, ErrInvalidOnionKey to InvalidOnionKey, each with SHA256 of pkt as received. ok is
// false for any other error (or a nil pkt): such a failure is returned in an error onion instead.
func BadOnionFailure(err error, pkt *OnionPacket) (code FailureCode, sha256OfOnion [32]byte, ok bool) {
	if pkt == nil {
		return 0, sha256OfOnion, false
	}
	switch {
	case errors.Is(err, ErrInvalidOnionVersion):
		code = InvalidOnionVersion
	case errors.Is(err, ErrInvalidOnionHMAC):
		code = InvalidOnionHMAC
	case errors.Is(err, ErrInvalidOnionKey):
		code = InvalidOnionKey
	default:
		return 0, sha256OfOnion, false
	}
	return code, pkt.SHA256(), true
}
