package grpcapi

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/lnkit/lnkit/examples/node/lnkitrpc"
	"github.com/lnkit/lnkit/examples/nodeapi"
)

const testToken = "0123456789abcdef"

// fakeService answers GetInfo with err (or a result), DecodeInvoice with the invoice's length, and
// serves events from its subscribers' channels; any other method panics (nil embedded interface).
type fakeService struct {
	nodeapi.Service
	err error

	mu   sync.Mutex
	subs []chan nodeapi.Event
}

func (f *fakeService) GetInfo(context.Context) (*nodeapi.GetInfoResult, error) {
	if f.err != nil {
		return nil, f.err
	}
	return &nodeapi.GetInfoResult{NodeID: "02ab", Network: "regtest", NumPeers: 3}, nil
}

func (f *fakeService) DecodeInvoice(_ context.Context, p nodeapi.DecodeInvoiceParams) (*nodeapi.DecodeInvoiceResult, error) {
	return &nodeapi.DecodeInvoiceResult{Description: fmt.Sprint(len(p.Bolt11))}, nil
}

func (f *fakeService) SubscribeEvents() (<-chan nodeapi.Event, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	ch := make(chan nodeapi.Event, 8)
	f.subs = append(f.subs, ch)
	return ch, func() {}
}

func (f *fakeService) publish(e nodeapi.Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range f.subs {
		ch <- e
	}
}

// serve runs a Server of svc on 127.0.0.1 and returns it with a client sending the token.
func serve(t *testing.T, svc nodeapi.Service, opts ...Option) (*Server, lnkitrpc.NodeClient) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s := NewServer(svc, testToken, nil, opts...)
	done := make(chan error, 1)
	go func() { done <- s.Serve(ln) }()
	t.Cleanup(func() {
		require.NoError(t, s.Shutdown(context.Background()))
		require.NoError(t, <-done)
	})
	conn, err := grpc.NewClient(ln.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(Bearer(testToken)))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return s, lnkitrpc.NewNodeClient(conn)
}

// TestErrorsMapped: each kind of Service error gets its documented code and the same message the
// JSON-RPC API sends.
func TestErrorsMapped(t *testing.T) {
	svc := &fakeService{}
	_, c := serve(t, svc)
	ctx := context.Background()
	cases := []struct {
		err  error
		code codes.Code
		msg  string
	}{
		{fmt.Errorf("%w: node id must be 66 hex characters", nodeapi.ErrInvalidParams), codes.InvalidArgument,
			"invalid params: node id must be 66 hex characters"},
		{errors.New("no route to the payee"), codes.FailedPrecondition, "no route to the payee"},
		{&nodeapi.Error{Code: nodeapi.CodeInvalidParams, Message: "bad"}, codes.InvalidArgument, "bad"},
		{&nodeapi.Error{Code: nodeapi.CodeFailed, Message: "offline"}, codes.FailedPrecondition, "offline"},
		{&nodeapi.Error{Code: nodeapi.CodeInternal, Message: "oops"}, codes.Internal, "oops"},
		{&nodeapi.Error{Code: 12345, Message: "odd"}, codes.Unknown, "odd"},
		{fmt.Errorf("waiting: %w", context.DeadlineExceeded), codes.DeadlineExceeded, "waiting: context deadline exceeded"},
	}
	for _, tc := range cases {
		svc.err = tc.err
		_, err := c.GetInfo(ctx, &lnkitrpc.GetInfoRequest{})
		st, ok := status.FromError(err)
		require.True(t, ok)
		require.Equal(t, tc.code, st.Code(), tc.msg)
		require.Equal(t, tc.msg, st.Message())
	}
	svc.err = nil
	info, err := c.GetInfo(ctx, &lnkitrpc.GetInfoRequest{})
	require.NoError(t, err)
	require.Equal(t, "regtest", info.GetNetwork())
	require.EqualValues(t, 3, info.GetNumPeers())
}

// TestPanicIsInternal: a panic in the Service (here: a method the fake does not implement) is
// recovered and answered with Internal; the server goes on serving.
func TestPanicIsInternal(t *testing.T) {
	_, c := serve(t, &fakeService{})
	_, err := c.ListPeers(context.Background(), &lnkitrpc.ListPeersRequest{})
	require.Equal(t, codes.Internal, status.Code(err), "%v", err)
	_, err = c.GetInfo(context.Background(), &lnkitrpc.GetInfoRequest{})
	require.NoError(t, err)
}

// TestAuthorization: Bearer and Basic "__cookie__:<token>" are accepted; a wrong token, user or
// scheme, two values, or a Server with an empty token refuse with Unauthenticated.
func TestAuthorization(t *testing.T) {
	c := newCredentials(testToken)
	check := func(vals ...string) error {
		ctx := context.Background()
		md := map[string][]string{}
		if len(vals) > 0 {
			md[AuthMetadataKey] = vals
		}
		return c.check(metadataContext(ctx, md))
	}
	require.NoError(t, check("Bearer "+testToken))
	require.NoError(t, check("bearer "+testToken))
	require.NoError(t, check(basicValue(nodeapi.CookieUser, testToken)))
	for _, bad := range [][]string{
		nil,
		{"Bearer " + testToken + "0"},
		{"Bearer " + testToken[:len(testToken)-1]},
		{basicValue("someone", testToken)},
		{basicValue(nodeapi.CookieUser, "wrong")},
		{"Basic !!notbase64"},
		{"Token " + testToken},
		{testToken},
		{"Bearer " + testToken, "Bearer " + testToken},
	} {
		require.Equal(t, codes.Unauthenticated, status.Code(check(bad...)), "%q", bad)
	}
	empty := newCredentials("")
	ctx := metadataContext(context.Background(), map[string][]string{AuthMetadataKey: {"Bearer "}})
	require.Equal(t, codes.Unauthenticated, status.Code(empty.check(ctx)))
}

// TestMessageSizeBounded: a request above the bound is refused with ResourceExhausted before the
// Service sees it; one below is served.
func TestMessageSizeBounded(t *testing.T) {
	_, c := serve(t, &fakeService{}, WithMaxRecvBytes(4096))
	ctx := context.Background()
	res, err := c.DecodeInvoice(ctx, &lnkitrpc.DecodeInvoiceRequest{Bolt11: strings.Repeat("x", 4000)})
	require.NoError(t, err)
	require.Equal(t, "4000", res.GetDescription())
	_, err = c.DecodeInvoice(ctx, &lnkitrpc.DecodeInvoiceRequest{Bolt11: strings.Repeat("x", 5000)})
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)
}

// TestEventStream: events reach the stream field by field; a stream beyond the bound is refused
// with ResourceExhausted; Shutdown ends the streams (OK: io.EOF at the client) and returns.
func TestEventStream(t *testing.T) {
	svc := &fakeService{}
	s, c := serve(t, svc, WithMaxEventStreams(1))
	ctx := context.Background()
	stream, err := c.SubscribeEvents(ctx, &lnkitrpc.SubscribeEventsRequest{})
	require.NoError(t, err)
	_, err = stream.Header()
	require.NoError(t, err)
	want := nodeapi.Event{Type: "custom_message", NodeID: "02ab", MsgType: 32769, Data: "0102", AmountMsat: 5,
		FailureCode: 0x400f, FundingOutpoint: "ab:1", Height: 7}
	svc.publish(want)
	got, err := stream.Recv()
	require.NoError(t, err)
	require.Equal(t, want, EventFromRPC(got))

	second, err := c.SubscribeEvents(ctx, &lnkitrpc.SubscribeEventsRequest{})
	require.NoError(t, err)
	_, err = second.Recv()
	require.Equal(t, codes.ResourceExhausted, status.Code(err), "%v", err)

	shut := make(chan error, 1)
	go func() { shut <- s.Shutdown(context.Background()) }()
	_, err = stream.Recv()
	require.ErrorIs(t, err, io.EOF)
	select {
	case err := <-shut:
		require.NoError(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown waits for the event stream")
	}
	_, err = c.GetInfo(ctx, &lnkitrpc.GetInfoRequest{})
	require.Error(t, err, "no calls after Shutdown")
}

// TestFitUint16: 16-bit fields travel as uint32; values beyond are invalid params naming the field.
func TestFitUint16(t *testing.T) {
	v, err := fitUint16("type", 65535)
	require.NoError(t, err)
	require.EqualValues(t, 65535, v)
	_, err = fitUint16("type", 65536)
	require.ErrorIs(t, err, nodeapi.ErrInvalidParams)
	require.ErrorContains(t, err, "type: 65536 does not fit 16 bits")
}
