//go:build interop

package interop

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"math"
	"sort"
	"testing"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/mining"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

// A miner with a feerate floor, built by the test because btcd v0.25 has none that a CPFP can meet.
//
// btcd's options: -minrelaytxfee is both its mempool's floor and its block template's (TxMinFreeFee);
// a transaction below it is refused by the mempool, unless -norelaypriority lets it in as a "free"
// transaction (rate-limited by -limitfreerelay), and then the template (with -blockprioritysize=0)
// skips it. But the template scores each transaction by its own feerate: a child waits for its
// parent to be included (its "dependers" are only queued once the parent is), so a parent below the
// floor keeps its fee-paying child out too. btcd has no package relay (no submitpackage; an orphan
// child is only held until its parent arrives) and no ancestor-feerate mining, so with btcd's own
// miner a CPFP child never gets a low-fee parent mined: "btcd refuses to mine the commitment but
// mines it with its child" cannot be set up with btcd's options.
//
// mineAtFeerate is that miner: it builds the next block itself from btcd's mempool, choosing
// transactions as Bitcoin Core's ancestor-feerate mining does (a transaction goes in with its
// unconfirmed ancestors when that package pays at least the floor), and hands it to btcd with
// submitblock, which validates it like any block. btcd's mempool still takes every transaction
// paying its 1 sat/vB relay floor: the floor that matters is this miner's.

// mempoolEntry is one transaction of btcd's verbose getrawmempool.
type mempoolEntry struct {
	Weight  int64    `json:"weight"`
	Fee     float64  `json:"fee"` // BTC
	Depends []string `json:"depends"`
}

func (e mempoolEntry) feeSat() int64 { return int64(math.Round(e.Fee * 1e8)) }

// selectPackages returns the txids to mine from pool, parents first: repeatedly the unmined
// transaction whose package (itself and its unmined ancestors) has the highest feerate, while that
// feerate is at least floorPerKw sat per 1000 weight units.
func selectPackages(pool map[string]mempoolEntry, floorPerKw int64) []string {
	chosen := map[string]bool{}
	var order []string
	for {
		best, bestFee, bestWeight := "", int64(0), int64(1)
		for id := range pool {
			if chosen[id] {
				continue
			}
			fee, weight := packageOf(pool, id, chosen, map[string]bool{})
			if fee*bestWeight > bestFee*weight || best == "" {
				best, bestFee, bestWeight = id, fee, weight
			}
		}
		if best == "" || bestFee*1000 < floorPerKw*bestWeight {
			return order
		}
		order = appendWithAncestors(order, pool, best, chosen)
	}
}

// packageOf sums the fee (sat) and weight (WU) of id and its unchosen ancestors in pool.
func packageOf(pool map[string]mempoolEntry, id string, chosen, seen map[string]bool) (int64, int64) {
	if chosen[id] || seen[id] {
		return 0, 0
	}
	seen[id] = true
	e, ok := pool[id]
	if !ok {
		return 0, 0
	}
	fee, weight := e.feeSat(), e.Weight
	for _, p := range e.Depends {
		f, w := packageOf(pool, p, chosen, seen)
		fee, weight = fee+f, weight+w
	}
	return fee, weight
}

// appendWithAncestors appends id after its unchosen ancestors and marks them chosen.
func appendWithAncestors(order []string, pool map[string]mempoolEntry, id string, chosen map[string]bool) []string {
	if chosen[id] {
		return order
	}
	chosen[id] = true
	deps := append([]string(nil), pool[id].Depends...)
	sort.Strings(deps)
	for _, p := range deps {
		order = appendWithAncestors(order, pool, p, chosen)
	}
	return append(order, id)
}

// mineAtFeerate mines one block holding the mempool packages paying at least floorPerKw (sat/kw),
// submitted to btcd, waits until every node has it, and returns it.
func (n *network) mineAtFeerate(t testing.TB, floorPerKw int64) *wire.MsgBlock {
	t.Helper()
	b := n.btcd
	b.mineMu.Lock()
	var pool map[string]mempoolEntry
	if err := b.call(&pool, "getrawmempool", true); err != nil {
		b.mineMu.Unlock()
		t.Fatal(err)
	}
	var txs []*wire.MsgTx
	var fees int64
	for _, id := range selectPackages(pool, floorPerKw) {
		txs = append(txs, b.rawTx(t, id))
		fees += pool[id].feeSat()
	}
	blk, err := b.buildBlock(txs, fees, n.faucet.pkScript)
	if err == nil {
		err = b.submitBlock(blk)
	}
	b.mineMu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	n.waitSynced(t)
	return blk
}

// buildBlock makes a valid block on btcd's tip holding txs (in order, which pay fees sat), with a
// coinbase paying the subsidy and the fees to payTo, a witness commitment and a proof of work.
func (b *btcd) buildBlock(txs []*wire.MsgTx, fees int64, payTo []byte) (*wire.MsgBlock, error) {
	tipHeight, err := b.blockCount()
	if err != nil {
		return nil, err
	}
	prev, err := b.blockAt(tipHeight)
	if err != nil {
		return nil, err
	}
	height := int32(tipHeight + 1)
	coinbase, err := coinbaseTx(height, blockchain.CalcBlockSubsidy(height, regtest)+fees, payTo)
	if err != nil {
		return nil, err
	}
	all := []*btcutil.Tx{btcutil.NewTx(coinbase)}
	for _, tx := range txs {
		all = append(all, btcutil.NewTx(tx))
	}
	mining.AddWitnessCommitment(all[0], all)
	blk := &wire.MsgBlock{Header: wire.BlockHeader{
		Version:    0x20000000,
		PrevBlock:  prev.BlockHash(),
		MerkleRoot: blockchain.CalcMerkleRoot(all, false),
		Timestamp:  blockTime(prev.Header.Timestamp),
		Bits:       prev.Header.Bits, // regtest does not retarget
	}}
	for _, tx := range all {
		blk.Transactions = append(blk.Transactions, tx.MsgTx())
	}
	return blk, solve(&blk.Header)
}

// coinbaseTx is the coinbase of a block at height (BIP 34) paying valueSat to payTo.
func coinbaseTx(height int32, valueSat int64, payTo []byte) (*wire.MsgTx, error) {
	nonce := make([]byte, 8)
	_, _ = rand.Read(nonce)
	script, err := txscript.NewScriptBuilder().AddInt64(int64(height)).AddData(nonce).Script()
	if err != nil {
		return nil, err
	}
	tx := wire.NewMsgTx(1)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex}, SignatureScript: script,
		Sequence: wire.MaxTxInSequenceNum})
	tx.AddTxOut(&wire.TxOut{Value: valueSat, PkScript: payTo})
	return tx, nil
}

// blockTime is now, in whole seconds, and after the previous block's time.
func blockTime(prev time.Time) time.Time {
	now := time.Unix(time.Now().Unix(), 0)
	if !now.After(prev) {
		return prev.Add(time.Second)
	}
	return now
}

// solve finds a nonce meeting the header's target (a couple of tries on regtest).
func solve(h *wire.BlockHeader) error {
	target := blockchain.CompactToBig(h.Bits)
	for nonce := uint32(0); nonce < math.MaxUint32; nonce++ {
		h.Nonce = nonce
		hash := h.BlockHash()
		if blockchain.HashToBig(&hash).Cmp(target) <= 0 {
			return nil
		}
	}
	return fmt.Errorf("no nonce meets bits %08x", h.Bits)
}

// submitBlock hands blk to btcd (submitblock); btcd answers null when it took it.
func (b *btcd) submitBlock(blk *wire.MsgBlock) error {
	var buf bytes.Buffer
	if err := blk.Serialize(&buf); err != nil {
		return err
	}
	var res *string
	if err := b.call(&res, "submitblock", hex.EncodeToString(buf.Bytes())); err != nil {
		return err
	}
	if res != nil {
		return fmt.Errorf("btcd refused block %s: %s", blk.BlockHash(), *res)
	}
	return nil
}

// blockHas reports whether blk holds the transaction txid.
func blockHas(blk *wire.MsgBlock, txid chainhash.Hash) bool {
	for _, tx := range blk.Transactions {
		if tx.TxHash() == txid {
			return true
		}
	}
	return false
}
