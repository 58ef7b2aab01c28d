package sphinx

import (
	"encoding/hex"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/lnwire"
)

func u64p(v uint64) *uint64 { return &v }

func TestHopPayloadRoundTrip(t *testing.T) {
	pathKey := testKey(7).PubKey()
	pre := [32]byte{1, 2, 3}
	cases := map[string]struct {
		p       HopPayload
		isFinal bool
	}{
		"intermediate":              {HopPayload{AmtToForwardMsat: 15000, OutgoingCLTVValue: 1500, ShortChannelID: u64p(0x0102030405060708)}, false},
		"intermediate zero amounts": {HopPayload{ShortChannelID: u64p(0)}, false},
		"final with mpp": {HopPayload{
			AmtToForwardMsat: 1 << 40, OutgoingCLTVValue: 0xffffffff,
			PaymentData:     &PaymentData{PaymentSecret: [32]byte{0xaa}, TotalMsat: 1 << 41},
			PaymentMetadata: []byte("meta"),
		}, true},
		"final zero total": {HopPayload{AmtToForwardMsat: 1, OutgoingCLTVValue: 1, PaymentData: &PaymentData{}}, true},
		"keysend": {HopPayload{AmtToForwardMsat: 5, OutgoingCLTVValue: 6, KeysendPreimage: &pre,
			Extra: lnwire.TLVStream{{Type: 65537, Value: []byte{9}}, {Type: 7, Value: nil}}}, true},
		"blinded intro":        {HopPayload{EncryptedRecipientData: []byte{1, 2, 3}, CurrentPathKey: pathKey}, false},
		"blinded intermediate": {HopPayload{EncryptedRecipientData: []byte{}}, false},
		"blinded final": {HopPayload{AmtToForwardMsat: 100, OutgoingCLTVValue: 7, TotalAmountMsat: u64p(150),
			EncryptedRecipientData: []byte{4}}, true},
		"blinded final zero": {HopPayload{TotalAmountMsat: u64p(0), EncryptedRecipientData: []byte{4}}, true},
	}
	for name, c := range cases {
		b, err := c.p.Encode()
		require.NoError(t, err, name)
		got, err := DecodeHopPayload(b, c.isFinal)
		require.NoError(t, err, name)
		b2, err := got.Encode()
		require.NoError(t, err, name)
		require.Equal(t, b, b2, name)
		require.Equal(t, c.p.AmtToForwardMsat, got.AmtToForwardMsat, name)
		require.Equal(t, c.p.OutgoingCLTVValue, got.OutgoingCLTVValue, name)
		require.Equal(t, c.p.ShortChannelID, got.ShortChannelID, name)
		require.Equal(t, c.p.PaymentData, got.PaymentData, name)
		require.Equal(t, c.p.PaymentMetadata, got.PaymentMetadata, name)
		require.Equal(t, c.p.KeysendPreimage, got.KeysendPreimage, name)
		require.Equal(t, c.p.TotalAmountMsat, got.TotalAmountMsat, name)
		require.Equal(t, c.p.EncryptedRecipientData, got.EncryptedRecipientData, name)
		if c.p.CurrentPathKey != nil {
			require.True(t, c.p.CurrentPathKey.IsEqual(got.CurrentPathKey), name)
		} else {
			require.Nil(t, got.CurrentPathKey, name)
		}
		require.Len(t, got.Extra, len(c.p.Extra), name)
	}
}

func TestHopPayloadEncodeLayout(t *testing.T) {
	// The bytes of hop 0 of the BOLT 4 onion test vector.
	p := HopPayload{AmtToForwardMsat: 15000, OutgoingCLTVValue: 1500, ShortChannelID: u64p(1)}
	b, err := p.Encode()
	require.NoError(t, err)
	require.Equal(t, "02023a98040205dc06080000000000000001", hex.EncodeToString(b))

	// Keysend's type is a 9-byte BigSize.
	pre := [32]byte{}
	b, err = (&HopPayload{AmtToForwardMsat: 1, OutgoingCLTVValue: 1, KeysendPreimage: &pre}).Encode()
	require.NoError(t, err)
	require.Equal(t, "020101040101"+"ff0000000146c6616c"+"20"+hex.EncodeToString(pre[:]), hex.EncodeToString(b))
}

func TestHopPayloadEncodeErrors(t *testing.T) {
	for _, extra := range []lnwire.TLVStream{
		{{Type: TypeAmtToForward, Value: []byte{1}}},
		{{Type: TypeKeysendPreimage, Value: make([]byte, 32)}},
		{{Type: 101, Value: nil}, {Type: 101, Value: []byte{1}}},
	} {
		_, err := (&HopPayload{Extra: extra}).Encode()
		require.ErrorIs(t, err, ErrDuplicatePayloadType)
	}
}

func TestDecodeHopPayloadErrors(t *testing.T) {
	pathKey := hex.EncodeToString(testKey(7).PubKey().SerializeCompressed())
	base := "020101" + "040101" // amt 1, cltv 1
	scid := "06080000000000000001"
	cases := []struct {
		name    string
		hex     string
		isFinal bool
		typ     uint64 // expected PayloadError.Type
		offset  uint16
	}{
		{"not a tlv stream", "02", true, 0, 0},
		{"length overruns", "0205aa", true, 0, 0},
		{"types out of order", "040101020101", true, 0, 0},
		{"duplicate type", "020101020101040101", true, 0, 0},
		{"unknown even type", base + "0a0100" + "fe0001000000", false, 0x10000, 9},
		{"unknown even type final", base + "1400", true, 20, 6},
		{"missing amt", "040101" + scid, false, TypeAmtToForward, 0},
		{"missing cltv", "020101" + scid, false, TypeOutgoingCLTVValue, 0},
		{"missing cltv final", "020101", true, TypeOutgoingCLTVValue, 0},
		{"intermediate without scid", base, false, TypeShortChannelID, 0},
		{"amt not minimal", "02020001040101", true, TypeAmtToForward, 0},
		{"amt too long", "0209010000000000000000040101", true, TypeAmtToForward, 0},
		{"cltv too long", "02010104050100000000", true, TypeOutgoingCLTVValue, 3},
		{"short scid", base + "060700000000000001", false, TypeShortChannelID, 6},
		{"long scid", base + "0609000000000000000001", false, TypeShortChannelID, 6},
		{"payment_data short", base + "081f" + hex.EncodeToString(make([]byte, 31)), true, TypePaymentData, 6},
		{"payment_data total not minimal", base + "0821" + hex.EncodeToString(make([]byte, 32)) + "00", true, TypePaymentData, 6},
		{"payment_data total too long", base + "0829" + hex.EncodeToString(make([]byte, 41)), true, TypePaymentData, 6},
		{"path key without encrypted data", base + scid + "0c21" + pathKey, false, TypeCurrentPathKey, 16},
		{"path key bad length", "0a00" + "0c20" + pathKey[:64], false, TypeCurrentPathKey, 2},
		{"path key not a point", "0a00" + "0c21" + "02" + "0000000000000000000000000000000000000000000000000000000000000005", false, TypeCurrentPathKey, 2},
		{"total_amount not minimal", base + "120100", true, TypeTotalAmountMsat, 6},
		{"keysend short", base + "ff0000000146c6616c1f" + hex.EncodeToString(make([]byte, 31)), true, TypeKeysendPreimage, 6},
		{"blinded intermediate with amt", "020101" + "0a0100", false, TypeAmtToForward, 0},
		{"blinded intermediate with odd extra", "0a0100" + "0b00", false, 11, 3},
		{"blinded intermediate with scid", "06080000000000000001" + "0a0100", false, TypeShortChannelID, 0},
		{"blinded final without total", base + "0a0100", true, TypeTotalAmountMsat, 0},
		{"blinded final without amt", "040101" + "0a0100" + "120101", true, TypeAmtToForward, 0},
		{"blinded final without cltv", "020101" + "0a0100" + "120101", true, TypeOutgoingCLTVValue, 0},
		{"blinded final with payment_data", base + "0820" + hex.EncodeToString(make([]byte, 32)) + "0a0100" + "120101", true, TypePaymentData, 6},
		{"blinded final with metadata", base + "0a0100" + "1000" + "120101", true, TypePaymentMetadata, 9},
	}
	for _, c := range cases {
		_, err := DecodeHopPayload(unhex(t, c.hex), c.isFinal)
		require.ErrorIs(t, err, ErrInvalidHopPayload, c.name)
		var pe *PayloadError
		require.ErrorAs(t, err, &pe, c.name)
		require.Equal(t, c.typ, pe.Type, c.name)
		require.Equal(t, c.offset, pe.Offset, c.name)
		f := pe.Failure()
		require.Equal(t, InvalidOnionPayload, f.Code, c.name)
		require.Equal(t, NewInvalidOnionPayload(c.typ, c.offset), f, c.name)
		require.NotEmpty(t, pe.Error())
	}
	_, err := DecodeHopPayload(unhex(t, base+"1400"), true)
	require.ErrorIs(t, err, lnwire.ErrUnknownEvenType)
}

func TestDecodeHopPayloadAccepts(t *testing.T) {
	base := "020101" + "040101"
	// A final hop may carry short_channel_id and unknown odd records; they are kept.
	p, err := DecodeHopPayload(unhex(t, base+"06080000000000000009"+"0b0161"), true)
	require.NoError(t, err)
	require.Equal(t, uint64(9), *p.ShortChannelID)
	require.Equal(t, lnwire.TLVStream{{Type: 11, Value: []byte{0x61}}}, p.Extra)
	require.Equal(t, uint64(1), p.TotalMsat())

	// An empty value is a zero truncated integer.
	p, err = DecodeHopPayload(unhex(t, "02000400"), true)
	require.NoError(t, err)
	require.Zero(t, p.AmtToForwardMsat)
	require.Zero(t, p.OutgoingCLTVValue)

	// The result does not alias the input.
	in := unhex(t, base+"1003616263")
	p, err = DecodeHopPayload(in, true)
	require.NoError(t, err)
	in[len(in)-1] = 'z'
	require.Equal(t, []byte("abc"), p.PaymentMetadata)

	// total_amount_msat stands in for payment_data's total.
	p, err = DecodeHopPayload(unhex(t, base+"1202012c"), true)
	require.NoError(t, err)
	require.Equal(t, uint64(300), p.TotalMsat())

	// A path key with the 03 prefix parses.
	k := testKey(3).PubKey()
	p, err = DecodeHopPayload(unhex(t, "0a00"+"0c21"+hex.EncodeToString(k.SerializeCompressed())), false)
	require.NoError(t, err)
	require.True(t, k.IsEqual(p.CurrentPathKey))
	var _ *btcec.PublicKey = p.CurrentPathKey
}
