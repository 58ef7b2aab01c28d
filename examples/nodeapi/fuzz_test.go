package nodeapi

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	``,
	`{`,
	`[]`,
	`[1,2,3]`,
	`null`,
	`"x"`,
	`{"jsonrpc":"2.0","method":"getinfo","id":1}`,
	`{"jsonrpc":"2.0","method":"getinfo","id":null}`,
	`{"jsonrpc":"2.0","method":"getinfo","id":"a"}`,
	`{"jsonrpc":"2.0","method":"getinfo","id":{}}`,
	`{"jsonrpc":"2.0","method":"getinfo"}`,
	`{"jsonrpc":"2.0","method":"listchannels","id":1}`,
	`{"jsonrpc":"2.0","method":"listchannels"}`,
	`{"jsonrpc":"2.0","method":"connect","params":{"node_id":"02","address":"h:1"},"id":2}`,
	`{"jsonrpc":"2.0","method":"connect","params":["02","h:1"],"id":2}`,
	`{"jsonrpc":"2.0","method":"connect","params":["02","h:1","x"],"id":2}`,
	`{"jsonrpc":"2.0","method":"openchannel","params":{"node_id":"02","amount_sat":"1"},"id":3}`,
	`{"jsonrpc":"2.0","method":"invoice","params":{"amount_msat":-1,"x":1},"id":4}`,
	`{"jsonrpc":"2.0","method":"nope","id":5}`,
	`{"jsonrpc":"1.0","method":"getinfo","id":6}`,
	`{"jsonrpc":"2.0","method":"stop","params":"x","id":7}`,
	`[{"jsonrpc":"2.0","method":"getinfo","id":1},{"jsonrpc":"2.0","method":"stop"},{"foo":1},5]`,
	`[{"jsonrpc":"2.0","method":"getinfo"},{"jsonrpc":"2.0","method":"stop"}]`,
	`{"jsonrpc":"2.0","method":"keysend","params":{"node_id":"02","amount_msat":1e3},"id":1.5}`,
}

// FuzzServeJSONRPC posts arbitrary bodies: the server never panics, and answers with a valid
// JSON-RPC 2.0 reply (or a batch of them), or with nothing exactly when every request was a
// notification.
func FuzzServeJSONRPC(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		svc := newFake()
		svc.hooks[MethodListChannels] = func(context.Context, any) (any, error) { panic("fuzz panic") }
		s := NewServer(svc, testToken, nil, WithMaxBatch(64))
		req := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+testToken)
		rec := httptest.NewRecorder()
		s.ServeHTTP(rec, req)
		reply := rec.Body.Bytes()

		if rec.Code == http.StatusNoContent {
			if len(reply) != 0 {
				t.Fatalf("204 with a body %q", reply)
			}
			if !allNotifications(body) {
				t.Fatalf("no reply to %q, which is not only notifications", body)
			}
			return
		}
		if rec.Code == http.StatusRequestEntityTooLarge && len(body) > DefaultMaxBodyBytes {
			checkReply(t, reply)
			return
		}
		if rec.Code != http.StatusOK {
			t.Fatalf("status %d for %q", rec.Code, body)
		}
		trimmed := bytes.TrimLeft(reply, " \t\r\n")
		if len(trimmed) > 0 && trimmed[0] == '[' {
			var rs []json.RawMessage
			if err := json.Unmarshal(reply, &rs); err != nil || len(rs) == 0 {
				t.Fatalf("batch reply %q: %v", reply, err)
			}
			var reqs []json.RawMessage
			if err := json.Unmarshal(body, &reqs); err != nil || len(rs) > len(reqs) {
				t.Fatalf("batch reply %q to %q", reply, body)
			}
			for _, r := range rs {
				checkReply(t, r)
			}
			return
		}
		checkReply(t, reply)
		// A single request with a valid id gets that id back.
		var m map[string]json.RawMessage
		if json.Unmarshal(body, &m) == nil && m != nil {
			if id, ok := m["id"]; ok && validID(bytes.TrimSpace(id)) {
				var r testResp
				_ = json.Unmarshal(reply, &r)
				var want bytes.Buffer
				_ = json.Compact(&want, id)
				if !bytes.Equal(r.ID, want.Bytes()) {
					t.Fatalf("id %s echoed as %s", id, r.ID)
				}
			}
		}
	})
}

// allNotifications reports whether body is a request object, or a non-empty array of them, none
// with an "id" member.
func allNotifications(body []byte) bool {
	isNotification := func(raw json.RawMessage) bool {
		var m map[string]json.RawMessage
		if json.Unmarshal(raw, &m) != nil || m == nil {
			return false
		}
		_, hasID := m["id"]
		return !hasID
	}
	var arr []json.RawMessage
	if json.Unmarshal(body, &arr) == nil {
		if len(arr) == 0 {
			return false
		}
		for _, e := range arr {
			if !isNotification(e) {
				return false
			}
		}
		return true
	}
	return isNotification(body)
}

// checkReply checks one response object.
func checkReply(t *testing.T, b []byte) {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("reply %q: %v", b, err)
	}
	if string(m["jsonrpc"]) != `"2.0"` {
		t.Fatalf("reply %q: jsonrpc", b)
	}
	id, ok := m["id"]
	if !ok || !validID(id) {
		t.Fatalf("reply %q: id", b)
	}
	_, hasResult := m["result"]
	e, hasError := m["error"]
	if hasResult == hasError {
		t.Fatalf("reply %q: want exactly one of result and error", b)
	}
	if hasError {
		var rpcErr Error
		if err := json.Unmarshal(e, &rpcErr); err != nil || rpcErr.Message == "" {
			t.Fatalf("reply %q: error object", b)
		}
		switch rpcErr.Code {
		case CodeParseError, CodeInvalidRequest, CodeMethodNotFound, CodeInvalidParams, CodeInternal:
		default:
			t.Fatalf("reply %q: unexpected code %d", b, rpcErr.Code)
		}
	}
}

// FuzzReadSSE feeds arbitrary streams to the event-stream parser: it never panics, and event types
// never hold a line break.
func FuzzReadSSE(f *testing.F) {
	for _, s := range []string{
		"event: block\ndata: {\"type\":\"block\",\"height\":1}\n\n",
		": keep-alive\n\n",
		"data: a\ndata: b\n\n",
		"event: x\r\ndata: 1\r\n\r\n",
		"data\n\nevent\n\n:\n\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, stream []byte) {
		_ = readSSE(bytes.NewReader(stream), func(typ string, data []byte) bool {
			if typ == "" || strings.ContainsAny(typ, "\r\n") {
				t.Fatalf("event type %q", typ)
			}
			var ev Event
			_ = json.Unmarshal(data, &ev)
			return true
		})
	})
}

// FuzzDecodeResponse feeds arbitrary replies to the client's decoder: it never panics, and accepts
// a result only from a JSON-RPC 2.0 reply with the request's id.
func FuzzDecodeResponse(f *testing.F) {
	for _, s := range []string{
		`{"jsonrpc":"2.0","result":{"node_id":"02"},"id":7}`,
		`{"jsonrpc":"2.0","error":{"code":-32000,"message":"m"},"id":7}`,
		`{"jsonrpc":"2.0","result":null,"id":7}`,
		`{"jsonrpc":"2.0","result":1,"id":7}`,
		`{"result":{},"id":"7"}`,
		`<html>`,
	} {
		f.Add(200, []byte(s))
	}
	f.Fuzz(func(t *testing.T, status int, data []byte) {
		var res GetInfoResult
		err := decodeResponse(status, data, 7, &res)
		if err != nil {
			return
		}
		var r testResp
		if json.Unmarshal(data, &r) != nil || r.JSONRPC != "2.0" || string(bytes.TrimSpace(r.ID)) != "7" || status != 200 {
			t.Fatalf("accepted %d %q", status, data)
		}
	})
}

// FuzzRunCLI runs arbitrary command lines (NUL-separated arguments) without a node: RunCLI never
// panics and returns 0, 1 or 2.
func FuzzRunCLI(f *testing.F) {
	for _, s := range []string{"getinfo", "openchannel\x0002ab\x00100\x00--private", "invoice\x00any\x00d\x0060",
		"help\x00keysend", "connect\x00a@b", "payinvoice\x00--no-wait\x00x\x00--", "--help", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		var args []string
		if line != "" {
			args = strings.Split(line, "\x00")
		}
		code := RunCLI(context.Background(), nil, args, io.Discard, io.Discard)
		if code < 0 || code > 2 {
			t.Fatalf("RunCLI(%q) = %d", args, code)
		}
	})
}
