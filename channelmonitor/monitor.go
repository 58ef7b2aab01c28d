// Package channelmonitor watches the chain for each channel and acts on it without the ChannelManager:
// it holds every channel state the manager ever relied on (our latest commitment signed by the
// counterparty, the commitments we signed for them, their revocation secrets, preimages), goes on
// chain when an HTLC's deadline requires it, and once the funding output is spent resolves every output
// as BOLT 5 says: our delayed outputs after their delay, HTLCs by timeout or preimage, a cheater's
// outputs with justice transactions. A ChainMonitor holds the monitors, persists them through Persist
// before the manager may rely on an update, feeds them blocks, and relays what they produce: claims to
// broadcast, BumpTransaction and SpendableOutputs events for the host, MonitorEvents for the manager.
// ARCH.md, "On chain", explains the flow.
package channelmonitor

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
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

// commitmentBump remembers the fee schedule of our commitment's CPFP (anchor channels).
type commitmentBump struct {
	Created      uint32 // height of the first bump
	FeeratePerKw uint32 // last target
}

// ChannelMonitor watches one channel. It is safe for concurrent use.
type ChannelMonitor struct {
	mu             sync.Mutex
	log            *slog.Logger
	params         ChannelParameters
	signer         keys.ChannelSigner
	latestUpdateID uint64
	holder         *LatestHolderCommitment
	prevHolder     *LatestHolderCommitment
	// counterparty holds the commitments we signed for the counterparty, by txid. Revoked ones without
	// HTLC outputs are dropped: their to_local is found from the secret alone.
	counterparty map[chainhash.Hash]*LatestCounterpartyCommitment
	// superseded holds the unrevoked counterparty commitments another one of the same number replaced.
	// A manager restarted from a snapshot older than its monitor signs a number again only when the
	// peer never got the first one (its messages never left before the crash, or reestablish would
	// have found us behind): they are kept to be recognised on chain, but their HTLCs are nobody's.
	superseded     map[chainhash.Hash]bool
	secrets        *keys.CounterpartyCommitmentSecrets
	preimages      map[[32]byte][32]byte
	shutdownScript []byte
	closingTx      *wire.MsgTx // the agreed cooperative close, rebroadcast until the funding is spent
	// holderBroadcast: our latest commitment must get on chain (a force close, ours or the monitor's);
	// it is rebroadcast while the funding output is unspent, also after a reorganisation.
	holderBroadcast bool
	// noAutoBroadcast: the manager closed the channel without broadcasting (we may have lost state):
	// never broadcast our commitment on our own.
	noAutoBroadcast bool
	commitBump      commitmentBump

	bestHeight     uint32
	funding        *fundingSpend
	claims         []*claim
	packages       []*claimPackage
	nextPackageID  uint64
	htlcOutcomes   map[htlcKey]*htlcOutcome // our offered HTLCs' reported outcomes
	staticReported bool                     // the cooperative close output was reported

	v1            *v1Chain                       // a version-1 monitor's chain state until the signer is known (reading)
	revKeys       map[[33]byte]*btcec.PublicKey  // revocation keys by counterparty point (revocationKey)
	chainDirty    bool                           // chain state changed since the last takeDirty
	toWatch       []chaininterface.WatchedOutput // claimed outputs to register with the host's Filter
	pendingEvents []events.Event
	monitorEvents []MonitorEvent
	// spendable holds the SpendableOutputs events the host has not handled yet. Nothing would raise
	// them again, so unlike the other events they are persisted with the monitor until handled
	// (ChainMonitor.ProcessPendingEvents): a host that crashes after the block that raised one and
	// before handling it gets it after the restart.
	spendable []events.SpendableOutputs
}

// NewChannelMonitor creates the monitor of a newly funded channel from its parameters, the channel
// signer, and both first commitments (BOLT 2: before `funding_signed` is sent, or the funding
// transaction broadcast). Errors: ErrInvalidUpdate for missing data.
func NewChannelMonitor(params ChannelParameters, signer keys.ChannelSigner, holder *LatestHolderCommitment, counterparty *LatestCounterpartyCommitment) (*ChannelMonitor, error) {
	if signer == nil || holder == nil || holder.Tx == nil || counterparty == nil || counterparty.PerCommitmentPoint == nil {
		return nil, fmt.Errorf("%w: incomplete initial state", ErrInvalidUpdate)
	}
	if err := signer.ProvideChannelParameters(params.SignerParams()); err != nil && !errors.Is(err, keys.ErrSignerPending) {
		return nil, fmt.Errorf("%w: the signer refused the channel's parameters: %w", ErrInvalidUpdate, err)
	}
	m := newMonitor(params, signer)
	m.holder = holder
	m.counterparty[counterparty.Txid] = counterparty
	return m, nil
}

func newMonitor(params ChannelParameters, signer keys.ChannelSigner) *ChannelMonitor {
	return &ChannelMonitor{params: params, signer: signer, log: slog.New(slog.DiscardHandler),
		counterparty: map[chainhash.Hash]*LatestCounterpartyCommitment{}, superseded: map[chainhash.Hash]bool{},
		secrets:   keys.NewCounterpartyCommitmentSecrets(),
		preimages: map[[32]byte][32]byte{}, htlcOutcomes: map[htlcKey]*htlcOutcome{}}
}

// setLogger gives the monitor a logger, tagged with the channel.
func (m *ChannelMonitor) setLogger(l *slog.Logger) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.log = l.With("channel", m.params.ChannelID.String(), "funding", m.params.FundingOutPoint.String())
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

// ForceClosed reports whether the channel is closed by force for the monitor: a ChannelForceClosed
// update told it so, or it went on chain itself for an HTLC's deadline. Our latest commitment may then
// be on its way to the chain, so the channel must never move on: a ChannelManager read back from a
// snapshot written before the close closes the channel again instead of resuming it.
func (m *ChannelMonitor) ForceClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.holderBroadcast || m.noAutoBroadcast
}

// FundingSpent reports whether a transaction spending the funding output is confirmed, and whether it
// is a cooperative close rather than a commitment transaction. The ChannelManager learns it from a
// CommitmentTxConfirmed or CooperativeCloseConfirmed event, which a restart loses if it was not yet
// handled: a ChannelManager read back closes such a channel from this.
func (m *ChannelMonitor) FundingSpent() (spent, cooperative bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.funding == nil {
		return false, false
	}
	return true, m.funding.Kind == spendCooperative
}

// Update applies an update. UpdateIDs must follow one another; an update already applied (UpdateID not
// above the latest) is ignored; ClosedChannelUpdateID updates are applied whenever they come and may
// only carry PaymentPreimage and ChannelForceClosed steps. Errors: ErrUpdateOutOfOrder,
// ErrInvalidUpdate.
func (m *ChannelMonitor) Update(u *ChannelMonitorUpdate) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if u.UpdateID == ClosedChannelUpdateID {
		for _, s := range u.Steps {
			switch s.(type) {
			case PaymentPreimage, ChannelForceClosed:
			default:
				return fmt.Errorf("%w: step %T after the channel closed", ErrInvalidUpdate, s)
			}
		}
		return m.applySteps(u.Steps)
	}
	if u.UpdateID <= m.latestUpdateID && m.latestUpdateID != 0 {
		return nil
	}
	if u.UpdateID != m.latestUpdateID+1 {
		return fmt.Errorf("%w: got %d after %d", ErrUpdateOutOfOrder, u.UpdateID, m.latestUpdateID)
	}
	if err := m.applySteps(u.Steps); err != nil {
		return err
	}
	m.latestUpdateID = u.UpdateID
	return nil
}

func (m *ChannelMonitor) applySteps(steps []UpdateStep) error {
	for _, s := range steps {
		if err := m.applyStep(s); err != nil {
			return err
		}
	}
	return nil
}

func (m *ChannelMonitor) applyStep(s UpdateStep) error {
	switch st := s.(type) {
	case LatestHolderCommitment:
		return m.setHolder(&st)
	case *LatestHolderCommitment:
		return m.setHolder(st)
	case LatestCounterpartyCommitment:
		return m.addCounterparty(&st)
	case *LatestCounterpartyCommitment:
		return m.addCounterparty(st)
	case CommitmentSecret:
		return m.addSecret(st)
	case PaymentPreimage:
		m.preimages[sha256Sum(st.Preimage[:])] = st.Preimage
	case ChannelForceClosed:
		if st.ShouldBroadcast {
			m.holderBroadcast = true
		} else if m.funding == nil {
			m.noAutoBroadcast = true
		}
	case ShutdownScript:
		m.shutdownScript = append([]byte(nil), st.Script...)
	case ClosingTransaction:
		if st.Tx == nil || len(st.Tx.TxIn) != 1 || st.Tx.TxIn[0].PreviousOutPoint != m.params.FundingOutPoint {
			return fmt.Errorf("%w: closing transaction does not spend the funding output", ErrInvalidUpdate)
		}
		m.closingTx = st.Tx.Copy()
	default:
		return fmt.Errorf("%w: unknown step %T", ErrInvalidUpdate, s)
	}
	return nil
}

// checkSource bounds an HTLC source (ErrInvalidUpdate).
func checkSource(src []byte) error {
	if len(src) > MaxHTLCSourceLen {
		return fmt.Errorf("%w: HTLC source of %d bytes", ErrInvalidUpdate, len(src))
	}
	return nil
}

func (m *ChannelMonitor) setHolder(h *LatestHolderCommitment) error {
	if h.Tx == nil {
		return fmt.Errorf("%w: holder commitment without transaction", ErrInvalidUpdate)
	}
	for _, x := range h.HTLCs {
		if err := checkSource(x.Source); err != nil {
			return err
		}
	}
	if h.CommitmentNumber > m.holder.CommitmentNumber {
		m.prevHolder = m.holder
	}
	m.holder = h
	return nil
}

func (m *ChannelMonitor) addCounterparty(c *LatestCounterpartyCommitment) error {
	if c.PerCommitmentPoint == nil {
		return fmt.Errorf("%w: counterparty commitment without point", ErrInvalidUpdate)
	}
	for _, x := range c.HTLCs {
		if err := checkSource(x.Source); err != nil {
			return err
		}
	}
	for txid, cp := range m.counterparty {
		if cp.CommitmentNumber == c.CommitmentNumber && txid != c.Txid {
			m.superseded[txid] = true
		}
	}
	delete(m.superseded, c.Txid)
	m.counterparty[c.Txid] = c
	return nil
}

// CounterpartyCommitmentsUnsent tells the monitor that the counterparty commitments it holds above
// number n never reached the counterparty: the ChannelManager read back after a crash had signed
// none above n, and a host writes the manager before its messages leave. They are kept, to be
// recognised on chain, but as superseded ones their HTLCs bind nobody; the manager signs the number
// again if the channel goes on.
func (m *ChannelMonitor) CounterpartyCommitmentsUnsent(n uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for txid, cp := range m.counterparty {
		if cp.CommitmentNumber > n && !m.superseded[txid] {
			m.superseded[txid] = true
			m.chainDirty = true
		}
	}
}

func (m *ChannelMonitor) addSecret(st CommitmentSecret) error {
	if known, ok := m.secrets.GetSecretForCommitment(st.CommitmentNumber); ok && known == st.Secret {
		// Given again after a restart from an older manager snapshot (the peer retransmitted its
		// revoke_and_ack): nothing new.
		return nil
	}
	if err := m.secrets.ProvideSecret(keys.MaxCommitmentIndex-st.CommitmentNumber, st.Secret); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidUpdate, err)
	}
	m.pruneRevoked()
	return nil
}

// pruneRevoked shrinks what revoked counterparty commitments keep to what justice needs: a revoked
// commitment without HTLC outputs is forgotten (its to_local is found from the secret and our to_remote
// from our static key), and one with HTLC outputs keeps only those outputs' scripts' data, without
// sources (an HTLC's source is still on the unrevoked commitments that carry it). While the channel is
// open, preimages no unrevoked commitment needs are forgotten too. Monitor size then grows by one
// compact record per revoked commitment that carried HTLCs.
func (m *ChannelMonitor) pruneRevoked() {
	for txid, cp := range m.counterparty {
		if _, revoked := m.revocationSecret(cp.CommitmentNumber); !revoked {
			continue
		}
		delete(m.superseded, txid)
		kept := cp.HTLCs[:0]
		for _, h := range cp.HTLCs {
			if h.OutputIndex >= 0 {
				h.Source = nil
				kept = append(kept, h)
			}
		}
		cp.HTLCs = kept
		if len(kept) == 0 {
			delete(m.counterparty, txid)
		}
	}
	if m.funding == nil {
		m.prunePreimages()
	}
}

// prunePreimages forgets preimages of HTLCs that are on no unrevoked commitment: they can no longer
// be claimed on chain.
func (m *ChannelMonitor) prunePreimages() {
	live := map[[32]byte]bool{}
	for _, hc := range []*LatestHolderCommitment{m.holder, m.prevHolder} {
		if hc != nil {
			for _, h := range hc.HTLCs {
				live[h.PaymentHash] = true
			}
		}
	}
	for _, cp := range m.unrevokedCounterparty() {
		for _, h := range cp.HTLCs {
			live[h.PaymentHash] = true
		}
	}
	for hash := range m.preimages {
		if !live[hash] {
			delete(m.preimages, hash)
		}
	}
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

// blockConnected processes a block at height and returns what must be broadcast.
func (m *ChannelMonitor) blockConnected(b *blockIndex, height uint32, est chaininterface.FeeEstimator) []*wire.MsgTx {
	m.transactionsConfirmed(b, height)
	return m.bestBlockUpdated(height, est)
}

// blockIndex is a block's transactions with the outpoints they spend, built once per block so that
// each monitor looks up the outputs it watches instead of scanning the block.
type blockIndex struct {
	txs    []*wire.MsgTx
	txids  []chainhash.Hash
	spends map[wire.OutPoint]int // outpoint → index of the spending transaction
}

func newBlockIndex(txs []*wire.MsgTx) *blockIndex {
	b := &blockIndex{txs: txs, txids: make([]chainhash.Hash, len(txs)), spends: map[wire.OutPoint]int{}}
	for i, tx := range txs {
		for _, in := range tx.TxIn {
			b.spends[in.PreviousOutPoint] = i
		}
	}
	return b
}

func (b *blockIndex) txid(i int) chainhash.Hash {
	if b.txids[i] == (chainhash.Hash{}) {
		b.txids[i] = b.txs[i].TxHash()
	}
	return b.txids[i]
}

// transactionsConfirmed processes the transactions of a block confirmed at height that touch this
// channel — the funding spend, spends of the outputs we claim — in block order.
func (m *ChannelMonitor) transactionsConfirmed(b *blockIndex, height uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var relevant []int
	if i, ok := b.spends[m.params.FundingOutPoint]; ok && m.funding == nil {
		relevant = append(relevant, i)
	}
	for _, c := range m.claims {
		if i, ok := b.spends[c.OutPoint]; ok && !c.spent() {
			relevant = append(relevant, i)
		}
	}
	if len(relevant) == 0 {
		return
	}
	sort.Ints(relevant)
	for k, i := range relevant {
		if k > 0 && relevant[k-1] == i {
			continue
		}
		m.txConfirmed(b, i, height)
	}
}

// txConfirmed handles block transaction i, and then the block's later transactions that spend outputs
// it created (a second-stage transaction in the same block as its commitment).
func (m *ChannelMonitor) txConfirmed(b *blockIndex, i int, height uint32) {
	tx, txid := b.txs[i], b.txid(i)
	before := len(m.claims)
	if m.funding == nil {
		for _, in := range tx.TxIn {
			if in.PreviousOutPoint == m.params.FundingOutPoint {
				m.fundingSpent(tx, txid, height)
				m.chainDirty = true
				break
			}
		}
	}
	if m.funding == nil {
		return
	}
	m.spendsConfirmed(tx, txid, height)
	// Claims created just now may be spent later in the same block.
	var later []int
	for _, c := range m.claims[before:] {
		if j, ok := b.spends[c.OutPoint]; ok && j > i && !c.spent() {
			later = append(later, j)
		}
	}
	sort.Ints(later)
	for k, j := range later {
		if k > 0 && later[k-1] == j {
			continue
		}
		m.txConfirmed(b, j, height)
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

// bestBlockUpdated moves the tip to height and returns what must be (re)broadcast now. Before the
// funding output is spent: the agreed closing transaction, or our commitment after a force close (or
// when an HTLC deadline requires it). After: every claim transaction due, rebuilt with a higher fee as
// its deadline nears. It also finalises what is AntiReorgDelay deep.
func (m *ChannelMonitor) bestBlockUpdated(height uint32, est chaininterface.FeeEstimator) []*wire.MsgTx {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bestHeight = height
	if m.funding == nil {
		return m.unspentFundingOut(height, est)
	}
	m.resolveDeep(height)
	m.formPackages(height)
	out := m.drivePackages(height, est)
	if m.funding.Kind == spendCooperative && !m.staticReported && m.shutdownScript != nil && m.funding.Settled {
		m.staticReported = true
		m.chainDirty = true
		m.reportStaticTo(m.funding.Tx, m.shutdownScript)
	}
	return out
}

// unspentFundingOut is bestBlockUpdated's work while the funding output is unspent.
func (m *ChannelMonitor) unspentFundingOut(height uint32, est chaininterface.FeeEstimator) []*wire.MsgTx {
	if !m.holderBroadcast && !m.noAutoBroadcast {
		if why, ok := m.htlcDeadline(height); ok {
			m.holderBroadcast = true
			m.chainDirty = true
			m.log.Warn("going on chain", "why", why, "height", height)
			m.monitorEvents = append(m.monitorEvents, HolderForceClosed{ChannelID: m.params.ChannelID,
				FundingTxo: m.params.FundingOutPoint, Reason: why})
		}
	}
	if m.holderBroadcast {
		return m.holderCommitmentOut(height, est)
	}
	if m.closingTx != nil {
		return []*wire.MsgTx{m.closingTx}
	}
	return nil
}

// forceCloseOut is what to broadcast at once when the manager force-closes.
func (m *ChannelMonitor) forceCloseOut(est chaininterface.FeeEstimator) []*wire.MsgTx {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.funding != nil || !m.holderBroadcast {
		return nil
	}
	return m.holderCommitmentOut(m.bestHeight, est)
}

// transactionUnconfirmed forgets a transaction reorganised out of the chain.
func (m *ChannelMonitor) transactionUnconfirmed(txid chainhash.Hash) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.unconfirm(func(t chainhash.Hash, _ uint32) bool { return t == txid })
}

// blockDisconnected forgets what the block at height confirmed.
func (m *ChannelMonitor) blockDisconnected(height uint32) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bestHeight = height - 1
	m.unconfirm(func(_ chainhash.Hash, h uint32) bool { return h >= height })
}

// unconfirm undoes every confirmation gone(txid, height) says was reorganised away: the funding spend
// (and with it every claim), spends of claimed outputs (the claims come back to be planned again),
// second-stage outputs (their claims go), and our packages' confirmations. The caller holds m.mu.
func (m *ChannelMonitor) unconfirm(gone func(txid chainhash.Hash, height uint32) bool) {
	if m.funding == nil {
		return
	}
	if gone(m.funding.Txid, m.funding.Height) {
		m.log.Warn("funding spend reorganised out", "txid", m.funding.Txid)
		m.funding, m.claims, m.packages = nil, nil, nil
		m.chainDirty = true
		return
	}
	kept := m.claims[:0]
	for _, c := range m.claims {
		if c.OutPoint.Hash != m.funding.Txid && gone(c.OutPoint.Hash, c.ParentHeight) {
			if p := m.pkg(c.Package); p != nil {
				p.remove(c.OutPoint)
			}
			m.chainDirty = true
			continue
		}
		if c.spent() && gone(c.SpentBy, c.SpentAt) {
			c.SpentBy, c.SpentAt, c.SpentByUs, c.Resolved = chainhash.Hash{}, 0, false, false
			if p := m.pkg(c.Package); p == nil || !p.has(c.OutPoint) {
				c.Package = 0
			}
			m.chainDirty = true
		}
		kept = append(kept, c)
	}
	m.claims = kept
	for _, p := range m.packages {
		if p.ConfHeight != 0 && gone(p.ConfTx.TxHash(), p.ConfHeight) {
			p.ConfHeight, p.ConfTx = 0, nil
			m.chainDirty = true
		}
	}
}

// relevantTxids lists the confirmed transactions this monitor acted on.
func (m *ChannelMonitor) relevantTxids() []chaininterface.RelevantTx {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.funding == nil {
		return nil
	}
	seen := map[chainhash.Hash]bool{m.funding.Txid: true}
	out := []chaininterface.RelevantTx{{Txid: m.funding.Txid, Height: m.funding.Height}}
	for _, c := range m.claims {
		if c.spent() && !seen[c.SpentBy] {
			seen[c.SpentBy] = true
			out = append(out, chaininterface.RelevantTx{Txid: c.SpentBy, Height: c.SpentAt})
		}
	}
	return out
}

// reportStatic hands the host the outputs of tx that pay our destination script.
func (m *ChannelMonitor) reportStatic(tx *wire.MsgTx) {
	if tx != nil {
		m.reportStaticTo(tx, m.params.DestinationScript)
	}
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
		m.spendable = append(m.spendable, events.SpendableOutputs{Outputs: outs, ChannelID: m.params.ChannelID})
		m.chainDirty = true
	}
}

// unhandledSpendable returns the SpendableOutputs events the host has not handled yet, oldest first.
func (m *ChannelMonitor) unhandledSpendable() []events.SpendableOutputs {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]events.SpendableOutputs(nil), m.spendable...)
}

// spendableHandled forgets the n oldest SpendableOutputs events, which the host handled.
func (m *ChannelMonitor) spendableHandled(n int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.spendable = append([]events.SpendableOutputs(nil), m.spendable[n:]...)
	if len(m.spendable) == 0 {
		m.spendable = nil
	}
	m.chainDirty = true
}

// takeEvents returns and clears the monitor's pending events.
func (m *ChannelMonitor) takeEvents() ([]events.Event, []MonitorEvent) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, me := m.pendingEvents, m.monitorEvents
	m.pendingEvents, m.monitorEvents = nil, nil
	return e, me
}

// IsFullyResolved says whether the channel is closed and nothing is left to watch: the funding spend
// and every claim's spend are AntiReorgDelay deep, and every output of ours was handed to the host
// (outputs worth less than their fee are left on chain). Such a monitor can be archived
// (ChainMonitor.ArchiveFullyResolvedChannelMonitors).
func (m *ChannelMonitor) IsFullyResolved() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.funding == nil || !m.funding.Settled || len(m.spendable) > 0 {
		return false
	}
	if m.funding.Kind == spendCooperative {
		return m.staticReported || m.shutdownScript == nil
	}
	for _, c := range m.claims {
		if c.Uneconomical {
			continue
		}
		if !c.Resolved {
			if m.abandonedHTLC(c) {
				continue // an HTLC offered to us that we never could claim and the counterparty never took
			}
			return false
		}
	}
	return len(m.packages) == 0
}

// abandonedHTLC says whether c is an HTLC offered to us, whose preimage we do not hold, that expired
// AntiReorgDelay blocks ago: it is the counterparty's to take, and nothing is left for us to watch.
func (m *ChannelMonitor) abandonedHTLC(c *claim) bool {
	if !c.awaitsPreimage() {
		return false
	}
	_, known := m.preimages[c.HTLC.PaymentHash]
	return !known && m.bestHeight > c.HTLC.CltvExpiry+AntiReorgDelay
}

// awaitsPreimage says whether the claim is an HTLC offered to us whose preimage we may never learn.
func (c *claim) awaitsPreimage() bool {
	return c.Kind == claimHolderHTLCSuccess || c.Kind == claimCounterpartyHTLCPreimage
}

// takeToWatch returns and clears the outputs the host's Filter must be told about.
func (m *ChannelMonitor) takeToWatch() []chaininterface.WatchedOutput {
	m.mu.Lock()
	defer m.mu.Unlock()
	w := m.toWatch
	m.toWatch = nil
	return w
}

// watchedOutputs lists the funding output and every unresolved claim's output.
func (m *ChannelMonitor) watchedOutputs() []chaininterface.WatchedOutput {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := []chaininterface.WatchedOutput{{OutPoint: m.params.FundingOutPoint, ScriptPubKey: bolt3.WitnessScriptHash(m.params.FundingScript)}}
	for _, c := range m.claims {
		if !c.Resolved {
			out = append(out, chaininterface.WatchedOutput{OutPoint: c.OutPoint, ScriptPubKey: claimPkScript(c)})
		}
	}
	return out
}
