package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

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

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", nodeapi.ErrInvalidParams, fmt.Sprintf(format, a...))
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
	id, addr := p.NodeID, p.Address
	if at := strings.IndexByte(id, '@'); at >= 0 {
		if addr != "" {
			return nil, invalid("give the address either in node_id (id@host:port) or in address, not both")
		}
		id, addr = id[:at], id[at+1:]
	}
	pub, err := parseNodeID(id)
	if err != nil {
		return nil, err
	}
	if addr == "" {
		return nil, invalid("address (host:port) is required")
	}
	if pub.IsEqual(s.n.nodeID) {
		return nil, invalid("cannot connect to ourselves")
	}
	if !s.n.isConnected(pub) {
		// A connection already being made (a redial) is waited for rather than replaced.
		if !s.n.hasOutboundConn(pub) {
			if err := s.n.dial(pub, addr); err != nil {
				return nil, fmt.Errorf("connecting to %s: %w", addr, err)
			}
		}
		if err := waitUntil(ctx, 15*time.Second, func() bool { return s.n.isConnected(pub) }); err != nil {
			return nil, fmt.Errorf("peer %s did not complete the handshake and init: %w", addr, err)
		}
	}
	s.n.mu.Lock()
	s.n.peerAddrs[id] = addr
	s.n.mu.Unlock()
	s.n.savePeers()
	return &nodeapi.ConnectResult{NodeID: id}, nil
}

// waitUntil polls cond until it holds, the context ends or limit passes.
func waitUntil(ctx context.Context, limit time.Duration, cond func() bool) error {
	ctx, cancel := context.WithTimeout(ctx, limit)
	defer cancel()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	for !cond() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
	return nil
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
	if !n.isConnected(pub) {
		return nil, fmt.Errorf("peer %s is not connected (connect first)", p.NodeID)
	}
	if err := n.checkAnchorReserve(p.AmountSat); err != nil {
		return nil, err
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
	if err != nil {
		return nil, err
	}
	n.wake()
	res := &nodeapi.OpenChannelResult{TemporaryChannelID: hex.EncodeToString(tempID[:])}
	select {
	case r := <-ch:
		if r.err != nil {
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
	return channelmanager.ChannelDetails{}, fmt.Errorf("no channel %s", idHex)
}

func (s *service) CloseChannel(ctx context.Context, p nodeapi.CloseChannelParams) (*nodeapi.CloseChannelResult, error) {
	c, err := s.findChannel(p.ChannelID)
	if err != nil {
		return nil, err
	}
	if p.Force {
		err = s.n.cm.ForceCloseBroadcastingLatestTxn(c.ChannelID, c.CounterpartyNodeID)
	} else {
		err = s.n.cm.CloseChannel(c.ChannelID, c.CounterpartyNodeID)
	}
	if err != nil {
		return nil, err
	}
	s.n.wake()
	return &nodeapi.CloseChannelResult{}, nil
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
	route, err := s.n.cm.DirectRoute(dest, p.AmountMsat, delta)
	if err != nil {
		return nil, err
	}
	var id events.PaymentID
	_, _ = rand.Read(id[:])
	rec := nodeapi.Payment{PaymentID: hex.EncodeToString(id[:]), PaymentHash: p.PaymentHash, Destination: p.NodeID, AmountMsat: p.AmountMsat}
	return s.sendAndWait(ctx, rec, p.NoWait, func() error {
		return s.n.cm.SendPaymentWithRoute(route, hash, secret, id)
	})
}
