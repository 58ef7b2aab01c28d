package sphinx

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/lnwire"
)

// Errors returned by NewOnionPacket.
var (
	// ErrNoHops is returned for an empty route.
	ErrNoHops = errors.New("sphinx: route has no hops")
	// ErrPayloadsTooLarge is returned when the hops' framed payloads (BigSize length + payload + 32-byte
	// HMAC each) do not fit in the 1300-byte hop_payloads.
	ErrPayloadsTooLarge = errors.New("sphinx: hop payloads exceed 1300 bytes")
	// ErrInvalidHop is returned for a hop with a nil key or a payload shorter than 2 bytes (lengths 0
	// and 1 are reserved, BOLT 4 "Packet Structure").
	ErrInvalidHop = errors.New("sphinx: invalid hop")
	// ErrInvalidSessionKey is returned for a nil or zero session key.
	ErrInvalidSessionKey = errors.New("sphinx: invalid session key")
)

// Hop is one node of the route as the payer sees it.
type Hop struct {
	// NodePubkey is the hop's node_id (or its blinded node id inside a blinded route).
	NodePubkey *btcec.PublicKey
	// Payload is the hop's already-encoded TLV payload (e.g. HopPayload.Encode), without the BigSize
	// length prefix. At least 2 bytes.
	Payload []byte
}

// frameSize returns the number of bytes a payload of length l takes in hop_payloads: BigSize(l) +
// l + HMAC (the shift_size of BOLT 4, "Packet Construction").
func frameSize(l int) int { return lnwire.BigSizeLen(uint64(l)) + l + HMACSize }

// NewOnionPacket builds the onion for a route (BOLT 4, "Packet Construction"). sessionKey is the
// payer's fresh random 32-byte session key, hops[0] is the first receiving peer and hops[len-1] the
// final node, and associatedData is what every hop's HMAC commits to: the HTLC's 32-byte payment_hash.
//
// It returns the 1366-byte packet and the shared secret of each hop, in route order, which the payer
// keeps to decrypt a returning error (DecryptErrorPacket). Errors: ErrInvalidSessionKey, ErrNoHops,
// ErrInvalidHop, ErrPayloadsTooLarge.
//
// Cost per hop: two scalar multiplications (ECDH and the next ephemeral public key) and ChaCha20 over
// at most 2600 bytes; the filler is built incrementally.
func NewOnionPacket(sessionKey *btcec.PrivateKey, hops []Hop, associatedData []byte) (*OnionPacket, [][32]byte, error) {
	if sessionKey == nil || sessionKey.Key.IsZero() {
		return nil, nil, ErrInvalidSessionKey
	}
	if len(hops) == 0 {
		return nil, nil, ErrNoHops
	}
	total := 0
	for i, h := range hops {
		if h.NodePubkey == nil {
			return nil, nil, fmt.Errorf("%w: hop %d has no public key", ErrInvalidHop, i)
		}
		if len(h.Payload) < 2 {
			return nil, nil, fmt.Errorf("%w: hop %d payload is %d bytes, need at least 2", ErrInvalidHop, i, len(h.Payload))
		}
		if len(h.Payload) > HopPayloadsSize {
			return nil, nil, fmt.Errorf("%w: hop %d payload is %d bytes", ErrPayloadsTooLarge, i, len(h.Payload))
		}
		total += frameSize(len(h.Payload))
	}
	if total > HopPayloadsSize {
		return nil, nil, fmt.Errorf("%w: %d bytes", ErrPayloadsTooLarge, total)
	}

	// Shared secrets and ephemeral keys, in route order.
	secrets := make([][32]byte, len(hops))
	ek := sessionKey.Key
	for i, h := range hops {
		var epkPoint btcec.JacobianPoint
		btcec.ScalarBaseMultNonConst(&ek, &epkPoint)
		epk, ok := compressJacobian(&epkPoint)
		if !ok {
			return nil, nil, fmt.Errorf("%w: ephemeral key for hop %d is zero", ErrInvalidSessionKey, i)
		}
		ss, ok := ecdhScalar(&ek, h.NodePubkey)
		if !ok {
			return nil, nil, fmt.Errorf("%w: hop %d", ErrInvalidHop, i)
		}
		secrets[i] = ss
		if i < len(hops)-1 {
			f := blindingFactor(epk[:], ss)
			ek.Mul(&f)
		}
	}

	filler := generateFiller(hops, secrets)

	// Start from 1300 pseudo-random bytes keyed by the session key's pad key, then wrap the hops in
	// reverse order.
	var mix [HopPayloadsSize]byte
	sk := sessionKey.Key.Bytes()
	xorStream(generateKey(keyTypePad, sk[:]), mix[:])
	var nextHMAC [HMACSize]byte
	for i := len(hops) - 1; i >= 0; i-- {
		p := hops[i].Payload
		shift := frameSize(len(p))
		copy(mix[shift:], mix[:HopPayloadsSize-shift])
		frame := lnwire.AppendBigSize(mix[:0], uint64(len(p)))
		frame = append(frame, p...)
		copy(mix[len(frame):shift], nextHMAC[:])
		xorStream(generateKey(keyTypeRho, secrets[i][:]), mix[:])
		if i == len(hops)-1 {
			copy(mix[HopPayloadsSize-len(filler):], filler)
		}
		muKey := generateKey(keyTypeMu, secrets[i][:])
		m := hmac.New(sha256.New, muKey[:])
		m.Write(mix[:])
		m.Write(associatedData)
		m.Sum(nextHMAC[:0])
	}

	pkt := new(OnionPacket)
	pkt[versionOffset] = OnionVersion
	copy(pkt[pubKeyOffset:], sessionKey.PubKey().SerializeCompressed())
	copy(pkt[hopPayloadsOffset:], mix[:])
	copy(pkt[hmacOffset:], nextHMAC[:])
	return pkt, secrets, nil
}

// generateFiller returns the bytes that hops 0..n-2 will have appended, obfuscated, to the tail of
// hop_payloads by the time the packet reaches the final hop (BOLT 4, "Filler Generation").
//
// If F is the filler seen by hop i (the last L bytes of its hop_payloads), hop i shifts its
// hop_payloads||zeros left by its frame size s and XORs with its rho stream, so the filler seen by
// hop i+1 is (F || s zero bytes) XOR rho_i[1300-L : 1300+s].
func generateFiller(hops []Hop, secrets [][32]byte) []byte {
	var filler []byte
	var stream [2 * HopPayloadsSize]byte
	for i := 0; i < len(hops)-1; i++ {
		s := frameSize(len(hops[i].Payload))
		prev := len(filler)
		filler = append(filler, make([]byte, s)...)
		window := stream[:HopPayloadsSize+s]
		clear(window)
		xorStream(generateKey(keyTypeRho, secrets[i][:]), window)
		window = window[HopPayloadsSize-prev:]
		for j := range filler {
			filler[j] ^= window[j]
		}
	}
	return filler
}
