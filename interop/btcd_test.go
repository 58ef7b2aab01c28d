//go:build interop

package interop

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
)

var regtest = &chaincfg.RegressionNetParams

const (
	btcdUser = "lnkit"
	btcdPass = "interop"
)

// btcd is the regtest chain backend: one btcd with --txindex, called over its JSON-RPC (HTTPS).
type btcd struct {
	dir      string
	rpcAddr  string
	p2pAddr  string
	certPath string
	p        *proc
	hc       *http.Client
	id       atomic.Uint64
	// mineMu serializes generate calls so that block heights stay predictable for each caller.
	mineMu sync.Mutex
}

// startBtcd starts btcd in dir, mining coinbases to miningAddr, and waits for its RPC.
func startBtcd(binDir, dir, miningAddr string) (*btcd, error) {
	b := &btcd{dir: dir, rpcAddr: ports.next(), p2pAddr: ports.next(), certPath: filepath.Join(dir, "rpc.cert")}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p, err := startProc("btcd", filepath.Join(dir, "btcd.log"), filepath.Join(binDir, "btcd"),
		"--regtest", "--datadir="+filepath.Join(dir, "data"), "--logdir="+filepath.Join(dir, "logs"),
		"--rpcuser="+btcdUser, "--rpcpass="+btcdPass, "--rpclisten="+b.rpcAddr, "--listen="+b.p2pAddr,
		"--rpccert="+b.certPath, "--rpckey="+filepath.Join(dir, "rpc.key"), "--txindex",
		"--miningaddr="+miningAddr, "--nobanning", "--debuglevel=info")
	if err != nil {
		return nil, err
	}
	b.p = p
	err = poll(30*time.Second, func() (bool, string) {
		if done, err := p.exited(); done {
			return true, fmt.Sprintf("btcd exited: %v", err)
		}
		if b.hc == nil {
			pem, err := os.ReadFile(b.certPath)
			if err != nil {
				return false, err.Error()
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return false, "rpc.cert not parsed yet"
			}
			b.hc = &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
				TLSClientConfig: &tls.Config{RootCAs: pool}, MaxIdleConnsPerHost: 8}}
		}
		_, err := b.blockCount()
		return err == nil, errOf(err)
	})
	if err == nil {
		if done, perr := p.exited(); done {
			err = fmt.Errorf("btcd exited: %v", perr)
		}
	}
	if err != nil {
		p.kill()
		return nil, fmt.Errorf("btcd did not start: %w\n%s", err, logTail(p.logPath, 20))
	}
	return b, nil
}

// call makes one JSON-RPC call and decodes the result into out (if not nil).
func (b *btcd) call(out any, method string, params ...any) error {
	if params == nil {
		params = []any{}
	}
	body, _ := json.Marshal(map[string]any{"jsonrpc": "1.0", "id": b.id.Add(1), "method": method, "params": params})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "https://"+b.rpcAddr, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.SetBasicAuth(btcdUser, btcdPass)
	req.Header.Set("Content-Type", "application/json")
	resp, err := b.hc.Do(req)
	if err != nil {
		return fmt.Errorf("btcd %s: %w", method, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("btcd %s: %w", method, err)
	}
	var r struct {
		Result json.RawMessage `json:"result"`
		Error  *struct {
			Code    int    `json:"code"`
			Message string `json:"message"`
		} `json:"error"`
	}
	if err := json.Unmarshal(data, &r); err != nil {
		return fmt.Errorf("btcd %s: HTTP %d: %q", method, resp.StatusCode, data)
	}
	if r.Error != nil {
		return fmt.Errorf("btcd %s: %s (code %d)", method, r.Error.Message, r.Error.Code)
	}
	if out != nil {
		return json.Unmarshal(r.Result, out)
	}
	return nil
}

func (b *btcd) blockCount() (int, error) {
	var n int
	err := b.call(&n, "getblockcount")
	return n, err
}

// generate mines n blocks and returns their hashes.
func (b *btcd) generate(t testing.TB, n int) []string {
	t.Helper()
	hashes, err := b.generateErr(n)
	if err != nil {
		t.Fatal(err)
	}
	return hashes
}

func (b *btcd) generateErr(n int) ([]string, error) {
	b.mineMu.Lock()
	defer b.mineMu.Unlock()
	var hashes []string
	// btcd mines each block in the RPC call; big batches are split so that one call stays short.
	for n > 0 {
		k := min(n, 100)
		var hs []string
		if err := b.call(&hs, "generate", k); err != nil {
			return hashes, err
		}
		hashes = append(hashes, hs...)
		n -= k
	}
	return hashes, nil
}

func (b *btcd) height(t testing.TB) int {
	t.Helper()
	n, err := b.blockCount()
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// mempool returns the txids in btcd's mempool.
func (b *btcd) mempool(t testing.TB) []string {
	t.Helper()
	var ids []string
	if err := b.call(&ids, "getrawmempool"); err != nil {
		t.Fatal(err)
	}
	return ids
}

// inMempool reports whether txid is in the mempool.
func (b *btcd) inMempool(t testing.TB, txid string) bool {
	for _, id := range b.mempool(t) {
		if id == txid {
			return true
		}
	}
	return false
}

// rawTx returns a transaction from the mempool or (thanks to --txindex) the chain.
func (b *btcd) rawTx(t testing.TB, txid string) *wire.MsgTx {
	t.Helper()
	tx, err := b.rawTxErr(txid)
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

func (b *btcd) rawTxErr(txid string) (*wire.MsgTx, error) {
	var h string
	if err := b.call(&h, "getrawtransaction", txid, 0); err != nil {
		return nil, err
	}
	return decodeTx(h)
}

func decodeTx(h string) (*wire.MsgTx, error) {
	raw, err := hex.DecodeString(h)
	if err != nil {
		return nil, err
	}
	tx := wire.NewMsgTx(2)
	if err := tx.Deserialize(bytes.NewReader(raw)); err != nil {
		return nil, err
	}
	return tx, nil
}

// blockAt returns the block at height h.
func (b *btcd) blockAt(h int) (*wire.MsgBlock, error) {
	var hash string
	if err := b.call(&hash, "getblockhash", h); err != nil {
		return nil, err
	}
	var hx string
	if err := b.call(&hx, "getblock", hash, 0); err != nil {
		return nil, err
	}
	raw, err := hex.DecodeString(hx)
	if err != nil {
		return nil, err
	}
	var blk wire.MsgBlock
	if err := blk.Deserialize(bytes.NewReader(raw)); err != nil {
		return nil, err
	}
	return &blk, nil
}

// spend is a confirmed transaction spending a watched outpoint.
type spend struct {
	tx     *wire.MsgTx
	height int
}

// findSpends scans blocks fromHeight..tip for transactions spending any of ops.
func (b *btcd) findSpends(t testing.TB, fromHeight int, ops ...wire.OutPoint) map[wire.OutPoint]spend {
	t.Helper()
	want := map[wire.OutPoint]bool{}
	for _, op := range ops {
		want[op] = true
	}
	found := map[wire.OutPoint]spend{}
	tip := b.height(t)
	for h := fromHeight; h <= tip; h++ {
		blk, err := b.blockAt(h)
		if err != nil {
			t.Fatal(err)
		}
		for _, tx := range blk.Transactions {
			for _, in := range tx.TxIn {
				if want[in.PreviousOutPoint] {
					found[in.PreviousOutPoint] = spend{tx: tx, height: h}
				}
			}
		}
	}
	return found
}

// mempoolSpend returns the mempool transaction spending op, if any.
func (b *btcd) mempoolSpend(t testing.TB, op wire.OutPoint) *wire.MsgTx {
	t.Helper()
	for _, id := range b.mempool(t) {
		tx, err := b.rawTxErr(id)
		if err != nil {
			continue // mined or evicted meanwhile
		}
		for _, in := range tx.TxIn {
			if in.PreviousOutPoint == op {
				return tx
			}
		}
	}
	return nil
}

// sendRaw broadcasts tx and returns its txid.
func (b *btcd) sendRaw(tx *wire.MsgTx) (string, error) {
	var buf bytes.Buffer
	if err := tx.Serialize(&buf); err != nil {
		return "", err
	}
	var id string
	err := b.call(&id, "sendrawtransaction", hex.EncodeToString(buf.Bytes()))
	return id, err
}

// faucet owns the key btcd mines to and pays from its matured coinbases, one coinbase per payment.
type faucet struct {
	key      *btcec.PrivateKey
	addr     btcutil.Address
	pkScript []byte
	mu       sync.Mutex
	next     int // height of the next coinbase to spend
}

func newFaucet() *faucet {
	key, err := btcec.NewPrivateKey()
	if err != nil {
		panic(err)
	}
	addr, err := btcutil.NewAddressWitnessPubKeyHash(btcutil.Hash160(key.PubKey().SerializeCompressed()), regtest)
	if err != nil {
		panic(err)
	}
	pk, err := txscript.PayToAddrScript(addr)
	if err != nil {
		panic(err)
	}
	return &faucet{key: key, addr: addr, pkScript: pk, next: 1}
}

// faucetFeeSat is the fee of every faucet transaction (one P2WPKH input, a few outputs: > 5 sat/vB).
const faucetFeeSat = 2000

// payment is one output of a faucet transaction.
type payment struct {
	addr string
	sat  int64
}

// send pays the outputs from the next matured coinbase (change back to the faucet) and returns the
// transaction, broadcast but not mined.
func (f *faucet) send(b *btcd, outs ...payment) (*wire.MsgTx, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	tip, err := b.blockCount()
	if err != nil {
		return nil, err
	}
	if f.next+100 > tip {
		return nil, fmt.Errorf("faucet: no matured coinbase left (next %d, tip %d)", f.next, tip)
	}
	blk, err := b.blockAt(f.next)
	if err != nil {
		return nil, err
	}
	cb := blk.Transactions[0]
	vout := -1
	for i, o := range cb.TxOut {
		if bytes.Equal(o.PkScript, f.pkScript) {
			vout = i
		}
	}
	if vout < 0 {
		return nil, fmt.Errorf("faucet: coinbase of block %d does not pay the faucet", f.next)
	}
	f.next++
	in := cb.TxOut[vout].Value
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(wire.NewTxIn(&wire.OutPoint{Hash: cb.TxHash(), Index: uint32(vout)}, nil, nil))
	var total int64
	for _, o := range outs {
		a, err := btcutil.DecodeAddress(o.addr, regtest)
		if err != nil {
			return nil, fmt.Errorf("faucet: %q: %w", o.addr, err)
		}
		pk, err := txscript.PayToAddrScript(a)
		if err != nil {
			return nil, err
		}
		tx.AddTxOut(wire.NewTxOut(o.sat, pk))
		total += o.sat
	}
	change := in - total - faucetFeeSat
	if change < 0 {
		return nil, fmt.Errorf("faucet: %d sat asked, a coinbase holds %d", total, in)
	}
	if change > 1000 {
		tx.AddTxOut(wire.NewTxOut(change, f.pkScript))
	}
	fetcher := txscript.NewCannedPrevOutputFetcher(f.pkScript, in)
	wit, err := txscript.WitnessSignature(tx, txscript.NewTxSigHashes(tx, fetcher), 0, in, f.pkScript,
		txscript.SigHashAll, f.key, true)
	if err != nil {
		return nil, err
	}
	tx.TxIn[0].Witness = wit
	if _, err := b.sendRaw(tx); err != nil {
		return nil, err
	}
	return tx, nil
}

// txid returns tx's id in display order.
func txid(tx *wire.MsgTx) string { return tx.TxHash().String() }

// outpoint parses "txid:vout".
func outpoint(t testing.TB, s string) wire.OutPoint {
	t.Helper()
	var txidStr string
	var vout uint32
	for i := len(s) - 1; i >= 0; i-- {
		if s[i] == ':' {
			txidStr = s[:i]
			if _, err := fmt.Sscanf(s[i+1:], "%d", &vout); err != nil {
				t.Fatalf("bad outpoint %q", s)
			}
			break
		}
	}
	h, err := chainhash.NewHashFromStr(txidStr)
	if err != nil {
		t.Fatalf("bad outpoint %q: %v", s, err)
	}
	return wire.OutPoint{Hash: *h, Index: vout}
}
