package remote

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/keys"
)

// customRefusal is a policy's own refusal type implementing Refusal.
type customRefusal struct{}

func (customRefusal) Error() string       { return "custom: too much" }
func (customRefusal) RefusalRule() string { return "custom-rule" }

// TestErrorResponse maps Inner errors to codes, and the client's errors match the original sentinels.
func TestErrorResponse(t *testing.T) {
	cases := []struct {
		err      error
		code     ErrorCode
		rule     string
		sentinel error
	}{
		{fmt.Errorf("x: %w", keys.ErrSignerPending), CodePending, "", keys.ErrSignerPending},
		{fmt.Errorf("%w: %w", keys.ErrCommitmentMismatch, errors.New("bolt3")), CodeCommitmentMismatch, "", keys.ErrCommitmentMismatch},
		{keys.ErrNoChannelParameters, CodeNoChannelParameters, "", keys.ErrNoChannelParameters},
		{fmt.Errorf("p: %w", &RefusedError{Rule: "r1", Detail: "d"}), CodeRefused, "r1", ErrRefused},
		{fmt.Errorf("p: %w", customRefusal{}), CodeRefused, "custom-rule", ErrRefused},
		{errors.New("disk full"), CodeOther, "", ErrRemote},
		{&Error{Code: CodeInvalidScript, Message: "nested remote"}, CodeInvalidScript, "", keys.ErrInvalidScript},
	}
	for _, tc := range cases {
		p := errorResponse(5, MethodSignAnchor, tc.err, nil)
		require.Equal(t, tc.code, p.Code, tc.err)
		require.Equal(t, tc.rule, p.Rule)
		b, err := EncodeResponse(p)
		require.NoError(t, err)
		d, err := DecodeResponse(b)
		require.NoError(t, err)
		got := d.Err()
		require.ErrorIs(t, got, tc.sentinel, tc.err)
		require.ErrorIs(t, got, ErrRemote)
	}
	long := errors.New(string(make([]byte, 5000)))
	b, err := EncodeResponse(errorResponse(1, MethodECDH, long, nil))
	require.NoError(t, err)
	d, err := DecodeResponse(b)
	require.NoError(t, err)
	require.Len(t, d.Message, MaxMessageLen, "long messages are cut")
}
