package main

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/lnwire"
)

// openConfig is the per-channel configuration of openchannel: nil (the manager's, config.Default as
// node.go sets it, private channels) for a private channel; the same with AnnouncedChannel for a public
// one.
func openConfig(public bool) *config.UserConfig {
	if !public {
		return nil
	}
	u := config.Default()
	u.ChannelHandshakeConfig.AnnouncedChannel = true
	return &u
}

// nodeAnnouncementParams is what our node_announcement says besides the features.
type nodeAnnouncementParams struct {
	rgb   [3]byte
	alias [32]byte
	addrs []lnwire.NodeAddress
}

// nodeAnnouncement parses -alias, -color and -announceaddr.
func (c *Config) nodeAnnouncement() (nodeAnnouncementParams, error) {
	var p nodeAnnouncementParams
	if len(c.Alias) > len(p.alias) || !utf8.ValidString(c.Alias) || strings.ContainsRune(c.Alias, 0) {
		return p, fmt.Errorf("-alias must be UTF-8 of at most %d bytes", len(p.alias))
	}
	copy(p.alias[:], c.Alias)
	rgb, err := hex.DecodeString(c.Color)
	if err != nil || len(rgb) != 3 {
		return p, fmt.Errorf("-color must be 6 hex digits (rrggbb), not %q", c.Color)
	}
	copy(p.rgb[:], rgb)
	for _, s := range strings.Split(c.AnnounceAddr, ",") {
		if s = strings.TrimSpace(s); s == "" {
			continue
		}
		a, err := parseNodeAddress(s)
		if err != nil {
			return p, fmt.Errorf("-announceaddr %q: %w", s, err)
		}
		p.addrs = append(p.addrs, a)
	}
	return p, nil
}

// parseNodeAddress turns host:port into a BOLT 7 address descriptor: IPv4, IPv6, a v3 onion or a DNS
// hostname.
func parseNodeAddress(s string) (lnwire.NodeAddress, error) {
	host, portStr, err := net.SplitHostPort(s)
	if err != nil {
		return lnwire.NodeAddress{}, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil || port == 0 {
		return lnwire.NodeAddress{}, fmt.Errorf("bad port %q", portStr)
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		return lnwire.NewIPAddress(netip.AddrPortFrom(ip, uint16(port)))
	}
	if strings.HasSuffix(host, ".onion") {
		return lnwire.NewTorV3Address(host, uint16(port))
	}
	return lnwire.NewDNSHostnameAddress(host, uint16(port))
}

// announcer remembers our last node_announcement; only the event loop uses it.
type announcer struct {
	last      time.Time
	announced int // announced channels at the last node_announcement
}

// announceNode broadcasts our node_announcement through the PeerManager (which hands it to the gossip
// sync) when we have announced channels: once one more is announced, and every -tick.nodeann. BOLT 7
// receivers ignore the announcement of a node without a known channel, so nothing is sent before.
// The timestamp is the wall clock (the PeerManager keeps it increasing).
func (n *Node) announceNode(now time.Time) {
	if n.routing.handler() == nil {
		return
	}
	announced := 0
	for _, c := range n.cm.ListChannels() {
		if c.IsAnnounced {
			announced++
		}
	}
	a := &n.announcer
	if announced == 0 || announced <= a.announced && now.Sub(a.last) < n.cfg.NodeAnnInterval {
		return
	}
	p, err := n.cfg.nodeAnnouncement()
	if err == nil {
		err = n.pm.BroadcastNodeAnnouncement(p.rgb, p.alias, p.addrs, uint32(now.Unix()))
	}
	if err != nil {
		// The graph may not hold our channel yet (it comes through the same event loop): try again.
		n.log.Debug("node_announcement not broadcast yet", "err", err)
		return
	}
	a.last, a.announced = now, announced
	n.log.Info("node_announcement broadcast", "alias", strings.TrimRight(string(p.alias[:]), "\x00"), "addresses", len(p.addrs))
}
