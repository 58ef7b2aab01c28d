package btcdchain

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/btcsuite/btcd/btcjson"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/chaininterface"
)

var allTargets = []chaininterface.ConfirmationTarget{
	chaininterface.MaximumFeeEstimate, chaininterface.UrgentOnChainSweep,
	chaininterface.MinAllowedAnchorChannelRemoteFee, chaininterface.MinAllowedNonAnchorChannelRemoteFee,
	chaininterface.AnchorChannelFee, chaininterface.NonAnchorChannelFee, chaininterface.ChannelCloseMinimum,
	chaininterface.OutputSpendingFee,
}

// expectRates is what EstimateFeeratePerKw answers for each target given the three buckets.
func expectRates(urgent, normal, background uint32) map[chaininterface.ConfirmationTarget]uint32 {
	floor := func(r uint32) uint32 { return max(r, chaininterface.FeeratePerKwFloor) }
	return map[chaininterface.ConfirmationTarget]uint32{
		chaininterface.MaximumFeeEstimate:                  floor(urgent),
		chaininterface.UrgentOnChainSweep:                  floor(urgent),
		chaininterface.MinAllowedAnchorChannelRemoteFee:    chaininterface.FeeratePerKwFloor,
		chaininterface.MinAllowedNonAnchorChannelRemoteFee: floor(background / 2),
		chaininterface.AnchorChannelFee:                    floor(background),
		chaininterface.NonAnchorChannelFee:                 floor(normal),
		chaininterface.ChannelCloseMinimum:                 floor(background),
		chaininterface.OutputSpendingFee:                   floor(normal),
	}
}

func checkRates(t *testing.T, c *Client, want map[chaininterface.ConfirmationTarget]uint32) {
	t.Helper()
	for _, tg := range allTargets {
		require.Equal(t, want[tg], c.EstimateFeeratePerKw(tg), tg.String())
	}
}

func testClient(t *testing.T, cfg Config, be backend) *Client {
	t.Helper()
	if cfg.Params == nil {
		cfg.Params = &chaincfg.RegressionNetParams
	}
	c := newClient(cfg, nil, be)
	t.Cleanup(c.Close)
	return c
}

func TestFeesFromBtcd(t *testing.T) {
	ctx := context.Background()
	fc := newFakeChain(1)
	c := testClient(t, Config{}, fc)
	// Before any refresh: the fallback everywhere.
	checkRates(t, c, expectRates(2500, 2500, 2500))

	// 0.0002 BTC/kvB = 20000 sat/kvB = 5000 sat/kw.
	fc.estimates = map[uint32]float64{2: 0.0002, 6: 0.0001, 144: 0.00001}
	require.NoError(t, c.RefreshFees(ctx))
	checkRates(t, c, expectRates(5000, 2500, 250))
	require.Equal(t, 3, fc.callCount("EstimateFee"))

	// btcd answers without an estimate (-1, as on regtest) for one target: that bucket falls back.
	fc.estimates = map[uint32]float64{2: 0.0004, 6: 0.0001}
	require.NoError(t, c.RefreshFees(ctx))
	checkRates(t, c, expectRates(10000, 2500, 2500))

	// btcd answers with an RPC error: fallback, not a failure.
	fc.estErr = &btcjson.RPCError{Code: btcjson.ErrRPCInternal.Code, Message: "Fee estimation disabled"}
	require.NoError(t, c.RefreshFees(ctx))
	checkRates(t, c, expectRates(2500, 2500, 2500))

	// btcd unreachable: an error, and the cache is kept.
	fc.estErr = nil
	fc.estimates = map[uint32]float64{2: 0.0003, 6: 0.0002, 144: 0.0001}
	require.NoError(t, c.RefreshFees(ctx))
	fc.estErr = errors.New("connection refused")
	require.ErrorContains(t, c.RefreshFees(ctx), "connection refused")
	checkRates(t, c, expectRates(7500, 5000, 2500))

	// A custom fallback.
	c2 := testClient(t, Config{FallbackFeeratePerKw: 300}, fc)
	checkRates(t, c2, expectRates(300, 300, 300))
}

func TestFeesFromURL(t *testing.T) {
	ctx := context.Background()
	var body atomic.Value
	var status atomic.Int32
	status.Store(200)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet {
			http.Error(w, "GET only", http.StatusMethodNotAllowed)
			return
		}
		w.WriteHeader(int(status.Load()))
		fmt.Fprint(w, body.Load().(string))
	}))
	defer srv.Close()
	fc := newFakeChain(1)
	c := testClient(t, Config{FeeURL: srv.URL, HTTPClient: srv.Client()}, fc)

	// lnd's format, sat per kvbyte; targets 2 and 6 exact, 144 falls to the largest below (100).
	body.Store(`{"fee_by_block_target": {"1": 80000, "2": 40000, "6": 20000, "100": 4000}, "min_relay_fee": 1000}`)
	require.NoError(t, c.RefreshFees(ctx))
	checkRates(t, c, expectRates(10000, 5000, 1000))
	require.Zero(t, fc.callCount("EstimateFee"), "btcd is not asked when a fee URL is set")

	// Smallest target at or above the one wanted: 3 serves 2, 10 serves 6, 200 serves 144.
	body.Store(`{"fee_by_block_target": {"3": 12000, "10": 8001, "200": 1200}}`)
	require.NoError(t, c.RefreshFees(ctx))
	checkRates(t, c, expectRates(3000, 2001, 300))

	// Failures keep the cache.
	status.Store(500)
	require.ErrorContains(t, c.RefreshFees(ctx), "HTTP 500")
	status.Store(200)
	body.Store(`{"fee_by_block_target": {}}`)
	require.ErrorIs(t, c.RefreshFees(ctx), ErrBadFeeResponse)
	body.Store(`not json`)
	require.ErrorIs(t, c.RefreshFees(ctx), ErrBadFeeResponse)
	body.Store(`{"fee_by_block_target": {"2": ` + strings.Repeat("1", maxFeeResponse) + `}}`)
	require.ErrorIs(t, c.RefreshFees(ctx), ErrBadFeeResponse)
	checkRates(t, c, expectRates(3000, 2001, 300))

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	require.ErrorIs(t, c.RefreshFees(cctx), context.Canceled)
}

func TestParseFeeResponse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[uint32]uint32
		bad  bool
	}{
		{in: `{"fee_by_block_target":{"2":12345}}`, want: map[uint32]uint32{2: 3087}}, // ceil(12345/4)
		{in: `{"fee_by_block_target":{"2":1000.5,"6":0}}`, want: map[uint32]uint32{2: 251, 6: 0}},
		{in: `{"fee_by_block_target":{"2":1e3}}`, want: map[uint32]uint32{2: 250}},
		{in: `{"fee_by_block_target":{"2":1e30}}`, want: map[uint32]uint32{2: 4294967295}},
		{in: `{"other":1,"fee_by_block_target":{"144":1012}}`, want: map[uint32]uint32{144: 253}},
		{in: `{"fee_by_block_target":{"0":1000}}`, bad: true},
		{in: `{"fee_by_block_target":{"-2":1000}}`, bad: true},
		{in: `{"fee_by_block_target":{"two":1000}}`, bad: true},
		{in: `{"fee_by_block_target":{"4294967296":1000}}`, bad: true},
		{in: `{"fee_by_block_target":{"2":-1}}`, bad: true},
		{in: `{"fee_by_block_target":{"2":"1000"}}`, want: map[uint32]uint32{2: 250}}, // a quoted number is taken
		{in: `{"fee_by_block_target":{"2":"abc"}}`, bad: true},
		{in: `{"fee_by_block_target":{"2":1e400}}`, bad: true},
		{in: `{"fee_by_block_target":[]}`, bad: true},
		{in: `{"fee_by_block_target":null}`, bad: true},
		{in: `{}`, bad: true},
		{in: ``, bad: true},
	} {
		got, err := parseFeeResponse([]byte(tc.in))
		if tc.bad {
			require.ErrorIs(t, err, ErrBadFeeResponse, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got, tc.in)
	}
}

func TestPickTarget(t *testing.T) {
	table := map[uint32]uint32{2: 200, 6: 60, 25: 25}
	for want, rate := range map[uint32]uint32{1: 200, 2: 200, 3: 60, 6: 60, 7: 25, 25: 25, 144: 25} {
		require.Equal(t, rate, pickTarget(table, want), "target %d", want)
	}
}

func TestBtcPerKvBToPerKw(t *testing.T) {
	require.Equal(t, uint32(250), btcPerKvBToPerKw(0.00001))
	require.Equal(t, uint32(2500), btcPerKvBToPerKw(0.0001))
	require.Equal(t, uint32(3), btcPerKvBToPerKw(0.0000001)) // 10 sat/kvB → 2.5 → 3
	require.Equal(t, uint32(4294967295), btcPerKvBToPerKw(1e9))
}

// FuzzParseFeeResponse: the fee-URL decoder never panics, and what it accepts is non-empty.
func FuzzParseFeeResponse(f *testing.F) {
	f.Add([]byte(`{"fee_by_block_target": {"2": 40000, "6": 20000, "144": 4000}}`))
	f.Add([]byte(`{"fee_by_block_target":{"2":1e30}}`))
	f.Add([]byte(`{"fee_by_block_target":{"0":1}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		got, err := parseFeeResponse(data)
		if err != nil {
			require.ErrorIs(t, err, ErrBadFeeResponse)
			return
		}
		require.NotEmpty(t, got)
		for k := range got {
			require.NotZero(t, k)
		}
		_ = pickTarget(got, 6)
	})
}
