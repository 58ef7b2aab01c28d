package testchain

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// Refusal reasons. Every error returned by SubmitTransaction, SubmitPackage, CheckTransaction,
// MineBlockWith and ConnectBlock, and every Rejection.Err, wraps exactly one of these sentinels
// (ErrReplacementRefused itself wraps ErrDoubleSpend, so errors.Is finds both; ConnectBlock's errors
// wrap ErrBadBlock and, when a transaction is at fault, that transaction's sentinel too), so callers
// test them with errors.Is. The messages carry the input index and outpoint, or the rule, at fault.
var (
	// ErrMalformed: the transaction breaks a context-free consensus rule (no inputs or outputs, an
	// output value below zero or above 21e6 BTC, duplicate inputs, a null prevout) or is nil.
	ErrMalformed = errors.New("testchain: malformed transaction")

	// ErrScriptFailed: an input's script did not verify (txscript engine, StandardVerifyFlags for
	// the mempool and MineBlockWith, consensus flags for ConnectBlock).
	ErrScriptFailed = errors.New("testchain: script verification failed")

	// ErrMissingInput: an input spends an outpoint that is neither an unspent chain output nor an
	// output of a mempool transaction (or, in a block, of an earlier transaction of that block).
	ErrMissingInput = errors.New("testchain: missing input")

	// ErrDoubleSpend: an input spends an outpoint already spent on the chain, by an earlier
	// transaction of the same block or package, or by a mempool transaction that it may not replace
	// (in that last case the error wraps ErrReplacementRefused too, which says which rule failed).
	ErrDoubleSpend = errors.New("testchain: input already spent")

	// ErrReplacementRefused: the transaction (or package) conflicts with mempool transactions and
	// does not meet the replace-by-fee rules (see SubmitTransaction). It wraps ErrDoubleSpend.
	ErrReplacementRefused = fmt.Errorf("%w: replacement refused", ErrDoubleSpend)

	// ErrFeeTooLow: the transaction's own feerate, or a package's, is below the minimum relay
	// feerate (see SetMinRelayFeeratePerKw).
	ErrFeeTooLow = errors.New("testchain: fee below the minimum relay feerate")

	// ErrImmatureCoinbase: an input spends a coinbase output with fewer than CoinbaseMaturity (100)
	// confirmations at the height of the block that would include the spend.
	ErrImmatureCoinbase = errors.New("testchain: immature coinbase spend")

	// ErrLockTimeNotFinal: nLockTime is not yet final for the next block (BIP 65/113): a height lock
	// must be below the next block's height, a time lock below the tip's median time past, unless
	// every input's nSequence is 0xffffffff.
	ErrLockTimeNotFinal = errors.New("testchain: locktime not final")

	// ErrSequenceLockNotMet: a BIP 68 relative lock (nSequence of a version ≥ 2 transaction) is not
	// yet satisfied for the next block.
	ErrSequenceLockNotMet = errors.New("testchain: sequence lock not met")

	// ErrValueOut: the outputs are worth more than the inputs.
	ErrValueOut = errors.New("testchain: outputs exceed inputs")

	// ErrDust: an output's value is below its dust threshold (Bitcoin Core's GetDustThreshold at a
	// dust relay feerate of 3000 sat/kvB: 294 sat for P2WPKH, 330 for P2WSH and P2TR, 540 for P2SH,
	// 546 for P2PKH, 0 for OP_RETURN).
	ErrDust = errors.New("testchain: dust output")

	// ErrNonStandard: the transaction breaks a relay policy rule: version outside 1..3, an output
	// script that is not P2WPKH, P2WSH, P2TR, P2PKH, P2SH or OP_RETURN (≤ 80 data bytes), a
	// signature script that is not push-only or exceeds 1650 bytes, a stripped size under 65 bytes,
	// a coinbase submitted as a loose transaction, or a package whose child does not spend its parent.
	ErrNonStandard = errors.New("testchain: non-standard transaction")

	// ErrTxTooHeavy: the transaction's weight exceeds 400000 weight units (standard maximum).
	ErrTxTooHeavy = errors.New("testchain: transaction weight above 400000")

	// ErrBadBlock: ConnectBlock refused a block (wrong parent, bad merkle root or witness
	// commitment, missing or extra coinbase, coinbase paying too much, timestamp not above the
	// median time past, or an invalid transaction).
	ErrBadBlock = errors.New("testchain: invalid block")

	// ErrInsufficientFunds: Wallet.FundTransaction could not cover the outputs and the fee with the
	// wallet's spendable outputs.
	ErrInsufficientFunds = errors.New("testchain: insufficient funds")
)

// Rejection records a transaction that BroadcastTransactions refused.
type Rejection struct {
	// Txid is the refused transaction's id.
	Txid chainhash.Hash
	// Tx is a copy of the refused transaction.
	Tx *wire.MsgTx
	// Err is the reason; it wraps one of the package's sentinel errors.
	Err error
}
