// Package proxy sits between a peermanager.PeerManager and its message handlers: it logs, filters
// and rate-limits every message per peer, counts them, and speaks application protocols over custom
// messages (BOLT 1 types the BOLTs leave free, 32768-65535). It is one of the three ways lnkit is
// meant to be used: the host builds its handlers, wraps them, and gives the wrappers to
// peermanager.New.
//
//	px := proxy.New(proxy.Options{Rate: 200, Burst: 400, Logger: log})
//	custom := px.Custom(func(peer *btcec.PublicKey, msg *lnwire.UnknownMessage) { ... }) // unknown odd types
//	custom.Handle(proxy.EchoRequestType, proxy.Echo)                                   // the ping-app protocol
//	pm := peermanager.New(peermanager.MessageHandler{Chan: px.Channel(channelManager), Custom: custom}, ...)
//
// One Proxy serves one PeerManager: its ChannelHandler and CustomHandler share the per-peer state
// (rate limit, counters, queued custom messages), which is created when the channel handler's
// PeerConnected accepts a peer and removed at its PeerDisconnected. Without a ChannelHandler the state
// is created at a peer's first custom message and never removed (MaxPeers still bounds it).
//
// # What a dropped message does
//
// A message the Filter refuses, or that exceeds the peer's rate, is not given to the inner handler and
// counts as dropped. What follows differs by kind, because the two handler interfaces differ:
//
//   - A channel message (BOLT 2, `error`, `warning`): HandleChannelMessage cannot return an error, and
//     silently losing one would put the two sides' channel state machines out of step (a dropped
//     update_add_htlc followed by a commitment_signed that covers it would look like a bad signature
//     and fail the channel). So the peer is cut off: every later message of the connection is dropped
//     too, and the next GetAndClearPendingMsgEvents asks the PeerManager to send a `warning` saying why
//     and disconnect. On reconnection channel_reestablish (BOLT 2) retransmits what was lost. This is
//     why the rate limit's defaults must be far above normal traffic.
//   - A custom message: the error is returned to the PeerManager, which ignores an odd type and, for an
//     even type, sends a `warning` and disconnects (BOLT 1: an even type must be understood).
//
// # Custom messages and application protocols
//
// CustomHandler.Handle registers a function per message type. A message of a registered type is given
// to it, and its reply (if any) is queued for the peer; CustomHandler.Send queues any other message.
// Queues are bounded per peer (MaxQueuedPerPeer) and in total (MaxQueued); the PeerManager pulls them
// in ProcessEvents, so the host calls ProcessEvents after Send. A message of an unregistered odd type
// goes to the fallback; one of an unregistered even type is refused (ErrUnknownEvenType), and the
// PeerManager then warns and disconnects the peer, as BOLT 1 says.
//
// # The ping-app protocol (the worked example)
//
// An echo, for checking that a peer runs the same application:
//
//	type 32769 (EchoRequestType), odd: payload = data (0 to 65533 bytes, opaque)
//	type 32771 (EchoReplyType),   odd: payload = the request's data, byte for byte
//
// Both types are odd, so a peer that does not speak ping-app ignores the request. A node answers every
// request it accepts (after the filter and the rate limit); a reply is never answered. The payload has
// no structure, so there is nothing to decode; FuzzCustomHandler feeds arbitrary types and payloads
// through the dispatch instead.
//
// # Time and concurrency
//
// The rate limit reads the time from Options.Clock (time.Now by default): tests pass a fake clock.
// Every method is safe for concurrent use.
package proxy
