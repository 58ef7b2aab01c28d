package sphinx

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"golang.org/x/crypto/chacha20"
)

// Sizes of the onion_packet fields (BOLT 4, "Packet Structure").
const (
	// OnionPacketSize is the size in bytes of a serialized onion_packet: version (1) + public_key (33)
	// + hop_payloads (1300) + hmac (32).
	OnionPacketSize = 1 + PubKeySize + HopPayloadsSize + HMACSize
	// HopPayloadsSize is the size in bytes of the hop_payloads field.
	HopPayloadsSize = 1300
	// HMACSize is the size in bytes of every HMAC-SHA256 in the packet and in error packets.
	HMACSize = 32
	// PubKeySize is the size in bytes of a compressed secp256k1 point.
	PubKeySize = 33
	// OnionVersion is the only packet version this package understands (BOLT 4 "version 0").
	OnionVersion = 0x00
)

// Byte offsets of the onion_packet fields.
const (
	versionOffset     = 0
	pubKeyOffset      = 1
	hopPayloadsOffset = pubKeyOffset + PubKeySize
	hmacOffset        = hopPayloadsOffset + HopPayloadsSize
)

// ErrInvalidOnionLength is returned by DecodeOnionPacket when the input is not exactly
// OnionPacketSize bytes long.
var ErrInvalidOnionLength = errors.New("sphinx: onion packet is not 1366 bytes")

// OnionPacket is a serialized onion_packet (BOLT 4, "Packet Structure"), exactly as carried in the
// onion_routing_packet field of update_add_htlc: version (1 byte), the ephemeral public_key (33
// bytes, compressed), hop_payloads (1300 bytes) and hmac (32 bytes). The zero value is a version-0
// packet with an invalid key.
type OnionPacket [OnionPacketSize]byte

// DecodeOnionPacket copies b into a new OnionPacket. It returns ErrInvalidOnionLength unless b is
// exactly OnionPacketSize (1366) bytes; the fields themselves are checked by ProcessOnionPacket.
func DecodeOnionPacket(b []byte) (*OnionPacket, error) {
	if len(b) != OnionPacketSize {
		return nil, fmt.Errorf("%w: got %d", ErrInvalidOnionLength, len(b))
	}
	var p OnionPacket
	copy(p[:], b)
	return &p, nil
}

// Encode returns a copy of the packet's 1366 bytes.
func (p *OnionPacket) Encode() []byte {
	out := make([]byte, OnionPacketSize)
	copy(out, p[:])
	return out
}

// Version returns the packet's version byte.
func (p *OnionPacket) Version() byte { return p[versionOffset] }

// EphemeralKeyBytes returns the packet's 33-byte public_key field as it stands, parsed or not.
func (p *OnionPacket) EphemeralKeyBytes() [PubKeySize]byte {
	var k [PubKeySize]byte
	copy(k[:], p[pubKeyOffset:hopPayloadsOffset])
	return k
}

// EphemeralKey parses the packet's public_key field. It returns ErrInvalidOnionKey if the bytes are
// not a compressed point on secp256k1.
func (p *OnionPacket) EphemeralKey() (*btcec.PublicKey, error) {
	kb := p[pubKeyOffset:hopPayloadsOffset]
	if kb[0] != 0x02 && kb[0] != 0x03 {
		return nil, fmt.Errorf("%w: prefix byte 0x%02x", ErrInvalidOnionKey, kb[0])
	}
	k, err := btcec.ParsePubKey(kb)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidOnionKey, err)
	}
	return k, nil
}

// HopPayloads returns a copy of the packet's 1300-byte hop_payloads field.
func (p *OnionPacket) HopPayloads() []byte {
	out := make([]byte, HopPayloadsSize)
	copy(out, p[hopPayloadsOffset:hmacOffset])
	return out
}

// HMAC returns the packet's 32-byte hmac field.
func (p *OnionPacket) HMAC() [HMACSize]byte {
	var h [HMACSize]byte
	copy(h[:], p[hmacOffset:])
	return h
}

// SHA256 returns SHA256 of the packet's 1366 bytes: the sha256_of_onion that BADONION failures and
// update_fail_malformed_htlc carry (BOLT 4, "Failure Messages"; BOLT 2).
func (p *OnionPacket) SHA256() [32]byte { return sha256.Sum256(p[:]) }

// Key types for generateKey (BOLT 4, "Key Generation", and "Returning Errors" for ammag).
var (
	keyTypeRho   = []byte("rho")
	keyTypeMu    = []byte("mu")
	keyTypeUm    = []byte("um")
	keyTypePad   = []byte("pad")
	keyTypeAmmag = []byte("ammag")
)

// generateKey derives a 32-byte key as HMAC-SHA256 keyed by the key type over the secret.
func generateKey(keyType []byte, secret []byte) [32]byte {
	m := hmac.New(sha256.New, keyType)
	m.Write(secret)
	var k [32]byte
	m.Sum(k[:0])
	return k
}

// xorStream XORs buf in place with the ChaCha20 stream for key and the all-zero 96-bit nonce,
// starting at stream offset 0 (BOLT 4, "Pseudo Random Byte Stream"). Applied to zero bytes it yields
// the stream itself.
func xorStream(key [32]byte, buf []byte) {
	var nonce [chacha20.NonceSize]byte
	c, err := chacha20.NewUnauthenticatedCipher(key[:], nonce[:])
	if err != nil {
		// Unreachable: the key and nonce sizes are fixed by the types above.
		panic("sphinx: chacha20: " + err.Error())
	}
	c.XORKeyStream(buf, buf)
}

// ecdhScalar returns SHA256 of the compressed point k*P (BOLT 4, "Shared Secret"). ok is false if the
// product is the point at infinity, which happens only for k = 0.
func ecdhScalar(k *btcec.ModNScalar, pub *btcec.PublicKey) (ss [32]byte, ok bool) {
	var p, r btcec.JacobianPoint
	pub.AsJacobian(&p)
	btcec.ScalarMultNonConst(k, &p, &r)
	c, ok := compressJacobian(&r)
	if !ok {
		return ss, false
	}
	return sha256.Sum256(c[:]), true
}

// compressJacobian serializes a Jacobian point in compressed form; ok is false at infinity.
func compressJacobian(r *btcec.JacobianPoint) (out [PubKeySize]byte, ok bool) {
	if (r.X.IsZero() && r.Y.IsZero()) || r.Z.IsZero() {
		return out, false
	}
	r.ToAffine()
	out[0] = 0x02
	if r.Y.IsOdd() {
		out[0] = 0x03
	}
	r.X.PutBytesUnchecked(out[1:])
	return out, true
}

// blindingFactor returns SHA256(compressed ephemeral key || shared secret) reduced modulo the curve
// order (BOLT 4, "Blinding Ephemeral Keys").
func blindingFactor(ephemeral []byte, ss [32]byte) btcec.ModNScalar {
	h := sha256.New()
	h.Write(ephemeral)
	h.Write(ss[:])
	var d [32]byte
	h.Sum(d[:0])
	var f btcec.ModNScalar
	f.SetBytes(&d)
	return f
}
