package nodeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func runCLI(c *Client, args ...string) (code int, stdout, stderr string) {
	var out, errOut bytes.Buffer
	code = RunCLI(context.Background(), c, args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// TestCLICommands runs every command and checks the call the service received and the output.
func TestCLICommands(t *testing.T) {
	f, _, _, c := testServer(t)
	node := "02" + hex32('a')
	cases := []struct {
		args   []string
		method string
		params any // what the service receives
		result any // what it returns, printed
	}{
		{[]string{"getinfo"}, MethodGetInfo, nil, fakeInfo},
		{[]string{"connect", node + "@127.0.0.1:9735"}, MethodConnect,
			ConnectParams{NodeID: node, Address: "127.0.0.1:9735"}, &ConnectResult{NodeID: node}},
		{[]string{"connect", node + "@[::1]:9735"}, MethodConnect,
			ConnectParams{NodeID: node, Address: "[::1]:9735"}, &ConnectResult{NodeID: node}},
		{[]string{"connect", node, "host:1"}, MethodConnect,
			ConnectParams{NodeID: node, Address: "host:1"}, &ConnectResult{NodeID: node}},
		{[]string{"listpeers"}, MethodListPeers, nil, fakePeers},
		{[]string{"newaddress"}, MethodNewAddress, nil, fakeAddress},
		{[]string{"walletbalance"}, MethodWalletBalance, nil, fakeBalance},
		{[]string{"listbalances"}, MethodListBalances, nil, fakeBalances},
		{[]string{"openchannel", node, "100000"}, MethodOpenChannel,
			OpenChannelParams{NodeID: node, AmountSat: 100000}, fakeOpen},
		{[]string{"openchannel", node, "100000", "5000"}, MethodOpenChannel,
			OpenChannelParams{NodeID: node, AmountSat: 100000, PushMsat: 5000}, fakeOpen},
		{[]string{"openchannel", "--private", node, "100000", "5000"}, MethodOpenChannel,
			OpenChannelParams{NodeID: node, AmountSat: 100000, PushMsat: 5000, Private: true}, fakeOpen},
		{[]string{"openchannel", node, "9223372036854775807", "-private"}, MethodOpenChannel,
			OpenChannelParams{NodeID: node, AmountSat: 9223372036854775807, Private: true}, fakeOpen},
		{[]string{"openchannel", node, "100000", "--public"}, MethodOpenChannel,
			OpenChannelParams{NodeID: node, AmountSat: 100000, Public: true}, fakeOpen},
		{[]string{"listchannels"}, MethodListChannels, nil, fakeChannels},
		{[]string{"closechannel", hex32('2')}, MethodCloseChannel, CloseChannelParams{ChannelID: hex32('2')}, &CloseChannelResult{}},
		{[]string{"closechannel", hex32('2'), "--force"}, MethodCloseChannel,
			CloseChannelParams{ChannelID: hex32('2'), Force: true}, &CloseChannelResult{}},
		{[]string{"invoice", "5000"}, MethodInvoice, InvoiceParams{AmountMsat: 5000}, fakeInvoice},
		{[]string{"invoice", "any", "tip jar"}, MethodInvoice, InvoiceParams{Description: "tip jar"}, fakeInvoice},
		{[]string{"invoice", "0", "x", "60"}, MethodInvoice, InvoiceParams{Description: "x", ExpirySecs: 60}, fakeInvoice},
		{[]string{"invoice", "1", "--", "--not-a-flag"}, MethodInvoice,
			InvoiceParams{AmountMsat: 1, Description: "--not-a-flag"}, fakeInvoice},
		{[]string{"invoice", "18446744073709551615", "", "4294967295"}, MethodInvoice,
			InvoiceParams{AmountMsat: 18446744073709551615, ExpirySecs: 4294967295}, fakeInvoice},
		{[]string{"decodeinvoice", "lnbcrt50n1pfake"}, MethodDecodeInvoice, DecodeInvoiceParams{Bolt11: "lnbcrt50n1pfake"}, fakeDecoded},
		{[]string{"payinvoice", "lnbc1"}, MethodPayInvoice, PayInvoiceParams{Bolt11: "lnbc1"}, fakePayment},
		{[]string{"payinvoice", "lnbc1", "777"}, MethodPayInvoice, PayInvoiceParams{Bolt11: "lnbc1", AmountMsat: 777}, fakePayment},
		{[]string{"payinvoice", "--no-wait", "lnbc1"}, MethodPayInvoice, PayInvoiceParams{Bolt11: "lnbc1", NoWait: true}, fakePayment},
		{[]string{"payinvoice", "lnbc1", "--amt_msat=777"}, MethodPayInvoice, PayInvoiceParams{Bolt11: "lnbc1", AmountMsat: 777}, fakePayment},
		{[]string{"payinvoice", "lnbc1", "--max_parts=3", "--fee_limit_sat", "10", "--timeout=90"}, MethodPayInvoice,
			PayInvoiceParams{Bolt11: "lnbc1", MaxParts: 3, FeeLimitSat: ptr[uint64](10), TimeoutSecs: 90}, fakePayment},
		{[]string{"payinvoice", "lnbc1", "--timeout=1m30s", "--max_parts=255", "--fee_limit_sat=0"}, MethodPayInvoice,
			PayInvoiceParams{Bolt11: "lnbc1", MaxParts: 255, FeeLimitSat: ptr[uint64](0), TimeoutSecs: 90}, fakePayment},
		{[]string{"payinvoice", "lnbc1", "--timeout=1500ms"}, MethodPayInvoice,
			PayInvoiceParams{Bolt11: "lnbc1", TimeoutSecs: 2}, fakePayment},
		{[]string{"keysend", node, "1000"}, MethodKeysend, KeysendParams{NodeID: node, AmountMsat: 1000}, fakePayment},
		{[]string{"keysend", node, "1000", "--max_parts=2", "--fee_limit_sat=5", "--timeout=7"}, MethodKeysend,
			KeysendParams{NodeID: node, AmountMsat: 1000, MaxParts: 2, FeeLimitSat: ptr[uint64](5), TimeoutSecs: 7}, fakePayment},
		{[]string{"forwardinghistory"}, MethodForwardingHistory, ForwardingHistoryParams{}, fakeForwards},
		{[]string{"forwardinghistory", "--limit=5"}, MethodForwardingHistory, ForwardingHistoryParams{Limit: 5}, fakeForwards},
		{[]string{"updatechanpolicy", "--base_fee_msat=0", "--fee_rate_ppm=100", "--time_lock_delta=40"}, MethodUpdateChanPolicy,
			UpdateChanPolicyParams{BaseFeeMsat: ptr[uint32](0), FeeRatePPM: ptr[uint32](100), TimeLockDelta: ptr[uint16](40)}, fakePolicies},
		{[]string{"updatechanpolicy", "--channel_id", hex32('2'), "--fee_rate_ppm=7"}, MethodUpdateChanPolicy,
			UpdateChanPolicyParams{ChannelID: hex32('2'), FeeRatePPM: ptr[uint32](7)}, fakePolicies},
		{[]string{"sendpayment", node, "1000", hex32('1')}, MethodSendPayment,
			SendPaymentParams{NodeID: node, AmountMsat: 1000, PaymentHash: hex32('1')}, fakePayment},
		{[]string{"sendpayment", node, "1000", hex32('1'), hex32('2'), "9", "--no-wait"}, MethodSendPayment,
			SendPaymentParams{NodeID: node, AmountMsat: 1000, PaymentHash: hex32('1'), PaymentSecret: hex32('2'), FinalCLTVDelta: 9, NoWait: true}, fakePayment},
		{[]string{"keysend", node, "1000", "--no-wait"}, MethodKeysend,
			KeysendParams{NodeID: node, AmountMsat: 1000, NoWait: true}, fakePayment},
		{[]string{"listpayments"}, MethodListPayments, nil, fakePayments},
		{[]string{"listinvoices"}, MethodListInvoices, nil, fakeInvoices},
		{[]string{"describegraph"}, MethodDescribeGraph, nil, fakeGraph},
		{[]string{"getnodeinfo", node}, MethodGetNodeInfo, GetNodeInfoParams{NodeID: node}, fakeNodeInfo},
		{[]string{"queryroutes", node, "5000"}, MethodQueryRoutes, QueryRoutesParams{NodeID: node, AmountSat: 5000}, fakeRoutes},
		{[]string{"queryroutes", "--final_cltv_delta=18", node, "5000", "--fee_limit_sat", "0", "-max_paths=3"},
			MethodQueryRoutes, QueryRoutesParams{NodeID: node, AmountSat: 5000, FinalCLTVDelta: 18, FeeLimitSat: new(uint64),
				MaxPaths: 3}, fakeRoutes},
		{[]string{"sendcustommessage", node, "32769", "c0ffee"}, MethodSendCustomMessage,
			SendCustomMessageParams{Peer: node, Type: 32769, Data: "c0ffee"}, &SendCustomMessageResult{}},
		{[]string{"sendcustommessage", node, "65535"}, MethodSendCustomMessage,
			SendCustomMessageParams{Peer: node, Type: 65535}, &SendCustomMessageResult{}},
		{[]string{"stop"}, MethodStop, nil, struct{}{}},
	}
	for _, tc := range cases {
		name := strings.Join(tc.args, " ")
		code, out, errOut := runCLI(c, tc.args...)
		if code != 0 || errOut != "" {
			t.Fatalf("%s: status %d stderr %q", name, code, errOut)
		}
		call, _ := f.lastCall()
		if call.Method != tc.method {
			t.Fatalf("%s: service saw %s", name, call.Method)
		}
		mustEqual(t, name+" params", call.Params, tc.params)
		want, err := json.MarshalIndent(tc.result, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if out != string(want)+"\n" {
			t.Fatalf("%s: printed\n%s\nwant\n%s", name, out, want)
		}
	}
	// Every command but help, events and webui (tested apart) was run.
	seen := map[string]bool{}
	for _, tc := range cases {
		seen[tc.args[0]] = true
	}
	for _, cmd := range Commands() {
		if !seen[cmd.Name] && cmd.Name != "help" && cmd.Name != "events" && cmd.Name != "webui" {
			t.Fatalf("command %s not tested", cmd.Name)
		}
	}
}

func TestCLIUsageErrors(t *testing.T) {
	f, _, _, c := testServer(t)
	node := "02" + hex32('a')
	cases := [][]string{
		{},
		{"nosuchcommand"},
		{"getinfo", "extra"},
		{"getinfo", "--force"},
		{"connect"},
		{"connect", node},
		{"connect", "@host:1"},
		{"connect", node + "@"},
		{"connect", node, "h:1", "extra"},
		{"connect", "", "h:1"},
		{"listpeers", "x"},
		{"newaddress", "x"},
		{"walletbalance", "x"},
		{"listbalances", "x"},
		{"openchannel"},
		{"openchannel", node},
		{"openchannel", node, "abc"},
		{"openchannel", node, "-5"},
		{"openchannel", node, "1.5"},
		{"openchannel", node, "9223372036854775808"},
		{"openchannel", node, "1", "x"},
		{"openchannel", node, "1", "2", "3"},
		{"openchannel", node, "1", "--force"},
		{"openchannel", node, "1", "--private", "--private"},
		{"openchannel", node, "1", "--private", "--public"},
		{"listchannels", "x"},
		{"closechannel"},
		{"closechannel", "a", "b"},
		{"closechannel", "a", "--private"},
		{"invoice"},
		{"invoice", "lots"},
		{"invoice", "1", "d", "never"},
		{"invoice", "1", "d", "4294967296"},
		{"invoice", "1", "d", "60", "extra"},
		{"invoice", "18446744073709551616"},
		{"decodeinvoice"},
		{"decodeinvoice", "a", "b"},
		{"payinvoice"},
		{"payinvoice", "lnbc", "x"},
		{"payinvoice", "lnbc", "1", "2"},
		{"payinvoice", "lnbc", "--force"},
		{"keysend"},
		{"keysend", node},
		{"keysend", node, "x"},
		{"keysend", node, "1", "2"},
		{"listpayments", "x"},
		{"listinvoices", "x"},
		{"describegraph", "x"},
		{"getnodeinfo"},
		{"getnodeinfo", node, node},
		{"queryroutes", node},
		{"queryroutes", node, "1.5"},
		{"queryroutes", node, "1", "2"},
		{"queryroutes", node, "1", "--final_cltv_delta"},
		{"queryroutes", node, "1", "--final_cltv_delta=-1"},
		{"queryroutes", node, "1", "--final_cltv_delta=4294967296"},
		{"queryroutes", node, "1", "--fee_limit_sat=x"},
		{"queryroutes", node, "1", "--max_paths=2", "--max_paths=3"},
		{"queryroutes", node, "1", "--no-wait"},
		{"keysend", node, "1", "--no-wait=yes"},
		{"payinvoice", "lnbc", "1", "--amt_msat=1"},
		{"payinvoice", "lnbc", "--amt_msat=x"},
		{"payinvoice", "lnbc", "--max_parts=0"},
		{"payinvoice", "lnbc", "--max_parts=256"},
		{"payinvoice", "lnbc", "--fee_limit_sat=-1"},
		{"payinvoice", "lnbc", "--timeout=0"},
		{"payinvoice", "lnbc", "--timeout=-5s"},
		{"payinvoice", "lnbc", "--timeout=soon"},
		{"payinvoice", "lnbc", "--timeout"},
		{"keysend", node, "1", "--max_parts=x"},
		{"keysend", node, "1", "--amt_msat=1"},
		{"forwardinghistory", "x"},
		{"forwardinghistory", "--limit=-1"},
		{"forwardinghistory", "--limit"},
		{"updatechanpolicy"},
		{"updatechanpolicy", "--channel_id=" + hex32('2')},
		{"updatechanpolicy", "x", "--fee_rate_ppm=1"},
		{"updatechanpolicy", "--channel_id=", "--fee_rate_ppm=1"},
		{"updatechanpolicy", "--time_lock_delta=0"},
		{"updatechanpolicy", "--time_lock_delta=65536"},
		{"updatechanpolicy", "--base_fee_msat=4294967296"},
		{"updatechanpolicy", "--fee_rate_ppm=1.5"},
		{"sendcustommessage", node},
		{"sendcustommessage", node, "32767", "00"},
		{"sendcustommessage", node, "65536", "00"},
		{"sendcustommessage", node, "x", "00"},
		{"sendcustommessage", node, "32769", "00", "more"},
		{"stop", "now"},
		{"events", "x"},
		{"help", "nosuchcommand"},
		{"help", "a", "b"},
	}
	for _, args := range cases {
		code, out, errOut := runCLI(c, args...)
		if code != 2 || out != "" || !strings.Contains(errOut, "usage: ") {
			t.Fatalf("%q: status %d stdout %q stderr %q; want 2 and the usage on stderr", args, code, out, errOut)
		}
	}
	if n := f.numCalls(); n != 0 {
		t.Fatalf("usage errors reached the service %d times", n)
	}
}

func TestCLIHelp(t *testing.T) {
	// help needs no client.
	code, out, errOut := runCLI(nil, "help")
	if code != 0 || errOut != "" {
		t.Fatalf("help: %d %q", code, errOut)
	}
	want := []string{"getinfo", "connect", "listpeers", "newaddress", "walletbalance", "listbalances", "openchannel",
		"listchannels", "closechannel", "invoice", "decodeinvoice", "payinvoice", "keysend", "listpayments", "sendpayment",
		"listinvoices", "describegraph", "getnodeinfo", "queryroutes", "forwardinghistory", "updatechanpolicy", "sendcustommessage", "stop", "events", "webui", "help"}
	var names []string
	for _, c := range Commands() {
		names = append(names, c.Name)
		if !strings.Contains(out, "  "+c.Name) || !strings.Contains(out, c.Summary) {
			t.Fatalf("help text lacks %s:\n%s", c.Name, out)
		}
	}
	mustEqual(t, "commands", names, want)
	for _, args := range [][]string{{"--help"}, {"-h"}} {
		if code, out2, _ := runCLI(nil, args...); code != 0 || out2 != out {
			t.Fatalf("%q: %d %q", args, code, out2)
		}
	}
	for _, args := range [][]string{{"help", "openchannel"}, {"openchannel", "--help"}, {"openchannel", "x", "-h"}} {
		code, out, _ := runCLI(nil, args...)
		if code != 0 || !strings.HasPrefix(out, "usage: openchannel <node_id> <amount_sat> [push_msat] [--public|--private]\n") {
			t.Fatalf("%q: %d %q", args, code, out)
		}
	}
	// Without a client, a real command fails cleanly.
	if code, _, errOut := runCLI(nil, "getinfo"); code != 1 || !strings.HasPrefix(errOut, "error: ") {
		t.Fatalf("no client: %d %q", code, errOut)
	}
}

func TestCLIErrors(t *testing.T) {
	f, _, ts, c := testServer(t)
	f.hooks[MethodPayInvoice] = func(context.Context, any) (any, error) {
		return nil, errors.New("no route to 02ab")
	}
	code, out, errOut := runCLI(c, "payinvoice", "lnbc1")
	if code != 1 || out != "" || errOut != fmt.Sprintf("error: no route to 02ab (code %d)\n", CodeFailed) {
		t.Fatalf("service error: %d %q %q", code, out, errOut)
	}
	f.hooks[MethodInvoice] = func(context.Context, any) (any, error) {
		return nil, fmt.Errorf("%w: description too long", ErrInvalidParams)
	}
	code, _, errOut = runCLI(c, "invoice", "1", "x")
	if code != 1 || errOut != fmt.Sprintf("error: invalid params: description too long (code %d)\n", CodeInvalidParams) {
		t.Fatalf("invalid params: %d %q", code, errOut)
	}
	bad := NewClient(ts.URL, "wrong")
	defer bad.Close()
	code, _, errOut = runCLI(bad, "getinfo")
	if code != 1 || !strings.HasSuffix(errOut, fmt.Sprintf("(code %d)\n", CodeUnauthorized)) {
		t.Fatalf("unauthorized: %d %q", code, errOut)
	}
	code, _, errOut = runCLI(bad, "events")
	if code != 1 || !strings.HasSuffix(errOut, fmt.Sprintf("(code %d)\n", CodeUnauthorized)) {
		t.Fatalf("unauthorized events: %d %q", code, errOut)
	}
	down := NewClient("127.0.0.1:1", testToken)
	code, _, errOut = runCLI(down, "getinfo")
	if code != 1 || !strings.HasPrefix(errOut, "error: ") || strings.Contains(errOut, "(code") {
		t.Fatalf("transport error: %d %q", code, errOut)
	}
}

// syncBuffer is a bytes.Buffer safe for a writer and a reader in two goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestCLIEvents(t *testing.T) {
	f, _, _, c := testServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	var out, errOut syncBuffer
	done := make(chan int, 1)
	go func() { done <- RunCLI(ctx, c, []string{"events"}, &out, &errOut) }()
	waitFor(t, "subscription", func() bool { return f.numSubs() == 1 })
	evs := []Event{{Type: "block", Height: 5}, {Type: "payment_received", PaymentHash: hex32('4'), AmountMsat: 9}}
	for _, ev := range evs {
		f.publish(ev)
	}
	var want strings.Builder
	for _, ev := range evs {
		b, _ := json.Marshal(ev)
		want.Write(b)
		want.WriteByte('\n')
	}
	waitFor(t, "events printed", func() bool { return out.String() == want.String() })
	cancel()
	select {
	case code := <-done:
		if code != 0 || errOut.String() != "" {
			t.Fatalf("events ended with %d %q", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("events did not end when its context was canceled")
	}

	waitFor(t, "first subscription canceled", func() bool { return f.canceled.Load() == 1 && f.numSubs() == 0 })

	// The node ending the stream is an error.
	go func() { done <- RunCLI(context.Background(), c, []string{"events"}, &out, &errOut) }()
	waitFor(t, "second subscription", func() bool { return f.numSubs() == 1 })
	f.closeSubs()
	select {
	case code := <-done:
		if code != 1 || !strings.Contains(errOut.String(), "stream ended") {
			t.Fatalf("stream ended: %d %q", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("events did not end with the stream")
	}
}

func ptr[T any](v T) *T { return &v }

// TestCLIHelpDetails: help <command> explains what the summary cannot: openchannel's smallest amount,
// connect's default port, closechannel's closing_txid.
func TestCLIHelpDetails(t *testing.T) {
	for cmd, says := range map[string][]string{
		"openchannel":  {"8,708 sat", "twice the current", "both\n  anchor outputs", "dust limit (354 sat)", "not synced"},
		"connect":      {"port 9735 by default", "wrong node id fails at once", "only once a handshake with it succeeded"},
		"closechannel": {"closing_txid", "--force"},
	} {
		code, out, _ := runCLI(nil, "help", cmd)
		if code != 0 {
			t.Fatalf("help %s: %d", cmd, code)
		}
		for _, s := range says {
			if !strings.Contains(out, s) {
				t.Fatalf("help %s lacks %q:\n%s", cmd, s, out)
			}
		}
	}
}

// TestCloseChannelResultJSON: closing_txid is left out until known.
func TestCloseChannelResultJSON(t *testing.T) {
	for res, want := range map[CloseChannelResult]string{
		{}:                    `{}`,
		{ClosingTxid: "ab12"}: `{"closing_txid":"ab12"}`,
	} {
		b, err := json.Marshal(res)
		if err != nil || string(b) != want {
			t.Fatalf("%+v: %s %v, want %s", res, b, err, want)
		}
	}
}

// TestNeedsNode: help, usage and argument errors are answered without a node (a nil client).
func TestNeedsNode(t *testing.T) {
	for _, args := range [][]string{nil, {"help"}, {"help", "payinvoice"}, {"--help"}, {"payinvoice", "--help"},
		{"nosuchcommand"}, {"openchannel"}, {"payinvoice", "--nosuchflag", "x"}} {
		if NeedsNode(args) {
			t.Errorf("%q needs no node", args)
		}
		code, out, errOut := runCLI(nil, args...)
		if code != 0 && code != 2 || out+errOut == "" {
			t.Errorf("%q without a node: code %d, %q %q", args, code, out, errOut)
		}
	}
	for _, args := range [][]string{{"getinfo"}, {"payinvoice", "lnbcrt1x"}, {"openchannel", "02ab", "100000"}} {
		if !NeedsNode(args) {
			t.Errorf("%q needs the node", args)
		}
	}
}
