package bumptx

import (
	"fmt"
	"math"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/events"
)

// plan is a transaction to fund: required inputs (the anchor, or the HTLCs) and outputs, and the fee
// rules. For a CPFP child, parentFeeSat and parentWeight are the commitment's.
type plan struct {
	claimID      events.ClaimID
	target       uint32 // sat/kw, for the package
	maxFeeSat    int64  // ≤ 0: no cap
	parentFeeSat int64
	parentWeight int64
	inputs       []Input  // required inputs, with their real prevouts
	sequences    []uint32 // nSequence of each required input
	outputs      []*wire.TxOut
	lockTime     uint32
}

// funded is an unsigned transaction that meets a plan's fee rules.
type funded struct {
	tx           *wire.MsgTx
	required     []wire.OutPoint // the required inputs (p.inputs)
	parentFeeSat int64
	prevOuts     map[wire.OutPoint]*wire.TxOut
	weight       int64 // the transaction's estimated weight once signed
	pkgFeeSat    int64 // parent fee + the transaction's fee
	pkgWeight    int64 // parent weight + weight
	selFeerate   uint32
	capped       bool
}

// fund asks the CoinSelectionSource for wallet inputs until the transaction meets the plan's fee rules
// (see BumpTransactionEventHandler): at least the target feerate on the package, at most the cap, and
// a valid replacement of the claim's last broadcast unless it is that same transaction.
func (h *BumpTransactionEventHandler) fund(c *claim, p *plan) (*funded, error) {
	// A cap that no transaction, even one without wallet inputs, fits is refused before selecting.
	if p.maxFeeSat > 0 {
		bare, err := p.build(CoinSelection{})
		if err != nil {
			return nil, err
		}
		if low := p.minUsefulFee(bare.pkgWeight); low > p.maxFeeSat {
			return nil, fmt.Errorf("%w: at least %d sat needed on %d WU, cap %d sat", ErrFeeCapExceeded, low,
				bare.pkgWeight, p.maxFeeSat)
		}
	}
	if c.last != nil && !p.spendsAll(c.last.required) {
		// The last transaction spent an output this one does not: that output was spent by a confirmed
		// transaction, which evicted ours. Nothing is left to replace.
		h.log.Debug("bumptx: the claim's last transaction is obsolete", "claim", fmt.Sprintf("%x", p.claimID[:]),
			"tx", c.last.txid)
		c.last = nil
	}
	rate := p.target
	if c.last != nil && c.last.selFeerate > rate {
		rate = c.last.selFeerate
	}
	var prevTxid chainhash.Hash
	for attempt := 0; attempt < maxFundingAttempts; attempt++ {
		mustSpend := make([]Input, len(p.inputs))
		for i, in := range p.inputs {
			mustSpend[i] = in
			mustSpend[i].PrevOut.PkScript = append([]byte(nil), in.PrevOut.PkScript...)
		}
		mustSpend[0].PrevOut.Value += p.parentFeeSat
		mustSpend[0].SatisfactionWeight += p.parentWeight
		mustPayTo := make([]*wire.TxOut, len(p.outputs))
		for i, out := range p.outputs {
			mustPayTo[i] = &wire.TxOut{Value: out.Value, PkScript: append([]byte(nil), out.PkScript...)}
		}
		sel, err := h.coins.SelectConfirmedUTXOs(p.claimID, mustSpend, mustPayTo, rate)
		if err != nil {
			return nil, fmt.Errorf("coin selection at %d sat/kw: %w", rate, err)
		}
		f, err := p.build(sel)
		if err != nil {
			return nil, err
		}
		f.selFeerate = rate
		txid := f.tx.TxHash()
		repeated := attempt > 0 && txid == prevTxid // the selection did not change with the feerate asked
		prevTxid = txid

		// The fee the package must pay: the target's, or a valid replacement's.
		want := feeForWeight(p.target, f.pkgWeight)
		var replaceFloor int64
		if last := c.last; last != nil && txid != last.txid {
			replaceFloor = max(
				// BIP 125 rules 3 and 4: the earlier fee plus the incremental relay fee on our weight.
				p.parentFeeSat+last.txFeeSat+feeForWeight(IncrementalRelayFeeratePerKw, f.weight),
				// A feerate of the transaction itself higher by the incremental relay feerate (Bitcoin Core's
				// rule 6 before cluster mempool, with a margin for the estimates and vsize rounding)...
				p.parentFeeSat+mulDiv(last.txFeeSat, f.weight, last.txWeight, true)+feeForWeight(IncrementalRelayFeeratePerKw, f.weight),
				// ... and of the package (the chunk feerate that cluster mempool compares).
				mulDiv(last.pkgFeeSat, f.pkgWeight, last.pkgWeight, false)+1)
			want = max(want, replaceFloor)
		}
		// Capped, any fee from the least useful one up to the cap will do; the feerate asked is then the
		// highest the cap allows on this weight.
		low, high := want, int64(math.MaxInt64)
		if p.maxFeeSat > 0 && want > p.maxFeeSat {
			low = max(replaceFloor, p.minUsefulFee(f.pkgWeight))
			high = p.maxFeeSat
			if low > high {
				return nil, fmt.Errorf("%w: at least %d sat needed on %d WU, cap %d sat (target %d sat/kw)",
					ErrFeeCapExceeded, low, f.pkgWeight, p.maxFeeSat, p.target)
			}
			f.capped = true
		}

		switch {
		case f.pkgFeeSat < low && repeated:
			return nil, fmt.Errorf("%w: coin selection adds nothing at %d sat/kw; the package pays %d sat, needs %d sat",
				ErrInsufficientFunds, rate, f.pkgFeeSat, low)
		case f.pkgFeeSat > high && repeated:
			return nil, fmt.Errorf("%w: coin selection pays %d sat even at %d sat/kw, cap %d sat", ErrFeeCapExceeded,
				f.pkgFeeSat, rate, p.maxFeeSat)
		case f.pkgFeeSat < low:
			// Ask for the feerate that pays low on this weight. If that was already asked, the selection
			// underestimates the weight (an output it did not know of, such as the OP_RETURN filler):
			// scale the feerate by the shortfall instead.
			next := mulDiv(low, 1000, f.pkgWeight, true)
			if next <= int64(rate) {
				next = mulDiv(int64(rate), low, max(f.pkgFeeSat, 1), true)
			}
			if next <= int64(rate) {
				next = int64(rate) + 1
			}
			if next > math.MaxUint32 {
				return nil, fmt.Errorf("%w: feerate out of range", ErrCoinSelection)
			}
			rate = clampFeerate(next)
		case f.pkgFeeSat > high:
			next := mulDiv(high, 1000, f.pkgWeight, false)
			if next >= int64(rate) {
				next = mulDiv(int64(rate), high, f.pkgFeeSat, false)
			}
			if next >= int64(rate) {
				next = int64(rate) - 1
			}
			if next < 1 {
				return nil, fmt.Errorf("%w: coin selection pays %d sat, cap %d sat", ErrFeeCapExceeded, f.pkgFeeSat, p.maxFeeSat)
			}
			rate = clampFeerate(next)
		default:
			if f.capped {
				h.log.Warn("bumptx: fee capped below the target feerate", "claim", fmt.Sprintf("%x", p.claimID[:]),
					"fee_sat", f.pkgFeeSat, "max_fee_sat", p.maxFeeSat, "feerate_per_kw", feerateOf(f.pkgFeeSat, f.pkgWeight),
					"target_per_kw", p.target)
			}
			return f, nil
		}
	}
	return nil, fmt.Errorf("%w: %d selections did not reach the required fee", ErrCoinSelection, maxFundingAttempts)
}

// spendsAll reports whether every outpoint of ops is one of p's required inputs.
func (p *plan) spendsAll(ops []wire.OutPoint) bool {
	have := make(map[wire.OutPoint]bool, len(p.inputs))
	for _, in := range p.inputs {
		have[in.OutPoint] = true
	}
	for _, op := range ops {
		if !have[op] {
			return false
		}
	}
	return true
}

// minUsefulFee is the least fee worth paying on a package of pkgWeight WU: the relay floor
// (chaininterface.FeeratePerKwFloor) and, for a CPFP child, a package feerate strictly above the
// parent's own.
func (p *plan) minUsefulFee(pkgWeight int64) int64 {
	low := feeForWeight(chaininterface.FeeratePerKwFloor, pkgWeight)
	if p.parentWeight > 0 {
		low = max(low, mulDiv(p.parentFeeSat, pkgWeight, p.parentWeight, false)+1)
	}
	return low
}

// build assembles the unsigned transaction of p with sel: version 2, p's lock time; the required inputs
// with their sequences, then the wallet's UTXOs; p's outputs, then the change, or a zero-value OP_RETURN
// if there would be no output at all. It checks sel.
func (p *plan) build(sel CoinSelection) (*funded, error) {
	tx := wire.NewMsgTx(2)
	tx.LockTime = p.lockTime
	prevOuts := make(map[wire.OutPoint]*wire.TxOut, len(p.inputs)+len(sel.ConfirmedUTXOs))
	var inSat, satisfaction int64
	for i, in := range p.inputs {
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: in.OutPoint, Sequence: p.sequences[i]})
		prevOuts[in.OutPoint] = &wire.TxOut{Value: in.PrevOut.Value, PkScript: append([]byte(nil), in.PrevOut.PkScript...)}
		inSat += in.PrevOut.Value
		satisfaction += in.SatisfactionWeight
	}
	for _, u := range sel.ConfirmedUTXOs {
		if _, dup := prevOuts[u.OutPoint]; dup {
			return nil, fmt.Errorf("%w: input %v twice", ErrCoinSelection, u.OutPoint)
		}
		if u.Output.Value <= 0 || u.Output.Value > btcutil.MaxSatoshi || u.SatisfactionWeight < 0 || u.SatisfactionWeight > maxWeight {
			return nil, fmt.Errorf("%w: UTXO %v: %d sat, satisfaction weight %d", ErrCoinSelection, u.OutPoint,
				u.Output.Value, u.SatisfactionWeight)
		}
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: u.OutPoint, Sequence: walletInputSequence})
		prevOuts[u.OutPoint] = &wire.TxOut{Value: u.Output.Value, PkScript: append([]byte(nil), u.Output.PkScript...)}
		inSat += u.Output.Value
		satisfaction += u.SatisfactionWeight
	}
	if inSat > btcutil.MaxSatoshi {
		return nil, fmt.Errorf("%w: inputs above 21 million BTC", ErrCoinSelection)
	}
	var outSat int64
	for _, out := range p.outputs {
		tx.AddTxOut(&wire.TxOut{Value: out.Value, PkScript: append([]byte(nil), out.PkScript...)})
		outSat += out.Value
	}
	if ch := sel.ChangeOutput; ch != nil {
		if len(ch.PkScript) == 0 || ch.Value < DustThresholdSat(ch.PkScript) || ch.Value > btcutil.MaxSatoshi {
			return nil, fmt.Errorf("%w: change output of %d sat", ErrCoinSelection, ch.Value)
		}
		tx.AddTxOut(&wire.TxOut{Value: ch.Value, PkScript: append([]byte(nil), ch.PkScript...)})
		outSat += ch.Value
	}
	if len(tx.TxOut) == 0 {
		tx.AddTxOut(opReturnFiller(tx))
	}
	if outSat > inSat {
		return nil, fmt.Errorf("%w: outputs %d sat, inputs %d sat", ErrCoinSelection, outSat, inSat)
	}
	w := estimateWeight(tx, satisfaction)
	required := make([]wire.OutPoint, len(p.inputs))
	for i, in := range p.inputs {
		required[i] = in.OutPoint
	}
	return &funded{
		tx:           tx,
		required:     required,
		parentFeeSat: p.parentFeeSat,
		prevOuts:     prevOuts,
		weight:       w,
		pkgFeeSat:    p.parentFeeSat + inSat - outSat,
		pkgWeight:    p.parentWeight + w,
	}, nil
}

// opReturnFiller returns the zero-value OP_RETURN output given to a transaction that would otherwise
// have none (all its inputs' value goes to the fee), padded so that the transaction reaches Bitcoin
// Core's minimum non-witness size of 65 bytes (LDK's process_coin_selection does the same).
func opReturnFiller(tx *wire.MsgTx) *wire.TxOut {
	out := &wire.TxOut{PkScript: []byte{txscript.OP_RETURN}}
	probe := *tx
	probe.TxOut = []*wire.TxOut{out}
	if short := minStandardTxSize - strippedSize(&probe); short > 0 {
		// OP_RETURN <short-1 zero bytes>: the push opcode and its data add short bytes.
		out.PkScript = append([]byte{txscript.OP_RETURN, byte(short - 1)}, make([]byte, short-1)...)
	}
	return out
}
