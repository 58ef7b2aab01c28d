package noise

import (
	"crypto/cipher"
	"crypto/sha256"
	"encoding/binary"
	"io"
	"sync"

	"golang.org/x/crypto/chacha20poly1305"
	"golang.org/x/crypto/hkdf"
)

// Transport framing constants (BOLT 8, "Lightning Message Specification").
const (
	// MaxMessageSize is the largest Lightning message, in bytes, that may be sent or received.
	MaxMessageSize = 65535
	// MACSize is the size of a poly1305 tag in bytes.
	MACSize = 16
	// LengthHeaderSize is the size of the encrypted length prefix: 2-byte length plus its 16-byte tag.
	LengthHeaderSize = 2 + MACSize
	// MaxPacketSize is the largest encrypted packet on the wire: 2 + 16 + 65535 + 16 = 65569 bytes.
	MaxPacketSize = LengthHeaderSize + MaxMessageSize + MACSize
	// KeyRotationInterval is the number of nonces after which a key is rotated (BOLT 8, "Lightning
	// Message Key Rotation"). Each message uses two nonces, so keys rotate every 500 messages.
	KeyRotationInterval = 1000
)

// hkdf2 is BOLT 8's HKDF(salt, ikm): HKDF-SHA256 with an empty info, 64 bytes of output split in two.
func hkdf2(salt, ikm []byte) (first, second [32]byte) {
	r := hkdf.New(sha256.New, ikm, salt, nil)
	var out [64]byte
	if _, err := io.ReadFull(r, out[:]); err != nil {
		panic("noise: HKDF-SHA256 cannot produce 64 bytes") // cannot happen: the limit is 255*32 bytes
	}
	copy(first[:], out[:32])
	copy(second[:], out[32:])
	return first, second
}

// cipherState is one direction of the transport: a key, its own chaining key for rotation, and a nonce.
type cipherState struct {
	key   [32]byte
	ck    [32]byte
	nonce uint64
	aead  cipher.AEAD
}

func newCipherState(key, ck [32]byte) cipherState {
	cs := cipherState{key: key, ck: ck}
	cs.initAEAD()
	return cs
}

func (cs *cipherState) initAEAD() {
	aead, err := chacha20poly1305.New(cs.key[:])
	if err != nil {
		panic("noise: chacha20poly1305 rejected a 32-byte key") // cannot happen: the key size is fixed
	}
	cs.aead = aead
}

// advance increments the nonce and rotates the key once it reaches KeyRotationInterval:
// ck', k' = HKDF(ck, k); n = 0 (BOLT 8, "Lightning Message Key Rotation").
func (cs *cipherState) advance() {
	cs.nonce++
	if cs.nonce == KeyRotationInterval {
		cs.ck, cs.key = hkdf2(cs.ck[:], cs.key[:])
		cs.nonce = 0
		cs.initAEAD()
	}
}

// seal appends the encryption of plaintext (with empty associated data) to dst and advances the nonce.
func (cs *cipherState) seal(dst, plaintext []byte) []byte {
	nonce := nonceBytes(cs.nonce)
	dst = cs.aead.Seal(dst, nonce[:], plaintext, nil)
	cs.advance()
	return dst
}

// open appends the decryption of ciphertext to dst and advances the nonce; on a bad tag it returns an
// error and leaves the nonce alone (the transport is then dead anyway).
func (cs *cipherState) open(dst, ciphertext []byte) ([]byte, error) {
	nonce := nonceBytes(cs.nonce)
	out, err := cs.aead.Open(dst, nonce[:], ciphertext, nil)
	if err != nil {
		return nil, err
	}
	cs.advance()
	return out, nil
}

// Transport is an established BOLT 8 session: it encrypts outgoing messages and decrypts an incoming
// byte stream. Sending and receiving are independent and each is guarded by its own lock, so one
// goroutine may encrypt while another decrypts. Safe for concurrent use.
type Transport struct {
	sendMu sync.Mutex
	send   cipherState

	recvMu sync.Mutex
	recv   cipherState
	// rbuf holds received bytes not yet forming a complete header or body.
	rbuf []byte
	// bodyLen is the decrypted length of the message whose body is awaited, or -1 while awaiting a header.
	bodyLen int
	failed  bool
}

// NewTransport builds a session from the keys the handshake produced: sendKey (sk), recvKey (rk) and the
// final chaining key ck, which seeds the rotation of both keys. Handshake.Transport returns one; this
// constructor exists for hosts and tests that already hold the keys.
func NewTransport(sendKey, recvKey, chainingKey [32]byte) *Transport {
	return &Transport{
		send:    newCipherState(sendKey, chainingKey),
		recv:    newCipherState(recvKey, chainingKey),
		bodyLen: -1,
	}
}

// EncryptMessage encrypts one Lightning message into a packet of len(plaintext)+34 bytes: the encrypted
// 2-byte big-endian length with its tag, then the encrypted message with its tag. Each call uses two
// nonces. Errors: ErrMessageTooLarge if plaintext is longer than MaxMessageSize (65535) bytes.
// Source: BOLT 8, "Encrypting and Sending Messages".
func (t *Transport) EncryptMessage(plaintext []byte) ([]byte, error) {
	return t.AppendEncryptedMessage(make([]byte, 0, len(plaintext)+LengthHeaderSize+MACSize), plaintext)
}

// AppendEncryptedMessage is EncryptMessage appending the packet to dst (which must not overlap
// plaintext); it returns the extended slice. Errors: ErrMessageTooLarge.
func (t *Transport) AppendEncryptedMessage(dst, plaintext []byte) ([]byte, error) {
	if len(plaintext) > MaxMessageSize {
		return dst, ErrMessageTooLarge
	}
	var l [2]byte
	binary.BigEndian.PutUint16(l[:], uint16(len(plaintext)))
	t.sendMu.Lock()
	defer t.sendMu.Unlock()
	dst = t.send.seal(dst, l[:])
	dst = t.send.seal(dst, plaintext)
	return dst, nil
}

// Decrypt takes the next chunk of the incoming byte stream, of any size (a message may be split at any
// byte, and one chunk may hold several messages), and returns every message completed by it, in order,
// as freshly allocated slices. Bytes of an incomplete message are kept for the next call.
//
// Errors: ErrBadLengthTag or ErrBadMessageTag when authentication fails; the messages decrypted before
// the failure in the same chunk are still returned. After an error the stream cannot be resynchronised
// and every later call returns ErrTransportFailed. Source: BOLT 8, "Receiving and Decrypting Messages".
func (t *Transport) Decrypt(data []byte) ([][]byte, error) {
	t.recvMu.Lock()
	defer t.recvMu.Unlock()
	if t.failed {
		return nil, ErrTransportFailed
	}

	// Work straight from data when nothing is buffered, so whole packets are never copied.
	src := data
	if len(t.rbuf) > 0 {
		t.rbuf = append(t.rbuf, data...)
		src = t.rbuf
	}

	var msgs [][]byte
	off := 0
	for {
		avail := len(src) - off
		if t.bodyLen < 0 {
			if avail < LengthHeaderSize {
				break
			}
			var l [2]byte
			lb, err := t.recv.open(l[:0], src[off:off+LengthHeaderSize])
			if err != nil {
				t.fail()
				return msgs, ErrBadLengthTag
			}
			t.bodyLen = int(binary.BigEndian.Uint16(lb))
			off += LengthHeaderSize
			continue
		}
		need := t.bodyLen + MACSize
		if avail < need {
			break
		}
		msg, err := t.recv.open(make([]byte, 0, t.bodyLen), src[off:off+need])
		if err != nil {
			t.fail()
			return msgs, ErrBadMessageTag
		}
		msgs = append(msgs, msg)
		off += need
		t.bodyLen = -1
	}

	// Keep the unconsumed tail (append moves overlapping bytes correctly when src is rbuf).
	t.rbuf = append(t.rbuf[:0], src[off:]...)
	if len(t.rbuf) == 0 && cap(t.rbuf) > 2*MaxPacketSize {
		t.rbuf = nil // do not pin a large buffer after a big burst
	}
	return msgs, nil
}

// Buffered returns the number of received bytes held back as part of an incomplete message.
func (t *Transport) Buffered() int {
	t.recvMu.Lock()
	defer t.recvMu.Unlock()
	return len(t.rbuf)
}

func (t *Transport) fail() {
	t.failed = true
	t.rbuf = nil
	t.bodyLen = -1
}
