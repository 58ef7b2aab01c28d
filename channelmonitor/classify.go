package channelmonitor

import (
	"bytes"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/keys"
)

// spendKind says what spent the funding output. Values are persisted.
type spendKind uint8

const (
	spendCooperative         spendKind = 1 // a mutual close (or anything not shaped like a commitment)
	spendHolderLatest        spendKind = 2 // our latest commitment
	spendHolderPrevious      spendKind = 3 // our previous commitment (still signed, not revoked)
	spendHolderOlder         spendKind = 4 // an older commitment of ours (a restored backup broadcast it)
	spendCounterparty        spendKind = 5 // the counterparty's current or previous, unrevoked commitment
	spendCounterpartyRevoked spendKind = 6 // a revoked counterparty commitment: we take everything
	spendUnknownCommitment   spendKind = 7 // shaped like a commitment, matching none we know
)

func (k spendKind) String() string {
	switch k {
	case spendCooperative:
		return "cooperative close"
	case spendHolderLatest:
		return "our latest commitment"
	case spendHolderPrevious:
		return "our previous commitment"
	case spendHolderOlder:
		return "an older commitment of ours"
	case spendCounterparty:
		return "the counterparty's commitment"
	case spendCounterpartyRevoked:
		return "a revoked counterparty commitment"
	case spendUnknownCommitment:
		return "an unknown commitment"
	}
	return "unknown spend"
}

// fundingSpend is the confirmed transaction spending the funding output.
type fundingSpend struct {
	Tx               *wire.MsgTx
	Txid             chainhash.Hash
	Height           uint32
	Kind             spendKind
	CommitmentNumber uint64
	// Settled: the spend is AntiReorgDelay deep and the HTLCs it does not carry were failed back.
	Settled bool
}

// holderKeys are the keys of our commitment number n.
type commitKeys struct {
	point                *btcec.PublicKey
	revocation, delayed  *btcec.PublicKey
	ownerHTLC, otherHTLC *btcec.PublicKey
	toSelfDelay          uint16
	ownerIsHolder        bool
}

func (m *ChannelMonitor) holderKeys(n uint64) (*commitKeys, error) {
	point, err := m.signer.GetPerCommitmentPoint(n)
	if err != nil {
		return nil, err
	}
	h, c := &m.params.HolderPubkeys, &m.params.CounterpartyPubkeys
	return &commitKeys{point: point, ownerIsHolder: true, toSelfDelay: m.params.HolderToSelfDelay,
		revocation: keys.DeriveRevocationPublicKey(c.RevocationBasepoint, point),
		delayed:    keys.DerivePublicKey(h.DelayedPaymentBasepoint, point),
		ownerHTLC:  keys.DerivePublicKey(h.HTLCBasepoint, point),
		otherHTLC:  keys.DerivePublicKey(c.HTLCBasepoint, point)}, nil
}

// counterpartyKeys are the keys of the counterparty's commitment with per-commitment point point.
func (m *ChannelMonitor) counterpartyKeys(point *btcec.PublicKey) *commitKeys {
	h, c := &m.params.HolderPubkeys, &m.params.CounterpartyPubkeys
	return &commitKeys{point: point, toSelfDelay: m.params.CounterpartyToSelfDelay,
		revocation: keys.DeriveRevocationPublicKey(h.RevocationBasepoint, point),
		delayed:    keys.DerivePublicKey(c.DelayedPaymentBasepoint, point),
		ownerHTLC:  keys.DerivePublicKey(c.HTLCBasepoint, point),
		otherHTLC:  keys.DerivePublicKey(h.HTLCBasepoint, point)}
}

func (k *commitKeys) toLocal() ([]byte, error) {
	return bolt3.ToLocalScript(k.revocation, k.delayed, k.toSelfDelay)
}

// htlcScript is the script of an HTLC output; offeredByOwner says the commitment's owner offered it.
func (m *ChannelMonitor) htlcScript(k *commitKeys, offeredByOwner bool, hash [32]byte, cltv uint32) ([]byte, error) {
	if offeredByOwner {
		return bolt3.OfferedHTLCScript(k.revocation, k.ownerHTLC, k.otherHTLC, hash, m.channelType())
	}
	return bolt3.ReceivedHTLCScript(k.revocation, k.ownerHTLC, k.otherHTLC, hash, cltv, m.channelType())
}

// isCommitment says whether tx looks like a commitment transaction: BOLT 3 sets the upper byte of the
// locktime to 0x20 and of the sequence to 0x80.
func isCommitment(tx *wire.MsgTx) bool {
	return len(tx.TxIn) == 1 && tx.LockTime>>24 == 0x20 && tx.TxIn[0].Sequence>>24 == 0x80
}

// revocationSecret returns the counterparty's secret for its commitment n, if they revealed it.
func (m *ChannelMonitor) revocationSecret(n uint64) ([32]byte, bool) {
	return m.secrets.GetSecret(keys.MaxCommitmentIndex - n)
}

// classify decides what spent the funding output. The caller holds m.mu.
func (m *ChannelMonitor) classify(tx *wire.MsgTx, txid chainhash.Hash) (spendKind, uint64) {
	if txid == m.holder.Tx.TxHash() {
		return spendHolderLatest, m.holder.CommitmentNumber
	}
	if m.prevHolder != nil && txid == m.prevHolder.Tx.TxHash() {
		return spendHolderPrevious, m.prevHolder.CommitmentNumber
	}
	if cp := m.counterparty[txid]; cp != nil {
		if _, ok := m.revocationSecret(cp.CommitmentNumber); ok {
			return spendCounterpartyRevoked, cp.CommitmentNumber
		}
		return spendCounterparty, cp.CommitmentNumber
	}
	if !isCommitment(tx) {
		return spendCooperative, 0
	}
	n, err := bolt3.DecodeCommitmentNumber(tx.LockTime, tx.TxIn[0].Sequence, m.params.ObscuringFactor)
	if err != nil {
		return spendCooperative, 0
	}
	// Both chains number their commitments alike, so the number alone does not say whose this is: the
	// outputs do. Their revoked commitment pays their to_local to a script we can rebuild from the
	// secret, and our to_remote to our static key; ours pays our to_local and their to_remote.
	_, revoked := m.revocationSecret(n)
	if revoked && (m.paysRevokedToLocal(tx, n) || m.paysToRemote(tx, m.params.HolderPubkeys.PaymentPoint)) {
		return spendCounterpartyRevoked, n
	}
	if n <= m.holder.CommitmentNumber && (m.paysHolderToLocal(tx, n) || m.paysToRemote(tx, m.params.CounterpartyPubkeys.PaymentPoint)) {
		return spendHolderOlder, n
	}
	if revoked {
		return spendCounterpartyRevoked, n
	}
	return spendUnknownCommitment, n
}

func (m *ChannelMonitor) paysHolderToLocal(tx *wire.MsgTx, n uint64) bool {
	k, err := m.holderKeys(n)
	if err != nil {
		return false
	}
	script, err := k.toLocal()
	return err == nil && findOutput(tx, bolt3.WitnessScriptHash(script)) >= 0
}

func (m *ChannelMonitor) paysRevokedToLocal(tx *wire.MsgTx, n uint64) bool {
	secret, ok := m.revocationSecret(n)
	if !ok {
		return false
	}
	_, point := btcec.PrivKeyFromBytes(secret[:])
	script, err := m.counterpartyKeys(point).toLocal()
	return err == nil && findOutput(tx, bolt3.WitnessScriptHash(script)) >= 0
}

func (m *ChannelMonitor) paysToRemote(tx *wire.MsgTx, key *btcec.PublicKey) bool {
	pk, _, err := bolt3.ToRemoteScript(key, m.channelType())
	return err == nil && findOutput(tx, pk) >= 0
}

// findOutput returns the index of tx's first output paying pkScript, or -1.
func findOutput(tx *wire.MsgTx, pkScript []byte) int {
	for i, o := range tx.TxOut {
		if bytes.Equal(o.PkScript, pkScript) {
			return i
		}
	}
	return -1
}
