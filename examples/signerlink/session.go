// Package signerlink carries keys/remote frames between a node and its signer over TCP, encrypted and
// authenticated with BOLT 8 (Noise_XK): the node dials (Dial, Dialer) and the signer listens (Serve).
// Each side pins the other's static key, the link key, which is not the node key: the node key stays
// with the signer.
//
// After the handshake the signer sends a hello message, so that the node knows the signer holds the
// key it pinned before it hands out any request. Then every Noise message is one byte of type and a
// payload: a frame (type msgFrame), or a part of a frame larger than a Noise message can carry (type
// msgFramePart, then the rest; a frame is at most remote.MaxFrameSize bytes), or a ping or pong. The
// node pings every PingInterval; either side drops a link silent for three intervals.
package signerlink

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/internal/noise"
	"github.com/lnkit/lnkit/keys/remote"
)

// Message types, the first byte of every Noise message after the handshake.
const (
	msgFrame     = 0 // a whole frame, or the last part of one
	msgFramePart = 1 // a part of a frame; more follow
	msgHello     = 2 // the signer's first message; payload helloPayload
	msgPing      = 3
	msgPong      = 4
)

// helloPayload is the hello message's payload: the link protocol and its version.
var helloPayload = []byte("lnkit-signer link v1")

// maxPart is the most frame bytes one Noise message carries.
const maxPart = noise.MaxMessageSize - 1

// Errors.
var (
	// ErrSignerRefused: the signer closed the connection during or right after the handshake: it is
	// not the signer whose key we pinned, or it does not pin our link key.
	ErrSignerRefused = errors.New("link: signer refused the link (check both pinned keys)")
	// ErrUnknownNode: the node that connected is not the one the signer pins.
	ErrUnknownNode = errors.New("link: node link key is not the pinned one")
	// ErrProtocol: a message broke the link protocol.
	ErrProtocol = errors.New("link: protocol violation")
)

// session is an established link: a Noise transport over a connection.
type session struct {
	conn net.Conn
	t    *noise.Transport
	idle time.Duration // read deadline after each read; 0: none

	wmu          sync.Mutex
	writeTimeout time.Duration

	buf     []byte
	msgs    [][]byte // decrypted, not yet read
	partial []byte   // the frame being reassembled
}

// ephemeralKey draws a fresh handshake key.
func ephemeralKey() (*btcec.PrivateKey, error) {
	for {
		var b [32]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, err
		}
		if k, err := noise.EphemeralKeyFromBytes(b); err == nil {
			return k, nil
		}
	}
}

// initiate runs the node's side of the handshake with the signer whose link key is signerPub and waits
// for the signer's hello, all within timeout.
func initiate(conn net.Conn, key *btcec.PrivateKey, signerPub *btcec.PublicKey, timeout time.Duration) (*session, error) {
	eph, err := ephemeralKey()
	if err != nil {
		return nil, err
	}
	hs, act1, err := noise.NewInitiator(key.PubKey(), noise.PrivateKeyECDH(key), eph, signerPub)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if _, err := conn.Write(act1); err != nil {
		return nil, err
	}
	act2 := make([]byte, noise.ActTwoSize)
	if _, err := io.ReadFull(conn, act2); err != nil {
		return nil, fmt.Errorf("%w: act two: %w", ErrSignerRefused, err)
	}
	act3, _, err := hs.ReadAct(act2)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Write(act3); err != nil {
		return nil, err
	}
	s := &session{conn: conn, t: hs.Transport()}
	typ, payload, err := s.readMessage()
	if err != nil {
		return nil, fmt.Errorf("%w: hello: %w", ErrSignerRefused, err)
	}
	if typ != msgHello || !bytes.Equal(payload, helloPayload) {
		return nil, fmt.Errorf("%w: first message is not the hello", ErrProtocol)
	}
	_ = conn.SetDeadline(time.Time{})
	return s, nil
}

// respond runs the signer's side of the handshake, accepts only the node whose link key is nodePub and
// sends the hello, all within timeout.
func respond(conn net.Conn, key *btcec.PrivateKey, nodePub *btcec.PublicKey, timeout time.Duration) (*session, error) {
	eph, err := ephemeralKey()
	if err != nil {
		return nil, err
	}
	hs, err := noise.NewResponder(key.PubKey(), noise.PrivateKeyECDH(key), eph)
	if err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	act1 := make([]byte, noise.ActOneSize)
	if _, err := io.ReadFull(conn, act1); err != nil {
		return nil, err
	}
	act2, _, err := hs.ReadAct(act1)
	if err != nil {
		return nil, err // a node that does not know our key fails here (bad tag)
	}
	if _, err := conn.Write(act2); err != nil {
		return nil, err
	}
	act3 := make([]byte, noise.ActThreeSize)
	if _, err := io.ReadFull(conn, act3); err != nil {
		return nil, err
	}
	if _, _, err := hs.ReadAct(act3); err != nil {
		return nil, err
	}
	if !hs.RemoteStatic().IsEqual(nodePub) {
		return nil, fmt.Errorf("%w: %x", ErrUnknownNode, hs.RemoteStatic().SerializeCompressed())
	}
	s := &session{conn: conn, t: hs.Transport()}
	if err := s.write(msgHello, helloPayload); err != nil {
		return nil, err
	}
	_ = conn.SetDeadline(time.Time{})
	return s, nil
}

// write sends one message of type typ.
func (s *session) write(typ byte, payload []byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	pkt, err := s.t.EncryptMessage(append([]byte{typ}, payload...))
	if err != nil {
		return err
	}
	return s.send(pkt)
}

// writeFrames sends frames, in order, each split into as many messages as it needs, in one write.
func (s *session) writeFrames(frames [][]byte) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	var out []byte
	msg := make([]byte, 0, maxPart+1)
	for _, f := range frames {
		for {
			n, typ := len(f), byte(msgFrame)
			if n > maxPart {
				n, typ = maxPart, msgFramePart
			}
			msg = append(append(msg[:0], typ), f[:n]...)
			var err error
			if out, err = s.t.AppendEncryptedMessage(out, msg); err != nil {
				return err
			}
			f = f[n:]
			if typ == msgFrame {
				break
			}
		}
	}
	return s.send(out)
}

// send writes b within the write timeout. Called with s.wmu held.
func (s *session) send(b []byte) error {
	if s.writeTimeout > 0 {
		_ = s.conn.SetWriteDeadline(time.Now().Add(s.writeTimeout))
	}
	_, err := s.conn.Write(b)
	return err
}

// readMessage returns the next message's type and payload.
func (s *session) readMessage() (byte, []byte, error) {
	for len(s.msgs) == 0 {
		if s.buf == nil {
			s.buf = make([]byte, 64<<10)
		}
		if s.idle > 0 {
			_ = s.conn.SetReadDeadline(time.Now().Add(s.idle))
		}
		n, err := s.conn.Read(s.buf)
		if n > 0 {
			msgs, derr := s.t.Decrypt(s.buf[:n])
			s.msgs = append(s.msgs, msgs...)
			if derr != nil && len(s.msgs) == 0 {
				return 0, nil, derr
			}
		}
		if err != nil && len(s.msgs) == 0 {
			return 0, nil, err
		}
	}
	m := s.msgs[0]
	s.msgs = s.msgs[1:]
	if len(m) == 0 {
		return 0, nil, fmt.Errorf("%w: empty message", ErrProtocol)
	}
	return m[0], m[1:], nil
}

// readFrame returns the next frame, answering pings on the way. Errors: the connection's,
// ErrProtocol for an unexpected message or a frame above remote.MaxFrameSize.
func (s *session) readFrame() ([]byte, error) {
	for {
		typ, payload, err := s.readMessage()
		if err != nil {
			return nil, err
		}
		switch typ {
		case msgFrame, msgFramePart:
			if len(s.partial)+len(payload) > remote.MaxFrameSize {
				return nil, fmt.Errorf("%w: frame above %d bytes", ErrProtocol, remote.MaxFrameSize)
			}
			if typ == msgFramePart {
				s.partial = append(s.partial, payload...)
				continue
			}
			if len(s.partial) == 0 {
				return payload, nil
			}
			f := append(s.partial, payload...)
			s.partial = nil
			return f, nil
		case msgPing:
			if err := s.write(msgPong, nil); err != nil {
				return nil, err
			}
		case msgPong:
		default:
			return nil, fmt.Errorf("%w: message type %d", ErrProtocol, typ)
		}
	}
}
