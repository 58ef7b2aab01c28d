package main

import (
	"bytes"
	"encoding/hex"
	"path/filepath"
	"strings"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/keys/policy"
)

// TestClientCommands: client-key creates and prints a key (the same on a second run), and approve
// prints a signature of the policy's approval hash by that key, for an invoice and a keysend.
func TestClientCommands(t *testing.T) {
	file := filepath.Join(t.TempDir(), "client_key")
	run := func(args ...string) string {
		var out bytes.Buffer
		ok, err := client(args, &out)
		require.True(t, ok)
		require.NoError(t, err)
		return strings.TrimSpace(out.String())
	}
	pubHex := run("client-key", "-key", file)
	require.Equal(t, pubHex, run("client-key", "-key", file), "the key is kept")
	pb, err := hex.DecodeString(pubHex)
	require.NoError(t, err)
	pub, err := btcec.ParsePubKey(pb)
	require.NoError(t, err)

	verify := func(sigHex string, h [32]byte) {
		b, err := hex.DecodeString(sigHex)
		require.NoError(t, err)
		sig, err := ecdsa.ParseDERSignature(b)
		require.NoError(t, err)
		require.True(t, sig.Verify(h[:], pub))
	}
	verify(run("approve", "-key", file, "-invoice", "lnbcrt1xyz", "-fee-limit-sat", "50"),
		policy.InvoiceApprovalHash("lnbcrt1xyz", 50_000))
	var hash [32]byte
	hash[0] = 7
	verify(run("approve", "-key", file, "-keysend", pubHex, "-amount-msat", "1000", "-payment-hash", hex.EncodeToString(hash[:]),
		"-fee-limit-sat", "3"), policy.KeysendApprovalHash(pub, hash, 1000, 3000))

	_, err = client([]string{"approve", "-key", file, "-invoice", "x"}, &bytes.Buffer{})
	require.ErrorContains(t, err, "fee-limit-sat")
	ok, _ := client([]string{"-datadir", "x"}, &bytes.Buffer{})
	require.False(t, ok, "not a client command")
}
