package bolt3

import (
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

// ---- shared vector data (BOLT 3 Appendix C / F) ----

type vecCommon struct {
	FundingTxID                     string `json:"funding_tx_id"`
	FundingOutputIndex              uint32 `json:"funding_output_index"`
	FundingAmountSatoshi            int64  `json:"funding_amount_satoshi"`
	CommitmentNumber                uint64 `json:"commitment_number"`
	LocalDelay                      uint16 `json:"local_delay"`
	LocalDustLimitSatoshi           int64  `json:"local_dust_limit_satoshi"`
	LocalPaymentBasepoint           string `json:"local_payment_basepoint"`
	RemotePaymentBasepoint          string `json:"remote_payment_basepoint"`
	LocalHTLCBasepoint              string `json:"local_htlc_basepoint"`
	RemoteHTLCBasepoint             string `json:"remote_htlc_basepoint"`
	LocalFundingPrivkey             string `json:"local_funding_privkey"`
	LocalFundingPubkey              string `json:"local_funding_pubkey"`
	RemoteFundingPubkey             string `json:"remote_funding_pubkey"`
	LocalPrivkey                    string `json:"local_privkey"`
	LocalHTLCPubkey                 string `json:"local_htlcpubkey"`
	RemoteHTLCPubkey                string `json:"remote_htlcpubkey"`
	LocalDelayedPubkey              string `json:"local_delayedpubkey"`
	LocalRevocationPubkey           string `json:"local_revocation_pubkey"`
	ObscuredCommitmentNumberComment string `json:"obscured_commitment_number_comment"`
	FundingWitnessScript            string `json:"funding_witness_script"`
}

type vecHTLC struct {
	Index           uint64 `json:"index"`
	Direction       string `json:"direction"`
	AmountMsat      uint64 `json:"amount_msat"`
	Expiry          uint32 `json:"expiry"`
	PaymentPreimage string `json:"payment_preimage"`
	PaymentHash     string `json:"payment_hash"`
}

type legacyFile struct {
	Common   vecCommon         `json:"common"`
	HTLCs    []vecHTLC         `json:"htlcs"`
	Internal map[string]string `json:"internal_derivation_values"`
	Tests    []legacyTest      `json:"tests"`
}

type legacyTest struct {
	Name                 string      `json:"name"`
	ToLocalMsat          uint64      `json:"to_local_msat"`
	ToRemoteMsat         uint64      `json:"to_remote_msat"`
	LocalFeeratePerKw    uint32      `json:"local_feerate_per_kw"`
	BaseCommitmentFeeSat *int64      `json:"base_commitment_fee_sat"`
	ActualCommitmentFee  *int64      `json:"actual_commitment_fee_sat"`
	Outputs              []vecOutput `json:"outputs"`
	RemoteSignature      string      `json:"remote_signature"`
	LocalSignature       string      `json:"local_signature"`
	CommitTx             string      `json:"commit_tx"`
	NumHTLCs             int         `json:"num_htlcs"`
	HTLCTxs              []struct {
		CommitOutputIndex   uint32 `json:"commit_output_index"`
		Type                string `json:"type"`
		HTLCIndex           uint64 `json:"htlc_index"`
		RemoteHTLCSignature string `json:"remote_htlc_signature"`
		LocalHTLCSignature  string `json:"local_htlc_signature"`
		Tx                  string `json:"tx"`
	} `json:"htlc_txs"`
}

type vecOutput struct {
	Type          string  `json:"type"`
	HTLCIndex     *uint64 `json:"htlc_index"`
	AmountSat     int64   `json:"amount_sat"`
	WitnessScript string  `json:"witness_script"`
	P2WPKHPubkey  string  `json:"p2wpkh_pubkey"`
}

type anchorsFile struct {
	Common vecCommon     `json:"common"`
	HTLCs  []vecHTLC     `json:"htlcs"`
	Tests  []anchorsTest `json:"tests"`
}

type anchorsTest struct {
	Name              string `json:"Name"`
	LocalBalance      uint64 `json:"LocalBalance"`
	RemoteBalance     uint64 `json:"RemoteBalance"`
	DustLimitSatoshis int64  `json:"DustLimitSatoshis"`
	FeePerKw          uint32 `json:"FeePerKw"`
	UseTestHtlcs      bool   `json:"UseTestHtlcs"`
	HtlcDescs         []struct {
		RemoteSigHex    string `json:"RemoteSigHex"`
		ResolutionTxHex string `json:"ResolutionTxHex"`
	} `json:"HtlcDescs"`
	ExpectedCommitmentTxHex string `json:"ExpectedCommitmentTxHex"`
	RemoteSigHex            string `json:"RemoteSigHex"`
}

// vecKeys holds the parsed keys of the common section.
type vecKeys struct {
	fundingOutPoint   wire.OutPoint
	fundingAmountSat  int64
	fundingWS         []byte
	fundingPk         []byte
	localFundingPriv  *btcec.PrivateKey
	localFundingPub   *btcec.PublicKey
	remoteFundingPriv *btcec.PrivateKey
	remoteFundingPub  *btcec.PublicKey
	localHTLCPriv     *btcec.PrivateKey
	remoteHTLCPriv    *btcec.PrivateKey
	keys              CommitmentKeys
	obscuring         uint64
	htlcs             []vecHTLC
}

var obscuredRe = regexp.MustCompile(`= 0x([0-9a-fA-F]+) \^ (\d+)`)

func parseCommon(t *testing.T, c vecCommon, internal map[string]string, htlcs []vecHTLC) *vecKeys {
	t.Helper()
	txid, err := chainhash.NewHashFromStr(c.FundingTxID)
	require.NoError(t, err)
	k := &vecKeys{
		fundingOutPoint:  *wire.NewOutPoint(txid, c.FundingOutputIndex),
		fundingAmountSat: c.FundingAmountSatoshi,
		localFundingPriv: priv(t, c.LocalFundingPrivkey),
		localFundingPub:  pub(t, c.LocalFundingPubkey),
		remoteFundingPub: pub(t, c.RemoteFundingPubkey),
		localHTLCPriv:    priv(t, c.LocalPrivkey),
		htlcs:            htlcs,
	}
	require.True(t, k.localFundingPriv.PubKey().IsEqual(k.localFundingPub))
	require.True(t, k.localHTLCPriv.PubKey().IsEqual(pub(t, c.LocalHTLCPubkey)), "local_privkey is the local HTLC key")
	if internal != nil {
		k.remoteFundingPriv = priv(t, internal["remote_funding_privkey"])
		require.True(t, k.remoteFundingPriv.PubKey().IsEqual(k.remoteFundingPub))
		k.remoteHTLCPriv = priv(t, internal["remote_privkey"])
		require.True(t, k.remoteHTLCPriv.PubKey().IsEqual(pub(t, c.RemoteHTLCPubkey)), "remote_privkey is the remote HTLC key")
	}

	ws, pk, err := FundingScript(k.localFundingPub, k.remoteFundingPub)
	require.NoError(t, err)
	require.Equal(t, c.FundingWitnessScript, hex.EncodeToString(ws))
	k.fundingWS, k.fundingPk = ws, pk

	k.keys = CommitmentKeys{
		RevocationKey:    pub(t, c.LocalRevocationPubkey),
		LocalDelayedKey:  pub(t, c.LocalDelayedPubkey),
		RemotePaymentKey: pub(t, c.RemotePaymentBasepoint),
		LocalHTLCKey:     pub(t, c.LocalHTLCPubkey),
		RemoteHTLCKey:    pub(t, c.RemoteHTLCPubkey),
		LocalFundingKey:  k.localFundingPub,
		RemoteFundingKey: k.remoteFundingPub,
	}

	// The obscuring factor must be the one the spec states.
	m := obscuredRe.FindStringSubmatch(c.ObscuredCommitmentNumberComment)
	require.NotNil(t, m, c.ObscuredCommitmentNumberComment)
	want, err := strconv.ParseUint(m[1], 16, 64)
	require.NoError(t, err)
	n, err := strconv.ParseUint(m[2], 10, 64)
	require.NoError(t, err)
	require.Equal(t, c.CommitmentNumber, n)
	k.obscuring = ObscuringFactor(pub(t, c.LocalPaymentBasepoint), pub(t, c.RemotePaymentBasepoint))
	require.Equal(t, want, k.obscuring)

	// Every payment hash is SHA256 of its preimage.
	for _, h := range htlcs {
		require.Equal(t, sha256.Sum256(unhex(t, h.PaymentPreimage)), hash32(t, h.PaymentHash))
	}
	return k
}

// htlcsFor returns the HTLC set a test uses (README: none for the "no
// HTLCs" tests, 1, 5 and 6 for the "same amount and preimage" test, 0-4
// otherwise). The FundingAmountSat check in BuildCommitmentTx confirms the
// choice adds up.
func (k *vecKeys) htlcsFor(t *testing.T, name string, use bool) []HTLC {
	t.Helper()
	var idx []uint64
	switch {
	case !use:
	case strings.Contains(name, "same amount and preimage"):
		idx = []uint64{1, 5, 6}
	default:
		idx = []uint64{0, 1, 2, 3, 4}
	}
	var out []HTLC
	for _, i := range idx {
		v := k.htlcs[i]
		require.Equal(t, i, v.Index)
		var offered bool
		switch v.Direction {
		case "local->remote":
			offered = true
		case "remote->local":
		default:
			t.Fatalf("direction %q", v.Direction)
		}
		out = append(out, HTLC{
			Offered:     offered,
			AmountMsat:  v.AmountMsat,
			PaymentHash: hash32(t, v.PaymentHash),
			CltvExpiry:  v.Expiry,
			ID:          i,
		})
	}
	return out
}

// checkCommitment signs the built commitment with the local funding key,
// checks the local signature (if given), reproduces and verifies the remote
// signature, assembles the witness and compares the transaction with the
// expected bytes, then runs the script engine on it.
func (k *vecKeys) checkCommitment(t *testing.T, ct *CommitmentTx, localSigHex, remoteSigHex, expectedTxHex string) {
	t.Helper()
	tx := ct.Tx
	localSig := signInput(t, tx, 0, k.fundingWS, k.fundingAmountSat, txscript.SigHashAll, k.localFundingPriv)
	if localSigHex != "" {
		require.Equal(t, localSigHex, hex.EncodeToString(localSig[:len(localSig)-1]), "local commitment signature")
	}
	remoteDER := unhex(t, remoteSigHex)
	verifySig(t, tx, 0, k.fundingWS, k.fundingAmountSat, txscript.SigHashAll, remoteDER, k.remoteFundingPub)
	if k.remoteFundingPriv != nil {
		again := signInput(t, tx, 0, k.fundingWS, k.fundingAmountSat, txscript.SigHashAll, k.remoteFundingPriv)
		require.Equal(t, remoteDER, again[:len(again)-1], "remote commitment signature reproduced")
	}
	signed := tx.Copy()
	signed.TxIn[0].Witness = FundingWitness(k.fundingWS, k.localFundingPub, localSig,
		k.remoteFundingPub, append(append([]byte{}, remoteDER...), byte(txscript.SigHashAll)))
	require.Equal(t, expectedTxHex, hex.EncodeToString(serialize(t, signed)), "commitment tx")
	require.NoError(t, runScript(signed, 0, k.fundingPk, k.fundingAmountSat), "commitment witness")

	// Swapping the keys' roles must give the same witness.
	w2 := FundingWitness(k.fundingWS, k.remoteFundingPub,
		append(append([]byte{}, remoteDER...), byte(txscript.SigHashAll)), k.localFundingPub, localSig)
	require.Equal(t, signed.TxIn[0].Witness, w2)

	// Conservation: inputs = outputs + fee.
	var sum int64
	for _, o := range tx.TxOut {
		sum += o.Value
	}
	require.Equal(t, k.fundingAmountSat, sum+ct.FeeSat)

	// The commitment number is recoverable from locktime and sequence.
	n, err := DecodeCommitmentNumber(tx.LockTime, tx.TxIn[0].Sequence, k.obscuring)
	require.NoError(t, err)
	require.Equal(t, uint64(42), n)
}

// checkHTLCTx builds the second-stage transaction for out, reproduces the
// local signature (SIGHASH_ALL) and the remote one (HTLCSigHashType), verifies
// the vector's remote signature, compares with the expected transaction and
// runs the script engine against the commitment output.
func (k *vecKeys) checkHTLCTx(t *testing.T, ct *CommitmentTx, out HTLCOutput, feerate uint32, typ ChannelType,
	remoteSigHex, localSigHex, expectedTxHex string) {
	t.Helper()
	commitTxid := ct.Tx.TxHash()
	var tx *wire.MsgTx
	var err error
	if out.HTLC.Offered {
		tx, err = BuildHTLCTimeoutTx(commitTxid, out, feerate, 144, k.keys.RevocationKey, k.keys.LocalDelayedKey, typ)
	} else {
		tx, err = BuildHTLCSuccessTx(commitTxid, out, feerate, 144, k.keys.RevocationKey, k.keys.LocalDelayedKey, typ)
	}
	require.NoError(t, err)

	localSig := signInput(t, tx, 0, out.WitnessScript, out.AmountSat, txscript.SigHashAll, k.localHTLCPriv)
	if localSigHex != "" {
		require.Equal(t, localSigHex, hex.EncodeToString(localSig[:len(localSig)-1]), "local HTLC signature")
	}
	remoteDER := unhex(t, remoteSigHex)
	verifySig(t, tx, 0, out.WitnessScript, out.AmountSat, HTLCSigHashType(typ), remoteDER, k.keys.RemoteHTLCKey)
	if k.remoteHTLCPriv != nil {
		again := signInput(t, tx, 0, out.WitnessScript, out.AmountSat, HTLCSigHashType(typ), k.remoteHTLCPriv)
		require.Equal(t, remoteDER, again[:len(again)-1], "remote HTLC signature reproduced")
	}
	remoteSig := append(append([]byte{}, remoteDER...), byte(HTLCSigHashType(typ)))
	if out.HTLC.Offered {
		tx.TxIn[0].Witness = HTLCTimeoutWitness(out.WitnessScript, remoteSig, localSig)
	} else {
		var preimage [32]byte
		copy(preimage[:], unhex(t, k.htlcs[out.HTLC.ID].PaymentPreimage))
		tx.TxIn[0].Witness = HTLCSuccessWitness(out.WitnessScript, remoteSig, localSig, preimage)
	}
	require.Equal(t, expectedTxHex, hex.EncodeToString(serialize(t, tx)), "HTLC tx for output %d", out.OutputIndex)

	prev := ct.Tx.TxOut[out.OutputIndex]
	require.Equal(t, out.AmountSat, prev.Value)
	require.Equal(t, WitnessScriptHash(out.WitnessScript), prev.PkScript)
	require.NoError(t, runScript(tx, 0, prev.PkScript, prev.Value), "HTLC tx witness")

	// The output pays to the second-stage script, amount minus fee.
	ws, err := SecondStageHTLCScript(k.keys.RevocationKey, k.keys.LocalDelayedKey, 144)
	require.NoError(t, err)
	require.Equal(t, WitnessScriptHash(ws), tx.TxOut[0].PkScript)
	fee := HTLCSuccessFeeSat(feerate, typ)
	if out.HTLC.Offered {
		fee = HTLCTimeoutFeeSat(feerate, typ)
	}
	require.Equal(t, out.AmountSat-fee, tx.TxOut[0].Value)
}

// ---- Appendix C ----

func TestLegacyCommitmentVectors(t *testing.T) {
	var f legacyFile
	loadJSON(t, "commitment-and-htlc-txs-legacy.json", &f)
	require.Len(t, f.Tests, 16)
	k := parseCommon(t, f.Common, f.Internal, f.HTLCs)
	typ := ChannelTypeStaticRemoteKey

	checkedHTLCTxs := 0
	for _, v := range f.Tests {
		t.Run(v.Name, func(t *testing.T) {
			p := &CommitmentParams{
				FundingOutPoint:  k.fundingOutPoint,
				CommitmentNumber: f.Common.CommitmentNumber,
				ObscuringFactor:  k.obscuring,
				ToLocalMsat:      v.ToLocalMsat,
				ToRemoteMsat:     v.ToRemoteMsat,
				LocalIsFunder:    true,
				FeeratePerKw:     v.LocalFeeratePerKw,
				DustLimitSat:     f.Common.LocalDustLimitSatoshi,
				ToSelfDelay:      f.Common.LocalDelay,
				Keys:             k.keys,
				HTLCs:            k.htlcsFor(t, v.Name, !strings.Contains(v.Name, "no HTLCs")),
				Type:             typ,
				FundingAmountSat: k.fundingAmountSat,
			}
			ct, err := BuildCommitmentTx(p)
			if v.ActualCommitmentFee != nil && v.BaseCommitmentFeeSat != nil &&
				(*v.BaseCommitmentFeeSat)*1000 > int64(v.ToLocalMsat) {
				// The funder cannot pay: an error by default, the spec's
				// transaction when the deficit is allowed.
				require.ErrorIs(t, err, ErrFunderCannotPayFee)
				p.AllowFunderDeficit = true
				ct, err = BuildCommitmentTx(p)
			}
			require.NoError(t, err)

			if v.BaseCommitmentFeeSat != nil {
				require.Equal(t, *v.BaseCommitmentFeeSat, ct.BaseFeeSat, "base fee")
			}
			if v.ActualCommitmentFee != nil {
				require.Equal(t, *v.ActualCommitmentFee, ct.FeeSat, "actual fee")
			}
			require.Len(t, ct.HTLCOutputs, v.NumHTLCs)
			// The spec lists every output in comments, except in the last
			// case, which lists only the HTLC outputs (and no fees).
			complete := v.BaseCommitmentFeeSat != nil
			if complete {
				require.Len(t, ct.Tx.TxOut, len(v.Outputs))
			} else {
				require.Len(t, v.Outputs, len(ct.HTLCOutputs))
			}

			// Every output the spec lists, with its amount and script.
			for _, o := range v.Outputs {
				switch o.Type {
				case "to_local":
					require.GreaterOrEqual(t, ct.ToLocalIndex, 0)
					require.Equal(t, o.AmountSat, ct.Tx.TxOut[ct.ToLocalIndex].Value)
					require.Equal(t, o.AmountSat, ct.ToLocalSat)
					require.Equal(t, o.WitnessScript, hex.EncodeToString(ct.ToLocalScript))
					require.Equal(t, WitnessScriptHash(ct.ToLocalScript), ct.Tx.TxOut[ct.ToLocalIndex].PkScript)
				case "to_remote":
					require.GreaterOrEqual(t, ct.ToRemoteIndex, 0)
					require.Equal(t, o.AmountSat, ct.Tx.TxOut[ct.ToRemoteIndex].Value)
					pk, err := P2WPKHScript(pub(t, o.P2WPKHPubkey))
					require.NoError(t, err)
					require.Equal(t, pk, ct.Tx.TxOut[ct.ToRemoteIndex].PkScript)
				case "htlc_offered", "htlc_received":
					require.NotNil(t, o.HTLCIndex)
					found := false
					for _, h := range ct.HTLCOutputs {
						if h.HTLC.ID != *o.HTLCIndex {
							continue
						}
						found = true
						require.Equal(t, o.Type == "htlc_offered", h.HTLC.Offered)
						require.Equal(t, o.AmountSat, h.AmountSat)
						require.Equal(t, o.WitnessScript, hex.EncodeToString(h.WitnessScript))
						require.Equal(t, o.AmountSat, ct.Tx.TxOut[h.OutputIndex].Value)
					}
					require.True(t, found, "HTLC %d has an output", *o.HTLCIndex)
				default:
					t.Fatalf("output type %q", o.Type)
				}
			}
			if complete && !hasOutput(v.Outputs, "to_local") {
				require.Equal(t, -1, ct.ToLocalIndex)
			}
			if complete && !hasOutput(v.Outputs, "to_remote") {
				require.Equal(t, -1, ct.ToRemoteIndex)
			}
			require.Equal(t, -1, ct.LocalAnchorIndex)
			require.Equal(t, -1, ct.RemoteAnchorIndex)

			k.checkCommitment(t, ct, v.LocalSignature, v.RemoteSignature, v.CommitTx)

			require.Len(t, v.HTLCTxs, len(ct.HTLCOutputs))
			for i, h := range v.HTLCTxs {
				out := ct.HTLCOutputs[i]
				require.Equal(t, h.CommitOutputIndex, out.OutputIndex, "HTLC txs follow output order")
				require.Equal(t, h.HTLCIndex, out.HTLC.ID)
				require.Equal(t, h.Type == "htlc_timeout", out.HTLC.Offered)
				k.checkHTLCTx(t, ct, out, v.LocalFeeratePerKw, typ, h.RemoteHTLCSignature, h.LocalHTLCSignature, h.Tx)
				checkedHTLCTxs++
			}
		})
	}
	require.Equal(t, 33, checkedHTLCTxs, "all HTLC transactions of Appendix C")
}

func hasOutput(outs []vecOutput, typ string) bool {
	for _, o := range outs {
		if o.Type == typ {
			return true
		}
	}
	return false
}

// ---- Appendix F ----

func TestAnchorsCommitmentVectors(t *testing.T) {
	var f anchorsFile
	loadJSON(t, "commitment-and-htlc-txs-anchors.json", &f)
	require.Len(t, f.Tests, 9)
	var legacy legacyFile // for the INTERNAL remote keys, which Appendix F shares
	loadJSON(t, "commitment-and-htlc-txs-legacy.json", &legacy)
	k := parseCommon(t, f.Common, legacy.Internal, f.HTLCs)
	typ := ChannelTypeAnchors

	checkedHTLCTxs := 0
	for _, v := range f.Tests {
		t.Run(v.Name, func(t *testing.T) {
			p := &CommitmentParams{
				FundingOutPoint:  k.fundingOutPoint,
				CommitmentNumber: f.Common.CommitmentNumber,
				ObscuringFactor:  k.obscuring,
				ToLocalMsat:      v.LocalBalance,
				ToRemoteMsat:     v.RemoteBalance,
				LocalIsFunder:    true,
				FeeratePerKw:     v.FeePerKw,
				DustLimitSat:     v.DustLimitSatoshis,
				ToSelfDelay:      f.Common.LocalDelay,
				Keys:             k.keys,
				HTLCs:            k.htlcsFor(t, v.Name, v.UseTestHtlcs),
				Type:             typ,
				FundingAmountSat: k.fundingAmountSat,
			}
			ct, err := BuildCommitmentTx(p)
			require.NoError(t, err)
			k.checkCommitment(t, ct, "", v.RemoteSigHex, v.ExpectedCommitmentTxHex)

			// Anchors exist exactly per the construction rules.
			hasHTLCs := len(ct.HTLCOutputs) > 0
			require.Equal(t, ct.ToLocalIndex >= 0 || hasHTLCs, ct.LocalAnchorIndex >= 0)
			require.Equal(t, ct.ToRemoteIndex >= 0 || hasHTLCs, ct.RemoteAnchorIndex >= 0)
			if ct.ToRemoteIndex >= 0 {
				require.Equal(t, WitnessScriptHash(ct.ToRemoteWitnessScript), ct.Tx.TxOut[ct.ToRemoteIndex].PkScript)
			}

			require.Len(t, v.HtlcDescs, len(ct.HTLCOutputs))
			for i, d := range v.HtlcDescs {
				k.checkHTLCTx(t, ct, ct.HTLCOutputs[i], v.FeePerKw, typ, d.RemoteSigHex, "", d.ResolutionTxHex)
				checkedHTLCTxs++
			}
		})
	}
	require.Equal(t, 15, checkedHTLCTxs, "all HTLC transactions of Appendix F")
}

// ---- Appendix B ----

func TestFundingTxVector(t *testing.T) {
	var v struct {
		Block1CoinbaseTx      string `json:"block1_coinbase_tx"`
		Block1CoinbasePrivkey string `json:"block1_coinbase_privkey"`
		LocalFundingPubkey    string `json:"local_funding_pubkey"`
		RemoteFundingPubkey   string `json:"remote_funding_pubkey"`
		InputTxid             string `json:"input_txid"`
		InputIndex            uint32 `json:"input_index"`
		InputSatoshis         int64  `json:"input_satoshis"`
		FundingSatoshis       int64  `json:"funding_satoshis"`
		ChangeSatoshis        int64  `json:"change_satoshis"`
		FundingOutputIndex    int    `json:"funding_output_index"`
		FeeratePerKw          int64  `json:"feerate_per_kw"`
		FundingWitnessScript  string `json:"funding_witness_script"`
		FundingTx             string `json:"funding_tx"`
		FundingTxid           string `json:"funding_txid"`
	}
	loadJSON(t, "funding-tx.json", &v)

	coinbase := parseTx(t, unhex(t, v.Block1CoinbaseTx))
	require.Equal(t, v.InputTxid, coinbase.TxHash().String())
	prevOut := coinbase.TxOut[v.InputIndex]
	require.Equal(t, v.InputSatoshis, prevOut.Value)

	key := priv(t, v.Block1CoinbasePrivkey)
	changeScript, err := P2WPKHScript(key.PubKey())
	require.NoError(t, err)

	fundingOut, ws, err := FundingOutput(pub(t, v.LocalFundingPubkey), pub(t, v.RemoteFundingPubkey), v.FundingSatoshis)
	require.NoError(t, err)
	require.Equal(t, v.FundingWitnessScript, hex.EncodeToString(ws))

	tx := wire.NewMsgTx(2)
	prevHash := coinbase.TxHash()
	tx.AddTxIn(wire.NewTxIn(wire.NewOutPoint(&prevHash, v.InputIndex), nil, nil))
	outs := []*wire.TxOut{wire.NewTxOut(v.ChangeSatoshis, changeScript), fundingOut}
	if bip69Less(outs[1], outs[0]) {
		outs[0], outs[1] = outs[1], outs[0]
	}
	for _, o := range outs {
		tx.AddTxOut(o)
	}
	require.Equal(t, WitnessScriptHash(ws), tx.TxOut[v.FundingOutputIndex].PkScript)

	sigScript, err := txscript.SignatureScript(tx, 0, prevOut.PkScript, txscript.SigHashAll, key, true)
	require.NoError(t, err)
	tx.TxIn[0].SignatureScript = sigScript

	require.Equal(t, v.FundingTx, hex.EncodeToString(serialize(t, tx)))
	require.Equal(t, v.FundingTxid, tx.TxHash().String())
	require.NoError(t, runScript(tx, 0, prevOut.PkScript, prevOut.Value))
	// The change is what is left after paying feerate_per_kw for the
	// transaction's weight.
	require.Equal(t, v.InputSatoshis-v.FundingSatoshis-v.ChangeSatoshis, v.FeeratePerKw*txWeight(tx)/1000)
}

// ---- Fees > Fee Calculation > Example ----

func TestFeeCalculationExample(t *testing.T) {
	var v struct {
		FeeratePerKw       uint32   `json:"feerate_per_kw"`
		DustLimitSatoshis  int64    `json:"dust_limit_satoshis"`
		OfferedHTLCsMsat   []uint64 `json:"offered_htlcs_msat"`
		ReceivedHTLCsMsat  []uint64 `json:"received_htlcs_msat"`
		HTLCTimeoutWeight  int64    `json:"htlc_timeout_weight"`
		HTLCTimeoutFeeSat  int64    `json:"htlc_timeout_fee_sat"`
		HTLCSuccessWeight  int64    `json:"htlc_success_weight"`
		HTLCSuccessFeeSat  int64    `json:"htlc_success_fee_sat"`
		CommitWeightStart  int64    `json:"commitment_weight_start"`
		CommitmentWeight   int64    `json:"commitment_weight"`
		BaseCommitmentFee  int64    `json:"base_commitment_fee_sat"`
		ActualCommitFeeSat int64    `json:"actual_commitment_fee_sat"`
		UntrimmedHTLCs     []struct {
			Direction   string `json:"direction"`
			AmountSat   int64  `json:"amount_sat"`
			WeightAfter int64  `json:"weight_after"`
		} `json:"untrimmed_htlcs"`
		TrimmedHTLCs []struct {
			Direction string `json:"direction"`
			AmountSat int64  `json:"amount_sat"`
		} `json:"trimmed_htlcs"`
	}
	loadJSON(t, "fee-calculation-example.json", &v)
	typ := ChannelTypeStaticRemoteKey

	require.EqualValues(t, v.HTLCTimeoutWeight, HTLCTimeoutWeight)
	require.EqualValues(t, v.HTLCSuccessWeight, HTLCSuccessWeight)
	require.EqualValues(t, v.CommitWeightStart, CommitmentWeight)
	require.Equal(t, v.HTLCTimeoutFeeSat, HTLCTimeoutFeeSat(v.FeeratePerKw, typ))
	require.Equal(t, v.HTLCSuccessFeeSat, HTLCSuccessFeeSat(v.FeeratePerKw, typ))

	var htlcs []HTLC
	var totalMsat uint64
	for i, a := range v.OfferedHTLCsMsat {
		htlcs = append(htlcs, HTLC{Offered: true, AmountMsat: a, ID: uint64(i), CltvExpiry: 500})
		totalMsat += a
	}
	for i, a := range v.ReceivedHTLCsMsat {
		htlcs = append(htlcs, HTLC{AmountMsat: a, ID: uint64(10 + i), CltvExpiry: 500})
		totalMsat += a
	}
	isTrimmed := func(dir string, sat int64) bool {
		for _, h := range htlcs {
			if h.Offered == (dir == "offered") && int64(h.AmountMsat/1000) == sat {
				return IsTrimmed(h, v.DustLimitSatoshis, v.FeeratePerKw, typ)
			}
		}
		t.Fatalf("no %s HTLC of %d sat", dir, sat)
		return false
	}
	for i, u := range v.UntrimmedHTLCs {
		require.False(t, isTrimmed(u.Direction, u.AmountSat), "%s %d", u.Direction, u.AmountSat)
		require.Equal(t, u.WeightAfter, int64(CommitmentWeight+HTLCOutputWeight*(i+1)))
	}
	for _, tr := range v.TrimmedHTLCs {
		require.True(t, isTrimmed(tr.Direction, tr.AmountSat), "%s %d", tr.Direction, tr.AmountSat)
	}
	n := len(v.UntrimmedHTLCs)
	require.Equal(t, v.CommitmentWeight, int64(CommitmentWeight+HTLCOutputWeight*n))
	require.Equal(t, v.BaseCommitmentFee, CommitmentFeeSat(v.FeeratePerKw, n, typ))

	// A commitment built with these HTLCs, and balances well above the dust
	// limit, pays the actual fee.
	keys := randomishKeys()
	ct, err := BuildCommitmentTx(&CommitmentParams{
		ToLocalMsat:   1_000_000_000,
		ToRemoteMsat:  2_000_000_000,
		LocalIsFunder: true,
		FeeratePerKw:  v.FeeratePerKw,
		DustLimitSat:  v.DustLimitSatoshis,
		ToSelfDelay:   144,
		Keys:          keys,
		HTLCs:         htlcs,
		Type:          typ,
	})
	require.NoError(t, err)
	require.Equal(t, v.BaseCommitmentFee, ct.BaseFeeSat)
	require.Equal(t, v.ActualCommitFeeSat, ct.FeeSat)
	require.Len(t, ct.HTLCOutputs, n)
	require.Len(t, ct.TrimmedHTLCs, len(v.TrimmedHTLCs))
	require.Equal(t, int64(1_000_000)-v.BaseCommitmentFee, ct.ToLocalSat)
	var sum int64
	for _, o := range ct.Tx.TxOut {
		sum += o.Value
	}
	require.EqualValues(t, (3_000_000_000+totalMsat)/1000, sum+ct.FeeSat)
}

// randomishKeys returns a full set of distinct commitment keys.
func randomishKeys() CommitmentKeys {
	return CommitmentKeys{
		RevocationKey:    testKey(1).PubKey(),
		LocalDelayedKey:  testKey(2).PubKey(),
		RemotePaymentKey: testKey(3).PubKey(),
		LocalHTLCKey:     testKey(4).PubKey(),
		RemoteHTLCKey:    testKey(5).PubKey(),
		LocalFundingKey:  testKey(6).PubKey(),
		RemoteFundingKey: testKey(7).PubKey(),
	}
}
