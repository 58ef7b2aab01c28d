package invoice

// Conversions between bytes and the 5-bit groups of the bech32 data part.

// bech32Alphabet maps a 5-bit value to its bech32 character (BIP 173).
const bech32Alphabet = "qpzry9x8gf2tvdw0s3jn54khce6mua7l"

// Tagged field types (BOLT 11, "Tagged Fields"), named by their letter.
const (
	tagPaymentHash     byte = 1  // p
	tagRouteHint       byte = 3  // r
	tagFeatures        byte = 5  // 9
	tagExpiry          byte = 6  // x
	tagFallback        byte = 9  // f
	tagDescription     byte = 13 // d
	tagPaymentSecret   byte = 16 // s
	tagPayee           byte = 19 // n
	tagDescriptionHash byte = 23 // h
	tagMinFinalCLTV    byte = 24 // c
	tagMetadata        byte = 27 // m
)

const (
	timestampGroups  = 7   // 35 bits
	signatureGroups  = 104 // 520 bits: 64-byte signature and 1-byte recovery id
	hash256Groups    = 52  // 256 bits plus 4 bits of padding
	pubkeyGroups     = 53  // 264 bits plus 1 bit of padding
	maxFieldGroups   = 1023
	hopHintSize      = 33 + 8 + 4 + 4 + 2
	fieldHeaderGroup = 3 // type (5 bits) and data_length (10 bits)
)

// groupsToBytes packs 5-bit groups into bytes, big-endian. With pad, a last partial byte is completed
// with zero bits (ceil(5n/8) bytes); without, the leftover bits are dropped (floor(5n/8) bytes).
func groupsToBytes(groups []byte, pad bool) []byte {
	out := make([]byte, 0, (len(groups)*5+7)/8)
	var acc uint32
	var bits uint
	for _, g := range groups {
		acc = acc<<5 | uint32(g&31)
		bits += 5
		if bits >= 8 {
			bits -= 8
			out = append(out, byte(acc>>bits))
		}
	}
	if pad && bits > 0 {
		out = append(out, byte(acc<<(8-bits)))
	}
	return out
}

// bytesToGroups unpacks bytes into 5-bit groups, big-endian, completing the last group with zero bits
// (ceil(8n/5) groups).
func bytesToGroups(b []byte) []byte {
	out := make([]byte, 0, (len(b)*8+4)/5)
	var acc uint32
	var bits uint
	for _, c := range b {
		acc = acc<<8 | uint32(c)
		bits += 8
		for bits >= 5 {
			bits -= 5
			out = append(out, byte(acc>>bits)&31)
		}
	}
	if bits > 0 {
		out = append(out, byte(acc<<(5-bits))&31)
	}
	return out
}

// groupsToUint reads groups as a big-endian number. ok is false when it exceeds 64 bits.
func groupsToUint(groups []byte) (v uint64, ok bool) {
	for _, g := range groups {
		if v>>59 != 0 {
			return 0, false
		}
		v = v<<5 | uint64(g&31)
	}
	return v, true
}

// uintToGroups writes v big-endian in as few groups as possible (none for 0).
func uintToGroups(v uint64) []byte {
	var tmp [13]byte
	i := len(tmp)
	for v != 0 {
		i--
		tmp[i] = byte(v & 31)
		v >>= 5
	}
	return append([]byte{}, tmp[i:]...)
}

// uintToFixedGroups writes v big-endian in exactly n groups (v must fit).
func uintToFixedGroups(v uint64, n int) []byte {
	out := make([]byte, n)
	for i := n - 1; i >= 0; i-- {
		out[i] = byte(v & 31)
		v >>= 5
	}
	return out
}
