package main

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/node/lnkitrpc"
)

// BenchmarkControlAPI calls getinfo and listchannels on one running node over its two control APIs,
// JSON-RPC over HTTP and gRPC, in the same run (BENCHMARKS.md, "Control APIs"):
//
//	cd examples/node && go test -run XXX -bench BenchmarkControlAPI -count 3 .
func BenchmarkControlAPI(b *testing.B) {
	btcd := newFakeBtcd(b)
	n := startTestNode(b, testNodeConfig(b, btcd, "-grpclisten", "127.0.0.1:0"), nil)
	p := dialAPIs(b, n)
	ctx := context.Background()
	b.Run("getinfo/jsonrpc", func(b *testing.B) {
		for b.Loop() {
			_, err := p.json.GetInfo(ctx)
			require.NoError(b, err)
		}
	})
	b.Run("getinfo/grpc", func(b *testing.B) {
		for b.Loop() {
			_, err := p.grpc.GetInfo(ctx, &lnkitrpc.GetInfoRequest{})
			require.NoError(b, err)
		}
	})
	b.Run("listchannels/jsonrpc", func(b *testing.B) {
		for b.Loop() {
			_, err := p.json.ListChannels(ctx)
			require.NoError(b, err)
		}
	})
	b.Run("listchannels/grpc", func(b *testing.B) {
		for b.Loop() {
			_, err := p.grpc.ListChannels(ctx, &lnkitrpc.ListChannelsRequest{})
			require.NoError(b, err)
		}
	})
}
