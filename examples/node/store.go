package main

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"sort"
	"sync"

	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/examples/nodeapi"
)

// store keeps the node's payment and invoice records for listpayments and listinvoices. It is an
// append-only file of JSON lines, one per change ({"payment": ...} or {"invoice": ...}); the last
// line for a key wins. The file is compacted when the store is opened. The channel state itself
// lives with the ChannelManager and the monitors: these records are the host's bookkeeping.
type store struct {
	mu       sync.Mutex
	path     string
	f        *os.File
	w        *bufio.Writer
	payments map[string]*nodeapi.Payment // by payment id (hex)
	invoices map[string]*nodeapi.Invoice // by payment hash (hex)
	// waiters are the callers waiting for a payment to finish, by payment id.
	waiters map[string][]chan nodeapi.Payment
}

type storeLine struct {
	Payment *nodeapi.Payment `json:"payment,omitempty"`
	Invoice *nodeapi.Invoice `json:"invoice,omitempty"`
}

// openStore reads path (if it exists), compacts it and opens it for appending.
func openStore(path string) (*store, error) {
	s := &store{path: path, payments: map[string]*nodeapi.Payment{}, invoices: map[string]*nodeapi.Invoice{},
		waiters: map[string][]chan nodeapi.Payment{}}
	if f, err := os.Open(path); err == nil {
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 64<<10), 4<<20)
		for sc.Scan() {
			var l storeLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				// A torn last line after a crash: ignore it.
				continue
			}
			if l.Payment != nil {
				s.payments[l.Payment.PaymentID] = l.Payment
			}
			if l.Invoice != nil {
				s.invoices[l.Invoice.PaymentHash] = l.Invoice
			}
		}
		_ = f.Close()
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("reading %s: %w", path, err)
		}
	} else if !os.IsNotExist(err) {
		return nil, err
	}
	if err := s.compact(); err != nil {
		return nil, err
	}
	return s, nil
}

// compact rewrites the file with one line per record and reopens it for appending.
func (s *store) compact() error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	for _, p := range s.payments {
		if err := enc.Encode(storeLine{Payment: p}); err != nil {
			return err
		}
	}
	for _, inv := range s.invoices {
		if err := enc.Encode(storeLine{Invoice: inv}); err != nil {
			return err
		}
	}
	if err := writeFileAtomic(s.path, buf.Bytes(), 0o600); err != nil {
		return err
	}
	var err error
	s.f, err = os.OpenFile(s.path, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	s.w = bufio.NewWriter(s.f)
	return nil
}

// appendLocked writes one record line. The OS gets it at once (no fsync: these are records, and the
// payment outcomes are re-delivered by the ChannelManager after a crash).
func (s *store) appendLocked(l storeLine) {
	b, err := json.Marshal(l)
	if err != nil || s.w == nil {
		return
	}
	_, _ = s.w.Write(append(b, '\n'))
	_ = s.w.Flush()
}

func (s *store) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f != nil {
		_ = s.w.Flush()
		_ = s.f.Sync()
		_ = s.f.Close()
		s.f, s.w = nil, nil
	}
}

// putPayment records a new or changed payment; when it is final, its waiters get it.
func (s *store) putPayment(p nodeapi.Payment) {
	s.mu.Lock()
	defer s.mu.Unlock()
	cp := p
	s.payments[p.PaymentID] = &cp
	s.appendLocked(storeLine{Payment: &cp})
	if p.Status != nodeapi.StatusPending {
		for _, ch := range s.waiters[p.PaymentID] {
			ch <- p
		}
		delete(s.waiters, p.PaymentID)
	}
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

// waitPayment returns a channel that receives the payment once it is final (at once if it is).
func (s *store) waitPayment(id string) <-chan nodeapi.Payment {
	ch := make(chan nodeapi.Payment, 1)
	s.mu.Lock()
	defer s.mu.Unlock()
	if p, ok := s.payments[id]; ok && p.Status != nodeapi.StatusPending {
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
	s.appendLocked(storeLine{Invoice: &cp})
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
