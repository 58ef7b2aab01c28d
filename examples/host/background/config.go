package background

import (
	"log/slog"
	"time"

	"github.com/lnkit/lnkit/events"
)

// ChannelManager is what the Processor needs from the manager (*channelmanager.ChannelManager).
type ChannelManager interface {
	ProcessPendingEvents(handler events.Handler) error
	EventOrPersistenceNeeded() <-chan struct{}
	TimerTickOccurred()
}

// ChainMonitor is what the Processor needs from the monitors (*channelmonitor.ChainMonitor).
type ChainMonitor interface {
	ProcessPendingEvents(handler events.Handler) error
	UpdateAvailable() <-chan struct{}
}

// PeerManager is what the Processor needs from the peers (*peermanager.PeerManager).
type PeerManager interface {
	ProcessEvents()
	TimerTickOccurred()
}

// Persister writes the ChannelManager: if it says it needs persisting (GetAndClearNeedsPersistence),
// or always with force. Only after it returns nil may bytes that depend on the manager's state leave.
// The Processor never calls it twice at once.
type Persister interface {
	PersistManager(force bool) error
}

// PersisterFunc is a function as a Persister.
type PersisterFunc func(force bool) error

// PersistManager calls f(force).
func (f PersisterFunc) PersistManager(force bool) error { return f(force) }

// Job is periodic work of the host's own that runs on the Processor's goroutine, between passes
// (graph snapshots, scorer decay, ...): Run is called every Interval (a job with no Run or a
// non-positive Interval never runs). A slow job delays the passes.
type Job struct {
	Name     string
	Interval time.Duration
	Run      func()
}

// Default intervals (LDK's).
const (
	DefaultPeerTickInterval    = 10 * time.Second
	DefaultManagerTickInterval = 60 * time.Second
	DefaultSafetyInterval      = time.Second
)

// Config says what the Processor drives. A nil component is left out of the passes (a nil
// ChainMonitor: no monitor events; a nil PeerManager: nothing sent; a nil EventHandler: events stay
// queued in the components; a nil Persister: the manager is not written, and nothing keeps bytes from
// leaving before it is).
type Config struct {
	ChannelManager ChannelManager
	ChainMonitor   ChainMonitor
	PeerManager    PeerManager
	// EventHandler gets every ChannelManager and ChainMonitor event; an error leaves the event (and
	// those after it) queued for the next pass.
	EventHandler events.Handler
	Persister    Persister

	// PeerTickInterval is how often PeerManager.TimerTickOccurred runs (default 10 s: pings,
	// handshake timeouts); ManagerTickInterval, ChannelManager.TimerTickOccurred (default 60 s).
	PeerTickInterval    time.Duration
	ManagerTickInterval time.Duration
	// SafetyInterval is the slow ticker that runs a pass even when nothing signalled (default 1 s).
	SafetyInterval time.Duration
	// Jobs are the host's periodic work (see Job).
	Jobs []Job

	// BeforePass, if set, runs at the start of every pass (a host with a remote signer tells the
	// manager there that the signer answered).
	BeforePass func()
	// Wake, if set, is a channel of the host's own that wakes the Processor as Processor.Wake does
	// (once closed, it is no longer watched).
	Wake <-chan struct{}
	// Logger receives the errors of the passes (default: discarded).
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.PeerTickInterval <= 0 {
		c.PeerTickInterval = DefaultPeerTickInterval
	}
	if c.ManagerTickInterval <= 0 {
		c.ManagerTickInterval = DefaultManagerTickInterval
	}
	if c.SafetyInterval <= 0 {
		c.SafetyInterval = DefaultSafetyInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}
