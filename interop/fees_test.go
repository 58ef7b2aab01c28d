//go:build interop

package interop

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
)

// feeServer serves lnd's fee.url format on loopback:
//
//	{"fee_by_block_target":{"2":N,"6":N,"144":N},"min_relay_feerate":1000}
//
// with N in sat/kvB, the same for every target (so that lnd, which asks for a 3-block target and falls
// back to 2, and lnkit, whatever target it maps a purpose to, see one feerate). lnd gets it as --fee.url
// (on regtest lnd does not cache it: every estimate is a fresh GET), lnkit as -feeurl.
type feeServer struct {
	srv       *httptest.Server
	mu        sync.Mutex
	satPerKvB uint32
	hits      atomic.Int64
}

// minRelaySatPerKvB is btcd's default minimum relay fee (1 sat/vB), reported so lnd does not fall back.
const minRelaySatPerKvB = 1000

func newFeeServer(satPerKvB uint32) *feeServer {
	f := &feeServer{satPerKvB: satPerKvB}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.hits.Add(1)
		f.mu.Lock()
		n := f.satPerKvB
		f.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"fee_by_block_target": map[string]uint32{"2": n, "6": n, "144": n},
			"min_relay_feerate":   minRelaySatPerKvB,
		})
	}))
	return f
}

func (f *feeServer) url() string { return f.srv.URL + "/fees" }

// set changes the feerate served from now on (sat/kvB).
func (f *feeServer) set(satPerKvB uint32) {
	f.mu.Lock()
	f.satPerKvB = satPerKvB
	f.mu.Unlock()
}

func (f *feeServer) get() uint32 {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.satPerKvB
}

// perKw converts sat/kvB to sat/kw (÷4, as lnd's SatPerKVByte.FeePerKWeight does).
func perKw(satPerKvB uint32) uint32 { return satPerKvB / 4 }

func (f *feeServer) close() { f.srv.Close() }
