package router

import (
	"math"
	"testing"
)

// TestNegLog10Accuracy: the table-based -log10 is within 1.2e-5 of math.Log10 over (0.01, 1), monotone,
// and clamped outside.
func TestNegLog10Accuracy(t *testing.T) {
	if got := float64(log10Of2Q32) / (1 << 32); math.Abs(got-math.Log10(2)) > 1e-9 {
		t.Fatalf("log10Of2Q32 is %v", got)
	}
	worst, prev := 0.0, uint64(maxNegLog10)
	// Dense sweep, geometric from 0.01 to 1 (includes every table interval many times over).
	const n = 2_000_000
	for i := 1; i < n; i++ {
		p := math.Pow(10, -2+2*float64(i)/n)
		got := negLog10Q16(p)
		if got > prev {
			t.Fatalf("not monotone at p=%v: %d after %d", p, got, prev)
		}
		prev = got
		if err := math.Abs(float64(got)/negLog10One + math.Log10(p)); err > worst {
			worst = err
		}
	}
	if worst > 1.2e-5 {
		t.Fatalf("worst error %v", worst)
	}
	t.Logf("worst |error| of -log10 over (0.01, 1): %.3g", worst)
	for p, want := range map[float64]uint64{1: 0, 1.5: 0, 0.01: maxNegLog10, 0.001: maxNegLog10, 0: maxNegLog10,
		-1: maxNegLog10, math.NaN(): maxNegLog10, 0.1: negLog10One, 0.5: 19728} {
		if got := negLog10Q16(p); got != want {
			t.Errorf("negLog10Q16(%v) = %d, want %d", p, got, want)
		}
	}
}

func TestCombinedPenaltyNoOverflow(t *testing.T) {
	if got := combinedPenalty(math.MaxUint64, maxNegLog10, 40_000, 0); got != 80_000 {
		t.Errorf("liquidity part %d, want 80000", got)
	}
	if got := combinedPenalty(math.MaxUint64, maxNegLog10, 0, 1); got != 1<<45-1 { // 2^17 · (2^64 - 1) / 2^36
		t.Errorf("amount part %d", got)
	}
	if got := combinedPenalty(math.MaxUint64, maxNegLog10, math.MaxUint64, math.MaxUint64); got != math.MaxUint64 {
		t.Errorf("saturation %d", got)
	}
	// 1 MiB at p = 10%: the amount multiplier itself.
	if got := combinedPenalty(1<<20, negLog10One, 0, 1_250); got != 1_250 {
		t.Errorf("amount part at -log10 = 1: %d", got)
	}
}

// TestSuccessProbabilityModels checks both densities at points worked out by hand.
func TestSuccessProbabilityModels(t *testing.T) {
	cases := []struct {
		amount, lo, hi, capacity uint64
		linear, scale            bool
		want                     float64
	}{
		// Uniform: (hi - a) / (hi - lo + 1).
		{512, 0, 1024, 1024, true, false, 512.0 / 1025},
		{300, 200, 400, 1000, true, false, 100.0 / 201},
		{512, 0, 1024, 1024, true, true, 512.0 / 1025 * 64 / 78},
		// Nonlinear over the whole channel: the CDF is (x-1/2)^9 + (x-1/2)/256, so half the capacity is
		// exactly half the mass.
		{500, 0, 1000, 1000, false, false, 0.5},
		{500, 0, 1000, 1000, false, true, 0.5 * 64 / 78},
		// A tenth of the capacity: (F(1) - F(0.1)) / (F(1) - F(0)).
		{100, 0, 1000, 1000, false, false, (math.Pow(0.5, 9) + 0.5/256 + math.Pow(0.4, 9) + 0.4/256) / (2 * (math.Pow(0.5, 9) + 0.5/256))},
		// Bounds closer than float64 resolves: falls back to the uniform density.
		{1 << 62, 1<<62 - 1, 1<<62 + 1, math.MaxUint64, false, false, 1.0 / 3},
	}
	for _, c := range cases {
		got := successProbability(c.amount, c.lo, c.hi, c.capacity, c.linear, c.scale)
		if math.Abs(got-c.want) > 1e-12 {
			t.Errorf("%+v: got %v", c, got)
		}
	}
}

func TestBucketPositions(t *testing.T) {
	for b := 0; b < numBuckets; b++ {
		for pos := uint64(bucketStart[b]); pos < uint64(bucketStart[b+1]); pos++ {
			if got := posToBucket(pos); got != b {
				t.Fatalf("pos %d in bucket %d, want %d", pos, got, b)
			}
		}
	}
	for _, c := range []struct{ amount, capacity, want uint64 }{
		{0, 1000, 0}, {999, 1000, 16351}, {1000, 1000, 16367}, {1001, 1000, posTicks}, {math.MaxUint64, 1000, posTicks},
		{math.MaxUint64 - 1, math.MaxUint64, 16383}, {5, 0, posTicks},
	} {
		if got := amountToPos(c.amount, c.capacity); got != c.want {
			t.Errorf("amountToPos(%d, %d) = %d, want %d", c.amount, c.capacity, got, c.want)
		}
	}
	var b buckets
	b.track(0, 1000)
	b.track(0, 1000)
	if b[0] != 63 { // 32·2047/2048 rounds down to 31, plus 32
		t.Errorf("two datapoints: %d", b[0])
	}
	b.decay(1)
	if b[0] != 31 {
		t.Errorf("one half-life: %d", b[0])
	}
	b.decay(17)
	if b[0] != 0 || b.mask() != 0 {
		t.Errorf("17 half-lives: %d", b[0])
	}
	// A bucket saturates rather than wrapping.
	b[0] = math.MaxUint16
	b.track(0, 1000)
	if b[0] != math.MaxUint16 {
		t.Errorf("saturation: %d", b[0])
	}
}

// refHistoryProbability is LDK's double loop written plainly (every pair, successProbability for each),
// to check the factored hot loop against.
func refHistoryProbability(h *history, dir uint8, total, capacity uint64, linear bool) (float64, bool) {
	pos := amountToPos(total, capacity)
	minB, maxB, _, _ := h.directed(dir)
	tot := 0.0
	for i := 0; i < numBuckets; i++ {
		for j := 0; j < numBuckets-i; j++ {
			w := uint64(minB[i]) * uint64(maxB[j])
			tot += float64(w * w)
		}
	}
	if pos >= posTicks || tot < fullyDecayed {
		return 0, false
	}
	p := 0.0
	if minB[0] != 0 {
		full, anyB, weight := -1, 0, 0.0
		for j := 0; j < numBuckets; j++ {
			if maxB[j] >= bucketFixedOne {
				full = j
			}
			if maxB[j] != 0 {
				anyB = j
			}
			w := uint64(maxB[j]) * uint64(minB[0])
			weight += float64(w * w)
		}
		if full < 0 {
			full = anyB
		}
		if end := uint64(bucketStart[numBuckets-full]) - 1; pos < end {
			p += weight / tot * successProbability(pos, 0, end, posTicks-1, linear, true)
		}
	}
	for i := 1; i < numBuckets; i++ {
		for j := 0; j < numBuckets-i; j++ {
			start, end := uint64(bucketStart[i]), uint64(bucketStart[numBuckets-j])-1
			if pos >= end {
				break
			}
			w := uint64(minB[i]) * uint64(maxB[j])
			share := float64(w*w) / tot
			if pos < start {
				p += share
			} else {
				p += share * successProbability(pos, start, end, posTicks-1, linear, true)
			}
		}
	}
	return p, true
}

// TestHistoryProbabilityMatchesReference: the factored loop gives LDK's double loop's result on random
// histories.
func TestHistoryProbabilityMatchesReference(t *testing.T) {
	rng := uint64(0x9e3779b97f4a7c15)
	next := func() uint64 { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng }
	for n := 0; n < 3_000; n++ {
		var h history
		density := next() % 32
		for i := range h.minB {
			if next()%32 < density {
				h.minB[i] = uint16(next())
			}
			if next()%32 < density {
				h.maxB[i] = uint16(next() % 200)
			}
		}
		h.recalc()
		capacity := 1 + next()%1_000_000_000
		for k := 0; k < 8; k++ {
			total := next() % (capacity + 1)
			for _, linear := range []bool{false, true} {
				for dir := uint8(0); dir < 2; dir++ {
					got, ok := h.successProbability(dir, total, capacity, linear)
					want, wok := refHistoryProbability(&h, dir, total, capacity, linear)
					if ok != wok || math.Abs(got-want) > 1e-9 {
						t.Fatalf("history %+v, %d of %d (linear %v, dir %d): %v %v, want %v %v", h, total, capacity, linear, dir, got, ok, want, wok)
					}
				}
			}
		}
	}
}
