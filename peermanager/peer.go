package peermanager

import (
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/internal/noise"
	"github.com/lnkit/lnkit/lnwire"
)

// nodeKey is a node id in compressed form, usable as a map key.
type nodeKey [btcec.PubKeyBytesLenCompressed]byte

func keyOf(pub *btcec.PublicKey) nodeKey {
	var k nodeKey
	copy(k[:], pub.SerializeCompressed())
	return k
}

type peerState int

const (
	// stateHandshake: the BOLT 8 acts are being exchanged.
	stateHandshake peerState = iota
	// stateHandshakeDone: act three is done; the goroutine that finished it is registering the node
	// and asking the handlers for features, without the peer lock. Bytes arriving meanwhile are parked.
	stateHandshakeDone
	// stateAwaitInit: our init is queued; their init has not arrived.
	stateAwaitInit
	// stateConnected: their init has been accepted.
	stateConnected
)

// pingNumPongBytes is the num_pong_bytes of our pings.
const pingNumPongBytes = 16

// peer is one connection. Every field below mu is guarded by it, except where noted.
type peer struct {
	// Immutable after creation.
	desc    SocketDescriptor
	inbound bool

	mu sync.Mutex

	closed bool
	state  peerState

	hs    *noise.Handshake
	hsBuf []byte
	tr    *noise.Transport
	// early holds bytes read in stateHandshakeDone.
	early []byte

	// nodeID is known from the start for outbound connections, after act three for inbound ones.
	nodeID    *btcec.PublicKey
	key       nodeKey
	ourFeat   *lnwire.FeatureVector
	theirInit *lnwire.Init
	// handlerConnected is true between a successful PeerConnected and the PeerDisconnected call. It is
	// only changed by the goroutine draining the node's delivery queue.
	handlerConnected bool

	// Outgoing data: outbuf[outOff:] is encrypted (or raw handshake) bytes not yet taken by SendData;
	// pending are encoded plaintext messages not yet encrypted (kept out of outbuf while it is over the
	// pause limit), pendingBytes their size once encrypted.
	outbuf       []byte
	outOff       int
	pending      [][]byte
	pendingBytes int
	// awaitingWrite: SendData took less than offered; wait for WriteBufferSpaceAvail.
	awaitingWrite bool
	// readPaused: ReadEvent told the host to pause reading.
	readPaused bool

	// Liveness, counted in timer ticks.
	ticksSinceCreated  uint32
	idleTicks          uint32
	receivedSinceTick  bool
	awaitingPong       bool
	pongWaitTicks      uint32
	expectedPongLength int
}

// queuedBytes is everything still to be written to the socket.
func (p *peer) queuedBytes() int {
	return len(p.outbuf) - p.outOff + p.pendingBytes
}

// queueRaw appends handshake bytes, which are sent unencrypted.
func (p *peer) queueRaw(b []byte) {
	p.outbuf = append(p.outbuf, b...)
}

// queueMessage encodes m and queues it for encryption.
func (p *peer) queueMessage(m lnwire.Message) error {
	b, err := lnwire.EncodeMessage(m)
	if err != nil {
		return err
	}
	p.queuePlaintext(b)
	return nil
}

func (p *peer) queuePlaintext(b []byte) {
	p.pending = append(p.pending, b)
	p.pendingBytes += len(b) + noise.LengthHeaderSize + noise.MACSize
}

// fill encrypts pending messages into outbuf while outbuf holds less than limit bytes.
func (p *peer) fill(limit int) {
	if p.tr == nil {
		return
	}
	for len(p.pending) > 0 && len(p.outbuf)-p.outOff < limit {
		if p.outOff > 0 && p.outOff >= len(p.outbuf)/2 {
			n := copy(p.outbuf, p.outbuf[p.outOff:])
			p.outbuf = p.outbuf[:n]
			p.outOff = 0
		}
		m := p.pending[0]
		p.pending[0] = nil
		p.pending = p.pending[1:]
		p.pendingBytes -= len(m) + noise.LengthHeaderSize + noise.MACSize
		// The length was checked by lnwire.EncodeMessage, so this cannot fail.
		p.outbuf, _ = p.tr.AppendEncryptedMessage(p.outbuf, m)
	}
	if len(p.pending) == 0 {
		p.pending = nil
	}
}

// flush writes what the socket accepts and resumes reading once the queue is below the pause limit.
// Called with p.mu held; SendData must not call back into the PeerManager.
func (p *peer) flush(pauseLimit int) {
	if p.closed {
		return
	}
	for !p.awaitingWrite {
		p.fill(pauseLimit)
		data := p.outbuf[p.outOff:]
		if len(data) == 0 {
			break
		}
		resume := p.readPaused && p.queuedBytes() < pauseLimit
		if resume {
			p.readPaused = false
		}
		n := p.desc.SendData(data, resume)
		n = max(0, min(n, len(data)))
		p.outOff += n
		if p.outOff == len(p.outbuf) {
			p.outbuf = p.outbuf[:0]
			p.outOff = 0
		}
		if n < len(data) {
			p.awaitingWrite = true
		}
	}
	if len(p.outbuf) == 0 && cap(p.outbuf) > 4*pauseLimit {
		p.outbuf = nil // do not pin a large buffer after a burst
	}
	if p.readPaused && p.queuedBytes() < pauseLimit {
		p.readPaused = false
		p.desc.SendData(nil, true)
	}
}
