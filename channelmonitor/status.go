package channelmonitor

// ChannelMonitorUpdateStatus is what persisting a monitor (or an update to it) resulted in.
type ChannelMonitorUpdateStatus int

const (
	// Completed: the monitor is durably persisted; messages that depend on it may go.
	Completed ChannelMonitorUpdateStatus = iota
	// InProgress: persistence continues in the background; the channel holds the messages that depend
	// on it until ChainMonitor.ChannelMonitorUpdated reports the update complete.
	InProgress
	// UnrecoverableError: the monitor could not be persisted and never will be. The ChannelManager
	// force-closes the channel (the in-memory monitor still broadcasts and claims), and the host should
	// shut down once it can rather than run without durable monitors.
	UnrecoverableError
)

// String returns the status's name.
func (s ChannelMonitorUpdateStatus) String() string {
	switch s {
	case Completed:
		return "Completed"
	case InProgress:
		return "InProgress"
	case UnrecoverableError:
		return "UnrecoverableError"
	}
	return "ChannelMonitorUpdateStatus(?)"
}
