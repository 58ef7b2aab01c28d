package router

import (
	"bytes"
	"errors"
	"math"
	"testing"
	"time"

	"github.com/lnkit/lnkit/lnwire"
)

// learnedScorer is a scorer with live bounds and history on three channels.
func learnedScorer(tb testing.TB) *ProbabilisticScorer {
	tb.Helper()
	s := NewProbabilisticScorer(DefaultProbabilisticScoringDecayParameters(), DefaultProbabilisticScoringFeeParameters(),
		testCapacities{1: cap1, 2: cap2, 3: cap3})
	s.PaymentPathFailed(scenarioPath(amt3), keyPayer, 3, time.Hour)
	s.PaymentPathSuccessful(scenarioPath(50_000), keyPayer, 2*time.Hour)
	s.ProbeSuccessful(scenarioPath(20_000), keyPayer, 3*time.Hour)
	s.PaymentPathFailed(scenarioPath(900_000), keyPayer, 2, 4*time.Hour)
	return s
}

func TestWriteReadRoundTrip(t *testing.T) {
	s := learnedScorer(t)
	data := s.Write()
	r, err := ReadProbabilisticScorer(data, DefaultProbabilisticScoringDecayParameters(),
		DefaultProbabilisticScoringFeeParameters(), testCapacities{1: cap1, 2: cap2, 3: cap3})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Write(), data) {
		t.Fatalf("writes back differently:\n%x\n%x", data, r.Write())
	}
	if r.Len() != 3 {
		t.Fatalf("%d channels", r.Len())
	}
	for scid := uint64(1); scid <= 3; scid++ {
		for dir := uint8(0); dir < 2; dir++ {
			ch := DirectedChannel{SCID: scid, Direction: dir}
			for a := uint64(0); a < cap3; a += 99_991 {
				if x, y := s.ChannelPenaltyMsat(ch, usage(a, cap3)), r.ChannelPenaltyMsat(ch, usage(a, cap3)); x != y {
					t.Fatalf("%+v %d msat: %d before, %d after", ch, a, x, y)
				}
			}
			l1, u1, _ := s.HistoricalLiquidityBuckets(ch)
			l2, u2, _ := r.HistoricalLiquidityBuckets(ch)
			if l1 != l2 || u1 != u2 {
				t.Fatalf("%+v: history differs", ch)
			}
		}
	}
	// Both decay the same way afterwards.
	s.TimePassed(5 * time.Hour)
	r.TimePassed(5 * time.Hour)
	if !bytes.Equal(r.Write(), s.Write()) {
		t.Fatal("decayed differently")
	}
	// An empty scorer is the version byte alone.
	empty := NewProbabilisticScorer(DefaultProbabilisticScoringDecayParameters(), zeroFee(), nil).Write()
	if !bytes.Equal(empty, []byte{scorerVersion}) {
		t.Fatalf("empty scorer: %x", empty)
	}
	if e, err := ReadProbabilisticScorer(empty, DefaultProbabilisticScoringDecayParameters(), zeroFee(), nil); err != nil || e.Len() != 0 {
		t.Fatalf("empty: %v", err)
	}
}

// TestReadKeepsUnknownOddRecords: unknown odd records, top-level and per channel, survive a round trip.
func TestReadKeepsUnknownOddRecords(t *testing.T) {
	s := learnedScorer(t)
	top, err := lnwire.DecodeTLVStream(s.Write()[1:])
	if err != nil {
		t.Fatal(err)
	}
	// Add a per-channel odd record to the first channel and a top-level one.
	list, _ := top.Get(tlvScorerChannels)
	n, k, _ := lnwire.ReadBigSize(list)
	l, k2, _ := lnwire.ReadBigSize(list[k:])
	first, err := lnwire.DecodeTLVStream(list[k+k2 : k+k2+int(l)])
	if err != nil {
		t.Fatal(err)
	}
	first = first.Set(7, []byte("seven")).Set(101, nil)
	enc := first.Encode()
	newList := lnwire.AppendBigSize(nil, n)
	newList = lnwire.AppendBigSize(newList, uint64(len(enc)))
	newList = append(newList, enc...)
	newList = append(newList, list[k+k2+int(l):]...)
	top = top.Set(tlvScorerChannels, newList).Set(33, []byte{1, 2, 3})
	data := top.Append([]byte{scorerVersion})
	r, err := ReadProbabilisticScorer(data, DefaultProbabilisticScoringDecayParameters(), zeroFee(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(r.Write(), data) {
		t.Fatalf("unknown records lost:\n%x\n%x", data, r.Write())
	}
}

func TestReadRejects(t *testing.T) {
	good := learnedScorer(t).Write()
	top, _ := lnwire.DecodeTLVStream(good[1:])
	list, _ := top.Get(tlvScorerChannels)
	with := func(list []byte) []byte {
		return lnwire.TLVStream{{Type: tlvScorerChannels, Value: list}}.Append([]byte{scorerVersion})
	}
	entry := func(st lnwire.TLVStream) []byte {
		e := st.Encode()
		return append(lnwire.AppendBigSize([]byte{1}, uint64(len(e))), e...)
	}
	n, k, _ := lnwire.ReadBigSize(list)
	l, k2, _ := lnwire.ReadBigSize(list[k:])
	firstRaw := list[k+k2 : k+k2+int(l)]
	// first returns the first channel's records afresh (Set and Delete change a stream in place).
	first := func() lnwire.TLVStream {
		st, _ := lnwire.DecodeTLVStream(bytes.Clone(firstRaw))
		return st
	}
	second := list[k+k2+int(l):]
	cases := map[string]struct {
		data []byte
		err  error
	}{
		"empty":             {nil, ErrScorerMalformed},
		"version 2":         {append([]byte{2}, good[1:]...), ErrScorerVersion},
		"truncated":         {good[:len(good)-1], ErrScorerMalformed},
		"trailing byte":     {append(bytes.Clone(good), 0), ErrScorerMalformed},
		"unknown even":      {lnwire.TLVStream{{Type: 2}}.Append([]byte{scorerVersion}), ErrScorerMalformed},
		"zero channels":     {with([]byte{0}), ErrScorerMalformed},
		"count too large":   {with(append([]byte{byte(n + 1)}, list[k:]...)), ErrScorerMalformed},
		"count too small":   {with(append([]byte{byte(n - 1)}, list[k:]...)), ErrScorerMalformed},
		"unsorted":          {with(append(append([]byte{2}, second[:]...), list[k:k+k2+int(l)]...)), ErrScorerMalformed},
		"duplicate":         {with(append(append([]byte{2}, list[k:k+k2+int(l)]...), list[k:k+k2+int(l)]...)), ErrScorerMalformed},
		"missing scid":      {with(entry(first().Delete(tlvChanSCID))), ErrScorerMalformed},
		"missing buckets":   {with(entry(first().Delete(tlvChanUpperBuckets))), ErrScorerMalformed},
		"short offset":      {with(entry(first().Set(tlvChanMinOffset, []byte{1}))), ErrScorerMalformed},
		"long buckets":      {with(entry(first().Set(tlvChanLowerBuckets, make([]byte, 65)))), ErrScorerMalformed},
		"unknown even, per": {with(entry(first().Set(14, nil))), ErrScorerMalformed},
		"bad entry length":  {with([]byte{1, 0xfd}), ErrScorerMalformed},
		"entry too long":    {with([]byte{1, 200, 0}), ErrScorerMalformed},
	}
	for name, c := range cases {
		if _, err := ReadProbabilisticScorer(c.data, DefaultProbabilisticScoringDecayParameters(), zeroFee(), nil); !errors.Is(err, c.err) {
			t.Errorf("%s: %v, want %v", name, err, c.err)
		}
	}
	if _, err := ReadProbabilisticScorer(with(entry(first())), DefaultProbabilisticScoringDecayParameters(), zeroFee(), nil); err != nil {
		t.Errorf("single entry: %v", err)
	}
}

// FuzzReadProbabilisticScorer: Read never panics; what it accepts writes back byte for byte, and the
// scorer it returns can be used.
func FuzzReadProbabilisticScorer(f *testing.F) {
	f.Add(learnedScorer(f).Write())
	f.Add([]byte{scorerVersion})
	f.Add([]byte{scorerVersion, 0, 1, 0})
	caps := testCapacities{1: cap1, 2: cap2, 3: cap3}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := ReadProbabilisticScorer(data, DefaultProbabilisticScoringDecayParameters(), DefaultProbabilisticScoringFeeParameters(), caps)
		if err != nil {
			if s != nil {
				t.Fatal("scorer with an error")
			}
			if !errors.Is(err, ErrScorerMalformed) && !errors.Is(err, ErrScorerVersion) {
				t.Fatalf("unexpected error %v", err)
			}
			return
		}
		if out := s.Write(); !bytes.Equal(out, data) {
			t.Fatalf("writes back differently:\n in  %x\n out %x", data, out)
		}
		for scid := range s.channels {
			for dir := uint8(0); dir < 2; dir++ {
				ch := DirectedChannel{SCID: scid, Direction: dir}
				for _, c := range []uint64{0, 1, 1000, cap1, math.MaxUint64} {
					for _, a := range []uint64{0, 1, c / 3, c / 2, c} {
						s.ChannelPenaltyMsat(ch, usage(a, c))
					}
				}
			}
		}
		s.PaymentPathFailed(scenarioPath(amt3), keyPayer, 2, time.Hour)
		s.PaymentPathSuccessful(scenarioPath(amt3), keyPayer, time.Hour)
		s.TimePassed(math.MaxInt64)
		s.TimePassed(math.MinInt64)
		if _, err := ReadProbabilisticScorer(s.Write(), DefaultProbabilisticScoringDecayParameters(), DefaultProbabilisticScoringFeeParameters(), caps); err != nil {
			t.Fatalf("own output rejected: %v", err)
		}
	})
}
