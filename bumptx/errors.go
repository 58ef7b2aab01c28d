package bumptx

import "errors"

// Errors. Every error returned by this package wraps one of these (and, where another package's error
// caused it, that error too), so callers test them with errors.Is.
var (
	// ErrInsufficientFunds: the wallet's confirmed UTXOs, less those locked to other claims, cannot pay
	// the outputs and the fee at the target feerate. The Wallet returns it; a host's own
	// CoinSelectionSource should wrap it too. Nothing was broadcast.
	ErrInsufficientFunds = errors.New("bumptx: insufficient funds")

	// ErrFeeCapExceeded: no transaction fits the event's MaxFeeSat: the cap leaves a feerate below
	// chaininterface.FeeratePerKwFloor, or (BumpChannelClose) not above the commitment's own feerate, or
	// a replacement of the claim's earlier transaction would need to pay more than the cap. Nothing was
	// broadcast.
	ErrFeeCapExceeded = errors.New("bumptx: fee cap exceeded")

	// ErrInvalidRequest: an event, descriptor or coin-selection argument is malformed (nil
	// transaction, anchor not an output of the commitment, HTLC-success without a preimage, HTLC-timeout
	// expiring after the lock time, duplicate inputs, negative amounts, ...). Nothing was broadcast.
	ErrInvalidRequest = errors.New("bumptx: invalid request")

	// ErrCoinSelection: the CoinSelectionSource returned a selection that cannot be used (a UTXO twice,
	// a UTXO that is one of the required inputs, a dust or negative change output, a total below the
	// outputs), or repeated selections did not reach the required fee. Nothing was broadcast.
	ErrCoinSelection = errors.New("bumptx: unusable coin selection")

	// ErrSigning: a channel signer or the wallet failed to sign, or the wallet's SignTx changed the
	// transaction it was given (anything but scriptSigs and witnesses). Nothing was broadcast.
	ErrSigning = errors.New("bumptx: signing failed")

	// ErrNilArgument: a constructor was given a nil dependency.
	ErrNilArgument = errors.New("bumptx: nil argument")
)
