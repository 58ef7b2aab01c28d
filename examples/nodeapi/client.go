package nodeapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

const (
	// maxResponseBytes bounds a reply the client reads (64 MiB: long payment lists fit).
	maxResponseBytes = 64 << 20
	// maxSSELineBytes bounds one line of the event stream.
	maxSSELineBytes = 1 << 20
	// eventBuffer is the capacity of the channel Events returns.
	eventBuffer = 64
)

// ErrMalformedResponse is returned (wrapped) by Client calls when the server's reply is not a
// JSON-RPC 2.0 response to the request sent.
var ErrMalformedResponse = errors.New("nodeapi: malformed response")

// Client calls a node's control API. It keeps connections alive and reuses them, so many goroutines
// may share one Client (it is safe for concurrent use). Timeouts and cancellation come from the
// context given to each call; there is no other timeout except 10 s to connect.
type Client struct {
	url    string // base URL, no trailing slash
	token  string
	hc     *http.Client
	nextID atomic.Uint64
}

// NewClient returns a Client for the node API at url ("http://127.0.0.1:9736", or just
// "127.0.0.1:9736") authenticating with token (the cookie's secret, see ReadCookie). It does not
// connect until the first call.
func NewClient(url string, token string) *Client {
	if !strings.Contains(url, "://") {
		url = "http://" + url
	}
	tr := &http.Transport{
		Proxy: nil, // a control API is reached directly, never through HTTP_PROXY
		DialContext: (&net.Dialer{
			Timeout:   10 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   128,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
	}
	return &Client{
		url:   strings.TrimRight(url, "/"),
		token: token,
		hc: &http.Client{
			Transport: tr,
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse
			},
		},
	}
}

// DialDatadir returns a Client for the node whose data directory is datadir and whose API listens
// on rpcAddr ("host:port"), reading the token from <datadir>/.cookie. It returns ReadCookie's
// error; it does not connect until the first call.
func DialDatadir(datadir, rpcAddr string) (*Client, error) {
	token, err := ReadCookie(datadir)
	if err != nil {
		return nil, err
	}
	return NewClient(rpcAddr, token), nil
}

// Close closes the Client's idle connections. The Client stays usable.
func (c *Client) Close() { c.hc.CloseIdleConnections() }

type clientRequest struct {
	JSONRPC string `json:"jsonrpc"`
	ID      uint64 `json:"id,omitempty"`
	Method  string `json:"method"`
	Params  any    `json:"params,omitempty"`
}

type clientResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result"`
	Error   *Error          `json:"error"`
}

// Call calls method with params (a struct or map sent as the named params object; nil for none)
// and decodes the result into result (a pointer; nil to ignore it). A JSON-RPC error comes back as
// an *Error (use errors.As); transport failures, context errors (errors.Is(err,
// context.DeadlineExceeded)) and ErrMalformedResponse come back wrapped.
func (c *Client) Call(ctx context.Context, method string, params, result any) error {
	id := c.nextID.Add(1)
	body, err := json.Marshal(clientRequest{JSONRPC: "2.0", ID: id, Method: method, Params: params})
	if err != nil {
		return fmt.Errorf("nodeapi: %s: encoding params: %w", method, err)
	}
	status, data, err := c.post(ctx, body)
	if err != nil {
		return fmt.Errorf("nodeapi: %s: %w", method, err)
	}
	if err := decodeResponse(status, data, id, result); err != nil {
		var rpcErr *Error
		if errors.As(err, &rpcErr) {
			return rpcErr
		}
		return fmt.Errorf("nodeapi: %s: %w", method, err)
	}
	return nil
}

// Notify sends method as a JSON-RPC notification: the server runs it and replies nothing, so
// neither its result nor its errors are known. It returns transport errors only (or an *Error if
// the request was refused, e.g. CodeUnauthorized).
func (c *Client) Notify(ctx context.Context, method string, params any) error {
	body, err := json.Marshal(clientRequest{JSONRPC: "2.0", Method: method, Params: params})
	if err != nil {
		return fmt.Errorf("nodeapi: %s: encoding params: %w", method, err)
	}
	status, data, err := c.post(ctx, body)
	if err != nil {
		return fmt.Errorf("nodeapi: %s: %w", method, err)
	}
	if status == http.StatusNoContent {
		return nil
	}
	var r clientResponse
	if json.Unmarshal(data, &r) == nil && r.Error != nil {
		return r.Error
	}
	return fmt.Errorf("nodeapi: %s: %w: HTTP %d to a notification", method, ErrMalformedResponse, status)
}

// post sends body to the API and returns the reply's status and body, read completely so the
// connection can be reused.
func (c *Client) post(ctx context.Context, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url+"/", bytes.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.SetBasicAuth(CookieUser, c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return 0, nil, fmt.Errorf("reading reply: %w", err)
	}
	if len(data) > maxResponseBytes {
		return 0, nil, fmt.Errorf("%w: reply larger than %d bytes", ErrMalformedResponse, maxResponseBytes)
	}
	return resp.StatusCode, data, nil
}

// decodeResponse checks a reply to the request with id wantID and decodes its result into result.
// A JSON-RPC error is returned as an *Error.
func decodeResponse(status int, data []byte, wantID uint64, result any) error {
	var r clientResponse
	if err := json.Unmarshal(data, &r); err != nil || (r.Error == nil && r.Result == nil) {
		if status != http.StatusOK {
			return fmt.Errorf("%w: HTTP %d: %.200q", ErrMalformedResponse, status, data)
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrMalformedResponse, err)
		}
		return fmt.Errorf("%w: neither result nor error", ErrMalformedResponse)
	}
	if r.Error != nil {
		return r.Error
	}
	if status != http.StatusOK {
		return fmt.Errorf("%w: HTTP %d with a result", ErrMalformedResponse, status)
	}
	if r.JSONRPC != "2.0" {
		return fmt.Errorf("%w: jsonrpc %q", ErrMalformedResponse, r.JSONRPC)
	}
	if got := string(bytes.TrimSpace(r.ID)); got != strconv.FormatUint(wantID, 10) {
		return fmt.Errorf("%w: reply id %.40s to request %d", ErrMalformedResponse, got, wantID)
	}
	if result == nil {
		return nil
	}
	if err := json.Unmarshal(r.Result, result); err != nil {
		return fmt.Errorf("%w: decoding result: %v", ErrMalformedResponse, err)
	}
	return nil
}

// GetInfo calls getinfo.
func (c *Client) GetInfo(ctx context.Context) (*GetInfoResult, error) {
	return callResult[GetInfoResult](ctx, c, MethodGetInfo, nil)
}

// Connect calls connect.
func (c *Client) Connect(ctx context.Context, p ConnectParams) (*ConnectResult, error) {
	return callResult[ConnectResult](ctx, c, MethodConnect, p)
}

// ListPeers calls listpeers.
func (c *Client) ListPeers(ctx context.Context) (*ListPeersResult, error) {
	return callResult[ListPeersResult](ctx, c, MethodListPeers, nil)
}

// NewAddress calls newaddress.
func (c *Client) NewAddress(ctx context.Context) (*NewAddressResult, error) {
	return callResult[NewAddressResult](ctx, c, MethodNewAddress, nil)
}

// WalletBalance calls walletbalance.
func (c *Client) WalletBalance(ctx context.Context) (*WalletBalanceResult, error) {
	return callResult[WalletBalanceResult](ctx, c, MethodWalletBalance, nil)
}

// ListBalances calls listbalances.
func (c *Client) ListBalances(ctx context.Context) (*ListBalancesResult, error) {
	return callResult[ListBalancesResult](ctx, c, MethodListBalances, nil)
}

// OpenChannel calls openchannel; it waits until the funding transaction is broadcast (or ctx or
// the server's cap, DefaultCallTimeout, ends).
func (c *Client) OpenChannel(ctx context.Context, p OpenChannelParams) (*OpenChannelResult, error) {
	return callResult[OpenChannelResult](ctx, c, MethodOpenChannel, p)
}

// ListChannels calls listchannels.
func (c *Client) ListChannels(ctx context.Context) (*ListChannelsResult, error) {
	return callResult[ListChannelsResult](ctx, c, MethodListChannels, nil)
}

// CloseChannel calls closechannel.
func (c *Client) CloseChannel(ctx context.Context, p CloseChannelParams) (*CloseChannelResult, error) {
	return callResult[CloseChannelResult](ctx, c, MethodCloseChannel, p)
}

// Invoice calls invoice.
func (c *Client) Invoice(ctx context.Context, p InvoiceParams) (*InvoiceResult, error) {
	return callResult[InvoiceResult](ctx, c, MethodInvoice, p)
}

// DecodeInvoice calls decodeinvoice.
func (c *Client) DecodeInvoice(ctx context.Context, p DecodeInvoiceParams) (*DecodeInvoiceResult, error) {
	return callResult[DecodeInvoiceResult](ctx, c, MethodDecodeInvoice, p)
}

// PayInvoice calls payinvoice; unless p.NoWait it waits for the payment to settle or fail (or ctx
// or the server's cap to end: the payment is then returned pending).
func (c *Client) PayInvoice(ctx context.Context, p PayInvoiceParams) (*Payment, error) {
	return callResult[Payment](ctx, c, MethodPayInvoice, p)
}

// SendPayment calls sendpayment; unless p.NoWait it waits for the payment to settle or fail.
func (c *Client) SendPayment(ctx context.Context, p SendPaymentParams) (*Payment, error) {
	return callResult[Payment](ctx, c, MethodSendPayment, p)
}

// Keysend calls keysend; unless p.NoWait it waits for the payment to settle or fail.
func (c *Client) Keysend(ctx context.Context, p KeysendParams) (*Payment, error) {
	return callResult[Payment](ctx, c, MethodKeysend, p)
}

// SendCustomMessage calls sendcustommessage.
func (c *Client) SendCustomMessage(ctx context.Context, p SendCustomMessageParams) (*SendCustomMessageResult, error) {
	return callResult[SendCustomMessageResult](ctx, c, MethodSendCustomMessage, p)
}

// ListPayments calls listpayments.
func (c *Client) ListPayments(ctx context.Context) (*ListPaymentsResult, error) {
	return callResult[ListPaymentsResult](ctx, c, MethodListPayments, nil)
}

// ListInvoices calls listinvoices.
func (c *Client) ListInvoices(ctx context.Context) (*ListInvoicesResult, error) {
	return callResult[ListInvoicesResult](ctx, c, MethodListInvoices, nil)
}

// DescribeGraph calls describegraph.
func (c *Client) DescribeGraph(ctx context.Context) (*DescribeGraphResult, error) {
	return callResult[DescribeGraphResult](ctx, c, MethodDescribeGraph, nil)
}

// GetNodeInfo calls getnodeinfo.
func (c *Client) GetNodeInfo(ctx context.Context, p GetNodeInfoParams) (*GetNodeInfoResult, error) {
	return callResult[GetNodeInfoResult](ctx, c, MethodGetNodeInfo, p)
}

// QueryRoutes calls queryroutes.
func (c *Client) QueryRoutes(ctx context.Context, p QueryRoutesParams) (*QueryRoutesResult, error) {
	return callResult[QueryRoutesResult](ctx, c, MethodQueryRoutes, p)
}

// ForwardingHistory calls forwardinghistory.
func (c *Client) ForwardingHistory(ctx context.Context, p ForwardingHistoryParams) (*ForwardingHistoryResult, error) {
	return callResult[ForwardingHistoryResult](ctx, c, MethodForwardingHistory, p)
}

// UpdateChanPolicy calls updatechanpolicy.
func (c *Client) UpdateChanPolicy(ctx context.Context, p UpdateChanPolicyParams) (*UpdateChanPolicyResult, error) {
	return callResult[UpdateChanPolicyResult](ctx, c, MethodUpdateChanPolicy, p)
}

// Stop calls stop: the node shuts down after replying.
func (c *Client) Stop(ctx context.Context) error {
	return c.Call(ctx, MethodStop, nil, nil)
}

func callResult[R any](ctx context.Context, c *Client, method string, params any) (*R, error) {
	var r R
	if err := c.Call(ctx, method, params, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// Events subscribes to the node's event stream (GET /events). It returns once the subscription is
// in place, so events the node emits afterwards are delivered. The channel is closed when ctx is
// done or the stream ends (the node stopped); events are dropped by the node, not queued without
// bound, if the receiver falls behind. Errors: an *Error if the server refused (e.g.
// CodeUnauthorized), transport errors, or ErrMalformedResponse if the reply is not an event stream.
func (c *Client) Events(ctx context.Context) (<-chan Event, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url+"/events", nil)
	if err != nil {
		return nil, fmt.Errorf("nodeapi: events: %w", err)
	}
	req.Header.Set("Accept", "text/event-stream")
	req.SetBasicAuth(CookieUser, c.token)
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("nodeapi: events: %w", err)
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != http.StatusOK || mt != "text/event-stream" {
		defer resp.Body.Close()
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
		var r clientResponse
		if json.Unmarshal(data, &r) == nil && r.Error != nil {
			return nil, r.Error
		}
		return nil, fmt.Errorf("nodeapi: events: %w: HTTP %d, %q", ErrMalformedResponse, resp.StatusCode, mt)
	}
	ch := make(chan Event, eventBuffer)
	go func() {
		defer close(ch)
		defer resp.Body.Close()
		_ = readSSE(resp.Body, func(typ string, data []byte) bool {
			var ev Event
			if err := json.Unmarshal(data, &ev); err != nil {
				return true // skip what cannot be decoded
			}
			if ev.Type == "" {
				ev.Type = typ
			}
			select {
			case ch <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		})
	}()
	return ch, nil
}

// readSSE parses a Server-Sent Events stream (the WHATWG HTML "event stream" format: "field: value"
// lines, ":" comments, a blank line ending each event; several data lines are joined with "\n").
// It calls fn for each event with data, with the event's type ("message" if none), until fn returns
// false or r ends; it returns r's error (nil at EOF), or an error for a line longer than 1 MiB.
func readSSE(r io.Reader, fn func(eventType string, data []byte) bool) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxSSELineBytes)
	var (
		typ     string
		data    []byte
		hasData bool
	)
	for sc.Scan() {
		line := sc.Bytes()
		if len(line) == 0 {
			if hasData {
				if typ == "" {
					typ = "message"
				}
				if !fn(typ, data) {
					return nil
				}
			}
			typ, data, hasData = "", nil, false
			continue
		}
		if line[0] == ':' {
			continue
		}
		field, value, _ := bytes.Cut(line, []byte(":"))
		value = bytes.TrimPrefix(value, []byte(" "))
		switch string(field) {
		case "event":
			typ = string(value)
		case "data":
			if hasData {
				data = append(data, '\n')
			}
			data = append(data, value...)
			hasData = true
		}
	}
	return sc.Err()
}
