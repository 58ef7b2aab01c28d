package policy

import (
	"github.com/btcsuite/btcd/btcec/v2"
)

// Defaults of Config, applied to every zero field.
const (
	// DefaultMinToSelfDelay is the smallest to_self_delay, in blocks, we impose on the counterparty: the
	// time we have to punish a revoked commitment (VLS's minimum is of the same order; BOLT 2 leaves it
	// to the node).
	DefaultMinToSelfDelay = 6
	// DefaultMaxToSelfDelay is the largest to_self_delay, in blocks, on either side: two weeks, LDK's and
	// lnkit's TheirToSelfDelayMax.
	DefaultMaxToSelfDelay = 2016
	// DefaultMinDustLimitSat is BOLT 2's lower bound on dust_limit_satoshis (354 sat).
	DefaultMinDustLimitSat = 354
	// DefaultMaxDustLimitSat is lnkit's config.ChannelHandshakeLimits default (546 * 5 sat).
	DefaultMaxDustLimitSat = 546 * 5
	// DefaultMaxHTLCs is BOLT 2's max_accepted_htlcs bound (483): at most this many HTLC outputs on one
	// commitment, which keeps it under the standard weight.
	DefaultMaxHTLCs = 483
	// DefaultMinFeeratePerKw is the relay floor, 253 sat per 1000 weight units (BOLT 3, LDK's
	// FEERATE_FLOOR_SATS_PER_KW).
	DefaultMinFeeratePerKw = 253
	// DefaultMaxFeeratePerKw is 100,000 sat per 1000 weight units (400 sat/vB).
	DefaultMaxFeeratePerKw = 100_000
	// DefaultVelocityPeriodSecs is one day.
	DefaultVelocityPeriodSecs = 86_400
	// DefaultApprovalTTLSecs is how long a keysend (or automatic) approval stays usable: one day.
	DefaultApprovalTTLSecs = 86_400
	// DefaultMaxApprovals bounds the payment ledger (approved payments still usable or in flight).
	DefaultMaxApprovals = 1024
)

// Config sets the policy's limits. The zero value is the defaults above, with no client key (so no
// payment can be approved: only routed HTLCs pass until ClientKey is set or AllowUnapprovedPayments),
// no allowlist and no velocity limit.
type Config struct {
	// ClientKey is the key of the user's client (a phone, a hardware token) whose signature approves
	// payments (ApproveInvoice, ApproveKeysend). Nil: no approval is accepted.
	ClientKey *btcec.PublicKey
	// AllowUnapprovedPayments turns rule payment-approved off: an outgoing HTLC that no approval or
	// incoming HTLC covers is approved automatically for its uncovered amount, and that amount counts
	// against the velocity limit (MaxVelocityMsat), which then is the only bound on spending. Routing
	// (htlc-routing-balance) and every other rule still apply. Default false.
	AllowUnapprovedPayments bool
	// MinToSelfDelay and MaxToSelfDelay, in blocks, bound the to_self_delay we impose on the
	// counterparty; MaxToSelfDelay also bounds the one imposed on us. Defaults 6 and 2016.
	MinToSelfDelay, MaxToSelfDelay uint16
	// MinDustLimitSat and MaxDustLimitSat bound both sides' dust_limit_satoshis. Defaults 354 and 2730.
	MinDustLimitSat, MaxDustLimitSat int64
	// MaxHTLCs is the most untrimmed HTLC outputs one commitment may have. Default 483.
	MaxHTLCs int
	// MaxInFlightMsat bounds the sum of a commitment's HTLCs, both directions, in millisatoshis.
	// Default 0: the channel value.
	MaxInFlightMsat uint64
	// MinFeeratePerKw and MaxFeeratePerKw bound commitment feerates, and MaxFeeratePerKw every fee the
	// signer lets be paid from our funds (HTLC transactions, sweeps, closing), in sat per 1000 weight
	// units. Defaults 253 and 100,000.
	MinFeeratePerKw, MaxFeeratePerKw uint32
	// MaxClosingFeeSat, when positive, also caps the fee of a cooperative close we pay. Default 0: only
	// the feerate bound.
	MaxClosingFeeSat int64
	// MaxPushMsat is the most we give away at open as funder (push_msat). Default 0.
	MaxPushMsat uint64
	// Allowlist holds scriptPubKeys, besides the inner signer's destination and shutdown scripts, that
	// our closing and sweep outputs may pay (the host wallet's addresses, a cold wallet).
	Allowlist [][]byte
	// VelocityPeriodSecs and MaxVelocityMsat: the value newly approved for outgoing payments (amount plus
	// maximum fee, in millisatoshis) within any VelocityPeriodSecs seconds of host time is at most
	// MaxVelocityMsat. MaxVelocityMsat 0: unlimited. Default period one day.
	VelocityPeriodSecs uint64
	MaxVelocityMsat    uint64
	// ApprovalTTLSecs is the lifetime, in seconds of host time, of a keysend or automatic approval (an
	// invoice's approval lives until the invoice expires). Default one day.
	ApprovalTTLSecs uint64
	// MaxApprovals bounds the number of payment hashes the ledger holds. Default 1024.
	MaxApprovals int
}

// withDefaults returns c with every zero field set to its default.
func (c Config) withDefaults() Config {
	if c.MinToSelfDelay == 0 {
		c.MinToSelfDelay = DefaultMinToSelfDelay
	}
	if c.MaxToSelfDelay == 0 {
		c.MaxToSelfDelay = DefaultMaxToSelfDelay
	}
	if c.MinDustLimitSat == 0 {
		c.MinDustLimitSat = DefaultMinDustLimitSat
	}
	if c.MaxDustLimitSat == 0 {
		c.MaxDustLimitSat = DefaultMaxDustLimitSat
	}
	if c.MaxHTLCs == 0 {
		c.MaxHTLCs = DefaultMaxHTLCs
	}
	if c.MinFeeratePerKw == 0 {
		c.MinFeeratePerKw = DefaultMinFeeratePerKw
	}
	if c.MaxFeeratePerKw == 0 {
		c.MaxFeeratePerKw = DefaultMaxFeeratePerKw
	}
	if c.VelocityPeriodSecs == 0 {
		c.VelocityPeriodSecs = DefaultVelocityPeriodSecs
	}
	if c.ApprovalTTLSecs == 0 {
		c.ApprovalTTLSecs = DefaultApprovalTTLSecs
	}
	if c.MaxApprovals == 0 {
		c.MaxApprovals = DefaultMaxApprovals
	}
	allow := make([][]byte, len(c.Allowlist))
	for i, s := range c.Allowlist {
		allow[i] = append([]byte(nil), s...)
	}
	c.Allowlist = allow
	return c
}
