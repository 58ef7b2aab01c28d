package grpcapi

import (
	"github.com/lnkit/lnkit/examples/node/lnkitrpc"
	"github.com/lnkit/lnkit/examples/nodeapi"
)

// Converters of the invoice and payment methods. An optional field absent in the request (a nil
// pointer) stays absent in the params: nodeapi then applies its default.

func invoiceFromRPC(r *lnkitrpc.InvoiceRequest) nodeapi.InvoiceParams {
	return nodeapi.InvoiceParams{AmountMsat: r.GetAmountMsat(), Description: r.GetDescription(),
		ExpirySecs: r.GetExpirySecs()}
}

func invoiceToRPC(r *nodeapi.InvoiceResult) *lnkitrpc.InvoiceResponse {
	return &lnkitrpc.InvoiceResponse{Bolt11: r.Bolt11, PaymentHash: r.PaymentHash, ExpiresAt: r.ExpiresAt}
}

func decodeInvoiceFromRPC(r *lnkitrpc.DecodeInvoiceRequest) nodeapi.DecodeInvoiceParams {
	return nodeapi.DecodeInvoiceParams{Bolt11: r.GetBolt11()}
}

func decodeInvoiceToRPC(r *nodeapi.DecodeInvoiceResult) *lnkitrpc.DecodeInvoiceResponse {
	out := &lnkitrpc.DecodeInvoiceResponse{
		Network:                 r.Network,
		AmountMsat:              r.AmountMsat,
		Timestamp:               r.Timestamp,
		PaymentHash:             r.PaymentHash,
		PaymentSecret:           r.PaymentSecret,
		Description:             r.Description,
		DescriptionHash:         r.DescriptionHash,
		ExpirySecs:              r.ExpirySecs,
		MinFinalCltvExpiryDelta: r.MinFinalCLTVExpiryDelta,
		Payee:                   r.Payee,
		Features:                r.Features,
		FallbackAddresses:       r.FallbackAddresses,
	}
	for _, hint := range r.RouteHints {
		rh := &lnkitrpc.RouteHint{Hops: make([]*lnkitrpc.RouteHintHop, 0, len(hint))}
		for _, h := range hint {
			rh.Hops = append(rh.Hops, &lnkitrpc.RouteHintHop{
				NodeId:                    h.NodeID,
				ShortChannelId:            h.ShortChannelID,
				FeeBaseMsat:               h.FeeBaseMsat,
				FeeProportionalMillionths: h.FeeProportionalMillionths,
				CltvExpiryDelta:           uint32(h.CLTVExpiryDelta),
			})
		}
		out.RouteHints = append(out.RouteHints, rh)
	}
	return out
}

func payInvoiceFromRPC(r *lnkitrpc.PayInvoiceRequest) nodeapi.PayInvoiceParams {
	return nodeapi.PayInvoiceParams{
		Bolt11:      r.GetBolt11(),
		AmountMsat:  r.GetAmountMsat(),
		NoWait:      r.GetNoWait(),
		MaxParts:    r.GetMaxParts(),
		FeeLimitSat: r.FeeLimitSat,
		TimeoutSecs: r.GetTimeoutSecs(),
		Approval:    r.GetApproval(),
	}
}

func keysendFromRPC(r *lnkitrpc.KeysendRequest) nodeapi.KeysendParams {
	return nodeapi.KeysendParams{
		NodeID:      r.GetNodeId(),
		AmountMsat:  r.GetAmountMsat(),
		NoWait:      r.GetNoWait(),
		MaxParts:    r.GetMaxParts(),
		FeeLimitSat: r.FeeLimitSat,
		TimeoutSecs: r.GetTimeoutSecs(),
		Preimage:    r.GetPreimage(),
		Approval:    r.GetApproval(),
	}
}

func sendPaymentFromRPC(r *lnkitrpc.SendPaymentRequest) nodeapi.SendPaymentParams {
	return nodeapi.SendPaymentParams{
		NodeID:         r.GetNodeId(),
		AmountMsat:     r.GetAmountMsat(),
		PaymentHash:    r.GetPaymentHash(),
		PaymentSecret:  r.GetPaymentSecret(),
		FinalCLTVDelta: r.GetFinalCltvDelta(),
		NoWait:         r.GetNoWait(),
	}
}

func paymentToRPC(p *nodeapi.Payment) *lnkitrpc.Payment {
	return &lnkitrpc.Payment{
		PaymentId:     p.PaymentID,
		PaymentHash:   p.PaymentHash,
		Destination:   p.Destination,
		AmountMsat:    p.AmountMsat,
		FeeMsat:       p.FeeMsat,
		Status:        p.Status,
		Preimage:      p.Preimage,
		FailureCode:   uint32(p.FailureCode),
		FailureReason: p.FailureReason,
		CreatedAt:     p.CreatedAt,
	}
}

func listPaymentsToRPC(r *nodeapi.ListPaymentsResult) *lnkitrpc.ListPaymentsResponse {
	out := &lnkitrpc.ListPaymentsResponse{Payments: make([]*lnkitrpc.Payment, 0, len(r.Payments))}
	for i := range r.Payments {
		out.Payments = append(out.Payments, paymentToRPC(&r.Payments[i]))
	}
	return out
}

func listInvoicesToRPC(r *nodeapi.ListInvoicesResult) *lnkitrpc.ListInvoicesResponse {
	out := &lnkitrpc.ListInvoicesResponse{Invoices: make([]*lnkitrpc.Invoice, 0, len(r.Invoices))}
	for _, inv := range r.Invoices {
		out.Invoices = append(out.Invoices, &lnkitrpc.Invoice{
			PaymentHash:  inv.PaymentHash,
			Bolt11:       inv.Bolt11,
			AmountMsat:   inv.AmountMsat,
			ReceivedMsat: inv.ReceivedMsat,
			Status:       inv.Status,
			Keysend:      inv.Keysend,
			CreatedAt:    inv.CreatedAt,
			ExpiresAt:    inv.ExpiresAt,
			PaidAt:       inv.PaidAt,
		})
	}
	return out
}
