package channelmanager

import (
	"bytes"
	"fmt"
	"sort"

	"github.com/lnkit/lnkit/internal/ser"
	"github.com/lnkit/lnkit/lnwire"
)

// The channels' BOLT 7 state is written after the payments, as a TLV stream (BOLT 1's rules: increasing
// types, an unknown even type refused, an unknown odd one skipped). A snapshot written before it
// existed simply ends after the payments and reads with every channel private and unannounced; a reader
// that predates it ignores it. Every record is odd (optional).
const (
	// gossipRecChannels: for each channel with BOLT 7 state, its 32-byte channel id and a
	// length-prefixed (u32) TLV stream of the chanRec* records below.
	gossipRecChannels uint64 = 1
)

// Per-channel records.
const (
	chanRecFlags        uint64 = 1  // u8: bit 0 announce_channel, bit 1 our last broadcast update was disabled
	chanRecPolicy       uint64 = 3  // u32 fee_base_msat, u32 fee_proportional_millionths, u16 cltv_expiry_delta
	chanRecTheirSigs    uint64 = 5  // u64 short_channel_id, node_signature, bitcoin_signature (64 bytes each)
	chanRecAnnouncement uint64 = 7  // the channel_announcement, encoded as on the wire (type included)
	chanRecLastUpdateTS uint64 = 9  // u32 timestamp of our last channel_update
	chanRecCounterparty uint64 = 11 // the counterparty's forwarding info (see writeCounterpartyInfo)
	chanRecTheirAlias   uint64 = 13 // u64: the counterparty's scid alias from its channel_ready
	// chanRecSCIDPrivacy (empty) marks an option_scid_alias channel. It is even: an lnkit that predates
	// it would forward over the real short_channel_id, so it must refuse the snapshot instead.
	chanRecSCIDPrivacy uint64 = 14
)

const (
	gossipFlagAnnounce uint8 = 1 << 0
	gossipFlagDisabled uint8 = 1 << 1
)

// record encodes one TLV record's value with f.
func gossipRecord(s lnwire.TLVStream, t uint64, f func(w *ser.Writer)) lnwire.TLVStream {
	var w ser.Writer
	f(&w)
	return s.Set(t, w.Bytes())
}

// encode returns the channel's BOLT 7 records; nil if it has none worth keeping.
func (g *gossipState) encode() []byte {
	var s lnwire.TLVStream
	var flags uint8
	if g.announce {
		flags |= gossipFlagAnnounce
	}
	if g.disabled {
		flags |= gossipFlagDisabled
	}
	if flags != 0 {
		s = gossipRecord(s, chanRecFlags, func(w *ser.Writer) { w.U8(flags) })
	}
	if g.scidPrivacy {
		s = gossipRecord(s, chanRecSCIDPrivacy, func(*ser.Writer) {})
	}
	if p := g.policy; p != nil {
		s = gossipRecord(s, chanRecPolicy, func(w *ser.Writer) {
			w.U32(p.FeeBaseMsat)
			w.U32(p.FeeProportionalMillionths)
			w.U16(p.CLTVExpiryDelta)
		})
	}
	if sigs := g.theirSigs; sigs != nil {
		s = gossipRecord(s, chanRecTheirSigs, func(w *ser.Writer) {
			w.U64(sigs.scid.ToUint64())
			w.Fixed(sigs.node[:])
			w.Fixed(sigs.bitcoin[:])
		})
	}
	if g.announcement != nil {
		if b, err := lnwire.EncodeMessage(g.announcement); err == nil {
			s = s.Set(chanRecAnnouncement, b)
		}
	}
	if g.lastUpdateTS != 0 {
		s = gossipRecord(s, chanRecLastUpdateTS, func(w *ser.Writer) { w.U32(g.lastUpdateTS) })
	}
	if info := g.counterpartyInfo; info != nil {
		s = gossipRecord(s, chanRecCounterparty, func(w *ser.Writer) {
			w.U32(info.Timestamp)
			w.U32(info.FeeBaseMsat)
			w.U32(info.FeeProportionalMillionths)
			w.U16(info.CLTVExpiryDelta)
			w.U64(info.HTLCMinimumMsat)
			w.U64(info.HTLCMaximumMsat)
			w.Bool(info.Disabled)
		})
	}
	if g.theirAlias != 0 {
		s = gossipRecord(s, chanRecTheirAlias, func(w *ser.Writer) { w.U64(g.theirAlias) })
	}
	if len(s) == 0 {
		return nil
	}
	return s.Encode()
}

// decodeGossipState reads what encode wrote. Errors: ErrCorrupt (wrapped), naming the record.
func decodeGossipState(b []byte) (gossipState, error) {
	var g gossipState
	s, err := lnwire.DecodeTLVStream(b)
	if err != nil {
		return g, fmt.Errorf("%w: channel gossip: %w", ErrCorrupt, err)
	}
	if err := s.CheckUnknownEven(chanRecSCIDPrivacy); err != nil {
		return g, fmt.Errorf("%w: channel gossip: %w (written by a newer lnkit?)", ErrCorrupt, err)
	}
	var firstErr error
	read := func(t uint64, f func(r *ser.Reader)) {
		v, ok := s.Get(t)
		if !ok || firstErr != nil {
			return
		}
		r := ser.NewReader(v)
		f(r)
		if r.Err() != nil {
			firstErr = fmt.Errorf("%w: channel gossip record %d: %w", ErrCorrupt, t, r.Err())
		}
	}
	read(chanRecFlags, func(r *ser.Reader) {
		f := r.U8()
		g.announce, g.disabled = f&gossipFlagAnnounce != 0, f&gossipFlagDisabled != 0
	})
	_, g.scidPrivacy = s.Get(chanRecSCIDPrivacy)
	read(chanRecPolicy, func(r *ser.Reader) {
		g.policy = &forwardingPolicy{FeeBaseMsat: r.U32(), FeeProportionalMillionths: r.U32(), CLTVExpiryDelta: r.U16()}
	})
	read(chanRecTheirSigs, func(r *ser.Reader) {
		sigs := &annSigs{scid: lnwire.NewShortChannelIDFromUint64(r.U64())}
		copy(sigs.node[:], r.Fixed(len(sigs.node)))
		copy(sigs.bitcoin[:], r.Fixed(len(sigs.bitcoin)))
		g.theirSigs = sigs
	})
	read(chanRecAnnouncement, func(r *ser.Reader) {
		m, err := lnwire.DecodeMessage(r.Fixed(r.Remaining()))
		ann, ok := m.(*lnwire.ChannelAnnouncement)
		if err != nil || !ok {
			r.Fail("channel_announcement unreadable")
			return
		}
		g.announcement = ann
	})
	read(chanRecLastUpdateTS, func(r *ser.Reader) { g.lastUpdateTS = r.U32() })
	read(chanRecCounterparty, func(r *ser.Reader) {
		g.counterpartyInfo = &CounterpartyForwardingInfo{Timestamp: r.U32(), FeeBaseMsat: r.U32(),
			FeeProportionalMillionths: r.U32(), CLTVExpiryDelta: r.U16(), HTLCMinimumMsat: r.U64(),
			HTLCMaximumMsat: r.U64(), Disabled: r.Bool()}
	})
	read(chanRecTheirAlias, func(r *ser.Reader) { g.theirAlias = r.U64() })
	if firstErr != nil {
		return gossipState{}, firstErr
	}
	return g, nil
}

// writeGossip appends the gossip section: the BOLT 7 state of the funded channels, one peer at a time
// under its lock (as snapshotChannels), in channel id order.
func (cm *ChannelManager) writeGossip(w *ser.Writer) {
	type entry struct {
		id  lnwire.ChannelID
		rec []byte
	}
	var entries []entry
	for _, ps := range cm.allPeers() {
		ps.mu.Lock()
		for _, c := range ps.channels {
			if !c.funded() {
				continue
			}
			if rec := c.gossip.encode(); rec != nil {
				entries = append(entries, entry{c.channelID, rec})
			}
		}
		ps.mu.Unlock()
	}
	if len(entries) == 0 {
		return
	}
	sort.Slice(entries, func(i, j int) bool { return bytes.Compare(entries[i].id[:], entries[j].id[:]) < 0 })
	var cw ser.Writer
	for _, e := range entries {
		cw.Fixed(e.id[:])
		cw.Var(e.rec)
	}
	var s lnwire.TLVStream
	s = s.Set(gossipRecChannels, cw.Bytes())
	w.Fixed(s.Encode())
}

// readGossip reads the gossip section, if the snapshot has one, into the channels just read. State for
// a channel the snapshot does not hold (dropped for lack of a monitor) is skipped. Announced channels
// are rebroadcast on the first timer tick.
func (cm *ChannelManager) readGossip(r *ser.Reader) {
	if r.Err() != nil || r.Remaining() == 0 {
		return
	}
	s, err := lnwire.DecodeTLVStream(r.Fixed(r.Remaining()))
	if err != nil {
		r.Fail("gossip section: %v", err)
		return
	}
	if err := s.CheckUnknownEven(gossipRecChannels); err != nil {
		r.Fail("gossip section: %v (written by a newer lnkit?)", err)
		return
	}
	v, ok := s.Get(gossipRecChannels)
	if !ok {
		return
	}
	byID := map[lnwire.ChannelID]*channel{}
	for _, ps := range cm.allPeers() {
		for id, c := range ps.channels {
			byID[id] = c
		}
	}
	cr := ser.NewReader(v)
	for cr.Remaining() > 0 && cr.Err() == nil {
		id := lnwire.ChannelID(cr.Fixed32())
		rec := cr.Var()
		if cr.Err() != nil {
			break
		}
		g, err := decodeGossipState(rec)
		if err != nil {
			r.Fail("%v", err)
			return
		}
		c := byID[id]
		if c == nil {
			continue
		}
		if g.announcement != nil {
			g.ticksSinceBroadcast = RebroadcastTicks - 1
		}
		c.gossip = g
	}
	if cr.Err() != nil {
		r.Fail("gossip section: %v", cr.Err())
	}
}
