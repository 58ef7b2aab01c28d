package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sort"

	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/bumptx"
	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/examples/node/wallet"
	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
)

// This file is the node's on-chain policy: fee bumping for anchor channels, the wallet reserve that
// bumping needs, the balances channels hold on chain, and archiving monitors that are done.

// bumpHandler is what the node asks of lnkit's bumptx.BumpTransactionEventHandler.
type bumpHandler interface {
	HandleEvent(events.BumpTransaction) error
}

// bumper answers the chain monitor's BumpChannelClose and BumpHTLCResolution events (anchor
// channels) with lnkit's bumptx handler: coin selection (bumptx.Wallet) over the node's wallet
// (wallet.BumpSource), transactions out through the node's broadcaster (the wallet-wrapped one, so
// the wallet records them and their change).
type bumper struct {
	h   bumpHandler
	log *slog.Logger
	hub *eventHub
}

// newBumper builds the bumper of w; signers re-derives the channel signers (the node's KeysManager).
func newBumper(w *wallet.Wallet, bcast chaininterface.BroadcasterInterface, signers keys.SignerProvider,
	log *slog.Logger, hub *eventHub) (*bumper, error) {
	coins, err := bumptx.NewWallet(w.BumpSource(), log)
	if err != nil {
		return nil, err
	}
	h, err := bumptx.NewBumpTransactionEventHandler(bcast, coins, signers, log)
	if err != nil {
		return nil, err
	}
	return &bumper{h: h, log: log, hub: hub}, nil
}

// handle answers ev and logs a failure instead of returning it. An events.Handler error would leave
// the event queued in the chain monitor and hold back every event after it (SpendableOutputs too),
// retried on each ProcessPendingEvents call (every 100 ms here) with the same, stale target; whereas
// the monitor issues the event again at every block, with a fresh target, until the transaction
// confirms. So a failure (no wallet funds, the fee cap) is retried a block later.
func (b *bumper) handle(ev events.BumpTransaction) {
	err := b.h.HandleEvent(ev)
	if err == nil {
		return
	}
	level := slog.LevelError
	if errors.Is(err, bumptx.ErrInsufficientFunds) || errors.Is(err, bumptx.ErrFeeCapExceeded) {
		level = slog.LevelWarn // may succeed at a later block, when coins confirm or the cap rises
	}
	b.log.Log(context.Background(), level, "fee bumping failed; the monitor asks again at the next block", "event", ev.String(), "err", err)
	b.hub.publish(nodeapi.Event{Type: "bump_failed", ChannelID: bumpChannelID(ev), Reason: err.Error()})
}

func bumpChannelID(ev events.BumpTransaction) string {
	switch e := ev.(type) {
	case events.BumpChannelClose:
		return e.ChannelID.String()
	case events.BumpHTLCResolution:
		return e.ChannelID.String()
	}
	return ""
}

// Anchor reserve defaults (lnd's: lnwallet.anchorChanReservedValue and maxAnchorChanReservedValue).
// The wallet keeps, for each anchor channel, enough to bump its closing: a CPFP child lifting a
// commitment of about 1,000 vbytes (with HTLCs) by about 10 sat/vbyte, or the fee inputs of its HTLC
// transactions. It is capped because channels rarely all close at once.
const (
	defaultAnchorReserveSat    = 10_000  // per anchor channel, satoshis
	defaultAnchorMaxReserveSat = 100_000 // in all, satoshis
)

// anchorReserveSat is the wallet balance, in satoshis, kept for fee bumping with n anchor channels:
// perChannelSat each, at most maxSat.
func anchorReserveSat(n int, perChannelSat, maxSat int64) int64 {
	return min(int64(n)*perChannelSat, maxSat)
}

// countAnchorChannels counts the anchor channels among chans (open or pending: every channel the
// manager lists).
func countAnchorChannels(chans []channelmanager.ChannelDetails) int {
	n := 0
	for _, c := range chans {
		if c.ChannelType.Anchors {
			n++
		}
	}
	return n
}

// checkAnchorReserve refuses a channel of amountSat whose funding transaction would leave the wallet
// with less than the anchor reserve of the anchor channels listed plus the new one (counted as an
// anchor channel: the node proposes anchors).
func (n *Node) checkAnchorReserve(amountSat int64) error {
	// The funding output's script is 34 bytes (P2WSH); its bytes do not matter for sizing.
	out := &wire.TxOut{Value: amountSat, PkScript: make([]byte, 34)}
	left, err := n.wallet.SpendableAfter([]*wire.TxOut{out}, n.chain.EstimateFeeratePerKw(chaininterface.NonAnchorChannelFee))
	if err != nil {
		return fmt.Errorf("insufficient confirmed wallet funds for %d sat plus the funding fee: %w", amountSat, err)
	}
	return checkReserve(left, countAnchorChannels(n.cm.ListChannels())+1, n.cfg.AnchorReserveSat, n.cfg.AnchorMaxReserveSat)
}

// checkReserve returns an error when leftSat, what a funding transaction leaves in the wallet, is
// below the anchor reserve of chans anchor channels (see anchorReserveSat).
func checkReserve(leftSat int64, chans int, perChannelSat, maxSat int64) error {
	reserve := anchorReserveSat(chans, perChannelSat, maxSat)
	if leftSat >= reserve {
		return nil
	}
	return fmt.Errorf("opening would leave %d sat in the wallet, below the anchor reserve of %d sat "+
		"(%d sat for each of %d anchor channels, this one included, at most %d sat): the wallet pays the fees "+
		"that get a force-closed anchor channel's transactions confirmed", leftSat, reserve, perChannelSat, chans, maxSat)
}

// channelBalances is what one channel's monitor holds for us on chain.
type channelBalances struct {
	channelID lnwire.ChannelID
	funding   wire.OutPoint
	open      bool // the manager still lists the channel (its funds are a channel balance)
	balances  []channelmonitor.Balance
}

// groupBalances groups the chain monitor's balances (ChainMonitor.GetClaimableBalances, in funding
// outpoint order) by channel; funding maps a channel to its funding outpoint, open says which
// channels the manager still lists.
func groupBalances(all []channelmonitor.Balance, funding map[lnwire.ChannelID]wire.OutPoint,
	open map[lnwire.ChannelID]bool) []channelBalances {
	var out []channelBalances
	for _, b := range all {
		id := b.Channel()
		if len(out) == 0 || out[len(out)-1].channelID != id {
			out = append(out, channelBalances{channelID: id, funding: funding[id], open: open[id]})
		}
		last := &out[len(out)-1]
		last.balances = append(last.balances, b)
	}
	return out
}

// onChainSat sums, in satoshis, what closing and closed channels (those the manager no longer lists)
// hold for us on chain, except outputs the wallet already counts: paid(funding) gives the values of
// the wallet's outputs of the transaction spending a channel's funding output (a cooperative close,
// listed by the monitor until final, pays the wallet directly).
func onChainSat(chans []channelBalances, paid func(wire.OutPoint) []int64) int64 {
	var sum int64
	for _, c := range chans {
		if c.open {
			continue
		}
		inWallet := paid(c.funding)
		for _, b := range c.balances {
			if _, ok := b.(channelmonitor.ClaimableAwaitingConfirmations); ok {
				if i := indexOf(inWallet, b.ClaimableAmountSat()); i >= 0 {
					inWallet = append(inWallet[:i], inWallet[i+1:]...)
					continue
				}
			}
			sum += b.ClaimableAmountSat()
		}
	}
	return sum
}

func indexOf(vs []int64, v int64) int {
	for i, x := range vs {
		if x == v {
			return i
		}
	}
	return -1
}

// channelBalances returns every monitor's balances, grouped by channel in funding outpoint order.
func (n *Node) channelBalances() []channelBalances {
	funding := map[lnwire.ChannelID]wire.OutPoint{}
	for _, m := range n.chainMon.ListMonitors() {
		funding[m.ChannelID()] = m.FundingTxo()
	}
	open := map[lnwire.ChannelID]bool{}
	for _, c := range n.cm.ListChannels() {
		open[c.ChannelID] = true
	}
	return groupBalances(n.chainMon.GetClaimableBalances(), funding, open)
}

// apiBalances turns grouped balances into listbalances' result.
func apiBalances(chans []channelBalances) *nodeapi.ListBalancesResult {
	res := &nodeapi.ListBalancesResult{Channels: []nodeapi.ChannelBalances{}}
	for _, c := range chans {
		cb := nodeapi.ChannelBalances{ChannelID: c.channelID.String(), FundingTxid: c.funding.Hash.String(),
			FundingVout: c.funding.Index, Open: c.open, Balances: []nodeapi.ClaimableBalance{}}
		for _, b := range c.balances {
			cb.Balances = append(cb.Balances, apiBalance(b))
			cb.TotalSat += b.ClaimableAmountSat()
		}
		res.TotalSat += cb.TotalSat
		res.Channels = append(res.Channels, cb)
	}
	return res
}

// apiBalance names a Balance's type and copies the heights it carries.
func apiBalance(b channelmonitor.Balance) nodeapi.ClaimableBalance {
	out := nodeapi.ClaimableBalance{AmountSat: b.ClaimableAmountSat()}
	switch v := b.(type) {
	case channelmonitor.ClaimableOnChannelClose:
		out.Type = nodeapi.BalanceOnChannelClose
	case channelmonitor.ClaimableAwaitingConfirmations:
		out.Type, out.ConfirmationHeight = nodeapi.BalanceAwaitingConfirmations, v.ConfirmationHeight
	case channelmonitor.ContentiousClaimable:
		out.Type, out.TimeoutHeight, out.PaymentHash = nodeapi.BalanceContentious, v.TimeoutHeight, hex.EncodeToString(v.PaymentHash[:])
	case channelmonitor.MaybeTimeoutClaimableHTLC:
		out.Type, out.ClaimableHeight, out.PaymentHash = nodeapi.BalanceMaybeTimeout, v.ClaimableHeight, hex.EncodeToString(v.PaymentHash[:])
	case channelmonitor.MaybePreimageClaimableHTLC:
		out.Type, out.ExpiryHeight, out.PaymentHash = nodeapi.BalanceMaybePreimage, v.ExpiryHeight, hex.EncodeToString(v.PaymentHash[:])
	case channelmonitor.CounterpartyRevokedOutputClaimable:
		out.Type = nodeapi.BalanceRevokedOutput
	default:
		out.Type = fmt.Sprintf("%T", b)
	}
	return out
}

// archiver is what archiveResolved needs of the chain monitor.
type archiver interface {
	ArchiveFullyResolvedChannelMonitors() []wire.OutPoint
}

// archiveResolved stops watching the monitors of channels that are closed and fully resolved
// (ChainMonitor.ArchiveFullyResolvedChannelMonitors; the FilesystemPersister moves them to
// monitors/archive/) and logs and announces each.
func archiveResolved(a archiver, log *slog.Logger, hub *eventHub) []wire.OutPoint {
	ops := a.ArchiveFullyResolvedChannelMonitors()
	sort.Slice(ops, func(i, j int) bool { return ops[i].String() < ops[j].String() })
	for _, op := range ops {
		log.Info("archived the monitor of a fully resolved channel", "funding", op.String())
		hub.publish(nodeapi.Event{Type: "monitor_archived", FundingOutpoint: op.String()})
	}
	return ops
}
