package remote

import (
	"fmt"
	"math/bits"

	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/keys"
)

// field is a set of body records, one bit each. The record of bit i has TLV type 2(i+1): every field is
// even (required to be understood); a later version may add odd records, which older readers skip.
type field uint32

// Request fields (see Request for their meaning), in increasing TLV type order.
const (
	fPoint         field = 1 << iota // type 2: 33-byte point
	fData                            // type 4: bytes
	fText                            // type 6: UTF-8 text
	fInbound                         // type 8: 1 byte, 0 or 1
	fValue                           // type 10: i64
	fUserChannelID                   // type 12: 16 bytes
	fNumber                          // type 14: u64
	fSecret                          // type 16: 32 bytes
	fParams                          // type 18: ChannelTransactionParameters
	fCommitment                      // type 20: CommitmentTx
	fSig                             // type 22: 64-byte signature
	fHTLCSigs                        // type 24: u16 count, 64 bytes each
	fTx                              // type 26: transaction
	fInputIndex                      // type 28: u32
	fScript                          // type 30: bytes
	fSigHashType                     // type 32: u32
	fClosing                         // type 34: ClosingTx
	fHash                            // type 36: 32 bytes
	fAmount                          // type 38: u64
	fMaxFee                          // type 40: u64
	fClientSig                       // type 42: bytes
	fNetwork                         // type 44: UTF-8 text (a chaincfg network name)
	fPrevOuts                        // type 46: u16 count, (i64 value, u16-length script) each
	fPaths                           // type 48: u16 count, (1 byte present, [u32 chain, u32 index]) each
)

// Response fields, in increasing TLV type order.
const (
	rPubkey     field = 1 << iota // type 2: 33-byte point
	rSecret                       // type 4: 32 bytes
	rSig                          // type 6: 64-byte signature
	rHTLCSigs                     // type 8: u16 count, 64 bytes each
	rData                         // type 10: bytes
	rScript                       // type 12: bytes
	rPubkeys                      // type 14: 5 points
	rPoints                       // type 16: u8 count, (u64, point) each
	rMessage                      // type 18: UTF-8 text (error responses)
	rRule                         // type 20: UTF-8 text (refusals)
	rAccountKey                   // type 22: UTF-8 text (a serialized extended public key)
	rWitnesses                    // type 24: u16 count, (u16 item count, u16-length items) each
)

// tlvType returns the TLV type of a single-bit field.
func (f field) tlvType() uint64 { return 2 * uint64(bits.TrailingZeros32(uint32(f))+1) }

// each calls fn for every bit of f in increasing order, stopping at the first error.
func (f field) each(fn func(field) error) error {
	for f != 0 {
		b := f & -f
		if err := fn(b); err != nil {
			return err
		}
		f &^= b
	}
	return nil
}

// encodeReqField returns the record value of field f of q.
func encodeReqField(f field, q *Request) ([]byte, error) {
	w := &writer{}
	switch f {
	case fPoint:
		w.point(q.Point)
	case fData:
		return checkLen("data", q.Data, MaxDataLen)
	case fText:
		return checkLen("text", []byte(q.Text), MaxTextLen)
	case fInbound:
		w.bool(q.Inbound)
	case fValue:
		w.u64(uint64(q.ValueSat))
	case fUserChannelID:
		w.fixed(q.UserChannelID[:])
	case fNumber:
		w.u64(q.CommitmentNumber)
	case fSecret:
		w.fixed(q.Secret[:])
	case fParams:
		if q.Params == nil {
			return nil, fmt.Errorf("%w: nil channel parameters", keys.ErrNilKey)
		}
		writeParams(w, q.Params)
	case fCommitment:
		if err := writeCommitment(w, q.Commitment); err != nil {
			return nil, err
		}
	case fSig:
		w.sig(q.Sig)
	case fHTLCSigs:
		if err := writeSigs(w, q.HTLCSigs); err != nil {
			return nil, err
		}
	case fTx:
		if err := writeTx(w, q.Tx); err != nil {
			return nil, err
		}
	case fInputIndex:
		w.u32(q.InputIndex)
	case fScript:
		return checkLen("script", q.Script, MaxScriptLen)
	case fSigHashType:
		w.u32(uint32(q.SigHashType))
	case fClosing:
		if err := writeClosing(w, q.Closing); err != nil {
			return nil, err
		}
	case fHash:
		w.fixed(q.Hash[:])
	case fAmount:
		w.u64(q.AmountMsat)
	case fMaxFee:
		w.u64(q.MaxFeeMsat)
	case fClientSig:
		return checkLen("client signature", q.ClientSig, MaxClientSigLen)
	case fNetwork:
		return checkLen("network name", []byte(q.Network), MaxNetworkLen)
	case fPrevOuts:
		if err := writePrevOuts(w, q.PrevOuts); err != nil {
			return nil, err
		}
	case fPaths:
		if err := writePaths(w, q.Paths); err != nil {
			return nil, err
		}
	}
	return w.b, nil
}

// decodeReqField sets field f of q from its record value v.
func decodeReqField(f field, q *Request, v []byte) error {
	r := &reader{b: v}
	switch f {
	case fPoint:
		q.Point = r.point()
	case fData:
		q.Data = bounded(r, "data", MaxDataLen)
	case fText:
		q.Text = string(bounded(r, "text", MaxTextLen))
	case fInbound:
		q.Inbound = r.bool()
	case fValue:
		q.ValueSat = int64(r.u64())
	case fUserChannelID:
		copy(q.UserChannelID[:], r.take(16))
	case fNumber:
		q.CommitmentNumber = r.u64()
	case fSecret:
		q.Secret = r.fixed32()
	case fParams:
		q.Params = readParams(r)
	case fCommitment:
		q.Commitment = readCommitment(r)
	case fSig:
		q.Sig = r.sig()
	case fHTLCSigs:
		q.HTLCSigs = readSigs(r)
	case fTx:
		q.Tx = r.tx()
	case fInputIndex:
		q.InputIndex = r.u32()
	case fScript:
		q.Script = bounded(r, "script", MaxScriptLen)
	case fSigHashType:
		q.SigHashType = txscript.SigHashType(r.u32())
	case fClosing:
		q.Closing = readClosing(r)
	case fHash:
		q.Hash = r.fixed32()
	case fAmount:
		q.AmountMsat = r.u64()
	case fMaxFee:
		q.MaxFeeMsat = r.u64()
	case fClientSig:
		q.ClientSig = bounded(r, "client signature", MaxClientSigLen)
	case fNetwork:
		q.Network = string(bounded(r, "network name", MaxNetworkLen))
	case fPrevOuts:
		q.PrevOuts = readPrevOuts(r)
	case fPaths:
		q.Paths = readPaths(r)
	}
	r.done()
	return r.err
}

// encodeRespField returns the record value of field f of p.
func encodeRespField(f field, p *Response) ([]byte, error) {
	w := &writer{}
	switch f {
	case rPubkey:
		w.point(p.Pubkey)
	case rSecret:
		w.fixed(p.Secret[:])
	case rSig:
		w.sig(p.Sig)
	case rHTLCSigs:
		if err := writeSigs(w, p.HTLCSigs); err != nil {
			return nil, err
		}
	case rData:
		return checkLen("data", p.Data, MaxDataLen)
	case rScript:
		return checkLen("script", p.Script, MaxScriptLen)
	case rPubkeys:
		writePubkeys(w, &p.Pubkeys)
	case rPoints:
		if len(p.Points) > MaxPoints {
			return nil, fmt.Errorf("%w: %d points above %d", ErrTooLarge, len(p.Points), MaxPoints)
		}
		w.u8(uint8(len(p.Points)))
		for _, np := range p.Points {
			w.u64(np.CommitmentNumber)
			w.point(np.Point)
		}
	case rMessage:
		return truncate(p.Message, MaxMessageLen), nil
	case rRule:
		return truncate(p.Rule, MaxRuleLen), nil
	case rAccountKey:
		return checkLen("account key", []byte(p.AccountKey), MaxAccountKeyLen)
	case rWitnesses:
		if err := writeWitnesses(w, p.Witnesses); err != nil {
			return nil, err
		}
	}
	return w.b, nil
}

// decodeRespField sets field f of p from its record value v.
func decodeRespField(f field, p *Response, v []byte) error {
	r := &reader{b: v}
	switch f {
	case rPubkey:
		p.Pubkey = r.point()
	case rSecret:
		p.Secret = r.fixed32()
	case rSig:
		p.Sig = r.sig()
	case rHTLCSigs:
		p.HTLCSigs = readSigs(r)
	case rData:
		p.Data = bounded(r, "data", MaxDataLen)
	case rScript:
		p.Script = bounded(r, "script", MaxScriptLen)
	case rPubkeys:
		p.Pubkeys = readPubkeys(r)
	case rPoints:
		n := int(r.u8())
		if n > MaxPoints {
			r.fail("%d points above %d", n, MaxPoints)
		}
		for i := 0; i < n && r.err == nil; i++ {
			p.Points = append(p.Points, NumberedPoint{CommitmentNumber: r.u64(), Point: r.point()})
		}
	case rMessage:
		p.Message = string(bounded(r, "message", MaxMessageLen))
	case rRule:
		p.Rule = string(bounded(r, "rule", MaxRuleLen))
	case rAccountKey:
		p.AccountKey = string(bounded(r, "account key", MaxAccountKeyLen))
	case rWitnesses:
		p.Witnesses = readWitnesses(r)
	}
	r.done()
	return r.err
}

// checkLen returns b when it is at most max bytes long.
func checkLen(what string, b []byte, max int) ([]byte, error) {
	if len(b) > max {
		return nil, fmt.Errorf("%w: %s of %d bytes above %d", ErrTooLarge, what, len(b), max)
	}
	return b, nil
}

// bounded reads the rest of r as one value of at most max bytes (a copy; nil when empty).
func bounded(r *reader, what string, max int) []byte {
	if len(r.b) > max {
		r.fail("%s of %d bytes above %d", what, len(r.b), max)
		return nil
	}
	b := r.take(len(r.b))
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// truncate returns s cut to at most max bytes.
func truncate(s string, max int) []byte {
	if len(s) > max {
		s = s[:max]
	}
	return []byte(s)
}

// writeTx writes tx after checking that it can be serialized and is not too large. Errors:
// keys.ErrInvalidTransaction for a nil input or output, ErrTooLarge.
func writeTx(w *writer, tx *wire.MsgTx) error {
	if tx != nil {
		for _, in := range tx.TxIn {
			if in == nil {
				return keys.ErrInvalidTransaction
			}
		}
		for _, out := range tx.TxOut {
			if out == nil {
				return keys.ErrInvalidTransaction
			}
		}
		if n := tx.SerializeSize(); n > MaxTxLen {
			return fmt.Errorf("%w: transaction of %d bytes above %d", ErrTooLarge, n, MaxTxLen)
		}
	}
	w.tx(tx)
	return nil
}

// writeSigs writes a u16 count and each signature.
func writeSigs(w *writer, sigs []*ecdsa.Signature) error {
	if len(sigs) > MaxHTLCs {
		return fmt.Errorf("%w: %d signatures above %d", ErrTooLarge, len(sigs), MaxHTLCs)
	}
	w.u16(uint16(len(sigs)))
	for _, s := range sigs {
		w.sig(s)
	}
	return nil
}

// readSigs reads what writeSigs wrote.
func readSigs(r *reader) []*ecdsa.Signature {
	n := int(r.u16())
	if n > MaxHTLCs || n*64 > len(r.b) {
		r.fail("%d signatures", n)
		return nil
	}
	var out []*ecdsa.Signature
	for i := 0; i < n && r.err == nil; i++ {
		out = append(out, r.sig())
	}
	return out
}
