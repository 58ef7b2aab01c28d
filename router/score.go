package router

import (
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
)

// DirectedChannel names one direction of a channel: Direction 0 is from node_1 to node_2 (node_1 is the
// node whose compressed public key sorts first, BOLT 7), 1 the reverse.
type DirectedChannel struct {
	SCID      uint64
	Direction uint8
}

// DirectionOf returns the direction of a channel used from source to target (0: source is node_1).
func DirectionOf(source, target [33]byte) uint8 {
	for i := range source {
		if source[i] != target[i] {
			if source[i] < target[i] {
				return 0
			}
			return 1
		}
	}
	return 0
}

// ChannelUsage is an amount the pathfinder considers sending over a directed channel (LDK's
// ChannelUsage). Amounts in msat.
type ChannelUsage struct {
	// AmountMsat is what this path would send over the channel.
	AmountMsat uint64
	// InflightHTLCMsat is what other paths of the same payment already send over it.
	InflightHTLCMsat uint64
	// EffectiveCapacityMsat is the channel's capacity as best known: the funding value, else its
	// htlc_maximum_msat; for our own channels, what we can send now.
	EffectiveCapacityMsat uint64
}

// ScoreLookUp gives the pathfinder the cost of using a channel (LDK's ScoreLookUp). It is called for
// every candidate hop, so it must be cheap and must not block. Implementations must be safe for
// concurrent use with a ScoreUpdate on the same value.
type ScoreLookUp interface {
	// ChannelPenaltyMsat returns the penalty, in msat, added to the fee of sending usage.AmountMsat over
	// the directed channel: higher for channels less likely to succeed. It must not depend on the
	// wall clock.
	ChannelPenaltyMsat(ch DirectedChannel, usage ChannelUsage) uint64
}

// ScoreUpdate learns from payment and probe results (LDK's ScoreUpdate). now is the time the host
// passes, as a duration since the Unix epoch; learned knowledge decays with it.
type ScoreUpdate interface {
	// PaymentPathFailed: the path failed at the channel failingSCID (0: not attributable). payer is our
	// node id, the source of the path's first hop.
	PaymentPathFailed(path *Path, payer *btcec.PublicKey, failingSCID uint64, now time.Duration)
	// PaymentPathSuccessful: the whole path carried its amount.
	PaymentPathSuccessful(path *Path, payer *btcec.PublicKey, now time.Duration)
	// ProbeFailed and ProbeSuccessful are the same for probes, which may be scored differently.
	ProbeFailed(path *Path, payer *btcec.PublicKey, failingSCID uint64, now time.Duration)
	ProbeSuccessful(path *Path, payer *btcec.PublicKey, now time.Duration)
	// TimePassed lets knowledge decay without a payment result.
	TimePassed(now time.Duration)
}

// Score is a scorer the host can plug into FindRoute and feed with results.
type Score interface {
	ScoreLookUp
	ScoreUpdate
}

// ChannelCapacities gives a scorer the capacity of a channel it learns about (implemented by
// NetworkGraph): the funding value in msat when known, else its htlc_maximum_msat; false for an
// unknown channel.
type ChannelCapacities interface {
	ChannelCapacityMsat(scid uint64) (uint64, bool)
}
