package remote

import "fmt"

// Method identifies a request: one signer method. The values are part of the protocol and never change;
// new methods get new values.
type Method uint16

// The methods. NodeSigner, SignerProvider and EntropySource methods are below 32, ChannelSigner methods
// from 48, payment approvals from 80, the on-chain wallet's methods (WalletInner) from 96.
const (
	MethodECDH                                  Method = 1
	MethodGetNodeID                             Method = 2
	MethodSignGossipMessage                     Method = 3
	MethodSignInvoice                           Method = 4
	MethodGenerateChannelKeysID                 Method = 16
	MethodDeriveChannelSigner                   Method = 17
	MethodGetDestinationScript                  Method = 18
	MethodGetShutdownScriptPubKey               Method = 19
	MethodGetSecureRandomBytes                  Method = 20
	MethodGetPerCommitmentPoint                 Method = 48
	MethodReleaseCommitmentSecret               Method = 49
	MethodProvideChannelParameters              Method = 50
	MethodSignCounterpartyCommitment            Method = 51
	MethodValidateHolderCommitment              Method = 52
	MethodValidateCounterpartyRevocation        Method = 53
	MethodSignHolderCommitment                  Method = 54
	MethodSignClosingTransaction                Method = 55
	MethodSignCounterpartyHTLCTx                Method = 56
	MethodSignHolderHTLCTx                      Method = 57
	MethodSignDelayedOutput                     Method = 58
	MethodSignJustice                           Method = 59
	MethodSignPaymentOutput                     Method = 60
	MethodSignAnchor                            Method = 61
	MethodSignChannelAnnouncementWithFundingKey Method = 62
	MethodApproveInvoice                        Method = 80
	MethodApproveKeysend                        Method = 81
	MethodAccountPubKey                         Method = 96
	MethodSignWalletInputs                      Method = 97
)

// scope says what a request header carries after the method.
type scope uint8

const (
	scopeNode    scope = iota // nothing
	scopeKeysID               // the 32-byte channel keys id
	scopeChannel              // the keys id and the channel value in satoshis (u64)
)

// class says how the Client waits for an answer.
type class uint8

const (
	// classAsync: the first call queues the request and returns keys.ErrSignerPending; the answer is
	// kept for the same call made again.
	classAsync class = iota
	// classSync: the caller waits until the answer arrives or the link goes down.
	classSync
	// classPersistent: the caller waits until the answer arrives, across reconnections (methods whose
	// Go signature has no error to report a failure with).
	classPersistent
)

// methodInfo describes one method: its name, header scope, request and response fields, and class.
type methodInfo struct {
	name  string
	scope scope
	req   field
	resp  field
	class class
}

// sign* request field sets.
const (
	fSpend     = fTx | fInputIndex | fScript | fValue
	fHTLCSpend = fSpend | fPoint | fSigHashType
)

var methods = map[Method]methodInfo{
	MethodECDH:                                  {"ECDH", scopeNode, fPoint, rSecret, classSync},
	MethodGetNodeID:                             {"GetNodeID", scopeNode, 0, rPubkey, classPersistent},
	MethodSignGossipMessage:                     {"SignGossipMessage", scopeNode, fData, rSig, classSync},
	MethodSignInvoice:                           {"SignInvoice", scopeNode, fText | fData, rData, classSync},
	MethodGenerateChannelKeysID:                 {"GenerateChannelKeysID", scopeNode, fInbound | fValue | fUserChannelID, rSecret, classPersistent},
	MethodDeriveChannelSigner:                   {"DeriveChannelSigner", scopeChannel, 0, rPubkeys | rPoints, classPersistent},
	MethodGetDestinationScript:                  {"GetDestinationScript", scopeKeysID, 0, rScript, classSync},
	MethodGetShutdownScriptPubKey:               {"GetShutdownScriptPubKey", scopeNode, 0, rScript, classSync},
	MethodGetSecureRandomBytes:                  {"GetSecureRandomBytes", scopeNode, 0, rSecret, classPersistent},
	MethodGetPerCommitmentPoint:                 {"GetPerCommitmentPoint", scopeChannel, fNumber, rPoints, classAsync},
	MethodReleaseCommitmentSecret:               {"ReleaseCommitmentSecret", scopeChannel, fNumber, rSecret | rPoints, classAsync},
	MethodProvideChannelParameters:              {"ProvideChannelParameters", scopeChannel, fParams, 0, classAsync},
	MethodSignCounterpartyCommitment:            {"SignCounterpartyCommitment", scopeChannel, fCommitment, rSig | rHTLCSigs, classAsync},
	MethodValidateHolderCommitment:              {"ValidateHolderCommitment", scopeChannel, fCommitment | fSig | fHTLCSigs, 0, classAsync},
	MethodValidateCounterpartyRevocation:        {"ValidateCounterpartyRevocation", scopeChannel, fNumber | fSecret, 0, classAsync},
	MethodSignHolderCommitment:                  {"SignHolderCommitment", scopeChannel, fNumber | fTx, rSig, classAsync},
	MethodSignClosingTransaction:                {"SignClosingTransaction", scopeChannel, fClosing, rSig, classAsync},
	MethodSignCounterpartyHTLCTx:                {"SignCounterpartyHTLCTx", scopeChannel, fHTLCSpend, rSig, classAsync},
	MethodSignHolderHTLCTx:                      {"SignHolderHTLCTx", scopeChannel, fHTLCSpend, rSig, classAsync},
	MethodSignDelayedOutput:                     {"SignDelayedOutput", scopeChannel, fSpend | fPoint, rSig, classAsync},
	MethodSignJustice:                           {"SignJustice", scopeChannel, fSpend | fSecret, rSig, classAsync},
	MethodSignPaymentOutput:                     {"SignPaymentOutput", scopeChannel, fSpend, rSig, classAsync},
	MethodSignAnchor:                            {"SignAnchor", scopeChannel, fSpend, rSig, classAsync},
	MethodSignChannelAnnouncementWithFundingKey: {"SignChannelAnnouncementWithFundingKey", scopeChannel, fData, rSig, classAsync},
	MethodApproveInvoice:                        {"ApproveInvoice", scopeNode, fText | fMaxFee | fClientSig, 0, classSync},
	MethodApproveKeysend:                        {"ApproveKeysend", scopeNode, fPoint | fHash | fAmount | fMaxFee | fClientSig, 0, classSync},
	MethodAccountPubKey:                         {"AccountPubKey", scopeNode, fNetwork, rAccountKey, classSync},
	MethodSignWalletInputs:                      {"SignWalletInputs", scopeNode, fNetwork | fTx | fPrevOuts | fPaths, rWitnesses, classSync},
}

// String returns the method's name, or "Method(n)" for an unknown value.
func (m Method) String() string {
	if info, ok := methods[m]; ok {
		return info.name
	}
	return fmt.Sprintf("Method(%d)", uint16(m))
}

// Known reports whether m is a method this version of the protocol defines.
func (m Method) Known() bool {
	_, ok := methods[m]
	return ok
}

// Methods returns every defined method in increasing order.
func Methods() []Method {
	out := make([]Method, 0, len(methods))
	for m := Method(0); m < 256; m++ {
		if m.Known() {
			out = append(out, m)
		}
	}
	return out
}
