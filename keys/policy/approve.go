package policy

import (
	"crypto/sha256"
	"encoding/binary"
	"math"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"

	"github.com/lnkit/lnkit/invoice"
)

// Tags of the approval hashes (BIP 340 style tagged hashes, so that a client signature of one can
// never be read as a signature of anything else).
const (
	invoiceApprovalTag = "lnkit/keys/policy/v1/approve-invoice"
	keysendApprovalTag = "lnkit/keys/policy/v1/approve-keysend"
)

// taggedHash returns SHA256(SHA256(tag) || SHA256(tag) || msg).
func taggedHash(tag string, msg []byte) [32]byte {
	t := sha256.Sum256([]byte(tag))
	h := sha256.New()
	h.Write(t[:])
	h.Write(t[:])
	h.Write(msg)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// InvoiceApprovalHash is what the user's client key signs to approve paying bolt11 with at most
// maxFeeMsat of routing fees: the tagged hash ("lnkit/keys/policy/v1/approve-invoice") of maxFeeMsat
// (8 bytes big-endian) followed by the invoice string's bytes as given.
func InvoiceApprovalHash(bolt11 string, maxFeeMsat uint64) [32]byte {
	msg := binary.BigEndian.AppendUint64(nil, maxFeeMsat)
	return taggedHash(invoiceApprovalTag, append(msg, bolt11...))
}

// KeysendApprovalHash is what the client key signs to approve a keysend: the tagged hash
// ("lnkit/keys/policy/v1/approve-keysend") of the payee's compressed key (33 bytes), the payment hash,
// amountMsat and maxFeeMsat (8 bytes big-endian each). A nil payee hashes as 33 zero bytes.
func KeysendApprovalHash(payee *btcec.PublicKey, paymentHash [32]byte, amountMsat, maxFeeMsat uint64) [32]byte {
	msg := make([]byte, 33, 33+32+16)
	if payee != nil {
		copy(msg, payee.SerializeCompressed())
	}
	msg = append(msg, paymentHash[:]...)
	msg = binary.BigEndian.AppendUint64(msg, amountMsat)
	return taggedHash(keysendApprovalTag, binary.BigEndian.AppendUint64(msg, maxFeeMsat))
}

// checkClientSig verifies sig (DER, or 65-byte compact recoverable) by Config.ClientKey over hash.
func (s *Signer) checkClientSig(hash [32]byte, sig []byte) error {
	pub := s.cfg.ClientKey
	if pub == nil {
		return violation(RulePaymentApproved, "no client key configured")
	}
	if len(sig) == 65 {
		if got, _, err := ecdsa.RecoverCompact(sig, hash[:]); err == nil && got.IsEqual(pub) {
			return nil
		}
	} else if d, err := ecdsa.ParseDERSignature(sig); err == nil && d.Verify(hash[:], pub) {
		return nil
	}
	return violation(RulePaymentApproved, "client signature does not verify")
}

// ApproveInvoice records the user's approval to pay the BOLT 11 invoice bolt11 (its amount plus at
// most maxFeeMsat of fees) until the invoice expires. clientSig is Config.ClientKey's signature of
// InvoiceApprovalHash(bolt11, maxFeeMsat). Approving again is harmless: an approval only grows, and
// what was paid toward the hash still counts. Refusals: payment-approved (bad signature, undecodable,
// amountless or expired invoice, too many approvals), velocity.
func (s *Signer) ApproveInvoice(bolt11 string, maxFeeMsat uint64, clientSig []byte) error {
	if err := s.checkClientSig(InvoiceApprovalHash(bolt11, maxFeeMsat), clientSig); err != nil {
		return err
	}
	inv, err := invoice.Decode(bolt11, nil)
	if err != nil {
		return violation(RulePaymentApproved, "invoice: %v", err)
	}
	amount, ok := inv.Amount()
	if !ok {
		return violation(RulePaymentApproved, "invoice has no amount")
	}
	expires := inv.ExpiresAt().Unix()
	if expires < 0 {
		expires = 0
	}
	return s.approve(inv.PaymentHash, kindInvoice, amount, maxFeeMsat, uint64(expires))
}

// ApproveKeysend records the user's approval of a spontaneous payment of amountMsat (plus at most
// maxFeeMsat of fees) to payee with paymentHash, for Config.ApprovalTTLSecs of host time. clientSig is
// Config.ClientKey's signature of KeysendApprovalHash. Refusals as ApproveInvoice.
func (s *Signer) ApproveKeysend(payee *btcec.PublicKey, paymentHash [32]byte, amountMsat, maxFeeMsat uint64, clientSig []byte) error {
	if err := s.checkClientSig(KeysendApprovalHash(payee, paymentHash, amountMsat, maxFeeMsat), clientSig); err != nil {
		return err
	}
	if payee == nil || amountMsat == 0 {
		return violation(RulePaymentApproved, "keysend without payee or amount")
	}
	s.mu.Lock()
	expires := s.node.now + s.cfg.ApprovalTTLSecs
	s.mu.Unlock()
	return s.approve(paymentHash, kindKeysend, amountMsat, maxFeeMsat, expires)
}

// approve adds an approval of amount+fee msat for hash, usable until expires.
func (s *Signer) approve(hash [32]byte, kind approvalKind, amount, fee, expires uint64) error {
	if amount > math.MaxUint64-fee {
		return violation(RulePaymentApproved, "amount overflows")
	}
	total := amount + fee
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.node.now
	if now >= expires {
		return violation(RulePaymentApproved, "approval expired at %d, time is %d", expires, now)
	}
	t := s.newLedgerTx([32]byte{}, nil)
	old := t.get(hash)
	var have uint64
	if old != nil {
		have = old.usable(now)
	}
	if old != nil && have >= total && old.expiresAt >= expires {
		return nil
	}
	if have == 0 && t.merged().approvals() >= s.cfg.MaxApprovals {
		return violation(RulePaymentApproved, "%d approvals outstanding, at most %d", s.cfg.MaxApprovals, s.cfg.MaxApprovals)
	}
	if total > have {
		if err := t.addVelocity(total - have); err != nil {
			return err
		}
	}
	e := t.edit(hash)
	if have == 0 {
		e.expiresAt = 0 // an expired approval is replaced, not extended
	}
	e.kind, e.approvedMsat, e.expiresAt = kind, max(have, total), max(expires, e.expiresAt)
	return s.commitNode(t)
}
