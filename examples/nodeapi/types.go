// Package nodeapi is the control API of the lnkit example node: JSON-RPC 2.0 over HTTP on loopback,
// authenticated by a cookie file in the node's data directory, plus a Server-Sent Events stream.
//
// This file holds the method names and their parameter and result types; server.go serves a Service
// over HTTP, client.go calls it. Amounts carry their unit in the JSON name (_sat, _msat); node ids are
// 33-byte compressed public keys in hex; hashes, preimages and channel ids are 32 bytes in hex
// (txids in Bitcoin's reversed display order).
package nodeapi

import (
	"context"
	"errors"
)

// Method names, as sent in the JSON-RPC "method" member.
const (
	MethodGetInfo       = "getinfo"
	MethodConnect       = "connect"
	MethodListPeers     = "listpeers"
	MethodNewAddress    = "newaddress"
	MethodWalletBalance = "walletbalance"
	MethodListBalances  = "listbalances"
	MethodOpenChannel   = "openchannel"
	MethodListChannels  = "listchannels"
	MethodCloseChannel  = "closechannel"
	MethodInvoice       = "invoice"
	MethodDecodeInvoice = "decodeinvoice"
	MethodPayInvoice    = "payinvoice"
	MethodKeysend       = "keysend"
	MethodSendPayment   = "sendpayment"
	MethodListPayments  = "listpayments"
	MethodListInvoices  = "listinvoices"
	MethodDescribeGraph = "describegraph"
	MethodGetNodeInfo   = "getnodeinfo"
	MethodQueryRoutes   = "queryroutes"
	MethodStop          = "stop"
	// MethodForwardingHistory and MethodUpdateChanPolicy: see types_forward.go.
	MethodForwardingHistory = "forwardinghistory"
	MethodUpdateChanPolicy  = "updatechanpolicy"
)

// Service is what the node implements and the Server exposes. Every method may return an *Error (sent
// as is) or an error wrapping ErrInvalidParams (sent as JSON-RPC -32602 with the error's text); any
// other error is sent as code CodeFailed with its text.
type Service interface {
	GetInfo(ctx context.Context) (*GetInfoResult, error)
	Connect(ctx context.Context, p ConnectParams) (*ConnectResult, error)
	ListPeers(ctx context.Context) (*ListPeersResult, error)
	NewAddress(ctx context.Context) (*NewAddressResult, error)
	WalletBalance(ctx context.Context) (*WalletBalanceResult, error)
	// ListBalances lists, per channel, what the channel's monitor says is ours on chain
	// (lnkit's ChainMonitor.GetClaimableBalances).
	ListBalances(ctx context.Context) (*ListBalancesResult, error)
	OpenChannel(ctx context.Context, p OpenChannelParams) (*OpenChannelResult, error)
	ListChannels(ctx context.Context) (*ListChannelsResult, error)
	CloseChannel(ctx context.Context, p CloseChannelParams) (*CloseChannelResult, error)
	Invoice(ctx context.Context, p InvoiceParams) (*InvoiceResult, error)
	DecodeInvoice(ctx context.Context, p DecodeInvoiceParams) (*DecodeInvoiceResult, error)
	PayInvoice(ctx context.Context, p PayInvoiceParams) (*Payment, error)
	Keysend(ctx context.Context, p KeysendParams) (*Payment, error)
	// SendPayment pays a payment hash with explicit fields, without an invoice (as lnd's sendpayment
	// --dest --payment_hash): for tools and tests that need to send what an invoice would not say.
	SendPayment(ctx context.Context, p SendPaymentParams) (*Payment, error)
	ListPayments(ctx context.Context) (*ListPaymentsResult, error)
	ListInvoices(ctx context.Context) (*ListInvoicesResult, error)
	// DescribeGraph returns the network graph gossip built (lncli describegraph).
	DescribeGraph(ctx context.Context) (*DescribeGraphResult, error)
	// GetNodeInfo returns a node of the graph with its channels; an unknown node is an error.
	GetNodeInfo(ctx context.Context, p GetNodeInfoParams) (*GetNodeInfoResult, error)
	// QueryRoutes finds a route from this node without paying (lncli queryroutes); no route is an
	// error saying why.
	QueryRoutes(ctx context.Context, p QueryRoutesParams) (*QueryRoutesResult, error)
	// ForwardingHistory lists the payments this node forwarded (lncli fwdinghistory), with totals.
	ForwardingHistory(ctx context.Context, p ForwardingHistoryParams) (*ForwardingHistoryResult, error)
	// UpdateChanPolicy sets our forwarding policy of one channel or of all (lncli updatechanpolicy).
	UpdateChanPolicy(ctx context.Context, p UpdateChanPolicyParams) (*UpdateChanPolicyResult, error)
	// SendCustomMessage sends a custom message to a connected peer (types_custom.go); errors: invalid
	// params for a bad peer id, type or payload, CodeFailed when the peer is not connected.
	SendCustomMessage(ctx context.Context, p SendCustomMessageParams) (*SendCustomMessageResult, error)
	// Stop asks the node to shut down cleanly (after the reply is sent).
	Stop(ctx context.Context) error
	// SubscribeEvents returns a channel of node events and a cancel function that closes it. Events are
	// dropped for a subscriber whose channel is full rather than blocking the node.
	SubscribeEvents() (<-chan Event, func())
}

// JSON-RPC 2.0 error codes used by the API.
const (
	CodeParseError     = -32700
	CodeInvalidRequest = -32600
	CodeMethodNotFound = -32601
	CodeInvalidParams  = -32602
	CodeInternal       = -32603
	// CodeFailed: the request was well formed but the node could not do it (no route, peer offline,
	// insufficient funds...); the message says why.
	CodeFailed = -32000
	// CodeUnauthorized is sent (with HTTP 401) when the cookie is missing or wrong.
	CodeUnauthorized = -32001
)

// ErrInvalidParams marks an error caused by the request's parameters.
var ErrInvalidParams = errors.New("invalid params")

// Error is a JSON-RPC 2.0 error object.
type Error struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (e *Error) Error() string { return e.Message }

type GetInfoResult struct {
	NodeID            string   `json:"node_id"`
	Network           string   `json:"network"`
	BlockHeight       uint32   `json:"block_height"`
	BlockHash         string   `json:"block_hash"`
	SyncedToChain     bool     `json:"synced_to_chain"`
	NumPeers          int      `json:"num_peers"`
	NumChannels       int      `json:"num_channels"`
	NumUsableChannels int      `json:"num_usable_channels"`
	ListenAddrs       []string `json:"listen_addrs"`
	Version           string   `json:"version"`
	// Gossip is the network graph's state.
	Gossip GossipInfo `json:"gossip"`
}

// ConnectParams: Address is "host:port"; NodeID may instead be given as "<node_id>@host:port" in
// NodeID with Address empty.
type ConnectParams struct {
	NodeID  string `json:"node_id"`
	Address string `json:"address"`
}

type ConnectResult struct {
	NodeID string `json:"node_id"`
}

type Peer struct {
	NodeID   string `json:"node_id"`
	Address  string `json:"address"`
	Inbound  bool   `json:"inbound"`
	Features string `json:"features"` // the peer's init features, hex
}

type ListPeersResult struct {
	Peers []Peer `json:"peers"`
}

type NewAddressResult struct {
	Address string `json:"address"`
}

// WalletBalanceResult: ConfirmedSat, UnconfirmedSat and TotalSat are the on-chain wallet's coins.
type WalletBalanceResult struct {
	ConfirmedSat   int64 `json:"confirmed_sat"`
	UnconfirmedSat int64 `json:"unconfirmed_sat"`
	TotalSat       int64 `json:"total_sat"`
	// OnchainClaimableSat is what closing and closed channels (those listchannels no longer lists)
	// hold for us on chain: the sum of their listbalances entries (commitment outputs, HTLCs being
	// claimed or timed out, justice claims), less the outputs of a cooperative close, which pay the
	// wallet directly and are counted there. An output that the channel's monitor has already swept
	// into the wallet stays listed until the sweep is 6 blocks deep (lnkit's AntiReorgDelay), and
	// until then is counted both here and in the wallet's balance.
	OnchainClaimableSat int64 `json:"onchain_claimable_sat"`
	// ClaimableSat is what is ours outside the wallet: our balance in the channels still open
	// (in-flight HTLCs we offered excluded) plus OnchainClaimableSat.
	ClaimableSat int64 `json:"claimable_sat"`
}

// Balance types of listbalances, one per kind of lnkit channelmonitor.Balance.
const (
	// BalanceOnChannelClose: the channel is open (or its close has not confirmed); what a force close
	// would give us.
	BalanceOnChannelClose = "claimable_on_channel_close"
	// BalanceAwaitingConfirmations: an output of ours, spendable or final at ConfirmationHeight.
	BalanceAwaitingConfirmations = "claimable_awaiting_confirmations"
	// BalanceContentious: an HTLC paid to us whose preimage we hold, claimed on chain; the
	// counterparty may take it back after TimeoutHeight.
	BalanceContentious = "contentious_claimable"
	// BalanceMaybeTimeout: an HTLC we offered, ours by timeout at ClaimableHeight unless the
	// counterparty claims it with the preimage first.
	BalanceMaybeTimeout = "maybe_timeout_claimable_htlc"
	// BalanceMaybePreimage: an HTLC paid to us whose preimage we do not hold; ours only if it comes
	// before ExpiryHeight.
	BalanceMaybePreimage = "maybe_preimage_claimable_htlc"
	// BalanceRevokedOutput: an output of a revoked commitment that we are taking (justice).
	BalanceRevokedOutput = "counterparty_revoked_output_claimable"
)

// ClaimableBalance is one entry of a channel's on-chain balances. Heights are block heights, set
// only for the types that carry them; PaymentHash (hex) only for HTLCs.
type ClaimableBalance struct {
	Type               string `json:"type"`
	AmountSat          int64  `json:"amount_sat"`
	ConfirmationHeight uint32 `json:"confirmation_height,omitempty"`
	TimeoutHeight      uint32 `json:"timeout_height,omitempty"`
	ClaimableHeight    uint32 `json:"claimable_height,omitempty"`
	ExpiryHeight       uint32 `json:"expiry_height,omitempty"`
	PaymentHash        string `json:"payment_hash,omitempty"`
}

// ChannelBalances is what one channel's monitor holds for us on chain. Open says the channel is
// still listed by listchannels (its balance there is the off-chain one).
type ChannelBalances struct {
	ChannelID   string             `json:"channel_id"`
	FundingTxid string             `json:"funding_txid"`
	FundingVout uint32             `json:"funding_output_index"`
	Open        bool               `json:"open"`
	TotalSat    int64              `json:"total_sat"`
	Balances    []ClaimableBalance `json:"balances"`
}

// ListBalancesResult lists the channels with a monitor (closed channels until their monitor is
// archived), in funding outpoint order; TotalSat sums every balance listed.
type ListBalancesResult struct {
	Channels []ChannelBalances `json:"channels"`
	TotalSat int64             `json:"total_sat"`
}

type OpenChannelParams struct {
	NodeID    string `json:"node_id"`
	AmountSat int64  `json:"amount_sat"`
	PushMsat  uint64 `json:"push_msat"`
	// Private: do not announce the channel (the default).
	Private bool `json:"private"`
	// FeeratePerKw for the funding transaction; 0 uses the node's estimate.
	FeeratePerKw uint32 `json:"feerate_per_kw"`
	// Public: announce the channel to the network (BOLT 7) once its funding transaction is six blocks
	// deep; the node then also announces itself (node_announcement). Not with Private.
	Public bool `json:"public"`
}

type OpenChannelResult struct {
	TemporaryChannelID string `json:"temporary_channel_id"`
	// ChannelID and FundingTxid are set once the funding transaction was built and broadcast (the call
	// waits for that, up to its context's deadline).
	ChannelID   string `json:"channel_id"`
	FundingTxid string `json:"funding_txid"`
	FundingVout uint32 `json:"funding_output_index"`
}

type Channel struct {
	ChannelID            string `json:"channel_id"`
	ShortChannelID       string `json:"short_channel_id"` // "blockxtxxout", empty until confirmed
	NodeID               string `json:"node_id"`
	FundingTxid          string `json:"funding_txid"`
	FundingVout          uint32 `json:"funding_output_index"`
	CapacitySat          int64  `json:"capacity_sat"`
	LocalBalanceMsat     uint64 `json:"local_balance_msat"`
	OutboundCapacityMsat uint64 `json:"outbound_capacity_msat"`
	InboundCapacityMsat  uint64 `json:"inbound_capacity_msat"`
	IsOutbound           bool   `json:"is_outbound"`
	IsChannelReady       bool   `json:"is_channel_ready"`
	IsUsable             bool   `json:"is_usable"`
	State                string `json:"state"`
	ChannelType          string `json:"channel_type"`
	FeeratePerKw         uint32 `json:"feerate_per_kw"`
	PendingHTLCs         int    `json:"pending_htlcs"`
	// Public: opened to be announced; Announced: the channel_announcement is made and broadcast.
	Public    bool `json:"public"`
	Announced bool `json:"announced"`
	// Our forwarding policy for the channel (updatechanpolicy): what we charge to forward an HTLC
	// over it (fee_base_msat + amount × fee_rate_ppm / 10⁶) and the CLTV delta we require, in blocks.
	FeeBaseMsat   uint32 `json:"fee_base_msat"`
	FeeRatePPM    uint32 `json:"fee_rate_ppm"`
	TimeLockDelta uint16 `json:"time_lock_delta"`
}

type ListChannelsResult struct {
	Channels []Channel `json:"channels"`
}

type CloseChannelParams struct {
	ChannelID string `json:"channel_id"`
	Force     bool   `json:"force"`
}

// CloseChannelResult is closechannel's answer. ClosingTxid is the closing transaction's id when the
// node broadcast it during the call: for a force close our commitment transaction, for a cooperative
// close the closing transaction, once the peers agreed on its fee (empty if that came later, or if the
// channel had no funding transaction yet).
type CloseChannelResult struct {
	ClosingTxid string `json:"closing_txid,omitempty"`
}

type InvoiceParams struct {
	// AmountMsat 0 makes an invoice for any amount.
	AmountMsat  uint64 `json:"amount_msat"`
	Description string `json:"description"`
	ExpirySecs  uint32 `json:"expiry_secs"` // 0: 3600
}

type InvoiceResult struct {
	Bolt11      string `json:"bolt11"`
	PaymentHash string `json:"payment_hash"`
	ExpiresAt   int64  `json:"expires_at"` // unix seconds
}

type DecodeInvoiceParams struct {
	Bolt11 string `json:"bolt11"`
}

type RouteHintHop struct {
	NodeID                    string `json:"node_id"`
	ShortChannelID            string `json:"short_channel_id"`
	FeeBaseMsat               uint32 `json:"fee_base_msat"`
	FeeProportionalMillionths uint32 `json:"fee_proportional_millionths"`
	CLTVExpiryDelta           uint16 `json:"cltv_expiry_delta"`
}

type DecodeInvoiceResult struct {
	Network                 string           `json:"network"`
	AmountMsat              uint64           `json:"amount_msat"` // 0: any amount
	Timestamp               int64            `json:"timestamp"`
	PaymentHash             string           `json:"payment_hash"`
	PaymentSecret           string           `json:"payment_secret"`
	Description             string           `json:"description,omitempty"`
	DescriptionHash         string           `json:"description_hash,omitempty"`
	ExpirySecs              uint64           `json:"expiry_secs"`
	MinFinalCLTVExpiryDelta uint64           `json:"min_final_cltv_expiry_delta"`
	Payee                   string           `json:"payee"`
	Features                string           `json:"features"`
	FallbackAddresses       []string         `json:"fallback_addresses,omitempty"`
	RouteHints              [][]RouteHintHop `json:"route_hints,omitempty"`
}

// PayInvoiceParams: the payment goes over routes the node's router finds in the network graph (with
// the invoice's route hints), several paths at once if one cannot carry it and the invoice offers
// basic_mpp; paths that fail are retried over new routes until TimeoutSecs pass.
type PayInvoiceParams struct {
	Bolt11 string `json:"bolt11"`
	// AmountMsat is required for an invoice without an amount and must be empty otherwise.
	AmountMsat uint64 `json:"amount_msat"`
	// NoWait returns as soon as the payment was sent out (status "pending").
	NoWait bool `json:"no_wait"`
	// MaxParts bounds the paths of the payment (1: a single path); 0: 10. At most 255.
	MaxParts uint32 `json:"max_parts"`
	// FeeLimitSat bounds the routing fees of the whole payment, retries included; absent: 1% of the
	// amount plus 50 sat.
	FeeLimitSat *uint64 `json:"fee_limit_sat"`
	// TimeoutSecs is how long failed paths are retried over new routes (0: DefaultPaymentTimeoutSecs),
	// counted in the node's channel manager ticks (-tick.manager), rounded up. The call waits for the
	// outcome at most the API's call cap (DefaultCallTimeout); listpayments has it afterwards.
	TimeoutSecs uint32 `json:"timeout_secs"`
	// Approval is the user's approval of this payment for a node whose remote signer checks payments
	// (lnkit-signer -client-key): the client key's signature (hex, DER or 64-byte compact) of
	// policy.InvoiceApprovalHash(bolt11, fee_limit_sat×1000), which lnkit-signer approve prints. It
	// needs fee_limit_sat. The node forwards it to the signer before the payment starts.
	Approval string `json:"approval,omitempty"`
}

// DefaultPaymentTimeoutSecs is how long payinvoice and keysend retry when no timeout is given.
const DefaultPaymentTimeoutSecs = 60

// KeysendParams: a spontaneous payment to any node the router finds a route to (a peer with a usable
// channel needs none: the channel is the route). MaxParts, FeeLimitSat and TimeoutSecs as in
// PayInvoiceParams, except that MaxParts 0 means 1: a keysend payment takes several paths only with
// MaxParts > 1, which also puts a random payment secret in the onion (multi-path keysend, as LDK's;
// lnd refuses it) and needs a payee announcing basic_mpp.
type KeysendParams struct {
	NodeID      string  `json:"node_id"`
	AmountMsat  uint64  `json:"amount_msat"`
	NoWait      bool    `json:"no_wait"`
	MaxParts    uint32  `json:"max_parts"`
	FeeLimitSat *uint64 `json:"fee_limit_sat"`
	TimeoutSecs uint32  `json:"timeout_secs"`
	// Preimage (hex, 32 bytes) is the payment preimage to use instead of a random one: an approval
	// names the payment hash, so the approving client chooses the preimage.
	Preimage string `json:"preimage,omitempty"`
	// Approval is as PayInvoiceParams.Approval, of policy.KeysendApprovalHash(node_id,
	// SHA256(preimage), amount_msat, fee_limit_sat×1000); it needs preimage and fee_limit_sat.
	Approval string `json:"approval,omitempty"`
}

// SendPaymentParams: PaymentHash and PaymentSecret are 32 bytes in hex (PaymentSecret may be empty);
// FinalCLTVDelta is the final hop's CLTV delta in blocks (0: 40).
type SendPaymentParams struct {
	NodeID         string `json:"node_id"`
	AmountMsat     uint64 `json:"amount_msat"`
	PaymentHash    string `json:"payment_hash"`
	PaymentSecret  string `json:"payment_secret"`
	FinalCLTVDelta uint32 `json:"final_cltv_delta"`
	NoWait         bool   `json:"no_wait"`
}

// Payment statuses.
const (
	StatusPending   = "pending"
	StatusSucceeded = "succeeded"
	StatusFailed    = "failed"
)

// Payment is one outgoing payment.
type Payment struct {
	PaymentID   string `json:"payment_id"`
	PaymentHash string `json:"payment_hash"`
	Destination string `json:"destination"`
	AmountMsat  uint64 `json:"amount_msat"`
	FeeMsat     uint64 `json:"fee_msat"`
	Status      string `json:"status"`
	Preimage    string `json:"preimage,omitempty"`
	// FailureCode is the BOLT 4 failure code (e.g. 0x400f incorrect_or_unknown_payment_details) when
	// the payment failed at a node; FailureReason says why in words.
	FailureCode   uint16 `json:"failure_code,omitempty"`
	FailureReason string `json:"failure_reason,omitempty"`
	CreatedAt     int64  `json:"created_at"` // unix seconds
}

type ListPaymentsResult struct {
	Payments []Payment `json:"payments"`
}

// Invoice statuses.
const (
	InvoiceOpen    = "open"
	InvoicePaid    = "paid"
	InvoiceExpired = "expired"
)

type Invoice struct {
	PaymentHash  string `json:"payment_hash"`
	Bolt11       string `json:"bolt11,omitempty"` // empty for keysend receipts
	AmountMsat   uint64 `json:"amount_msat"`
	ReceivedMsat uint64 `json:"received_msat"`
	Status       string `json:"status"`
	Keysend      bool   `json:"keysend"`
	CreatedAt    int64  `json:"created_at"`
	ExpiresAt    int64  `json:"expires_at,omitempty"`
	PaidAt       int64  `json:"paid_at,omitempty"`
}

type ListInvoicesResult struct {
	Invoices []Invoice `json:"invoices"`
}

// Event is one entry of the event stream (GET /events, Server-Sent Events: "event: <Type>" and
// "data: <JSON of Event>").
type Event struct {
	// Type is one of: payment_sent, payment_failed, payment_received, channel_pending, channel_ready,
	// channel_closed, peer_connected, peer_disconnected, block, bump_failed (fee bumping of a
	// force-closed anchor channel failed; Reason says why; retried at the next block),
	// monitor_archived (a fully resolved channel's monitor was archived; FundingOutpoint says which),
	// payment_forwarded (we forwarded an HTLC and were paid: ChannelID the incoming channel,
	// NextChannelID the outgoing one, AmountMsat what we forwarded, FeeMsat what we earned),
	// htlc_handling_failed (we failed an incoming HTLC back: ChannelID the incoming channel,
	// NextChannelID where it was going if known, FailureCode and Reason the BOLT 4 failure we returned;
	// code 0 when we relayed the next hop's encrypted failure), probe_successful and probe_failed
	// (ShortChannelID where a probe failed, if known), custom_message (a peer's custom message: NodeID
	// the peer, MsgType its type, Data its payload in hex).
	Type        string `json:"type"`
	PaymentHash string `json:"payment_hash,omitempty"`
	PaymentID   string `json:"payment_id,omitempty"`
	AmountMsat  uint64 `json:"amount_msat,omitempty"`
	ChannelID   string `json:"channel_id,omitempty"`
	NodeID      string `json:"node_id,omitempty"`
	Height      uint32 `json:"height,omitempty"`
	Reason      string `json:"reason,omitempty"`
	// FundingOutpoint is "txid:index".
	FundingOutpoint string `json:"funding_outpoint,omitempty"`
	NextChannelID   string `json:"next_channel_id,omitempty"`
	FeeMsat         uint64 `json:"fee_msat,omitempty"`
	FailureCode     uint16 `json:"failure_code,omitempty"`
	ShortChannelID  string `json:"short_channel_id,omitempty"`
	MsgType         uint16 `json:"msg_type,omitempty"`
	Data            string `json:"data,omitempty"`
}
