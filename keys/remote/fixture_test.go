package remote

import (
	"context"
	"crypto/sha256"
	"errors"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/keys"
)

// fixture is a channel between our KeysManager (the signer's seed) and a counterparty's.
type fixture struct {
	km, cpKM     *keys.KeysManager
	keysID       [32]byte
	value        int64
	local, cp    keys.ChannelSigner
	params       *keys.ChannelTransactionParameters // ours
	cpParams     *keys.ChannelTransactionParameters // the counterparty's view
	holderScript []byte
	cpScript     []byte
}

var testSeed = sha256.Sum256([]byte("remote signer test seed"))

func newFixture(t testing.TB) *fixture {
	t.Helper()
	f := &fixture{km: keys.NewKeysManager(testSeed, 1700000000, 1),
		cpKM: keys.NewKeysManager(sha256.Sum256([]byte("counterparty")), 1700000000, 2), value: 1_000_000}
	f.keysID = f.km.GenerateChannelKeysID(false, f.value, [16]byte{1})
	f.local = f.km.DeriveChannelSigner(f.value, f.keysID)
	f.cp = f.cpKM.DeriveChannelSigner(f.value, f.cpKM.GenerateChannelKeysID(true, f.value, [16]byte{2}))
	f.params = &keys.ChannelTransactionParameters{IsOutbound: true,
		FundingOutPoint: wire.OutPoint{Hash: chainhash.Hash(sha256.Sum256([]byte("funding"))), Index: 1},
		ValueSat:        f.value, HolderPubkeys: f.local.Pubkeys(), CounterpartyPubkeys: f.cp.Pubkeys(),
		HolderToSelfDelay: 144, CounterpartyToSelfDelay: 720, HolderDustLimitSat: 546, CounterpartyDustLimitSat: 354}
	cpp := *f.params
	cpp.IsOutbound = false
	cpp.HolderPubkeys, cpp.CounterpartyPubkeys = f.params.CounterpartyPubkeys, f.params.HolderPubkeys
	cpp.HolderToSelfDelay, cpp.CounterpartyToSelfDelay = f.params.CounterpartyToSelfDelay, f.params.HolderToSelfDelay
	cpp.HolderDustLimitSat, cpp.CounterpartyDustLimitSat = f.params.CounterpartyDustLimitSat, f.params.HolderDustLimitSat
	f.cpParams = &cpp
	require.NoError(t, f.local.ProvideChannelParameters(f.params))
	require.NoError(t, f.cp.ProvideChannelParameters(f.cpParams))
	f.holderScript, _ = f.km.GetShutdownScriptPubKey()
	f.cpScript, _ = f.cpKM.GetShutdownScriptPubKey()
	return f
}

// htlcs are two HTLCs, one each way, above the dust limits.
func htlcs() []keys.CommitmentHTLC {
	return []keys.CommitmentHTLC{
		{Offered: true, AmountMsat: 50_000_000, PaymentHash: sha256.Sum256([]byte("a")), CltvExpiry: 800_100},
		{Offered: false, AmountMsat: 30_000_000, PaymentHash: sha256.Sum256([]byte("b")), CltvExpiry: 800_200},
	}
}

// counterpartyCommitment is the counterparty's commitment n, described from our side.
func (f *fixture) counterpartyCommitment(t testing.TB, n uint64) *keys.CommitmentTx {
	point, err := f.cp.GetPerCommitmentPoint(n)
	require.NoError(t, err)
	c, err := f.params.NewCommitmentTx(false, n, point, 2500, 320_000_000, 600_000_000, htlcs())
	require.NoError(t, err)
	return c
}

// holderCommitment is our commitment n.
func (f *fixture) holderCommitment(t testing.TB, n uint64) *keys.CommitmentTx {
	point, err := f.local.GetPerCommitmentPoint(n)
	require.NoError(t, err)
	c, err := f.params.NewCommitmentTx(true, n, point, 2500, 600_000_000, 320_000_000, htlcs())
	require.NoError(t, err)
	return c
}

// closing is a cooperative close of the channel.
func (f *fixture) closing() *keys.ClosingTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: f.params.FundingOutPoint, Sequence: wire.MaxTxInSequenceNum})
	tx.AddTxOut(wire.NewTxOut(600_000, f.holderScript))
	tx.AddTxOut(wire.NewTxOut(399_000, f.cpScript))
	return &keys.ClosingTx{ToHolderSat: 600_000, ToCounterpartySat: 399_000, HolderScript: f.holderScript,
		CounterpartyScript: f.cpScript, Tx: tx}
}

// spendTx spends one output into one P2WPKH output.
func spendTx(seq uint32, value int64) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: wire.OutPoint{Hash: sha256.Sum256([]byte("parent")), Index: 2}, Sequence: seq})
	tx.AddTxOut(wire.NewTxOut(value-500, append([]byte{0, 0x14}, make([]byte, 20)...)))
	return tx
}

func script(t testing.TB, b *txscript.ScriptBuilder) []byte {
	t.Helper()
	s, err := b.Script()
	require.NoError(t, err)
	return s
}

// checksig is <key> OP_CHECKSIG.
func checksig(t testing.TB, key *btcec.PublicKey) []byte {
	return script(t, txscript.NewScriptBuilder().AddData(key.SerializeCompressed()).AddOp(txscript.OP_CHECKSIG))
}

// anchorScript is BOLT 3's anchor witness script for funding key k.
func anchorScript(t testing.TB, k *btcec.PublicKey) []byte {
	return script(t, txscript.NewScriptBuilder().AddData(k.SerializeCompressed()).AddOp(txscript.OP_CHECKSIG).
		AddOp(txscript.OP_IFDUP).AddOp(txscript.OP_NOTIF).AddOp(txscript.OP_16).AddOp(txscript.OP_CHECKSEQUENCEVERIFY).
		AddOp(txscript.OP_ENDIF))
}

// p2wpkh is the P2WPKH scriptPubKey of k.
func p2wpkh(k *btcec.PublicKey) []byte {
	return append([]byte{0, 0x14}, btcutil.Hash160(k.SerializeCompressed())...)
}

// pump connects a Client to a Server in-process: it hands every request to the server and every
// response back, on its own goroutine, until stopped.
type pump struct {
	c      *Client
	s      *Server
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

func startPump(t testing.TB, c *Client, s *Server) *pump {
	ctx, cancel := context.WithCancel(context.Background())
	p := &pump{c: c, s: s, cancel: cancel}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			select {
			case <-ctx.Done():
				return
			case <-c.RequestsReady():
				for _, f := range c.PendingRequests() {
					if err := c.HandleResponse(s.Handle(f)); err != nil && !errors.Is(err, ErrUnexpectedResponse) {
						t.Errorf("HandleResponse: %v", err)
					}
				}
			}
		}
	}()
	t.Cleanup(p.stop)
	return p
}

func (p *pump) stop() {
	p.cancel()
	p.wg.Wait()
}

// exchange hands every pending request of c to s and the responses back, on the caller's goroutine;
// it returns how many requests went.
func exchange(t testing.TB, c *Client, s *Server) int {
	t.Helper()
	frames := c.PendingRequests()
	for _, f := range frames {
		require.NoError(t, c.HandleResponse(s.Handle(f)))
	}
	return len(frames)
}

// await calls fn until it stops returning keys.ErrSignerPending, exchanging frames between tries.
func await[T any](t testing.TB, c *Client, s *Server, fn func() (T, error)) (T, error) {
	t.Helper()
	v, err := fn()
	for i := 0; i < 4 && errors.Is(err, keys.ErrSignerPending); i++ {
		exchange(t, c, s)
		v, err = fn()
	}
	return v, err
}

// newPair returns a connected client and a server over f's KeysManager.
func newPair(t testing.TB, f *fixture, cfg ClientConfig) (*Client, *Server) {
	t.Helper()
	s, err := NewServer(ServerConfig{Inner: f.km})
	require.NoError(t, err)
	c := NewClient(cfg)
	c.Connected()
	t.Cleanup(c.Close)
	return c, s
}
