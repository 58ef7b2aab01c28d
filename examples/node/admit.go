package main

import (
	"net"
	"time"

	"github.com/lnkit/lnkit/examples/host/lnsocket"
)

// Bounds on inbound connections still in the handshake (BOLT 8 acts and `init`): all of them, and those
// from one IP address. A connection that completes its handshake no longer counts, and the
// PeerManager drops one that takes too long (HandshakeTimeoutTicks), so the bounds only stop a flood.
const (
	maxPendingHandshakes      = 64
	maxPendingHandshakesPerIP = 4
)

// admitInbound says why an inbound connection from addr is refused ("" when it is accepted): too many
// handshakes in progress, in all or from its IP address.
func (n *Node) admitInbound(addr net.Addr) string {
	host := hostOf(addr.String())
	type inbound struct {
		c    *lnsocket.Conn
		host string
	}
	var list []inbound
	n.mu.Lock()
	for c, info := range n.conns {
		if info.inbound {
			list = append(list, inbound{c, hostOf(info.addr)})
		}
	}
	n.mu.Unlock()
	pending, fromHost := 0, 0
	for _, in := range list {
		if in.c.IsClosed() || n.pm.HandshakeComplete(in.c) {
			continue
		}
		pending++
		if in.host == host {
			fromHost++
		}
	}
	switch {
	case pending >= maxPendingHandshakes:
		return "too many handshakes in progress"
	case fromHost >= maxPendingHandshakesPerIP:
		return "too many handshakes in progress from " + host
	}
	return ""
}

// hostOf is the host part of a host:port address (the address itself if it has no port).
func hostOf(addr string) string {
	if h, _, err := net.SplitHostPort(addr); err == nil {
		return h
	}
	return addr
}

// refuseInbound closes a connection admitInbound refused, logging at most once a minute per reason.
func (n *Node) refuseInbound(nc net.Conn, why string) {
	_ = nc.Close()
	if ok, held := n.admitLog.allow(why, time.Now()); ok {
		n.log.Warn("inbound connection refused", "remote", nc.RemoteAddr().String(), "why", why, "refused_since_last_log", held)
	}
}
