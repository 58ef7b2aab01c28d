package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/lnkit/lnkit/examples/node/grpcapi"
	"github.com/lnkit/lnkit/examples/node/lnkitrpc"
	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/router"
)

// TestGRPCCoversEveryMethod: the generated service descriptor has a unary rpc for every JSON-RPC
// method (by name, case aside) and nothing else but the SubscribeEvents stream, so the two APIs
// cannot drift apart.
func TestGRPCCoversEveryMethod(t *testing.T) {
	sd := lnkitrpc.File_lnkit_proto.Services().ByName("Node")
	require.NotNil(t, sd)
	unary := map[string]bool{}
	var streams []string
	for i := 0; i < sd.Methods().Len(); i++ {
		m := sd.Methods().Get(i)
		if m.IsStreamingServer() || m.IsStreamingClient() {
			streams = append(streams, string(m.Name()))
			continue
		}
		unary[strings.ToLower(string(m.Name()))] = true
	}
	names := nodeapi.MethodNames()
	for _, name := range names {
		require.True(t, unary[name], "JSON-RPC method %q has no gRPC rpc", name)
	}
	require.Len(t, unary, len(names), "every unary rpc is a JSON-RPC method")
	require.Equal(t, []string{"SubscribeEvents"}, streams)
	m := sd.Methods().ByName("SubscribeEvents")
	require.True(t, m.IsStreamingServer())
	require.False(t, m.IsStreamingClient())
}

// TestGRPCListenConfig: -grpclisten is off by default, accepts loopback addresses and refuses
// others, as the control API does, and needs the control API (its cookie).
func TestGRPCListenConfig(t *testing.T) {
	btcd := newFakeBtcd(t)
	require.Equal(t, "off", testNodeConfig(t, btcd).GRPCListen)
	for _, ok := range []string{"127.0.0.1:10019", "[::1]:0", "localhost:10019", "off"} {
		require.Equal(t, ok, testNodeConfig(t, btcd, "-grpclisten", ok).GRPCListen)
	}
	for _, bad := range []string{"0.0.0.0:10019", "192.168.1.2:10019", "example.com:1", "127.0.0.1"} {
		_, _, err := parseConfig([]string{"-datadir", t.TempDir(), "-network", "regtest", "-grpclisten", bad})
		require.Error(t, err, bad)
	}
	_, _, err := parseConfig([]string{"-datadir", t.TempDir(), "-network", "regtest", "-rpclisten", "off",
		"-grpclisten", "127.0.0.1:0"})
	require.ErrorContains(t, err, "needs the control API")
}

// grpcAddrOf is the address n's gRPC API listens on ("" if none).
func grpcAddrOf(n *Node) string {
	for _, sc := range n.sup.snapshot() {
		if c, ok := sc.c.(*rpcComponent); ok && c.grpc != nil {
			return c.grpc.addr
		}
	}
	return ""
}

// apiPair is one node's two control APIs.
type apiPair struct {
	json   *nodeapi.Client
	grpc   lnkitrpc.NodeClient
	token  string
	gaddr  string
	called map[string]bool // JSON-RPC method names compared
	mu     sync.Mutex
}

func dialAPIs(t testing.TB, n *Node) *apiPair {
	t.Helper()
	token, err := nodeapi.ReadCookie(n.cfg.DataDir)
	require.NoError(t, err)
	gaddr := grpcAddrOf(n)
	require.NotEmpty(t, gaddr, "the gRPC API is served")
	jc := nodeapi.NewClient("http://"+*n.rpcAddr.Load(), token)
	t.Cleanup(jc.Close)
	conn, err := grpc.NewClient(gaddr, grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithPerRPCCredentials(grpcapi.Bearer(token)))
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	return &apiPair{json: jc, grpc: lnkitrpc.NewNodeClient(conn), token: token, gaddr: gaddr, called: map[string]bool{}}
}

// callBoth calls method over JSON-RPC with params and over gRPC with call, and returns both
// outcomes normalised (normJSON): the result, or the error as {"code": gRPC code, "message": ...}
// (a JSON-RPC error's code mapped as the gRPC API maps it).
func (p *apiPair) callBoth(t *testing.T, method string, params any, call func(context.Context) (proto.Message, error)) (j, g any) {
	t.Helper()
	p.mu.Lock()
	p.called[method] = true
	p.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var raw json.RawMessage
	err := p.json.Call(ctx, method, params, &raw)
	var rpcErr *nodeapi.Error
	switch {
	case errors.As(err, &rpcErr):
		j = errorShape(jsonCodeToGRPC(rpcErr.Code), rpcErr.Message)
	case err != nil:
		t.Fatalf("%s over JSON-RPC: %v", method, err)
	default:
		j = normJSON(t, raw)
	}
	msg, err := call(ctx)
	if err != nil {
		st, ok := status.FromError(err)
		require.True(t, ok, "%s over gRPC: %v", method, err)
		g = errorShape(st.Code(), st.Message())
	} else {
		b, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(msg)
		require.NoError(t, err)
		g = normJSON(t, b)
	}
	return j, g
}

// same calls both APIs until they agree (at most 5 times: the node's state may change between two
// calls, e.g. a gossip counter), failing with the last difference.
func (p *apiPair) same(t *testing.T, method string, params any, call func(context.Context) (proto.Message, error)) any {
	t.Helper()
	var j, g any
	for range 5 {
		if j, g = p.callBoth(t, method, params, call); equalJSON(j, g) {
			return j
		}
		time.Sleep(100 * time.Millisecond)
	}
	require.Equal(t, j, g, "%s: JSON-RPC and gRPC differ", method)
	return j
}

// sameExcept compares the two outcomes without the named top-level fields (which legitimately
// differ between two calls: a new address, a new payment's hash) and returns both.
func (p *apiPair) sameExcept(t *testing.T, method string, params any, call func(context.Context) (proto.Message, error),
	ignore ...string) (j, g map[string]any) {
	t.Helper()
	jv, gv := p.callBoth(t, method, params, call)
	j, okJ := jv.(map[string]any)
	g, okG := gv.(map[string]any)
	require.True(t, okJ && okG, "%s: objects expected, got %v and %v", method, jv, gv)
	jc, gc := copyWithout(j, ignore), copyWithout(g, ignore)
	require.Equal(t, jc, gc, "%s: JSON-RPC and gRPC differ (besides %v)", method, ignore)
	return j, g
}

func copyWithout(m map[string]any, ignore []string) map[string]any {
	out := map[string]any{}
	for k, v := range m {
		out[k] = v
	}
	for _, k := range ignore {
		delete(out, k)
	}
	return out
}

func errorShape(code codes.Code, msg string) map[string]any {
	return map[string]any{"error_code": code.String(), "error_message": msg}
}

// jsonCodeToGRPC is the mapping the gRPC API documents (lnkit.proto).
func jsonCodeToGRPC(code int) codes.Code {
	switch code {
	case nodeapi.CodeInvalidParams:
		return codes.InvalidArgument
	case nodeapi.CodeFailed:
		return codes.FailedPrecondition
	default:
		return codes.Unknown
	}
}

// normJSON decodes b and drops what the two encodings write differently for the same value: fields
// holding a zero value (JSON-RPC omits some, protojson all) and the number/string form of 64-bit
// integers (protojson writes them as strings): every number becomes its decimal string.
func normJSON(t *testing.T, b []byte) any {
	t.Helper()
	v := decodeNorm(b)
	require.NotNil(t, v, "valid JSON: %s", b)
	return v
}

// decodeNorm is normJSON's work: nil if b is not JSON.
func decodeNorm(b []byte) any {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if dec.Decode(&v) != nil {
		return nil
	}
	return norm(v)
}

func norm(v any) any {
	switch x := v.(type) {
	case json.Number:
		return x.String()
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			out = append(out, norm(e))
		}
		return out
	case map[string]any:
		out := map[string]any{}
		for k, e := range x {
			if e = norm(e); !isZero(e) {
				out[k] = e
			}
		}
		return out
	default:
		return v
	}
}

func isZero(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == "" || x == "0"
	case bool:
		return !x
	case []any:
		return len(x) == 0
	case map[string]any:
		return false // an empty object (an absent policy is null, dropped as nil)
	}
	return false
}

func equalJSON(a, b any) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// flattenRouteHints turns the gRPC form of route hints ([{"hops": [...]}]) into JSON-RPC's ([[...]]).
func flattenRouteHints(v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	hints, _ := m["route_hints"].([]any)
	for i, h := range hints {
		hm, _ := h.(map[string]any)
		hints[i] = hm["hops"]
	}
	return m
}

func isHex(s string, n int) bool {
	b, err := hex.DecodeString(s)
	return err == nil && len(b) == n
}

type rpcCall = func(context.Context) (proto.Message, error)

// TestGRPCMatchesJSONRPC calls every method of two real nodes over JSON-RPC and over gRPC with the
// same params and requires the same answers (results field by field, errors by code and message),
// the same events for a payment on both streams, and refuses gRPC calls without the cookie. Fields
// that differ between two calls by nature (a new address, a new invoice or payment) are checked for
// shape instead. Stop comes last.
func TestGRPCMatchesJSONRPC(t *testing.T) {
	btcd := newFakeBtcd(t)
	a, b := startPair(t, btcd, 1_000_000, "-grpclisten", "127.0.0.1:0")
	fundNode(t, btcd, a, 1_000_000)
	pa, pb := dialAPIs(t, a), dialAPIs(t, b)
	idA, idB := nodeIDHex(a.nodeID), nodeIDHex(b.nodeID)

	compareNodeMethods(t, pa, idB, b.listenAddr())
	compareGraphMethods(t, pa, a, idB)
	comparePayments(t, pa, pb, idB)
	compareChannelMethods(t, pa, idA, idB, btcd)
	compareInvalidParams(t, pa, idB)
	checkGRPCAuth(t, pa)

	for _, p := range []*apiPair{pa, pb} {
		p.same(t, nodeapi.MethodStop, nil, func(ctx context.Context) (proto.Message, error) {
			return p.grpc.Stop(ctx, &lnkitrpc.StopRequest{})
		})
	}
	var called []string
	for _, p := range []*apiPair{pa, pb} {
		for m := range p.called {
			called = append(called, m)
		}
	}
	sort.Strings(called)
	require.Equal(t, nodeapi.MethodNames(), slicesCompact(called), "every method was compared")
}

func slicesCompact(s []string) []string {
	var out []string
	for i, v := range s {
		if i == 0 || v != s[i-1] {
			out = append(out, v)
		}
	}
	return out
}

// compareNodeMethods: getinfo, connect, listpeers, walletbalance, listbalances, listchannels,
// newaddress (shape), forwardinghistory, sendcustommessage.
func compareNodeMethods(t *testing.T, p *apiPair, idB, addrB string) {
	g := p.grpc
	info := p.same(t, nodeapi.MethodGetInfo, nil, func(ctx context.Context) (proto.Message, error) {
		return g.GetInfo(ctx, &lnkitrpc.GetInfoRequest{})
	}).(map[string]any)
	require.Equal(t, "regtest", info["network"])
	connect := nodeapi.ConnectParams{NodeID: idB, Address: addrB}
	require.Equal(t, map[string]any{"node_id": idB}, p.same(t, nodeapi.MethodConnect, connect, func(ctx context.Context) (proto.Message, error) {
		return g.Connect(ctx, &lnkitrpc.ConnectRequest{NodeId: idB, Address: addrB})
	}))
	peers := p.same(t, nodeapi.MethodListPeers, nil, func(ctx context.Context) (proto.Message, error) {
		return g.ListPeers(ctx, &lnkitrpc.ListPeersRequest{})
	}).(map[string]any)
	require.Len(t, peers["peers"], 1)
	bal := p.same(t, nodeapi.MethodWalletBalance, nil, func(ctx context.Context) (proto.Message, error) {
		return g.WalletBalance(ctx, &lnkitrpc.WalletBalanceRequest{})
	}).(map[string]any)
	require.NotEmpty(t, bal["confirmed_sat"])
	p.same(t, nodeapi.MethodListBalances, nil, func(ctx context.Context) (proto.Message, error) {
		return g.ListBalances(ctx, &lnkitrpc.ListBalancesRequest{})
	})
	chans := p.same(t, nodeapi.MethodListChannels, nil, func(ctx context.Context) (proto.Message, error) {
		return g.ListChannels(ctx, &lnkitrpc.ListChannelsRequest{})
	}).(map[string]any)
	require.Len(t, chans["channels"], 1)
	p.same(t, nodeapi.MethodForwardingHistory, nodeapi.ForwardingHistoryParams{Limit: 10}, func(ctx context.Context) (proto.Message, error) {
		return g.ForwardingHistory(ctx, &lnkitrpc.ForwardingHistoryRequest{Limit: 10})
	})
	// A new address each call: both are regtest addresses, and different.
	j, gr := p.sameExcept(t, nodeapi.MethodNewAddress, nil, func(ctx context.Context) (proto.Message, error) {
		return g.NewAddress(ctx, &lnkitrpc.NewAddressRequest{})
	}, "address")
	for _, m := range []map[string]any{j, gr} {
		_, err := btcutil.DecodeAddress(m["address"].(string), &chaincfg.RegressionNetParams)
		require.NoError(t, err)
	}
	require.NotEqual(t, j["address"], gr["address"])
	// A custom message to the peer: both APIs queue it (TestGRPCCustomMessages follows it to the peer).
	cm := nodeapi.SendCustomMessageParams{Peer: idB, Type: 32769, Data: "0102"}
	p.same(t, nodeapi.MethodSendCustomMessage, cm, func(ctx context.Context) (proto.Message, error) {
		return g.SendCustomMessage(ctx, &lnkitrpc.SendCustomMessageRequest{Peer: idB, Type: 32769, Data: "0102"})
	})
}

// compareGraphMethods: describegraph and getnodeinfo over a graph of three nodes added to n's (two
// channels, one policy disabled, one missing, one node unannounced), getnodeinfo of b (the pair's
// channel is private: b is unknown, and both APIs give the same error), queryroutes.
func compareGraphMethods(t *testing.T, p *apiPair, n *Node, idB string) {
	g := p.grpc
	ids := [3][33]byte{testID(1), testID(2), testID(3)}
	now := uint32(time.Now().Unix())
	addChannel(t, n.routing.graph, testChannel{scid: scid(700, 3, 1), a: ids[0], b: ids[1], capSat: 1_000_000,
		aPol: policy(1000, 100, 80, now), bPol: &router.ChannelPolicy{Timestamp: now, Disabled: true,
			FeeProportionalMillionths: 2500, CLTVExpiryDelta: 40, HTLCMinimumMsat: 1, HTLCMaximumMsat: 1_000_000_000}})
	addChannel(t, n.routing.graph, testChannel{scid: scid(600, 1, 0), a: ids[1], b: ids[2], capSat: 1_500_000,
		aPol: policy(0, 1, 18, now)})
	announceNode(t, n.routing.graph, ids[0], "alice", now)
	announceNode(t, n.routing.graph, ids[1], "bob", now)

	graph := p.same(t, nodeapi.MethodDescribeGraph, nil, func(ctx context.Context) (proto.Message, error) {
		return g.DescribeGraph(ctx, &lnkitrpc.DescribeGraphRequest{})
	}).(map[string]any)
	require.Len(t, graph["nodes"], 3)
	require.Len(t, graph["channels"], 2)
	for _, id := range []string{hex.EncodeToString(ids[1][:]), hex.EncodeToString(ids[2][:])} {
		info := p.same(t, nodeapi.MethodGetNodeInfo, nodeapi.GetNodeInfoParams{NodeID: id}, func(ctx context.Context) (proto.Message, error) {
			return g.GetNodeInfo(ctx, &lnkitrpc.GetNodeInfoRequest{NodeId: id})
		}).(map[string]any)
		require.NotEmpty(t, info["channels"], "%v", info)
	}
	p.same(t, nodeapi.MethodGetNodeInfo, nodeapi.GetNodeInfoParams{NodeID: idB}, func(ctx context.Context) (proto.Message, error) {
		return g.GetNodeInfo(ctx, &lnkitrpc.GetNodeInfoRequest{NodeId: idB})
	})
	fee := uint64(10)
	routes := p.same(t, nodeapi.MethodQueryRoutes, nodeapi.QueryRoutesParams{NodeID: idB, AmountSat: 1000, FeeLimitSat: &fee},
		func(ctx context.Context) (proto.Message, error) {
			return g.QueryRoutes(ctx, &lnkitrpc.QueryRoutesRequest{NodeId: idB, AmountSat: 1000, FeeLimitSat: &fee})
		}).(map[string]any)
	require.Len(t, routes["paths"], 1, "a route over the pair's channel")
}

// eventLog collects a node's events from its two streams.
type eventLog struct {
	mu         sync.Mutex
	sse, grpcs []any // normalised events
}

func (l *eventLog) withHash(hash string) (sse, grpcs []any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	pick := func(evs []any) []any {
		var out []any
		for _, e := range evs {
			if e.(map[string]any)["payment_hash"] == hash {
				out = append(out, e)
			}
		}
		return out
	}
	return pick(l.sse), pick(l.grpcs)
}

// subscribeBoth subscribes to p's node's events over SSE and over gRPC; both are in place on return.
func subscribeBoth(t *testing.T, ctx context.Context, p *apiPair) *eventLog {
	l := &eventLog{}
	sse, err := p.json.Events(ctx)
	require.NoError(t, err)
	stream, err := p.grpc.SubscribeEvents(ctx, &lnkitrpc.SubscribeEventsRequest{})
	require.NoError(t, err)
	_, err = stream.Header() // sent once the subscription is in place
	require.NoError(t, err)
	go func() {
		for e := range sse {
			b, _ := json.Marshal(e)
			l.mu.Lock()
			l.sse = append(l.sse, decodeNorm(b))
			l.mu.Unlock()
		}
	}()
	go func() {
		for {
			e, err := stream.Recv()
			if err != nil {
				return
			}
			b, _ := protojson.MarshalOptions{UseProtoNames: true}.Marshal(e)
			l.mu.Lock()
			l.grpcs = append(l.grpcs, decodeNorm(b))
			l.mu.Unlock()
		}
	}()
	return l
}

// sameEvents waits until both streams of l have an event of type want for hash, then requires the
// two streams' events for hash to be identical.
func sameEvents(t *testing.T, l *eventLog, hash, want string) {
	t.Helper()
	has := func(evs []any) bool {
		for _, e := range evs {
			if e.(map[string]any)["type"] == want {
				return true
			}
		}
		return false
	}
	require.Eventually(t, func() bool {
		sse, grpcs := l.withHash(hash)
		return has(sse) && has(grpcs)
	}, 20*time.Second, 10*time.Millisecond, "both streams see %s", want)
	time.Sleep(200 * time.Millisecond) // anything the node sends after it
	sse, grpcs := l.withHash(hash)
	require.Equal(t, sse, grpcs, "the event streams differ for %s", hash)
}

var paymentIgnored = []string{"payment_id", "payment_hash", "preimage", "created_at"}

// checkPaid: p is a succeeded payment whose preimage hashes to its payment hash.
func checkPaid(t *testing.T, p map[string]any) {
	t.Helper()
	require.Equal(t, nodeapi.StatusSucceeded, p["status"], "%v", p)
	pre, err := hex.DecodeString(p["preimage"].(string))
	require.NoError(t, err)
	h := sha256.Sum256(pre)
	require.Equal(t, p["payment_hash"], hex.EncodeToString(h[:]))
}

// comparePayments: invoice, decodeinvoice, payinvoice, keysend, sendpayment, listpayments,
// listinvoices, and the event streams of the payer and the payee.
func comparePayments(t *testing.T, pa, pb *apiPair, idB string) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	evA, evB := subscribeBoth(t, ctx, pa), subscribeBoth(t, ctx, pb)

	invParams := nodeapi.InvoiceParams{AmountMsat: 50_000, Description: "grpc test", ExpirySecs: 600}
	invJ, invG := pb.sameExcept(t, nodeapi.MethodInvoice, invParams, func(ctx context.Context) (proto.Message, error) {
		return pb.grpc.Invoice(ctx, &lnkitrpc.InvoiceRequest{AmountMsat: 50_000, Description: "grpc test", ExpirySecs: 600})
	}, "bolt11", "payment_hash", "expires_at")
	for _, inv := range []map[string]any{invJ, invG} {
		require.True(t, strings.HasPrefix(inv["bolt11"].(string), "lnbcrt"), inv)
		require.True(t, isHex(inv["payment_hash"].(string), 32), inv)
	}
	require.NotEqual(t, invJ["payment_hash"], invG["payment_hash"])

	for _, inv := range []map[string]any{invJ, invG} {
		bolt11 := inv["bolt11"].(string)
		j, g := pa.callBoth(t, nodeapi.MethodDecodeInvoice, nodeapi.DecodeInvoiceParams{Bolt11: bolt11},
			func(ctx context.Context) (proto.Message, error) {
				return pa.grpc.DecodeInvoice(ctx, &lnkitrpc.DecodeInvoiceRequest{Bolt11: bolt11})
			})
		require.Equal(t, j, flattenRouteHints(g))
		require.Equal(t, inv["payment_hash"], j.(map[string]any)["payment_hash"])
		require.Equal(t, "grpc test", j.(map[string]any)["description"])
	}

	payJ, payG := pa.sameExcept(t, nodeapi.MethodPayInvoice, nodeapi.PayInvoiceParams{Bolt11: invJ["bolt11"].(string)},
		func(ctx context.Context) (proto.Message, error) {
			return pa.grpc.PayInvoice(ctx, &lnkitrpc.PayInvoiceRequest{Bolt11: invG["bolt11"].(string)})
		}, paymentIgnored...)
	checkPaid(t, payJ)
	checkPaid(t, payG)
	for _, inv := range []map[string]any{invJ, invG} {
		hash := inv["payment_hash"].(string)
		sameEvents(t, evA, hash, "payment_sent")
		sameEvents(t, evB, hash, "payment_received")
	}

	ksJ, ksG := pa.sameExcept(t, nodeapi.MethodKeysend, nodeapi.KeysendParams{NodeID: idB, AmountMsat: 20_000},
		func(ctx context.Context) (proto.Message, error) {
			return pa.grpc.Keysend(ctx, &lnkitrpc.KeysendRequest{NodeId: idB, AmountMsat: 20_000})
		}, paymentIgnored...)
	checkPaid(t, ksJ)
	checkPaid(t, ksG)

	// sendpayment: each API pays a new invoice's hash and secret.
	var sp [2]nodeapi.SendPaymentParams
	for i := range sp {
		inv, err := pb.json.Invoice(ctx, nodeapi.InvoiceParams{AmountMsat: 30_000})
		require.NoError(t, err)
		dec, err := pa.json.DecodeInvoice(ctx, nodeapi.DecodeInvoiceParams{Bolt11: inv.Bolt11})
		require.NoError(t, err)
		sp[i] = nodeapi.SendPaymentParams{NodeID: idB, AmountMsat: 30_000, PaymentHash: dec.PaymentHash,
			PaymentSecret: dec.PaymentSecret, FinalCLTVDelta: uint32(dec.MinFinalCLTVExpiryDelta) + 3}
	}
	spJ, spG := pa.sameExcept(t, nodeapi.MethodSendPayment, sp[0], func(ctx context.Context) (proto.Message, error) {
		return pa.grpc.SendPayment(ctx, &lnkitrpc.SendPaymentRequest{NodeId: idB, AmountMsat: 30_000,
			PaymentHash: sp[1].PaymentHash, PaymentSecret: sp[1].PaymentSecret, FinalCltvDelta: sp[1].FinalCLTVDelta})
	}, paymentIgnored...)
	checkPaid(t, spJ)
	checkPaid(t, spG)
	require.Equal(t, sp[1].PaymentHash, spG["payment_hash"])

	pays := pa.same(t, nodeapi.MethodListPayments, nil, func(ctx context.Context) (proto.Message, error) {
		return pa.grpc.ListPayments(ctx, &lnkitrpc.ListPaymentsRequest{})
	}).(map[string]any)
	require.Len(t, pays["payments"], 6)
	invs := pb.same(t, nodeapi.MethodListInvoices, nil, func(ctx context.Context) (proto.Message, error) {
		return pb.grpc.ListInvoices(ctx, &lnkitrpc.ListInvoicesRequest{})
	}).(map[string]any)
	require.Len(t, invs["invoices"], 6, "4 invoices and 2 keysend receipts")
}

// compareChannelMethods: updatechanpolicy, then openchannel and closechannel (a channel per API:
// ids and txids differ, checked for shape), then listchannels and listbalances again.
func compareChannelMethods(t *testing.T, p *apiPair, idA, idB string, btcd *fakeBtcd) {
	g := p.grpc
	base, ppm := uint32(1500), uint32(200)
	upd := p.same(t, nodeapi.MethodUpdateChanPolicy, nodeapi.UpdateChanPolicyParams{BaseFeeMsat: &base, FeeRatePPM: &ppm},
		func(ctx context.Context) (proto.Message, error) {
			return g.UpdateChanPolicy(ctx, &lnkitrpc.UpdateChanPolicyRequest{BaseFeeMsat: &base, FeeRatePpm: &ppm})
		}).(map[string]any)
	require.Len(t, upd["updated"], 1)
	require.Equal(t, "1500", upd["updated"].([]any)[0].(map[string]any)["base_fee_msat"])

	open := nodeapi.OpenChannelParams{NodeID: idB, AmountSat: 200_000}
	openJ, openG := p.sameExcept(t, nodeapi.MethodOpenChannel, open, func(ctx context.Context) (proto.Message, error) {
		return g.OpenChannel(ctx, &lnkitrpc.OpenChannelRequest{NodeId: idB, AmountSat: 200_000})
	}, "temporary_channel_id", "channel_id", "funding_txid", "funding_output_index")
	for _, o := range []map[string]any{openJ, openG} {
		require.True(t, isHex(o["temporary_channel_id"].(string), 32), o)
		require.True(t, isHex(o["channel_id"].(string), 32), o)
		require.True(t, isHex(o["funding_txid"].(string), 32), o)
	}
	require.NotEqual(t, openJ["channel_id"], openG["channel_id"])
	p.same(t, nodeapi.MethodListChannels, nil, func(ctx context.Context) (proto.Message, error) {
		return g.ListChannels(ctx, &lnkitrpc.ListChannelsRequest{})
	})

	closeJ, closeG := p.sameExcept(t, nodeapi.MethodCloseChannel, nodeapi.CloseChannelParams{ChannelID: openJ["channel_id"].(string), Force: true},
		func(ctx context.Context) (proto.Message, error) {
			return g.CloseChannel(ctx, &lnkitrpc.CloseChannelRequest{ChannelId: openG["channel_id"].(string), Force: true})
		}, "closing_txid")
	for _, c := range []map[string]any{closeJ, closeG} {
		if txid, ok := c["closing_txid"].(string); ok {
			require.True(t, isHex(txid, 32), c)
		}
	}
	require.Equal(t, closeJ["closing_txid"] == nil, closeG["closing_txid"] == nil, "both broadcast during the call or neither")
	btcd.mineMempool()
	p.same(t, nodeapi.MethodListBalances, nil, func(ctx context.Context) (proto.Message, error) {
		return g.ListBalances(ctx, &lnkitrpc.ListBalancesRequest{})
	})
	p.same(t, nodeapi.MethodWalletBalance, nil, func(ctx context.Context) (proto.Message, error) {
		return g.WalletBalance(ctx, &lnkitrpc.WalletBalanceRequest{})
	})
	_ = idA
}

// compareInvalidParams: requests the node refuses get the same code and message over both APIs.
func compareInvalidParams(t *testing.T, p *apiPair, idB string) {
	g := p.grpc
	zero := uint64(0)
	cases := []struct {
		method string
		params any
		call   rpcCall
	}{
		{nodeapi.MethodConnect, nodeapi.ConnectParams{NodeID: "zz", Address: "127.0.0.1:1"}, func(ctx context.Context) (proto.Message, error) {
			return g.Connect(ctx, &lnkitrpc.ConnectRequest{NodeId: "zz", Address: "127.0.0.1:1"})
		}},
		{nodeapi.MethodOpenChannel, nodeapi.OpenChannelParams{NodeID: idB}, func(ctx context.Context) (proto.Message, error) {
			return g.OpenChannel(ctx, &lnkitrpc.OpenChannelRequest{NodeId: idB})
		}},
		{nodeapi.MethodCloseChannel, nodeapi.CloseChannelParams{ChannelID: "nothex"}, func(ctx context.Context) (proto.Message, error) {
			return g.CloseChannel(ctx, &lnkitrpc.CloseChannelRequest{ChannelId: "nothex"})
		}},
		{nodeapi.MethodDecodeInvoice, nodeapi.DecodeInvoiceParams{Bolt11: "lnbcrt1garbage"}, func(ctx context.Context) (proto.Message, error) {
			return g.DecodeInvoice(ctx, &lnkitrpc.DecodeInvoiceRequest{Bolt11: "lnbcrt1garbage"})
		}},
		{nodeapi.MethodPayInvoice, nodeapi.PayInvoiceParams{Bolt11: "garbage"}, func(ctx context.Context) (proto.Message, error) {
			return g.PayInvoice(ctx, &lnkitrpc.PayInvoiceRequest{Bolt11: "garbage"})
		}},
		{nodeapi.MethodKeysend, nodeapi.KeysendParams{NodeID: idB, FeeLimitSat: &zero}, func(ctx context.Context) (proto.Message, error) {
			return g.Keysend(ctx, &lnkitrpc.KeysendRequest{NodeId: idB, FeeLimitSat: &zero})
		}},
		{nodeapi.MethodSendPayment, nodeapi.SendPaymentParams{NodeID: idB, AmountMsat: 1000, PaymentHash: "ab"}, func(ctx context.Context) (proto.Message, error) {
			return g.SendPayment(ctx, &lnkitrpc.SendPaymentRequest{NodeId: idB, AmountMsat: 1000, PaymentHash: "ab"})
		}},
		{nodeapi.MethodGetNodeInfo, nodeapi.GetNodeInfoParams{NodeID: "00"}, func(ctx context.Context) (proto.Message, error) {
			return g.GetNodeInfo(ctx, &lnkitrpc.GetNodeInfoRequest{NodeId: "00"})
		}},
		{nodeapi.MethodQueryRoutes, nodeapi.QueryRoutesParams{NodeID: idB}, func(ctx context.Context) (proto.Message, error) {
			return g.QueryRoutes(ctx, &lnkitrpc.QueryRoutesRequest{NodeId: idB})
		}},
		{nodeapi.MethodUpdateChanPolicy, nodeapi.UpdateChanPolicyParams{}, func(ctx context.Context) (proto.Message, error) {
			return g.UpdateChanPolicy(ctx, &lnkitrpc.UpdateChanPolicyRequest{})
		}},
		{nodeapi.MethodSendCustomMessage, nodeapi.SendCustomMessageParams{Peer: "zz", Type: 1}, func(ctx context.Context) (proto.Message, error) {
			return g.SendCustomMessage(ctx, &lnkitrpc.SendCustomMessageRequest{Peer: "zz", Type: 1})
		}},
	}
	for _, c := range cases {
		j, gr := p.callBoth(t, c.method, c.params, c.call)
		require.Equal(t, j, gr, c.method)
		require.Contains(t, j, "error_code", "%s: refused", c.method)
	}
	// The rule of nodeapi's doc: invalid params are InvalidArgument with the same message.
	j, _ := p.callBoth(t, cases[len(cases)-2].method, cases[len(cases)-2].params, cases[len(cases)-2].call)
	require.Equal(t, codes.InvalidArgument.String(), j.(map[string]any)["error_code"])

	// 16-bit fields travel as uint32 over gRPC: a value beyond 16 bits is invalid there as in JSON.
	big := uint32(70_000)
	_, err := g.UpdateChanPolicy(context.Background(), &lnkitrpc.UpdateChanPolicyRequest{TimeLockDelta: &big})
	require.Equal(t, codes.InvalidArgument, status.Code(err), "%v", err)
	var rpcErr *nodeapi.Error
	err = p.json.Call(context.Background(), nodeapi.MethodUpdateChanPolicy, map[string]any{"time_lock_delta": 70_000}, nil)
	require.ErrorAs(t, err, &rpcErr)
	require.Equal(t, nodeapi.CodeInvalidParams, rpcErr.Code)
}

// checkGRPCAuth: without the cookie, with a wrong one or a wrong Basic user, gRPC calls and the
// event stream are Unauthenticated; Basic "__cookie__:<token>" is accepted as Bearer is.
func checkGRPCAuth(t *testing.T, p *apiPair) {
	ctx := context.Background()
	dial := func(opts ...grpc.DialOption) lnkitrpc.NodeClient {
		conn, err := grpc.NewClient(p.gaddr, append(opts, grpc.WithTransportCredentials(insecure.NewCredentials()))...)
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		return lnkitrpc.NewNodeClient(conn)
	}
	basic := func(user, pass string) context.Context {
		return metadata.AppendToOutgoingContext(ctx, grpcapi.AuthMetadataKey,
			"Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	}
	none := dial()
	_, err := none.GetInfo(ctx, &lnkitrpc.GetInfoRequest{})
	require.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
	_, err = dial(grpc.WithPerRPCCredentials(grpcapi.Bearer(p.token+"0"))).GetInfo(ctx, &lnkitrpc.GetInfoRequest{})
	require.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
	_, err = dial(grpc.WithPerRPCCredentials(grpcapi.Bearer(""))).Stop(ctx, &lnkitrpc.StopRequest{})
	require.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
	_, err = none.GetInfo(basic("someone", p.token), &lnkitrpc.GetInfoRequest{})
	require.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
	info, err := none.GetInfo(basic(nodeapi.CookieUser, p.token), &lnkitrpc.GetInfoRequest{})
	require.NoError(t, err)
	require.Equal(t, "regtest", info.GetNetwork())
	stream, err := none.SubscribeEvents(ctx, &lnkitrpc.SubscribeEventsRequest{})
	if err == nil {
		_, err = stream.Recv()
	}
	require.Equal(t, codes.Unauthenticated, status.Code(err), "%v", err)
}

// TestGRPCStopsAndStartsWithControlAPI: the gRPC API runs with the control API: stopping the rpc
// component closes it (calls fail Unavailable, the event stream ends), starting it again serves on
// the same address with the new cookie (the old token refused).
func TestGRPCStopsAndStartsWithControlAPI(t *testing.T) {
	btcd := newFakeBtcd(t)
	n := startTestNode(t, testNodeConfig(t, btcd, "-grpclisten", "127.0.0.1:0"), nil)
	p := dialAPIs(t, n)
	ctx := context.Background()
	_, err := p.grpc.GetInfo(ctx, &lnkitrpc.GetInfoRequest{})
	require.NoError(t, err)
	stream, err := p.grpc.SubscribeEvents(ctx, &lnkitrpc.SubscribeEventsRequest{})
	require.NoError(t, err)
	_, err = stream.Header()
	require.NoError(t, err)

	require.NoError(t, n.sup.Stop(ctx, compRPC))
	_, err = stream.Recv()
	require.Error(t, err, "the event stream ends")
	_, err = p.grpc.GetInfo(ctx, &lnkitrpc.GetInfoRequest{})
	require.Equal(t, codes.Unavailable, status.Code(err), "%v", err)

	require.NoError(t, n.sup.Start(ctx, compRPC))
	require.Equal(t, p.gaddr, grpcAddrOf(n), "the same address")
	// The old connection redials after a backoff: then the old cookie is refused.
	require.Eventually(t, func() bool {
		_, err = p.grpc.GetInfo(ctx, &lnkitrpc.GetInfoRequest{})
		return status.Code(err) != codes.Unavailable
	}, 20*time.Second, 50*time.Millisecond)
	require.Equal(t, codes.Unauthenticated, status.Code(err), "the old cookie is refused: %v", err)
	fresh := dialAPIs(t, n)
	require.NotEqual(t, p.token, fresh.token)
	info, err := fresh.grpc.GetInfo(ctx, &lnkitrpc.GetInfoRequest{})
	require.NoError(t, err)
	require.Equal(t, nodeIDHex(n.nodeID), info.GetNodeId())
}

// Custom messages over gRPC: SendCustomMessage over gRPC reaches the peer, whose gRPC and SSE event
// streams both carry the custom_message (type and payload), and the echo's reply reaches the sender's.
func TestGRPCCustomMessages(t *testing.T) {
	btcd := newFakeBtcd(t)
	a, b := connectedPair(t, btcd, "-grpclisten", "127.0.0.1:0")
	pa, pb := dialAPIs(t, a), dialAPIs(t, b)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	la, lb := subscribeBoth(t, ctx, pa), subscribeBoth(t, ctx, pb)
	idA, idB := nodeIDHex(a.nodeID), nodeIDHex(b.nodeID)
	_, err := pa.grpc.SendCustomMessage(ctx, &lnkitrpc.SendCustomMessageRequest{Peer: idB, Type: 32769, Data: "c0ffee"})
	require.NoError(t, err)
	custom := func(l *eventLog, from, typ string) func() bool {
		return func() bool {
			l.mu.Lock()
			defer l.mu.Unlock()
			want := map[string]any{"type": "custom_message", "node_id": from, "msg_type": typ, "data": "c0ffee"}
			in := func(evs []any) bool {
				for _, e := range evs {
					if equalJSON(want, e) {
						return true
					}
				}
				return false
			}
			return in(l.sse) && in(l.grpcs)
		}
	}
	require.Eventually(t, custom(lb, idA, "32769"), 10*time.Second, 10*time.Millisecond, "b's streams carry the request")
	require.Eventually(t, custom(la, idB, "32771"), 10*time.Second, 10*time.Millisecond, "a's streams carry the echo")
}
