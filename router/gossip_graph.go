package router

import (
	"fmt"

	"github.com/lnkit/lnkit/lnwire"
)

// The graph's side of the gossip checks: each takes the read lock once.

// checkNewChannel is the check before verifying a channel_announcement: nil if the channel is
// neither known nor recently removed. Errors: ErrDuplicateChannel, ErrRecentlyRemoved.
func (g *NetworkGraph) checkNewChannel(scid uint64) error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return g.d.checkNewChannel(scid)
}

// updateSigner is the check before verifying a channel_update: the node whose key must have signed
// an update of this direction with this timestamp. Errors: ErrUnknownChannel (also for a channel
// whose funding output is spent: BOLT 7, "if the channel has been closed in the meantime: MUST
// ignore"), ErrStaleUpdate.
func (g *NetworkGraph) updateSigner(scid uint64, dir uint8, ts uint32) ([33]byte, error) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	d := &g.d
	e, err := d.checkUpdate(scid, dir, ts)
	if err != nil {
		return [33]byte{}, err
	}
	c := &d.chans[e>>1]
	if c.flags&chanSpent != 0 {
		return [33]byte{}, fmt.Errorf("%w: %s is closed", ErrUnknownChannel, lnwire.NewShortChannelIDFromUint64(scid))
	}
	return d.nodeKeys[c.node[dir&1]], nil
}

// newestTimestamp is the newest channel_update or node_announcement timestamp the graph holds.
func (g *NetworkGraph) newestTimestamp() uint32 {
	g.mu.RLock()
	defer g.mu.RUnlock()
	var ts uint32
	for i := range g.d.pol {
		if g.d.pol[i].flags&polUpdate != 0 {
			ts = max(ts, g.d.polTS[i])
		}
	}
	for n := range g.d.nodeAnns {
		if g.d.nodeFlags[n]&nodeHasAnn != 0 {
			ts = max(ts, g.d.nodeAnns[n].ts)
		}
	}
	return ts
}

// appendUnknownChannels appends to dst, up to room of them, the ids in blocks [first, end) that the
// graph neither holds nor recently removed.
func (g *NetworkGraph) appendUnknownChannels(dst []uint64, ids []lnwire.ShortChannelID, first, end uint64, room int) []uint64 {
	g.mu.RLock()
	defer g.mu.RUnlock()
	for _, id := range ids {
		if room <= 0 {
			break
		}
		u := id.ToUint64()
		if b := u >> 40; b < first || b >= end {
			continue
		}
		if _, ok := g.d.chanIdx[u]; ok {
			continue
		}
		if _, ok := g.d.removed[u]; ok {
			continue
		}
		dst = append(dst, u)
		room--
	}
	return dst
}
