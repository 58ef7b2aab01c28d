package channelmonitor

import "github.com/lnkit/lnkit/lnwire"

// Balance is one part of what a channel holds for us on chain, and when we get it (LDK's Balance),
// as returned by GetClaimableBalances. Amounts are in satoshis and exclude the fees still to be paid to
// claim them. It is one of ClaimableOnChannelClose, ClaimableAwaitingConfirmations,
// ContentiousClaimable, MaybeTimeoutClaimableHTLC, MaybePreimageClaimableHTLC and
// CounterpartyRevokedOutputClaimable; switch on the concrete type.
type Balance interface {
	// ClaimableAmountSat is the amount in satoshis.
	ClaimableAmountSat() int64
	// Channel is the channel the balance comes from.
	Channel() lnwire.ChannelID
	isBalance()
}

// ClaimableOnChannelClose: the channel is open; AmountSat is what a force close would give us, before
// the fees to claim it: our output on our latest commitment transaction, plus the HTLCs on it offered to
// us whose preimage we hold (claimed, the counterparty has not yet removed them).
type ClaimableOnChannelClose struct {
	ChannelID lnwire.ChannelID
	AmountSat int64
}

// ClaimableAwaitingConfirmations: an output of ours (to_local, to_remote, a second-stage HTLC output, a
// cooperative close output) that is ours alone and becomes spendable, or final, at
// ConfirmationHeight.
type ClaimableAwaitingConfirmations struct {
	ChannelID          lnwire.ChannelID
	AmountSat          int64
	ConfirmationHeight uint32
}

// ContentiousClaimable: an HTLC offered to us whose preimage we hold; we claim it on chain, and the
// counterparty can take it back after TimeoutHeight if our claim has not confirmed by then.
type ContentiousClaimable struct {
	ChannelID     lnwire.ChannelID
	AmountSat     int64
	TimeoutHeight uint32
	PaymentHash   [32]byte
	Preimage      [32]byte
}

// MaybeTimeoutClaimableHTLC: an HTLC we offered, which we take back by timeout at ClaimableHeight
// unless the counterparty claims it with the preimage first.
type MaybeTimeoutClaimableHTLC struct {
	ChannelID       lnwire.ChannelID
	AmountSat       int64
	ClaimableHeight uint32
	PaymentHash     [32]byte
}

// MaybePreimageClaimableHTLC: an HTLC offered to us whose preimage we do not hold; it is ours only if
// the preimage is given (ClaimFunds) before ExpiryHeight.
type MaybePreimageClaimableHTLC struct {
	ChannelID    lnwire.ChannelID
	AmountSat    int64
	ExpiryHeight uint32
	PaymentHash  [32]byte
}

// CounterpartyRevokedOutputClaimable: an output of a revoked commitment (or of a second-stage
// transaction spending one) that we are taking with a justice transaction.
type CounterpartyRevokedOutputClaimable struct {
	ChannelID lnwire.ChannelID
	AmountSat int64
}

func (b ClaimableOnChannelClose) ClaimableAmountSat() int64            { return b.AmountSat }
func (b ClaimableAwaitingConfirmations) ClaimableAmountSat() int64     { return b.AmountSat }
func (b ContentiousClaimable) ClaimableAmountSat() int64               { return b.AmountSat }
func (b MaybeTimeoutClaimableHTLC) ClaimableAmountSat() int64          { return b.AmountSat }
func (b MaybePreimageClaimableHTLC) ClaimableAmountSat() int64         { return b.AmountSat }
func (b CounterpartyRevokedOutputClaimable) ClaimableAmountSat() int64 { return b.AmountSat }

func (b ClaimableOnChannelClose) Channel() lnwire.ChannelID            { return b.ChannelID }
func (b ClaimableAwaitingConfirmations) Channel() lnwire.ChannelID     { return b.ChannelID }
func (b ContentiousClaimable) Channel() lnwire.ChannelID               { return b.ChannelID }
func (b MaybeTimeoutClaimableHTLC) Channel() lnwire.ChannelID          { return b.ChannelID }
func (b MaybePreimageClaimableHTLC) Channel() lnwire.ChannelID         { return b.ChannelID }
func (b CounterpartyRevokedOutputClaimable) Channel() lnwire.ChannelID { return b.ChannelID }

func (ClaimableOnChannelClose) isBalance()            {}
func (ClaimableAwaitingConfirmations) isBalance()     {}
func (ContentiousClaimable) isBalance()               {}
func (MaybeTimeoutClaimableHTLC) isBalance()          {}
func (MaybePreimageClaimableHTLC) isBalance()         {}
func (CounterpartyRevokedOutputClaimable) isBalance() {}

// GetClaimableBalances returns what the channel holds for us on chain and when we get it (LDK's
// get_claimable_balances). While the channel is open it is one ClaimableOnChannelClose; after a close,
// one entry per output still to be claimed or not yet final. Outputs handed to the host in a
// SpendableOutputs event, and outputs worth less than their fee, are not listed.
func (m *ChannelMonitor) GetClaimableBalances() []Balance {
	m.mu.Lock()
	defer m.mu.Unlock()
	id := m.params.ChannelID
	if m.funding == nil {
		return []Balance{ClaimableOnChannelClose{ChannelID: id, AmountSat: m.holderToLocalSat() + m.claimedHTLCsSat()}}
	}
	final := m.funding.Height + AntiReorgDelay - 1
	if m.funding.Kind == spendCooperative {
		if m.staticReported || m.shutdownScript == nil {
			return nil
		}
		if i := findOutput(m.funding.Tx, m.shutdownScript); i >= 0 {
			return []Balance{ClaimableAwaitingConfirmations{ChannelID: id, AmountSat: m.funding.Tx.TxOut[i].Value, ConfirmationHeight: final}}
		}
		return nil
	}
	var out []Balance
	for _, c := range m.claims {
		if b := m.claimBalance(c); b != nil {
			out = append(out, b)
		}
	}
	return out
}

// claimBalance is one claim's Balance, or nil when it holds nothing more for us.
func (m *ChannelMonitor) claimBalance(c *claim) Balance {
	id := m.params.ChannelID
	if c.Uneconomical || c.Resolved {
		return nil
	}
	if c.spent() {
		if !c.SpentByUs {
			return nil
		}
		switch c.Kind {
		case claimHolderHTLCTimeout, claimHolderHTLCSuccess:
			return nil // its second-stage output is the next claim
		}
		return ClaimableAwaitingConfirmations{ChannelID: id, AmountSat: c.ValueSat, ConfirmationHeight: c.SpentAt + AntiReorgDelay - 1}
	}
	switch c.Kind {
	case claimHolderToLocal, claimHolderSecondStage, claimToRemote:
		return ClaimableAwaitingConfirmations{ChannelID: id, AmountSat: c.ValueSat, ConfirmationHeight: c.ValidHeight}
	case claimRevokedToLocal, claimRevokedHTLC, claimRevokedSecondStage:
		return CounterpartyRevokedOutputClaimable{ChannelID: id, AmountSat: c.ValueSat}
	case claimHolderHTLCTimeout, claimCounterpartyHTLCTimeout:
		return MaybeTimeoutClaimableHTLC{ChannelID: id, AmountSat: c.ValueSat, ClaimableHeight: c.ValidHeight, PaymentHash: c.HTLC.PaymentHash}
	}
	if pre, ok := m.preimages[c.HTLC.PaymentHash]; ok {
		return ContentiousClaimable{ChannelID: id, AmountSat: c.ValueSat, TimeoutHeight: c.HTLC.CltvExpiry, PaymentHash: c.HTLC.PaymentHash, Preimage: pre}
	}
	if m.bestHeight > c.HTLC.CltvExpiry {
		return nil // expired without a preimage: the counterparty's
	}
	return MaybePreimageClaimableHTLC{ChannelID: id, AmountSat: c.ValueSat, ExpiryHeight: c.HTLC.CltvExpiry, PaymentHash: c.HTLC.PaymentHash}
}

// claimedHTLCsSat sums the HTLC outputs of our latest commitment that were offered to us and whose
// preimage we hold.
func (m *ChannelMonitor) claimedHTLCsSat() int64 {
	var sat int64
	for _, h := range m.holder.HTLCs {
		if _, known := m.preimages[h.PaymentHash]; !h.Offered && known && h.OutputIndex >= 0 {
			sat += int64(h.AmountMsat / 1000)
		}
	}
	return sat
}
