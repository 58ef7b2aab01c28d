package btcdchain

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"sync"

	"github.com/btcsuite/btcd/btcjson"

	"github.com/lnkit/lnkit/chaininterface"
)

// Confirmation targets, in blocks, of the three estimates the cache holds.
const (
	// UrgentBlocks serves UrgentOnChainSweep and MaximumFeeEstimate.
	UrgentBlocks uint32 = 2
	// NormalBlocks serves NonAnchorChannelFee and OutputSpendingFee.
	NormalBlocks uint32 = 6
	// BackgroundBlocks serves AnchorChannelFee, ChannelCloseMinimum and, halved,
	// MinAllowedNonAnchorChannelRemoteFee.
	BackgroundBlocks uint32 = 144
)

// maxFeeResponse bounds the size, in bytes, of a fee URL's answer.
const maxFeeResponse = 1 << 20

// ErrBadFeeResponse: a fee URL's answer is not lnd's fee JSON or holds no usable estimate.
var ErrBadFeeResponse = errors.New("btcdchain: bad fee estimate response")

// feeCache holds the last estimates, in sat per 1000 weight units, keyed by block target.
type feeCache struct {
	mu    sync.Mutex
	rates map[uint32]uint32
}

func (f *feeCache) get(blocks uint32) (uint32, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	r, ok := f.rates[blocks]
	return r, ok
}

func (f *feeCache) set(rates map[uint32]uint32) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rates == nil {
		f.rates = make(map[uint32]uint32)
	}
	for k, v := range rates {
		f.rates[k] = v
	}
}

// EstimateFeeratePerKw implements chaininterface.FeeEstimator from the cache that RefreshFees fills; it
// never touches the network. The result, in sat per 1000 weight units and never below
// chaininterface.FeeratePerKwFloor, is for each target:
//
//   - UrgentOnChainSweep, MaximumFeeEstimate: the 2-block estimate (lnkit multiplies the maximum by its
//     MaxFeeratePerKwFactor);
//   - NonAnchorChannelFee, OutputSpendingFee: the 6-block estimate;
//   - AnchorChannelFee, ChannelCloseMinimum: the 144-block estimate;
//   - MinAllowedNonAnchorChannelRemoteFee: half the 144-block estimate;
//   - MinAllowedAnchorChannelRemoteFee: the floor (anchor channels are bumped by CPFP).
//
// A bucket without an estimate (before the first RefreshFees, or when the source had none) is served
// Config.FallbackFeeratePerKw.
func (c *Client) EstimateFeeratePerKw(target chaininterface.ConfirmationTarget) uint32 {
	bucket := func(blocks uint32) uint32 {
		if r, ok := c.fees.get(blocks); ok {
			return r
		}
		return c.cfg.FallbackFeeratePerKw
	}
	var r uint32
	switch target {
	case chaininterface.UrgentOnChainSweep, chaininterface.MaximumFeeEstimate:
		r = bucket(UrgentBlocks)
	case chaininterface.AnchorChannelFee, chaininterface.ChannelCloseMinimum:
		r = bucket(BackgroundBlocks)
	case chaininterface.MinAllowedNonAnchorChannelRemoteFee:
		r = bucket(BackgroundBlocks) / 2
	case chaininterface.MinAllowedAnchorChannelRemoteFee:
		r = chaininterface.FeeratePerKwFloor
	default: // NonAnchorChannelFee, OutputSpendingFee, anything new
		r = bucket(NormalBlocks)
	}
	if r < chaininterface.FeeratePerKwFloor {
		r = chaininterface.FeeratePerKwFloor
	}
	return r
}

// RefreshFees fills the estimate cache for 2, 6 and 144 blocks. With Config.FeeURL it fetches the URL (lnd's
// format) and takes, for each target, the entry of the smallest target at or above it, else the largest
// below it. Without it, it asks btcd's estimatefee for each target (BTC per 1000 vbytes); when btcd
// answers with an error or no estimate (usual on regtest), that bucket falls back to
// Config.FallbackFeeratePerKw and RefreshFees still succeeds. The node calls it on a timer.
//
// Errors: the fee URL's transport error, HTTP status or ErrBadFeeResponse, a transport error reaching
// btcd, or the context's error; the cache then keeps its previous values.
func (c *Client) RefreshFees(ctx context.Context) error {
	targets := []uint32{UrgentBlocks, NormalBlocks, BackgroundBlocks}
	rates := make(map[uint32]uint32, len(targets))
	if c.cfg.FeeURL != "" {
		table, err := c.fetchFeeURL(ctx)
		if err != nil {
			return err
		}
		for _, t := range targets {
			rates[t] = pickTarget(table, t)
		}
		c.fees.set(rates)
		return nil
	}
	for _, t := range targets {
		btcPerKvB, err := c.be.EstimateFee(ctx, t)
		var rpcErr *btcjson.RPCError
		switch {
		case err == nil && btcPerKvB > 0 && !math.IsInf(btcPerKvB, 0):
			rates[t] = btcPerKvBToPerKw(btcPerKvB)
		case err == nil || errors.As(err, &rpcErr):
			// btcd answered, without an estimate.
			c.log.Debug("no fee estimate from btcd, using the fallback", "blocks", t, "answer", btcPerKvB, "err", err)
			rates[t] = c.cfg.FallbackFeeratePerKw
		default:
			return fmt.Errorf("btcdchain: estimatefee %d: %w", t, err)
		}
	}
	c.fees.set(rates)
	return nil
}

// btcPerKvBToPerKw converts BTC per 1000 vbytes to sat per 1000 weight units (a vbyte is 4 weight
// units): the value is rounded to whole satoshis per kvbyte, then divided by 4 rounding up.
func btcPerKvBToPerKw(btcPerKvB float64) uint32 {
	satPerKvB := math.Round(btcPerKvB * 1e8) // btcd's answer is a whole number of satoshis
	satPerKw := math.Ceil(satPerKvB / 4)
	if satPerKw >= math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(satPerKw)
}

// fetchFeeURL GETs the fee URL and parses it.
func (c *Client) fetchFeeURL(ctx context.Context) (map[uint32]uint32, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.FeeURL, nil)
	if err != nil {
		return nil, fmt.Errorf("btcdchain: fee URL: %w", err)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, fmt.Errorf("btcdchain: fee URL: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("btcdchain: fee URL: HTTP %s", resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxFeeResponse+1))
	if err != nil {
		return nil, fmt.Errorf("btcdchain: fee URL: %w", err)
	}
	if len(body) > maxFeeResponse {
		return nil, fmt.Errorf("%w: larger than %d bytes", ErrBadFeeResponse, maxFeeResponse)
	}
	return parseFeeResponse(body)
}

// parseFeeResponse decodes lnd's fee-URL JSON, {"fee_by_block_target": {"<blocks>": <sat per kvbyte>, ...}}
// (other members are ignored), into sat per 1000 weight units (sat/kvB ÷ 4, rounded up) by block target.
// Errors wrap ErrBadFeeResponse: not JSON, a target that is not a positive integer, a negative or
// non-finite rate, or no entry.
func parseFeeResponse(data []byte) (map[uint32]uint32, error) {
	var doc struct {
		FeeByBlockTarget map[string]json.Number `json:"fee_by_block_target"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadFeeResponse, err)
	}
	if len(doc.FeeByBlockTarget) == 0 {
		return nil, fmt.Errorf("%w: no fee_by_block_target entries", ErrBadFeeResponse)
	}
	out := make(map[uint32]uint32, len(doc.FeeByBlockTarget))
	for k, v := range doc.FeeByBlockTarget {
		blocks, err := strconv.ParseUint(k, 10, 32)
		if err != nil || blocks == 0 {
			return nil, fmt.Errorf("%w: target %q", ErrBadFeeResponse, k)
		}
		satPerKvB, err := strconv.ParseFloat(string(v), 64)
		if err != nil || satPerKvB < 0 || math.IsNaN(satPerKvB) || math.IsInf(satPerKvB, 0) {
			return nil, fmt.Errorf("%w: rate %q for target %s", ErrBadFeeResponse, v, k)
		}
		perKw := math.Ceil(satPerKvB / 4)
		if perKw > math.MaxUint32 {
			perKw = math.MaxUint32
		}
		out[uint32(blocks)] = uint32(perKw)
	}
	return out, nil
}

// pickTarget returns the rate of the smallest target ≥ want, else of the largest target below it. table
// must not be empty.
func pickTarget(table map[uint32]uint32, want uint32) uint32 {
	keys := make([]uint32, 0, len(table))
	for k := range table {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	for _, k := range keys {
		if k >= want {
			return table[k]
		}
	}
	return table[keys[len(keys)-1]]
}
