//go:build interop

package interop

import (
	"io"
	"net"
	"sync"
	"testing"
)

// cutProxy is a loopback TCP proxy between the lnkit node (which dials it) and an lnd (which it
// dials), used to leave an HTLC on lnd's commitment after lnkit has claimed it: armed before lnd pays
// lnkit, it lets the payment's commitment dance through and then stops forwarding lnkit's bytes, so
// that lnkit's update_fulfill_htlc never reaches lnd. Then cut closes everything, and neither side
// can reconnect: lnkit redials the proxy, which is gone, and lnd only knows the proxy's outbound
// address.
//
// Bytes are BOLT 8 ciphertext, lengths included, so the proxy follows the dance by its TCP reads:
// lnd's update_add_htlc and commitment_signed (one or two reads), then lnkit's revoke_and_ack and
// commitment_signed, then lnd's revoke_and_ack, after which lnkit holds an irrevocably committed HTLC
// and claims it. Reads under minDanceBytes (pings and pongs) are not counted.
type cutProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []net.Conn
	phase int // dance* below
}

const (
	danceIdle       = iota
	danceArmed      // waiting for lnd's update_add_htlc
	danceAdded      // waiting for lnkit's revoke_and_ack + commitment_signed
	danceSigned     // waiting for lnd's revoke_and_ack
	danceLnkitMuted // lnkit's bytes are dropped
)

// minDanceBytes: a revoke_and_ack is 99 bytes in plaintext (133 on the wire), a ping a few bytes.
const minDanceBytes = 100

// newCutProxy listens on a free loopback port and forwards each connection to target.
func newCutProxy(t testing.TB, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	go p.accept()
	t.Cleanup(p.cut)
	return p
}

func (p *cutProxy) addr() string { return p.ln.Addr().String() }

func (p *cutProxy) accept() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", p.target)
		if err != nil {
			client.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, client, server)
		p.mu.Unlock()
		go p.pump(server, client, p.fromLnd)
		go p.pump(client, server, p.fromLnkit)
	}
}

// pump copies src to dst, asking step for each read whether to forward it.
func (p *cutProxy) pump(src, dst net.Conn, step func(n int) bool) {
	buf := make([]byte, 64<<10)
	for {
		n, err := src.Read(buf)
		if n > 0 && step(n) {
			if _, werr := dst.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			if err != io.EOF {
				src.Close()
			}
			dst.Close()
			return
		}
	}
}

// fromLnd advances the dance on a read from lnd; lnd's bytes are always forwarded. After lnd's
// revoke_and_ack, lnkit is muted before that read reaches it.
func (p *cutProxy) fromLnd(n int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n >= minDanceBytes {
		switch p.phase {
		case danceArmed:
			p.phase = danceAdded
		case danceSigned:
			p.phase = danceLnkitMuted
		}
	}
	return true
}

// fromLnkit advances the dance on a read from lnkit and drops it once lnkit is muted.
func (p *cutProxy) fromLnkit(n int) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if n >= minDanceBytes && p.phase == danceAdded {
		p.phase = danceSigned
	}
	return p.phase != danceLnkitMuted
}

// arm starts following a payment from lnd to lnkit.
func (p *cutProxy) arm() {
	p.mu.Lock()
	p.phase = danceArmed
	p.mu.Unlock()
}

// muted reports whether lnkit's bytes are being dropped.
func (p *cutProxy) muted() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.phase == danceLnkitMuted
}

// cut closes the listener and every connection.
func (p *cutProxy) cut() {
	p.ln.Close()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}
