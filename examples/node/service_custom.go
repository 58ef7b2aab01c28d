package main

import (
	"context"
	"errors"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

// SendCustomMessage: see nodeapi.Service.
func (s *service) SendCustomMessage(ctx context.Context, p nodeapi.SendCustomMessageParams) (*nodeapi.SendCustomMessageResult, error) {
	return nil, errors.New("sendcustommessage: not implemented yet")
}
