// Package wallet is the on-chain wallet of lnkit's example node: a BIP 84 (native SegWit, P2WPKH only)
// hierarchical deterministic wallet that learns about its coins from whole blocks, in chain order, through
// lnkit's chaininterface.Listen shape (BlockConnected, BlockDisconnected), funds and signs transactions
// (BIP 143), and keeps its state in one JSON file.
//
// Keys: the BIP 32 master key is made from HMAC-SHA256(key "lnkit wallet", seed), so the same seed can also
// feed lnkit's keys.KeysManager without the two sharing keys. The account is m/84'/coin'/0' (coin 0 on
// mainnet, 1 on every test network), with the external (receive) chain 0 and the change chain 1 (BIP 44
// layout, BIP 84 purpose). The wallet watches every address it has handed out plus GapLimit unused
// addresses beyond the last one used on each chain, so coins sent to addresses not yet issued are found.
//
// Coins: an output paying one of the watched scripts is a coin; it is confirmed once a block holds its
// transaction, and a coinbase coin becomes spendable only after the network's coinbase maturity (100
// blocks). Transactions the node broadcasts go through AddOwnTransaction so that the coins they spend are
// marked at once and their change is known before it confirms. When a block is disconnected, its
// transactions become unconfirmed again (their coinbases disappear), and an unconfirmed transaction that a
// later block double-spends is dropped with its descendants.
//
// Fee bumping: BumpSource is the wallet as lnkit's bumptx package sees it (a bumptx.WalletSource), so
// that the node's anchor channels can get their commitments and HTLC transactions confirmed with
// CPFP children and fee inputs paid from the wallet, replaced (BIP 125) as the monitor raises its
// target.
//
// State lives in a Storage: dir/wallet.json with Open (written as a whole: temporary file, fsync, rename),
// or wherever OpenStorage is given (the example node keeps it in its KVStore). Every call that hands
// out something (an address, a funded transaction) saves before it returns; block callbacks save when a
// block touched the wallet and otherwise every SaveEveryBlocks blocks, so after a crash the wallet resumes
// from a slightly older best block and the chain follower replays the blocks since. Reorganisations deeper
// than PruneDepth blocks cannot be undone: records of transactions confirmed that deep are dropped.
//
// A Wallet is safe for concurrent use.
package wallet

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/chaininterface"
)

// BlockRef names a block by hash and height. It is chaininterface.BestBlock, so the wallet's BestBlock, a
// channel manager's ChainParams.BestBlock and the btcdchain package's BlockRef are one type.
type BlockRef = chaininterface.BestBlock

const (
	// GapLimit is how many unused addresses beyond the last used (or issued) one the wallet watches on each
	// chain (BIP 44's address gap limit).
	GapLimit = 20
	// PruneDepth is how many blocks deep a confirmed transaction's record is kept (to undo a
	// reorganisation); a spent coin is forgotten once its spend is that deep.
	PruneDepth = 1000
	// SaveEveryBlocks bounds how many blocks that did not touch the wallet may pass between two saves.
	SaveEveryBlocks = 50
	// DustLimitSat is the smallest change output, in satoshis, that FundTransaction creates: the dust
	// threshold of a P2WPKH output at Bitcoin Core's default dust relay feerate (3 sat/vbyte × 98 vbytes).
	DustLimitSat = 294
	// StateFileName is the name of the state file inside the wallet's directory.
	StateFileName = "wallet.json"

	// ExternalChain and ChangeChain are the BIP 44 "change" levels of the account: receive addresses and
	// change addresses.
	ExternalChain uint32 = 0
	ChangeChain   uint32 = 1

	// seedKey keys the HMAC that turns the caller's seed into the BIP 32 seed.
	seedKey = "lnkit wallet"
	// p2wpkhSigMaxLen is the longest DER signature with a low S plus its sighash byte, in bytes.
	p2wpkhSigMaxLen = 72
)

// Errors returned by the wallet. They are sentinels, matched with errors.Is.
var (
	// ErrInsufficientFunds: the confirmed, unlocked coins cannot pay the outputs and the fee.
	ErrInsufficientFunds = errors.New("wallet: insufficient funds")
	// ErrInvalidOutputs: FundTransaction got no outputs, a nil output or an out-of-range value.
	ErrInvalidOutputs = errors.New("wallet: invalid outputs")
	// ErrInvalidSeed: the seed is shorter than 16 or longer than 64 bytes.
	ErrInvalidSeed = errors.New("wallet: invalid seed")
	// ErrWrongWallet: the state file was written for another seed or network.
	ErrWrongWallet = errors.New("wallet: state file belongs to another seed or network")
	// ErrCorruptState: the state file cannot be decoded.
	ErrCorruptState = errors.New("wallet: corrupt state file")
	// ErrConflict: a transaction spends a coin that a confirmed transaction already spent.
	ErrConflict = errors.New("wallet: transaction conflicts with a confirmed spend")
	// ErrNothingToSweep: every descriptor given to SweepSpendableOutputs is already being spent, or what is
	// left after the fee is below the dust limit.
	ErrNothingToSweep = errors.New("wallet: nothing to sweep")
	// ErrBlockOutOfOrder: a block callback did not extend (or remove) the wallet's best block; it was
	// ignored. Reported by Err.
	ErrBlockOutOfOrder = errors.New("wallet: block does not fit the wallet's best block")
	// ErrClosed: the wallet was closed.
	ErrClosed = errors.New("wallet: closed")
)

// keyPath is the last two BIP 32 levels of a coin's key: chain (0 external, 1 change) and index.
// keyPath is KeyPath.
type keyPath = KeyPath

// coin is an output paying one of our scripts.
type coin struct {
	ValueSat int64
	PkScript []byte
	Path     keyPath
	Height   uint32 // block height that confirmed it; 0 while unconfirmed
	Coinbase bool
}

// txRecord is a transaction that creates or spends our coins (or that we broadcast).
type txRecord struct {
	Tx       *wire.MsgTx
	Height   uint32 // 0 while unconfirmed
	Coinbase bool
	Own      bool // handed to AddOwnTransaction: rebroadcast while unconfirmed
	Claim    bool // signed by the BumpSource: its coins may be spent again by a replacement
}

// Wallet is a BIP 84 wallet. Create it with Open.
type Wallet struct {
	mu     sync.Mutex
	store  Storage // where the state is saved
	net    *chaincfg.Params
	signer Signer                     // holds the private keys
	chains [2]*hdkeychain.ExtendedKey // public keys of m/84'/coin'/0'/0 and .../1
	acctID []byte                     // compressed public key of the account, identifies the seed

	scripts map[string]keyPath // watched pkScripts
	derived [2]uint32          // scripts derived (watched) per chain: indexes 0..derived-1
	next    [2]uint32          // next index to hand out per chain
	used    [2]int64           // highest index seen in a coin per chain, -1 if none

	best     BlockRef
	birthday BlockRef
	coins    map[wire.OutPoint]*coin
	txs      map[chainhash.Hash]*txRecord
	spends   map[wire.OutPoint]chainhash.Hash // input -> recorded transaction spending it
	locked   map[wire.OutPoint]struct{}
	// claimTxids are transactions the BumpSource signed and the wallet has not recorded yet.
	claimTxids map[chainhash.Hash]struct{}

	dirty      bool // changes not yet saved
	sinceSave  int  // blocks processed since the last save
	blockErr   error
	closed     bool
	coinbaseMa int32 // coinbase maturity, blocks
}

// Open opens the wallet kept in dir (created if missing, mode 0700), or creates a new one there.
//
// seed is the node's secret seed (16 to 64 bytes; lnkit's KeysManager seed is 32 bytes); the BIP 32 seed
// is HMAC-SHA256(key "lnkit wallet", seed). net selects the coin type (0 on mainnet, 1 otherwise) and the
// address encoding. birthday is the block the wallet starts after when it is created: coins confirmed at or
// below it are never seen, so give the chain tip for a fresh seed; it is ignored when dir already holds a
// wallet, which resumes at its saved best block.
//
// Errors: ErrInvalidSeed, ErrWrongWallet (dir holds a wallet of another seed or network), ErrCorruptState,
// or the file system's error.
func Open(dir string, seed []byte, net *chaincfg.Params, birthday BlockRef) (*Wallet, error) {
	st, err := NewFileStorage(dir)
	if err != nil {
		return nil, err
	}
	return OpenStorage(st, seed, net, birthday)
}

// OpenStorage opens the wallet whose state st holds, or creates one there, as Open does for a
// directory. Errors: those of Open, and st's, wrapped.
func OpenStorage(st Storage, seed []byte, net *chaincfg.Params, birthday BlockRef) (*Wallet, error) {
	signer, err := NewSeedSigner(seed)
	if err != nil {
		return nil, err
	}
	return OpenWithSigner(st, signer, net, birthday)
}

// OpenWithSigner opens the wallet whose state st holds, or creates one there, as OpenStorage does, with
// its keys held by signer: the wallet itself keeps only the account's public key (a watch-only wallet
// that asks signer for each signature). Errors: those of OpenStorage, and signer's.
func OpenWithSigner(st Storage, signer Signer, net *chaincfg.Params, birthday BlockRef) (*Wallet, error) {
	if net == nil {
		return nil, errors.New("wallet: nil network parameters")
	}
	if signer == nil {
		return nil, errors.New("wallet: nil signer")
	}
	acct, err := signer.AccountPubKey(net)
	if err != nil {
		return nil, fmt.Errorf("wallet: account key: %w", err)
	}
	chains, err := deriveChains(acct)
	if err != nil {
		return nil, err
	}
	acctPub, err := acct.ECPubKey()
	if err != nil {
		return nil, fmt.Errorf("wallet: account key: %w", err)
	}
	w := &Wallet{
		store:      st,
		net:        net,
		signer:     signer,
		chains:     chains,
		acctID:     acctPub.SerializeCompressed(),
		scripts:    make(map[string]keyPath),
		used:       [2]int64{-1, -1},
		best:       birthday,
		birthday:   birthday,
		coins:      make(map[wire.OutPoint]*coin),
		txs:        make(map[chainhash.Hash]*txRecord),
		spends:     make(map[wire.OutPoint]chainhash.Hash),
		locked:     make(map[wire.OutPoint]struct{}),
		claimTxids: make(map[chainhash.Hash]struct{}),
		coinbaseMa: int32(net.CoinbaseMaturity),
	}
	data, err := st.Load()
	switch {
	case err == nil:
		st, err := decodeState(data)
		if err != nil {
			return nil, err
		}
		if err := w.restore(st); err != nil {
			return nil, err
		}
	case errors.Is(err, ErrNoState):
		w.extendWatch()
		if err := w.save(); err != nil {
			return nil, err
		}
	default:
		return nil, fmt.Errorf("wallet: %w", err)
	}
	return w, nil
}

// coinType is BIP 44's coin type: 0 for Bitcoin mainnet, 1 for every test network.
func coinType(net *chaincfg.Params) uint32 {
	if net.Net == wire.MainNet {
		return 0
	}
	return 1
}

// deriveChains derives the account's two chains (external, change) from its extended public key.
func deriveChains(acct *hdkeychain.ExtendedKey) ([2]*hdkeychain.ExtendedKey, error) {
	var chains [2]*hdkeychain.ExtendedKey
	for c := range chains {
		ck, err := acct.Derive(uint32(c))
		if err != nil {
			return chains, fmt.Errorf("wallet: deriving chain %d: %w", c, err)
		}
		chains[c] = ck
	}
	return chains, nil
}

// p2wpkhScript returns OP_0 <HASH160(compressed pubkey)>.
func p2wpkhScript(pub *btcec.PublicKey) []byte {
	return append([]byte{txscript.OP_0, txscript.OP_DATA_20}, btcutil.Hash160(pub.SerializeCompressed())...)
}

// scriptAt derives the P2WPKH script of path.
func (w *Wallet) scriptAt(p keyPath) ([]byte, error) {
	k, err := w.chains[p.Chain].Derive(p.Index)
	if err != nil {
		return nil, fmt.Errorf("wallet: deriving %d/%d: %w", p.Chain, p.Index, err)
	}
	pub, err := k.ECPubKey()
	if err != nil {
		return nil, err
	}
	return p2wpkhScript(pub), nil
}

// extendWatch derives scripts so that each chain watches every issued index and GapLimit beyond the
// highest issued or used one. The caller holds w.mu (or owns w).
func (w *Wallet) extendWatch() {
	for c := uint32(0); c < 2; c++ {
		want := w.next[c]
		if u := w.used[c] + 1; u > int64(want) {
			want = uint32(u)
		}
		want += GapLimit
		for w.derived[c] < want {
			p := keyPath{Chain: c, Index: w.derived[c]}
			s, err := w.scriptAt(p)
			if err != nil {
				// Derive fails for about 1 in 2^127 indexes (BIP 32): such an index is skipped by
				// construction since its script is never watched nor issued.
				w.derived[c]++
				continue
			}
			w.scripts[string(s)] = p
			w.derived[c]++
		}
	}
}

// markUsed records that a coin paid path: the chain's next index moves past it and the watch window grows.
func (w *Wallet) markUsed(p keyPath) {
	if int64(p.Index) > w.used[p.Chain] {
		w.used[p.Chain] = int64(p.Index)
	}
	if w.next[p.Chain] <= p.Index {
		w.next[p.Chain] = p.Index + 1
	}
	w.extendWatch()
}

// issue hands out the next index of chain c and returns its script. The caller holds w.mu and saves.
func (w *Wallet) issue(c uint32) ([]byte, error) {
	for {
		p := keyPath{Chain: c, Index: w.next[c]}
		w.next[c]++
		s, err := w.scriptAt(p)
		if err != nil {
			continue // invalid child (BIP 32): skip the index
		}
		w.extendWatch()
		w.dirty = true
		return s, nil
	}
}

// NewAddress hands out the next unused receive address (m/84'/coin'/0'/0/i) as a P2WPKH address of the
// wallet's network, after saving that it was issued. Errors: ErrClosed, or the file system's error.
func (w *Wallet) NewAddress() (btcutil.Address, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	s, err := w.issue(ExternalChain)
	if err != nil {
		return nil, err
	}
	if err := w.save(); err != nil {
		return nil, err
	}
	return btcutil.NewAddressWitnessPubKeyHash(s[2:], w.net)
}

// ChangeScript hands out the next change script (m/84'/coin'/0'/1/i), a 22-byte P2WPKH output script, after
// saving that it was issued. Useful as a cooperative-close or sweep destination that the wallet watches.
// Errors: ErrClosed, or the file system's error.
func (w *Wallet) ChangeScript() ([]byte, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil, ErrClosed
	}
	s, err := w.issue(ChangeChain)
	if err != nil {
		return nil, err
	}
	if err := w.save(); err != nil {
		return nil, err
	}
	return s, nil
}

// IsMine reports whether pkScript is one of the wallet's watched scripts.
func (w *Wallet) IsMine(pkScript []byte) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	_, ok := w.scripts[string(pkScript)]
	return ok
}

// BestBlock returns the last block the wallet processed (its birthday before any). Hand it to the chain
// follower as the wallet's starting point.
func (w *Wallet) BestBlock() BlockRef {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.best
}

// Birthday returns the block the wallet was created at.
func (w *Wallet) Birthday() BlockRef {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.birthday
}

// mature reports whether c may be spent by a transaction in the block after the wallet's best block.
func (w *Wallet) mature(c *coin) bool {
	if c.Height == 0 {
		return false
	}
	if !c.Coinbase {
		return true
	}
	return int64(w.best.Height)+1-int64(c.Height) >= int64(w.coinbaseMa)
}

// Balance returns, in satoshis, the confirmed balance (unspent coins with at least one confirmation that
// a transaction could spend now, coins locked by FundTransaction included) and the unconfirmed balance
// (unspent coins of unconfirmed transactions, such as change of our own broadcasts, plus immature
// coinbase coins).
func (w *Wallet) Balance() (confirmed, unconfirmed btcutil.Amount) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for op, c := range w.coins {
		if _, spent := w.spends[op]; spent {
			continue
		}
		if w.mature(c) {
			confirmed += btcutil.Amount(c.ValueSat)
		} else {
			unconfirmed += btcutil.Amount(c.ValueSat)
		}
	}
	return confirmed, unconfirmed
}

// PaidBySpendOf returns the values, in satoshis, of the outputs paying the wallet of the recorded
// transaction that spends op, confirmed or not, spent since or not; nil if no recorded transaction
// spends op. For a channel's funding outpoint these are the outputs of a cooperative close (or of a
// commitment) that pay the wallet directly, which the channel's monitor also lists as claimable
// until they are final.
func (w *Wallet) PaidBySpendOf(op wire.OutPoint) []int64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	r := w.txs[w.spends[op]]
	if r == nil {
		return nil
	}
	var out []int64
	for _, o := range r.Tx.TxOut {
		if _, ok := w.scripts[string(o.PkScript)]; ok {
			out = append(out, o.Value)
		}
	}
	return out
}

// UTXO is one unspent coin of the wallet.
type UTXO struct {
	OutPoint wire.OutPoint
	ValueSat int64
	PkScript []byte
	// Height is the block height that confirmed it, 0 while unconfirmed.
	Height   uint32
	Coinbase bool
	// Spendable: confirmed and, for a coinbase, mature.
	Spendable bool
	// Locked: reserved by FundTransaction for a transaction not yet broadcast.
	Locked bool
}

// ListUnspent returns the wallet's unspent coins, confirmed ones first by height, then by outpoint.
func (w *Wallet) ListUnspent() []UTXO {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []UTXO
	for op, c := range w.coins {
		if _, spent := w.spends[op]; spent {
			continue
		}
		_, locked := w.locked[op]
		out = append(out, UTXO{OutPoint: op, ValueSat: c.ValueSat, PkScript: append([]byte(nil), c.PkScript...),
			Height: c.Height, Coinbase: c.Coinbase, Spendable: w.mature(c), Locked: locked})
	}
	sort.Slice(out, func(i, j int) bool {
		hi, hj := out[i].Height, out[j].Height
		if (hi == 0) != (hj == 0) {
			return hj == 0
		}
		if hi != hj {
			return hi < hj
		}
		return lessOutPoint(out[i].OutPoint, out[j].OutPoint)
	})
	return out
}

func lessOutPoint(a, b wire.OutPoint) bool {
	if c := bytes.Compare(a.Hash[:], b.Hash[:]); c != 0 {
		return c < 0
	}
	return a.Index < b.Index
}

// UnconfirmedTransactions returns copies of the transactions given to AddOwnTransaction (or built by
// SweepSpendableOutputs) that are not confirmed yet, parents before children, for the node to rebroadcast.
func (w *Wallet) UnconfirmedTransactions() []*wire.MsgTx {
	w.mu.Lock()
	defer w.mu.Unlock()
	var ids []chainhash.Hash
	for id, r := range w.txs {
		if r.Own && r.Height == 0 {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	// Depth-first emit: a transaction after every unconfirmed recorded parent.
	done := make(map[chainhash.Hash]bool)
	var out []*wire.MsgTx
	var visit func(id chainhash.Hash)
	visit = func(id chainhash.Hash) {
		if done[id] {
			return
		}
		done[id] = true
		r := w.txs[id]
		for _, in := range r.Tx.TxIn {
			if p, ok := w.txs[in.PreviousOutPoint.Hash]; ok && p.Own && p.Height == 0 {
				visit(in.PreviousOutPoint.Hash)
			}
		}
		out = append(out, r.Tx.Copy())
	}
	for _, id := range ids {
		visit(id)
	}
	return out
}

// Err returns the problem met by the last BlockConnected or BlockDisconnected call (a block that did not
// fit, wrapping ErrBlockOutOfOrder, or a failed save), or nil if it went well.
func (w *Wallet) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.blockErr
}

// Close saves any unsaved state; later calls that hand out addresses or transactions return ErrClosed.
// Block callbacks after Close are ignored.
func (w *Wallet) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return nil
	}
	w.closed = true
	if w.dirty {
		return w.save()
	}
	return nil
}
