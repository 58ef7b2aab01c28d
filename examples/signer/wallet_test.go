package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/node/wallet"
	"github.com/lnkit/lnkit/examples/signerlink"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/keys/policy"
	"github.com/lnkit/lnkit/keys/remote"
)

// linked is a node's remote.Client linked to a running lnkit-signer.
type linked struct {
	client   *remote.Client
	seed     [32]byte
	answered chan struct{} // a token per asynchronous answer (OnAnswer)
	stop     func()
}

// startLinked runs the signer with cfg (on a loopback port, with a new node link key) and links a
// client to it. stop (also run at cleanup) drops the link and stops the signer.
func startLinked(t *testing.T, cfg *config) *linked {
	t.Helper()
	nodeKey, err := btcec.NewPrivateKey()
	require.NoError(t, err)
	cfg.NodeLinkKey, cfg.Listen = nodeKey.PubKey(), "127.0.0.1:0"
	addr, out, stopSigner := startRun(t, cfg)
	b, err := hex.DecodeString(printed(t, out.String(), "signer link key"))
	require.NoError(t, err)
	signerPub, err := btcec.ParsePubKey(b)
	require.NoError(t, err)
	seed, err := os.ReadFile(filepath.Join(cfg.DataDir, "seed"))
	require.NoError(t, err)

	l := &linked{seed: [32]byte(seed), answered: make(chan struct{}, 1)}
	l.client = remote.NewClient(remote.ClientConfig{OnAnswer: func() {
		select {
		case l.answered <- struct{}{}:
		default:
		}
	}})
	ctx, cancel := context.WithCancel(context.Background())
	dialed := make(chan error, 1)
	go func() { dialed <- signerlink.Dial(ctx, addr, nodeKey, signerPub, l.client) }()
	var once sync.Once
	l.stop = func() {
		once.Do(func() {
			cancel()
			<-dialed
			l.client.Close()
			stopSigner()
		})
	}
	t.Cleanup(l.stop)
	wctx, wcancel := context.WithTimeout(ctx, 10*time.Second)
	defer wcancel()
	require.NoError(t, l.client.WaitConnected(wctx))
	return l
}

// await retries an asynchronous call until it is answered.
func (l *linked) await(t *testing.T, fn func() error) error {
	t.Helper()
	for i := 0; i < 20; i++ {
		err := fn()
		if !errors.Is(err, keys.ErrSignerPending) {
			return err
		}
		select {
		case <-l.answered:
		case <-time.After(10 * time.Second):
			t.Fatal("no answer")
		}
	}
	t.Fatal("still pending")
	return nil
}

// account returns the wallet account's extended public key of seed on net, and a function giving the
// P2WPKH script at a path.
func account(t *testing.T, seed [32]byte, net *chaincfg.Params) (*wallet.SeedSigner, func(chain, index uint32) []byte) {
	t.Helper()
	ss, err := wallet.NewSeedSigner(seed[:])
	require.NoError(t, err)
	acct, err := ss.AccountPubKey(net)
	require.NoError(t, err)
	return ss, func(chain, index uint32) []byte {
		k, err := acct.Derive(chain)
		require.NoError(t, err)
		k, err = k.Derive(index)
		require.NoError(t, err)
		pub, err := k.ECPubKey()
		require.NoError(t, err)
		return p2wpkh(pub)
	}
}

// foreignScript is a P2WPKH script of a key that is not the wallet's.
func foreignScript(t *testing.T) []byte {
	k, _ := btcec.PrivKeyFromBytes(bytes.Repeat([]byte{0x42}, 32))
	return p2wpkh(k.PubKey())
}

// p2wsh is the P2WSH script of a witness script.
func p2wsh(witnessScript []byte) []byte {
	h := sha256.Sum256(witnessScript)
	return append([]byte{txscript.OP_0, txscript.OP_DATA_32}, h[:]...)
}

// verifyInput runs the script engine on input i of tx.
func verifyInput(t *testing.T, tx *wire.MsgTx, prevOuts []*wire.TxOut, i int) {
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

// TestWalletOverLink: the node's wallet gets its account key and its witnesses over the real loopback
// link, the same as wallet.SeedSigner gives; a spend to a script that is not the wallet's, a funding
// output or an allowed one is refused with rule onchain-destination.
func TestWalletOverLink(t *testing.T) {
	cold := append([]byte{txscript.OP_1, txscript.OP_DATA_32}, bytes.Repeat([]byte{7}, 32)...) // a cold wallet's P2TR
	cfg := &config{DataDir: t.TempDir(), Policy: true,
		Wallet: walletConfig{Net: &chaincfg.RegressionNetParams, ScanBound: 50, AllowFunding: true,
			AllowScripts: [][]byte{cold}}}
	l := startLinked(t, cfg)
	c := l.client
	net := &chaincfg.RegressionNetParams
	ss, script := account(t, l.seed, net)

	xpub, err := c.AccountPubKey(net.Name)
	require.NoError(t, err)
	want, err := ss.AccountPubKey(net)
	require.NoError(t, err)
	require.Equal(t, want.String(), xpub)
	k, err := hdkeychain.NewKeyFromString(xpub)
	require.NoError(t, err)
	require.False(t, k.IsPrivate())

	_, err = c.AccountPubKey("mainnet")
	require.ErrorContains(t, err, "serves the wallet on regtest")
	_, err = c.AccountPubKey("nonet")
	require.ErrorContains(t, err, `unknown network "nonet"`)

	// Two wallet inputs and one of someone else's (a collaborative transaction), paying change, a
	// funding output, the allowed script and a receive address at the scan bound's edge.
	paths := []*remote.WalletPath{{Chain: 0, Index: 3}, nil, {Chain: 1, Index: 49}}
	prevOuts := []*wire.TxOut{wire.NewTxOut(100_000, script(0, 3)), wire.NewTxOut(5_000, foreignScript(t)),
		wire.NewTxOut(30_000, script(1, 49))}
	tx := wire.NewMsgTx(2)
	for i := range prevOuts {
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: sha256.Sum256([]byte{byte(i)}), Index: uint32(i)},
			Sequence: wire.MaxTxInSequenceNum - 2})
	}
	tx.AddTxOut(wire.NewTxOut(40_000, script(1, 7)))
	tx.AddTxOut(wire.NewTxOut(60_000, p2wsh([]byte("a 2-of-2 funding script"))))
	tx.AddTxOut(wire.NewTxOut(20_000, cold))
	tx.AddTxOut(wire.NewTxOut(10_000, script(0, 49)))

	got, err := c.SignWalletInputs(net.Name, tx, prevOuts, paths)
	require.NoError(t, err)
	direct, err := ss.SignInputs(tx, prevOuts, []*wallet.KeyPath{{Chain: 0, Index: 3}, nil, {Chain: 1, Index: 49}}, net)
	require.NoError(t, err)
	require.Equal(t, direct, got)
	require.Nil(t, got[1])
	signed := tx.Copy()
	signed.TxIn[0].Witness, signed.TxIn[2].Witness = got[0], got[2]
	verifyInput(t, signed, prevOuts, 0)
	verifyInput(t, signed, prevOuts, 2)

	// Outputs the wallet may not pay.
	for name, bad := range map[string][]byte{
		"foreign key":            foreignScript(t),
		"beyond the scan bound":  script(0, 50),
		"another chain":          script(2, 0),
		"an OP_RETURN":           {txscript.OP_RETURN, 1, 0},
		"a 20-byte v0 program":   append([]byte{txscript.OP_0, txscript.OP_DATA_20}, make([]byte, 20)...),
		"a taproot output (v1)":  append([]byte{txscript.OP_1, txscript.OP_DATA_32}, make([]byte, 32)...),
		"mainnet's wallet":       mainnetScript(t, l.seed),
		"the allowed script + 1": append(append([]byte(nil), cold...), 0),
	} {
		spend := tx.Copy()
		spend.AddTxOut(wire.NewTxOut(1_000, bad))
		_, err := c.SignWalletInputs(net.Name, spend, prevOuts, paths)
		var re *remote.RefusedError
		require.ErrorAs(t, err, &re, name)
		require.Equal(t, ruleOnchainDestination, re.Rule, name)
		require.Equal(t, remote.MethodSignWalletInputs, re.Method)
		require.Contains(t, re.Detail, hex.EncodeToString(bad), name)
	}

	// A path that does not pay the spent output: the wallet's own error.
	_, err = c.SignWalletInputs(net.Name, tx, prevOuts, []*remote.WalletPath{{Chain: 0, Index: 4}, nil, nil})
	require.ErrorContains(t, err, "does not pay the spent output")
	require.NotErrorIs(t, err, remote.ErrRefused)
}

// mainnetScript is the first receive script of seed's wallet on mainnet (coin type 0).
func mainnetScript(t *testing.T, seed [32]byte) []byte {
	_, script := account(t, seed, &chaincfg.MainNetParams)
	return script(0, 0)
}

// TestWalletWithoutFunding: with -allow-funding off, a P2WSH output is refused.
func TestWalletWithoutFunding(t *testing.T) {
	cfg := &config{DataDir: t.TempDir(), Wallet: walletConfig{Net: &chaincfg.SigNetParams, ScanBound: 5}}
	l := startLinked(t, cfg)
	_, script := account(t, l.seed, &chaincfg.SigNetParams)
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: 1}})
	tx.AddTxOut(wire.NewTxOut(9_000, script(1, 4)))
	prevOuts := []*wire.TxOut{wire.NewTxOut(10_000, script(0, 0))}
	paths := []*remote.WalletPath{{Chain: 0, Index: 0}}
	_, err := l.client.SignWalletInputs("signet", tx, prevOuts, paths)
	require.NoError(t, err)
	tx.AddTxOut(wire.NewTxOut(500, p2wsh([]byte{txscript.OP_TRUE})))
	_, err = l.client.SignWalletInputs("signet", tx, prevOuts, paths)
	var re *remote.RefusedError
	require.ErrorAs(t, err, &re)
	require.Equal(t, ruleOnchainDestination, re.Rule)
}

// policyChannel is a channel between the signer's node and a counterparty with a bare KeysManager.
type policyChannel struct {
	keysID   [32]byte
	value    int64
	rs       keys.ChannelSigner
	params   *keys.ChannelTransactionParameters
	cpScript []byte
}

func newPolicyChannel(t *testing.T, l *linked) *policyChannel {
	t.Helper()
	cpKM := keys.NewKeysManager(sha256.Sum256([]byte("counterparty")), 1, 2)
	const value = 1_000_000
	ch := &policyChannel{value: value}
	ch.keysID = l.client.GenerateChannelKeysID(false, value, [16]byte{1})
	ch.rs = l.client.DeriveChannelSigner(value, ch.keysID)
	cp := cpKM.DeriveChannelSigner(value, cpKM.GenerateChannelKeysID(true, value, [16]byte{2}))
	ch.params = &keys.ChannelTransactionParameters{IsOutbound: true,
		FundingOutPoint: wire.OutPoint{Hash: sha256.Sum256([]byte("funding")), Index: 1}, ValueSat: value,
		HolderPubkeys: ch.rs.Pubkeys(), CounterpartyPubkeys: cp.Pubkeys(), HolderToSelfDelay: 144,
		CounterpartyToSelfDelay: 144, HolderDustLimitSat: 546, CounterpartyDustLimitSat: 546}
	ch.cpScript, _ = cpKM.GetShutdownScriptPubKey()
	return ch
}

// closing is a cooperative close paying us ours to ourScript.
func (ch *policyChannel) closing(ourScript []byte) *keys.ClosingTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: ch.params.FundingOutPoint, Sequence: wire.MaxTxInSequenceNum})
	tx.AddTxOut(wire.NewTxOut(600_000, ourScript))
	tx.AddTxOut(wire.NewTxOut(399_000, ch.cpScript))
	return &keys.ClosingTx{ToHolderSat: 600_000, ToCounterpartySat: 399_000, HolderScript: ourScript,
		CounterpartyScript: ch.cpScript, Tx: tx}
}

// TestPolicyOverLink: with the policy on, a close to an unknown script is refused over the link with
// the policy's rule, the wallet's addresses count as ours, payment approvals need the client key's
// signature, and the policy's state outlives a restart.
func TestPolicyOverLink(t *testing.T) {
	clientKey, err := btcec.NewPrivateKey()
	require.NoError(t, err)
	cfg := &config{DataDir: t.TempDir(), Policy: true, ClientKey: clientKey.PubKey(),
		Wallet: walletConfig{Net: &chaincfg.RegressionNetParams, ScanBound: 20}}
	l := startLinked(t, cfg)
	_, script := account(t, l.seed, &chaincfg.RegressionNetParams)
	ch := newPolicyChannel(t, l)
	require.NoError(t, l.await(t, func() error { return ch.rs.ProvideChannelParameters(ch.params) }))

	refusedBy := func(err error) string {
		t.Helper()
		var re *remote.RefusedError
		require.ErrorAs(t, err, &re)
		require.ErrorIs(t, err, remote.ErrRefused)
		return re.Rule
	}
	sign := func(ct *keys.ClosingTx) error {
		return l.await(t, func() error { _, err := ch.rs.SignClosingTransaction(ct); return err })
	}
	require.Equal(t, string(policy.RuleMutualCloseDestination), refusedBy(sign(ch.closing(foreignScript(t)))))
	require.Equal(t, string(policy.RuleMutualCloseDestination), refusedBy(sign(ch.closing(script(0, 20)))),
		"beyond the scan bound")
	// A wallet address passes the destination rule; this close then fails the next rule, as the
	// channel has no commitment yet.
	require.Equal(t, string(policy.RuleMutualCloseValue), refusedBy(sign(ch.closing(script(0, 19)))))
	require.Equal(t, string(policy.RuleMutualCloseValue), refusedBy(sign(ch.closing(script(1, 0)))))

	// Payment approvals.
	payee := keys.NewKeysManager([32]byte{0xfe}, 1, 0).GetNodeID()
	hash := sha256.Sum256([]byte("preimage"))
	approval := policy.KeysendApprovalHash(payee, hash, 50_000, 100)
	good := ecdsa.Sign(clientKey, approval[:]).Serialize()
	other, _ := btcec.NewPrivateKey()
	for name, sig := range map[string][]byte{
		"no signature":       nil,
		"garbage":            {1, 2, 3},
		"another key":        ecdsa.Sign(other, approval[:]).Serialize(),
		"another amount":     signHash(clientKey, policy.KeysendApprovalHash(payee, hash, 50_001, 100)),
		"the invoice's hash": signHash(clientKey, policy.InvoiceApprovalHash("lnbcrt1", 100)),
	} {
		err := l.client.ApproveKeysend(payee, hash, 50_000, 100, sig)
		require.Equal(t, string(policy.RulePaymentApproved), refusedBy(err), name)
	}
	require.Equal(t, string(policy.RulePaymentApproved), refusedBy(l.client.ApproveInvoice("lnbcrt1", 100, good)))
	require.NoError(t, l.client.ApproveKeysend(payee, hash, 50_000, 100, good))

	// The policy's state is on disk: after a restart, other parameters for the channel are refused.
	l.stop()
	l2 := startLinked(t, cfg)
	rs := l2.client.DeriveChannelSigner(ch.value, ch.keysID)
	changed := *ch.params
	changed.CounterpartyToSelfDelay = 145
	require.Equal(t, string(policy.RuleChannelParametersFixed), refusedBy(l2.await(t, func() error {
		return rs.ProvideChannelParameters(&changed)
	})))
	require.NoError(t, l2.await(t, func() error { return rs.ProvideChannelParameters(ch.params) }))
}

func signHash(k *btcec.PrivateKey, h [32]byte) []byte { return ecdsa.Sign(k, h[:]).Serialize() }

// TestChainScripts: the direct derivation gives hdkeychain's keys.
func TestChainScripts(t *testing.T) {
	ss, err := wallet.NewSeedSigner(bytes.Repeat([]byte{3}, 32))
	require.NoError(t, err)
	acct, err := ss.AccountPubKey(&chaincfg.TestNet3Params)
	require.NoError(t, err)
	for chain := uint32(0); chain < 2; chain++ {
		got, err := chainScripts(acct, chain, 25)
		require.NoError(t, err)
		require.Len(t, got, 25)
		ck, err := acct.Derive(chain)
		require.NoError(t, err)
		for i, s := range got {
			k, err := ck.Derive(uint32(i))
			require.NoError(t, err)
			pub, err := k.ECPubKey()
			require.NoError(t, err)
			require.Equal(t, p2wpkh(pub), s, "%d/%d", chain, i)
		}
	}
	w, err := newWalletSigner(bytes.Repeat([]byte{3}, 32), walletConfig{Net: &chaincfg.TestNet3Params, ScanBound: 25,
		AllowScripts: [][]byte{{txscript.OP_TRUE}}})
	require.NoError(t, err)
	list, err := w.allowlist()
	require.NoError(t, err)
	require.Len(t, list, 51)
	require.Equal(t, []byte{txscript.OP_TRUE}, list[50])
}

// TestNetworkByName knows chaincfg's names and the node's "testnet".
func TestNetworkByName(t *testing.T) {
	for _, p := range networks {
		got, err := networkByName(p.Name)
		require.NoError(t, err)
		require.Same(t, p, got)
	}
	got, err := networkByName("testnet")
	require.NoError(t, err)
	require.Same(t, &chaincfg.TestNet3Params, got)
	_, err = networkByName("bitcoin")
	require.Error(t, err)
}
