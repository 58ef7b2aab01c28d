package wallet

import (
	"fmt"
	"sort"
	"sync"

	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/bumptx"
)

// BumpSource is the wallet as lnkit's fee bumping sees it: a bumptx.WalletSource, handed to
// bumptx.NewWallet, whose coin selection then funds the CPFP children of anchor commitments and the
// aggregated HTLC transactions of anchor channels. Create it with Wallet.BumpSource. It is safe for
// concurrent use.
//
// Which coins it lists (ListConfirmedUTXOs): confirmed (and, for coinbases, mature) coins that
// FundTransaction has not locked and that no confirmed transaction spends, including coins spent
// only by unconfirmed claim transactions, so that a replacement of such a transaction spends them
// again and conflicts with it (BIP 125). A claim transaction is one this BumpSource signed (SignTx)
// and the wallet then recorded (AddOwnTransaction, as the wallet's Broadcaster does); the mark is
// kept in the state file. Coins spent by the wallet's other unconfirmed transactions (a funding
// transaction, a payment) are not listed: a bump must never replace those.
type BumpSource struct {
	w *Wallet

	mu     sync.Mutex
	change []byte // change script of every bump transaction, issued on first use
}

var _ bumptx.WalletSource = (*BumpSource)(nil)

// BumpSource returns the wallet's bumptx.WalletSource.
func (w *Wallet) BumpSource() *BumpSource { return &BumpSource{w: w} }

// ListConfirmedUTXOs implements bumptx.WalletSource (see BumpSource for which coins), sorted by
// outpoint, each with bumptx.P2WPKHSatisfactionWeight (109 WU). Errors: ErrClosed.
func (s *BumpSource) ListConfirmedUTXOs() ([]bumptx.UTXO, error) {
	w := s.w
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	var out []bumptx.UTXO
	for op, c := range w.coins {
		if !w.bumpable(op, c) {
			continue
		}
		out = append(out, bumptx.UTXO{OutPoint: op,
			Output:             wire.TxOut{Value: c.ValueSat, PkScript: append([]byte(nil), c.PkScript...)},
			SatisfactionWeight: bumptx.P2WPKHSatisfactionWeight})
	}
	sort.Slice(out, func(i, j int) bool { return lessOutPoint(out[i].OutPoint, out[j].OutPoint) })
	return out, nil
}

// bumpable reports whether coin c at op may fund a bump (see BumpSource). The caller holds w.mu.
func (w *Wallet) bumpable(op wire.OutPoint, c *coin) bool {
	if !w.mature(c) {
		return false
	}
	if _, locked := w.locked[op]; locked {
		return false
	}
	spender, spent := w.spends[op]
	if !spent {
		return true
	}
	r := w.txs[spender]
	return r != nil && r.Height == 0 && r.Claim
}

// GetChangeScript implements bumptx.WalletSource: one change script (a P2WPKH of the change chain)
// for every bump transaction of this BumpSource, so that repeating a claim at an unchanged feerate
// rebuilds the very same transaction. Errors: as Wallet.ChangeScript.
func (s *BumpSource) GetChangeScript() ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.change == nil {
		script, err := s.w.ChangeScript()
		if err != nil {
			return nil, err
		}
		s.change = script
	}
	return append([]byte(nil), s.change...), nil
}

// SignTx implements bumptx.WalletSource: it signs (BIP 143, SIGHASH_ALL) every input of tx that
// spends one of the wallet's coins, leaves the other inputs as they are, and marks tx as a claim
// transaction (see BumpSource). prevOuts must hold the output spent by every input of tx. It signs tx
// in place and returns it. Errors: a missing prevOut, a prevOut that disagrees with the wallet's coin,
// ErrClosed, or a signing failure.
func (s *BumpSource) SignTx(tx *wire.MsgTx, prevOuts map[wire.OutPoint]*wire.TxOut) (*wire.MsgTx, error) {
	w := s.w
	prev := make([]*wire.TxOut, len(tx.TxIn))
	for i, in := range tx.TxIn {
		if prev[i] = prevOuts[in.PreviousOutPoint]; prev[i] == nil {
			return nil, fmt.Errorf("wallet: no previous output for input %d (%v)", i, in.PreviousOutPoint)
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	paths := make([]*KeyPath, len(tx.TxIn))
	signed := 0
	for i, in := range tx.TxIn {
		c, ok := w.coins[in.PreviousOutPoint]
		if !ok {
			continue
		}
		if prev[i].Value != c.ValueSat || string(prev[i].PkScript) != string(c.PkScript) {
			return nil, fmt.Errorf("wallet: input %d: previous output (%d sat) is not the wallet's coin (%d sat)", i,
				prev[i].Value, c.ValueSat)
		}
		p := c.Path
		paths[i] = &p
		signed++
	}
	if signed == 0 {
		return tx, nil
	}
	wits, err := w.signer.SignInputs(tx, prev, paths, w.net)
	if err != nil {
		return nil, fmt.Errorf("wallet: signing: %w", err)
	}
	for i, p := range paths {
		if p != nil {
			tx.TxIn[i].Witness = wits[i]
		}
	}
	w.claimTxids[tx.TxHash()] = struct{}{}
	return tx, nil
}
