package remote

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/keys"
)

// testWallet is a BIP 84 wallet over a seed, as examples/node/wallet.SeedSigner is: it signs P2WPKH
// inputs with the account's keys and refuses spends to forbidden.
type testWallet struct {
	accounts  map[string]*hdkeychain.ExtendedKey // by network name
	forbidden []byte
	witnesses int // when positive, how many witnesses to answer (a broken wallet)
}

func newTestWallet(t testing.TB) *testWallet {
	t.Helper()
	w := &testWallet{accounts: map[string]*hdkeychain.ExtendedKey{}, forbidden: []byte{txscript.OP_RETURN}}
	seed := sha256.Sum256([]byte("remote wallet test seed"))
	for _, net := range []*chaincfg.Params{&chaincfg.MainNetParams, &chaincfg.RegressionNetParams} {
		k, err := hdkeychain.NewMaster(seed[:], net)
		require.NoError(t, err)
		coin := uint32(1)
		if net.Net == wire.MainNet {
			coin = 0
		}
		for _, i := range []uint32{84, coin, 0} {
			k, err = k.Derive(hdkeychain.HardenedKeyStart + i)
			require.NoError(t, err)
		}
		w.accounts[net.Name] = k
	}
	return w
}

func (w *testWallet) account(netName string) (*hdkeychain.ExtendedKey, error) {
	acct, ok := w.accounts[netName]
	if !ok {
		return nil, fmt.Errorf("test wallet: unknown network %q", netName)
	}
	return acct, nil
}

func (w *testWallet) AccountPubKey(netName string) (string, error) {
	acct, err := w.account(netName)
	if err != nil {
		return "", err
	}
	pub, err := acct.Neuter()
	if err != nil {
		return "", err
	}
	return pub.String(), nil
}

// script returns the P2WPKH script of path p.
func (w *testWallet) script(t testing.TB, netName string, p WalletPath) []byte {
	acct, err := w.account(netName)
	require.NoError(t, err)
	k, err := acct.Derive(p.Chain)
	require.NoError(t, err)
	k, err = k.Derive(p.Index)
	require.NoError(t, err)
	pub, err := k.ECPubKey()
	require.NoError(t, err)
	return p2wpkh(pub)
}

func (w *testWallet) SignWalletInputs(netName string, tx *wire.MsgTx, prevOuts []*wire.TxOut, paths []*WalletPath) ([]wire.TxWitness, error) {
	acct, err := w.account(netName)
	if err != nil {
		return nil, err
	}
	for _, o := range tx.TxOut {
		if bytes.Equal(o.PkScript, w.forbidden) {
			return nil, &RefusedError{Rule: "onchain-destination", Detail: "output to a forbidden script"}
		}
	}
	fetcher := txscript.NewMultiPrevOutFetcher(nil)
	for i, in := range tx.TxIn {
		fetcher.AddPrevOut(in.PreviousOutPoint, prevOuts[i])
	}
	hashes := txscript.NewTxSigHashes(tx, fetcher)
	out := make([]wire.TxWitness, len(tx.TxIn))
	for i, p := range paths {
		if p == nil {
			continue
		}
		k, err := acct.Derive(p.Chain)
		if err == nil {
			k, err = k.Derive(p.Index)
		}
		if err != nil {
			return nil, err
		}
		priv, err := k.ECPrivKey()
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(p2wpkh(priv.PubKey()), prevOuts[i].PkScript) {
			return nil, fmt.Errorf("test wallet: input %d: path does not pay the spent output", i)
		}
		if out[i], err = txscript.WitnessSignature(tx, hashes, i, prevOuts[i].Value, prevOuts[i].PkScript,
			txscript.SigHashAll, priv, true); err != nil {
			return nil, err
		}
	}
	if w.witnesses > 0 {
		out = out[:w.witnesses]
	}
	return out, nil
}

// walletSpend is a transaction spending two wallet outputs and a foreign one into change.
func walletSpend(t testing.TB, w *testWallet) (*wire.MsgTx, []*wire.TxOut, []*WalletPath) {
	paths := []*WalletPath{{Chain: 0, Index: 3}, nil, {Chain: 1, Index: 0}}
	prevOuts := []*wire.TxOut{wire.NewTxOut(50_000, w.script(t, "regtest", *paths[0])),
		wire.NewTxOut(7_000, p2wpkh(f0Key(t))), wire.NewTxOut(20_000, w.script(t, "regtest", *paths[2]))}
	tx := wire.NewMsgTx(2)
	for i := range prevOuts {
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: sha256.Sum256([]byte{byte(i)}), Index: uint32(i)},
			Sequence: wire.MaxTxInSequenceNum - 2})
	}
	tx.AddTxOut(wire.NewTxOut(76_000, w.script(t, "regtest", WalletPath{Chain: 1, Index: 1})))
	return tx, prevOuts, paths
}

// f0Key is a key that is not the wallet's.
func f0Key(t testing.TB) *btcec.PublicKey {
	t.Helper()
	return keys.NewKeysManager(sha256.Sum256([]byte("foreign")), 1, 1).GetNodeID()
}

// verifyWitness runs the script engine on input i of tx.
func verifyWitness(t *testing.T, tx *wire.MsgTx, prevOuts []*wire.TxOut, i int) {
	t.Helper()
	fetcher := txscript.NewMultiPrevOutFetcher(nil)
	for j, in := range tx.TxIn {
		fetcher.AddPrevOut(in.PreviousOutPoint, prevOuts[j])
	}
	vm, err := txscript.NewEngine(prevOuts[i].PkScript, tx, i, txscript.StandardVerifyFlags, nil,
		txscript.NewTxSigHashes(tx, fetcher), prevOuts[i].Value, fetcher)
	require.NoError(t, err)
	require.NoError(t, vm.Execute(), "input %d", i)
}

// TestWalletMatchesInner: the account key and the witnesses a Client gets are the wallet's own, and
// the witnesses are valid.
func TestWalletMatchesInner(t *testing.T) {
	f := newFixture(t)
	w := newTestWallet(t)
	s, err := NewServer(ServerConfig{Inner: f.km, Wallet: w})
	require.NoError(t, err)
	c := NewClient(ClientConfig{})
	c.Connected()
	defer c.Close()
	startPump(t, c, s)

	for _, net := range []string{"regtest", "mainnet"} {
		got, err := c.AccountPubKey(net)
		require.NoError(t, err)
		want, err := w.AccountPubKey(net)
		require.NoError(t, err)
		require.Equal(t, want, got)
		k, err := hdkeychain.NewKeyFromString(got)
		require.NoError(t, err)
		require.False(t, k.IsPrivate())
	}
	_, err = c.AccountPubKey("nonet")
	require.ErrorIs(t, err, ErrRemote)
	require.ErrorContains(t, err, `unknown network "nonet"`)

	tx, prevOuts, paths := walletSpend(t, w)
	want, err := w.SignWalletInputs("regtest", tx, prevOuts, paths)
	require.NoError(t, err)
	got, err := c.SignWalletInputs("regtest", tx, prevOuts, paths)
	require.NoError(t, err)
	require.Equal(t, want, got)
	require.Len(t, got, 3)
	require.Nil(t, got[1], "the input without a path is not signed")
	tx.TxIn[0].Witness, tx.TxIn[2].Witness = got[0], got[2]
	verifyWitness(t, tx, prevOuts, 0)
	verifyWitness(t, tx, prevOuts, 2)

	// A path that does not pay the spent output fails on the signer.
	_, err = c.SignWalletInputs("regtest", tx, prevOuts, []*WalletPath{{Chain: 0, Index: 4}, nil, nil})
	require.ErrorIs(t, err, ErrRemote)
	require.ErrorContains(t, err, "does not pay the spent output")

	// The wallet's refusal reaches the client with its rule.
	tx.AddTxOut(wire.NewTxOut(1, w.forbidden))
	_, err = c.SignWalletInputs("regtest", tx, prevOuts, paths)
	var re *RefusedError
	require.ErrorAs(t, err, &re)
	require.Equal(t, "onchain-destination", re.Rule)
	require.Equal(t, MethodSignWalletInputs, re.Method)
	require.ErrorIs(t, err, ErrRefused)
}

// TestWalletArguments: the client refuses what cannot be a wallet spend before sending it, and the
// server refuses it too.
func TestWalletArguments(t *testing.T) {
	f := newFixture(t)
	w := newTestWallet(t)
	s, err := NewServer(ServerConfig{Inner: f.km, Wallet: w})
	require.NoError(t, err)
	c := NewClient(ClientConfig{})
	defer c.Close()
	tx, prevOuts, paths := walletSpend(t, w)

	// Link down.
	_, err = c.AccountPubKey("regtest")
	require.ErrorIs(t, err, keys.ErrSignerPending)
	require.ErrorIs(t, err, ErrNotConnected)
	_, err = c.SignWalletInputs("regtest", tx, prevOuts, paths)
	require.ErrorIs(t, err, ErrNotConnected)
	c.Connected()

	_, err = c.SignWalletInputs("regtest", nil, nil, nil)
	require.ErrorIs(t, err, keys.ErrNilTransaction)
	_, err = c.SignWalletInputs("regtest", tx, prevOuts[:2], paths)
	require.ErrorIs(t, err, keys.ErrInvalidTransaction)
	_, err = c.SignWalletInputs("regtest", tx, prevOuts, paths[:1])
	require.ErrorIs(t, err, keys.ErrInvalidTransaction)
	_, err = c.SignWalletInputs("regtest", tx, []*wire.TxOut{prevOuts[0], nil, prevOuts[2]}, paths)
	require.ErrorIs(t, err, keys.ErrInvalidTransaction)
	big := wire.NewMsgTx(2)
	for i := 0; i <= MaxWalletInputs; i++ {
		big.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: uint32(i)}})
	}
	_, err = c.SignWalletInputs("regtest", big, make([]*wire.TxOut, MaxWalletInputs+1), make([]*WalletPath, MaxWalletInputs+1))
	require.ErrorIs(t, err, keys.ErrInvalidTransaction, "nil previous outputs")
	bigOuts := make([]*wire.TxOut, MaxWalletInputs+1)
	for i := range bigOuts {
		bigOuts[i] = wire.NewTxOut(1, nil)
	}
	_, err = c.SignWalletInputs("regtest", big, bigOuts, make([]*WalletPath, MaxWalletInputs+1))
	require.ErrorIs(t, err, ErrTooLarge)
	require.Empty(t, c.PendingRequests(), "nothing was sent")

	// A request the client would not send: counts that do not match the transaction.
	frame, err := EncodeRequest(&Request{ID: 5, Method: MethodSignWalletInputs, Network: "regtest", Tx: tx,
		PrevOuts: prevOuts[:1], Paths: paths})
	require.NoError(t, err)
	p, err := DecodeResponse(s.Handle(frame))
	require.NoError(t, err)
	require.Equal(t, CodeInvalidTransaction, p.Code)
	frame, err = EncodeRequest(&Request{ID: 6, Method: MethodSignWalletInputs, Network: "regtest"})
	require.NoError(t, err)
	p, err = DecodeResponse(s.Handle(frame))
	require.NoError(t, err)
	require.Equal(t, CodeNilTransaction, p.Code)

	// A wallet that answers the wrong number of witnesses is caught by the server...
	w.witnesses = 1
	frame, err = EncodeRequest(&Request{ID: 7, Method: MethodSignWalletInputs, Network: "regtest", Tx: tx,
		PrevOuts: prevOuts, Paths: paths})
	require.NoError(t, err)
	p, err = DecodeResponse(s.Handle(frame))
	require.NoError(t, err)
	require.Equal(t, CodeOther, p.Code)
	require.Contains(t, p.Message, "1 witnesses for 3 inputs")

	// ...and a signer that does is caught by the client.
	done := make(chan error, 1)
	go func() {
		_, err := c.SignWalletInputs("regtest", tx, prevOuts, paths)
		done <- err
	}()
	sent := waitPending(t, c, 1)
	q, err := DecodeRequest(sent[0])
	require.NoError(t, err)
	resp, err := EncodeResponse(&Response{ID: q.ID, Method: q.Method, Witnesses: []wire.TxWitness{nil}})
	require.NoError(t, err)
	require.NoError(t, c.HandleResponse(resp))
	require.ErrorIs(t, <-done, ErrMalformed)
}

// TestNoWallet: a server without a wallet refuses the wallet methods with ErrNoWallet.
func TestNoWallet(t *testing.T) {
	f := newFixture(t)
	c, s := newPair(t, f, ClientConfig{})
	startPump(t, c, s)
	_, err := c.AccountPubKey("regtest")
	require.ErrorIs(t, err, ErrNoWallet)
	var e *Error
	require.ErrorAs(t, err, &e)
	require.Equal(t, CodeNoWallet, e.Code)
	tx, prevOuts, paths := walletSpend(t, newTestWallet(t))
	_, err = c.SignWalletInputs("regtest", tx, prevOuts, paths)
	require.ErrorIs(t, err, ErrNoWallet)
	require.False(t, errors.Is(err, ErrRefused))
}
