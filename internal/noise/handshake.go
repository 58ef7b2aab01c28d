// Package noise implements the BOLT 8 encrypted and authenticated transport:
// Noise_XK_secp256k1_ChaChaPoly_SHA256 (the three-act handshake) and the message framing with encrypted
// length prefixes and key rotation that follows it.
//
// The package is sans-IO: it never reads or writes a socket, starts a goroutine or reads the clock. The
// caller hands it bytes and receives bytes to write. The node's static private key never enters this
// package; every Diffie-Hellman with it goes through an ECDHFunc supplied by the caller.
package noise

import (
	"crypto/sha256"
	"fmt"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"
	"golang.org/x/crypto/chacha20poly1305"
)

// Sizes of the handshake messages and protocol constants (BOLT 8, "Handshake Exchange").
const (
	// HandshakeVersion is the only handshake version defined (the first byte of every act).
	HandshakeVersion byte = 0
	// ActOneSize is the size of act one in bytes: version (1) || ephemeral key (33) || tag (16).
	ActOneSize = 1 + 33 + 16
	// ActTwoSize is the size of act two in bytes: version (1) || ephemeral key (33) || tag (16).
	ActTwoSize = 1 + 33 + 16
	// ActThreeSize is the size of act three in bytes: version (1) || encrypted static key (33+16) || tag (16).
	ActThreeSize = 1 + 33 + 16 + 16
)

// protocolName and prologue initialise the handshake state (BOLT 8, "Handshake State Initialization").
const (
	protocolName = "Noise_XK_secp256k1_ChaChaPoly_SHA256"
	prologue     = "lightning"
)

// ECDHFunc performs ECDH between the local node's static private key and pub, returning the SHA-256 of
// the compressed (33-byte) encoding of the shared point (BOLT 8, "ECDH(k, rk)"). It is how the handshake
// uses the node secret without holding it; keys.NodeSigner's ECDH method has this shape.
type ECDHFunc func(pub *btcec.PublicKey) ([32]byte, error)

// ECDH returns SHA-256(compressed(priv·pub)), the BOLT 8 ECDH (33 bytes hashed to 32).
func ECDH(priv *btcec.PrivateKey, pub *btcec.PublicKey) [32]byte {
	var point, product btcec.JacobianPoint
	pub.AsJacobian(&point)
	btcec.ScalarMultNonConst(&priv.Key, &point, &product)
	product.ToAffine()
	shared := btcec.NewPublicKey(&product.X, &product.Y)
	return sha256.Sum256(shared.SerializeCompressed())
}

// PrivateKeyECDH returns an ECDHFunc backed by priv, for tests and hosts that hold the key in memory.
func PrivateKeyECDH(priv *btcec.PrivateKey) ECDHFunc {
	return func(pub *btcec.PublicKey) ([32]byte, error) {
		if pub == nil {
			return [32]byte{}, ErrInvalidKey
		}
		return ECDH(priv, pub), nil
	}
}

// EphemeralKeyFromBytes turns 32 bytes from a secure entropy source into an ephemeral private key. It
// returns ErrInvalidKey if the bytes, read as a big-endian integer, are zero or not below the curve
// order (probability about 2^-128; the caller should draw fresh bytes).
func EphemeralKeyFromBytes(random [32]byte) (*btcec.PrivateKey, error) {
	var k btcec.ModNScalar
	if overflow := k.SetBytes(&random); overflow != 0 || k.IsZero() {
		return nil, ErrInvalidKey
	}
	return btcec.PrivKeyFromScalar(&k), nil
}

type handshakeStep int

const (
	stepAwaitAct1 handshakeStep = iota + 1 // responder, before act one
	stepAwaitAct2                          // initiator, after sending act one
	stepAwaitAct3                          // responder, after sending act two
	stepDone
)

// Handshake is one side of a BOLT 8 handshake in progress. Create it with NewInitiator or NewResponder,
// feed each act the peer sends to ReadAct, write whatever ReadAct returns, and once ReadAct reports
// done take the session with Transport. A Handshake is safe for concurrent use, though the handshake
// itself is strictly sequential. Any error is final: later calls return ErrHandshakeFailed.
type Handshake struct {
	mu sync.Mutex

	initiator bool
	step      handshakeStep
	err       error

	h  [32]byte // handshake digest
	ck [32]byte // chaining key
	// tempK2 is kept from act two because act three encrypts the static key with it.
	tempK2 [32]byte

	localStatic *btcec.PublicKey
	ecdh        ECDHFunc
	e           *btcec.PrivateKey // our ephemeral key
	re          *btcec.PublicKey  // their ephemeral key
	rs          *btcec.PublicKey  // their static key (known up front by the initiator, learnt in act three by the responder)

	transport *Transport
}

// newHandshake runs "Handshake State Initialization" up to (not including) mixing in the responder key.
func newHandshake(initiator bool, localStatic *btcec.PublicKey, ecdh ECDHFunc, ephemeral *btcec.PrivateKey) (*Handshake, error) {
	if localStatic == nil || ecdh == nil || ephemeral == nil {
		return nil, ErrInvalidKey
	}
	hs := &Handshake{initiator: initiator, localStatic: localStatic, ecdh: ecdh, e: ephemeral}
	hs.h = sha256.Sum256([]byte(protocolName))
	hs.ck = hs.h
	hs.mixHash([]byte(prologue))
	return hs, nil
}

// NewInitiator starts a handshake with the node whose static key is remoteStatic and returns act one
// (ActOneSize bytes) to send. localStatic is our node public key, ecdh performs ECDH with our node secret,
// and ephemeral is a fresh random key (see EphemeralKeyFromBytes) used for this handshake only.
// Errors: ErrInvalidKey if any argument is nil. Source: BOLT 8, "Act One", sender actions.
func NewInitiator(localStatic *btcec.PublicKey, ecdh ECDHFunc, ephemeral *btcec.PrivateKey,
	remoteStatic *btcec.PublicKey) (*Handshake, []byte, error) {

	if remoteStatic == nil {
		return nil, nil, ErrInvalidKey
	}
	hs, err := newHandshake(true, localStatic, ecdh, ephemeral)
	if err != nil {
		return nil, nil, err
	}
	hs.rs = remoteStatic
	hs.mixHash(remoteStatic.SerializeCompressed())

	ePub := ephemeral.PubKey().SerializeCompressed()
	hs.mixHash(ePub)
	ss := ECDH(ephemeral, remoteStatic)
	var tempK1 [32]byte
	hs.ck, tempK1 = hkdf2(hs.ck[:], ss[:])
	tag := encryptWithAD(tempK1, 0, hs.h[:], nil)
	hs.mixHash(tag)

	act1 := make([]byte, 0, ActOneSize)
	act1 = append(act1, HandshakeVersion)
	act1 = append(act1, ePub...)
	act1 = append(act1, tag...)
	hs.step = stepAwaitAct2
	return hs, act1, nil
}

// NewResponder prepares to answer a handshake from an unknown initiator. localStatic is our node public
// key, ecdh performs ECDH with our node secret, and ephemeral is a fresh random key used for this
// handshake only. Feed act one to ReadAct next. Errors: ErrInvalidKey if any argument is nil.
// Source: BOLT 8, "Handshake State Initialization".
func NewResponder(localStatic *btcec.PublicKey, ecdh ECDHFunc, ephemeral *btcec.PrivateKey) (*Handshake, error) {
	hs, err := newHandshake(false, localStatic, ecdh, ephemeral)
	if err != nil {
		return nil, err
	}
	hs.mixHash(localStatic.SerializeCompressed())
	hs.step = stepAwaitAct1
	return hs, nil
}

// NextActSize returns the exact number of bytes ReadAct expects next: ActOneSize, ActTwoSize or
// ActThreeSize, or 0 once the handshake is complete or has failed.
func (hs *Handshake) NextActSize() int {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.err != nil {
		return 0
	}
	switch hs.step {
	case stepAwaitAct1:
		return ActOneSize
	case stepAwaitAct2:
		return ActTwoSize
	case stepAwaitAct3:
		return ActThreeSize
	default:
		return 0
	}
}

// IsInitiator reports whether this side started the handshake.
func (hs *Handshake) IsInitiator() bool {
	return hs.initiator // immutable after construction
}

// ReadAct processes the next act from the peer. data must be exactly NextActSize() bytes; any other
// length fails with the act's ReadFailed error. It returns the bytes to send in reply (act two for a
// responder reading act one, act three for an initiator reading act two, nothing for a responder reading
// act three) and whether the handshake is now complete.
//
// Errors: for act one ErrAct1ReadFailed, *VersionError (errors.Is ErrAct1BadVersion), ErrAct1BadPubkey,
// ErrAct1BadTag; for act two the ErrAct2 equivalents; for act three ErrAct3ReadFailed, *VersionError
// (ErrAct3BadVersion), ErrAct3BadCiphertext, ErrAct3BadPubkey, ErrAct3BadTag; ErrECDH wrapping the ECDH
// function's error; ErrHandshakeDone after completion and ErrHandshakeFailed after any earlier error.
// Source: BOLT 8, "Handshake Exchange", receiver actions.
func (hs *Handshake) ReadAct(data []byte) (out []byte, done bool, err error) {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	if hs.err != nil {
		return nil, false, ErrHandshakeFailed
	}
	switch hs.step {
	case stepAwaitAct1:
		out, err = hs.readActOne(data)
	case stepAwaitAct2:
		out, err = hs.readActTwo(data)
		done = err == nil
	case stepAwaitAct3:
		err = hs.readActThree(data)
		done = err == nil
	case stepDone:
		return nil, true, ErrHandshakeDone
	default:
		err = ErrWrongRole
	}
	if err != nil {
		hs.err = err
		hs.wipe()
		return nil, false, err
	}
	return out, done, nil
}

// parseEphemeralAct splits act one or act two into the remote ephemeral key and its tag, checking the
// length, version and key encoding.
func parseEphemeralAct(data []byte, act int, errRead, errPub error) (*btcec.PublicKey, []byte, []byte, error) {
	if len(data) != ActOneSize {
		return nil, nil, nil, errRead
	}
	if data[0] != HandshakeVersion {
		return nil, nil, nil, &VersionError{Act: act, Version: data[0]}
	}
	reBytes := data[1:34]
	re, err := parseCompressed(reBytes)
	if err != nil {
		return nil, nil, nil, errPub
	}
	return re, reBytes, data[34:], nil
}

// readActOne is the responder's handling of act one; it returns act two.
func (hs *Handshake) readActOne(data []byte) ([]byte, error) {
	re, reBytes, tag, err := parseEphemeralAct(data, 1, ErrAct1ReadFailed, ErrAct1BadPubkey)
	if err != nil {
		return nil, err
	}
	hs.mixHash(reBytes)
	ss, err := hs.ecdh(re)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrECDH, err)
	}
	ck, tempK1 := hkdf2(hs.ck[:], ss[:])
	if _, err := decryptWithAD(tempK1, 0, hs.h[:], tag); err != nil {
		return nil, ErrAct1BadTag
	}
	hs.ck = ck
	hs.mixHash(tag)
	hs.re = re

	// Act two, sender side.
	ePub := hs.e.PubKey().SerializeCompressed()
	hs.mixHash(ePub)
	ss = ECDH(hs.e, re)
	hs.ck, hs.tempK2 = hkdf2(hs.ck[:], ss[:])
	tag2 := encryptWithAD(hs.tempK2, 0, hs.h[:], nil)
	hs.mixHash(tag2)

	act2 := make([]byte, 0, ActTwoSize)
	act2 = append(act2, HandshakeVersion)
	act2 = append(act2, ePub...)
	act2 = append(act2, tag2...)
	hs.step = stepAwaitAct3
	return act2, nil
}

// readActTwo is the initiator's handling of act two; it returns act three and completes the handshake.
func (hs *Handshake) readActTwo(data []byte) ([]byte, error) {
	re, reBytes, tag, err := parseEphemeralAct(data, 2, ErrAct2ReadFailed, ErrAct2BadPubkey)
	if err != nil {
		return nil, err
	}
	hs.mixHash(reBytes)
	ss := ECDH(hs.e, re)
	ck, tempK2 := hkdf2(hs.ck[:], ss[:])
	if _, err := decryptWithAD(tempK2, 0, hs.h[:], tag); err != nil {
		return nil, ErrAct2BadTag
	}
	hs.ck, hs.tempK2 = ck, tempK2
	hs.mixHash(tag)
	hs.re = re

	// Act three, sender side.
	c := encryptWithAD(hs.tempK2, 1, hs.h[:], hs.localStatic.SerializeCompressed())
	hs.mixHash(c)
	ss, err = hs.ecdh(re)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrECDH, err)
	}
	var tempK3 [32]byte
	hs.ck, tempK3 = hkdf2(hs.ck[:], ss[:])
	t := encryptWithAD(tempK3, 0, hs.h[:], nil)
	sk, rk := hkdf2(hs.ck[:], nil)

	act3 := make([]byte, 0, ActThreeSize)
	act3 = append(act3, HandshakeVersion)
	act3 = append(act3, c...)
	act3 = append(act3, t...)
	hs.finish(sk, rk)
	return act3, nil
}

// readActThree is the responder's handling of act three; it completes the handshake.
func (hs *Handshake) readActThree(data []byte) error {
	if len(data) != ActThreeSize {
		return ErrAct3ReadFailed
	}
	if data[0] != HandshakeVersion {
		return &VersionError{Act: 3, Version: data[0]}
	}
	c, t := data[1:50], data[50:]
	rsBytes, err := decryptWithAD(hs.tempK2, 1, hs.h[:], c)
	if err != nil {
		return ErrAct3BadCiphertext
	}
	rs, err := parseCompressed(rsBytes)
	if err != nil {
		return ErrAct3BadPubkey
	}
	hs.mixHash(c)
	ss := ECDH(hs.e, rs)
	var tempK3 [32]byte
	hs.ck, tempK3 = hkdf2(hs.ck[:], ss[:])
	if _, err := decryptWithAD(tempK3, 0, hs.h[:], t); err != nil {
		return ErrAct3BadTag
	}
	hs.rs = rs
	rk, sk := hkdf2(hs.ck[:], nil)
	hs.finish(sk, rk)
	return nil
}

// finish builds the transport and forgets the handshake secrets.
func (hs *Handshake) finish(sk, rk [32]byte) {
	hs.transport = NewTransport(sk, rk, hs.ck)
	hs.step = stepDone
	hs.wipe()
}

// wipe drops the secrets that are no longer needed once the handshake has ended either way.
func (hs *Handshake) wipe() {
	hs.tempK2 = [32]byte{}
	hs.e = nil
	hs.ecdh = nil
}

// Transport returns the session created by the handshake, or nil before the handshake is complete.
// The initiator may send on it right away; the responder once act three has been read.
func (hs *Handshake) Transport() *Transport {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.transport
}

// RemoteStatic returns the peer's static (node) public key: the key given to NewInitiator, or for a
// responder the key learnt from act three (nil before that).
func (hs *Handshake) RemoteStatic() *btcec.PublicKey {
	hs.mu.Lock()
	defer hs.mu.Unlock()
	return hs.rs
}

func (hs *Handshake) mixHash(data []byte) {
	d := sha256.New()
	d.Write(hs.h[:])
	d.Write(data)
	d.Sum(hs.h[:0])
}

// parseCompressed accepts only the 33-byte compressed encoding (prefix 0x02 or 0x03) of a point on the curve.
func parseCompressed(b []byte) (*btcec.PublicKey, error) {
	if len(b) != btcec.PubKeyBytesLenCompressed || (b[0] != 0x02 && b[0] != 0x03) {
		return nil, ErrInvalidKey
	}
	return btcec.ParsePubKey(b)
}

// nonceBytes encodes n as the ChaCha20-Poly1305 nonce of BOLT 8: 32 zero bits then n little-endian.
func nonceBytes(n uint64) [chacha20poly1305.NonceSize]byte {
	var nonce [chacha20poly1305.NonceSize]byte
	for i := 0; i < 8; i++ {
		nonce[4+i] = byte(n >> (8 * i))
	}
	return nonce
}

// encryptWithAD is BOLT 8's encryptWithAD(k, n, ad, plaintext).
func encryptWithAD(k [32]byte, n uint64, ad, plaintext []byte) []byte {
	aead, err := chacha20poly1305.New(k[:])
	if err != nil {
		panic("noise: chacha20poly1305 rejected a 32-byte key") // cannot happen: the key size is fixed
	}
	nonce := nonceBytes(n)
	return aead.Seal(nil, nonce[:], plaintext, ad)
}

// decryptWithAD is BOLT 8's decryptWithAD(k, n, ad, ciphertext).
func decryptWithAD(k [32]byte, n uint64, ad, ciphertext []byte) ([]byte, error) {
	aead, err := chacha20poly1305.New(k[:])
	if err != nil {
		panic("noise: chacha20poly1305 rejected a 32-byte key") // cannot happen: the key size is fixed
	}
	nonce := nonceBytes(n)
	return aead.Open(nil, nonce[:], ciphertext, ad)
}
