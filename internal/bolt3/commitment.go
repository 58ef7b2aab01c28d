package bolt3

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"sort"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/wire"
)

// CommitmentKeys are the keys of one commitment transaction, seen from the
// commitment's OWNER: "local" is the owner, "remote" its counterparty. They
// are the per-commitment keys derived by package keys.
type CommitmentKeys struct {
	// RevocationKey is revocationpubkey (the counterparty can spend with it
	// once this commitment is revoked).
	RevocationKey *btcec.PublicKey
	// LocalDelayedKey is local_delayedpubkey (to_local and second-stage
	// HTLC outputs after to_self_delay).
	LocalDelayedKey *btcec.PublicKey
	// RemotePaymentKey is remotepubkey, the key of to_remote: with
	// option_static_remotekey it is the counterparty's payment_basepoint.
	RemotePaymentKey *btcec.PublicKey
	// LocalHTLCKey is local_htlcpubkey.
	LocalHTLCKey *btcec.PublicKey
	// RemoteHTLCKey is remote_htlcpubkey.
	RemoteHTLCKey *btcec.PublicKey
	// LocalFundingKey is the owner's funding_pubkey (its anchor output).
	// Needed only with anchors.
	LocalFundingKey *btcec.PublicKey
	// RemoteFundingKey is the counterparty's funding_pubkey (its anchor
	// output). Needed only with anchors.
	RemoteFundingKey *btcec.PublicKey
}

// HTLC is one HTLC committed to in a commitment transaction.
type HTLC struct {
	// Offered is true if the commitment owner offered the HTLC (an outgoing
	// HTLC of the owner), false if the owner received it.
	Offered bool
	// AmountMsat is amount_msat, in millisatoshis.
	AmountMsat uint64
	// PaymentHash is the 32-byte SHA256 payment_hash.
	PaymentHash [32]byte
	// CltvExpiry is cltv_expiry, an absolute block height.
	CltvExpiry uint32
	// ID is the caller's identifier, echoed back in HTLCOutput.
	ID uint64
}

// CommitmentParams are the inputs of BuildCommitmentTx.
type CommitmentParams struct {
	// FundingOutPoint is the funding output the commitment spends.
	FundingOutPoint wire.OutPoint
	// CommitmentNumber counts up from 0; at most MaxCommitmentNumber.
	CommitmentNumber uint64
	// ObscuringFactor is the value returned by ObscuringFactor (48 bits).
	ObscuringFactor uint64
	// ToLocalMsat is the owner's balance in millisatoshis, before the
	// commitment fee and anchors are taken, with HTLCs already removed.
	ToLocalMsat uint64
	// ToRemoteMsat is the counterparty's balance, as ToLocalMsat.
	ToRemoteMsat uint64
	// LocalIsFunder is true if the owner opened the channel and so pays the
	// commitment fee and the anchors.
	LocalIsFunder bool
	// FeeratePerKw is feerate_per_kw, in satoshis per 1000 weight units.
	FeeratePerKw uint32
	// DustLimitSat is the OWNER's dust_limit_satoshis.
	DustLimitSat int64
	// ToSelfDelay is the delay, in blocks, on the owner's to_local output
	// (the to_self_delay chosen by the counterparty).
	ToSelfDelay uint16
	// Keys are this commitment's keys.
	Keys CommitmentKeys
	// HTLCs are all committed HTLCs, trimmed or not. At most MaxHTLCs.
	HTLCs []HTLC
	// Type is the commitment format.
	Type ChannelType

	// FundingAmountSat is optional. If positive, BuildCommitmentTx checks
	// that ToLocalMsat + ToRemoteMsat + the HTLC amounts equal
	// FundingAmountSat*1000 and returns ErrBalanceMismatch if not.
	FundingAmountSat int64
	// AllowFunderDeficit is optional. By default a funder whose balance
	// cannot cover the base fee plus anchors makes BuildCommitmentTx return
	// ErrFunderCannotPayFee. If AllowFunderDeficit is set and the funder can
	// at least pay the anchors, its output is instead reduced to zero and
	// the transaction is built anyway, paying what fee remains (BOLT 3
	// Appendix C, "commitment tx with fee greater than funder amount").
	AllowFunderDeficit bool
}

// HTLCOutput describes one untrimmed HTLC output of a commitment transaction.
type HTLCOutput struct {
	// HTLC is the HTLC as given in CommitmentParams.HTLCs.
	HTLC HTLC
	// OutputIndex is the index of the output in the commitment transaction.
	OutputIndex uint32
	// AmountSat is the output value, AmountMsat/1000 rounded down.
	AmountSat int64
	// WitnessScript is the offered or received HTLC witness script.
	WitnessScript []byte
}

// CommitmentTx is an unsigned commitment transaction and what the caller
// needs to sign it, sign its HTLC transactions and watch its outputs.
type CommitmentTx struct {
	// Tx is the commitment transaction; its input has no witness yet (see
	// FundingWitness).
	Tx *wire.MsgTx
	// FeeSat is the fee actually paid, in satoshis: the base fee plus the
	// trimmed HTLC amounts, any omitted (dust) to_local/to_remote, an anchor
	// that was paid for but not created, and the msat rounding.
	// It equals the total input (balances plus HTLCs, in satoshis) minus the
	// sum of the outputs.
	FeeSat int64
	// HTLCOutputs are the untrimmed HTLCs, in output order (the order of
	// htlc_signatures in commitment_signed).
	HTLCOutputs []HTLCOutput
	// TrimmedHTLCs are the HTLCs that got no output, in the order given.
	TrimmedHTLCs []HTLC
	// ToLocalIndex is the output index of to_local, -1 if absent (trimmed).
	ToLocalIndex int
	// ToRemoteIndex is the output index of to_remote, -1 if absent.
	ToRemoteIndex int
	// LocalAnchorIndex and RemoteAnchorIndex are the output indexes of the
	// owner's and the counterparty's anchors, -1 if absent (always -1
	// without anchors).
	LocalAnchorIndex, RemoteAnchorIndex int
	// ToLocalScript is the to_local witness script (set even when the
	// output is absent).
	ToLocalScript []byte
	// ToRemoteWitnessScript is the to_remote witness script with anchors,
	// nil without anchors (P2WPKH).
	ToRemoteWitnessScript []byte
	// ToLocalSat and ToRemoteSat are the balances after the fee and anchors,
	// rounded down to satoshis; an output exists only if its amount is at
	// least the dust limit.
	ToLocalSat, ToRemoteSat int64
	// BaseFeeSat is the base commitment fee (CommitmentFeeSat).
	BaseFeeSat int64
}

// ObscuringFactor returns the commitment number obscuring factor: the lower
// 48 bits of SHA256(payment_basepoint from open_channel || payment_basepoint
// from accept_channel), keys compressed (33 bytes each). It returns 0 if a
// key is nil. Source: BOLT 3, "Commitment Transaction".
func ObscuringFactor(openerPaymentBasepoint, accepterPaymentBasepoint *btcec.PublicKey) uint64 {
	if openerPaymentBasepoint == nil || accepterPaymentBasepoint == nil {
		return 0
	}
	h := sha256.New()
	h.Write(openerPaymentBasepoint.SerializeCompressed())
	h.Write(accepterPaymentBasepoint.SerializeCompressed())
	sum := h.Sum(nil)
	var v uint64
	for _, b := range sum[26:] {
		v = v<<8 | uint64(b)
	}
	return v
}

// CommitmentLockTimeSequence returns the locktime and the input nSequence of
// commitment number commitmentNumber: the obscured number
// (commitmentNumber XOR obscuringFactor, 48 bits) is split into its lower 24
// bits, under the locktime's 0x20 top byte, and its upper 24 bits, under the
// sequence's 0x80 top byte. Bits above 48 are ignored.
// Source: BOLT 3, "Commitment Transaction".
func CommitmentLockTimeSequence(commitmentNumber, obscuringFactor uint64) (lockTime, sequence uint32) {
	obscured := (commitmentNumber ^ obscuringFactor) & MaxCommitmentNumber
	lockTime = 0x20<<24 | uint32(obscured&0xFFFFFF)
	sequence = 0x80<<24 | uint32(obscured>>24)
	return lockTime, sequence
}

// DecodeCommitmentNumber recovers the commitment number from a commitment
// transaction's locktime and input nSequence. It returns ErrNotCommitment if
// their top bytes are not 0x20 and 0x80. Source: BOLT 3, "Commitment
// Transaction".
func DecodeCommitmentNumber(lockTime, sequence uint32, obscuringFactor uint64) (uint64, error) {
	if lockTime>>24 != 0x20 || sequence>>24 != 0x80 {
		return 0, ErrNotCommitment
	}
	obscured := uint64(sequence&0xFFFFFF)<<24 | uint64(lockTime&0xFFFFFF)
	return (obscured ^ obscuringFactor) & MaxCommitmentNumber, nil
}

// CommitmentFeeSat returns the base fee of a commitment transaction with
// numUntrimmedHTLCs HTLC outputs, in satoshis: feeratePerKw times
// (724, or 1124 with anchors, + 172 per HTLC) divided by 1000, rounded down.
// A negative count counts as 0; counts are expected to be at most MaxHTLCs
// (the product is computed in int64). Source: BOLT 3, "Fee Calculation".
func CommitmentFeeSat(feeratePerKw uint32, numUntrimmedHTLCs int, t ChannelType) int64 {
	weight := int64(CommitmentWeight)
	if t.HasAnchors() {
		weight = CommitmentWeightAnchors
	}
	if numUntrimmedHTLCs > 0 {
		weight += HTLCOutputWeight * int64(numUntrimmedHTLCs)
	}
	return int64(feeratePerKw) * weight / 1000
}

// HTLCTimeoutFeeSat returns the fee of an HTLC-timeout transaction in
// satoshis: feeratePerKw*663/1000, rounded down, or 0 with anchors (zero-fee
// HTLC transactions). Source: BOLT 3, "Fee Calculation".
func HTLCTimeoutFeeSat(feeratePerKw uint32, t ChannelType) int64 {
	if t.HasAnchors() {
		return 0
	}
	return int64(feeratePerKw) * HTLCTimeoutWeight / 1000
}

// HTLCSuccessFeeSat returns the fee of an HTLC-success transaction in
// satoshis: feeratePerKw*703/1000, rounded down, or 0 with anchors.
// Source: BOLT 3, "Fee Calculation".
func HTLCSuccessFeeSat(feeratePerKw uint32, t ChannelType) int64 {
	if t.HasAnchors() {
		return 0
	}
	return int64(feeratePerKw) * HTLCSuccessWeight / 1000
}

// IsTrimmed reports whether h gets no output in a commitment whose owner has
// dust limit dustLimitSat: its amount, rounded down to satoshis, minus the
// fee of its second-stage transaction (HTLC-timeout if offered by the owner,
// HTLC-success if received) is below the dust limit.
// Source: BOLT 3, "Trimmed Outputs".
func IsTrimmed(h HTLC, dustLimitSat int64, feeratePerKw uint32, t ChannelType) bool {
	amountSat := int64(h.AmountMsat / 1000)
	var fee int64
	if h.Offered {
		fee = HTLCTimeoutFeeSat(feeratePerKw, t)
	} else {
		fee = HTLCSuccessFeeSat(feeratePerKw, t)
	}
	return amountSat-fee < dustLimitSat
}

// commitOutput is an output under construction, with what BIP 69 + CLTV
// ordering and the result bookkeeping need.
type commitOutput struct {
	txOut *wire.TxOut
	cltv  uint32
	kind  int // one of the out* constants
	htlc  int // index into the untrimmed list, for outHTLC
}

const (
	outHTLC = iota
	outToLocal
	outToRemote
	outLocalAnchor
	outRemoteAnchor
)

func addMsat(total, v uint64) (uint64, error) {
	if v > MaxMsat || total+v > MaxMsat {
		return 0, fmt.Errorf("%w: total above %d msat", ErrAmountTooLarge, uint64(MaxMsat))
	}
	return total + v, nil
}

func (p *CommitmentParams) validate() error {
	if !p.Type.valid() {
		return ErrUnknownChannelType
	}
	if p.CommitmentNumber > MaxCommitmentNumber {
		return fmt.Errorf("%w: commitment number %d above 48 bits", ErrInvalidParams, p.CommitmentNumber)
	}
	if p.ObscuringFactor > MaxCommitmentNumber {
		return fmt.Errorf("%w: obscuring factor %#x above 48 bits", ErrInvalidParams, p.ObscuringFactor)
	}
	if p.DustLimitSat < 0 {
		return fmt.Errorf("%w: negative dust limit %d sat", ErrInvalidParams, p.DustLimitSat)
	}
	if p.FundingAmountSat < 0 {
		return fmt.Errorf("%w: negative funding amount %d sat", ErrInvalidParams, p.FundingAmountSat)
	}
	if len(p.HTLCs) > MaxHTLCs {
		return fmt.Errorf("%w: %d HTLCs, at most %d", ErrTooManyHTLCs, len(p.HTLCs), MaxHTLCs)
	}
	k := &p.Keys
	if err := checkKeys("commitment (revocation, local delayed, remote payment, local HTLC, remote HTLC)",
		k.RevocationKey, k.LocalDelayedKey, k.RemotePaymentKey, k.LocalHTLCKey, k.RemoteHTLCKey); err != nil {
		return err
	}
	if p.Type.HasAnchors() {
		if err := checkKeys("anchor (local funding, remote funding)", k.LocalFundingKey, k.RemoteFundingKey); err != nil {
			return err
		}
	}
	return nil
}

// BuildCommitmentTx builds the unsigned commitment transaction described by
// p, following BOLT 3 "Commitment Transaction Construction":
//
//  1. version 2, one input spending p.FundingOutPoint, locktime and sequence
//     carrying the obscured commitment number;
//  2. HTLCs are trimmed by IsTrimmed with the owner's dust limit;
//  3. the base fee (CommitmentFeeSat) and, with anchors, 2*330 sat are taken
//     from the funder;
//  4. one output per untrimmed HTLC (amount rounded down to satoshis);
//  5. to_local and to_remote if at least the dust limit;
//  6. with anchors, the owner's anchor if to_local exists or any HTLC is
//     untrimmed, and likewise the counterparty's anchor with to_remote;
//  7. outputs sorted by BIP 69 (amount, then pkScript), identical HTLC
//     outputs by increasing cltv_expiry.
//
// Errors: ErrInvalidParams, ErrUnknownChannelType, ErrMissingKey,
// ErrTooManyHTLCs, ErrAmountTooLarge, ErrBalanceMismatch, and
// ErrFunderCannotPayFee (unless p.AllowFunderDeficit).
func BuildCommitmentTx(p *CommitmentParams) (*CommitmentTx, error) {
	if p == nil {
		return nil, fmt.Errorf("%w: nil params", ErrInvalidParams)
	}
	if err := p.validate(); err != nil {
		return nil, err
	}
	t := p.Type

	// Sum everything in msat; with MaxMsat as a cap nothing below overflows.
	total, err := addMsat(0, p.ToLocalMsat)
	if err != nil {
		return nil, err
	}
	if total, err = addMsat(total, p.ToRemoteMsat); err != nil {
		return nil, err
	}
	var untrimmed []HTLC
	var trimmed []HTLC
	for _, h := range p.HTLCs {
		if total, err = addMsat(total, h.AmountMsat); err != nil {
			return nil, err
		}
		if IsTrimmed(h, p.DustLimitSat, p.FeeratePerKw, t) {
			trimmed = append(trimmed, h)
		} else {
			untrimmed = append(untrimmed, h)
		}
	}
	if p.FundingAmountSat > 0 && total != uint64(p.FundingAmountSat)*1000 {
		return nil, fmt.Errorf("%w: balances and HTLCs total %d msat, funding is %d sat",
			ErrBalanceMismatch, total, p.FundingAmountSat)
	}

	baseFee := CommitmentFeeSat(p.FeeratePerKw, len(untrimmed), t)
	funderCostMsat := baseFee * 1000
	if t.HasAnchors() {
		funderCostMsat += 2 * AnchorOutputValueSat * 1000
	}
	localMsat, remoteMsat := int64(p.ToLocalMsat), int64(p.ToRemoteMsat)
	funder := &remoteMsat
	if p.LocalIsFunder {
		funder = &localMsat
	}
	anchorsMsat := funderCostMsat - baseFee*1000
	if *funder < funderCostMsat {
		// Even with AllowFunderDeficit the anchors, which are outputs, must
		// be paid for: only the fee may go unpaid.
		if !p.AllowFunderDeficit || *funder < anchorsMsat {
			return nil, fmt.Errorf("%w: funder has %d msat, needs %d msat (base fee %d sat at %d sat/kw)",
				ErrFunderCannotPayFee, *funder, funderCostMsat, baseFee, p.FeeratePerKw)
		}
		*funder = 0
	} else {
		*funder -= funderCostMsat
	}
	toLocalSat, toRemoteSat := localMsat/1000, remoteMsat/1000

	k := &p.Keys
	res := &CommitmentTx{
		ToLocalIndex:      -1,
		ToRemoteIndex:     -1,
		LocalAnchorIndex:  -1,
		RemoteAnchorIndex: -1,
		ToLocalSat:        toLocalSat,
		ToRemoteSat:       toRemoteSat,
		BaseFeeSat:        baseFee,
	}
	if res.ToLocalScript, err = ToLocalScript(k.RevocationKey, k.LocalDelayedKey, p.ToSelfDelay); err != nil {
		return nil, err
	}
	toRemotePk, toRemoteWS, err := ToRemoteScript(k.RemotePaymentKey, t)
	if err != nil {
		return nil, err
	}
	res.ToRemoteWitnessScript = toRemoteWS

	outs := make([]commitOutput, 0, len(untrimmed)+4)
	scripts := make([][]byte, len(untrimmed))
	for i, h := range untrimmed {
		var ws []byte
		if h.Offered {
			ws, err = OfferedHTLCScript(k.RevocationKey, k.LocalHTLCKey, k.RemoteHTLCKey, h.PaymentHash, t)
		} else {
			ws, err = ReceivedHTLCScript(k.RevocationKey, k.LocalHTLCKey, k.RemoteHTLCKey, h.PaymentHash, h.CltvExpiry, t)
		}
		if err != nil {
			return nil, err
		}
		scripts[i] = ws
		outs = append(outs, commitOutput{
			txOut: wire.NewTxOut(int64(h.AmountMsat/1000), WitnessScriptHash(ws)),
			cltv:  h.CltvExpiry,
			kind:  outHTLC,
			htlc:  i,
		})
	}
	hasToLocal := toLocalSat >= p.DustLimitSat
	hasToRemote := toRemoteSat >= p.DustLimitSat
	if hasToLocal {
		outs = append(outs, commitOutput{txOut: wire.NewTxOut(toLocalSat, WitnessScriptHash(res.ToLocalScript)), kind: outToLocal})
	}
	if hasToRemote {
		outs = append(outs, commitOutput{txOut: wire.NewTxOut(toRemoteSat, toRemotePk), kind: outToRemote})
	}
	if t.HasAnchors() {
		if hasToLocal || len(untrimmed) > 0 {
			ws, err := AnchorScript(k.LocalFundingKey)
			if err != nil {
				return nil, err
			}
			outs = append(outs, commitOutput{txOut: wire.NewTxOut(AnchorOutputValueSat, WitnessScriptHash(ws)), kind: outLocalAnchor})
		}
		if hasToRemote || len(untrimmed) > 0 {
			ws, err := AnchorScript(k.RemoteFundingKey)
			if err != nil {
				return nil, err
			}
			outs = append(outs, commitOutput{txOut: wire.NewTxOut(AnchorOutputValueSat, WitnessScriptHash(ws)), kind: outRemoteAnchor})
		}
	}

	sortCommitOutputs(outs, untrimmed)

	tx := wire.NewMsgTx(2)
	lockTime, sequence := CommitmentLockTimeSequence(p.CommitmentNumber, p.ObscuringFactor)
	tx.LockTime = lockTime
	in := wire.NewTxIn(&p.FundingOutPoint, nil, nil)
	in.Sequence = sequence
	tx.AddTxIn(in)

	var outSum int64
	for i, o := range outs {
		tx.AddTxOut(o.txOut)
		outSum += o.txOut.Value
		switch o.kind {
		case outHTLC:
			res.HTLCOutputs = append(res.HTLCOutputs, HTLCOutput{
				HTLC:          untrimmed[o.htlc],
				OutputIndex:   uint32(i),
				AmountSat:     o.txOut.Value,
				WitnessScript: scripts[o.htlc],
			})
		case outToLocal:
			res.ToLocalIndex = i
		case outToRemote:
			res.ToRemoteIndex = i
		case outLocalAnchor:
			res.LocalAnchorIndex = i
		case outRemoteAnchor:
			res.RemoteAnchorIndex = i
		}
	}
	res.Tx = tx
	res.TrimmedHTLCs = trimmed
	res.FeeSat = int64(total/1000) - outSum
	return res, nil
}

// sortCommitOutputs orders outputs by BIP 69 (amount, then pkScript bytes)
// and identical HTLC outputs by increasing cltv_expiry (BOLT 3, "Transaction
// Output Ordering"). Outputs identical in all three are ordered by the
// caller's HTLC ID, so the result does not depend on the input order.
func sortCommitOutputs(outs []commitOutput, htlcs []HTLC) {
	sort.SliceStable(outs, func(i, j int) bool {
		a, b := outs[i], outs[j]
		if a.txOut.Value != b.txOut.Value {
			return a.txOut.Value < b.txOut.Value
		}
		if c := bytes.Compare(a.txOut.PkScript, b.txOut.PkScript); c != 0 {
			return c < 0
		}
		if a.cltv != b.cltv {
			return a.cltv < b.cltv
		}
		if a.kind == outHTLC && b.kind == outHTLC {
			return htlcs[a.htlc].ID < htlcs[b.htlc].ID
		}
		return false
	})
}
