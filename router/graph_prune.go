package router

import (
	"time"
)

// RemoveStaleChannelsAndTracking prunes the graph at the host's time now (since the Unix epoch), as
// LDK's remove_stale_channels_and_tracking_with_time, after BOLT 7's "Recommendations for Channel
// Pruning":
//   - a direction whose latest channel_update is older than StaleChannelAge (two weeks) loses its
//     policy (it is not routed over until a newer update arrives);
//   - a channel left with no policy in either direction is removed once its announcement is older than
//     StaleChannelAge (an announcement of unknown time starts counting now), and so is every node
//     left without channels;
//   - removed channels are refused (ErrRecentlyRemoved) for RemovedTrackingAge, then forgotten.
//
// Call it about once an hour. It returns the number of channels removed.
func (g *NetworkGraph) RemoveStaleChannelsAndTracking(now time.Duration) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := &g.d
	nowS := unixSeconds(now)
	cutoff := subSeconds(nowS, StaleChannelAge)
	removed := 0
	for c := range d.chans {
		ch := &d.chans[c]
		if ch.flags&chanLive == 0 || !d.pruneDirections(uint32(c), cutoff) {
			continue
		}
		switch {
		case ch.announcedAt == 0:
			ch.announcedAt = nowS
		case ch.announcedAt < cutoff:
			d.removed[ch.scid] = nowS
			d.removeChannel(uint32(c))
			removed++
		}
	}
	forget := subSeconds(nowS, RemovedTrackingAge)
	for scid, at := range d.removed {
		if at < forget {
			delete(d.removed, scid)
		}
	}
	return removed
}

// pruneDirections drops channel c's policies updated before cutoff; it reports whether the channel is
// left without a policy in either direction.
func (d *graphData) pruneDirections(c, cutoff uint32) bool {
	for e := 2 * c; e <= 2*c+1; e++ {
		if p := &d.pol[e]; p.flags&polUpdate != 0 && d.polTS[e] < cutoff {
			*p, d.polTS[e] = policy{capSat: p.capSat}, 0
		}
	}
	d.refreshUsable(c)
	return d.pol[2*c].flags&polUpdate == 0 && d.pol[2*c+1].flags&polUpdate == 0
}

func subSeconds(s uint32, d time.Duration) uint32 {
	ds := uint32(d / time.Second)
	if s < ds {
		return 0
	}
	return s - ds
}
