// Package policy is a validating signer: it wraps any signer (keys.KeysManager, or anything with
// keys.NodeSigner, keys.SignerProvider and keys.EntropySource) and refuses every request that could
// lose funds, as VLS (the Validating Lightning Signer) does, so that a compromised node cannot steal
// through its signer. Its rules follow VLS's policy tags ("policy-<tag>" there); sources are BOLT 2,
// 3 and 5 and VLS's policy documentation.
//
// A refusal is a *Violation naming its Rule; errors.Is(err, ErrPolicy) holds for every one. Errors of
// the wrapped signer come through wrapped (keys.ErrSignerPending stays errors.Is-able). The policy
// starts no goroutine, reads no clock (the host gives time with SetTime), opens no socket, and is safe
// for concurrent use: one lock per channel held for a whole request, one node lock for the payment
// ledger and persistence.
//
// # Rules
//
// Channel parameters (ProvideChannelParameters):
//   - channel-holder-keys: the holder's keys are the inner signer's.
//   - funding-output-fixed: once known, the funding outpoint and value never change; the value is the
//     one the signer was derived for.
//   - channel-parameters-fixed: nor does anything else of the parameters.
//   - funding-push-approved: as funder we push at most Config.MaxPushMsat (default 0).
//   - channel-to-self-delay: the delay we impose is within [MinToSelfDelay, MaxToSelfDelay] (6..2016
//     blocks); the one imposed on us at most MaxToSelfDelay.
//   - commitment-dust-limit: both dust limits within [MinDustLimitSat, MaxDustLimitSat] (354..2730).
//
// Commitments (SignCounterpartyCommitment, ValidateHolderCommitment):
//   - commitment-structure: the transaction is the one its description builds
//     (keys.ChannelTransactionParameters.Build).
//   - commitment-keys: its keys are derived from its point; for ours the point is ours for its number.
//   - commitment-number: a chain's first commitment is 0; then the latest again (identical, for a
//     reconnection) or the next, once the one before the latest is revoked (at most two unrevoked).
//     A counterparty commitment may also come in another version of the latest number (at most 3):
//     a node that crashed after the signature and before writing its state, so that the message never
//     left, builds it again from older state. Every version passes every rule against the commitment
//     before it and counts in the payment flows until the counterparty revokes that number.
//   - commitment-signatures: the counterparty's signatures of our commitment and of its HTLC
//     transactions verify (else we could not broadcast it after revoking the previous one).
//   - commitment-fee-range: feerate within [MinFeeratePerKw, MaxFeeratePerKw] (253..100,000 sat/kw).
//   - commitment-htlc-count: at most MaxHTLCs (483) HTLC outputs.
//   - commitment-htlc-inflight: HTLCs, both directions, total at most MaxInFlightMsat (default the
//     channel value).
//   - commitment-balance: our value (balance plus HTLCs we offered) does not drop from the chain's
//     previous commitment except by our HTLCs that left it (fulfilled); the first commitment gives us
//     our opening balance. Balances are before fee, so fees enter only through commitment-fee-range.
//   - payment-approved: an HTLC we add (outgoing, on either chain, and not already on the other) must
//     be covered, per payment hash and across all channels, by an unexpired approval (ApproveInvoice:
//     amount + max fee until the invoice expires; ApproveKeysend) together with incoming HTLCs of the
//     same hash. A channel's exposure to a hash is the largest, over its commitments that can still
//     confirm, of the outgoing HTLCs plus what that commitment's chain already paid (fulfilled HTLCs,
//     read from the counterparty's balance), so an invoice is paid once. When a step removes incoming
//     HTLCs too, a failed outgoing HTLC may be counted as paid: a retry may then be refused, never a
//     double payment allowed.
//   - htlc-routing-balance: the same check where there is no approval: a forward's outgoing HTLCs total
//     at most its incoming ones. An incoming HTLC counts only while it is on our latest commitment and
//     on every commitment of theirs that can still confirm; an outgoing one counts at its largest over
//     all commitments that can confirm.
//   - velocity: approvals (amount + max fee) within VelocityPeriodSecs of host time total at most
//     MaxVelocityMsat (0: unlimited). With AllowUnapprovedPayments, payment-approved is off: what no
//     approval or incoming HTLC covers is approved automatically and counted here.
//
// Revocation:
//   - revoke-new-commitment-signed: our secret n is released only once our commitment n+1 was
//     validated (again any number of times).
//   - revoke-not-closed: never for a commitment at or after one signed for broadcast.
//   - counterparty-revocation-valid: their secret n matches the point of their commitment n that we
//     signed; they revoke in order, only once a later one is signed.
//
// On chain:
//   - commitment-holder-not-revoked: SignHolderCommitment signs only the latest validated commitment
//     (number and txid), never a revoked one; SignHolderHTLCTx spends only an unrevoked validated one
//     with our point for it.
//   - htlc-tx-destination and htlc-tx-fee-range: the second-stage output at the input's index pays the
//     BOLT 3 second-stage script and keeps the input's value less at most the commitment's feerate ×
//     703 WU (BOLT 3 HTLC-success weight), and all of it with anchors (zero-fee HTLC transactions).
//   - sweep-destination: every output of a sweep (SignDelayedOutput, SignJustice, SignPaymentOutput,
//     SignCounterpartyHTLCTx) and of an anchor's CPFP child pays our wallet: the inner signer's
//     destination or shutdown script, or Config.Allowlist.
//   - sweep-fee-range: what a sweep takes of our inputs beyond its outputs is at most MaxFeeratePerKw
//     times its weight. The inputs of a sweep signed one by one are summed per transaction in memory
//     (a restart between two inputs of one sweep forgets the earlier ones).
//   - anchor-script: SignAnchor signs only our anchor's script (its key is the funding key).
//   - mutual-close-destination: a cooperative close pays our output to our wallet.
//   - mutual-close-value: and at least our value on the latest commitments (less the fee as funder).
//   - mutual-close-fee-range: as funder, its fee is at most MaxFeeratePerKw at its expected weight
//     (and MaxClosingFeeSat when set).
//   - channel-announcement: the funding key signs only a channel_announcement naming our node and
//     funding key, and the counterparty's funding key, never other data (a BIP 143 preimage).
//
// ECDH, SignGossipMessage, SignInvoice and GetPerCommitmentPoint pass through: they move no funds.
//
// # State
//
// Per channel (parameters; unrevoked validated holder commitments with their HTLCs and what their
// chain paid per hash; the highest secret released; the first commitment signed for broadcast;
// unrevoked counterparty commitments we signed, likewise; their revocations) and per node (approvals;
// the velocity window; the last host time) are persisted in the kvstore given to New, under
// "policy/channels/<keys id hex>" and "policy/node/state", as a version byte and a TLV stream, before
// any signature or secret that depends on them is returned. New loads them, so a restart refuses what
// was refused. What a peer or the node can make it store is bounded: two commitments per chain
// (revoked ones are pruned), MaxApprovals approvals, ledger entries dropped once expired and settled.
//
// The policy must be in place from a channel's opening: it learns balances from commitment 0.
package policy
