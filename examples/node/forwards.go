package main

import (
	"encoding/json"
	"fmt"
	"sync"
	"time"

	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/kvstore"
)

// nsForwards is the namespace of the forwarding history.
const nsForwards = "forwards"

// forwardLog is the node's forwarding history (forwardinghistory): one key per PaymentForwarded in the
// node's KVStore, ("forwards", "", "<unix nanoseconds, 19 digits>"), so that the keys sort by time,
// holding the nodeapi.Forward as JSON. The write is durable before the event is taken as handled, so a
// forward the manager reported is stored before the manager forgets the event; one whose event the
// manager re-delivers (it had not persisted that the event was handled) is recorded twice (the event
// carries no identifier to tell the two apart). Every forward is read at start and kept in memory.
type forwardLog struct {
	mu     sync.Mutex
	kv     kvstore.KVStore
	recs   []nodeapi.Forward
	lastNs int64 // the last key's time: keys are made strictly increasing
	closed bool
}

// forwardKey is the key of a forward recorded at ns (unix nanoseconds).
func forwardKey(ns int64) kvstore.Key {
	return kvstore.Key{Primary: nsForwards, Key: fmt.Sprintf("%019d", ns)}
}

// openForwardLog reads every forward of kv, oldest first.
func openForwardLog(kv kvstore.KVStore) (*forwardLog, error) {
	l := &forwardLog{kv: kv}
	names, err := kv.List(nsForwards, "")
	if err != nil {
		return nil, fmt.Errorf("listing forwards: %w", err)
	}
	for _, name := range names {
		k := kvstore.Key{Primary: nsForwards, Key: name}
		b, _, err := kv.Read(k)
		if err != nil {
			return nil, fmt.Errorf("reading %s: %w", k, err)
		}
		var rec nodeapi.Forward
		if err := json.Unmarshal(b, &rec); err != nil {
			return nil, fmt.Errorf("decoding %s: %w", k, err)
		}
		l.recs = append(l.recs, rec)
		var ns int64
		if _, err := fmt.Sscanf(name, "%d", &ns); err == nil {
			l.lastNs = max(l.lastNs, ns)
		}
	}
	return l, nil
}

// add stores a forward, durably, under the current time (or just after the last key, if the clock
// has not moved past it).
func (l *forwardLog) add(rec nodeapi.Forward) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return fmt.Errorf("forwarding history closed")
	}
	ns := max(time.Now().UnixNano(), l.lastNs+1)
	if err := l.kv.Write(forwardKey(ns), b); err != nil {
		return err
	}
	l.lastNs = ns
	l.recs = append(l.recs, rec)
	return nil
}

// history lists the forwards, oldest first (the limit most recent when limit > 0), with totals over
// those listed.
func (l *forwardLog) history(limit uint32) *nodeapi.ForwardingHistoryResult {
	l.mu.Lock()
	defer l.mu.Unlock()
	recs := l.recs
	if limit > 0 && int(limit) < len(recs) {
		recs = recs[len(recs)-int(limit):]
	}
	res := &nodeapi.ForwardingHistoryResult{Forwards: append([]nodeapi.Forward{}, recs...), NumForwards: len(recs),
		TotalForwards: len(l.recs)}
	for _, r := range recs {
		res.TotalAmountInMsat += r.AmountInMsat
		res.TotalAmountOutMsat += r.AmountOutMsat
		res.TotalFeeMsat += r.FeeMsat
	}
	return res
}

// close refuses further forwards (the store is closing).
func (l *forwardLog) close() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.closed = true
}
