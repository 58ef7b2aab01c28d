package wallet

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"
)

// stateVersion is the version of the wallet.json layout.
const stateVersion = 1

// maxStateIndex bounds the issued-index counters read from a state file, so that a damaged file cannot
// make Open derive billions of keys.
const maxStateIndex = 1 << 20

// state is wallet.json. Hashes and txids are in Bitcoin's display (reversed) hex; scripts and
// transactions in hex.
type state struct {
	Version   int        `json:"version"`
	Network   string     `json:"network"`
	AccountID string     `json:"account_id"` // compressed public key of m/84'/coin'/0', hex
	NextIndex [2]uint32  `json:"next_index"` // next external and change index to hand out
	LastUsed  [2]int64   `json:"last_used"`  // highest external and change index seen paid, -1 if none
	BestBlock blockJSON  `json:"best_block"`
	Birthday  blockJSON  `json:"birthday"`
	Coins     []coinJSON `json:"coins"`
	Txs       []txJSON   `json:"txs"`
	Locked    []string   `json:"locked"` // outpoints "txid:index"
}

type blockJSON struct {
	Hash   string `json:"hash"`
	Height uint32 `json:"height"`
}

type coinJSON struct {
	OutPoint string `json:"outpoint"`
	ValueSat int64  `json:"value_sat"`
	PkScript string `json:"pk_script"`
	Chain    uint32 `json:"chain"`
	Index    uint32 `json:"index"`
	Height   uint32 `json:"height"` // 0 = unconfirmed
	Coinbase bool   `json:"coinbase,omitempty"`
}

type txJSON struct {
	Tx       string `json:"tx"`
	Height   uint32 `json:"height"` // 0 = unconfirmed
	Coinbase bool   `json:"coinbase,omitempty"`
	Own      bool   `json:"own,omitempty"`
	Claim    bool   `json:"claim,omitempty"` // signed by the BumpSource (a CPFP child or HTLC transaction)
}

// decodeState parses and checks a state file (everything that does not need the wallet's keys). Errors
// wrap ErrCorruptState.
func decodeState(data []byte) (*state, error) {
	var st state
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCorruptState, err)
	}
	if st.Version != stateVersion {
		return nil, fmt.Errorf("%w: version %d", ErrCorruptState, st.Version)
	}
	for c := 0; c < 2; c++ {
		if st.NextIndex[c] > maxStateIndex || st.LastUsed[c] < -1 || st.LastUsed[c] > maxStateIndex {
			return nil, fmt.Errorf("%w: index out of range", ErrCorruptState)
		}
	}
	if _, err := parseBlock(st.BestBlock); err != nil {
		return nil, err
	}
	if _, err := parseBlock(st.Birthday); err != nil {
		return nil, err
	}
	for _, c := range st.Coins {
		if _, err := parseOutPoint(c.OutPoint); err != nil {
			return nil, err
		}
		if c.ValueSat < 0 || c.ValueSat > btcutil.MaxSatoshi || c.Chain > 1 || c.Index >= 1<<31 {
			return nil, fmt.Errorf("%w: coin %s out of range", ErrCorruptState, c.OutPoint)
		}
		if _, err := hex.DecodeString(c.PkScript); err != nil {
			return nil, fmt.Errorf("%w: coin %s script: %v", ErrCorruptState, c.OutPoint, err)
		}
	}
	for i, t := range st.Txs {
		if _, err := parseTx(t.Tx); err != nil {
			return nil, fmt.Errorf("%w (tx %d)", err, i)
		}
	}
	for _, s := range st.Locked {
		if _, err := parseOutPoint(s); err != nil {
			return nil, err
		}
	}
	return &st, nil
}

func parseBlock(b blockJSON) (BlockRef, error) {
	if b.Hash == "" {
		return BlockRef{Height: b.Height}, nil
	}
	h, err := chainhash.NewHashFromStr(b.Hash)
	if err != nil || len(b.Hash) != 2*chainhash.HashSize {
		return BlockRef{}, fmt.Errorf("%w: block hash %q", ErrCorruptState, b.Hash)
	}
	return BlockRef{Hash: *h, Height: b.Height}, nil
}

func formatBlock(b BlockRef) blockJSON {
	if b.Hash == (chainhash.Hash{}) {
		return blockJSON{Height: b.Height}
	}
	return blockJSON{Hash: b.Hash.String(), Height: b.Height}
}

func parseOutPoint(s string) (wire.OutPoint, error) {
	op, err := wire.NewOutPointFromString(s)
	if err != nil || len(s) < 2*chainhash.HashSize+2 || s[2*chainhash.HashSize] != ':' {
		return wire.OutPoint{}, fmt.Errorf("%w: outpoint %q", ErrCorruptState, s)
	}
	return *op, nil
}

func parseTx(s string) (*wire.MsgTx, error) {
	raw, err := hex.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: transaction hex: %v", ErrCorruptState, err)
	}
	tx := new(wire.MsgTx)
	if err := tx.Deserialize(bytes.NewReader(raw)); err != nil {
		return nil, fmt.Errorf("%w: transaction: %v", ErrCorruptState, err)
	}
	return tx, nil
}

// restore loads a decoded state into a fresh wallet, after checking that it is this wallet's.
func (w *Wallet) restore(st *state) error {
	if st.Network != w.net.Name {
		return fmt.Errorf("%w: network %q, opened for %q", ErrWrongWallet, st.Network, w.net.Name)
	}
	if st.AccountID != hex.EncodeToString(w.acctID) {
		return fmt.Errorf("%w: account key differs", ErrWrongWallet)
	}
	w.next = st.NextIndex
	w.used = st.LastUsed
	w.best, _ = parseBlock(st.BestBlock)
	w.birthday, _ = parseBlock(st.Birthday)
	w.extendWatch()
	for _, cj := range st.Coins {
		op, _ := parseOutPoint(cj.OutPoint)
		script, _ := hex.DecodeString(cj.PkScript)
		p := keyPath{Chain: cj.Chain, Index: cj.Index}
		if got, ok := w.scripts[string(script)]; !ok || got != p {
			return fmt.Errorf("%w: coin %s pays a script not derived at %d/%d", ErrCorruptState, op, p.Chain, p.Index)
		}
		w.coins[op] = &coin{ValueSat: cj.ValueSat, PkScript: script, Path: p, Height: cj.Height, Coinbase: cj.Coinbase}
	}
	for _, tj := range st.Txs {
		tx, _ := parseTx(tj.Tx)
		w.addTx(&txRecord{Tx: tx, Height: tj.Height, Coinbase: tj.Coinbase, Own: tj.Own, Claim: tj.Claim})
	}
	for _, s := range st.Locked {
		op, _ := parseOutPoint(s)
		w.locked[op] = struct{}{}
	}
	return nil
}

// encode returns the wallet's state file, with every list sorted so that equal states encode equally.
func (w *Wallet) encode() ([]byte, error) {
	st := state{
		Version:   stateVersion,
		Network:   w.net.Name,
		AccountID: hex.EncodeToString(w.acctID),
		NextIndex: w.next,
		LastUsed:  w.used,
		BestBlock: formatBlock(w.best),
		Birthday:  formatBlock(w.birthday),
		Coins:     []coinJSON{},
		Txs:       []txJSON{},
		Locked:    []string{},
	}
	ops := make([]wire.OutPoint, 0, len(w.coins))
	for op := range w.coins {
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool { return lessOutPoint(ops[i], ops[j]) })
	for _, op := range ops {
		c := w.coins[op]
		st.Coins = append(st.Coins, coinJSON{OutPoint: op.String(), ValueSat: c.ValueSat,
			PkScript: hex.EncodeToString(c.PkScript), Chain: c.Path.Chain, Index: c.Path.Index,
			Height: c.Height, Coinbase: c.Coinbase})
	}
	ids := make([]chainhash.Hash, 0, len(w.txs))
	for id := range w.txs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return bytes.Compare(ids[i][:], ids[j][:]) < 0 })
	for _, id := range ids {
		r := w.txs[id]
		var buf bytes.Buffer
		if err := r.Tx.Serialize(&buf); err != nil {
			return nil, err
		}
		st.Txs = append(st.Txs, txJSON{Tx: hex.EncodeToString(buf.Bytes()), Height: r.Height,
			Coinbase: r.Coinbase, Own: r.Own, Claim: r.Claim})
	}
	locked := make([]wire.OutPoint, 0, len(w.locked))
	for op := range w.locked {
		locked = append(locked, op)
	}
	sort.Slice(locked, func(i, j int) bool { return lessOutPoint(locked[i], locked[j]) })
	for _, op := range locked {
		st.Locked = append(st.Locked, op.String())
	}
	return json.MarshalIndent(&st, "", " ")
}

// Storage keeps the wallet's state: one document (JSON, see state), replaced as a whole by each save.
// NewFileStorage keeps it in a file; a host may keep it elsewhere (the example node keeps it in its
// KVStore), as long as Save is durable when it returns.
type Storage interface {
	// Load returns the saved state, or an error wrapping ErrNoState if none was saved.
	Load() ([]byte, error)
	// Save replaces the saved state, durably before it returns.
	Save(state []byte) error
}

// ErrNoState: the Storage holds no wallet yet.
var ErrNoState = errors.New("wallet: no saved state")

// FileStorage is a Storage in dir/wallet.json, written atomically: a temporary file in the same
// directory, fsync, rename, and an fsync of the directory.
type FileStorage struct {
	path string
}

// NewFileStorage returns the storage of a wallet in dir, creating dir (mode 0700) if needed.
func NewFileStorage(dir string) (*FileStorage, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("wallet: %w", err)
	}
	return &FileStorage{path: filepath.Join(dir, StateFileName)}, nil
}

// Load implements Storage.
func (f *FileStorage) Load() ([]byte, error) {
	data, err := os.ReadFile(f.path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNoState, f.path)
	}
	if err != nil {
		return nil, fmt.Errorf("wallet: %w", err)
	}
	return data, nil
}

// Save implements Storage.
func (f *FileStorage) Save(data []byte) error {
	dir := filepath.Dir(f.path)
	tf, err := os.CreateTemp(dir, StateFileName+".tmp*")
	if err != nil {
		return err
	}
	tmp := tf.Name()
	_, err = tf.Write(data)
	if err == nil {
		err = tf.Sync()
	}
	if cerr := tf.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, f.path)
	}
	if err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		_ = d.Close()
	}
	return nil
}

// save writes the state through the Storage. The caller holds w.mu.
func (w *Wallet) save() error {
	data, err := w.encode()
	if err != nil {
		return fmt.Errorf("wallet: encoding state: %w", err)
	}
	if err := w.store.Save(data); err != nil {
		return fmt.Errorf("wallet: saving: %w", err)
	}
	w.dirty = false
	w.sinceSave = 0
	return nil
}
