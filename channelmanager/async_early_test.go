package channelmanager

import (
	"testing"

	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/lnwire"
)

// TestAsyncSignerEarlyRevocation: while Alice's commitment_signed waits for her signer (the commitment
// is assigned, the message held), a misbehaving Bob sends a revoke_and_ack of his current commitment
// before receiving it, with his real secret. Alice takes the revocation (it only gives up Bob's own
// state), and when her signer answers she sends the commitment_signed she committed to, on the point
// she had then, not on the one Bob's early message brought.
func TestAsyncSignerEarlyRevocation(t *testing.T) {
	chain := testchain.New(&chaincfg.RegressionNetParams)
	chain.MineBlocks(101)
	a := newTestNode(t, chain, "alice", 1)
	b := newTestNode(t, chain, "bob", 2)
	ctl := a.useAsyncSigner(9)
	nw := newNetwork(t, a, b)
	nw.connect(0, 1)
	id := nw.openChannel(0, 1, 1_000_000, 0)

	ctl.set(0, true)
	_, _, err := nw.pay(0, 1, 30_000_000)
	require.NoError(t, err)
	nw.settleHolding(func(int, lnwire.Message) bool { return false })

	ps, c, err := a.cm.channelFor(b.id, id)
	require.NoError(t, err)
	require.True(t, c.awaitingRAA, "alice committed and waits for bob's revocation")
	num, point := c.remoteCommitNum, c.remoteNextPoint
	ps.mu.Unlock()

	// Bob's revocation of his current commitment, sent early.
	bs, bc, err := b.cm.channelFor(a.id, id)
	require.NoError(t, err)
	secret, err := bc.signer.ReleaseCommitmentSecret(num)
	require.NoError(t, err)
	next, err := bc.signer.GetPerCommitmentPoint(num + 2)
	require.NoError(t, err)
	bs.mu.Unlock()
	deliver(t, a, b, &lnwire.RevokeAndAck{ChannelID: id, PerCommitmentSecret: secret, NextPerCommitmentPoint: next})
	require.Empty(t, takeOutbox(a).errs, "a valid revocation is no protocol error")

	ctl.set(0, false)
	a.cm.SignerUnblocked(nil)
	var commit *lnwire.CommitmentSigned
	for _, m := range takeOutbox(a).others {
		if cs, ok := m.(*lnwire.CommitmentSigned); ok {
			commit = cs
		}
	}
	require.NotNil(t, commit, "the held commitment_signed leaves once signed")
	ps, c, err = a.cm.channelFor(b.id, id)
	require.NoError(t, err)
	bcm, err := c.buildCommitment(false, num+1, point, c.viewAt(false, num+1))
	ps.mu.Unlock()
	require.NoError(t, err)
	require.True(t, verifySig(bcm.tx.Tx, c.fundingScript, c.valueSat, commit.Signature, c.local.Pubkeys.FundingPubkey, txscript.SigHashAll),
		"it signs commitment %d on the point alice had then", num+1)
	require.Zero(t, countEvents[events.ChannelClosed](a.takeEvents()))
}
