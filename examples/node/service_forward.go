package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/lnwire"
)

func (s *service) ForwardingHistory(ctx context.Context, p nodeapi.ForwardingHistoryParams) (*nodeapi.ForwardingHistoryResult, error) {
	return s.n.forwards.history(p.Limit), nil
}

// UpdateChanPolicy sets our forwarding policy of one channel, or of every channel that is open or
// waiting for its funding to confirm, through ChannelManager.UpdateChannelConfig (which sends the new
// channel_update).
func (s *service) UpdateChanPolicy(ctx context.Context, p nodeapi.UpdateChanPolicyParams) (*nodeapi.UpdateChanPolicyResult, error) {
	if p.BaseFeeMsat == nil && p.FeeRatePPM == nil && p.TimeLockDelta == nil {
		return nil, invalid("give at least one of base_fee_msat, fee_rate_ppm and time_lock_delta")
	}
	if p.TimeLockDelta != nil && *p.TimeLockDelta == 0 {
		return nil, invalid("time_lock_delta must be positive")
	}
	var targets []channelmanager.ChannelDetails
	if p.ChannelID != "" {
		c, err := s.findChannelByAnyID(p.ChannelID)
		if err != nil {
			return nil, err
		}
		switch {
		case c.FundingTxo.Hash == ([32]byte{}):
			return nil, fmt.Errorf("channel %s has no funding transaction yet", p.ChannelID)
		case c.State == "Closed":
			return nil, fmt.Errorf("channel %s is closed", p.ChannelID)
		}
		targets = append(targets, c)
	} else {
		for _, c := range s.n.cm.ListChannels() {
			if c.FundingTxo.Hash != ([32]byte{}) && (c.State == "AwaitingChannelReady" || c.State == "ChannelReady") {
				targets = append(targets, c)
			}
		}
	}
	updated := map[lnwire.ChannelID]bool{}
	for _, c := range targets {
		cc := config.ChannelConfig{ForwardingFeeBaseMsat: c.ForwardingFeeBaseMsat,
			ForwardingFeeProportionalMillionths: c.ForwardingFeeProportionalMillionths, CLTVExpiryDelta: c.CLTVExpiryDelta}
		if p.BaseFeeMsat != nil {
			cc.ForwardingFeeBaseMsat = *p.BaseFeeMsat
		}
		if p.FeeRatePPM != nil {
			cc.ForwardingFeeProportionalMillionths = *p.FeeRatePPM
		}
		if p.TimeLockDelta != nil {
			cc.CLTVExpiryDelta = *p.TimeLockDelta
		}
		err := s.n.cm.UpdateChannelConfig(c.CounterpartyNodeID, []lnwire.ChannelID{c.ChannelID}, cc)
		if errors.Is(err, channelmanager.ErrChannelUnavailable) && p.ChannelID == "" {
			continue // closed meanwhile
		}
		if err != nil {
			return nil, fmt.Errorf("channel %s: %w", hex.EncodeToString(c.ChannelID[:]), err)
		}
		updated[c.ChannelID] = true
	}
	s.n.wake() // the new channel_updates go out
	res := &nodeapi.UpdateChanPolicyResult{Updated: []nodeapi.ChannelPolicy{}}
	for _, c := range s.n.cm.ListChannels() {
		if !updated[c.ChannelID] {
			continue
		}
		cp := nodeapi.ChannelPolicy{ChannelID: hex.EncodeToString(c.ChannelID[:]), NodeID: nodeIDHex(c.CounterpartyNodeID),
			BaseFeeMsat: c.ForwardingFeeBaseMsat, FeeRatePPM: c.ForwardingFeeProportionalMillionths, TimeLockDelta: c.CLTVExpiryDelta}
		if c.ShortChannelID != (lnwire.ShortChannelID{}) {
			cp.ShortChannelID = c.ShortChannelID.String()
		}
		res.Updated = append(res.Updated, cp)
	}
	return res, nil
}

// findChannelByAnyID finds a channel by its channel id (64 hex characters) or its short channel id
// ("BLOCKxTXxOUT").
func (s *service) findChannelByAnyID(id string) (channelmanager.ChannelDetails, error) {
	if len(id) == 64 {
		return s.findChannel(id)
	}
	if !strings.Contains(id, "x") {
		return channelmanager.ChannelDetails{}, invalid("channel_id must be 64 hex characters or a short channel id (BLOCKxTXxOUT)")
	}
	for _, c := range s.n.cm.ListChannels() {
		if c.ShortChannelID != (lnwire.ShortChannelID{}) && c.ShortChannelID.String() == id {
			return c, nil
		}
	}
	return channelmanager.ChannelDetails{}, invalid("no channel with short channel id %s (listchannels lists them)", id)
}
