package channelmanager

import (
	"crypto/sha256"
	"encoding/binary"

	"github.com/lnkit/lnkit/lnwire"
)

// SCID aliases (BOLT 2, channel_ready's `short_channel_id` TLV): each channel has an alias of ours,
// sent in our channel_ready, which we recognize when forwarding as we recognize the real
// short_channel_id, and the counterparty's alias, which route hints in our invoices name (the
// counterparty forwards to us over the alias it made). Aliases live in a block-height range no real
// channel has for centuries (lnd's alias range starts there too), so they never collide with one.
const (
	aliasFirstHeight = 16_000_000
	aliasHeights     = 250_000
)

// outboundAlias is the channel's alias: derived from its keys id, which only we know, so it is stable
// across restarts without being stored and says nothing about the channel.
func (c *channel) outboundAlias() uint64 {
	h := sha256.Sum256(append([]byte("lnkit scid alias"), c.keysID[:]...))
	return lnwire.ShortChannelID{BlockHeight: aliasFirstHeight + binary.BigEndian.Uint32(h[:4])%aliasHeights,
		TxIndex: binary.BigEndian.Uint32(h[4:8]) & 0xffffff, OutputIndex: binary.BigEndian.Uint16(h[8:10])}.ToUint64()
}

// knownAs reports whether an incoming HTLC naming scid goes to the channel: our alias, or its real
// short_channel_id unless the channel has option_scid_alias (BOLT 2, channel_ready: "MUST NOT allow
// incoming HTLCs to this channel using the real short_channel_id").
func (c *channel) knownAs(scid uint64) bool {
	if scid == 0 {
		return false
	}
	if c.funded() && c.outboundAlias() == scid {
		return true
	}
	return !c.gossip.scidPrivacy && c.shortChannelID.ToUint64() == scid
}
