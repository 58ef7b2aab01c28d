package channelmanager

import (
	"github.com/btcsuite/btcd/chaincfg/chainhash"

	"github.com/lnkit/lnkit/lnwire"
)

// failureChannelUpdate is our channel_update for c as a failure message encloses it (BOLT 4: with its
// type prefix), nil if c has no short_channel_id yet. It states our forwarding policy as of now, with
// the newest block's timestamp. The caller holds c's peer lock.
func (cm *ChannelManager) failureChannelUpdate(c *channel) []byte {
	if c.shortChannelID == (lnwire.ShortChannelID{}) {
		return nil
	}
	policy := cm.cfg.ChannelConfig
	cm.mu.Lock()
	ts := cm.highestBlockTime
	cm.mu.Unlock()
	upd := &lnwire.ChannelUpdate{ChainHash: *cm.net.GenesisHash, ShortChannelID: c.shortChannelID, Timestamp: ts,
		MessageFlags: lnwire.ChanUpdateMsgFlagMustBeOne, CLTVExpiryDelta: policy.CLTVExpiryDelta,
		HTLCMinimumMsat: c.remote.HTLCMinimumMsat, FeeBaseMsat: policy.ForwardingFeeBaseMsat,
		FeeProportionalMillionths: policy.ForwardingFeeProportionalMillionths,
		HTLCMaximumMsat:           min(uint64(c.valueSat)*1000, c.remote.MaxHTLCValueInFlightMsat)}
	if string(cm.ourNode.SerializeCompressed()) > string(c.counterparty.SerializeCompressed()) {
		upd.ChannelFlags |= lnwire.ChanUpdateChanFlagDirection
	}
	if !c.isUsable() {
		upd.ChannelFlags |= lnwire.ChanUpdateChanFlagDisable
	}
	hash := chainhash.DoubleHashB(upd.DataToSign())
	sig, err := cm.keys.SignMessageHash([32]byte(hash))
	if err != nil {
		cm.log.Error("cannot sign a channel_update", "channel", c.channelID, "err", err)
		return nil
	}
	upd.Signature, err = lnwire.NewSigFromECDSA(sig)
	if err != nil {
		return nil
	}
	b, err := lnwire.EncodeMessage(upd)
	if err != nil {
		return nil
	}
	return b
}
