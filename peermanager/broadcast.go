package peermanager

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"unicode/utf8"

	"github.com/lnkit/lnkit/lnwire"
)

var (
	// ErrNoRoutingHandler: BroadcastNodeAnnouncement without a routing handler, which is what relays
	// gossip.
	ErrNoRoutingHandler = errors.New("peermanager: no routing handler to broadcast gossip")
	// ErrInvalidNodeAnnouncement: BroadcastNodeAnnouncement with addresses BOLT 7 forbids (port 0 for
	// an IP or DNS address, more than one DNS hostname, a Tor v2 address) or an alias that is not
	// UTF-8, or a message that does not encode.
	ErrInvalidNodeAnnouncement = errors.New("peermanager: invalid node_announcement")
)

// broadcastAnnouncement hands our own gossip (a Broadcast event of the channel handler) to the routing
// handler, which applies it and relays it to every peer. Without a routing handler it is dropped.
// Called without peer locks.
func (pm *PeerManager) broadcastAnnouncement(msg lnwire.Message) {
	if msg == nil {
		return
	}
	if pm.routeHandler == nil {
		pm.log.Debug("dropping our gossip: no routing handler", slog.Any("type", msg.MsgType()))
		return
	}
	if err := pm.routeHandler.BroadcastAnnouncement(msg); err != nil {
		// A repeated channel_announcement (a rebroadcast) is refused as a duplicate: harmless.
		pm.log.Debug("routing handler refused our gossip", slog.Any("type", msg.MsgType()), slog.Any("err", err))
	}
}

// BroadcastNodeAnnouncement creates our node_announcement (BOLT 7, "The node_announcement Message")
// and hands it to the routing handler, which applies it to its graph and relays it to every peer (LDK's
// broadcast_node_announcement). rgb is the node's colour, alias its name (UTF-8, zero-padded),
// addresses where it accepts connections (sorted here into the ascending type order BOLT 7 requires;
// only publicly reachable ones belong there), and timestamp the host's time in seconds since the Unix
// epoch: the message carries the greater of it and the previous one plus one, so timestamps strictly
// increase. The features are those of our `init`. It is signed with the node key.
//
// BOLT 7 receivers ignore a node_announcement of a node that no channel_announcement names: call it
// once we have a public channel that is announced (ChannelDetails.IsAnnounced), and again now and then
// (LDK: hourly) so that peers keep it; the routing handler refuses it before (P2PGossipSync returns the
// graph's error for an unknown node). Errors: ErrNoRoutingHandler, ErrInvalidNodeAnnouncement, the
// NodeSigner's, the routing handler's.
func (pm *PeerManager) BroadcastNodeAnnouncement(rgb [3]byte, alias [32]byte, addresses []lnwire.NodeAddress, timestamp uint32) error {
	if pm.routeHandler == nil {
		return ErrNoRoutingHandler
	}
	addrs, err := nodeAddresses(addresses)
	if err != nil {
		return err
	}
	msg := &lnwire.NodeAnnouncement{Features: pm.providedFeatures(pm.ourNodeID), NodeID: pm.ourNodeID,
		RGBColor: rgb, Alias: alias, Addresses: addrs}
	if !validAlias(alias) {
		return fmt.Errorf("%w: alias is not UTF-8 with trailing zero bytes", ErrInvalidNodeAnnouncement)
	}
	pm.nodeAnnMu.Lock()
	defer pm.nodeAnnMu.Unlock()
	msg.Timestamp = max(timestamp, pm.lastNodeAnnTS+1)
	data := msg.DataToSign()
	if data == nil {
		return fmt.Errorf("%w: does not encode", ErrInvalidNodeAnnouncement)
	}
	sig, err := pm.signer.SignGossipMessage(data)
	if err != nil {
		return fmt.Errorf("peermanager: signing node_announcement: %w", err)
	}
	if msg.Signature, err = lnwire.NewSigFromECDSA(sig); err != nil {
		return fmt.Errorf("peermanager: signing node_announcement: %w", err)
	}
	pm.lastNodeAnnTS = msg.Timestamp
	return pm.routeHandler.BroadcastAnnouncement(msg)
}

// nodeAddresses checks the addresses BOLT 7 lets the origin node announce and sorts them by type.
func nodeAddresses(in []lnwire.NodeAddress) ([]lnwire.NodeAddress, error) {
	out := slices.Clone(in)
	dns := 0
	for _, a := range out {
		switch a.Type {
		case lnwire.AddressIPv4, lnwire.AddressIPv6, lnwire.AddressDNSHostname:
			if a.Port == 0 {
				return nil, fmt.Errorf("%w: %v address with port 0", ErrInvalidNodeAnnouncement, a.Type)
			}
			if a.Type == lnwire.AddressDNSHostname {
				dns++
			}
		case lnwire.AddressTorV3:
		default:
			return nil, fmt.Errorf("%w: cannot announce a %v address", ErrInvalidNodeAnnouncement, a.Type)
		}
	}
	if dns > 1 {
		return nil, fmt.Errorf("%w: more than one DNS hostname", ErrInvalidNodeAnnouncement)
	}
	slices.SortStableFunc(out, func(a, b lnwire.NodeAddress) int { return int(a.Type) - int(b.Type) })
	if _, err := lnwire.AppendNodeAddresses(nil, out, nil); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidNodeAnnouncement, err)
	}
	return out, nil
}

// validAlias says whether alias is UTF-8 whose only zero bytes are trailing padding (BOLT 7).
func validAlias(alias [32]byte) bool {
	n := len(alias)
	for n > 0 && alias[n-1] == 0 {
		n--
	}
	s := alias[:n]
	return !slices.Contains(s, 0) && utf8.Valid(s)
}
