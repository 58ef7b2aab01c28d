package main

import (
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/kvstore"
)

func testRecords(t *testing.T, kv kvstore.KVStore) *store {
	t.Helper()
	s, err := openStore(kv, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	return s
}

// TestStoreKeepsLastRecordAcrossReopen: each record is one key holding its last version.
func TestStoreKeepsLastRecordAcrossReopen(t *testing.T) {
	kv := kvstore.NewMemStore()
	s := testRecords(t, kv)
	s.putPayment(nodeapi.Payment{PaymentID: "aa", PaymentHash: "h1", AmountMsat: 5, Status: nodeapi.StatusPending, CreatedAt: 1})
	s.putPayment(nodeapi.Payment{PaymentID: "bb", PaymentHash: "h2", AmountMsat: 7, Status: nodeapi.StatusPending, CreatedAt: 2})
	got, ok := s.updatePayment("aa", func(p *nodeapi.Payment) { p.Status = nodeapi.StatusSucceeded; p.Preimage = "pp" })
	require.True(t, ok)
	require.Equal(t, nodeapi.StatusSucceeded, got.Status)
	_, ok = s.updatePayment("zz", func(*nodeapi.Payment) {})
	require.False(t, ok)
	s.putInvoice(nodeapi.Invoice{PaymentHash: "h3", AmountMsat: 9, Status: nodeapi.InvoiceOpen, CreatedAt: 3})
	s.putInvoice(nodeapi.Invoice{PaymentHash: "h3", AmountMsat: 9, ReceivedMsat: 9, Status: nodeapi.InvoicePaid, CreatedAt: 3})
	keys, err := kv.ListAll()
	require.NoError(t, err)
	require.Equal(t, []kvstore.Key{{Primary: nsInvoices, Key: "h3"}, {Primary: nsPayments, Key: "aa"},
		{Primary: nsPayments, Key: "bb"}}, keys, "one key per record")

	s = testRecords(t, kv)
	ps := s.listPayments()
	require.Len(t, ps, 2)
	require.Equal(t, "aa", ps[0].PaymentID)
	require.Equal(t, nodeapi.StatusSucceeded, ps[0].Status)
	require.Equal(t, "pp", ps[0].Preimage)
	require.Equal(t, nodeapi.StatusPending, ps[1].Status)
	invs := s.listInvoices()
	require.Len(t, invs, 1)
	require.Equal(t, nodeapi.InvoicePaid, invs[0].Status)
	require.Equal(t, uint64(9), invs[0].ReceivedMsat)

	// An id that is not a valid key part gets one.
	s.putPayment(nodeapi.Payment{PaymentID: "a/b", Status: nodeapi.StatusFailed})
	require.Len(t, testRecords(t, kv).listPayments(), 3)
}

func TestStoreWaitersGetFinalPayment(t *testing.T) {
	s := testRecords(t, kvstore.NewMemStore())
	s.putPayment(nodeapi.Payment{PaymentID: "aa", Status: nodeapi.StatusPending})
	w1 := s.waitPayment("aa")
	w2 := s.waitPayment("aa")
	select {
	case <-w1:
		t.Fatal("a pending payment must not wake its waiters")
	default:
	}
	s.updatePayment("aa", func(p *nodeapi.Payment) { p.Status = nodeapi.StatusFailed; p.FailureCode = 0x400f })
	w3 := s.waitPayment("aa")
	select {
	case <-w1:
		t.Fatal("an outcome not yet durable must not wake its waiters")
	case <-w3:
		t.Fatal("an outcome not yet durable must not answer a new waiter")
	default:
	}
	s.release() // the node's flush made the record durable
	require.Equal(t, uint16(0x400f), (<-w1).FailureCode)
	require.Equal(t, uint16(0x400f), (<-w3).FailureCode)
	require.Equal(t, nodeapi.StatusFailed, (<-w2).Status)
	// A finished payment answers at once.
	require.Equal(t, nodeapi.StatusFailed, (<-s.waitPayment("aa")).Status)
}
