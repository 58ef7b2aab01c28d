// Package background runs a host's event processing, as LDK's lightning-background-processor does: one
// goroutine that hands the ChannelManager's and ChainMonitor's events to the host's handler, persists
// the ChannelManager when it changed, lets the PeerManager send what that produced, and drives the
// components' timers. It waits on what the library signals (EventOrPersistenceNeeded,
// UpdateAvailable), on Wake, on its tickers and on a slow safety ticker, and never polls faster.
//
// This is a host package: unlike the library it starts a goroutine and reads the clock.
//
// # The ordering rule
//
// ARCH.md's promise 3 says no message that depends on new channel state leaves before that state is
// in the channel's monitor and the monitor is persisted: the library keeps that one itself (the
// ChainMonitor persists each monitor update before the ChannelManager releases the messages that
// depend on it). The manager's own records (its channels, payments and pending events, written by
// the host through the Persister) need the same care from the host: if a peer saw messages made from
// manager state that a crash then lost, the restarted node finds itself behind and has to close the
// channel. So the Processor persists the manager before any byte that may depend on it leaves:
//
//   - each pass handles the events, then persists the manager if it needs it, and only then calls
//     PeerManager.ProcessEvents (which pulls the messages, and may sign a commitment_signed as it
//     does); a failed persist skips ProcessEvents for that pass;
//   - the connections' writer goroutines call BeforeWrite (examples/host/lnsocket's Options.BeforeWrite)
//     before each batch of bytes, which persists the manager if it changed since; if that fails, the
//     bytes are not written and the connection closes.
//
// Persisting is serialised by the Processor, so the Persister sees one call at a time.
package background
