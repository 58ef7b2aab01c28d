package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"strings"
	"time"

	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/invoice"
)

// maxInvoiceMsat is the largest amount an invoice may ask for: every bitcoin there will ever be,
// 21 million BTC.
const maxInvoiceMsat = 21_000_000 * 100_000_000 * 1000

func (s *service) Invoice(ctx context.Context, p nodeapi.InvoiceParams) (*nodeapi.InvoiceResult, error) {
	if len(p.Description) > 639 {
		return nil, invalid("description longer than 639 bytes")
	}
	if p.AmountMsat > maxInvoiceMsat {
		return nil, invalid("amount_msat %d is more than all the bitcoin there will ever be (21 million BTC, %d msat)",
			p.AmountMsat, uint64(maxInvoiceMsat))
	}
	now := time.Now()
	inv, bolt11, err := s.n.cm.CreateBolt11Invoice(channelmanager.Bolt11InvoiceParams{AmountMsat: p.AmountMsat,
		Description: p.Description, ExpirySecs: p.ExpirySecs, Timestamp: now})
	if err != nil {
		return nil, err
	}
	hash := hex.EncodeToString(inv.PaymentHash[:])
	expires := inv.ExpiresAt().Unix()
	s.n.store.putInvoice(nodeapi.Invoice{PaymentHash: hash, Bolt11: bolt11, AmountMsat: p.AmountMsat,
		Status: nodeapi.InvoiceOpen, CreatedAt: now.Unix(), ExpiresAt: expires})
	if err := s.n.flush(); err != nil { // the record is durable before the invoice is handed out
		return nil, err
	}
	return &nodeapi.InvoiceResult{Bolt11: bolt11, PaymentHash: hash, ExpiresAt: expires}, nil
}

// decode decodes a BOLT 11 string for this node's network.
func (s *service) decode(bolt11 string) (*invoice.Invoice, error) {
	bolt11 = strings.TrimPrefix(strings.TrimSpace(bolt11), "lightning:")
	if bolt11 == "" {
		return nil, invalid("bolt11 is required")
	}
	inv, err := invoice.Decode(bolt11, s.n.net)
	if err != nil {
		return nil, invalid("%w", err)
	}
	return inv, nil
}

func (s *service) DecodeInvoice(ctx context.Context, p nodeapi.DecodeInvoiceParams) (*nodeapi.DecodeInvoiceResult, error) {
	inv, err := s.decode(p.Bolt11)
	if err != nil {
		return nil, err
	}
	r := &nodeapi.DecodeInvoiceResult{Network: inv.Network.Name, Timestamp: inv.Timestamp.Unix(),
		PaymentHash: hex.EncodeToString(inv.PaymentHash[:]), ExpirySecs: uint64(inv.ExpiryOrDefault() / time.Second),
		MinFinalCLTVExpiryDelta: inv.MinFinalCLTVExpiryDeltaOrDefault(), Payee: nodeIDHex(inv.Payee)}
	if amt, ok := inv.Amount(); ok {
		r.AmountMsat = amt
	}
	if inv.PaymentSecret != nil {
		r.PaymentSecret = hex.EncodeToString(inv.PaymentSecret[:])
	}
	if inv.Description != nil {
		r.Description = *inv.Description
	}
	if inv.DescriptionHash != nil {
		r.DescriptionHash = hex.EncodeToString(inv.DescriptionHash[:])
	}
	if inv.Features != nil {
		r.Features = hex.EncodeToString(inv.Features.Encode())
	}
	for _, a := range inv.FallbackAddresses {
		r.FallbackAddresses = append(r.FallbackAddresses, a.EncodeAddress())
	}
	for _, hint := range inv.RouteHints {
		var hops []nodeapi.RouteHintHop
		for _, h := range hint {
			hops = append(hops, nodeapi.RouteHintHop{NodeID: nodeIDHex(h.NodeID), ShortChannelID: h.ShortChannelID.String(),
				FeeBaseMsat: h.FeeBaseMsat, FeeProportionalMillionths: h.FeeProportionalMillionths, CLTVExpiryDelta: h.CLTVExpiryDelta})
		}
		r.RouteHints = append(r.RouteHints, hops)
	}
	return r, nil
}

func (s *service) PayInvoice(ctx context.Context, p nodeapi.PayInvoiceParams) (*nodeapi.Payment, error) {
	inv, err := s.decode(p.Bolt11)
	if err != nil {
		return nil, err
	}
	if inv.IsExpired(time.Now()) {
		return nil, invalid("invoice expired at %s", inv.ExpiresAt().UTC().Format(time.RFC3339))
	}
	amt, ok := inv.Amount()
	switch {
	case ok && p.AmountMsat != 0 && p.AmountMsat != amt:
		return nil, invalid("the invoice asks for %d msat: leave amount_msat out", amt)
	case !ok && p.AmountMsat == 0:
		return nil, invalid("the invoice has no amount: give amount_msat")
	case !ok:
		amt = p.AmountMsat
	}
	lim, err := s.sendLimits(p.MaxParts, p.FeeLimitSat, p.TimeoutSecs)
	if err != nil {
		return nil, err
	}
	if err := s.n.requireSynced("payinvoice"); err != nil {
		return nil, err
	}
	if err := s.approve(p.Approval, p.FeeLimitSat, func(a approver, sig []byte) error {
		return a.ApproveInvoice(p.Bolt11, lim.feeLimitMsat, sig)
	}); err != nil {
		return nil, err
	}
	id := events.PaymentID(inv.PaymentHash)
	if old, ok := s.n.store.payment(hex.EncodeToString(id[:])); ok && old.Status == nodeapi.StatusFailed {
		_, _ = rand.Read(id[:]) // a new attempt after a failure needs a new payment id
	}
	rec := nodeapi.Payment{PaymentID: hex.EncodeToString(id[:]), PaymentHash: hex.EncodeToString(inv.PaymentHash[:]),
		Destination: nodeIDHex(inv.Payee), AmountMsat: amt}
	return s.sendAndWait(ctx, rec, p.NoWait, func() error {
		err := s.n.cm.PayBolt11Invoice(inv, p.AmountMsat, id, channelmanager.Bolt11PaymentConfig{
			MaxTotalRoutingFeeMsat: lim.feeLimitMsat, MaxPathCount: lim.maxPaths, Retry: lim.retry})
		return sendError(err, rec.Destination, amt)
	})
}
