package router

import (
	"math"
	"sync"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/lnwire"
)

// ProbabilisticScorer is LDK's ProbabilisticScorer: a Score that turns what our payments and probes
// taught us about each channel's liquidity into a penalty, in msat, that the pathfinder adds to a hop's
// fee.
//
// # Model
//
// Per channel it keeps (as LDK does) one pair of liquidity offsets shared by both directions: in
// direction 0 (node_1 to node_2) the lower bound on the liquidity is minOffset and the upper bound is the
// capacity minus maxOffset; direction 1 sees the two swapped, since what one side can send is the capacity
// minus what the other side can. Knowing nothing is minOffset = maxOffset = 0: the liquidity lies anywhere
// in [0, capacity].
//
//   - A payment that failed at a channel lowers its upper bound to just below the amount it carried
//     (the upper bound becomes the amount: liquidity < amount).
//   - A payment or probe that went through a channel on its way to a failure further on, and a successful
//     probe, raise its lower bound to the amount carried.
//   - A successful payment lowers each hop's upper bound by the amount it moved (that liquidity moved to
//     the other side), as LDK does; the lower bound is kept (reset to zero if it would exceed the new upper
//     bound).
//   - A bound crossing the other resets the other to "unknown", as in LDK.
//   - Every liquidity_offset_half_life, both offsets halve: the bounds drift back toward [0, capacity].
//
// Each update also adds a datapoint to the channel's history (history, scoring_model.go): 32 buckets for
// where the lower bound was seen and 32 for the upper bound, which decay only as new datapoints arrive, or
// by half every historical_no_updates_half_life without any.
//
// # Penalty
//
// ChannelPenaltyMsat, for an amount a (plus what other parts of the payment already send over the
// channel: t = a + in-flight) over a channel of capacity c whose bounds in that direction are [lo, hi]:
//
//   - t > c: math.MaxUint64, never route.
//   - base: BasePenaltyMsat + BasePenaltyAmountMultiplierMsat × a / 2^30.
//   - live: with p the probability that the liquidity is at least t given [lo, hi], -log10(p) (at most
//     2) × (LiquidityPenaltyMultiplierMsat + LiquidityPenaltyAmountMultiplierMsat × a / 2^20); t <= lo
//     gives 0, t >= hi gives the maximum.
//   - t >= hi: plus ConsideredImpossiblePenaltyMsat.
//   - t = c: plus the maximum historical penalty, and no more.
//   - historical: the same formula with the Historical*Multiplier parameters and the probability the
//     history gives (the a-priori one over [0, c], scaled by 64/78, when there is no history).
//
// p is computed with LDK's nonlinear a-priori density 1/256 + 9(x - 1/2)^8 over x = liquidity/capacity
// (liquidity is usually near one edge of a channel) unless LinearSuccessProbability selects the uniform
// density of Pickhardt and Richter's model, (hi - t)/(hi - lo + 1). -log10 comes from negLog10Q16, a
// table-based approximation with error below 1.2e-5.
//
// # Differences from LDK
//
//   - Per-hop amounts: a hop is scored with the amount its channel carried (the path's total less the
//     fees of the hops before it, RouteHop's convention), where LDK uses the path's final value for
//     every hop.
//   - Not attributable: a failure with failingSCID 0, or one naming a channel that is not on the path,
//     teaches nothing (LDK would treat every hop as having carried the amount).
//   - An update first decays the channel's live offsets to now, so an older bound does not keep its
//     full weight when TimePassed was not called in between.
//   - Penalties above the capacity are MaxUint64 (LDK adds the impossibility and maximum historical
//     penalties); ChannelUsage does not say whether its capacity is exact (LDK's ExactLiquidity and
//     HintMaxHTLC variants, which LDK scores with the base penalty only).
//   - Not implemented: the anti-probing penalty (it needs the hop's htlc_maximum_msat) and manual node
//     penalties (they need the hop's target node): ChannelPenaltyMsat is given neither, and calling back
//     into the graph from it would take the graph's lock while the pathfinder holds it. Nor
//     probing_diversity_penalty_msat (default 0 in LDK).
//
// # Concurrency, time, memory
//
// Lookups take a read lock, updates the write lock; the scorer never calls out (to ChannelCapacities)
// while holding its lock. It never reads the clock: updates and TimePassed take the host's time. It only
// learns about channels on paths we paid over that ChannelCapacities knows, and TimePassed removes a
// channel once its offsets and history have decayed to nothing.
type ProbabilisticScorer struct {
	mu         sync.RWMutex
	fee        ProbabilisticScoringFeeParameters
	decay      ProbabilisticScoringDecayParameters
	capacities ChannelCapacities
	channels   map[uint64]*channelLiquidity
	// extra holds unknown odd top-level records read by ReadProbabilisticScorer, written back as read.
	extra lnwire.TLVStream
}

// ProbabilisticScoringDecayParameters is how fast learned knowledge fades (LDK's
// ProbabilisticScoringDecayParameters). A half-life of zero or less forgets at once.
type ProbabilisticScoringDecayParameters struct {
	// LiquidityOffsetHalfLife: every half-life, the live liquidity offsets halve (the lower bound halves,
	// the upper bound moves halfway to the capacity). Default 30 minutes (LDK's current Default; the
	// 0.0.11x ProbabilisticScoringParameters, which held both half-lives, used 6 hours).
	LiquidityOffsetHalfLife time.Duration
	// HistoricalNoUpdatesHalfLife: once a channel's history has had no new datapoint for longer than
	// this, TimePassed halves its buckets per half-life elapsed. Default 14 days (LDK).
	HistoricalNoUpdatesHalfLife time.Duration
}

// DefaultProbabilisticScoringDecayParameters returns LDK's defaults: 30 minutes and 14 days.
func DefaultProbabilisticScoringDecayParameters() ProbabilisticScoringDecayParameters {
	return ProbabilisticScoringDecayParameters{
		LiquidityOffsetHalfLife:     30 * time.Minute,
		HistoricalNoUpdatesHalfLife: 14 * 24 * time.Hour,
	}
}

// ProbabilisticScoringFeeParameters sets how knowledge becomes a penalty (LDK's
// ProbabilisticScoringFeeParameters). All penalties are in msat; defaults are LDK 0.2's Default.
type ProbabilisticScoringFeeParameters struct {
	// BasePenaltyMsat is added to every hop. Default 1,024 msat (pay 1 sat to avoid a hop).
	BasePenaltyMsat uint64
	// BasePenaltyAmountMultiplierMsat is added to every hop per 2^30 msat of the amount:
	// multiplier × amount / 2^30. Default 131,072 msat (0.125 bps of the amount per hop).
	BasePenaltyAmountMultiplierMsat uint64
	// LiquidityPenaltyMultiplierMsat × -log10(p), with p the success probability the live bounds give.
	// Default 0 (LDK found the live model does worse than the historical one).
	LiquidityPenaltyMultiplierMsat uint64
	// LiquidityPenaltyAmountMultiplierMsat × -log10(p) × amount / 2^20, with the live p. Default 0.
	LiquidityPenaltyAmountMultiplierMsat uint64
	// HistoricalLiquidityPenaltyMultiplierMsat × -log10(p), with p from the channel's history. Default
	// 10,000 msat (10 sat for a 10% channel).
	HistoricalLiquidityPenaltyMultiplierMsat uint64
	// HistoricalLiquidityPenaltyAmountMultiplierMsat × -log10(p) × amount / 2^20, with the historical p.
	// Default 1,250 msat.
	HistoricalLiquidityPenaltyAmountMultiplierMsat uint64
	// ConsideredImpossiblePenaltyMsat is added when the amount (with in-flight) reaches the upper bound
	// we learned; MaxUint64 excludes such hops. Default 100,000,000,000 msat (1 BTC).
	ConsideredImpossiblePenaltyMsat uint64
	// LinearSuccessProbability selects the uniform liquidity density between the bounds instead of LDK's
	// nonlinear one. Default false.
	LinearSuccessProbability bool
}

// DefaultProbabilisticScoringFeeParameters returns LDK 0.2's defaults (see the fields).
func DefaultProbabilisticScoringFeeParameters() ProbabilisticScoringFeeParameters {
	return ProbabilisticScoringFeeParameters{
		BasePenaltyMsat:                                1_024,
		BasePenaltyAmountMultiplierMsat:                131_072,
		LiquidityPenaltyMultiplierMsat:                 0,
		LiquidityPenaltyAmountMultiplierMsat:           0,
		HistoricalLiquidityPenaltyMultiplierMsat:       10_000,
		HistoricalLiquidityPenaltyAmountMultiplierMsat: 1_250,
		ConsideredImpossiblePenaltyMsat:                100_000_000_000,
		LinearSuccessProbability:                       false,
	}
}

// channelLiquidity is what the scorer knows of one channel, in direction 0.
type channelLiquidity struct {
	minOffset uint64 // lower bound of the liquidity node_1 can send
	maxOffset uint64 // capacity minus the upper bound of the liquidity node_1 can send
	// lastUpdated is when the live offsets were last set or decayed; historyUpdated when the buckets
	// last got a datapoint or were decayed.
	lastUpdated, historyUpdated time.Duration
	hist                        history
	extra                       lnwire.TLVStream // unknown odd records read from a file
}

func (c *channelLiquidity) offsets(dir uint8) (minOff, maxOff *uint64) {
	if dir == 0 {
		return &c.minOffset, &c.maxOffset
	}
	return &c.maxOffset, &c.minOffset
}

// NewProbabilisticScorer returns a scorer that knows nothing yet. capacities (the network graph) gives
// the capacity of the channels it learns about; with nil it learns nothing.
func NewProbabilisticScorer(decay ProbabilisticScoringDecayParameters, fee ProbabilisticScoringFeeParameters,
	capacities ChannelCapacities) *ProbabilisticScorer {
	return &ProbabilisticScorer{fee: fee, decay: decay, capacities: capacities,
		channels: make(map[uint64]*channelLiquidity)}
}

var _ Score = (*ProbabilisticScorer)(nil)

// FeeParameters returns the penalty parameters in use.
func (s *ProbabilisticScorer) FeeParameters() ProbabilisticScoringFeeParameters {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.fee
}

// SetFeeParameters replaces the penalty parameters (LDK passes them per route-finding call).
func (s *ProbabilisticScorer) SetFeeParameters(fee ProbabilisticScoringFeeParameters) {
	s.mu.Lock()
	s.fee = fee
	s.mu.Unlock()
}

// Len is the number of channels the scorer knows something about.
func (s *ProbabilisticScorer) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.channels)
}

// ChannelPenaltyMsat implements ScoreLookUp (see the type's documentation for the formula). It does
// not allocate.
func (s *ProbabilisticScorer) ChannelPenaltyMsat(ch DirectedChannel, usage ChannelUsage) uint64 {
	total := satAdd(usage.AmountMsat, usage.InflightHTLCMsat)
	if total > usage.EffectiveCapacityMsat {
		return math.MaxUint64
	}
	s.mu.RLock()
	var c *channelLiquidity
	if len(s.channels) != 0 {
		c = s.channels[ch.SCID]
	}
	p := penaltyMsat(&s.fee, c, ch.Direction, usage.AmountMsat, total, usage.EffectiveCapacityMsat)
	s.mu.RUnlock()
	return p
}

// penaltyMsat computes the penalty for total <= capacity; c may be nil (nothing known).
func penaltyMsat(f *ProbabilisticScoringFeeParameters, c *channelLiquidity, dir uint8,
	amount, total, capacity uint64) uint64 {
	res := satAdd(f.BasePenaltyMsat, mulShr(f.BasePenaltyAmountMultiplierMsat, amount, basePenaltyAmountShift))
	lo, hi := uint64(0), capacity
	if c != nil {
		minOff, maxOff := c.offsets(dir)
		hi = satSub(capacity, *maxOff)
		lo = min(*minOff, hi)
	}
	if f.LiquidityPenaltyMultiplierMsat != 0 || f.LiquidityPenaltyAmountMultiplierMsat != 0 {
		switch {
		case total <= lo:
		case total >= hi:
			res = satAdd(res, combinedPenalty(amount, maxNegLog10,
				f.LiquidityPenaltyMultiplierMsat, f.LiquidityPenaltyAmountMultiplierMsat))
		default:
			p := successProbability(total, lo, hi, capacity, f.LinearSuccessProbability, false)
			res = satAdd(res, combinedPenalty(amount, negLog10Q16(p),
				f.LiquidityPenaltyMultiplierMsat, f.LiquidityPenaltyAmountMultiplierMsat))
		}
	}
	if total >= hi {
		res = satAdd(res, f.ConsideredImpossiblePenaltyMsat)
	}
	hm, ham := f.HistoricalLiquidityPenaltyMultiplierMsat, f.HistoricalLiquidityPenaltyAmountMultiplierMsat
	if total >= capacity {
		return satAdd(res, combinedPenalty(amount, maxNegLog10, hm, ham))
	}
	if hm != 0 || ham != 0 {
		p, ok := 0.0, false
		if c != nil && c.hist.hasData() {
			p, ok = c.hist.successProbability(dir, total, capacity, f.LinearSuccessProbability)
			p += 1.0 / (1 << 30) // as LDK: a history that rules the amount out still leaves 2^-30
		}
		if !ok {
			p = successProbability(total, 0, capacity, capacity, f.LinearSuccessProbability, true)
		}
		res = satAdd(res, combinedPenalty(amount, negLog10Q16(p), hm, ham))
	}
	return res
}

// EstimatedLiquidityRange returns the live bounds [min, max] on what the directed channel can send,
// for a channel of capacityMsat; ok is false when nothing is known about the channel.
func (s *ProbabilisticScorer) EstimatedLiquidityRange(ch DirectedChannel, capacityMsat uint64) (minMsat, maxMsat uint64, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.channels[ch.SCID]
	if c == nil {
		return 0, 0, false
	}
	minOff, maxOff := c.offsets(ch.Direction)
	return *minOff, satSub(capacityMsat, *maxOff), true
}

// HistoricalLiquidityBuckets returns the history of the directed channel's lower bound and upper bound,
// both as buckets counted from zero liquidity (LDK's historical_estimated_channel_liquidity_probabilities:
// the upper-bound buckets are kept as offsets from the capacity and returned reversed). Values are
// fixed-point with 5 fractional bits (32 is one datapoint). ok is false when nothing is known.
func (s *ProbabilisticScorer) HistoricalLiquidityBuckets(ch DirectedChannel) (lower, upper [32]uint16, ok bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.channels[ch.SCID]
	if c == nil {
		return lower, upper, false
	}
	minB, maxB, _, _ := c.hist.directed(ch.Direction)
	lower = *minB
	for i := range maxB {
		upper[numBuckets-1-i] = maxB[i]
	}
	return lower, upper, true
}

// HistoricalSuccessProbability is the probability the directed channel's history gives for sending
// amountMsat over it at capacityMsat; ok is false when there is not enough history (LDK's
// historical_estimated_payment_success_probability without fallback).
func (s *ProbabilisticScorer) HistoricalSuccessProbability(ch DirectedChannel, amountMsat, capacityMsat uint64) (float64, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c := s.channels[ch.SCID]
	if c == nil || !c.hist.hasData() {
		return 0, false
	}
	return c.hist.successProbability(ch.Direction, amountMsat, capacityMsat, s.fee.LinearSuccessProbability)
}

// ---- updates ----

type hopOutcome uint8

const (
	hopCarried hopOutcome = iota // went through, on the way to a failure or a probe's end
	hopFailed                    // the failing channel
	hopPaid                      // a successful payment
)

// hopUpdate is one hop of a result, resolved before the scorer's lock is taken.
type hopUpdate struct {
	scid, amountMsat, capacityMsat uint64
	dir                            uint8
	known                          bool
}

// resolve returns the path's hops with the amount each channel carried and its direction, capacity and
// whether the graph knows it. It stops at a hop without a node id. It runs without the scorer's lock, as
// it calls ChannelCapacities.
func (s *ProbabilisticScorer) resolve(path *Path, payer *btcec.PublicKey, buf []hopUpdate) []hopUpdate {
	if path == nil || payer == nil || s.capacities == nil {
		return nil
	}
	amount := uint64(0)
	for _, h := range path.Hops {
		amount = satAdd(amount, h.FeeMsat)
	}
	var prev, target [33]byte
	copy(prev[:], payer.SerializeCompressed())
	out := buf[:0]
	for _, h := range path.Hops {
		if h.PubKey == nil {
			break
		}
		copy(target[:], h.PubKey.SerializeCompressed())
		u := hopUpdate{scid: h.ShortChannelID.ToUint64(), amountMsat: amount, dir: DirectionOf(prev, target)}
		if u.scid != 0 {
			u.capacityMsat, u.known = s.capacities.ChannelCapacityMsat(u.scid)
		}
		out = append(out, u)
		amount = satSub(amount, h.FeeMsat)
		prev = target
	}
	return out
}

func (s *ProbabilisticScorer) learn(hops []hopUpdate, failIdx int, outcome hopOutcome, now time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, h := range hops {
		if !h.known {
			continue
		}
		c := s.channels[h.scid]
		if c == nil {
			c = &channelLiquidity{lastUpdated: now, historyUpdated: now}
			s.channels[h.scid] = c
		}
		c.decayLive(now, s.decay.LiquidityOffsetHalfLife)
		switch {
		case outcome == hopPaid:
			c.paid(h.dir, h.amountMsat, h.capacityMsat, now)
		case i == failIdx:
			c.failedAt(h.dir, h.amountMsat, h.capacityMsat, now)
		default:
			c.carried(h.dir, h.amountMsat, h.capacityMsat, now)
		}
	}
}

const maxScoredHops = 27 // a path is at most 20 hops (BOLT 4); longer ones just allocate

func (s *ProbabilisticScorer) failed(path *Path, payer *btcec.PublicKey, failingSCID uint64, now time.Duration) {
	if failingSCID == 0 {
		return
	}
	var buf [maxScoredHops]hopUpdate
	hops := s.resolve(path, payer, buf[:])
	for i, h := range hops {
		if h.scid == failingSCID {
			s.learn(hops[:i+1], i, hopCarried, now)
			return
		}
	}
}

// PaymentPathFailed implements ScoreUpdate: the hops before failingSCID carried the amount (their lower
// bounds rise to it) and the channel failingSCID could not (its upper bound falls to the amount). Hops
// after it are untouched. failingSCID 0, or a channel not on the path, teaches nothing.
func (s *ProbabilisticScorer) PaymentPathFailed(path *Path, payer *btcec.PublicKey, failingSCID uint64, now time.Duration) {
	s.failed(path, payer, failingSCID, now)
}

// ProbeFailed implements ScoreUpdate, as PaymentPathFailed.
func (s *ProbabilisticScorer) ProbeFailed(path *Path, payer *btcec.PublicKey, failingSCID uint64, now time.Duration) {
	s.failed(path, payer, failingSCID, now)
}

// PaymentPathSuccessful implements ScoreUpdate: every hop's upper bound falls by the amount it moved,
// and its history records the bounds as they were before the payment (lower bound at least the amount).
func (s *ProbabilisticScorer) PaymentPathSuccessful(path *Path, payer *btcec.PublicKey, now time.Duration) {
	var buf [maxScoredHops]hopUpdate
	s.learn(s.resolve(path, payer, buf[:]), -1, hopPaid, now)
}

// ProbeSuccessful implements ScoreUpdate: every hop carried the amount (lower bounds rise to it); as the
// probe was failed back by the recipient, no liquidity moved.
func (s *ProbabilisticScorer) ProbeSuccessful(path *Path, payer *btcec.PublicKey, now time.Duration) {
	var buf [maxScoredHops]hopUpdate
	s.learn(s.resolve(path, payer, buf[:]), -1, hopCarried, now)
}

// TimePassed implements ScoreUpdate: live offsets decay by half per LiquidityOffsetHalfLife since they
// were last set; a history without a datapoint for more than HistoricalNoUpdatesHalfLife decays by half
// per half-life; a channel left with no offsets and no history is forgotten.
func (s *ProbabilisticScorer) TimePassed(now time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	hl := s.decay.HistoricalNoUpdatesHalfLife
	for scid, c := range s.channels {
		c.decayLive(now, s.decay.LiquidityOffsetHalfLife)
		if elapsed := since(now, c.historyUpdated); hl <= 0 && elapsed > 0 || hl > 0 && elapsed > uint64(hl) {
			if hl <= 0 {
				c.hist = history{}
			} else {
				c.hist.decay(float64(elapsed) / float64(hl))
			}
			c.historyUpdated = now
		}
		if c.minOffset == 0 && c.maxOffset == 0 && !c.hist.hasData() {
			delete(s.channels, scid)
		}
	}
}

// decayLive halves the live offsets per half-life elapsed since lastUpdated and moves lastUpdated to now
// (if now is later).
func (c *channelLiquidity) decayLive(now, halfLife time.Duration) {
	if now <= c.lastUpdated {
		return
	}
	if halfLife <= 0 {
		c.minOffset, c.maxOffset = 0, 0
	} else if c.minOffset|c.maxOffset != 0 {
		f := math.Exp2(-float64(since(now, c.lastUpdated)) / float64(halfLife))
		c.minOffset, c.maxOffset = scaleDown(c.minOffset, f), scaleDown(c.maxOffset, f)
	}
	c.lastUpdated = now
}

// since returns now - t, or 0 if t is not earlier, without overflowing.
func since(now, t time.Duration) uint64 {
	if now <= t {
		return 0
	}
	return uint64(now) - uint64(t)
}

// scaleDown returns floor(v*f) for f in [0, 1].
func scaleDown(v uint64, f float64) uint64 {
	if !(f < 1) {
		return v
	}
	r := float64(v) * f
	if r >= 1<<64 {
		return v
	}
	return uint64(r)
}

// failedAt: the channel could not carry amountMsat, so its liquidity is below it (LDK's
// failed_at_channel).
func (c *channelLiquidity) failedAt(dir uint8, amountMsat, capacityMsat uint64, now time.Duration) {
	_, maxOff := c.offsets(dir)
	if amountMsat < satSub(capacityMsat, *maxOff) {
		c.setMax(dir, amountMsat, capacityMsat, now)
	}
	c.trackHistory(dir, 0, capacityMsat, now)
}

// carried: the channel carried amountMsat, so its liquidity was at least that (LDK's failed_downstream).
func (c *channelLiquidity) carried(dir uint8, amountMsat, capacityMsat uint64, now time.Duration) {
	minOff, _ := c.offsets(dir)
	if amountMsat > *minOff {
		c.setMin(dir, amountMsat, capacityMsat, now)
	}
	c.trackHistory(dir, 0, capacityMsat, now)
}

// paid: the channel moved amountMsat to the other side (LDK's successful).
func (c *channelLiquidity) paid(dir uint8, amountMsat, capacityMsat uint64, now time.Duration) {
	_, maxOff := c.offsets(dir)
	c.setMax(dir, satSub(satSub(capacityMsat, *maxOff), amountMsat), capacityMsat, now)
	c.trackHistory(dir, amountMsat, capacityMsat, now)
}

func (c *channelLiquidity) setMin(dir uint8, v, capacityMsat uint64, now time.Duration) {
	minOff, maxOff := c.offsets(dir)
	*minOff = v
	if v > satSub(capacityMsat, *maxOff) {
		*maxOff = 0
	}
	c.lastUpdated = now
}

func (c *channelLiquidity) setMax(dir uint8, v, capacityMsat uint64, now time.Duration) {
	minOff, maxOff := c.offsets(dir)
	*maxOff = satSub(capacityMsat, v)
	if v < *minOff {
		*minOff = 0
	}
	c.lastUpdated = now
}

// trackHistory records the bounds as they stood before the payment (paidMsat is what a successful
// payment just moved, 0 otherwise).
func (c *channelLiquidity) trackHistory(dir uint8, paidMsat, capacityMsat uint64, now time.Duration) {
	minOff, maxOff := c.offsets(dir)
	c.hist.track(dir, satAdd(*minOff, paidMsat), satSub(*maxOff, paidMsat), capacityMsat)
	c.historyUpdated = now
}
