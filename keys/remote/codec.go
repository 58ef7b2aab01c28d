package remote

import (
	"encoding/binary"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
)

// Version is the protocol version, the first byte of every frame. A reader refuses any other
// (ErrUnsupportedVersion); compatible additions are odd TLV records, which readers skip.
const Version = 1

// Frame kinds, the second byte of every frame.
const (
	kindRequest  = 1
	kindResponse = 2
)

// Bounds on what a frame may hold. A decoder refuses anything larger (ErrMalformed), an encoder
// refuses to write it (ErrTooLarge).
const (
	// MaxFrameSize is the largest frame in bytes: a commitment with MaxHTLCs HTLCs, its transaction,
	// its HTLC transactions and their signatures fit with room to spare.
	MaxFrameSize = 1 << 20
	// MaxTxLen is the largest serialized transaction in bytes.
	MaxTxLen = 400_000
	// MaxScriptLen is the largest script in bytes (the consensus limit of a script).
	MaxScriptLen = 10_000
	// MaxDataLen is the largest gossip message, channel announcement or invoice data part in bytes.
	MaxDataLen = 65_535
	// MaxTextLen is the largest invoice (human-readable part or whole BOLT 11 string) in bytes.
	MaxTextLen = 65_535
	// MaxHTLCs is the most HTLCs (and HTLC transactions or signatures) of one commitment: 483 each way.
	MaxHTLCs = 2 * 483
	// MaxPoints is the most per-commitment points one response carries.
	MaxPoints = 8
	// MaxClientSigLen is the largest client signature of a payment approval in bytes.
	MaxClientSigLen = 1024
	// MaxMessageLen and MaxRuleLen bound an error's message and a refusal's rule tag in bytes (longer
	// ones are cut when encoded).
	MaxMessageLen = 1024
	MaxRuleLen    = 256
	// MaxNetworkLen is the largest network name of a wallet method in bytes (chaincfg names are short:
	// "mainnet", "testnet3", "regtest", "signet", "simnet").
	MaxNetworkLen = 64
	// MaxAccountKeyLen is the largest serialized extended public key AccountPubKey answers, in bytes (a
	// BIP 32 key in base58 is 111).
	MaxAccountKeyLen = 256
	// MaxWalletInputs is the most inputs (previous outputs, key paths, witnesses) of one
	// SignWalletInputs: more than a standard transaction (400,000 weight units: about 1,480 signed
	// P2WPKH inputs) can spend.
	MaxWalletInputs = 2048
	// MaxWitnessItems is the most items of one input's witness (the standardness limit of a P2WSH
	// stack); each item is at most MaxScriptLen bytes.
	MaxWitnessItems = 100
)

// Request is one call to the signer. Which fields a method uses is fixed by the method (see each
// field); the others are not encoded.
type Request struct {
	// ID is chosen by the client and echoed in the response.
	ID     uint64
	Method Method
	// KeysID is the channel keys id (GetDestinationScript and every ChannelSigner method);
	// ChannelValueSat the channel value in satoshis (ChannelSigner methods), which lets the server
	// derive the signer it does not hold yet.
	KeysID          [32]byte
	ChannelValueSat int64

	// Point is ECDH's remote key, the per-commitment point of SignCounterpartyHTLCTx,
	// SignHolderHTLCTx and SignDelayedOutput, and ApproveKeysend's payee. nil is sent as 33 zero bytes.
	Point *btcec.PublicKey
	// Data is SignGossipMessage's data, SignInvoice's data5 and the channel announcement.
	Data []byte
	// Text is SignInvoice's hrp and ApproveInvoice's BOLT 11 invoice.
	Text string
	// Inbound, ValueSat (the channel value) and UserChannelID are GenerateChannelKeysID's arguments;
	// ValueSat is also the spent output's value of the Sign* spend methods.
	Inbound       bool
	ValueSat      int64
	UserChannelID [16]byte
	// CommitmentNumber is the commitment number of GetPerCommitmentPoint, ReleaseCommitmentSecret,
	// ValidateCounterpartyRevocation and SignHolderCommitment.
	CommitmentNumber uint64
	// Secret is ValidateCounterpartyRevocation's and SignJustice's counterparty secret.
	Secret [32]byte
	// Params, Commitment and Closing are the described channel, commitment and closing transaction.
	Params     *keys.ChannelTransactionParameters
	Commitment *keys.CommitmentTx
	Closing    *keys.ClosingTx
	// Sig and HTLCSigs are the counterparty's signatures given to ValidateHolderCommitment.
	Sig      *ecdsa.Signature
	HTLCSigs []*ecdsa.Signature
	// Tx, InputIndex, Script and SigHashType describe the input a Sign* method signs (with ValueSat).
	// Tx is also the transaction SignWalletInputs signs.
	Tx          *wire.MsgTx
	InputIndex  uint32
	Script      []byte
	SigHashType txscript.SigHashType
	// Hash, AmountMsat, MaxFeeMsat and ClientSig are the payment approvals' arguments.
	Hash                   [32]byte
	AmountMsat, MaxFeeMsat uint64
	ClientSig              []byte
	// Network is the wallet methods' network, by its chaincfg name (chaincfg.Params.Name).
	Network string
	// PrevOuts and Paths are SignWalletInputs' arguments besides Tx: the output each input spends,
	// and the key path of each input to sign (nil for an input the wallet does not sign). Neither may
	// hold more than MaxWalletInputs entries, nor PrevOuts a nil one.
	PrevOuts []*wire.TxOut
	Paths    []*WalletPath
}

// NumberedPoint is a per-commitment point with its commitment number.
type NumberedPoint struct {
	CommitmentNumber uint64
	Point            *btcec.PublicKey
}

// Response is the signer's answer to one Request. An error response (Code != CodeOK) carries only
// Message and, for a refusal, Rule.
type Response struct {
	ID     uint64
	Method Method
	Code   ErrorCode
	// Message is the error's text; Rule the refusing policy rule's tag (CodeRefused).
	Message, Rule string

	// Pubkey is GetNodeID's answer.
	Pubkey *btcec.PublicKey
	// Secret is ECDH's shared secret, GenerateChannelKeysID's keys id, GetSecureRandomBytes' bytes and
	// ReleaseCommitmentSecret's secret.
	Secret [32]byte
	// Sig is every Sign* method's signature; HTLCSigs SignCounterpartyCommitment's HTLC signatures.
	Sig      *ecdsa.Signature
	HTLCSigs []*ecdsa.Signature
	// Data is SignInvoice's 65-byte recoverable signature.
	Data []byte
	// Script is GetDestinationScript's and GetShutdownScriptPubKey's script.
	Script []byte
	// Pubkeys are DeriveChannelSigner's channel keys.
	Pubkeys keys.ChannelPublicKeys
	// Points are per-commitment points: DeriveChannelSigner's first ones, the requested and following
	// ones of GetPerCommitmentPoint, the following ones of ReleaseCommitmentSecret.
	Points []NumberedPoint
	// AccountKey is AccountPubKey's answer: the wallet account's extended public key, serialized
	// (hdkeychain's String).
	AccountKey string
	// Witnesses is SignWalletInputs' answer: one witness per input, nil for an input not signed.
	Witnesses []wire.TxWitness
}

// EncodeRequest returns q's frame: version (1 byte), kind 1, ID (u64), method (u16), the keys id (32
// bytes) and channel value (u64) when the method has them, and the TLV body. Errors: ErrUnknownMethod,
// ErrTooLarge, keys.ErrInvalidTransaction for a transaction with a nil input or output,
// keys.ErrNilTransaction for a nil commitment or closing transaction, keys.ErrNilKey for nil parameters.
func EncodeRequest(q *Request) ([]byte, error) {
	info, ok := methods[q.Method]
	if !ok {
		return nil, fmt.Errorf("%w: %d", ErrUnknownMethod, uint16(q.Method))
	}
	w := &writer{}
	w.u8(Version)
	w.u8(kindRequest)
	w.u64(q.ID)
	w.u16(uint16(q.Method))
	if info.scope != scopeNode {
		w.fixed(q.KeysID[:])
	}
	if info.scope == scopeChannel {
		w.u64(uint64(q.ChannelValueSat))
	}
	err := info.req.each(func(f field) error {
		v, err := encodeReqField(f, q)
		if err != nil {
			return err
		}
		w.b = appendRecord(w.b, f.tlvType(), v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(w.b) > MaxFrameSize {
		return nil, fmt.Errorf("%w: frame of %d bytes", ErrTooLarge, len(w.b))
	}
	return w.b, nil
}

// DecodeRequest decodes a request frame. Errors (wrapped): ErrUnsupportedVersion, ErrUnknownMethod,
// ErrMalformed (bad header, TLV framing, unknown even record, missing or invalid field, trailing bytes).
func DecodeRequest(frame []byte) (*Request, error) {
	id, m, rest, err := header(frame, kindRequest)
	if err != nil {
		return nil, err
	}
	info := methods[m]
	q := &Request{ID: id, Method: m}
	r := &reader{b: rest}
	if info.scope != scopeNode {
		q.KeysID = r.fixed32()
	}
	if info.scope == scopeChannel {
		q.ChannelValueSat = int64(r.u64())
	}
	if r.err != nil {
		return nil, r.err
	}
	err = decodeBody(r.b, info.req, info.req, func(f field, v []byte) error { return decodeReqField(f, q, v) })
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m, err)
	}
	return q, nil
}

// EncodeResponse returns p's frame: version, kind 2, ID (u64), method (u16), code (u16), TLV body. An
// error response may name a method this version does not know (the answer to a request for it).
// Errors: ErrUnknownMethod for an answer to an unknown method, ErrTooLarge.
func EncodeResponse(p *Response) ([]byte, error) {
	info, ok := methods[p.Method]
	if !ok && p.Code == CodeOK {
		return nil, fmt.Errorf("%w: %d", ErrUnknownMethod, uint16(p.Method))
	}
	w := &writer{}
	w.u8(Version)
	w.u8(kindResponse)
	w.u64(p.ID)
	w.u16(uint16(p.Method))
	w.u16(uint16(p.Code))
	fields := info.resp
	if p.Code != CodeOK {
		fields = rMessage
		if p.Code == CodeRefused {
			fields |= rRule
		}
	}
	err := fields.each(func(f field) error {
		v, err := encodeRespField(f, p)
		if err != nil {
			return err
		}
		w.b = appendRecord(w.b, f.tlvType(), v)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(w.b) > MaxFrameSize {
		return nil, fmt.Errorf("%w: frame of %d bytes", ErrTooLarge, len(w.b))
	}
	return w.b, nil
}

// DecodeResponse decodes a response frame. An error response decodes without error; its Code says
// what failed (Response.Err turns it into an error). Errors: as DecodeRequest.
func DecodeResponse(frame []byte) (*Response, error) {
	id, m, rest, err := header(frame, kindResponse)
	if err != nil {
		return nil, err
	}
	r := &reader{b: rest}
	p := &Response{ID: id, Method: m, Code: ErrorCode(r.u16())}
	if r.err != nil {
		return nil, r.err
	}
	required, allowed := methods[m].resp, methods[m].resp
	if p.Code != CodeOK {
		required, allowed = 0, rMessage|rRule
	}
	err = decodeBody(r.b, required, allowed, func(f field, v []byte) error { return decodeRespField(f, p, v) })
	if err != nil {
		return nil, fmt.Errorf("%s response: %w", m, err)
	}
	return p, nil
}

// PeekRequest returns the ID and method of a request frame whose header is readable, so that a
// server can answer even a request it cannot decode.
func PeekRequest(frame []byte) (id uint64, m Method, ok bool) {
	if len(frame) < 12 || frame[1] != kindRequest {
		return 0, 0, false
	}
	return binary.BigEndian.Uint64(frame[2:10]), Method(binary.BigEndian.Uint16(frame[10:12])), true
}

// header checks a frame's size, version and kind and returns its ID, its method (a known one) and the
// bytes after the method.
func header(frame []byte, kind byte) (uint64, Method, []byte, error) {
	if len(frame) > MaxFrameSize {
		return 0, 0, nil, fmt.Errorf("%w: frame of %d bytes", ErrMalformed, len(frame))
	}
	if len(frame) < 12 {
		return 0, 0, nil, fmt.Errorf("%w: frame of %d bytes", ErrMalformed, len(frame))
	}
	if frame[0] != Version {
		return 0, 0, nil, fmt.Errorf("%w: %d", ErrUnsupportedVersion, frame[0])
	}
	if frame[1] != kind {
		return 0, 0, nil, fmt.Errorf("%w: frame kind %d, want %d", ErrMalformed, frame[1], kind)
	}
	id := binary.BigEndian.Uint64(frame[2:10])
	m := Method(binary.BigEndian.Uint16(frame[10:12]))
	if !m.Known() {
		return id, m, nil, fmt.Errorf("%w: %d", ErrUnknownMethod, uint16(m))
	}
	return id, m, frame[12:], nil
}

// decodeBody parses a TLV body: odd records are skipped, even records must be in allowed and decode
// with set, and every field of required must be present.
func decodeBody(body []byte, required, allowed field, set func(field, []byte) error) error {
	stream, err := lnwire.DecodeTLVStream(body)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	var seen field
	for _, rec := range stream {
		if rec.Type%2 == 1 {
			continue
		}
		f := fieldOfType(rec.Type)
		if f == 0 || allowed&f == 0 {
			return fmt.Errorf("%w: unexpected record type %d", ErrMalformed, rec.Type)
		}
		if err := set(f, rec.Value); err != nil {
			return fmt.Errorf("record type %d: %w", rec.Type, err)
		}
		seen |= f
	}
	if missing := required &^ seen; missing != 0 {
		return fmt.Errorf("%w: missing record type %d", ErrMalformed, (missing & -missing).tlvType())
	}
	return nil
}

// fieldOfType returns the field whose TLV type is t, or 0.
func fieldOfType(t uint64) field {
	if t == 0 || t%2 == 1 || t > 64 {
		return 0
	}
	return field(1) << (t/2 - 1)
}

// appendRecord appends one TLV record.
func appendRecord(b []byte, t uint64, v []byte) []byte {
	b = lnwire.AppendBigSize(b, t)
	b = lnwire.AppendBigSize(b, uint64(len(v)))
	return append(b, v...)
}
