package nodeapi

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

const testToken = "5f1d0c8e7a9b3c2d4e6f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5"

// fakeService is a Service with canned results. It records the params of every call; hooks
// replace a method's behaviour (keyed by method name).
type fakeService struct {
	hooks map[string]func(ctx context.Context, params any) (any, error)

	mu     sync.Mutex
	calls  []fakeCall
	subs   map[int]chan Event
	nextID int

	canceled atomic.Int64 // SubscribeEvents cancel functions called
	stopped  atomic.Bool
}

type fakeCall struct {
	Method string
	Params any
}

func newFake() *fakeService {
	return &fakeService{hooks: map[string]func(context.Context, any) (any, error){}, subs: map[int]chan Event{}}
}

// Canned results, fully populated so a missing or misnamed JSON tag shows up in round trips.
var (
	fakeInfo = &GetInfoResult{
		NodeID:            "02" + hex32('a'),
		Network:           "regtest",
		BlockHeight:       812,
		BlockHash:         hex32('b'),
		SyncedToChain:     true,
		NumPeers:          2,
		NumChannels:       3,
		NumUsableChannels: 1,
		ListenAddrs:       []string{"127.0.0.1:9735", "[::1]:9735"},
		Version:           "lnkit-test",
		Gossip: GossipInfo{Enabled: true, Synced: true, NumNodes: 2, NumChannels: 1, ChannelAnnouncements: 4,
			ChannelUpdates: 5, NodeAnnouncements: 6},
	}
	fakePeers = &ListPeersResult{Peers: []Peer{
		{NodeID: "03" + hex32('c'), Address: "127.0.0.1:40000", Inbound: true, Features: "0a8a"},
		{NodeID: "02" + hex32('d'), Address: "10.0.0.2:9735", Inbound: false, Features: ""},
	}}
	fakeAddress = &NewAddressResult{Address: "bcrt1qw508d6qejxtdg4y5r3zarvary0c5xw7kygt080"}
	fakeBalance = &WalletBalanceResult{ConfirmedSat: 100000, UnconfirmedSat: -2, TotalSat: 99998, OnchainClaimableSat: 3,
		ClaimableSat: 7}
	fakeBalances = &ListBalancesResult{TotalSat: 1_500_000, Channels: []ChannelBalances{{
		ChannelID: hex32('2'), FundingTxid: hex32('3'), FundingVout: 1, Open: false, TotalSat: 1_500_000,
		Balances: []ClaimableBalance{
			{Type: BalanceAwaitingConfirmations, AmountSat: 900_000, ConfirmationHeight: 820},
			{Type: BalanceContentious, AmountSat: 100_000, TimeoutHeight: 850, PaymentHash: hex32('4')},
			{Type: BalanceMaybeTimeout, AmountSat: 200_000, ClaimableHeight: 851, PaymentHash: hex32('5')},
			{Type: BalanceMaybePreimage, AmountSat: 300_000, ExpiryHeight: 852, PaymentHash: hex32('6')},
		},
	}}}
	fakeOpen = &OpenChannelResult{
		TemporaryChannelID: hex32('1'), ChannelID: hex32('2'), FundingTxid: hex32('3'), FundingVout: 1,
	}
	fakeChannels = &ListChannelsResult{Channels: []Channel{{
		ChannelID: hex32('2'), ShortChannelID: "812x1x0", NodeID: "03" + hex32('c'), FundingTxid: hex32('3'),
		FundingVout: 1, CapacitySat: 1_000_000, LocalBalanceMsat: 900_000_000, OutboundCapacityMsat: 890_000_000,
		InboundCapacityMsat: 90_000_000, IsOutbound: true, IsChannelReady: true, IsUsable: true, State: "normal",
		ChannelType: "static_remotekey", FeeratePerKw: 253, PendingHTLCs: 4, Public: true, Announced: true,
		FeeBaseMsat: 1000, FeeRatePPM: 250, TimeLockDelta: 72,
	}}}
	fakeInvoice = &InvoiceResult{Bolt11: "lnbcrt1pfake", PaymentHash: hex32('4'), ExpiresAt: 1_700_003_600}
	fakeDecoded = &DecodeInvoiceResult{
		Network: "regtest", AmountMsat: 5000, Timestamp: 1_700_000_000, PaymentHash: hex32('4'),
		PaymentSecret: hex32('5'), Description: "coffee", DescriptionHash: hex32('6'), ExpirySecs: 3600,
		MinFinalCLTVExpiryDelta: 18, Payee: "02" + hex32('a'), Features: "024100",
		FallbackAddresses: []string{"bcrt1qfallback"},
		RouteHints: [][]RouteHintHop{{{NodeID: "02" + hex32('e'), ShortChannelID: "1x2x3", FeeBaseMsat: 1000,
			FeeProportionalMillionths: 100, CLTVExpiryDelta: 40}}},
	}
	fakePayment = &Payment{
		PaymentID: hex32('7'), PaymentHash: hex32('4'), Destination: "02" + hex32('a'), AmountMsat: 5000,
		FeeMsat: 1, Status: StatusFailed, Preimage: hex32('8'), FailureCode: 0x400f,
		FailureReason: "incorrect_or_unknown_payment_details", CreatedAt: 1_700_000_001,
	}
	fakePayments = &ListPaymentsResult{Payments: []Payment{*fakePayment}}
	fakeInvoices = &ListInvoicesResult{Invoices: []Invoice{
		{PaymentHash: hex32('4'), Bolt11: "lnbcrt1pfake", AmountMsat: 5000, ReceivedMsat: 5000, Status: InvoicePaid,
			CreatedAt: 1_700_000_000, PaidAt: 1_700_000_002},
		{PaymentHash: hex32('9'), AmountMsat: 0, ReceivedMsat: 777, Status: InvoicePaid, Keysend: true,
			CreatedAt: 1_700_000_003, PaidAt: 1_700_000_003},
	}}
)

func hex32(c byte) string {
	b := make([]byte, 64)
	for i := range b {
		b[i] = c
	}
	return string(b)
}

// do records a call and runs its hook, or returns def.
func do[R any](ctx context.Context, f *fakeService, method string, params any, def *R) (*R, error) {
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{method, params})
	hook := f.hooks[method]
	f.mu.Unlock()
	if hook == nil {
		return def, nil
	}
	v, err := hook(ctx, params)
	if v == nil {
		return nil, err
	}
	return v.(*R), err
}

func (f *fakeService) lastCall() (fakeCall, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.calls) == 0 {
		return fakeCall{}, false
	}
	return f.calls[len(f.calls)-1], true
}

func (f *fakeService) numCalls() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.calls)
}

func (f *fakeService) GetInfo(ctx context.Context) (*GetInfoResult, error) {
	return do(ctx, f, MethodGetInfo, nil, fakeInfo)
}
func (f *fakeService) Connect(ctx context.Context, p ConnectParams) (*ConnectResult, error) {
	if p.NodeID == "" {
		return nil, fmt.Errorf("%w: node_id is required", ErrInvalidParams)
	}
	return do(ctx, f, MethodConnect, p, &ConnectResult{NodeID: p.NodeID})
}
func (f *fakeService) ListPeers(ctx context.Context) (*ListPeersResult, error) {
	return do(ctx, f, MethodListPeers, nil, fakePeers)
}
func (f *fakeService) NewAddress(ctx context.Context) (*NewAddressResult, error) {
	return do(ctx, f, MethodNewAddress, nil, fakeAddress)
}
func (f *fakeService) WalletBalance(ctx context.Context) (*WalletBalanceResult, error) {
	return do(ctx, f, MethodWalletBalance, nil, fakeBalance)
}
func (f *fakeService) ListBalances(ctx context.Context) (*ListBalancesResult, error) {
	return do(ctx, f, MethodListBalances, nil, fakeBalances)
}
func (f *fakeService) OpenChannel(ctx context.Context, p OpenChannelParams) (*OpenChannelResult, error) {
	return do(ctx, f, MethodOpenChannel, p, fakeOpen)
}
func (f *fakeService) ListChannels(ctx context.Context) (*ListChannelsResult, error) {
	return do(ctx, f, MethodListChannels, nil, fakeChannels)
}
func (f *fakeService) CloseChannel(ctx context.Context, p CloseChannelParams) (*CloseChannelResult, error) {
	return do(ctx, f, MethodCloseChannel, p, &CloseChannelResult{})
}
func (f *fakeService) Invoice(ctx context.Context, p InvoiceParams) (*InvoiceResult, error) {
	return do(ctx, f, MethodInvoice, p, fakeInvoice)
}
func (f *fakeService) DecodeInvoice(ctx context.Context, p DecodeInvoiceParams) (*DecodeInvoiceResult, error) {
	return do(ctx, f, MethodDecodeInvoice, p, fakeDecoded)
}
func (f *fakeService) PayInvoice(ctx context.Context, p PayInvoiceParams) (*Payment, error) {
	return do(ctx, f, MethodPayInvoice, p, fakePayment)
}
func (f *fakeService) SendPayment(ctx context.Context, p SendPaymentParams) (*Payment, error) {
	return do(ctx, f, MethodSendPayment, p, fakePayment)
}

func (f *fakeService) Keysend(ctx context.Context, p KeysendParams) (*Payment, error) {
	return do(ctx, f, MethodKeysend, p, fakePayment)
}
func (f *fakeService) ListPayments(ctx context.Context) (*ListPaymentsResult, error) {
	return do(ctx, f, MethodListPayments, nil, fakePayments)
}
func (f *fakeService) ListInvoices(ctx context.Context) (*ListInvoicesResult, error) {
	return do(ctx, f, MethodListInvoices, nil, fakeInvoices)
}
func (f *fakeService) DescribeGraph(ctx context.Context) (*DescribeGraphResult, error) {
	return do(ctx, f, MethodDescribeGraph, nil, fakeGraph)
}
func (f *fakeService) GetNodeInfo(ctx context.Context, p GetNodeInfoParams) (*GetNodeInfoResult, error) {
	return do(ctx, f, MethodGetNodeInfo, p, fakeNodeInfo)
}
func (f *fakeService) QueryRoutes(ctx context.Context, p QueryRoutesParams) (*QueryRoutesResult, error) {
	return do(ctx, f, MethodQueryRoutes, p, fakeRoutes)
}
func (f *fakeService) ForwardingHistory(ctx context.Context, p ForwardingHistoryParams) (*ForwardingHistoryResult, error) {
	return do(ctx, f, MethodForwardingHistory, p, fakeForwards)
}
func (f *fakeService) UpdateChanPolicy(ctx context.Context, p UpdateChanPolicyParams) (*UpdateChanPolicyResult, error) {
	return do(ctx, f, MethodUpdateChanPolicy, p, fakePolicies)
}
func (f *fakeService) SendCustomMessage(ctx context.Context, p SendCustomMessageParams) (*SendCustomMessageResult, error) {
	return do(ctx, f, MethodSendCustomMessage, p, &SendCustomMessageResult{})
}
func (f *fakeService) Stop(ctx context.Context) error {
	_, err := do(ctx, f, MethodStop, nil, &struct{}{})
	if err == nil {
		f.stopped.Store(true)
	}
	return err
}

// SubscribeEvents hands out a buffered channel that publish feeds; cancel closes it.
func (f *fakeService) SubscribeEvents() (<-chan Event, func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.nextID
	f.nextID++
	ch := make(chan Event, 16)
	f.subs[id] = ch
	var once sync.Once
	return ch, func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			if c, ok := f.subs[id]; ok {
				delete(f.subs, id)
				close(c)
			}
			f.canceled.Add(1)
		})
	}
}

func (f *fakeService) numSubs() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

// publish sends ev to every subscriber, dropping it for a full one (as the Service doc says).
func (f *fakeService) publish(ev Event) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, ch := range f.subs {
		select {
		case ch <- ev:
		default:
		}
	}
}

// closeSubs ends every subscription from the service side.
func (f *fakeService) closeSubs() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for id, ch := range f.subs {
		delete(f.subs, id)
		close(ch)
	}
}

// testServer starts an httptest server around a fakeService and returns a client for it.
func testServer(t *testing.T, opts ...ServerOption) (*fakeService, *Server, *httptest.Server, *Client) {
	t.Helper()
	f := newFake()
	s := NewServer(f, testToken, nil, opts...)
	ts := httptest.NewServer(s)
	c := NewClient(ts.URL, testToken)
	t.Cleanup(func() {
		c.Close()
		ts.Close()
	})
	return f, s, ts, c
}

// waitFor polls cond until it holds or 10 s pass.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func mustEqual(t *testing.T, what string, got, want any) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %#v\n want %#v", what, got, want)
	}
}

// authHeader returns a correct Basic Authorization header value.
func authHeader() string {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(CookieUser, testToken)
	return r.Header.Get("Authorization")
}
