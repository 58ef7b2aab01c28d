package router

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/lnkit/lnkit/lnwire"
)

// The ProbabilisticScorer's serialization: a version byte (scorerVersion), then a TLV stream (lnwire's
// codec, BOLT 1 rules):
//
//	type 0 (channels, present when there is at least one): BigSize count (> 0), then per channel a BigSize
//	       length and the channel's own TLV stream, channels in increasing short_channel_id order:
//	         0  short_channel_id   u64
//	         2  min offset, msat   u64 (direction 0's lower bound)
//	         4  max offset, msat   u64 (capacity minus direction 0's upper bound)
//	         6  last updated       i64, nanoseconds since the Unix epoch (the host's time)
//	         8  history updated    i64, nanoseconds
//	         10 lower-bound buckets 32 × u16 (direction 0, offsets from zero)
//	         12 upper-bound buckets 32 × u16 (direction 0, offsets from the capacity)
//
// Integers are big-endian. Unknown odd records, at either level, are kept and written back as they were;
// unknown even ones are refused. ReadProbabilisticScorer accepts only what Write would produce, so
// whatever it reads writes back byte for byte.

const scorerVersion = 1

// Errors of ReadProbabilisticScorer.
var (
	// ErrScorerVersion: the data's version byte is not one this code reads.
	ErrScorerVersion = errors.New("router: unknown scorer serialization version")
	// ErrScorerMalformed: the data is not a scorer serialization (framing, lengths, order, unknown even
	// records).
	ErrScorerMalformed = errors.New("router: malformed scorer serialization")
)

const (
	tlvScorerChannels = 0

	tlvChanSCID           = 0
	tlvChanMinOffset      = 2
	tlvChanMaxOffset      = 4
	tlvChanLastUpdated    = 6
	tlvChanHistoryUpdated = 8
	tlvChanLowerBuckets   = 10
	tlvChanUpperBuckets   = 12
)

var chanTypes = []uint64{tlvChanSCID, tlvChanMinOffset, tlvChanMaxOffset, tlvChanLastUpdated,
	tlvChanHistoryUpdated, tlvChanLowerBuckets, tlvChanUpperBuckets}

// Write serializes what the scorer has learned (not its parameters or capacities).
func (s *ProbabilisticScorer) Write() []byte {
	s.mu.RLock()
	defer s.mu.RUnlock()
	scids := make([]uint64, 0, len(s.channels))
	for scid := range s.channels {
		scids = append(scids, scid)
	}
	slices.Sort(scids)

	var top lnwire.TLVStream
	if len(scids) > 0 {
		list := lnwire.AppendBigSize(nil, uint64(len(scids)))
		for _, scid := range scids {
			e := s.channels[scid].encode(scid)
			list = lnwire.AppendBigSize(list, uint64(len(e)))
			list = append(list, e...)
		}
		top = top.Set(tlvScorerChannels, list)
	}
	for _, r := range s.extra {
		top = top.Set(r.Type, r.Value)
	}
	return top.Append([]byte{scorerVersion})
}

func (c *channelLiquidity) encode(scid uint64) []byte {
	u64 := func(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }
	bk := func(b *buckets) []byte {
		out := make([]byte, 0, 2*numBuckets)
		for _, v := range b {
			out = binary.BigEndian.AppendUint16(out, v)
		}
		return out
	}
	st := lnwire.TLVStream{
		{Type: tlvChanSCID, Value: u64(scid)},
		{Type: tlvChanMinOffset, Value: u64(c.minOffset)},
		{Type: tlvChanMaxOffset, Value: u64(c.maxOffset)},
		{Type: tlvChanLastUpdated, Value: u64(uint64(c.lastUpdated))},
		{Type: tlvChanHistoryUpdated, Value: u64(uint64(c.historyUpdated))},
		{Type: tlvChanLowerBuckets, Value: bk(&c.hist.minB)},
		{Type: tlvChanUpperBuckets, Value: bk(&c.hist.maxB)},
	}
	for _, r := range c.extra {
		st = st.Set(r.Type, r.Value)
	}
	return st.Encode()
}

func malformed(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrScorerMalformed, fmt.Sprintf(format, a...))
}

// ReadProbabilisticScorer reads what Write wrote, into a scorer with the given parameters and
// capacities. Errors: ErrScorerVersion, ErrScorerMalformed (wrapping lnwire's TLV errors where one
// applies). It never panics, whatever data holds.
func ReadProbabilisticScorer(data []byte, decay ProbabilisticScoringDecayParameters,
	fee ProbabilisticScoringFeeParameters, capacities ChannelCapacities) (*ProbabilisticScorer, error) {
	if len(data) == 0 {
		return nil, malformed("empty")
	}
	if data[0] != scorerVersion {
		return nil, fmt.Errorf("%w: %d", ErrScorerVersion, data[0])
	}
	data = bytes.Clone(data[1:]) // decoded values alias it
	top, err := lnwire.DecodeTLVStream(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrScorerMalformed, err)
	}
	if err := top.CheckUnknownEven(tlvScorerChannels); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrScorerMalformed, err)
	}
	s := NewProbabilisticScorer(decay, fee, capacities)
	for _, r := range top {
		if r.Type != tlvScorerChannels {
			s.extra = append(s.extra, r)
		}
	}
	list, ok := top.Get(tlvScorerChannels)
	if !ok {
		return s, nil
	}
	n, k, err := lnwire.ReadBigSize(list)
	if err != nil {
		return nil, fmt.Errorf("%w: channel count: %w", ErrScorerMalformed, err)
	}
	list = list[k:]
	if n == 0 {
		return nil, malformed("empty channel list")
	}
	prev := uint64(0)
	for i := uint64(0); i < n; i++ {
		l, k, err := lnwire.ReadBigSize(list)
		if err != nil {
			return nil, fmt.Errorf("%w: channel %d length: %w", ErrScorerMalformed, i, err)
		}
		list = list[k:]
		if l > uint64(len(list)) {
			return nil, malformed("channel %d: length %d, %d bytes left", i, l, len(list))
		}
		scid, c, err := decodeChannel(list[:l])
		if err != nil {
			return nil, fmt.Errorf("channel %d: %w", i, err)
		}
		if i > 0 && scid <= prev {
			return nil, malformed("channel %d: short_channel_id %d after %d", i, scid, prev)
		}
		prev = scid
		s.channels[scid] = c
		list = list[l:]
	}
	if len(list) != 0 {
		return nil, malformed("%d bytes after the channel list", len(list))
	}
	return s, nil
}

func decodeChannel(b []byte) (uint64, *channelLiquidity, error) {
	st, err := lnwire.DecodeTLVStream(b)
	if err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrScorerMalformed, err)
	}
	if err := st.CheckUnknownEven(chanTypes...); err != nil {
		return 0, nil, fmt.Errorf("%w: %w", ErrScorerMalformed, err)
	}
	field := func(t uint64, size int) ([]byte, error) {
		v, ok := st.Get(t)
		if !ok {
			return nil, malformed("record %d missing", t)
		}
		if len(v) != size {
			return nil, malformed("record %d is %d bytes, not %d", t, len(v), size)
		}
		return v, nil
	}
	var u [5]uint64
	for i, t := range chanTypes[:5] {
		v, err := field(t, 8)
		if err != nil {
			return 0, nil, err
		}
		u[i] = binary.BigEndian.Uint64(v)
	}
	c := &channelLiquidity{minOffset: u[1], maxOffset: u[2],
		lastUpdated: time.Duration(u[3]), historyUpdated: time.Duration(u[4])}
	for _, f := range []struct {
		t uint64
		b *buckets
	}{{tlvChanLowerBuckets, &c.hist.minB}, {tlvChanUpperBuckets, &c.hist.maxB}} {
		v, err := field(f.t, 2*numBuckets)
		if err != nil {
			return 0, nil, err
		}
		for i := range f.b {
			f.b[i] = binary.BigEndian.Uint16(v[2*i:])
		}
	}
	c.hist.recalc()
	for _, r := range st {
		if !slices.Contains(chanTypes, r.Type) {
			c.extra = append(c.extra, r)
		}
	}
	return u[0], c, nil
}
