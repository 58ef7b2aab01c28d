package channelmanager

import (
	"bytes"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
)

// maxFundingSatNoWumbo is the largest channel without `option_support_large_channel` (BOLT 2).
const maxFundingSatNoWumbo = 1<<24 - 1

// ourSideParams derives the parameters we announce for a channel of valueSat from the config.
func ourSideParams(cfg *config.ChannelHandshakeConfig, valueSat int64, pubkeys keys.ChannelPublicKeys, shutdown []byte) sideParams {
	reserve := uint64(valueSat) * uint64(cfg.ChannelReserveProportionalMillionths) / 1_000_000
	if reserve < cfg.OurDustLimitSat {
		reserve = cfg.OurDustLimitSat
	}
	return sideParams{
		DustLimitSat:             cfg.OurDustLimitSat,
		MaxHTLCValueInFlightMsat: uint64(valueSat) * 1000 * uint64(cfg.MaxInboundHTLCValueInFlightPercent) / 100,
		ChannelReserveSat:        reserve,
		HTLCMinimumMsat:          cfg.OurHTLCMinimumMsat,
		ToSelfDelay:              cfg.OurToSelfDelay,
		MaxAcceptedHTLCs:         cfg.OurMaxAcceptedHTLCs,
		Pubkeys:                  pubkeys,
		UpfrontShutdownScript:    shutdown,
	}
}

// channelTypeFor maps our internal type to the `channel_type` feature bits; scidPrivacy adds
// option_scid_alias.
func channelTypeFor(t bolt3.ChannelType, scidPrivacy bool) lnwire.ChannelType {
	ct := lnwire.ChannelTypeStaticRemoteKey
	if t.HasAnchors() {
		ct = lnwire.ChannelTypeAnchors
	}
	ct.SCIDAlias = scidPrivacy
	return ct
}

// wireChannelType is the channel's negotiated `channel_type`.
func (c *channel) wireChannelType() lnwire.ChannelType {
	return channelTypeFor(c.channelType, c.gossip.scidPrivacy)
}

// channelTypeFrom maps a `channel_type` to one we support, or returns false: static_remotekey or
// anchors, either with option_scid_alias (zero-conf channels are not supported).
func channelTypeFrom(ct lnwire.ChannelType) (bolt3.ChannelType, bool) {
	if ct.ZeroConf {
		return 0, false
	}
	if ct.Anchors {
		return bolt3.ChannelTypeAnchors, true
	}
	return bolt3.ChannelTypeStaticRemoteKey, true
}

// newOutboundChannel creates a channel we open and returns it with its `open_channel` to send (BOLT 2,
// "The open_channel Message", sender requirements).
func newOutboundChannel(counterparty *btcec.PublicKey, valueSat int64, pushMsat uint64, userChannelID [16]byte,
	ct lnwire.ChannelType, signer keys.ChannelSigner, cfg *config.UserConfig, feeratePerKw uint32,
	chain chainhash.Hash, tempID lnwire.ChannelID, height uint32, shutdownScript []byte) (*channel, effects, error) {
	var eff effects
	point0, err := signer.GetPerCommitmentPoint(0)
	if err != nil {
		return nil, eff, err
	}
	c := &channel{
		state: stateOpenSent, outbound: true, temporaryID: tempID, counterparty: counterparty,
		userChannelID: userChannelID, valueSat: valueSat, pushMsat: pushMsat,
		signer: signer, keysID: signer.ChannelKeysID(), createdHeight: height,
		baseLocalMsat: uint64(valueSat)*1000 - pushMsat, baseRemoteMsat: pushMsat, baseFeeratePerKw: feeratePerKw,
		remoteSecrets: keys.NewCounterpartyCommitmentSecrets(), closingFeeProposedSat: -1,
		localShutdownScript: shutdownScript,
	}
	c.local = ourSideParams(&cfg.ChannelHandshakeConfig, valueSat, signer.Pubkeys(), nil)
	c.channelType, _ = channelTypeFrom(ct)
	c.gossip = newGossipState(cfg.ChannelHandshakeConfig.AnnouncedChannel, &cfg.ChannelConfig)
	c.gossip.scidPrivacy = ct.SCIDAlias
	eff.send(&lnwire.OpenChannel{
		ChainHash: chain, TemporaryChannelID: tempID, FundingSatoshis: btcutil.Amount(valueSat), PushMsat: pushMsat,
		DustLimitSatoshis: btcutil.Amount(c.local.DustLimitSat), MaxHTLCValueInFlightMsat: c.local.MaxHTLCValueInFlightMsat,
		ChannelReserveSatoshis: btcutil.Amount(c.local.ChannelReserveSat), HTLCMinimumMsat: c.local.HTLCMinimumMsat,
		FeeratePerKw: feeratePerKw, ToSelfDelay: c.local.ToSelfDelay, MaxAcceptedHTLCs: c.local.MaxAcceptedHTLCs,
		ChannelKeys: wireKeys(c.local.Pubkeys, point0), ChannelFlags: c.gossip.channelFlags(),
		UpfrontShutdownScript: []byte{}, ChannelType: ct.FeatureVector(),
	})
	return c, eff, nil
}

// wireKeys puts our basepoints into the form `open_channel`/`accept_channel` carry.
func wireKeys(k keys.ChannelPublicKeys, first *btcec.PublicKey) lnwire.ChannelKeys {
	return lnwire.ChannelKeys{FundingPubKey: k.FundingPubkey, RevocationBasepoint: k.RevocationBasepoint,
		PaymentBasepoint: k.PaymentPoint, DelayedPaymentBasepoint: k.DelayedPaymentBasepoint, HTLCBasepoint: k.HTLCBasepoint,
		FirstPerCommitmentPoint: first}
}

// fromWireKeys reads the counterparty's basepoints.
func fromWireKeys(k *lnwire.ChannelKeys) keys.ChannelPublicKeys {
	return keys.ChannelPublicKeys{FundingPubkey: k.FundingPubKey, RevocationBasepoint: k.RevocationBasepoint,
		PaymentPoint: k.PaymentBasepoint, DelayedPaymentBasepoint: k.DelayedPaymentBasepoint, HTLCBasepoint: k.HTLCBasepoint}
}

// checkCounterpartyParams applies the receiver requirements common to `open_channel` and
// `accept_channel` to the counterparty's announced parameters.
func (c *channel) checkCounterpartyParams(lim *config.ChannelHandshakeLimits, p *sideParams) error {
	switch {
	case p.ToSelfDelay > lim.TheirToSelfDelayMax:
		return c.protoErr("to_self_delay %d exceeds our limit %d", p.ToSelfDelay, lim.TheirToSelfDelayMax)
	case p.MaxAcceptedHTLCs > config.MaxAcceptedHTLCsLimit:
		return c.protoErr("max_accepted_htlcs %d above 483", p.MaxAcceptedHTLCs)
	case p.MaxAcceptedHTLCs < lim.MinMaxAcceptedHTLCs || p.MaxAcceptedHTLCs == 0:
		return c.protoErr("max_accepted_htlcs %d too small", p.MaxAcceptedHTLCs)
	case p.DustLimitSat < 354:
		return c.protoErr("dust_limit_satoshis %d below 354", p.DustLimitSat)
	case p.DustLimitSat > lim.MaxDustLimitSat:
		return c.protoErr("dust_limit_satoshis %d above our limit %d", p.DustLimitSat, lim.MaxDustLimitSat)
	case p.HTLCMinimumMsat > lim.MaxHTLCMinimumMsat:
		return c.protoErr("htlc_minimum_msat %d too large", p.HTLCMinimumMsat)
	case p.MaxHTLCValueInFlightMsat < lim.MinMaxHTLCValueInFlightMsat:
		return c.protoErr("max_htlc_value_in_flight_msat %d too small", p.MaxHTLCValueInFlightMsat)
	case p.ChannelReserveSat > lim.MaxChannelReserveSat || p.ChannelReserveSat > uint64(c.valueSat):
		return c.protoErr("channel_reserve_satoshis %d too large", p.ChannelReserveSat)
	case p.HTLCMinimumMsat >= uint64(c.valueSat)*1000:
		return c.protoErr("htlc_minimum_msat %d not below the channel value", p.HTLCMinimumMsat)
	}
	for _, k := range []*btcec.PublicKey{p.Pubkeys.FundingPubkey, p.Pubkeys.RevocationBasepoint, p.Pubkeys.PaymentPoint,
		p.Pubkeys.DelayedPaymentBasepoint, p.Pubkeys.HTLCBasepoint} {
		if k == nil {
			return c.protoErr("missing basepoint")
		}
	}
	if len(p.UpfrontShutdownScript) > 0 && !isAcceptableShutdownScript(p.UpfrontShutdownScript, true) {
		return c.protoErr("upfront_shutdown_script is not a standard script")
	}
	return nil
}

// newInboundChannel checks an `open_channel` (BOLT 2, receiver requirements) and creates the channel.
// The `accept_channel` is produced by accept.
func newInboundChannel(counterparty *btcec.PublicKey, m *lnwire.OpenChannel, theirFeatures *lnwire.FeatureVector,
	cfg *config.UserConfig, chain chainhash.Hash, minFeerate, maxFeerate uint32, height uint32) (*channel, error) {
	c := &channel{state: stateAwaitingManualAccept, temporaryID: m.TemporaryChannelID, counterparty: counterparty,
		valueSat: int64(m.FundingSatoshis), pushMsat: m.PushMsat, createdHeight: height,
		remoteSecrets: keys.NewCounterpartyCommitmentSecrets(), closingFeeProposedSat: -1,
		gossip: newGossipState(m.AnnounceChannel(), &cfg.ChannelConfig)}
	c.remote = sideParams{
		DustLimitSat: uint64(m.DustLimitSatoshis), MaxHTLCValueInFlightMsat: m.MaxHTLCValueInFlightMsat,
		ChannelReserveSat: uint64(m.ChannelReserveSatoshis), HTLCMinimumMsat: m.HTLCMinimumMsat,
		ToSelfDelay: m.ToSelfDelay, MaxAcceptedHTLCs: m.MaxAcceptedHTLCs,
		Pubkeys:               fromWireKeys(&m.ChannelKeys),
		UpfrontShutdownScript: m.UpfrontShutdownScript,
	}
	lim := &cfg.ChannelHandshakeLimits
	switch {
	case m.ChainHash != chain:
		return nil, c.protoErr("open_channel for another chain %s", m.ChainHash)
	case !cfg.AcceptInboundChannels:
		return nil, c.warnErr("we do not accept inbound channels")
	case c.valueSat < int64(lim.MinFundingSat) || c.valueSat > int64(lim.MaxFundingSat):
		return nil, c.protoErr("funding_satoshis %d outside our limits [%d, %d]", c.valueSat, lim.MinFundingSat, lim.MaxFundingSat)
	case c.valueSat > maxFundingSatNoWumbo:
		return nil, c.protoErr("funding_satoshis %d needs option_support_large_channel", c.valueSat)
	case m.PushMsat > uint64(c.valueSat)*1000:
		return nil, c.protoErr("push_msat %d exceeds the channel value", m.PushMsat)
	case m.FeeratePerKw < minFeerate || m.FeeratePerKw > maxFeerate:
		return nil, c.protoErr("feerate_per_kw %d outside [%d, %d]", m.FeeratePerKw, minFeerate, maxFeerate)
	case m.FirstPerCommitmentPoint == nil:
		return nil, c.protoErr("missing first_per_commitment_point")
	}
	if err := c.checkCounterpartyParams(lim, &c.remote); err != nil {
		return nil, err
	}
	if c.remote.DustLimitSat > c.remote.ChannelReserveSat && c.remote.ChannelReserveSat != 0 {
		return nil, c.protoErr("dust_limit_satoshis %d above channel_reserve_satoshis %d", c.remote.DustLimitSat, c.remote.ChannelReserveSat)
	}
	// channel_type: use it when given; otherwise static_remotekey must be negotiated through init.
	if m.ChannelType != nil {
		wct, err := lnwire.ChannelTypeFromFeatures(m.ChannelType)
		ct, ok := channelTypeFrom(wct)
		if err != nil || !ok {
			return nil, c.protoErr("unsupported channel_type %v", m.ChannelType)
		}
		if ct.HasAnchors() && !cfg.ChannelHandshakeConfig.NegotiateAnchorsZeroFeeHTLCTx {
			return nil, c.protoErr("we do not accept anchor channels")
		}
		// BOLT 2: an option_scid_alias channel is private (its real short_channel_id is never to be used).
		if wct.SCIDAlias && c.gossip.announce {
			return nil, c.protoErr("channel_type option_scid_alias with announce_channel set")
		}
		c.channelType = ct
		c.gossip.scidPrivacy = wct.SCIDAlias
	} else {
		switch {
		case theirFeatures != nil && theirFeatures.Supports(lnwire.AnchorsZeroFeeHTLCTxOptional) && cfg.ChannelHandshakeConfig.NegotiateAnchorsZeroFeeHTLCTx:
			c.channelType = bolt3.ChannelTypeAnchors
		case theirFeatures != nil && theirFeatures.Supports(lnwire.StaticRemoteKeyOptional):
			c.channelType = bolt3.ChannelTypeStaticRemoteKey
		default:
			return nil, c.protoErr("channel without option_static_remotekey is not supported")
		}
	}
	c.baseLocalMsat = m.PushMsat
	c.baseRemoteMsat = uint64(c.valueSat)*1000 - m.PushMsat
	c.baseFeeratePerKw = m.FeeratePerKw
	c.remoteCurPoint = m.FirstPerCommitmentPoint
	// The funder must afford the initial commitment fee and anchors (BOLT 2).
	fee := uint64(bolt3.CommitmentFeeSat(m.FeeratePerKw, 0, c.channelType)+c.anchorsSat()) * 1000
	if c.baseRemoteMsat < fee {
		return nil, c.protoErr("funder cannot pay the initial commitment fee %d msat", fee)
	}
	// BOLT 2: fail if both outputs of the first commitment are at or below channel_reserve_satoshis.
	reserveMsat := uint64(m.ChannelReserveSatoshis) * 1000
	if c.baseRemoteMsat-fee <= reserveMsat && c.baseLocalMsat <= reserveMsat {
		return nil, c.protoErr("both initial outputs are at or below channel_reserve_satoshis %d", m.ChannelReserveSatoshis)
	}
	return c, nil
}

// accept sets our parameters on an inbound channel and returns the `accept_channel`.
func (c *channel) accept(signer keys.ChannelSigner, cfg *config.UserConfig, userChannelID [16]byte, shutdownScript []byte) (effects, error) {
	point0, err := signer.GetPerCommitmentPoint(0)
	if err != nil {
		return effects{}, err
	}
	c.signer, c.keysID, c.userChannelID = signer, signer.ChannelKeysID(), userChannelID
	c.local = ourSideParams(&cfg.ChannelHandshakeConfig, c.valueSat, signer.Pubkeys(), nil)
	c.localShutdownScript = shutdownScript
	c.minimumDepth = cfg.ChannelHandshakeConfig.MinimumDepth
	// Our reserve requirement must not be below their dust limit, and theirs not below ours (BOLT 2).
	if c.local.ChannelReserveSat < c.remote.DustLimitSat {
		c.local.ChannelReserveSat = c.remote.DustLimitSat
	}
	if c.remote.ChannelReserveSat < c.local.DustLimitSat && c.remote.ChannelReserveSat != 0 {
		return effects{}, c.protoErr("channel_reserve_satoshis %d below our dust limit %d", c.remote.ChannelReserveSat, c.local.DustLimitSat)
	}
	c.state = stateAcceptSent
	var eff effects
	eff.send(&lnwire.AcceptChannel{
		TemporaryChannelID: c.temporaryID, DustLimitSatoshis: btcutil.Amount(c.local.DustLimitSat),
		MaxHTLCValueInFlightMsat: c.local.MaxHTLCValueInFlightMsat, ChannelReserveSatoshis: btcutil.Amount(c.local.ChannelReserveSat),
		HTLCMinimumMsat: c.local.HTLCMinimumMsat, MinimumDepth: c.minimumDepth, ToSelfDelay: c.local.ToSelfDelay,
		MaxAcceptedHTLCs: c.local.MaxAcceptedHTLCs, ChannelKeys: wireKeys(c.local.Pubkeys, point0),
		UpfrontShutdownScript: []byte{}, ChannelType: c.wireChannelType().FeatureVector(),
	})
	return eff, nil
}

// receiveAcceptChannel checks `accept_channel` (BOLT 2, receiver requirements) and asks the host for the
// funding transaction (FundingGenerationReady, with the output script it must pay).
func (c *channel) receiveAcceptChannel(m *lnwire.AcceptChannel, lim *config.ChannelHandshakeLimits) (effects, error) {
	if c.state != stateOpenSent {
		return effects{}, c.protoErr("unexpected accept_channel in state %s", c.state)
	}
	c.remote = sideParams{
		DustLimitSat: uint64(m.DustLimitSatoshis), MaxHTLCValueInFlightMsat: m.MaxHTLCValueInFlightMsat,
		ChannelReserveSat: uint64(m.ChannelReserveSatoshis), HTLCMinimumMsat: m.HTLCMinimumMsat,
		ToSelfDelay: m.ToSelfDelay, MaxAcceptedHTLCs: m.MaxAcceptedHTLCs,
		Pubkeys:               fromWireKeys(&m.ChannelKeys),
		UpfrontShutdownScript: m.UpfrontShutdownScript,
	}
	if err := c.checkCounterpartyParams(lim, &c.remote); err != nil {
		return effects{}, err
	}
	switch {
	case m.MinimumDepth > lim.MaxMinimumDepth:
		return effects{}, c.protoErr("minimum_depth %d exceeds our limit %d", m.MinimumDepth, lim.MaxMinimumDepth)
	case c.remote.ChannelReserveSat < c.local.DustLimitSat && c.remote.ChannelReserveSat != 0:
		return effects{}, c.protoErr("channel_reserve_satoshis %d below our dust_limit_satoshis %d", c.remote.ChannelReserveSat, c.local.DustLimitSat)
	case c.local.ChannelReserveSat < c.remote.DustLimitSat:
		return effects{}, c.protoErr("their dust_limit_satoshis %d exceeds our channel_reserve_satoshis %d", c.remote.DustLimitSat, c.local.ChannelReserveSat)
	case m.FirstPerCommitmentPoint == nil:
		return effects{}, c.protoErr("missing first_per_commitment_point")
	}
	if m.ChannelType != nil {
		wct, err := lnwire.ChannelTypeFromFeatures(m.ChannelType)
		ct, ok := channelTypeFrom(wct)
		if err != nil || !ok || ct != c.channelType || wct.SCIDAlias != c.gossip.scidPrivacy {
			return effects{}, c.protoErr("accept_channel channel_type differs from ours")
		}
	}
	c.minimumDepth = m.MinimumDepth
	if c.minimumDepth == 0 {
		c.minimumDepth = 1 // zero-conf is not supported: wait for one confirmation
	}
	c.remoteCurPoint = m.FirstPerCommitmentPoint
	ws, pk, err := bolt3.FundingScript(c.local.Pubkeys.FundingPubkey, c.remote.Pubkeys.FundingPubkey)
	if err != nil {
		return effects{}, err
	}
	c.fundingScript, c.fundingPkScript = ws, pk
	c.state = stateAwaitingFundingTx
	var eff effects
	eff.event(events.FundingGenerationReady{TemporaryChannelID: c.temporaryID, CounterpartyNodeID: c.counterparty,
		ChannelValueSat: c.valueSat, OutputScript: pk, UserChannelID: c.userChannelID})
	return eff, nil
}

// setFunding records the funding outpoint and derives the channel id and the obscuring factor.
func (c *channel) setFunding(op wire.OutPoint) {
	c.fundingOutPoint = op
	c.channelID = lnwire.NewChannelIDFromOutPoint(op)
	if c.outbound {
		c.obscuringFactor = bolt3.ObscuringFactor(c.local.Pubkeys.PaymentPoint, c.remote.Pubkeys.PaymentPoint)
	} else {
		c.obscuringFactor = bolt3.ObscuringFactor(c.remote.Pubkeys.PaymentPoint, c.local.Pubkeys.PaymentPoint)
	}
}

// initialCommitments builds commitment 0 on both chains.
func (c *channel) initialCommitments() (local, remote *builtCommitment, err error) {
	p0, err := c.signer.GetPerCommitmentPoint(0)
	if err != nil {
		return nil, nil, err
	}
	v := commitView{ourMsat: c.baseLocalMsat, theirMsat: c.baseRemoteMsat, feeratePerKw: c.baseFeeratePerKw}
	if local, err = c.buildCommitment(true, 0, p0, v); err != nil {
		return nil, nil, err
	}
	if remote, err = c.buildCommitment(false, 0, c.remoteCurPoint, v); err != nil {
		return nil, nil, err
	}
	return local, remote, nil
}

// fundingTransactionGenerated takes the host's funding transaction, signs the counterparty's first
// commitment and returns `funding_created` (BOLT 2). The channel's id becomes final.
func (c *channel) fundingTransactionGenerated(tx *wire.MsgTx) (effects, error) {
	if c.state != stateAwaitingFundingTx {
		return effects{}, fmt.Errorf("%w: channel is in state %s", ErrAPIMisuse, c.state)
	}
	idx := -1
	for i, out := range tx.TxOut {
		if out.Value == c.valueSat && bytes.Equal(out.PkScript, c.fundingPkScript) {
			if idx >= 0 {
				return effects{}, fmt.Errorf("%w: funding transaction pays the funding script twice", ErrInvalidFundingTx)
			}
			idx = i
		}
	}
	if idx < 0 {
		return effects{}, fmt.Errorf("%w: no output of %d sat to the funding script", ErrInvalidFundingTx, c.valueSat)
	}
	for _, in := range tx.TxIn {
		if len(in.Witness) == 0 {
			return effects{}, fmt.Errorf("%w: every input must be segwit-signed (the txid must not be malleable)", ErrInvalidFundingTx)
		}
	}
	c.setFunding(wire.OutPoint{Hash: tx.TxHash(), Index: uint32(idx)})
	if _, _, err := c.initialCommitments(); err != nil {
		return effects{}, fmt.Errorf("%w: %v", ErrInvalidFundingTx, err)
	}
	c.fundingTx = tx
	c.state = stateFundingCreatedSent
	eff := effects{newID: true}
	eff.sendDeferred(&deferredMsg{kind: deferFundingCreated})
	return eff, nil
}

// fundingUndo returns a function that puts back what receiveFundingCreated sets before it can fail.
func (c *channel) fundingUndo() func() {
	script, pk, op, id, obscuring := c.fundingScript, c.fundingPkScript, c.fundingOutPoint, c.channelID, c.obscuringFactor
	return func() {
		c.fundingScript, c.fundingPkScript, c.fundingOutPoint, c.channelID, c.obscuringFactor = script, pk, op, id, obscuring
	}
}

// validateInitial gives the signer the channel's parameters and our commitment 0 with the
// counterparty's signature (funding_created, funding_signed).
func (c *channel) validateInitial(local *builtCommitment, sig lnwire.Sig) error {
	if err := c.provideParams(); err != nil {
		return err
	}
	req, err := c.signingRequest(local)
	if err != nil {
		return err
	}
	return c.validateHolder(req, sig, nil)
}

// initialMonitor builds the monitor of a newly funded channel from both commitment 0s.
func (c *channel) initialMonitor(local, remote *builtCommitment, theirSig lnwire.Sig, destination []byte) (*channelmonitor.ChannelMonitor, error) {
	params := channelmonitor.ChannelParameters{
		ChannelID: c.channelID, CounterpartyNodeID: c.counterparty, FundingOutPoint: c.fundingOutPoint,
		FundingScript: c.fundingScript, FundingValueSat: c.valueSat, Anchors: c.channelType.HasAnchors(),
		IsOutbound: c.outbound, HolderPubkeys: c.local.Pubkeys, CounterpartyPubkeys: c.remote.Pubkeys,
		HolderToSelfDelay: c.remote.ToSelfDelay, CounterpartyToSelfDelay: c.local.ToSelfDelay,
		HolderDustLimitSat: int64(c.local.DustLimitSat), CounterpartyDustLimitSat: int64(c.remote.DustLimitSat),
		ObscuringFactor: c.obscuringFactor, ChannelKeysID: c.keysID, DestinationScript: destination,
	}
	holder := &channelmonitor.LatestHolderCommitment{CommitmentNumber: 0, Tx: local.tx.Tx, CounterpartySig: theirSig,
		FeeratePerKw: local.view.feeratePerKw}
	cp := &channelmonitor.LatestCounterpartyCommitment{CommitmentNumber: 0, Txid: remote.txid,
		PerCommitmentPoint: c.remoteCurPoint, FeeratePerKw: remote.view.feeratePerKw,
		ToBroadcasterSat: remote.tx.ToLocalSat, ToCountersignatorySat: remote.tx.ToRemoteSat}
	return channelmonitor.NewChannelMonitor(params, c.signer, holder, cp)
}

// receiveFundingCreated (fundee) checks the funder's signature on our first commitment, signs theirs and
// returns the new monitor, `funding_signed` (which leaves once the monitor is persisted) and
// ChannelPending. The channel's id becomes final.
func (c *channel) receiveFundingCreated(m *lnwire.FundingCreated, destination []byte) (effects, error) {
	if c.state != stateAcceptSent {
		return effects{}, c.protoErr("unexpected funding_created in state %s", c.state)
	}
	ws, pk, err := bolt3.FundingScript(c.local.Pubkeys.FundingPubkey, c.remote.Pubkeys.FundingPubkey)
	if err != nil {
		return effects{}, err
	}
	undo := c.fundingUndo()
	c.fundingScript, c.fundingPkScript = ws, pk
	c.setFunding(wire.OutPoint{Hash: m.FundingTxID, Index: uint32(m.FundingOutputIndex)})
	local, remote, err := c.initialCommitments()
	if err != nil {
		undo()
		return effects{}, c.protoErr("cannot build the first commitment: %v", err)
	}
	if !verifySig(local.tx.Tx, c.fundingScript, c.valueSat, m.Signature, c.remote.Pubkeys.FundingPubkey, txscript.SigHashAll) {
		undo()
		return effects{}, c.protoErr("funding_created signature is invalid")
	}
	if err := c.validateInitial(local, m.Signature); err != nil {
		undo() // the signer may not have answered yet: the message is handed in again
		return effects{}, err
	}
	mon, err := c.initialMonitor(local, remote, m.Signature, destination)
	if err != nil {
		undo()
		return effects{}, err
	}
	c.state = stateAwaitingChannelReady
	eff := effects{monitor: mon, newID: true}
	eff.sendDeferred(&deferredMsg{kind: deferFundingSigned})
	eff.event(c.pendingEvent())
	return eff, nil
}

// receiveFundingSigned (funder) checks the fundee's signature on our first commitment and returns the
// new monitor, the funding transaction to broadcast once the monitor is persisted, and ChannelPending.
func (c *channel) receiveFundingSigned(m *lnwire.FundingSigned, destination []byte) (effects, error) {
	if c.state != stateFundingCreatedSent {
		return effects{}, c.protoErr("unexpected funding_signed in state %s", c.state)
	}
	local, remote, err := c.initialCommitments()
	if err != nil {
		return effects{}, err
	}
	if !verifySig(local.tx.Tx, c.fundingScript, c.valueSat, m.Signature, c.remote.Pubkeys.FundingPubkey, txscript.SigHashAll) {
		return effects{}, c.protoErr("funding_signed signature is invalid")
	}
	if err := c.validateInitial(local, m.Signature); err != nil {
		return effects{}, err
	}
	mon, err := c.initialMonitor(local, remote, m.Signature, destination)
	if err != nil {
		return effects{}, err
	}
	c.state = stateAwaitingChannelReady
	eff := effects{monitor: mon}
	eff.broadcast(c.fundingTx)
	eff.event(c.pendingEvent())
	return eff, nil
}

// pendingEvent is ChannelPending, for a channel whose funding is signed.
func (c *channel) pendingEvent() events.ChannelPending {
	return events.ChannelPending{ChannelID: c.channelID, UserChannelID: c.userChannelID,
		FormerTemporaryChannelID: c.temporaryID, CounterpartyNodeID: c.counterparty, FundingTxo: c.fundingOutPoint}
}

// forgottenBeforeFunding reports a channel forgotten because its peer disconnected before the funding
// signatures were exchanged: ChannelClosed, and DiscardFunding for a funding transaction we made.
func (c *channel) forgottenBeforeFunding() effects {
	var eff effects
	eff.event(events.ChannelClosed{ChannelID: c.id(), UserChannelID: c.userChannelID, CounterpartyNodeID: c.counterparty,
		Reason: events.DisconnectedPeer, ChannelCapacitySat: c.valueSat})
	if c.fundingTx != nil {
		eff.event(events.DiscardFunding{ChannelID: c.id(), FundingTxid: c.fundingTx.TxHash()})
	}
	return eff
}

// monitorRefused undoes the funding step after the ChainMonitor refused the channel's first monitor
// (WatchChannel returned an error: another channel's monitor watches that funding outpoint, as when a
// peer names someone else's outpoint in funding_created). The channel has no monitor of its own, so no
// update may ever go to that outpoint, not even the force close of failing it: the channel goes back
// to its state before the funding signatures and is failed as an unfunded channel.
func (c *channel) monitorRefused() {
	c.state = stateAcceptSent
	if c.outbound {
		c.state = stateFundingCreatedSent
	}
}

// channelReadyMsg returns our `channel_ready`.
func (c *channel) channelReadyMsg() (*lnwire.ChannelReady, error) {
	p1, err := c.signer.GetPerCommitmentPoint(1)
	if err != nil {
		return nil, err
	}
	alias := lnwire.NewShortChannelIDFromUint64(c.outboundAlias())
	return &lnwire.ChannelReady{ChannelID: c.channelID, SecondPerCommitmentPoint: p1, Alias: &alias}, nil
}

// receiveChannelReady records the counterparty's `channel_ready`; ChannelReady follows when the channel
// just became usable.
func (c *channel) receiveChannelReady(m *lnwire.ChannelReady) (effects, error) {
	if m.SecondPerCommitmentPoint == nil {
		return effects{}, c.protoErr("channel_ready without second_per_commitment_point")
	}
	if m.Alias != nil && m.Alias.ToUint64() != 0 {
		c.gossip.theirAlias = m.Alias.ToUint64() // the latest one counts
	}
	switch {
	case c.state == stateChannelReady || c.state == stateShutdown:
		// A retransmission after reconnecting: the point must not change.
		if c.remoteNextPoint != nil && c.remoteCommitNum == 0 && !c.remoteNextPoint.IsEqual(m.SecondPerCommitmentPoint) {
			return effects{}, c.protoErr("channel_ready retransmitted with another point")
		}
		return effects{}, nil
	case c.state != stateAwaitingChannelReady:
		return effects{}, c.protoErr("unexpected channel_ready in state %s", c.state)
	}
	c.theirChannelReadyRcvd = true
	c.remoteNextPoint = m.SecondPerCommitmentPoint
	return c.maybeReady(), nil
}

// maybeReady moves to stateChannelReady once both `channel_ready`s are exchanged, with ChannelReady.
func (c *channel) maybeReady() effects {
	var eff effects
	if c.state == stateAwaitingChannelReady && c.ourChannelReadySent && c.theirChannelReadyRcvd {
		c.state = stateChannelReady
		eff.event(events.ChannelReady{ChannelID: c.channelID, UserChannelID: c.userChannelID,
			CounterpartyNodeID: c.counterparty, ChannelType: c.wireChannelType()})
	}
	return eff
}

// fundingDepthReached says whether our `channel_ready` is due: the funding transaction is minimumDepth
// deep at height and we have not sent it yet.
func (c *channel) fundingDepthReached(height uint32) bool {
	if c.fundingConfHeight == 0 || c.ourChannelReadySent || c.state != stateAwaitingChannelReady {
		return false
	}
	return height+1-c.fundingConfHeight >= c.minimumDepth
}

// maybeSendChannelReady returns our `channel_ready` once the funding transaction is deep enough at
// height and the peer is re-established, with ChannelReady if the channel becomes usable.
func (c *channel) maybeSendChannelReady(height uint32) effects {
	if !c.fundingDepthReached(height) || c.reestablishPending || !c.peerConnected {
		return effects{}
	}
	msg, err := c.channelReadyMsg()
	if err != nil {
		return effects{}
	}
	c.ourChannelReadySent = true
	var eff effects
	eff.send(msg)
	eff.merge(c.maybeReady())
	return eff
}
