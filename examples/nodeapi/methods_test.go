package nodeapi

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestMethodNamesAreServed: every name MethodNames returns is a method the Server dispatches (a
// call never comes back "method not found"), the list is sorted without duplicates, holds every
// Method* constant tried here, and a caller changing the slice does not change the next one.
func TestMethodNamesAreServed(t *testing.T) {
	names := MethodNames()
	require.Len(t, names, len(methods))
	for i, name := range names {
		if i > 0 {
			require.Less(t, names[i-1], name, "sorted, no duplicates")
		}
		s := NewServer(&fakeService{}, "tok", nil)
		_, rpcErr := s.call(context.Background(), name, json.RawMessage(`{"unknown_param_for_test":1}`))
		if rpcErr != nil {
			require.NotEqual(t, CodeMethodNotFound, rpcErr.Code, name)
			require.False(t, strings.HasPrefix(rpcErr.Message, "method not found"), name)
		}
	}
	for _, m := range []string{MethodGetInfo, MethodStop, MethodSendCustomMessage, MethodForwardingHistory,
		MethodUpdateChanPolicy, MethodQueryRoutes, MethodDescribeGraph} {
		require.Contains(t, names, m)
	}
	names[0] = "changed"
	require.NotEqual(t, "changed", MethodNames()[0])
}
