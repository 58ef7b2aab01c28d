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

// outboundCapacityMsat is what we could send now, in one HTLC: our balance in the next remote
// commitment less our reserve and, as funder, the commitment fee as sendAddHTLC reserves it (the fee
// spike buffer: twice the feerate, with the new HTLC and one more; LDK's next_outbound_htlc_limit_msat
// does the same), so that an HTLC of this amount is never refused for insufficient balance.
func (c *channel) outboundCapacityMsat() uint64 {
	v := c.projectedView(false)
	avail := v.ourMsat
	need := c.remote.ChannelReserveSat * 1000
	if c.outbound {
		need += c.funderFeeMsat(v, c.remote.DustLimitSat, false, 2*v.feeratePerKw, 2)
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
