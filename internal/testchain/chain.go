// Package testchain is an in-memory, script-checking Bitcoin chain for tests and the demo. It stands
// in for a full node: it implements chaininterface.BroadcasterInterface and chaininterface.FeeEstimator,
// keeps a mempool and a UTXO set, mines real wire.MsgBlocks on demand and delivers them, in order, to
// registered chaininterface.Listen implementations.
//
// Validation is real: every input is verified with btcd's txscript engine (StandardVerifyFlags:
// witness, taproot, BIP 65 CLTV, BIP 112 CSV, low-S, NULLFAIL, ...) given the prevouts' scripts and
// amounts; inputs must exist and be unspent; outputs may not exceed inputs; coinbase outputs need 100
// confirmations; nLockTime must be final (BIP 65/113) and BIP 68 relative locks met at the next
// block; outputs must be standard and above their dust threshold; weight must be ≤ 400000.
//
// The mempool has Bitcoin Core's (v28) fee market. A transaction must pay the minimum relay feerate
// (1 sat/vB = 250 sat/kw by default; SetMinRelayFeeratePerKw) over its virtual size, unless it is
// the parent of a one-parent-one-child package whose combined feerate does (SubmitPackage, or both
// in one BroadcastTransactions call): a zero-fee parent needs a fee-paying child. A transaction
// spending what mempool transactions already spend replaces them and their descendants under full
// RBF (BIP 125 rules 2 to 6, no signalling; see SubmitTransaction), or is refused. MineBlocks mines
// the whole mempool unless SetMiningFeeratePerKw sets a feerate, in which case it selects ancestor
// packages (so a child can pay for its parent, CPFP) and leaves the rest in the mempool.
// Transactions that come back from a disconnected block, or that stay in the mempool after a block,
// face no fee rule. Not modelled: mempool size limits and eviction, ancestor/descendant count
// limits and the CPFP carve-out, TRUC (version 3) rules, sigop-adjusted virtual size, block weight
// limits, fee deltas (prioritisetransaction).
//
// Time is deterministic: the package never reads the wall clock. Each block mined here is stamped 600
// seconds after its parent (so, from regtest genesis, genesis time + 600 s × height), and median time
// past is the median of the last 11 block timestamps, as in Bitcoin Core. No proof of work is done.
//
// Every method is safe for concurrent use. Listeners are called without the chain's lock held, so
// they may call back into the chain (for example BroadcastTransactions, or even MineBlocks). Block
// events are queued and delivered strictly in chain order by one goroutine at a time: a call that
// connects or disconnects blocks delivers them before it returns, unless it was made from inside a
// listener or while another goroutine is delivering, in which case that delivery loop hands them on
// after what it is delivering.
//
// A FundAddress block pays more than the block subsidy, so it is valid only on the chain that made it;
// ConnectBlock (importing blocks built elsewhere, such as the BOLT 3 test chain's block 1) checks
// consensus rules only, and MineBlocks puts what it selects in one block whatever its weight.
package testchain

import (
	"sort"
	"sync"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
)

// DefaultCoinbaseWitnessScript is the witness script of the P2WSH output that blocks mined here pay
// their subsidy and fees to, unless SetCoinbasePkScript says otherwise: a bare OP_TRUE, so anyone
// can spend it (once mature) with the witness [DefaultCoinbaseWitnessScript].
var DefaultCoinbaseWitnessScript = []byte{txscript.OP_TRUE}

// blockTimeStepSec is the spacing, in seconds, between the timestamps of blocks mined here.
const blockTimeStepSec = 600

// medianTimeSpan is the number of blocks whose timestamps make up the median time past.
const medianTimeSpan = 11

// Chain is an in-memory block chain with a mempool. Create it with New.
type Chain struct {
	params *chaincfg.Params

	mu         sync.Mutex
	blocks     []*blockRecord // index = height
	txIndex    map[chainhash.Hash]txLocation
	utxos      map[wire.OutPoint]coin
	spent      map[wire.OutPoint]chainhash.Hash // outpoints spent by confirmed transactions
	pool       []*poolEntry                     // mempool, in acceptance (and so dependency) order
	poolIndex  map[chainhash.Hash]*poolEntry
	poolSpends map[wire.OutPoint]chainhash.Hash
	rejected   []Rejection
	feerates   map[chaininterface.ConfirmationTarget]uint32
	defaultFee uint32
	cbScript   []byte
	built      uint64 // blocks built here, mixed into coinbases so that every block is unique
	listeners  []chaininterface.Listen

	// Fee policy, in sat per 1000 weight units: see SetMinRelayFeeratePerKw,
	// SetIncrementalRelayFeeratePerKw and SetMiningFeeratePerKw.
	minRelayFee    uint32
	incrementalFee uint32
	miningFee      uint32

	queue      []event // block events waiting for delivery
	delivering bool
}

type blockRecord struct {
	block  *wire.MsgBlock
	hash   chainhash.Hash
	height uint32
	mtp    int64      // median time past at this block, Unix seconds
	undo   []undoCoin // coins this block spent, in spending order
}

type undoCoin struct {
	op   wire.OutPoint
	coin coin
}

type txLocation struct {
	tx     *wire.MsgTx
	height uint32
}

type event struct {
	block        *wire.MsgBlock // BlockConnected when non-nil
	header       wire.BlockHeader
	height       uint32
	disconnected bool
}

// New returns a chain holding only params' genesis block (height 0), with an empty mempool and every
// feerate at chaininterface.FeeratePerKwFloor (253 sat/kw). params is normally
// &chaincfg.RegressionNetParams; nil means that. The genesis coinbase is not spendable.
func New(params *chaincfg.Params) *Chain {
	if params == nil {
		params = &chaincfg.RegressionNetParams
	}
	genesis := copyBlock(params.GenesisBlock)
	c := &Chain{
		params:     params,
		txIndex:    make(map[chainhash.Hash]txLocation),
		utxos:      make(map[wire.OutPoint]coin),
		spent:      make(map[wire.OutPoint]chainhash.Hash),
		poolIndex:  make(map[chainhash.Hash]*poolEntry),
		poolSpends: make(map[wire.OutPoint]chainhash.Hash),
		feerates:   make(map[chaininterface.ConfirmationTarget]uint32),
		defaultFee: chaininterface.FeeratePerKwFloor,

		minRelayFee:    DefaultMinRelayFeeratePerKw,
		incrementalFee: DefaultIncrementalRelayFeeratePerKw,
	}
	c.cbScript = p2wshScript(DefaultCoinbaseWitnessScript)
	rec := &blockRecord{block: genesis, hash: genesis.BlockHash(), height: 0, mtp: genesis.Header.Timestamp.Unix()}
	c.blocks = append(c.blocks, rec)
	for _, tx := range genesis.Transactions {
		c.txIndex[tx.TxHash()] = txLocation{tx: tx, height: 0}
	}
	return c
}

// Params returns the chain parameters the chain was created with.
func (c *Chain) Params() *chaincfg.Params { return c.params }

// RegisterListener adds l to the listeners that receive BlockConnected and BlockDisconnected for
// every block connected or disconnected from now on, in chain order. Each listener receives its own
// copy of each block.
func (c *Chain) RegisterListener(l chaininterface.Listen) {
	if l == nil {
		return
	}
	c.mu.Lock()
	c.listeners = append(c.listeners, l)
	c.mu.Unlock()
}

// SetCoinbasePkScript sets the output script that blocks mined from now on pay their subsidy and fees
// to (by default P2WSH of DefaultCoinbaseWitnessScript). Coinbase outputs need 100 confirmations
// before they can be spent.
func (c *Chain) SetCoinbasePkScript(pkScript []byte) {
	c.mu.Lock()
	c.cbScript = append([]byte(nil), pkScript...)
	c.mu.Unlock()
}

// SetFeeratePerKw sets the feerate, in sat per 1000 weight units, that EstimateFeeratePerKw returns
// for target.
func (c *Chain) SetFeeratePerKw(target chaininterface.ConfirmationTarget, feeratePerKw uint32) {
	c.mu.Lock()
	c.feerates[target] = feeratePerKw
	c.mu.Unlock()
}

// SetDefaultFeeratePerKw sets the feerate, in sat per 1000 weight units, returned for every target
// that SetFeeratePerKw has not set. It starts at chaininterface.FeeratePerKwFloor (253).
func (c *Chain) SetDefaultFeeratePerKw(feeratePerKw uint32) {
	c.mu.Lock()
	c.defaultFee = feeratePerKw
	c.mu.Unlock()
}

// EstimateFeeratePerKw implements chaininterface.FeeEstimator: it returns the feerate, in sat per
// 1000 weight units, set for target, or the default (253 unless changed).
func (c *Chain) EstimateFeeratePerKw(target chaininterface.ConfirmationTarget) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.feerates[target]; ok {
		return f
	}
	return c.defaultFee
}

// Height returns the height of the tip (0 when only genesis is there).
func (c *Chain) Height() uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tip().height
}

// BestBlock returns the tip's hash and height.
func (c *Chain) BestBlock() chaininterface.BestBlock {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := c.tip()
	return chaininterface.BestBlock{Hash: t.hash, Height: t.height}
}

// BlockAt returns a copy of the block at height on the best chain, or false above the tip.
func (c *Chain) BlockAt(height uint32) (*wire.MsgBlock, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if int(height) >= len(c.blocks) {
		return nil, false
	}
	return copyBlock(c.blocks[height].block), true
}

// MedianTimePast returns the tip's median time past, in Unix seconds: the median timestamp of the
// last 11 blocks. Time-based locktimes are compared with it (BIP 113).
func (c *Chain) MedianTimePast() int64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tip().mtp
}

// Mempool returns copies of the mempool's transactions in acceptance order (parents before children).
func (c *Chain) Mempool() []*wire.MsgTx {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*wire.MsgTx, len(c.pool))
	for i, e := range c.pool {
		out[i] = e.tx.Copy()
	}
	return out
}

// InMempool reports whether the transaction with this txid is in the mempool.
func (c *Chain) InMempool(txid chainhash.Hash) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	_, ok := c.poolIndex[txid]
	return ok
}

// Confirmations returns how many blocks of the best chain hold or follow the block that confirmed
// txid: 1 when it is in the tip, 0 when it is unconfirmed or unknown.
func (c *Chain) Confirmations(txid chainhash.Hash) uint32 {
	c.mu.Lock()
	defer c.mu.Unlock()
	loc, ok := c.txIndex[txid]
	if !ok {
		return 0
	}
	return c.tip().height - loc.height + 1
}

// GetTransaction returns a copy of the transaction with this txid, confirmed or in the mempool, and
// the height of its block (0 while it is in the mempool). The bool is false if it is unknown.
func (c *Chain) GetTransaction(txid chainhash.Hash) (*wire.MsgTx, uint32, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if loc, ok := c.txIndex[txid]; ok {
		return loc.tx.Copy(), loc.height, true
	}
	if e, ok := c.poolIndex[txid]; ok {
		return e.tx.Copy(), 0, true
	}
	return nil, 0, false
}

// UTXO returns a copy of the output at op if it is in the confirmed UTXO set (created by a confirmed
// transaction and not spent by one; mempool spends are ignored; see SpentBy). OP_RETURN outputs are
// never in the set.
func (c *Chain) UTXO(op wire.OutPoint) (*wire.TxOut, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cn, ok := c.utxos[op]
	if !ok {
		return nil, false
	}
	out := cn.out
	out.PkScript = append([]byte(nil), cn.out.PkScript...)
	return &out, true
}

// SpentBy returns the txid of the transaction, confirmed or in the mempool, that spends op.
func (c *Chain) SpentBy(op wire.OutPoint) (chainhash.Hash, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if h, ok := c.spent[op]; ok {
		return h, true
	}
	h, ok := c.poolSpends[op]
	return h, ok
}

// Rejected returns what BroadcastTransactions refused so far and why, oldest first.
func (c *Chain) Rejected() []Rejection {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]Rejection, len(c.rejected))
	for i, r := range c.rejected {
		out[i] = Rejection{Txid: r.Txid, Tx: r.Tx.Copy(), Err: r.Err}
	}
	return out
}

// SubmitTransaction validates tx against the chain and mempool and adds a copy of it to the mempool.
// It returns nil if tx was accepted or is already in the mempool or confirmed, and otherwise an
// error wrapping ErrMalformed, ErrNonStandard, ErrTxTooHeavy, ErrDust, ErrLockTimeNotFinal,
// ErrMissingInput, ErrDoubleSpend, ErrImmatureCoinbase, ErrValueOut, ErrSequenceLockNotMet,
// ErrFeeTooLow, ErrReplacementRefused or ErrScriptFailed (checked in that order). Refusals are not
// recorded in Rejected.
//
// Fees: tx must pay at least the minimum relay feerate over its virtual size (see
// SetMinRelayFeeratePerKw; a parent below it may still come in a package, see SubmitPackage).
// Replacement (Bitcoin Core 28's full RBF: no BIP 125 signalling needed): a tx spending outpoints
// that mempool transactions spend (its direct conflicts) evicts them and all their descendants when
// (rule 5) that is at most MaxReplacementEvictions (100) transactions; it spends no output of a
// transaction it evicts; (rule 2) each mempool transaction it spends from is one that a direct
// conflict also spends from; (rule 6) its feerate (fee over virtual size) is above each direct
// conflict's own; (rule 3) its fee is at least the sum of the evicted fees; and (rule 4) the fee it
// adds to that sum covers the incremental relay feerate (SetIncrementalRelayFeeratePerKw) over its
// own virtual size. Otherwise it is refused with ErrReplacementRefused, which wraps ErrDoubleSpend.
// A spend of an outpoint that a confirmed transaction spends is always refused with ErrDoubleSpend.
func (c *Chain) SubmitTransaction(tx *wire.MsgTx) error {
	if tx == nil {
		_, err := c.CheckTransaction(nil)
		return err
	}
	tx = tx.Copy()
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.acceptLocked(tx)
}

// CheckTransaction runs SubmitTransaction's checks, replacement rules included, without changing
// the mempool (like Bitcoin Core's testmempoolaccept) and returns tx's fee in satoshis. A
// transaction already in the mempool or confirmed is checked as if it were new, so it reports its
// inputs as spent (ErrDoubleSpend).
func (c *Chain) CheckTransaction(tx *wire.MsgTx) (int64, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p, err := c.evaluateLocked([]*wire.MsgTx{tx})
	if err != nil {
		return 0, err
	}
	return p.entries[0].fee, nil
}

// nextOpts is the validation context of the next block.
func (c *Chain) nextOpts(policy, scripts bool) checkOpts {
	t := c.tip()
	flags := txscript.StandardVerifyFlags
	if !policy {
		flags = ConsensusVerifyFlags
	}
	return checkOpts{height: t.height + 1, prevMTP: t.mtp, policy: policy, scripts: scripts, flags: flags}
}

func (c *Chain) tip() *blockRecord { return c.blocks[len(c.blocks)-1] }

// spendableOutputs returns the confirmed outputs paying pkScript that a transaction in the next block
// may spend (mature, not spent by the mempool), sorted by value, largest first, then by outpoint.
func (c *Chain) spendableOutputs(pkScript []byte) []spendable {
	c.mu.Lock()
	defer c.mu.Unlock()
	next := int64(c.tip().height) + 1
	var res []spendable
	for op, cn := range c.utxos {
		if string(cn.out.PkScript) != string(pkScript) {
			continue
		}
		if _, ok := c.poolSpends[op]; ok {
			continue
		}
		if cn.coinbase && !cn.mature && next-int64(cn.height) < int64(c.params.CoinbaseMaturity) {
			continue
		}
		res = append(res, spendable{op: op, valueSat: cn.out.Value})
	}
	sort.Slice(res, func(i, j int) bool {
		if res[i].valueSat != res[j].valueSat {
			return res[i].valueSat > res[j].valueSat
		}
		if res[i].op.Hash != res[j].op.Hash {
			return string(res[i].op.Hash[:]) < string(res[j].op.Hash[:])
		}
		return res[i].op.Index < res[j].op.Index
	})
	return res
}

type spendable struct {
	op       wire.OutPoint
	valueSat int64
}
