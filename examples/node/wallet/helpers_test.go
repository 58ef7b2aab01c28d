package wallet

import (
	"crypto/sha256"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/internal/testchain"
)

// testSeed is a fixed 32-byte seed derived from label.
func testSeed(label string) []byte {
	h := sha256.Sum256([]byte("seed " + label))
	return h[:]
}

func testKey(label string) *btcec.PrivateKey {
	h := sha256.Sum256([]byte("key " + label))
	k, _ := btcec.PrivKeyFromBytes(h[:])
	return k
}

// foreignScript is a P2WPKH script of a key the wallet does not hold.
func foreignScript(label string) []byte {
	return p2wpkhScript(testKey(label).PubKey())
}

// env is a test chain with a funder wallet (a testchain.Wallet with many spendable coins) and our wallet
// registered as a block listener.
type env struct {
	t      *testing.T
	chain  *testchain.Chain
	funder *testchain.Wallet
	dir    string
	seed   []byte
	w      *Wallet
}

func newEnv(t *testing.T) *env {
	t.Helper()
	c := testchain.New(&chaincfg.RegressionNetParams)
	funder := testchain.NewWallet(c, testKey("funder"))
	for i := 0; i < 30; i++ {
		c.FundAddress(funder.PkScript(), 10e8)
	}
	e := &env{t: t, chain: c, funder: funder, dir: t.TempDir(), seed: testSeed("env")}
	e.w = e.open()
	c.RegisterListener(e.w)
	return e
}

// open opens the wallet in e.dir with e.seed, birthday at the chain's tip.
func (e *env) open() *Wallet {
	e.t.Helper()
	w, err := Open(e.dir, e.seed, &chaincfg.RegressionNetParams, e.chain.BestBlock())
	require.NoError(e.t, err)
	return w
}

// pay makes the funder pay sat to script, in the mempool; it returns the transaction.
func (e *env) pay(script []byte, sat int64) *wire.MsgTx {
	e.t.Helper()
	tx, err := e.funder.FundTransaction([]*wire.TxOut{{Value: sat, PkScript: script}}, 253)
	require.NoError(e.t, err)
	require.NoError(e.t, e.chain.SubmitTransaction(tx))
	return tx
}

// receive pays sat to a new address of the wallet and confirms it; it returns the coin's outpoint.
func (e *env) receive(sat int64) wire.OutPoint {
	e.t.Helper()
	script := e.newScript()
	tx := e.pay(script, sat)
	e.chain.MineBlocks(1)
	return wire.OutPoint{Hash: tx.TxHash(), Index: 0}
}

// newScript returns the output script of e.w.NewAddress().
func (e *env) newScript() []byte {
	e.t.Helper()
	addr, err := e.w.NewAddress()
	require.NoError(e.t, err)
	s, err := txscript.PayToAddrScript(addr)
	require.NoError(e.t, err)
	return s
}

func (e *env) balance() (int64, int64) {
	c, u := e.w.Balance()
	return int64(c), int64(u)
}

// prevValues sums the values of tx's inputs looked up on the chain.
func prevValue(t *testing.T, c *testchain.Chain, tx *wire.MsgTx) int64 {
	t.Helper()
	var in int64
	for _, txIn := range tx.TxIn {
		prev, _, ok := c.GetTransaction(txIn.PreviousOutPoint.Hash)
		require.True(t, ok)
		in += prev.TxOut[txIn.PreviousOutPoint.Index].Value
	}
	return in
}

func outValue(tx *wire.MsgTx) int64 {
	var out int64
	for _, o := range tx.TxOut {
		out += o.Value
	}
	return out
}

func amt(sat int64) btcutil.Amount { return btcutil.Amount(sat) }
