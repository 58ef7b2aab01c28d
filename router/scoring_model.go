package router

import (
	"math"
	"math/bits"
)

// This file holds the arithmetic of the ProbabilisticScorer: the success-probability model, the -log10
// approximation, the penalty formula and the historical bucket tracker. Nothing here locks or allocates.

// The -log10 of a success probability is carried as a fixed-point number with 16 fractional bits.
const (
	negLog10Shift = 16
	negLog10One   = 1 << negLog10Shift
	// maxNegLog10 bounds -log10(p) at 2 (p = 1%), as LDK's NEGATIVE_LOG10_UPPER_BOUND: a hop's liquidity
	// penalty is at most twice its multiplier, so some channel is always chosen.
	maxNegLog10 = 2 * negLog10One
	// minProbability is the probability at which maxNegLog10 is reached.
	minProbability = 0.01
	// amountPenaltyShift: the liquidity amount multipliers apply per 2^20 msat of the amount (LDK's
	// AMOUNT_PENALTY_DIVISOR); basePenaltyAmountShift: the base amount multiplier per 2^30 msat (LDK's
	// BASE_AMOUNT_PENALTY_DIVISOR).
	amountPenaltyShift     = 20
	basePenaltyAmountShift = 30
	// noSuccessDenominator scales the denominator of a probability whose lower bound is zero, in the
	// historical model (and its a-priori fallback): with no success seen, the probability is taken as
	// 64/78 (≈ 82%) of what the bounds alone give (LDK's MIN_ZERO_IMPLIES_NO_SUCCESSES_PENALTY_ON_64).
	noSuccessDenominator = 78.0 / 64.0
)

// ---- -log10 approximation ----
//
// negLog10Q16(p) returns round(-log10(p) * 2^16) for p in (0.01, 1), 0 for p >= 1 and maxNegLog10 for
// p <= 0.01 (and NaN). It reads log2 off the float64's bits: p = 2^e * (1+m) with m in [0, 1), so
// -log2(p) = -e - log2(1+m). log2(1+m) comes from a 129-entry table of log2(1 + i/128) (scaled by 2^24),
// linearly interpolated on the next 16 bits of the mantissa. -log10(p) = -log2(p) * log10(2).
//
// Error bound: linear interpolation of log2(1+m) over steps of h = 1/128 errs by at most
// h²/(8·ln 2) = 1.10e-5 (the second derivative of log2(1+m) is at most 1/ln 2, at m = 0); table rounding
// adds 3e-8 and truncating the interpolation weight to 16 bits 1.7e-7. In -log10 that is at most
// 0.30103 × 1.13e-5 = 3.4e-6, plus 7.6e-6 (half a unit of 2^-16) for the final rounding: |error| < 1.2e-5,
// i.e. under one unit of the 2^-16 result (TestNegLog10Accuracy checks 1.2e-5 over a dense sweep). The
// result is monotone non-increasing in p: the interpolation is continuous and the table increasing.
// LDK's table (log10 × 2048 indexed by the top 7 bits of an integer) errs by up to log10(1 + 1/64) ≈ 0.0067.

const (
	log2TableBits  = 7
	log2TableShift = 24
	// log10Of2Q32 is round(log10(2) * 2^32).
	log10Of2Q32 = 1292913986
)

var log2Table = func() (t [1<<log2TableBits + 1]uint32) {
	for i := range t {
		t[i] = uint32(math.Round(math.Log2(1+float64(i)/(1<<log2TableBits)) * (1 << log2TableShift)))
	}
	return t
}()

func negLog10Q16(p float64) uint64 {
	if p >= 1 {
		return 0
	}
	if !(p > minProbability) { // also NaN
		return maxNegLog10
	}
	b := math.Float64bits(p)
	e := uint64(1023 - int64(b>>52&0x7ff)) // -exponent: 1..7 for p in (0.01, 1)
	m := b & (1<<52 - 1)
	i := m >> (52 - log2TableBits)
	f := (m >> (52 - log2TableBits - 16)) & 0xffff
	lo, hi := uint64(log2Table[i]), uint64(log2Table[i+1])
	l := lo + ((hi-lo)*f)>>16 // log2(1+m) * 2^24
	neg := e<<log2TableShift - l
	r := (neg*log10Of2Q32 + 1<<(32+log2TableShift-negLog10Shift-1)) >> (32 + log2TableShift - negLog10Shift)
	if r > maxNegLog10 {
		r = maxNegLog10
	}
	return r
}

// ---- integer helpers ----

func satAdd(a, b uint64) uint64 {
	s, c := bits.Add64(a, b, 0)
	if c != 0 {
		return math.MaxUint64
	}
	return s
}

func satSub(a, b uint64) uint64 {
	if b >= a {
		return 0
	}
	return a - b
}

func satMul(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi != 0 {
		return math.MaxUint64
	}
	return lo
}

// mulShr returns a*b >> s (s < 64) without overflow, saturating at MaxUint64.
func mulShr(a, b uint64, s uint) uint64 {
	hi, lo := bits.Mul64(a, b)
	if hi>>s != 0 {
		return math.MaxUint64
	}
	if s == 0 {
		return lo
	}
	return hi<<(64-s) | lo>>s
}

// combinedPenalty is LDK's combined_penalty_msat: with nl = -log10(p) (bounded at 2),
// nl*multiplier + nl*amountMultiplier*amount/2^20, in msat.
func combinedPenalty(amountMsat, negLog10 uint64, multiplierMsat, amountMultiplierMsat uint64) uint64 {
	if negLog10 > maxNegLog10 {
		negLog10 = maxNegLog10
	}
	liquidity := mulShr(negLog10, multiplierMsat, negLog10Shift)
	amount := mulShr(satMul(negLog10, amountMultiplierMsat), amountMsat, negLog10Shift+amountPenaltyShift)
	return satAdd(liquidity, amount)
}

// ---- success probability ----

// nonlinearCDF is the (unnormalised) cumulative distribution of LDK's a-priori liquidity density
// 1/256 + 9(x - 1/2)^8 over x = liquidity/capacity in [0, 1]: liquidity is expected near either edge of
// the channel, as most channels are unbalanced.
func nonlinearCDF(x float64) float64 {
	x -= 0.5
	x2 := x * x
	x4 := x2 * x2
	return x4*x4*x + x/256
}

// successProbability is the probability that a channel whose liquidity lies in [minMsat, maxMsat] can
// carry amountMsat, for minMsat <= amountMsat < maxMsat <= capacityMsat: the mass of the liquidity density
// above the amount over its mass between the bounds. linear selects the uniform density (Pickhardt and
// Richter's (max - amount) / (max - min + 1)); otherwise LDK's nonlinear one. noSuccessScale applies the
// 64/78 factor when minMsat is zero (historical model only).
func successProbability(amountMsat, minMsat, maxMsat, capacityMsat uint64, linear, noSuccessScale bool) float64 {
	var num, den float64
	if !linear {
		inv := 1 / float64(capacityMsat)
		top := nonlinearCDF(float64(maxMsat) * inv)
		num = top - nonlinearCDF(float64(amountMsat)*inv)
		den = top - nonlinearCDF(float64(minMsat)*inv)
	}
	if linear || !(den > 0) { // bounds too close together for float64: fall back to the uniform density
		num = float64(maxMsat - amountMsat)
		den = float64(maxMsat-minMsat) + 1
	}
	if noSuccessScale && minMsat == 0 {
		den *= noSuccessDenominator
	}
	return num / den
}

// ---- historical buckets ----
//
// As LDK (0.0.117 on): the history of where a channel's lower and upper liquidity bounds were seen is kept
// as two sets of 32 "leaky" buckets of 16-bit fixed-point counts (5 fractional bits). A bound is placed
// by its position in 1/16384ths of the capacity; buckets are narrow near the edges of the channel (one
// 16384th) and an eighth of it in the middle. Each new datapoint multiplies every bucket by 2047/2048 and
// adds 1.0 (32) to the bucket the bound falls in; without new data, TimePassed halves the buckets every
// historical_no_updates_half_life.

const (
	posTicks       = 1 << 14
	bucketFixedOne = 32
	numBuckets     = 32
)

// bucketStart[i] is the first position of bucket i; bucketStart[32] = posTicks.
var bucketStart = [numBuckets + 1]uint16{
	0, 1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 3072, 4096, 6144, 8192,
	10240, 12288, 13312, 14336, 15360, 15872, 16128, 16256, 16320, 16352, 16368, 16376,
	16380, 16382, 16383, 16384,
}

// amountToPos returns amount*2^14/(capacity+1), or posTicks if that is not below posTicks.
func amountToPos(amountMsat, capacityMsat uint64) uint64 {
	d := satAdd(capacityMsat, 1)
	hi, lo := bits.Mul64(amountMsat, posTicks)
	if hi >= d {
		return posTicks
	}
	q, _ := bits.Div64(hi, lo, d)
	if q > posTicks {
		return posTicks
	}
	return q
}

func posToBucket(pos uint64) int {
	for b := 0; b < numBuckets; b++ {
		if pos < uint64(bucketStart[b+1]) {
			return b
		}
	}
	return numBuckets - 1
}

type buckets [numBuckets]uint16

func (b *buckets) track(offsetMsat, capacityMsat uint64) {
	pos := amountToPos(offsetMsat, capacityMsat)
	if pos >= posTicks {
		return
	}
	for i := range b {
		b[i] = uint16(uint32(b[i]) * 2047 / 2048)
	}
	k := posToBucket(pos)
	if b[k] > math.MaxUint16-bucketFixedOne {
		b[k] = math.MaxUint16
	} else {
		b[k] += bucketFixedOne
	}
}

// decay multiplies every bucket by 2^-halfLives (rounded down to 16 fractional bits).
func (b *buckets) decay(halfLives float64) {
	f := uint64(0)
	if halfLives < 64 {
		f = uint64(math.Exp2(-halfLives) * (1 << 16))
	}
	for i := range b {
		b[i] = uint16(uint64(b[i]) * f >> 16)
	}
}

func (b *buckets) mask() (m uint32) {
	for i, v := range b {
		if v != 0 {
			m |= 1 << i
		}
	}
	return m
}

// history holds the two bucket sets of one channel, in direction 0 (node_1 to node_2): minB tracks the
// lower bound as an offset from zero, maxB the upper bound as an offset from the capacity. Direction 1
// sees them swapped, as the live offsets.
type history struct {
	// total is the sum of every valid (min, max) pair's weight: (min[i]·max[j])² over i + j < 32 (a
	// lower bound below the upper bound). LDK (0.1 on) raises the pair weights to this power, which
	// scored best in its tests.
	total            float64
	minMask, maxMask uint32 // buckets that are not zero, so the hot loop skips the rest
	minB, maxB       buckets
}

func (h *history) hasData() bool { return h.minMask|h.maxMask != 0 }

func (h *history) recalc() {
	h.minMask, h.maxMask = h.minB.mask(), h.maxB.mask()
	t := 0.0
	for mm := h.minMask; mm != 0; mm &= mm - 1 {
		i := bits.TrailingZeros32(mm)
		for xm := h.maxMask & (1<<(numBuckets-i) - 1); xm != 0; xm &= xm - 1 {
			j := bits.TrailingZeros32(xm)
			w := uint64(h.minB[i]) * uint64(h.maxB[j])
			t += float64(w * w)
		}
	}
	h.total = t
}

// directed returns the lower-bound and upper-bound buckets as seen in direction dir.
func (h *history) directed(dir uint8) (minB, maxB *buckets, minMask, maxMask uint32) {
	if dir == 0 {
		return &h.minB, &h.maxB, h.minMask, h.maxMask
	}
	return &h.maxB, &h.minB, h.maxMask, h.minMask
}

func (h *history) track(dir uint8, minOffsetMsat, maxOffsetMsat, capacityMsat uint64) {
	minB, maxB, _, _ := h.directed(dir)
	minB.track(minOffsetMsat, capacityMsat)
	maxB.track(maxOffsetMsat, capacityMsat)
	h.recalc()
}

func (h *history) decay(halfLives float64) {
	h.minB.decay(halfLives)
	h.maxB.decay(halfLives)
	h.recalc()
}

// histCDF holds nonlinearCDF at the bucket edges, in positions over lastPos (posTicks - 1), as
// successProbability computes it: start[i] at bucketStart[i], end[j] at bucketStart[32-j] - 1; and, for
// the valid pairs (i + j < 32), the inverse denominators of successProbability with those bounds:
// invSpan[i][j] = 1/(end[j] - start[i]) for the nonlinear density and invSpanLinear[i][j] =
// 1/(maxEnd - minStart + 1) for the uniform one, so the hot loop does not divide.
var histCDF = func() (t struct {
	start, end             [numBuckets]float64
	invSpan, invSpanLinear [numBuckets][numBuckets]float64
}) {
	inv := 1 / float64(posTicks-1)
	for i := range numBuckets {
		t.start[i] = nonlinearCDF(float64(bucketStart[i]) * inv)
		t.end[i] = nonlinearCDF(float64(bucketStart[numBuckets-i]-1) * inv)
	}
	for i := range numBuckets {
		for j := 0; j < numBuckets-i; j++ {
			if d := t.end[j] - t.start[i]; d > 0 {
				t.invSpan[i][j] = 1 / d
			}
			t.invSpanLinear[i][j] = 1 / (float64(bucketStart[numBuckets-j]-1-bucketStart[i]) + 1)
		}
	}
	return t
}()

// fullyDecayed: below one full datapoint pair (1.0 in each bucket, to the 4th power) the history is
// ignored and the a-priori model used instead.
const fullyDecayed = float64(bucketFixedOne) * bucketFixedOne * bucketFixedOne * bucketFixedOne

// successProbability is LDK's historical estimate: every (lower bucket, upper bucket) pair with the lower
// below the upper is taken as a pair of liquidity bounds, weighted by its share of total, and the
// probabilities those bounds give are summed. The lowest lower bucket (usually a failure) is paired only
// with the highest upper bucket that holds a full point, so that failures at ever lower amounts do not
// each count as evidence that the higher ones might pass. ok is false when there is not enough history.
func (h *history) successProbability(dir uint8, totalMsat, capacityMsat uint64, linear bool) (p float64, ok bool) {
	pos := amountToPos(totalMsat, capacityMsat)
	if pos >= posTicks || h.total < fullyDecayed {
		return 0, false
	}
	minB, maxB, minMask, maxMask := h.directed(dir)
	const lastPos = posTicks - 1
	if minB[0] != 0 {
		highestFull, highestAny := -1, 0
		weight := 0.0
		for xm := maxMask; xm != 0; xm &= xm - 1 {
			j := bits.TrailingZeros32(xm)
			if maxB[j] >= bucketFixedOne {
				highestFull = j
			}
			highestAny = j
			w := uint64(maxB[j]) * uint64(minB[0])
			weight += float64(w * w)
		}
		sel := highestFull
		if sel < 0 {
			sel = highestAny
		}
		maxEnd := uint64(bucketStart[numBuckets-sel]) - 1
		if pos < maxEnd {
			p += weight / h.total * successProbability(pos, 0, maxEnd, lastPos, linear, true)
		}
	}
	// The other pairs. A pair's weight is minB[i]²·maxB[j]² and, with the amount inside the pair's bounds,
	// its probability is num_j · invSpan[i][j]: num_j depends on the upper bucket only and the span's
	// inverse is precomputed (histCDF), so per upper bucket in use and ending above the amount we keep
	// bw = maxB[j]² and aw = maxB[j]²·num_j, and each lower bucket sums a row against them. Pairs whose
	// lower bound is above the amount count in full. The sum is normalised by total once.
	cdfPos := 0.0
	if !linear {
		cdfPos = nonlinearCDF(float64(pos) * (1 / float64(lastPos)))
	}
	var bw, aw [numBuckets]float64
	usable := uint32(0)
	for xm := maxMask; xm != 0; xm &= xm - 1 {
		j := bits.TrailingZeros32(xm)
		maxEnd := uint64(bucketStart[numBuckets-j]) - 1
		if pos >= maxEnd {
			break // this upper bound ends below the amount, and those of larger j lower still
		}
		usable |= 1 << j
		bw[j] = float64(uint64(maxB[j]) * uint64(maxB[j]))
		if linear {
			aw[j] = bw[j] * float64(maxEnd-pos)
		} else {
			aw[j] = bw[j] * (histCDF.end[j] - cdfPos)
		}
	}
	spans := &histCDF.invSpan
	if linear {
		spans = &histCDF.invSpanLinear
	}
	sum := 0.0
	for mm := minMask &^ 1; mm != 0; mm &= mm - 1 {
		i := bits.TrailingZeros32(mm)
		m := usable & (1<<(numBuckets-i) - 1) // upper buckets above this lower one
		if m == 0 {
			break // and fewer still for larger i
		}
		inner := 0.0
		if pos < uint64(bucketStart[i]) {
			for ; m != 0; m &= m - 1 {
				inner += bw[bits.TrailingZeros32(m)]
			}
		} else {
			row := &spans[i]
			for ; m != 0; m &= m - 1 {
				j := bits.TrailingZeros32(m)
				inner += aw[j] * row[j]
			}
		}
		wi := float64(minB[i])
		sum += wi * wi * inner
	}
	p += sum / h.total
	return p, true
}
