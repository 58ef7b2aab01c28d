package bolt3

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

func baseParams(typ ChannelType) *CommitmentParams {
	return &CommitmentParams{
		FundingOutPoint:  wire.OutPoint{Hash: chainhash.Hash{1}, Index: 0},
		CommitmentNumber: 3,
		ObscuringFactor:  0x123456789abc,
		ToLocalMsat:      600_000_000,
		ToRemoteMsat:     400_000_000,
		LocalIsFunder:    true,
		FeeratePerKw:     1000,
		DustLimitSat:     546,
		ToSelfDelay:      144,
		Keys:             randomishKeys(),
		Type:             typ,
	}
}

func TestBuildCommitmentErrors(t *testing.T) {
	_, err := BuildCommitmentTx(nil)
	require.ErrorIs(t, err, ErrInvalidParams)

	cases := []struct {
		name string
		mod  func(p *CommitmentParams)
		want error
	}{
		{"unknown type", func(p *CommitmentParams) { p.Type = 7 }, ErrUnknownChannelType},
		{"commitment number", func(p *CommitmentParams) { p.CommitmentNumber = MaxCommitmentNumber + 1 }, ErrInvalidParams},
		{"obscuring factor", func(p *CommitmentParams) { p.ObscuringFactor = 1 << 48 }, ErrInvalidParams},
		{"negative dust", func(p *CommitmentParams) { p.DustLimitSat = -1 }, ErrInvalidParams},
		{"negative funding", func(p *CommitmentParams) { p.FundingAmountSat = -1 }, ErrInvalidParams},
		{"too many HTLCs", func(p *CommitmentParams) { p.HTLCs = make([]HTLC, MaxHTLCs+1) }, ErrTooManyHTLCs},
		{"no revocation key", func(p *CommitmentParams) { p.Keys.RevocationKey = nil }, ErrMissingKey},
		{"no delayed key", func(p *CommitmentParams) { p.Keys.LocalDelayedKey = nil }, ErrMissingKey},
		{"no remote payment key", func(p *CommitmentParams) { p.Keys.RemotePaymentKey = nil }, ErrMissingKey},
		{"no local HTLC key", func(p *CommitmentParams) { p.Keys.LocalHTLCKey = nil }, ErrMissingKey},
		{"no remote HTLC key", func(p *CommitmentParams) { p.Keys.RemoteHTLCKey = nil }, ErrMissingKey},
		{"no local funding key", func(p *CommitmentParams) { p.Type = ChannelTypeAnchors; p.Keys.LocalFundingKey = nil }, ErrMissingKey},
		{"no remote funding key", func(p *CommitmentParams) { p.Type = ChannelTypeAnchors; p.Keys.RemoteFundingKey = nil }, ErrMissingKey},
		{"balance too large", func(p *CommitmentParams) { p.ToLocalMsat = MaxMsat + 1 }, ErrAmountTooLarge},
		{"sum too large", func(p *CommitmentParams) { p.ToLocalMsat, p.ToRemoteMsat = MaxMsat, 1 }, ErrAmountTooLarge},
		{"HTLC too large", func(p *CommitmentParams) { p.HTLCs = []HTLC{{AmountMsat: ^uint64(0)}} }, ErrAmountTooLarge},
		{"balance mismatch", func(p *CommitmentParams) { p.FundingAmountSat = 1_000_001 }, ErrBalanceMismatch},
		{"local funder cannot pay", func(p *CommitmentParams) { p.ToLocalMsat = 723_999 }, ErrFunderCannotPayFee},
		{"remote funder cannot pay", func(p *CommitmentParams) { p.LocalIsFunder = false; p.ToRemoteMsat = 0 }, ErrFunderCannotPayFee},
		{"funder cannot pay anchors", func(p *CommitmentParams) {
			p.Type = ChannelTypeAnchors
			p.ToLocalMsat = 1_124_000 + 659_999
		}, ErrFunderCannotPayFee},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := baseParams(ChannelTypeStaticRemoteKey)
			c.mod(p)
			ct, err := BuildCommitmentTx(p)
			require.ErrorIs(t, err, c.want)
			require.Nil(t, ct)
		})
	}

	// The matching funding amount and exactly enough for the fee succeed.
	p := baseParams(ChannelTypeStaticRemoteKey)
	p.FundingAmountSat = 1_000_000
	p.ToLocalMsat = 724_000
	p.ToRemoteMsat = 1_000_000_000 - 724_000
	ct, err := BuildCommitmentTx(p)
	require.NoError(t, err)
	require.Zero(t, ct.ToLocalSat)
	require.Equal(t, -1, ct.ToLocalIndex)
	require.EqualValues(t, 724, ct.FeeSat)

	p = baseParams(ChannelTypeAnchors)
	p.ToLocalMsat = 1_124_000 + 660_000
	ct, err = BuildCommitmentTx(p)
	require.NoError(t, err)
	require.Zero(t, ct.ToLocalSat)
}

func TestCommitmentFunderAndDust(t *testing.T) {
	for _, typ := range []ChannelType{ChannelTypeStaticRemoteKey, ChannelTypeAnchors} {
		t.Run(typ.String(), func(t *testing.T) {
			anchors := int64(0)
			if typ.HasAnchors() {
				anchors = 2 * AnchorOutputValueSat
			}
			fee := CommitmentFeeSat(1000, 0, typ)

			// The remote pays when it is the funder.
			p := baseParams(typ)
			p.LocalIsFunder = false
			ct, err := BuildCommitmentTx(p)
			require.NoError(t, err)
			require.EqualValues(t, 600_000, ct.ToLocalSat)
			require.EqualValues(t, 400_000-fee-anchors, ct.ToRemoteSat)
			require.Equal(t, fee, ct.FeeSat)
			require.Equal(t, fee, ct.BaseFeeSat)

			// A to_remote below the dust limit is omitted and adds to the fee,
			// msat are rounded down, and with anchors only the owner's anchor
			// remains (the other 330 sat also go to the fee).
			p = baseParams(typ)
			p.ToRemoteMsat = 545_999
			p.ToLocalMsat = 1_000_000_000
			ct, err = BuildCommitmentTx(p)
			require.NoError(t, err)
			require.Equal(t, -1, ct.ToRemoteIndex)
			require.EqualValues(t, 545, ct.ToRemoteSat)
			wantFee := fee + 545
			if typ.HasAnchors() {
				require.GreaterOrEqual(t, ct.LocalAnchorIndex, 0)
				require.Equal(t, -1, ct.RemoteAnchorIndex)
				wantFee += AnchorOutputValueSat
			}
			require.Equal(t, wantFee, ct.FeeSat)
			require.Equal(t, int64(1_000_545), sumOut(ct.Tx)+ct.FeeSat)

			// Exactly the dust limit stays.
			p.ToRemoteMsat = 546_000
			ct, err = BuildCommitmentTx(p)
			require.NoError(t, err)
			require.GreaterOrEqual(t, ct.ToRemoteIndex, 0)

			// An untrimmed HTLC brings both anchors back.
			p.ToRemoteMsat = 0
			p.HTLCs = []HTLC{{Offered: true, AmountMsat: 50_000_000, CltvExpiry: 10}}
			ct, err = BuildCommitmentTx(p)
			require.NoError(t, err)
			require.Equal(t, -1, ct.ToRemoteIndex)
			if typ.HasAnchors() {
				require.GreaterOrEqual(t, ct.RemoteAnchorIndex, 0)
				require.GreaterOrEqual(t, ct.LocalAnchorIndex, 0)
			}

			// Nothing left but dust: no outputs, everything is fee.
			p = baseParams(typ)
			p.ToLocalMsat = uint64(fee+anchors)*1000 + 100_000
			p.ToRemoteMsat = 100_000
			ct, err = BuildCommitmentTx(p)
			require.NoError(t, err)
			require.Empty(t, ct.Tx.TxOut)
			require.Equal(t, fee+anchors+200, ct.FeeSat)

			// With AllowFunderDeficit the funder's output goes to zero.
			// The anchors must still be paid for.
			p = baseParams(typ)
			p.ToLocalMsat = uint64(anchors)*1000 + 1000
			p.AllowFunderDeficit = true
			ct, err = BuildCommitmentTx(p)
			require.NoError(t, err)
			require.Zero(t, ct.ToLocalSat)
			require.Equal(t, -1, ct.ToLocalIndex)
			require.EqualValues(t, 400_000, ct.ToRemoteSat)
			// Paid: 1 sat of fee, plus the anchor that has no output.
			require.EqualValues(t, 1+anchors/2, ct.FeeSat)
			require.EqualValues(t, 400_000+anchors+1, ct.FeeSat+sumOut(ct.Tx))
			if typ.HasAnchors() {
				p.ToLocalMsat = uint64(anchors)*1000 - 1
				_, err = BuildCommitmentTx(p)
				require.ErrorIs(t, err, ErrFunderCannotPayFee)
			}
		})
	}
}

func sumOut(tx *wire.MsgTx) int64 {
	var s int64
	for _, o := range tx.TxOut {
		s += o.Value
	}
	return s
}

func TestIsTrimmedBoundaries(t *testing.T) {
	const dust = 546
	const feerate = 5000
	for _, typ := range []ChannelType{ChannelTypeStaticRemoteKey, ChannelTypeAnchors} {
		for _, offered := range []bool{true, false} {
			fee := HTLCSuccessFeeSat(feerate, typ)
			if offered {
				fee = HTLCTimeoutFeeSat(feerate, typ)
			}
			at := HTLC{Offered: offered, AmountMsat: uint64(dust+fee) * 1000}
			require.False(t, IsTrimmed(at, dust, feerate, typ))
			below := HTLC{Offered: offered, AmountMsat: uint64(dust+fee)*1000 - 1}
			require.True(t, IsTrimmed(below, dust, feerate, typ), "msat are rounded down")
		}
	}
	require.Zero(t, HTLCTimeoutFeeSat(1_000_000, ChannelTypeAnchors))
	require.Zero(t, HTLCSuccessFeeSat(1_000_000, ChannelTypeAnchors))
	require.EqualValues(t, 663, HTLCTimeoutFeeSat(1000, ChannelTypeStaticRemoteKey))
	require.EqualValues(t, 703, HTLCSuccessFeeSat(1000, ChannelTypeStaticRemoteKey))
	require.EqualValues(t, 1124+172*3, CommitmentFeeSat(1000, 3, ChannelTypeAnchors))
	require.EqualValues(t, 724, CommitmentFeeSat(1000, -5, ChannelTypeStaticRemoteKey))
	require.EqualValues(t, int64(^uint32(0))*(724+172*MaxHTLCs)/1000,
		CommitmentFeeSat(^uint32(0), MaxHTLCs, ChannelTypeStaticRemoteKey), "no overflow at the extremes")
}

// TestOutputOrdering checks BIP 69 with the CLTV tie-break, independent of
// the order in which HTLCs are given.
func TestOutputOrdering(t *testing.T) {
	hash := sha256.Sum256([]byte("same"))
	htlcs := []HTLC{
		{Offered: true, AmountMsat: 5_000_000, PaymentHash: hash, CltvExpiry: 506, ID: 1},
		{Offered: true, AmountMsat: 5_000_999, PaymentHash: hash, CltvExpiry: 505, ID: 2},
		{Offered: true, AmountMsat: 5_000_500, PaymentHash: hash, CltvExpiry: 505, ID: 3},
		{Offered: false, AmountMsat: 5_000_000, PaymentHash: hash, CltvExpiry: 505, ID: 4},
		{Offered: true, AmountMsat: 9_000_000, PaymentHash: hash, CltvExpiry: 400, ID: 5},
	}
	for _, typ := range []ChannelType{ChannelTypeStaticRemoteKey, ChannelTypeAnchors} {
		p := baseParams(typ)
		p.ToLocalMsat -= 33_001_499
		p.HTLCs = htlcs
		a, err := BuildCommitmentTx(p)
		require.NoError(t, err)
		rev := make([]HTLC, len(htlcs))
		for i, h := range htlcs {
			rev[len(htlcs)-1-i] = h
		}
		p.HTLCs = rev
		b, err := BuildCommitmentTx(p)
		require.NoError(t, err)
		require.Equal(t, a.Tx.TxHash(), b.Tx.TxHash())
		require.Equal(t, a.HTLCOutputs, b.HTLCOutputs)
		// IDs 2 and 3 are identical outputs with the same CLTV: by ID. Then
		// ID 1 (CLTV 506) after both.
		var offered5000 []uint64
		for _, o := range a.HTLCOutputs {
			if o.HTLC.Offered && o.AmountSat == 5000 {
				offered5000 = append(offered5000, o.HTLC.ID)
			}
		}
		require.Equal(t, []uint64{2, 3, 1}, offered5000)
		requireSorted(t, a)
	}
}

func requireSorted(t testing.TB, ct *CommitmentTx) {
	t.Helper()
	cltv := map[int]uint32{}
	for _, h := range ct.HTLCOutputs {
		cltv[int(h.OutputIndex)] = h.HTLC.CltvExpiry
	}
	outs := ct.Tx.TxOut
	for i := 1; i < len(outs); i++ {
		a, b := outs[i-1], outs[i]
		if a.Value != b.Value {
			require.Less(t, a.Value, b.Value, "outputs %d,%d by amount", i-1, i)
			continue
		}
		c := bytes.Compare(a.PkScript, b.PkScript)
		require.LessOrEqual(t, c, 0, "outputs %d,%d by script", i-1, i)
		if c == 0 {
			require.LessOrEqual(t, cltv[i-1], cltv[i], "outputs %d,%d by CLTV", i-1, i)
		}
	}
}

func TestCommitmentNumberEncoding(t *testing.T) {
	for _, n := range []uint64{0, 1, 42, 1<<24 - 1, 1 << 24, MaxCommitmentNumber} {
		for _, f := range []uint64{0, 0x2bb038521914, MaxCommitmentNumber} {
			lt, seq := CommitmentLockTimeSequence(n, f)
			require.EqualValues(t, 0x20, lt>>24)
			require.EqualValues(t, 0x80, seq>>24)
			got, err := DecodeCommitmentNumber(lt, seq, f)
			require.NoError(t, err)
			require.Equal(t, n, got)
		}
	}
	// BOLT 3 Appendix C: 0x2bb038521914 ^ 42 gives locktime 0x2052193e and
	// sequence 0x802bb038.
	lt, seq := CommitmentLockTimeSequence(42, 0x2bb038521914)
	require.EqualValues(t, 0x2052193e, lt)
	require.EqualValues(t, 0x802bb038, seq)

	_, err := DecodeCommitmentNumber(0, 0x80000000, 0)
	require.ErrorIs(t, err, ErrNotCommitment)
	_, err = DecodeCommitmentNumber(0x20000000, 0xFFFFFFFF, 0)
	require.ErrorIs(t, err, ErrNotCommitment)
}

func TestObscuringFactor(t *testing.T) {
	a, b := testKey(1).PubKey(), testKey(2).PubKey()
	h := sha256.Sum256(append(a.SerializeCompressed(), b.SerializeCompressed()...))
	var want uint64
	for _, x := range h[26:] {
		want = want<<8 | uint64(x)
	}
	require.Equal(t, want, ObscuringFactor(a, b))
	require.NotEqual(t, ObscuringFactor(a, b), ObscuringFactor(b, a), "opener first")
	require.LessOrEqual(t, ObscuringFactor(a, b), uint64(MaxCommitmentNumber))
	require.Zero(t, ObscuringFactor(nil, b))
	require.Zero(t, ObscuringFactor(a, nil))
}

func TestScriptErrors(t *testing.T) {
	k := testKey(1).PubKey()
	var h [32]byte
	_, _, err := FundingScript(nil, k)
	require.ErrorIs(t, err, ErrMissingKey)
	_, _, err = FundingOutput(k, k, -1)
	require.ErrorIs(t, err, ErrInvalidParams)
	_, _, err = FundingOutput(k, nil, 1)
	require.ErrorIs(t, err, ErrMissingKey)
	_, err = ToLocalScript(k, nil, 1)
	require.ErrorIs(t, err, ErrMissingKey)
	_, _, err = ToRemoteScript(nil, ChannelTypeAnchors)
	require.ErrorIs(t, err, ErrMissingKey)
	_, _, err = ToRemoteScript(k, 9)
	require.ErrorIs(t, err, ErrUnknownChannelType)
	_, err = AnchorScript(nil)
	require.ErrorIs(t, err, ErrMissingKey)
	_, err = OfferedHTLCScript(k, nil, k, h, ChannelTypeAnchors)
	require.ErrorIs(t, err, ErrMissingKey)
	_, err = OfferedHTLCScript(k, k, k, h, 9)
	require.ErrorIs(t, err, ErrUnknownChannelType)
	_, err = ReceivedHTLCScript(k, k, nil, h, 1, ChannelTypeStaticRemoteKey)
	require.ErrorIs(t, err, ErrMissingKey)
	_, err = ReceivedHTLCScript(k, k, k, h, 1, 9)
	require.ErrorIs(t, err, ErrUnknownChannelType)
	_, err = P2WPKHScript(nil)
	require.ErrorIs(t, err, ErrMissingKey)
	_, err = HTLCRevokeWitness(nil, nil, nil)
	require.ErrorIs(t, err, ErrMissingKey)
	_, err = ToRemoteWitness(nil, nil, ChannelTypeStaticRemoteKey)
	require.ErrorIs(t, err, ErrMissingKey)

	// FundingScript does not depend on argument order.
	k2 := testKey(2).PubKey()
	w1, p1, err := FundingScript(k, k2)
	require.NoError(t, err)
	w2, p2, err := FundingScript(k2, k)
	require.NoError(t, err)
	require.Equal(t, w1, w2)
	require.Equal(t, p1, p2)
	require.Len(t, w1, 71)
	require.Len(t, p1, 34)
}

func TestHTLCTxErrors(t *testing.T) {
	k := testKey(1).PubKey()
	out := HTLCOutput{HTLC: HTLC{Offered: true, CltvExpiry: 5}, AmountSat: 662, OutputIndex: 2}
	_, err := BuildHTLCTimeoutTx(chainhash.Hash{}, out, 1000, 6, k, k, ChannelTypeStaticRemoteKey)
	require.ErrorIs(t, err, ErrHTLCAmountBelowFee)
	out.AmountSat = 663
	tx, err := BuildHTLCTimeoutTx(chainhash.Hash{}, out, 1000, 6, k, k, ChannelTypeStaticRemoteKey)
	require.NoError(t, err)
	require.Zero(t, tx.TxOut[0].Value)
	require.EqualValues(t, 2, tx.TxIn[0].PreviousOutPoint.Index)
	_, err = BuildHTLCTimeoutTx(chainhash.Hash{}, out, 1000, 6, nil, k, ChannelTypeStaticRemoteKey)
	require.ErrorIs(t, err, ErrMissingKey)
	_, err = BuildHTLCTimeoutTx(chainhash.Hash{}, out, 1000, 6, k, k, 9)
	require.ErrorIs(t, err, ErrUnknownChannelType)
	// Zero-fee with anchors.
	tx, err = BuildHTLCTimeoutTx(chainhash.Hash{}, out, 1000, 6, k, k, ChannelTypeAnchors)
	require.NoError(t, err)
	require.EqualValues(t, 663, tx.TxOut[0].Value)

	out.HTLC.Offered = false
	out.AmountSat = 702
	_, err = BuildHTLCSuccessTx(chainhash.Hash{}, out, 1000, 6, k, k, ChannelTypeStaticRemoteKey)
	require.ErrorIs(t, err, ErrHTLCAmountBelowFee)

	_, err = WitnessSigHash(nil, 0, nil, 0, txscript.SigHashAll)
	require.ErrorIs(t, err, ErrInvalidInputIndex)
	_, err = WitnessSigHash(tx, -1, nil, 0, txscript.SigHashAll)
	require.ErrorIs(t, err, ErrInvalidInputIndex)
	_, err = WitnessSigHash(tx, 1, nil, 0, txscript.SigHashAll)
	require.ErrorIs(t, err, ErrInvalidInputIndex)
	_, err = WitnessSigHash(tx, 0, []byte{txscript.OP_DATA_1}, 0, txscript.SigHashAll)
	require.Error(t, err, "unparsable script")

	require.Equal(t, txscript.SigHashAll, HTLCSigHashType(ChannelTypeStaticRemoteKey))
	require.Equal(t, txscript.SigHashSingle|txscript.SigHashAnyOneCanPay, HTLCSigHashType(ChannelTypeAnchors))
}

// dummySig is a 73-byte stand-in signature (the maximum size BOLT 3 assumes).
var dummySig = bytes.Repeat([]byte{0x30}, 73)

// TestExpectedWeights rebuilds the BOLT 3 Appendix A expected weights from
// real transactions with maximum-size signatures.
func TestExpectedWeights(t *testing.T) {
	// A CLTV needing 4 bytes, as Appendix A assumes.
	const cltv = 0x7000_0000
	for _, typ := range []ChannelType{ChannelTypeStaticRemoteKey, ChannelTypeAnchors} {
		for n := 0; n <= 3; n++ {
			p := baseParams(typ)
			p.FeeratePerKw = 0
			for i := 0; i < n; i++ {
				p.HTLCs = append(p.HTLCs, HTLC{Offered: i%2 == 0, AmountMsat: 10_000_000, CltvExpiry: cltv, ID: uint64(i)})
			}
			p.ToLocalMsat -= uint64(n) * 10_000_000
			ct, err := BuildCommitmentTx(p)
			require.NoError(t, err)
			require.Len(t, ct.HTLCOutputs, n)
			k := randomishKeys()
			ws, _, err := FundingScript(k.LocalFundingKey, k.RemoteFundingKey)
			require.NoError(t, err)
			ct.Tx.TxIn[0].Witness = FundingWitness(ws, k.LocalFundingKey, dummySig, k.RemoteFundingKey, dummySig)
			want := int64(CommitmentWeight + HTLCOutputWeight*n)
			if typ.HasAnchors() {
				// Appendix A budgets 3 bytes for the output count, which
				// takes 1: 8 weight units less in practice.
				want = int64(CommitmentWeightAnchors+HTLCOutputWeight*n) - 8
			}
			require.Equal(t, want, txWeight(ct.Tx), "%s with %d HTLCs", typ, n)
		}

		offered, err := OfferedHTLCScript(testKey(1).PubKey(), testKey(2).PubKey(), testKey(3).PubKey(), [32]byte{}, typ)
		require.NoError(t, err)
		received, err := ReceivedHTLCScript(testKey(1).PubKey(), testKey(2).PubKey(), testKey(3).PubKey(), [32]byte{}, cltv, typ)
		require.NoError(t, err)
		extra := 0
		if typ.HasAnchors() {
			extra = 3
		}
		require.Len(t, offered, 133+extra)
		require.Len(t, received, 140+extra)

		k := testKey(4).PubKey()
		to, err := BuildHTLCTimeoutTx(chainhash.Hash{}, HTLCOutput{HTLC: HTLC{Offered: true}, AmountSat: 1e6}, 0, 144, k, k, typ)
		require.NoError(t, err)
		to.TxIn[0].Witness = HTLCTimeoutWitness(offered, dummySig, dummySig)
		su, err := BuildHTLCSuccessTx(chainhash.Hash{}, HTLCOutput{AmountSat: 1e6}, 0, 144, k, k, typ)
		require.NoError(t, err)
		su.TxIn[0].Witness = HTLCSuccessWitness(received, dummySig, dummySig, [32]byte{})
		if typ.HasAnchors() {
			require.EqualValues(t, HTLCTimeoutWeightAnchors, txWeight(to))
			require.EqualValues(t, HTLCSuccessWeightAnchors-1, txWeight(su), "Appendix A: really 705")
		} else {
			require.EqualValues(t, HTLCTimeoutWeight, txWeight(to))
			require.EqualValues(t, HTLCSuccessWeight-1, txWeight(su), "Appendix A: really 702")
		}
	}
}

func TestClosingTx(t *testing.T) {
	lf, rf := testKey(21), testKey(22)
	ws, pk, err := FundingScript(lf.PubKey(), rf.PubKey())
	require.NoError(t, err)
	op := wire.OutPoint{Hash: chainhash.Hash{7}, Index: 3}
	local, err := P2WPKHScript(testKey(23).PubKey())
	require.NoError(t, err)
	remote := WitnessScriptHash([]byte{txscript.OP_TRUE})
	const funding = 1_000_000

	tx := BuildClosingTx(op, local, 600_000, remote, 399_000, 546)
	require.EqualValues(t, 2, tx.Version)
	require.Zero(t, tx.LockTime)
	require.Len(t, tx.TxIn, 1)
	require.Equal(t, op, tx.TxIn[0].PreviousOutPoint)
	require.EqualValues(t, 0xFFFFFFFF, tx.TxIn[0].Sequence)
	require.Len(t, tx.TxOut, 2)
	require.EqualValues(t, 399_000, tx.TxOut[0].Value, "BIP 69: smaller amount first")
	require.Equal(t, remote, tx.TxOut[0].PkScript)
	require.Equal(t, local, tx.TxOut[1].PkScript)

	// Sign with both funding keys; the engine accepts it.
	sigL := signInput(t, tx, 0, ws, funding, txscript.SigHashAll, lf)
	sigR := signInput(t, tx, 0, ws, funding, txscript.SigHashAll, rf)
	tx.TxIn[0].Witness = FundingWitness(ws, rf.PubKey(), sigR, lf.PubKey(), sigL)
	require.NoError(t, runScript(tx, 0, pk, funding))
	require.LessOrEqual(t, txWeight(tx), ClosingTxWeight(local, remote))
	tx.TxIn[0].Witness = FundingWitness(ws, rf.PubKey(), dummySig, lf.PubKey(), dummySig)
	require.Equal(t, txWeight(tx), ClosingTxWeight(local, remote), "exact with 73-byte signatures")

	// Equal amounts: by script.
	tx = BuildClosingTx(op, local, 500_000, remote, 500_000, 546)
	require.Equal(t, local, tx.TxOut[0].PkScript, "0x0014... sorts before 0x0020...")

	// Dust, zero, negative amounts and empty scripts are omitted.
	tx = BuildClosingTx(op, local, 545, remote, 999_000, 546)
	require.Len(t, tx.TxOut, 1)
	require.Equal(t, remote, tx.TxOut[0].PkScript)
	tx.TxIn[0].Witness = FundingWitness(ws, rf.PubKey(), dummySig, lf.PubKey(), dummySig)
	require.Equal(t, txWeight(tx), ClosingTxWeight(nil, remote))
	tx = BuildClosingTx(op, nil, 600_000, remote, -5, 0)
	require.Empty(t, tx.TxOut)
	tx = BuildClosingTx(op, local, 0, remote, 1, 0)
	require.Len(t, tx.TxOut, 1)

	// Long scripts take a 3-byte length prefix.
	long := bytes.Repeat([]byte{txscript.OP_NOP}, 300)
	tx = BuildClosingTx(op, long, 600_000, nil, 0, 0)
	tx.TxIn[0].Witness = FundingWitness(ws, rf.PubKey(), dummySig, lf.PubKey(), dummySig)
	require.Equal(t, txWeight(tx), ClosingTxWeight(long, nil))
}

func TestChannelType(t *testing.T) {
	require.False(t, ChannelTypeStaticRemoteKey.HasAnchors())
	require.True(t, ChannelTypeAnchors.HasAnchors())
	require.False(t, ChannelType(9).HasAnchors())
	require.Equal(t, "static_remotekey", ChannelTypeStaticRemoteKey.String())
	require.Equal(t, "anchors_zero_fee_htlc_tx", ChannelTypeAnchors.String())
	require.Equal(t, "ChannelType(9)", ChannelType(9).String())
	require.EqualValues(t, 0, HTLCInputSequence(ChannelTypeStaticRemoteKey))
	require.EqualValues(t, 1, HTLCInputSequence(ChannelTypeAnchors))
}

// ---- fuzzing ----

var sentinels = []error{
	ErrFunderCannotPayFee, ErrInvalidParams, ErrUnknownChannelType, ErrMissingKey, ErrTooManyHTLCs,
	ErrAmountTooLarge, ErrBalanceMismatch,
}

func isSentinel(err error) bool {
	for _, s := range sentinels {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

var fuzzKeys = randomishKeys()

// FuzzBuildCommitmentTx builds commitments from arbitrary parameters and
// checks that BuildCommitmentTx never panics, fails only with this
// package's errors, and otherwise conserves value and orders outputs.
func FuzzBuildCommitmentTx(f *testing.F) {
	f.Add(uint64(7_000_000_000), uint64(3_000_000_000), uint32(15000), uint32(546), uint64(42), byte(0),
		[]byte{0x01, 0, 0, 0, 0, 0, 0x1e, 0x84, 0x80, 0, 0, 1, 0xf4, 1, 0, 0, 0, 0, 0, 0, 0x0f, 0x42, 0x40, 0, 0, 1, 0xf5, 2})
	f.Add(uint64(6_988_000_000), uint64(3_000_000_000), uint32(644), uint32(546), uint64(1), byte(1),
		bytes.Repeat([]byte{0x03, 0, 0, 0, 0, 0, 0x4c, 0x4b, 0x40, 0, 0, 1, 0xfa, 5}, 3))
	f.Add(uint64(1000), uint64(0), uint32(9651936), uint32(546), uint64(0), byte(5), []byte{})
	f.Fuzz(func(t *testing.T, toLocal, toRemote uint64, feerate uint32, dust uint32, number uint64, flags byte, htlcData []byte) {
		// Keep most amounts plausible so the success path is well explored;
		// flag 0x80 leaves them raw to exercise the range checks.
		if flags&0x80 == 0 {
			toLocal %= 2 * MaxMsat
			toRemote %= 2 * MaxMsat
		}
		p := &CommitmentParams{
			FundingOutPoint:    wire.OutPoint{Hash: chainhash.Hash{9}, Index: 1},
			CommitmentNumber:   number,
			ObscuringFactor:    0x2bb038521914,
			ToLocalMsat:        toLocal,
			ToRemoteMsat:       toRemote,
			LocalIsFunder:      flags&2 == 0,
			FeeratePerKw:       feerate,
			DustLimitSat:       int64(dust),
			ToSelfDelay:        uint16(number),
			Keys:               fuzzKeys,
			Type:               ChannelType(flags & 1),
			AllowFunderDeficit: flags&4 != 0,
		}
		if flags&8 != 0 {
			p.Type = ChannelType(flags >> 4 & 7)
		}
		var total uint64
		overflow := false
		add := func(v uint64) {
			if total+v < total {
				overflow = true
			}
			total += v
		}
		add(toLocal)
		add(toRemote)
		// 14 bytes per HTLC: flags, amount (8), cltv (4), hash byte.
		for len(htlcData) >= 14 && len(p.HTLCs) < MaxHTLCs+2 {
			c := htlcData[:14]
			htlcData = htlcData[14:]
			var amt uint64
			for _, b := range c[1:9] {
				amt = amt<<8 | uint64(b)
			}
			cltv := uint32(c[9])<<24 | uint32(c[10])<<16 | uint32(c[11])<<8 | uint32(c[12])
			if c[0]&2 == 0 {
				amt %= 10_000_000_000
			}
			h := HTLC{Offered: c[0]&1 == 1, AmountMsat: amt, CltvExpiry: cltv, ID: uint64(len(p.HTLCs))}
			h.PaymentHash[0] = c[13]
			p.HTLCs = append(p.HTLCs, h)
			add(amt)
		}
		ct, err := BuildCommitmentTx(p)
		if err != nil {
			require.True(t, isSentinel(err), "unexpected error %v", err)
			require.Nil(t, ct)
			if errors.Is(err, ErrFunderCannotPayFee) && p.AllowFunderDeficit {
				funder := p.ToRemoteMsat
				if p.LocalIsFunder {
					funder = p.ToLocalMsat
				}
				require.True(t, p.Type.HasAnchors())
				require.Less(t, funder, uint64(2*AnchorOutputValueSat*1000), "only unpayable anchors fail a deficit")
			}
			return
		}
		require.False(t, overflow)
		require.LessOrEqual(t, total, uint64(MaxMsat))
		require.LessOrEqual(t, number, uint64(MaxCommitmentNumber))

		// Conservation: outputs + fee == funding.
		require.Equal(t, int64(total/1000), sumOut(ct.Tx)+ct.FeeSat)
		require.GreaterOrEqual(t, ct.FeeSat, int64(0))
		if !p.AllowFunderDeficit {
			require.GreaterOrEqual(t, ct.FeeSat, ct.BaseFeeSat)
		}
		requireSorted(t, ct)

		// Bookkeeping matches the transaction.
		require.Equal(t, len(p.HTLCs), len(ct.HTLCOutputs)+len(ct.TrimmedHTLCs))
		want := len(ct.HTLCOutputs)
		last := -1
		for _, h := range ct.HTLCOutputs {
			require.Greater(t, int(h.OutputIndex), last)
			last = int(h.OutputIndex)
			o := ct.Tx.TxOut[h.OutputIndex]
			require.Equal(t, h.AmountSat, o.Value)
			require.Equal(t, WitnessScriptHash(h.WitnessScript), o.PkScript)
			require.Equal(t, int64(h.HTLC.AmountMsat/1000), h.AmountSat)
			require.GreaterOrEqual(t, h.AmountSat, p.DustLimitSat)
			require.False(t, IsTrimmed(h.HTLC, p.DustLimitSat, p.FeeratePerKw, p.Type))
		}
		for _, h := range ct.TrimmedHTLCs {
			require.True(t, IsTrimmed(h, p.DustLimitSat, p.FeeratePerKw, p.Type))
		}
		for _, idx := range []int{ct.ToLocalIndex, ct.ToRemoteIndex, ct.LocalAnchorIndex, ct.RemoteAnchorIndex} {
			if idx >= 0 {
				want++
			}
		}
		require.Len(t, ct.Tx.TxOut, want)
		if ct.ToLocalIndex >= 0 {
			require.Equal(t, ct.ToLocalSat, ct.Tx.TxOut[ct.ToLocalIndex].Value)
			require.GreaterOrEqual(t, ct.ToLocalSat, p.DustLimitSat)
		} else {
			require.Less(t, ct.ToLocalSat, p.DustLimitSat)
		}
		if ct.ToRemoteIndex >= 0 {
			require.Equal(t, ct.ToRemoteSat, ct.Tx.TxOut[ct.ToRemoteIndex].Value)
			require.GreaterOrEqual(t, ct.ToRemoteSat, p.DustLimitSat)
		} else {
			require.Less(t, ct.ToRemoteSat, p.DustLimitSat)
		}
		if p.Type.HasAnchors() {
			require.Equal(t, ct.ToLocalIndex >= 0 || len(ct.HTLCOutputs) > 0, ct.LocalAnchorIndex >= 0)
			require.Equal(t, ct.ToRemoteIndex >= 0 || len(ct.HTLCOutputs) > 0, ct.RemoteAnchorIndex >= 0)
		} else {
			require.Equal(t, -1, ct.LocalAnchorIndex)
			require.Equal(t, -1, ct.RemoteAnchorIndex)
		}

		n, err := DecodeCommitmentNumber(ct.Tx.LockTime, ct.Tx.TxIn[0].Sequence, p.ObscuringFactor)
		require.NoError(t, err)
		require.Equal(t, number, n)

		var buf bytes.Buffer
		require.NoError(t, ct.Tx.Serialize(&buf))
		back := wire.NewMsgTx(0)
		require.NoError(t, back.Deserialize(bytes.NewReader(buf.Bytes())))
		require.Equal(t, ct.Tx.TxHash(), back.TxHash())

		// Every untrimmed HTLC gets its second-stage transaction.
		for _, h := range ct.HTLCOutputs {
			var tx *wire.MsgTx
			if h.HTLC.Offered {
				tx, err = BuildHTLCTimeoutTx(ct.Tx.TxHash(), h, p.FeeratePerKw, p.ToSelfDelay,
					p.Keys.RevocationKey, p.Keys.LocalDelayedKey, p.Type)
			} else {
				tx, err = BuildHTLCSuccessTx(ct.Tx.TxHash(), h, p.FeeratePerKw, p.ToSelfDelay,
					p.Keys.RevocationKey, p.Keys.LocalDelayedKey, p.Type)
			}
			require.NoError(t, err)
			require.GreaterOrEqual(t, tx.TxOut[0].Value, p.DustLimitSat)
		}
	})
}

// FuzzDecodeCommitmentNumber checks that decoding a locktime and sequence
// never panics and that whatever decodes re-encodes to the same fields.
func FuzzDecodeCommitmentNumber(f *testing.F) {
	f.Add(uint32(0x2052193e), uint32(0x802bb038), uint64(0x2bb038521914))
	f.Add(uint32(0), uint32(0xFFFFFFFF), uint64(0))
	f.Fuzz(func(t *testing.T, lockTime, sequence uint32, obscuring uint64) {
		n, err := DecodeCommitmentNumber(lockTime, sequence, obscuring)
		if err != nil {
			require.ErrorIs(t, err, ErrNotCommitment)
			require.False(t, lockTime>>24 == 0x20 && sequence>>24 == 0x80)
			return
		}
		require.LessOrEqual(t, n, uint64(MaxCommitmentNumber))
		lt, seq := CommitmentLockTimeSequence(n, obscuring)
		require.Equal(t, lockTime, lt)
		require.Equal(t, sequence, seq)
	})
}

// ---- benchmarks ----

func BenchmarkBuildCommitmentTx(b *testing.B) {
	p := baseParams(ChannelTypeAnchors)
	p.FeeratePerKw = 2500
	for i := 0; i < 10; i++ {
		p.HTLCs = append(p.HTLCs, HTLC{
			Offered:     i%2 == 0,
			AmountMsat:  uint64(1_000_000 + i*100_000),
			PaymentHash: sha256.Sum256([]byte{byte(i)}),
			CltvExpiry:  uint32(800_000 + i),
			ID:          uint64(i),
		})
		p.ToLocalMsat -= uint64(1_000_000 + i*100_000)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ct, err := BuildCommitmentTx(p)
		if err != nil || len(ct.HTLCOutputs) != 10 {
			b.Fatal(err)
		}
	}
}
