package nodeapi

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

// post sends body to h with a correct cookie and returns the status and body.
func post(t *testing.T, h http.Handler, body string) (int, []byte) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(body))
	req.Header.Set("Authorization", authHeader())
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.Bytes()
}

// testResp is a decoded JSON-RPC response with members' presence kept.
type testResp struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *Error          `json:"error"`
}

func decodeOne(t *testing.T, b []byte) testResp {
	t.Helper()
	var r testResp
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("reply %q is not a JSON-RPC response: %v", b, err)
	}
	if r.JSONRPC != "2.0" {
		t.Fatalf("reply %q: jsonrpc %q", b, r.JSONRPC)
	}
	if (r.Error == nil) == (r.Result == nil) {
		t.Fatalf("reply %q must have exactly one of result and error", b)
	}
	return r
}

func TestAuth(t *testing.T) {
	f := newFake()
	s := NewServer(f, testToken, nil)
	body := `{"jsonrpc":"2.0","method":"getinfo","id":1}`
	basic := func(user, pass string) string {
		r, _ := http.NewRequest("GET", "/", nil)
		r.SetBasicAuth(user, pass)
		return r.Header.Get("Authorization")
	}
	cases := []struct {
		name, header string
		ok           bool
	}{
		{"basic", basic(CookieUser, testToken), true},
		{"bearer", "Bearer " + testToken, true},
		{"bearer lower-case scheme", "bearer " + testToken, true},
		{"none", "", false},
		{"basic wrong token", basic(CookieUser, testToken[:63]+"0"), false},
		{"basic token prefix", basic(CookieUser, testToken[:32]), false},
		{"basic token longer", basic(CookieUser, testToken+"0"), false},
		{"basic wrong user", basic("admin", testToken), false},
		{"basic empty", basic("", ""), false},
		{"bearer wrong", "Bearer " + strings.ToUpper(testToken), false},
		{"bearer empty", "Bearer ", false},
		{"token alone", testToken, false},
		{"basic garbage", "Basic !!!", false},
		{"other scheme", "Digest " + testToken, false},
	}
	for _, tc := range cases {
		for _, path := range []string{"/", "/events"} {
			method := http.MethodPost
			if path == "/events" {
				method = http.MethodGet
			}
			req := httptest.NewRequest(method, path, strings.NewReader(body))
			if tc.header != "" {
				req.Header.Set("Authorization", tc.header)
			}
			ctx, cancel := context.WithCancel(context.Background())
			req = req.WithContext(ctx)
			if path == "/events" {
				cancel() // a granted stream ends at once
			}
			rec := httptest.NewRecorder()
			s.ServeHTTP(rec, req)
			cancel()
			if !tc.ok {
				if rec.Code != http.StatusUnauthorized {
					t.Fatalf("%s %s: status %d, want 401", tc.name, path, rec.Code)
				}
				if !strings.HasPrefix(rec.Header().Get("WWW-Authenticate"), "Basic") {
					t.Fatalf("%s: no WWW-Authenticate header", tc.name)
				}
				r := decodeOne(t, rec.Body.Bytes())
				if r.Error == nil || r.Error.Code != CodeUnauthorized || string(r.ID) != "null" {
					t.Fatalf("%s: reply %s", tc.name, rec.Body.Bytes())
				}
				continue
			}
			if rec.Code != http.StatusOK {
				t.Fatalf("%s %s: status %d, want 200", tc.name, path, rec.Code)
			}
			if path == "/" {
				r := decodeOne(t, rec.Body.Bytes())
				var info GetInfoResult
				if err := json.Unmarshal(r.Result, &info); err != nil || info.NodeID != fakeInfo.NodeID {
					t.Fatalf("%s: result %s", tc.name, r.Result)
				}
			}
		}
	}
	if n := f.numCalls(); n != 3 {
		t.Fatalf("service called %d times, want 3 (only authorized requests)", n)
	}
}

func TestAuthEmptyTokenRefusesAll(t *testing.T) {
	s := NewServer(newFake(), "", nil)
	empty, _ := http.NewRequest("GET", "/", nil)
	empty.SetBasicAuth(CookieUser, "")
	for _, h := range []string{"", "Bearer ", "Bearer x", empty.Header.Get("Authorization"), authHeader()} {
		req := httptest.NewRequest(http.MethodPost, "/", strings.NewReader(`{"jsonrpc":"2.0","method":"getinfo","id":1}`))
		req.Header.Set("Authorization", h)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("header %q: status %d, want 401", h, rec.Code)
		}
	}
}

// TestCheckCredentials checks the comparison itself: equal only for the exact user and token,
// whatever the lengths (the digests compared are always 32 bytes, so ConstantTimeCompare never
// returns early on a length difference).
func TestCheckCredentials(t *testing.T) {
	s := NewServer(newFake(), "secret", nil)
	cases := []struct {
		user, pass string
		want       bool
	}{
		{CookieUser, "secret", true},
		{CookieUser, "secreT", false},
		{CookieUser, "secret\x00", false},
		{CookieUser, "secre", false},
		{CookieUser, "", false},
		{"__cookie_", "secret", false},
		{"", "secret", false},
		{CookieUser, strings.Repeat("s", 10000), false},
	}
	for _, c := range cases {
		if got := s.checkCredentials(c.user, c.pass); got != c.want {
			t.Fatalf("checkCredentials(%q, %q) = %v, want %v", c.user, c.pass, got, c.want)
		}
	}
}

func TestRouting(t *testing.T) {
	s := NewServer(newFake(), testToken, nil)
	cases := []struct {
		method, path string
		status       int
		allow        string
	}{
		{http.MethodGet, "/", http.StatusMethodNotAllowed, "POST"},
		{http.MethodPut, "/", http.StatusMethodNotAllowed, "POST"},
		{http.MethodPost, "/events", http.StatusMethodNotAllowed, "GET"},
		{http.MethodPost, "/rpc", http.StatusNotFound, ""},
		{http.MethodGet, "/favicon.ico", http.StatusNotFound, ""},
	}
	for _, c := range cases {
		req := httptest.NewRequest(c.method, c.path, nil)
		req.Header.Set("Authorization", authHeader())
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		if rec.Code != c.status || rec.Header().Get("Allow") != c.allow {
			t.Fatalf("%s %s: status %d allow %q, want %d %q", c.method, c.path, rec.Code,
				rec.Header().Get("Allow"), c.status, c.allow)
		}
		if r := decodeOne(t, rec.Body.Bytes()); r.Error == nil || r.Error.Code != CodeInvalidRequest {
			t.Fatalf("%s %s: body %s", c.method, c.path, rec.Body.Bytes())
		}
	}
}

// TestErrorCodes drives every error path of one request.
func TestErrorCodes(t *testing.T) {
	f := newFake()
	f.hooks[MethodNewAddress] = func(context.Context, any) (any, error) {
		return nil, &Error{Code: -32099, Message: "custom failure"}
	}
	f.hooks[MethodWalletBalance] = func(context.Context, any) (any, error) {
		return nil, fmt.Errorf("wallet: %w", &Error{Code: -32050, Message: "wrapped custom"})
	}
	f.hooks[MethodListPeers] = func(context.Context, any) (any, error) {
		return nil, errors.New("peer table on fire")
	}
	f.hooks[MethodInvoice] = func(context.Context, any) (any, error) {
		return nil, fmt.Errorf("%w: description too long", ErrInvalidParams)
	}
	f.hooks[MethodListChannels] = func(context.Context, any) (any, error) {
		var m map[string]int
		m["boom"]++ // nil map write: a runtime panic
		return nil, nil
	}
	f.hooks[MethodListInvoices] = func(context.Context, any) (any, error) {
		panic(errors.New("deliberate"))
	}
	s := NewServer(f, testToken, slog.New(slog.DiscardHandler))

	cases := []struct {
		name, body string
		code       int
		id         string // raw id expected in the reply
		msg        string // substring of the message
	}{
		{"empty body", ``, CodeParseError, "null", "parse error"},
		{"truncated", `{"jsonrpc":"2.0","method":"getinfo","id":1`, CodeParseError, "null", "parse error"},
		{"trailing garbage", `{"jsonrpc":"2.0","method":"getinfo","id":1} x`, CodeParseError, "null", "parse error"},
		{"not json", `getinfo`, CodeParseError, "null", "parse error"},
		{"empty batch", `[]`, CodeInvalidRequest, "null", "empty batch"},
		{"number", `1`, CodeInvalidRequest, "null", "JSON object"},
		{"string", `"getinfo"`, CodeInvalidRequest, "null", "JSON object"},
		{"null", `null`, CodeInvalidRequest, "null", "JSON object"},
		{"no jsonrpc", `{"method":"getinfo","id":1}`, CodeInvalidRequest, "1", `"jsonrpc"`},
		{"jsonrpc 1.0", `{"jsonrpc":"1.0","method":"getinfo","id":1}`, CodeInvalidRequest, "1", `"jsonrpc"`},
		{"jsonrpc number", `{"jsonrpc":2.0,"method":"getinfo","id":1}`, CodeInvalidRequest, "1", `"jsonrpc"`},
		{"no method", `{"jsonrpc":"2.0","id":"a"}`, CodeInvalidRequest, `"a"`, `"method"`},
		{"method number", `{"jsonrpc":"2.0","method":1,"id":"a"}`, CodeInvalidRequest, `"a"`, `"method"`},
		{"method null", `{"jsonrpc":"2.0","method":null,"id":"a"}`, CodeInvalidRequest, `"a"`, `"method"`},
		{"id object", `{"jsonrpc":"2.0","method":"getinfo","id":{}}`, CodeInvalidRequest, "null", "id must"},
		{"id array", `{"jsonrpc":"2.0","method":"getinfo","id":[1]}`, CodeInvalidRequest, "null", "id must"},
		{"id bool", `{"jsonrpc":"2.0","method":"getinfo","id":true}`, CodeInvalidRequest, "null", "id must"},
		{"params string", `{"jsonrpc":"2.0","method":"getinfo","params":"x","id":2}`, CodeInvalidRequest, "2", `"params"`},
		{"params number", `{"jsonrpc":"2.0","method":"getinfo","params":3,"id":2}`, CodeInvalidRequest, "2", `"params"`},
		{"notification invalid", `{"jsonrpc":"2.0","method":7}`, CodeInvalidRequest, "null", `"method"`},
		{"unknown method", `{"jsonrpc":"2.0","method":"getinfoo","id":"x"}`, CodeMethodNotFound, `"x"`, `"getinfoo"`},
		{"method case", `{"jsonrpc":"2.0","method":"GetInfo","id":"x"}`, CodeMethodNotFound, `"x"`, "not found"},
		{"unknown field", `{"jsonrpc":"2.0","method":"connect","params":{"node_id":"02aa","adress":"x"},"id":3}`,
			CodeInvalidParams, "3", `unknown field "adress"`},
		{"wrong type string", `{"jsonrpc":"2.0","method":"openchannel","params":{"node_id":"02aa","amount_sat":"100"},"id":3}`,
			CodeInvalidParams, "3", "amount_sat"},
		{"wrong type negative", `{"jsonrpc":"2.0","method":"keysend","params":{"node_id":"02aa","amount_msat":-1},"id":3}`,
			CodeInvalidParams, "3", "amount_msat"},
		{"wrong type fraction", `{"jsonrpc":"2.0","method":"invoice","params":{"amount_msat":1.5},"id":3}`,
			CodeInvalidParams, "3", "amount_msat"},
		{"overflow", `{"jsonrpc":"2.0","method":"invoice","params":{"expiry_secs":4294967296},"id":3}`,
			CodeInvalidParams, "3", "expiry_secs"},
		{"wrong type bool", `{"jsonrpc":"2.0","method":"closechannel","params":{"channel_id":"aa","force":"yes"},"id":3}`,
			CodeInvalidParams, "3", "force"},
		{"positional too many", `{"jsonrpc":"2.0","method":"decodeinvoice","params":["lnbc1","extra"],"id":3}`,
			CodeInvalidParams, "3", "at most 1"},
		{"positional wrong type", `{"jsonrpc":"2.0","method":"keysend","params":["02aa","5"],"id":3}`,
			CodeInvalidParams, "3", "amount_msat"},
		{"params on paramless method", `{"jsonrpc":"2.0","method":"getinfo","params":{"verbose":true},"id":3}`,
			CodeInvalidParams, "3", `unknown field "verbose"`},
		{"positional on paramless method", `{"jsonrpc":"2.0","method":"stop","params":[1],"id":3}`,
			CodeInvalidParams, "3", "at most 0"},
		{"service missing field", `{"jsonrpc":"2.0","method":"connect","params":{},"id":4}`,
			CodeInvalidParams, "4", "node_id is required"},
		{"service ErrInvalidParams", `{"jsonrpc":"2.0","method":"invoice","params":{"amount_msat":1},"id":4}`,
			CodeInvalidParams, "4", "invalid params: description too long"},
		{"service *Error", `{"jsonrpc":"2.0","method":"newaddress","id":5}`, -32099, "5", "custom failure"},
		{"service wrapped *Error", `{"jsonrpc":"2.0","method":"walletbalance","id":5}`, -32050, "5", "wrapped custom"},
		{"service plain error", `{"jsonrpc":"2.0","method":"listpeers","id":6}`, CodeFailed, "6", "peer table on fire"},
		{"runtime panic", `{"jsonrpc":"2.0","method":"listchannels","id":7}`, CodeInternal, "7", "internal error"},
		{"panic", `{"jsonrpc":"2.0","method":"listinvoices","id":8}`, CodeInternal, "8", "internal error"},
	}
	for _, c := range cases {
		status, body := post(t, s, c.body)
		if status != http.StatusOK {
			t.Fatalf("%s: status %d", c.name, status)
		}
		r := decodeOne(t, body)
		if r.Error == nil || r.Error.Code != c.code || string(r.ID) != c.id || !strings.Contains(r.Error.Message, c.msg) {
			t.Fatalf("%s: reply %s, want code %d id %s message containing %q", c.name, body, c.code, c.id, c.msg)
		}
	}
	// The server still works after the panics.
	_, body := post(t, s, `{"jsonrpc":"2.0","method":"getinfo","id":9}`)
	if r := decodeOne(t, body); r.Error != nil {
		t.Fatalf("after panics: %s", body)
	}
}

func TestBodyLimit(t *testing.T) {
	f := newFake()
	s := NewServer(f, testToken, nil, WithMaxBodyBytes(100))
	small := `{"jsonrpc":"2.0","method":"getinfo","id":1}`
	if status, body := post(t, s, small); status != http.StatusOK || decodeOne(t, body).Error != nil {
		t.Fatalf("small body: %d %s", status, body)
	}
	big := `{"jsonrpc":"2.0","method":"decodeinvoice","params":{"bolt11":"` + strings.Repeat("q", 100) + `"},"id":1}`
	status, body := post(t, s, big)
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("big body: status %d", status)
	}
	if r := decodeOne(t, body); r.Error == nil || r.Error.Code != CodeInvalidRequest {
		t.Fatalf("big body: %s", body)
	}
	if c, ok := f.lastCall(); !ok || c.Method != MethodGetInfo {
		t.Fatalf("the big request reached the service: %+v", c)
	}

	// The default limit is 1 MiB.
	s = NewServer(f, testToken, nil)
	bolt := strings.Repeat("q", DefaultMaxBodyBytes-200)
	status, body = post(t, s, `{"jsonrpc":"2.0","method":"decodeinvoice","params":{"bolt11":"`+bolt+`"},"id":1}`)
	if status != http.StatusOK || decodeOne(t, body).Error != nil {
		t.Fatalf("just under 1 MiB: %d %.200s", status, body)
	}
	status, _ = post(t, s, `{"jsonrpc":"2.0","method":"decodeinvoice","params":{"bolt11":"`+bolt+strings.Repeat("q", 300)+`"},"id":1}`)
	if status != http.StatusRequestEntityTooLarge {
		t.Fatalf("just over 1 MiB: status %d", status)
	}
}

func TestIDEchoed(t *testing.T) {
	s := NewServer(newFake(), testToken, nil)
	for _, id := range []string{`1`, `0`, `-7`, `1.5e3`, `12345678901234567890123`, `"abc"`, `""`,
		`"\u00e9\n"`, `"<a&b>"`, "\"\u2028 raw\"", `null`} {
		_, body := post(t, s, `{"jsonrpc":"2.0","method":"getinfo","id":`+id+`}`)
		r := decodeOne(t, body)
		if string(r.ID) != id {
			t.Fatalf("id %s echoed as %s", id, r.ID)
		}
		if r.Error != nil {
			t.Fatalf("id %s: %s", id, body)
		}
	}
	// Whitespace around the id does not matter.
	_, body := post(t, s, `{"jsonrpc":"2.0","method":"getinfo","id":  42  }`)
	if r := decodeOne(t, body); string(r.ID) != "42" {
		t.Fatalf("spaced id echoed as %s", r.ID)
	}
}

func TestNotification(t *testing.T) {
	f := newFake()
	s := NewServer(f, testToken, nil)
	for _, body := range []string{
		`{"jsonrpc":"2.0","method":"connect","params":{"node_id":"02ab","address":"h:1"}}`,
		`{"jsonrpc":"2.0","method":"nosuchmethod"}`,                                 // errors are not reported
		`{"jsonrpc":"2.0","method":"connect","params":{"bogus":1}}`,                 // nor bad params
		`[{"jsonrpc":"2.0","method":"getinfo"},{"jsonrpc":"2.0","method":"stop"}]`,  // all-notification batch
		`{"jsonrpc":"2.0","method":"keysend","params":["02ab",5,true]}`,             // positional
		` {"jsonrpc":"2.0","method":"listpeers","params":null}` + "\n",              // null params
		`{"jsonrpc":"2.0","method":"getinfo","params":{},"extra_member":"ignored"}`, // unknown top-level member
		`{"jsonrpc":"2.0","method":"decodeinvoice","params":[]}`,                    // empty positional
		`{"jsonrpc":"2.0","method":"openchannel","params":{"node_id":"02","amount_sat":5}}`,
	} {
		status, reply := post(t, s, body)
		if status != http.StatusNoContent || len(reply) != 0 {
			t.Fatalf("notification %s: status %d reply %q", body, status, reply)
		}
	}
	// The valid notifications were run.
	f.mu.Lock()
	var methods []string
	for _, c := range f.calls {
		methods = append(methods, c.Method)
	}
	f.mu.Unlock()
	want := []string{MethodConnect, MethodGetInfo, MethodStop, MethodKeysend, MethodListPeers, MethodGetInfo,
		MethodDecodeInvoice, MethodOpenChannel}
	mustEqual(t, "methods run", methods, want)
	if !f.stopped.Load() {
		t.Fatal("stop notification not run")
	}
	mustEqual(t, "keysend params", f.calls[3].Params, KeysendParams{NodeID: "02ab", AmountMsat: 5, NoWait: true})
}

func TestBatch(t *testing.T) {
	f := newFake()
	f.hooks[MethodListPeers] = func(context.Context, any) (any, error) { panic("batch panic") }
	s := NewServer(f, testToken, nil, WithMaxBatch(8))
	body := `[
		{"jsonrpc":"2.0","method":"getinfo","id":"1"},
		{"jsonrpc":"2.0","method":"connect","params":{"node_id":"02ab","address":"h:1"}},
		1,
		{"foo":"boo"},
		{"jsonrpc":"2.0","method":"nope","id":5},
		{"jsonrpc":"2.0","method":"listpeers","id":6},
		{"jsonrpc":"2.0","method":"invoice","params":[1000,"tea"],"id":7}
	]`
	status, reply := post(t, s, body)
	if status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	var rs []json.RawMessage
	if err := json.Unmarshal(reply, &rs); err != nil {
		t.Fatalf("batch reply %s: %v", reply, err)
	}
	want := []struct {
		id   string
		code int // 0: success
	}{
		{`"1"`, 0}, {`null`, CodeInvalidRequest}, {`null`, CodeInvalidRequest}, {`5`, CodeMethodNotFound},
		{`6`, CodeInternal}, {`7`, 0},
	}
	if len(rs) != len(want) {
		t.Fatalf("batch: %d replies, want %d: %s", len(rs), len(want), reply)
	}
	for i, w := range want {
		r := decodeOne(t, rs[i])
		code := 0
		if r.Error != nil {
			code = r.Error.Code
		}
		if string(r.ID) != w.id || code != w.code {
			t.Fatalf("batch reply %d = %s, want id %s code %d", i, rs[i], w.id, w.code)
		}
	}
	var inv InvoiceResult
	if err := json.Unmarshal(decodeOne(t, rs[5]).Result, &inv); err != nil || inv != *fakeInvoice {
		t.Fatalf("invoice result %s", rs[5])
	}
	c, _ := f.lastCall()
	mustEqual(t, "positional invoice params", c.Params, InvoiceParams{AmountMsat: 1000, Description: "tea"})

	// Too large a batch is refused as a whole.
	status, reply = post(t, s, "["+strings.Repeat(`{"jsonrpc":"2.0","method":"getinfo","id":1},`, 8)+`{"jsonrpc":"2.0","method":"getinfo","id":1}]`)
	if r := decodeOne(t, reply); status != http.StatusOK || r.Error == nil || r.Error.Code != CodeInvalidRequest {
		t.Fatalf("oversized batch: %d %s", status, reply)
	}
	// A batch of one still gets an array back.
	_, reply = post(t, s, `[{"jsonrpc":"2.0","method":"getinfo","id":1}]`)
	if err := json.Unmarshal(reply, &rs); err != nil || len(rs) != 1 {
		t.Fatalf("batch of one: %s", reply)
	}
	// Invalid JSON inside a batch is a parse error for the whole body.
	_, reply = post(t, s, `[{"jsonrpc":"2.0","method":"getinfo","id":1},{"jsonrpc":"2.0","method"]`)
	if r := decodeOne(t, reply); r.Error == nil || r.Error.Code != CodeParseError {
		t.Fatalf("invalid batch JSON: %s", reply)
	}
}

func TestPositionalParams(t *testing.T) {
	f := newFake()
	s := NewServer(f, testToken, nil)
	cases := []struct {
		method, params string
		want           any
	}{
		{MethodConnect, `["02ab","127.0.0.1:9735"]`, ConnectParams{NodeID: "02ab", Address: "127.0.0.1:9735"}},
		{MethodConnect, `["02ab@127.0.0.1:9735"]`, ConnectParams{NodeID: "02ab@127.0.0.1:9735"}},
		{MethodOpenChannel, `["02ab",100000,5000,true,300]`,
			OpenChannelParams{NodeID: "02ab", AmountSat: 100000, PushMsat: 5000, Private: true, FeeratePerKw: 300}},
		{MethodOpenChannel, `["02ab",100000,null,true]`, OpenChannelParams{NodeID: "02ab", AmountSat: 100000, Private: true}},
		{MethodCloseChannel, `["aa",true]`, CloseChannelParams{ChannelID: "aa", Force: true}},
		{MethodInvoice, `[1,"d",60]`, InvoiceParams{AmountMsat: 1, Description: "d", ExpirySecs: 60}},
		{MethodDecodeInvoice, `["lnbc"]`, DecodeInvoiceParams{Bolt11: "lnbc"}},
		{MethodPayInvoice, `["lnbc",10,true]`, PayInvoiceParams{Bolt11: "lnbc", AmountMsat: 10, NoWait: true}},
		{MethodKeysend, `["02ab",10]`, KeysendParams{NodeID: "02ab", AmountMsat: 10}},
		{MethodKeysend, `{"node_id":"02ab","amount_msat":10,"no_wait":true}`, KeysendParams{NodeID: "02ab", AmountMsat: 10, NoWait: true}},
	}
	for _, c := range cases {
		_, body := post(t, s, `{"jsonrpc":"2.0","method":"`+c.method+`","params":`+c.params+`,"id":1}`)
		if r := decodeOne(t, body); r.Error != nil {
			t.Fatalf("%s %s: %s", c.method, c.params, body)
		}
		got, _ := f.lastCall()
		mustEqual(t, c.method+" "+c.params, got.Params, c.want)
	}
}

func TestCallContext(t *testing.T) {
	f := newFake()
	deadlines := make(chan time.Duration, 1)
	f.hooks[MethodPayInvoice] = func(ctx context.Context, _ any) (any, error) {
		d, ok := ctx.Deadline()
		if !ok {
			deadlines <- -1
		} else {
			deadlines <- time.Until(d)
		}
		<-ctx.Done()
		return nil, ctx.Err()
	}
	s := NewServer(f, testToken, nil, WithCallTimeout(50*time.Millisecond))
	ts := httptest.NewServer(s)
	defer ts.Close()
	cl := NewClient(ts.URL, testToken)
	defer cl.Close()

	// The server's cap ends a call the client would let run longer.
	_, err := cl.PayInvoice(context.Background(), PayInvoiceParams{Bolt11: "lnbc"})
	var rpcErr *Error
	if !errors.As(err, &rpcErr) || rpcErr.Code != CodeFailed || !strings.Contains(rpcErr.Message, "deadline exceeded") {
		t.Fatalf("capped call: %v", err)
	}
	if d := <-deadlines; d < 0 || d > 50*time.Millisecond {
		t.Fatalf("service saw deadline in %v, want within the 50ms cap", d)
	}

	// The client going away cancels the service's context.
	s2 := NewServer(f, testToken, nil) // default 120 s cap
	ts2 := httptest.NewServer(s2)
	defer ts2.Close()
	cl2 := NewClient(ts2.URL, testToken)
	defer cl2.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	done := make(chan error, 1)
	f.hooks[MethodKeysend] = func(ctx context.Context, _ any) (any, error) {
		d, _ := ctx.Deadline()
		deadlines <- time.Until(d)
		<-ctx.Done()
		done <- ctx.Err()
		return nil, ctx.Err()
	}
	_, err = cl2.Keysend(ctx, KeysendParams{NodeID: "02", AmountMsat: 1})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("client timeout: %v", err)
	}
	if d := <-deadlines; d < 100*time.Second {
		t.Fatalf("default cap: deadline in %v, want about %v", d, DefaultCallTimeout)
	}
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("service context ended with %v, want Canceled (client gone)", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("service context not canceled after the client went away")
	}
}

// readSSEFrames reads frames (the lines up to a blank line) from an event stream.
func readFrame(t *testing.T, br *bufio.Reader) []string {
	t.Helper()
	var lines []string
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading event stream: %v (so far %q)", err, lines)
		}
		line = strings.TrimSuffix(line, "\n")
		if line == "" {
			return lines
		}
		lines = append(lines, line)
	}
}

func TestSSE(t *testing.T) {
	baseline := runtime.NumGoroutine()
	f := newFake()
	s := NewServer(f, testToken, nil, WithKeepAliveInterval(20*time.Millisecond))
	ts := httptest.NewServer(s)

	req, _ := http.NewRequest(http.MethodGet, ts.URL+"/events", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	tr := &http.Transport{}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/event-stream" ||
		resp.Header.Get("Cache-Control") != "no-cache" {
		t.Fatalf("status %d headers %v", resp.StatusCode, resp.Header)
	}
	br := bufio.NewReader(resp.Body)
	if fr := readFrame(t, br); len(fr) != 1 || !strings.HasPrefix(fr[0], ":") {
		t.Fatalf("first frame %q, want a comment", fr)
	}
	if f.numSubs() != 1 || s.activeStreams.Load() != 1 {
		t.Fatalf("subscribers %d streams %d after the first frame", f.numSubs(), s.activeStreams.Load())
	}
	events := []Event{
		{Type: "payment_received", PaymentHash: hex32('4'), AmountMsat: 5000},
		{Type: "channel_ready", ChannelID: hex32('2'), NodeID: "02" + hex32('a')},
		{Type: "block", Height: 813},
		{Type: "peer_disconnected\nevent: forged", NodeID: "02", Reason: "line\nbreak"},
	}
	for _, ev := range events {
		f.publish(ev)
	}
	sawKeepAlive := false
	for i := 0; i < len(events); {
		fr := readFrame(t, br)
		if len(fr) == 1 && strings.HasPrefix(fr[0], ":") {
			sawKeepAlive = true
			continue
		}
		if len(fr) != 2 {
			t.Fatalf("frame %q: want event and data lines", fr)
		}
		wantType := strings.ReplaceAll(events[i].Type, "\n", "")
		if fr[0] != "event: "+wantType || !strings.HasPrefix(fr[1], "data: ") {
			t.Fatalf("frame %q for %+v", fr, events[i])
		}
		var got Event
		if err := json.Unmarshal([]byte(strings.TrimPrefix(fr[1], "data: ")), &got); err != nil {
			t.Fatal(err)
		}
		mustEqual(t, "event", got, events[i])
		i++
	}
	// Idle: keep-alive comments arrive.
	for !sawKeepAlive {
		fr := readFrame(t, br)
		if len(fr) != 1 || fr[0] != ": keep-alive" {
			t.Fatalf("idle stream sent %q", fr)
		}
		sawKeepAlive = true
	}

	// The client goes away: the subscription is canceled and the handler returns.
	resp.Body.Close()
	tr.CloseIdleConnections()
	waitFor(t, "subscription canceled", func() bool { return f.canceled.Load() == 1 && f.numSubs() == 0 })
	waitFor(t, "stream handler ended", func() bool { return s.activeStreams.Load() == 0 })
	ts.Close()
	waitFor(t, "goroutines back to the baseline", func() bool { return runtime.NumGoroutine() <= baseline })
}

func TestSSEServiceEndsStream(t *testing.T) {
	f, s, _, c := testServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ch, err := c.Events(ctx)
	if err != nil {
		t.Fatal(err)
	}
	f.publish(Event{Type: "block", Height: 1})
	if ev := <-ch; ev.Height != 1 {
		t.Fatalf("event %+v", ev)
	}
	f.closeSubs()
	for range ch {
	}
	waitFor(t, "stream handler ended", func() bool { return s.activeStreams.Load() == 0 })
	if f.canceled.Load() != 1 {
		t.Fatalf("cancel called %d times, want 1", f.canceled.Load())
	}
}

type panickySubscriber struct{ *fakeService }

func (panickySubscriber) SubscribeEvents() (<-chan Event, func()) { panic("no events today") }

func TestSSESubscribePanics(t *testing.T) {
	s := NewServer(panickySubscriber{newFake()}, testToken, nil)
	req := httptest.NewRequest(http.MethodGet, "/events", nil)
	req.Header.Set("Authorization", authHeader())
	rec := httptest.NewRecorder()
	s.ServeHTTP(rec, req)
	if r := decodeOne(t, rec.Body.Bytes()); rec.Code != http.StatusInternalServerError || r.Error.Code != CodeInternal {
		t.Fatalf("status %d body %s", rec.Code, rec.Body.Bytes())
	}
}

func TestServeAndShutdown(t *testing.T) {
	f := newFake()
	started := make(chan struct{})
	f.hooks[MethodOpenChannel] = func(ctx context.Context, _ any) (any, error) {
		close(started)
		<-ctx.Done()
		return nil, errors.New("node shutting down")
	}
	s := NewServer(f, testToken, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(l) }()
	c := NewClient(l.Addr().String(), testToken) // no scheme: http:// is assumed
	defer c.Close()
	if _, err := c.GetInfo(context.Background()); err != nil {
		t.Fatal(err)
	}
	ch, err := c.Events(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	callErr := make(chan error, 1)
	go func() {
		_, err := c.OpenChannel(context.Background(), OpenChannelParams{NodeID: "02", AmountSat: 1})
		callErr <- err
	}()
	<-started

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve returned %v", err)
	}
	for range ch { // the event stream ended
	}
	var rpcErr *Error
	if err := <-callErr; !errors.As(err, &rpcErr) || rpcErr.Message != "node shutting down" {
		t.Fatalf("call in progress got %v, want the service's reply", err)
	}
	if f.canceled.Load() != 1 {
		t.Fatal("event subscription not canceled")
	}
	// Serving after Shutdown is refused.
	l2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Serve(l2); !errors.Is(err, http.ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
}

// TestExternalHTTPServerShutdown serves the Server from the caller's own http.Server: its Shutdown
// ends the event streams instead of waiting for them.
func TestExternalHTTPServerShutdown(t *testing.T) {
	f := newFake()
	s := NewServer(f, testToken, nil)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: s}
	served := make(chan error, 1)
	go func() { served <- hs.Serve(l) }()
	c := NewClient("http://"+l.Addr().String(), testToken)
	defer c.Close()
	ch, err := c.Events(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hs.Shutdown(ctx); err != nil {
		t.Fatalf("http.Server.Shutdown: %v", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		t.Fatal(err)
	}
	for range ch {
	}
	waitFor(t, "subscription canceled", func() bool { return f.canceled.Load() == 1 && s.activeStreams.Load() == 0 })
}

func TestConcurrentCalls(t *testing.T) {
	f := newFake()
	f.hooks[MethodGetInfo] = func(context.Context, any) (any, error) {
		time.Sleep(2 * time.Millisecond) // let calls overlap
		return fakeInfo, nil
	}
	s := NewServer(f, testToken, nil)
	ts := httptest.NewUnstartedServer(s)
	var mu sync.Mutex
	newConns := 0
	ts.Config.ConnState = func(_ net.Conn, st http.ConnState) {
		if st == http.StateNew {
			mu.Lock()
			newConns++
			mu.Unlock()
		}
	}
	ts.Start()
	defer ts.Close()
	c := NewClient(ts.URL, testToken)
	defer c.Close()
	conns := func() int { mu.Lock(); defer mu.Unlock(); return newConns }

	wave := func() {
		var wg sync.WaitGroup
		errs := make(chan error, 50)
		for i := range 50 {
			wg.Go(func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				switch i % 3 {
				case 0:
					info, err := c.GetInfo(ctx)
					if err == nil && info.NodeID != fakeInfo.NodeID {
						err = fmt.Errorf("getinfo returned %+v", info)
					}
					errs <- err
				case 1:
					res, err := c.Connect(ctx, ConnectParams{NodeID: fmt.Sprintf("id%d", i), Address: "h:1"})
					if err == nil && res.NodeID != fmt.Sprintf("id%d", i) {
						err = fmt.Errorf("connect %d returned %+v", i, res)
					}
					errs <- err
				default:
					res, err := c.Invoice(ctx, InvoiceParams{Description: strings.Repeat("x", 1000)})
					if err == nil && *res != *fakeInvoice {
						err = fmt.Errorf("invoice returned %+v", res)
					}
					errs <- err
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	// Connections are kept alive and reused: three waves of 50 calls open about 50 connections
	// (150 without reuse; a few more than 50 may open when a call starts just before another's
	// connection is back in the idle pool).
	for range 3 {
		wave()
	}
	if n := conns(); n > 60 {
		t.Fatalf("3 waves of 50 parallel calls opened %d connections", n)
	}
	// Sequential calls reuse one connection.
	before := conns()
	for range 20 {
		if _, err := c.ListPeers(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	if n := conns() - before; n > 1 {
		t.Fatalf("20 sequential calls opened %d connections", n)
	}
	if n := f.numCalls(); n != 170 {
		t.Fatalf("service saw %d calls, want 170", n)
	}
}

// BenchmarkCheckCredentials compares a token differing in its first byte with one differing in its
// last: with the digest comparison both take the same time (nothing is asserted: see the numbers).
func BenchmarkCheckCredentials(b *testing.B) {
	s := NewServer(newFake(), testToken, nil)
	first := "0" + testToken[1:]
	last := testToken[:63] + "0"
	b.Run("first-byte", func(b *testing.B) {
		for b.Loop() {
			s.checkCredentials(CookieUser, first)
		}
	})
	b.Run("last-byte", func(b *testing.B) {
		for b.Loop() {
			s.checkCredentials(CookieUser, last)
		}
	})
}

func BenchmarkGetInfo(b *testing.B) {
	s := NewServer(newFake(), testToken, nil)
	ts := httptest.NewServer(s)
	defer ts.Close()
	c := NewClient(ts.URL, testToken)
	defer c.Close()
	ctx := context.Background()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.GetInfo(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestSlowClientsAreCutOff: an unauthenticated request announcing a body it never sends gets its 401 and
// the connection closed at once; an authenticated one whose body stalls is cut off after the body
// timeout. Neither holds the server.
func TestSlowClientsAreCutOff(t *testing.T) {
	s := NewServer(newFake(), testToken, nil, WithBodyTimeout(200*time.Millisecond))
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = s.Serve(ln) }()
	defer s.Shutdown(context.Background())
	send := func(req string) (string, time.Duration) {
		c, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		start := time.Now()
		if _, err := c.Write([]byte(req)); err != nil {
			t.Fatal(err)
		}
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		out, err := io.ReadAll(c) // until the server closes the connection
		if err != nil {
			t.Fatalf("the server kept the connection after %q: %v", out, err)
		}
		return string(out), time.Since(start)
	}
	reply, took := send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000000\r\n\r\n")
	if !strings.Contains(reply, "401") || took > 2*time.Second {
		t.Fatalf("unauthenticated: %q after %v", reply, took)
	}
	reply, took = send("POST / HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + testToken +
		"\r\nContent-Length: 100\r\n\r\n{\"jsonrpc\":")
	if !strings.Contains(reply, "400") || took > 2*time.Second {
		t.Fatalf("stalled body: %q after %v", reply, took)
	}
}
