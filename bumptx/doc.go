// Package bumptx answers the anchor-channel fee-bumping requests of a ChainMonitor
// (events.BumpChannelClose and events.BumpHTLCResolution) from the host's on-chain wallet, as LDK's
// events::bump_transaction module does:
//
//   - BumpChannelClose: our commitment transaction carries a fixed, often low, feerate. The handler
//     broadcasts it together with a child (CPFP) that spends our anchor output and wallet inputs and
//     returns change to the wallet, so that the package (commitment plus child) pays the target feerate.
//   - BumpHTLCResolution: on option_anchors_zero_fee_htlc_tx channels the counterparty signed our
//     second-stage HTLC transactions with SIGHASH_SINGLE|SIGHASH_ANYONECANPAY and zero fee. The handler
//     aggregates the HTLC inputs (input i paired with its second-stage output at output i), adds wallet
//     inputs and change, signs our half of each HTLC input with SIGHASH_ALL and broadcasts.
//
// The pieces, named after LDK's:
//
//   - WalletSource: what the host's wallet provides (confirmed UTXOs, a change script, signing).
//   - CoinSelectionSource: coin selection plus signing; a host with its own coin selection implements
//     it directly.
//   - Wallet: the default CoinSelectionSource over a WalletSource. It locks the UTXOs it selects to the
//     claim (events.ClaimID) they were selected for, so that a repeated event for the same claim spends
//     them again (its transaction replaces the earlier one, BIP 125) and other claims leave them alone.
//   - BumpTransactionEventHandler: turns one event into signed transactions and broadcasts them.
//
// Units: amounts are satoshis (int64, names ending in Sat), feerates are satoshis per 1000 weight units
// (uint32, names ending in PerKw), weights are weight units (WU, int64; BIP 141: 4 per non-witness byte,
// 1 per witness byte). Fees are rounded up: the fee for weight w at feerate r is ceil(r*w/1000).
//
// Fee rules every transaction built here meets (checked on its estimated weight, which is never below
// the real one):
//
//   - The fee (for a CPFP child: commitment fee + child fee over commitment weight + child weight) is
//     at least the target feerate times the weight, unless the event's MaxFeeSat caps it (see
//     BumpTransactionEventHandler for the cap).
//   - A repeat for a claim whose earlier transaction the handler broadcast either rebuilds exactly that
//     transaction (same target, same wallet: it is re-broadcast) or replaces it under Bitcoin Core's
//     replacement rules: it spends the same wallet UTXOs (and the same anchor or HTLC outputs), pays a
//     higher feerate, and pays at least the earlier fee plus IncrementalRelayFeeratePerKw times its own
//     weight.
//
// Like the rest of lnkit the package does no I/O of its own: it starts no goroutine, reads no clock and
// opens no socket; it calls the host's BroadcasterInterface, WalletSource or CoinSelectionSource, and
// keys.SignerProvider. Every exported type is safe for concurrent use. State (UTXO locks, the last
// transaction per claim) is kept in memory only: after a restart the first event of a claim is handled
// as new. Its transaction still conflicts with the earlier one, through the anchor or HTLC outputs both
// spend, but is not held to the replacement rules against it: mempools may refuse it until the
// monitor's rising target lifts it past the earlier transaction's fee.
package bumptx
