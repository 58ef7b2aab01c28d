package sphinx

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/lnwire"
)

// TestFailureCodeValues checks every code against the number BOLT 4 "Failure Messages" gives it
// (flags BADONION 0x8000, PERM 0x4000, NODE 0x2000, UPDATE 0x1000) and its name.
func TestFailureCodeValues(t *testing.T) {
	cases := []struct {
		code  FailureCode
		value uint16
		name  string
	}{
		{InvalidRealm, 0x4001, "invalid_realm"},
		{TemporaryNodeFailure, 0x2002, "temporary_node_failure"},
		{PermanentNodeFailure, 0x6002, "permanent_node_failure"},
		{RequiredNodeFeatureMissing, 0x6003, "required_node_feature_missing"},
		{InvalidOnionVersion, 0xc004, "invalid_onion_version"},
		{InvalidOnionHMAC, 0xc005, "invalid_onion_hmac"},
		{InvalidOnionKey, 0xc006, "invalid_onion_key"},
		{TemporaryChannelFailure, 0x1007, "temporary_channel_failure"},
		{PermanentChannelFailure, 0x4008, "permanent_channel_failure"},
		{RequiredChannelFeatureMissing, 0x4009, "required_channel_feature_missing"},
		{UnknownNextPeer, 0x400a, "unknown_next_peer"},
		{AmountBelowMinimum, 0x100b, "amount_below_minimum"},
		{FeeInsufficient, 0x100c, "fee_insufficient"},
		{IncorrectCLTVExpiry, 0x100d, "incorrect_cltv_expiry"},
		{ExpiryTooSoon, 0x100e, "expiry_too_soon"},
		{IncorrectOrUnknownPaymentDetails, 0x400f, "incorrect_or_unknown_payment_details"},
		{IncorrectPaymentAmount, 0x4010, "incorrect_payment_amount"},
		{FinalExpiryTooSoon, 17, "final_expiry_too_soon"},
		{FinalIncorrectCLTVExpiry, 18, "final_incorrect_cltv_expiry"},
		{FinalIncorrectHTLCAmount, 19, "final_incorrect_htlc_amount"},
		{ChannelDisabled, 0x1014, "channel_disabled"},
		{ExpiryTooFar, 21, "expiry_too_far"},
		{InvalidOnionPayload, 0x4016, "invalid_onion_payload"},
		{MPPTimeout, 23, "mpp_timeout"},
		{InvalidOnionBlinding, 0xc018, "invalid_onion_blinding"},
	}
	require.Len(t, failureNames, len(cases))
	for _, c := range cases {
		require.Equal(t, c.value, uint16(c.code), c.name)
		require.Equal(t, c.name, c.code.String())
		require.Equal(t, c.value&0x8000 != 0, c.code.IsBadOnion(), c.name)
		require.Equal(t, c.value&0x4000 != 0, c.code.IsPermanent(), c.name)
		require.Equal(t, c.value&0x2000 != 0, c.code.IsNode(), c.name)
		require.Equal(t, c.value&0x1000 != 0, c.code.HasUpdate(), c.name)
		// Every known code's data layout is known: an empty Data either is valid or too short.
		err := NewFailure(c.code).Validate()
		if err != nil {
			require.ErrorIs(t, err, ErrMalformedFailureMessage, c.name)
		}
	}
	require.Equal(t, "unknown_failure_code(0x1234)", FailureCode(0x1234).String())
}

func TestFailureConstructors(t *testing.T) {
	upd := []byte{0x01, 0x02, 0xde, 0xad}
	sha := [32]byte{0x11, 0x22}
	cases := []struct {
		f      FailureMessage
		code   FailureCode
		hexMsg string
	}{
		{NewIncorrectOrUnknownPaymentDetails(100, 800000), IncorrectOrUnknownPaymentDetails, "400f" + "0000000000000064" + "000c3500"},
		{NewTemporaryChannelFailure(upd), TemporaryChannelFailure, "1007" + "0004" + "0102dead"},
		{NewAmountBelowMinimum(5, upd), AmountBelowMinimum, "100b" + "0000000000000005" + "0004" + "0102dead"},
		{NewFeeInsufficient(6, upd), FeeInsufficient, "100c" + "0000000000000006" + "0004" + "0102dead"},
		{NewIncorrectCLTVExpiry(7, upd), IncorrectCLTVExpiry, "100d" + "00000007" + "0004" + "0102dead"},
		{NewExpiryTooSoon(upd), ExpiryTooSoon, "100e" + "0004" + "0102dead"},
		{NewChannelDisabled(0, upd), ChannelDisabled, "1014" + "0000" + "0004" + "0102dead"},
		{NewFinalIncorrectCLTVExpiry(800000), FinalIncorrectCLTVExpiry, "0012" + "000c3500"},
		{NewFinalIncorrectHTLCAmount(1000), FinalIncorrectHTLCAmount, "0013" + "00000000000003e8"},
		{NewInvalidOnionPayload(0x10000, 9), InvalidOnionPayload, "4016" + "fe00010000" + "0009"},
		{NewInvalidOnionVersion(sha), InvalidOnionVersion, "c004" + hex.EncodeToString(sha[:])},
		{NewInvalidOnionHMAC(sha), InvalidOnionHMAC, "c005" + hex.EncodeToString(sha[:])},
		{NewInvalidOnionKey(sha), InvalidOnionKey, "c006" + hex.EncodeToString(sha[:])},
		{NewInvalidOnionBlinding(sha), InvalidOnionBlinding, "c018" + hex.EncodeToString(sha[:])},
		{NewFailure(MPPTimeout), MPPTimeout, "0017"},
	}
	for _, c := range cases {
		name := c.code.String()
		require.Equal(t, c.code, c.f.Code, name)
		require.Equal(t, c.hexMsg, hex.EncodeToString(c.f.Encode()), name)
		dec, err := DecodeFailureMessage(c.f.Encode())
		require.NoError(t, err, name)
		require.Equal(t, c.f.Code, dec.Code, name)
		require.Equal(t, len(c.f.Data), len(dec.Data), name)
		require.NoError(t, dec.Validate(), name)
		ext, err := dec.Extension()
		require.NoError(t, err, name)
		require.Empty(t, ext, name)

		u, err := dec.ChannelUpdate()
		if c.code.HasUpdate() {
			require.NoError(t, err, name)
			require.Equal(t, upd, u, name)
		} else {
			require.ErrorIs(t, err, ErrNoSuchField, name)
		}
		s, err := dec.SHA256OfOnion()
		if c.code.IsBadOnion() {
			require.NoError(t, err, name)
			require.Equal(t, sha, s, name)
		} else {
			require.ErrorIs(t, err, ErrNoSuchField, name)
		}

		// Truncating the fields makes the message malformed, but never panics the accessors.
		if len(dec.Data) > 0 {
			short := FailureMessage{Code: dec.Code, Data: dec.Data[:len(dec.Data)-1]}
			require.ErrorIs(t, short.Validate(), ErrMalformedFailureMessage, name)
			_, err = short.Extension()
			require.ErrorIs(t, err, ErrMalformedFailureMessage, name)
		}

		// A TLV extension follows the fields.
		withExt := dec.WithExtension(lnwire.TLVStream{{Type: 1, Value: []byte{7}}})
		ext, err = withExt.Extension()
		require.NoError(t, err, name)
		require.Equal(t, lnwire.TLVStream{{Type: 1, Value: []byte{7}}}, ext, name)
		require.Equal(t, c.f.Data, dec.Data, "WithExtension leaves the original alone")
	}
}

func TestFailureMessageErrors(t *testing.T) {
	for _, b := range [][]byte{nil, {0x20}} {
		_, err := DecodeFailureMessage(b)
		require.ErrorIs(t, err, ErrMalformedFailureMessage)
	}
	unknown := FailureMessage{Code: 0x1099, Data: []byte{0, 0}}
	require.ErrorIs(t, unknown.Validate(), ErrUnknownFailureCode)
	_, err := unknown.ChannelUpdate()
	require.ErrorIs(t, err, ErrUnknownFailureCode)
	_, err = unknown.Extension()
	require.ErrorIs(t, err, ErrUnknownFailureCode)

	// A channel_update length that overruns the data.
	bad := FailureMessage{Code: TemporaryChannelFailure, Data: []byte{0x00, 0x05, 0x01}}
	_, err = bad.ChannelUpdate()
	require.ErrorIs(t, err, ErrMalformedFailureMessage)
	// A non-canonical BigSize in invalid_onion_payload.
	bad = FailureMessage{Code: InvalidOnionPayload, Data: []byte{0xfd, 0x00, 0x01, 0x00, 0x00}}
	require.ErrorIs(t, bad.Validate(), ErrMalformedFailureMessage)
	// A malformed extension.
	bad = FailureMessage{Code: MPPTimeout, Data: []byte{0x05}}
	_, err = bad.Extension()
	require.Error(t, err)
	require.NotEmpty(t, NewFailure(MPPTimeout).String())
}
