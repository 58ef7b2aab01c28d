package main

import (
	"bytes"
	"crypto/sha256"
	"log/slog"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/channelmonitor"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/examples/node/internal/anchorfix"
	"github.com/lnkit/lnkit/examples/node/wallet"
	"github.com/lnkit/lnkit/examples/nodeapi"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
)

// bumpNode is a Node with only what fee bumping uses, on a test chain: the wallet (following the
// chain), the bumper over it and the event hub; logs go to logs.
type bumpNode struct {
	n     *Node
	chain *testchain.Chain
	w     *wallet.Wallet
	km    *keys.KeysManager
	logs  *bytes.Buffer
	evs   <-chan nodeapi.Event
}

func newBumpNode(t *testing.T) *bumpNode {
	t.Helper()
	chain := testchain.New(&chaincfg.RegressionNetParams)
	seed := sha256.Sum256([]byte("bump node"))
	w, err := wallet.Open(t.TempDir(), seed[:], &chaincfg.RegressionNetParams, chain.BestBlock())
	require.NoError(t, err)
	chain.RegisterListener(w)
	km := keys.NewKeysManager(seed, 1, 0)
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	hub := newEventHub()
	hub.open()
	evs, cancel := hub.subscribe()
	t.Cleanup(cancel)
	b, err := newBumper(w, w.Broadcaster(chain), km, log, hub)
	require.NoError(t, err)
	return &bumpNode{n: &Node{log: log, hub: hub, bumper: b}, chain: chain, w: w, km: km, logs: logs, evs: evs}
}

// fund pays sat to a new wallet address and confirms it (a coin the wallet may spend at once, unlike
// the coinbase outputs of FundAddress).
func (b *bumpNode) fund(t *testing.T, sat int64) {
	t.Helper()
	addr, err := b.w.NewAddress()
	require.NoError(t, err)
	script, err := txscript.PayToAddrScript(addr)
	require.NoError(t, err)
	key, _ := btcec.PrivKeyFromBytes(bytes.Repeat([]byte{7}, 32))
	funder := testchain.NewWallet(b.chain, key)
	b.chain.FundAddress(funder.PkScript(), 2*sat)
	tx, err := funder.FundTransaction([]*wire.TxOut{{Value: sat, PkScript: script}}, 253)
	require.NoError(t, err)
	require.NoError(t, b.chain.SubmitTransaction(tx))
	b.chain.MineBlocks(1)
}

func (b *bumpNode) inMempool(txid chainhash.Hash) bool { return b.chain.InMempool(txid) }

// TestBumpChannelCloseFromTheWallet: the node answers BumpChannelClose with a CPFP child paid by its
// wallet and broadcast through the wallet, so a commitment below the mining feerate confirms; a
// repeat at a higher target replaces the child.
func TestBumpChannelCloseFromTheWallet(t *testing.T) {
	b := newBumpNode(t)
	b.fund(t, 200_000)
	b.chain.SetMiningFeeratePerKw(5000)
	ev := anchorfix.Close(t, b.chain, b.km, 1, 253, 3000)
	require.NoError(t, b.n.handleEvent(ev))
	require.True(t, b.inMempool(ev.CommitmentTx.TxHash()))
	b.chain.MineBlocks(1)
	require.True(t, b.inMempool(ev.CommitmentTx.TxHash()), "below the mining feerate")

	ev.PackageTargetFeeratePerKw = 6000
	require.NoError(t, b.n.handleEvent(ev))
	b.chain.MineBlocks(1)
	require.EqualValues(t, 1, b.chain.Confirmations(ev.CommitmentTx.TxHash()), "the package reached the mining feerate")
	conf, unconf := b.w.Balance()
	require.Zero(t, unconf)
	require.Less(t, int64(conf), int64(200_000))
	require.Greater(t, int64(conf), int64(200_000-20_000), "the fee of the package, about 6 sat/WU")
	require.Empty(t, b.chain.Rejected(), "every broadcast was accepted: the repeat replaced the child")
}

// TestBumpFailureIsLoggedNotReturned: a bump the wallet cannot pay is logged and announced, and
// handleEvent returns nil, so that the chain monitor does not hold it (and every later event) in
// its queue: the monitor asks again at the next block.
func TestBumpFailureIsLoggedNotReturned(t *testing.T) {
	b := newBumpNode(t)
	ev := anchorfix.Close(t, b.chain, b.km, 2, 253, 3000)
	require.NoError(t, b.n.handleEvent(ev))
	require.False(t, b.inMempool(ev.CommitmentTx.TxHash()), "nothing broadcast")
	require.Contains(t, b.logs.String(), "level=WARN msg=\"fee bumping failed; the monitor asks again at the next block\"")
	require.Contains(t, b.logs.String(), "insufficient funds")
	e := <-b.evs
	require.Equal(t, "bump_failed", e.Type)
	require.Contains(t, e.Reason, "insufficient funds")

	bad := events.BumpHTLCResolution{ChannelID: lnwire.ChannelID{7}}
	require.NoError(t, b.n.handleEvent(bad))
	require.Contains(t, b.logs.String(), "level=ERROR", "a malformed event is an error")
	e = <-b.evs
	require.Equal(t, lnwire.ChannelID{7}.String(), e.ChannelID)
}

func TestAnchorReserve(t *testing.T) {
	for _, c := range []struct {
		chans int
		want  int64
	}{{0, 0}, {1, 10_000}, {3, 30_000}, {10, 100_000}, {11, 100_000}, {500, 100_000}} {
		require.Equal(t, c.want, anchorReserveSat(c.chans, defaultAnchorReserveSat, defaultAnchorMaxReserveSat), "%d channels", c.chans)
	}
	require.Zero(t, anchorReserveSat(4, 0, defaultAnchorMaxReserveSat), "-anchor.reserve=0 disables it")

	chans := []channelmanager.ChannelDetails{{ChannelType: lnwire.ChannelType{Anchors: true}}, {},
		{ChannelType: lnwire.ChannelType{Anchors: true}}}
	require.Equal(t, 2, countAnchorChannels(chans))

	require.NoError(t, checkReserve(30_000, 3, 10_000, 100_000))
	err := checkReserve(29_999, 3, 10_000, 100_000)
	require.ErrorContains(t, err, "opening would leave 29999 sat in the wallet, below the anchor reserve of 30000 sat")
	require.ErrorContains(t, err, "10000 sat for each of 3 anchor channels, this one included, at most 100000 sat")
	require.NoError(t, checkReserve(100_000, 40, 10_000, 100_000), "capped")
}

// balances of two channels: one still open, one force-closed whose monitor lists four entries.
var (
	openID   = lnwire.ChannelID{1}
	closedID = lnwire.ChannelID{2}
	coopID   = lnwire.ChannelID{3}
	hash     = [32]byte{0xab}
	testBals = []channelmonitor.Balance{
		channelmonitor.ClaimableOnChannelClose{ChannelID: openID, AmountSat: 400_000},
		channelmonitor.ClaimableAwaitingConfirmations{ChannelID: closedID, AmountSat: 300_000, ConfirmationHeight: 620},
		channelmonitor.MaybeTimeoutClaimableHTLC{ChannelID: closedID, AmountSat: 20_000, ClaimableHeight: 650, PaymentHash: hash},
		channelmonitor.MaybePreimageClaimableHTLC{ChannelID: closedID, AmountSat: 30_000, ExpiryHeight: 660, PaymentHash: hash},
		channelmonitor.ContentiousClaimable{ChannelID: closedID, AmountSat: 40_000, TimeoutHeight: 670, PaymentHash: hash},
		channelmonitor.ClaimableAwaitingConfirmations{ChannelID: coopID, AmountSat: 500_000, ConfirmationHeight: 615},
		channelmonitor.CounterpartyRevokedOutputClaimable{ChannelID: coopID, AmountSat: 7},
	}
	testFunding = map[lnwire.ChannelID]wire.OutPoint{openID: {Index: 1}, closedID: {Index: 2}, coopID: {Index: 3}}
)

// TestOnChainSat: open channels count as channel balances, not here; a closed channel's entries are
// summed except outputs the wallet already counts (a cooperative close paying it).
func TestOnChainSat(t *testing.T) {
	chans := groupBalances(testBals, testFunding, map[lnwire.ChannelID]bool{openID: true})
	require.Len(t, chans, 3)
	require.True(t, chans[0].open)
	require.Len(t, chans[1].balances, 4)
	paid := func(op wire.OutPoint) []int64 {
		if op.Index == 3 {
			return []int64{500_000, 123} // the cooperative close paid the wallet 500,000 sat
		}
		return nil
	}
	require.EqualValues(t, 300_000+20_000+30_000+40_000+7, onChainSat(chans, paid))
	none := func(wire.OutPoint) []int64 { return nil }
	require.EqualValues(t, 300_000+20_000+30_000+40_000+500_000+7, onChainSat(chans, none))
}

// TestAPIBalances: every type is named and carries its heights.
func TestAPIBalances(t *testing.T) {
	res := apiBalances(groupBalances(testBals, testFunding, map[lnwire.ChannelID]bool{openID: true}))
	require.EqualValues(t, 1_290_007, res.TotalSat)
	require.Len(t, res.Channels, 3)
	c := res.Channels[1]
	require.Equal(t, closedID.String(), c.ChannelID)
	require.Equal(t, wire.OutPoint{Index: 2}.Hash.String(), c.FundingTxid)
	require.EqualValues(t, 2, c.FundingVout)
	require.False(t, c.Open)
	require.EqualValues(t, 390_000, c.TotalSat)
	h := lnwire.ChannelID(hash).String()
	require.Equal(t, []nodeapi.ClaimableBalance{
		{Type: "claimable_awaiting_confirmations", AmountSat: 300_000, ConfirmationHeight: 620},
		{Type: "maybe_timeout_claimable_htlc", AmountSat: 20_000, ClaimableHeight: 650, PaymentHash: h},
		{Type: "maybe_preimage_claimable_htlc", AmountSat: 30_000, ExpiryHeight: 660, PaymentHash: h},
		{Type: "contentious_claimable", AmountSat: 40_000, TimeoutHeight: 670, PaymentHash: h},
	}, c.Balances)
	require.Equal(t, "claimable_on_channel_close", res.Channels[0].Balances[0].Type)
	require.True(t, res.Channels[0].Open)
	require.Equal(t, "counterparty_revoked_output_claimable", res.Channels[2].Balances[1].Type)
	require.NotNil(t, apiBalances(nil).Channels, "an empty list, not null")
}

// fakeArchiver watches monitors; ArchiveFullyResolvedChannelMonitors archives the first n of them.
type fakeArchiver struct {
	ops []wire.OutPoint
	n   int
}

func (f *fakeArchiver) ArchiveFullyResolvedChannelMonitors() []wire.OutPoint {
	done := append([]wire.OutPoint(nil), f.ops[:f.n]...)
	f.ops = f.ops[f.n:]
	return done
}

func TestArchiveResolved(t *testing.T) {
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	hub := newEventHub()
	hub.open()
	evs, cancel := hub.subscribe()
	defer cancel()
	a, b, c := wire.OutPoint{Hash: chainhash.Hash{2}, Index: 1}, wire.OutPoint{Hash: chainhash.Hash{1}}, wire.OutPoint{Hash: chainhash.Hash{3}}
	got := archiveResolved(&fakeArchiver{ops: []wire.OutPoint{a, b, c}, n: 2}, log, hub)
	require.Equal(t, []wire.OutPoint{b, a}, got, "sorted")
	for _, op := range got {
		require.Contains(t, logs.String(), "funding="+op.String())
		require.Equal(t, nodeapi.Event{Type: "monitor_archived", FundingOutpoint: op.String()}, <-evs)
	}
	logs.Reset()
	require.Empty(t, archiveResolved(&fakeArchiver{ops: []wire.OutPoint{c}}, log, hub))
	require.Empty(t, logs.String(), "nothing to say when nothing was archived")
}
