package bumptx

import (
	"math"
	"math/bits"
)

// mulDiv returns a*b/c for non-negative a, b and positive c, rounded up if ceil, saturating at
// math.MaxInt64 instead of overflowing. Negative arguments count as 0.
func mulDiv(a, b, c int64, ceil bool) int64 {
	if a <= 0 || b <= 0 || c <= 0 {
		return 0
	}
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi >= uint64(c) {
		return math.MaxInt64
	}
	q, r := bits.Div64(hi, lo, uint64(c))
	if ceil && r != 0 {
		q++
	}
	if q > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(q)
}

// meetsFeerate reports whether feeSat over weight WU is at least feeratePerKw:
// feeSat*1000 ≥ feeratePerKw*weight, without overflow.
func meetsFeerate(feeSat, weight int64, feeratePerKw uint32) bool {
	return feeSat >= mulDiv(int64(feeratePerKw), weight, 1000, true)
}

// feerateOf returns feeSat over weight in sat per 1000 WU, rounded down and clamped to uint32.
func feerateOf(feeSat, weight int64) uint32 {
	r := mulDiv(feeSat, 1000, weight, false)
	if r > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(r)
}

// clampFeerate converts a feerate computed in int64 to uint32, saturating.
func clampFeerate(r int64) uint32 {
	switch {
	case r < 0:
		return 0
	case r > math.MaxUint32:
		return math.MaxUint32
	}
	return uint32(r)
}
