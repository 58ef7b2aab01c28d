package lnwire

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// loadJSON decodes testdata/name into v, keeping large integers exact.
func loadJSON(t testing.TB, name string, v any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	require.NoError(t, dec.Decode(v))
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

type bigSizeVector struct {
	Name     string `json:"name"`
	Value    uint64 `json:"value"`
	Bytes    string `json:"bytes"`
	ExpError string `json:"exp_error"`
}

// TestBigSizeDecodingVectors checks every BOLT 1 Appendix A decoding vector, including each failure and
// the kind of failure (non-canonical versus truncated).
func TestBigSizeDecodingVectors(t *testing.T) {
	var vectors []bigSizeVector
	loadJSON(t, "bigsize-decoding.json", &vectors)
	require.Len(t, vectors, 18)
	for _, v := range vectors {
		t.Run(v.Name, func(t *testing.T) {
			in := mustHex(t, v.Bytes)
			got, n, err := ReadBigSize(in)
			switch {
			case v.ExpError == "":
				require.NoError(t, err)
				require.Equal(t, v.Value, got)
				require.Equal(t, len(in), n)
				require.Equal(t, len(in), BigSizeLen(got))
			case strings.Contains(v.ExpError, "not canonical"):
				require.ErrorIs(t, err, ErrNonCanonicalBigSize)
			case strings.Contains(v.ExpError, "EOF"):
				require.ErrorIs(t, err, ErrShortRead)
			default:
				t.Fatalf("unclassified expected error %q", v.ExpError)
			}
		})
	}
}

// TestBigSizeEncodingVectors checks every BOLT 1 Appendix A encoding vector.
func TestBigSizeEncodingVectors(t *testing.T) {
	var vectors []bigSizeVector
	loadJSON(t, "bigsize-encoding.json", &vectors)
	require.Len(t, vectors, 8)
	for _, v := range vectors {
		want := mustHex(t, v.Bytes)
		require.Equal(t, want, AppendBigSize(nil, v.Value), v.Name)
		require.Equal(t, len(want), BigSizeLen(v.Value), v.Name)
		// Appending must keep the prefix.
		require.Equal(t, append([]byte{0xaa}, want...), AppendBigSize([]byte{0xaa}, v.Value), v.Name)
	}
}

// TestSignedIntegerVectors checks every BOLT 1 Appendix D vector in both directions, and the fixed-width
// encoder of the vector's width.
func TestSignedIntegerVectors(t *testing.T) {
	var vectors []struct {
		Value int64  `json:"value"`
		Bytes string `json:"bytes"`
	}
	loadJSON(t, "signed-integers.json", &vectors)
	require.Len(t, vectors, 23)
	for _, v := range vectors {
		want := mustHex(t, v.Bytes)
		require.Equal(t, want, AppendSignedInt(nil, v.Value), "encode %d", v.Value)
		require.Equal(t, len(want), SignedIntLen(v.Value), "width of %d", v.Value)
		got, err := DecodeSignedInt(want)
		require.NoError(t, err)
		require.Equal(t, v.Value, got, "decode %s", v.Bytes)
		var fixed []byte
		switch len(want) {
		case 1:
			fixed = AppendS8(nil, int8(v.Value))
		case 2:
			fixed = AppendS16(nil, int16(v.Value))
		case 4:
			fixed = AppendS32(nil, int32(v.Value))
		case 8:
			fixed = AppendS64(nil, v.Value)
		}
		require.Equal(t, want, fixed, "fixed-width encode %d", v.Value)
	}
	for _, n := range []int{0, 3, 5, 6, 7, 9} {
		_, err := DecodeSignedInt(make([]byte, n))
		require.ErrorIs(t, err, ErrInvalidSignedIntLen, "length %d", n)
	}
}

// tlvField and tlvRecordDef describe a record of the test namespaces n1 and n2 (BOLT 1, Appendix B).
type tlvField struct {
	Name string `json:"name"`
	Type string `json:"type"`
}

type tlvRecordDef struct {
	Type   uint64     `json:"type"`
	Fields []tlvField `json:"fields"`
}

// namespace is a test TLV namespace: record name -> definition.
type namespace map[string]tlvRecordDef

func loadNamespaces(t testing.TB) map[string]namespace {
	var ns map[string]namespace
	loadJSON(t, "tlv-namespaces.json", &ns)
	require.Len(t, ns, 2)
	return ns
}

// decodeField decodes one field of type typ from the front of v. It returns the value rendered the way
// the vectors write it and the bytes consumed. Truncated integers take the rest of the record, as the
// spec only allows them last.
func decodeField(typ string, v []byte) (string, int, error) {
	fixed := func(n int) error {
		if len(v) < n {
			return fmt.Errorf("%w: %s needs %d bytes, %d left", ErrShortRead, typ, n, len(v))
		}
		return nil
	}
	switch typ {
	case "tu16", "tu32", "tu64":
		maxLen := map[string]int{"tu16": 2, "tu32": 4, "tu64": 8}[typ]
		x, err := DecodeTruncatedUint(v, maxLen)
		if err != nil {
			return "", 0, err
		}
		return strconv.FormatUint(x, 10), len(v), nil
	case "u16":
		if err := fixed(2); err != nil {
			return "", 0, err
		}
		r := &reader{b: v}
		return strconv.FormatUint(uint64(r.u16(typ)), 10), 2, nil
	case "u64":
		if err := fixed(8); err != nil {
			return "", 0, err
		}
		r := &reader{b: v}
		return strconv.FormatUint(r.u64(typ), 10), 8, nil
	case "short_channel_id":
		if err := fixed(8); err != nil {
			return "", 0, err
		}
		r := &reader{b: v}
		return r.scid(typ).String(), 8, nil
	case "point":
		if err := fixed(PointSize); err != nil {
			return "", 0, err
		}
		pk, err := ParsePoint(v[:PointSize])
		if err != nil {
			return "", 0, err
		}
		return hex.EncodeToString(pk.SerializeCompressed()), PointSize, nil
	default:
		return "", 0, fmt.Errorf("test namespace uses unsupported field type %q", typ)
	}
}

// decodeInNamespace decodes stream under namespace ns: TLV framing by DecodeTLVStream, then each known
// record by its field types (with the exact length rule) and the unknown-even rule. Field errors are
// wrapped in ErrInvalidTLVValue.
func decodeInNamespace(stream []byte, ns namespace) (map[string]map[string]string, error) {
	s, err := DecodeTLVStream(stream)
	if err != nil {
		return nil, err
	}
	byType := map[uint64]string{}
	var known []uint64
	for name, def := range ns {
		byType[def.Type] = name
		known = append(known, def.Type)
	}
	if err := s.CheckUnknownEven(known...); err != nil {
		return nil, err
	}
	out := map[string]map[string]string{}
	for _, rec := range s {
		name, ok := byType[rec.Type]
		if !ok {
			continue // unknown odd: ignored
		}
		vals := map[string]string{}
		v := rec.Value
		for _, f := range ns[name].Fields {
			val, n, err := decodeField(f.Type, v)
			if err != nil {
				return nil, fmt.Errorf("%s.%s: %w: %w", name, f.Name, ErrInvalidTLVValue, err)
			}
			vals[f.Name] = val
			v = v[n:]
		}
		if len(v) != 0 {
			return nil, fmt.Errorf("%s: %w: %d bytes left over", name, ErrInvalidTLVValue, len(v))
		}
		out[name] = vals
	}
	return out, nil
}

type tlvFailureVector struct {
	Namespaces []string `json:"namespaces"`
	Scope      string   `json:"scope"`
	Stream     string   `json:"stream"`
	Section    string   `json:"section"`
	Reason     string   `json:"reason"`
}

type tlvSuccessVector struct {
	Namespaces  []string                  `json:"namespaces"`
	Stream      string                    `json:"stream"`
	Explanation string                    `json:"explanation"`
	Values      string                    `json:"values"`
	RawDecoded  map[string]map[string]any `json:"decoded"`
}

// expectedFailure maps the spec's stated reason to the sentinel(s) the decoder must report.
func expectedFailure(reason string) []error {
	switch {
	case strings.Contains(reason, "type truncated"), strings.Contains(reason, "missing length"),
		strings.Contains(reason, "length truncated"):
		return []error{ErrShortRead}
	case strings.Contains(reason, "not minimally encoded"):
		return []error{ErrNonCanonicalBigSize}
	case strings.Contains(reason, "missing value"), strings.Contains(reason, "value truncated"):
		return []error{ErrTLVLengthTooLarge}
	case strings.Contains(reason, "unknown even"):
		return []error{ErrUnknownEvenType}
	case strings.Contains(reason, "greater than encoding length for `n1`s `tlv1`"):
		return []error{ErrInvalidTLVValue, ErrTruncatedIntTooLong}
	case strings.Contains(reason, "is not minimal"):
		return []error{ErrInvalidTLVValue, ErrNonMinimalTruncatedInt}
	case strings.Contains(reason, "not a valid point"):
		return []error{ErrInvalidTLVValue, ErrInvalidPoint}
	case strings.Contains(reason, "encoding length"):
		return []error{ErrInvalidTLVValue}
	case strings.Contains(reason, "ordering"), strings.Contains(reason, "duplicate"):
		return []error{ErrTLVNotIncreasing}
	}
	return nil
}

func loadTLVVectors(t testing.TB) ([]tlvFailureVector, []tlvSuccessVector) {
	var fails []tlvFailureVector
	loadJSON(t, "tlv-decoding-failures.json", &fails)
	require.Len(t, fails, 38)
	var oks []tlvSuccessVector
	loadJSON(t, "tlv-decoding-successes.json", &oks)
	require.Len(t, oks, 19)
	return fails, oks
}

// TestTLVDecodingFailures checks that every failure vector of BOLT 1 Appendix B fails in each namespace
// it lists, for the stated reason.
func TestTLVDecodingFailures(t *testing.T) {
	ns := loadNamespaces(t)
	fails, _ := loadTLVVectors(t)
	checked := 0
	for _, v := range fails {
		want := expectedFailure(v.Reason)
		require.NotEmpty(t, want, "unclassified reason %q", v.Reason)
		require.NotEmpty(t, v.Namespaces)
		for _, name := range v.Namespaces {
			n, ok := ns[name]
			require.True(t, ok, name)
			got, err := decodeInNamespace(mustHex(t, v.Stream), n)
			require.Error(t, err, "stream %s in %s (%s) decoded to %v", v.Stream, name, v.Reason, got)
			for _, w := range want {
				require.ErrorIs(t, err, w, "stream %s in %s: %s", v.Stream, name, v.Reason)
			}
			checked++
		}
	}
	require.Equal(t, 51, checked) // 13 vectors in both namespaces, 25 in one
}

// expectedValues renders a success vector's `decoded` map with the same formatting as decodeField.
func expectedValues(t testing.TB, v tlvSuccessVector) map[string]map[string]string {
	out := map[string]map[string]string{}
	for rec, fields := range v.RawDecoded {
		out[rec] = map[string]string{}
		for f, val := range fields {
			switch x := val.(type) {
			case json.Number:
				out[rec][f] = x.String()
			case string:
				out[rec][f] = x
			default:
				t.Fatalf("unexpected value %T in %s.%s", val, rec, f)
			}
		}
	}
	return out
}

// TestTLVDecodingSuccesses checks every success vector of BOLT 1 Appendix B in each namespace it lists,
// comparing the decoded values; streams without values must decode to nothing (only ignored records).
func TestTLVDecodingSuccesses(t *testing.T) {
	ns := loadNamespaces(t)
	_, oks := loadTLVVectors(t)
	checked := 0
	for _, v := range oks {
		want := expectedValues(t, v)
		for _, name := range v.Namespaces {
			got, err := decodeInNamespace(mustHex(t, v.Stream), ns[name])
			require.NoError(t, err, "stream %q in %s", v.Stream, name)
			require.Equal(t, want, got, "stream %q in %s", v.Stream, name)
			// Framing must re-encode byte for byte.
			s, err := DecodeTLVStream(mustHex(t, v.Stream))
			require.NoError(t, err)
			require.Equal(t, v.Stream, hex.EncodeToString(s.Encode()))
			checked++
		}
	}
	require.Equal(t, 26, checked) // 7 vectors in both namespaces, 12 in n1
}

// streamTypes returns the record types of a stream that frames correctly.
func streamTypes(t testing.TB, b []byte) []uint64 {
	s, err := DecodeTLVStream(b)
	require.NoError(t, err)
	var out []uint64
	for _, r := range s {
		out = append(out, r.Type)
	}
	return out
}

// TestTLVStreamConcatenation checks the two rules of BOLT 1 "TLV Stream Decoding Failure": a valid stream
// followed by an invalid one fails, and a valid stream followed by a higher-numbered valid stream
// decodes to the union of both, for every pair of vectors in each namespace.
func TestTLVStreamConcatenation(t *testing.T) {
	ns := loadNamespaces(t)
	fails, oks := loadTLVVectors(t)
	invalidAppended, validAppended := 0, 0
	for name, n := range ns {
		var valid []tlvSuccessVector
		for _, v := range oks {
			for _, vn := range v.Namespaces {
				if vn == name {
					valid = append(valid, v)
				}
			}
		}
		for _, a := range valid {
			for _, f := range fails {
				in := false
				for _, fn := range f.Namespaces {
					in = in || fn == name
				}
				if !in {
					continue
				}
				joined := append(mustHex(t, a.Stream), mustHex(t, f.Stream)...)
				_, err := decodeInNamespace(joined, n)
				require.Error(t, err, "%s: %q + invalid %q", name, a.Stream, f.Stream)
				invalidAppended++
			}
			aTypes := streamTypes(t, mustHex(t, a.Stream))
			for _, b := range valid {
				bTypes := streamTypes(t, mustHex(t, b.Stream))
				if len(aTypes) > 0 && len(bTypes) > 0 && aTypes[len(aTypes)-1] >= bTypes[0] {
					continue // not a higher-numbered stream
				}
				joined := append(mustHex(t, a.Stream), mustHex(t, b.Stream)...)
				got, err := decodeInNamespace(joined, n)
				require.NoError(t, err, "%s: %q + %q", name, a.Stream, b.Stream)
				want := expectedValues(t, a)
				for k, v := range expectedValues(t, b) {
					want[k] = v
				}
				require.Equal(t, want, got, "%s: %q + %q", name, a.Stream, b.Stream)
				validAppended++
			}
		}
	}
	t.Logf("checked %d valid+invalid and %d valid+higher-valid concatenations", invalidAppended, validAppended)
	require.Greater(t, invalidAppended, 500)
	require.Greater(t, validAppended, 100)
}

// TestInitMessageExtensionVectors checks BOLT 1 Appendix C: the valid `init` messages decode and
// re-encode byte for byte; the invalid ones fail for the stated reason.
func TestInitMessageExtensionVectors(t *testing.T) {
	var v struct {
		Base  string `json:"base_init_message"`
		Valid []struct {
			Message     string `json:"message"`
			Explanation string `json:"explanation"`
		} `json:"valid"`
		Invalid []struct {
			Message     string `json:"message"`
			Explanation string `json:"explanation"`
		} `json:"invalid"`
	}
	loadJSON(t, "init-message-extension.json", &v)
	require.Len(t, v.Valid, 2)
	require.Len(t, v.Invalid, 3)

	base, err := DecodeMessage(mustHex(t, v.Base))
	require.NoError(t, err)
	require.IsType(t, &Init{}, base)
	require.True(t, base.(*Init).CombinedFeatures().IsEmpty())

	for _, c := range v.Valid {
		raw := mustHex(t, c.Message)
		m, err := DecodeMessage(raw)
		require.NoError(t, err, c.Explanation)
		init, ok := m.(*Init)
		require.True(t, ok)
		require.True(t, init.Features.IsEmpty())
		require.True(t, init.GlobalFeatures.IsEmpty())
		require.Nil(t, init.Networks)
		require.Nil(t, init.RemoteAddr)
		enc, err := EncodeMessage(init)
		require.NoError(t, err)
		require.Equal(t, raw, enc, c.Explanation)
		// The base message plus the kept extension records is the message.
		require.Equal(t, raw, append(mustHex(t, v.Base), init.ExtraTLVs.Encode()...))
		if strings.Contains(c.Explanation, "two unknown _odd_") {
			require.Len(t, init.ExtraTLVs, 2)
			require.Equal(t, uint64(0xc9), init.ExtraTLVs[0].Type)
			require.Equal(t, []byte{0x2a}, init.ExtraTLVs[0].Value)
			require.Equal(t, uint64(0xcb), init.ExtraTLVs[1].Type)
			require.Equal(t, []byte{0x04}, init.ExtraTLVs[1].Value)
		} else {
			require.Empty(t, init.ExtraTLVs)
		}
	}
	for _, c := range v.Invalid {
		m, err := DecodeMessage(mustHex(t, c.Message))
		require.Error(t, err, c.Explanation)
		require.Nil(t, m)
		switch {
		case strings.Contains(c.Explanation, "truncated"):
			require.ErrorIs(t, err, ErrShortRead)
		case strings.Contains(c.Explanation, "_even_"):
			require.ErrorIs(t, err, ErrUnknownEvenType)
		case strings.Contains(c.Explanation, "duplicate"):
			require.ErrorIs(t, err, ErrTLVNotIncreasing)
		default:
			t.Fatalf("unclassified invalid vector %q", c.Explanation)
		}
	}
}

// TestShortChannelIDVector checks the BOLT 7 example 539268x845x1 (u64 and hex derived by the vector
// set) through parsing, formatting and the wire encoding.
func TestShortChannelIDVector(t *testing.T) {
	var v struct {
		Examples []struct {
			HumanReadable string `json:"human_readable"`
			BlockHeight   uint32 `json:"block_height"`
			TxIndex       uint32 `json:"tx_index"`
			OutputIndex   uint16 `json:"output_index"`
			U64           uint64 `json:"u64_derived"`
			Hex           string `json:"hex_derived"`
		} `json:"examples"`
	}
	loadJSON(t, "short-channel-id.json", &v)
	require.Len(t, v.Examples, 1)
	for _, e := range v.Examples {
		scid, err := ParseShortChannelID(e.HumanReadable)
		require.NoError(t, err)
		require.Equal(t, ShortChannelID{BlockHeight: e.BlockHeight, TxIndex: e.TxIndex, OutputIndex: e.OutputIndex}, scid)
		require.Equal(t, e.U64, scid.ToUint64())
		require.Equal(t, e.Hex, hex.EncodeToString(appendU64(nil, scid.ToUint64())))
		require.Equal(t, scid, NewShortChannelIDFromUint64(e.U64))
		require.Equal(t, e.HumanReadable, scid.String())
		r := &reader{b: mustHex(t, e.Hex)}
		require.Equal(t, scid, r.scid("scid"))
		require.NoError(t, r.err)
	}
}

// TestTLVStreamHelpers checks Set/Get/Delete keep the stream ordered and encodable.
func TestTLVStreamHelpers(t *testing.T) {
	var s TLVStream
	for _, typ := range []uint64{300, 1, 70000, 5, 2} {
		s = s.Set(typ, []byte{byte(typ)})
	}
	s = s.Set(5, []byte("five"))
	require.Equal(t, []uint64{1, 2, 5, 300, 70000}, streamTypes(t, s.Encode()))
	v, ok := s.Get(5)
	require.True(t, ok)
	require.Equal(t, []byte("five"), v)
	_, ok = s.Get(6)
	require.False(t, ok)
	s = s.Delete(2).Delete(4)
	require.Equal(t, []uint64{1, 5, 300, 70000}, streamTypes(t, s.Encode()))
	require.NoError(t, s.CheckUnknownEven(300, 70000))
	require.ErrorIs(t, s.CheckUnknownEven(300), ErrUnknownEvenType)
	dec, err := DecodeTLVStream(s.Encode())
	require.NoError(t, err)
	require.Equal(t, s, dec)
}
