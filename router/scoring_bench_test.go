package router

import (
	"testing"
	"time"
)

// benchScorer has n channels with live bounds and a few history datapoints each (scids 1..n), default
// parameters.
func benchScorer(b *testing.B, n int) *ProbabilisticScorer {
	b.Helper()
	caps := testCapacities{}
	for i := 1; i <= n; i++ {
		caps[uint64(i)] = 1_000_000_000
	}
	s := NewProbabilisticScorer(DefaultProbabilisticScoringDecayParameters(), DefaultProbabilisticScoringFeeParameters(), caps)
	for i := 1; i <= n; i++ {
		p := testPath(testHop{keyC, uint64(i), 300_000_000})
		s.ProbeSuccessful(testPath(testHop{keyC, uint64(i), 50_000_000}), keyB, 0)
		s.PaymentPathFailed(p, keyB, uint64(i), time.Second)
		s.PaymentPathFailed(testPath(testHop{keyC, uint64(i), 200_000_000}), keyB, uint64(i), 2*time.Second)
	}
	return s
}

// BenchmarkChannelPenalty measures ChannelPenaltyMsat with the default parameters on a scorer that
// knows 10,000 channels: a channel it knows nothing about, and one with live bounds and history (an
// amount inside the bounds, so the live and historical models both run).
func BenchmarkChannelPenalty(b *testing.B) {
	s := benchScorer(b, 10_000)
	dir := dirOf(keyB, keyC)
	amounts := [...]uint64{1_000_000, 20_000_000, 80_000_000, 120_000_000, 150_000_000, 190_000_000, 250_000_000, 400_000_000}
	run := func(b *testing.B, scid uint64, f ProbabilisticScoringFeeParameters) {
		s.SetFeeParameters(f)
		b.ReportAllocs()
		var sink uint64
		for i := 0; b.Loop(); i++ {
			sink += s.ChannelPenaltyMsat(DirectedChannel{SCID: scid + uint64(i&1023), Direction: dir},
				ChannelUsage{AmountMsat: amounts[i&7], EffectiveCapacityMsat: 1_000_000_000})
		}
		_ = sink
	}
	live := DefaultProbabilisticScoringFeeParameters()
	live.LiquidityPenaltyMultiplierMsat = 30_000
	b.Run("unknown", func(b *testing.B) { run(b, 1_000_000, DefaultProbabilisticScoringFeeParameters()) })
	b.Run("known", func(b *testing.B) { run(b, 1, DefaultProbabilisticScoringFeeParameters()) })
	b.Run("known-live-and-historical", func(b *testing.B) { run(b, 1, live) })
	// For comparison: a scorer that knows no channel at all skips the map.
	b.Run("unknown-empty-scorer", func(b *testing.B) {
		e := NewProbabilisticScorer(DefaultProbabilisticScoringDecayParameters(), DefaultProbabilisticScoringFeeParameters(), nil)
		b.ReportAllocs()
		var sink uint64
		for i := 0; b.Loop(); i++ {
			sink += e.ChannelPenaltyMsat(DirectedChannel{SCID: uint64(i & 1023), Direction: dir},
				ChannelUsage{AmountMsat: amounts[i&7], EffectiveCapacityMsat: 1_000_000_000})
		}
		_ = sink
	})
	// The worst case: every one of the 32 × 32 bucket pairs holds data (528 valid pairs).
	b.Run("known-every-bucket", func(b *testing.B) {
		v := benchScorer(b, 1)
		c := v.channels[1]
		for i := range c.hist.minB {
			c.hist.minB[i], c.hist.maxB[i] = uint16(32+i), uint16(64-i)
		}
		c.hist.recalc()
		b.ReportAllocs()
		var sink uint64
		for i := 0; b.Loop(); i++ {
			sink += v.ChannelPenaltyMsat(DirectedChannel{SCID: 1, Direction: dir},
				ChannelUsage{AmountMsat: amounts[i&7], EffectiveCapacityMsat: 1_000_000_000})
		}
		_ = sink
	})
	// A channel with a long, varied history (12 lower and 4 upper buckets in use).
	b.Run("known-busy-history", func(b *testing.B) {
		v := benchScorer(b, 1)
		for i := 0; i < 64; i++ {
			a := uint64(i) * 15_000_000
			v.ProbeSuccessful(testPath(testHop{keyC, 1, a}), keyB, 3*time.Second)
			v.PaymentPathFailed(testPath(testHop{keyC, 1, a + 500_000_000}), keyB, 1, 3*time.Second)
		}
		b.ReportAllocs()
		var sink uint64
		for i := 0; b.Loop(); i++ {
			sink += v.ChannelPenaltyMsat(DirectedChannel{SCID: 1, Direction: dir},
				ChannelUsage{AmountMsat: amounts[i&7], EffectiveCapacityMsat: 1_000_000_000})
		}
		_ = sink
	})
}

// BenchmarkScorerUpdate measures a three-hop failure (two carried, one failed) and TimePassed over
// 10,000 channels.
func BenchmarkScorerUpdate(b *testing.B) {
	s := NewProbabilisticScorer(DefaultProbabilisticScoringDecayParameters(), DefaultProbabilisticScoringFeeParameters(),
		testCapacities{1: cap1, 2: cap2, 3: cap3})
	b.Run("PaymentPathFailed", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			s.PaymentPathFailed(scenarioPath(uint64(i%1_000_000)), keyPayer, 3, time.Duration(i))
		}
	})
	b.Run("TimePassed-10k", func(b *testing.B) {
		v := benchScorer(b, 10_000)
		b.ReportAllocs()
		for i := 0; b.Loop(); i++ {
			v.TimePassed(time.Duration(i+3) * time.Second)
		}
	})
}
