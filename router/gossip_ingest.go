package router

import (
	"bytes"
	"errors"
	"fmt"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
)

// ourOrigin marks gossip we generated: relayed to every peer whatever its filter.
var ourOrigin [33]byte

// verify checks a BOLT 7 signature, counting it (GossipStats.SignaturesChecked).
func (s *P2PGossipSync) verify(pub *btcec.PublicKey, sig lnwire.Sig, hash []byte) bool {
	s.stats.sigs.Add(1)
	return verifySig(pub, sig, hash)
}

// verifySig checks a BOLT 7 signature: sig over the double-SHA256 hash with pub.
func verifySig(pub *btcec.PublicKey, sig lnwire.Sig, hash []byte) bool {
	s, err := sig.ToSignature()
	return err == nil && s.Verify(hash, pub)
}

// handleChannelAnnouncement applies BOLT 7's channel_announcement receiver requirements: unknown
// chain, known (or recently removed) channel and misordered node ids are settled before the four
// signatures are checked; the graph then checks the funding output (UTXOLookup). The message waits in
// the store, unrelayed, until a channel_update of the channel arrives (BOLT 7: "If a
// channel_announcement has no corresponding channel_updates: MUST NOT send").
func (s *P2PGossipSync) handleChannelAnnouncement(from [33]byte, m *lnwire.ChannelAnnouncement) error {
	if m.ChainHash != s.chain {
		return fmt.Errorf("%w: channel_announcement for %s", ErrUnknownChain, m.ChainHash)
	}
	scid := m.ShortChannelID.ToUint64()
	if err := s.graph.checkNewChannel(scid); err != nil {
		return err
	}
	if m.NodeID1 == nil || m.NodeID2 == nil || m.BitcoinKey1 == nil || m.BitcoinKey2 == nil {
		return warn(fmt.Errorf("%w: missing key", ErrInvalidChannel))
	}
	info := ChannelAnnouncementInfo{SCID: scid, Features: m.Features, AnnouncedAt: s.hostNow()}
	copy(info.NodeID1[:], m.NodeID1.SerializeCompressed())
	copy(info.NodeID2[:], m.NodeID2.SerializeCompressed())
	copy(info.BitcoinKey1[:], m.BitcoinKey1.SerializeCompressed())
	copy(info.BitcoinKey2[:], m.BitcoinKey2.SerializeCompressed())
	if bytes.Compare(info.NodeID1[:], info.NodeID2[:]) >= 0 {
		return warn(fmt.Errorf("%w: node_id_1 not below node_id_2", ErrInvalidChannel))
	}
	hash := chainhash.DoubleHashB(m.DataToSign())
	if !s.verify(m.NodeID1, m.NodeSignature1, hash) || !s.verify(m.NodeID2, m.NodeSignature2, hash) ||
		!s.verify(m.BitcoinKey1, m.BitcoinSignature1, hash) || !s.verify(m.BitcoinKey2, m.BitcoinSignature2, hash) {
		return warn(fmt.Errorf("%w: channel_announcement %s", ErrInvalidSignature, m.ShortChannelID))
	}
	s.keys.put(info.NodeID1, m.NodeID1)
	s.keys.put(info.NodeID2, m.NodeID2)
	if err := s.graph.AddChannel(info); err != nil {
		if errors.Is(err, ErrInvalidChannel) {
			return warn(err)
		}
		return err // duplicate (a race), recently removed, funding output absent: ignored
	}
	raw, err := lnwire.EncodeMessage(m)
	if err != nil {
		return err
	}
	s.stats.chanAnn.Add(1)
	s.mu.Lock()
	s.store.putChannel(scid, raw, from)
	s.mu.Unlock()
	return nil
}

// handleChannelUpdate applies BOLT 7's channel_update receiver requirements: unknown chain, unknown
// channel, stale timestamp and a timestamp too far from the host's time are settled before the
// signature is checked against the announcing node.
func (s *P2PGossipSync) handleChannelUpdate(from [33]byte, m *lnwire.ChannelUpdate) error {
	if m.ChainHash != s.chain {
		return fmt.Errorf("%w: channel_update for %s", ErrUnknownChain, m.ChainHash)
	}
	if err := s.checkTimestamp(m.Timestamp); err != nil {
		return err
	}
	scid, dir := m.ShortChannelID.ToUint64(), m.Direction()
	signer, err := s.graph.updateSigner(scid, dir, m.Timestamp)
	if err != nil {
		return err
	}
	pub, err := s.keys.get(signer)
	if err != nil {
		return fmt.Errorf("%w: node key %x: %w", ErrInvalidChannel, signer, err)
	}
	if !s.verify(pub, m.Signature, chainhash.DoubleHashB(m.DataToSign())) {
		return disconnect(fmt.Errorf("%w: channel_update %s/%d", ErrInvalidSignature, m.ShortChannelID, dir))
	}
	pol := ChannelPolicy{Timestamp: m.Timestamp, Disabled: m.IsDisabled(), CLTVExpiryDelta: m.CLTVExpiryDelta,
		HTLCMinimumMsat: m.HTLCMinimumMsat, HTLCMaximumMsat: m.HTLCMaximumMsat, FeeBaseMsat: m.FeeBaseMsat,
		FeeProportionalMillionths: m.FeeProportionalMillionths}
	if err := s.graph.UpdateChannelPolicy(scid, dir, pol); err != nil {
		return err // stale (a race) or an htlc_maximum_msat above capacity: ignored (BOLT 7)
	}
	s.stats.chanUpd.Add(1)
	if m.DontForward() {
		return nil // BOLT 7: "MUST NOT forward such a channel_update"
	}
	raw, err := lnwire.EncodeMessage(m)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.noteTimestamp(m.Timestamp)
	s.store.putUpdate(scid, dir, m.Timestamp, raw, from, &s.relay)
	s.mu.Unlock()
	return nil
}

// handleNodeAnnouncement applies BOLT 7's node_announcement receiver requirements: a node no channel
// announces, or a timestamp not newer than the one held, is ignored before the signature is checked.
func (s *P2PGossipSync) handleNodeAnnouncement(from [33]byte, m *lnwire.NodeAnnouncement) error {
	if m.NodeID == nil {
		return warn(fmt.Errorf("%w: node_announcement without node_id", ErrInvalidSignature))
	}
	if err := s.checkTimestamp(m.Timestamp); err != nil {
		return err
	}
	node := nodeKeyOf(m.NodeID)
	if err := s.graph.IsNodeAnnouncementNewer(node, m.Timestamp); err != nil {
		return err
	}
	data := m.DataToSign()
	if data == nil || !s.verify(m.NodeID, m.Signature, chainhash.DoubleHashB(data)) {
		return warn(fmt.Errorf("%w: node_announcement of %x", ErrInvalidSignature, node))
	}
	addrs, err := lnwire.AppendNodeAddresses(nil, m.Addresses, m.ExcessAddressData)
	if err != nil {
		return warn(err)
	}
	info := NodeAnnouncementInfo{Timestamp: m.Timestamp, Features: m.Features, RGBColor: m.RGBColor,
		Alias: m.Alias, Addresses: addrs}
	if err := s.graph.UpdateNodeInfo(node, info); err != nil {
		return err
	}
	s.stats.nodeAnn.Add(1)
	dns := 0
	for _, a := range m.Addresses {
		if a.Type == lnwire.AddressDNSHostname {
			dns++
		}
	}
	if dns > 1 {
		return nil // BOLT 7: more than one DNS hostname: "MUST not forward the node_announcement"
	}
	raw, err := lnwire.EncodeMessage(m)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.noteTimestamp(m.Timestamp)
	s.store.putNode(node, m.Timestamp, raw, from, &s.relay)
	s.mu.Unlock()
	return nil
}

// BroadcastAnnouncement applies gossip we generated (our channel_announcement, channel_update or
// node_announcement) like a peer's, then queues it for every peer regardless of its filter. Errors
// are those HandleRoutingMessage would wrap (ErrInvalidSignature, ErrUnknownChain, the graph's).
func (s *P2PGossipSync) BroadcastAnnouncement(msg lnwire.Message) error {
	var err error
	switch m := msg.(type) {
	case *lnwire.ChannelAnnouncement:
		err = s.handleChannelAnnouncement(ourOrigin, m)
	case *lnwire.ChannelUpdate:
		err = s.handleChannelUpdate(ourOrigin, m)
	case *lnwire.NodeAnnouncement:
		err = s.handleNodeAnnouncement(ourOrigin, m)
	default:
		return fmt.Errorf("%w: %T is not an announcement", ErrInvalidQuery, msg)
	}
	return unwrapGossip(err)
}

// unwrapGossip drops the PeerManager action around an error.
func unwrapGossip(err error) error {
	var ge *peermanager.GossipError
	if errors.As(err, &ge) {
		return ge.Err
	}
	return err
}

// checkTimestamp discards updates too far ahead of the host's time, or too old to be kept. Without
// a host time yet, every timestamp passes.
func (s *P2PGossipSync) checkTimestamp(ts uint32) error {
	now := s.hostNow()
	if now == 0 {
		return nil
	}
	t := time.Duration(ts) * time.Second
	if t > now+s.cfg.MaxFutureSkew || t+StaleChannelAge < now {
		return fmt.Errorf("%w: %d (host time %d)", ErrTimestampOutOfRange, ts, now/time.Second)
	}
	return nil
}

func (s *P2PGossipSync) hostNow() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.now
}

// noteTimestamp remembers the newest timestamp held (not ahead of the host's time). Called with s.mu.
func (s *P2PGossipSync) noteTimestamp(ts uint32) {
	if ts > s.newestTS && (s.now == 0 || time.Duration(ts)*time.Second <= s.now) {
		s.newestTS = ts
	}
}
