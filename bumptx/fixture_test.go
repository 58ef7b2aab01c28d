package bumptx

import (
	"bytes"
	"crypto/sha256"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/chaininterface"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/lnwire"
)

// Channel parameters of the fixture: we opened a 1,000,000 sat anchor channel, the counterparty holds
// 300,000 sat, and our commitment carries two HTLCs we offered (same expiry) and one offered to us.
const (
	fundingSat     = 1_000_000
	toRemoteSat    = 300_000
	offeredSat     = 20_000
	receivedSat    = 30_000
	htlcExpiry     = 150
	toSelfDelay    = 144
	dustLimitSat   = 354
	commitmentNum  = 7
	walletUTXOSat  = 100_000
	sighashSingACP = txscript.SigHashSingle | txscript.SigHashAnyOneCanPay
)

// channel is a funded anchor channel on a testchain.Chain with our latest commitment fully signed.
type channel struct {
	chain   *testchain.Chain
	us      *keys.KeysManager
	keysID  [32]byte
	signer  keys.ChannelSigner
	params  events.ChannelDerivationParameters
	commit  *bolt3.CommitmentTx
	tx      *wire.MsgTx // the commitment, signed by both sides
	anchor  events.AnchorDescriptor
	offered []events.HTLCDescriptor // HTLC-timeout descriptors, in output order
	success []events.HTLCDescriptor // HTLC-success descriptors, with preimages

	// What a ChannelMonitor of the channel needs.
	them            *keys.KeysManager
	fundingOutPoint wire.OutPoint
	fundingScript   []byte
	ourPubkeys      keys.ChannelPublicKeys
	theirPubkeys    keys.ChannelPublicKeys
	theirPoint      *btcec.PublicKey // the counterparty's per-commitment point of its commitment commitmentNum
	theirSig        lnwire.Sig       // on our commitment
	htlcSigs        []lnwire.Sig     // on each second-stage transaction, in output order
	preimage        [32]byte
}

func seed(label string) [32]byte { return sha256.Sum256([]byte(label)) }

func privKey(label string) *btcec.PrivateKey {
	s := seed(label)
	k, _ := btcec.PrivKeyFromBytes(s[:])
	return k
}

// newChannel funds a channel on chain and builds our commitment at commitFeeratePerKw, signed by both
// sides, with the counterparty's SIGHASH_SINGLE|SIGHASH_ANYONECANPAY signatures on each second-stage
// HTLC transaction, as channelmanager's sendCommitmentSigned/secondStageTx make them.
func newChannel(t *testing.T, chain *testchain.Chain, commitFeeratePerKw uint32) *channel {
	t.Helper()
	us := keys.NewKeysManager(seed("us"), 1, 0)
	them := keys.NewKeysManager(seed("them"), 1, 0)
	ourID := us.GenerateChannelKeysID(false, fundingSat, [16]byte{1})
	theirID := them.GenerateChannelKeysID(true, fundingSat, [16]byte{2})
	ours := us.DeriveChannelSigner(fundingSat, ourID)
	theirs := them.DeriveChannelSigner(fundingSat, theirID)
	op, tp := ours.Pubkeys(), theirs.Pubkeys()

	// Funding: a wallet of ours is paid by the chain, then pays the 2-of-2.
	funder := testchain.NewWallet(chain, privKey("funder"))
	chain.FundAddress(funder.PkScript(), 2*fundingSat)
	fundingOut, fundingScript, err := bolt3.FundingOutput(op.FundingPubkey, tp.FundingPubkey, fundingSat)
	require.NoError(t, err)
	fundingTx, err := funder.FundTransaction([]*wire.TxOut{fundingOut}, chaininterface.FeeratePerKwFloor)
	require.NoError(t, err)
	require.NoError(t, chain.SubmitTransaction(fundingTx))
	chain.MineBlocks(1)
	fundingOutPoint := wire.OutPoint{Hash: fundingTx.TxHash(), Index: 0}
	require.Equal(t, 1, int(chain.Confirmations(fundingOutPoint.Hash)))

	// Our commitment number commitmentNum, keys from our per-commitment point (BOLT 3, "Key Derivation").
	point, err := ours.GetPerCommitmentPoint(commitmentNum)
	require.NoError(t, err)
	ck := bolt3.CommitmentKeys{
		RevocationKey:    keys.DeriveRevocationPublicKey(tp.RevocationBasepoint, point),
		LocalDelayedKey:  keys.DerivePublicKey(op.DelayedPaymentBasepoint, point),
		RemotePaymentKey: tp.PaymentPoint,
		LocalHTLCKey:     keys.DerivePublicKey(op.HTLCBasepoint, point),
		RemoteHTLCKey:    keys.DerivePublicKey(tp.HTLCBasepoint, point),
		LocalFundingKey:  op.FundingPubkey,
		RemoteFundingKey: tp.FundingPubkey,
	}
	preimage := seed("preimage")
	htlcs := []bolt3.HTLC{
		{Offered: true, AmountMsat: offeredSat * 1000, PaymentHash: seed("out-1"), CltvExpiry: htlcExpiry, ID: 0},
		{Offered: true, AmountMsat: offeredSat * 1000, PaymentHash: seed("out-2"), CltvExpiry: htlcExpiry, ID: 2},
		{Offered: false, AmountMsat: receivedSat * 1000, PaymentHash: sha256.Sum256(preimage[:]), CltvExpiry: htlcExpiry + 10, ID: 1},
	}
	ct, err := bolt3.BuildCommitmentTx(&bolt3.CommitmentParams{
		FundingOutPoint:  fundingOutPoint,
		CommitmentNumber: commitmentNum,
		ObscuringFactor:  bolt3.ObscuringFactor(op.PaymentPoint, tp.PaymentPoint),
		ToLocalMsat:      (fundingSat - toRemoteSat - 2*offeredSat - receivedSat) * 1000,
		ToRemoteMsat:     toRemoteSat * 1000,
		LocalIsFunder:    true,
		FeeratePerKw:     commitFeeratePerKw,
		DustLimitSat:     dustLimitSat,
		ToSelfDelay:      toSelfDelay,
		Keys:             ck,
		HTLCs:            htlcs,
		Type:             bolt3.ChannelTypeAnchors,
		FundingAmountSat: fundingSat,
	})
	require.NoError(t, err)
	require.Len(t, ct.HTLCOutputs, 3)
	require.GreaterOrEqual(t, ct.LocalAnchorIndex, 0)

	// Both sides sign the funding input.
	tx := ct.Tx.Copy()
	ourSig, err := ours.(*keys.InMemorySigner).SignFundingInput(tx, 0, fundingScript, fundingSat)
	require.NoError(t, err)
	theirSig, err := theirs.(*keys.InMemorySigner).SignFundingInput(tx, 0, fundingScript, fundingSat)
	require.NoError(t, err)
	tx.TxIn[0].Witness = bolt3.FundingWitness(fundingScript,
		op.FundingPubkey, append(ourSig.Serialize(), byte(txscript.SigHashAll)),
		tp.FundingPubkey, append(theirSig.Serialize(), byte(txscript.SigHashAll)))
	_, err = chain.CheckTransaction(tx)
	require.NoError(t, err, "the commitment is valid on its own")

	ch := &channel{
		chain:  chain,
		us:     us,
		keysID: ourID,
		signer: ours,
		params: events.ChannelDerivationParameters{ValueSat: fundingSat, KeysID: ourID},
		commit: ct,
		tx:     tx,

		them:            them,
		fundingOutPoint: fundingOutPoint,
		fundingScript:   fundingScript,
		ourPubkeys:      op,
		theirPubkeys:    tp,
		preimage:        preimage,
	}
	ch.theirPoint, err = theirs.GetPerCommitmentPoint(commitmentNum)
	require.NoError(t, err)
	ch.theirSig, err = lnwire.NewSigFromECDSA(theirSig)
	require.NoError(t, err)
	anchorScript, err := bolt3.AnchorScript(op.FundingPubkey)
	require.NoError(t, err)
	ch.anchor = events.AnchorDescriptor{
		Channel:       ch.params,
		OutPoint:      wire.OutPoint{Hash: tx.TxHash(), Index: uint32(ct.LocalAnchorIndex)},
		ValueSat:      bolt3.AnchorOutputValueSat,
		WitnessScript: anchorScript,
	}

	// The counterparty's signatures on our second-stage transactions.
	for _, out := range ct.HTLCOutputs {
		var second *wire.MsgTx
		if out.HTLC.Offered {
			second, err = bolt3.BuildHTLCTimeoutTx(tx.TxHash(), out, commitFeeratePerKw, toSelfDelay, ck.RevocationKey,
				ck.LocalDelayedKey, bolt3.ChannelTypeAnchors)
		} else {
			second, err = bolt3.BuildHTLCSuccessTx(tx.TxHash(), out, commitFeeratePerKw, toSelfDelay, ck.RevocationKey,
				ck.LocalDelayedKey, bolt3.ChannelTypeAnchors)
		}
		require.NoError(t, err)
		sig, err := theirs.SignCounterpartyHTLCTx(second, 0, out.WitnessScript, out.AmountSat, point,
			bolt3.HTLCSigHashType(bolt3.ChannelTypeAnchors))
		require.NoError(t, err)
		wsig, err := lnwire.NewSigFromECDSA(sig)
		require.NoError(t, err)
		ch.htlcSigs = append(ch.htlcSigs, wsig)
		d := events.HTLCDescriptor{
			Channel:            ch.params,
			CommitmentTxid:     tx.TxHash(),
			OutputIndex:        out.OutputIndex,
			ValueSat:           out.AmountSat,
			CommitmentNumber:   commitmentNum,
			PerCommitmentPoint: point,
			FeeratePerKw:       commitFeeratePerKw,
			PaymentHash:        out.HTLC.PaymentHash,
			AmountMsat:         out.HTLC.AmountMsat,
			CltvExpiry:         out.HTLC.CltvExpiry,
			Offered:            out.HTLC.Offered,
			CounterpartySig:    sig.Serialize(),
			WitnessScript:      out.WitnessScript,
			Sequence:           second.TxIn[0].Sequence,
			SecondStageOutput:  *second.TxOut[0],
		}
		require.Equal(t, out.AmountSat, d.SecondStageOutput.Value, "zero-fee second stage")
		if out.HTLC.Offered {
			ch.offered = append(ch.offered, d)
		} else {
			p := preimage
			d.Preimage = &p
			ch.success = append(ch.success, d)
		}
	}
	require.Len(t, ch.offered, 2)
	require.Len(t, ch.success, 1)
	return ch
}

// obscuringFactor is the channel's commitment-number obscuring factor (we opened it).
func (ch *channel) obscuringFactor() uint64 {
	return bolt3.ObscuringFactor(ch.ourPubkeys.PaymentPoint, ch.theirPubkeys.PaymentPoint)
}

// closeEvent is the BumpChannelClose the monitor would emit for the channel.
func (ch *channel) closeEvent(claim byte, targetPerKw uint32, maxFeeSat int64) events.BumpChannelClose {
	return events.BumpChannelClose{
		ClaimID:                   events.ClaimID{claim},
		PackageTargetFeeratePerKw: targetPerKw,
		CommitmentTx:              ch.tx.Copy(),
		CommitmentTxFeeSat:        ch.commit.FeeSat,
		Anchor:                    ch.anchor,
		PendingHTLCs:              append(append([]events.HTLCDescriptor(nil), ch.offered...), ch.success...),
		MaxFeeSat:                 maxFeeSat,
	}
}

// confirmCommitment mines the commitment alone (the test chain has no minimum relay feerate).
func (ch *channel) confirmCommitment(t *testing.T) {
	t.Helper()
	require.NoError(t, ch.chain.SubmitTransaction(ch.tx))
	ch.chain.MineBlocks(1)
	require.EqualValues(t, 1, ch.chain.Confirmations(ch.tx.TxHash()))
}

// testWallet is a WalletSource over a testchain.Wallet: its UTXOs are the confirmed outputs paying the
// wallet's script that no confirmed transaction spends (mempool spends do not hide them, so that a
// replacement can spend them again), and it signs P2WPKH inputs with the wallet's key.
type testWallet struct {
	chain *testchain.Chain
	w     *testchain.Wallet
	key   *btcec.PrivateKey

	mu       sync.Mutex
	listErr  error
	signErr  error
	tamperTx bool // SignTx changes an output (to test the handler's check)
}

func newTestWallet(chain *testchain.Chain, label string) *testWallet {
	key := privKey(label)
	return &testWallet{chain: chain, w: testchain.NewWallet(chain, key), key: key}
}

// fund pays valueSat to the wallet in a new block and returns the outpoint.
func (tw *testWallet) fund(valueSat int64) wire.OutPoint {
	return tw.chain.FundAddress(tw.w.PkScript(), valueSat)
}

func (tw *testWallet) ListConfirmedUTXOs() ([]UTXO, error) {
	tw.mu.Lock()
	err := tw.listErr
	tw.mu.Unlock()
	if err != nil {
		return nil, err
	}
	pk := tw.w.PkScript()
	var out []UTXO
	for h := uint32(0); h <= tw.chain.Height(); h++ {
		blk, ok := tw.chain.BlockAt(h)
		if !ok {
			break
		}
		for _, tx := range blk.Transactions {
			txid := tx.TxHash()
			for i, o := range tx.TxOut {
				if !bytes.Equal(o.PkScript, pk) {
					continue
				}
				op := wire.OutPoint{Hash: txid, Index: uint32(i)}
				if _, unspent := tw.chain.UTXO(op); unspent {
					out = append(out, UTXO{OutPoint: op, Output: *o, SatisfactionWeight: P2WPKHSatisfactionWeight})
				}
			}
		}
	}
	return out, nil
}

func (tw *testWallet) GetChangeScript() ([]byte, error) { return tw.w.PkScript(), nil }

func (tw *testWallet) SignTx(tx *wire.MsgTx, prevOuts map[wire.OutPoint]*wire.TxOut) (*wire.MsgTx, error) {
	tw.mu.Lock()
	err, tamper := tw.signErr, tw.tamperTx
	tw.mu.Unlock()
	if err != nil {
		return nil, err
	}
	pk := tw.w.PkScript()
	hashes := txscript.NewTxSigHashes(tx, txscript.NewMultiPrevOutFetcher(prevOuts))
	for i, in := range tx.TxIn {
		prev := prevOuts[in.PreviousOutPoint]
		if prev == nil || !bytes.Equal(prev.PkScript, pk) {
			continue
		}
		wit, err := txscript.WitnessSignature(tx, hashes, i, prev.Value, pk, txscript.SigHashAll, tw.key, true)
		if err != nil {
			return nil, err
		}
		in.Witness = wit
	}
	if tamper {
		tx.TxOut[len(tx.TxOut)-1].Value--
	}
	return tx, nil
}

// recorder is a BroadcasterInterface that records every call and, if next is set, passes it on.
type recorder struct {
	next chaininterface.BroadcasterInterface

	mu    sync.Mutex
	calls [][]*wire.MsgTx
}

func (r *recorder) BroadcastTransactions(txs ...*wire.MsgTx) {
	r.mu.Lock()
	cp := make([]*wire.MsgTx, len(txs))
	for i, tx := range txs {
		cp[i] = tx.Copy()
	}
	r.calls = append(r.calls, cp)
	r.mu.Unlock()
	if r.next != nil {
		r.next.BroadcastTransactions(txs...)
	}
}

func (r *recorder) all() [][]*wire.MsgTx {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([][]*wire.MsgTx(nil), r.calls...)
}

func (r *recorder) last(t *testing.T) []*wire.MsgTx {
	t.Helper()
	calls := r.all()
	require.NotEmpty(t, calls, "nothing was broadcast")
	return calls[len(calls)-1]
}

// env is a chain, a channel on it, the host's wallet and a handler broadcasting to a recorder that
// forwards to the chain.
type env struct {
	chain   *testchain.Chain
	ch      *channel
	wallet  *testWallet
	coins   *Wallet
	rec     *recorder
	handler *BumpTransactionEventHandler
}

func newEnv(t *testing.T, commitFeeratePerKw uint32, walletUTXOs ...int64) *env {
	t.Helper()
	chain := testchain.New(nil)
	e := &env{chain: chain, ch: newChannel(t, chain, commitFeeratePerKw), wallet: newTestWallet(chain, "host wallet")}
	for _, v := range walletUTXOs {
		e.wallet.fund(v)
	}
	var err error
	e.coins, err = NewWallet(e.wallet, nil)
	require.NoError(t, err)
	e.rec = &recorder{next: chain}
	e.handler, err = NewBumpTransactionEventHandler(e.rec, e.coins, e.ch.us, nil)
	require.NoError(t, err)
	return e
}

// txFee returns the fee of tx, whose inputs are looked up on the chain (confirmed or in the mempool),
// the commitment, or extra.
func (e *env) txFee(t *testing.T, tx *wire.MsgTx, extra ...*wire.MsgTx) int64 {
	t.Helper()
	known := map[[32]byte]*wire.MsgTx{e.ch.tx.TxHash(): e.ch.tx}
	for _, x := range extra {
		known[x.TxHash()] = x
	}
	var in, out int64
	for _, txin := range tx.TxIn {
		op := txin.PreviousOutPoint
		prev, ok := known[op.Hash]
		if !ok {
			prev, _, ok = e.chain.GetTransaction(op.Hash)
		}
		require.True(t, ok, "input %v unknown", op)
		in += prev.TxOut[op.Index].Value
	}
	for _, o := range tx.TxOut {
		out += o.Value
	}
	return in - out
}

// signedWeightOK checks that feeSat over weight meets feeratePerKw (feeSat*1000 ≥ rate*weight).
func requireFeerate(t *testing.T, feeSat, weight int64, feeratePerKw uint32, msg string) {
	t.Helper()
	require.GreaterOrEqual(t, feeSat*1000, int64(feeratePerKw)*weight,
		"%s: %d sat on %d WU is %.1f sat/kw, target %d", msg, feeSat, weight, float64(feeSat)*1000/float64(weight), feeratePerKw)
}
