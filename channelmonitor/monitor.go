// Package channelmonitor watches the chain for each channel and acts on it without the ChannelManager:
// it holds every channel state the manager ever relied on (our latest commitment signed by the
// counterparty, the commitments we signed for them, their revocation secrets, preimages), broadcasts our
// commitment on a force close, sweeps our outputs once their delays pass, and takes a cheating
// counterparty's funds with a justice transaction. A ChainMonitor holds the monitors, persists them
// through Persist before the manager may rely on an update, and feeds them blocks.
package channelmonitor

import (
	"bytes"
	"errors"
	"fmt"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/keys"
)

// Errors returned by ChannelMonitor.Update.
var (
	// ErrUpdateOutOfOrder: the update's UpdateID is not the next one.
	ErrUpdateOutOfOrder = errors.New("channelmonitor: update out of order")
	// ErrInvalidUpdate: the update contradicts what the monitor knows (e.g. an inconsistent secret).
	ErrInvalidUpdate = errors.New("channelmonitor: invalid update")
)

// sweepKind says what a sweep spends.
type sweepKind uint8

const (
	sweepToLocal  sweepKind = iota // our to_local after to_self_delay
	sweepToRemote                  // our to_remote on their commitment
	sweepJustice                   // a revoked commitment's outputs
)

// sweep is a transaction the monitor broadcasts to take an output of ours.
type sweep struct {
	Kind        sweepKind
	Tx          *wire.MsgTx // fully signed
	ValidHeight uint32      // first block height that can include it (CSV)
	ConfHeight  uint32      // 0 until confirmed
	Reported    bool        // SpendableOutputs queued
}

// ChannelMonitor watches one channel. It is safe for concurrent use.
type ChannelMonitor struct {
	mu             sync.Mutex
	params         ChannelParameters
	signer         keys.ChannelSigner
	latestUpdateID uint64
	holder         *LatestHolderCommitment
	// counterparty holds the commitments we signed for the counterparty, by txid.
	counterparty   map[chainhash.Hash]*LatestCounterpartyCommitment
	secrets        *keys.CounterpartyCommitmentSecrets
	preimages      map[[32]byte][32]byte
	shutdownScript []byte
	forceClosed    bool // our commitment must be broadcast until the funding output is spent

	bestHeight     uint32
	fundingSpendTx *wire.MsgTx
	fundingSpendAt uint32
	sweeps         []*sweep
	staticReported bool // the cooperative close output was reported

	chainDirty    bool // chain state changed since the last takeDirty
	pendingEvents []events.Event
	monitorEvents []MonitorEvent
}

// NewChannelMonitor creates the monitor of a newly funded channel from its parameters, the channel
// signer, and both first commitments (BOLT 2: before `funding_signed` is sent, or the funding
// transaction broadcast). Errors: ErrInvalidUpdate for missing data.
func NewChannelMonitor(params ChannelParameters, signer keys.ChannelSigner, holder *LatestHolderCommitment, counterparty *LatestCounterpartyCommitment) (*ChannelMonitor, error) {
	if signer == nil || holder == nil || holder.Tx == nil || counterparty == nil || counterparty.PerCommitmentPoint == nil {
		return nil, fmt.Errorf("%w: incomplete initial state", ErrInvalidUpdate)
	}
	m := &ChannelMonitor{params: params, signer: signer, holder: holder,
		counterparty: map[chainhash.Hash]*LatestCounterpartyCommitment{counterparty.Txid: counterparty},
		secrets:      keys.NewCounterpartyCommitmentSecrets(), preimages: map[[32]byte][32]byte{}}
	return m, nil
}

// ChannelID returns the monitored channel's id.
func (m *ChannelMonitor) ChannelID() [32]byte { return m.params.ChannelID }

// FundingTxo returns the funding outpoint.
func (m *ChannelMonitor) FundingTxo() wire.OutPoint { return m.params.FundingOutPoint }

// LatestUpdateID returns the UpdateID of the last applied update (0 for none).
func (m *ChannelMonitor) LatestUpdateID() uint64 {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.latestUpdateID
}

// Update applies an update. UpdateIDs must follow one another; an update already applied (UpdateID not
// above the latest) is ignored. Errors: ErrUpdateOutOfOrder, ErrInvalidUpdate.
func (m *ChannelMonitor) Update(u *ChannelMonitorUpdate) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if u.UpdateID <= m.latestUpdateID && m.latestUpdateID != 0 {
		return nil
	}
	if u.UpdateID != m.latestUpdateID+1 {
		return fmt.Errorf("%w: got %d after %d", ErrUpdateOutOfOrder, u.UpdateID, m.latestUpdateID)
	}
	for _, s := range u.Steps {
		switch st := s.(type) {
		case LatestHolderCommitment:
			c := st
			m.holder = &c
		case *LatestHolderCommitment:
			m.holder = st
		case LatestCounterpartyCommitment:
			c := st
			m.counterparty[c.Txid] = &c
		case *LatestCounterpartyCommitment:
			m.counterparty[st.Txid] = st
		case CommitmentSecret:
			if known, ok := m.secrets.GetSecretForCommitment(st.CommitmentNumber); ok && known == st.Secret {
				// Given again after a restart from an older manager snapshot (the peer retransmitted
				// its revoke_and_ack): nothing new.
				continue
			}
			if err := m.secrets.ProvideSecret(keys.MaxCommitmentIndex-st.CommitmentNumber, st.Secret); err != nil {
				return fmt.Errorf("%w: %v", ErrInvalidUpdate, err)
			}
		case PaymentPreimage:
			m.preimages[sha256Sum(st.Preimage[:])] = st.Preimage
		case ChannelForceClosed:
			if st.ShouldBroadcast {
				m.forceClosed = true
			}
		case ShutdownScript:
			m.shutdownScript = append([]byte(nil), st.Script...)
		default:
			return fmt.Errorf("%w: unknown step %T", ErrInvalidUpdate, s)
		}
	}
	m.latestUpdateID = u.UpdateID
	return nil
}

// signedHolderCommitment returns our latest commitment transaction with both signatures.
func (m *ChannelMonitor) signedHolderCommitment() (*wire.MsgTx, error) {
	tx := m.holder.Tx.Copy()
	ours, err := m.signer.SignFundingInput(tx, 0, m.params.FundingScript, m.params.FundingValueSat)
	if err != nil {
		return nil, err
	}
	theirs, err := m.holder.CounterpartySig.ToSignature()
	if err != nil {
		return nil, err
	}
	tx.TxIn[0].Witness = bolt3.FundingWitness(m.params.FundingScript,
		m.params.HolderPubkeys.FundingPubkey, append(ours.Serialize(), byte(txscript.SigHashAll)),
		m.params.CounterpartyPubkeys.FundingPubkey, append(theirs.Serialize(), byte(txscript.SigHashAll)))
	return tx, nil
}

// LatestHolderCommitmentTx returns our latest commitment transaction, fully signed: what a force close
// broadcasts.
func (m *ChannelMonitor) LatestHolderCommitmentTx() (*wire.MsgTx, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.signedHolderCommitment()
}

func (m *ChannelMonitor) channelType() bolt3.ChannelType {
	if m.params.Anchors {
		return bolt3.ChannelTypeAnchors
	}
	return bolt3.ChannelTypeStaticRemoteKey
}

// blockConnected processes a block at height; it returns what must be broadcast. feerate is for sweeps.
func (m *ChannelMonitor) blockConnected(txs []*wire.MsgTx, height uint32, feeratePerKw uint32) []*wire.MsgTx {
	m.transactionsConfirmed(txs, height, feeratePerKw)
	return m.bestBlockUpdated(height)
}

// transactionsConfirmed processes transactions confirmed at height (Confirm-style delivery).
func (m *ChannelMonitor) transactionsConfirmed(txs []*wire.MsgTx, height uint32, feeratePerKw uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, tx := range txs {
		txid := tx.TxHash()
		for _, s := range m.sweeps {
			if s.ConfHeight == 0 && s.Tx.TxHash() == txid {
				s.ConfHeight = height
				m.chainDirty = true
			}
		}
		if m.fundingSpendTx != nil {
			continue
		}
		for _, in := range tx.TxIn {
			if in.PreviousOutPoint == m.params.FundingOutPoint {
				m.fundingSpent(tx, height, feeratePerKw)
				m.chainDirty = true
				break
			}
		}
	}
}

// takeDirty says whether the monitor's chain state changed since the last call.
func (m *ChannelMonitor) takeDirty() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	d := m.chainDirty
	m.chainDirty = false
	return d
}

// bestBlockUpdated moves the tip to height and returns what must be (re)broadcast now: our commitment
// after a force close until the funding output is spent, and every sweep whose locks have passed and
// which has not confirmed. It reports swept outputs that are AntiReorgDelay deep.
func (m *ChannelMonitor) bestBlockUpdated(height uint32) []*wire.MsgTx {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bestHeight = height
	var out []*wire.MsgTx
	if m.forceClosed && m.fundingSpendTx == nil {
		if tx, err := m.signedHolderCommitment(); err == nil {
			out = append(out, tx)
		}
	}
	for _, s := range m.sweeps {
		if s.ConfHeight == 0 && height+1 >= s.ValidHeight {
			out = append(out, s.Tx)
		}
		if s.ConfHeight != 0 && !s.Reported && height+1 >= s.ConfHeight+AntiReorgDelay {
			s.Reported = true
			m.chainDirty = true
			m.reportStatic(s.Tx)
		}
	}
	if m.fundingSpendTx != nil && !m.staticReported && m.shutdownScript != nil && height+1 >= m.fundingSpendAt+AntiReorgDelay {
		m.staticReported = true
		m.chainDirty = true
		m.reportStaticTo(m.fundingSpendTx, m.shutdownScript)
	}
	return out
}

// transactionUnconfirmed forgets a transaction reorganised out of the chain.
func (m *ChannelMonitor) transactionUnconfirmed(txid chainhash.Hash) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.fundingSpendTx != nil && m.fundingSpendTx.TxHash() == txid {
		m.fundingSpendTx, m.fundingSpendAt = nil, 0
		m.sweeps = nil
		return
	}
	for _, s := range m.sweeps {
		if s.Tx.TxHash() == txid {
			s.ConfHeight = 0
		}
	}
}

// relevantTxids lists the confirmed transactions this monitor acted on.
func (m *ChannelMonitor) relevantTxids() []chaininterface.RelevantTx {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []chaininterface.RelevantTx
	if m.fundingSpendTx != nil {
		out = append(out, chaininterface.RelevantTx{Txid: m.fundingSpendTx.TxHash(), Height: m.fundingSpendAt})
	}
	for _, s := range m.sweeps {
		if s.ConfHeight != 0 {
			out = append(out, chaininterface.RelevantTx{Txid: s.Tx.TxHash(), Height: s.ConfHeight})
		}
	}
	return out
}

// reportStatic hands the host the sweep's outputs that pay our destination script.
func (m *ChannelMonitor) reportStatic(tx *wire.MsgTx) {
	m.reportStaticTo(tx, m.params.DestinationScript)
}

func (m *ChannelMonitor) reportStaticTo(tx *wire.MsgTx, script []byte) {
	var outs []events.SpendableOutputDescriptor
	for i, o := range tx.TxOut {
		if bytes.Equal(o.PkScript, script) {
			outs = append(outs, events.SpendableOutputDescriptor{Kind: events.StaticOutput,
				OutPoint: wire.OutPoint{Hash: tx.TxHash(), Index: uint32(i)}, Output: *o})
		}
	}
	if len(outs) > 0 {
		m.pendingEvents = append(m.pendingEvents, events.SpendableOutputs{Outputs: outs, ChannelID: m.params.ChannelID})
	}
}

// blockDisconnected forgets what the block at height confirmed.
func (m *ChannelMonitor) blockDisconnected(height uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bestHeight = height - 1
	if m.fundingSpendTx != nil && m.fundingSpendAt >= height {
		m.fundingSpendTx, m.fundingSpendAt = nil, 0
		m.sweeps = nil
	}
	for _, s := range m.sweeps {
		if s.ConfHeight >= height {
			s.ConfHeight = 0
		}
	}
}

// fundingSpent classifies the transaction spending the funding output and prepares the sweeps it calls
// for. The caller holds m.mu.
func (m *ChannelMonitor) fundingSpent(tx *wire.MsgTx, height uint32, feeratePerKw uint32) {
	m.fundingSpendTx, m.fundingSpendAt = tx, height
	kind := MonitorEventCommitmentTxConfirmed
	switch {
	case tx.TxHash() == m.holder.Tx.TxHash():
		m.sweepHolderToLocal(tx, height, feeratePerKw)
	case m.isCommitment(tx):
		m.counterpartyCommitmentConfirmed(tx, height, feeratePerKw)
	default:
		kind = MonitorEventCooperativeClose
	}
	m.forceClosed = false
	m.monitorEvents = append(m.monitorEvents, MonitorEvent{Kind: kind, ChannelID: m.params.ChannelID, FundingTxo: m.params.FundingOutPoint})
}

// isCommitment says whether tx looks like a commitment transaction: BOLT 3 sets the upper byte of the
// locktime to 0x20 and of the sequence to 0x80.
func (m *ChannelMonitor) isCommitment(tx *wire.MsgTx) bool {
	return len(tx.TxIn) == 1 && tx.LockTime>>24 == 0x20 && tx.TxIn[0].Sequence>>24 == 0x80
}

// sweepTx builds a one-output transaction paying the destination script, spending inputs with the
// given sequences; the fee is feerate times the estimated weight.
func (m *ChannelMonitor) sweepTx(ins []wire.OutPoint, seqs []uint32, totalSat int64, witnessWeight int64, feeratePerKw uint32) (*wire.MsgTx, bool) {
	tx := wire.NewMsgTx(2)
	for i, op := range ins {
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: op, Sequence: seqs[i]})
	}
	// Base weight: 4 * (version, locktime, counts, inputs, output) plus marker/flag and witnesses.
	base := int64(4*(4+4+1+1+41*len(ins)+8+1+len(m.params.DestinationScript)) + 2)
	fee := (base + witnessWeight) * int64(feeratePerKw) / 1000
	if totalSat-fee < 330 {
		return nil, false
	}
	tx.AddTxOut(&wire.TxOut{Value: totalSat - fee, PkScript: m.params.DestinationScript})
	return tx, true
}

// sweepHolderToLocal prepares the spend of our to_local output after to_self_delay.
func (m *ChannelMonitor) sweepHolderToLocal(tx *wire.MsgTx, height uint32, feeratePerKw uint32) {
	point, err := m.signer.GetPerCommitmentPoint(m.holder.CommitmentNumber)
	if err != nil {
		return
	}
	revKey := keys.DeriveRevocationPublicKey(m.params.CounterpartyPubkeys.RevocationBasepoint, point)
	delayedKey := keys.DerivePublicKey(m.params.HolderPubkeys.DelayedPaymentBasepoint, point)
	script, err := bolt3.ToLocalScript(revKey, delayedKey, m.params.HolderToSelfDelay)
	if err != nil {
		return
	}
	pk := bolt3.WitnessScriptHash(script)
	for i, o := range tx.TxOut {
		if !bytes.Equal(o.PkScript, pk) {
			continue
		}
		op := wire.OutPoint{Hash: tx.TxHash(), Index: uint32(i)}
		sw, ok := m.sweepTx([]wire.OutPoint{op}, []uint32{uint32(m.params.HolderToSelfDelay)}, o.Value, 1+73+1+int64(len(script))+3, feeratePerKw)
		if !ok {
			return
		}
		sig, err := m.signer.SignDelayedOutput(sw, 0, script, o.Value, point)
		if err != nil {
			return
		}
		sw.TxIn[0].Witness = bolt3.ToLocalDelayedWitness(script, append(sig.Serialize(), byte(txscript.SigHashAll)))
		m.sweeps = append(m.sweeps, &sweep{Kind: sweepToLocal, Tx: sw, ValidHeight: height + uint32(m.params.HolderToSelfDelay)})
	}
}

// counterpartyCommitmentConfirmed handles a counterparty commitment on chain: a revoked one is punished
// (every output we can take goes into one justice transaction); a current one gives us our to_remote.
func (m *ChannelMonitor) counterpartyCommitmentConfirmed(tx *wire.MsgTx, height uint32, feeratePerKw uint32) {
	num, err := bolt3.DecodeCommitmentNumber(tx.LockTime, tx.TxIn[0].Sequence, m.params.ObscuringFactor)
	if err != nil {
		return
	}
	ct := m.channelType()
	txid := tx.TxHash()
	// Our to_remote output, on any of their commitments.
	remotePk, remoteWs, err := bolt3.ToRemoteScript(m.params.HolderPubkeys.PaymentPoint, ct)
	if err != nil {
		return
	}
	secret, revoked := m.secrets.GetSecret(keys.MaxCommitmentIndex - num)
	if !revoked {
		for i, o := range tx.TxOut {
			if !bytes.Equal(o.PkScript, remotePk) {
				continue
			}
			seq, valid := uint32(wire.MaxTxInSequenceNum), height
			signScript, wWeight := remotePk, int64(1+73+1+34)
			if ct.HasAnchors() {
				seq, valid, signScript, wWeight = 1, height+1, remoteWs, int64(1+73+1+len(remoteWs))
			}
			sw, ok := m.sweepTx([]wire.OutPoint{{Hash: txid, Index: uint32(i)}}, []uint32{seq}, o.Value, wWeight, feeratePerKw)
			if !ok {
				return
			}
			sig, err := m.signer.SignPaymentOutput(sw, 0, signScript, o.Value)
			if err != nil {
				return
			}
			wit, err := bolt3.ToRemoteWitness(append(sig.Serialize(), byte(txscript.SigHashAll)), m.params.HolderPubkeys.PaymentPoint, ct)
			if err != nil {
				return
			}
			sw.TxIn[0].Witness = wit
			m.sweeps = append(m.sweeps, &sweep{Kind: sweepToRemote, Tx: sw, ValidHeight: valid})
		}
		return
	}
	// Revoked: derive their keys for commitment num from the revealed secret.
	_, point := btcec.PrivKeyFromBytes(secret[:])
	revKey := keys.DeriveRevocationPublicKey(m.params.HolderPubkeys.RevocationBasepoint, point)
	theirDelayed := keys.DerivePublicKey(m.params.CounterpartyPubkeys.DelayedPaymentBasepoint, point)
	toLocal, err := bolt3.ToLocalScript(revKey, theirDelayed, m.params.CounterpartyToSelfDelay)
	if err != nil {
		return
	}
	type input struct {
		op     wire.OutPoint
		value  int64
		script []byte
		kind   int // 0 to_local, 1 htlc, 2 to_remote
	}
	var ins []input
	toLocalPk := bolt3.WitnessScriptHash(toLocal)
	htlcScripts := map[string][]byte{}
	if info := m.counterparty[txid]; info != nil {
		theirHTLC := keys.DerivePublicKey(m.params.CounterpartyPubkeys.HTLCBasepoint, point)
		ourHTLC := keys.DerivePublicKey(m.params.HolderPubkeys.HTLCBasepoint, point)
		for _, h := range info.HTLCs {
			if h.OutputIndex < 0 {
				continue
			}
			var s []byte
			if h.Offered {
				s, err = bolt3.OfferedHTLCScript(revKey, theirHTLC, ourHTLC, h.PaymentHash, ct)
			} else {
				s, err = bolt3.ReceivedHTLCScript(revKey, theirHTLC, ourHTLC, h.PaymentHash, h.CltvExpiry, ct)
			}
			if err == nil {
				htlcScripts[string(bolt3.WitnessScriptHash(s))] = s
			}
		}
	}
	for i, o := range tx.TxOut {
		op := wire.OutPoint{Hash: txid, Index: uint32(i)}
		switch {
		case bytes.Equal(o.PkScript, toLocalPk):
			ins = append(ins, input{op, o.Value, toLocal, 0})
		case htlcScripts[string(o.PkScript)] != nil:
			ins = append(ins, input{op, o.Value, htlcScripts[string(o.PkScript)], 1})
		case bytes.Equal(o.PkScript, remotePk) && !ct.HasAnchors():
			ins = append(ins, input{op, o.Value, remotePk, 2})
		}
	}
	if len(ins) == 0 {
		return
	}
	ops := make([]wire.OutPoint, len(ins))
	seqs := make([]uint32, len(ins))
	var total, wWeight int64
	for i, in := range ins {
		ops[i], seqs[i] = in.op, wire.MaxTxInSequenceNum
		total += in.value
		wWeight += 1 + 73 + 34 + int64(len(in.script)) + 3
	}
	sw, ok := m.sweepTx(ops, seqs, total, wWeight, feeratePerKw)
	if !ok {
		return
	}
	for i, in := range ins {
		switch in.kind {
		case 0, 1:
			sig, err := m.signer.SignJustice(sw, i, in.script, in.value, secret)
			if err != nil {
				return
			}
			s := append(sig.Serialize(), byte(txscript.SigHashAll))
			if in.kind == 0 {
				sw.TxIn[i].Witness = bolt3.ToLocalRevokeWitness(in.script, s)
			} else if w, err := bolt3.HTLCRevokeWitness(in.script, s, revKey); err == nil {
				sw.TxIn[i].Witness = w
			} else {
				return
			}
		case 2:
			sig, err := m.signer.SignPaymentOutput(sw, i, in.script, in.value)
			if err != nil {
				return
			}
			w, err := bolt3.ToRemoteWitness(append(sig.Serialize(), byte(txscript.SigHashAll)), m.params.HolderPubkeys.PaymentPoint, ct)
			if err != nil {
				return
			}
			sw.TxIn[i].Witness = w
		}
	}
	m.sweeps = append(m.sweeps, &sweep{Kind: sweepJustice, Tx: sw, ValidHeight: height})
	// With anchors our to_remote has a 1-block CSV: sweep it on its own.
	if ct.HasAnchors() {
		for i, o := range tx.TxOut {
			if !bytes.Equal(o.PkScript, remotePk) {
				continue
			}
			rs, ok := m.sweepTx([]wire.OutPoint{{Hash: txid, Index: uint32(i)}}, []uint32{1}, o.Value, int64(1+73+1+len(remoteWs)), feeratePerKw)
			if !ok {
				continue
			}
			sig, err := m.signer.SignPaymentOutput(rs, 0, remoteWs, o.Value)
			if err != nil {
				continue
			}
			if w, err := bolt3.ToRemoteWitness(append(sig.Serialize(), byte(txscript.SigHashAll)), m.params.HolderPubkeys.PaymentPoint, ct); err == nil {
				rs.TxIn[0].Witness = w
				m.sweeps = append(m.sweeps, &sweep{Kind: sweepToRemote, Tx: rs, ValidHeight: height + 1})
			}
		}
	}
}

// takeEvents returns and clears the monitor's pending events.
func (m *ChannelMonitor) takeEvents() ([]events.Event, []MonitorEvent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, me := m.pendingEvents, m.monitorEvents
	m.pendingEvents, m.monitorEvents = nil, nil
	return e, me
}
