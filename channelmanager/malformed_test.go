package channelmanager

// Malformed and out-of-order messages (BOLT 1 and BOLT 2) delivered to a node with an open, funded
// channel. Each test names the rule it checks and asserts the reaction: an `error` and a force close
// (the monitor broadcasts our latest commitment, found in the chain's mempool), or a `warning` with the
// channel intact (a payment each way afterwards still works and the balances still add up). Messages
// go through the lnwire codec before HandleChannelMessage, as the PeerManager would hand them over;
// those that cannot even be decoded are sent as raw bytes through a PeerManager instead.

import (
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/noise"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/lnwire"
	"github.com/lnkit/lnkit/peermanager"
)

// fixture is two nodes with a funded, usable channel, opened by alice (node 0) with 400,000 sat pushed
// to bob (node 1), and one payment made each way so both commitment chains have moved past 0.
type fixture struct {
	t        *testing.T
	nw       *network
	a, b     *testNode
	id       lnwire.ChannelID
	balanceA uint64 // alice's balance, msat
}

const fixtureValueSat = 1_000_000

// newFixture builds the fixture; tweakA, if set, changes alice's config before her manager starts.
func newFixture(t *testing.T, tweakA func(*config.UserConfig)) *fixture {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a := newTestNode(t, chain, "alice", 1)
	if tweakA != nil {
		tweakA(&a.cfg)
		a.start(nil)
	}
	b := newTestNode(t, chain, "bob", 2)
	nw := newNetwork(t, a, b)
	nw.connect(0, 1)
	id := nw.openChannel(0, 1, fixtureValueSat, 400_000_000)
	f := &fixture{t: t, nw: nw, a: a, b: b, id: id, balanceA: 600_000_000}
	f.pay(0, 10_000_000)
	f.pay(1, 5_000_000)
	return f
}

// pay sends a payment from node `from` to the other, settles, and checks that it went through and that
// the balances agree.
func (f *fixture) pay(from int, amountMsat uint64) {
	f.t.Helper()
	_, _, err := f.nw.pay(from, 1-from, amountMsat)
	require.NoError(f.t, err)
	f.nw.settle()
	require.Equal(f.t, 1, countEvents[events.PaymentSent](f.nw.nodes[from].takeEvents()), "payment from node %d succeeded", from)
	require.Equal(f.t, 1, countEvents[events.PaymentClaimed](f.nw.nodes[1-from].takeEvents()))
	if from == 0 {
		f.balanceA -= amountMsat
	} else {
		f.balanceA += amountMsat
	}
	checkBalances(f.t, f.a, f.b, f.id, f.balanceA)
}

// chan returns a node's internal channel state (tests run single-threaded around it).
func (f *fixture) chanOf(n *testNode) *channel {
	_, c := n.cm.findChannel(f.id)
	require.NotNil(f.t, c)
	return c
}

// deliver hands msg from `from` to `to`'s manager as the PeerManager would: encoded and decoded first
// (a Go value that cannot be encoded, such as one missing a point, goes as it is). It must not panic.
func deliver(t testing.TB, to, from *testNode, msg lnwire.Message) {
	t.Helper()
	if b, err := lnwire.EncodeMessage(msg); err == nil {
		m, err := lnwire.DecodeMessage(b)
		require.NoError(t, err)
		msg = m
	}
	require.NotPanics(t, func() { to.cm.HandleChannelMessage(from.id, msg) }, "%T", msg)
}

// outbox is what a manager wants to send, sorted by kind.
type outbox struct {
	errs   []*lnwire.Error
	warns  []*lnwire.Warning
	others []lnwire.Message
}

func takeOutbox(n *testNode) outbox {
	var o outbox
	for _, me := range n.cm.GetAndClearPendingMsgEvents() {
		switch m := me.Msg.(type) {
		case *lnwire.Error:
			o.errs = append(o.errs, m)
		case *lnwire.Warning:
			o.warns = append(o.warns, m)
		case nil:
		default:
			o.others = append(o.others, m)
		}
	}
	return o
}

// commitmentTxid returns the txid of the node's latest holder commitment, from its monitor.
func (f *fixture) commitmentTxid(n *testNode) [32]byte {
	mon, ok := n.chainMon.GetMonitor(f.a.channel(f.id).FundingTxo)
	require.True(f.t, ok)
	tx, err := mon.LatestHolderCommitmentTx()
	require.NoError(f.t, err)
	return tx.TxHash()
}

// fundingSpender returns the transaction spending the funding output, confirmed or in the mempool.
func (f *fixture) fundingSpender() ([32]byte, bool) {
	return f.a.chain.SpentBy(f.a.channel(f.id).FundingTxo)
}

// expectFailed asserts that `to` failed the channel over msgs: an `error` naming the channel whose text
// contains why, a ChannelClosed (ProcessingError), and its latest commitment broadcast. The peer then
// gets the error and closes too, and the commitment confirms.
func (f *fixture) expectFailed(to *testNode, why string) {
	f.t.Helper()
	peer := f.a
	if to == f.a {
		peer = f.b
	}
	want := f.commitmentTxid(to)
	o := takeOutbox(to)
	require.Len(f.t, o.errs, 1, "one error sent (warnings %v, others %v)", o.warns, o.others)
	require.Equal(f.t, f.id, o.errs[0].ChannelID)
	require.Contains(f.t, string(o.errs[0].Data), why)
	to.handleEvents()
	ev := requireClosed(f.t, to.takeEvents(), f.id, events.ProcessingError)
	require.Contains(f.t, ev.Message, why)
	require.Equal(f.t, "Closed", to.channel(f.id).State)
	require.False(f.t, to.channel(f.id).IsUsable)
	spender, ok := f.fundingSpender()
	require.True(f.t, ok, "commitment broadcast; rejected: %v", to.chain.Rejected())
	require.Equal(f.t, want, [32]byte(spender), "%s's latest commitment is in the mempool", to.name)
	// The peer learns of it through the error and fails the channel on its side.
	deliver(f.t, peer, to, o.errs[0])
	peer.handleEvents()
	requireClosed(f.t, peer.takeEvents(), f.id, events.CounterpartyForceClosed)
	to.chain.MineBlocks(1)
	require.Equal(f.t, uint32(1), to.chain.Confirmations(spender), "commitment confirmed")
}

// expectWarned asserts that `to` answered with a `warning` containing why and nothing else, that the
// channel is untouched, and that it still carries payments both ways with balances that add up.
func (f *fixture) expectWarned(to *testNode, why string) {
	f.t.Helper()
	o := takeOutbox(to)
	require.Empty(f.t, o.errs, "no error sent")
	require.Len(f.t, o.warns, 1, "one warning sent (others %v)", o.others)
	require.Contains(f.t, string(o.warns[0].Data), why)
	f.expectIntact(o.others)
}

// expectIntact asserts that the channel survived: nothing closed, nothing broadcast, payments work.
func (f *fixture) expectIntact(others []lnwire.Message) {
	f.t.Helper()
	require.Empty(f.t, others, "nothing else sent")
	for _, n := range []*testNode{f.a, f.b} {
		n.handleEvents()
		require.Zero(f.t, countEvents[events.ChannelClosed](n.takeEvents()), "%s closed nothing", n.name)
		require.True(f.t, n.channel(f.id).IsUsable, "%s: channel usable", n.name)
	}
	_, spent := f.fundingSpender()
	require.False(f.t, spent, "nothing broadcast")
	f.nw.settle()
	checkBalances(f.t, f.a, f.b, f.id, f.balanceA)
	f.pay(0, 3_000_000)
	f.pay(1, 2_000_000)
}

// validAdd is an update_add_htlc from bob that alice would accept.
func (f *fixture) validAdd(amountMsat uint64) *lnwire.UpdateAddHTLC {
	return &lnwire.UpdateAddHTLC{ChannelID: f.id, ID: f.chanOf(f.a).nextRemoteHTLCID, AmountMsat: amountMsat,
		PaymentHash: sha256.Sum256([]byte("forged")), CLTVExpiry: f.a.chain.Height() + 100}
}

// TestMalformedUpdateAddHTLC checks the BOLT 2 receiver requirements of update_add_htlc: each
// violation fails the channel.
func TestMalformedUpdateAddHTLC(t *testing.T) {
	limits := func(c *config.UserConfig) {
		c.ChannelHandshakeConfig.OurHTLCMinimumMsat = 5_000
		c.ChannelHandshakeConfig.OurMaxAcceptedHTLCs = 5
		c.ChannelHandshakeConfig.MaxInboundHTLCValueInFlightPercent = 10 // 100,000,000 msat
	}
	cases := []struct {
		name  string
		tweak func(*config.UserConfig)
		// send delivers bob's messages; the last one must be refused.
		send func(f *fixture)
		why  string
	}{
		{"id skips one", nil, func(f *fixture) {
			m := f.validAdd(1_000_000)
			m.ID++
			deliver(t, f.a, f.b, m)
		}, "update_add_htlc id"},
		{"id replayed", nil, func(f *fixture) {
			deliver(t, f.a, f.b, f.validAdd(1_000_000))
			require.Empty(t, takeOutbox(f.a).errs)
			m := f.validAdd(1_000_000)
			m.ID--
			deliver(t, f.a, f.b, m)
		}, "update_add_htlc id"},
		{"amount 0", nil, func(f *fixture) {
			deliver(t, f.a, f.b, f.validAdd(0))
		}, "below our htlc_minimum_msat"},
		{"below htlc_minimum_msat", limits, func(f *fixture) {
			deliver(t, f.a, f.b, f.validAdd(4_999))
		}, "below our htlc_minimum_msat"},
		{"cltv_expiry 500000000", nil, func(f *fixture) {
			m := f.validAdd(1_000_000)
			m.CLTVExpiry = 500_000_000
			deliver(t, f.a, f.b, m)
		}, "not a block height"},
		{"more than max_accepted_htlcs", limits, func(f *fixture) {
			for i := 0; i < 5; i++ {
				deliver(t, f.a, f.b, f.validAdd(5_000))
				o := takeOutbox(f.a)
				require.Empty(t, o.errs, "HTLC %d of 5 accepted", i)
				require.Empty(t, o.warns)
			}
			deliver(t, f.a, f.b, f.validAdd(5_000))
		}, "max_accepted_htlcs"},
		{"more than max_htlc_value_in_flight_msat", limits, func(f *fixture) {
			deliver(t, f.a, f.b, f.validAdd(60_000_000))
			require.Empty(t, takeOutbox(f.a).errs)
			deliver(t, f.a, f.b, f.validAdd(40_000_001))
		}, "max_htlc_value_in_flight_msat"},
		{"sender cannot afford it", nil, func(f *fixture) {
			// Bob has 405,000,000 msat and must keep alice's reserve requirement (10,000 sat).
			deliver(t, f.a, f.b, f.validAdd(395_000_001))
		}, "cannot afford"},
		{"sender cannot afford the second", nil, func(f *fixture) {
			deliver(t, f.a, f.b, f.validAdd(200_000_000))
			require.Empty(t, takeOutbox(f.a).errs)
			deliver(t, f.a, f.b, f.validAdd(195_000_001))
		}, "cannot afford"},
		{"after shutdown", nil, func(f *fixture) {
			// An HTLC from alice is pending, so the channel stays in the shutdown phase.
			f.b.autoClaim = false
			_, _, err := f.nw.pay(0, 1, 20_000_000)
			require.NoError(t, err)
			f.nw.settle()
			script, err := f.b.km.GetShutdownScriptPubKey()
			require.NoError(t, err)
			deliver(t, f.a, f.b, &lnwire.Shutdown{ChannelID: f.id, ScriptPubKey: script})
			o := takeOutbox(f.a)
			require.Empty(t, o.errs)
			require.Equal(t, "Shutdown", f.a.channel(f.id).State)
			deliver(t, f.a, f.b, f.validAdd(1_000_000))
		}, "after shutdown"},
		{"during closing negotiation", nil, func(f *fixture) {
			script, err := f.b.km.GetShutdownScriptPubKey()
			require.NoError(t, err)
			deliver(t, f.a, f.b, &lnwire.Shutdown{ChannelID: f.id, ScriptPubKey: script})
			o := takeOutbox(f.a)
			require.Empty(t, o.errs)
			require.Equal(t, "NegotiatingClosing", f.a.channel(f.id).State)
			deliver(t, f.a, f.b, f.validAdd(1_000_000))
		}, "update_add_htlc"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, tc.tweak)
			tc.send(f)
			f.expectFailed(f.a, tc.why)
		})
	}
	// The funder must also keep the commitment fee and the anchors: an HTLC that leaves alice her
	// reserve but not the fee is refused by bob.
	t.Run("funder cannot afford the fee", func(t *testing.T) {
		f := newFixture(t, nil)
		cb := f.chanOf(f.b)
		reserveMsat := cb.local.ChannelReserveSat * 1000
		amt := f.balanceA - reserveMsat - 100_000 // the fee and anchors are about 1,000,000 msat
		deliver(t, f.b, f.a, &lnwire.UpdateAddHTLC{ChannelID: f.id, ID: cb.nextRemoteHTLCID, AmountMsat: amt,
			PaymentHash: sha256.Sum256([]byte("forged")), CLTVExpiry: f.b.chain.Height() + 100})
		f.expectFailed(f.b, "cannot afford")
	})
	// Exactly at each limit is fine: the refusals above are one msat (or one HTLC) past it.
	t.Run("limits reached but not passed", func(t *testing.T) {
		f := newFixture(t, limits)
		for _, amt := range []uint64{5_000, 60_000_000, 39_995_000} { // 100,000,000 msat in flight
			deliver(t, f.a, f.b, f.validAdd(amt))
			o := takeOutbox(f.a)
			require.Empty(t, o.errs, "%d msat", amt)
			require.Empty(t, o.warns)
		}
		f = newFixture(t, nil)
		deliver(t, f.a, f.b, f.validAdd(395_000_000)) // bob keeps exactly alice's reserve
		o := takeOutbox(f.a)
		require.Empty(t, o.errs)
		require.Empty(t, o.warns)
		require.True(t, f.a.channel(f.id).IsUsable)
	})
	t.Run("funder can afford it", func(t *testing.T) {
		f := newFixture(t, nil)
		cb := f.chanOf(f.b)
		amt := f.balanceA - cb.local.ChannelReserveSat*1000 - 2_000_000
		deliver(t, f.b, f.a, &lnwire.UpdateAddHTLC{ChannelID: f.id, ID: cb.nextRemoteHTLCID, AmountMsat: amt,
			PaymentHash: sha256.Sum256([]byte("forged")), CLTVExpiry: f.b.chain.Height() + 100})
		o := takeOutbox(f.b)
		require.Empty(t, o.errs)
		require.Empty(t, o.warns)
		require.True(t, f.b.channel(f.id).IsUsable)
	})
}

// TestUpdateAddHTLCBeforeChannelReady: an HTLC on a channel whose funding has not confirmed fails it.
func TestUpdateAddHTLCBeforeChannelReady(t *testing.T) {
	nw, a, b := twoNodes(t)
	a.chain.FundAddress(a.wallet.PkScript(), 2_000_000)
	a.chain.MineBlocks(1)
	_, err := a.cm.CreateChannel(b.id, 1_000_000, 400_000_000, [16]byte{1}, nil)
	require.NoError(t, err)
	nw.settle()
	d := a.cm.ListChannels()[0]
	require.Equal(t, "AwaitingChannelReady", d.State)
	a.handleEvents()
	a.takeEvents()
	deliver(t, a, b, &lnwire.UpdateAddHTLC{ChannelID: d.ChannelID, AmountMsat: 1_000_000, CLTVExpiry: 500})
	o := takeOutbox(a)
	require.Len(t, o.errs, 1)
	require.Contains(t, string(o.errs[0].Data), "before the channel is ready")
	a.handleEvents()
	requireClosed(t, a.takeEvents(), d.ChannelID, events.ProcessingError)
	// The funding transaction is still unconfirmed; our commitment follows it into the mempool.
	spender, ok := a.chain.SpentBy(d.FundingTxo)
	require.True(t, ok, "commitment broadcast; rejected %v", a.chain.Rejected())
	a.chain.MineBlocks(1)
	require.Equal(t, uint32(1), a.chain.Confirmations(spender))
}

// TestMalformedCommitmentSigned: a bad commitment signature, a bad HTLC signature, and the wrong number
// of HTLC signatures each fail the channel (BOLT 2, "Committing Updates So Far").
func TestMalformedCommitmentSigned(t *testing.T) {
	cases := []struct {
		name   string
		mutate func(m *lnwire.CommitmentSigned)
		why    string
	}{
		{"bad signature", func(m *lnwire.CommitmentSigned) { m.Signature[40] ^= 0x01 }, "invalid commitment signature"},
		{"zero signature", func(m *lnwire.CommitmentSigned) { m.Signature = lnwire.Sig{} }, "invalid commitment signature"},
		{"bad HTLC signature", func(m *lnwire.CommitmentSigned) { m.HTLCSignatures[0][50] ^= 0x80 }, "invalid HTLC signature"},
		{"HTLC signature missing", func(m *lnwire.CommitmentSigned) { m.HTLCSignatures = nil }, "HTLC signatures"},
		{"HTLC signature extra", func(m *lnwire.CommitmentSigned) {
			m.HTLCSignatures = append(m.HTLCSignatures, m.HTLCSignatures[0])
		}, "HTLC signatures"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			// Alice offers an HTLC above the dust limit: her commitment_signed carries one HTLC signature.
			_, _, err := f.nw.pay(0, 1, 20_000_000)
			require.NoError(t, err)
			msgs := takeOutbox(f.a).others
			require.Len(t, msgs, 2)
			add, ok := msgs[0].(*lnwire.UpdateAddHTLC)
			require.True(t, ok, "%T", msgs[0])
			cs, ok := msgs[1].(*lnwire.CommitmentSigned)
			require.True(t, ok, "%T", msgs[1])
			require.Len(t, cs.HTLCSignatures, 1)
			deliver(t, f.b, f.a, add)
			require.Empty(t, takeOutbox(f.b).others)
			tc.mutate(cs)
			deliver(t, f.b, f.a, cs)
			f.expectFailed(f.b, tc.why)
		})
	}
}

// TestMalformedRevokeAndAck: a revocation whose secret does not match the previous per-commitment
// point, and one nobody asked for, fail the channel (BOLT 2, "Completing the Transition").
func TestMalformedRevokeAndAck(t *testing.T) {
	t.Run("wrong secret", func(t *testing.T) {
		f := newFixture(t, nil)
		_, _, err := f.nw.pay(0, 1, 20_000_000)
		require.NoError(t, err)
		for _, m := range takeOutbox(f.a).others {
			deliver(t, f.b, f.a, m)
		}
		var raa *lnwire.RevokeAndAck
		for _, m := range takeOutbox(f.b).others {
			if r, ok := m.(*lnwire.RevokeAndAck); ok {
				raa = r
			}
		}
		require.NotNil(t, raa, "bob revoked")
		raa.PerCommitmentSecret[31] ^= 1
		deliver(t, f.a, f.b, raa)
		f.expectFailed(f.a, "revoke_and_ack secret does not match")
	})
	t.Run("unexpected", func(t *testing.T) {
		f := newFixture(t, nil)
		c := f.chanOf(f.b)
		secret, err := c.signer.ReleaseCommitmentSecret(c.localCommitNum - 1)
		require.NoError(t, err)
		next, err := c.signer.GetPerCommitmentPoint(c.localCommitNum + 1)
		require.NoError(t, err)
		// Even bob's genuine last revocation, sent again, is unexpected: alice awaits none.
		deliver(t, f.a, f.b, &lnwire.RevokeAndAck{ChannelID: f.id, PerCommitmentSecret: secret, NextPerCommitmentPoint: next})
		f.expectFailed(f.a, "unexpected revoke_and_ack")
	})
}

// TestMalformedHTLCRemoval: update_fulfill_htlc with a wrong preimage or an unknown id, and
// update_fail_malformed_htlc without the BADONION bit, fail the channel (BOLT 2, "Removing an HTLC").
func TestMalformedHTLCRemoval(t *testing.T) {
	cases := []struct {
		name string
		msg  func(f *fixture, id uint64) lnwire.Message
		why  string
	}{
		{"fulfill wrong preimage", func(f *fixture, id uint64) lnwire.Message {
			return &lnwire.UpdateFulfillHTLC{ChannelID: f.id, ID: id, PaymentPreimage: [32]byte{1, 2, 3}}
		}, "preimage does not match"},
		{"fulfill unknown id", func(f *fixture, id uint64) lnwire.Message {
			return &lnwire.UpdateFulfillHTLC{ChannelID: f.id, ID: id + 1, PaymentPreimage: [32]byte{1, 2, 3}}
		}, "unknown or uncommitted HTLC"},
		{"fail unknown id", func(f *fixture, id uint64) lnwire.Message {
			return &lnwire.UpdateFailHTLC{ChannelID: f.id, ID: id + 7, Reason: make([]byte, 292)}
		}, "unknown or uncommitted HTLC"},
		{"fail_malformed without BADONION", func(f *fixture, id uint64) lnwire.Message {
			return &lnwire.UpdateFailMalformedHTLC{ChannelID: f.id, ID: id, FailureCode: 0x4000 | 5}
		}, "BADONION"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			// Alice's HTLC to bob is committed on both sides; bob holds it (he does not claim).
			f.b.autoClaim = false
			_, _, err := f.nw.pay(0, 1, 20_000_000)
			require.NoError(t, err)
			f.nw.settle()
			require.Equal(t, 1, countEvents[events.PaymentClaimable](f.b.takeEvents()))
			var htlcID uint64
			found := false
			for _, h := range f.chanOf(f.a).htlcs {
				if !h.Incoming && f.chanOf(f.a).committedBoth(h) {
					htlcID, found = h.ID, true
				}
			}
			require.True(t, found)
			deliver(t, f.a, f.b, tc.msg(f, htlcID))
			f.expectFailed(f.a, tc.why)
		})
	}
}

// TestMalformedUpdateFee: update_fee from the non-funder, or with a feerate outside our bounds, fails
// the channel (BOLT 2, "Updating Fees").
func TestMalformedUpdateFee(t *testing.T) {
	t.Run("from the non-funder", func(t *testing.T) {
		f := newFixture(t, nil)
		deliver(t, f.a, f.b, &lnwire.UpdateFee{ChannelID: f.id, FeeratePerKw: 1_000})
		f.expectFailed(f.a, "update_fee from the non-funder")
	})
	for _, rate := range []uint32{0, 252, 10_000_000, ^uint32(0)} {
		t.Run(fmt.Sprintf("feerate %d", rate), func(t *testing.T) {
			f := newFixture(t, nil)
			deliver(t, f.b, f.a, &lnwire.UpdateFee{ChannelID: f.id, FeeratePerKw: rate})
			f.expectFailed(f.b, "outside")
		})
	}
	t.Run("reasonable feerate is accepted", func(t *testing.T) {
		f := newFixture(t, nil)
		f.a.chain.SetDefaultFeeratePerKw(2_000)
		f.a.cm.TimerTickOccurred()
		f.nw.settle()
		require.Equal(t, uint32(2_000), f.b.channel(f.id).FeeratePerKw)
		f.expectIntact(nil)
	})
}

// TestFundingMessagesAtWrongTime: funding_created, funding_signed and accept_channel for a channel that
// is already funded fail it; with an unknown temporary id they only get a warning.
func TestFundingMessagesAtWrongTime(t *testing.T) {
	sig := lnwire.Sig{1}
	cases := []struct {
		name string
		to   func(f *fixture) (*testNode, *testNode)
		msg  func(f *fixture) lnwire.Message
		why  string
	}{
		{"funding_created", func(f *fixture) (*testNode, *testNode) { return f.b, f.a }, func(f *fixture) lnwire.Message {
			op := f.a.channel(f.id).FundingTxo
			return &lnwire.FundingCreated{TemporaryChannelID: f.id, FundingTxID: op.Hash, FundingOutputIndex: uint16(op.Index), Signature: sig}
		}, "unexpected funding_created"},
		{"funding_signed", func(f *fixture) (*testNode, *testNode) { return f.a, f.b }, func(f *fixture) lnwire.Message {
			return &lnwire.FundingSigned{ChannelID: f.id, Signature: sig}
		}, "unexpected funding_signed"},
		{"accept_channel", func(f *fixture) (*testNode, *testNode) { return f.a, f.b }, func(f *fixture) lnwire.Message {
			return f.acceptChannel(f.id)
		}, "unexpected accept_channel"},
		{"channel_ready with another point", func(f *fixture) (*testNode, *testNode) { return f.a, f.b }, func(f *fixture) lnwire.Message {
			return &lnwire.ChannelReady{ChannelID: f.id, SecondPerCommitmentPoint: f.b.id}
		}, "retransmitted with another point"},
		{"closing_signed before shutdown", func(f *fixture) (*testNode, *testNode) { return f.a, f.b }, func(f *fixture) lnwire.Message {
			return &lnwire.ClosingSigned{ChannelID: f.id, FeeSatoshis: 500, Signature: sig}
		}, "unexpected closing_signed"},
		{"closing_signed before shutdown, to the fundee", func(f *fixture) (*testNode, *testNode) { return f.b, f.a }, func(f *fixture) lnwire.Message {
			return &lnwire.ClosingSigned{ChannelID: f.id, FeeSatoshis: 500, Signature: sig}
		}, "unexpected closing_signed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, nil)
			if tc.name == "channel_ready with another point" {
				f = freshFixture(t) // the point is only compared while no update has happened
			}
			to, from := tc.to(f)
			deliver(t, to, from, tc.msg(f))
			f.expectFailed(to, tc.why)
		})
	}
	t.Run("unknown temporary id", func(t *testing.T) {
		f := newFixture(t, nil)
		unknown := lnwire.ChannelID{0xee}
		deliver(t, f.b, f.a, &lnwire.FundingCreated{TemporaryChannelID: unknown, Signature: sig})
		f.expectWarned(f.b, "unknown channel")
		deliver(t, f.a, f.b, f.acceptChannel(unknown))
		f.expectWarned(f.a, "unknown channel")
		deliver(t, f.a, f.b, &lnwire.FundingSigned{ChannelID: unknown, Signature: sig})
		f.expectWarned(f.a, "unknown channel")
	})
}

// freshFixture is a fixture whose channel has seen no update yet (both commitment numbers 0).
func freshFixture(t *testing.T) *fixture {
	nw, a, b := twoNodes(t)
	id := nw.openChannel(0, 1, fixtureValueSat, 400_000_000)
	return &fixture{t: t, nw: nw, a: a, b: b, id: id, balanceA: 600_000_000}
}

// acceptChannel is a well-formed accept_channel with bob's keys.
func (f *fixture) acceptChannel(tempID lnwire.ChannelID) *lnwire.AcceptChannel {
	c := f.chanOf(f.b)
	p0, err := c.signer.GetPerCommitmentPoint(0)
	require.NoError(f.t, err)
	return &lnwire.AcceptChannel{TemporaryChannelID: tempID, DustLimitSatoshis: 354, MaxHTLCValueInFlightMsat: 1 << 40,
		ChannelReserveSatoshis: 10_000, HTLCMinimumMsat: 1, MinimumDepth: 3, ToSelfDelay: 144, MaxAcceptedHTLCs: 30,
		ChannelKeys: wireKeys(c.local.Pubkeys, p0), ChannelType: lnwire.ChannelTypeAnchors.FeatureVector()}
}

// TestChannelReadyWithoutPoint: a channel_ready lacking second_per_commitment_point. On the wire it
// cannot even be decoded (see TestDecodeFailuresThroughPeerManager); handed over as a value it must not
// panic, and it fails the channel whatever its state (before the fix in d97bf5a it panicked on a running
// channel that had seen no update).
func TestChannelReadyWithoutPoint(t *testing.T) {
	t.Run("awaiting channel_ready", func(t *testing.T) {
		nw, a, b := twoNodes(t)
		a.chain.FundAddress(a.wallet.PkScript(), 2_000_000)
		a.chain.MineBlocks(1)
		_, err := a.cm.CreateChannel(b.id, 1_000_000, 0, [16]byte{1}, nil)
		require.NoError(t, err)
		nw.settle()
		d := b.cm.ListChannels()[0]
		require.Equal(t, "AwaitingChannelReady", d.State)
		deliver(t, b, a, &lnwire.ChannelReady{ChannelID: d.ChannelID})
		o := takeOutbox(b)
		require.Len(t, o.errs, 1)
		require.Contains(t, string(o.errs[0].Data), "without second_per_commitment_point")
		b.handleEvents()
		requireClosed(t, b.takeEvents(), d.ChannelID, events.ProcessingError)
	})
	for _, fresh := range []bool{true, false} {
		name := "running channel after payments"
		if fresh {
			name = "running channel before any update"
		}
		t.Run(name, func(t *testing.T) {
			var f *fixture
			if fresh {
				f = freshFixture(t)
			} else {
				f = newFixture(t, nil)
			}
			deliver(t, f.a, f.b, &lnwire.ChannelReady{ChannelID: f.id})
			f.expectFailed(f.a, "without second_per_commitment_point")
		})
	}
}

// TestShutdownNonStandardScript: a shutdown whose scriptpubkey is not one of the BOLT 2 forms gets a
// warning, and the channel goes on.
func TestShutdownNonStandardScript(t *testing.T) {
	scripts := map[string][]byte{
		"OP_RETURN":              {txscript.OP_RETURN, 4, 1, 2, 3, 4},
		"empty":                  {},
		"P2PK":                   append(append([]byte{33}, make([]byte, 33)...), txscript.OP_CHECKSIG),
		"witness v0 of 21 bytes": append([]byte{txscript.OP_0, 21}, make([]byte, 21)...),
		"truncated P2WPKH":       append([]byte{txscript.OP_0, 20}, make([]byte, 19)...),
		"witness v1 of 41 bytes": append([]byte{txscript.OP_1, 41}, make([]byte, 41)...),
	}
	for name, script := range scripts {
		t.Run(name, func(t *testing.T) {
			f := newFixture(t, nil)
			deliver(t, f.a, f.b, &lnwire.Shutdown{ChannelID: f.id, ScriptPubKey: script})
			f.expectWarned(f.a, "not an accepted form")
		})
	}
}

// TestMessagesForUnknownChannel: every channel message naming a channel we do not have gets a warning
// and changes nothing.
func TestMessagesForUnknownChannel(t *testing.T) {
	f := newFixture(t, nil)
	unknown := lnwire.ChannelID{0x42}
	point := f.b.id
	msgs := []lnwire.Message{
		&lnwire.UpdateAddHTLC{ChannelID: unknown, AmountMsat: 1000, CLTVExpiry: 500},
		&lnwire.UpdateFulfillHTLC{ChannelID: unknown},
		&lnwire.UpdateFailHTLC{ChannelID: unknown, Reason: []byte{1}},
		&lnwire.UpdateFailMalformedHTLC{ChannelID: unknown, FailureCode: 0x8000 | 5},
		&lnwire.CommitmentSigned{ChannelID: unknown},
		&lnwire.RevokeAndAck{ChannelID: unknown, NextPerCommitmentPoint: point},
		&lnwire.UpdateFee{ChannelID: unknown, FeeratePerKw: 1000},
		&lnwire.Shutdown{ChannelID: unknown, ScriptPubKey: append([]byte{0, 20}, make([]byte, 20)...)},
		&lnwire.ClosingSigned{ChannelID: unknown},
		&lnwire.ChannelReady{ChannelID: unknown, SecondPerCommitmentPoint: point},
		&lnwire.ChannelReestablish{ChannelID: unknown, MyCurrentPerCommitmentPoint: point},
	}
	for _, m := range msgs {
		deliver(t, f.a, f.b, m)
		f.expectWarned(f.a, "unknown channel")
	}
	// An error or a warning for an unknown channel is only logged.
	deliver(t, f.a, f.b, &lnwire.Error{ChannelID: unknown, Data: []byte("bye")})
	deliver(t, f.a, f.b, &lnwire.Warning{ChannelID: unknown, Data: []byte("hm")})
	f.expectIntact(takeOutbox(f.a).others)
}

// reconnect disconnects and reconnects the fixture's nodes and returns, undelivered, the
// channel_reestablish each sent (index 0: alice's, to bob).
func (f *fixture) reconnect() [2]*lnwire.ChannelReestablish {
	f.nw.disconnect(0, 1)
	f.nw.connect(0, 1)
	var out [2]*lnwire.ChannelReestablish
	for i, n := range []*testNode{f.a, f.b} {
		o := takeOutbox(n)
		require.Len(f.t, o.others, 1)
		r, ok := o.others[0].(*lnwire.ChannelReestablish)
		require.True(f.t, ok, "%T", o.others[0])
		out[i] = r
	}
	return out
}

// TestMalformedChannelReestablish checks the BOLT 2 channel_reestablish receiver requirements.
func TestMalformedChannelReestablish(t *testing.T) {
	t.Run("wrong your_last_per_commitment_secret", func(t *testing.T) {
		f := newFixture(t, nil)
		re := f.reconnect()
		require.NotZero(t, re[1].NextRevocationNumber)
		re[1].YourLastPerCommitmentSecret[0] ^= 1
		deliver(t, f.a, f.b, re[1])
		f.expectFailed(f.a, "your_last_per_commitment_secret is wrong")
	})
	t.Run("next_commitment_number too low", func(t *testing.T) {
		f := newFixture(t, nil)
		re := f.reconnect()
		re[1].NextCommitmentNumber = 0
		deliver(t, f.a, f.b, re[1])
		f.expectFailed(f.a, "next_commitment_number")
	})
	t.Run("next_revocation_number too low", func(t *testing.T) {
		f := newFixture(t, nil)
		f.pay(0, 1_000_000) // a few more commitments
		re := f.reconnect()
		re[1].NextRevocationNumber -= 2
		c := f.chanOf(f.a)
		s, err := c.signer.ReleaseCommitmentSecret(re[1].NextRevocationNumber - 1)
		require.NoError(t, err)
		re[1].YourLastPerCommitmentSecret = s
		deliver(t, f.a, f.b, re[1])
		f.expectFailed(f.a, "next_revocation_number")
	})
	for _, field := range []string{"next_revocation_number", "next_commitment_number"} {
		t.Run(field+" far ahead: we lost data", func(t *testing.T) {
			f := newFixture(t, nil)
			re := f.reconnect()
			c := f.chanOf(f.a)
			if field == "next_revocation_number" {
				// Bob proves he holds a revocation secret of ours we do not remember releasing.
				re[1].NextRevocationNumber = c.localCommitNum + 5
				s, err := c.signer.ReleaseCommitmentSecret(re[1].NextRevocationNumber - 1)
				require.NoError(t, err)
				re[1].YourLastPerCommitmentSecret = s
			} else {
				re[1].NextCommitmentNumber = c.remoteCommitNum + 10
			}
			deliver(t, f.a, f.b, re[1])
			o := takeOutbox(f.a)
			require.Len(t, o.errs, 1, "an error asks bob to close")
			require.Contains(t, string(o.errs[0].Data), "lost data")
			f.a.handleEvents()
			requireClosed(t, f.a.takeEvents(), f.id, events.ProcessingError)
			// BOLT 2: we MUST NOT broadcast our commitment, now or at later blocks.
			_, spent := f.fundingSpender()
			require.False(t, spent, "alice must not broadcast her (revoked) commitment")
			f.a.chain.MineBlocks(6)
			f.a.handleEvents()
			_, spent = f.fundingSpender()
			require.False(t, spent, "alice must not broadcast her commitment at later blocks")
			// Bob closes with his commitment; alice's monitor recognises it and her funds come back.
			bobsCommit := f.commitmentTxid(f.b)
			deliver(t, f.b, f.a, o.errs[0])
			f.b.handleEvents()
			requireClosed(t, f.b.takeEvents(), f.id, events.CounterpartyForceClosed)
			spender, ok := f.fundingSpender()
			require.True(t, ok)
			require.Equal(t, bobsCommit, [32]byte(spender))
			spendable := 0
			for i := 0; i < 10; i++ {
				f.a.chain.MineBlocks(1)
				f.a.handleEvents()
				spendable += countEvents[events.SpendableOutputs](f.a.takeEvents())
			}
			require.Equal(t, 1, spendable, "alice's to_remote output on bob's commitment is spendable")
		})
	}
	t.Run("unexpected channel_reestablish", func(t *testing.T) {
		f := newFixture(t, nil)
		re := f.reconnect()
		deliver(t, f.a, f.b, re[1])
		deliver(t, f.b, f.a, re[0])
		f.nw.settle()
		deliver(t, f.a, f.b, re[1])
		f.expectWarned(f.a, "unexpected channel_reestablish")
	})
	t.Run("update before channel_reestablish", func(t *testing.T) {
		f := newFixture(t, nil)
		re := f.reconnect()
		deliver(t, f.a, f.b, f.validAdd(1_000_000))
		o := takeOutbox(f.a)
		require.Empty(t, o.errs)
		require.Len(t, o.warns, 1)
		require.Contains(t, string(o.warns[0].Data), "before channel_reestablish")
		require.False(t, f.a.channel(f.id).IsUsable)
		// The reestablish then goes through and the channel works.
		deliver(t, f.a, f.b, re[1])
		deliver(t, f.b, f.a, re[0])
		f.expectIntact(nil)
	})
}

// TestMalformedOpenChannel sends, to a node that already has a funded channel with the sender,
// open_channel messages that each break one receiver requirement of BOLT 2. Each is refused with an
// `error` for its temporary channel id; no channel is created and the existing channel is untouched.
// The unmodified template is accepted, so each refusal is due to the one field changed.
func TestMalformedOpenChannel(t *testing.T) {
	f := newFixture(t, nil)
	_, err := f.b.cm.CreateChannel(f.a.id, 500_000, 0, [16]byte{2}, nil)
	require.NoError(t, err)
	o := takeOutbox(f.b)
	require.Len(t, o.others, 1)
	tmpl, ok := o.others[0].(*lnwire.OpenChannel)
	require.True(t, ok)
	tmplBytes, err := lnwire.EncodeMessage(tmpl)
	require.NoError(t, err)
	fresh := func(tempID byte) *lnwire.OpenChannel {
		m, err := lnwire.DecodeMessage(tmplBytes)
		require.NoError(t, err)
		oc := m.(*lnwire.OpenChannel)
		oc.TemporaryChannelID = lnwire.ChannelID{0x77, tempID}
		return oc
	}
	cases := []struct {
		name   string
		mutate func(m *lnwire.OpenChannel)
		why    string
	}{
		{"push_msat above funding", func(m *lnwire.OpenChannel) { m.PushMsat = uint64(m.FundingSatoshis)*1000 + 1 }, "push_msat"},
		{"dust_limit above reserve", func(m *lnwire.OpenChannel) { m.DustLimitSatoshis, m.ChannelReserveSatoshis = 1_000, 900 }, "above channel_reserve_satoshis"},
		{"dust_limit below 354", func(m *lnwire.OpenChannel) { m.DustLimitSatoshis = 353 }, "below 354"},
		{"dust_limit too large", func(m *lnwire.OpenChannel) { m.DustLimitSatoshis = 546*5 + 1 }, "dust_limit_satoshis"},
		{"to_self_delay too big", func(m *lnwire.OpenChannel) { m.ToSelfDelay = 2017 }, "to_self_delay"},
		{"max_accepted_htlcs above 483", func(m *lnwire.OpenChannel) { m.MaxAcceptedHTLCs = 484 }, "above 483"},
		{"max_accepted_htlcs 0", func(m *lnwire.OpenChannel) { m.MaxAcceptedHTLCs = 0 }, "max_accepted_htlcs"},
		{"feerate too low", func(m *lnwire.OpenChannel) { m.FeeratePerKw = 252 }, "feerate_per_kw"},
		{"feerate too high", func(m *lnwire.OpenChannel) { m.FeeratePerKw = 10_000_000 }, "feerate_per_kw"},
		{"unknown channel_type", func(m *lnwire.OpenChannel) { m.ChannelType = lnwire.NewFeatureVector(12, 100) }, "channel_type"},
		{"channel_type without static_remotekey", func(m *lnwire.OpenChannel) { m.ChannelType = lnwire.NewFeatureVector(22) }, "channel_type"},
		{"wrong chain hash", func(m *lnwire.OpenChannel) { m.ChainHash = *chaincfg.MainNetParams.GenesisHash }, "another chain"},
		{"funding too small", func(m *lnwire.OpenChannel) { m.FundingSatoshis = 999 }, "funding_satoshis"},
		{"funding too large without wumbo", func(m *lnwire.OpenChannel) { m.FundingSatoshis = 1 << 24 }, "funding_satoshis"},
		{"reserve above funding", func(m *lnwire.OpenChannel) { m.ChannelReserveSatoshis = m.FundingSatoshis + 1 }, "channel_reserve_satoshis"},
		{"htlc_minimum not below the channel value", func(m *lnwire.OpenChannel) { m.HTLCMinimumMsat = uint64(m.FundingSatoshis) * 1000 }, "htlc_minimum_msat"},
		{"funder cannot pay the fee", func(m *lnwire.OpenChannel) { m.PushMsat = uint64(m.FundingSatoshis)*1000 - 1_000 }, "commitment fee"},
	}
	for i, tc := range cases {
		m := fresh(byte(i))
		tc.mutate(m)
		deliver(t, f.a, f.b, m)
		out := takeOutbox(f.a)
		require.Len(t, out.errs, 1, "%s: refused with an error (warnings %v, others %v)", tc.name, out.warns, out.others)
		require.Equal(t, m.TemporaryChannelID, out.errs[0].ChannelID, tc.name)
		require.Contains(t, string(out.errs[0].Data), tc.why, tc.name)
		require.Empty(t, out.others, tc.name)
		require.Len(t, f.a.cm.ListChannels(), 1, "%s: no channel created", tc.name)
		f.a.handleEvents()
		require.Empty(t, f.a.takeEvents(), tc.name)
	}
	f.expectIntact(nil)
	// The template itself is accepted.
	m := fresh(0xff)
	deliver(t, f.a, f.b, m)
	out := takeOutbox(f.a)
	require.Empty(t, out.errs)
	require.Len(t, out.others, 1)
	acc, ok := out.others[0].(*lnwire.AcceptChannel)
	require.True(t, ok, "%T", out.others[0])
	require.Equal(t, m.TemporaryChannelID, acc.TemporaryChannelID)
	require.Len(t, f.a.cm.ListChannels(), 2)
	// A second open_channel with the same temporary id is refused and does not touch the first.
	deliver(t, f.a, f.b, fresh(0xff))
	out = takeOutbox(f.a)
	require.Len(t, out.errs, 1)
	require.Contains(t, string(out.errs[0].Data), "duplicate")
	require.Len(t, f.a.cm.ListChannels(), 2)
}

// rawPeer speaks BOLT 8 by hand with another node's identity, to put bytes on the wire that no
// well-behaved PeerManager would send.
type rawPeer struct {
	t      testing.TB
	as     *testNode
	target *pmNode
	sock   *memSocket
	tr     *noise.Transport
}

// rawDial connects to target as `as` (using as's node key), exchanges `init`, and returns the peer and
// the messages target sent after its init.
func rawDial(t testing.TB, as *testNode, target *pmNode) (*rawPeer, []lnwire.Message) {
	r := &rawPeer{t: t, as: as, target: target, sock: &memSocket{}}
	require.NoError(t, target.pm.NewInboundConnection(r.sock))
	eph, err := noise.EphemeralKeyFromBytes(sha256.Sum256([]byte("raw peer ephemeral")))
	require.NoError(t, err)
	hs, act1, err := noise.NewInitiator(as.id, as.km.ECDH, eph, target.id)
	require.NoError(t, err)
	_, err = target.pm.ReadEvent(r.sock, act1)
	require.NoError(t, err)
	act3, done, err := hs.ReadAct(r.sock.take())
	require.NoError(t, err)
	require.True(t, done)
	r.tr = hs.Transport()
	_, err = target.pm.ReadEvent(r.sock, act3)
	require.NoError(t, err)
	msgs := r.read()
	require.Len(t, msgs, 1)
	_, ok := msgs[0].(*lnwire.Init)
	require.True(t, ok, "%T", msgs[0])
	require.NoError(t, r.send(&lnwire.Init{GlobalFeatures: lnwire.NewFeatureVector(), Features: as.cm.ProvidedInitFeatures(nil), Networks: regtestGenesis}))
	target.host()
	return r, r.read()
}

func (r *rawPeer) sendRaw(plaintext []byte) error {
	enc, err := r.tr.EncryptMessage(plaintext)
	require.NoError(r.t, err)
	_, err = r.target.pm.ReadEvent(r.sock, enc)
	return err
}

func (r *rawPeer) send(m lnwire.Message) error {
	b, err := lnwire.EncodeMessage(m)
	require.NoError(r.t, err)
	return r.sendRaw(b)
}

func (r *rawPeer) read() []lnwire.Message {
	pts, err := r.tr.Decrypt(r.sock.take())
	require.NoError(r.t, err)
	var out []lnwire.Message
	for _, pt := range pts {
		m, err := lnwire.DecodeMessage(pt)
		require.NoError(r.t, err)
		out = append(out, m)
	}
	return out
}

// msgBytes builds a plaintext: type, then the parts.
func msgBytes(t lnwire.MessageType, parts ...[]byte) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(t))
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

// TestDecodeFailuresThroughPeerManager sends, with bob's identity, messages alice's PeerManager cannot
// decode (BOLT 1): each closes the connection with a `warning` and leaves the channel open; bob's real
// PeerManager then dials again, channel_reestablish runs, and payments go on.
func TestDecodeFailuresThroughPeerManager(t *testing.T) {
	a, b, l := pmPair(t)
	id := pmOpenChannel(t, l, 1_000_000, 300_000_000)
	_, err := payTo(t, a.testNode, b.testNode, 10_000_000, 0)
	require.NoError(t, err)
	l.settle()
	balA := uint64(690_000_000)
	checkBalances(t, a.testNode, b.testNode, id, balA)
	fundingTxo := a.channel(id).FundingTxo

	cid := id[:]
	point := a.id.SerializeCompressed()
	badPoint := append([]byte{0x05}, make([]byte, 32)...)
	cases := []struct {
		name string
		pt   []byte
		want error
		// field is what the error names: the field that failed to decode.
		field string
	}{
		{"channel_ready without point", msgBytes(lnwire.MsgChannelReady, cid), peermanager.ErrInvalidMessage, "second_per_commitment_point"},
		{"channel_ready with invalid point", msgBytes(lnwire.MsgChannelReady, cid, badPoint), peermanager.ErrInvalidMessage, "invalid point"},
		{"commitment_signed truncated signature", msgBytes(lnwire.MsgCommitmentSigned, cid, make([]byte, 30)), peermanager.ErrInvalidMessage, "signature"},
		{"commitment_signed missing HTLC signatures", msgBytes(lnwire.MsgCommitmentSigned, cid, make([]byte, 64), []byte{0, 5}, make([]byte, 64)), peermanager.ErrInvalidMessage, "htlc_signature"},
		{"revoke_and_ack invalid point", msgBytes(lnwire.MsgRevokeAndAck, cid, make([]byte, 32), badPoint), peermanager.ErrInvalidMessage, "next_per_commitment_point"},
		{"update_add_htlc truncated onion", msgBytes(lnwire.MsgUpdateAddHTLC, cid, make([]byte, 8+8+32+4), make([]byte, 1000)), peermanager.ErrInvalidMessage, "onion_routing_packet"},
		{"update_fee unknown even TLV", msgBytes(lnwire.MsgUpdateFee, cid, []byte{0, 0, 3, 232}, []byte{2, 1, 0}), peermanager.ErrInvalidMessage, "even"},
		{"update_fulfill_htlc truncated", msgBytes(lnwire.MsgUpdateFulfillHTLC, cid, make([]byte, 8+16)), peermanager.ErrInvalidMessage, "payment_preimage"},
		{"shutdown script longer than the message", msgBytes(lnwire.MsgShutdown, cid, []byte{0, 22, 0, 20}), peermanager.ErrInvalidMessage, "scriptpubkey"},
		{"channel_reestablish invalid point", msgBytes(lnwire.MsgChannelReestablish, cid, make([]byte, 8+8+32), badPoint), peermanager.ErrInvalidMessage, "my_current_per_commitment_point"},
		{"channel_reestablish TLVs out of order", msgBytes(lnwire.MsgChannelReestablish, cid, make([]byte, 8+8+32), point, []byte{3, 0, 1, 0}), peermanager.ErrInvalidMessage, "increasing"},
		{"open_channel truncated", msgBytes(lnwire.MsgOpenChannel, regtestGenesis[0][:], make([]byte, 40)), peermanager.ErrInvalidMessage, "push_msat"},
		{"unknown even message type", msgBytes(lnwire.MessageType(0x7ffe), []byte{1, 2, 3}), peermanager.ErrUnknownEvenMessage, "32766"},
	}
	for i, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			l.cut()
			a.host()
			b.host()
			r, first := rawDial(t, b.testNode, a)
			// The new connection starts with alice's channel_reestablish.
			require.Len(t, first, 1)
			re, ok := first[0].(*lnwire.ChannelReestablish)
			require.True(t, ok, "%T", first[0])
			require.Equal(t, id, re.ChannelID)
			// An unknown odd message is ignored.
			require.NoError(t, r.sendRaw(msgBytes(lnwire.MessageType(0x7fff), []byte{9})))
			err := r.sendRaw(tc.pt)
			require.ErrorIs(t, err, tc.want)
			require.Contains(t, err.Error(), tc.field)
			got := r.read()
			require.Len(t, got, 1, "a warning before the close: %v", got)
			_, ok = got[0].(*lnwire.Warning)
			require.True(t, ok, "%T", got[0])
			require.False(t, a.connected(b), "alice dropped the connection")
			a.host()
			d := a.channel(id)
			require.Equal(t, "ChannelReady", d.State, "the channel stays open")
			require.False(t, d.IsUsable)
			_, spent := a.chain.SpentBy(fundingTxo)
			require.False(t, spent, "nothing broadcast")
			require.Zero(t, countEvents[events.ChannelClosed](a.takeEvents()))

			l = dial(t, a, b)
			l.settle()
			require.True(t, l.up())
			require.True(t, a.channel(id).IsUsable)
			_, err = payTo(t, b.testNode, a.testNode, 1_000_000, 1+i)
			require.NoError(t, err)
			l.settle()
			balA += 1_000_000
			checkBalances(t, a.testNode, b.testNode, id, balA)
		})
	}
}

// TestProtocolErrorThroughPeerManager: a raw peer with bob's identity reestablishes the channel with
// bob's own channel_reestablish, then offers an HTLC of 0 msat. Alice's answer, an `error` for the
// channel, comes back through her PeerManager, and her commitment is broadcast.
func TestProtocolErrorThroughPeerManager(t *testing.T) {
	a, b, l := pmPair(t)
	id := pmOpenChannel(t, l, 1_000_000, 300_000_000)
	fundingTxo := a.channel(id).FundingTxo
	l.cut()
	a.host()
	b.host()
	r, first := rawDial(t, b.testNode, a)
	require.Len(t, first, 1)
	_, cb := b.cm.findChannel(id)
	re, err := cb.reestablishMsg()
	require.NoError(t, err)
	require.NoError(t, r.send(re))
	a.host()
	require.True(t, a.channel(id).IsUsable, "reestablished with bob's own numbers")
	// No update happened yet, so alice retransmits channel_ready (BOLT 2), and nothing else but her
	// channel_update of the private channel (BOLT 7, for route hints).
	for _, m := range r.read() {
		switch m.(type) {
		case *lnwire.ChannelReady, *lnwire.ChannelUpdate:
		default:
			t.Fatalf("only channel_ready is retransmitted: %T", m)
		}
	}
	require.NoError(t, r.send(&lnwire.UpdateAddHTLC{ChannelID: id, AmountMsat: 0, CLTVExpiry: a.chain.Height() + 50}))
	a.host()
	got := r.read()
	require.Len(t, got, 1)
	em, ok := got[0].(*lnwire.Error)
	require.True(t, ok, "%T", got[0])
	require.Equal(t, id, em.ChannelID)
	require.Contains(t, string(em.Data), "htlc_minimum_msat")
	spender, ok := a.chain.SpentBy(fundingTxo)
	require.True(t, ok)
	mon, _ := a.chainMon.GetMonitor(fundingTxo)
	tx, err := mon.LatestHolderCommitmentTx()
	require.NoError(t, err)
	require.Equal(t, tx.TxHash(), spender)
	requireClosed(t, a.takeEvents(), id, events.ProcessingError)
}

// The tests below check BOLT 2 behaviour that lnkit does not have yet; they fail until it does.

// TestReestablishFarAheadWithWrongSecret: a channel_reestablish whose next_revocation_number is ahead of
// ours but whose your_last_per_commitment_secret is NOT the secret of next_revocation_number-1 proves
// nothing. BOLT 2: only with the right secret MUST we not broadcast; otherwise ("your_last_per_
// commitment_secret ... do[es] not match the expected values") we SHOULD fail the channel, i.e.
// broadcast our commitment. Trusting the unproven claim lets a peer keep our funds locked: we never
// broadcast, and it need not either.
func TestReestablishFarAheadWithWrongSecret(t *testing.T) {
	f := newFixture(t, nil)
	re := f.reconnect()
	c := f.chanOf(f.a)
	re[1].NextRevocationNumber = c.localCommitNum + 5
	re[1].YourLastPerCommitmentSecret = [32]byte{0xde, 0xad}
	deliver(t, f.a, f.b, re[1])
	f.expectFailed(f.a, "") // an error, and our commitment broadcast
}

// TestErrorRetransmittedOnReconnect: alice finds she lost data and sends an `error` asking bob to close,
// but the connection drops before bob gets it. BOLT 2: "upon reconnection: if a channel is in an error
// state: SHOULD retransmit the error packet". Here it matters: alice must not broadcast, so bob's
// commitment is the only way her funds come back, and bob only broadcasts it when told.
func TestErrorRetransmittedOnReconnect(t *testing.T) {
	f := newFixture(t, nil)
	re := f.reconnect()
	c := f.chanOf(f.a)
	re[1].NextRevocationNumber = c.localCommitNum + 5
	s, err := c.signer.ReleaseCommitmentSecret(re[1].NextRevocationNumber - 1)
	require.NoError(t, err)
	re[1].YourLastPerCommitmentSecret = s
	deliver(t, f.a, f.b, re[1])
	f.a.handleEvents()
	requireClosed(t, f.a.takeEvents(), f.id, events.ProcessingError)
	// The error is lost with the connection.
	f.nw.disconnect(0, 1)
	f.nw.connect(0, 1)
	f.nw.settle()
	f.b.handleEvents()
	requireClosed(t, f.b.takeEvents(), f.id, events.CounterpartyForceClosed)
	spender, ok := f.fundingSpender()
	require.True(t, ok, "bob broadcast his commitment")
	require.Equal(t, f.commitmentTxid(f.b), [32]byte(spender))
}

// TestOpenChannelBothOutputsAtMostReserve: BOLT 2, open_channel, "The receiving node MUST fail the
// channel if: ... both `to_local` and `to_remote` amounts for the initial commitment transaction are
// less than or equal to `channel_reserve_satoshis`". Here the funder keeps 60,000 sat less the fee, pushes
// 40,000 sat, and asks a reserve of 60,000 sat.
func TestOpenChannelBothOutputsAtMostReserve(t *testing.T) {
	f := newFixture(t, nil)
	_, err := f.b.cm.CreateChannel(f.a.id, 100_000, 0, [16]byte{2}, nil)
	require.NoError(t, err)
	o := takeOutbox(f.b)
	require.Len(t, o.others, 1)
	m, ok := o.others[0].(*lnwire.OpenChannel)
	require.True(t, ok)
	m.ChannelReserveSatoshis = 60_000
	m.PushMsat = 40_000_000
	deliver(t, f.a, f.b, m)
	out := takeOutbox(f.a)
	require.Len(t, out.errs, 1, "refused with an error (sent instead: %v)", out.others)
	require.Equal(t, m.TemporaryChannelID, out.errs[0].ChannelID)
	require.Len(t, f.a.cm.ListChannels(), 1, "no channel created")
}
