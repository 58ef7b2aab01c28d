package remote

import (
	"errors"
	"fmt"

	"github.com/lnkit/lnkit/keys"
)

// Errors of the protocol itself. Errors the signer returns reach the client as *Error (or
// *RefusedError), which match the keys sentinel of their code with errors.Is.
var (
	// ErrMalformed: a frame could not be decoded (bad header, TLV framing, an unknown even record,
	// a missing or invalid field, a length above its bound).
	ErrMalformed = errors.New("remote: malformed frame")
	// ErrUnsupportedVersion: a frame's version is not Version.
	ErrUnsupportedVersion = errors.New("remote: unsupported protocol version")
	// ErrUnknownMethod: a frame names a method this version does not define.
	ErrUnknownMethod = errors.New("remote: unknown method")
	// ErrTooLarge: a value is above its bound (see MaxFrameSize and the other limits); nothing was sent.
	ErrTooLarge = errors.New("remote: value too large for the protocol")
	// ErrTooManyChannels: the server holds ServerConfig.MaxChannels channel signers already.
	ErrTooManyChannels = errors.New("remote: too many channel signers")
	// ErrUnexpectedResponse: a response answers no request in flight, or answers it with another
	// method. The host should drop the link.
	ErrUnexpectedResponse = errors.New("remote: response to no request in flight")
	// ErrNoWallet: the server has no wallet (ServerConfig.Wallet is nil) to answer a wallet method.
	ErrNoWallet = errors.New("remote: the signer serves no on-chain wallet")
	// ErrClosed: the client was closed.
	ErrClosed = errors.New("remote: client closed")
	// ErrRemote matches every error the signer returned (every *Error and *RefusedError).
	ErrRemote = errors.New("remote: signer error")
	// ErrRefused matches every *RefusedError.
	ErrRefused = errors.New("remote: refused by the signer's policy")
)

// ErrorCode is the error class a response carries. The values are part of the protocol.
type ErrorCode uint16

// Error codes. Codes from 16 are the keys package's sentinels.
const (
	CodeOK                 ErrorCode = 0
	CodePending            ErrorCode = 1 // keys.ErrSignerPending
	CodeRefused            ErrorCode = 2 // a policy refusal; the response carries the rule tag
	CodeMalformed          ErrorCode = 3 // ErrMalformed
	CodeUnknownMethod      ErrorCode = 4 // ErrUnknownMethod
	CodeUnsupportedVersion ErrorCode = 5 // ErrUnsupportedVersion
	CodeTooManyChannels    ErrorCode = 6 // ErrTooManyChannels
	CodeOther              ErrorCode = 7 // any other error; only its message travels
	CodeNoWallet           ErrorCode = 8 // ErrNoWallet

	CodeNilKey                     ErrorCode = 16
	CodeInvalidPublicKey           ErrorCode = 17
	CodeInvalidSecret              ErrorCode = 18
	CodeCommitmentNumberOutOfRange ErrorCode = 19
	CodeSecretMismatch             ErrorCode = 20
	CodeUnexpectedSecretIndex      ErrorCode = 21
	CodeInvalidEncoding            ErrorCode = 22
	CodeNilTransaction             ErrorCode = 23
	CodeInvalidTransaction         ErrorCode = 24
	CodeInputIndexOutOfRange       ErrorCode = 25
	CodeInvalidValue               ErrorCode = 26
	CodeInvalidScript              ErrorCode = 27
	CodeScriptKeyMismatch          ErrorCode = 28
	CodeUnsupportedSigHashType     ErrorCode = 29
	CodeNilSigHashes               ErrorCode = 30
	CodeNoChannelParameters        ErrorCode = 31
	CodeCommitmentMismatch         ErrorCode = 32
)

// sentinels maps codes to the errors they stand for, in the order the server tries them.
var sentinels = []struct {
	code ErrorCode
	err  error
}{
	{CodePending, keys.ErrSignerPending},
	{CodeMalformed, ErrMalformed},
	{CodeUnknownMethod, ErrUnknownMethod},
	{CodeUnsupportedVersion, ErrUnsupportedVersion},
	{CodeTooManyChannels, ErrTooManyChannels},
	{CodeNoWallet, ErrNoWallet},
	{CodeNilKey, keys.ErrNilKey},
	{CodeInvalidPublicKey, keys.ErrInvalidPublicKey},
	{CodeInvalidSecret, keys.ErrInvalidSecret},
	{CodeCommitmentNumberOutOfRange, keys.ErrCommitmentNumberOutOfRange},
	{CodeSecretMismatch, keys.ErrSecretMismatch},
	{CodeUnexpectedSecretIndex, keys.ErrUnexpectedSecretIndex},
	{CodeInvalidEncoding, keys.ErrInvalidEncoding},
	{CodeNilTransaction, keys.ErrNilTransaction},
	{CodeInvalidTransaction, keys.ErrInvalidTransaction},
	{CodeInputIndexOutOfRange, keys.ErrInputIndexOutOfRange},
	{CodeInvalidValue, keys.ErrInvalidValue},
	{CodeInvalidScript, keys.ErrInvalidScript},
	{CodeScriptKeyMismatch, keys.ErrScriptKeyMismatch},
	{CodeUnsupportedSigHashType, keys.ErrUnsupportedSigHashType},
	{CodeNilSigHashes, keys.ErrNilSigHashes},
	{CodeNoChannelParameters, keys.ErrNoChannelParameters},
	{CodeCommitmentMismatch, keys.ErrCommitmentMismatch},
}

// Error is an error the signer returned, as the client sees it. errors.Is matches the sentinel of its
// code (keys.ErrSignerPending, keys.ErrCommitmentMismatch, ...) and ErrRemote.
type Error struct {
	Method  Method
	Code    ErrorCode
	Message string
}

// Error implements error.
func (e *Error) Error() string {
	return fmt.Sprintf("remote signer: %s: %s (code %d)", e.Method, e.Message, uint16(e.Code))
}

// Unwrap returns the sentinel of the error's code (if it has one) and ErrRemote.
func (e *Error) Unwrap() []error {
	for _, s := range sentinels {
		if s.code == e.Code {
			return []error{s.err, ErrRemote}
		}
	}
	return []error{ErrRemote}
}

// RefusedError is a refusal by the signer's policy: Rule is the refusing rule's tag, Detail why. Match
// it with errors.As, or errors.Is(err, ErrRefused). A policy returning it (or any error implementing
// Refusal) from an Inner method makes the server send CodeRefused with the rule tag.
type RefusedError struct {
	Method Method
	Rule   string
	Detail string
}

// Error implements error.
func (e *RefusedError) Error() string {
	return fmt.Sprintf("remote signer: %s refused by rule %q: %s", e.Method, e.Rule, e.Detail)
}

// RefusalRule returns the rule tag, so that a RefusedError is a Refusal.
func (e *RefusedError) RefusalRule() string { return e.Rule }

// Unwrap returns ErrRefused and ErrRemote.
func (e *RefusedError) Unwrap() []error { return []error{ErrRefused, ErrRemote} }

// Refusal is implemented by errors that refuse a request by a named policy rule. The server finds one
// with errors.As anywhere in the chain of an Inner method's error and sends its rule tag with the
// error's message.
type Refusal interface {
	error
	RefusalRule() string
}

// Err returns nil for an answer, or the error the response carries: a *RefusedError for CodeRefused,
// else an *Error.
func (p *Response) Err() error {
	switch p.Code {
	case CodeOK:
		return nil
	case CodeRefused:
		return &RefusedError{Method: p.Method, Rule: p.Rule, Detail: p.Message}
	default:
		return &Error{Method: p.Method, Code: p.Code, Message: p.Message}
	}
}

// errorResponse builds the error response to request (id, m) for err. refusal, when not nil, is
// tried first to recognise a policy refusal.
func errorResponse(id uint64, m Method, err error, refusal func(error) (string, string, bool)) *Response {
	p := &Response{ID: id, Method: m, Code: CodeOther, Message: err.Error()}
	if errors.Is(err, keys.ErrSignerPending) {
		p.Code = CodePending
		return p
	}
	if refusal != nil {
		if rule, detail, ok := refusal(err); ok {
			p.Code, p.Rule, p.Message = CodeRefused, rule, detail
			return p
		}
	}
	var r Refusal
	if errors.As(err, &r) {
		p.Code, p.Rule = CodeRefused, r.RefusalRule()
		if re, ok := r.(*RefusedError); ok {
			p.Message = re.Detail
		}
		return p
	}
	for _, s := range sentinels {
		if errors.Is(err, s.err) {
			p.Code = s.code
			break
		}
	}
	return p
}
