package main

import (
	"crypto/hmac"
	"crypto/sha512"
	"encoding/binary"
	"fmt"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/examples/node/wallet"
	"github.com/lnkit/lnkit/keys/remote"
)

// ruleOnchainDestination is the rule tag of a wallet spend refused for where it sends the money.
const ruleOnchainDestination = "onchain-destination"

// defaultScanBound is how many addresses of each of the wallet's chains (receive, change) the signer
// recognises as the wallet's: indexes 0 to defaultScanBound-1.
const defaultScanBound = 10_000

// networks are the networks the signer knows, by chaincfg name.
var networks = []*chaincfg.Params{&chaincfg.MainNetParams, &chaincfg.TestNet3Params, &chaincfg.RegressionNetParams,
	&chaincfg.SigNetParams, &chaincfg.SimNetParams}

// networkByName returns the chaincfg parameters named name (chaincfg.Params.Name); "testnet" (the
// node's -network value) is testnet3.
func networkByName(name string) (*chaincfg.Params, error) {
	if name == "testnet" {
		name = chaincfg.TestNet3Params.Name
	}
	for _, p := range networks {
		if p.Name == name {
			return p, nil
		}
	}
	return nil, fmt.Errorf("unknown network %q (want mainnet, testnet3, regtest, signet or simnet)", name)
}

// walletConfig is the wallet spend policy.
type walletConfig struct {
	// Net is the node's network, the only one served.
	Net *chaincfg.Params
	// ScanBound is how many addresses of each chain count as the wallet's (0: defaultScanBound).
	ScanBound uint32
	// AllowFunding accepts any P2WSH output (a channel funding output, as far as the signer can tell).
	AllowFunding bool
	// AllowScripts are scriptPubKeys a spend may pay besides the wallet's (a cold wallet).
	AllowScripts [][]byte
}

// walletSigner is the remote.WalletInner of examples/signer: the node's on-chain wallet keys
// (examples/node/wallet.SeedSigner over the seed) behind a spend policy. Every output of a spend must
// pay the wallet itself (the P2WPKH script of the account's receive or change key at an index below
// the scan bound), a P2WSH script when AllowFunding (a channel funding output), or an allowed
// script; otherwise the spend is refused by rule "onchain-destination".
//
// Limits: the signer cannot tell a channel funding output from any other P2WSH output, so with
// AllowFunding a compromised node can send the wallet's funds to any P2WSH script (turn it off, and
// fund channels from elsewhere, to close that door). An address beyond the scan bound is not
// recognised as the wallet's: a spend to it is refused.
type walletSigner struct {
	seed         *wallet.SeedSigner
	net          *chaincfg.Params
	scanBound    uint32
	allowFunding bool
	allowed      map[string]bool

	once    sync.Once
	scripts map[string]bool // the wallet's scripts below the scan bound
	list    [][]byte        // the same, in order
	err     error
}

var _ remote.WalletInner = (*walletSigner)(nil)

// newWalletSigner returns the wallet signer of seed. Errors: a seed wallet.NewSeedSigner refuses, a
// nil network.
func newWalletSigner(seed []byte, cfg walletConfig) (*walletSigner, error) {
	if cfg.Net == nil {
		return nil, fmt.Errorf("wallet: no network")
	}
	ss, err := wallet.NewSeedSigner(seed)
	if err != nil {
		return nil, err
	}
	w := &walletSigner{seed: ss, net: cfg.Net, scanBound: cfg.ScanBound, allowFunding: cfg.AllowFunding,
		allowed: map[string]bool{}}
	if w.scanBound == 0 {
		w.scanBound = defaultScanBound
	}
	for _, s := range cfg.AllowScripts {
		w.allowed[string(s)] = true
	}
	return w, nil
}

// network returns the served network if netName names it.
func (w *walletSigner) network(netName string) (*chaincfg.Params, error) {
	net, err := networkByName(netName)
	if err != nil {
		return nil, err
	}
	if net != w.net {
		return nil, fmt.Errorf("the signer serves the wallet on %s (-network), not %s", w.net.Name, net.Name)
	}
	return net, nil
}

// AccountPubKey implements remote.WalletInner.
func (w *walletSigner) AccountPubKey(netName string) (string, error) {
	net, err := w.network(netName)
	if err != nil {
		return "", err
	}
	k, err := w.seed.AccountPubKey(net)
	if err != nil {
		return "", err
	}
	return k.String(), nil
}

// SignWalletInputs implements remote.WalletInner: it checks every output (see walletSigner), then signs
// with wallet.SeedSigner.
func (w *walletSigner) SignWalletInputs(netName string, tx *wire.MsgTx, prevOuts []*wire.TxOut, paths []*remote.WalletPath) ([]wire.TxWitness, error) {
	net, err := w.network(netName)
	if err != nil {
		return nil, err
	}
	for i, out := range tx.TxOut {
		ok, err := w.destinationOK(out.PkScript)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, &remote.RefusedError{Method: remote.MethodSignWalletInputs, Rule: ruleOnchainDestination,
				Detail: fmt.Sprintf("output %d pays %x: not the wallet, a funding output or an allowed script", i, out.PkScript)}
		}
	}
	kp := make([]*wallet.KeyPath, len(paths))
	for i, p := range paths {
		if p != nil {
			kp[i] = &wallet.KeyPath{Chain: p.Chain, Index: p.Index}
		}
	}
	return w.seed.SignInputs(tx, prevOuts, kp, net)
}

// destinationOK reports whether a wallet spend may pay script.
func (w *walletSigner) destinationOK(script []byte) (bool, error) {
	if w.allowFunding && isP2WSH(script) {
		return true, nil
	}
	return w.isWallet(script)
}

// isWallet reports whether script is the wallet's (below the scan bound) or allowed: the check the
// policy's closing and sweep destinations get too.
func (w *walletSigner) isWallet(script []byte) (bool, error) {
	if w.allowed[string(script)] {
		return true, nil
	}
	scripts, _, err := w.walletScripts()
	if err != nil {
		return false, err
	}
	return scripts[string(script)], nil
}

// allowlist returns every script isWallet accepts: the wallet's below the scan bound, then the allowed
// ones (keys/policy's Config.Allowlist).
func (w *walletSigner) allowlist() ([][]byte, error) {
	_, list, err := w.walletScripts()
	if err != nil {
		return nil, err
	}
	out := append([][]byte(nil), list...)
	for s := range w.allowed {
		out = append(out, []byte(s))
	}
	return out, nil
}

// walletScripts derives, once, the P2WPKH scripts of the account's two chains at indexes below the
// scan bound.
func (w *walletSigner) walletScripts() (map[string]bool, [][]byte, error) {
	w.once.Do(func() {
		acct, err := w.seed.AccountPubKey(w.net)
		if err != nil {
			w.err = err
			return
		}
		var chains [2][][]byte
		var errs [2]error
		var wg sync.WaitGroup
		for c := range chains {
			wg.Add(1)
			go func() {
				defer wg.Done()
				chains[c], errs[c] = chainScripts(acct, uint32(c), w.scanBound)
			}()
		}
		wg.Wait()
		if w.err = errs[0]; w.err == nil {
			w.err = errs[1]
		}
		if w.err != nil {
			return
		}
		w.list = append(chains[0], chains[1]...)
		w.scripts = make(map[string]bool, len(w.list))
		for _, s := range w.list {
			w.scripts[string(s)] = true
		}
	})
	return w.scripts, w.list, w.err
}

// chainScripts returns the P2WPKH scripts of acct/chain/i for i below n. The children are derived
// directly (BIP 32 CKDpub: K_i = HMAC-SHA512(chain code, K || i)[:32]·G + K), which is an order of
// magnitude faster than hdkeychain's Derive; an index BIP 32 declares invalid (probability below
// 2^-127) has no script.
func chainScripts(acct *hdkeychain.ExtendedKey, chain, n uint32) ([][]byte, error) {
	ck, err := acct.Derive(chain)
	if err != nil {
		return nil, fmt.Errorf("wallet: deriving chain %d: %w", chain, err)
	}
	parent, err := ck.ECPubKey()
	if err != nil {
		return nil, err
	}
	var parentJ btcec.JacobianPoint
	parent.AsJacobian(&parentJ)
	msg := make([]byte, 33+4)
	copy(msg, parent.SerializeCompressed())
	mac := hmac.New(sha512.New, ck.ChainCode())
	out := make([][]byte, 0, n)
	var sum [sha512.Size]byte
	for i := uint32(0); i < n; i++ {
		binary.BigEndian.PutUint32(msg[33:], i)
		mac.Reset()
		mac.Write(msg)
		il := mac.Sum(sum[:0])[:32]
		var s btcec.ModNScalar
		if overflow := s.SetByteSlice(il); overflow || s.IsZero() {
			continue
		}
		var p, child btcec.JacobianPoint
		btcec.ScalarBaseMultNonConst(&s, &p)
		btcec.AddNonConst(&p, &parentJ, &child)
		if child.Z.IsZero() { // the point at infinity
			continue
		}
		child.ToAffine()
		pub := btcec.NewPublicKey(&child.X, &child.Y)
		out = append(out, p2wpkh(pub))
	}
	return out, nil
}

// p2wpkh is the P2WPKH scriptPubKey of pub.
func p2wpkh(pub *btcec.PublicKey) []byte {
	return append([]byte{txscript.OP_0, txscript.OP_DATA_20}, btcutil.Hash160(pub.SerializeCompressed())...)
}

// isP2WSH reports whether script is a version 0 witness program of 32 bytes (P2WSH).
func isP2WSH(script []byte) bool {
	return len(script) == 34 && script[0] == txscript.OP_0 && script[1] == txscript.OP_DATA_32
}
