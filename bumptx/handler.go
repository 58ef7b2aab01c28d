package bumptx

import (
	"bytes"
	"fmt"
	"log/slog"
	"sync"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/keys"
)

// walletInputSequence is the nSequence of wallet and anchor inputs: 0xfffffffd signals replaceability
// (BIP 125) and sets no relative lock time (LDK's Sequence::ENABLE_RBF_NO_LOCKTIME).
const walletInputSequence = wire.MaxTxInSequenceNum - 2

// maxFundingAttempts bounds the coin selections made for one event: the first at the target, the
// others correcting for a selection that fell short of the required fee (or, capped, went over it).
const maxFundingAttempts = 8

// minStandardTxSize is Bitcoin Core's MIN_STANDARD_TX_NONWITNESS_SIZE, in bytes.
const minStandardTxSize = 65

// BumpTransactionEventHandler answers events.BumpChannelClose and events.BumpHTLCResolution by building,
// signing and broadcasting the transactions they ask for (LDK's BumpTransactionEventHandler). Create it
// with NewBumpTransactionEventHandler. It is safe for concurrent use; events of one claim are handled one
// at a time.
//
// Targets: a target below chaininterface.FeeratePerKwFloor (253 sat/kw) is raised to it, since nothing
// below relays. Fees are computed on weights estimated before signing (see MaxSignatureLen), never
// below the signed transaction's, so the feerate on the real weight is at least the target.
//
// Fee cap: an event's MaxFeeSat (when positive) is the most the handler pays, for the whole package of
// a BumpChannelClose and for the transaction of a BumpHTLCResolution. When the target feerate would
// need more, the handler pays up to the cap, at the highest feerate the cap allows, and logs a warning:
// a transaction that may confirm late is better than none, and the monitor, which repeats the event
// every block, can raise the cap. It returns ErrFeeCapExceeded, broadcasting nothing, only when the cap
// allows no useful transaction: a feerate below chaininterface.FeeratePerKwFloor, a package feerate not
// above the commitment's own, or a replacement of the claim's earlier transaction (which must pay more
// than it). MaxFeeSat ≤ 0 means no cap.
//
// Replacements: the handler remembers, per claim, the fee and weight of the last transaction it
// broadcast (in memory; see ReleaseClaim). A repeat that no longer spends one of that transaction's
// required inputs (an HTLC the monitor dropped from the claim because a confirmed transaction spent it)
// is handled as new: that confirmed spend evicted the earlier transaction, so there is nothing to
// replace. Otherwise a repeat first asks coin selection for the higher of the new target and the
// feerate it asked last time, so that an unchanged target and wallet rebuild the same transaction,
// which is re-broadcast (the ChannelMonitor repeats a target when its rise would be below the
// incremental relay feerate). A different transaction must replace the earlier one (BIP 125 as
// Bitcoin Core applies it): it pays at least the earlier fee plus IncrementalRelayFeeratePerKw times
// its weight, a feerate of its own higher by IncrementalRelayFeeratePerKw (a margin over Bitcoin Core's
// rule 6 that absorbs estimation and vsize rounding) and, for a CPFP child, a higher package feerate;
// the handler raises the fee until it does.
//
// Errors are returned, with nothing broadcast, when the event is malformed (ErrInvalidRequest), the
// wallet cannot pay (ErrInsufficientFunds), the cap allows nothing useful (ErrFeeCapExceeded), coin
// selection is unusable (ErrCoinSelection) or signing fails (ErrSigning). The monitor repeats the event
// at the next block, so a host may log these errors rather than return them from its events.Handler
// (which would hold back the events queued after it).
type BumpTransactionEventHandler struct {
	broadcaster chaininterface.BroadcasterInterface
	coins       CoinSelectionSource
	signers     keys.SignerProvider
	log         *slog.Logger

	mu     sync.Mutex
	claims map[events.ClaimID]*claim
}

// claim is the handler's state for one ClaimID.
type claim struct {
	mu   sync.Mutex // held while an event of the claim is handled
	refs int        // holders and waiters of mu; guarded by the handler's mu
	last *lastBroadcast
}

// lastBroadcast describes the last transaction broadcast for a claim.
type lastBroadcast struct {
	txid       chainhash.Hash  // the replaceable transaction: the child, or the HTLC transaction
	required   []wire.OutPoint // its required inputs: the anchor, or the HTLC outputs
	txFeeSat   int64           // its fee
	txWeight   int64           // its estimated weight, WU
	pkgFeeSat  int64           // fee of the package (commitment + child; the HTLC transaction alone)
	pkgWeight  int64           // estimated weight of the package, WU
	selFeerate uint32          // feerate asked of coin selection, sat/kw
}

// NewBumpTransactionEventHandler returns a handler that funds transactions from coins, signs anchor and
// HTLC inputs with channel signers re-derived by signers (keys.SignerProvider.DeriveChannelSigner from
// the descriptors' ChannelDerivationParameters), broadcasts with broadcaster and logs to logger (nil:
// discard). Errors: ErrNilArgument when broadcaster, coins or signers is nil.
func NewBumpTransactionEventHandler(broadcaster chaininterface.BroadcasterInterface, coins CoinSelectionSource,
	signers keys.SignerProvider, logger *slog.Logger) (*BumpTransactionEventHandler, error) {
	switch {
	case broadcaster == nil:
		return nil, fmt.Errorf("%w: BroadcasterInterface", ErrNilArgument)
	case coins == nil:
		return nil, fmt.Errorf("%w: CoinSelectionSource", ErrNilArgument)
	case signers == nil:
		return nil, fmt.Errorf("%w: SignerProvider", ErrNilArgument)
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &BumpTransactionEventHandler{
		broadcaster: broadcaster, coins: coins, signers: signers, log: logger,
		claims: make(map[events.ClaimID]*claim),
	}, nil
}

// HandleEvent builds, signs and broadcasts what e asks for (events.BumpChannelClose or
// events.BumpHTLCResolution, as values or pointers). It returns nil once the transactions are handed to
// the broadcaster, and otherwise an error wrapping ErrInvalidRequest, ErrInsufficientFunds,
// ErrFeeCapExceeded, ErrCoinSelection or ErrSigning, having broadcast nothing.
func (h *BumpTransactionEventHandler) HandleEvent(e events.BumpTransaction) error {
	switch ev := e.(type) {
	case events.BumpChannelClose:
		return h.handleChannelClose(&ev)
	case *events.BumpChannelClose:
		if ev == nil {
			return fmt.Errorf("%w: nil event", ErrInvalidRequest)
		}
		return h.handleChannelClose(ev)
	case events.BumpHTLCResolution:
		return h.handleHTLCResolution(&ev)
	case *events.BumpHTLCResolution:
		if ev == nil {
			return fmt.Errorf("%w: nil event", ErrInvalidRequest)
		}
		return h.handleHTLCResolution(ev)
	default:
		return fmt.Errorf("%w: unknown event %T", ErrInvalidRequest, e)
	}
}

// ReleaseClaim forgets what the handler remembers of claimID (its last transaction) and, if the
// CoinSelectionSource has a ReleaseClaim(events.ClaimID) method (Wallet does), releases the claim's
// UTXO locks too. Call it once the claim is resolved (its transaction confirmed deeply) or abandoned.
func (h *BumpTransactionEventHandler) ReleaseClaim(claimID events.ClaimID) {
	h.mu.Lock()
	delete(h.claims, claimID)
	h.mu.Unlock()
	if r, ok := h.coins.(interface{ ReleaseClaim(events.ClaimID) }); ok {
		r.ReleaseClaim(claimID)
	}
}

// withClaim runs f holding claimID's lock and returns what f returns.
func (h *BumpTransactionEventHandler) withClaim(claimID events.ClaimID, f func(c *claim) ([]*wire.MsgTx, error)) ([]*wire.MsgTx, error) {
	h.mu.Lock()
	c := h.claims[claimID]
	if c == nil {
		c = &claim{}
		h.claims[claimID] = c
	}
	c.refs++
	h.mu.Unlock()

	c.mu.Lock()
	txs, err := f(c)
	keep := c.last != nil
	c.mu.Unlock()

	h.mu.Lock()
	c.refs--
	if c.refs == 0 && !keep && h.claims[claimID] == c {
		delete(h.claims, claimID)
	}
	h.mu.Unlock()
	return txs, err
}

// handleChannelClose answers a BumpChannelClose: the commitment alone if it pays the target, else the
// commitment and a CPFP child spending our anchor (BOLT 3, "to_local_anchor and to_remote_anchor Output
// (option_anchors)"; LDK's handle_channel_close).
func (h *BumpTransactionEventHandler) handleChannelClose(e *events.BumpChannelClose) error {
	if err := checkChannelClose(e); err != nil {
		return err
	}
	commitment := e.CommitmentTx
	commitTxid := commitment.TxHash()
	target := clampTarget(e.PackageTargetFeeratePerKw)
	wc := TxWeight(commitment)
	if meetsFeerate(e.CommitmentTxFeeSat, wc, target) {
		h.log.Info("bumptx: commitment pays the target on its own", "commitment", commitTxid,
			"feerate_per_kw", feerateOf(e.CommitmentTxFeeSat, wc), "target_per_kw", target)
		h.broadcaster.BroadcastTransactions(commitment)
		return nil
	}

	anchor := &e.Anchor
	p := &plan{
		claimID:      e.ClaimID,
		target:       target,
		maxFeeSat:    e.MaxFeeSat,
		parentFeeSat: e.CommitmentTxFeeSat,
		parentWeight: wc,
		inputs: []Input{{
			OutPoint:           anchor.OutPoint,
			PrevOut:            wire.TxOut{Value: anchor.ValueSat, PkScript: bolt3.WitnessScriptHash(anchor.WitnessScript)},
			SatisfactionWeight: anchorSatisfactionWeight(anchor.WitnessScript),
		}},
		sequences: []uint32{walletInputSequence},
	}
	txs, err := h.withClaim(e.ClaimID, func(c *claim) ([]*wire.MsgTx, error) {
		f, err := h.fund(c, p)
		if err != nil {
			return nil, err
		}
		child, err := h.signWallet(f)
		if err != nil {
			return nil, err
		}
		signer := h.signers.DeriveChannelSigner(anchor.Channel.ValueSat, anchor.Channel.KeysID)
		if signer == nil {
			return nil, fmt.Errorf("%w: no channel signer for keys id %x", ErrSigning, anchor.Channel.KeysID[:4])
		}
		sig, err := signer.SignAnchor(child, 0, anchor.WitnessScript, anchor.ValueSat)
		if err != nil {
			return nil, fmt.Errorf("%w: anchor input: %w", ErrSigning, err)
		}
		child.TxIn[0].Witness = bolt3.AnchorWitness(anchor.WitnessScript, append(sig.Serialize(), byte(txscript.SigHashAll)))
		h.record(c, f, child)
		h.log.Info("bumptx: broadcasting commitment with CPFP child", "claim", fmt.Sprintf("%x", e.ClaimID[:]),
			"commitment", commitTxid, "child", child.TxHash(), "package_fee_sat", f.pkgFeeSat,
			"package_feerate_per_kw", feerateOf(f.pkgFeeSat, f.pkgWeight), "target_per_kw", target)
		return []*wire.MsgTx{commitment, child}, nil
	})
	if err != nil {
		return fmt.Errorf("bumptx: commitment %s: %w", commitTxid, err)
	}
	h.broadcaster.BroadcastTransactions(txs...)
	return nil
}

// handleHTLCResolution answers a BumpHTLCResolution with one transaction spending every HTLC with its
// second-stage output at the same index, plus wallet inputs and change (BOLT 3, "HTLC-Timeout and
// HTLC-Success Transactions", option_anchors; LDK's handle_htlc_resolution).
func (h *BumpTransactionEventHandler) handleHTLCResolution(e *events.BumpHTLCResolution) error {
	if err := checkHTLCResolution(e); err != nil {
		return err
	}
	p := &plan{
		claimID:   e.ClaimID,
		target:    clampTarget(e.TargetFeeratePerKw),
		maxFeeSat: e.MaxFeeSat,
		lockTime:  e.TxLockTime,
	}
	for i := range e.HTLCDescriptors {
		d := &e.HTLCDescriptors[i]
		p.inputs = append(p.inputs, Input{
			OutPoint:           wire.OutPoint{Hash: d.CommitmentTxid, Index: d.OutputIndex},
			PrevOut:            wire.TxOut{Value: d.ValueSat, PkScript: bolt3.WitnessScriptHash(d.WitnessScript)},
			SatisfactionWeight: htlcSatisfactionWeight(d),
		})
		p.sequences = append(p.sequences, d.Sequence)
		p.outputs = append(p.outputs, &wire.TxOut{Value: d.SecondStageOutput.Value,
			PkScript: append([]byte(nil), d.SecondStageOutput.PkScript...)})
	}
	txs, err := h.withClaim(e.ClaimID, func(c *claim) ([]*wire.MsgTx, error) {
		f, err := h.fund(c, p)
		if err != nil {
			return nil, err
		}
		tx, err := h.signWallet(f)
		if err != nil {
			return nil, err
		}
		type signerKey struct {
			id    [32]byte
			value int64
		}
		signers := make(map[signerKey]keys.ChannelSigner)
		for i := range e.HTLCDescriptors {
			d := &e.HTLCDescriptors[i]
			k := signerKey{d.Channel.KeysID, d.Channel.ValueSat}
			s, ok := signers[k]
			if !ok {
				s = h.signers.DeriveChannelSigner(d.Channel.ValueSat, d.Channel.KeysID)
				if s == nil {
					return nil, fmt.Errorf("%w: no channel signer for keys id %x", ErrSigning, d.Channel.KeysID[:4])
				}
				signers[k] = s
			}
			sig, err := s.SignHolderHTLCTx(tx, i, d.WitnessScript, d.ValueSat, d.PerCommitmentPoint, txscript.SigHashAll)
			if err != nil {
				return nil, fmt.Errorf("%w: HTLC input %d: %w", ErrSigning, i, err)
			}
			theirs := append(append([]byte(nil), d.CounterpartySig...), byte(txscript.SigHashSingle|txscript.SigHashAnyOneCanPay))
			ours := append(sig.Serialize(), byte(txscript.SigHashAll))
			if d.Offered {
				tx.TxIn[i].Witness = bolt3.HTLCTimeoutWitness(d.WitnessScript, theirs, ours)
			} else {
				tx.TxIn[i].Witness = bolt3.HTLCSuccessWitness(d.WitnessScript, theirs, ours, *d.Preimage)
			}
		}
		h.record(c, f, tx)
		h.log.Info("bumptx: broadcasting HTLC transaction", "claim", fmt.Sprintf("%x", e.ClaimID[:]),
			"tx", tx.TxHash(), "htlcs", len(e.HTLCDescriptors), "fee_sat", f.pkgFeeSat,
			"feerate_per_kw", feerateOf(f.pkgFeeSat, f.pkgWeight), "target_per_kw", p.target)
		return []*wire.MsgTx{tx}, nil
	})
	if err != nil {
		return fmt.Errorf("bumptx: HTLC resolution of %d HTLCs: %w", len(e.HTLCDescriptors), err)
	}
	h.broadcaster.BroadcastTransactions(txs...)
	return nil
}

// record remembers tx, the signed form of f.tx, as the claim's last broadcast, and warns if the
// signatures made it heavier than estimated (a WalletSource understating SatisfactionWeight).
func (h *BumpTransactionEventHandler) record(c *claim, f *funded, tx *wire.MsgTx) {
	if real := TxWeight(tx); real > f.weight {
		h.log.Warn("bumptx: signed transaction heavier than estimated; feerate below target", "tx", tx.TxHash(),
			"weight", real, "estimated", f.weight)
	}
	required := make([]wire.OutPoint, len(f.required))
	copy(required, f.required)
	c.last = &lastBroadcast{txid: tx.TxHash(), required: required, txFeeSat: f.pkgFeeSat - f.parentFeeSat, txWeight: f.weight,
		pkgFeeSat: f.pkgFeeSat, pkgWeight: f.pkgWeight, selFeerate: f.selFeerate}
}

// signWallet has the CoinSelectionSource sign its inputs of f.tx and checks that it changed nothing
// else.
func (h *BumpTransactionEventHandler) signWallet(f *funded) (*wire.MsgTx, error) {
	signed, err := h.coins.SignTx(f.tx.Copy(), f.prevOuts)
	if err != nil {
		return nil, fmt.Errorf("%w: wallet inputs: %w", ErrSigning, err)
	}
	if signed == nil || signed.TxHash() != f.tx.TxHash() || len(signed.TxIn) != len(f.tx.TxIn) {
		return nil, fmt.Errorf("%w: the wallet changed the transaction it signed", ErrSigning)
	}
	for i := range signed.TxIn {
		if signed.TxIn[i] == nil {
			return nil, fmt.Errorf("%w: the wallet removed input %d", ErrSigning, i)
		}
	}
	return signed, nil
}

// clampTarget raises a target below chaininterface.FeeratePerKwFloor to it: nothing below relays.
func clampTarget(feeratePerKw uint32) uint32 {
	if feeratePerKw < chaininterface.FeeratePerKwFloor {
		return chaininterface.FeeratePerKwFloor
	}
	return feeratePerKw
}

// checkChannelClose validates a BumpChannelClose.
func checkChannelClose(e *events.BumpChannelClose) error {
	tx := e.CommitmentTx
	if tx == nil || len(tx.TxIn) == 0 || len(tx.TxOut) == 0 {
		return fmt.Errorf("%w: no commitment transaction", ErrInvalidRequest)
	}
	for i, in := range tx.TxIn {
		if in == nil || len(in.Witness) == 0 {
			return fmt.Errorf("%w: commitment input %d is not signed", ErrInvalidRequest, i)
		}
	}
	for i, out := range tx.TxOut {
		if out == nil {
			return fmt.Errorf("%w: commitment output %d missing", ErrInvalidRequest, i)
		}
	}
	if w := TxWeight(tx); w > maxWeight {
		return fmt.Errorf("%w: commitment weight %d", ErrInvalidRequest, w)
	}
	if e.CommitmentTxFeeSat < 0 || e.CommitmentTxFeeSat > btcutil.MaxSatoshi {
		return fmt.Errorf("%w: commitment fee %d sat", ErrInvalidRequest, e.CommitmentTxFeeSat)
	}
	a := &e.Anchor
	if a.OutPoint.Hash != tx.TxHash() || int(a.OutPoint.Index) >= len(tx.TxOut) {
		return fmt.Errorf("%w: anchor %v is not an output of commitment %s", ErrInvalidRequest, a.OutPoint, tx.TxHash())
	}
	if len(a.WitnessScript) == 0 {
		return fmt.Errorf("%w: anchor without witness script", ErrInvalidRequest)
	}
	out := tx.TxOut[a.OutPoint.Index]
	if out.Value != a.ValueSat || !bytes.Equal(out.PkScript, bolt3.WitnessScriptHash(a.WitnessScript)) {
		return fmt.Errorf("%w: commitment output %d (%d sat) is not the anchor described (%d sat)", ErrInvalidRequest,
			a.OutPoint.Index, out.Value, a.ValueSat)
	}
	return nil
}

// checkHTLCResolution validates a BumpHTLCResolution.
func checkHTLCResolution(e *events.BumpHTLCResolution) error {
	if len(e.HTLCDescriptors) == 0 {
		return fmt.Errorf("%w: no HTLC descriptors", ErrInvalidRequest)
	}
	seen := make(map[wire.OutPoint]bool, len(e.HTLCDescriptors))
	for i := range e.HTLCDescriptors {
		d := &e.HTLCDescriptors[i]
		op := wire.OutPoint{Hash: d.CommitmentTxid, Index: d.OutputIndex}
		switch {
		case seen[op]:
			return fmt.Errorf("%w: HTLC %v twice", ErrInvalidRequest, op)
		case d.PerCommitmentPoint == nil:
			return fmt.Errorf("%w: HTLC %d has no per-commitment point", ErrInvalidRequest, i)
		case len(d.WitnessScript) == 0 || len(d.CounterpartySig) == 0 || len(d.CounterpartySig) > 72:
			return fmt.Errorf("%w: HTLC %d lacks its witness script or counterparty signature", ErrInvalidRequest, i)
		case d.ValueSat <= 0 || d.ValueSat > btcutil.MaxSatoshi:
			return fmt.Errorf("%w: HTLC %d value %d sat", ErrInvalidRequest, i, d.ValueSat)
		case d.SecondStageOutput.Value < 0 || d.SecondStageOutput.Value > btcutil.MaxSatoshi || len(d.SecondStageOutput.PkScript) == 0:
			return fmt.Errorf("%w: HTLC %d second-stage output", ErrInvalidRequest, i)
		case !d.Offered && d.Preimage == nil:
			return fmt.Errorf("%w: HTLC-success %d without a preimage", ErrInvalidRequest, i)
		case d.Offered && d.CltvExpiry != e.TxLockTime:
			// The counterparty's SIGHASH_SINGLE|ANYONECANPAY signature commits to nLockTime: cltv_expiry
			// for HTLC-timeout, 0 for HTLC-success (BOLT 3). One transaction holds one kind.
			return fmt.Errorf("%w: HTLC-timeout %d was signed with lock time %d, not %d", ErrInvalidRequest, i,
				d.CltvExpiry, e.TxLockTime)
		case !d.Offered && e.TxLockTime != 0:
			return fmt.Errorf("%w: HTLC-success %d was signed with lock time 0, not %d", ErrInvalidRequest, i, e.TxLockTime)
		}
		seen[op] = true
	}
	return nil
}
