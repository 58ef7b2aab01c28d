package router

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/lnwire"
)

// Errors of AddChannel's on-chain check through the UTXOLookup.
var (
	// ErrFundingNotFound: the lookup found no unspent output at the short_channel_id (it wraps the
	// lookup's error).
	ErrFundingNotFound = errors.New("router: funding output not found")
	// ErrFundingScriptMismatch: the output is not the 2-of-2 P2WSH of the announced bitcoin keys.
	ErrFundingScriptMismatch = errors.New("router: funding output script does not match the announcement")
)

// AddChannel adds a channel from its announcement (call it after the signatures are verified). Its
// nodes are created as needed; its directions have no policy until UpdateChannelPolicy. With a
// UTXOLookup the funding output must exist, be the bitcoin keys' P2WSH when both are given, and its
// value becomes the capacity; its outpoint is remembered so that a block spending it closes the
// channel (see BlockConnected).
//
// Errors: ErrInvalidChannel (node ids equal or not ascending),
// ErrDuplicateChannel, ErrRecentlyRemoved, ErrFundingNotFound, ErrFundingScriptMismatch, ErrGraphFull.
func (g *NetworkGraph) AddChannel(a ChannelAnnouncementInfo) error {
	if bytes.Compare(a.NodeID1[:], a.NodeID2[:]) >= 0 {
		return fmt.Errorf("%w: node_id_1 %x is not below node_id_2 %x", ErrInvalidChannel, a.NodeID1, a.NodeID2)
	}
	capSat := a.CapacitySat
	var fo *FundingOutput
	if g.utxo != nil {
		// The host's lookup may be slow (an RPC): it runs without the lock, after the cheap checks,
		// which are repeated under the lock since another announcement may have won meanwhile.
		if err := g.checkNewChannel(a.SCID); err != nil {
			return err
		}
		out, err := checkFunding(g.utxo, &a)
		if err != nil {
			return err
		}
		fo, capSat = &out, out.ValueSat
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	d := &g.d
	if err := d.checkNewChannel(a.SCID); err != nil {
		return err
	}
	c, err := d.insertChannel(&a, capSat)
	if err != nil {
		return err
	}
	if fo != nil && fo.OutPoint.Hash != ([32]byte{}) {
		d.setFunding(c, fo.OutPoint)
	}
	return nil
}

// checkNewChannel: nil if a channel with this short_channel_id may be added (neither known nor
// recently removed).
func (d *graphData) checkNewChannel(scid uint64) error {
	if _, ok := d.chanIdx[scid]; ok {
		return fmt.Errorf("%w: %s", ErrDuplicateChannel, lnwire.NewShortChannelIDFromUint64(scid))
	}
	if _, ok := d.removed[scid]; ok {
		return fmt.Errorf("%w: %s", ErrRecentlyRemoved, lnwire.NewShortChannelIDFromUint64(scid))
	}
	return nil
}

// checkFunding asks the host for the funding output and checks its script.
func checkFunding(u UTXOLookup, a *ChannelAnnouncementInfo) (FundingOutput, error) {
	out, err := u.FundingOutput(a.SCID)
	if err != nil {
		return out, fmt.Errorf("%w: %s: %w", ErrFundingNotFound, lnwire.NewShortChannelIDFromUint64(a.SCID), err)
	}
	if a.BitcoinKey1 == ([33]byte{}) || a.BitcoinKey2 == ([33]byte{}) {
		return out, nil
	}
	k1, err1 := btcec.ParsePubKey(a.BitcoinKey1[:])
	k2, err2 := btcec.ParsePubKey(a.BitcoinKey2[:])
	if err1 != nil || err2 != nil {
		return out, fmt.Errorf("%w: invalid bitcoin key", ErrFundingScriptMismatch)
	}
	_, pk, err := bolt3.FundingScript(k1, k2)
	if err != nil || !bytes.Equal(pk, out.PkScript) {
		return out, fmt.Errorf("%w: %s", ErrFundingScriptMismatch, lnwire.NewShortChannelIDFromUint64(a.SCID))
	}
	return out, nil
}

// UpdateChannelPolicy applies a channel_update to one direction (0: from node_id_1) of a channel
// (call it after the signature is verified; IsChannelUpdateNewer is the check before).
//
// Errors: ErrUnknownChannel, ErrStaleUpdate, ErrInvalidPolicy (direction > 1, htlc_maximum_msat above
// the known capacity or below htlc_minimum_msat).
func (g *NetworkGraph) UpdateChannelPolicy(scid uint64, direction uint8, p ChannelPolicy) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := &g.d
	e, err := d.checkUpdate(scid, direction, p.Timestamp)
	if err != nil {
		return err
	}
	if p.HTLCMaximumMsat < p.HTLCMinimumMsat {
		return fmt.Errorf("%w: htlc_maximum_msat %d below htlc_minimum_msat %d", ErrInvalidPolicy,
			p.HTLCMaximumMsat, p.HTLCMinimumMsat)
	}
	if s := d.chans[e>>1].capSat; s != 0 && p.HTLCMaximumMsat > satToMsat(s) {
		return fmt.Errorf("%w: htlc_maximum_msat %d above capacity %d sat", ErrInvalidPolicy, p.HTLCMaximumMsat, s)
	}
	d.setPolicy(e, &p)
	return nil
}

// UpdateNodeInfo applies a node_announcement (call it after the signature is verified;
// IsNodeAnnouncementNewer is the check before). A node whose features require a bit lnkit does not
// know is kept but never routed through.
//
// Errors: ErrUnknownNode (no channel announces the node, BOLT 7), ErrStaleUpdate.
func (g *NetworkGraph) UpdateNodeInfo(node [33]byte, info NodeAnnouncementInfo) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := &g.d
	n, err := d.checkNodeAnn(node, info.Timestamp)
	if err != nil {
		return err
	}
	d.setNodeAnn(n, info.Timestamp, info.RGBColor, info.Alias, info.Features.Encode(),
		append([]byte(nil), info.Addresses...))
	return nil
}

func (d *graphData) setNodeAnn(n, ts uint32, rgb [3]byte, alias [32]byte, feat, addrs []byte) {
	if len(feat) == 0 {
		feat = nil
	}
	if len(addrs) == 0 {
		addrs = nil
	}
	d.nodeAnns[n] = nodeAnn{ts: ts, rgb: rgb, alias: alias, features: feat, addrs: addrs}
	d.nodeFlags[n] = nodeLive | nodeHasAnn
	if requiresUnknown(feat) {
		d.nodeFlags[n] |= nodeBlocked
	}
}

// RemoveChannel removes a channel (e.g. after a permanent failure) and any node left without
// channels. Errors: ErrUnknownChannel.
func (g *NetworkGraph) RemoveChannel(scid uint64) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	c, ok := g.d.chanIdx[scid]
	if !ok {
		return fmt.Errorf("%w: %s", ErrUnknownChannel, lnwire.NewShortChannelIDFromUint64(scid))
	}
	g.d.removeChannel(c)
	return nil
}

// RemoveNode removes a node and all its channels (and any other node left without channels).
// Errors: ErrUnknownNode.
func (g *NetworkGraph) RemoveNode(node [33]byte) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	d := &g.d
	n, ok := d.nodeIdx[node]
	if !ok {
		return fmt.Errorf("%w: %x", ErrUnknownNode, node)
	}
	// Removing the node's last channel frees the node itself.
	for d.nodeFlags[n]&nodeLive != 0 && d.nodeKeys[n] == node && len(d.nodeIn[n]) > 0 {
		d.removeChannel(d.nodeIn[n][len(d.nodeIn[n])-1].e >> 1)
	}
	return nil
}

// unixSeconds converts a host time (since the Unix epoch) to the graph's seconds, saturating.
func unixSeconds(t time.Duration) uint32 {
	s := t / time.Second
	switch {
	case s <= 0:
		return 0
	case s > 1<<32-1:
		return 1<<32 - 1
	}
	return uint32(s)
}
