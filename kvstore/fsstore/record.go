package fsstore

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"

	"github.com/lnkit/lnkit/kvstore"
)

// The on-disk encodings: a value file (header, then the value), the batch journal (header, then the
// batch's operations) and the log (a sequence of records, each encoded as a journal is, under its
// own magic). All are checked by CRC-32C before anything in them is trusted.

const (
	recordMagic   = "lnkv"
	journalMagic  = "lnkj"
	logMagic      = "lnkl"
	formatVersion = 1

	// recordHeaderLen: magic[4] format[1] zero[3] version[8] length[8] valueCRC[4] headerCRC[4].
	recordHeaderLen = 32
	// journalHeaderLen: magic[4] format[1] zero[3] bodyLen[8] bodyCRC[4] headerCRC[4].
	journalHeaderLen = 24
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

// encodeRecordHeader returns the header of the value file that holds value at version.
func encodeRecordHeader(version uint64, value []byte) []byte {
	h := make([]byte, recordHeaderLen)
	copy(h, recordMagic)
	h[4] = formatVersion
	binary.BigEndian.PutUint64(h[8:], version)
	binary.BigEndian.PutUint64(h[16:], uint64(len(value)))
	binary.BigEndian.PutUint32(h[24:], checksum(value))
	binary.BigEndian.PutUint32(h[28:], checksum(h[:28]))
	return h
}

// encodeRecord returns a whole value file (tests and fuzzing; the store writes the header and the
// value separately).
func encodeRecord(version uint64, value []byte) []byte {
	return append(encodeRecordHeader(version, value), value...)
}

// decodeRecordHeader checks a value file's header (at least its first recordHeaderLen bytes) and
// returns the value's version, length and checksum. Errors wrap ErrCorrupt.
func decodeRecordHeader(b []byte) (version, length uint64, valueCRC uint32, err error) {
	if len(b) < recordHeaderLen {
		return 0, 0, 0, fmt.Errorf("%w: %d bytes, shorter than the %d-byte header", ErrCorrupt, len(b), recordHeaderLen)
	}
	if string(b[:4]) != recordMagic {
		return 0, 0, 0, fmt.Errorf("%w: not a value file (magic %q)", ErrCorrupt, b[:4])
	}
	if got, want := binary.BigEndian.Uint32(b[28:]), checksum(b[:28]); got != want {
		return 0, 0, 0, fmt.Errorf("%w: header checksum %08x, computed %08x", ErrCorrupt, got, want)
	}
	if b[4] != formatVersion || b[5]|b[6]|b[7] != 0 {
		return 0, 0, 0, fmt.Errorf("%w: unknown value file format %d (flags %x)", ErrCorrupt, b[4], b[5:8])
	}
	version = binary.BigEndian.Uint64(b[8:])
	if version == 0 {
		return 0, 0, 0, fmt.Errorf("%w: version 0 in a value file", ErrCorrupt)
	}
	return version, binary.BigEndian.Uint64(b[16:]), binary.BigEndian.Uint32(b[24:]), nil
}

// decodeRecord checks a whole value file and returns its value (a subslice of b) and version. Errors
// wrap ErrCorrupt.
func decodeRecord(b []byte) (value []byte, version uint64, err error) {
	version, length, sum, err := decodeRecordHeader(b)
	if err != nil {
		return nil, 0, err
	}
	if have := uint64(len(b) - recordHeaderLen); have != length {
		return nil, 0, fmt.Errorf("%w: %d value bytes, the header says %d", ErrCorrupt, have, length)
	}
	value = b[recordHeaderLen:]
	if got := checksum(value); got != sum {
		return nil, 0, fmt.Errorf("%w: value checksum %08x, the header says %08x", ErrCorrupt, got, sum)
	}
	return value, version, nil
}

// change is what a batch does to one key, as the journal records it: a put of value at version, or a
// removal.
type change struct {
	key     kvstore.Key
	put     bool
	value   []byte
	version uint64 // of the put
}

const (
	journalPut    = 1
	journalRemove = 2
)

// encodeJournal returns the journal of changes. Each change is
//
//	kind[1] len[1] primary len[1] secondary len[1] key, then for a put: version[8] length[8] value
func encodeJournal(cs []change) []byte { return encodeBatch(journalMagic, cs, false) }

// encodeLogRecord returns the log record of one change of the store (the changes of its keys), and
// points the value of each put of cs at its copy in the record, so that cs no longer shares memory
// with the caller.
func encodeLogRecord(cs []change) []byte { return encodeBatch(logMagic, cs, true) }

// encodeBatch encodes cs under a header with magic: a journal, or one record of the log.
func encodeBatch(magic string, cs []change, repoint bool) []byte {
	n := journalHeaderLen
	for _, c := range cs {
		n += 4 + len(c.key.Primary) + len(c.key.Secondary) + len(c.key.Key)
		if c.put {
			n += 16 + len(c.value)
		}
	}
	b := make([]byte, journalHeaderLen, n) // exactly n: b never moves, so cs may point into it
	for i, c := range cs {
		kind := byte(journalRemove)
		if c.put {
			kind = journalPut
		}
		b = append(b, kind)
		for _, s := range [3]string{c.key.Primary, c.key.Secondary, c.key.Key} {
			b = append(b, byte(len(s)))
			b = append(b, s...)
		}
		if c.put {
			b = binary.BigEndian.AppendUint64(b, c.version)
			b = binary.BigEndian.AppendUint64(b, uint64(len(c.value)))
			b = append(b, c.value...)
			if repoint {
				cs[i].value = b[len(b)-len(c.value) : len(b) : len(b)]
			}
		}
	}
	copy(b, magic)
	b[4] = formatVersion
	binary.BigEndian.PutUint64(b[8:], uint64(len(b)-journalHeaderLen))
	binary.BigEndian.PutUint32(b[16:], checksum(b[journalHeaderLen:]))
	binary.BigEndian.PutUint32(b[20:], checksum(b[:20]))
	return b
}

// errTorn marks a journal that was not completely written: its header or body does not check out.
// Such a journal was never synced, so no change of its batch was made: it is discarded.
var errTorn = errors.New("fsstore: torn journal")

// decodeJournal returns the changes of a journal. A journal whose header, length or checksums do not
// match returns an error wrapping errTorn. One that checks out but cannot be understood (an unknown
// format, a bad key) returns an error wrapping ErrCorrupt: it may be a committed batch, so it must not
// be dropped. The values are subslices of b.
func decodeJournal(b []byte) ([]change, error) {
	cs, n, err := decodeBatch(journalMagic, b)
	if err == nil && n != len(b) {
		return nil, fmt.Errorf("%w: %d bytes after the journal's %d", errTorn, len(b)-n, n)
	}
	return cs, err
}

// decodeLogRecord decodes the log record at the start of b and returns its changes and its length.
// Errors wrap errTorn (the record is not completely and correctly there: b ends inside it, or a
// checksum fails) or ErrCorrupt (it checks out but cannot be understood). The values are subslices
// of b.
func decodeLogRecord(b []byte) ([]change, int, error) { return decodeBatch(logMagic, b) }

// decodeBatch decodes the batch encoded under magic at the start of b (see decodeJournal) and
// returns its length.
func decodeBatch(magic string, b []byte) ([]change, int, error) {
	if len(b) < journalHeaderLen {
		return nil, 0, fmt.Errorf("%w: %d bytes", errTorn, len(b))
	}
	if string(b[:4]) != magic {
		return nil, 0, fmt.Errorf("%w: magic %q", errTorn, b[:4])
	}
	if binary.BigEndian.Uint32(b[20:]) != checksum(b[:20]) {
		return nil, 0, fmt.Errorf("%w: header checksum", errTorn)
	}
	n := binary.BigEndian.Uint64(b[8:])
	if n > uint64(len(b)-journalHeaderLen) {
		return nil, 0, fmt.Errorf("%w: %d body bytes, the header says %d", errTorn, len(b)-journalHeaderLen, n)
	}
	body := b[journalHeaderLen : journalHeaderLen+int(n)]
	if binary.BigEndian.Uint32(b[16:]) != checksum(body) {
		return nil, 0, fmt.Errorf("%w: body checksum", errTorn)
	}
	if b[4] != formatVersion || b[5]|b[6]|b[7] != 0 {
		return nil, 0, fmt.Errorf("%w: %q of unknown format %d (flags %x)", ErrCorrupt, magic, b[4], b[5:8])
	}
	var cs []change
	for len(body) > 0 {
		c, rest, err := decodeChange(body)
		if err != nil {
			return nil, 0, fmt.Errorf("%w: %q change %d: %v", ErrCorrupt, magic, len(cs), err)
		}
		cs = append(cs, c)
		body = rest
	}
	return cs, journalHeaderLen + int(n), nil
}

// decodeLog returns the changes of every record of a log, in order, and the length of the log they
// fill. What follows them is a torn tail, discarded: the last record being written when the
// process or machine stopped, never synced, so that its change never returned (a partial record, a
// bad checksum, or bytes that are not a record, such as the zeros a file system may leave).
//
// A damaged record followed by a record that checks out is not a torn tail: if the later record was
// synced, so was the damaged one (an fsync covers every byte written before it), whose change and
// every later one returned; skipping it, or stopping at it, would lose committed changes without a
// word. The store cannot tell that case from a disk that wrote two unsynced records out of order, so
// it refuses the log: an error wrapping ErrCorrupt that gives the offset. (The operator may cut the
// log there, accepting the loss of the changes after it.) A record that checks out but cannot be
// understood also gives ErrCorrupt.
func decodeLog(b []byte) (records [][]change, n int, err error) {
	for n < len(b) {
		cs, m, err := decodeLogRecord(b[n:])
		if err == nil {
			records = append(records, cs)
			n += m
			continue
		}
		if !errors.Is(err, errTorn) {
			return nil, 0, fmt.Errorf("log record at offset %d: %w", n, err)
		}
		if at, ok := findLogRecord(b, n); ok {
			return nil, 0, fmt.Errorf("%w: damaged log record at offset %d (%v) followed by a good one at offset %d", ErrCorrupt, n, err, at)
		}
		return records, n, nil
	}
	return records, n, nil
}

// findLogRecord looks for a record that checks out after the damaged one at offset bad of the log
// b: from the end the damaged record's header gives, if that header checks out, else from the next
// byte.
func findLogRecord(b []byte, bad int) (int, bool) {
	from := bad + 1
	if h := b[bad:]; len(h) >= journalHeaderLen && string(h[:4]) == logMagic && binary.BigEndian.Uint32(h[20:]) == checksum(h[:20]) {
		n := binary.BigEndian.Uint64(h[8:])
		if n > uint64(len(h)-journalHeaderLen) {
			return 0, false // the record runs past the end: the tail was being written
		}
		from = bad + journalHeaderLen + int(n)
	}
	for from < len(b) {
		i := bytes.Index(b[from:], []byte(logMagic))
		if i < 0 {
			return 0, false
		}
		at := from + i
		if _, _, err := decodeLogRecord(b[at:]); !errors.Is(err, errTorn) {
			return at, true
		}
		from = at + 1
	}
	return 0, false
}

func decodeChange(b []byte) (change, []byte, error) {
	var c change
	kind := b[0]
	if kind != journalPut && kind != journalRemove {
		return c, nil, fmt.Errorf("kind %d", kind)
	}
	c.put = kind == journalPut
	b = b[1:]
	var parts [3]string
	for i := range parts {
		if len(b) < 1 || len(b) < 1+int(b[0]) {
			return c, nil, errors.New("short key")
		}
		parts[i] = string(b[1 : 1+int(b[0])])
		b = b[1+int(b[0]):]
	}
	c.key = kvstore.Key{Primary: parts[0], Secondary: parts[1], Key: parts[2]}
	if err := c.key.Validate(); err != nil {
		return c, nil, err
	}
	if !c.put {
		return c, b, nil
	}
	if len(b) < 16 {
		return c, nil, errors.New("short put")
	}
	c.version = binary.BigEndian.Uint64(b)
	n := binary.BigEndian.Uint64(b[8:])
	b = b[16:]
	if c.version == 0 {
		return c, nil, errors.New("put at version 0")
	}
	if n > uint64(len(b)) {
		return c, nil, fmt.Errorf("value of %d bytes, %d left", n, len(b))
	}
	c.value = b[:n:n]
	return c, b[n:], nil
}
