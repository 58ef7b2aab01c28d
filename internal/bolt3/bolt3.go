// Package bolt3 builds the scripts and transactions of BOLT 3 ("Bitcoin
// Transaction and Script Formats"): the funding output, commitment
// transactions, HTLC-timeout and HTLC-success transactions, closing
// transactions, and the witnesses that spend their outputs.
//
// Every function is pure: it derives no keys (package keys does that), signs
// nothing, reads no clock and keeps no state, so all of it is safe for
// concurrent use. Keys are given as *btcec.PublicKey, transactions are
// *wire.MsgTx, amounts carry their unit in their name (Sat or Msat).
//
// Signatures passed to the witness builders are DER encoded with the sighash
// byte appended, as they appear on the witness stack.
package bolt3

import (
	"errors"
	"fmt"
)

// ChannelType selects the commitment format (BOLT 3 and BOLT 9 feature bits). The values are
// persisted (channel state, monitors): never renumber them.
type ChannelType uint8

const (
	// ChannelTypeStaticRemoteKey is option_static_remotekey: to_remote is a
	// P2WPKH output, there are no anchors, HTLC transactions pay their own fee
	// and are signed with SIGHASH_ALL. The transaction format is the one of
	// BOLT 3 Appendix C (static_remotekey changes only how the caller derives
	// the to_remote key).
	ChannelTypeStaticRemoteKey ChannelType = 0
	// ChannelTypeAnchors is option_anchors_zero_fee_htlc_tx (with
	// option_static_remotekey): two 330-sat anchor outputs, to_remote and
	// HTLC outputs locked by a 1-block CSV, zero-fee HTLC transactions whose
	// counterparty signature is SIGHASH_SINGLE|SIGHASH_ANYONECANPAY
	// (BOLT 3 Appendix F).
	ChannelTypeAnchors ChannelType = 1
)

// HasAnchors reports whether commitments of this type carry anchor outputs
// (option_anchors).
func (t ChannelType) HasAnchors() bool { return t == ChannelTypeAnchors }

// String returns the BOLT 9 name of the channel type.
func (t ChannelType) String() string {
	switch t {
	case ChannelTypeStaticRemoteKey:
		return "static_remotekey"
	case ChannelTypeAnchors:
		return "anchors_zero_fee_htlc_tx"
	default:
		return fmt.Sprintf("ChannelType(%d)", uint8(t))
	}
}

func (t ChannelType) valid() bool {
	return t == ChannelTypeStaticRemoteKey || t == ChannelTypeAnchors
}

// Expected weights and fixed amounts (BOLT 3, "Fee Calculation" and
// "Appendix A: Expected Weights"). Weights are in weight units.
const (
	// CommitmentWeight is the expected weight of a commitment transaction
	// without anchors and without HTLC outputs.
	CommitmentWeight = 724
	// CommitmentWeightAnchors is the expected weight of an option_anchors
	// commitment transaction without HTLC outputs.
	CommitmentWeightAnchors = 1124
	// HTLCOutputWeight is the weight added per untrimmed HTLC output.
	HTLCOutputWeight = 172
	// HTLCTimeoutWeight is the expected weight of an HTLC-timeout transaction.
	HTLCTimeoutWeight = 663
	// HTLCSuccessWeight is the expected weight of an HTLC-success transaction.
	HTLCSuccessWeight = 703
	// HTLCTimeoutWeightAnchors is the expected weight of an option_anchors
	// HTLC-timeout transaction (its fee is zero with zero-fee HTLC
	// transactions; the weight is what a fee bumper must pay for).
	HTLCTimeoutWeightAnchors = 666
	// HTLCSuccessWeightAnchors is the expected weight of an option_anchors
	// HTLC-success transaction.
	HTLCSuccessWeightAnchors = 706
	// AnchorOutputValueSat is the value of each anchor output, in satoshis.
	AnchorOutputValueSat = 330
	// AnchorCSVDelay is the relative delay, in blocks, after which anyone can
	// sweep an anchor output.
	AnchorCSVDelay = 16
	// MaxCommitmentNumber is the largest commitment number (48 bits).
	MaxCommitmentNumber = 1<<48 - 1
	// MaxHTLCs is the most HTLCs a commitment may carry: max_accepted_htlcs
	// is at most 483 in each direction (BOLT 2).
	MaxHTLCs = 2 * 483
	// MaxMsat is the largest total amount accepted, in millisatoshis
	// (21 million bitcoin). It keeps every internal sum far from overflow.
	MaxMsat = 21_000_000 * 100_000_000 * 1000
)

// Errors. Every error returned by this package wraps one of these, so callers
// can test with errors.Is.
var (
	// ErrFunderCannotPayFee: the funder's balance cannot cover the commitment
	// base fee plus (with anchors) the two anchor outputs.
	ErrFunderCannotPayFee = errors.New("bolt3: funder cannot pay the commitment fee and anchors")
	// ErrInvalidParams: a parameter is out of range (nil params, negative
	// dust limit, commitment number or obscuring factor above 48 bits, ...).
	ErrInvalidParams = errors.New("bolt3: invalid parameters")
	// ErrUnknownChannelType: the ChannelType is not one this package builds.
	ErrUnknownChannelType = errors.New("bolt3: unknown channel type")
	// ErrMissingKey: a public key needed for a script is nil.
	ErrMissingKey = errors.New("bolt3: missing public key")
	// ErrTooManyHTLCs: more than MaxHTLCs HTLCs were given.
	ErrTooManyHTLCs = errors.New("bolt3: too many HTLCs")
	// ErrAmountTooLarge: the amounts add up to more than MaxMsat.
	ErrAmountTooLarge = errors.New("bolt3: amount too large")
	// ErrBalanceMismatch: the balances and HTLCs do not add up to the
	// funding amount given in CommitmentParams.FundingAmountSat.
	ErrBalanceMismatch = errors.New("bolt3: balances do not add up to the funding amount")
	// ErrWrongHTLCDirection: an HTLC-timeout transaction was asked for a
	// received HTLC, or an HTLC-success transaction for an offered one.
	ErrWrongHTLCDirection = errors.New("bolt3: wrong HTLC direction for this transaction")
	// ErrHTLCAmountBelowFee: the HTLC output cannot pay the HTLC transaction
	// fee (the HTLC should have been trimmed).
	ErrHTLCAmountBelowFee = errors.New("bolt3: HTLC amount below the HTLC transaction fee")
	// ErrInvalidInputIndex: the input index is outside the transaction.
	ErrInvalidInputIndex = errors.New("bolt3: input index out of range")
	// ErrNotCommitment: the locktime and sequence do not carry the
	// commitment-number markers (0x20 and 0x80 in their top byte).
	ErrNotCommitment = errors.New("bolt3: not a commitment transaction")
)
