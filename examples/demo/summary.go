package main

import (
	"bytes"
	"fmt"
	"sort"
	"strconv"
	"time"

	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/lnwire"
)

// BOLT 3 numbers the demo checks the commitment transaction against (written out here rather than
// taken from the library, so that the check is independent of it).
const (
	// anchorOutputSat is the value of each anchor output (BOLT 3, "to_local_anchor and
	// to_remote_anchor Output (option_anchors)").
	anchorOutputSat = 330
	// commitWeightAnchors and htlcOutputWeight give the commitment weight with option_anchors
	// (BOLT 3, "Fee Calculation": 1124 + 172 per untrimmed HTLC output).
	commitWeightAnchors = 1124
	htlcOutputWeight    = 172
	// relayFloorPerKw is the lowest feerate nodes relay, in sat per 1000 weight units (1 sat/vbyte).
	relayFloorPerKw = 253
)

// commitmentFeeSat is the BOLT 3 commitment fee, in sat, of an anchors commitment with numHTLCs
// untrimmed HTLC outputs at feeratePerKw (rounded down).
func commitmentFeeSat(feeratePerKw uint32, numHTLCs int) int64 {
	return int64(feeratePerKw) * int64(commitWeightAnchors+htlcOutputWeight*numHTLCs) / 1000
}

// anchorCommitmentOutputsSat returns the to_local and to_remote amounts, in sat, of an option_anchors
// commitment transaction whose local side is the funder, with numHTLCs untrimmed HTLC outputs: each
// balance is rounded down to whole sat, and the funder pays the fee and both anchors (BOLT 3,
// "Commitment Transaction Construction"). A result below the dust limit means the output is trimmed;
// a negative to_local means the funder cannot pay the fee.
func anchorCommitmentOutputsSat(localMsat, remoteMsat uint64, feeratePerKw uint32, numHTLCs int) (toLocal, toRemote int64) {
	toLocal = int64(localMsat/1000) - commitmentFeeSat(feeratePerKw, numHTLCs) - 2*anchorOutputSat
	return toLocal, int64(remoteMsat / 1000)
}

// outputValue is the sum of a transaction's outputs, in sat.
func outputValue(tx *wire.MsgTx) int64 {
	var v int64
	for _, o := range tx.TxOut {
		v += o.Value
	}
	return v
}

// payTo is the sum of tx's outputs paying script, in sat.
func payTo(tx *wire.MsgTx, script []byte) int64 {
	var v int64
	for _, o := range tx.TxOut {
		if bytes.Equal(o.PkScript, script) {
			v += o.Value
		}
	}
	return v
}

// inputValue is the sum of the outputs tx spends, read from the chain, in sat.
func inputValue(c *testchain.Chain, tx *wire.MsgTx) (int64, error) {
	var v int64
	for _, in := range tx.TxIn {
		prev, _, ok := c.GetTransaction(in.PreviousOutPoint.Hash)
		if !ok || int(in.PreviousOutPoint.Index) >= len(prev.TxOut) {
			return 0, fmt.Errorf("input %s not found on the chain", in.PreviousOutPoint)
		}
		v += prev.TxOut[in.PreviousOutPoint.Index].Value
	}
	return v, nil
}

// txWeight is a transaction's weight in weight units (BIP 141: 3 × stripped size + total size).
func txWeight(tx *wire.MsgTx) int64 {
	return int64(3*tx.SerializeSizeStripped() + tx.SerializeSize())
}

// chainBalance sums the unspent confirmed outputs paying script, scanning every block of the chain.
func chainBalance(c *testchain.Chain, script []byte) (int64, []wire.OutPoint) {
	var total int64
	var ops []wire.OutPoint
	tip := c.Height()
	for h := uint32(0); h <= tip; h++ {
		blk, ok := c.BlockAt(h)
		if !ok {
			break
		}
		for _, tx := range blk.Transactions {
			txid := tx.TxHash()
			for i, o := range tx.TxOut {
				if !bytes.Equal(o.PkScript, script) {
					continue
				}
				op := wire.OutPoint{Hash: txid, Index: uint32(i)}
				if _, unspent := c.UTXO(op); unspent {
					total += o.Value
					ops = append(ops, op)
				}
			}
		}
	}
	return total, ops
}

// unspentTo sums tx's outputs paying script that are still unspent, in sat.
func unspentTo(c *testchain.Chain, tx *wire.MsgTx, script []byte) int64 {
	var v int64
	txid := tx.TxHash()
	for i, o := range tx.TxOut {
		if bytes.Equal(o.PkScript, script) {
			if _, ok := c.UTXO(wire.OutPoint{Hash: txid, Index: uint32(i)}); ok {
				v += o.Value
			}
		}
	}
	return v
}

// payStats sums up one direction's payments.
type payStats struct {
	Attempted, OK, Failed int
	// SendRetries counts SendPaymentWithRoute calls repeated because the channel was momentarily
	// unusable (while the peer reconnected).
	SendRetries int
	// ClaimMismatch counts successful payments whose payee claimed another amount than invoiced.
	ClaimMismatch int
	OKMsat        uint64
	FeesMsat      uint64
	// ExpectedFeesMsat is what the successful payments should have paid in routing fees; FeeMismatch
	// counts those that paid another fee.
	ExpectedFeesMsat uint64
	FeeMismatch      int
	Reasons          map[string]int
	MinLatency       time.Duration
	MaxLatency       time.Duration
	TotalLatency     time.Duration
}

// add records finished payments; the caller must not hold the payment book's lock.
func (s *payStats) add(ps []*payment) {
	if s.Reasons == nil {
		s.Reasons = map[string]int{}
	}
	for _, p := range ps {
		p.from.book.mu.Lock()
		s.Attempted++
		if p.ok {
			s.OK++
			s.OKMsat += p.amountMsat
			s.FeesMsat += p.feePaidMsat
			s.ExpectedFeesMsat += p.expectFeeMsat
			if p.feePaidMsat != p.expectFeeMsat {
				s.FeeMismatch++
			}
			if !p.claimed || p.claimedMsat != p.amountMsat {
				s.ClaimMismatch++
			}
			if s.MinLatency == 0 || p.elapsed < s.MinLatency {
				s.MinLatency = p.elapsed
			}
			s.MaxLatency = max(s.MaxLatency, p.elapsed)
			s.TotalLatency += p.elapsed
		} else {
			s.Failed++
			s.Reasons[p.reason]++
		}
		p.from.book.mu.Unlock()
	}
}

func (s *payStats) String() string {
	line := fmt.Sprintf("%d sent: %d ok, %d failed; %s msat delivered, %s msat routing fees", s.Attempted, s.OK, s.Failed,
		fmtUint(s.OKMsat), fmtUint(s.FeesMsat))
	if s.OK > 0 {
		line += fmt.Sprintf("; latency min %s, avg %s, max %s", s.MinLatency.Round(time.Millisecond),
			(s.TotalLatency / time.Duration(s.OK)).Round(time.Millisecond), s.MaxLatency.Round(time.Millisecond))
	}
	if s.SendRetries > 0 {
		line += fmt.Sprintf("; %d send(s) retried", s.SendRetries)
	}
	if len(s.Reasons) > 0 {
		keys := make([]string, 0, len(s.Reasons))
		for k := range s.Reasons {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			line += fmt.Sprintf("; %d× %s", s.Reasons[k], k)
		}
	}
	return line
}

// check is one verified claim of the summary.
type check struct {
	Name   string
	OK     bool
	Detail string
}

// summary is what a run established.
type summary struct {
	ForceClose         bool
	ChannelID          lnwire.ChannelID
	ChannelType        string
	ChannelValueSat    int64
	FeeratePerKw       uint32 // the chain's fee estimate
	CommitFeeratePerKw uint32 // the channel's commitment feerate
	FundingTxo         wire.OutPoint
	FundingFeeSat      int64

	AliceWalletBeforeSat, AliceWalletAfterSat int64

	AliceToBob, BobToAlice payStats

	AliceBalanceMsat, BobBalanceMsat uint64
	// RoundingSat is the channel value minus both balances rounded down to sat: the msat remainders
	// no output can carry (0 or 1 sat).
	RoundingSat int64

	// Cooperative close.
	ClosingTxid   chainhash.Hash
	ClosingFeeSat int64 // channel value - closing outputs

	// Force close.
	ToSelfDelay                      uint16
	CommitmentTxid                   chainhash.Hash
	CommitmentHeight                 uint32
	CommitmentFeeSat                 int64 // channel value - commitment outputs
	AnchorSat                        int64
	ToLocalSat, ToRemoteSat          int64
	AliceSweepTxid, BobSweepTxid     chainhash.Hash
	AliceSweepHeight, BobSweepHeight uint32
	AliceSweepFeeSat, BobSweepFeeSat int64

	// On chain after the close: outputs paying each side's shutdown script (cooperative) or
	// destination script (force close).
	AliceOnChainSat, BobOnChainSat int64

	// The bob–carol channel, and Alice's payments to Carol through Bob.
	BobCarol     bobCarolSummary
	AliceToCarol payStats
	// FeeBaseMsat and FeePPM are Bob's forwarding policy; RouteHint describes the route hint of
	// Carol's first invoice.
	FeeBaseMsat, FeePPM uint32
	RouteHint           string
	// Forwards counts Bob's PaymentForwarded events, FeesEarnedMsat sums their FeeEarnedMsat and
	// ForwardedMsat their OutboundAmountForwardedMsat; FailedBack counts his HTLCHandlingFailed.
	Forwards       int
	FeesEarnedMsat uint64
	ForwardedMsat  uint64
	FailedBack     int

	Checks []check
	// TempDir is where the nodes kept their files (removed when the run ends).
	TempDir string
	// Notes are remarks that are not checks (e.g. a library limitation the demo works around).
	Notes []string

	// Host glue statistics (bytes each node wrote to its sockets).
	BytesAlice, BytesBob, BytesCarol int64
	PartialSends, SpaceAvail         int64
	ReadPauses, Reconnects           int64
	Elapsed                          time.Duration
}

// bobCarolSummary is what a run established about the bob–carol channel (private, funded by Bob).
type bobCarolSummary struct {
	ChannelID                             lnwire.ChannelID
	ShortChannelID                        lnwire.ShortChannelID
	BobSCIDAlias                          lnwire.ShortChannelID // Bob's alias of the channel (0: none)
	FundingTxo                            wire.OutPoint
	FundingFeeSat                         int64
	CommitFeeratePerKw                    uint32
	BobWalletBeforeSat, BobWalletAfterSat int64
	// Balances before the close.
	BobBalanceMsat, CarolBalanceMsat uint64
	// Cooperative close (as for alice–bob: RoundingSat is the msat remainder no output carries).
	ClosingTxid                    chainhash.Hash
	ClosingFeeSat, RoundingSat     int64
	BobOnChainSat, CarolOnChainSat int64
}

// check records a check; detail is formatted with args.
func (s *summary) check(name string, ok bool, detail string, args ...any) {
	s.Checks = append(s.Checks, check{Name: name, OK: ok, Detail: fmt.Sprintf(detail, args...)})
}

// failedChecks returns the checks that did not hold.
func (s *summary) failedChecks() []check {
	var out []check
	for _, c := range s.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// collectStats copies the sockets' counters of the nodes that exist.
func (s *summary) collectStats(alice, bob, carol *node) {
	for _, x := range []struct {
		n     *node
		bytes *int64
	}{{alice, &s.BytesAlice}, {bob, &s.BytesBob}, {carol, &s.BytesCarol}} {
		if x.n == nil {
			continue
		}
		*x.bytes = x.n.stats.BytesOut.Load()
		s.PartialSends += x.n.stats.PartialSends.Load()
		s.SpaceAvail += x.n.stats.SpaceAvail.Load()
		s.ReadPauses += x.n.stats.ReadPauses.Load()
		x.n.mu.Lock()
		s.Reconnects += int64(x.n.reconnects)
		x.n.mu.Unlock()
	}
}

// print writes the summary.
func (s *summary) print(p *progress, verbose bool) {
	p.println("")
	p.println("==================================== summary ====================================")
	bc := &s.BobCarol
	p.println("channels         %s sat each, %s, private; commitment feerate %d sat/kw (chain estimate %d sat/kw)",
		fmtInt(s.ChannelValueSat), s.ChannelType, s.CommitFeeratePerKw, s.FeeratePerKw)
	p.println("  alice–bob      funding %s, fee %s sat (paid by alice's wallet)", s.FundingTxo, fmtInt(s.FundingFeeSat))
	p.println("  bob–carol      funding %s, fee %s sat (paid by bob's wallet)", bc.FundingTxo, fmtInt(bc.FundingFeeSat))
	p.println("payments")
	p.println("  alice → bob    %s", s.AliceToBob.String())
	p.println("  bob → alice    %s", s.BobToAlice.String())
	p.println("  alice → carol  %s", s.AliceToCarol.String())
	if s.RouteHint != "" {
		p.println("                 through bob, found by alice's router from carol's invoices' route hint: %s", s.RouteHint)
	}
	p.println("forwards         bob: %d PaymentForwarded, %s msat forwarded, %s msat fees earned (policy %d msat + %d ppm); %d failed back",
		s.Forwards, fmtUint(s.ForwardedMsat), fmtUint(s.FeesEarnedMsat), s.FeeBaseMsat, s.FeePPM, s.FailedBack)
	capMsat := uint64(s.ChannelValueSat) * 1000
	p.println("channel balances before the closes")
	p.println("  alice–bob      alice %17s msat   bob   %17s msat   (sum %s msat)", fmtUint(s.AliceBalanceMsat),
		fmtUint(s.BobBalanceMsat), fmtUint(s.AliceBalanceMsat+s.BobBalanceMsat))
	p.println("  bob–carol      bob   %17s msat   carol %17s msat   (sum %s msat)", fmtUint(bc.BobBalanceMsat),
		fmtUint(bc.CarolBalanceMsat), fmtUint(bc.BobBalanceMsat+bc.CarolBalanceMsat))
	direct := int64(s.AliceToBob.OKMsat) - int64(s.BobToAlice.OKMsat)
	p.println("  bob            +%s msat on alice–bob (%s net direct + %s to carol + %s fees), -%s msat on bob–carol",
		fmtUint(s.BobBalanceMsat), fmtInt(direct), fmtUint(s.AliceToCarol.OKMsat), fmtUint(s.AliceToCarol.FeesMsat),
		fmtUint(capMsat-bc.BobBalanceMsat))
	p.println("                 beyond the direct payments he gained %s msat: his fees",
		fmtInt(int64(s.BobBalanceMsat)+int64(bc.BobBalanceMsat)-int64(capMsat)-direct))
	if bc.ClosingTxid != (chainhash.Hash{}) {
		p.println("cooperative close of bob–carol (closing tx %s)", bc.ClosingTxid)
		p.println("  bob on chain   %13s sat  (shutdown script)", fmtInt(bc.BobOnChainSat))
		p.println("  carol on chain %13s sat  (shutdown script)", fmtInt(bc.CarolOnChainSat))
		p.println("  closing fee    %13s sat  (channel value - outputs; %d sat of it is msat rounding)",
			fmtInt(bc.ClosingFeeSat), bc.RoundingSat)
		p.println("  fees in all    %13s sat  (funding %s + closing %s), all paid by bob",
			fmtInt(bc.FundingFeeSat+bc.ClosingFeeSat), fmtInt(bc.FundingFeeSat), fmtInt(bc.ClosingFeeSat))
	}
	switch {
	case s.ClosingTxid == (chainhash.Hash{}) && s.CommitmentTxid == (chainhash.Hash{}):
		p.println("the alice–bob channel was not closed")
	case !s.ForceClose:
		p.println("cooperative close of alice–bob (closing tx %s)", s.ClosingTxid)
		p.println("  alice on chain %13s sat  (shutdown script)", fmtInt(s.AliceOnChainSat))
		p.println("  bob on chain   %13s sat  (shutdown script)", fmtInt(s.BobOnChainSat))
		p.println("  closing fee    %13s sat  (channel value - outputs; %d sat of it is msat rounding)",
			fmtInt(s.ClosingFeeSat), s.RoundingSat)
		p.println("  fees in all    %13s sat  (funding %s + closing %s), all paid by alice",
			fmtInt(s.FundingFeeSat+s.ClosingFeeSat), fmtInt(s.FundingFeeSat), fmtInt(s.ClosingFeeSat))
	default:
		p.println("force close of alice–bob (commitment %s, confirmed at height %d)", s.CommitmentTxid, s.CommitmentHeight)
		p.println("  to_local       %13s sat  alice, locked for to_self_delay = %d blocks", fmtInt(s.ToLocalSat), s.ToSelfDelay)
		p.println("  to_remote      %13s sat  bob, 1-block CSV (anchors)", fmtInt(s.ToRemoteSat))
		p.println("  anchors        %13s sat  (2 × 330, left on chain)", fmtInt(s.AnchorSat))
		p.println("  commitment fee %13s sat  (%d sat of it is msat rounding)", fmtInt(s.CommitmentFeeSat), s.RoundingSat)
		p.println("  alice's sweep  %s at height %d (+%d), fee %s sat", s.AliceSweepTxid, s.AliceSweepHeight,
			int64(s.AliceSweepHeight)-int64(s.CommitmentHeight), fmtInt(s.AliceSweepFeeSat))
		p.println("  bob's sweep    %s at height %d (+%d), fee %s sat", s.BobSweepTxid, s.BobSweepHeight,
			int64(s.BobSweepHeight)-int64(s.CommitmentHeight), fmtInt(s.BobSweepFeeSat))
		p.println("  alice on chain %13s sat  (destination script)", fmtInt(s.AliceOnChainSat))
		p.println("  bob on chain   %13s sat  (destination script)", fmtInt(s.BobOnChainSat))
		p.println("  fees in all    %13s sat  (funding %s + commitment %s + sweeps %s + %s), anchors %s sat",
			fmtInt(s.FundingFeeSat+s.CommitmentFeeSat+s.AliceSweepFeeSat+s.BobSweepFeeSat), fmtInt(s.FundingFeeSat),
			fmtInt(s.CommitmentFeeSat), fmtInt(s.AliceSweepFeeSat), fmtInt(s.BobSweepFeeSat), fmtInt(s.AnchorSat))
	}
	p.println("sockets          bytes written: alice %s, bob %s, carol %s; %d partial sends, %d read pauses, %d reconnects",
		fmtInt(s.BytesAlice), fmtInt(s.BytesBob), fmtInt(s.BytesCarol), s.PartialSends, s.ReadPauses, s.Reconnects)
	p.println("checks")
	for _, c := range s.Checks {
		mark := "ok  "
		if !c.OK {
			mark = "FAIL"
		}
		if verbose || !c.OK {
			p.println("  %s %s: %s", mark, c.Name, c.Detail)
		} else {
			p.println("  %s %s", mark, c.Name)
		}
	}
	for _, n := range s.Notes {
		p.println("note: %s", n)
	}
	p.println("elapsed          %s", s.Elapsed.Round(time.Millisecond))
}

// fmtInt formats n with thousands separators.
func fmtInt(n int64) string {
	if n < 0 {
		return "-" + fmtUint(uint64(-n))
	}
	return fmtUint(uint64(n))
}

// fmtUint formats n with thousands separators.
func fmtUint(n uint64) string {
	s := strconv.FormatUint(n, 10)
	var b []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 {
			b = append(b, ',')
		}
		b = append(b, s[i])
	}
	return string(b)
}
