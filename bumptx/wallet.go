package bumptx

import (
	"bytes"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/events"
)

// UTXO is a confirmed output of the host's wallet that coin selection may spend (LDK's Utxo).
type UTXO struct {
	OutPoint wire.OutPoint
	// Output is the output being spent: its value in satoshis and its pkScript.
	Output wire.TxOut
	// SatisfactionWeight is the weight, in weight units, that signing adds to an input spending Output,
	// beyond BaseInputWeight: the scriptSig's bytes times 4 (0 for a native segwit output; the scriptSig
	// length byte is in BaseInputWeight) plus the whole witness with its item count and length prefixes.
	// It must not be below the real value: fees are computed from it. P2WPKHSatisfactionWeight (109) for
	// P2WPKH, P2TRKeySpendSatisfactionWeight (66) for a P2TR key spend.
	SatisfactionWeight int64
}

// Input is an input that coin selection must include in the transaction besides the wallet's (LDK's
// Input): the anchor output of a BumpChannelClose, the HTLC outputs of a BumpHTLCResolution. The caller
// signs it; coin selection only accounts for its value and weight.
type Input struct {
	OutPoint wire.OutPoint
	// PrevOut is the output being spent: value in satoshis and pkScript.
	PrevOut wire.TxOut
	// SatisfactionWeight is as UTXO.SatisfactionWeight.
	SatisfactionWeight int64
}

// CoinSelection is the result of CoinSelectionSource.SelectConfirmedUTXOs (LDK's CoinSelection).
type CoinSelection struct {
	// ConfirmedUTXOs are the wallet UTXOs to add as inputs, after the required ones, in this order.
	ConfirmedUTXOs []UTXO
	// ChangeOutput, if not nil, is added after the required outputs. Its value must be at least
	// DustThresholdSat of its script.
	ChangeOutput *wire.TxOut
}

// WalletSource is what the host's on-chain wallet provides to Wallet (LDK's WalletSource).
// Implementations must be safe for concurrent use.
type WalletSource interface {
	// ListConfirmedUTXOs returns every output with at least one confirmation that the wallet can sign
	// for and that no confirmed transaction spends, INCLUDING outputs spent only by unconfirmed
	// transactions: a replacement must be able to spend them again. Wallet releases the lock on any
	// UTXO that is no longer listed.
	ListConfirmedUTXOs() ([]UTXO, error)

	// GetChangeScript returns the pkScript that change pays to.
	GetChangeScript() ([]byte, error)

	// SignTx signs the inputs of tx that spend the wallet's outputs (scriptSig and/or witness) and
	// returns the signed transaction; it leaves every other input as it is and changes nothing else
	// (LDK's sign_psbt, without PSBT). prevOuts holds the output spent by every input of tx (as BIP 341
	// needs for taproot). It may sign tx in place.
	SignTx(tx *wire.MsgTx, prevOuts map[wire.OutPoint]*wire.TxOut) (*wire.MsgTx, error)
}

// CoinSelectionSource chooses wallet UTXOs to fund a transaction and signs them (LDK's
// CoinSelectionSource). Wallet implements it over a WalletSource; a host with its own coin selection
// (Bitcoin Core's fundrawtransaction, say) implements it directly. Implementations must be safe for
// concurrent use.
type CoinSelectionSource interface {
	// SelectConfirmedUTXOs returns confirmed UTXOs, and optionally a change output, such that the
	// transaction made of mustSpend, then the UTXOs, paying mustPayTo and then the change, pays at least
	// targetFeeratePerKw (sat per 1000 weight units) on its weight once signed: inputs + UTXO values ≥
	// mustPayTo values + change + ceil(target × weight / 1000). mustSpend must not be returned.
	//
	// For a CPFP child (BumpChannelClose) the handler folds the parent into mustSpend[0]: its
	// PrevOut.Value includes the commitment's fee and its SatisfactionWeight the commitment's weight,
	// so that the selection pays the target for the package; mustPayTo is then empty and the selection
	// should return change (without any output the handler adds a zero-value OP_RETURN).
	//
	// UTXOs selected for claimID must be selected again, first, when claimID comes back (the new
	// transaction then conflicts with, and replaces, the earlier one), and must not be given to other
	// claims meanwhile. When the wallet cannot pay, return an error wrapping ErrInsufficientFunds.
	SelectConfirmedUTXOs(claimID events.ClaimID, mustSpend []Input, mustPayTo []*wire.TxOut, targetFeeratePerKw uint32) (CoinSelection, error)

	// SignTx is as WalletSource.SignTx: it signs the inputs spending the selected UTXOs.
	SignTx(tx *wire.MsgTx, prevOuts map[wire.OutPoint]*wire.TxOut) (*wire.MsgTx, error)
}

// Wallet is the default CoinSelectionSource over a WalletSource (LDK's Wallet). Create it with
// NewWallet. It is safe for concurrent use.
//
// Selection: the UTXOs already locked to the claim come first, all of them (so that the transaction
// conflicts with every earlier one of the claim and only grows from one repeat to the next), then the
// unlocked UTXOs worth more than the fee of spending them, largest first (fewest inputs, least weight),
// ties broken by outpoint. UTXOs are added until the value covers mustPayTo plus the fee at the target
// feerate; change is returned when it is at least DustThresholdSat of the change script, and otherwise
// left to the fee. When mustPayTo is empty, more UTXOs are added, if there are any, to obtain change
// rather than a transaction without outputs. The same listing and locks give the same selection.
//
// Locks: every selected UTXO is locked to its claim until ReleaseClaim, or until the WalletSource stops
// listing it (its spend confirmed). UTXOs locked to other claims are never selected: when the rest
// cannot pay, SelectConfirmedUTXOs returns ErrInsufficientFunds rather than double-spend another
// claim's transaction.
type Wallet struct {
	source WalletSource
	log    *slog.Logger

	mu    sync.Mutex
	locks map[wire.OutPoint]events.ClaimID
}

var _ CoinSelectionSource = (*Wallet)(nil)

// NewWallet returns a Wallet over source, logging to logger (nil: discard). Errors: ErrNilArgument when
// source is nil.
func NewWallet(source WalletSource, logger *slog.Logger) (*Wallet, error) {
	if source == nil {
		return nil, fmt.Errorf("%w: WalletSource", ErrNilArgument)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Wallet{source: source, log: logger, locks: make(map[wire.OutPoint]events.ClaimID)}, nil
}

// ReleaseClaim unlocks every UTXO locked to claimID, for example once the claim's transaction has
// confirmed deeply or the claim is abandoned. Unknown claims are ignored.
func (w *Wallet) ReleaseClaim(claimID events.ClaimID) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for op, id := range w.locks {
		if id == claimID {
			delete(w.locks, op)
		}
	}
}

// LockedUTXOs returns the outpoints locked to claimID, sorted.
func (w *Wallet) LockedUTXOs(claimID events.ClaimID) []wire.OutPoint {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []wire.OutPoint
	for op, id := range w.locks {
		if id == claimID {
			out = append(out, op)
		}
	}
	sort.Slice(out, func(i, j int) bool { return outPointLess(out[i], out[j]) })
	return out
}

// SignTx implements CoinSelectionSource by handing tx to the WalletSource. Errors: the WalletSource's,
// wrapped in ErrSigning; ErrInvalidRequest for a nil tx.
func (w *Wallet) SignTx(tx *wire.MsgTx, prevOuts map[wire.OutPoint]*wire.TxOut) (*wire.MsgTx, error) {
	if tx == nil {
		return nil, fmt.Errorf("%w: nil transaction", ErrInvalidRequest)
	}
	signed, err := w.source.SignTx(tx, prevOuts)
	if err != nil {
		return nil, fmt.Errorf("%w: wallet: %w", ErrSigning, err)
	}
	if signed == nil {
		return nil, fmt.Errorf("%w: wallet returned no transaction", ErrSigning)
	}
	return signed, nil
}

// SelectConfirmedUTXOs implements CoinSelectionSource (see Wallet for the algorithm). Errors:
// ErrInvalidRequest for negative or out-of-range values, negative satisfaction weights, nil outputs or
// duplicate inputs; the WalletSource's errors, wrapped; ErrInsufficientFunds.
func (w *Wallet) SelectConfirmedUTXOs(claimID events.ClaimID, mustSpend []Input, mustPayTo []*wire.TxOut, targetFeeratePerKw uint32) (CoinSelection, error) {
	req, err := newSelectionRequest(mustSpend, mustPayTo)
	if err != nil {
		return CoinSelection{}, err
	}
	listed, err := w.source.ListConfirmedUTXOs()
	if err != nil {
		return CoinSelection{}, fmt.Errorf("bumptx: listing wallet UTXOs: %w", err)
	}
	changeScript, err := w.source.GetChangeScript()
	if err != nil {
		return CoinSelection{}, fmt.Errorf("bumptx: wallet change script: %w", err)
	}
	if len(changeScript) == 0 {
		return CoinSelection{}, fmt.Errorf("%w: empty change script", ErrInvalidRequest)
	}

	w.mu.Lock()
	defer w.mu.Unlock()

	// Forget locks on what the wallet no longer lists (spent by a confirmed transaction).
	seen := make(map[wire.OutPoint]bool, len(listed))
	for _, u := range listed {
		seen[u.OutPoint] = true
	}
	for op := range w.locks {
		if !seen[op] {
			delete(w.locks, op)
		}
	}

	var own, free []UTXO
	var lockedElsewhere int
	dup := make(map[wire.OutPoint]bool, len(listed))
	for _, u := range listed {
		if dup[u.OutPoint] || req.spends[u.OutPoint] || u.Output.Value <= 0 || u.Output.Value > btcutil.MaxSatoshi ||
			u.SatisfactionWeight < 0 || u.SatisfactionWeight > maxWeight {
			continue
		}
		dup[u.OutPoint] = true
		id, locked := w.locks[u.OutPoint]
		switch {
		case locked && id == claimID:
			own = append(own, u)
		case locked:
			lockedElsewhere++
		case u.Output.Value > feeForWeight(targetFeeratePerKw, BaseInputWeight+u.SatisfactionWeight):
			free = append(free, u)
		}
	}
	sortUTXOs(own)
	sortUTXOs(free)
	cands := append(own, free...)

	sel, ok := req.choose(cands, len(own), changeScript, targetFeeratePerKw)
	if !ok {
		var have int64
		for _, u := range cands {
			have += u.Output.Value
		}
		return CoinSelection{}, fmt.Errorf("%w: claim %x needs %d sat of outputs plus the fee at %d sat/kw, has %d sat in "+
			"%d usable UTXOs (%d more locked to other claims)", ErrInsufficientFunds, claimID[:4], req.paySat-req.inSat,
			targetFeeratePerKw, have, len(cands), lockedElsewhere)
	}
	for _, u := range sel.ConfirmedUTXOs {
		w.locks[u.OutPoint] = claimID
	}
	w.log.Debug("bumptx: coins selected", "claim", fmt.Sprintf("%x", claimID[:]), "utxos", len(sel.ConfirmedUTXOs),
		"change", sel.ChangeOutput != nil, "feerate_per_kw", targetFeeratePerKw)
	return sel, nil
}

// selectionRequest is SelectConfirmedUTXOs' view of the required inputs and outputs.
type selectionRequest struct {
	spends       map[wire.OutPoint]bool
	nIn          int
	inSat        int64 // required inputs' value
	satisfaction int64 // required inputs' satisfaction weight
	outputs      []*wire.TxOut
	paySat       int64 // required outputs' value
}

func newSelectionRequest(mustSpend []Input, mustPayTo []*wire.TxOut) (*selectionRequest, error) {
	r := &selectionRequest{spends: make(map[wire.OutPoint]bool, len(mustSpend)), nIn: len(mustSpend), outputs: mustPayTo}
	for i, in := range mustSpend {
		if r.spends[in.OutPoint] {
			return nil, fmt.Errorf("%w: input %v twice", ErrInvalidRequest, in.OutPoint)
		}
		r.spends[in.OutPoint] = true
		if in.PrevOut.Value < 0 || in.PrevOut.Value > btcutil.MaxSatoshi || in.SatisfactionWeight < 0 ||
			in.SatisfactionWeight > maxWeight {
			return nil, fmt.Errorf("%w: input %d: value %d sat, satisfaction weight %d", ErrInvalidRequest, i,
				in.PrevOut.Value, in.SatisfactionWeight)
		}
		r.inSat += in.PrevOut.Value
		r.satisfaction += in.SatisfactionWeight
	}
	for i, out := range mustPayTo {
		if out == nil || out.Value < 0 || out.Value > btcutil.MaxSatoshi {
			return nil, fmt.Errorf("%w: output %d missing or out of range", ErrInvalidRequest, i)
		}
		r.paySat += out.Value
	}
	if r.inSat > btcutil.MaxSatoshi || r.paySat > btcutil.MaxSatoshi {
		return nil, fmt.Errorf("%w: amounts above 21 million BTC", ErrInvalidRequest)
	}
	return r, nil
}

// maxWeight bounds the weights accepted from callers, far above any standard package (404,000 WU),
// so that no sum of weights or product with a feerate overflows.
const maxWeight = 1 << 32

// weight is the estimated weight of the transaction with the required inputs and outputs, k wallet
// inputs of total satisfaction weight utxoSat, and a change output paying changeScript if not nil.
func (r *selectionRequest) weight(k int, utxoSat int64, changeScript []byte) int64 {
	nOut := len(r.outputs)
	stripped := 4 + varIntSize(uint64(r.nIn+k)) + 4 + int64(r.nIn+k)*(36+1+4)
	w := r.satisfaction + utxoSat + segwitMarkerWeight
	for _, out := range r.outputs {
		w += outputWeight(out.PkScript)
	}
	if changeScript != nil {
		nOut++
		w += outputWeight(changeScript)
	}
	stripped += varIntSize(uint64(nOut))
	return w + 4*stripped
}

// choose takes cands[:k] for the smallest k ≥ minK that pays for the transaction with change (or, when
// there are required outputs, without), falling back to the smallest k that pays without change.
func (r *selectionRequest) choose(cands []UTXO, minK int, changeScript []byte, feeratePerKw uint32) (CoinSelection, bool) {
	dust := DustThresholdSat(changeScript)
	inSat, utxoSat := r.inSat, int64(0)
	for i := 0; i < minK; i++ {
		inSat += cands[i].Output.Value
		utxoSat += cands[i].SatisfactionWeight
	}
	fallback := -1
	for k := minK; ; k++ {
		feeWithChange := feeForWeight(feeratePerKw, r.weight(k, utxoSat, changeScript))
		if change := inSat - r.paySat - feeWithChange; change >= dust {
			return CoinSelection{
				ConfirmedUTXOs: append([]UTXO(nil), cands[:k]...),
				ChangeOutput:   &wire.TxOut{Value: change, PkScript: append([]byte(nil), changeScript...)},
			}, true
		}
		if fallback < 0 && inSat-r.paySat >= feeForWeight(feeratePerKw, r.weight(k, utxoSat, nil)) {
			fallback = k
			if len(r.outputs) > 0 {
				break
			}
		}
		if k == len(cands) {
			break
		}
		inSat += cands[k].Output.Value
		utxoSat += cands[k].SatisfactionWeight
	}
	if fallback < 0 {
		return CoinSelection{}, false
	}
	return CoinSelection{ConfirmedUTXOs: append([]UTXO(nil), cands[:fallback]...)}, true
}

// sortUTXOs orders by value, largest first, then by outpoint.
func sortUTXOs(us []UTXO) {
	sort.Slice(us, func(i, j int) bool {
		if us[i].Output.Value != us[j].Output.Value {
			return us[i].Output.Value > us[j].Output.Value
		}
		return outPointLess(us[i].OutPoint, us[j].OutPoint)
	})
}

func outPointLess(a, b wire.OutPoint) bool {
	if c := bytes.Compare(a.Hash[:], b.Hash[:]); c != 0 {
		return c < 0
	}
	return a.Index < b.Index
}
