package policy

import (
	"errors"
	"fmt"
)

// ErrPolicy is what every refusal is (errors.Is): the request could lose funds, so the policy signer
// answers it with no signature and no secret. The concrete error is a *Violation naming the rule.
var ErrPolicy = errors.New("policy: request refused")

// ErrCorruptState is returned by New when the persisted policy state does not decode (wrong version,
// malformed TLV, an unknown even field): the policy must not start having forgotten what it promised.
var ErrCorruptState = errors.New("policy: corrupt persisted state")

// Rule names one policy rule by its tag, in the style of VLS's policy tags (VLS names them
// "policy-<tag>"). The package doc lists every rule with what it refuses.
type Rule string

// The rules. Values are persisted nowhere; they appear in error messages and tests.
const (
	RuleHolderNotRevoked       Rule = "commitment-holder-not-revoked"
	RuleRevokeNewCommitment    Rule = "revoke-new-commitment-signed"
	RuleRevokeNotClosed        Rule = "revoke-not-closed"
	RuleChannelParametersFixed Rule = "channel-parameters-fixed"
	RuleChannelHolderKeys      Rule = "channel-holder-keys"
	RuleFundingOutputFixed     Rule = "funding-output-fixed"
	RuleFundingPush            Rule = "funding-push-approved"
	RuleToSelfDelay            Rule = "channel-to-self-delay"
	RuleDustLimit              Rule = "commitment-dust-limit"
	RuleCommitmentStructure    Rule = "commitment-structure"
	RuleCommitmentKeys         Rule = "commitment-keys"
	RuleCommitmentNumber       Rule = "commitment-number"
	RuleCommitmentSignatures   Rule = "commitment-signatures"
	RuleHTLCCount              Rule = "commitment-htlc-count"
	RuleHTLCInflight           Rule = "commitment-htlc-inflight"
	RuleCommitmentFee          Rule = "commitment-fee-range"
	RuleHTLCTxFee              Rule = "htlc-tx-fee-range"
	RuleMutualCloseFee         Rule = "mutual-close-fee-range"
	RuleSweepFee               Rule = "sweep-fee-range"
	RuleMutualCloseDestination Rule = "mutual-close-destination"
	RuleMutualCloseValue       Rule = "mutual-close-value"
	RuleSweepDestination       Rule = "sweep-destination"
	RuleHTLCTxDestination      Rule = "htlc-tx-destination"
	RuleAnchorScript           Rule = "anchor-script"
	RuleChannelAnnouncement    Rule = "channel-announcement"
	RuleRevocationValid        Rule = "counterparty-revocation-valid"
	RulePaymentApproved        Rule = "payment-approved"
	RuleRoutingBalance         Rule = "htlc-routing-balance"
	RuleCommitmentBalance      Rule = "commitment-balance"
	RuleVelocity               Rule = "velocity"
)

// Violation is a refusal: the rule broken and what broke it. errors.Is(v, ErrPolicy) is true.
type Violation struct {
	Rule   Rule
	Detail string
}

// Error names the rule first, e.g. "policy: commitment-holder-not-revoked: commitment 3 is revoked".
func (v *Violation) Error() string { return "policy: " + string(v.Rule) + ": " + v.Detail }

// Is makes every Violation match ErrPolicy.
func (v *Violation) Is(target error) bool { return target == ErrPolicy }

// violation returns a *Violation of rule r with a formatted detail.
func violation(r Rule, format string, args ...any) error {
	return &Violation{Rule: r, Detail: fmt.Sprintf(format, args...)}
}

// innerErr wraps an error of the wrapped signer so that its sentinel (keys.ErrSignerPending,
// keys.ErrCommitmentMismatch, ...) stays errors.Is-able.
func innerErr(what string, err error) error {
	return fmt.Errorf("policy: inner signer: %s: %w", what, err)
}
