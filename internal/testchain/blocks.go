package testchain

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
)

// MineBlocks mines n blocks on the tip and returns copies of them. Each block's coinbase collects the
// fees of the transactions it holds. With no mining feerate (the default) the first block holds every
// mempool transaction, in acceptance order (parents before children), and the others only a
// coinbase. With one (SetMiningFeeratePerKw), each block holds the mempool transactions whose
// ancestor packages reach it, selected as Bitcoin Core's ancestor-score mining does (see
// SetMiningFeeratePerKw; parents before children); the others stay in the mempool. Listeners
// receive BlockConnected for each block in order. n ≤ 0 mines nothing and returns nil.
func (c *Chain) MineBlocks(n int) []*wire.MsgBlock {
	if n <= 0 {
		return nil
	}
	c.mu.Lock()
	out := make([]*wire.MsgBlock, 0, n)
	for i := 0; i < n; i++ {
		txs, fees := c.selectForBlock()
		blk := c.buildBlock(txs, fees, nil)
		c.connectLocked(blk, nil)
		out = append(out, copyBlock(blk))
	}
	c.mu.Unlock()
	c.deliver()
	return out
}

// MineBlockWith mines one block on the tip holding exactly txs, in the given order, after checking each
// with SubmitTransaction's rules (relay policy included) except that inputs come from the confirmed
// UTXO set and earlier transactions in txs, never from the mempool, and no fee rule applies (a miner
// may include what it likes, zero-fee transactions too; the mining feerate is ignored). It returns a
// copy of the block, or, mining nothing, the first transaction's refusal (wrapping one of the
// package's sentinel errors). Mempool transactions that the block confirms or conflicts with leave
// the mempool, and so do their descendants.
func (c *Chain) MineBlockWith(txs ...*wire.MsgTx) (*wire.MsgBlock, error) {
	own := make([]*wire.MsgTx, len(txs))
	for i, tx := range txs {
		if tx == nil {
			return nil, fmt.Errorf("tx %d: %w: nil transaction", i, ErrMalformed)
		}
		own[i] = tx.Copy()
	}
	c.mu.Lock()
	fees, err := c.checkBlockTxs(own, c.nextOpts(true, true))
	if err != nil {
		c.mu.Unlock()
		return nil, err
	}
	blk := c.buildBlock(own, fees, nil)
	c.connectLocked(blk, nil)
	res := copyBlock(blk)
	c.mu.Unlock()
	c.deliver()
	return res, nil
}

// ConnectBlock connects a block built elsewhere (for example a fixture chain's block 1) on the tip,
// checking it by consensus rules: its PrevBlock must be the tip, its merkle root and any witness
// commitment must be right, its first and only its first transaction is a coinbase paying at most the
// subsidy plus fees, its timestamp is above the tip's median time past, and every other transaction
// passes the checks of SubmitTransaction with consensus script flags (ConsensusVerifyFlags) and no
// relay policy. Proof of work is not checked. Errors wrap ErrBadBlock, and for a bad transaction also
// its sentinel. The chain keeps a copy of the block.
func (c *Chain) ConnectBlock(block *wire.MsgBlock) error {
	if block == nil || len(block.Transactions) == 0 {
		return fmt.Errorf("%w: no transactions", ErrBadBlock)
	}
	blk := copyBlock(block)
	c.mu.Lock()
	if err := c.checkForeignBlock(blk); err != nil {
		c.mu.Unlock()
		return err
	}
	c.connectLocked(blk, nil)
	c.mu.Unlock()
	c.deliver()
	return nil
}

// FundAddress mines one block whose coinbase, besides the usual subsidy output, pays valueSat
// satoshis to pkScript, and returns that output's outpoint. Unlike other coinbase outputs it is
// exempt from coinbase maturity, so it can be spent at once (it has one confirmation). The mempool is
// left alone (the block holds no other transactions). valueSat must be in 1..2.1e15; otherwise
// nothing is mined and the zero OutPoint is returned. A DisconnectTip of that block removes the
// output, as a reorganisation would.
func (c *Chain) FundAddress(pkScript []byte, valueSat int64) wire.OutPoint {
	if valueSat <= 0 || valueSat > btcutil.MaxSatoshi {
		return wire.OutPoint{}
	}
	out := &wire.TxOut{Value: valueSat, PkScript: append([]byte(nil), pkScript...)}
	c.mu.Lock()
	blk := c.buildBlock(nil, 0, out)
	op := wire.OutPoint{Hash: blk.Transactions[0].TxHash(), Index: 1}
	c.connectLocked(blk, map[wire.OutPoint]bool{op: true})
	c.mu.Unlock()
	c.deliver()
	return op
}

// DisconnectTip removes the tip block, as a reorganisation does: its outputs leave the UTXO set, the
// outputs it spent return, its non-coinbase transactions go back to the front of the mempool whatever
// they pay, as in Bitcoin Core (those no longer valid at the new tip, such as spends of its coinbase,
// are dropped, with their descendants), and listeners receive BlockDisconnected(header, height).
// Genesis is never removed.
func (c *Chain) DisconnectTip() {
	c.mu.Lock()
	t := c.tip()
	if t.height == 0 {
		c.mu.Unlock()
		return
	}
	blk := t.block
	// Restore what the block spent first, then remove everything it created: an output both created
	// and spent inside the block must end up gone.
	for i := len(t.undo) - 1; i >= 0; i-- {
		u := t.undo[i]
		c.utxos[u.op] = u.coin
		delete(c.spent, u.op)
	}
	for i := len(blk.Transactions) - 1; i >= 0; i-- {
		tx := blk.Transactions[i]
		txid := tx.TxHash()
		for j := range tx.TxOut {
			delete(c.utxos, wire.OutPoint{Hash: txid, Index: uint32(j)})
		}
		delete(c.txIndex, txid)
	}
	c.blocks = c.blocks[:len(c.blocks)-1]
	var back []*wire.MsgTx
	if len(blk.Transactions) > 1 {
		back = blk.Transactions[1:]
	}
	c.rebuildPool(back)
	c.queue = append(c.queue, event{header: blk.Header, height: t.height, disconnected: true})
	c.mu.Unlock()
	c.deliver()
}

// checkBlockTxs validates txs as the non-coinbase transactions of the next block and returns their
// total fee. The caller holds c.mu.
func (c *Chain) checkBlockTxs(txs []*wire.MsgTx, o checkOpts) (int64, error) {
	created := make(map[wire.OutPoint]coin)
	spentHere := make(map[wire.OutPoint]chainhash.Hash)
	view := func(op wire.OutPoint) (coin, error) {
		if h, ok := spentHere[op]; ok {
			return coin{}, errDoubleSpend(op, h, "an earlier transaction of the block")
		}
		if cn, ok := created[op]; ok {
			return cn, nil
		}
		if cn, ok := c.utxos[op]; ok {
			return cn, nil
		}
		if h, ok := c.spent[op]; ok {
			return coin{}, errDoubleSpend(op, h, "a confirmed transaction")
		}
		return coin{}, ErrMissingInput
	}
	var fees int64
	for i, tx := range txs {
		fee, err := c.checkTx(tx, view, o)
		if err != nil {
			return 0, fmt.Errorf("tx %d (%v): %w", i, tx.TxHash(), err)
		}
		fees += fee
		txid := tx.TxHash()
		for _, in := range tx.TxIn {
			spentHere[in.PreviousOutPoint] = txid
		}
		for j, out := range tx.TxOut {
			created[wire.OutPoint{Hash: txid, Index: uint32(j)}] = coin{out: *out, height: o.height}
		}
	}
	return fees, nil
}

// checkForeignBlock checks a block for ConnectBlock. The caller holds c.mu.
func (c *Chain) checkForeignBlock(blk *wire.MsgBlock) error {
	t := c.tip()
	if blk.Header.PrevBlock != t.hash {
		return fmt.Errorf("%w: parent %v is not the tip %v", ErrBadBlock, blk.Header.PrevBlock, t.hash)
	}
	if !blockchain.IsCoinBaseTx(blk.Transactions[0]) {
		return fmt.Errorf("%w: first transaction is not a coinbase", ErrBadBlock)
	}
	utxs := make([]*btcutil.Tx, len(blk.Transactions))
	for i, tx := range blk.Transactions {
		if i > 0 && blockchain.IsCoinBaseTx(tx) {
			return fmt.Errorf("%w: transaction %d is a second coinbase", ErrBadBlock, i)
		}
		utxs[i] = btcutil.NewTx(tx)
		if err := blockchain.CheckTransactionSanity(utxs[i]); err != nil {
			return fmt.Errorf("%w: transaction %d: %w: %v", ErrBadBlock, i, ErrMalformed, err)
		}
	}
	if root := blockchain.CalcMerkleRoot(utxs, false); root != blk.Header.MerkleRoot {
		return fmt.Errorf("%w: merkle root %v, header says %v", ErrBadBlock, root, blk.Header.MerkleRoot)
	}
	if err := blockchain.ValidateWitnessCommitment(btcutil.NewBlock(blk)); err != nil {
		return fmt.Errorf("%w: %v", ErrBadBlock, err)
	}
	if ts := blk.Header.Timestamp.Unix(); ts <= t.mtp {
		return fmt.Errorf("%w: timestamp %d not above median time past %d", ErrBadBlock, ts, t.mtp)
	}
	fees, err := c.checkBlockTxs(blk.Transactions[1:], c.nextOpts(false, true))
	if err != nil {
		return fmt.Errorf("%w: %w", ErrBadBlock, err)
	}
	var cbOut int64
	for _, out := range blk.Transactions[0].TxOut {
		cbOut += out.Value
	}
	if limit := blockchain.CalcBlockSubsidy(int32(t.height+1), c.params) + fees; cbOut > limit {
		return fmt.Errorf("%w: coinbase pays %d sat, subsidy plus fees is %d", ErrBadBlock, cbOut, limit)
	}
	return nil
}

// buildBlock makes the next block: a coinbase paying subsidy+fees to the coinbase script (and extra,
// if not nil), txs, a witness commitment, the merkle root, and a timestamp 600 s after the tip's.
// The caller holds c.mu.
func (c *Chain) buildBlock(txs []*wire.MsgTx, fees int64, extra *wire.TxOut) *wire.MsgBlock {
	t := c.tip()
	height := t.height + 1
	c.built++
	sigScript, _ := txscript.NewScriptBuilder().AddInt64(int64(height)).AddInt64(int64(c.built)).Script()
	var witnessNonce [32]byte
	cb := wire.NewMsgTx(2)
	cb.AddTxIn(&wire.TxIn{
		PreviousOutPoint: wire.OutPoint{Index: wire.MaxPrevOutIndex},
		SignatureScript:  sigScript,
		Witness:          wire.TxWitness{witnessNonce[:]},
		Sequence:         wire.MaxTxInSequenceNum,
	})
	subsidy := blockchain.CalcBlockSubsidy(int32(height), c.params)
	cb.AddTxOut(&wire.TxOut{Value: subsidy + fees, PkScript: append([]byte(nil), c.cbScript...)})
	if extra != nil {
		cb.AddTxOut(extra)
	}

	all := make([]*btcutil.Tx, 0, len(txs)+1)
	all = append(all, btcutil.NewTx(cb))
	for _, tx := range txs {
		all = append(all, btcutil.NewTx(tx))
	}
	// BIP 141 witness commitment: SHA256d(witness merkle root || witness nonce).
	witnessRoot := blockchain.CalcMerkleRoot(all, true)
	var buf [64]byte
	copy(buf[:32], witnessRoot[:])
	copy(buf[32:], witnessNonce[:])
	commitment := chainhash.DoubleHashB(buf[:])
	cb.AddTxOut(&wire.TxOut{Value: 0, PkScript: append(append([]byte(nil), blockchain.WitnessMagicBytes...), commitment...)})
	all[0] = btcutil.NewTx(cb)

	blk := &wire.MsgBlock{
		Header: wire.BlockHeader{
			Version:    0x20000000,
			PrevBlock:  t.hash,
			MerkleRoot: blockchain.CalcMerkleRoot(all, false),
			Timestamp:  t.block.Header.Timestamp.Add(blockTimeStepSec * time.Second),
			Bits:       c.params.PowLimitBits,
		},
	}
	blk.Transactions = append(blk.Transactions, cb)
	blk.Transactions = append(blk.Transactions, txs...)
	return blk
}

// connectLocked appends blk (owned by the chain, already checked) to the chain, updates the UTXO set,
// rebuilds the mempool and queues BlockConnected. mature lists coinbase outputs exempt from maturity.
// The caller holds c.mu.
func (c *Chain) connectLocked(blk *wire.MsgBlock, mature map[wire.OutPoint]bool) {
	height := c.tip().height + 1
	rec := &blockRecord{block: blk, hash: blk.BlockHash(), height: height}
	for i, tx := range blk.Transactions {
		txid := tx.TxHash()
		if i > 0 {
			for _, in := range tx.TxIn {
				op := in.PreviousOutPoint
				rec.undo = append(rec.undo, undoCoin{op: op, coin: c.utxos[op]})
				delete(c.utxos, op)
				c.spent[op] = txid
			}
		}
		for j, out := range tx.TxOut {
			if txscript.IsUnspendable(out.PkScript) {
				continue
			}
			op := wire.OutPoint{Hash: txid, Index: uint32(j)}
			c.utxos[op] = coin{out: *out, height: height, coinbase: i == 0, mature: mature[op]}
		}
		c.txIndex[txid] = txLocation{tx: tx, height: height}
	}
	c.blocks = append(c.blocks, rec)
	rec.mtp = c.medianTimePast(height)
	c.rebuildPool(nil)
	c.queue = append(c.queue, event{block: blk, header: blk.Header, height: height})
}

// medianTimePast returns the median of the timestamps of the (up to) 11 blocks ending at height.
func (c *Chain) medianTimePast(height uint32) int64 {
	first := 0
	if int(height)+1 > medianTimeSpan {
		first = int(height) + 1 - medianTimeSpan
	}
	ts := make([]int64, 0, medianTimeSpan)
	for h := first; h <= int(height); h++ {
		ts = append(ts, c.blocks[h].block.Header.Timestamp.Unix())
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i] < ts[j] })
	return ts[len(ts)/2]
}

// deliver hands queued block events to the listeners, in order, without holding c.mu. Only one
// goroutine delivers at a time; a call made while another delivers (or from inside a listener)
// returns at once, leaving its events to that delivery loop.
func (c *Chain) deliver() {
	c.mu.Lock()
	if c.delivering {
		c.mu.Unlock()
		return
	}
	c.delivering = true
	defer func() {
		if r := recover(); r != nil {
			c.mu.Lock()
			c.delivering = false
			c.mu.Unlock()
			panic(r)
		}
	}()
	for len(c.queue) > 0 {
		ev := c.queue[0]
		c.queue[0] = event{}
		c.queue = c.queue[1:]
		listeners := append([]chaininterface.Listen(nil), c.listeners...)
		c.mu.Unlock()
		for _, l := range listeners {
			if ev.disconnected {
				h := ev.header
				l.BlockDisconnected(&h, ev.height)
			} else {
				l.BlockConnected(copyBlock(ev.block), ev.height)
			}
		}
		c.mu.Lock()
	}
	c.delivering = false
	c.mu.Unlock()
}

// copyBlock returns a deep copy of blk.
func copyBlock(blk *wire.MsgBlock) *wire.MsgBlock {
	cp := &wire.MsgBlock{Header: blk.Header, Transactions: make([]*wire.MsgTx, len(blk.Transactions))}
	for i, tx := range blk.Transactions {
		cp.Transactions[i] = tx.Copy()
	}
	return cp
}

// p2wshScript returns the P2WSH output script of witnessScript (OP_0 <SHA256(witnessScript)>).
func p2wshScript(witnessScript []byte) []byte {
	h := sha256.Sum256(witnessScript)
	return append([]byte{txscript.OP_0, txscript.OP_DATA_32}, h[:]...)
}

func errDoubleSpend(op wire.OutPoint, by chainhash.Hash, where string) error {
	return fmt.Errorf("%w: %v already spent by %s %v", ErrDoubleSpend, op, where, by)
}

func isMissingInput(err error) bool { return errors.Is(err, ErrMissingInput) }
