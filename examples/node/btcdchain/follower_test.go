package btcdchain

import (
	"context"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/node/wallet"
)

func TestFollowerZeroStart(t *testing.T) {
	ctx := context.Background()
	fc := newFakeChain(5)
	log := &eventLog{}
	r := newRecorder("a", BlockRef{}, log)
	f := newFollower(fc, nil, BlockRef{}, r)
	require.Equal(t, BlockRef{}, f.Tip())
	synced, err := f.Synced(ctx)
	require.NoError(t, err)
	require.False(t, synced)

	changed, err := f.Poll(ctx)
	require.NoError(t, err)
	require.True(t, changed, "the tip became known")
	require.Equal(t, fc.tip(), f.Tip())
	require.Empty(t, log.all(), "a fresh follower delivers nothing before its start")
	tip, ok := f.ListenerTip(r)
	require.True(t, ok)
	require.Equal(t, fc.tip(), tip)

	changed, err = f.Poll(ctx)
	require.NoError(t, err)
	require.False(t, changed)

	fc.mine(3)
	changed, err = f.Poll(ctx)
	require.NoError(t, err)
	require.True(t, changed)
	require.Equal(t, []string{"a+6", "a+7", "a+8"}, log.all())
	r.check(t, fc.tip())
	require.Equal(t, fc.tip(), f.Tip())
	synced, err = f.Synced(ctx)
	require.NoError(t, err)
	require.True(t, synced)
}

func TestFollowerReorg(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name      string
		fork      uint32
		newBlocks int
		want      []string
	}{
		{"longer", 7, 4, []string{"a-10", "b-10", "a-9", "b-9", "a-8", "b-8",
			"a+8", "b+8", "a+9", "b+9", "a+10", "b+10", "a+11", "b+11"}},
		{"shorter", 7, 1, []string{"a-10", "b-10", "a-9", "b-9", "a-8", "b-8", "a+8", "b+8"}},
		{"tip replaced", 9, 1, []string{"a-10", "b-10", "a+10", "b+10"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fc := newFakeChain(10)
			log := &eventLog{}
			start := fc.tip()
			a, b := newRecorder("a", start, log), newRecorder("b", start, log)
			f := newFollower(fc, nil, start, a, b)
			changed, err := f.Poll(ctx)
			require.NoError(t, err)
			require.False(t, changed)

			fc.reorg(tc.fork, tc.newBlocks)
			changed, err = f.Poll(ctx)
			require.NoError(t, err)
			require.True(t, changed)
			require.Equal(t, tc.want, log.all())
			a.check(t, fc.tip())
			b.check(t, fc.tip())
			require.Equal(t, fc.tip(), f.Tip())
		})
	}
}

// TestFollowerListenersAtDifferentPoints has three listeners: one at the tip, one behind, one on a block
// that a reorganisation made stale. One Poll brings all to the new tip, the laggard first, then all in
// lockstep.
func TestFollowerListenersAtDifferentPoints(t *testing.T) {
	ctx := context.Background()
	fc := newFakeChain(10)
	stale := fc.at(9)
	fc.reorg(8, 2) // new 9', 10'
	log := &eventLog{}
	tip := fc.tip()
	a := newRecorder("a", tip, log)
	behind := newRecorder("b", fc.at(6), log)
	st := newRecorder("s", stale, log)
	f := newFollower(fc, nil, tip, a)
	f.AddListener(fc.at(6), behind)
	f.AddListener(stale, st)
	fc.mine(1)
	_, err := f.Poll(ctx)
	require.NoError(t, err)
	// Registration order within a height: the follower itself, a, b, s.
	require.Equal(t, []string{"s-9", "b+7", "b+8", "b+9", "s+9", "b+10", "s+10", "a+11", "b+11", "s+11"}, log.all())
	for _, r := range []*recorder{a, behind, st} {
		r.check(t, fc.tip())
	}
	synced, err := f.Synced(ctx)
	require.NoError(t, err)
	require.True(t, synced)
}

// addingListener adds another listener from inside a callback.
type addingListener struct {
	*recorder
	f     *Follower
	extra *recorder
	added bool
}

func (a *addingListener) BlockConnected(blk *wire.MsgBlock, h uint32) {
	a.recorder.BlockConnected(blk, h)
	if !a.added {
		a.added = true
		a.f.AddListener(BlockRef{}, a.extra)
		_ = a.f.Tip()
	}
}

func TestFollowerAddListenerFromCallbackDelivers(t *testing.T) {
	ctx := context.Background()
	fc := newFakeChain(3)
	log := &eventLog{}
	start := fc.tip()
	extra := newRecorder("x", BlockRef{}, log) // joins wherever the follower is
	al := &addingListener{recorder: newRecorder("a", start, log), extra: extra}
	f := newFollower(fc, nil, start, al)
	al.f = f
	fc.mine(2)
	_, err := f.Poll(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"a+4", "a+5"}, log.all())
	tip, ok := f.ListenerTip(extra)
	require.True(t, ok)
	require.Equal(t, fc.at(4), tip, "joined at the follower's tip when added")
	_, err = f.Poll(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"a+4", "a+5", "x+5"}, log.all())
	extra.check(t, fc.tip())
}

func TestFollowerErrorsResume(t *testing.T) {
	ctx := context.Background()
	fc := newFakeChain(2)
	start := fc.tip()
	log := &eventLog{}
	r := newRecorder("a", start, log)
	f := newFollower(fc, nil, start, r)
	fc.mine(5)
	fc.failAfter = 2 // the third getblock fails
	_, err := f.Poll(ctx)
	require.ErrorContains(t, err, "connection reset")
	require.Equal(t, []string{"a+3", "a+4"}, log.all())
	require.Equal(t, fc.at(4), f.Tip())
	_, err = f.Poll(ctx)
	require.NoError(t, err)
	require.Equal(t, []string{"a+3", "a+4", "a+5", "a+6", "a+7"}, log.all())
	r.check(t, fc.tip())

	// A header lookup failing in a reorganisation stops too, and the next poll finishes.
	fc.reorg(5, 3)
	fc.fail["GetBlockHeader"] = errTest
	_, err = f.Poll(ctx)
	require.ErrorIs(t, err, ErrForeignChain)
	_, err = f.Poll(ctx)
	require.NoError(t, err)
	r.check(t, fc.tip())

	// Best block unavailable.
	fc.fail["GetBestBlock"] = errTest
	_, err = f.Poll(ctx)
	require.ErrorIs(t, err, errTest)

	// A cancelled context stops before anything.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	fc.mine(1)
	_, err = f.Poll(cctx)
	require.ErrorIs(t, err, context.Canceled)
	_, err = f.Poll(ctx)
	require.NoError(t, err)
	r.check(t, fc.tip())
}

func TestFollowerForeignChain(t *testing.T) {
	ctx := context.Background()
	fc := newFakeChain(3)
	other := newFakeChain(3) // its blocks are unknown to fc
	r := newRecorder("a", other.tip(), nil)
	f := newFollower(fc, nil, fc.tip())
	f.AddListener(other.tip(), r)
	_, err := f.Poll(ctx)
	require.ErrorIs(t, err, ErrForeignChain)

	// A listener whose chain differs down to genesis.
	fc2 := newFakeChain(0)
	fc2.blocks[other.at(0).Hash] = other.blocks[other.at(0).Hash]
	f2 := newFollower(fc2, nil, other.at(0), newRecorder("g", other.at(0), nil))
	_, err = f2.Poll(ctx)
	require.ErrorIs(t, err, ErrForeignChain)
	require.True(t, strings.Contains(err.Error(), "genesis"))
}

func TestSyncListener(t *testing.T) {
	ctx := context.Background()
	fc := newFakeChain(8)
	log := &eventLog{}
	f := newFollower(fc, nil, fc.tip())
	r := newRecorder("w", fc.at(3), log)
	require.NoError(t, f.SyncListener(ctx, fc.at(3), r))
	require.Equal(t, []string{"w+4", "w+5", "w+6", "w+7", "w+8"}, log.all())
	r.check(t, fc.tip())
}

var errTest = errTestType("injected")

type errTestType string

func (e errTestType) Error() string { return string(e) }

// TestFollowerDrivesWallet runs a real wallet behind the follower: a payment confirmed in a block that a
// reorganisation removes becomes unconfirmed, and confirmed again when the new branch includes it.
func TestFollowerDrivesWallet(t *testing.T) {
	ctx := context.Background()
	fc := newFakeChain(20)
	seed := make([]byte, 32)
	seed[0] = 7
	dir := t.TempDir()
	w, err := wallet.Open(dir, seed, &chaincfg.RegressionNetParams, fc.tip())
	require.NoError(t, err)
	f := newFollower(fc, nil, fc.tip())
	require.NoError(t, f.SyncListener(ctx, w.BestBlock(), w))

	addr, err := w.NewAddress()
	require.NoError(t, err)
	script, err := txscript.PayToAddrScript(addr)
	require.NoError(t, err)
	pay := wire.NewMsgTx(2)
	pay.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: chainhash.Hash{9}, Index: 0}})
	pay.AddTxOut(&wire.TxOut{Value: 123456, PkScript: script})
	fc.mine(2, pay)
	_, err = f.Poll(ctx)
	require.NoError(t, err)
	require.Equal(t, fc.tip(), w.BestBlock())
	c, u := w.Balance()
	require.EqualValues(t, 123456, c)
	require.Zero(t, u)

	fc.reorg(20, 3) // the payment's block is gone
	_, err = f.Poll(ctx)
	require.NoError(t, err)
	require.NoError(t, w.Err())
	require.Equal(t, fc.tip(), w.BestBlock())
	c, u = w.Balance()
	require.Zero(t, c)
	require.EqualValues(t, 123456, u)

	fc.mine(1, pay)
	_, err = f.Poll(ctx)
	require.NoError(t, err)
	c, _ = w.Balance()
	require.EqualValues(t, 123456, c)
	utxos := w.ListUnspent()
	require.Len(t, utxos, 1)
	require.Equal(t, fc.tip().Height, utxos[0].Height)

	// Reopened from disk behind the tip, the wallet is brought up to date by SyncListener.
	require.NoError(t, w.Close())
	fc.mine(4)
	w2, err := wallet.Open(dir, seed, &chaincfg.RegressionNetParams, BlockRef{})
	require.NoError(t, err)
	require.Less(t, w2.BestBlock().Height, fc.tip().Height)
	_, err = f.Poll(ctx) // the follower moves on without the closed wallet
	require.NoError(t, err)
	require.NoError(t, f.SyncListener(ctx, w2.BestBlock(), w2))
	require.Equal(t, fc.tip(), w2.BestBlock())
	c, _ = w2.Balance()
	require.EqualValues(t, 123456, c)
}
