package grpcapi

import (
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/lnkit/lnkit/examples/node/lnkitrpc"
)

// SubscribeEvents streams the Service's events until the client goes (its context ends), the
// Service closes the subscription or the Server shuts down (the stream then ends with OK). The
// response headers are sent as soon as the subscription is in place: a client whose Header() call
// returned misses no later event. More than maxEventStreams at once: ResourceExhausted.
func (s *Server) SubscribeEvents(_ *lnkitrpc.SubscribeEventsRequest, stream lnkitrpc.Node_SubscribeEventsServer) error {
	select {
	case s.eventSlots <- struct{}{}:
		defer func() { <-s.eventSlots }()
	default:
		return status.Errorf(codes.ResourceExhausted, "too many event streams (at most %d)", cap(s.eventSlots))
	}
	events, unsubscribe := s.svc.SubscribeEvents()
	defer unsubscribe()
	if err := stream.SendHeader(metadata.MD{}); err != nil {
		return err
	}
	ctx := stream.Context()
	for {
		select {
		case <-ctx.Done():
			return status.FromContextError(ctx.Err()).Err()
		case <-s.ctx.Done():
			return nil
		case e, ok := <-events:
			if !ok {
				return nil
			}
			if err := stream.Send(EventToRPC(&e)); err != nil {
				return err
			}
		}
	}
}
