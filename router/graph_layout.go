package router

import (
	"fmt"
	"math"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/lnwire"
)

// The graph's layout. Nodes and channels live in slots addressed by dense uint32 indices; the one map
// per kind (node id → slot, scid → slot) is used only at the API's edge, never in a route search.
// Freed slots are reused. A directed edge is channel×2+direction (direction 0: node_1 → node_2).

// inEdge is one incoming directed edge of a node: the edge src → this node. The scid is copied here
// (it never changes) so that a search reads it sequentially with the adjacency.
type inEdge struct {
	scid uint64
	src  uint32 // source node slot
	e    uint32 // directed edge: channel×2 + direction
}

// chanInfo is a channel slot (32 bytes).
type chanInfo struct {
	scid        uint64
	capSat      uint64    // funding value in sat, 0 unknown
	node        [2]uint32 // node_1, node_2 slots
	announcedAt uint32    // host time of the announcement, Unix seconds; 0 unknown
	flags       uint8
}

const (
	chanLive    uint8 = 1 << iota // the slot holds a channel
	chanBlocked                   // its features require a bit we do not know
	chanSpent                     // its funding output is spent (forgotten after SpentChannelForgetDepth)
)

// policy is one direction of a channel (32 bytes, half a cache line), in the flat array indexed by
// directed edge: everything a route search reads of an edge, the channel's capacity included.
type policy struct {
	htlcMin uint64
	htlcMax uint64
	feeBase uint32
	feePPM  uint32
	capSat  uint32 // the channel's capacity in sat (0 unknown); capBig: at least that, see chanInfo
	cltv    uint16
	flags   uint8
}

// capBig marks a capacity of 2^32-1 sat or more (42.9 BTC), read from chanInfo instead.
const capBig = 1<<32 - 1

func cap32(s uint64) uint32 { return uint32(min(s, capBig)) }

// capacitySat is the channel capacity of edge e's channel, 0 if unknown.
func (d *graphData) capacitySat(e uint32) uint64 {
	if c := d.pol[e].capSat; c != capBig {
		return uint64(c)
	}
	return d.chans[e>>1].capSat
}

const (
	polUpdate   uint8 = 1 << iota // a channel_update was received for this direction
	polDisabled                   // its channel_update has the disable bit
	polUsable                     // derived: updated, enabled, channel neither blocked nor spent
)

// nodeAnn is a node's announcement data, kept apart from the search's hot arrays.
type nodeAnn struct {
	ts       uint32
	rgb      [3]byte
	alias    [32]byte
	features []byte // raw feature bits as received
	addrs    []byte // addresses field as on the wire
}

const (
	nodeLive    uint8 = 1 << iota
	nodeHasAnn        // a node_announcement was received
	nodeBlocked       // its features require a bit we do not know: never an intermediate hop
)

// spend is a spent channel's funding spend.
type spend struct {
	height uint32
	txid   chainhash.Hash
	block  chainhash.Hash
}

type graphData struct {
	nodeIdx   map[[33]byte]uint32
	nodeKeys  [][33]byte
	nodeIn    [][]inEdge
	nodeFlags []uint8
	nodeAnns  []nodeAnn
	nodeFree  []uint32

	chanIdx  map[uint64]uint32
	chans    []chanInfo
	pol      []policy // 2 per channel slot
	polTS    []uint32 // timestamp of each direction's channel_update (gossip only: kept out of pol)
	chanFeat map[uint32][]byte
	chanFree []uint32

	funding     map[wire.OutPoint]uint32 // known funding outpoints → channel slot
	chanFunding map[uint32]wire.OutPoint
	spent       map[uint32]spend
	removed     map[uint64]uint32 // pruned or spent scid → Unix seconds of removal
}

const maxSlots = math.MaxInt32

func (d *graphData) init() {
	d.nodeIdx = make(map[[33]byte]uint32)
	d.chanIdx = make(map[uint64]uint32)
	d.chanFeat = make(map[uint32][]byte)
	d.funding = make(map[wire.OutPoint]uint32)
	d.chanFunding = make(map[uint32]wire.OutPoint)
	d.spent = make(map[uint32]spend)
	d.removed = make(map[uint64]uint32)
}

// nodeSlot returns the node's slot, creating it.
func (d *graphData) nodeSlot(key [33]byte) (uint32, error) {
	if n, ok := d.nodeIdx[key]; ok {
		return n, nil
	}
	var n uint32
	if k := len(d.nodeFree); k > 0 {
		n = d.nodeFree[k-1]
		d.nodeFree = d.nodeFree[:k-1]
	} else {
		if len(d.nodeKeys) >= maxSlots {
			return 0, ErrGraphFull
		}
		n = uint32(len(d.nodeKeys))
		d.nodeKeys = append(d.nodeKeys, [33]byte{})
		d.nodeIn = append(d.nodeIn, nil)
		d.nodeFlags = append(d.nodeFlags, 0)
		d.nodeAnns = append(d.nodeAnns, nodeAnn{})
	}
	d.nodeKeys[n], d.nodeFlags[n] = key, nodeLive
	d.nodeIdx[key] = n
	return n, nil
}

func (d *graphData) freeNode(n uint32) {
	delete(d.nodeIdx, d.nodeKeys[n])
	d.nodeKeys[n], d.nodeIn[n], d.nodeFlags[n], d.nodeAnns[n] = [33]byte{}, nil, 0, nodeAnn{}
	d.nodeFree = append(d.nodeFree, n)
}

// chanSlot takes a free channel slot.
func (d *graphData) chanSlot() (uint32, error) {
	if k := len(d.chanFree); k > 0 {
		c := d.chanFree[k-1]
		d.chanFree = d.chanFree[:k-1]
		return c, nil
	}
	if len(d.chans) >= maxSlots/2 {
		return 0, ErrGraphFull
	}
	d.chans = append(d.chans, chanInfo{})
	d.pol = append(d.pol, policy{}, policy{})
	d.polTS = append(d.polTS, 0, 0)
	return uint32(len(d.chans) - 1), nil
}

// insertChannel stores a validated announcement and links it into both nodes' adjacency.
func (d *graphData) insertChannel(a *ChannelAnnouncementInfo, capSat uint64) (uint32, error) {
	n1, err := d.nodeSlot(a.NodeID1)
	if err != nil {
		return 0, err
	}
	n2, err := d.nodeSlot(a.NodeID2)
	if err != nil {
		return 0, err
	}
	c, err := d.chanSlot()
	if err != nil {
		return 0, err
	}
	d.chans[c] = chanInfo{scid: a.SCID, capSat: capSat, node: [2]uint32{n1, n2},
		announcedAt: unixSeconds(a.AnnouncedAt), flags: chanLive}
	d.pol[2*c], d.pol[2*c+1] = policy{capSat: cap32(capSat)}, policy{capSat: cap32(capSat)}
	d.polTS[2*c], d.polTS[2*c+1] = 0, 0
	d.chanIdx[a.SCID] = c
	d.setChanFeatures(c, a.Features.Encode())
	// Edge 2c (node_1 → node_2) enters node_2; edge 2c+1 enters node_1.
	d.nodeIn[n2] = append(d.nodeIn[n2], inEdge{scid: a.SCID, src: n1, e: 2 * c})
	d.nodeIn[n1] = append(d.nodeIn[n1], inEdge{scid: a.SCID, src: n2, e: 2*c + 1})
	return c, nil
}

func (d *graphData) setChanFeatures(c uint32, raw []byte) {
	delete(d.chanFeat, c)
	d.chans[c].flags &^= chanBlocked
	if len(raw) == 0 {
		return
	}
	d.chanFeat[c] = raw
	if requiresUnknown(raw) {
		d.chans[c].flags |= chanBlocked
	}
}

// removeChannel unlinks channel c, and removes nodes left without channels.
func (d *graphData) removeChannel(c uint32) {
	ch := &d.chans[c]
	delete(d.chanIdx, ch.scid)
	delete(d.chanFeat, c)
	if op, ok := d.chanFunding[c]; ok {
		delete(d.funding, op)
		delete(d.chanFunding, c)
	}
	delete(d.spent, c)
	for _, n := range ch.node {
		d.unlink(n, c)
		if len(d.nodeIn[n]) == 0 {
			d.freeNode(n)
		}
	}
	*ch = chanInfo{}
	d.pol[2*c], d.pol[2*c+1] = policy{}, policy{}
	d.polTS[2*c], d.polTS[2*c+1] = 0, 0
	d.chanFree = append(d.chanFree, c)
}

// unlink removes channel c's entry from node n's adjacency.
func (d *graphData) unlink(n, c uint32) {
	in := d.nodeIn[n]
	for i := range in {
		if in[i].e>>1 == c {
			in[i] = in[len(in)-1]
			d.nodeIn[n] = in[:len(in)-1]
			return
		}
	}
}

// setPolicy stores a direction's policy and refreshes its usable flag.
func (d *graphData) setPolicy(e uint32, p *ChannelPolicy) {
	fl := polUpdate
	if p.Disabled {
		fl |= polDisabled
	}
	d.pol[e] = policy{htlcMin: p.HTLCMinimumMsat, htlcMax: p.HTLCMaximumMsat, feeBase: p.FeeBaseMsat,
		feePPM: p.FeeProportionalMillionths, capSat: d.pol[e].capSat, cltv: p.CLTVExpiryDelta, flags: fl}
	d.polTS[e] = p.Timestamp
	d.refreshUsable(e >> 1)
}

// refreshUsable recomputes both directions' polUsable flag of channel c.
func (d *graphData) refreshUsable(c uint32) {
	chanOK := d.chans[c].flags&(chanBlocked|chanSpent) == 0
	for e := 2 * c; e <= 2*c+1; e++ {
		p := &d.pol[e]
		p.flags &^= polUsable
		if chanOK && p.flags&(polUpdate|polDisabled) == polUpdate {
			p.flags |= polUsable
		}
	}
}

// capacityMsat is the channel's funding value, else the larger htlc_maximum_msat of its directions.
func (d *graphData) capacityMsat(c uint32) uint64 {
	if s := d.chans[c].capSat; s != 0 {
		return satToMsat(s)
	}
	return max(d.pol[2*c].htlcMax, d.pol[2*c+1].htlcMax)
}

// checkUpdate returns the directed edge an update would replace, or why it would not be applied.
func (d *graphData) checkUpdate(scid uint64, dir uint8, ts uint32) (uint32, error) {
	c, ok := d.chanIdx[scid]
	if !ok {
		return 0, fmt.Errorf("%w: %s", ErrUnknownChannel, lnwire.NewShortChannelIDFromUint64(scid))
	}
	if dir > 1 {
		return 0, fmt.Errorf("%w: direction %d", ErrInvalidPolicy, dir)
	}
	e := 2*c + uint32(dir)
	if d.pol[e].flags&polUpdate != 0 && ts <= d.polTS[e] {
		return 0, fmt.Errorf("%w: channel_update %s/%d at %d, have %d", ErrStaleUpdate,
			lnwire.NewShortChannelIDFromUint64(scid), dir, ts, d.polTS[e])
	}
	return e, nil
}

// checkNodeAnn returns the node's slot, or why an announcement at ts would not be applied.
func (d *graphData) checkNodeAnn(key [33]byte, ts uint32) (uint32, error) {
	n, ok := d.nodeIdx[key]
	if !ok {
		return 0, fmt.Errorf("%w: %x", ErrUnknownNode, key)
	}
	if d.nodeFlags[n]&nodeHasAnn != 0 && ts <= d.nodeAnns[n].ts {
		return 0, fmt.Errorf("%w: node_announcement of %x at %d, have %d", ErrStaleUpdate, key, ts,
			d.nodeAnns[n].ts)
	}
	return n, nil
}

// knownFeatures is every feature bit lnwire names: a vector that requires any other bit cannot be
// used (BOLT 9, "it's OK to be odd").
var knownFeatures = func() *lnwire.FeatureVector {
	fv := lnwire.NewFeatureVector()
	for b := lnwire.FeatureBit(0); b < 256; b += 2 {
		if b.Name() != "" {
			fv.Set(b, b+1)
		}
	}
	return fv
}()

// requiresUnknown reports whether the raw feature vector requires a bit we do not know.
func requiresUnknown(raw []byte) bool {
	return len(lnwire.DecodeFeatureVector(raw).UnknownRequiredFeatures(knownFeatures)) > 0
}

func satToMsat(s uint64) uint64 {
	if s > math.MaxUint64/1000 {
		return math.MaxUint64
	}
	return s * 1000
}
