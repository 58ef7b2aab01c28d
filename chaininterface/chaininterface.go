// Package chaininterface holds the types and interfaces through which lnkit talks about the Bitcoin chain:
// fee estimates, broadcasting, block delivery (Listen, Confirm) and output watching (Filter). The host
// implements FeeEstimator, BroadcasterInterface and optionally Filter; lnkit's ChannelManager and
// ChainMonitor implement Listen and Confirm, and the host calls them as blocks arrive.
//
// Heights are block heights as uint32. Feerates are in satoshis per 1000 weight units (sat/kw).
package chaininterface

import (
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// FeeratePerKwFloor is the lowest feerate, in sat per 1000 weight units, that lnkit ever uses or accepts
// from an estimator: 253 sat/kw is 1 sat/vbyte rounded up so that relay never fails (BOLT 2, `update_fee`
// and common node policy).
const FeeratePerKwFloor uint32 = 253

// ConfirmationTarget says what a fee estimate is for, so that the host can answer each purpose with a
// different confirmation target.
type ConfirmationTarget int

const (
	// MaximumFeeEstimate is the highest feerate we think a counterparty may reasonably set on a
	// non-anchor channel; used as the upper bound when checking a peer's `update_fee`.
	MaximumFeeEstimate ConfirmationTarget = iota
	// UrgentOnChainSweep is for transactions that must confirm before an HTLC times out (justice,
	// HTLC claims): about 6 blocks.
	UrgentOnChainSweep
	// MinAllowedAnchorChannelRemoteFee is the lowest feerate accepted from a peer on an anchor channel.
	MinAllowedAnchorChannelRemoteFee
	// MinAllowedNonAnchorChannelRemoteFee is the lowest feerate accepted from a peer on a non-anchor channel.
	MinAllowedNonAnchorChannelRemoteFee
	// AnchorChannelFee is the commitment feerate we set on anchor channels (can be low: CPFP via anchors).
	AnchorChannelFee
	// NonAnchorChannelFee is the commitment feerate we set on non-anchor channels (must confirm on its own).
	NonAnchorChannelFee
	// ChannelCloseMinimum is the lowest feerate for a cooperative closing transaction.
	ChannelCloseMinimum
	// OutputSpendingFee is for sweeping our own outputs to the wallet, with no deadline.
	OutputSpendingFee
)

// String returns the target's name.
func (t ConfirmationTarget) String() string {
	switch t {
	case MaximumFeeEstimate:
		return "MaximumFeeEstimate"
	case UrgentOnChainSweep:
		return "UrgentOnChainSweep"
	case MinAllowedAnchorChannelRemoteFee:
		return "MinAllowedAnchorChannelRemoteFee"
	case MinAllowedNonAnchorChannelRemoteFee:
		return "MinAllowedNonAnchorChannelRemoteFee"
	case AnchorChannelFee:
		return "AnchorChannelFee"
	case NonAnchorChannelFee:
		return "NonAnchorChannelFee"
	case ChannelCloseMinimum:
		return "ChannelCloseMinimum"
	case OutputSpendingFee:
		return "OutputSpendingFee"
	}
	return "ConfirmationTarget(?)"
}

// FeeEstimator gives feerates. Implemented by the host. It must not block for long: lnkit calls it while
// building transactions and on timer ticks.
type FeeEstimator interface {
	// EstimateFeeratePerKw returns a feerate in sat per 1000 weight units for the target. Values below
	// FeeratePerKwFloor are raised to it by the caller (see ClampFeerate).
	EstimateFeeratePerKw(target ConfirmationTarget) uint32
}

// ClampFeerate returns the estimator's answer for target, raised to FeeratePerKwFloor if lower.
func ClampFeerate(est FeeEstimator, target ConfirmationTarget) uint32 {
	f := est.EstimateFeeratePerKw(target)
	if f < FeeratePerKwFloor {
		return FeeratePerKwFloor
	}
	return f
}

// BroadcasterInterface sends transactions to the Bitcoin network. Implemented by the host. Broadcasting
// the same transaction twice must be harmless; lnkit re-broadcasts what it still needs confirmed.
type BroadcasterInterface interface {
	// BroadcastTransactions hands fully signed transactions to the network. The slice may hold a parent
	// and its child (package relay); errors are the host's to log, since lnkit retries on its own schedule.
	BroadcastTransactions(txs ...*wire.MsgTx)
}

// BestBlock is the chain tip as lnkit sees it.
type BestBlock struct {
	Hash   chainhash.Hash
	Height uint32
}

// Listen receives whole blocks in chain order. Use it when the host has full blocks (a full node). The
// host must call BlockConnected for every block in order and BlockDisconnected for each block removed by
// a reorganisation, tip first.
type Listen interface {
	// BlockConnected is called with each block connected to the best chain, at the given height.
	BlockConnected(block *wire.MsgBlock, height uint32)
	// BlockDisconnected is called with the header of the tip block being removed and its height.
	BlockDisconnected(header *wire.BlockHeader, height uint32)
}

// IndexedTx is a transaction together with its position in its block.
type IndexedTx struct {
	Index int // position in the block, 0 for the coinbase
	Tx    *wire.MsgTx
}

// RelevantTx is a transaction that a Confirm implementation has seen confirmed and whose confirmation
// must be re-checked after a reorganisation.
type RelevantTx struct {
	Txid      chainhash.Hash
	Height    uint32
	BlockHash chainhash.Hash
}

// Confirm receives confirmations of relevant transactions and the best block, without needing every
// block in order. Use it with Electrum/Esplora-style chain sources; a full node host may use Listen.
type Confirm interface {
	// TransactionsConfirmed reports transactions of one block that the implementation registered
	// interest in (through Filter or GetRelevantTxids), in block order.
	TransactionsConfirmed(header *wire.BlockHeader, txdata []IndexedTx, height uint32)
	// TransactionUnconfirmed reports that a transaction previously confirmed was reorganised out.
	TransactionUnconfirmed(txid chainhash.Hash)
	// BestBlockUpdated reports the new chain tip. Timeouts are checked against this height.
	BestBlockUpdated(header *wire.BlockHeader, height uint32)
	// GetRelevantTxids returns the confirmed transactions whose confirmation should be watched for
	// reorganisations.
	GetRelevantTxids() []RelevantTx
}

// WatchedOutput is an output whose spend lnkit needs to learn about.
type WatchedOutput struct {
	BlockHash    *chainhash.Hash // block the output was confirmed in, if known
	OutPoint     wire.OutPoint
	ScriptPubKey []byte
}

// Filter tells a host that feeds filtered blocks (Confirm) which transactions and outputs matter. A host
// that delivers full blocks through Listen need not implement it.
type Filter interface {
	// RegisterTx asks the host to report the confirmation of txid, whose first output pays scriptPubKey.
	RegisterTx(txid chainhash.Hash, scriptPubKey []byte)
	// RegisterOutput asks the host to report any transaction spending the output.
	RegisterOutput(output WatchedOutput)
}
