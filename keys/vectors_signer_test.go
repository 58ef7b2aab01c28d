package keys

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

type appendixCCommon struct {
	FundingAmountSatoshi   int64  `json:"funding_amount_satoshi"`
	LocalPaymentBasepoint  string `json:"local_payment_basepoint"`
	RemotePaymentBasepoint string `json:"remote_payment_basepoint"`
	LocalHTLCBasepoint     string `json:"local_htlc_basepoint"`
	RemoteHTLCBasepoint    string `json:"remote_htlc_basepoint"`
	LocalFundingPrivkey    string `json:"local_funding_privkey"`
	LocalFundingPubkey     string `json:"local_funding_pubkey"`
	RemoteFundingPubkey    string `json:"remote_funding_pubkey"`
	LocalPrivkey           string `json:"local_privkey"`
	LocalHTLCPubkey        string `json:"local_htlcpubkey"`
	RemoteHTLCPubkey       string `json:"remote_htlcpubkey"`
	LocalDelayedPubkey     string `json:"local_delayedpubkey"`
	LocalRevocationPubkey  string `json:"local_revocation_pubkey"`
	FundingWitnessScript   string `json:"funding_witness_script"`
	LocalDelay             int64  `json:"local_delay"`
}

type appendixCInternal struct {
	RemoteFundingPrivkey               string `json:"remote_funding_privkey"`
	LocalPaymentBasepointSecret        string `json:"local_payment_basepoint_secret"`
	RemoteRevocationBasepointSecret    string `json:"remote_revocation_basepoint_secret"`
	LocalDelayedPaymentBasepointSecret string `json:"local_delayed_payment_basepoint_secret"`
	RemotePaymentBasepointSecret       string `json:"remote_payment_basepoint_secret"`
	XLocalPerCommitmentSecret          string `json:"x_local_per_commitment_secret"`
	RemoteRevocationBasepoint          string `json:"remote_revocation_basepoint"`
	LocalDelayedPaymentBasepoint       string `json:"local_delayed_payment_basepoint"`
	LocalPerCommitmentPoint            string `json:"local_per_commitment_point"`
	RemotePrivkey                      string `json:"remote_privkey"`
	LocalDelayedPrivkey                string `json:"local_delayed_privkey"`
}

type legacyFile struct {
	Common   appendixCCommon   `json:"common"`
	Internal appendixCInternal `json:"internal_derivation_values"`
	Tests    []struct {
		Name            string `json:"name"`
		RemoteSignature string `json:"remote_signature"`
		LocalSignature  string `json:"local_signature"`
		CommitTx        string `json:"commit_tx"`
		NumHTLCs        int    `json:"num_htlcs"`
		Outputs         []struct {
			Type          string `json:"type"`
			AmountSat     int64  `json:"amount_sat"`
			WitnessScript string `json:"witness_script"`
		} `json:"outputs"`
		HTLCTxs []struct {
			CommitOutputIndex   int    `json:"commit_output_index"`
			Type                string `json:"type"`
			RemoteHTLCSignature string `json:"remote_htlc_signature"`
			LocalHTLCSignature  string `json:"local_htlc_signature"`
			Tx                  string `json:"tx"`
		} `json:"htlc_txs"`
	} `json:"tests"`
}

type anchorsFile struct {
	Common   appendixCCommon `json:"common"`
	Internal struct {
		XLocalPerCommitmentSecret string `json:"x_local_per_commitment_secret"`
	} `json:"internal_derivation_values"`
	Tests []struct {
		Name      string `json:"Name"`
		HTLCDescs []struct {
			RemoteSigHex    string `json:"RemoteSigHex"`
			ResolutionTxHex string `json:"ResolutionTxHex"`
		} `json:"HtlcDescs"`
		ExpectedCommitmentTxHex string `json:"ExpectedCommitmentTxHex"`
		RemoteSigHex            string `json:"RemoteSigHex"`
	} `json:"tests"`
}

// appendixCSigners builds the two sides of the BOLT 3 Appendix C/F vectors as InMemorySigners. The spec
// uses the payment basepoint as the HTLC basepoint on both sides.
type appendixCSigners struct {
	local, remote *InMemorySigner
	localPCP      *btcec.PublicKey
	fundingScript []byte
}

func newAppendixCSigners(t *testing.T, c appendixCCommon, iv appendixCInternal) appendixCSigners {
	t.Helper()
	unrelated, _ := btcec.PrivKeyFromBytes([]byte{0x99}) // the spec does not give the local revocation basepoint secret
	local, err := NewInMemorySigner(ChannelSecrets{
		FundingKey:            mustPriv(t, c.LocalFundingPrivkey),
		RevocationBaseKey:     unrelated,
		PaymentKey:            mustPriv(t, iv.LocalPaymentBasepointSecret),
		DelayedPaymentBaseKey: mustPriv(t, iv.LocalDelayedPaymentBasepointSecret),
		HTLCBaseKey:           mustPriv(t, iv.LocalPaymentBasepointSecret),
	}, c.FundingAmountSatoshi, [32]byte{1})
	require.NoError(t, err)
	remote, err := NewInMemorySigner(ChannelSecrets{
		FundingKey:            mustPriv(t, iv.RemoteFundingPrivkey),
		RevocationBaseKey:     mustPriv(t, iv.RemoteRevocationBasepointSecret),
		PaymentKey:            mustPriv(t, iv.RemotePaymentBasepointSecret),
		DelayedPaymentBaseKey: unrelated,
		HTLCBaseKey:           mustPriv(t, iv.RemotePaymentBasepointSecret),
	}, c.FundingAmountSatoshi, [32]byte{2})
	require.NoError(t, err)

	requireSamePub(t, mustPub(t, c.LocalFundingPubkey), local.Pubkeys().FundingPubkey)
	requireSamePub(t, mustPub(t, c.LocalHTLCBasepoint), local.Pubkeys().HTLCBasepoint)
	requireSamePub(t, mustPub(t, c.LocalPaymentBasepoint), local.Pubkeys().PaymentPoint)
	requireSamePub(t, mustPub(t, c.RemoteFundingPubkey), remote.Pubkeys().FundingPubkey)
	requireSamePub(t, mustPub(t, c.RemoteHTLCBasepoint), remote.Pubkeys().HTLCBasepoint)
	requireSamePub(t, mustPub(t, iv.RemoteRevocationBasepoint), remote.Pubkeys().RevocationBasepoint)

	pcp, err := ComputePerCommitmentPoint(mustHex32(t, iv.XLocalPerCommitmentSecret[:64]))
	require.NoError(t, err)
	requireSamePub(t, mustPub(t, iv.LocalPerCommitmentPoint), pcp)

	fundingScript := mustHex(t, c.FundingWitnessScript)
	// 2 <local funding pubkey> <remote funding pubkey> 2 CHECKMULTISIG: the local signature comes first.
	require.Equal(t, mustHex(t, c.LocalFundingPubkey), fundingScript[2:35])
	require.Equal(t, mustHex(t, c.RemoteFundingPubkey), fundingScript[36:69])
	return appendixCSigners{local: local, remote: remote, localPCP: pcp, fundingScript: fundingScript}
}

func der(sig *ecdsa.Signature) string { return hex.EncodeToString(sig.Serialize()) }

// witnessSig returns a witness element without its trailing sighash byte, checking that byte.
func witnessSig(t *testing.T, elem []byte, hashType txscript.SigHashType) string {
	t.Helper()
	require.NotEmpty(t, elem)
	require.Equal(t, byte(hashType), elem[len(elem)-1])
	return hex.EncodeToString(elem[:len(elem)-1])
}

// TestAppendixCSignatures re-creates, for all 16 BOLT 3 Appendix C (legacy) vectors, the local and remote
// signatures on the commitment transaction and on every HTLC transaction, and checks the spec's
// witnesses hold exactly those signatures.
func TestAppendixCSignatures(t *testing.T) {
	var f legacyFile
	loadJSON(t, "commitment-and-htlc-txs-legacy.json", &f)
	require.Len(t, f.Tests, 16)
	s := newAppendixCSigners(t, f.Common, f.Internal)
	htlcSigs := 0
	for _, tc := range f.Tests {
		t.Run(tc.Name, func(t *testing.T) {
			commitTx := mustTx(t, tc.CommitTx)
			require.Len(t, commitTx.TxIn, 1)
			w := commitTx.TxIn[0].Witness
			require.Len(t, w, 4)
			require.Equal(t, s.fundingScript, []byte(w[3]))

			localSig, err := s.local.SignFundingInput(commitTx, 0, s.fundingScript, f.Common.FundingAmountSatoshi)
			require.NoError(t, err)
			require.Equal(t, tc.LocalSignature, der(localSig))
			require.Equal(t, tc.LocalSignature, witnessSig(t, w[1], txscript.SigHashAll))

			remoteSig, err := s.remote.SignFundingInput(commitTx, 0, s.fundingScript, f.Common.FundingAmountSatoshi)
			require.NoError(t, err)
			require.Equal(t, tc.RemoteSignature, der(remoteSig))
			require.Equal(t, tc.RemoteSignature, witnessSig(t, w[2], txscript.SigHashAll))

			// The precomputed-midstate variant gives the same signature.
			hashes := txscript.NewTxSigHashes(commitTx, txscript.NewCannedPrevOutputFetcher(nil, 0))
			sig2, err := s.local.SignFundingInputWithSigHashes(commitTx, 0, s.fundingScript, f.Common.FundingAmountSatoshi, hashes)
			require.NoError(t, err)
			require.Equal(t, tc.LocalSignature, der(sig2))

			require.Len(t, tc.HTLCTxs, tc.NumHTLCs)
			commitHash := commitTx.TxHash()
			for _, h := range tc.HTLCTxs {
				htlcTx := mustTx(t, h.Tx)
				require.Len(t, htlcTx.TxIn, 1)
				require.Equal(t, wire.OutPoint{Hash: commitHash, Index: uint32(h.CommitOutputIndex)}, htlcTx.TxIn[0].PreviousOutPoint)
				hw := htlcTx.TxIn[0].Witness
				require.Len(t, hw, 5)
				script := hw[4]
				value := commitTx.TxOut[h.CommitOutputIndex].Value

				lsig, err := s.local.SignHolderHTLCTx(htlcTx, 0, script, value, s.localPCP, txscript.SigHashAll)
				require.NoError(t, err)
				require.Equal(t, h.LocalHTLCSignature, der(lsig))
				require.Equal(t, h.LocalHTLCSignature, witnessSig(t, hw[2], txscript.SigHashAll))

				rsig, err := s.remote.SignCounterpartyHTLCTx(htlcTx, 0, script, value, s.localPCP, txscript.SigHashAll)
				require.NoError(t, err)
				require.Equal(t, h.RemoteHTLCSignature, der(rsig))
				require.Equal(t, h.RemoteHTLCSignature, witnessSig(t, hw[1], txscript.SigHashAll))
				htlcSigs++
			}
		})
	}
	require.Equal(t, 33, htlcSigs)
}

// TestAppendixFSignatures does the same for all 9 BOLT 3 Appendix F (option_anchors) vectors: the remote
// HTLC signatures use SIGHASH_SINGLE|SIGHASH_ANYONECANPAY, the local ones SIGHASH_ALL; the local
// signatures are those inside the spec's signed transactions.
func TestAppendixFSignatures(t *testing.T) {
	var f anchorsFile
	loadJSON(t, "commitment-and-htlc-txs-anchors.json", &f)
	require.Len(t, f.Tests, 9)
	var legacy legacyFile
	loadJSON(t, "commitment-and-htlc-txs-legacy.json", &legacy)
	require.Equal(t, legacy.Common, f.Common, "Appendix F reuses Appendix C's keys")
	s := newAppendixCSigners(t, f.Common, legacy.Internal)
	anchorSingle := txscript.SigHashSingle | txscript.SigHashAnyOneCanPay
	htlcSigs := 0
	for _, tc := range f.Tests {
		t.Run(tc.Name, func(t *testing.T) {
			commitTx := mustTx(t, tc.ExpectedCommitmentTxHex)
			w := commitTx.TxIn[0].Witness
			require.Len(t, w, 4)
			require.Equal(t, s.fundingScript, []byte(w[3]))

			localSig, err := s.local.SignFundingInput(commitTx, 0, s.fundingScript, f.Common.FundingAmountSatoshi)
			require.NoError(t, err)
			require.Equal(t, witnessSig(t, w[1], txscript.SigHashAll), der(localSig))
			remoteSig, err := s.remote.SignFundingInput(commitTx, 0, s.fundingScript, f.Common.FundingAmountSatoshi)
			require.NoError(t, err)
			require.Equal(t, tc.RemoteSigHex, der(remoteSig))
			require.Equal(t, tc.RemoteSigHex, witnessSig(t, w[2], txscript.SigHashAll))

			commitHash := commitTx.TxHash()
			for _, h := range tc.HTLCDescs {
				htlcTx := mustTx(t, h.ResolutionTxHex)
				require.Len(t, htlcTx.TxIn, 1)
				prev := htlcTx.TxIn[0].PreviousOutPoint
				require.Equal(t, commitHash, prev.Hash)
				hw := htlcTx.TxIn[0].Witness
				require.Len(t, hw, 5)
				script := hw[4]
				value := commitTx.TxOut[prev.Index].Value

				rsig, err := s.remote.SignCounterpartyHTLCTx(htlcTx, 0, script, value, s.localPCP, anchorSingle)
				require.NoError(t, err)
				require.Equal(t, h.RemoteSigHex, der(rsig))
				require.Equal(t, h.RemoteSigHex, witnessSig(t, hw[1], anchorSingle))

				lsig, err := s.local.SignHolderHTLCTx(htlcTx, 0, script, value, s.localPCP, txscript.SigHashAll)
				require.NoError(t, err)
				require.Equal(t, witnessSig(t, hw[2], txscript.SigHashAll), der(lsig))
				htlcSigs++
			}
		})
	}
	require.Equal(t, 15, htlcSigs)
}

// spendTx builds a version-2 transaction spending output 0 of a fake parent, with the given sequence.
func spendTx(prev wire.OutPoint, sequence uint32, valueSat int64) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: prev, Sequence: sequence})
	tx.AddTxOut(wire.NewTxOut(valueSat-500, []byte{0x00, 0x14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}))
	return tx
}

// runScript executes the spend of input 0 of tx (spending a P2WSH/P2WPKH output with pkScript and
// value) in btcd's script engine with standard verification flags.
func runScript(t *testing.T, pkScript []byte, tx *wire.MsgTx, valueSat int64) error {
	t.Helper()
	fetcher := txscript.NewCannedPrevOutputFetcher(pkScript, valueSat)
	vm, err := txscript.NewEngine(pkScript, tx, 0, txscript.StandardVerifyFlags, nil,
		txscript.NewTxSigHashes(tx, fetcher), valueSat, fetcher)
	require.NoError(t, err)
	return vm.Execute()
}

func p2wsh(script []byte) []byte {
	h := sha256.Sum256(script)
	return append([]byte{0x00, 0x20}, h[:]...)
}

// TestAppendixCOutputSpends spends the spec's own to_local and HTLC output scripts (from the "all five
// HTLCs" vector) with our signatures and runs the spends in the script engine: the to_local delayed path
// (SignDelayedOutput), the to_local revocation path and both HTLC revocation paths (SignJustice).
func TestAppendixCOutputSpends(t *testing.T) {
	var f legacyFile
	loadJSON(t, "commitment-and-htlc-txs-legacy.json", &f)
	s := newAppendixCSigners(t, f.Common, f.Internal)
	tc := f.Tests[1]
	require.Contains(t, tc.Name, "all five HTLCs")
	commitTx := mustTx(t, tc.CommitTx)
	commitHash := commitTx.TxHash()
	secret := mustHex32(t, f.Internal.XLocalPerCommitmentSecret[:64])
	revPub := mustPub(t, f.Common.LocalRevocationPubkey)

	outIndex := func(script []byte) uint32 {
		pk := p2wsh(script)
		for i, out := range commitTx.TxOut {
			if bytes.Equal(out.PkScript, pk) {
				return uint32(i)
			}
		}
		t.Fatalf("output not found")
		return 0
	}

	spends := 0
	for _, out := range tc.Outputs {
		if out.WitnessScript == "" {
			continue
		}
		script := mustHex(t, out.WitnessScript)
		prev := wire.OutPoint{Hash: commitHash, Index: outIndex(script)}
		value := commitTx.TxOut[prev.Index].Value
		require.Equal(t, out.AmountSat, value)

		// Revocation path, signed by the remote side with the revealed secret.
		tx := spendTx(prev, wire.MaxTxInSequenceNum, value)
		sig, err := s.remote.SignJustice(tx, 0, script, value, secret)
		require.NoError(t, err, out.Type)
		sigBytes := append(sig.Serialize(), byte(txscript.SigHashAll))
		if out.Type == "to_local" {
			tx.TxIn[0].Witness = wire.TxWitness{sigBytes, {1}, script}
		} else {
			tx.TxIn[0].Witness = wire.TxWitness{sigBytes, revPub.SerializeCompressed(), script}
		}
		require.NoError(t, runScript(t, p2wsh(script), tx, value), out.Type)
		spends++

		if out.Type == "to_local" {
			// Delayed path after to_self_delay, signed by the local side.
			tx := spendTx(prev, uint32(f.Common.LocalDelay), value)
			sig, err := s.local.SignDelayedOutput(tx, 0, script, value, s.localPCP)
			require.NoError(t, err)
			tx.TxIn[0].Witness = wire.TxWitness{append(sig.Serialize(), byte(txscript.SigHashAll)), nil, script}
			require.NoError(t, runScript(t, p2wsh(script), tx, value))
			spends++

			// A signature with the wrong key does not satisfy the script.
			_, err = s.remote.SignDelayedOutput(tx, 0, script, value, s.localPCP)
			require.ErrorIs(t, err, ErrScriptKeyMismatch)
		}
	}
	require.Equal(t, 7, spends)

	// The to_remote output pays P2WPKH(remote payment_basepoint) (option_static_remotekey): the remote
	// side sweeps it with SignPaymentOutput; the local side's payment key does not match it.
	var toRemote *wire.TxOut
	var toRemoteIndex uint32
	for i, out := range commitTx.TxOut {
		if len(out.PkScript) == 22 {
			toRemote, toRemoteIndex = out, uint32(i)
		}
	}
	require.NotNil(t, toRemote)
	tx := spendTx(wire.OutPoint{Hash: commitHash, Index: toRemoteIndex}, wire.MaxTxInSequenceNum, toRemote.Value)
	sig, err := s.remote.SignPaymentOutput(tx, 0, toRemote.PkScript, toRemote.Value)
	require.NoError(t, err)
	tx.TxIn[0].Witness = wire.TxWitness{append(sig.Serialize(), byte(txscript.SigHashAll)),
		s.remote.Pubkeys().PaymentPoint.SerializeCompressed()}
	require.NoError(t, runScript(t, toRemote.PkScript, tx, toRemote.Value))
	_, err = s.local.SignPaymentOutput(tx, 0, toRemote.PkScript, toRemote.Value)
	require.ErrorIs(t, err, ErrScriptKeyMismatch)
}
