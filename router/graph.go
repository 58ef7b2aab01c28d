package router

import (
	"errors"
	"sync"
	"time"

	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/lnwire"
)

// Errors of the NetworkGraph's mutation API and checks. They are returned wrapped; test with errors.Is.
var (
	// ErrUnknownChannel: no channel with that short_channel_id.
	ErrUnknownChannel = errors.New("router: unknown channel")
	// ErrUnknownNode: no node with that id (BOLT 7: a node_announcement for a node without a known
	// channel is ignored).
	ErrUnknownNode = errors.New("router: unknown node")
	// ErrDuplicateChannel: the channel is already known.
	ErrDuplicateChannel = errors.New("router: channel already known")
	// ErrStaleUpdate: the channel_update or node_announcement is not newer than the one we hold (BOLT 7:
	// a timestamp not greater than the last one received is ignored).
	ErrStaleUpdate = errors.New("router: update not newer than the one known")
	// ErrInvalidChannel: the announcement's node ids are equal or not in ascending order (BOLT 7).
	ErrInvalidChannel = errors.New("router: invalid channel announcement")
	// ErrInvalidPolicy: the policy's htlc_maximum_msat is above the channel's capacity or below its
	// htlc_minimum_msat, or the direction is neither 0 nor 1.
	ErrInvalidPolicy = errors.New("router: invalid channel policy")
	// ErrRecentlyRemoved: the channel was pruned or closed less than a week ago (as LDK: stale or spent
	// channels are not taken back at once from peers that still relay them).
	ErrRecentlyRemoved = errors.New("router: channel removed recently")
	// ErrGraphFull: the graph holds 2^31 channels or nodes, the most its dense indices address.
	ErrGraphFull = errors.New("router: graph full")
)

// Time limits of the graph, BOLT 7 "Rationale" of channel_update and LDK's.
const (
	// StaleChannelAge: a channel whose directions' latest updates are both older than this is pruned
	// (BOLT 7: "if a channel's oldest channel_update's timestamp is older than two weeks").
	StaleChannelAge = 14 * 24 * time.Hour
	// RemovedTrackingAge: how long a pruned or spent channel stays refused (ErrRecentlyRemoved).
	RemovedTrackingAge = 7 * 24 * time.Hour
	// SpentChannelForgetDepth: blocks after the funding spend at which a spent channel is forgotten
	// (BOLT 7: "SHOULD forget a channel after a 12-block delay", so that a splice's new announcement
	// can arrive first; we wait 72, the delay bolts#1270 proposes, as splices' announcements wait for
	// six confirmations and can be slow to propagate). A spent channel is not used for routes meanwhile.
	SpentChannelForgetDepth = 72
)

// ChannelAnnouncementInfo is what the graph keeps of a channel_announcement (BOLT 7), in plain values:
// the gossip layer decodes and verifies the message, then calls AddChannel with this.
type ChannelAnnouncementInfo struct {
	// SCID is the short_channel_id in its u64 form.
	SCID uint64
	// NodeID1 and NodeID2 are node_id_1 < node_id_2 (compressed public keys, BOLT 7 order).
	NodeID1, NodeID2 [33]byte
	// CapacitySat is the funding output's value in satoshis; 0 if unknown. With a UTXOLookup, the
	// value found on chain replaces it.
	CapacitySat uint64
	// Features are the announcement's channel features; nil for none.
	Features *lnwire.FeatureVector
	// BitcoinKey1 and BitcoinKey2 are bitcoin_key_1/2. With a UTXOLookup, when both are set, the
	// funding output must be their 2-of-2 P2WSH (BOLT 3 funding script); zero skips that check.
	BitcoinKey1, BitcoinKey2 [33]byte
	// AnnouncedAt is the host's time when the announcement arrived (since the Unix epoch); 0 if
	// unknown, in which case pruning starts counting at the first RemoveStaleChannelsAndTracking.
	AnnouncedAt time.Duration
}

// ChannelPolicy is one direction of a channel, from its latest channel_update (BOLT 7): what the node
// at the start of that direction charges and requires to forward over it.
type ChannelPolicy struct {
	// Timestamp is the channel_update's timestamp (seconds since the Unix epoch).
	Timestamp uint32
	// Disabled is channel_flags bit 1 (the direction cannot be used).
	Disabled bool
	// CLTVExpiryDelta is cltv_expiry_delta, in blocks.
	CLTVExpiryDelta uint16
	// HTLCMinimumMsat and HTLCMaximumMsat bound the amount of one HTLC over this direction.
	HTLCMinimumMsat uint64
	HTLCMaximumMsat uint64
	// FeeBaseMsat and FeeProportionalMillionths set the fee: base + amount × ppm / 1,000,000 (BOLT 7),
	// on the amount forwarded over this direction.
	FeeBaseMsat               uint32
	FeeProportionalMillionths uint32
}

// NodeAnnouncementInfo is what the graph keeps of a node_announcement (BOLT 7).
type NodeAnnouncementInfo struct {
	// Timestamp is the node_announcement's timestamp (seconds since the Unix epoch).
	Timestamp uint32
	// Features are the node's features; nil for none.
	Features *lnwire.FeatureVector
	RGBColor [3]byte
	Alias    [32]byte
	// Addresses is the announcement's addresses field as on the wire (BOLT 7 address descriptors),
	// kept verbatim.
	Addresses []byte
}

// FundingOutput is a channel's funding output as the host's chain source reports it.
type FundingOutput struct {
	// OutPoint is the funding transaction output; a zero hash if the host does not say.
	OutPoint wire.OutPoint
	// PkScript is the output's script.
	PkScript []byte
	// ValueSat is the output's value, in satoshis.
	ValueSat uint64
}

// UTXOLookup is the host's optional access to the chain (LDK's UtxoLookup): the funding output named by
// a short_channel_id (block height, transaction index, output index), if it exists and is unspent;
// else an error (wrapped into ErrFundingNotFound). It is called without the graph's locks held (route
// searches and other gossip go on while it answers), from the goroutine that delivers the
// announcement, so a slow answer delays only that peer's messages; it must not call back into the
// graph's mutating methods for the same channel.
type UTXOLookup interface {
	FundingOutput(scid uint64) (FundingOutput, error)
}

// NetworkGraph is the network as gossip describes it (LDK's NetworkGraph): nodes, channels and the
// two directions' policies, in a compact layout (dense node and channel indices; policies in one flat
// array indexed by channel×2+direction; per node, its incoming directed edges for a search from the
// payee toward the payer).
//
// It is safe for concurrent use: mutations take a write lock, reads and route searches a read lock
// (ReadOnly returns a view that holds it). Time comes from the host; the graph never reads the clock.
type NetworkGraph struct {
	mu   sync.RWMutex
	d    graphData
	utxo UTXOLookup
	pool sync.Pool // *searchScratch
}

// NewNetworkGraph returns an empty graph. utxo may be nil: announcements are then accepted without
// an on-chain check (as LDK does without a UtxoLookup).
func NewNetworkGraph(utxo UTXOLookup) *NetworkGraph {
	g := &NetworkGraph{utxo: utxo}
	g.d.init()
	return g
}

// SetUTXOLookup sets (or, with nil, removes) the host's chain lookup used by AddChannel.
func (g *NetworkGraph) SetUTXOLookup(u UTXOLookup) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.utxo = u
}

// ChannelCapacityMsat is the channel's capacity in msat (router.ChannelCapacities): its funding value
// when known, else the larger of its directions' htlc_maximum_msat; false for an unknown channel.
func (g *NetworkGraph) ChannelCapacityMsat(scid uint64) (uint64, bool) {
	g.mu.RLock()
	defer g.mu.RUnlock()
	c, ok := g.d.chanIdx[scid]
	if !ok {
		return 0, false
	}
	return g.d.capacityMsat(c), true
}

// ChannelKnown reports whether the channel is in the graph: the check before verifying a
// channel_announcement's four signatures (a duplicate costs none).
func (g *NetworkGraph) ChannelKnown(scid uint64) bool {
	g.mu.RLock()
	defer g.mu.RUnlock()
	_, ok := g.d.chanIdx[scid]
	return ok
}

// IsChannelUpdateNewer is the check before verifying a channel_update's signature: nil if an update
// of the direction (0: from node_id_1) with this timestamp would be applied. Errors: ErrUnknownChannel,
// ErrStaleUpdate (a timestamp not greater than the one held, BOLT 7), ErrInvalidPolicy (direction > 1).
func (g *NetworkGraph) IsChannelUpdateNewer(scid uint64, direction uint8, timestamp uint32) error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	_, err := g.d.checkUpdate(scid, direction, timestamp)
	return err
}

// IsNodeAnnouncementNewer is the check before verifying a node_announcement's signature: nil if an
// announcement of the node with this timestamp would be applied. Errors: ErrUnknownNode (no channel
// announces the node, BOLT 7), ErrStaleUpdate.
func (g *NetworkGraph) IsNodeAnnouncementNewer(node [33]byte, timestamp uint32) error {
	g.mu.RLock()
	defer g.mu.RUnlock()
	_, err := g.d.checkNodeAnn(node, timestamp)
	return err
}

// NumChannels and NumNodes count what the graph holds.
func (g *NetworkGraph) NumChannels() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.d.chanIdx)
}

// NumNodes counts the graph's nodes.
func (g *NetworkGraph) NumNodes() int {
	g.mu.RLock()
	defer g.mu.RUnlock()
	return len(g.d.nodeIdx)
}
