package keys

import (
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/internal/bolt3"
)

// ErrSignerPending is returned by a signer that cannot answer now but will: a remote signer whose
// request is in flight, or one that is offline. The caller keeps what depends on the answer (LDK's
// async signing): a ChannelManager holds the channel's outgoing messages, in order, and asks again
// when the host calls ChannelManager.SignerUnblocked. A signer answering ErrSignerPending must give
// the same answer to the same request later. Test with errors.Is.
var ErrSignerPending = errors.New("keys: signer has not answered yet")

// ErrNoChannelParameters is returned by a ChannelSigner asked to sign a commitment or closing
// transaction before ProvideChannelParameters.
var ErrNoChannelParameters = errors.New("keys: channel parameters not provided")

// ErrCommitmentMismatch is returned when a transaction given to a signer is not the one its
// description (CommitmentTx, ClosingTx) and the channel's parameters give.
var ErrCommitmentMismatch = errors.New("keys: transaction does not match its description")

// ChannelTransactionParameters are what a signer must know of a channel to check what it signs (LDK's
// ChannelTransactionParameters): the funding output, both sides' keys, delays and dust limits, from
// open_channel and accept_channel (BOLT 2). "Holder" is the signer's side.
type ChannelTransactionParameters struct {
	// IsOutbound is true when the holder opened (and funded) the channel.
	IsOutbound bool
	// FundingOutPoint is the 2-of-2 funding output; ValueSat its value in satoshis.
	FundingOutPoint wire.OutPoint
	ValueSat        int64
	// PushMsat is what the funder gave the other side at open (push_msat), in millisatoshis; 0 when
	// the caller does not know it (a ChannelMonitor giving its channel's parameters again).
	PushMsat uint64
	// Anchors is true for option_anchors_zero_fee_htlc_tx commitments (else option_static_remotekey).
	Anchors bool
	// HolderPubkeys and CounterpartyPubkeys are both sides' basepoints.
	HolderPubkeys, CounterpartyPubkeys ChannelPublicKeys
	// HolderToSelfDelay is the CSV delay in blocks on the holder's to_local (set by the counterparty);
	// CounterpartyToSelfDelay is the one on the counterparty's to_local (set by the holder).
	HolderToSelfDelay, CounterpartyToSelfDelay uint16
	// HolderDustLimitSat and CounterpartyDustLimitSat are each side's dust_limit_satoshis.
	HolderDustLimitSat, CounterpartyDustLimitSat int64
}

// channelType returns the BOLT 3 commitment format.
func (p *ChannelTransactionParameters) channelType() bolt3.ChannelType {
	if p.Anchors {
		return bolt3.ChannelTypeAnchors
	}
	return bolt3.ChannelTypeStaticRemoteKey
}

// FundingScript returns the 2-of-2 witness script of the funding output. Errors: ErrNilKey.
func (p *ChannelTransactionParameters) FundingScript() ([]byte, error) {
	ws, _, err := bolt3.FundingScript(p.HolderPubkeys.FundingPubkey, p.CounterpartyPubkeys.FundingPubkey)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNilKey, err)
	}
	return ws, nil
}

// CommitmentKeys are one commitment's per-commitment keys (BOLT 3, "Key Derivation"), named from the
// point of view of the commitment's broadcaster.
type CommitmentKeys struct {
	// RevocationKey is revocationpubkey: the countersignatory spends with it once the commitment is
	// revoked.
	RevocationKey *btcec.PublicKey
	// BroadcasterDelayedKey is local_delayedpubkey (to_local, second-stage outputs).
	BroadcasterDelayedKey *btcec.PublicKey
	// CountersignatoryPaymentKey is remotepubkey (to_remote); with option_static_remotekey the
	// countersignatory's payment_basepoint.
	CountersignatoryPaymentKey *btcec.PublicKey
	// BroadcasterHTLCKey and CountersignatoryHTLCKey are local_htlcpubkey and remote_htlcpubkey.
	BroadcasterHTLCKey, CountersignatoryHTLCKey *btcec.PublicKey
}

// DeriveCommitmentKeys derives the keys of a commitment with per-commitment point point: the holder's
// commitment when holder is true, else the counterparty's (BOLT 3, "Key Derivation").
func (p *ChannelTransactionParameters) DeriveCommitmentKeys(holder bool, point *btcec.PublicKey) CommitmentKeys {
	b, c := p.HolderPubkeys, p.CounterpartyPubkeys
	if !holder {
		b, c = c, b
	}
	return CommitmentKeys{
		RevocationKey:              DeriveRevocationPublicKey(c.RevocationBasepoint, point),
		BroadcasterDelayedKey:      DerivePublicKey(b.DelayedPaymentBasepoint, point),
		CountersignatoryPaymentKey: c.PaymentPoint,
		BroadcasterHTLCKey:         DerivePublicKey(b.HTLCBasepoint, point),
		CountersignatoryHTLCKey:    DerivePublicKey(c.HTLCBasepoint, point),
	}
}

// Equal reports whether k and o hold the same keys.
func (k CommitmentKeys) Equal(o CommitmentKeys) bool {
	eq := func(a, b *btcec.PublicKey) bool { return a != nil && b != nil && a.IsEqual(b) }
	return eq(k.RevocationKey, o.RevocationKey) && eq(k.BroadcasterDelayedKey, o.BroadcasterDelayedKey) &&
		eq(k.CountersignatoryPaymentKey, o.CountersignatoryPaymentKey) &&
		eq(k.BroadcasterHTLCKey, o.BroadcasterHTLCKey) && eq(k.CountersignatoryHTLCKey, o.CountersignatoryHTLCKey)
}

// CommitmentHTLC is one HTLC of a commitment, trimmed or not.
type CommitmentHTLC struct {
	// Offered is true when the commitment's broadcaster offered the HTLC (it pays the countersignatory
	// on success), false when the broadcaster receives it.
	Offered bool
	// AmountMsat is amount_msat; PaymentHash is payment_hash; CltvExpiry is cltv_expiry (a block
	// height).
	AmountMsat  uint64
	PaymentHash [32]byte
	CltvExpiry  uint32
	// OutputIndex is the HTLC's output in the commitment transaction, -1 when it is trimmed.
	OutputIndex int32
}

// CommitmentTx is a commitment transaction and its meaning, as a signer is asked to sign or accept it
// (LDK's CommitmentTransaction). Balances and HTLCs are from the broadcaster's point of view.
type CommitmentTx struct {
	// CommitmentNumber counts up from 0; PerCommitmentPoint is the broadcaster's point for it.
	CommitmentNumber   uint64
	PerCommitmentPoint *btcec.PublicKey
	// FeeratePerKw is feerate_per_kw, in satoshis per 1000 weight units.
	FeeratePerKw uint32
	// ToBroadcasterMsat and ToCountersignatoryMsat are the balances in millisatoshis before the fee and
	// anchors are taken, HTLCs excluded: with the HTLCs they add up to the channel value.
	ToBroadcasterMsat, ToCountersignatoryMsat uint64
	// HTLCs are every HTLC of the commitment, trimmed ones included, in the order the commitment was
	// built from (which breaks ties between identical outputs).
	HTLCs []CommitmentHTLC
	// Keys are the commitment's keys, derived from PerCommitmentPoint.
	Keys CommitmentKeys
	// Tx is the unsigned commitment transaction.
	Tx *wire.MsgTx
	// HTLCTxs are the unsigned second-stage transactions (HTLC-timeout for offered HTLCs, HTLC-success
	// for received ones), one per untrimmed HTLC, in output order: the order of htlc_signatures in
	// commitment_signed (BOLT 2).
	HTLCTxs []*wire.MsgTx
}

// BuiltCommitment is a commitment rebuilt from its description by ChannelTransactionParameters.Build.
type BuiltCommitment struct {
	// Txid is the commitment's txid; FeeSat the fee it pays.
	Txid   chainhash.Hash
	FeeSat int64
	// HTLCScripts and HTLCValuesSat are each untrimmed HTLC output's witness script and value, in
	// output order; HTLCTxs the second-stage transactions spending them.
	HTLCScripts   [][]byte
	HTLCValuesSat []int64
	HTLCTxs       []*wire.MsgTx
	// HTLCIndexes maps each HTLC output (in output order) to its position in CommitmentTx.HTLCs.
	HTLCIndexes []int
	// ToBroadcasterSat and ToCountersignatorySat are the main outputs' values (0 when trimmed).
	ToBroadcasterSat, ToCountersignatorySat int64
}

// Build rebuilds the commitment c describes, the holder's when holder is true, from p and c's meaning
// (balances, HTLCs, feerate, number, keys), and checks that it is c.Tx and that c.HTLCTxs are its
// second-stage transactions. It derives no key: c.Keys are taken as given (a validating signer checks
// them against DeriveCommitmentKeys). Errors: ErrNilTransaction, ErrCommitmentMismatch (with the
// builder's reason for a description that builds no commitment).
func (p *ChannelTransactionParameters) Build(holder bool, c *CommitmentTx) (*BuiltCommitment, error) {
	if c == nil || c.Tx == nil {
		return nil, ErrNilTransaction
	}
	ct, params, err := p.construct(holder, c)
	if err != nil {
		return nil, err
	}
	b := &BuiltCommitment{Txid: ct.Tx.TxHash(), FeeSat: ct.FeeSat, ToBroadcasterSat: ct.ToLocalSat, ToCountersignatorySat: ct.ToRemoteSat}
	if ct.ToLocalIndex < 0 {
		b.ToBroadcasterSat = 0
	}
	if ct.ToRemoteIndex < 0 {
		b.ToCountersignatorySat = 0
	}
	if b.Txid != c.Tx.TxHash() {
		return nil, fmt.Errorf("%w: commitment %d", ErrCommitmentMismatch, c.CommitmentNumber)
	}
	for _, h := range ct.TrimmedHTLCs {
		if c.HTLCs[h.ID].OutputIndex != -1 {
			return nil, fmt.Errorf("%w: HTLC %d is trimmed", ErrCommitmentMismatch, h.ID)
		}
	}
	if len(c.HTLCTxs) != len(ct.HTLCOutputs) {
		return nil, fmt.Errorf("%w: %d HTLC transactions for %d HTLC outputs", ErrCommitmentMismatch, len(c.HTLCTxs), len(ct.HTLCOutputs))
	}
	for i, out := range ct.HTLCOutputs {
		if c.HTLCs[out.HTLC.ID].OutputIndex != int32(out.OutputIndex) {
			return nil, fmt.Errorf("%w: HTLC %d output index", ErrCommitmentMismatch, out.HTLC.ID)
		}
		tx, err := htlcTx(b.Txid, out, c, params)
		if err != nil {
			return nil, err
		}
		if c.HTLCTxs[i] == nil || tx.TxHash() != c.HTLCTxs[i].TxHash() {
			return nil, fmt.Errorf("%w: HTLC transaction %d", ErrCommitmentMismatch, i)
		}
		b.HTLCScripts = append(b.HTLCScripts, out.WitnessScript)
		b.HTLCValuesSat = append(b.HTLCValuesSat, out.AmountSat)
		b.HTLCTxs = append(b.HTLCTxs, tx)
		b.HTLCIndexes = append(b.HTLCIndexes, int(out.HTLC.ID))
	}
	return b, nil
}

// NewCommitmentTx builds a commitment from its meaning, the holder's when holder is true: number n,
// the broadcaster's point, the feerate, the balances before fee (msat, HTLCs excluded) and the HTLCs
// (their OutputIndex is filled in), with keys derived from point and the HTLC transactions. It is what
// a channel gives its signer, for hosts and tests that drive a signer directly. Errors:
// ErrCommitmentMismatch with the builder's reason (for example balances that do not add up to the
// channel value).
func (p *ChannelTransactionParameters) NewCommitmentTx(holder bool, n uint64, point *btcec.PublicKey, feeratePerKw uint32,
	toBroadcasterMsat, toCountersignatoryMsat uint64, htlcs []CommitmentHTLC) (*CommitmentTx, error) {
	c := &CommitmentTx{CommitmentNumber: n, PerCommitmentPoint: point, FeeratePerKw: feeratePerKw,
		ToBroadcasterMsat: toBroadcasterMsat, ToCountersignatoryMsat: toCountersignatoryMsat,
		HTLCs: append([]CommitmentHTLC(nil), htlcs...), Keys: p.DeriveCommitmentKeys(holder, point)}
	ct, params, err := p.construct(holder, c)
	if err != nil {
		return nil, err
	}
	c.Tx = ct.Tx
	txid := ct.Tx.TxHash()
	for i := range c.HTLCs {
		c.HTLCs[i].OutputIndex = -1
	}
	for _, out := range ct.HTLCOutputs {
		c.HTLCs[out.HTLC.ID].OutputIndex = int32(out.OutputIndex)
		tx, err := htlcTx(txid, out, c, params)
		if err != nil {
			return nil, err
		}
		c.HTLCTxs = append(c.HTLCTxs, tx)
	}
	return c, nil
}

// construct builds the BOLT 3 commitment c describes, HTLC ids being positions in c.HTLCs.
func (p *ChannelTransactionParameters) construct(holder bool, c *CommitmentTx) (*bolt3.CommitmentTx, *bolt3.CommitmentParams, error) {
	params := &bolt3.CommitmentParams{
		FundingOutPoint: p.FundingOutPoint, CommitmentNumber: c.CommitmentNumber,
		ObscuringFactor: p.obscuringFactor(), ToLocalMsat: c.ToBroadcasterMsat, ToRemoteMsat: c.ToCountersignatoryMsat,
		FeeratePerKw: c.FeeratePerKw, Type: p.channelType(), FundingAmountSat: p.ValueSat,
		Keys: bolt3.CommitmentKeys{RevocationKey: c.Keys.RevocationKey, LocalDelayedKey: c.Keys.BroadcasterDelayedKey,
			RemotePaymentKey: c.Keys.CountersignatoryPaymentKey, LocalHTLCKey: c.Keys.BroadcasterHTLCKey,
			RemoteHTLCKey: c.Keys.CountersignatoryHTLCKey},
	}
	if holder {
		params.LocalIsFunder, params.DustLimitSat, params.ToSelfDelay = p.IsOutbound, p.HolderDustLimitSat, p.HolderToSelfDelay
		params.Keys.LocalFundingKey, params.Keys.RemoteFundingKey = p.HolderPubkeys.FundingPubkey, p.CounterpartyPubkeys.FundingPubkey
	} else {
		params.LocalIsFunder, params.DustLimitSat, params.ToSelfDelay = !p.IsOutbound, p.CounterpartyDustLimitSat, p.CounterpartyToSelfDelay
		params.Keys.LocalFundingKey, params.Keys.RemoteFundingKey = p.CounterpartyPubkeys.FundingPubkey, p.HolderPubkeys.FundingPubkey
	}
	params.HTLCs = make([]bolt3.HTLC, len(c.HTLCs))
	for i, h := range c.HTLCs {
		params.HTLCs[i] = bolt3.HTLC{Offered: h.Offered, AmountMsat: h.AmountMsat, PaymentHash: h.PaymentHash,
			CltvExpiry: h.CltvExpiry, ID: uint64(i)}
	}
	ct, err := bolt3.BuildCommitmentTx(params)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: %w", ErrCommitmentMismatch, err)
	}
	return ct, params, nil
}

// htlcTx builds the second-stage transaction spending one HTLC output of commitment txid.
func htlcTx(txid chainhash.Hash, out bolt3.HTLCOutput, c *CommitmentTx, params *bolt3.CommitmentParams) (*wire.MsgTx, error) {
	var tx *wire.MsgTx
	var err error
	if out.HTLC.Offered {
		tx, err = bolt3.BuildHTLCTimeoutTx(txid, out, c.FeeratePerKw, params.ToSelfDelay, c.Keys.RevocationKey, c.Keys.BroadcasterDelayedKey, params.Type)
	} else {
		tx, err = bolt3.BuildHTLCSuccessTx(txid, out, c.FeeratePerKw, params.ToSelfDelay, c.Keys.RevocationKey, c.Keys.BroadcasterDelayedKey, params.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCommitmentMismatch, err)
	}
	return tx, nil
}

// obscuringFactor is BOLT 3's commitment number obscuring factor: the opener's payment basepoint first.
func (p *ChannelTransactionParameters) obscuringFactor() uint64 {
	if p.IsOutbound {
		return bolt3.ObscuringFactor(p.HolderPubkeys.PaymentPoint, p.CounterpartyPubkeys.PaymentPoint)
	}
	return bolt3.ObscuringFactor(p.CounterpartyPubkeys.PaymentPoint, p.HolderPubkeys.PaymentPoint)
}

// ClosingTx is a cooperative closing transaction and its meaning (BOLT 2 closing_signed, BOLT 3
// "Closing Transaction").
type ClosingTx struct {
	// ToHolderSat and ToCounterpartySat are the outputs' values in satoshis, 0 for an output left out
	// (below the dust limit).
	ToHolderSat, ToCounterpartySat int64
	// HolderScript and CounterpartyScript are the scriptPubKeys from both sides' shutdown.
	HolderScript, CounterpartyScript []byte
	// Tx is the unsigned closing transaction.
	Tx *wire.MsgTx
}

// CheckClosing checks that c.Tx spends p's funding output alone and pays exactly c's outputs. It returns the
// fee in satoshis. Errors: ErrNilTransaction, ErrCommitmentMismatch.
func (p *ChannelTransactionParameters) CheckClosing(c *ClosingTx) (int64, error) {
	if c == nil || c.Tx == nil {
		return 0, ErrNilTransaction
	}
	tx := c.Tx
	if len(tx.TxIn) != 1 || tx.TxIn[0] == nil || tx.TxIn[0].PreviousOutPoint != p.FundingOutPoint {
		return 0, fmt.Errorf("%w: closing transaction does not spend the funding output alone", ErrCommitmentMismatch)
	}
	want := map[string]int64{}
	n := 0
	if c.ToHolderSat > 0 {
		want[string(c.HolderScript)] += c.ToHolderSat
		n++
	}
	if c.ToCounterpartySat > 0 {
		want[string(c.CounterpartyScript)] += c.ToCounterpartySat
		n++
	}
	if len(tx.TxOut) != n {
		return 0, fmt.Errorf("%w: closing transaction has %d outputs, %d described", ErrCommitmentMismatch, len(tx.TxOut), n)
	}
	var out int64
	for _, o := range tx.TxOut {
		if o == nil || want[string(o.PkScript)] != o.Value {
			return 0, fmt.Errorf("%w: closing output", ErrCommitmentMismatch)
		}
		out += o.Value
	}
	fee := p.ValueSat - out
	if fee < 0 {
		return 0, fmt.Errorf("%w: closing outputs exceed the channel value", ErrCommitmentMismatch)
	}
	return fee, nil
}
