package channelmanager

import (
	"errors"

	"github.com/lnkit/lnkit/internal/bolt3"
)

// Dust exposure (ChannelConfig.MaxDustHTLCExposureMsat): HTLCs trimmed from a commitment transaction
// have no output of their own; their value goes to miners if that commitment confirms, whoever is
// owed it. The exposure of each commitment is the sum of its trimmed HTLCs, at its feerate and its
// owner's dust limit (BOLT 3, "Trimmed Outputs"); each must stay within the limit.

// errDustExposure is returned when an HTLC or a feerate would push our dust exposure over the limit.
var errDustExposure = errors.New("dust HTLC exposure would exceed max_dust_htlc_exposure_msat")

// isDust says whether h is trimmed from the local (holder) or remote commitment at feerate.
func (c *channel) isDust(h *htlc, local bool, feerate uint32) bool {
	offered, dust := !h.Incoming, c.local.DustLimitSat
	if !local {
		offered, dust = h.Incoming, c.remote.DustLimitSat
	}
	return bolt3.IsTrimmed(bolt3.HTLC{Offered: offered, AmountMsat: h.AmountMsat}, int64(dust), feerate, c.channelType)
}

// dustExposureMsat sums the HTLCs of view v of the local or remote commitment that are trimmed at
// feerate, leaving out those skip names (nil: none).
func (c *channel) dustExposureMsat(v commitView, local bool, feerate uint32, skip func(*htlc) bool) uint64 {
	var sum uint64
	for _, h := range v.htlcs {
		if (skip == nil || !skip(h)) && c.isDust(h, local, feerate) {
			sum += h.AmountMsat
		}
	}
	return sum
}

// dustAddAllowed says whether h, just added to v (the next commitment of the local or remote chain),
// keeps that commitment's dust exposure within limitMsat: it does if h is not trimmed from it.
func (c *channel) dustAddAllowed(h *htlc, v commitView, local bool, limitMsat uint64, skip func(*htlc) bool) bool {
	if !c.isDust(h, local, v.feeratePerKw) {
		return true
	}
	return c.dustExposureMsat(v, local, v.feeratePerKw, skip) <= limitMsat
}

// incomingDustAllowed says whether an incoming HTLC, now committed, keeps the dust exposure of both
// next commitments within limitMsat, counting the incoming HTLCs received before it (lower ids) and
// every outgoing one: of several arriving together, those received last are the ones refused.
func (c *channel) incomingDustAllowed(h *htlc, limitMsat uint64) bool {
	later := func(x *htlc) bool { return x.Incoming && x.ID > h.ID }
	return c.dustAddAllowed(h, c.projectedView(true), true, limitMsat, later) &&
		c.dustAddAllowed(h, c.projectedView(false), false, limitMsat, later)
}

// feerateDustAllowed says whether moving both next commitments to feerate keeps their dust exposure
// within limitMsat, or at least does not raise it (a feerate change only ever trims more or fewer
// existing HTLCs).
func (c *channel) feerateDustAllowed(feerate uint32, limitMsat uint64) bool {
	for _, local := range []bool{true, false} {
		v := c.projectedView(local)
		after := c.dustExposureMsat(v, local, feerate, nil)
		if after > limitMsat && after > c.dustExposureMsat(v, local, v.feeratePerKw, nil) {
			return false
		}
	}
	return true
}
