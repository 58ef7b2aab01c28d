package channelmonitor

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/wake"
)

func sha256Sum(b []byte) [32]byte { return sha256.Sum256(b) }

// Persist stores monitors durably. Implemented by the host (or FilesystemPersister). Each call must
// either persist before returning Completed, or return InProgress and later call
// ChainMonitor.ChannelMonitorUpdated once the data is durable.
type Persist interface {
	// PersistNewChannel stores a new monitor.
	PersistNewChannel(fundingTxo wire.OutPoint, monitor *ChannelMonitor) ChannelMonitorUpdateStatus
	// UpdatePersistedChannel stores an update (already applied to monitor). update is nil when only the
	// monitor's chain state changed.
	UpdatePersistedChannel(fundingTxo wire.OutPoint, update *ChannelMonitorUpdate, monitor *ChannelMonitor) ChannelMonitorUpdateStatus
}

// ErrDuplicateMonitor is returned by WatchChannel for a funding outpoint already watched.
var ErrDuplicateMonitor = errors.New("channelmonitor: channel already watched")

// ChainMonitor holds every ChannelMonitor, persists them, and feeds them blocks. It implements the
// ChannelManager's Watch interface and chaininterface.Listen. Safe for concurrent use.
type ChainMonitor struct {
	filter    chaininterface.Filter
	bcast     chaininterface.BroadcasterInterface
	log       *slog.Logger
	feeEst    chaininterface.FeeEstimator
	persister Persist

	mu       sync.Mutex
	monitors map[wire.OutPoint]*ChannelMonitor
	pending  map[wire.OutPoint][]uint64 // updates persisting in the background
	monEvts  []MonitorEvent
	events   []events.Event
	wake     wake.Notifier
}

// NewChainMonitor creates a ChainMonitor. filter may be nil (the host delivers full blocks through
// Listen); logger may be nil.
func NewChainMonitor(filter chaininterface.Filter, bcast chaininterface.BroadcasterInterface, logger *slog.Logger,
	feeEst chaininterface.FeeEstimator, persister Persist) *ChainMonitor {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &ChainMonitor{filter: filter, bcast: bcast, log: logger, feeEst: feeEst, persister: persister,
		monitors: map[wire.OutPoint]*ChannelMonitor{}, pending: map[wire.OutPoint][]uint64{}}
}

var _ chaininterface.Listen = (*ChainMonitor)(nil)

// WatchChannel starts watching a new channel: the monitor is persisted first. Errors:
// ErrDuplicateMonitor.
func (cm *ChainMonitor) WatchChannel(fundingTxo wire.OutPoint, mon *ChannelMonitor) (ChannelMonitorUpdateStatus, error) {
	cm.mu.Lock()
	if _, ok := cm.monitors[fundingTxo]; ok {
		cm.mu.Unlock()
		return UnrecoverableError, ErrDuplicateMonitor
	}
	cm.monitors[fundingTxo] = mon
	cm.mu.Unlock()
	mon.setLogger(cm.log)
	status := cm.persister.PersistNewChannel(fundingTxo, mon)
	if status == InProgress {
		cm.mu.Lock()
		cm.pending[fundingTxo] = append(cm.pending[fundingTxo], 0)
		cm.mu.Unlock()
	}
	cm.registerOutputs(mon)
	return status, nil
}

// UpdateChannel applies an update to a channel's monitor and persists it. An update the monitor refuses
// returns UnrecoverableError: the ChannelManager then force-closes the channel. A ChannelForceClosed
// step that asks for it broadcasts our commitment at once (with, on anchor channels, a
// BumpChannelClose event for the host).
func (cm *ChainMonitor) UpdateChannel(fundingTxo wire.OutPoint, update *ChannelMonitorUpdate) ChannelMonitorUpdateStatus {
	cm.mu.Lock()
	mon := cm.monitors[fundingTxo]
	cm.mu.Unlock()
	if mon == nil {
		cm.log.Error("update for unknown monitor", "funding", fundingTxo)
		return UnrecoverableError
	}
	if err := mon.Update(update); err != nil {
		cm.log.Error("monitor refused update", "funding", fundingTxo, "update", update.UpdateID, "err", err)
		return UnrecoverableError
	}
	// A force close must reach the chain now, not at the next block.
	for _, s := range update.Steps {
		if fc, ok := s.(ChannelForceClosed); ok && fc.ShouldBroadcast {
			if txs := mon.forceCloseOut(cm.feeEst); len(txs) > 0 {
				cm.bcast.BroadcastTransactions(txs...)
			}
		}
	}
	status := cm.persister.UpdatePersistedChannel(fundingTxo, update, mon)
	if status == InProgress {
		cm.mu.Lock()
		cm.pending[fundingTxo] = append(cm.pending[fundingTxo], update.UpdateID)
		cm.mu.Unlock()
	}
	return status
}

// ChannelMonitorUpdated tells the ChainMonitor that the host finished persisting update updateID (and
// all before it) of a channel whose Persist call returned InProgress. The ChannelManager then releases
// the messages that waited for it.
func (cm *ChainMonitor) ChannelMonitorUpdated(fundingTxo wire.OutPoint, updateID uint64) error {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	mon := cm.monitors[fundingTxo]
	if mon == nil {
		return fmt.Errorf("channelmonitor: no monitor for %s", fundingTxo)
	}
	kept := cm.pending[fundingTxo][:0]
	for _, id := range cm.pending[fundingTxo] {
		if id > updateID {
			kept = append(kept, id)
		}
	}
	cm.pending[fundingTxo] = kept
	cm.monEvts = append(cm.monEvts, MonitorUpdateCompleted{ChannelID: mon.params.ChannelID,
		FundingTxo: fundingTxo, UpdateID: updateID})
	cm.wake.Notify()
	return nil
}

// UpdateAvailable returns a channel that is closed when the ChainMonitor has something for the host or
// the ChannelManager: an asynchronous persistence completed (ChannelMonitorUpdated), or blocks were
// processed that may have produced events (LDK's ChainMonitor::get_update_future). Wait on it with the
// ChannelManager's EventOrPersistenceNeeded; after it fires, process events and call it again.
func (cm *ChainMonitor) UpdateAvailable() <-chan struct{} { return cm.wake.Wait() }

// ReleasePendingMonitorEvents returns and clears what the monitors have to tell the ChannelManager.
func (cm *ChainMonitor) ReleasePendingMonitorEvents() []MonitorEvent {
	cm.collect()
	cm.mu.Lock()
	defer cm.mu.Unlock()
	out := cm.monEvts
	cm.monEvts = nil
	return out
}

// collect moves the monitors' queued events into the ChainMonitor's queues, and persists a monitor
// whose chain state changed outside block processing (the ChannelManager's Read marking commitments
// that never left, for one): what a restart would find must not wait for the next block.
func (cm *ChainMonitor) collect() {
	for _, mon := range cm.ListMonitors() {
		cm.persistChainState(mon)
		evs, mevs := mon.takeEvents()
		if len(evs) == 0 && len(mevs) == 0 {
			continue
		}
		cm.mu.Lock()
		cm.events = append(cm.events, evs...)
		cm.monEvts = append(cm.monEvts, mevs...)
		cm.mu.Unlock()
	}
}

// ProcessPendingEvents hands the monitors' events to handler: SpendableOutputs, and, on anchor
// channels, BumpChannelClose and BumpHTLCResolution (answer them with a
// bumptx.BumpTransactionEventHandler). An event whose handler fails stays queued for the next call.
// A SpendableOutputs event is persisted with its monitor until handled, so that a crash before then
// does not lose it (nothing would raise it again): it comes again after the restart.
func (cm *ChainMonitor) ProcessPendingEvents(handler events.Handler) error {
	cm.collect()
	cm.mu.Lock()
	evs := cm.events
	cm.events = nil
	cm.mu.Unlock()
	for i, e := range evs {
		if err := handler(e); err != nil {
			cm.mu.Lock()
			cm.events = append(append([]events.Event{}, evs[i:]...), cm.events...)
			cm.mu.Unlock()
			return err
		}
	}
	// SpendableOutputs stay with their monitor, persisted, until handled; the monitor is persisted
	// again once they are (a crash in between hands them over again).
	mons := cm.ListMonitors()
	sort.Slice(mons, func(i, j int) bool {
		return outPointLess(mons[i].params.FundingOutPoint, mons[j].params.FundingOutPoint)
	})
	for _, mon := range mons {
		handled := 0
		var err error
		for _, e := range mon.unhandledSpendable() {
			if err = handler(e); err != nil {
				break
			}
			handled++
		}
		if handled > 0 {
			mon.spendableHandled(handled)
			cm.persistChainState(mon)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// ListMonitors returns the watched monitors.
func (cm *ChainMonitor) ListMonitors() []*ChannelMonitor {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	out := make([]*ChannelMonitor, 0, len(cm.monitors))
	for _, m := range cm.monitors {
		out = append(out, m)
	}
	return out
}

// GetMonitor returns the monitor of a funding outpoint.
func (cm *ChainMonitor) GetMonitor(fundingTxo wire.OutPoint) (*ChannelMonitor, bool) {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	m, ok := cm.monitors[fundingTxo]
	return m, ok
}

// LoadMonitor adds a monitor read back from storage (at start-up), without persisting it again.
func (cm *ChainMonitor) LoadMonitor(mon *ChannelMonitor) error {
	cm.mu.Lock()
	defer cm.mu.Unlock()
	if _, ok := cm.monitors[mon.params.FundingOutPoint]; ok {
		return ErrDuplicateMonitor
	}
	cm.monitors[mon.params.FundingOutPoint] = mon
	mon.setLogger(cm.log)
	cm.registerOutputs(mon)
	return nil
}

// registerOutputs tells the host's Filter (if any) what a monitor watches: its funding output and every
// output it claims that is not resolved yet.
func (cm *ChainMonitor) registerOutputs(mon *ChannelMonitor) {
	if cm.filter == nil {
		return
	}
	for _, w := range mon.watchedOutputs() {
		cm.filter.RegisterOutput(w)
	}
	mon.takeToWatch()
}

// BlockConnected implements chaininterface.Listen: every monitor sees the block, and what they must
// broadcast (our commitment after a force close, sweeps, justice transactions) is broadcast.
func (cm *ChainMonitor) BlockConnected(block *wire.MsgBlock, height uint32) {
	defer cm.wake.Notify()
	idx := newBlockIndex(block.Transactions)
	for _, mon := range cm.ListMonitors() {
		txs := mon.blockConnected(idx, height, cm.feeEst)
		if len(txs) > 0 {
			cm.bcast.BroadcastTransactions(txs...)
		}
		// Chain state changed what the monitor would do after a restart: persist it.
		cm.persistChainState(mon)
	}
}

// BlockDisconnected implements chaininterface.Listen.
func (cm *ChainMonitor) BlockDisconnected(header *wire.BlockHeader, height uint32) {
	defer cm.wake.Notify()
	for _, mon := range cm.ListMonitors() {
		mon.blockDisconnected(height)
	}
}

var _ chaininterface.Confirm = (*ChainMonitor)(nil)

// TransactionsConfirmed implements chaininterface.Confirm: each monitor checks the transactions for a
// spend of its funding output and for its sweeps confirming.
func (cm *ChainMonitor) TransactionsConfirmed(header *wire.BlockHeader, txdata []chaininterface.IndexedTx, height uint32) {
	defer cm.wake.Notify()
	txs := make([]*wire.MsgTx, len(txdata))
	for i, t := range txdata {
		txs[i] = t.Tx
	}
	idx := newBlockIndex(txs)
	for _, mon := range cm.ListMonitors() {
		mon.transactionsConfirmed(idx, height)
	}
}

// BestBlockUpdated implements chaininterface.Confirm: monitors broadcast what the new height allows and
// are persisted.
func (cm *ChainMonitor) BestBlockUpdated(header *wire.BlockHeader, height uint32) {
	defer cm.wake.Notify()
	for _, mon := range cm.ListMonitors() {
		cm.driveAt(mon, height)
	}
}

// driveAt has mon broadcast what height allows (bestBlockUpdated) and persists its chain state.
func (cm *ChainMonitor) driveAt(mon *ChannelMonitor, height uint32) {
	if txs := mon.bestBlockUpdated(height, cm.feeEst); len(txs) > 0 {
		cm.bcast.BroadcastTransactions(txs...)
	}
	cm.persistChainState(mon)
}

// SignerUnblocked has every monitor build again, at the current height, what it must broadcast (LDK's
// ChainMonitor::signer_unblocked): our commitment or a claim whose signature the signer had not given
// (keys.ErrSignerPending) goes out now instead of at the next block. Call it when an asynchronous
// signer answers.
func (cm *ChainMonitor) SignerUnblocked() {
	defer cm.wake.Notify()
	for _, mon := range cm.ListMonitors() {
		mon.mu.Lock()
		height := mon.bestHeight
		mon.mu.Unlock()
		if height != 0 {
			cm.driveAt(mon, height)
		}
	}
}

// TransactionUnconfirmed implements chaininterface.Confirm.
func (cm *ChainMonitor) TransactionUnconfirmed(txid chainhash.Hash) {
	defer cm.wake.Notify()
	for _, mon := range cm.ListMonitors() {
		mon.transactionUnconfirmed(txid)
	}
}

// GetRelevantTxids implements chaininterface.Confirm: the confirmed transactions the monitors acted on,
// whose confirmation the host must keep checking for reorganisations.
func (cm *ChainMonitor) GetRelevantTxids() []chaininterface.RelevantTx {
	var out []chaininterface.RelevantTx
	for _, mon := range cm.ListMonitors() {
		out = append(out, mon.relevantTxids()...)
	}
	return out
}

// GetClaimableBalances returns the balances of every watched channel (ChannelMonitor.GetClaimableBalances),
// in funding outpoint order: what the node holds on chain, or will once claims confirm.
func (cm *ChainMonitor) GetClaimableBalances() []Balance {
	mons := cm.ListMonitors()
	sort.Slice(mons, func(i, j int) bool {
		return outPointLess(mons[i].params.FundingOutPoint, mons[j].params.FundingOutPoint)
	})
	var out []Balance
	for _, m := range mons {
		out = append(out, m.GetClaimableBalances()...)
	}
	return out
}

// ArchivePersist is implemented by persisters that can move a fully resolved monitor out of the live
// set (LDK's archive_persisted_channel); ArchiveFullyResolvedChannelMonitors calls it.
type ArchivePersist interface {
	ArchivePersistedChannel(fundingTxo wire.OutPoint) error
}

// ArchiveFullyResolvedChannelMonitors stops watching every monitor whose channel is closed and fully
// resolved (ChannelMonitor.IsFullyResolved), so that the set of monitors does not grow forever, and
// asks the persister to archive it if it implements ArchivePersist. It returns the archived funding
// outpoints. Call it now and then (e.g. once a day, LDK's background processor does).
func (cm *ChainMonitor) ArchiveFullyResolvedChannelMonitors() []wire.OutPoint {
	var out []wire.OutPoint
	for _, m := range cm.ListMonitors() {
		if !m.IsFullyResolved() {
			continue
		}
		op := m.params.FundingOutPoint
		if ap, ok := cm.persister.(ArchivePersist); ok {
			if err := ap.ArchivePersistedChannel(op); err != nil {
				cm.log.Error("cannot archive monitor; keeping it", "funding", op, "err", err)
				continue
			}
		}
		cm.mu.Lock()
		delete(cm.monitors, op)
		delete(cm.pending, op)
		cm.mu.Unlock()
		cm.log.Info("archived fully resolved monitor", "funding", op)
		out = append(out, op)
	}
	sort.Slice(out, func(i, j int) bool { return outPointLess(out[i], out[j]) })
	return out
}

// persistChainState writes a monitor whose chain state changed (a nil update: a full snapshot). A
// failure is logged: the state is rebuilt from the chain after a restart, but the host should know.
func (cm *ChainMonitor) persistChainState(mon *ChannelMonitor) {
	if cm.filter != nil {
		// Confirm-style hosts learn of spends only for outputs they were told to watch: every output
		// a claim spends, so that its spend (ours or the counterparty's) comes back to us.
		for _, w := range mon.takeToWatch() {
			cm.filter.RegisterOutput(w)
		}
	}
	if !mon.takeDirty() {
		return
	}
	if st := cm.persister.UpdatePersistedChannel(mon.params.FundingOutPoint, nil, mon); st == UnrecoverableError {
		cm.log.Error("cannot persist a monitor's chain state", "funding", mon.params.FundingOutPoint)
	}
}
