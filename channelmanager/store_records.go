package channelmanager

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/ser"
	"github.com/lnkit/lnkit/kvstore"
	"github.com/lnkit/lnkit/lnwire"
)

// The manager in a kvstore.KVStore (PersistTo, ReadFromStore) is a set of records, so that a write
// costs what changed, not what the node has done in its life:
//
//	manager//state              the chain tip, the forward queue and intercepts, the pending events
//	manager/channels/<id>       one funded channel (64 hex digits of its channel_id), with its BOLT 7 state
//	manager/expected/<hash>     an invoice we expect to be paid (payment hash in hex)
//	manager/claimable/<hash>    a payment being received
//	manager/outbound/<id>       a payment we send (payment id in hex)
//
// Every record is a TLV stream (the wire's codec, BOLT 1): type 0 holds the format version (u8, the
// managerVersion of Write, whose encoding the body fields share); the other even types are required,
// odd ones optional, so a newer lnkit reads what an older one wrote and an older lnkit refuses, with
// ErrUnknownRecordVersion or ErrCorrupt naming the record and field, what it cannot understand.
const (
	storeNamespace = "manager"
	storeChannels  = "channels"
	storeExpected  = "expected"
	storeClaimable = "claimable"
	storeOutbound  = "outbound"
	storeStateKey  = "state"

	recVersion uint64 = 0
	recBody    uint64 = 2 // the record's fields, encoded as in Write at managerVersion
	recGossip  uint64 = 4 // channel records: the channel's BOLT 7 state (a TLV stream of its own)
	// recMonitorUpdates (channel records): the monitor updates in flight (asynchronous persistence),
	// each a u32 length and ChannelMonitorUpdate.Encode. Even: an lnkit that would not replay them
	// must not read the record.
	recMonitorUpdates uint64 = 6
	recTip            uint64 = 2 // state: best block hash, height, highest block time
	recForwards       uint64 = 4 // state: writeForwards
	recEvents         uint64 = 6 // state: writeEvents
)

// ErrUnknownRecordVersion is returned (wrapped) by ReadFromStore for a record written by a newer lnkit
// in a format this one does not know.
var ErrUnknownRecordVersion = errors.New("channelmanager: record written by a newer lnkit")

// encodeRecord returns the TLV record with the version and the given fields (type -> value).
func encodeRecord(fields map[uint64][]byte) []byte {
	var s lnwire.TLVStream
	s = s.Set(recVersion, []byte{managerVersion})
	for t, v := range fields {
		s = s.Set(t, v)
	}
	return s.Encode()
}

// decodeRecord checks a record's version and even types (known lists those this version reads) and
// returns its stream and version.
func decodeRecord(k kvstore.Key, b []byte, known ...uint64) (lnwire.TLVStream, uint8, error) {
	s, err := lnwire.DecodeTLVStream(b)
	if err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %w", ErrCorrupt, k, err)
	}
	v, ok := s.Get(recVersion)
	if !ok || len(v) != 1 || v[0] < 3 {
		return nil, 0, fmt.Errorf("%w: %s: no valid record version", ErrCorrupt, k)
	}
	if v[0] > managerVersion {
		return nil, 0, fmt.Errorf("%w: %s has version %d, this lnkit reads up to %d", ErrUnknownRecordVersion, k, v[0], managerVersion)
	}
	if err := s.CheckUnknownEven(append(known, recVersion)...); err != nil {
		return nil, 0, fmt.Errorf("%w: %s: %w (written by a newer lnkit?)", ErrCorrupt, k, err)
	}
	return s, v[0], nil
}

func writerBytes(f func(w *ser.Writer)) []byte {
	var w ser.Writer
	f(&w)
	return w.Bytes()
}

// storeRecords builds every record of the manager (PersistAllTo, and tests that compare a store with
// the manager). See storeChanges for the order.
func (cm *ChannelManager) storeRecords() map[kvstore.Key][]byte {
	recs, _, _ := cm.storeChanges(true)
	return recs
}

// storeChanges builds the records PersistTo may have to write, in the order Write reads the state: the
// chain tip, the channels (each under its peer's lock, with its gossip state), the payments, then the
// forwards and events (see snapshotChannels for why this order never loses a payment a channel refers
// to). Channels and the state record are always built (PersistTo compares their hashes); payments only
// when marked dirty since the last call, or all of them with all. It returns the payment records that
// are gone (to remove) and the dirty marks it took, for PersistTo to restore if the commit fails.
func (cm *ChannelManager) storeChanges(all bool) (map[kvstore.Key][]byte, []kvstore.Key, *dirtyMarks) {
	recs := map[kvstore.Key][]byte{}
	var gone []kvstore.Key
	cm.mu.Lock()
	tip := writerBytes(func(w *ser.Writer) {
		w.Hash(cm.bestBlock.Hash)
		w.U32(cm.bestBlock.Height)
		w.U32(cm.highestBlockTime)
	})
	cm.mu.Unlock()
	for _, ps := range cm.allPeers() {
		ps.mu.Lock()
		for _, c := range ps.channels {
			if c.state < stateAwaitingChannelReady || c.state == stateAwaitingManualAccept {
				continue
			}
			fields := map[uint64][]byte{recBody: writerBytes(func(w *ser.Writer) { writeChannel(w, c) })}
			if g := c.gossip.encode(); g != nil {
				fields[recGossip] = g
			}
			ups := c.inFlightUpdates
			if len(ups) > 0 && ups[0].UpdateID == 0 {
				ups = ups[1:] // a new channel's first write: its monitor is created anew, not updated
			}
			if len(ups) > 0 {
				fields[recMonitorUpdates] = encodeMonitorUpdates(ups)
			}
			recs[kvstore.Key{Primary: storeNamespace, Secondary: storeChannels, Key: hex.EncodeToString(c.channelID[:])}] = encodeRecord(fields)
		}
		ps.mu.Unlock()
	}
	marks := &dirtyMarks{}
	cm.inbound.mu.Lock()
	marks.expected, marks.claimable = cm.inbound.dirtyExpected, cm.inbound.dirtyClaimable
	cm.inbound.dirtyExpected, cm.inbound.dirtyClaimable = map[[32]byte]struct{}{}, map[[32]byte]struct{}{}
	for hash := range keysOr(all, cm.inbound.expected, marks.expected) {
		k := paymentKey(storeExpected, hash)
		if p := cm.inbound.expected[hash]; p != nil {
			recs[k] = encodeRecord(map[uint64][]byte{recBody: writerBytes(func(w *ser.Writer) { writeExpected(w, p) })})
		} else {
			gone = append(gone, k)
		}
	}
	for hash := range keysOr(all, cm.inbound.claimable, marks.claimable) {
		k := paymentKey(storeClaimable, hash)
		if c := cm.inbound.claimable[hash]; c != nil {
			recs[k] = encodeRecord(map[uint64][]byte{recBody: writerBytes(func(w *ser.Writer) { writeClaimable(w, c) })})
		} else {
			gone = append(gone, k)
		}
	}
	cm.inbound.mu.Unlock()
	cm.outbound.mu.Lock()
	marks.outbound = cm.outbound.dirty
	cm.outbound.dirty = map[events.PaymentID]struct{}{}
	for id := range keysOr(all, cm.outbound.byID, marks.outbound) {
		k := paymentKey(storeOutbound, id)
		if o := cm.outbound.byID[id]; o != nil {
			recs[k] = encodeRecord(map[uint64][]byte{recBody: writerBytes(func(w *ser.Writer) { writeOutbound(w, o) })})
		} else {
			gone = append(gone, k)
		}
	}
	cm.outbound.mu.Unlock()
	recs[kvstore.Key{Primary: storeNamespace, Key: storeStateKey}] = encodeRecord(map[uint64][]byte{
		recTip:      tip,
		recForwards: writerBytes(cm.writeForwards),
		recEvents:   writerBytes(cm.writeEvents),
	})
	return recs, gone, marks
}

// dirtyMarks are the payment marks one storeChanges took.
type dirtyMarks struct {
	expected, claimable map[[32]byte]struct{}
	outbound            map[events.PaymentID]struct{}
}

// restore puts the marks back after a failed commit, so that the next PersistTo writes them again.
func (cm *ChannelManager) restoreMarks(m *dirtyMarks) {
	cm.inbound.mu.Lock()
	for h := range m.expected {
		cm.inbound.touchExpected(h)
	}
	for h := range m.claimable {
		cm.inbound.touchClaimable(h)
	}
	cm.inbound.mu.Unlock()
	cm.outbound.mu.Lock()
	for id := range m.outbound {
		cm.outbound.touch(id)
	}
	cm.outbound.mu.Unlock()
}

// keysOr returns the keys of every entry (all) or the marked ones.
func keysOr[K comparable, V any](all bool, m map[K]V, marked map[K]struct{}) map[K]struct{} {
	if !all {
		return marked
	}
	out := make(map[K]struct{}, len(m)+len(marked))
	for k := range m {
		out[k] = struct{}{}
	}
	for k := range marked {
		out[k] = struct{}{}
	}
	return out
}

func paymentKey(kind string, id [32]byte) kvstore.Key {
	return kvstore.Key{Primary: storeNamespace, Secondary: kind, Key: hex.EncodeToString(id[:])}
}

// PersistStats says what one PersistTo wrote.
type PersistStats struct {
	// Written and Removed count records; Bytes is the size of the values written.
	Written, Removed, Bytes int
}

// PersistTo writes the manager's records that changed since the last PersistTo (or since
// ReadFromStore) into store, as one atomic kvstore.Batch, and removes those of channels and payments
// that are gone. What it writes is proportional to what changed: a payment rewrites the records of the
// channels it crossed and its own, whatever the node's history. Call it whenever
// GetAndClearNeedsPersistence returns true, before sending the messages that follow (as for Write).
// Calls are serialised. Payments are written when the payment layer marked them changed; channel
// records and the state record are rebuilt and compared with the hash of what was last written (their
// number does not grow with history). A failed commit (the error is returned, wrapped) changes nothing
// and the next call writes it all again. PersistTo assumes one store: to start on another, use
// PersistAllTo. The layout and format of the records are described at storeNamespace.
func (cm *ChannelManager) PersistTo(store kvstore.KVStore) (PersistStats, error) {
	cm.storeMu.Lock()
	defer cm.storeMu.Unlock()
	return cm.persistLocked(store)
}

// PersistAllTo writes every record of the manager into store, whatever was written before, and makes
// store the one later PersistTo calls compare against: for a new store (migrating from Write's
// snapshot or from another store, a backup). It removes nothing from store. Errors: the store's,
// wrapped.
func (cm *ChannelManager) PersistAllTo(store kvstore.KVStore) (PersistStats, error) {
	cm.storeMu.Lock()
	defer cm.storeMu.Unlock()
	cm.storeHashes = nil
	return cm.persistLocked(store)
}

func (cm *ChannelManager) persistLocked(store kvstore.KVStore) (PersistStats, error) {
	// Without hashes (a new manager, or one read with Read) every payment record is written: the store
	// may not hold them.
	all := cm.storeHashes == nil
	recs, gone, marks := cm.storeChanges(all)
	var st PersistStats
	var b kvstore.Batch
	hashes := make(map[kvstore.Key][32]byte, len(cm.storeHashes)+2)
	keys := make([]kvstore.Key, 0, len(recs))
	for k := range recs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return kvstore.Less(keys[i], keys[j]) })
	for _, k := range keys {
		v := recs[k]
		if k.Secondary != storeChannels && k.Key != storeStateKey {
			b.Put(k, v) // a payment marked dirty
			st.Written++
			st.Bytes += len(v)
			continue
		}
		h := sha256.Sum256(v)
		hashes[k] = h
		if old, ok := cm.storeHashes[k]; ok && old == h {
			continue
		}
		b.Put(k, v)
		st.Written++
		st.Bytes += len(v)
	}
	// Channels that are gone (hashed last time, not built now), and payments marked and gone.
	for k := range cm.storeHashes {
		if _, ok := recs[k]; !ok {
			gone = append(gone, k)
		}
	}
	sort.Slice(gone, func(i, j int) bool { return kvstore.Less(gone[i], gone[j]) })
	for _, k := range gone {
		b.Remove(k)
		st.Removed++
	}
	if len(b.Ops) == 0 {
		return st, nil
	}
	if err := store.Commit(&b); err != nil {
		cm.restoreMarks(marks)
		return PersistStats{}, fmt.Errorf("channelmanager: persisting %d records: %w", len(b.Ops), err)
	}
	cm.storeHashes = hashes
	return st, nil
}

// ReadFromStore restores a ChannelManager from the records PersistTo wrote into store, checking each
// channel against its monitor as Read does. A store without manager records gives an error wrapping
// kvstore.ErrNotFound: the host then creates the manager with New. Errors: ErrCorrupt,
// ErrUnknownRecordVersion, kvstore.ErrNotFound, the store's own.
func ReadFromStore(store kvstore.KVStore, a ReadArgs) (*ChannelManager, error) {
	stateKey := kvstore.Key{Primary: storeNamespace, Key: storeStateKey}
	raw, _, err := store.Read(stateKey)
	if err != nil {
		return nil, fmt.Errorf("channelmanager: reading %s: %w", stateKey, err)
	}
	hashes := map[kvstore.Key][32]byte{stateKey: sha256.Sum256(raw)}
	state, _, err := decodeRecord(stateKey, raw, recTip, recForwards, recEvents)
	if err != nil {
		return nil, err
	}
	tipB, _ := state.Get(recTip)
	tr := ser.NewReader(tipB)
	best := chaininterface.BestBlock{Hash: tr.Hash(), Height: tr.U32()}
	highest := tr.U32()
	if tr.Err() != nil {
		return nil, fmt.Errorf("%w: %s: chain tip: %w", ErrCorrupt, stateKey, tr.Err())
	}
	cm, err := newForRead(a, best)
	if err != nil {
		return nil, err
	}
	cm.highestBlockTime = highest
	monitors := monitorsByOutPoint(a.Monitors)
	var fx readFixups
	err = eachRecord(store, storeChannels, hashes, []uint64{recBody, recGossip, recMonitorUpdates}, func(k kvstore.Key, s lnwire.TLVStream, v uint8, r *ser.Reader) error {
		c := readChannel(r, a.Keys, v)
		if r.Err() != nil {
			return r.Err()
		}
		if ub, ok := s.Get(recMonitorUpdates); ok {
			ups, err := decodeMonitorUpdates(ub)
			if err != nil {
				return err
			}
			c.inFlightUpdates = ups // restoreChannel takes them: nothing is in flight in a new process
		}
		if gb, ok := s.Get(recGossip); ok {
			g, err := decodeGossipState(gb)
			if err != nil {
				return err
			}
			if g.announcement != nil {
				g.ticksSinceBroadcast = RebroadcastTicks - 1
			}
			c.gossip = g
		}
		if hex.EncodeToString(c.channelID[:]) != k.Key {
			return fmt.Errorf("holds channel %s", c.channelID)
		}
		cm.restoreChannel(c, monitors, &fx)
		return nil
	})
	if err == nil {
		err = eachRecord(store, storeExpected, hashes, []uint64{recBody}, func(_ kvstore.Key, _ lnwire.TLVStream, _ uint8, r *ser.Reader) error {
			cm.restoreExpected(readExpected(r))
			return r.Err()
		})
	}
	if err == nil {
		err = eachRecord(store, storeClaimable, hashes, []uint64{recBody}, func(_ kvstore.Key, _ lnwire.TLVStream, v uint8, r *ser.Reader) error {
			if c := readClaimable(r, v); c != nil {
				cm.restoreClaimable(c)
			}
			return r.Err()
		})
	}
	if err == nil {
		err = eachRecord(store, storeOutbound, hashes, []uint64{recBody}, func(_ kvstore.Key, _ lnwire.TLVStream, v uint8, r *ser.Reader) error {
			cm.outbound.restore(readOutbound(r, v))
			return r.Err()
		})
	}
	if err != nil {
		return nil, err
	}
	fb, _ := state.Get(recForwards)
	eb, _ := state.Get(recEvents)
	fr, er := ser.NewReader(fb), ser.NewReader(eb)
	cm.readForwards(fr)
	cm.readEvents(er)
	for _, r := range []*ser.Reader{fr, er} {
		if r.Err() != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrCorrupt, stateKey, r.Err())
		}
	}
	cm.reannounceIntercepts()
	cm.finishRead(a.Monitors, monitors, &fx)
	cm.storeHashes = hashes
	return cm, nil
}

// eachRecord reads every record of one kind, in key order, and calls f with its TLV stream and a reader
// over its body; it notes each channel record's hash in hashes (channels dropped on reading, such as one
// without a monitor, are then removed by the next PersistTo). An error names the record.
func eachRecord(store kvstore.KVStore, kind string, hashes map[kvstore.Key][32]byte, known []uint64,
	f func(k kvstore.Key, s lnwire.TLVStream, version uint8, r *ser.Reader) error) error {
	names, err := store.List(storeNamespace, kind)
	if err != nil {
		return fmt.Errorf("channelmanager: listing %s: %w", kind, err)
	}
	for _, name := range names {
		k := kvstore.Key{Primary: storeNamespace, Secondary: kind, Key: name}
		raw, _, err := store.Read(k)
		if err != nil {
			return fmt.Errorf("channelmanager: reading %s: %w", k, err)
		}
		if kind == storeChannels {
			hashes[k] = sha256.Sum256(raw)
		}
		s, version, err := decodeRecord(k, raw, known...)
		if err != nil {
			return err
		}
		body, ok := s.Get(recBody)
		if !ok {
			return fmt.Errorf("%w: %s: no body", ErrCorrupt, k)
		}
		r := ser.NewReader(body)
		if err := f(k, s, version, r); err != nil {
			return fmt.Errorf("%w: %s: %w", ErrCorrupt, k, err)
		}
		if r.Remaining() != 0 {
			return fmt.Errorf("%w: %s: %d bytes left over", ErrCorrupt, k, r.Remaining())
		}
	}
	return nil
}

// encodeMonitorUpdates encodes a channel's in-flight monitor updates: each a u32 length and the update.
func encodeMonitorUpdates(ups []*channelmonitor.ChannelMonitorUpdate) []byte {
	return writerBytes(func(w *ser.Writer) {
		for _, u := range ups {
			w.Var(u.Encode())
		}
	})
}

// maxPendingMonitorUpdates bounds the in-flight updates a channel record may hold.
const maxPendingMonitorUpdates = 10_000

// decodeMonitorUpdates reads encodeMonitorUpdates' output. Errors: the updates' own, or a malformed list.
func decodeMonitorUpdates(b []byte) ([]*channelmonitor.ChannelMonitorUpdate, error) {
	r := ser.NewReader(b)
	var ups []*channelmonitor.ChannelMonitorUpdate
	for r.Remaining() > 0 {
		if len(ups) == maxPendingMonitorUpdates {
			return nil, fmt.Errorf("more than %d monitor updates in flight", maxPendingMonitorUpdates)
		}
		raw := r.Var()
		if r.Err() != nil {
			return nil, fmt.Errorf("monitor updates in flight: %w", r.Err())
		}
		u, err := channelmonitor.DecodeChannelMonitorUpdate(raw)
		if err != nil {
			return nil, fmt.Errorf("monitor update in flight: %w", err)
		}
		ups = append(ups, u)
	}
	return ups, nil
}
