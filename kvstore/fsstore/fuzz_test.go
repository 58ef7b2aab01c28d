package fsstore

import (
	"bytes"
	"errors"
	"testing"
)

// FuzzDecodeRecord: decoding a value file never panics, fails only with ErrCorrupt, and accepts only
// what encodeRecord writes, byte for byte; the header decoder agrees with it.
func FuzzDecodeRecord(f *testing.F) {
	f.Add(encodeRecord(1, nil))
	f.Add(encodeRecord(7, []byte("hello")))
	f.Add(encodeRecord(1<<40, bytes.Repeat([]byte{0xff}, 300)))
	f.Add([]byte(recordMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		v, ver, err := decodeRecord(b)
		hver, hlen, _, herr := decodeRecordHeader(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			if herr == nil && hlen == uint64(len(b)-recordHeaderLen) && checksum(b[recordHeaderLen:]) == uint32FromHeader(b) {
				t.Fatal("the header and the value check out, but the record was refused")
			}
			return
		}
		if herr != nil || hver != ver || hlen != uint64(len(v)) {
			t.Fatalf("the header decoder disagrees: %d %d %v", hver, hlen, herr)
		}
		if !bytes.Equal(encodeRecord(ver, v), b) {
			t.Fatal("decoded record does not re-encode to its bytes")
		}
	})
}

func uint32FromHeader(b []byte) uint32 {
	return uint32(b[24])<<24 | uint32(b[25])<<16 | uint32(b[26])<<8 | uint32(b[27])
}

// FuzzDecodeJournal: decoding a journal never panics, fails with errTorn or ErrCorrupt, and accepts
// only what encodeJournal writes, byte for byte, with valid keys.
func FuzzDecodeJournal(f *testing.F) {
	f.Add(encodeJournal(nil))
	f.Add(encodeJournal([]change{
		{key: key("a", "", "k1"), put: true, value: []byte("v"), version: 3},
		{key: key("", "", "k2")},
		{key: key("p", "s", "k3"), put: true, version: 1},
	}))
	f.Add([]byte(journalMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, err := decodeJournal(b)
		if err != nil {
			if !errors.Is(err, errTorn) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is neither torn nor corrupt", err)
			}
			return
		}
		for _, c := range cs {
			if err := c.key.Validate(); err != nil {
				t.Fatal(err)
			}
			if c.put == (c.version == 0) {
				t.Fatalf("change %+v", c)
			}
		}
		if !bytes.Equal(encodeJournal(cs), b) {
			t.Fatal("decoded journal does not re-encode to its bytes")
		}
	})
}
