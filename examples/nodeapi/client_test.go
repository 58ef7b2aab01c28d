package nodeapi

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestClientRoundTrip calls every typed method and checks the params the service received and the
// result the client decoded.
func TestClientRoundTrip(t *testing.T) {
	f, _, _, c := testServer(t)
	ctx := context.Background()

	check := func(method string, wantParams, got, want any, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		mustEqual(t, method+" result", got, want)
		call, _ := f.lastCall()
		if call.Method != method {
			t.Fatalf("service saw %s, want %s", call.Method, method)
		}
		mustEqual(t, method+" params", call.Params, wantParams)
	}

	info, err := c.GetInfo(ctx)
	check(MethodGetInfo, nil, info, fakeInfo, err)

	cp := ConnectParams{NodeID: "02" + hex32('f'), Address: "127.0.0.1:9735"}
	conn, err := c.Connect(ctx, cp)
	check(MethodConnect, cp, conn, &ConnectResult{NodeID: cp.NodeID}, err)

	peers, err := c.ListPeers(ctx)
	check(MethodListPeers, nil, peers, fakePeers, err)

	addr, err := c.NewAddress(ctx)
	check(MethodNewAddress, nil, addr, fakeAddress, err)

	bal, err := c.WalletBalance(ctx)
	check(MethodWalletBalance, nil, bal, fakeBalance, err)

	lb, err := c.ListBalances(ctx)
	check(MethodListBalances, nil, lb, fakeBalances, err)

	op := OpenChannelParams{NodeID: "03" + hex32('c'), AmountSat: 250_000, PushMsat: 10_000, Private: true, FeeratePerKw: 1000}
	opened, err := c.OpenChannel(ctx, op)
	check(MethodOpenChannel, op, opened, fakeOpen, err)

	chans, err := c.ListChannels(ctx)
	check(MethodListChannels, nil, chans, fakeChannels, err)

	cl := CloseChannelParams{ChannelID: hex32('2'), Force: true}
	closed, err := c.CloseChannel(ctx, cl)
	check(MethodCloseChannel, cl, closed, &CloseChannelResult{}, err)

	ip := InvoiceParams{AmountMsat: 1_000_000_000_000, Description: "päy \"me\"\n", ExpirySecs: 4294967295}
	inv, err := c.Invoice(ctx, ip)
	check(MethodInvoice, ip, inv, fakeInvoice, err)

	dp := DecodeInvoiceParams{Bolt11: "lnbcrt50n1pfake"}
	dec, err := c.DecodeInvoice(ctx, dp)
	check(MethodDecodeInvoice, dp, dec, fakeDecoded, err)

	feeLimit := uint64(21)
	pp := PayInvoiceParams{Bolt11: "lnbcrt1pfake", AmountMsat: 18446744073709551615, NoWait: true, MaxParts: 4,
		FeeLimitSat: &feeLimit, TimeoutSecs: 90}
	pay, err := c.PayInvoice(ctx, pp)
	check(MethodPayInvoice, pp, pay, fakePayment, err)

	sp := SendPaymentParams{NodeID: "02" + hex32('a'), AmountMsat: 5, PaymentHash: hex32('b'), PaymentSecret: hex32('c'), FinalCLTVDelta: 18}
	spr, err := c.SendPayment(ctx, sp)
	check(MethodSendPayment, sp, spr, fakePayment, err)
	kp := KeysendParams{NodeID: "02" + hex32('a'), AmountMsat: 1, NoWait: false, MaxParts: 2, FeeLimitSat: &feeLimit,
		TimeoutSecs: 1}
	ks, err := c.Keysend(ctx, kp)
	check(MethodKeysend, kp, ks, fakePayment, err)

	pays, err := c.ListPayments(ctx)
	check(MethodListPayments, nil, pays, fakePayments, err)

	invs, err := c.ListInvoices(ctx)
	check(MethodListInvoices, nil, invs, fakeInvoices, err)

	graph, err := c.DescribeGraph(ctx)
	check(MethodDescribeGraph, nil, graph, fakeGraph, err)

	np := GetNodeInfoParams{NodeID: "02" + hex32('a')}
	ni, err := c.GetNodeInfo(ctx, np)
	check(MethodGetNodeInfo, np, ni, fakeNodeInfo, err)

	limit := uint64(7)
	qp := QueryRoutesParams{NodeID: "03" + hex32('c'), AmountSat: 5000, FinalCLTVDelta: 40, FeeLimitSat: &limit, MaxPaths: 2}
	routes, err := c.QueryRoutes(ctx, qp)
	check(MethodQueryRoutes, qp, routes, fakeRoutes, err)

	fp := ForwardingHistoryParams{Limit: 10}
	fh, err := c.ForwardingHistory(ctx, fp)
	check(MethodForwardingHistory, fp, fh, fakeForwards, err)

	base, ppm, delta := uint32(0), uint32(4_000_000_000), uint16(65535)
	up := UpdateChanPolicyParams{ChannelID: "812x1x0", BaseFeeMsat: &base, FeeRatePPM: &ppm, TimeLockDelta: &delta}
	ur, err := c.UpdateChanPolicy(ctx, up)
	check(MethodUpdateChanPolicy, up, ur, fakePolicies, err)
	up = UpdateChanPolicyParams{FeeRatePPM: &ppm} // absent fields stay absent
	ur, err = c.UpdateChanPolicy(ctx, up)
	check(MethodUpdateChanPolicy, up, ur, fakePolicies, err)

	err = c.Stop(ctx)
	check(MethodStop, nil, true, f.stopped.Load(), err)

	// The generic Call with a map of params and a raw result.
	var raw json.RawMessage
	if err := c.Call(ctx, MethodDecodeInvoice, map[string]string{"bolt11": "x"}, &raw); err != nil {
		t.Fatal(err)
	}
	var dec2 DecodeInvoiceResult
	if err := json.Unmarshal(raw, &dec2); err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "raw result", &dec2, fakeDecoded)
	// A nil result is ignored.
	if err := c.Call(ctx, MethodGetInfo, nil, nil); err != nil {
		t.Fatal(err)
	}
}

func TestClientErrors(t *testing.T) {
	f, _, ts, c := testServer(t)
	ctx := context.Background()
	f.hooks[MethodNewAddress] = func(context.Context, any) (any, error) {
		return nil, errors.New("wallet locked")
	}
	f.hooks[MethodListPeers] = func(ctx context.Context, _ any) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}

	_, err := c.NewAddress(ctx)
	var rpcErr *Error
	if !errors.As(err, &rpcErr) || rpcErr.Code != CodeFailed || rpcErr.Message != "wallet locked" {
		t.Fatalf("service error: %v", err)
	}
	if _, ok := err.(*Error); !ok {
		t.Fatalf("JSON-RPC error returned as %T, want *Error", err)
	}
	if err := c.Call(ctx, "nosuch", nil, nil); !errors.As(err, &rpcErr) || rpcErr.Code != CodeMethodNotFound {
		t.Fatalf("unknown method: %v", err)
	}
	if err := c.Call(ctx, MethodGetInfo, map[string]int{"x": 1}, nil); !errors.As(err, &rpcErr) || rpcErr.Code != CodeInvalidParams {
		t.Fatalf("bad params: %v", err)
	}
	if _, err := c.Connect(ctx, ConnectParams{}); !errors.As(err, &rpcErr) || rpcErr.Code != CodeInvalidParams {
		t.Fatalf("missing field: %v", err)
	}
	// A result that does not fit the type asked for.
	var wrong []int
	if err := c.Call(ctx, MethodGetInfo, nil, &wrong); !errors.Is(err, ErrMalformedResponse) {
		t.Fatalf("mismatched result type: %v", err)
	}
	// Unencodable params.
	if err := c.Call(ctx, MethodGetInfo, map[string]any{"c": make(chan int)}, nil); err == nil || errors.As(err, &rpcErr) {
		t.Fatalf("unencodable params: %v", err)
	}

	// Wrong token.
	bad := NewClient(ts.URL, "not-the-token")
	defer bad.Close()
	if _, err := bad.GetInfo(ctx); !errors.As(err, &rpcErr) || rpcErr.Code != CodeUnauthorized {
		t.Fatalf("wrong token: %v", err)
	}
	if _, err := bad.Events(ctx); !errors.As(err, &rpcErr) || rpcErr.Code != CodeUnauthorized {
		t.Fatalf("wrong token events: %v", err)
	}
	if err := bad.Notify(ctx, MethodStop, nil); !errors.As(err, &rpcErr) || rpcErr.Code != CodeUnauthorized {
		t.Fatalf("wrong token notify: %v", err)
	}

	// Context deadline.
	tctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	if _, err := c.ListPeers(tctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("deadline: %v", err)
	}

	// Nothing listening.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	down := NewClient("http://"+addr+"/", testToken)
	defer down.Close()
	if _, err := down.GetInfo(ctx); err == nil || errors.As(err, &rpcErr) {
		t.Fatalf("server down: %v", err)
	}
	if _, err := down.Events(ctx); err == nil {
		t.Fatal("events from a server that is down")
	}
}

func TestDecodeResponse(t *testing.T) {
	cases := []struct {
		name   string
		status int
		data   string
		want   error // nil, ErrMalformedResponse, or an *Error (compared by code)
	}{
		{"ok", 200, `{"jsonrpc":"2.0","result":{"address":"a"},"id":7}`, nil},
		{"ok null result", 200, `{"jsonrpc":"2.0","result":null,"id":7}`, nil},
		{"error", 200, `{"jsonrpc":"2.0","error":{"code":-32000,"message":"m"},"id":7}`, &Error{Code: -32000}},
		{"error id null", 200, `{"jsonrpc":"2.0","error":{"code":-32700,"message":"m"},"id":null}`, &Error{Code: -32700}},
		{"error on 401", 401, `{"jsonrpc":"2.0","error":{"code":-32001,"message":"m"},"id":null}`, &Error{Code: -32001}},
		{"wrong id", 200, `{"jsonrpc":"2.0","result":{},"id":8}`, ErrMalformedResponse},
		{"string id", 200, `{"jsonrpc":"2.0","result":{},"id":"7"}`, ErrMalformedResponse},
		{"no id", 200, `{"jsonrpc":"2.0","result":{}}`, ErrMalformedResponse},
		{"no result", 200, `{"jsonrpc":"2.0","id":7}`, ErrMalformedResponse},
		{"wrong version", 200, `{"jsonrpc":"1.0","result":{},"id":7}`, ErrMalformedResponse},
		{"not json", 200, `<html>`, ErrMalformedResponse},
		{"empty", 200, ``, ErrMalformedResponse},
		{"http error", 502, `Bad Gateway`, ErrMalformedResponse},
		{"result on 500", 500, `{"jsonrpc":"2.0","result":{},"id":7}`, ErrMalformedResponse},
		{"result wrong type", 200, `{"jsonrpc":"2.0","result":[1],"id":7}`, ErrMalformedResponse},
	}
	for _, c := range cases {
		var res NewAddressResult
		err := decodeResponse(c.status, []byte(c.data), 7, &res)
		var want *Error
		switch {
		case c.want == nil:
			if err != nil {
				t.Fatalf("%s: %v", c.name, err)
			}
		case errors.As(c.want, &want):
			var got *Error
			if !errors.As(err, &got) || got.Code != want.Code {
				t.Fatalf("%s: %v, want *Error code %d", c.name, err, want.Code)
			}
		default:
			if !errors.Is(err, c.want) {
				t.Fatalf("%s: %v, want %v", c.name, err, c.want)
			}
		}
	}
	var res NewAddressResult
	if err := decodeResponse(200, []byte(`{"jsonrpc":"2.0","result":{"address":"bc1q"},"id":7}`), 7, &res); err != nil || res.Address != "bc1q" {
		t.Fatalf("decoded %+v, %v", res, err)
	}
}

func TestNotify(t *testing.T) {
	f, _, _, c := testServer(t)
	p := ConnectParams{NodeID: "02ab", Address: "h:1"}
	if err := c.Notify(context.Background(), MethodConnect, p); err != nil {
		t.Fatal(err)
	}
	call, _ := f.lastCall()
	mustEqual(t, "notified call", call, fakeCall{MethodConnect, p})
	// Errors are not reported for notifications.
	if err := c.Notify(context.Background(), "nosuch", nil); err != nil {
		t.Fatal(err)
	}
}

func TestClientEvents(t *testing.T) {
	f, s, _, c := testServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	ch, err := c.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// Events returned after the subscription was in place: nothing published now is lost.
	if f.numSubs() != 1 {
		t.Fatalf("%d subscribers after Events returned", f.numSubs())
	}
	want := []Event{
		{Type: "payment_sent", PaymentHash: hex32('4'), PaymentID: hex32('7'), AmountMsat: 5000},
		{Type: "payment_failed", PaymentID: hex32('7'), Reason: "no route"},
		{Type: "channel_closed", ChannelID: hex32('2'), Reason: "cooperative"},
		{Type: "block", Height: 900},
		{Type: "bump_failed", ChannelID: hex32('2'), Reason: "bumptx: insufficient funds"},
		{Type: "monitor_archived", FundingOutpoint: hex32('3') + ":1"},
	}
	for _, ev := range want {
		f.publish(ev)
	}
	for i, w := range want {
		select {
		case got := <-ch:
			mustEqual(t, "event", got, w)
		case <-time.After(10 * time.Second):
			t.Fatalf("event %d not delivered", i)
		}
	}
	// Two subscribers each get every event.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	ch2, err := c.Events(ctx2)
	if err != nil {
		t.Fatal(err)
	}
	f.publish(Event{Type: "peer_connected", NodeID: "02"})
	for _, c := range []<-chan Event{ch, ch2} {
		if ev := <-c; ev.Type != "peer_connected" {
			t.Fatalf("event %+v", ev)
		}
	}

	cancel()
	for range ch { // closed after cancel
	}
	waitFor(t, "one subscription canceled", func() bool { return f.numSubs() == 1 && f.canceled.Load() == 1 })
	cancel2()
	for range ch2 {
	}
	waitFor(t, "streams ended", func() bool { return s.activeStreams.Load() == 0 && f.numSubs() == 0 })
}

func TestClientEventsNotAStream(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"hello":"world"}`)
	}))
	defer ts.Close()
	c := NewClient(ts.URL, testToken)
	defer c.Close()
	if _, err := c.Events(context.Background()); !errors.Is(err, ErrMalformedResponse) {
		t.Fatalf("JSON instead of a stream: %v", err)
	}
	// A notification answered with something other than 204.
	if err := c.Notify(context.Background(), MethodStop, nil); !errors.Is(err, ErrMalformedResponse) {
		t.Fatalf("notify: %v", err)
	}
}

func TestReadSSE(t *testing.T) {
	type ev struct{ typ, data string }
	cases := []struct {
		name, stream string
		want         []ev
	}{
		{"basic", "event: block\ndata: {\"h\":1}\n\n", []ev{{"block", `{"h":1}`}}},
		{"default type", "data: x\n\n", []ev{{"message", "x"}}},
		{"no space", "event:a\ndata:b\n\n", []ev{{"a", "b"}}},
		{"two spaces keep one", "data:  b\n\n", []ev{{"message", " b"}}},
		{"multi-line data", "data: a\ndata: b\n\n", []ev{{"message", "a\nb"}}},
		{"comments and blank lines", ": hi\n\n\n: keep-alive\n\nevent: x\n: mid\ndata: 1\n\n", []ev{{"x", "1"}}},
		{"crlf", "event: x\r\ndata: 1\r\n\r\n", []ev{{"x", "1"}}},
		{"event without data is dropped", "event: x\n\ndata: 2\n\n", []ev{{"message", "2"}}},
		{"unknown fields ignored", "id: 5\nretry: 10\nevent: y\ndata: 3\n\n", []ev{{"y", "3"}}},
		{"unterminated event not dispatched", "event: a\ndata: 1\n\nevent: b\ndata: 2\n", []ev{{"a", "1"}}},
		{"empty data", "data\n\n", []ev{{"message", ""}}},
		{"several", "event: a\ndata: 1\n\nevent: b\ndata: 2\n\n", []ev{{"a", "1"}, {"b", "2"}}},
	}
	for _, c := range cases {
		var got []ev
		err := readSSE(strings.NewReader(c.stream), func(typ string, data []byte) bool {
			got = append(got, ev{typ, string(data)})
			return true
		})
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		mustEqual(t, c.name, got, c.want)
	}
	// fn returning false stops the reading.
	n := 0
	readSSE(strings.NewReader("data: 1\n\ndata: 2\n\n"), func(string, []byte) bool { n++; return false })
	if n != 1 {
		t.Fatalf("reader went on after fn returned false: %d events", n)
	}
	// A line longer than 1 MiB is an error.
	long := "data: " + strings.Repeat("x", maxSSELineBytes) + "\n\n"
	if err := readSSE(strings.NewReader(long), func(string, []byte) bool { return true }); err == nil {
		t.Fatal("over-long line accepted")
	}
}

func TestDialDatadir(t *testing.T) {
	dir := t.TempDir()
	if _, err := DialDatadir(dir, "127.0.0.1:1"); err == nil {
		t.Fatal("DialDatadir without a cookie succeeded")
	}
	token, err := WriteCookie(dir)
	if err != nil {
		t.Fatal(err)
	}
	f := newFake()
	ts := httptest.NewServer(NewServer(f, token, nil))
	defer ts.Close()
	c, err := DialDatadir(dir, strings.TrimPrefix(ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	info, err := c.GetInfo(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	mustEqual(t, "getinfo", info, fakeInfo)
	// A server still holding the old token refuses a client that read the new cookie.
	if _, err := WriteCookie(dir); err != nil {
		t.Fatal(err)
	}
	ts2 := httptest.NewServer(NewServer(f, token, nil))
	defer ts2.Close()
	c2, err := DialDatadir(dir, strings.TrimPrefix(ts2.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	var rpcErr *Error
	if _, err := c2.GetInfo(context.Background()); !errors.As(err, &rpcErr) || rpcErr.Code != CodeUnauthorized {
		t.Fatalf("stale token: %v", err)
	}
}
