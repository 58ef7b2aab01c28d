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

// FuzzLogRecord: decoding a log record never panics, fails only with errTorn or ErrCorrupt, and
// accepts only what encodeLogRecord writes, byte for byte, with valid keys; decoding a whole log
// agrees with it record by record, fails only with ErrCorrupt, and only when a damaged record is
// followed by one that checks out.
func FuzzLogRecord(f *testing.F) {
	r1 := encodeLogRecord([]change{{key: key("a", "", "k1"), put: true, value: []byte("v"), version: 3}})
	r2 := encodeLogRecord([]change{
		{key: key("", "", "k2")},
		{key: key("p", "s", "k3"), put: true, version: 1},
		{key: key("chan", "", "c1"), put: true, value: bytes.Repeat([]byte{0}, 64), version: 1 << 33},
	})
	f.Add(r1)
	f.Add(r2)
	f.Add(append(bytes.Clone(r1), r2...))
	f.Add(append(bytes.Clone(r1), r2[:len(r2)-3]...))
	f.Add(append(append(bytes.Clone(r1), make([]byte, len(r2))...), r1...))
	f.Add(encodeLogRecord(nil))
	f.Add(encodeJournal([]change{{key: key("a", "", "k")}}))
	f.Add([]byte(logMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		cs, n, err := decodeLogRecord(b)
		if err != nil {
			if !errors.Is(err, errTorn) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v is neither torn nor corrupt", err)
			}
		} else {
			for _, c := range cs {
				if err := c.key.Validate(); err != nil {
					t.Fatal(err)
				}
				if c.put == (c.version == 0) {
					t.Fatalf("change %+v", c)
				}
			}
			if !bytes.Equal(encodeLogRecord(cs), b[:n]) {
				t.Fatal("decoded record does not re-encode to its bytes")
			}
		}
		records, n, err := decodeLog(b)
		if err != nil {
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("log error %v is not ErrCorrupt", err)
			}
			return
		}
		var again []byte
		for _, cs := range records {
			again = append(again, encodeLogRecord(cs)...)
		}
		if !bytes.Equal(again, b[:n]) {
			t.Fatal("the log's records do not re-encode to its bytes")
		}
		if n < len(b) {
			if _, _, err := decodeLogRecord(b[n:]); !errors.Is(err, errTorn) {
				t.Fatalf("the tail at %d was dropped, but decodes: %v", n, err)
			}
		}
	})
}
