package main

import (
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"sort"
	"sync"

	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/kvstore"
)

// store keeps the node's payment and invoice records for listpayments and listinvoices, one key per
// record in the node's KVStore (a payment's cost does not grow with the history):
//
//	("payments", "", "<payment id, hex>")   a nodeapi.Payment, JSON
//	("invoices", "", "<payment hash, hex>") a nodeapi.Invoice, JSON
//
// Every record is read at start and kept in memory; each change rewrites its record. The channel
// state itself lives with the ChannelManager and the monitors: these records are the host's
// bookkeeping. A write that fails is logged and the record stays changed in memory (the manager
// re-delivers payment outcomes it was not told were handled; a fenced store stops the node anyway).
type store struct {
	mu       sync.Mutex
	kv       kvstore.KVStore
	log      *slog.Logger
	payments map[string]*nodeapi.Payment // by payment id (hex)
	invoices map[string]*nodeapi.Invoice // by payment hash (hex)
	// waiters are the callers waiting for a payment to finish, by payment id.
	waiters map[string][]chan nodeapi.Payment
	// unreleased are the payments recorded final since the last release: their waiters hear of them
	// at the next release, once the record is durable (the store is the node's held writes).
	unreleased map[string]bool
}

// Namespaces of the records.
const (
	nsPayments = "payments"
	nsInvoices = "invoices"
)

// openStore reads every record of kv.
func openStore(kv kvstore.KVStore, log *slog.Logger) (*store, error) {
	s := &store{kv: kv, log: log, payments: map[string]*nodeapi.Payment{}, invoices: map[string]*nodeapi.Invoice{},
		waiters: map[string][]chan nodeapi.Payment{}, unreleased: map[string]bool{}}
	if err := readRecords(kv, nsPayments, func(p *nodeapi.Payment) { s.payments[p.PaymentID] = p }); err != nil {
		return nil, err
	}
	if err := readRecords(kv, nsInvoices, func(inv *nodeapi.Invoice) { s.invoices[inv.PaymentHash] = inv }); err != nil {
		return nil, err
	}
	return s, nil
}

// readRecords decodes every JSON record of one namespace, in key order.
func readRecords[T any](kv kvstore.KVStore, ns string, f func(*T)) error {
	names, err := kv.List(ns, "")
	if err != nil {
		return fmt.Errorf("listing %s: %w", ns, err)
	}
	for _, name := range names {
		k := kvstore.Key{Primary: ns, Key: name}
		b, _, err := kv.Read(k)
		if err != nil {
			return fmt.Errorf("reading %s: %w", k, err)
		}
		v := new(T)
		if err := json.Unmarshal(b, v); err != nil {
			return fmt.Errorf("decoding %s: %w", k, err)
		}
		f(v)
	}
	return nil
}

// recordKey is the key of a record whose id is hex (lower case); anything else (only tests make such
// ids) is hex-encoded as it stands so that the key stays valid.
func recordKey(ns, id string) kvstore.Key {
	if (kvstore.Key{Primary: ns, Key: id}).Validate() != nil {
		id = "x" + hex.EncodeToString([]byte(id))
	}
	return kvstore.Key{Primary: ns, Key: id}
}

// writeLocked writes one record. The caller holds s.mu.
func (s *store) writeLocked(k kvstore.Key, v any) {
	b, err := json.Marshal(v)
	if err == nil {
		err = s.kv.Write(k, b)
	}
	if err != nil {
		s.log.Error("writing record", "key", k.String(), "err", err)
	}
}

// putPayment records a new or changed payment; when it is final, its waiters get it at the next
// release.
func (s *store) putPayment(p nodeapi.Payment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := p
	s.payments[p.PaymentID] = &cp
	s.writeLocked(recordKey(nsPayments, p.PaymentID), &cp)
	if p.Status != nodeapi.StatusPending {
		s.unreleased[p.PaymentID] = true
	}
}

// release hands the final payments recorded so far to their waiters; the node calls it once the
// records are durable.
func (s *store) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.unreleased {
		p := *s.payments[id]
		for _, ch := range s.waiters[id] {
			ch <- p
		}
		delete(s.waiters, id)
	}
	clear(s.unreleased)
}

// updatePayment applies fn to a known payment and stores the result; it reports whether the payment
// was known.
func (s *store) updatePayment(id string, fn func(p *nodeapi.Payment)) (nodeapi.Payment, bool) {
	s.mu.Lock()
	old, ok := s.payments[id]
	if !ok {
		s.mu.Unlock()
		return nodeapi.Payment{}, false
	}
	p := *old
	s.mu.Unlock()
	fn(&p)
	s.putPayment(p)
	return p, true
}

// waitPayment returns a channel that receives the payment once it is final and durable (at once if it
// is).
func (s *store) waitPayment(id string) <-chan nodeapi.Payment {
	ch := make(chan nodeapi.Payment, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.payments[id]; ok && p.Status != nodeapi.StatusPending && !s.unreleased[id] {
		ch <- *p
		return ch
	}
	s.waiters[id] = append(s.waiters[id], ch)
	return ch
}

func (s *store) payment(id string) (nodeapi.Payment, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	p, ok := s.payments[id]
	if !ok {
		return nodeapi.Payment{}, false
	}
	return *p, true
}

func (s *store) putInvoice(inv nodeapi.Invoice) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := inv
	s.invoices[inv.PaymentHash] = &cp
	s.writeLocked(recordKey(nsInvoices, inv.PaymentHash), &cp)
}

func (s *store) invoice(hash string) (nodeapi.Invoice, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	inv, ok := s.invoices[hash]
	if !ok {
		return nodeapi.Invoice{}, false
	}
	return *inv, true
}

// listPayments returns every payment, oldest first.
func (s *store) listPayments() []nodeapi.Payment {
	s.mu.Lock()
	defer s.mu.Unlock()
	return oldestFirst(s.payments, func(p nodeapi.Payment) (int64, string) { return p.CreatedAt, p.PaymentID })
}

// listInvoices returns every invoice, oldest first.
func (s *store) listInvoices() []nodeapi.Invoice {
	s.mu.Lock()
	defer s.mu.Unlock()
	return oldestFirst(s.invoices, func(inv nodeapi.Invoice) (int64, string) { return inv.CreatedAt, inv.PaymentHash })
}

// oldestFirst copies a record map's values, sorted by creation time and then by key.
func oldestFirst[T any](m map[string]*T, key func(T) (created int64, id string)) []T {
	out := make([]T, 0, len(m))
	for _, v := range m {
		out = append(out, *v)
	}
	sort.Slice(out, func(i, j int) bool {
		ci, ii := key(out[i])
		cj, ij := key(out[j])
		if ci != cj {
			return ci < cj
		}
		return ii < ij
	})
	return out
}

// unknownToManager is the failure reason of a payment reconcilePayments marks failed.
const unknownToManager = "unknown to the channel manager at start: the node stopped before the payment was sent"

// reconcilePayments marks failed every payment recorded as pending whose id the ChannelManager does not
// know (known: its ListRecentPayments at start) and returns their ids. Such a record was written just
// before the payment was handed to the manager, and the node stopped before the manager's state with
// the payment reached disk: no HTLC of it ever left (the node writes the manager before sending
// anything), so nothing will ever finish it, and marking it failed lets the invoice be paid again.
// Payments the manager knows are left for its events. (One case is misjudged: a payment the manager
// finished and then forgot, IdempotencyTimeoutTicks later, whose final record a power failure lost
// (records are not synced). The payee's invoice is then already paid.)
func reconcilePayments(s *store, known []channelmanager.RecentPayment) []string {
	ids := make(map[string]bool, len(known))
	for _, p := range known {
		ids[hex.EncodeToString(p.PaymentID[:])] = true
	}
	var failed []string
	for _, p := range s.listPayments() {
		if p.Status != nodeapi.StatusPending || ids[p.PaymentID] {
			continue
		}
		p.Status = nodeapi.StatusFailed
		p.FailureReason = unknownToManager
		s.putPayment(p)
		failed = append(failed, p.PaymentID)
	}
	return failed
}
