package router

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/internal/bolt3"
)

// utxoMap is a host's UTXOLookup over a map.
type utxoMap map[uint64]FundingOutput

var errNoUTXO = errors.New("no such output")

func (m utxoMap) FundingOutput(scid uint64) (FundingOutput, error) {
	if o, ok := m[scid]; ok {
		return o, nil
	}
	return FundingOutput{}, errNoUTXO
}

func fundingScript(t *testing.T, k1, k2 [33]byte) []byte {
	p1, _ := btcec.ParsePubKey(k1[:])
	p2, _ := btcec.ParsePubKey(k2[:])
	_, pk, err := bolt3.FundingScript(p1, p2)
	if err != nil {
		t.Fatal(err)
	}
	return pk
}

func spendingTx(op wire.OutPoint) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(&op, nil, nil))
	tx.AddTxOut(wire.NewTxOut(1000, []byte{0x51}))
	return tx
}

func block(height uint32, txs ...*wire.MsgTx) *wire.MsgBlock {
	coinbase := wire.NewMsgTx(2)
	coinbase.AddTxIn(wire.NewTxIn(&wire.OutPoint{Index: 0xffffffff}, []byte{byte(height), byte(height >> 8)}, nil))
	b := &wire.MsgBlock{Header: wire.BlockHeader{Timestamp: time.Unix(1_800_000_000+int64(height)*600, 0)}}
	b.Transactions = append([]*wire.MsgTx{coinbase}, txs...)
	return b
}

// TestGraphUTXOLookup: with a UTXOLookup, an announcement needs its funding output, with the bitcoin
// keys' script; its value becomes the capacity; a block spending it marks the channel spent (not
// routed over), a disconnection undoes that, and 72 blocks after the spend the channel is forgotten
// and refused for a while.
func TestGraphUTXOLookup(t *testing.T) {
	a, b := testKey(8, 0), testKey(8, 1)
	bk1, bk2 := testKey(8, 10), testKey(8, 11)
	scid := uint64(800_000)<<40 | 5<<16
	op := wire.OutPoint{Hash: chainhash.Hash{1, 2, 3}, Index: 0}
	lookup := utxoMap{}
	g := NewNetworkGraph(lookup)
	an := ann(scid, a, b, 0)
	an.BitcoinKey1, an.BitcoinKey2 = bk1, bk2
	if err := g.AddChannel(an); !errors.Is(err, ErrFundingNotFound) || !errors.Is(err, errNoUTXO) {
		t.Fatalf("no output: %v", err)
	}
	lookup[scid] = FundingOutput{OutPoint: op, PkScript: fundingScript(t, bk1, bk2), ValueSat: 2_000_000}
	wrong := an
	wrong.BitcoinKey2 = testKey(8, 12)
	if err := g.AddChannel(wrong); !errors.Is(err, ErrFundingScriptMismatch) {
		t.Fatalf("other keys: %v", err)
	}
	if err := g.AddChannel(an); err != nil {
		t.Fatal(err)
	}
	if c, _ := g.ChannelCapacityMsat(scid); c != 2_000_000_000 {
		t.Fatalf("capacity %d", c)
	}
	for dir := range uint8(2) {
		if err := g.UpdateChannelPolicy(scid, dir, *pol(0, 0, 40, 1e9)); err != nil {
			t.Fatal(err)
		}
	}
	params := NewRouteParameters(b, 1000, 18)
	mustRoute(t, g, a, &params, nil, nil)

	g.BlockConnected(block(800_100, spendingTx(op)), 800_100)
	if _, err := g.FindRoute(a, &params, nil, nil); !errors.Is(err, ErrNoRoute) {
		t.Fatalf("over a spent channel: %v", err)
	}
	g.BlockDisconnected(nil, 800_100)
	mustRoute(t, g, a, &params, nil, nil)
	g.BlockConnected(block(800_100, spendingTx(op)), 800_100)
	for h := uint32(800_101); h < 800_100+SpentChannelForgetDepth; h++ {
		g.BlockConnected(block(h), h)
	}
	if !g.ChannelKnown(scid) {
		t.Fatal("forgotten before 72 blocks")
	}
	g.BlockConnected(block(800_172), 800_172)
	if g.ChannelKnown(scid) || g.NumNodes() != 0 {
		t.Fatal("not forgotten 72 blocks after the spend")
	}
	if err := g.AddChannel(an); !errors.Is(err, ErrRecentlyRemoved) {
		t.Fatalf("re-announced: %v", err)
	}
}

// TestGraphLearnFunding: without a UTXOLookup, the funding outpoint is learned from the block at the
// channel's height (transaction and output at the scid's indices); the Confirm interface marks,
// reports and undoes the spend, and BestBlockUpdated forgets the channel.
func TestGraphLearnFunding(t *testing.T) {
	a, b := testKey(9, 0), testKey(9, 1)
	scid := uint64(810_000)<<40 | 2<<16 | 1
	g := NewNetworkGraph(nil)
	if err := g.AddChannel(ann(scid, a, b, 500_000)); err != nil {
		t.Fatal(err)
	}
	funding := wire.NewMsgTx(2)
	funding.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: chainhash.Hash{9}}, nil, nil))
	funding.AddTxOut(wire.NewTxOut(1, []byte{0x51}))
	funding.AddTxOut(wire.NewTxOut(500_000, []byte{0x00, 0x20}))
	other := spendingTx(wire.OutPoint{Hash: chainhash.Hash{8}})
	g.BlockConnected(block(810_000, other, funding), 810_000)
	v := g.ReadOnly()
	ci, _ := v.Channel(scid)
	v.Release()
	want := wire.OutPoint{Hash: funding.TxHash(), Index: 1}
	if ci.FundingOutPoint == nil || *ci.FundingOutPoint != want {
		t.Fatalf("funding outpoint %v, want %v", ci.FundingOutPoint, want)
	}
	closing := spendingTx(want)
	hdr := &wire.BlockHeader{Timestamp: time.Unix(1_800_000_000, 0)}
	g.TransactionsConfirmed(hdr, []chaininterface.IndexedTx{{Index: 3, Tx: closing}}, 810_500)
	if r := g.GetRelevantTxids(); len(r) != 1 || r[0].Txid != closing.TxHash() || r[0].Height != 810_500 {
		t.Fatalf("relevant txids %+v", r)
	}
	g.TransactionUnconfirmed(closing.TxHash())
	if len(g.GetRelevantTxids()) != 0 {
		t.Fatal("spend not undone")
	}
	g.TransactionsConfirmed(hdr, []chaininterface.IndexedTx{{Index: 3, Tx: closing}}, 810_501)
	g.BestBlockUpdated(hdr, 810_501+SpentChannelForgetDepth-1)
	if !g.ChannelKnown(scid) {
		t.Fatal("forgotten early")
	}
	g.BestBlockUpdated(hdr, 810_501+SpentChannelForgetDepth)
	if g.ChannelKnown(scid) {
		t.Fatal("not forgotten")
	}
}

// blockingUTXO answers FundingOutput only when released, to show that a slow host lookup holds no lock.
type blockingUTXO struct {
	entered, release chan struct{}
	out              FundingOutput
}

func (b *blockingUTXO) FundingOutput(uint64) (FundingOutput, error) {
	b.entered <- struct{}{}
	<-b.release
	return b.out, nil
}

// TestGraphUTXOLookupHoldsNoLock: while the host's UTXOLookup is answering, readers and route searches
// proceed and other channels are added; a duplicate announcement that won meanwhile is refused after.
func TestGraphUTXOLookupHoldsNoLock(t *testing.T) {
	u := &blockingUTXO{entered: make(chan struct{}), release: make(chan struct{}), out: FundingOutput{ValueSat: 1000}}
	g := NewNetworkGraph(u)
	a, b := testKey(21, 0), testKey(21, 1)
	info := ChannelAnnouncementInfo{SCID: 7, NodeID1: a, NodeID2: b}
	if bytes.Compare(a[:], b[:]) > 0 {
		info.NodeID1, info.NodeID2 = b, a
	}
	done := make(chan error, 2)
	go func() { done <- g.AddChannel(info) }()
	<-u.entered
	v := g.ReadOnly() // a read lock: would block forever if AddChannel held the write lock
	if v.NumChannels() != 0 {
		t.Fatalf("%d channels before the lookup answered", v.NumChannels())
	}
	v.Release()
	go func() { done <- g.AddChannel(info) }() // the same channel again: also waits in the lookup
	<-u.entered
	close(u.release)
	errs := []error{<-done, <-done}
	ok, dup := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			ok++
		case errors.Is(err, ErrDuplicateChannel):
			dup++
		default:
			t.Fatalf("unexpected: %v", err)
		}
	}
	if ok != 1 || dup != 1 || g.NumChannels() != 1 {
		t.Fatalf("added %d, duplicates %d, channels %d", ok, dup, g.NumChannels())
	}
}
