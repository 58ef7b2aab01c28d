package remote

import (
	"fmt"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/keys"
)

// writePubkeys writes the five keys of k, 33 bytes each (zeros for nil), in the order funding,
// revocation, payment, delayed payment, HTLC.
func writePubkeys(w *writer, k *keys.ChannelPublicKeys) {
	w.point(k.FundingPubkey)
	w.point(k.RevocationBasepoint)
	w.point(k.PaymentPoint)
	w.point(k.DelayedPaymentBasepoint)
	w.point(k.HTLCBasepoint)
}

func readPubkeys(r *reader) keys.ChannelPublicKeys {
	return keys.ChannelPublicKeys{FundingPubkey: r.point(), RevocationBasepoint: r.point(), PaymentPoint: r.point(),
		DelayedPaymentBasepoint: r.point(), HTLCBasepoint: r.point()}
}

// writeParams writes the channel parameters in a fixed layout of 413 bytes: outbound (1), funding
// outpoint (32 + 4), value sat (8), push msat (8), anchors (1), holder and counterparty keys (165
// each), holder and counterparty to_self_delay (2 each), holder and counterparty dust limit sat (8
// each).
func writeParams(w *writer, p *keys.ChannelTransactionParameters) {
	w.bool(p.IsOutbound)
	w.fixed(p.FundingOutPoint.Hash[:])
	w.u32(p.FundingOutPoint.Index)
	w.u64(uint64(p.ValueSat))
	w.u64(p.PushMsat)
	w.bool(p.Anchors)
	writePubkeys(w, &p.HolderPubkeys)
	writePubkeys(w, &p.CounterpartyPubkeys)
	w.u16(p.HolderToSelfDelay)
	w.u16(p.CounterpartyToSelfDelay)
	w.u64(uint64(p.HolderDustLimitSat))
	w.u64(uint64(p.CounterpartyDustLimitSat))
}

func readParams(r *reader) *keys.ChannelTransactionParameters {
	p := &keys.ChannelTransactionParameters{IsOutbound: r.bool()}
	p.FundingOutPoint = wire.OutPoint{Hash: chainhash.Hash(r.fixed32()), Index: r.u32()}
	p.ValueSat = int64(r.u64())
	p.PushMsat = r.u64()
	p.Anchors = r.bool()
	p.HolderPubkeys = readPubkeys(r)
	p.CounterpartyPubkeys = readPubkeys(r)
	p.HolderToSelfDelay = r.u16()
	p.CounterpartyToSelfDelay = r.u16()
	p.HolderDustLimitSat = int64(r.u64())
	p.CounterpartyDustLimitSat = int64(r.u64())
	return p
}

// htlcLen is the encoded size of one CommitmentHTLC.
const htlcLen = 1 + 8 + 32 + 4 + 4

// writeCommitment writes c: number (8), point (33), feerate (4), both balances in msat (8 each), a u16
// count and the HTLCs (offered 1, amount msat 8, payment hash 32, CLTV expiry 4, output index 4 as
// two's complement), the five commitment keys (33 each: revocation, broadcaster delayed,
// countersignatory payment, broadcaster HTLC, countersignatory HTLC), the transaction, and a u16 count
// and the HTLC transactions. Errors: keys.ErrNilTransaction for a nil c, those of writeTx, ErrTooLarge.
func writeCommitment(w *writer, c *keys.CommitmentTx) error {
	if c == nil {
		return keys.ErrNilTransaction
	}
	if len(c.HTLCs) > MaxHTLCs || len(c.HTLCTxs) > MaxHTLCs {
		return fmt.Errorf("%w: %d HTLCs, %d HTLC transactions, at most %d", ErrTooLarge, len(c.HTLCs), len(c.HTLCTxs), MaxHTLCs)
	}
	w.u64(c.CommitmentNumber)
	w.point(c.PerCommitmentPoint)
	w.u32(c.FeeratePerKw)
	w.u64(c.ToBroadcasterMsat)
	w.u64(c.ToCountersignatoryMsat)
	w.u16(uint16(len(c.HTLCs)))
	for _, h := range c.HTLCs {
		w.bool(h.Offered)
		w.u64(h.AmountMsat)
		w.fixed(h.PaymentHash[:])
		w.u32(h.CltvExpiry)
		w.u32(uint32(h.OutputIndex))
	}
	k := &c.Keys
	w.point(k.RevocationKey)
	w.point(k.BroadcasterDelayedKey)
	w.point(k.CountersignatoryPaymentKey)
	w.point(k.BroadcasterHTLCKey)
	w.point(k.CountersignatoryHTLCKey)
	if err := writeTx(w, c.Tx); err != nil {
		return err
	}
	w.u16(uint16(len(c.HTLCTxs)))
	for _, tx := range c.HTLCTxs {
		if err := writeTx(w, tx); err != nil {
			return err
		}
	}
	return nil
}

func readCommitment(r *reader) *keys.CommitmentTx {
	c := &keys.CommitmentTx{CommitmentNumber: r.u64(), PerCommitmentPoint: r.point(), FeeratePerKw: r.u32(),
		ToBroadcasterMsat: r.u64(), ToCountersignatoryMsat: r.u64()}
	n := int(r.u16())
	if n > MaxHTLCs || n*htlcLen > len(r.b) {
		r.fail("%d HTLCs", n)
		return nil
	}
	if n > 0 {
		c.HTLCs = make([]keys.CommitmentHTLC, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		c.HTLCs[i] = keys.CommitmentHTLC{Offered: r.bool(), AmountMsat: r.u64(), PaymentHash: r.fixed32(),
			CltvExpiry: r.u32(), OutputIndex: int32(r.u32())}
	}
	c.Keys = keys.CommitmentKeys{RevocationKey: r.point(), BroadcasterDelayedKey: r.point(),
		CountersignatoryPaymentKey: r.point(), BroadcasterHTLCKey: r.point(), CountersignatoryHTLCKey: r.point()}
	c.Tx = r.tx()
	m := int(r.u16())
	if m > MaxHTLCs || m > len(r.b) {
		r.fail("%d HTLC transactions", m)
		return nil
	}
	for i := 0; i < m && r.err == nil; i++ {
		c.HTLCTxs = append(c.HTLCTxs, r.tx())
	}
	if r.err != nil {
		return nil
	}
	return c
}

// writeClosing writes c: both output values in sat (8 each), both scripts (u16 length each), the
// transaction. Errors: keys.ErrNilTransaction for a nil c, those of writeTx, ErrTooLarge.
func writeClosing(w *writer, c *keys.ClosingTx) error {
	if c == nil {
		return keys.ErrNilTransaction
	}
	if len(c.HolderScript) > MaxScriptLen || len(c.CounterpartyScript) > MaxScriptLen {
		return fmt.Errorf("%w: closing script above %d bytes", ErrTooLarge, MaxScriptLen)
	}
	w.u64(uint64(c.ToHolderSat))
	w.u64(uint64(c.ToCounterpartySat))
	w.bytes16(c.HolderScript)
	w.bytes16(c.CounterpartyScript)
	return writeTx(w, c.Tx)
}

func readClosing(r *reader) *keys.ClosingTx {
	c := &keys.ClosingTx{ToHolderSat: int64(r.u64()), ToCounterpartySat: int64(r.u64())}
	c.HolderScript = r.bytes16(MaxScriptLen)
	c.CounterpartyScript = r.bytes16(MaxScriptLen)
	c.Tx = r.tx()
	if r.err != nil {
		return nil
	}
	return c
}
