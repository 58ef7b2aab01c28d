package testchain

// Replays the signed transactions of the BOLT 3 test vectors (testdata/, copied from the project's
// shared vectors) on a chain: every funding, commitment and HTLC transaction in them must be accepted
// by the script-checking mempool at the first height the rules allow, and refused, with the right
// error, just before (coinbase maturity, nLockTime, BIP 68) or when a signature is tampered with.

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

func loadJSON(t *testing.T, name string, v any) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, v))
}

func unhex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err, s)
	return b
}

func decodeTx(t *testing.T, s string) *wire.MsgTx {
	t.Helper()
	tx := &wire.MsgTx{}
	require.NoError(t, tx.Deserialize(bytes.NewReader(unhex(t, s))))
	return tx
}

func decodeBlock(t *testing.T, s string) *wire.MsgBlock {
	t.Helper()
	blk := &wire.MsgBlock{}
	require.NoError(t, blk.Deserialize(bytes.NewReader(unhex(t, s))))
	return blk
}

func hashOf(t *testing.T, s string) chainhash.Hash {
	t.Helper()
	h, err := chainhash.NewHashFromStr(s)
	require.NoError(t, err)
	return *h
}

func sumOut(tx *wire.MsgTx) int64 {
	var s int64
	for _, o := range tx.TxOut {
		s += o.Value
	}
	return s
}

// mineTo mines until the tip is at height h (h must not be below the tip).
func mineTo(t *testing.T, c *Chain, h uint32) {
	t.Helper()
	require.GreaterOrEqual(t, h, c.Height())
	c.MineBlocks(int(h - c.Height()))
	require.Equal(t, h, c.Height())
}

type fundingVector struct {
	Block0Genesis         string `json:"block0_genesis"`
	Block1                string `json:"block1"`
	Block1CoinbaseTx      string `json:"block1_coinbase_tx"`
	Block1CoinbasePrivkey string `json:"block1_coinbase_privkey"`
	LocalFundingPubkey    string `json:"local_funding_pubkey"`
	RemoteFundingPubkey   string `json:"remote_funding_pubkey"`
	InputTxid             string `json:"input_txid"`
	InputIndex            uint32 `json:"input_index"`
	InputSatoshis         int64  `json:"input_satoshis"`
	FundingSatoshis       int64  `json:"funding_satoshis"`
	ChangeSatoshis        int64  `json:"change_satoshis"`
	FundingOutputIndex    uint32 `json:"funding_output_index"`
	FeeratePerKw          int64  `json:"feerate_per_kw"`
	FundingTx             string `json:"funding_tx"`
	FundingTxid           string `json:"funding_txid"`
	FundingWitnessScript  string `json:"funding_witness_script"`
}

// bolt3FundedChain replays Appendix B: the test chain's block 1, then the funding transaction, which
// spends block 1's coinbase and so must wait for coinbase maturity. It returns the chain with the
// funding transaction confirmed at height 101 and the funding outpoint.
func bolt3FundedChain(t *testing.T) (*Chain, wire.OutPoint) {
	t.Helper()
	var v fundingVector
	loadJSON(t, "funding-tx.json", &v)
	c := New(&chaincfg.RegressionNetParams)
	// The vectors include a commitment at 0 sat/kw and zero-fee HTLC transactions: they test scripts
	// and locks, not fees, so the chain relays whatever they pay.
	c.SetMinRelayFeeratePerKw(0)

	genesis := decodeBlock(t, v.Block0Genesis)
	require.Equal(t, *chaincfg.RegressionNetParams.GenesisHash, genesis.BlockHash(), "the vectors' genesis is regtest's")
	block1 := decodeBlock(t, v.Block1)
	require.NoError(t, c.ConnectBlock(block1))
	require.Equal(t, block1.BlockHash(), c.BestBlock().Hash)

	cb := block1.Transactions[0]
	var cbRaw bytes.Buffer
	require.NoError(t, cb.Serialize(&cbRaw))
	require.Equal(t, v.Block1CoinbaseTx, hex.EncodeToString(cbRaw.Bytes()))
	require.Equal(t, hashOf(t, v.InputTxid), cb.TxHash())
	cbOut, ok := c.UTXO(wire.OutPoint{Hash: cb.TxHash(), Index: v.InputIndex})
	require.True(t, ok)
	require.Equal(t, v.InputSatoshis, cbOut.Value)
	priv, _ := btcec.PrivKeyFromBytes(unhex(t, v.Block1CoinbasePrivkey)[:32])
	require.Equal(t, p2pkhOf(priv.PubKey()), cbOut.PkScript, "coinbase pays the vector's key")

	funding := decodeTx(t, v.FundingTx)
	require.Equal(t, hashOf(t, v.FundingTxid), funding.TxHash())
	require.Equal(t, wire.OutPoint{Hash: cb.TxHash(), Index: v.InputIndex}, funding.TxIn[0].PreviousOutPoint)
	fundOut := funding.TxOut[v.FundingOutputIndex]
	require.Equal(t, v.FundingSatoshis, fundOut.Value)
	ws := unhex(t, v.FundingWitnessScript)
	require.Equal(t, p2wshScript(ws), fundOut.PkScript)
	require.True(t, bytes.Contains(ws, unhex(t, v.LocalFundingPubkey)))
	require.True(t, bytes.Contains(ws, unhex(t, v.RemoteFundingPubkey)))
	require.Equal(t, v.ChangeSatoshis, funding.TxOut[1-v.FundingOutputIndex].Value)

	// Block 1's coinbase matures at height 101: refused in blocks 2..100.
	require.ErrorIs(t, c.SubmitTransaction(funding), ErrImmatureCoinbase)
	mineTo(t, c, 99)
	require.ErrorIs(t, c.SubmitTransaction(funding), ErrImmatureCoinbase)
	// A tampered signature is refused once the rest is valid.
	mineTo(t, c, 100)
	bad := funding.Copy()
	bad.TxIn[0].SignatureScript[10] ^= 0x01
	require.ErrorIs(t, c.SubmitTransaction(bad), ErrScriptFailed)

	fee, err := c.CheckTransaction(funding)
	require.NoError(t, err)
	require.Equal(t, v.InputSatoshis-v.FundingSatoshis-v.ChangeSatoshis, fee)
	weight := int64(funding.SerializeSizeStripped()) * 4
	require.Equal(t, weight*v.FeeratePerKw/1000, fee, "fee is weight × feerate_per_kw / 1000")
	require.NoError(t, c.SubmitTransaction(funding))
	c.MineBlocks(1)
	require.Equal(t, uint32(1), c.Confirmations(funding.TxHash()))
	return c, wire.OutPoint{Hash: funding.TxHash(), Index: v.FundingOutputIndex}
}

func TestBOLT3FundingTransaction(t *testing.T) {
	c, op := bolt3FundedChain(t)
	require.Equal(t, uint32(101), c.Height())
	_, ok := c.UTXO(op)
	require.True(t, ok)
}

type legacyVectors struct {
	Common struct {
		FundingTxID          string `json:"funding_tx_id"`
		FundingOutputIndex   uint32 `json:"funding_output_index"`
		FundingAmountSatoshi int64  `json:"funding_amount_satoshi"`
		FundingWitnessScript string `json:"funding_witness_script"`
	} `json:"common"`
	HTLCs []struct {
		Index  int    `json:"index"`
		Expiry uint32 `json:"expiry"`
	} `json:"htlcs"`
	Tests []struct {
		Name    string `json:"name"`
		Outputs []struct {
			Type          string `json:"type"`
			AmountSat     int64  `json:"amount_sat"`
			WitnessScript string `json:"witness_script"`
			P2WPKHPubkey  string `json:"p2wpkh_pubkey"`
		} `json:"outputs"`
		ActualCommitmentFeeSat *int64 `json:"actual_commitment_fee_sat"`
		CommitTx               string `json:"commit_tx"`
		NumHTLCs               int    `json:"num_htlcs"`
		HTLCTxs                []struct {
			CommitOutputIndex uint32 `json:"commit_output_index"`
			Type              string `json:"type"`
			HTLCIndex         int    `json:"htlc_index"`
			Tx                string `json:"tx"`
		} `json:"htlc_txs"`
	} `json:"tests"`
}

func TestBOLT3LegacyCommitmentAndHTLCTransactions(t *testing.T) {
	var v legacyVectors
	loadJSON(t, "commitment-and-htlc-txs-legacy.json", &v)
	require.Len(t, v.Tests, 16)
	fundingOp := wire.OutPoint{Hash: hashOf(t, v.Common.FundingTxID), Index: v.Common.FundingOutputIndex}
	expiry := map[int]uint32{}
	for _, h := range v.HTLCs {
		expiry[h.Index] = h.Expiry
	}

	htlcTxs := 0
	for _, tc := range v.Tests {
		t.Run(tc.Name, func(t *testing.T) {
			c, op := bolt3FundedChain(t)
			require.Equal(t, fundingOp, op)
			fundOut, _ := c.UTXO(op)
			require.Equal(t, v.Common.FundingAmountSatoshi, fundOut.Value)
			require.Equal(t, p2wshScript(unhex(t, v.Common.FundingWitnessScript)), fundOut.PkScript)

			commit := decodeTx(t, tc.CommitTx)
			require.Equal(t, op, commit.TxIn[0].PreviousOutPoint)
			if tc.ActualCommitmentFeeSat != nil {
				require.Len(t, commit.TxOut, len(tc.Outputs), "every output listed")
			} else {
				require.LessOrEqual(t, len(tc.Outputs), len(commit.TxOut), "the last case lists only its HTLC outputs")
			}
			for _, o := range tc.Outputs {
				want := &wire.TxOut{Value: o.AmountSat}
				if o.Type == "to_remote" {
					pub, err := btcec.ParsePubKey(unhex(t, o.P2WPKHPubkey))
					require.NoError(t, err)
					want.PkScript = p2wpkhOf(pub)
				} else {
					want.PkScript = p2wshScript(unhex(t, o.WitnessScript))
				}
				require.Contains(t, commit.TxOut, want, "output %s", o.Type)
			}

			// Tampering with either funding signature is refused.
			for _, idx := range []int{1, 2} {
				bad := commit.Copy()
				bad.TxIn[0].Witness[idx][8] ^= 0x01
				require.ErrorIs(t, c.SubmitTransaction(bad), ErrScriptFailed)
			}
			// The commitment's time-based locktime (0x20…) is final against the fake median time.
			require.GreaterOrEqual(t, commit.LockTime, uint32(lockTimeThreshold))
			fee, err := c.CheckTransaction(commit)
			require.NoError(t, err)
			require.Equal(t, v.Common.FundingAmountSatoshi-sumOut(commit), fee)
			if tc.ActualCommitmentFeeSat != nil {
				require.Equal(t, *tc.ActualCommitmentFeeSat, fee)
			}
			require.NoError(t, c.SubmitTransaction(commit))

			require.Len(t, tc.HTLCTxs, tc.NumHTLCs)
			var timeouts []*wire.MsgTx
			for _, h := range tc.HTLCTxs {
				tx := decodeTx(t, h.Tx)
				require.Equal(t, wire.OutPoint{Hash: commit.TxHash(), Index: h.CommitOutputIndex}, tx.TxIn[0].PreviousOutPoint)
				switch h.Type {
				case "htlc_success":
					require.Zero(t, tx.LockTime)
					// Spends the unconfirmed commitment output at once (nSequence 0: no relative lock).
					bad := tx.Copy()
					bad.TxIn[0].Witness[1][8] ^= 0x01 // remote HTLC signature
					require.ErrorIs(t, c.SubmitTransaction(bad), ErrScriptFailed)
					require.NoError(t, c.SubmitTransaction(tx))
				case "htlc_timeout":
					require.Equal(t, expiry[h.HTLCIndex], tx.LockTime)
					require.ErrorIs(t, c.SubmitTransaction(tx), ErrLockTimeNotFinal)
					timeouts = append(timeouts, tx)
				default:
					t.Fatalf("unknown HTLC tx type %q", h.Type)
				}
				htlcTxs++
			}
			sort.Slice(timeouts, func(i, j int) bool { return timeouts[i].LockTime < timeouts[j].LockTime })
			for _, tx := range timeouts {
				mineTo(t, c, tx.LockTime-1)
				require.ErrorIs(t, c.SubmitTransaction(tx), ErrLockTimeNotFinal)
				mineTo(t, c, tx.LockTime)
				bad := tx.Copy()
				bad.TxIn[0].Witness[2][8] ^= 0x01 // local HTLC signature
				require.ErrorIs(t, c.SubmitTransaction(bad), ErrScriptFailed)
				require.NoError(t, c.SubmitTransaction(tx))
			}
			c.MineBlocks(1)
			require.Empty(t, c.Mempool())
			require.NotZero(t, c.Confirmations(commit.TxHash()))
			for _, h := range tc.HTLCTxs {
				require.NotZero(t, c.Confirmations(decodeTx(t, h.Tx).TxHash()))
			}
		})
	}
	require.Equal(t, 33, htlcTxs, "every HTLC transaction of Appendix C replayed")
}

type anchorVectors struct {
	Common struct {
		FundingAmountSatoshi int64 `json:"funding_amount_satoshi"`
	} `json:"common"`
	Tests []struct {
		Name                    string
		HtlcDescs               []struct{ RemoteSigHex, ResolutionTxHex string }
		ExpectedCommitmentTxHex string
		RemoteSigHex            string
	} `json:"tests"`
}

func TestBOLT3AnchorCommitmentAndHTLCTransactions(t *testing.T) {
	var v anchorVectors
	loadJSON(t, "commitment-and-htlc-txs-anchors.json", &v)
	require.Len(t, v.Tests, 9)
	htlcTxs := 0
	for _, tc := range v.Tests {
		t.Run(tc.Name, func(t *testing.T) {
			c, op := bolt3FundedChain(t)
			commit := decodeTx(t, tc.ExpectedCommitmentTxHex)
			require.Equal(t, op, commit.TxIn[0].PreviousOutPoint)
			// The spec's remote signature is the one in the witness.
			require.Contains(t, commit.TxIn[0].Witness, append(unhex(t, tc.RemoteSigHex), byte(txscript.SigHashAll)))
			anchors := 0
			for _, o := range commit.TxOut {
				if o.Value == 330 && txscript.IsPayToWitnessScriptHash(o.PkScript) {
					anchors++
					require.Equal(t, o.Value, DustThresholdSat(o), "anchors sit exactly at the P2WSH dust threshold")
				}
			}
			require.NotZero(t, anchors)
			bad := commit.Copy()
			bad.TxIn[0].Witness[1][8] ^= 0x01
			require.ErrorIs(t, c.SubmitTransaction(bad), ErrScriptFailed)
			require.NoError(t, c.SubmitTransaction(commit))

			// Anchor HTLC outputs carry `1 OP_CHECKSEQUENCEVERIFY`: nSequence 1, one confirmation.
			var successes, timeouts []*wire.MsgTx
			for _, h := range tc.HtlcDescs {
				tx := decodeTx(t, h.ResolutionTxHex)
				require.Equal(t, commit.TxHash(), tx.TxIn[0].PreviousOutPoint.Hash)
				require.Equal(t, uint32(1), tx.TxIn[0].Sequence)
				require.Contains(t, tx.TxIn[0].Witness, append(unhex(t, h.RemoteSigHex),
					byte(txscript.SigHashSingle|txscript.SigHashAnyOneCanPay)))
				if tx.LockTime == 0 {
					require.ErrorIs(t, c.SubmitTransaction(tx), ErrSequenceLockNotMet, "commitment unconfirmed")
					successes = append(successes, tx)
				} else {
					require.ErrorIs(t, c.SubmitTransaction(tx), ErrLockTimeNotFinal)
					timeouts = append(timeouts, tx)
				}
				htlcTxs++
			}
			c.MineBlocks(1)
			for _, tx := range successes {
				bad := tx.Copy()
				bad.TxIn[0].Witness[1][8] ^= 0x01
				require.ErrorIs(t, c.SubmitTransaction(bad), ErrScriptFailed)
				fee, err := c.CheckTransaction(tx)
				require.NoError(t, err)
				require.Zero(t, fee, "zero-fee HTLC transaction")
				require.NoError(t, c.SubmitTransaction(tx))
			}
			sort.Slice(timeouts, func(i, j int) bool { return timeouts[i].LockTime < timeouts[j].LockTime })
			for _, tx := range timeouts {
				mineTo(t, c, tx.LockTime-1)
				require.ErrorIs(t, c.SubmitTransaction(tx), ErrLockTimeNotFinal)
				mineTo(t, c, tx.LockTime)
				fee, err := c.CheckTransaction(tx)
				require.NoError(t, err)
				require.Zero(t, fee, "zero-fee HTLC transaction")
				require.NoError(t, c.SubmitTransaction(tx))
			}
			c.MineBlocks(1)
			require.Empty(t, c.Mempool())
			require.NotZero(t, c.Confirmations(commit.TxHash()))
		})
	}
	require.Equal(t, 15, htlcTxs, "every HTLC transaction of Appendix F replayed")
}

// TestBOLT3CommitmentsConflict: every commitment transaction spends the same funding output, so once
// one is in the mempool (or confirmed) all the others are double spends. The one in the mempool is
// the one paying the most, so none of the others may replace it.
func TestBOLT3CommitmentsConflict(t *testing.T) {
	var legacy legacyVectors
	loadJSON(t, "commitment-and-htlc-txs-legacy.json", &legacy)
	var anchors anchorVectors
	loadJSON(t, "commitment-and-htlc-txs-anchors.json", &anchors)
	var all []*wire.MsgTx
	for _, tc := range legacy.Tests {
		all = append(all, decodeTx(t, tc.CommitTx))
	}
	for _, tc := range anchors.Tests {
		all = append(all, decodeTx(t, tc.ExpectedCommitmentTxHex))
	}
	c, op := bolt3FundedChain(t)
	funding, _, _ := c.GetTransaction(op.Hash)
	feeOf := func(tx *wire.MsgTx) int64 { return funding.TxOut[op.Index].Value - sumOut(tx) }
	sort.SliceStable(all, func(i, j int) bool { return feeOf(all[i]) > feeOf(all[j]) })
	// Two legacy vectors ("one output untrimmed (minimum feerate)" and "fee greater than funder
	// amount") are the same transaction: keep one.
	seen := map[chainhash.Hash]bool{}
	distinct := all[:0]
	for _, tx := range all {
		if !seen[tx.TxHash()] {
			seen[tx.TxHash()] = true
			distinct = append(distinct, tx)
		}
	}
	all = distinct
	require.Greater(t, feeOf(all[0]), feeOf(all[1]))
	require.NoError(t, c.SubmitTransaction(all[0]))
	for _, tx := range all[1:] {
		err := c.SubmitTransaction(tx)
		require.ErrorIs(t, err, ErrDoubleSpend)
		require.ErrorIs(t, err, ErrReplacementRefused, "pays less than the commitment in the mempool")
	}
	c.MineBlocks(1)
	for _, tx := range all[1:] {
		err := c.SubmitTransaction(tx)
		require.ErrorIs(t, err, ErrDoubleSpend)
		require.NotErrorIs(t, err, ErrReplacementRefused, "a confirmed spend is never replaced")
	}
	// A reorg puts the first back in the mempool; the others still conflict with it.
	c.DisconnectTip()
	require.True(t, c.InMempool(all[0].TxHash()))
	c.BroadcastTransactions(all[1:]...)
	rej := c.Rejected()
	require.Len(t, rej, len(all)-1)
	for _, r := range rej {
		require.ErrorIs(t, r.Err, ErrDoubleSpend)
	}
}

type dualFundedVector struct {
	Preliminaries struct {
		GenesisBlock string `json:"genesis_block"`
		Block1       string `json:"block1"`
		ParentTx     string `json:"parent_tx"`
	} `json:"preliminaries"`
	Locktime uint32 `json:"locktime"`
	Inputs   []struct {
		Txid         string `json:"txid"`
		Vout         uint32 `json:"vout"`
		ScriptPubKey string `json:"scriptPubKey"`
	} `json:"inputs"`
	Outputs map[string]struct {
		ScriptPubKey string `json:"scriptPubKey"`
	} `json:"outputs"`
	FeeCalculation map[string]struct {
		FeesSat   int64 `json:"fees_sat"`
		ChangeSat int64 `json:"change_sat"`
	} `json:"fee_calculation"`
	OpenerFundingSatoshis   int64  `json:"opener_funding_satoshis"`
	AccepterFundingSatoshis int64  `json:"accepter_funding_satoshis"`
	UnsignedFundingTx       string `json:"unsigned_funding_tx"`
	SignedFundingTx         string `json:"signed_funding_tx"`
	OpenerSigs              struct {
		Txid      string `json:"txid"`
		Witnesses []struct {
			WitnessData string `json:"witness_data"`
		} `json:"witnesses"`
	} `json:"expected_opener_tx_signatures"`
	AccepterSigs struct {
		Txid      string `json:"txid"`
		Witnesses []struct {
			WitnessData string `json:"witness_data"`
		} `json:"witnesses"`
	} `json:"expected_accepter_tx_signatures"`
}

func TestBOLT3DualFundedTransaction(t *testing.T) {
	var v dualFundedVector
	loadJSON(t, "dual-funded-tx.json", &v)
	c := New(&chaincfg.RegressionNetParams)
	genesis := decodeBlock(t, v.Preliminaries.GenesisBlock)
	require.Equal(t, *chaincfg.RegressionNetParams.GenesisHash, genesis.BlockHash())
	block1 := decodeBlock(t, v.Preliminaries.Block1)
	require.NoError(t, c.ConnectBlock(block1), "block 1 with a witness commitment")

	parent := decodeTx(t, v.Preliminaries.ParentTx)
	require.Equal(t, wire.OutPoint{Hash: block1.Transactions[0].TxHash()}, parent.TxIn[0].PreviousOutPoint)
	require.ErrorIs(t, c.SubmitTransaction(parent), ErrImmatureCoinbase)
	mineTo(t, c, 99)
	require.ErrorIs(t, c.SubmitTransaction(parent), ErrImmatureCoinbase)
	mineTo(t, c, 100)
	bad := parent.Copy()
	bad.TxIn[0].Witness[0][8] ^= 0x01
	require.ErrorIs(t, c.SubmitTransaction(bad), ErrScriptFailed, "P2SH-P2WPKH signature")
	require.NoError(t, c.SubmitTransaction(parent))
	for _, in := range v.Inputs {
		require.Equal(t, hashOf(t, in.Txid), parent.TxHash())
		require.Equal(t, unhex(t, in.ScriptPubKey), parent.TxOut[in.Vout].PkScript)
	}

	unsigned := decodeTx(t, v.UnsignedFundingTx)
	signed := decodeTx(t, v.SignedFundingTx)
	require.Equal(t, unsigned.TxHash(), signed.TxHash(), "witnesses do not change the txid")
	require.Equal(t, hashOf(t, v.OpenerSigs.Txid), signed.TxHash())
	require.Equal(t, hashOf(t, v.AccepterSigs.Txid), signed.TxHash())
	require.Equal(t, v.Locktime, signed.LockTime)
	// Each party's tx_signatures witness is the one on the input it contributed.
	witnesses := map[string]bool{}
	for _, in := range signed.TxIn {
		var buf bytes.Buffer
		require.NoError(t, wire.WriteVarInt(&buf, 0, uint64(len(in.Witness))))
		for _, item := range in.Witness {
			require.NoError(t, wire.WriteVarBytes(&buf, 0, item))
		}
		witnesses[hex.EncodeToString(buf.Bytes())] = true
	}
	for _, w := range append(v.OpenerSigs.Witnesses, v.AccepterSigs.Witnesses...) {
		require.True(t, witnesses[w.WitnessData], w.WitnessData)
	}
	outs := map[string]int64{}
	for _, o := range signed.TxOut {
		outs[hex.EncodeToString(o.PkScript)] = o.Value
	}
	require.Equal(t, v.OpenerFundingSatoshis+v.AccepterFundingSatoshis, outs[v.Outputs["funding_2of2"].ScriptPubKey])
	require.Equal(t, v.FeeCalculation["opener"].ChangeSat, outs[v.Outputs["opener_change"].ScriptPubKey])
	require.Equal(t, v.FeeCalculation["accepter"].ChangeSat, outs[v.Outputs["accepter_change"].ScriptPubKey])

	// nLockTime 120 with non-final sequences: refused until block 121 can hold it.
	require.ErrorIs(t, c.SubmitTransaction(signed), ErrLockTimeNotFinal)
	mineTo(t, c, v.Locktime-1)
	require.ErrorIs(t, c.SubmitTransaction(signed), ErrLockTimeNotFinal)
	mineTo(t, c, v.Locktime)
	require.ErrorIs(t, c.SubmitTransaction(unsigned), ErrScriptFailed, "the unsigned transaction")
	fee, err := c.CheckTransaction(signed)
	require.NoError(t, err)
	require.Equal(t, v.FeeCalculation["opener"].FeesSat+v.FeeCalculation["accepter"].FeesSat, fee)
	require.NoError(t, c.SubmitTransaction(signed))
	blk := c.MineBlocks(1)[0]
	require.Equal(t, signed.TxHash(), blk.Transactions[1].TxHash())
	require.NotNil(t, btcutil.NewBlock(blk))
}
