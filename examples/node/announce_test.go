package main

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/lnwire"
)

func TestNodeAnnouncementConfig(t *testing.T) {
	dir := t.TempDir()
	cfg, _, err := parseConfig([]string{"-datadir", dir, "-alias", "lnkit ⚡", "-color", "ff0080",
		"-announceaddr", "127.0.0.1:9735, [::1]:9736,node.example:9737"})
	require.NoError(t, err)
	p, err := cfg.nodeAnnouncement()
	require.NoError(t, err)
	require.Equal(t, [3]byte{0xff, 0x00, 0x80}, p.rgb)
	require.Equal(t, "lnkit ⚡", string(p.alias[:len("lnkit ⚡")]))
	require.Len(t, p.addrs, 3)
	require.Equal(t, lnwire.AddressIPv4, p.addrs[0].Type)
	require.Equal(t, lnwire.AddressIPv6, p.addrs[1].Type)
	require.Equal(t, lnwire.AddressDNSHostname, p.addrs[2].Type)
	require.Equal(t, "127.0.0.1:9735", p.addrs[0].String())

	cfg, _, err = parseConfig([]string{"-datadir", dir})
	require.NoError(t, err)
	p, err = cfg.nodeAnnouncement()
	require.NoError(t, err)
	require.Empty(t, p.addrs, "no address is advertised unless configured")

	for _, bad := range [][]string{
		{"-alias", "this alias is far longer than thirty-two bytes"},
		{"-color", "red"},
		{"-announceaddr", "127.0.0.1"},
		{"-announceaddr", "127.0.0.1:0"},
		{"-tick.nodeann", "0s"},
	} {
		_, _, err := parseConfig(append([]string{"-datadir", dir}, bad...))
		require.Error(t, err, "%v", bad)
	}
	require.Nil(t, openConfig(false))
	require.True(t, openConfig(true).ChannelHandshakeConfig.AnnouncedChannel)
}
