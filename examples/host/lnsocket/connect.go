package lnsocket

import (
	"context"
	"errors"
	"fmt"
	"net"

	"github.com/btcsuite/btcd/btcec/v2"
)

// ErrNoNodeID is returned by Connect without the peer's node id (BOLT 8 needs it to start the
// handshake).
var ErrNoNodeID = errors.New("lnsocket: the peer's node id is needed to connect")

// Connect dials addr ("host:port") over TCP within opts.DialTimeout (and ctx), registers the
// connection with pm as outbound to theirNodeID (act one of the handshake queued) and starts its two
// goroutines. It returns once the socket is registered; the handshake and init follow
// (PeerManager.GetPeerNodeIDs lists the peer once they are done). Errors: ErrNoNodeID; the dialer's,
// as it returned it (a *net.OpError naming the address, in which errors.Is finds
// context.DeadlineExceeded and the like); the PeerManager's refusal, wrapped (the socket is then
// closed).
func Connect(ctx context.Context, pm Registrar, theirNodeID *btcec.PublicKey, addr string, opts Options) (*Conn, error) {
	if theirNodeID == nil {
		return nil, ErrNoNodeID
	}
	opts = opts.withDefaults()
	dctx, cancel := context.WithTimeout(ctx, opts.DialTimeout)
	defer cancel()
	nc, err := opts.Dialer.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	c, err := Register(pm, nc, theirNodeID, opts)
	if err != nil {
		return nil, fmt.Errorf("lnsocket: registering the connection to %s: %w", addr, err)
	}
	c.Start(opts.WaitGroup)
	return c, nil
}

// SetupInbound registers nc, a connection a listener accepted, with pm as inbound (the peer starts
// the handshake) and starts its two goroutines. On the PeerManager's refusal (returned wrapped) nc
// is closed.
func SetupInbound(pm Registrar, nc net.Conn, opts Options) (*Conn, error) {
	c, err := Register(pm, nc, nil, opts)
	if err != nil {
		return nil, fmt.Errorf("lnsocket: registering the inbound connection: %w", err)
	}
	c.Start(opts.WaitGroup)
	return c, nil
}
