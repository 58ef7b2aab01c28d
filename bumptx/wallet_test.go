package bumptx

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/bolt3"
)

// memSource is a WalletSource over a fixed, editable list of P2WPKH UTXOs.
type memSource struct {
	mu      sync.Mutex
	utxos   []UTXO
	change  []byte
	listErr error
	chgErr  error
}

func newMemSource(t *testing.T, values ...int64) *memSource {
	change, err := bolt3.P2WPKHScript(privKey("change").PubKey())
	require.NoError(t, err)
	s := &memSource{change: change}
	for i, v := range values {
		s.add(i, v)
	}
	return s
}

// op returns a distinct outpoint for label i.
func op(i int) wire.OutPoint {
	return wire.OutPoint{Hash: sha256.Sum256([]byte(fmt.Sprintf("utxo %d", i))), Index: uint32(i)}
}

func (s *memSource) add(i int, value int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.utxos = append(s.utxos, UTXO{OutPoint: op(i), Output: wire.TxOut{Value: value, PkScript: s.change},
		SatisfactionWeight: P2WPKHSatisfactionWeight})
}

func (s *memSource) remove(o wire.OutPoint) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, u := range s.utxos {
		if u.OutPoint == o {
			s.utxos = append(s.utxos[:i], s.utxos[i+1:]...)
			return
		}
	}
}

func (s *memSource) ListConfirmedUTXOs() ([]UTXO, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]UTXO(nil), s.utxos...), s.listErr
}

func (s *memSource) GetChangeScript() ([]byte, error) { return s.change, s.chgErr }

func (s *memSource) SignTx(tx *wire.MsgTx, _ map[wire.OutPoint]*wire.TxOut) (*wire.MsgTx, error) {
	return tx, nil
}

// payTo is a P2WSH output of valueSat.
func payTo(valueSat int64) *wire.TxOut {
	return &wire.TxOut{Value: valueSat, PkScript: bolt3.WitnessScriptHash([]byte{txscript.OP_TRUE})}
}

func outpoints(sel CoinSelection) []wire.OutPoint {
	var out []wire.OutPoint
	for _, u := range sel.ConfirmedUTXOs {
		out = append(out, u.OutPoint)
	}
	return out
}

// TestWalletSelection: largest first, change exact to the hand-computed weight, locks per claim, the
// claim's own UTXOs first on a repeat, other claims kept off, release by ReleaseClaim and when the
// wallet stops listing a UTXO.
func TestWalletSelection(t *testing.T) {
	src := newMemSource(t, 10_000, 50_000, 30_000)
	w, err := NewWallet(src, nil)
	require.NoError(t, err)
	a, b := events.ClaimID{'a'}, events.ClaimID{'b'}

	sel, err := w.SelectConfirmedUTXOs(a, nil, []*wire.TxOut{payTo(20_000)}, 2000)
	require.NoError(t, err)
	require.Equal(t, []wire.OutPoint{op(1)}, outpoints(sel), "the largest UTXO")
	// version, counts, locktime; one input; P2WSH output; P2WPKH change; marker; the P2WPKH witness.
	weight := int64(4*(4+1+1+4+41+(8+1+34)+(8+1+22)) + 2 + 109)
	require.NotNil(t, sel.ChangeOutput)
	require.Equal(t, 50_000-20_000-(2000*weight+999)/1000, sel.ChangeOutput.Value)
	require.Equal(t, src.change, sel.ChangeOutput.PkScript)
	require.Equal(t, []wire.OutPoint{op(1)}, w.LockedUTXOs(a))

	// Claim b cannot have op(1); it takes the next largest.
	sel, err = w.SelectConfirmedUTXOs(b, nil, []*wire.TxOut{payTo(20_000)}, 2000)
	require.NoError(t, err)
	require.Equal(t, []wire.OutPoint{op(2)}, outpoints(sel))

	// Claim a again, needing more: its own UTXO first, then the largest free one.
	sel, err = w.SelectConfirmedUTXOs(a, nil, []*wire.TxOut{payTo(55_000)}, 2000)
	require.NoError(t, err)
	require.Equal(t, []wire.OutPoint{op(1), op(0)}, outpoints(sel))
	// And again, needing little: every UTXO of the claim is spent again.
	sel, err = w.SelectConfirmedUTXOs(a, nil, []*wire.TxOut{payTo(1000)}, 2000)
	require.NoError(t, err)
	require.Equal(t, []wire.OutPoint{op(1), op(0)}, outpoints(sel))

	// Nothing free is left for a third claim.
	_, err = w.SelectConfirmedUTXOs(events.ClaimID{'c'}, nil, []*wire.TxOut{payTo(1000)}, 2000)
	require.ErrorIs(t, err, ErrInsufficientFunds)
	require.ErrorContains(t, err, "3 more locked to other claims")

	// Release: ReleaseClaim, and a UTXO the wallet no longer lists.
	w.ReleaseClaim(a)
	require.Empty(t, w.LockedUTXOs(a))
	src.remove(op(2))
	sel, err = w.SelectConfirmedUTXOs(events.ClaimID{'c'}, nil, []*wire.TxOut{payTo(1000)}, 2000)
	require.NoError(t, err)
	require.Equal(t, []wire.OutPoint{op(1)}, outpoints(sel))
	require.Empty(t, w.LockedUTXOs(b), "op(2) is gone, so is its lock")
}

// TestWalletChange: change below the dust threshold goes to the fee; with no required outputs the
// wallet adds a UTXO to get change rather than return a selection without any output, and falls back
// to one without change when it cannot; UTXOs worth less than their own spending fee are skipped.
func TestWalletChange(t *testing.T) {
	const rate = 1000
	// One input, one P2WSH output, with and without P2WPKH change.
	withChange := int64(4*(4+1+1+4+41+(8+1+34)+(8+1+22)) + 2 + 109)
	without := withChange - 4*(8+1+22)
	value := 20_000 + feeForWeight(rate, withChange) + 293 // change would be 293 sat: dust
	w, err := NewWallet(newMemSource(t, value), nil)
	require.NoError(t, err)
	sel, err := w.SelectConfirmedUTXOs(events.ClaimID{1}, nil, []*wire.TxOut{payTo(20_000)}, rate)
	require.NoError(t, err)
	require.Nil(t, sel.ChangeOutput)
	require.Len(t, sel.ConfirmedUTXOs, 1)
	require.GreaterOrEqual(t, value-20_000, feeForWeight(rate, without))

	// No required output (a CPFP child): a bigger first UTXO that leaves dust is completed by a second.
	const childRate = 20_000
	anchorIn := Input{OutPoint: op(100), PrevOut: wire.TxOut{Value: 330}, SatisfactionWeight: 116}
	child := func(k int) int64 { // weight with k wallet inputs and change
		return int64(4*(4+1+1+4+41*(1+k)+(8+1+22))+2) + 116 + int64(k)*109
	}
	big := feeForWeight(childRate, child(1)) - 330 + 200 // change would be 200 sat
	src := newMemSource(t, big, 8_000)
	w, err = NewWallet(src, nil)
	require.NoError(t, err)
	sel, err = w.SelectConfirmedUTXOs(events.ClaimID{2}, []Input{anchorIn}, nil, childRate)
	require.NoError(t, err)
	require.Equal(t, []wire.OutPoint{op(0), op(1)}, outpoints(sel))
	require.NotNil(t, sel.ChangeOutput)
	require.Equal(t, big+8_000+330-feeForWeight(childRate, child(2)), sel.ChangeOutput.Value)

	// Alone, that UTXO is taken without change.
	w, err = NewWallet(newMemSource(t, big), nil)
	require.NoError(t, err)
	sel, err = w.SelectConfirmedUTXOs(events.ClaimID{2}, []Input{anchorIn}, nil, childRate)
	require.NoError(t, err)
	require.Equal(t, []wire.OutPoint{op(0)}, outpoints(sel))
	require.Nil(t, sel.ChangeOutput)

	// A UTXO worth less than its spending fee (273 WU at 5,000 sat/kw: 1,365 sat) is never chosen.
	w, err = NewWallet(newMemSource(t, 1_365), nil)
	require.NoError(t, err)
	_, err = w.SelectConfirmedUTXOs(events.ClaimID{3}, []Input{anchorIn}, nil, 5000)
	require.ErrorIs(t, err, ErrInsufficientFunds)
	require.ErrorContains(t, err, "0 usable UTXOs")
}

// TestWalletBadRequests: malformed arguments and WalletSource failures are errors, not panics.
func TestWalletBadRequests(t *testing.T) {
	src := newMemSource(t, 100_000)
	w, err := NewWallet(src, nil)
	require.NoError(t, err)
	id := events.ClaimID{1}
	in := Input{OutPoint: op(50), PrevOut: wire.TxOut{Value: 1000}, SatisfactionWeight: 100}
	for name, args := range map[string]struct {
		ins  []Input
		outs []*wire.TxOut
	}{
		"duplicate input":  {ins: []Input{in, in}},
		"negative input":   {ins: []Input{{PrevOut: wire.TxOut{Value: -1}}}},
		"negative weight":  {ins: []Input{{SatisfactionWeight: -1}}},
		"huge weight":      {ins: []Input{{SatisfactionWeight: maxWeight + 1}}},
		"nil output":       {outs: []*wire.TxOut{nil}},
		"negative output":  {outs: []*wire.TxOut{{Value: -5}}},
		"too much outputs": {outs: []*wire.TxOut{payTo(21_000_000 * 1e8), payTo(1)}},
	} {
		_, err := w.SelectConfirmedUTXOs(id, args.ins, args.outs, 1000)
		require.ErrorIs(t, err, ErrInvalidRequest, name)
	}
	// A required input the wallet also lists is not selected twice.
	sel, err := w.SelectConfirmedUTXOs(id, []Input{{OutPoint: op(0), PrevOut: wire.TxOut{Value: 100_000}, SatisfactionWeight: 109}},
		[]*wire.TxOut{payTo(50_000)}, 1000)
	require.NoError(t, err)
	require.Empty(t, sel.ConfirmedUTXOs)

	src.listErr = errors.New("disk on fire")
	_, err = w.SelectConfirmedUTXOs(id, nil, []*wire.TxOut{payTo(1)}, 1000)
	require.ErrorContains(t, err, "disk on fire")
	src.listErr, src.chgErr = nil, errors.New("no address")
	_, err = w.SelectConfirmedUTXOs(id, nil, []*wire.TxOut{payTo(1)}, 1000)
	require.ErrorContains(t, err, "no address")
	src.chgErr, src.change = nil, nil
	_, err = w.SelectConfirmedUTXOs(id, nil, []*wire.TxOut{payTo(1)}, 1000)
	require.ErrorIs(t, err, ErrInvalidRequest)
	_, err = w.SignTx(nil, nil)
	require.ErrorIs(t, err, ErrInvalidRequest)
}

// TestWalletConcurrentClaims: concurrent selections for different claims never share a UTXO.
func TestWalletConcurrentClaims(t *testing.T) {
	values := make([]int64, 20)
	for i := range values {
		values[i] = 50_000
	}
	w, err := NewWallet(newMemSource(t, values...), nil)
	require.NoError(t, err)
	var wg sync.WaitGroup
	results := make([]CoinSelection, len(values))
	errs := make([]error, len(values))
	for i := range values {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			results[i], errs[i] = w.SelectConfirmedUTXOs(events.ClaimID{byte(i)}, nil, []*wire.TxOut{payTo(30_000)}, 2000)
		}(i)
	}
	wg.Wait()
	used := map[wire.OutPoint]int{}
	for i, sel := range results {
		require.NoError(t, errs[i])
		for _, o := range outpoints(sel) {
			used[o]++
			require.Equal(t, 1, used[o], "UTXO %v given to two claims", o)
		}
	}
}

// fakeCoins is a CoinSelectionSource returning a fixed selection, for the handler's handling of odd
// selections.
type fakeCoins struct {
	sel   CoinSelection
	rates []uint32
	sign  func(tx *wire.MsgTx) (*wire.MsgTx, error)
}

func (f *fakeCoins) SelectConfirmedUTXOs(_ events.ClaimID, _ []Input, _ []*wire.TxOut, rate uint32) (CoinSelection, error) {
	f.rates = append(f.rates, rate)
	return f.sel, nil
}

func (f *fakeCoins) SignTx(tx *wire.MsgTx, prev map[wire.OutPoint]*wire.TxOut) (*wire.MsgTx, error) {
	if f.sign != nil {
		return f.sign(tx)
	}
	return tx, nil
}

// TestChildWithoutChange: a selection without change gives the child a zero-value OP_RETURN output
// (padded to the 65-byte minimum when the anchor alone pays); the chain accepts it.
func TestChildWithoutChange(t *testing.T) {
	e := newEnv(t, 253)
	coins := &fakeCoins{} // the anchor and the commitment's fee pay a small target alone
	h, err := NewBumpTransactionEventHandler(e.rec, coins, e.ch.us, nil)
	require.NoError(t, err)
	ev := e.ch.closeEvent(1, 300, 0)
	require.NoError(t, h.HandleEvent(ev))
	child := childOf(t, e, e.rec.last(t))
	require.Empty(t, e.chain.Rejected())
	require.Len(t, child.TxIn, 1)
	require.Len(t, child.TxOut, 1)
	require.Zero(t, child.TxOut[0].Value)
	require.Equal(t, txscript.NullDataTy, txscript.GetScriptClass(child.TxOut[0].PkScript))
	require.Equal(t, minStandardTxSize, child.SerializeSizeStripped())
	requireFeerate(t, ev.CommitmentTxFeeSat+330, TxWeight(e.ch.tx)+TxWeight(child), 300, "package")

	// A selection that does not grow when asked a higher feerate is as good as an empty wallet.
	coins.rates = nil
	err = h.HandleEvent(e.ch.closeEvent(2, 5000, 0))
	require.ErrorIs(t, err, ErrInsufficientFunds)
	require.Len(t, coins.rates, 2)
	require.Greater(t, coins.rates[1], coins.rates[0], "the second attempt asks more")

	// Unusable selections.
	anchorAgain := UTXO{OutPoint: e.ch.anchor.OutPoint, Output: wire.TxOut{Value: 330}, SatisfactionWeight: 10}
	for name, sel := range map[string]CoinSelection{
		"required input":  {ConfirmedUTXOs: []UTXO{anchorAgain}},
		"twice":           {ConfirmedUTXOs: []UTXO{{OutPoint: op(1), Output: wire.TxOut{Value: 1000}}, {OutPoint: op(1), Output: wire.TxOut{Value: 1000}}}},
		"zero value":      {ConfirmedUTXOs: []UTXO{{OutPoint: op(1)}}},
		"dust change":     {ChangeOutput: &wire.TxOut{Value: 100, PkScript: e.wallet.w.PkScript()}},
		"change too high": {ChangeOutput: &wire.TxOut{Value: 100_000, PkScript: e.wallet.w.PkScript()}},
	} {
		coins.sel = sel
		require.ErrorIs(t, h.HandleEvent(e.ch.closeEvent(3, 5000, 0)), ErrCoinSelection, name)
	}
	require.Len(t, e.rec.all(), 1)
}

// TestChildWithoutChangeFromWallet: when the wallet's only UTXO leaves less than dust after the fee,
// the Wallet returns it without change, the child pays everything to the fee with an OP_RETURN output,
// and the chain accepts the package at the target.
func TestChildWithoutChangeFromWallet(t *testing.T) {
	const target = 5000
	probe := newEnv(t, 253)
	wc := TxWeight(probe.ch.tx)
	withChange := int64(4*(4+1+1+4+82+31) + 2 + 116 + 109)
	value := feeForWeight(target, wc+withChange) - 330 - probe.ch.commit.FeeSat + 250 // 250 sat of change: dust

	e := newEnv(t, 253, value)
	require.NoError(t, e.handler.HandleEvent(e.ch.closeEvent(1, target, 0)))
	require.Empty(t, e.chain.Rejected())
	child := childOf(t, e, e.rec.last(t))
	require.Len(t, child.TxIn, 2)
	require.Len(t, child.TxOut, 1)
	require.Zero(t, child.TxOut[0].Value)
	require.Equal(t, txscript.NullDataTy, txscript.GetScriptClass(child.TxOut[0].PkScript))
	requireFeerate(t, e.ch.commit.FeeSat+value+330, wc+TxWeight(child), target, "package")
}

// TestHandlerReleaseClaim: ReleaseClaim forgets the claim's last transaction and its UTXO locks, so the
// same claim is then handled as new (and another claim may take the UTXO).
func TestHandlerReleaseClaim(t *testing.T) {
	e := newEnv(t, 253, walletUTXOSat)
	rec := &recorder{} // no chain: the tests compare transactions only
	h, err := NewBumpTransactionEventHandler(rec, e.coins, e.ch.us, nil)
	require.NoError(t, err)
	require.NoError(t, h.HandleEvent(e.ch.closeEvent(1, 5000, 0)))
	require.NotEmpty(t, e.coins.LockedUTXOs(events.ClaimID{1}))
	require.ErrorIs(t, h.HandleEvent(e.ch.closeEvent(2, 5000, 0)), ErrInsufficientFunds)
	h.ReleaseClaim(events.ClaimID{1})
	require.Empty(t, e.coins.LockedUTXOs(events.ClaimID{1}))
	h.mu.Lock()
	require.Empty(t, h.claims)
	h.mu.Unlock()
	require.NoError(t, h.HandleEvent(e.ch.closeEvent(2, 5000, 0)))
	require.Len(t, rec.all(), 2)
}

// TestHandlerConcurrentEvents: events of many claims handled at once (run with -race) each get their
// own wallet UTXO; repeats of one claim at once stay consistent.
func TestHandlerConcurrentEvents(t *testing.T) {
	values := make([]int64, 8)
	for i := range values {
		values[i] = walletUTXOSat
	}
	e := newEnv(t, 253, values...)
	rec := &recorder{}
	h, err := NewBumpTransactionEventHandler(rec, e.coins, e.ch.us, nil)
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make([]error, 2*len(values))
	for i := range errs {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			claim := byte(i % len(values))
			errs[i] = h.HandleEvent(e.ch.closeEvent(claim, 5000+uint32(i), 0))
		}(i)
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	owner := map[wire.OutPoint]byte{}
	for _, call := range rec.all() {
		child := call[1]
		claim := byte(0)
		for id := range values {
			locked := e.coins.LockedUTXOs(events.ClaimID{byte(id)})
			if len(locked) > 0 && locked[0] == child.TxIn[1].PreviousOutPoint {
				claim = byte(id)
			}
		}
		if prev, ok := owner[child.TxIn[1].PreviousOutPoint]; ok {
			require.Equal(t, prev, claim)
		}
		owner[child.TxIn[1].PreviousOutPoint] = claim
	}
	require.Len(t, owner, len(values), "one UTXO per claim")
}
