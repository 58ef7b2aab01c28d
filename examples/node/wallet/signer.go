package wallet

import (
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// KeyPath names one of the account's keys: m/84'/coin'/0'/Chain/Index (ExternalChain or ChangeChain).
type KeyPath struct {
	Chain uint32
	Index uint32
}

// Signer holds the wallet's private keys: a Wallet keeps only the account's extended public key and asks
// its Signer for every signature, so that the keys can live elsewhere (a remote signer; examples/signer).
// Implementations must be safe for concurrent use.
type Signer interface {
	// AccountPubKey returns the extended public key of the account m/84'/coin'/0' on net.
	AccountPubKey(net *chaincfg.Params) (*hdkeychain.ExtendedKey, error)
	// SignInputs returns a P2WPKH witness (BIP 143, SIGHASH_ALL) for every input i of tx with paths[i]
	// set, with the key at that path, and nil for the others. prevOuts[i] is the output input i spends
	// (every input's, for the BIP 143 digests). A validating signer checks where tx sends the money and
	// may refuse. Errors: mismatched lengths, a path that does not give prevOuts[i]'s script, a refusal.
	SignInputs(tx *wire.MsgTx, prevOuts []*wire.TxOut, paths []*KeyPath, net *chaincfg.Params) ([]wire.TxWitness, error)
}

// SeedSigner is the Signer of a seed held in memory: the BIP 32 master key is HMAC-SHA256(key "lnkit
// wallet", seed).
type SeedSigner struct {
	master *hdkeychain.ExtendedKey

	mu       sync.Mutex
	accounts map[uint32]*hdkeychain.ExtendedKey // by coin type
}

// NewSeedSigner returns the Signer of seed (16 to 64 bytes). Errors: ErrInvalidSeed.
func NewSeedSigner(seed []byte) (*SeedSigner, error) {
	if len(seed) < hdkeychain.MinSeedBytes || len(seed) > hdkeychain.MaxSeedBytes {
		return nil, fmt.Errorf("%w: %d bytes, want %d to %d", ErrInvalidSeed, len(seed),
			hdkeychain.MinSeedBytes, hdkeychain.MaxSeedBytes)
	}
	mac := hmac.New(sha256.New, []byte(seedKey))
	mac.Write(seed)
	// The network only sets the version bytes of serialized keys; derivation does not depend on it.
	master, err := hdkeychain.NewMaster(mac.Sum(nil), &chaincfg.MainNetParams)
	if err != nil {
		return nil, fmt.Errorf("wallet: master key: %w", err)
	}
	return &SeedSigner{master: master}, nil
}

// account returns m/84'/coin'/0' (private).
func (s *SeedSigner) account(net *chaincfg.Params) (*hdkeychain.ExtendedKey, error) {
	coin := coinType(net)
	s.mu.Lock()
	defer s.mu.Unlock()
	if k, ok := s.accounts[coin]; ok {
		return k, nil
	}
	k := s.master
	for _, i := range []uint32{84, coin, 0} {
		var err error
		if k, err = k.Derive(hdkeychain.HardenedKeyStart + i); err != nil {
			return nil, fmt.Errorf("wallet: deriving account: %w", err)
		}
	}
	if s.accounts == nil {
		s.accounts = map[uint32]*hdkeychain.ExtendedKey{}
	}
	s.accounts[coin] = k
	return k, nil
}

// privKey returns the private key at p.
func (s *SeedSigner) privKey(net *chaincfg.Params, p KeyPath) (*btcec.PrivateKey, error) {
	acct, err := s.account(net)
	if err != nil {
		return nil, err
	}
	ck, err := acct.Derive(p.Chain)
	if err != nil {
		return nil, err
	}
	k, err := ck.Derive(p.Index)
	if err != nil {
		return nil, err
	}
	return k.ECPrivKey()
}

// AccountPubKey implements Signer.
func (s *SeedSigner) AccountPubKey(net *chaincfg.Params) (*hdkeychain.ExtendedKey, error) {
	acct, err := s.account(net)
	if err != nil {
		return nil, err
	}
	return acct.Neuter()
}

// SignInputs implements Signer; it signs whatever it is asked to.
func (s *SeedSigner) SignInputs(tx *wire.MsgTx, prevOuts []*wire.TxOut, paths []*KeyPath, net *chaincfg.Params) ([]wire.TxWitness, error) {
	if tx == nil || len(prevOuts) != len(tx.TxIn) || len(paths) != len(tx.TxIn) {
		return nil, errors.New("wallet: SignInputs needs one previous output and one path (or nil) per input")
	}
	fetcher := txscript.NewMultiPrevOutFetcher(nil)
	for i, in := range tx.TxIn {
		if prevOuts[i] == nil {
			return nil, fmt.Errorf("wallet: no previous output for input %d", i)
		}
		fetcher.AddPrevOut(in.PreviousOutPoint, prevOuts[i])
	}
	hashes := txscript.NewTxSigHashes(tx, fetcher)
	out := make([]wire.TxWitness, len(tx.TxIn))
	for i, p := range paths {
		if p == nil {
			continue
		}
		if p.Chain > ChangeChain {
			return nil, fmt.Errorf("wallet: input %d: no chain %d", i, p.Chain)
		}
		key, err := s.privKey(net, *p)
		if err != nil {
			return nil, fmt.Errorf("wallet: deriving %d/%d: %w", p.Chain, p.Index, err)
		}
		if string(p2wpkhScript(key.PubKey())) != string(prevOuts[i].PkScript) {
			return nil, fmt.Errorf("wallet: input %d: key %d/%d does not pay the spent output", i, p.Chain, p.Index)
		}
		if out[i], err = txscript.WitnessSignature(tx, hashes, i, prevOuts[i].Value, prevOuts[i].PkScript, txscript.SigHashAll, key, true); err != nil {
			return nil, fmt.Errorf("wallet: signing input %d: %w", i, err)
		}
	}
	return out, nil
}
