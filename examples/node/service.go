package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/internal/sphinx"
	"github.com/lnkit/lnkit/lnwire"
)

// service implements nodeapi.Service on a Node.
type service struct {
	n    *Node
	stop func()
}

var _ nodeapi.Service = (*service)(nil)

// invalid is the error of a request the caller got wrong (sent as JSON-RPC's invalid params, -32602):
// every check of the input returns through it. format may use %w to keep an underlying error.
func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{nodeapi.ErrInvalidParams}, a...)...)
}

// errNotSynced: the node refuses to open channels and send payments until it follows btcd's chain.
var errNotSynced = errors.New("the node is not synced to the chain")

// requireSynced refuses what needs the chain (what to do: the command's name) while the node is not
// synced to btcd: a channel opened or a payment sent on a stale view of the chain (heights, fees,
// funding outputs) may be refused by the peer or go wrong.
func (n *Node) requireSynced(what string) error {
	n.mu.Lock()
	synced := n.synced
	n.mu.Unlock()
	if synced {
		return nil
	}
	return fmt.Errorf("%w: %s is refused until it is (btcd unreachable, or its chain not the node's: see the "+
		"node's log; getinfo says synced_to_chain once it is)", errNotSynced, what)
}

func (s *service) GetInfo(ctx context.Context) (*nodeapi.GetInfoResult, error) {
	n := s.n
	tip := n.follower.Tip()
	chans := n.cm.ListChannels()
	usable := 0
	for _, c := range chans {
		if c.IsUsable {
			usable++
		}
	}
	n.mu.Lock()
	synced := n.synced
	n.mu.Unlock()
	var listen []string
	if addr := n.listenAddr(); addr != "" {
		listen = append(listen, addr)
	}
	return &nodeapi.GetInfoResult{NodeID: nodeIDHex(n.nodeID), Network: n.net.Name, BlockHeight: tip.Height,
		BlockHash: tip.Hash.String(), SyncedToChain: synced, NumPeers: len(n.pm.GetPeerNodeIDs()),
		NumChannels: len(chans), NumUsableChannels: usable, ListenAddrs: listen, Version: version,
		Gossip: n.routing.gossipInfo()}, nil
}

func (s *service) Connect(ctx context.Context, p nodeapi.ConnectParams) (*nodeapi.ConnectResult, error) {
	n := s.n
	idIn, addr := p.NodeID, p.Address
	if at := strings.IndexByte(idIn, '@'); at >= 0 {
		if addr != "" {
			return nil, invalid("give the address either in node_id (id@host:port) or in address, not both")
		}
		idIn, addr = idIn[:at], idIn[at+1:]
	}
	pub, err := parseNodeID(idIn)
	if err != nil {
		return nil, err
	}
	id := nodeIDHex(pub)
	if addr == "" {
		return nil, invalid("address (host:port) is required")
	}
	if addr, err = withDefaultPort(addr); err != nil {
		return nil, err
	}
	if pub.IsEqual(n.nodeID) {
		return nil, invalid("cannot connect to ourselves")
	}
	if n.isConnected(pub) {
		// Nothing is dialled, so nothing is learnt of addr: it is not saved (only an address that
		// completed a handshake is).
		return &nodeapi.ConnectResult{NodeID: id}, nil
	}
	// A connection already being made (a redial) is waited for rather than replaced.
	c := n.outboundConn(pub)
	dialled := c == nil
	if dialled {
		if c, err = n.dialConn(pub, addr); err != nil {
			return nil, fmt.Errorf("connecting to %s: %w", addr, err)
		}
	}
	if err := n.waitHandshake(ctx, c, pub, 15*time.Second); err != nil {
		if errors.Is(err, errHandshakeClosed) {
			return nil, fmt.Errorf("connecting to %s: %w: is %s the node id of the node listening there? (if it is, "+
				"the peer refused us: see the node's log)", addr, err, id)
		}
		return nil, fmt.Errorf("peer %s did not complete the handshake and init: %w", addr, err)
	}
	if dialled {
		n.rememberPeer(id, addr)
	}
	return &nodeapi.ConnectResult{NodeID: id}, nil
}

func (s *service) ListPeers(ctx context.Context) (*nodeapi.ListPeersResult, error) {
	n := s.n
	n.mu.Lock()
	addrs := map[string]string{}
	for _, ci := range n.conns {
		if ci.nodeID != "" {
			addrs[ci.nodeID] = ci.addr
		}
	}
	for id, a := range n.peerAddrs {
		if _, ok := addrs[id]; !ok {
			addrs[id] = a
		}
	}
	n.mu.Unlock()
	res := &nodeapi.ListPeersResult{Peers: []nodeapi.Peer{}}
	for _, p := range n.pm.GetPeerNodeIDs() {
		id := nodeIDHex(p.NodeID)
		var feats string
		if p.InitFeatures != nil {
			feats = hex.EncodeToString(p.InitFeatures.Encode())
		}
		res.Peers = append(res.Peers, nodeapi.Peer{NodeID: id, Address: addrs[id], Inbound: p.Inbound, Features: feats})
	}
	return res, nil
}

func (s *service) NewAddress(ctx context.Context) (*nodeapi.NewAddressResult, error) {
	a, err := s.n.wallet.NewAddress()
	if err != nil {
		return nil, err
	}
	return &nodeapi.NewAddressResult{Address: a.EncodeAddress()}, nil
}

func (s *service) WalletBalance(ctx context.Context) (*nodeapi.WalletBalanceResult, error) {
	conf, unconf := s.n.wallet.Balance()
	var inChannels int64
	for _, c := range s.n.cm.ListChannels() {
		inChannels += int64(c.BalanceMsat / 1000)
	}
	onChain := onChainSat(s.n.channelBalances(), s.n.wallet.PaidBySpendOf)
	return &nodeapi.WalletBalanceResult{ConfirmedSat: int64(conf), UnconfirmedSat: int64(unconf),
		TotalSat: int64(conf + unconf), OnchainClaimableSat: onChain, ClaimableSat: inChannels + onChain}, nil
}

func (s *service) ListBalances(ctx context.Context) (*nodeapi.ListBalancesResult, error) {
	return apiBalances(s.n.channelBalances()), nil
}

func (s *service) OpenChannel(ctx context.Context, p nodeapi.OpenChannelParams) (*nodeapi.OpenChannelResult, error) {
	n := s.n
	pub, err := parseNodeID(p.NodeID)
	if err != nil {
		return nil, err
	}
	if p.AmountSat <= 0 {
		return nil, invalid("amount_sat must be positive")
	}
	if p.PushMsat > uint64(p.AmountSat)*1000 {
		return nil, invalid("push_msat exceeds the channel amount")
	}
	if p.Public && p.Private {
		return nil, invalid("public and private exclude each other")
	}
	if err := n.requireSynced("openchannel"); err != nil {
		return nil, err
	}
	if !n.isConnected(pub) {
		return nil, fmt.Errorf("peer %s is not connected (connect first)", nodeIDHex(pub))
	}
	if m := n.channelMinimum(pub, openConfig(p.Public)); !m.ok(p.AmountSat, p.PushMsat) {
		return nil, invalid("amount_sat %d is too small: %s", p.AmountSat, m.explain(p.PushMsat))
	}
	if err := n.checkAnchorReserve(p.AmountSat); err != nil {
		return nil, err // first: what the wallet can afford says more than the protocol's limit
	}
	if p.AmountSat > maxChannelSat {
		return nil, invalid("amount_sat must be at most %d (2^24 - 1: larger channels need option_support_large_channel, "+
			"which this node does not offer)", maxChannelSat)
	}
	var userID [16]byte
	_, _ = rand.Read(userID[:])
	ch := make(chan openResult, 1)
	n.mu.Lock()
	tempID, err := n.cm.CreateChannel(pub, p.AmountSat, p.PushMsat, userID, openConfig(p.Public))
	if err == nil {
		n.opening[tempID] = ch
	}
	n.mu.Unlock()
	if errors.Is(err, channelmanager.ErrAPIMisuse) {
		return nil, invalid("%w", err) // the amounts (checked above; the manager has the last word)
	}
	if err != nil {
		return nil, err
	}
	n.wake()
	res := &nodeapi.OpenChannelResult{TemporaryChannelID: hex.EncodeToString(tempID[:])}
	select {
	case r := <-ch:
		if r.err != nil {
			if r.pending.ChannelID != (lnwire.ChannelID{}) {
				// The channel exists and waits for a funding transaction btcd refused.
				return nil, fmt.Errorf("%w; the node offers it to btcd again every -tick.fees, but the channel "+
					"is not usable until it confirms", r.err)
			}
			return nil, r.err
		}
		res.ChannelID = hex.EncodeToString(r.pending.ChannelID[:])
		res.FundingTxid = r.pending.FundingTxo.Hash.String()
		res.FundingVout = r.pending.FundingTxo.Index
		return res, nil
	case <-ctx.Done():
		n.mu.Lock()
		delete(n.opening, tempID)
		n.mu.Unlock()
		return res, nil
	}
}

func channelTypeName(t lnwire.ChannelType) string {
	if t.Anchors {
		return "anchors"
	}
	return "static_remotekey"
}

func (s *service) ListChannels(ctx context.Context) (*nodeapi.ListChannelsResult, error) {
	res := &nodeapi.ListChannelsResult{Channels: []nodeapi.Channel{}}
	for _, c := range s.n.cm.ListChannels() {
		ch := nodeapi.Channel{ChannelID: hex.EncodeToString(c.ChannelID[:]), NodeID: nodeIDHex(c.CounterpartyNodeID),
			CapacitySat: c.ChannelValueSat, LocalBalanceMsat: c.BalanceMsat, OutboundCapacityMsat: c.OutboundCapacityMsat,
			InboundCapacityMsat: c.InboundCapacityMsat, IsOutbound: c.IsOutbound, IsChannelReady: c.IsChannelReady,
			IsUsable: c.IsUsable, State: c.State, ChannelType: channelTypeName(c.ChannelType), FeeratePerKw: c.FeeratePerKw,
			PendingHTLCs: c.NumPendingHTLCs, Public: c.IsPublic, Announced: c.IsAnnounced,
			FeeBaseMsat: c.ForwardingFeeBaseMsat, FeeRatePPM: c.ForwardingFeeProportionalMillionths,
			TimeLockDelta: c.CLTVExpiryDelta}
		if c.FundingTxo.Hash != ([32]byte{}) {
			ch.FundingTxid = c.FundingTxo.Hash.String()
			ch.FundingVout = c.FundingTxo.Index
		}
		if c.ShortChannelID != (lnwire.ShortChannelID{}) {
			ch.ShortChannelID = c.ShortChannelID.String()
		}
		res.Channels = append(res.Channels, ch)
	}
	return res, nil
}

// findChannel finds a channel by its id (hex).
func (s *service) findChannel(idHex string) (channelmanager.ChannelDetails, error) {
	b, err := hex.DecodeString(idHex)
	if err != nil || len(b) != 32 {
		return channelmanager.ChannelDetails{}, invalid("channel_id must be 64 hex characters")
	}
	for _, c := range s.n.cm.ListChannels() {
		if hex.EncodeToString(c.ChannelID[:]) == strings.ToLower(idHex) {
			return c, nil
		}
	}
	return channelmanager.ChannelDetails{}, invalid("no channel %s (listchannels lists them)", idHex)
}

// How long closechannel waits for the closing transaction: a force close broadcasts our commitment at
// once; a cooperative close once the peers agreed on the fee (closing_signed), which takes round trips.
const (
	forceCloseTxWait = 5 * time.Second
	coopCloseTxWait  = 10 * time.Second
)

// CloseChannel closes a channel, cooperatively or (force) by broadcasting our commitment, and returns
// the closing transaction's id once the node has broadcast it, waiting a little for it (a cooperative
// close needs the peer's agreement first): without it if it comes later, or the channel had no
// funding yet.
func (s *service) CloseChannel(ctx context.Context, p nodeapi.CloseChannelParams) (*nodeapi.CloseChannelResult, error) {
	n := s.n
	c, err := s.findChannel(p.ChannelID)
	if err != nil {
		return nil, err
	}
	funded := c.FundingTxo.Hash != (chainhash.Hash{})
	var spent <-chan chainhash.Hash
	if funded {
		var cancel func()
		spent, cancel = n.watchFundingSpend(c.FundingTxo)
		defer cancel()
	}
	wait := coopCloseTxWait
	if p.Force {
		wait = forceCloseTxWait
		err = n.cm.ForceCloseBroadcastingLatestTxn(c.ChannelID, c.CounterpartyNodeID)
	} else {
		err = n.cm.CloseChannel(c.ChannelID, c.CounterpartyNodeID)
	}
	if err != nil {
		return nil, err
	}
	n.wake()
	res := &nodeapi.CloseChannelResult{}
	if !funded {
		return res, nil
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case txid := <-spent:
		res.ClosingTxid = txid.String()
	case <-timer.C:
	case <-ctx.Done():
	}
	if res.ClosingTxid == "" && p.Force {
		// Not broadcast (not the leader, or the state not durable): our commitment is still the
		// closing transaction, whenever it goes out.
		if m, ok := n.chainMon.GetMonitor(c.FundingTxo); ok {
			if tx, err := m.LatestHolderCommitmentTx(); err == nil {
				res.ClosingTxid = tx.TxHash().String()
			}
		}
	}
	return res, nil
}

// watchFundingSpend returns a channel that gets the id of the next transaction the node broadcasts
// spending op (noteBroadcast), and a function to stop watching.
func (n *Node) watchFundingSpend(op wire.OutPoint) (<-chan chainhash.Hash, func()) {
	ch := make(chan chainhash.Hash, 1)
	n.mu.Lock()
	n.closeWatch[op] = ch
	n.mu.Unlock()
	return ch, func() {
		n.mu.Lock()
		if n.closeWatch[op] == ch {
			delete(n.closeWatch, op)
		}
		n.mu.Unlock()
	}
}

// noteBroadcast hands the ids of transactions being broadcast that spend a watched funding outpoint
// to their watchers (watchFundingSpend).
func (n *Node) noteBroadcast(txs ...*wire.MsgTx) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if len(n.closeWatch) == 0 {
		return
	}
	for _, tx := range txs {
		for _, in := range tx.TxIn {
			if ch, ok := n.closeWatch[in.PreviousOutPoint]; ok {
				delete(n.closeWatch, in.PreviousOutPoint)
				ch <- tx.TxHash()
			}
		}
	}
}

// sendAndWait records a payment, hands it to send and waits for its outcome unless noWait.
func (s *service) sendAndWait(ctx context.Context, rec nodeapi.Payment, noWait bool, send func() error) (*nodeapi.Payment, error) {
	if old, ok := s.n.store.payment(rec.PaymentID); ok && old.Status != nodeapi.StatusFailed {
		return nil, fmt.Errorf("payment %s already %s", rec.PaymentHash, old.Status)
	}
	rec.Status = nodeapi.StatusPending
	rec.CreatedAt = time.Now().Unix()
	s.n.store.putPayment(rec)
	done := s.n.store.waitPayment(rec.PaymentID)
	if err := send(); errors.Is(err, channelmanager.ErrPartialSend) {
		// Some paths of a multi-path payment left: the manager retries the others (or fails the
		// payment) and reports the outcome as for any payment.
		s.n.log.Info("payment partly sent; the rest is retried", "payment_id", rec.PaymentID, "err", err)
	} else if err != nil {
		rec.Status = nodeapi.StatusFailed
		rec.FailureReason = err.Error()
		s.n.store.putPayment(rec)
		return nil, err
	}
	s.n.wake()
	if noWait {
		return &rec, nil
	}
	select {
	case p := <-done:
		return &p, nil
	case <-ctx.Done():
		p, _ := s.n.store.payment(rec.PaymentID)
		return &p, nil
	}
}

func (s *service) ListPayments(ctx context.Context) (*nodeapi.ListPaymentsResult, error) {
	return &nodeapi.ListPaymentsResult{Payments: s.n.store.listPayments()}, nil
}

func (s *service) ListInvoices(ctx context.Context) (*nodeapi.ListInvoicesResult, error) {
	invs := s.n.store.listInvoices()
	now := time.Now().Unix()
	for i := range invs {
		if invs[i].Status == nodeapi.InvoiceOpen && invs[i].ExpiresAt != 0 && now > invs[i].ExpiresAt {
			invs[i].Status = nodeapi.InvoiceExpired
		}
	}
	return &nodeapi.ListInvoicesResult{Invoices: invs}, nil
}

func (s *service) Stop(ctx context.Context) error {
	go func() {
		time.Sleep(100 * time.Millisecond) // let the reply go out first
		s.stop()
	}()
	return nil
}

func (s *service) SubscribeEvents() (<-chan nodeapi.Event, func()) { return s.n.hub.subscribe() }

// failureName names a BOLT 4 failure code (the spec's name).
func failureName(code uint16) string {
	switch name := sphinx.FailureCode(code).String(); {
	case code == 0:
		return "unreadable failure"
	case strings.HasPrefix(name, "unknown_failure_code"):
		return fmt.Sprintf("failure 0x%04x", code)
	default:
		return name
	}
}

// parseHash32 reads a 32-byte hex value.
func parseHash32(name, s string) ([32]byte, error) {
	var out [32]byte
	b, err := hex.DecodeString(s)
	if err != nil || len(b) != 32 {
		return out, invalid("%s must be 64 hex characters", name)
	}
	copy(out[:], b)
	return out, nil
}

func (s *service) SendPayment(ctx context.Context, p nodeapi.SendPaymentParams) (*nodeapi.Payment, error) {
	dest, err := parseNodeID(p.NodeID)
	if err != nil {
		return nil, err
	}
	if p.AmountMsat == 0 {
		return nil, invalid("amount_msat must be positive")
	}
	hash, err := parseHash32("payment_hash", p.PaymentHash)
	if err != nil {
		return nil, err
	}
	var secret *[32]byte
	if p.PaymentSecret != "" {
		sec, err := parseHash32("payment_secret", p.PaymentSecret)
		if err != nil {
			return nil, err
		}
		secret = &sec
	}
	delta := p.FinalCLTVDelta
	if delta == 0 {
		delta = 40
	}
	if err := s.n.requireSynced("sendpayment"); err != nil {
		return nil, err
	}
	route, err := s.n.cm.DirectRoute(dest, p.AmountMsat, delta)
	if err != nil {
		return nil, err
	}
	var id events.PaymentID
	_, _ = rand.Read(id[:])
	rec := nodeapi.Payment{PaymentID: hex.EncodeToString(id[:]), PaymentHash: hex.EncodeToString(hash[:]),
		Destination: nodeIDHex(dest), AmountMsat: p.AmountMsat}
	return s.sendAndWait(ctx, rec, p.NoWait, func() error {
		return s.n.cm.SendPaymentWithRoute(route, hash, secret, id)
	})
}
