package main

import (
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/lnwire"
)

// maxChannelSat is the largest channel the manager opens (2^24 - 1 sat: no large channels).
const maxChannelSat = 1<<24 - 1

// anchorOutputSat is the value of one anchor output (BOLT 3); the funder pays for both.
const anchorOutputSat = 330

// htlcBufferOutputs and feeSpikeMultiple are the channel manager's margins when it says what the
// funder can send (outboundCapacityMsat): the commitment fee at twice the feerate with two more HTLC
// outputs, so that a fee rise or the HTLC itself does not leave the funder unable to pay it.
const (
	htlcBufferOutputs = 2
	feeSpikeMultiple  = 2
)

// channelMin says how small a channel we fund can be: what the funder must hold back from its balance
// before it can send anything, at the feerate the channel manager would propose now.
type channelMin struct {
	anchors           bool
	feeratePerKw      uint32 // the feerate the commitment would start at
	feeSat            int64  // the commitment fee the manager holds back: twice the feerate, two HTLC outputs
	anchorsSat        int64  // both anchor outputs, paid by the funder (0 without anchors)
	dustSat           int64  // the dust limit: the least worth sending
	reserveMillionths uint32 // the channel reserve the peer requires of us, assumed to be ours: 1%...
	reserveMinSat     int64  // ...and at least the dust limit
	minSat            int64  // the smallest channel without push_msat
}

// newChannelMin computes the minimum for a channel of type anchors (or static_remotekey) at
// feeratePerKw with handshake configuration h (the peer is assumed to ask the reserve we would ask).
func newChannelMin(anchors bool, feeratePerKw uint32, h config.ChannelHandshakeConfig) channelMin {
	ct := bolt3.ChannelTypeStaticRemoteKey
	m := channelMin{anchors: anchors, feeratePerKw: feeratePerKw, dustSat: int64(h.OurDustLimitSat),
		reserveMillionths: h.ChannelReserveProportionalMillionths, reserveMinSat: int64(h.OurDustLimitSat)}
	if anchors {
		ct = bolt3.ChannelTypeAnchors
		m.anchorsSat = 2 * anchorOutputSat
	}
	m.feeSat = bolt3.CommitmentFeeSat(feeSpikeMultiple*feeratePerKw, htlcBufferOutputs, ct)
	// The reserve grows with the channel: step up to the fixed point (1% converges at once).
	v := m.feeSat + m.anchorsSat + m.reserveMinSat + m.dustSat
	for {
		need := m.feeSat + m.anchorsSat + m.reserveSat(v) + m.dustSat
		if need <= v {
			break
		}
		v = need
	}
	m.minSat = v
	return m
}

// reserveSat is the channel reserve of a channel of valueSat.
func (m channelMin) reserveSat(valueSat int64) int64 {
	return max(valueSat*int64(m.reserveMillionths)/1_000_000, m.reserveMinSat)
}

// sendableMsat is what the funder of a channel of valueSat that pushed pushMsat could send at once.
func (m channelMin) sendableMsat(valueSat int64, pushMsat uint64) int64 {
	return valueSat*1000 - int64(pushMsat) - (m.reserveSat(valueSat)+m.feeSat+m.anchorsSat)*1000
}

// ok says whether the funder of such a channel can send at least the dust limit.
func (m channelMin) ok(valueSat int64, pushMsat uint64) bool {
	return m.sendableMsat(valueSat, pushMsat) >= m.dustSat*1000
}

// explain says what the minimum is made of, for an error.
func (m channelMin) explain(pushMsat uint64) string {
	kind := "static_remotekey"
	if m.anchors {
		kind = "anchors"
	}
	s := fmt.Sprintf("the smallest channel now is %d sat: the funder's commitment fee of %d sat (%s channel: twice "+
		"the current feerate of %d sat/kw, for a commitment with two HTLCs, as the channel manager holds it back)",
		m.minSat, m.feeSat, kind, m.feeratePerKw)
	if m.anchors {
		s += fmt.Sprintf(" + both anchors (%d sat)", m.anchorsSat)
	}
	s += fmt.Sprintf(" + the channel reserve (%.4g%% of the amount, at least %d sat) + the dust limit (%d sat), "+
		"so that the funder can send at least the dust limit", float64(m.reserveMillionths)/10_000, m.reserveMinSat, m.dustSat)
	if pushMsat > 0 {
		s += fmt.Sprintf("; push_msat (%d) comes on top", pushMsat)
	}
	return s
}

// channelMinimum is the minimum of a channel we would open to peer now, with override as the
// channel's configuration (nil: the default): anchors if both sides support them, the feerate the
// manager would propose for that type.
func (n *Node) channelMinimum(peer *btcec.PublicKey, override *config.UserConfig) channelMin {
	cfg := config.Default()
	if override != nil {
		cfg = *override
	}
	h := cfg.ChannelHandshakeConfig
	anchors := false
	if h.NegotiateAnchorsZeroFeeHTLCTx {
		for _, p := range n.pm.GetPeerNodeIDs() {
			if p.NodeID.IsEqual(peer) {
				anchors = p.InitFeatures != nil && p.InitFeatures.Supports(lnwire.AnchorsZeroFeeHTLCTxOptional)
			}
		}
	}
	target := chaininterface.NonAnchorChannelFee
	if anchors {
		target = chaininterface.AnchorChannelFee
	}
	return newChannelMin(anchors, chaininterface.ClampFeerate(n.chain, target), h)
}
