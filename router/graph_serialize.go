package router

import (
	"bytes"
	"fmt"
	"slices"

	"github.com/btcsuite/btcd/wire"
)

// The snapshot (Write, ReadNetworkGraph): a version byte, then three sections, each a uvarint type
// (1 nodes, 2 channels, 3 recently removed channels, in that order) and a uvarint length. Numbers are
// minimal uvarints or big-endian fixed-size; nodes are numbered by their order in section 1, which
// section 2 refers to. A snapshot of the mainnet graph is about 4 MB.
const (
	snapshotVersion = 1
	secNodes        = 1
	secChannels     = 2
	secRemoved      = 3
)

// Flags of a node and a channel in the snapshot.
const (
	snapNodeAnn = 1 << iota
)

const (
	snapChanFeatures = 1 << iota
	snapChanFunding
	snapChanSpent
	snapChanDir0
	snapChanDir1
	snapChanBlockedFlags = snapChanFeatures | snapChanFunding | snapChanSpent | snapChanDir0 | snapChanDir1
)

// Write returns a snapshot of the graph, from which ReadNetworkGraph rebuilds it (so that a restart
// needs no re-sync). Free slots are left out: the snapshot is compact whatever the graph's history.
func (g *NetworkGraph) Write() []byte {
	g.mu.RLock()
	defer g.mu.RUnlock()
	d := &g.d
	order := make([]uint32, len(d.nodeKeys)) // node slot → snapshot number
	var w, sec snapWriter
	w.u8(snapshotVersion)
	k := uint32(0)
	for n := range d.nodeKeys {
		if d.nodeFlags[n]&nodeLive != 0 {
			order[n] = k
			k++
		}
	}
	sec.uv(uint64(k))
	d.writeNodes(&sec)
	section(&w, secNodes, &sec)
	d.writeChannels(&sec, order)
	section(&w, secChannels, &sec)
	d.writeRemoved(&sec)
	section(&w, secRemoved, &sec)
	return w.b
}

func section(w *snapWriter, typ uint64, sec *snapWriter) {
	w.uv(typ)
	w.bytes(sec.b)
	sec.b = sec.b[:0]
}

func (d *graphData) writeNodes(w *snapWriter) {
	for n := range d.nodeKeys {
		fl := d.nodeFlags[n]
		if fl&nodeLive == 0 {
			continue
		}
		w.fixed(d.nodeKeys[n][:])
		if fl&nodeHasAnn == 0 {
			w.u8(0)
			continue
		}
		a := &d.nodeAnns[n]
		w.u8(snapNodeAnn)
		w.u32(a.ts)
		w.fixed(a.rgb[:])
		w.fixed(a.alias[:])
		w.bytes(a.features)
		w.bytes(a.addrs)
	}
}

func (d *graphData) writeChannels(w *snapWriter, order []uint32) {
	w.uv(uint64(len(d.chanIdx)))
	for c := range d.chans {
		ch := &d.chans[c]
		if ch.flags&chanLive == 0 {
			continue
		}
		feat := d.chanFeat[uint32(c)]
		op, hasOp := d.chanFunding[uint32(c)]
		sp, spent := d.spent[uint32(c)]
		fl := flagIf(len(feat) > 0, snapChanFeatures) | flagIf(hasOp, snapChanFunding) | flagIf(spent, snapChanSpent) |
			flagIf(d.pol[2*c].flags&polUpdate != 0, snapChanDir0) | flagIf(d.pol[2*c+1].flags&polUpdate != 0, snapChanDir1)
		w.u64(ch.scid)
		w.uv(uint64(order[ch.node[0]]))
		w.uv(uint64(order[ch.node[1]]))
		w.uv(ch.capSat)
		w.u32(ch.announcedAt)
		w.u8(fl)
		if len(feat) > 0 {
			w.bytes(feat)
		}
		if hasOp {
			w.fixed(op.Hash[:])
			w.u32(op.Index)
		}
		if spent {
			w.u32(sp.height)
			w.fixed(sp.txid[:])
			w.fixed(sp.block[:])
		}
		for e := 2 * c; e <= 2*c+1; e++ {
			if p := &d.pol[e]; p.flags&polUpdate != 0 {
				writePolicy(w, p, d.polTS[e])
			}
		}
	}
}

func writePolicy(w *snapWriter, p *policy, ts uint32) {
	w.u32(ts)
	w.u8(flagIf(p.flags&polDisabled != 0, 1))
	w.uv(uint64(p.cltv))
	w.uv(uint64(p.feeBase))
	w.uv(uint64(p.feePPM))
	w.uv(p.htlcMin)
	w.uv(p.htlcMax)
}

func (d *graphData) writeRemoved(w *snapWriter) {
	scids := make([]uint64, 0, len(d.removed))
	for s := range d.removed {
		scids = append(scids, s)
	}
	slices.Sort(scids)
	w.uv(uint64(len(scids)))
	for _, s := range scids {
		w.u64(s)
		w.u32(d.removed[s])
	}
}

func flagIf(b bool, f uint8) uint8 {
	if b {
		return f
	}
	return 0
}

// ReadNetworkGraph rebuilds a graph from Write's snapshot; utxo as in NewNetworkGraph. It never
// panics on bad input; whatever it accepts, Write reproduces byte for byte. Errors: ErrCorruptGraph.
func ReadNetworkGraph(data []byte, utxo UTXOLookup) (*NetworkGraph, error) {
	r := &snapReader{b: data}
	if v := r.u8(); r.err == nil && v != snapshotVersion {
		r.fail("version %d", v)
	}
	g := NewNetworkGraph(utxo)
	d := &g.d
	for _, typ := range []uint64{secNodes, secChannels, secRemoved} {
		sr := r.section(typ)
		switch typ {
		case secNodes:
			d.readNodes(sr)
		case secChannels:
			d.readChannels(sr)
		case secRemoved:
			d.readRemoved(sr)
		}
		if sr.err == nil && len(sr.b) != 0 {
			sr.fail("section %d: trailing bytes", typ)
		}
		if r.err == nil {
			r.err = sr.err
		}
	}
	if r.err == nil && len(r.b) != 0 {
		r.fail("trailing bytes")
	}
	if r.err != nil {
		return nil, r.err
	}
	return g, d.checkNodesLinked()
}

// section reads the next section header, which must be of type typ, and returns its reader.
func (r *snapReader) section(typ uint64) *snapReader {
	if t := r.uv(secRemoved); r.err == nil && t != typ {
		r.fail("section %d where %d expected", t, typ)
	}
	b := r.take(int(r.uv(uint64(len(r.b)))))
	return &snapReader{b: b, err: r.err}
}

func (d *graphData) readNodes(r *snapReader) {
	n := r.count(34)
	for i := 0; i < n && r.err == nil; i++ {
		var key [33]byte
		copy(key[:], r.take(33))
		fl := r.u8()
		if _, dup := d.nodeIdx[key]; dup || fl&^snapNodeAnn != 0 {
			r.fail("node %x", key)
			return
		}
		slot, _ := d.nodeSlot(key)
		if fl&snapNodeAnn != 0 {
			ts := r.u32()
			var rgb [3]byte
			var alias [32]byte
			copy(rgb[:], r.take(3))
			copy(alias[:], r.take(32))
			d.setNodeAnn(slot, ts, rgb, alias, r.bytes(), r.bytes())
		}
	}
}

func (d *graphData) readChannels(r *snapReader) {
	n := r.count(15)
	nodes := uint64(len(d.nodeKeys))
	if n > 0 && nodes == 0 {
		r.fail("channels without nodes")
		return
	}
	for i := 0; i < n && r.err == nil; i++ {
		a := ChannelAnnouncementInfo{SCID: r.u64()}
		n1, n2 := r.uv(nodes-1), r.uv(nodes-1)
		a.NodeID1, a.NodeID2 = d.nodeKeys[n1], d.nodeKeys[n2]
		capSat := r.uv(1<<64 - 1)
		at := r.u32()
		fl := r.u8()
		if r.err != nil {
			return
		}
		_, dup := d.chanIdx[a.SCID]
		if dup || fl&^snapChanBlockedFlags != 0 || bytes.Compare(a.NodeID1[:], a.NodeID2[:]) >= 0 {
			r.fail("channel %d", a.SCID)
			return
		}
		c, _ := d.insertChannel(&a, capSat)
		d.chans[c].announcedAt = at
		d.readChannelRest(r, c, fl)
	}
}

func (d *graphData) readChannelRest(r *snapReader, c uint32, fl uint8) {
	if fl&snapChanFeatures != 0 {
		f := r.bytes()
		if len(f) == 0 {
			r.fail("empty features")
		}
		d.setChanFeatures(c, f)
	}
	if fl&snapChanFunding != 0 {
		var op wire.OutPoint
		copy(op.Hash[:], r.take(32))
		op.Index = r.u32()
		if _, dup := d.funding[op]; dup {
			r.fail("funding outpoint %v twice", op)
		}
		d.setFunding(c, op)
	}
	if fl&snapChanSpent != 0 {
		s := spend{height: r.u32()}
		copy(s.txid[:], r.take(32))
		copy(s.block[:], r.take(32))
		d.spent[c] = s
		d.chans[c].flags |= chanSpent
	}
	for dir := uint32(0); dir < 2; dir++ {
		if fl&(snapChanDir0<<dir) != 0 {
			d.readPolicy(r, 2*c+dir)
		}
	}
	d.refreshUsable(c)
}

func (d *graphData) readPolicy(r *snapReader, e uint32) {
	p := ChannelPolicy{Timestamp: r.u32()}
	fl := r.u8()
	if fl > 1 {
		r.fail("policy flags %d", fl)
	}
	p.Disabled = fl == 1
	p.CLTVExpiryDelta = uint16(r.uv(1<<16 - 1))
	p.FeeBaseMsat = uint32(r.uv(1<<32 - 1))
	p.FeeProportionalMillionths = uint32(r.uv(1<<32 - 1))
	p.HTLCMinimumMsat = r.uv(1<<64 - 1)
	p.HTLCMaximumMsat = r.uv(1<<64 - 1)
	d.setPolicy(e, &p)
}

func (d *graphData) readRemoved(r *snapReader) {
	n := r.count(12)
	var prev uint64
	for i := 0; i < n && r.err == nil; i++ {
		s, at := r.u64(), r.u32()
		if i > 0 && s <= prev {
			r.fail("removed channels out of order")
		}
		d.removed[s], prev = at, s
	}
}

// checkNodesLinked refuses a snapshot with a node that no channel names.
func (d *graphData) checkNodesLinked() error {
	for n := range d.nodeKeys {
		if len(d.nodeIn[n]) == 0 {
			return fmt.Errorf("%w: node %x without channels", ErrCorruptGraph, d.nodeKeys[n])
		}
	}
	return nil
}
