package bolt3

import (
	"crypto/sha256"
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

// spendFixture is a commitment built from keys whose private halves the test
// holds, so that every spending path can be exercised by the script engine.
type spendFixture struct {
	typ                            ChannelType
	revocation, delayed, remotePay *btcec.PrivateKey
	localHTLC, remoteHTLC          *btcec.PrivateKey
	localFunding, remoteFunding    *btcec.PrivateKey
	preimages                      map[uint64][32]byte
	ct                             *CommitmentTx
	fundingWS, fundingPk           []byte
	fundingSat                     int64
	toSelfDelay                    uint16
	feerate                        uint32
}

func newSpendFixture(t *testing.T, typ ChannelType) *spendFixture {
	f := &spendFixture{
		typ:           typ,
		revocation:    testKey(11),
		delayed:       testKey(12),
		remotePay:     testKey(13),
		localHTLC:     testKey(14),
		remoteHTLC:    testKey(15),
		localFunding:  testKey(16),
		remoteFunding: testKey(17),
		preimages:     map[uint64][32]byte{},
		toSelfDelay:   10,
		feerate:       2500,
		fundingSat:    2_000_000,
	}
	var htlcs []HTLC
	var htlcMsat uint64
	for i := uint64(0); i < 4; i++ {
		var pre [32]byte
		pre[0] = byte(i + 1)
		f.preimages[i] = pre
		h := HTLC{Offered: i%2 == 0, AmountMsat: 20_000_000 + i*1_000_000, PaymentHash: sha256.Sum256(pre[:]),
			CltvExpiry: 700 + uint32(i), ID: i}
		htlcs = append(htlcs, h)
		htlcMsat += h.AmountMsat
	}
	var err error
	f.fundingWS, f.fundingPk, err = FundingScript(f.localFunding.PubKey(), f.remoteFunding.PubKey())
	require.NoError(t, err)
	toRemote := uint64(500_000_000)
	f.ct, err = BuildCommitmentTx(&CommitmentParams{
		FundingOutPoint:  wire.OutPoint{Index: 1},
		CommitmentNumber: 7,
		ObscuringFactor:  ObscuringFactor(f.localFunding.PubKey(), f.remoteFunding.PubKey()),
		ToLocalMsat:      uint64(f.fundingSat)*1000 - toRemote - htlcMsat,
		ToRemoteMsat:     toRemote,
		LocalIsFunder:    true,
		FeeratePerKw:     f.feerate,
		DustLimitSat:     354,
		ToSelfDelay:      f.toSelfDelay,
		Keys: CommitmentKeys{
			RevocationKey:    f.revocation.PubKey(),
			LocalDelayedKey:  f.delayed.PubKey(),
			RemotePaymentKey: f.remotePay.PubKey(),
			LocalHTLCKey:     f.localHTLC.PubKey(),
			RemoteHTLCKey:    f.remoteHTLC.PubKey(),
			LocalFundingKey:  f.localFunding.PubKey(),
			RemoteFundingKey: f.remoteFunding.PubKey(),
		},
		HTLCs:            htlcs,
		Type:             typ,
		FundingAmountSat: f.fundingSat,
	})
	require.NoError(t, err)
	require.Len(t, f.ct.HTLCOutputs, 4)
	require.GreaterOrEqual(t, f.ct.ToLocalIndex, 0)
	require.GreaterOrEqual(t, f.ct.ToRemoteIndex, 0)

	// The commitment itself, signed by both funding keys, is valid.
	tx := f.ct.Tx.Copy()
	sigL := signInput(t, tx, 0, f.fundingWS, f.fundingSat, txscript.SigHashAll, f.localFunding)
	sigR := signInput(t, tx, 0, f.fundingWS, f.fundingSat, txscript.SigHashAll, f.remoteFunding)
	tx.TxIn[0].Witness = FundingWitness(f.fundingWS, f.localFunding.PubKey(), sigL, f.remoteFunding.PubKey(), sigR)
	require.NoError(t, runScript(tx, 0, f.fundingPk, f.fundingSat))
	// The same signatures in the other order fail.
	w := tx.TxIn[0].Witness
	tx.TxIn[0].Witness = wire.TxWitness{nil, w[2], w[1], f.fundingWS}
	require.Error(t, runScript(tx, 0, f.fundingPk, f.fundingSat))
	return f
}

// spendP2WSH spends output idx of prev (a P2WSH of witnessScript) with a
// one-input, one-output version-2 transaction, and runs the script engine.
func spendP2WSH(t *testing.T, prev *wire.MsgTx, idx uint32, witnessScript []byte, sequence, lockTime uint32,
	witness func(tx *wire.MsgTx, sigHash func(*btcec.PrivateKey) []byte) wire.TxWitness) error {
	t.Helper()
	out := prev.TxOut[idx]
	require.Equal(t, WitnessScriptHash(witnessScript), out.PkScript, "witness script matches the output")
	prevHash := prev.TxHash()
	tx := wire.NewMsgTx(2)
	tx.LockTime = lockTime
	in := wire.NewTxIn(wire.NewOutPoint(&prevHash, idx), nil, nil)
	in.Sequence = sequence
	tx.AddTxIn(in)
	tx.AddTxOut(wire.NewTxOut(out.Value-200, []byte{txscript.OP_0, txscript.OP_DATA_20,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}))
	tx.TxIn[0].Witness = witness(tx, func(k *btcec.PrivateKey) []byte {
		return signInput(t, tx, 0, witnessScript, out.Value, txscript.SigHashAll, k)
	})
	return runScript(tx, 0, out.PkScript, out.Value)
}

func TestSpendPaths(t *testing.T) {
	for _, typ := range []ChannelType{ChannelTypeStaticRemoteKey, ChannelTypeAnchors} {
		t.Run(typ.String(), func(t *testing.T) {
			f := newSpendFixture(t, typ)
			ct := f.ct
			commit := ct.Tx
			htlcSeq := HTLCInputSequence(typ)

			// to_local: the owner after to_self_delay, not before.
			toLocal := uint32(ct.ToLocalIndex)
			delayed := func(tx *wire.MsgTx, sig func(*btcec.PrivateKey) []byte) wire.TxWitness {
				return ToLocalDelayedWitness(ct.ToLocalScript, sig(f.delayed))
			}
			require.NoError(t, spendP2WSH(t, commit, toLocal, ct.ToLocalScript, uint32(f.toSelfDelay), 0, delayed))
			require.Error(t, spendP2WSH(t, commit, toLocal, ct.ToLocalScript, uint32(f.toSelfDelay)-1, 0, delayed))
			// to_local: the counterparty with the revocation key, at once.
			require.NoError(t, spendP2WSH(t, commit, toLocal, ct.ToLocalScript, 0, 0,
				func(tx *wire.MsgTx, sig func(*btcec.PrivateKey) []byte) wire.TxWitness {
					return ToLocalRevokeWitness(ct.ToLocalScript, sig(f.revocation))
				}))
			require.Error(t, spendP2WSH(t, commit, toLocal, ct.ToLocalScript, 0, 0,
				func(tx *wire.MsgTx, sig func(*btcec.PrivateKey) []byte) wire.TxWitness {
					return ToLocalRevokeWitness(ct.ToLocalScript, sig(f.delayed))
				}))

			// to_remote.
			testToRemoteSpend(t, f)

			// Anchors: the funding key's owner at once, anyone after 16 blocks.
			if typ.HasAnchors() {
				for _, a := range []struct {
					idx int
					key *btcec.PrivateKey
				}{{ct.LocalAnchorIndex, f.localFunding}, {ct.RemoteAnchorIndex, f.remoteFunding}} {
					require.GreaterOrEqual(t, a.idx, 0)
					ws, err := AnchorScript(a.key.PubKey())
					require.NoError(t, err)
					require.EqualValues(t, AnchorOutputValueSat, commit.TxOut[a.idx].Value)
					require.NoError(t, spendP2WSH(t, commit, uint32(a.idx), ws, 0, 0,
						func(tx *wire.MsgTx, sig func(*btcec.PrivateKey) []byte) wire.TxWitness {
							return AnchorWitness(ws, sig(a.key))
						}))
					sweep := func(tx *wire.MsgTx, _ func(*btcec.PrivateKey) []byte) wire.TxWitness {
						return AnchorSweepWitness(ws)
					}
					require.NoError(t, spendP2WSH(t, commit, uint32(a.idx), ws, AnchorCSVDelay, 0, sweep))
					require.Error(t, spendP2WSH(t, commit, uint32(a.idx), ws, AnchorCSVDelay-1, 0, sweep))
				}
			} else {
				require.Equal(t, -1, ct.LocalAnchorIndex)
				require.Equal(t, -1, ct.RemoteAnchorIndex)
			}

			for _, out := range ct.HTLCOutputs {
				out := out
				idx := out.OutputIndex
				ws := out.WitnessScript
				pre := f.preimages[out.HTLC.ID]
				t.Run(fmt.Sprintf("htlc%d", out.HTLC.ID), func(t *testing.T) {
					// Revoked commitment: the revocation key takes any HTLC.
					require.NoError(t, spendP2WSH(t, commit, idx, ws, 0, 0,
						func(tx *wire.MsgTx, sig func(*btcec.PrivateKey) []byte) wire.TxWitness {
							w, err := HTLCRevokeWitness(ws, sig(f.revocation), f.revocation.PubKey())
							require.NoError(t, err)
							return w
						}))
					require.Error(t, spendP2WSH(t, commit, idx, ws, 0, 0,
						func(tx *wire.MsgTx, sig func(*btcec.PrivateKey) []byte) wire.TxWitness {
							w, err := HTLCRevokeWitness(ws, sig(f.remoteHTLC), f.revocation.PubKey())
							require.NoError(t, err)
							return w
						}))

					if out.HTLC.Offered {
						// The counterparty claims with the preimage.
						claim := func(p [32]byte) func(tx *wire.MsgTx, sig func(*btcec.PrivateKey) []byte) wire.TxWitness {
							return func(tx *wire.MsgTx, sig func(*btcec.PrivateKey) []byte) wire.TxWitness {
								return OfferedHTLCPreimageWitness(ws, sig(f.remoteHTLC), p)
							}
						}
						require.NoError(t, spendP2WSH(t, commit, idx, ws, htlcSeq, 0, claim(pre)))
						require.Error(t, spendP2WSH(t, commit, idx, ws, htlcSeq, 0, claim([32]byte{9})), "wrong preimage")
						if typ.HasAnchors() {
							require.Error(t, spendP2WSH(t, commit, idx, ws, 0, 0, claim(pre)), "CSV 1")
						}
					} else {
						// The counterparty times the HTLC out.
						timeout := func(tx *wire.MsgTx, sig func(*btcec.PrivateKey) []byte) wire.TxWitness {
							return ReceivedHTLCTimeoutWitness(ws, sig(f.remoteHTLC))
						}
						require.NoError(t, spendP2WSH(t, commit, idx, ws, htlcSeq, out.HTLC.CltvExpiry, timeout))
						require.Error(t, spendP2WSH(t, commit, idx, ws, htlcSeq, out.HTLC.CltvExpiry-1, timeout), "CLTV")
						if typ.HasAnchors() {
							require.Error(t, spendP2WSH(t, commit, idx, ws, 0, out.HTLC.CltvExpiry, timeout), "CSV 1")
						}
					}

					// The owner's second-stage transaction, then its output.
					testSecondStage(t, f, out, pre)
				})
			}
		})
	}
}

func testToRemoteSpend(t *testing.T, f *spendFixture) {
	t.Helper()
	ct := f.ct
	out := ct.Tx.TxOut[ct.ToRemoteIndex]
	prevHash := ct.Tx.TxHash()
	build := func(seq uint32) *wire.MsgTx {
		tx := wire.NewMsgTx(2)
		in := wire.NewTxIn(wire.NewOutPoint(&prevHash, uint32(ct.ToRemoteIndex)), nil, nil)
		in.Sequence = seq
		tx.AddTxIn(in)
		tx.AddTxOut(wire.NewTxOut(out.Value-200, out.PkScript))
		return tx
	}
	if !f.typ.HasAnchors() {
		require.Nil(t, ct.ToRemoteWitnessScript)
		tx := build(0)
		// P2WPKH signs the P2PKH script code.
		code, err := txscript.NewScriptBuilder().AddOp(txscript.OP_DUP).AddOp(txscript.OP_HASH160).
			AddData(out.PkScript[2:]).AddOp(txscript.OP_EQUALVERIFY).AddOp(txscript.OP_CHECKSIG).Script()
		require.NoError(t, err)
		hashes := txscript.NewTxSigHashes(tx, txscript.NewCannedPrevOutputFetcher(out.PkScript, out.Value))
		sig, err := txscript.RawTxInWitnessSignature(tx, hashes, 0, out.Value, code, txscript.SigHashAll, f.remotePay)
		require.NoError(t, err)
		w, err := ToRemoteWitness(sig, f.remotePay.PubKey(), f.typ)
		require.NoError(t, err)
		tx.TxIn[0].Witness = w
		require.NoError(t, runScript(tx, 0, out.PkScript, out.Value))
		return
	}
	ws := ct.ToRemoteWitnessScript
	for _, seq := range []uint32{1, 0} {
		tx := build(seq)
		sig := signInput(t, tx, 0, ws, out.Value, txscript.SigHashAll, f.remotePay)
		w, err := ToRemoteWitness(sig, f.remotePay.PubKey(), f.typ)
		require.NoError(t, err)
		tx.TxIn[0].Witness = w
		err = runScript(tx, 0, out.PkScript, out.Value)
		if seq == 1 {
			require.NoError(t, err)
		} else {
			require.Error(t, err, "to_remote needs nSequence 1 with anchors")
		}
	}
}

func testSecondStage(t *testing.T, f *spendFixture, out HTLCOutput, pre [32]byte) {
	t.Helper()
	ct := f.ct
	revKey, delKey := f.revocation.PubKey(), f.delayed.PubKey()
	var tx *wire.MsgTx
	var err error
	if out.HTLC.Offered {
		tx, err = BuildHTLCTimeoutTx(ct.Tx.TxHash(), out, f.feerate, f.toSelfDelay, revKey, delKey, f.typ)
		require.NoError(t, err)
		require.Equal(t, out.HTLC.CltvExpiry, tx.LockTime)
		_, err = BuildHTLCSuccessTx(ct.Tx.TxHash(), out, f.feerate, f.toSelfDelay, revKey, delKey, f.typ)
		require.ErrorIs(t, err, ErrWrongHTLCDirection)
	} else {
		tx, err = BuildHTLCSuccessTx(ct.Tx.TxHash(), out, f.feerate, f.toSelfDelay, revKey, delKey, f.typ)
		require.NoError(t, err)
		require.Zero(t, tx.LockTime)
		_, err = BuildHTLCTimeoutTx(ct.Tx.TxHash(), out, f.feerate, f.toSelfDelay, revKey, delKey, f.typ)
		require.ErrorIs(t, err, ErrWrongHTLCDirection)
	}
	require.Equal(t, HTLCInputSequence(f.typ), tx.TxIn[0].Sequence)
	require.EqualValues(t, 2, tx.Version)

	remoteSig := signInput(t, tx, 0, out.WitnessScript, out.AmountSat, HTLCSigHashType(f.typ), f.remoteHTLC)
	localSig := signInput(t, tx, 0, out.WitnessScript, out.AmountSat, txscript.SigHashAll, f.localHTLC)
	if out.HTLC.Offered {
		tx.TxIn[0].Witness = HTLCTimeoutWitness(out.WitnessScript, remoteSig, localSig)
	} else {
		tx.TxIn[0].Witness = HTLCSuccessWitness(out.WitnessScript, remoteSig, localSig, pre)
	}
	prev := ct.Tx.TxOut[out.OutputIndex]
	require.NoError(t, runScript(tx, 0, prev.PkScript, prev.Value))

	// Swapped signatures fail.
	good := tx.TxIn[0].Witness
	bad := append(wire.TxWitness{}, good...)
	bad[1], bad[2] = bad[2], bad[1]
	tx.TxIn[0].Witness = bad
	require.Error(t, runScript(tx, 0, prev.PkScript, prev.Value))
	tx.TxIn[0].Witness = good

	if f.typ.HasAnchors() {
		// SIGHASH_SINGLE|ANYONECANPAY: the remote signature survives an added
		// fee input and change output.
		bumped := tx.Copy()
		bumped.AddTxIn(wire.NewTxIn(&wire.OutPoint{Index: 9}, nil, nil))
		bumped.AddTxOut(wire.NewTxOut(1000, prev.PkScript))
		h, err := WitnessSigHash(bumped, 0, out.WitnessScript, out.AmountSat, HTLCSigHashType(f.typ))
		require.NoError(t, err)
		h0, err := WitnessSigHash(tx, 0, out.WitnessScript, out.AmountSat, HTLCSigHashType(f.typ))
		require.NoError(t, err)
		require.Equal(t, h0, h)
	}

	// Its output: the owner after to_self_delay, the counterparty if revoked.
	ws, err := SecondStageHTLCScript(revKey, delKey, f.toSelfDelay)
	require.NoError(t, err)
	delayed := func(tx *wire.MsgTx, sig func(*btcec.PrivateKey) []byte) wire.TxWitness {
		return ToLocalDelayedWitness(ws, sig(f.delayed))
	}
	require.NoError(t, spendP2WSH(t, tx, 0, ws, uint32(f.toSelfDelay), 0, delayed))
	require.Error(t, spendP2WSH(t, tx, 0, ws, 1, 0, delayed))
	require.NoError(t, spendP2WSH(t, tx, 0, ws, 0, 0,
		func(tx *wire.MsgTx, sig func(*btcec.PrivateKey) []byte) wire.TxWitness {
			return ToLocalRevokeWitness(ws, sig(f.revocation))
		}))
}
