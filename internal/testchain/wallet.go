package testchain

import (
	"fmt"
	"sort"
	"sync"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// p2wpkhMaxSigLen is the largest DER signature with low S plus its sighash byte, in bytes; fees are
// estimated with it, so the real transaction never pays less than asked.
const p2wpkhMaxSigLen = 72

// Wallet is a single-key P2WPKH wallet over a Chain, for tests and the demo. Create it with NewWallet.
// It is safe for concurrent use.
type Wallet struct {
	chain    *Chain
	key      *btcec.PrivateKey
	pkScript []byte

	mu     sync.Mutex
	locked map[wire.OutPoint]struct{} // inputs of transactions built but maybe not broadcast yet
}

// NewWallet returns a wallet holding key, watching chain for outputs paying its P2WPKH script.
func NewWallet(c *Chain, key *btcec.PrivateKey) *Wallet {
	hash := btcutil.Hash160(key.PubKey().SerializeCompressed())
	return &Wallet{
		chain:    c,
		key:      key,
		pkScript: append([]byte{txscript.OP_0, txscript.OP_DATA_20}, hash...),
		locked:   make(map[wire.OutPoint]struct{}),
	}
}

// PkScript returns the wallet's P2WPKH output script (OP_0 <HASH160(compressed pubkey)>, 22 bytes).
func (w *Wallet) PkScript() []byte { return append([]byte(nil), w.pkScript...) }

// PubKey returns the wallet key's public key.
func (w *Wallet) PubKey() *btcec.PublicKey { return w.key.PubKey() }

// Balance returns, in satoshis, the value of the confirmed outputs paying PkScript that the next
// block could spend: not spent by a confirmed or mempool transaction, and, for coinbase outputs,
// mature. Unconfirmed outputs (such as change in the mempool) are not counted.
func (w *Wallet) Balance() int64 {
	var total int64
	for _, s := range w.chain.spendableOutputs(w.pkScript) {
		total += s.valueSat
	}
	return total
}

// FundTransaction returns a signed version-2 transaction paying outputs (copied, in order) from the
// wallet's spendable outputs (see Balance), largest first, at feeratePerKw sat per 1000 weight units
// (estimated with 72-byte signatures, rounded up), with a change output to PkScript appended last
// unless the change would be dust (under 294 sat), in which case it goes to the fee. Its locktime is
// 0 and inputs' nSequence 0xfffffffd. It does not broadcast: the caller does, and the chosen inputs
// stay reserved for that (FundTransaction does not choose them again) until UnlockInputs.
// It returns ErrInsufficientFunds if the outputs and fee cannot be covered, and an error wrapping
// ErrMalformed for no outputs or out-of-range values. A feerate below the chain's minimum relay
// feerate (250 sat/kw by default) makes a transaction the mempool refuses on its own.
func (w *Wallet) FundTransaction(outputs []*wire.TxOut, feeratePerKw uint32) (*wire.MsgTx, error) {
	if len(outputs) == 0 {
		return nil, fmt.Errorf("%w: no outputs", ErrMalformed)
	}
	tx := wire.NewMsgTx(2)
	var target int64
	for i, out := range outputs {
		if out == nil || out.Value < 0 || out.Value > btcutil.MaxSatoshi {
			return nil, fmt.Errorf("%w: output %d value out of range", ErrMalformed, i)
		}
		target += out.Value
		if target > btcutil.MaxSatoshi {
			return nil, fmt.Errorf("%w: outputs total out of range", ErrMalformed)
		}
		tx.AddTxOut(&wire.TxOut{Value: out.Value, PkScript: append([]byte(nil), out.PkScript...)})
	}

	w.mu.Lock()
	defer w.mu.Unlock()

	change := &wire.TxOut{PkScript: w.PkScript()}
	changeDust := DustThresholdSat(change)
	var chosen []spendable
	var inSat int64
	var changeSat int64 = -1
	for _, s := range w.chain.spendableOutputs(w.pkScript) {
		if _, ok := w.locked[s.op]; ok {
			continue
		}
		chosen = append(chosen, s)
		inSat += s.valueSat
		tx.AddTxIn(&wire.TxIn{
			PreviousOutPoint: s.op,
			Sequence:         wire.MaxTxInSequenceNum - 2,
			Witness:          wire.TxWitness{make([]byte, p2wpkhMaxSigLen), make([]byte, 33)},
		})
		// With change.
		tx.AddTxOut(change)
		feeWith := feeSat(tx, feeratePerKw)
		tx.TxOut = tx.TxOut[:len(tx.TxOut)-1]
		if rest := inSat - target - feeWith; rest >= changeDust {
			changeSat = rest
			break
		}
		// Without change.
		if inSat-target-feeSat(tx, feeratePerKw) >= 0 {
			changeSat = 0
			break
		}
	}
	if changeSat < 0 {
		return nil, fmt.Errorf("%w: need %d sat plus fee at %d sat/kw, have %d spendable", ErrInsufficientFunds,
			target, feeratePerKw, inSat)
	}
	if changeSat > 0 {
		change.Value = changeSat
		tx.AddTxOut(change)
	}

	prevOuts := make(map[wire.OutPoint]*wire.TxOut, len(chosen))
	for _, s := range chosen {
		prevOuts[s.op] = &wire.TxOut{Value: s.valueSat, PkScript: w.pkScript}
	}
	sigHashes := txscript.NewTxSigHashes(tx, txscript.NewMultiPrevOutFetcher(prevOuts))
	for i, s := range chosen {
		wit, err := txscript.WitnessSignature(tx, sigHashes, i, s.valueSat, w.pkScript, txscript.SigHashAll, w.key, true)
		if err != nil {
			return nil, fmt.Errorf("testchain: signing input %d: %w", i, err)
		}
		tx.TxIn[i].Witness = wit
	}
	for _, s := range chosen {
		w.locked[s.op] = struct{}{}
	}
	return tx, nil
}

// UnlockInputs releases the inputs of tx reserved by FundTransaction, for a transaction that will
// not be broadcast after all.
func (w *Wallet) UnlockInputs(tx *wire.MsgTx) {
	if tx == nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, in := range tx.TxIn {
		delete(w.locked, in.PreviousOutPoint)
	}
}

// feeSat returns ceil(weight(tx) × feeratePerKw / 1000).
func feeSat(tx *wire.MsgTx, feeratePerKw uint32) int64 {
	weight := blockchain.GetTransactionWeight(btcutil.NewTx(tx))
	return (weight*int64(feeratePerKw) + 999) / 1000
}

// ConfirmedOutput is a confirmed output paying the wallet.
type ConfirmedOutput struct {
	OutPoint wire.OutPoint
	Output   wire.TxOut
}

// ConfirmedOutputs returns the wallet's confirmed outputs that no confirmed transaction spends,
// including those a mempool transaction spends (a replacement may spend them again), and, for coinbase
// outputs, only mature ones; sorted by outpoint.
func (w *Wallet) ConfirmedOutputs() []ConfirmedOutput {
	c := w.chain
	c.mu.Lock()
	defer c.mu.Unlock()
	next := int64(c.tip().height) + 1
	var out []ConfirmedOutput
	for op, cn := range c.utxos {
		if string(cn.out.PkScript) != string(w.pkScript) {
			continue
		}
		if cn.coinbase && !cn.mature && next-int64(cn.height) < int64(c.params.CoinbaseMaturity) {
			continue
		}
		o := cn.out
		o.PkScript = append([]byte(nil), cn.out.PkScript...)
		out = append(out, ConfirmedOutput{OutPoint: op, Output: o})
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i].OutPoint, out[j].OutPoint
		if a.Hash != b.Hash {
			return string(a.Hash[:]) < string(b.Hash[:])
		}
		return a.Index < b.Index
	})
	return out
}

// SignInputs signs, in place, every input of tx that spends an output paying the wallet (P2WPKH,
// SIGHASH_ALL); prevOuts gives the output each input spends. Other inputs are left alone.
func (w *Wallet) SignInputs(tx *wire.MsgTx, prevOuts map[wire.OutPoint]*wire.TxOut) error {
	hashes := txscript.NewTxSigHashes(tx, txscript.NewMultiPrevOutFetcher(prevOuts))
	for i, in := range tx.TxIn {
		prev := prevOuts[in.PreviousOutPoint]
		if prev == nil || string(prev.PkScript) != string(w.pkScript) {
			continue
		}
		wit, err := txscript.WitnessSignature(tx, hashes, i, prev.Value, w.pkScript, txscript.SigHashAll, w.key, true)
		if err != nil {
			return err
		}
		in.Witness = wit
	}
	return nil
}
