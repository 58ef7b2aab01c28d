package lnsocket

import (
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/peermanager"
)

// Registrar is what registering a connection needs from the PeerManager (*peermanager.PeerManager
// satisfies it).
type Registrar interface {
	Host
	NewOutboundConnection(theirNodeID *btcec.PublicKey, d peermanager.SocketDescriptor) ([]byte, error)
	NewInboundConnection(d peermanager.SocketDescriptor) error
}

// Register wraps nc (see NewConn) and registers it with pm: as an outbound connection to theirID, with
// act one of the BOLT 8 handshake queued, or with theirID nil as an inbound one. The caller then calls
// Start. On error (the PeerManager's, returned as is) nc is closed.
func Register(pm Registrar, nc net.Conn, theirID *btcec.PublicKey, opts Options) (*Conn, error) {
	c := NewConn(nc, pm, opts)
	if theirID != nil {
		act1, err := pm.NewOutboundConnection(theirID, c)
		if err != nil {
			_ = nc.Close()
			return nil, err
		}
		c.QueueRaw(act1)
	} else if err := pm.NewInboundConnection(c); err != nil {
		_ = nc.Close()
		return nil, err
	}
	return c, nil
}

// Host is what a connection needs from the PeerManager (*peermanager.PeerManager satisfies it).
// It is an interface so that the socket glue can be tested on its own.
type Host interface {
	ReadEvent(d peermanager.SocketDescriptor, data []byte) (pauseRead bool, err error)
	WriteBufferSpaceAvail(d peermanager.SocketDescriptor) error
	SocketDisconnected(d peermanager.SocketDescriptor)
	ProcessEvents()
}

// Stats counts what went through a connection (all fields are updated atomically).
type Stats struct {
	BytesIn       atomic.Int64
	BytesOut      atomic.Int64
	PartialSends  atomic.Int64 // SendData calls that took less than offered (back-pressure)
	SpaceAvail    atomic.Int64 // WriteBufferSpaceAvail calls made after the buffer drained
	ReadPauses    atomic.Int64 // ReadEvent asked us to stop reading
	Disconnects   atomic.Int64 // connections that ended
	ReadEventErrs atomic.Int64 // connections the PeerManager refused (ReadEvent error)
}

// Conn wraps one TCP connection as a peermanager.SocketDescriptor. The PeerManager uses the
// pointer as a map key.
//
// Writing: SendData never blocks. It copies what fits into a bounded buffer (maxBuf bytes) and returns
// how much it took; a writer goroutine drains the buffer into the socket (each write with a deadline)
// and, if SendData had to refuse bytes, calls WriteBufferSpaceAvail once the buffer is empty again.
// Reading: a reader goroutine feeds every chunk to ReadEvent, then ProcessEvents, and stops reading
// while ReadEvent asked it to pause, until SendData passes resumeRead or the connection closes.
type Conn struct {
	nc           net.Conn
	host         Host
	log          *slog.Logger
	maxBuf       int
	writeTimeout time.Duration
	stats        *Stats
	afterRead    func()       // Options.AfterRead
	beforeWrite  func() error // Options.BeforeWrite (nil: none)

	mu        sync.Mutex
	cond      *sync.Cond // signalled when buf gains bytes or the connection closes
	buf       []byte     // bytes taken by SendData and not yet written
	spare     []byte     // a drained buffer kept for reuse
	wantSpace bool       // SendData refused bytes: call WriteBufferSpaceAvail once drained
	closed    bool
	pmForgot  bool // the PeerManager already forgot this descriptor: no SocketDisconnected

	resume   chan struct{} // resumeRead signals (capacity 1)
	closedCh chan struct{} // closed when the connection closes
	done     chan struct{} // closed when the reader has finished (SocketDisconnected made if due)
	finished chan struct{} // closed when both goroutines have returned
	running  atomic.Int32  // goroutines still running
}

var _ peermanager.SocketDescriptor = (*Conn)(nil)

// NewConn wraps nc for host without registering it (Register does both); opts' zero fields take
// their defaults. Call Start to run it.
func NewConn(nc net.Conn, host Host, opts Options) *Conn {
	opts = opts.withDefaults()
	c := &Conn{nc: nc, host: host, log: opts.Logger, maxBuf: opts.MaxBuffer, writeTimeout: opts.WriteTimeout,
		stats: opts.Stats, afterRead: opts.AfterRead, beforeWrite: opts.BeforeWrite,
		resume: make(chan struct{}, 1), closedCh: make(chan struct{}), done: make(chan struct{}),
		finished: make(chan struct{})}
	c.cond = sync.NewCond(&c.mu)
	return c
}

// Start runs the reader and writer goroutines; wg, if not nil, counts them. Call it once.
func (c *Conn) Start(wg *sync.WaitGroup) {
	if wg != nil {
		wg.Add(2)
	}
	c.running.Store(2)
	run := func(loop func()) {
		defer func() {
			if c.running.Add(-1) == 0 {
				close(c.finished)
			}
			if wg != nil {
				wg.Done()
			}
		}()
		loop()
	}
	go run(c.readLoop)
	go run(c.writeLoop)
}

// SendData implements peermanager.SocketDescriptor. It is called with the PeerManager's peer lock
// held, so it only copies into the buffer and never blocks or calls back.
func (c *Conn) SendData(data []byte, resumeRead bool) int {
	c.mu.Lock()
	n := 0
	if !c.closed {
		n = min(len(data), max(0, c.maxBuf-len(c.buf)))
		c.buf = append(c.buf, data[:n]...)
		if n < len(data) {
			c.wantSpace = true
			c.stats.PartialSends.Add(1)
		}
		if n > 0 {
			c.cond.Signal()
		}
	}
	c.mu.Unlock()
	if resumeRead {
		select {
		case c.resume <- struct{}{}:
		default:
		}
	}
	return n
}

// QueueRaw queues bytes regardless of the buffer limit (act one of the handshake, which the host
// writes itself).
func (c *Conn) QueueRaw(data []byte) {
	c.mu.Lock()
	c.buf = append(c.buf, data...)
	c.cond.Signal()
	c.mu.Unlock()
}

// DisconnectSocket implements peermanager.SocketDescriptor: the PeerManager has forgotten the
// connection; close it without telling it back.
func (c *Conn) DisconnectSocket() {
	c.mu.Lock()
	c.pmForgot = true
	c.mu.Unlock()
	c.Close()
}

// Close closes the connection once; the reader and writer then end.
func (c *Conn) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.cond.Broadcast()
	c.mu.Unlock()
	_ = c.nc.Close()
	close(c.closedCh)
}

// Done is closed when the reader has finished (and told the PeerManager of the disconnection if due).
func (c *Conn) Done() <-chan struct{} { return c.done }

// Finished is closed when both of the connection's goroutines have returned (after Done).
func (c *Conn) Finished() <-chan struct{} { return c.finished }

// RemoteAddr is the connection's remote address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// IsClosed reports whether the connection has been closed.
func (c *Conn) IsClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

// readLoop feeds the PeerManager until the connection ends. It alone calls SocketDisconnected, and
// only if the PeerManager still knows the connection.
func (c *Conn) readLoop() {
	defer close(c.done)
	buf := make([]byte, 32<<10)
	for {
		n, err := c.nc.Read(buf)
		if n > 0 {
			c.stats.BytesIn.Add(int64(n))
			// The PeerManager does not say whether it keeps the slice: give it its own copy.
			chunk := append([]byte(nil), buf[:n]...)
			pause, rerr := c.host.ReadEvent(c, chunk)
			if rerr != nil {
				c.stats.ReadEventErrs.Add(1)
				c.log.Warn("peer manager closed the connection", "remote", c.nc.RemoteAddr().String(), "err", rerr)
				c.mu.Lock()
				c.pmForgot = true
				c.mu.Unlock()
				c.Close()
				c.stats.Disconnects.Add(1)
				return
			}
			c.host.ProcessEvents()
			c.afterRead()
			if pause {
				c.stats.ReadPauses.Add(1)
				select {
				case <-c.resume:
				case <-c.closedCh:
				}
			}
		}
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				c.log.Debug("connection read ended", "remote", c.nc.RemoteAddr().String(), "err", err)
			}
			c.Close()
			c.mu.Lock()
			forgot := c.pmForgot
			c.mu.Unlock()
			if !forgot {
				c.host.SocketDisconnected(c)
			}
			c.stats.Disconnects.Add(1)
			return
		}
	}
}

// writeLoop writes the buffer to the socket and reports drained space to the PeerManager.
func (c *Conn) writeLoop() {
	for {
		c.mu.Lock()
		for len(c.buf) == 0 && !c.closed {
			c.cond.Wait()
		}
		if c.closed {
			c.mu.Unlock()
			return
		}
		out := c.buf
		c.buf = c.spare[:0]
		c.spare = nil
		c.mu.Unlock()

		if c.beforeWrite != nil {
			if err := c.beforeWrite(); err != nil {
				c.log.Warn("not writing to the socket; closing", "remote", c.nc.RemoteAddr().String(), "err", err)
				c.Close() // the reader then tells the PeerManager
				return
			}
		}
		_ = c.nc.SetWriteDeadline(time.Now().Add(c.writeTimeout))
		_, err := c.nc.Write(out)
		if err != nil {
			c.log.Warn("socket write failed; closing", "remote", c.nc.RemoteAddr().String(), "err", err)
			c.Close() // the reader then tells the PeerManager
			return
		}
		c.stats.BytesOut.Add(int64(len(out)))

		c.mu.Lock()
		if c.spare == nil && cap(out) <= 4*c.maxBuf {
			c.spare = out[:0]
		}
		notify := c.wantSpace && len(c.buf) < c.maxBuf
		if notify {
			c.wantSpace = false
		}
		c.mu.Unlock()
		if notify {
			c.stats.SpaceAvail.Add(1)
			if err := c.host.WriteBufferSpaceAvail(c); err != nil {
				// The PeerManager no longer knows the descriptor.
				c.mu.Lock()
				c.pmForgot = true
				c.mu.Unlock()
				c.Close()
				return
			}
		}
	}
}
