package lnsocket

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"time"
)

// Defaults of Options' zero fields.
const (
	DefaultMaxBuffer    = 256 << 10        // bytes
	DefaultWriteTimeout = 10 * time.Second // per socket write
	DefaultDialTimeout  = 10 * time.Second // Connect's dial
)

// ContextDialer opens connections (*net.Dialer satisfies it; a host can wrap the connections it
// returns, or dial through a proxy).
type ContextDialer interface {
	DialContext(ctx context.Context, network, address string) (net.Conn, error)
}

// Options configures a connection. The zero value is usable: every zero field takes its default.
type Options struct {
	// MaxBuffer bounds the bytes SendData holds that are not written yet (default 256 KiB).
	MaxBuffer int
	// WriteTimeout bounds each socket write (default 10 s); a write that times out closes the
	// connection.
	WriteTimeout time.Duration
	// DialTimeout bounds Connect's dial (default 10 s), within the context's own deadline.
	DialTimeout time.Duration
	// Dialer opens Connect's connection (default a net.Dialer).
	Dialer ContextDialer
	// Stats, if set, counts what goes through the connection; one Stats may serve many connections.
	Stats *Stats
	// Logger receives the connection's warnings (default: discarded).
	Logger *slog.Logger
	// AfterRead is called, without locks, after each chunk read was handed to the PeerManager and
	// ProcessEvents ran: a host wakes its event processing there (background.Processor.Wake).
	AfterRead func()
	// BeforeWrite, if set, is called by the writer before each batch of bytes goes to the socket. If
	// it returns an error the bytes are not written and the connection closes (the peers then resume
	// from durable state with channel_reestablish). A host persists its ChannelManager there
	// (background.Processor.BeforeWrite), so that no byte leaves before the state that made it.
	BeforeWrite func() error
	// WaitGroup, if set, counts the connection's two goroutines (Connect and SetupInbound).
	WaitGroup *sync.WaitGroup
}

func (o Options) withDefaults() Options {
	if o.MaxBuffer <= 0 {
		o.MaxBuffer = DefaultMaxBuffer
	}
	if o.WriteTimeout <= 0 {
		o.WriteTimeout = DefaultWriteTimeout
	}
	if o.DialTimeout <= 0 {
		o.DialTimeout = DefaultDialTimeout
	}
	if o.Dialer == nil {
		o.Dialer = &net.Dialer{}
	}
	if o.Stats == nil {
		o.Stats = &Stats{}
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.AfterRead == nil {
		o.AfterRead = func() {}
	}
	return o
}
