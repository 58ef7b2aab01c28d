// Package config holds UserConfig, the knobs a host sets when it creates a ChannelManager: what we ask of
// channels we open or accept (ChannelHandshakeConfig), what we accept from a counterparty
// (ChannelHandshakeLimits), and per-channel forwarding parameters (ChannelConfig). Default returns the
// documented defaults; every field says its unit and where the rule comes from.
package config

import "fmt"

// MaxAcceptedHTLCsLimit is the BOLT 2 upper bound on `max_accepted_htlcs` (483), which keeps a commitment
// transaction with every HTLC under the standard weight limit.
const MaxAcceptedHTLCsLimit = 483

// ChannelHandshakeConfig is what we ask for in our `open_channel`/`accept_channel` (BOLT 2).
type ChannelHandshakeConfig struct {
	// MinimumDepth is the number of confirmations of the funding transaction we require before
	// `channel_ready`, when we accept a channel (`minimum_depth`). Default 6.
	MinimumDepth uint32
	// OurToSelfDelay is the `to_self_delay` in blocks we impose on the counterparty's `to_local` output:
	// how long we have to punish a revoked commitment. Default 144 (one day).
	OurToSelfDelay uint16
	// OurHTLCMinimumMsat is the smallest HTLC, in msat, we accept (`htlc_minimum_msat`). Default 1.
	OurHTLCMinimumMsat uint64
	// MaxInboundHTLCValueInFlightPercent is the percentage of the channel value we allow in inbound HTLCs
	// at once (`max_htlc_value_in_flight_msat`), 1 to 100. Default 100, as lnd (the capacity; the
	// counterparty's reserve still bounds what it can send): a payment larger than half of any one
	// channel can then arrive at all, and one larger than any channel over two (multi-path). A limit
	// only bounds how much of a channel one peer can lock up in HTLCs; a routing node that fears that
	// griefing may lower it (LDK uses 10 for announced channels).
	MaxInboundHTLCValueInFlightPercent uint8
	// OurMaxAcceptedHTLCs is `max_accepted_htlcs`: how many HTLCs the counterparty may offer us at once,
	// at most MaxAcceptedHTLCsLimit. Default 50.
	OurMaxAcceptedHTLCs uint16
	// OurDustLimitSat is our `dust_limit_satoshis`: outputs below it are left off our commitment
	// transaction. At least 354 (BOLT 2: the largest standard dust threshold). Default 354.
	OurDustLimitSat uint64
	// ChannelReserveProportionalMillionths sets the `channel_reserve_satoshis` we require of the
	// counterparty, in millionths of the channel value (default 10000 = 1%), never below our dust limit.
	ChannelReserveProportionalMillionths uint32
	// NegotiateAnchorsZeroFeeHTLCTx asks for `option_anchors_zero_fee_htlc_tx` channels (with
	// `option_static_remotekey`) when the peer supports them. Default true; without it, or when the peer
	// lacks anchors, channels are `option_static_remotekey` only.
	NegotiateAnchorsZeroFeeHTLCTx bool
	// AnnouncedChannel sets the `announce_channel` bit of `channel_flags` in our `open_channel` (BOLT 2):
	// the channel is to be public, announced to the network with `announcement_signatures` and
	// `channel_announcement` once its funding transaction is six blocks deep (BOLT 7). It applies to
	// channels we open; for inbound channels the opener's bit decides. Default false (private, as in
	// LDK): a private channel's `channel_update` goes only to the counterparty, for route hints.
	AnnouncedChannel bool
	// NegotiateSCIDPrivacy asks for `option_scid_alias` in the `channel_type` of private channels we
	// open, when the peer supports it (BOLT 2; LDK's negotiate_scid_privacy): the channel is then known
	// to the network only by its scid aliases, and HTLCs naming its real short_channel_id are refused.
	// Default false, as in LDK: a peer that advertises the feature but refuses such channels would
	// refuse the open. Inbound channels asking for it are accepted when private.
	NegotiateSCIDPrivacy bool
}

// ChannelHandshakeLimits bounds what we accept in a counterparty's `open_channel`/`accept_channel`
// (BOLT 2, "The open_channel Message" and "The accept_channel Message" receiver requirements).
type ChannelHandshakeLimits struct {
	// MinFundingSat is the smallest channel we accept. Default 1000.
	MinFundingSat uint64
	// MaxFundingSat is the largest channel we accept. Default 2^24-1 (no `option_support_large_channel`).
	MaxFundingSat uint64
	// MaxHTLCMinimumMsat is the largest `htlc_minimum_msat` we accept. Default 2^64-1 (any).
	MaxHTLCMinimumMsat uint64
	// MinMaxHTLCValueInFlightMsat is the smallest `max_htlc_value_in_flight_msat` we accept. Default 0.
	MinMaxHTLCValueInFlightMsat uint64
	// MaxChannelReserveSat is the largest `channel_reserve_satoshis` we accept. Default 2^64-1 (any that
	// fits the channel).
	MaxChannelReserveSat uint64
	// MinMaxAcceptedHTLCs is the smallest `max_accepted_htlcs` we accept. Default 0.
	MinMaxAcceptedHTLCs uint16
	// MaxMinimumDepth is the largest `minimum_depth` we accept from an acceptor. Default 144.
	MaxMinimumDepth uint32
	// TheirToSelfDelayMax is the largest `to_self_delay` we accept on our own funds. Default 2016 (two weeks).
	TheirToSelfDelayMax uint16
	// MaxDustLimitSat is the largest `dust_limit_satoshis` we accept. Default 546 * 5.
	MaxDustLimitSat uint64
}

// ChannelConfig holds per-channel settings that may change over the channel's life.
type ChannelConfig struct {
	// ForwardingFeeProportionalMillionths is our proportional fee for forwarded HTLCs. Default 0.
	ForwardingFeeProportionalMillionths uint32
	// ForwardingFeeBaseMsat is our base fee, in msat, for forwarded HTLCs. Default 1000.
	ForwardingFeeBaseMsat uint32
	// CLTVExpiryDelta is the CLTV delta, in blocks, we require on forwarded HTLCs. Default 72.
	CLTVExpiryDelta uint16
	// MaxFeeratePerKwFactor bounds a counterparty's `update_fee`: at most this many times our own
	// MaximumFeeEstimate. Default 10.
	MaxFeeratePerKwFactor uint32
	// FeeUpdateThresholdPercent: the funder sends `update_fee` on a timer tick when the estimate moved by
	// more than this percentage from the channel's current feerate. Default 20.
	FeeUpdateThresholdPercent uint32
	// ForceCloseAvoidanceMaxFeeSat, in satoshis, is how much more than a force close would cost us we
	// accept to pay for a cooperative closing transaction when we are the funder (LDK's
	// force_close_avoidance_max_fee_satoshis). Our bound in the BOLT 2 `closing_signed` negotiation is
	// the fee our current commitment transaction pays (at its feerate, with its untrimmed HTLCs, plus
	// the anchor outputs) plus this margin, never above our balance; a counterparty asking for more gets
	// a `warning` and no signature. As fundee we pay nothing and accept any fee the funder can pay.
	// Default 1000.
	ForceCloseAvoidanceMaxFeeSat uint64
	// MaxDustHTLCExposureMsat, in msat, bounds our dust exposure (LDK's max_dust_htlc_exposure, as the
	// fixed limit it was before it became feerate-dependent; the class of CVE-2021-41593): on each of the
	// two commitment transactions, the sum of the HTLCs, incoming and outgoing, trimmed from it at its
	// feerate and its owner's dust limit (BOLT 3, "Trimmed Outputs"; on anchor channels HTLC
	// transactions pay no fee, so an HTLC is trimmed below the dust limit). Trimmed HTLCs go to miners if
	// the channel closes on chain. We do not send an HTLC that would push either sum over the limit; an
	// incoming one that would is failed back with temporary_channel_failure once committed; an
	// `update_fee` from the funder that would push the HTLCs already there over it fails the channel (as
	// LDK); as funder we do not send such an `update_fee`. Default 5,000,000.
	MaxDustHTLCExposureMsat uint64
}

// UserConfig is all of the above, plus how inbound channels are handled.
type UserConfig struct {
	ChannelHandshakeConfig ChannelHandshakeConfig
	ChannelHandshakeLimits ChannelHandshakeLimits
	ChannelConfig          ChannelConfig
	// AcceptInboundChannels: when false, every `open_channel` is refused. Default true.
	AcceptInboundChannels bool
	// ManuallyAcceptInboundChannels: when true, each inbound `open_channel` produces an
	// OpenChannelRequest event and waits for AcceptInboundChannel (or ForceRejectChannel). Default false.
	ManuallyAcceptInboundChannels bool
	// AcceptInterceptHTLCs: when true, an HTLC to forward over a short_channel_id made by
	// ChannelManager.GetInterceptSCID is held and announced by an HTLCIntercepted event instead of
	// failing (LDK's accept_intercept_htlcs; for LSPs that open a channel on demand). Default false.
	AcceptInterceptHTLCs bool
}

// Default returns the default configuration documented on each field.
func Default() UserConfig {
	return UserConfig{
		ChannelHandshakeConfig: ChannelHandshakeConfig{
			MinimumDepth:                         6,
			OurToSelfDelay:                       144,
			OurHTLCMinimumMsat:                   1,
			MaxInboundHTLCValueInFlightPercent:   100,
			OurMaxAcceptedHTLCs:                  50,
			OurDustLimitSat:                      354,
			ChannelReserveProportionalMillionths: 10000,
			NegotiateAnchorsZeroFeeHTLCTx:        true,
		},
		ChannelHandshakeLimits: ChannelHandshakeLimits{
			MinFundingSat:               1000,
			MaxFundingSat:               1<<24 - 1,
			MaxHTLCMinimumMsat:          ^uint64(0),
			MinMaxHTLCValueInFlightMsat: 0,
			MaxChannelReserveSat:        ^uint64(0),
			MinMaxAcceptedHTLCs:         0,
			MaxMinimumDepth:             144,
			TheirToSelfDelayMax:         2016,
			MaxDustLimitSat:             546 * 5,
		},
		ChannelConfig: ChannelConfig{
			ForwardingFeeProportionalMillionths: 0,
			ForwardingFeeBaseMsat:               1000,
			CLTVExpiryDelta:                     72,
			MaxFeeratePerKwFactor:               10,
			FeeUpdateThresholdPercent:           20,
			ForceCloseAvoidanceMaxFeeSat:        1000,
			MaxDustHTLCExposureMsat:             5_000_000,
		},
		AcceptInboundChannels: true,
	}
}

// Validate reports the first field whose value no channel could work with.
func (c *UserConfig) Validate() error {
	h := &c.ChannelHandshakeConfig
	switch {
	case h.OurMaxAcceptedHTLCs == 0 || h.OurMaxAcceptedHTLCs > MaxAcceptedHTLCsLimit:
		return fmt.Errorf("config: OurMaxAcceptedHTLCs %d not in 1..%d", h.OurMaxAcceptedHTLCs, MaxAcceptedHTLCsLimit)
	case h.OurDustLimitSat < 354:
		return fmt.Errorf("config: OurDustLimitSat %d below 354 (BOLT 2)", h.OurDustLimitSat)
	case h.MaxInboundHTLCValueInFlightPercent == 0 || h.MaxInboundHTLCValueInFlightPercent > 100:
		return fmt.Errorf("config: MaxInboundHTLCValueInFlightPercent %d not in 1..100", h.MaxInboundHTLCValueInFlightPercent)
	case h.OurToSelfDelay == 0:
		return fmt.Errorf("config: OurToSelfDelay must be positive")
	case h.MinimumDepth == 0:
		return fmt.Errorf("config: MinimumDepth must be at least 1 (zero-conf is not supported)")
	}
	return nil
}
