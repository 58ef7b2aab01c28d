//go:build interop

package interop

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"testing"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

// Helpers of the on-chain scenarios (onchain_test.go). Amounts are in satoshis unless named _msat.

// newPreimage returns a random preimage and its payment hash, in hex.
func newPreimage() (preimage, hash string) {
	var p [32]byte
	_, _ = rand.Read(p[:])
	h := sha256.Sum256(p[:])
	return hex.EncodeToString(p[:]), hex.EncodeToString(h[:])
}

// addHoldInvoice makes an lnd hold invoice for hash (hex) with a final CLTV delta of cltvDelta blocks.
func (l *lnd) addHoldInvoice(t testing.TB, hash string, amtMsat uint64, cltvDelta int) lndAddedInvoice {
	t.Helper()
	var v lndAddedInvoice
	l.must(t, &v, "addholdinvoice", hash, "--amt_msat="+strconv.FormatUint(amtMsat, 10),
		"--cltv_expiry_delta="+strconv.Itoa(cltvDelta), "--memo=hold")
	return v
}

// lndInvoiceHTLCs is lookupinvoice's HTLC list.
type lndInvoiceHTLCs struct {
	State string `json:"state"`
	HTLCs []struct {
		State        string `json:"state"`
		ExpiryHeight int    `json:"expiry_height"`
	} `json:"htlcs"`
}

// waitInvoiceAccepted waits until l holds an HTLC for the hold invoice hash and returns its expiry.
func (l *lnd) waitInvoiceAccepted(t testing.TB, hash string) int {
	t.Helper()
	var v lndInvoiceHTLCs
	waitFor(t, 30*time.Second, func() (bool, string) {
		l.must(t, &v, "lookupinvoice", hash)
		return v.State == "ACCEPTED" && len(v.HTLCs) == 1, fmt.Sprintf("%s: invoice %+v", l.name, v)
	})
	return v.HTLCs[0].ExpiryHeight
}

// invoiceState is lookupinvoice's state (OPEN, ACCEPTED, SETTLED, CANCELED).
func (l *lnd) invoiceState(t testing.TB, hash string) string {
	t.Helper()
	var v lndInvoiceHTLCs
	l.must(t, &v, "lookupinvoice", hash)
	return v.State
}

// payInBackground starts paying payReq from l and returns at once; the payment is followed with
// payment(). It is abandoned when the test ends.
func (l *lnd) payInBackground(t testing.TB, payReq string) {
	c, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _, _ = l.payInvoice(c, payReq) }()
}

// payment returns l's payment of hash (hex), or nil.
func (l *lnd) payment(t testing.TB, hash string) *lndPayment {
	t.Helper()
	for _, p := range l.listPayments(t) {
		if p.PaymentHash == hash {
			return &p
		}
	}
	return nil
}

// lndForceClosing is one of pendingchannels' pending_force_closing_channels.
type lndForceClosing struct {
	Channel struct {
		ChannelPoint string `json:"channel_point"`
	} `json:"channel"`
	ClosingTxid      string `json:"closing_txid"`
	LimboBalance     jint   `json:"limbo_balance"`
	RecoveredBalance jint   `json:"recovered_balance"`
	MaturityHeight   jint   `json:"maturity_height"`
	PendingHTLCs     []struct {
		Incoming bool   `json:"incoming"`
		Amount   jint   `json:"amount"`
		Outpoint string `json:"outpoint"`
		Stage    jint   `json:"stage"`
	} `json:"pending_htlcs"`
	Anchor string `json:"anchor"`
}

// forceClosing returns l's pending force close of chanPoint, or nil once lnd no longer lists it.
func (l *lnd) forceClosing(t testing.TB, chanPoint string) *lndForceClosing {
	t.Helper()
	var v struct {
		Channels []lndForceClosing `json:"pending_force_closing_channels"`
	}
	l.must(t, &v, "pendingchannels")
	for _, c := range v.Channels {
		if c.Channel.ChannelPoint == chanPoint {
			return &c
		}
	}
	return nil
}

// closedChannel returns l's closedchannels entry of chanPoint, or nil.
func (l *lnd) closedChannel(t testing.TB, chanPoint string) *lndClosedChannel {
	t.Helper()
	for _, c := range l.closedChannels(t) {
		if c.ChannelPoint == chanPoint {
			return &c
		}
	}
	return nil
}

// totalBalance is lnd's on-chain wallet total.
func (l *lnd) totalBalance(t testing.TB) int64 {
	t.Helper()
	return int64(l.walletBalance(t).TotalBalance)
}

// listBalances calls lnkit's listbalances.
func (n *lnkitNode) listBalances(t testing.TB) *nodeapi.ListBalancesResult {
	t.Helper()
	r, err := n.Client().ListBalances(ctx(t, 10*time.Second))
	return mustCall(t, "listbalances", r, err)
}

// chanBalances returns lnkit's on-chain balances of the channel funded by fundingTxid, or nil.
func (n *lnkitNode) chanBalances(t testing.TB, fundingTxid string) *nodeapi.ChannelBalances {
	t.Helper()
	for _, c := range n.listBalances(t).Channels {
		if c.FundingTxid == fundingTxid {
			return &c
		}
	}
	return nil
}

// balanceTypes returns the types and amounts of a channel's balances, "type:amount", in order.
func balanceTypes(c *nodeapi.ChannelBalances) []string {
	if c == nil {
		return nil
	}
	var out []string
	for _, b := range c.Balances {
		out = append(out, fmt.Sprintf("%s:%d", b.Type, b.AmountSat))
	}
	return out
}

// waitBalances waits until lnkit lists exactly want ("type:amount", any order) for the channel.
func (n *lnkitNode) waitBalances(t testing.TB, fundingTxid string, want ...string) *nodeapi.ChannelBalances {
	t.Helper()
	var c *nodeapi.ChannelBalances
	waitFor(t, 30*time.Second, func() (bool, string) {
		c = n.chanBalances(t, fundingTxid)
		got := balanceTypes(c)
		return sameMultiset(got, want), fmt.Sprintf("lnkit balances %v, want %v", got, want)
	})
	return c
}

func sameMultiset(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	count := map[string]int{}
	for _, s := range a {
		count[s]++
	}
	for _, s := range b {
		count[s]--
	}
	for _, c := range count {
		if c != 0 {
			return false
		}
	}
	return true
}

// payment returns lnkit's payment of hash (hex), or nil.
func (n *lnkitNode) payment(t testing.TB, hash string) *nodeapi.Payment {
	t.Helper()
	r, err := n.Client().ListPayments(ctx(t, 10*time.Second))
	for _, p := range mustCall(t, "listpayments", r, err).Payments {
		if p.PaymentHash == hash {
			return &p
		}
	}
	return nil
}

// payNoWait sends a payment of a BOLT 11 invoice from lnkit and returns once it is on its way.
func (n *lnkitNode) payNoWait(t testing.TB, bolt11 string) *nodeapi.Payment {
	t.Helper()
	p, err := n.Client().PayInvoice(ctx(t, time.Minute), nodeapi.PayInvoiceParams{Bolt11: bolt11, NoWait: true})
	return mustCall(t, "payinvoice", p, err)
}

// forceClose has lnkit force-close the channel funded by fundingTxid.
func (n *lnkitNode) forceClose(t testing.TB, fundingTxid string) {
	t.Helper()
	c := n.channel(t, fundingTxid)
	require.NotNil(t, c, "lnkit has no channel %s", fundingTxid)
	_, err := n.Client().CloseChannel(ctx(t, time.Minute), nodeapi.CloseChannelParams{ChannelID: c.ChannelID, Force: true})
	require.NoError(t, err)
}

// settledWallet waits until lnkit's wallet has no unconfirmed coins and returns its confirmed balance.
func (n *lnkitNode) settledWallet(t testing.TB) int64 {
	t.Helper()
	var w *nodeapi.WalletBalanceResult
	waitFor(t, 30*time.Second, func() (bool, string) {
		w = n.balance(t)
		return w.UnconfirmedSat == 0, fmt.Sprintf("lnkit wallet %+v", *w)
	})
	return w.ConfirmedSat
}

// bumpTxids returns the transactions lnkit's bumptx handler broadcast, from its log ("child=" of a
// CPFP child, "tx=" of an HTLC transaction).
func (n *lnkitNode) bumpTxids(t testing.TB) map[chainhash.Hash]bool {
	t.Helper()
	data, err := os.ReadFile(n.logPath())
	require.NoError(t, err)
	re := regexp.MustCompile(`msg="bumptx: broadcasting [^"]*".*?\b(?:child|tx)=([0-9a-f]{64})`)
	out := map[chainhash.Hash]bool{}
	for _, m := range re.FindAllStringSubmatch(string(data), -1) {
		h, err := chainhash.NewHashFromStr(m[1])
		require.NoError(t, err)
		out[*h] = true
	}
	return out
}

// mempoolOrChainSpend waits for the transaction spending op, in the mempool or mined since fromHeight.
func mempoolOrChainSpend(t testing.TB, op wire.OutPoint, fromHeight int) *wire.MsgTx {
	t.Helper()
	var tx *wire.MsgTx
	waitFor(t, 60*time.Second, func() (bool, string) {
		if tx = nw.btcd.mempoolSpend(t, op); tx != nil {
			return true, ""
		}
		if s, ok := nw.btcd.findSpends(t, fromHeight, op)[op]; ok {
			tx = s.tx
			return true, ""
		}
		return false, fmt.Sprintf("nothing spends %v yet", op)
	})
	return tx
}

// mineUntil mines one block at a time, up to max blocks, until cond holds, then waits for it.
func mineUntil(t testing.TB, max int, cond func() (bool, string)) {
	t.Helper()
	for i := 0; i < max; i++ {
		if ok, _ := cond(); ok {
			return
		}
		nw.mine(t, 1)
		time.Sleep(300 * time.Millisecond) // the nodes react to the block (broadcasts, events)
	}
	waitFor(t, 30*time.Second, cond)
}

// outputIndex returns the index of tx's output of value sat (-1 if none; it fails on two).
func outputIndex(t testing.TB, tx *wire.MsgTx, sat int64) int {
	t.Helper()
	idx := -1
	for i, o := range tx.TxOut {
		if o.Value == sat {
			require.Equal(t, -1, idx, "two outputs of %d sat in %s", sat, tx.TxHash())
			idx = i
		}
	}
	return idx
}

// outValues lists tx's output values.
func outValues(tx *wire.MsgTx) []int64 {
	var v []int64
	for _, o := range tx.TxOut {
		v = append(v, o.Value)
	}
	return v
}

// ledger follows lnkit's transactions around one closed channel on chain: those spending the
// commitment outputs lnkit owns (start), the fee-bumping transactions its log names, and, in turn,
// those spending their P2WSH outputs (second-stage HTLC outputs). lnkit's wallet is P2WPKH; channel
// scripts are P2WSH.
type ledger struct {
	txs       []*wire.MsgTx
	startSat  int64                   // value of the start outputs lnkit's transactions spent
	anchorSat int64                   // value of other P2WSH inputs (our anchor, under a CPFP child)
	walletIn  int64                   // value of P2WPKH inputs (wallet coins paying fees)
	walletOut int64                   // value of P2WPKH outputs (paid to the wallet)
	feesSat   int64                   // fees of all these transactions
	unspent   map[wire.OutPoint]int64 // start or second-stage outputs left unspent
}

// followLnkit scans the blocks from fromHeight to the tip (see ledger).
func followLnkit(t testing.TB, fromHeight int, start map[wire.OutPoint]int64, bumps map[chainhash.Hash]bool) *ledger {
	t.Helper()
	l := &ledger{unspent: map[wire.OutPoint]int64{}}
	for op, v := range start {
		l.unspent[op] = v
	}
	tip := nw.btcd.height(t)
	for h := fromHeight; h <= tip; h++ {
		blk, err := nw.btcd.blockAt(h)
		require.NoError(t, err)
		for _, tx := range blk.Transactions[1:] {
			if bumps[tx.TxHash()] || l.spendsTracked(tx) {
				l.add(t, tx, start)
			}
		}
	}
	return l
}

func (l *ledger) spendsTracked(tx *wire.MsgTx) bool {
	for _, in := range tx.TxIn {
		if _, ok := l.unspent[in.PreviousOutPoint]; ok {
			return true
		}
	}
	return false
}

// add books one of lnkit's transactions.
func (l *ledger) add(t testing.TB, tx *wire.MsgTx, start map[wire.OutPoint]int64) {
	l.txs = append(l.txs, tx)
	for _, in := range tx.TxIn {
		op := in.PreviousOutPoint
		prev := nw.btcd.rawTx(t, op.Hash.String()).TxOut[op.Index]
		l.feesSat += prev.Value
		_, tracked := l.unspent[op]
		delete(l.unspent, op)
		switch {
		case start[op] > 0:
			l.startSat += prev.Value
		case txscript.IsPayToWitnessPubKeyHash(prev.PkScript):
			l.walletIn += prev.Value
		case !tracked:
			l.anchorSat += prev.Value
		}
	}
	for i, o := range tx.TxOut {
		l.feesSat -= o.Value
		switch {
		case txscript.IsPayToWitnessPubKeyHash(o.PkScript):
			l.walletOut += o.Value
		case txscript.IsPayToWitnessScriptHash(o.PkScript):
			l.unspent[wire.OutPoint{Hash: tx.TxHash(), Index: uint32(i)}] = o.Value
		}
	}
}

// String summarises the ledger for the test log.
func (l *ledger) String() string {
	return fmt.Sprintf("%d transactions: claimed %d sat (+%d anchor), wallet in %d / out %d sat, fees %d sat, unspent %v",
		len(l.txs), l.startSat, l.anchorSat, l.walletIn, l.walletOut, l.feesSat, l.unspent)
}
