package channelmanager

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/config"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/sphinx"
	"github.com/lnkit/lnkit/lnwire"
)

// scidPrivacyNet is threeNodes with bob asking for option_scid_alias on the channels he opens
// (bob–carol); alice–bob is opened by alice, who does not ask.
func scidPrivacyNet(t *testing.T) *forwardNet {
	return threeNodesWith(t, func(node int, c *config.UserConfig) {
		c.ChannelHandshakeConfig.NegotiateSCIDPrivacy = node == 1
	})
}

// TestSCIDPrivacyNegotiated: we advertise option_scid_alias (bit 47) in init; bob's private channel to
// carol gets the option_scid_alias channel type on both sides, and keeps it across both restarts;
// alice's channel, opened without asking, does not have it.
func TestSCIDPrivacyNegotiated(t *testing.T) {
	f := scidPrivacyNet(t)
	require.True(t, f.b.cm.ProvidedInitFeatures(nil).IsSet(lnwire.SCIDAliasOptional))
	want := lnwire.ChannelType{Anchors: true, SCIDAlias: true}
	require.Equal(t, want, f.b.channel(f.bc).ChannelType)
	require.Equal(t, want, f.c.channel(f.bc).ChannelType)
	require.False(t, f.a.channel(f.ab).ChannelType.SCIDAlias)
	require.False(t, f.b.channel(f.ab).ChannelType.SCIDAlias)

	for _, n := range []*testNode{f.b, f.c} {
		snap := n.cm.Write()
		f.nw.disconnect(1, 2)
		n.restart(snap)
		f.nw.connect(1, 2)
		if n == f.b {
			f.nw.connect(0, 1)
		}
		f.nw.settle()
		require.Equal(t, want, n.channel(f.bc).ChannelType, "%s after a restart", n.name)
	}
}

// TestSCIDPrivacyPublicChannelNotNegotiated: asking for scid privacy does not apply to a public channel
// (BOLT 2: an option_scid_alias channel is never announced): bob's public channel is plain anchors.
func TestSCIDPrivacyPublicChannelNotNegotiated(t *testing.T) {
	f := threeNodesWith(t, func(node int, c *config.UserConfig) {
		c.ChannelHandshakeConfig.NegotiateSCIDPrivacy = true
		c.ChannelHandshakeConfig.AnnouncedChannel = node == 1
	})
	require.True(t, f.b.channel(f.bc).IsPublic)
	require.Equal(t, lnwire.ChannelTypeAnchors, f.b.channel(f.bc).ChannelType)
	require.True(t, f.a.channel(f.ab).ChannelType.SCIDAlias, "alice's private channel has it")
}

// TestSCIDPrivacyRefusedWhenAnnounced: an open_channel asking for option_scid_alias with the
// announce_channel bit set is refused with an error, and leaves no channel behind; the same
// channel_type without the bit is accepted.
func TestSCIDPrivacyRefusedWhenAnnounced(t *testing.T) {
	_, a, b := twoNodes(t)
	for _, announce := range []bool{true, false} {
		m := *openChannelTemplate(t, a, b)
		m.TemporaryChannelID[0] ^= 0x55
		m.ChannelType = lnwire.ChannelType{Anchors: true, SCIDAlias: true}.FeatureVector()
		m.ChannelFlags = 0
		if announce {
			m.ChannelFlags = lnwire.ChannelFlagAnnounceChannel
		}
		deliver(t, b, a, &m)
		o := takeOutbox(b)
		if announce {
			require.Len(t, o.errs, 1)
			require.Contains(t, string(o.errs[0].Data), "option_scid_alias")
			require.Empty(t, b.cm.ListChannels())
			continue
		}
		require.Empty(t, o.errs)
		var accepted *lnwire.AcceptChannel
		for _, x := range o.others {
			if ac, ok := x.(*lnwire.AcceptChannel); ok {
				accepted = ac
			}
		}
		require.NotNil(t, accepted)
		ct, err := lnwire.ChannelTypeFromFeatures(accepted.ChannelType)
		require.NoError(t, err)
		require.True(t, ct.SCIDAlias, "accept_channel echoes the type")
	}
}

// TestSCIDPrivacyForwarding (BOLT 2, channel_ready): bob refuses an HTLC naming bob–carol by its real
// short_channel_id (unknown_next_peer, nothing added towards carol) and forwards one naming his
// alias; a failure from bob for the alias-named channel encloses a channel_update named by the alias,
// never the real id; carol's invoice hint names bob's alias.
func TestSCIDPrivacyForwarding(t *testing.T) {
	f := scidPrivacyNet(t)
	const amt = 9_000_000
	alias := f.b.channel(f.bc).OutboundSCIDAlias

	f.pay(t, amt, f.route(amt, f.policyB.baseMsat, f.policyB.delta, f.scidBC), 1)
	require.Equal(t, uint16(sphinx.UnknownNextPeer), failureOf(t, f.a).FailureCode)
	hf := eventsOf[events.HTLCHandlingFailed](f.b.takeEvents())
	require.Len(t, hf, 1)
	require.Equal(t, f.scidBC.ToUint64(), hf[0].FailedNextDestination.UnknownNextSCID)
	checkBalances(t, f.b, f.c, f.bc, 1_000_000_000)

	f.pay(t, amt, f.route(amt, f.policyB.baseMsat-1, f.policyB.delta, alias), 2)
	pf := failureOf(t, f.a)
	require.Equal(t, uint16(sphinx.FeeInsufficient), pf.FailureCode)
	raw, err := sphinx.FailureMessage{Code: sphinx.FailureCode(pf.FailureCode), Data: pf.FailureData}.ChannelUpdate()
	require.NoError(t, err)
	m, err := lnwire.DecodeMessage(raw)
	require.NoError(t, err)
	require.Equal(t, alias, m.(*lnwire.ChannelUpdate).ShortChannelID, "the alias, not the real id")

	f.pay(t, amt, f.route(amt, f.policyB.baseMsat, f.policyB.delta, alias), 3)
	require.Len(t, eventsOf[events.PaymentSent](f.a.takeEvents()), 1)
	checkBalances(t, f.b, f.c, f.bc, 1_000_000_000-amt)

	hints := f.c.cm.routeHints(amt)
	require.Len(t, hints, 1)
	require.Equal(t, alias, hints[0].ShortChannelID)
}

// TestSCIDPrivacyNoHintWithoutAlias: an option_scid_alias channel whose counterparty gave no alias gets
// no route hint rather than one naming the real short_channel_id (BOLT 2, channel_ready receiver).
func TestSCIDPrivacyNoHintWithoutAlias(t *testing.T) {
	real := lnwire.NewShortChannelIDFromUint64(700_000 << 40)
	d := ChannelDetails{ShortChannelID: real, ChannelType: lnwire.ChannelType{Anchors: true, SCIDAlias: true}}
	require.Zero(t, hintSCID(&d).ToUint64())
	d.ChannelType.SCIDAlias = false
	require.Equal(t, real, hintSCID(&d), "a plain private channel without an alias is hinted by its real id")
	d.InboundSCIDAlias = lnwire.NewShortChannelIDFromUint64(16_000_001 << 40)
	require.Equal(t, d.InboundSCIDAlias, hintSCID(&d))
}
