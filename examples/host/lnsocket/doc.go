// Package lnsocket connects TCP sockets to lnkit's PeerManager, as LDK's lightning-net-tokio does:
// Connect dials a peer and registers the connection as outbound, SetupInbound registers one a
// listener accepted, and both start it.
//
// This is a host package: unlike the library it starts goroutines and does I/O, two goroutines per
// connection. The reader hands every chunk read to PeerManager.ReadEvent, then calls ProcessEvents
// and Options.AfterRead; the writer drains what the PeerManager queued (SendData) into the socket,
// calling Options.BeforeWrite before each batch (a host persists its ChannelManager there: see
// examples/host/background's Processor.BeforeWrite).
//
// Back-pressure works both ways. Outgoing, SendData never blocks: it takes at most Options.MaxBuffer
// bytes not yet written and says how much it took; once the buffer drains, the writer calls
// WriteBufferSpaceAvail and the PeerManager sends the rest. Incoming, when ReadEvent asks to pause
// (the peer's outbound buffer is full), the reader stops reading the socket until SendData is called
// with resumeRead, so a peer that does not read what we send cannot make us buffer without bound.
//
// A connection ends when either side closes it, a write fails or times out (Options.WriteTimeout),
// BeforeWrite fails, or the PeerManager refuses what was read or disconnects it; the reader then
// tells the PeerManager (SocketDisconnected) unless the PeerManager itself dropped it.
package lnsocket
