package grpcapi

import (
	"github.com/lnkit/lnkit/examples/node/lnkitrpc"
	"github.com/lnkit/lnkit/examples/nodeapi"
)

// Converters of custom messages and of the event stream.

// sendCustomMessageFromRPC returns an error wrapping nodeapi.ErrInvalidParams for a type that does
// not fit 16 bits.
func sendCustomMessageFromRPC(r *lnkitrpc.SendCustomMessageRequest) (nodeapi.SendCustomMessageParams, error) {
	t, err := fitUint16("type", r.GetType())
	if err != nil {
		return nodeapi.SendCustomMessageParams{}, err
	}
	return nodeapi.SendCustomMessageParams{Peer: r.GetPeer(), Type: t, Data: r.GetData()}, nil
}

// EventToRPC converts an event of nodeapi's stream to the gRPC stream's, field by field.
func EventToRPC(e *nodeapi.Event) *lnkitrpc.Event {
	return &lnkitrpc.Event{
		Type:            e.Type,
		PaymentHash:     e.PaymentHash,
		PaymentId:       e.PaymentID,
		AmountMsat:      e.AmountMsat,
		ChannelId:       e.ChannelID,
		NodeId:          e.NodeID,
		Height:          e.Height,
		Reason:          e.Reason,
		FundingOutpoint: e.FundingOutpoint,
		NextChannelId:   e.NextChannelID,
		FeeMsat:         e.FeeMsat,
		FailureCode:     uint32(e.FailureCode),
		ShortChannelId:  e.ShortChannelID,
		MsgType:         uint32(e.MsgType),
		Data:            e.Data,
	}
}

// EventFromRPC converts an event of the gRPC stream to nodeapi's (the inverse of EventToRPC; codes
// and types beyond 16 bits, which the server never sends, are truncated).
func EventFromRPC(e *lnkitrpc.Event) nodeapi.Event {
	return nodeapi.Event{
		Type:            e.GetType(),
		PaymentHash:     e.GetPaymentHash(),
		PaymentID:       e.GetPaymentId(),
		AmountMsat:      e.GetAmountMsat(),
		ChannelID:       e.GetChannelId(),
		NodeID:          e.GetNodeId(),
		Height:          e.GetHeight(),
		Reason:          e.GetReason(),
		FundingOutpoint: e.GetFundingOutpoint(),
		NextChannelID:   e.GetNextChannelId(),
		FeeMsat:         e.GetFeeMsat(),
		FailureCode:     uint16(e.GetFailureCode()),
		ShortChannelID:  e.GetShortChannelId(),
		MsgType:         uint16(e.GetMsgType()),
		Data:            e.GetData(),
	}
}
