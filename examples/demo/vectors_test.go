package main

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

// anchorsVectors is testdata/commitment-and-htlc-txs-anchors.json (BOLT 3, Appendix F).
type anchorsVectors struct {
	Common struct {
		FundingAmountSatoshi int64 `json:"funding_amount_satoshi"`
	} `json:"common"`
	HTLCs []struct {
		Index      int    `json:"index"`
		AmountMsat uint64 `json:"amount_msat"`
	} `json:"htlcs"`
	Tests []struct {
		Name                    string
		LocalBalance            uint64
		RemoteBalance           uint64
		DustLimitSatoshis       int64
		FeePerKw                uint32
		UseTestHtlcs            bool
		HtlcDescs               []json.RawMessage
		ExpectedCommitmentTxHex string
	} `json:"tests"`
}

// TestAnchorCommitmentVectors checks the demo's own commitment arithmetic (commitmentFeeSat,
// anchorCommitmentOutputsSat), which the force-close checks rely on, against every BOLT 3 anchors
// vector: from the balances, the feerate, the dust limit and the HTLCs it predicts the value of every
// output of the spec's commitment transaction (HTLC trimming with zero-fee HTLC transactions, trimmed
// to_local/to_remote, and which anchors are present).
func TestAnchorCommitmentVectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/commitment-and-htlc-txs-anchors.json")
	require.NoError(t, err)
	var v anchorsVectors
	require.NoError(t, json.Unmarshal(raw, &v))
	require.Len(t, v.Tests, 9)

	for _, tc := range v.Tests {
		t.Run(tc.Name, func(t *testing.T) {
			txBytes, err := hex.DecodeString(tc.ExpectedCommitmentTxHex)
			require.NoError(t, err)
			var tx wire.MsgTx
			require.NoError(t, tx.Deserialize(bytes.NewReader(txBytes)))

			// The HTLC set (the file's notes): HTLCs 0-4, or 1, 5, 6 for the "same amount" case.
			var used []int
			if tc.UseTestHtlcs {
				used = []int{0, 1, 2, 3, 4}
				if strings.Contains(tc.Name, "same amount and preimage") {
					used = []int{1, 5, 6}
				}
			}
			var htlcMsat uint64
			var untrimmed []int64
			for _, i := range used {
				require.Equal(t, i, v.HTLCs[i].Index)
				amt := v.HTLCs[i].AmountMsat
				htlcMsat += amt
				// Zero-fee HTLC transactions: an HTLC is trimmed only below the dust limit.
				if sat := int64(amt / 1000); sat >= tc.DustLimitSatoshis {
					untrimmed = append(untrimmed, sat)
				}
			}
			require.Equal(t, uint64(v.Common.FundingAmountSatoshi)*1000, tc.LocalBalance+tc.RemoteBalance+htlcMsat,
				"balances and HTLCs make up the funding amount")
			require.Len(t, tc.HtlcDescs, len(untrimmed), "untrimmed HTLC outputs")

			toLocal, toRemote := anchorCommitmentOutputsSat(tc.LocalBalance, tc.RemoteBalance, tc.FeePerKw, len(untrimmed))
			want := slices.Clone(untrimmed)
			hasLocal, hasRemote := toLocal >= tc.DustLimitSatoshis, toRemote >= tc.DustLimitSatoshis
			if hasLocal {
				want = append(want, toLocal)
			}
			if hasRemote {
				want = append(want, toRemote)
			}
			if hasLocal || len(untrimmed) > 0 {
				want = append(want, anchorOutputSat)
			}
			if hasRemote || len(untrimmed) > 0 {
				want = append(want, anchorOutputSat)
			}
			var got []int64
			for _, o := range tx.TxOut {
				got = append(got, o.Value)
			}
			slices.Sort(want)
			slices.Sort(got)
			require.Equal(t, want, got, "output values")

			// What is not in an output is the fee: the BOLT 3 fee plus whatever was trimmed or rounded.
			fee := v.Common.FundingAmountSatoshi - outputValue(&tx)
			require.GreaterOrEqual(t, fee, min(commitmentFeeSat(tc.FeePerKw, len(untrimmed)), int64(tc.LocalBalance/1000)))
		})
	}
}

// TestCommitmentFee checks the fee formula's weights (BOLT 3, "Fee Calculation": 1124 + 172 per HTLC
// with anchors) and its rounding down.
func TestCommitmentFee(t *testing.T) {
	require.Equal(t, int64(1124), commitmentFeeSat(1000, 0))
	require.Equal(t, int64(1124+3*172), commitmentFeeSat(1000, 3))
	require.Equal(t, int64(284), commitmentFeeSat(253, 0)) // 253 × 1124 / 1000 = 284.372
	toLocal, toRemote := anchorCommitmentOutputsSat(500_000_999, 499_999_001, 253, 0)
	require.Equal(t, int64(500_000-284-660), toLocal)
	require.Equal(t, int64(499_999), toRemote)
}
