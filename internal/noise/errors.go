package noise

import (
	"errors"
	"fmt"
)

// Handshake failure sentinels, one for each failure the BOLT 8 test vectors name (BOLT 8, Appendix A).
// Every error returned by a Handshake method matches exactly one of these with errors.Is (or ErrECDH,
// ErrHandshakeDone or ErrHandshakeFailed).
var (
	// ErrAct1ReadFailed: act one was not exactly ActOneSize (50) bytes.
	ErrAct1ReadFailed = errors.New("noise: act one: read failed (wrong length)")
	// ErrAct1BadVersion: act one carried an unknown handshake version. Returned wrapped in a *VersionError.
	ErrAct1BadVersion = errors.New("noise: act one: bad handshake version")
	// ErrAct1BadPubkey: act one's ephemeral key is not a valid compressed secp256k1 point.
	ErrAct1BadPubkey = errors.New("noise: act one: bad ephemeral public key")
	// ErrAct1BadTag: act one's poly1305 tag did not verify (the initiator does not know our static key).
	ErrAct1BadTag = errors.New("noise: act one: bad tag")

	// ErrAct2ReadFailed: act two was not exactly ActTwoSize (50) bytes.
	ErrAct2ReadFailed = errors.New("noise: act two: read failed (wrong length)")
	// ErrAct2BadVersion: act two carried an unknown handshake version. Returned wrapped in a *VersionError.
	ErrAct2BadVersion = errors.New("noise: act two: bad handshake version")
	// ErrAct2BadPubkey: act two's ephemeral key is not a valid compressed secp256k1 point.
	ErrAct2BadPubkey = errors.New("noise: act two: bad ephemeral public key")
	// ErrAct2BadTag: act two's poly1305 tag did not verify.
	ErrAct2BadTag = errors.New("noise: act two: bad tag")

	// ErrAct3ReadFailed: act three was not exactly ActThreeSize (66) bytes.
	ErrAct3ReadFailed = errors.New("noise: act three: read failed (wrong length)")
	// ErrAct3BadVersion: act three carried an unknown handshake version. Returned wrapped in a *VersionError.
	ErrAct3BadVersion = errors.New("noise: act three: bad handshake version")
	// ErrAct3BadCiphertext: the encrypted static key of act three failed authentication.
	ErrAct3BadCiphertext = errors.New("noise: act three: bad ciphertext")
	// ErrAct3BadPubkey: the decrypted static key of act three is not a valid compressed secp256k1 point.
	ErrAct3BadPubkey = errors.New("noise: act three: bad static public key")
	// ErrAct3BadTag: act three's final poly1305 tag did not verify.
	ErrAct3BadTag = errors.New("noise: act three: bad tag")

	// ErrECDH: the caller's static-key ECDH function failed; the wrapped error is the caller's.
	ErrECDH = errors.New("noise: static key ECDH failed")
	// ErrHandshakeDone: ReadAct was called after the handshake completed.
	ErrHandshakeDone = errors.New("noise: handshake already complete")
	// ErrHandshakeFailed: the handshake was used after an earlier error; it cannot be resumed.
	ErrHandshakeFailed = errors.New("noise: handshake already failed")
	// ErrWrongRole: ReadAct was given data when this side must not read (never returned by the public
	// API in normal use; kept so that a misused Handshake fails loudly instead of panicking).
	ErrWrongRole = errors.New("noise: no act expected from the peer now")
	// ErrInvalidKey: a key passed by the caller (nil, or an invalid ephemeral scalar) cannot be used.
	ErrInvalidKey = errors.New("noise: invalid key")

	// ErrMessageTooLarge: a plaintext longer than MaxMessageSize (65535) bytes was given to EncryptMessage.
	ErrMessageTooLarge = errors.New("noise: message longer than 65535 bytes")
	// ErrBadLengthTag: the 18-byte encrypted length prefix of a message failed authentication.
	ErrBadLengthTag = errors.New("noise: bad length prefix tag")
	// ErrBadMessageTag: the body of a message failed authentication.
	ErrBadMessageTag = errors.New("noise: bad message tag")
	// ErrTransportFailed: the Transport was used for decryption after an earlier decryption error.
	ErrTransportFailed = errors.New("noise: transport already failed")
)

// VersionError reports an unknown handshake version byte (BOLT 8: "If v is an unrecognized handshake
// version, then the responder MUST abort the connection attempt"). errors.Is matches it against
// ErrAct1BadVersion, ErrAct2BadVersion or ErrAct3BadVersion according to Act; errors.As recovers the byte.
type VersionError struct {
	// Act is 1, 2 or 3.
	Act int
	// Version is the version byte received (anything but 0).
	Version byte
}

// Error implements error.
func (e *VersionError) Error() string {
	return fmt.Sprintf("noise: act %d: bad handshake version %d", e.Act, e.Version)
}

// Unwrap returns the act's sentinel (ErrAct1BadVersion, ErrAct2BadVersion or ErrAct3BadVersion).
func (e *VersionError) Unwrap() error {
	switch e.Act {
	case 1:
		return ErrAct1BadVersion
	case 2:
		return ErrAct2BadVersion
	default:
		return ErrAct3BadVersion
	}
}
