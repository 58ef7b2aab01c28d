package testchain

import (
	"fmt"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// Policy and consensus constants used by the checks (Bitcoin Core's values).
const (
	// MaxStandardTxWeight is the largest weight, in weight units, of a transaction this chain relays.
	MaxStandardTxWeight = 400000

	// DustRelayFeeratePerKvB is the feerate, in sat per 1000 virtual bytes, used to compute dust
	// thresholds (Bitcoin Core's -dustrelayfee default).
	DustRelayFeeratePerKvB = 3000

	// minStandardTxNonWitnessSize is Bitcoin Core's MIN_STANDARD_TX_NONWITNESS_SIZE, in bytes.
	minStandardTxNonWitnessSize = 65

	// maxStandardScriptSigSize is Bitcoin Core's MAX_STANDARD_SCRIPTSIG_SIZE, in bytes.
	maxStandardScriptSigSize = 1650

	// lockTimeThreshold separates height locks (below) from time locks (at or above), BIP 65.
	lockTimeThreshold = 500000000

	// BIP 68 nSequence fields.
	sequenceLockDisableFlag = 1 << 31
	sequenceLockTypeFlag    = 1 << 22
	sequenceLockMask        = 0x0000ffff
	sequenceLockGranularity = 9 // time locks count units of 512 s
)

// ConsensusVerifyFlags are the script flags ConnectBlock checks blocks with: the soft forks that are
// consensus on regtest (BIP 16, 66, 65, 112, 141/143, 147 NULLDUMMY, 341/342), without the
// relay-only policy flags.
const ConsensusVerifyFlags = txscript.ScriptBip16 |
	txscript.ScriptVerifyDERSignatures |
	txscript.ScriptVerifyCheckLockTimeVerify |
	txscript.ScriptVerifyCheckSequenceVerify |
	txscript.ScriptVerifyWitness |
	txscript.ScriptStrictMultiSig |
	txscript.ScriptVerifyTaproot

// DustThresholdSat returns the dust threshold, in satoshis, of an output: an output worth less is
// dust. It follows Bitcoin Core's GetDustThreshold: (serialized output size + the size of the input
// that would spend it: 67 bytes for a witness program, 148 otherwise) × 3 sat/byte. OP_RETURN (and
// other provably unspendable) outputs have threshold 0. Examples: P2WPKH 294, P2WSH 330, P2TR 330,
// P2SH 540, P2PKH 546.
func DustThresholdSat(out *wire.TxOut) int64 {
	if out == nil || txscript.IsUnspendable(out.PkScript) {
		return 0
	}
	size := int64(out.SerializeSize())
	if txscript.IsWitnessProgram(out.PkScript) {
		size += 32 + 4 + 1 + 107/4 + 4
	} else {
		size += 32 + 4 + 1 + 107 + 4
	}
	return size * DustRelayFeeratePerKvB / 1000
}

// coin is a spendable output as seen by the validator.
type coin struct {
	out      wire.TxOut
	height   uint32 // height of the block holding it; for unconfirmed outputs, the height being validated
	coinbase bool   // a coinbase output, subject to maturity
	mature   bool   // exempt from coinbase maturity (FundAddress outputs)
}

// coinView answers where an outpoint comes from. It returns ErrMissingInput or ErrDoubleSpend
// (wrapped) when the outpoint cannot be spent.
type coinView func(op wire.OutPoint) (coin, error)

// checkOpts is the context a transaction is validated in.
type checkOpts struct {
	height  uint32 // height of the block that would include the transaction
	prevMTP int64  // median time past of the block before it, in Unix seconds
	policy  bool   // apply relay policy (standardness, dust, weight)
	scripts bool   // run the script engine
	flags   txscript.ScriptFlags
}

// checkTx validates tx in the given view and context and returns its fee in satoshis. The caller holds
// c.mu. tx must not be a coinbase.
func (c *Chain) checkTx(tx *wire.MsgTx, view coinView, o checkOpts) (int64, error) {
	fee, coins, err := c.checkTxInputs(tx, view, o)
	if err != nil {
		return 0, err
	}
	if o.scripts {
		if err := verifyScripts(tx, coins, o.flags); err != nil {
			return 0, err
		}
	}
	return fee, nil
}

// checkTxInputs runs every check of checkTx but the script engine and returns the fee in satoshis
// and the coins the inputs spend, in input order, for verifyScripts. The caller holds c.mu.
func (c *Chain) checkTxInputs(tx *wire.MsgTx, view coinView, o checkOpts) (int64, []coin, error) {
	if tx == nil {
		return 0, nil, fmt.Errorf("%w: nil transaction", ErrMalformed)
	}
	utx := btcutil.NewTx(tx)
	if err := blockchain.CheckTransactionSanity(utx); err != nil {
		return 0, nil, fmt.Errorf("%w: %v", ErrMalformed, err)
	}
	if blockchain.IsCoinBaseTx(tx) {
		return 0, nil, fmt.Errorf("%w: coinbase transaction outside a block's first position", ErrNonStandard)
	}

	if o.policy {
		if err := checkStandard(tx, utx); err != nil {
			return 0, nil, err
		}
	}

	if !lockTimeFinal(tx, o.height, o.prevMTP) {
		return 0, nil, fmt.Errorf("%w: locktime %d, next block height %d, median time past %d",
			ErrLockTimeNotFinal, tx.LockTime, o.height, o.prevMTP)
	}

	coins, inSat, err := c.inputCoins(tx, view, o)
	if err != nil {
		return 0, nil, err
	}

	var outSat int64
	for _, out := range tx.TxOut {
		outSat += out.Value // in range: checked by CheckTransactionSanity
	}
	if outSat > inSat {
		return 0, nil, fmt.Errorf("%w: outputs %d sat, inputs %d sat", ErrValueOut, outSat, inSat)
	}

	if err := c.checkSequenceLocks(tx, coins, o); err != nil {
		return 0, nil, err
	}
	return inSat - outSat, coins, nil
}

// inputCoins looks every input up in view, checks coinbase maturity and value ranges, and returns
// the coins in input order and their total value in satoshis.
func (c *Chain) inputCoins(tx *wire.MsgTx, view coinView, o checkOpts) ([]coin, int64, error) {
	coins := make([]coin, len(tx.TxIn))
	var inSat int64
	for i, in := range tx.TxIn {
		cn, err := view(in.PreviousOutPoint)
		if err != nil {
			return nil, 0, fmt.Errorf("input %d (%v): %w", i, in.PreviousOutPoint, err)
		}
		if cn.coinbase && !cn.mature {
			confs := int64(o.height) - int64(cn.height)
			if confs < int64(c.params.CoinbaseMaturity) {
				return nil, 0, fmt.Errorf("%w: input %d (%v) is a coinbase output from height %d, spend at height %d needs %d blocks",
					ErrImmatureCoinbase, i, in.PreviousOutPoint, cn.height, o.height, c.params.CoinbaseMaturity)
			}
		}
		coins[i] = cn
		inSat += cn.out.Value
		if cn.out.Value < 0 || cn.out.Value > btcutil.MaxSatoshi || inSat > btcutil.MaxSatoshi {
			return nil, 0, fmt.Errorf("%w: input value out of range", ErrMalformed)
		}
	}
	return coins, inSat, nil
}

// checkStandard applies the relay policy rules that need no chain context.
func checkStandard(tx *wire.MsgTx, utx *btcutil.Tx) error {
	if v := uint32(tx.Version); v < 1 || v > 3 {
		return fmt.Errorf("%w: version %d", ErrNonStandard, tx.Version)
	}
	if w := blockchain.GetTransactionWeight(utx); w > MaxStandardTxWeight {
		return fmt.Errorf("%w: weight %d", ErrTxTooHeavy, w)
	}
	if n := tx.SerializeSizeStripped(); n < minStandardTxNonWitnessSize {
		return fmt.Errorf("%w: non-witness size %d bytes is under %d", ErrNonStandard, n, minStandardTxNonWitnessSize)
	}
	for i, in := range tx.TxIn {
		if len(in.SignatureScript) > maxStandardScriptSigSize {
			return fmt.Errorf("%w: input %d signature script is %d bytes", ErrNonStandard, i, len(in.SignatureScript))
		}
		if !txscript.IsPushOnlyScript(in.SignatureScript) {
			return fmt.Errorf("%w: input %d signature script is not push-only", ErrNonStandard, i)
		}
	}
	for i, out := range tx.TxOut {
		switch txscript.GetScriptClass(out.PkScript) {
		case txscript.WitnessV0PubKeyHashTy, txscript.WitnessV0ScriptHashTy, txscript.WitnessV1TaprootTy,
			txscript.PubKeyHashTy, txscript.ScriptHashTy, txscript.NullDataTy:
		default:
			return fmt.Errorf("%w: output %d script %x", ErrNonStandard, i, out.PkScript)
		}
		if limit := DustThresholdSat(out); out.Value < limit {
			return fmt.Errorf("%w: output %d is %d sat, threshold %d", ErrDust, i, out.Value, limit)
		}
	}
	return nil
}

// lockTimeFinal reports whether tx may be included in a block at height whose previous block has
// median time past prevMTP (BIP 113 IsFinalTx).
func lockTimeFinal(tx *wire.MsgTx, height uint32, prevMTP int64) bool {
	if tx.LockTime == 0 {
		return true
	}
	limit := int64(height)
	if tx.LockTime >= lockTimeThreshold {
		limit = prevMTP
	}
	if int64(tx.LockTime) < limit {
		return true
	}
	for _, in := range tx.TxIn {
		if in.Sequence != wire.MaxTxInSequenceNum {
			return false
		}
	}
	return true
}

// checkSequenceLocks enforces BIP 68 relative locks for a transaction going into a block at o.height.
func (c *Chain) checkSequenceLocks(tx *wire.MsgTx, coins []coin, o checkOpts) error {
	if uint32(tx.Version) < 2 {
		return nil
	}
	for i, in := range tx.TxIn {
		seq := in.Sequence
		if seq&sequenceLockDisableFlag != 0 {
			continue
		}
		coinHeight := coins[i].height
		value := int64(seq & sequenceLockMask)
		if seq&sequenceLockTypeFlag != 0 {
			// Time lock: measured from the median time past of the block before the coin's block.
			var base int64
			if coinHeight >= o.height {
				base = o.prevMTP
			} else {
				h := uint32(0)
				if coinHeight > 0 {
					h = coinHeight - 1
				}
				base = c.blocks[h].mtp
			}
			minTime := base + value<<sequenceLockGranularity - 1
			if minTime >= o.prevMTP {
				return fmt.Errorf("%w: input %d (%v) time lock of %d s needs median time past above %d, have %d",
					ErrSequenceLockNotMet, i, in.PreviousOutPoint, value<<sequenceLockGranularity, minTime, o.prevMTP)
			}
			continue
		}
		minHeight := int64(coinHeight) + value - 1
		if minHeight >= int64(o.height) {
			return fmt.Errorf("%w: input %d (%v) confirmed at height %d needs %d blocks, spend at height %d",
				ErrSequenceLockNotMet, i, in.PreviousOutPoint, coinHeight, value, o.height)
		}
	}
	return nil
}

// verifyScripts runs every input's script through btcd's engine with the prevouts' scripts and amounts.
func verifyScripts(tx *wire.MsgTx, coins []coin, flags txscript.ScriptFlags) (err error) {
	defer func() {
		// The engine is not expected to panic; should it on a hostile input, refuse the transaction.
		if r := recover(); r != nil {
			err = fmt.Errorf("%w: script engine panic: %v", ErrScriptFailed, r)
		}
	}()
	prevOuts := make(map[wire.OutPoint]*wire.TxOut, len(tx.TxIn))
	for i, in := range tx.TxIn {
		out := coins[i].out
		prevOuts[in.PreviousOutPoint] = &out
	}
	fetcher := txscript.NewMultiPrevOutFetcher(prevOuts)
	sigHashes := txscript.NewTxSigHashes(tx, fetcher)
	for i, in := range tx.TxIn {
		prev := prevOuts[in.PreviousOutPoint]
		vm, err := txscript.NewEngine(prev.PkScript, tx, i, flags, nil, sigHashes, prev.Value, fetcher)
		if err != nil {
			return fmt.Errorf("%w: input %d (%v): %v", ErrScriptFailed, i, in.PreviousOutPoint, err)
		}
		if err := vm.Execute(); err != nil {
			return fmt.Errorf("%w: input %d (%v): %v", ErrScriptFailed, i, in.PreviousOutPoint, err)
		}
	}
	return nil
}
