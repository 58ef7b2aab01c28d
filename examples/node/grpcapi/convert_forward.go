package grpcapi

import (
	"fmt"
	"math"

	"github.com/lnkit/lnkit/examples/node/lnkitrpc"
	"github.com/lnkit/lnkit/examples/nodeapi"
)

// Converters of the forwarding methods (forwardinghistory, updatechanpolicy).

func forwardingHistoryFromRPC(r *lnkitrpc.ForwardingHistoryRequest) nodeapi.ForwardingHistoryParams {
	return nodeapi.ForwardingHistoryParams{Limit: r.GetLimit()}
}

func forwardingHistoryToRPC(r *nodeapi.ForwardingHistoryResult) *lnkitrpc.ForwardingHistoryResponse {
	out := &lnkitrpc.ForwardingHistoryResponse{
		Forwards:           make([]*lnkitrpc.Forward, 0, len(r.Forwards)),
		NumForwards:        int64(r.NumForwards),
		TotalForwards:      int64(r.TotalForwards),
		TotalAmountInMsat:  r.TotalAmountInMsat,
		TotalAmountOutMsat: r.TotalAmountOutMsat,
		TotalFeeMsat:       r.TotalFeeMsat,
	}
	for _, f := range r.Forwards {
		out.Forwards = append(out.Forwards, &lnkitrpc.Forward{
			Timestamp:          f.Timestamp,
			PrevChannelId:      f.PrevChannelID,
			NextChannelId:      f.NextChannelID,
			PrevShortChannelId: f.PrevShortChannelID,
			NextShortChannelId: f.NextShortChannelID,
			PrevNodeId:         f.PrevNodeID,
			NextNodeId:         f.NextNodeID,
			AmountInMsat:       f.AmountInMsat,
			AmountOutMsat:      f.AmountOutMsat,
			FeeMsat:            f.FeeMsat,
			ClaimedOnChain:     f.ClaimedOnChain,
		})
	}
	return out
}

// updateChanPolicyFromRPC returns an error wrapping nodeapi.ErrInvalidParams for a time_lock_delta
// that does not fit 16 bits (the JSON-RPC API's type is a uint16).
func updateChanPolicyFromRPC(r *lnkitrpc.UpdateChanPolicyRequest) (nodeapi.UpdateChanPolicyParams, error) {
	p := nodeapi.UpdateChanPolicyParams{ChannelID: r.GetChannelId(), BaseFeeMsat: r.BaseFeeMsat,
		FeeRatePPM: r.FeeRatePpm}
	if r.TimeLockDelta != nil {
		d, err := fitUint16("time_lock_delta", *r.TimeLockDelta)
		if err != nil {
			return p, err
		}
		p.TimeLockDelta = &d
	}
	return p, nil
}

func updateChanPolicyToRPC(r *nodeapi.UpdateChanPolicyResult) *lnkitrpc.UpdateChanPolicyResponse {
	out := &lnkitrpc.UpdateChanPolicyResponse{Updated: make([]*lnkitrpc.ChannelPolicy, 0, len(r.Updated))}
	for _, c := range r.Updated {
		out.Updated = append(out.Updated, &lnkitrpc.ChannelPolicy{
			ChannelId:      c.ChannelID,
			ShortChannelId: c.ShortChannelID,
			NodeId:         c.NodeID,
			BaseFeeMsat:    c.BaseFeeMsat,
			FeeRatePpm:     c.FeeRatePPM,
			TimeLockDelta:  uint32(c.TimeLockDelta),
		})
	}
	return out
}

// fitUint16 returns v as a uint16, or an error wrapping nodeapi.ErrInvalidParams naming the field
// when v does not fit (proto3 has no 16-bit type: such fields travel as uint32).
func fitUint16(field string, v uint32) (uint16, error) {
	if v > math.MaxUint16 {
		return 0, fmt.Errorf("%w: %s: %d does not fit 16 bits", nodeapi.ErrInvalidParams, field, v)
	}
	return uint16(v), nil
}
