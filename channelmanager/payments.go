package channelmanager

import (
	"crypto/sha256"

	"github.com/lnkit/lnkit/channelmonitor"
)

// DefaultMinFinalCLTVExpiryDelta is the min_final_cltv_expiry_delta, in blocks, used when the caller
// gives none (BOLT 11's default is 18, too short here). It must exceed channelmonitor.HTLCFailBackBuffer
// (39): an incoming HTLC closer to its expiry than that is failed back, so a smaller delta would fail
// every payment on arrival. 42 is LDK's MIN_FINAL_CLTV_EXPIRY_DELTA for the same reason.
const DefaultMinFinalCLTVExpiryDelta = channelmonitor.HTLCFailBackBuffer + 3

// outboundCapacityMsat is what we could send now: our balance in the next remote commitment less our
// reserve and, as funder, the commitment fee.
func (c *channel) outboundCapacityMsat() uint64 {
	v := c.projectedView(false)
	avail := v.ourMsat
	need := c.remote.ChannelReserveSat * 1000
	if c.outbound {
		need += c.funderFeeMsat(v, c.remote.DustLimitSat, false, v.feeratePerKw, 1)
	}
	if avail <= need {
		return 0
	}
	return avail - need
}

// inboundCapacityMsat is what the counterparty could send us now.
func (c *channel) inboundCapacityMsat() uint64 {
	v := c.projectedView(true)
	avail := v.theirMsat
	need := c.local.ChannelReserveSat * 1000
	if !c.outbound {
		need += c.funderFeeMsat(v, c.local.DustLimitSat, true, v.feeratePerKw, 1)
	}
	if avail <= need {
		return 0
	}
	return avail - need
}

func sha256Sum(b [32]byte) [32]byte { return sha256.Sum256(b[:]) }
