package remote

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
)

// sampleRequest returns a request of method m with every field set to a non-zero value.
func sampleRequest(t testing.TB, f *fixture, m Method) *Request {
	priv, _ := btcec.PrivKeyFromBytes(bytes.Repeat([]byte{7}, 32))
	sig := ecdsa.Sign(priv, make([]byte, 32))
	witnessTx := spendTx(5, 10_000)
	witnessTx.TxIn[0].Witness = wire.TxWitness{{1, 2}, {}, {3}}
	return &Request{ID: 0x0102030405060708, Method: m, KeysID: f.keysID, ChannelValueSat: f.value,
		Point: priv.PubKey(), Data: []byte("data"), Text: "lnbcrt1", Inbound: true, ValueSat: 12345,
		UserChannelID: [16]byte{1, 2, 3}, CommitmentNumber: 42, Secret: sha256.Sum256([]byte("s")),
		Params: f.params, Commitment: f.counterpartyCommitment(t, 42), Closing: f.closing(), Sig: sig,
		HTLCSigs: []*ecdsa.Signature{sig, nil, sig}, Tx: witnessTx, InputIndex: 3, Script: []byte{0x51, 0x52},
		SigHashType: txscript.SigHashSingle | txscript.SigHashAnyOneCanPay, Hash: [32]byte{9}, AmountMsat: 77,
		MaxFeeMsat: 88, ClientSig: []byte{0xaa}, Network: "regtest",
		PrevOuts: []*wire.TxOut{wire.NewTxOut(10_000, p2wpkh(priv.PubKey()))}, Paths: []*WalletPath{{Chain: 1, Index: 7}}}
}

// sampleResponse returns an answer to method m with every field set.
func sampleResponse(f *fixture, m Method) *Response {
	priv, _ := btcec.PrivKeyFromBytes(bytes.Repeat([]byte{8}, 32))
	sig := ecdsa.Sign(priv, make([]byte, 32))
	return &Response{ID: 99, Method: m, Pubkey: priv.PubKey(), Secret: [32]byte{4}, Sig: sig,
		HTLCSigs: []*ecdsa.Signature{sig, sig}, Data: bytes.Repeat([]byte{1}, 65), Script: []byte{0, 0x14, 1},
		Pubkeys: f.local.Pubkeys(), Points: []NumberedPoint{{1, priv.PubKey()}, {2, f.local.Pubkeys().PaymentPoint}},
		AccountKey: "tpub-sample-account-key",
		Witnesses:  []wire.TxWitness{{sig.Serialize(), priv.PubKey().SerializeCompressed()}, nil, {{}, {1}}}}
}

// TestRequestRoundTrip encodes a full request of every method, decodes it and encodes it again: the
// bytes are the same, and the fields the method carries survive.
func TestRequestRoundTrip(t *testing.T) {
	f := newFixture(t)
	for _, m := range Methods() {
		q := sampleRequest(t, f, m)
		b, err := EncodeRequest(q)
		require.NoError(t, err, m)
		d, err := DecodeRequest(b)
		require.NoError(t, err, m)
		b2, err := EncodeRequest(d)
		require.NoError(t, err, m)
		require.Equal(t, b, b2, m)
		require.Equal(t, q.ID, d.ID)
		require.Equal(t, m, d.Method)
		info := methods[m]
		if info.scope != scopeNode {
			require.Equal(t, q.KeysID, d.KeysID, m)
		}
		if info.scope == scopeChannel {
			require.Equal(t, q.ChannelValueSat, d.ChannelValueSat, m)
		}
		checkRequestFields(t, info.req, q, d)
	}
}

// checkRequestFields compares the fields in set of want and got.
func checkRequestFields(t *testing.T, set field, want, got *Request) {
	t.Helper()
	txBytes := func(tx *wire.MsgTx) []byte {
		var buf bytes.Buffer
		require.NoError(t, tx.Serialize(&buf))
		return buf.Bytes()
	}
	m := want.Method
	_ = set.each(func(fl field) error {
		switch fl {
		case fPoint:
			require.True(t, want.Point.IsEqual(got.Point), m)
		case fData:
			require.Equal(t, want.Data, got.Data, m)
		case fText:
			require.Equal(t, want.Text, got.Text, m)
		case fInbound, fValue, fUserChannelID, fNumber, fSecret, fInputIndex, fSigHashType, fHash, fAmount, fMaxFee:
			require.Equal(t, scalarField(fl, want), scalarField(fl, got), m)
		case fParams:
			require.Equal(t, norm(want.Params.HolderPubkeys), norm(got.Params.HolderPubkeys))
			wp, gp := *want.Params, *got.Params
			wp.HolderPubkeys, wp.CounterpartyPubkeys, gp.HolderPubkeys, gp.CounterpartyPubkeys = keys.ChannelPublicKeys{}, keys.ChannelPublicKeys{}, keys.ChannelPublicKeys{}, keys.ChannelPublicKeys{}
			require.Equal(t, wp, gp)
		case fCommitment:
			w, g := want.Commitment, got.Commitment
			require.Equal(t, w.HTLCs, g.HTLCs)
			require.Equal(t, txBytes(w.Tx), txBytes(g.Tx))
			require.Len(t, g.HTLCTxs, len(w.HTLCTxs))
			for i := range w.HTLCTxs {
				require.Equal(t, txBytes(w.HTLCTxs[i]), txBytes(g.HTLCTxs[i]))
			}
			require.True(t, w.Keys.Equal(g.Keys))
			require.Equal(t, []uint64{w.CommitmentNumber, uint64(w.FeeratePerKw), w.ToBroadcasterMsat, w.ToCountersignatoryMsat},
				[]uint64{g.CommitmentNumber, uint64(g.FeeratePerKw), g.ToBroadcasterMsat, g.ToCountersignatoryMsat})
		case fClosing:
			w, g := want.Closing, got.Closing
			require.Equal(t, txBytes(w.Tx), txBytes(g.Tx))
			require.Equal(t, []any{w.ToHolderSat, w.ToCounterpartySat, w.HolderScript, w.CounterpartyScript},
				[]any{g.ToHolderSat, g.ToCounterpartySat, g.HolderScript, g.CounterpartyScript})
		case fSig, fHTLCSigs:
			require.Equal(t, norm(want.Sig), norm(got.Sig))
			if fl == fHTLCSigs {
				require.Equal(t, norm(want.HTLCSigs), norm(got.HTLCSigs))
			}
		case fTx:
			require.Equal(t, txBytes(want.Tx), txBytes(got.Tx))
		case fScript:
			require.Equal(t, want.Script, got.Script)
		case fClientSig:
			require.Equal(t, want.ClientSig, got.ClientSig)
		case fNetwork:
			require.Equal(t, want.Network, got.Network)
		case fPrevOuts:
			require.Equal(t, want.PrevOuts, got.PrevOuts)
		case fPaths:
			require.Equal(t, want.Paths, got.Paths)
		default:
			t.Fatalf("field %d not checked", fl)
		}
		return nil
	})
}

// scalarField returns the value of a fixed-size field of q.
func scalarField(fl field, q *Request) any {
	return map[field]any{fInbound: q.Inbound, fValue: q.ValueSat, fUserChannelID: q.UserChannelID,
		fNumber: q.CommitmentNumber, fSecret: q.Secret, fInputIndex: q.InputIndex, fSigHashType: q.SigHashType,
		fHash: q.Hash, fAmount: q.AmountMsat, fMaxFee: q.MaxFeeMsat}[fl]
}

// TestResponseRoundTrip does the same for answers and for every error code.
func TestResponseRoundTrip(t *testing.T) {
	f := newFixture(t)
	for _, m := range Methods() {
		p := sampleResponse(f, m)
		b, err := EncodeResponse(p)
		require.NoError(t, err, m)
		d, err := DecodeResponse(b)
		require.NoError(t, err, m)
		b2, err := EncodeResponse(d)
		require.NoError(t, err)
		require.Equal(t, b, b2, m)
		require.NoError(t, d.Err())
		info := methods[m]
		if info.resp&rSig != 0 {
			require.Equal(t, norm(p.Sig), norm(d.Sig))
		}
		if info.resp&rPubkeys != 0 {
			require.Equal(t, norm(p.Pubkeys), norm(d.Pubkeys))
		}
		if info.resp&rPoints != 0 {
			require.Len(t, d.Points, 2)
			require.True(t, d.Points[1].Point.IsEqual(p.Points[1].Point))
		}
		if info.resp&rSecret != 0 {
			require.Equal(t, p.Secret, d.Secret)
		}
		if info.resp&rScript != 0 {
			require.Equal(t, p.Script, d.Script)
		}
		if info.resp&rData != 0 {
			require.Equal(t, p.Data, d.Data)
		}
		if info.resp&rPubkey != 0 {
			require.True(t, p.Pubkey.IsEqual(d.Pubkey))
		}
		if info.resp&rAccountKey != 0 {
			require.Equal(t, p.AccountKey, d.AccountKey)
		}
		if info.resp&rWitnesses != 0 {
			// An empty item decodes as nil; its serialization is the same.
			require.Equal(t, []wire.TxWitness{p.Witnesses[0], nil, {nil, {1}}}, d.Witnesses)
		}
	}
	for _, s := range append(sentinels, struct {
		code ErrorCode
		err  error
	}{CodeRefused, nil}, struct {
		code ErrorCode
		err  error
	}{CodeOther, nil}) {
		b, err := EncodeResponse(&Response{ID: 1, Method: MethodSignAnchor, Code: s.code, Message: "why", Rule: "rule-1"})
		require.NoError(t, err)
		d, err := DecodeResponse(b)
		require.NoError(t, err)
		rerr := d.Err()
		require.ErrorIs(t, rerr, ErrRemote)
		switch s.code {
		case CodeRefused:
			var re *RefusedError
			require.ErrorAs(t, rerr, &re)
			require.Equal(t, "rule-1", re.Rule)
			require.Equal(t, "why", re.Detail)
			require.ErrorIs(t, rerr, ErrRefused)
		default:
			var e *Error
			require.ErrorAs(t, rerr, &e)
			require.Equal(t, s.code, e.Code)
			require.Equal(t, "why", e.Message)
			if s.err != nil {
				require.ErrorIs(t, rerr, s.err)
			}
		}
	}
}

// TestDecodeRejects feeds frames that must be refused.
func TestDecodeRejects(t *testing.T) {
	f := newFixture(t)
	good, err := EncodeRequest(sampleRequest(t, f, MethodSignAnchor))
	require.NoError(t, err)
	mutate := func(fn func(b []byte) []byte) []byte { return fn(append([]byte(nil), good...)) }
	cases := map[string]struct {
		frame []byte
		want  error
	}{
		"empty":          {nil, ErrMalformed},
		"version":        {mutate(func(b []byte) []byte { b[0] = 2; return b }), ErrUnsupportedVersion},
		"kind":           {mutate(func(b []byte) []byte { b[1] = kindResponse; return b }), ErrMalformed},
		"unknown method": {mutate(func(b []byte) []byte { b[11] = 200; return b }), ErrUnknownMethod},
		"truncated":      {good[:len(good)-1], ErrMalformed},
		"short header":   {good[:30], ErrMalformed},
		"unknown even":   {append(mutate(func(b []byte) []byte { return b }), 100, 0), ErrMalformed},
		"missing field":  {good[:12+32+8], ErrMalformed},
		"huge":           {make([]byte, MaxFrameSize+1), ErrMalformed},
	}
	for name, tc := range cases {
		_, err := DecodeRequest(tc.frame)
		require.ErrorIs(t, err, tc.want, name)
	}
	// An unknown odd record is skipped.
	q, err := DecodeRequest(append(append([]byte(nil), good...), 101, 1, 0))
	require.NoError(t, err)
	require.Equal(t, MethodSignAnchor, q.Method)

	// The wallet fields' counts are checked against their bounds and the bytes left.
	walletFrame := func(f field, v []byte) []byte {
		b := []byte{Version, kindRequest, 0, 0, 0, 0, 0, 0, 0, 1, 0, byte(MethodSignWalletInputs)}
		for _, fl := range []field{fTx, fNetwork, fPrevOuts, fPaths} {
			val := map[field][]byte{fTx: {txNil}, fNetwork: []byte("regtest"), fPrevOuts: {0, 0}, fPaths: {0, 0}}[fl]
			if fl == f {
				val = v
			}
			b = appendRecord(b, fl.tlvType(), val)
		}
		return b
	}
	_, err = DecodeRequest(walletFrame(0, nil))
	require.NoError(t, err)
	for name, frame := range map[string][]byte{
		"prevouts count":   walletFrame(fPrevOuts, []byte{0xff, 0xff}),
		"prevouts short":   walletFrame(fPrevOuts, []byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 5, 1}),
		"prevout script":   walletFrame(fPrevOuts, append([]byte{0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff, 0xff}, make([]byte, 20)...)),
		"paths count":      walletFrame(fPaths, []byte{0, 9, 1}),
		"path presence":    walletFrame(fPaths, []byte{0, 1, 2, 0, 0, 0, 0, 0, 0, 0, 0}),
		"path truncated":   walletFrame(fPaths, []byte{0, 1, 1, 0, 0, 0, 0}),
		"paths over bound": walletFrame(fPaths, append([]byte{0x08, 0x01}, make([]byte, MaxWalletInputs+1)...)),
		"network":          walletFrame(fNetwork, make([]byte, MaxNetworkLen+1)),
	} {
		_, err := DecodeRequest(frame)
		require.ErrorIs(t, err, ErrMalformed, name)
	}
	witnessFrame := func(v []byte) []byte {
		b := []byte{Version, kindResponse, 0, 0, 0, 0, 0, 0, 0, 1, 0, byte(MethodSignWalletInputs), 0, 0}
		return appendRecord(b, rWitnesses.tlvType(), v)
	}
	_, err = DecodeResponse(witnessFrame([]byte{0, 2, 0, 0, 0, 1, 0, 1, 7}))
	require.NoError(t, err)
	for name, frame := range map[string][]byte{
		"witness count":      witnessFrame([]byte{0xff, 0xff, 0, 0}),
		"witness items":      witnessFrame([]byte{0, 1, 0xff, 0xff, 0, 0}),
		"witness over bound": witnessFrame(append([]byte{0, 1, 0, MaxWitnessItems + 1}, make([]byte, 2*(MaxWitnessItems+1))...)),
		"witness item":       witnessFrame([]byte{0, 1, 0, 1, 0, 5, 1}),
		"witness trailing":   witnessFrame([]byte{0, 0, 1}),
	} {
		_, err := DecodeResponse(frame)
		require.ErrorIs(t, err, ErrMalformed, name)
	}

	// A record of another method's field is refused.
	extra := appendRecord(append([]byte(nil), good...), fClientSig.tlvType(), []byte{1})
	_, err = DecodeRequest(extra)
	require.Error(t, err)
}

// TestEncodeBounds refuses what the protocol cannot carry.
func TestEncodeBounds(t *testing.T) {
	f := newFixture(t)
	q := sampleRequest(t, f, MethodSignGossipMessage)
	q.Data = make([]byte, MaxDataLen+1)
	_, err := EncodeRequest(q)
	require.ErrorIs(t, err, ErrTooLarge)
	q = sampleRequest(t, f, MethodSignAnchor)
	q.Tx = wire.NewMsgTx(2)
	q.Tx.TxIn = []*wire.TxIn{nil}
	_, err = EncodeRequest(q)
	require.ErrorIs(t, err, keys.ErrInvalidTransaction)
	q = sampleRequest(t, f, MethodSignCounterpartyCommitment)
	q.Commitment.HTLCs = make([]keys.CommitmentHTLC, MaxHTLCs+1)
	_, err = EncodeRequest(q)
	require.ErrorIs(t, err, ErrTooLarge)
	_, err = EncodeRequest(&Request{Method: 7})
	require.ErrorIs(t, err, ErrUnknownMethod)

	// The wallet methods' bounds.
	q = sampleRequest(t, f, MethodAccountPubKey)
	q.Network = string(make([]byte, MaxNetworkLen+1))
	_, err = EncodeRequest(q)
	require.ErrorIs(t, err, ErrTooLarge)
	q = sampleRequest(t, f, MethodSignWalletInputs)
	q.PrevOuts = make([]*wire.TxOut, MaxWalletInputs+1)
	for i := range q.PrevOuts {
		q.PrevOuts[i] = wire.NewTxOut(1, nil)
	}
	_, err = EncodeRequest(q)
	require.ErrorIs(t, err, ErrTooLarge)
	q = sampleRequest(t, f, MethodSignWalletInputs)
	q.Paths = make([]*WalletPath, MaxWalletInputs+1)
	_, err = EncodeRequest(q)
	require.ErrorIs(t, err, ErrTooLarge)
	q = sampleRequest(t, f, MethodSignWalletInputs)
	q.PrevOuts = []*wire.TxOut{wire.NewTxOut(1, make([]byte, MaxScriptLen+1))}
	_, err = EncodeRequest(q)
	require.ErrorIs(t, err, ErrTooLarge)
	q = sampleRequest(t, f, MethodSignWalletInputs)
	q.PrevOuts = []*wire.TxOut{nil}
	_, err = EncodeRequest(q)
	require.ErrorIs(t, err, keys.ErrInvalidTransaction)
	p := sampleResponse(f, MethodSignWalletInputs)
	p.Witnesses = make([]wire.TxWitness, MaxWalletInputs+1)
	_, err = EncodeResponse(p)
	require.ErrorIs(t, err, ErrTooLarge)
	p.Witnesses = []wire.TxWitness{make(wire.TxWitness, MaxWitnessItems+1)}
	_, err = EncodeResponse(p)
	require.ErrorIs(t, err, ErrTooLarge)
	p.Witnesses = []wire.TxWitness{{make([]byte, MaxScriptLen+1)}}
	_, err = EncodeResponse(p)
	require.ErrorIs(t, err, ErrTooLarge)
	p = sampleResponse(f, MethodAccountPubKey)
	p.AccountKey = string(make([]byte, MaxAccountKeyLen+1))
	_, err = EncodeResponse(p)
	require.ErrorIs(t, err, ErrTooLarge)

	// A transaction without inputs round-trips (its encoding says whether it has witnesses).
	q = sampleRequest(t, f, MethodSignAnchor)
	q.Tx = wire.NewMsgTx(2)
	q.Tx.AddTxOut(wire.NewTxOut(1, []byte{0x51}))
	b, err := EncodeRequest(q)
	require.NoError(t, err)
	d, err := DecodeRequest(b)
	require.NoError(t, err)
	require.Empty(t, d.Tx.TxIn)
	require.Len(t, d.Tx.TxOut, 1)
}

// TestTxShape refuses serialized transactions whose counts exceed their length before decoding.
func TestTxShape(t *testing.T) {
	var buf bytes.Buffer
	require.NoError(t, spendTx(0, 1000).SerializeNoWitness(&buf))
	good := buf.Bytes()
	_, err := parseTx(good, false)
	require.NoError(t, err)
	huge := append([]byte{2, 0, 0, 0, 0xfe, 0xff, 0xff, 0xff, 0x00}, make([]byte, 20)...)
	_, err = parseTx(huge, false)
	require.ErrorIs(t, err, errTxShape)
	_, err = parseTx(append(append([]byte(nil), good...), 0), false)
	require.Error(t, err)
	_, err = parseTx(good, true)
	require.Error(t, err)
}

// TestLargestCommitmentFits checks that a commitment with MaxHTLCs HTLCs and their signatures fits in a
// frame.
func TestLargestCommitmentFits(t *testing.T) {
	f := newFixture(t)
	hs := make([]keys.CommitmentHTLC, MaxHTLCs)
	for i := range hs {
		hs[i] = keys.CommitmentHTLC{Offered: i%2 == 0, AmountMsat: 800_000, PaymentHash: sha256.Sum256([]byte{byte(i), byte(i >> 8)}),
			CltvExpiry: 800_000 + uint32(i)}
	}
	point, _ := f.local.GetPerCommitmentPoint(9)
	c, err := f.params.NewCommitmentTx(true, 9, point, 253, 200_000_000, 27_200_000, hs)
	require.NoError(t, err)
	require.Len(t, c.HTLCTxs, MaxHTLCs)
	sig, htlcSigs, err := f.cp.SignCounterpartyCommitment(f.cpViewOf(t, c, hs))
	require.NoError(t, err)
	q := &Request{Method: MethodValidateHolderCommitment, Commitment: c, Sig: sig, HTLCSigs: htlcSigs}
	b, err := EncodeRequest(q)
	require.NoError(t, err)
	t.Logf("largest commitment frame: %d bytes", len(b))
	_, err = DecodeRequest(b)
	require.NoError(t, err)
}

// cpViewOf is cpView with explicit HTLCs.
func (f *fixture) cpViewOf(t testing.TB, c *keys.CommitmentTx, hs []keys.CommitmentHTLC) *keys.CommitmentTx {
	cc, err := f.cpParams.NewCommitmentTx(false, c.CommitmentNumber, c.PerCommitmentPoint, c.FeeratePerKw,
		c.ToBroadcasterMsat, c.ToCountersignatoryMsat, hs)
	require.NoError(t, err)
	return cc
}

// TestMethodTable checks the method table: unique names, TLV types in range, known classes.
func TestMethodTable(t *testing.T) {
	names := map[string]bool{}
	for _, m := range Methods() {
		info := methods[m]
		require.False(t, names[info.name], m)
		names[info.name] = true
		require.Equal(t, info.name, m.String())
	}
	require.Len(t, names, 28)
	require.Equal(t, "Method(9)", Method(9).String())
	require.Equal(t, uint64(42), fClientSig.tlvType())
	require.Equal(t, uint64(20), rRule.tlvType())
	require.Equal(t, uint64(48), fPaths.tlvType())
	require.Equal(t, uint64(24), rWitnesses.tlvType())
	require.Equal(t, fPaths, fieldOfType(48))
	require.Equal(t, fClientSig, fieldOfType(42))
	require.Equal(t, field(0), fieldOfType(3))
	require.True(t, errors.Is(lnwire.ErrTLVNotIncreasing, lnwire.ErrTLVNotIncreasing))
}
