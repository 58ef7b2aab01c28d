//go:build interop

package btcdchain

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcjson"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/examples/node/wallet"
)

// btcdBinary is $LNKIT_BTCD, else btcd in $LNKIT_INTEROP_BIN (the interop suite's binaries, see
// .ci/interop/build.sh), else $HOME/.cache/lnkit-interop/bin/btcd; the test is skipped without it.
func btcdBinary(t *testing.T) string {
	if p := os.Getenv("LNKIT_BTCD"); p != "" {
		return p
	}
	if d := os.Getenv("LNKIT_INTEROP_BIN"); d != "" {
		return filepath.Join(d, "btcd")
	}
	home, _ := os.UserHomeDir()
	p := filepath.Join(home, ".cache", "lnkit-interop", "bin", "btcd")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("no btcd binary at %s (set LNKIT_BTCD)", p)
	}
	return p
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := l.Addr().String()
	require.NoError(t, l.Close())
	return addr
}

// btcdNode is a btcd --regtest process on loopback ports, with its data in a temporary directory.
type btcdNode struct {
	t       *testing.T
	dir     string
	rpcAddr string
	p2pAddr string
	mining  string
	cmd     *exec.Cmd
	client  *Client
}

// startBtcd starts a node; listen says whether it accepts peers (on a free loopback port).
func startBtcd(t *testing.T, miningAddr btcutil.Address, listen bool) *btcdNode {
	n := &btcdNode{t: t, dir: t.TempDir(), rpcAddr: freePort(t), mining: miningAddr.EncodeAddress()}
	if listen {
		n.p2pAddr = freePort(t)
	}
	n.start()
	t.Cleanup(n.stop)
	return n
}

func (n *btcdNode) start() {
	t := n.t
	conf := filepath.Join(n.dir, "btcd.conf")
	require.NoError(t, os.WriteFile(conf, nil, 0o600))
	args := []string{"--regtest", "--configfile=" + conf,
		"--datadir=" + filepath.Join(n.dir, "data"), "--logdir=" + filepath.Join(n.dir, "logs"),
		"--rpcuser=user", "--rpcpass=pass", "--rpclisten=" + n.rpcAddr,
		"--rpccert=" + filepath.Join(n.dir, "rpc.cert"), "--rpckey=" + filepath.Join(n.dir, "rpc.key"),
		"--miningaddr=" + n.mining, "--debuglevel=info"}
	if n.p2pAddr != "" {
		args = append(args, "--listen="+n.p2pAddr)
	} else {
		args = append(args, "--nolisten")
	}
	n.cmd = exec.Command(btcdBinary(t), args...)
	out, err := os.Create(filepath.Join(n.dir, "stdout.log"))
	require.NoError(t, err)
	n.cmd.Stdout, n.cmd.Stderr = out, out
	require.NoError(t, n.cmd.Start())

	// Wait for the RPC certificate, then for RPC answers.
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(filepath.Join(n.dir, "rpc.cert")); err == nil {
			break
		}
		require.True(t, time.Now().Before(deadline), "btcd wrote no certificate; see %s", out.Name())
		time.Sleep(50 * time.Millisecond)
	}
	c, err := New(Config{Host: n.rpcAddr, User: "user", Pass: "pass", CertPath: filepath.Join(n.dir, "rpc.cert"),
		Params: &chaincfg.RegressionNetParams}, nil)
	require.NoError(t, err)
	n.client = c
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		_, err := c.BestBlock(ctx)
		cancel()
		if err == nil {
			return
		}
		require.True(t, time.Now().Before(deadline), "btcd RPC not answering: %v", err)
		time.Sleep(100 * time.Millisecond)
	}
}

func (n *btcdNode) stop() {
	if n.client != nil {
		n.client.Close()
		n.client = nil
	}
	if n.cmd == nil || n.cmd.Process == nil {
		return
	}
	_ = n.cmd.Process.Signal(syscall.SIGINT)
	done := make(chan struct{})
	go func() { _ = n.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		_ = n.cmd.Process.Kill()
		<-done
	}
	n.cmd = nil
}

func (n *btcdNode) generate(blocks uint32) []*chainhash.Hash {
	n.t.Helper()
	hashes, err := n.client.RPC().Generate(blocks)
	require.NoError(n.t, err)
	return hashes
}

func (n *btcdNode) best() BlockRef {
	n.t.Helper()
	b, err := n.client.BestBlock(context.Background())
	require.NoError(n.t, err)
	return b
}

// connect makes n dial peer (a temporary connection).
func (n *btcdNode) connect(peer *btcdNode) {
	n.t.Helper()
	temp := "temp"
	require.NoError(n.t, n.client.RPC().Node(btcjson.NConnect, peer.p2pAddr, &temp))
}

// disconnect drops n's connection to peer and waits until neither side has a peer.
func (n *btcdNode) disconnect(peer *btcdNode) {
	n.t.Helper()
	require.NoError(n.t, n.client.RPC().Node(btcjson.NDisconnect, peer.p2pAddr, nil))
	deadline := time.Now().Add(30 * time.Second)
	for {
		p1, err := n.client.RPC().GetPeerInfo()
		require.NoError(n.t, err)
		p2, err := peer.client.RPC().GetPeerInfo()
		require.NoError(n.t, err)
		if len(p1) == 0 && len(p2) == 0 {
			return
		}
		require.True(n.t, time.Now().Before(deadline), "peers still connected")
		time.Sleep(100 * time.Millisecond)
	}
}

// waitBest waits until n's best block is want.
func (n *btcdNode) waitBest(want BlockRef) {
	n.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for n.best() != want {
		require.True(n.t, time.Now().Before(deadline), "node at %v, want %v", n.best(), want)
		time.Sleep(100 * time.Millisecond)
	}
}

// waitInMempool waits until btcd's mempool holds txid.
func (n *btcdNode) waitInMempool(txid chainhash.Hash) {
	n.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ids, err := n.client.RPC().GetRawMempool()
		require.NoError(n.t, err)
		for _, id := range ids {
			if *id == txid {
				return
			}
		}
		require.True(n.t, time.Now().Before(deadline), "%v not in the mempool", txid)
		time.Sleep(100 * time.Millisecond)
	}
}

// TestInteropBtcd runs the wallet and the follower against real btcd regtest nodes: coinbase maturity,
// a funded and signed spend accepted by btcd's mempool and mined, btcd's refusals classified, the fee
// estimator's fallback, and a real reorganisation (a second node with a longer branch).
func TestInteropBtcd(t *testing.T) {
	ctx := context.Background()
	seed := make([]byte, 32)
	seed[31] = 1
	params := &chaincfg.RegressionNetParams

	// A throwaway wallet gives the mining address so that our wallet sees coinbases.
	w, err := wallet.Open(t.TempDir(), seed, params, BlockRef{})
	require.NoError(t, err)
	mineTo, err := w.NewAddress()
	require.NoError(t, err)
	a := startBtcd(t, mineTo, true)
	genesis := a.best()
	require.Equal(t, uint32(0), genesis.Height)
	require.Equal(t, *params.GenesisHash, genesis.Hash)

	// The follower starts at genesis, with the wallet (born at genesis) registered.
	f := a.client.NewFollower(genesis, w)
	// btcd's regtest activates segwit by BIP 9 signalling: 3 windows of 144 blocks.
	const startHeight = 500
	a.generate(startHeight)
	changed, err := f.Poll(ctx)
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, a.best(), f.Tip())
	require.Equal(t, a.best(), w.BestBlock())
	synced, err := f.Synced(ctx)
	require.NoError(t, err)
	require.True(t, synced)
	conf, unconf := w.Balance()
	// A coinbase of height h may be spent in block h+100: at tip 500, those of blocks 1 to 401.
	var mature, immature int64
	for h := int32(1); h <= startHeight; h++ {
		if h <= startHeight-99 {
			mature += blockchain.CalcBlockSubsidy(h, params)
		} else {
			immature += blockchain.CalcBlockSubsidy(h, params)
		}
	}
	require.EqualValues(t, mature, conf)
	require.EqualValues(t, immature, unconf)

	// Fees: regtest btcd has no estimate; the fallback is served.
	require.NoError(t, a.client.RefreshFees(ctx))
	rate := a.client.EstimateFeeratePerKw(chaininterface.NonAnchorChannelFee)
	require.GreaterOrEqual(t, rate, chaininterface.FeeratePerKwFloor)
	t.Logf("NonAnchorChannelFee on regtest: %d sat/kw", rate)

	// Spend: btcd's mempool checks the signature, fee and standardness.
	dest := &wire.TxOut{Value: 1e8, PkScript: []byte{txscript.OP_0, txscript.OP_DATA_20,
		1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20}}
	tx, err := w.FundTransaction([]*wire.TxOut{dest}, 253)
	require.NoError(t, err)
	require.NoError(t, a.client.SendRawTransaction(ctx, tx))
	require.NoError(t, w.AddOwnTransaction(tx))
	require.ErrorIs(t, a.client.SendRawTransaction(ctx, tx), ErrAlreadyKnown)
	// The wallet does not pick the spent coin again.
	tx2, err := w.FundTransaction([]*wire.TxOut{dest}, 253)
	require.NoError(t, err)
	require.NotEqual(t, tx.TxIn[0].PreviousOutPoint, tx2.TxIn[0].PreviousOutPoint)
	require.NoError(t, w.UnlockInputs(tx2))
	// A double spend of the same coin is refused as a conflict.
	conflict := tx.Copy()
	conflict.TxOut[0].Value--
	err = a.client.SendRawTransaction(ctx, conflict)
	require.Error(t, err)
	t.Logf("conflict: %v", err)
	require.ErrorIs(t, err, ErrConflict)
	// An input that does not exist.
	orphan := wire.NewMsgTx(2)
	orphan.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: chainhash.Hash{1}}, Witness: wire.TxWitness{{1}}})
	orphan.AddTxOut(&wire.TxOut{Value: 1000, PkScript: dest.PkScript})
	err = a.client.SendRawTransaction(ctx, orphan)
	require.ErrorIs(t, err, ErrMissingInputs)

	// Confirm it.
	a.generate(1)
	_, err = f.Poll(ctx)
	require.NoError(t, err)
	require.Empty(t, w.UnconfirmedTransactions())
	require.Equal(t, a.best(), w.BestBlock())

	// Broadcast through the queue: a second spend.
	tx3, err := w.FundTransaction([]*wire.TxOut{dest}, 1000)
	require.NoError(t, err)
	require.NoError(t, w.AddOwnTransaction(tx3))
	a.client.BroadcastTransactions(tx3)
	a.waitInMempool(tx3.TxHash())

	// A second node B (not listening, so A never dials it) syncs A's chain, then disconnects. btcd
	// wipes a regtest database when it starts, so B stays up and is only cut off.
	b := startBtcd(t, mineTo, false)
	b.connect(a)
	b.waitBest(a.best())
	b.disconnect(a)
	fork := a.best()

	// A confirms tx3 in a block of its own, then one more.
	a.generate(2)
	_, err = f.Poll(ctx)
	require.NoError(t, err)
	var tx3Height uint32
	for _, u := range w.ListUnspent() {
		if u.OutPoint.Hash == tx3.TxHash() {
			tx3Height = u.Height
		}
	}
	require.Equal(t, fork.Height+1, tx3Height, "tx3's change confirmed on A's branch")

	// B mines a longer branch alone; A reorganises to it when they meet again.
	require.Equal(t, fork, b.best())
	b.generate(4)
	newTip := b.best()
	b.connect(a)
	a.waitBest(newTip)

	rec := newRecorder("r", fork, nil)
	f.AddListener(fork, rec) // a listener still at the fork point gets B's branch only
	changed, err = f.Poll(ctx)
	require.NoError(t, err)
	require.True(t, changed)
	require.NoError(t, w.Err())
	require.Equal(t, newTip, f.Tip())
	require.Equal(t, newTip, w.BestBlock())
	rec.check(t, newTip)
	// tx3 went back to A's mempool; for the wallet it is unconfirmed again.
	un := w.UnconfirmedTransactions()
	require.Len(t, un, 1)
	require.Equal(t, tx3.TxHash(), un[0].TxHash())
	a.waitInMempool(tx3.TxHash())
	a.generate(1)
	_, err = f.Poll(ctx)
	require.NoError(t, err)
	require.Empty(t, w.UnconfirmedTransactions())
	require.NoError(t, w.Close())
	fmt.Fprintf(os.Stderr, "interop: btcd reorg from %d to %d handled\n", fork.Height+2, newTip.Height)
}
