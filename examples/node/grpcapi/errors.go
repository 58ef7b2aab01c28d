package grpcapi

import (
	"context"
	"errors"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

// toStatus maps a nodeapi.Service error to the gRPC status sent, with the message the JSON-RPC API
// would send (nodeapi's toRPCError):
//
//   - an *nodeapi.Error: its code mapped by codeOf;
//   - an error wrapping nodeapi.ErrInvalidParams: InvalidArgument;
//   - a context's deadline or cancellation: DeadlineExceeded or Canceled (the JSON-RPC API sends
//     these as CodeFailed; gRPC has codes of its own for them that clients act on);
//   - any other error (JSON-RPC's CodeFailed: the request was well formed but the node could not do
//     it: no route, peer offline, insufficient funds): FailedPrecondition, gRPC's code for "the
//     system is not in a state required for the operation" that the client should not blindly
//     retry; not Internal or Unknown, which would say the node is broken.
func toStatus(err error) error {
	if err == nil {
		return nil
	}
	var e *nodeapi.Error
	switch {
	case errors.As(err, &e) && e != nil:
		return status.Error(codeOf(e.Code), e.Message)
	case errors.Is(err, nodeapi.ErrInvalidParams):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, err.Error())
	case errors.Is(err, context.Canceled):
		return status.Error(codes.Canceled, err.Error())
	default:
		return status.Error(codes.FailedPrecondition, err.Error())
	}
}

// codeOf maps a JSON-RPC error code of nodeapi to a gRPC code; an unknown one is Unknown.
func codeOf(code int) codes.Code {
	switch code {
	case nodeapi.CodeInvalidParams, nodeapi.CodeInvalidRequest, nodeapi.CodeParseError:
		return codes.InvalidArgument
	case nodeapi.CodeFailed:
		return codes.FailedPrecondition
	case nodeapi.CodeMethodNotFound:
		return codes.Unimplemented
	case nodeapi.CodeUnauthorized:
		return codes.Unauthenticated
	case nodeapi.CodeInternal:
		return codes.Internal
	default:
		return codes.Unknown
	}
}
