package grpcapi

import (
	"context"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lnkit/lnkit/examples/node/lnkitrpc"
	"github.com/lnkit/lnkit/examples/nodeapi"
)

// The unary methods of lnkitrpc.NodeServer: each converts its request, calls the Service method of
// the same name and converts the result; errors are mapped by toStatus.

// reply converts a Service result, or maps its error. A nil result without an error (a Service bug)
// is Internal.
func reply[R, O any](r *R, err error, conv func(*R) *O) (*O, error) {
	if err != nil {
		return nil, toStatus(err)
	}
	if r == nil {
		return nil, status.Error(codes.Internal, "internal error: no result")
	}
	return conv(r), nil
}

// GetInfo implements lnkitrpc.NodeServer: nodeapi's getinfo.
func (s *Server) GetInfo(ctx context.Context, _ *lnkitrpc.GetInfoRequest) (*lnkitrpc.GetInfoResponse, error) {
	r, err := s.svc.GetInfo(ctx)
	return reply(r, err, getInfoToRPC)
}

// Connect implements lnkitrpc.NodeServer: nodeapi's connect.
func (s *Server) Connect(ctx context.Context, req *lnkitrpc.ConnectRequest) (*lnkitrpc.ConnectResponse, error) {
	r, err := s.svc.Connect(ctx, connectFromRPC(req))
	return reply(r, err, connectToRPC)
}

// ListPeers implements lnkitrpc.NodeServer: nodeapi's listpeers.
func (s *Server) ListPeers(ctx context.Context, _ *lnkitrpc.ListPeersRequest) (*lnkitrpc.ListPeersResponse, error) {
	r, err := s.svc.ListPeers(ctx)
	return reply(r, err, listPeersToRPC)
}

// NewAddress implements lnkitrpc.NodeServer: nodeapi's newaddress.
func (s *Server) NewAddress(ctx context.Context, _ *lnkitrpc.NewAddressRequest) (*lnkitrpc.NewAddressResponse, error) {
	r, err := s.svc.NewAddress(ctx)
	return reply(r, err, newAddressToRPC)
}

// WalletBalance implements lnkitrpc.NodeServer: nodeapi's walletbalance.
func (s *Server) WalletBalance(ctx context.Context, _ *lnkitrpc.WalletBalanceRequest) (*lnkitrpc.WalletBalanceResponse, error) {
	r, err := s.svc.WalletBalance(ctx)
	return reply(r, err, walletBalanceToRPC)
}

// ListBalances implements lnkitrpc.NodeServer: nodeapi's listbalances.
func (s *Server) ListBalances(ctx context.Context, _ *lnkitrpc.ListBalancesRequest) (*lnkitrpc.ListBalancesResponse, error) {
	r, err := s.svc.ListBalances(ctx)
	return reply(r, err, listBalancesToRPC)
}

// OpenChannel implements lnkitrpc.NodeServer: nodeapi's openchannel.
func (s *Server) OpenChannel(ctx context.Context, req *lnkitrpc.OpenChannelRequest) (*lnkitrpc.OpenChannelResponse, error) {
	r, err := s.svc.OpenChannel(ctx, openChannelFromRPC(req))
	return reply(r, err, openChannelToRPC)
}

// ListChannels implements lnkitrpc.NodeServer: nodeapi's listchannels.
func (s *Server) ListChannels(ctx context.Context, _ *lnkitrpc.ListChannelsRequest) (*lnkitrpc.ListChannelsResponse, error) {
	r, err := s.svc.ListChannels(ctx)
	return reply(r, err, listChannelsToRPC)
}

// CloseChannel implements lnkitrpc.NodeServer: nodeapi's closechannel.
func (s *Server) CloseChannel(ctx context.Context, req *lnkitrpc.CloseChannelRequest) (*lnkitrpc.CloseChannelResponse, error) {
	r, err := s.svc.CloseChannel(ctx, closeChannelFromRPC(req))
	return reply(r, err, closeChannelToRPC)
}

// Invoice implements lnkitrpc.NodeServer: nodeapi's invoice.
func (s *Server) Invoice(ctx context.Context, req *lnkitrpc.InvoiceRequest) (*lnkitrpc.InvoiceResponse, error) {
	r, err := s.svc.Invoice(ctx, invoiceFromRPC(req))
	return reply(r, err, invoiceToRPC)
}

// DecodeInvoice implements lnkitrpc.NodeServer: nodeapi's decodeinvoice.
func (s *Server) DecodeInvoice(ctx context.Context, req *lnkitrpc.DecodeInvoiceRequest) (*lnkitrpc.DecodeInvoiceResponse, error) {
	r, err := s.svc.DecodeInvoice(ctx, decodeInvoiceFromRPC(req))
	return reply(r, err, decodeInvoiceToRPC)
}

// PayInvoice implements lnkitrpc.NodeServer: nodeapi's payinvoice.
func (s *Server) PayInvoice(ctx context.Context, req *lnkitrpc.PayInvoiceRequest) (*lnkitrpc.Payment, error) {
	r, err := s.svc.PayInvoice(ctx, payInvoiceFromRPC(req))
	return reply(r, err, paymentToRPC)
}

// Keysend implements lnkitrpc.NodeServer: nodeapi's keysend.
func (s *Server) Keysend(ctx context.Context, req *lnkitrpc.KeysendRequest) (*lnkitrpc.Payment, error) {
	r, err := s.svc.Keysend(ctx, keysendFromRPC(req))
	return reply(r, err, paymentToRPC)
}

// SendPayment implements lnkitrpc.NodeServer: nodeapi's sendpayment.
func (s *Server) SendPayment(ctx context.Context, req *lnkitrpc.SendPaymentRequest) (*lnkitrpc.Payment, error) {
	r, err := s.svc.SendPayment(ctx, sendPaymentFromRPC(req))
	return reply(r, err, paymentToRPC)
}

// ListPayments implements lnkitrpc.NodeServer: nodeapi's listpayments.
func (s *Server) ListPayments(ctx context.Context, _ *lnkitrpc.ListPaymentsRequest) (*lnkitrpc.ListPaymentsResponse, error) {
	r, err := s.svc.ListPayments(ctx)
	return reply(r, err, listPaymentsToRPC)
}

// ListInvoices implements lnkitrpc.NodeServer: nodeapi's listinvoices.
func (s *Server) ListInvoices(ctx context.Context, _ *lnkitrpc.ListInvoicesRequest) (*lnkitrpc.ListInvoicesResponse, error) {
	r, err := s.svc.ListInvoices(ctx)
	return reply(r, err, listInvoicesToRPC)
}

// DescribeGraph implements lnkitrpc.NodeServer: nodeapi's describegraph.
func (s *Server) DescribeGraph(ctx context.Context, _ *lnkitrpc.DescribeGraphRequest) (*lnkitrpc.DescribeGraphResponse, error) {
	r, err := s.svc.DescribeGraph(ctx)
	return reply(r, err, describeGraphToRPC)
}

// GetNodeInfo implements lnkitrpc.NodeServer: nodeapi's getnodeinfo.
func (s *Server) GetNodeInfo(ctx context.Context, req *lnkitrpc.GetNodeInfoRequest) (*lnkitrpc.GetNodeInfoResponse, error) {
	r, err := s.svc.GetNodeInfo(ctx, getNodeInfoFromRPC(req))
	return reply(r, err, getNodeInfoToRPC)
}

// QueryRoutes implements lnkitrpc.NodeServer: nodeapi's queryroutes.
func (s *Server) QueryRoutes(ctx context.Context, req *lnkitrpc.QueryRoutesRequest) (*lnkitrpc.QueryRoutesResponse, error) {
	r, err := s.svc.QueryRoutes(ctx, queryRoutesFromRPC(req))
	return reply(r, err, queryRoutesToRPC)
}

// ForwardingHistory implements lnkitrpc.NodeServer: nodeapi's forwardinghistory.
func (s *Server) ForwardingHistory(ctx context.Context, req *lnkitrpc.ForwardingHistoryRequest) (*lnkitrpc.ForwardingHistoryResponse, error) {
	r, err := s.svc.ForwardingHistory(ctx, forwardingHistoryFromRPC(req))
	return reply(r, err, forwardingHistoryToRPC)
}

// UpdateChanPolicy implements lnkitrpc.NodeServer: nodeapi's updatechanpolicy.
func (s *Server) UpdateChanPolicy(ctx context.Context, req *lnkitrpc.UpdateChanPolicyRequest) (*lnkitrpc.UpdateChanPolicyResponse, error) {
	p, err := updateChanPolicyFromRPC(req)
	if err != nil {
		return nil, toStatus(err)
	}
	r, err := s.svc.UpdateChanPolicy(ctx, p)
	return reply(r, err, updateChanPolicyToRPC)
}

// SendCustomMessage implements lnkitrpc.NodeServer: nodeapi's sendcustommessage.
func (s *Server) SendCustomMessage(ctx context.Context, req *lnkitrpc.SendCustomMessageRequest) (*lnkitrpc.SendCustomMessageResponse, error) {
	p, err := sendCustomMessageFromRPC(req)
	if err != nil {
		return nil, toStatus(err)
	}
	r, err := s.svc.SendCustomMessage(ctx, p)
	return reply(r, err, func(*nodeapi.SendCustomMessageResult) *lnkitrpc.SendCustomMessageResponse {
		return &lnkitrpc.SendCustomMessageResponse{}
	})
}

// Stop implements lnkitrpc.NodeServer: nodeapi's stop.
func (s *Server) Stop(ctx context.Context, _ *lnkitrpc.StopRequest) (*lnkitrpc.StopResponse, error) {
	if err := s.svc.Stop(ctx); err != nil {
		return nil, toStatus(err)
	}
	return &lnkitrpc.StopResponse{}, nil
}
