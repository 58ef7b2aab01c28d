package keys

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

// loadJSON decodes testdata/name into v.
func loadJSON(t testing.TB, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, v))
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err, "hex %q", s)
	return b
}

func mustHex32(t testing.TB, s string) [32]byte {
	t.Helper()
	b := mustHex(t, s)
	require.Len(t, b, 32)
	var out [32]byte
	copy(out[:], b)
	return out
}

// mustPriv parses a private key printed as 32 bytes, optionally followed by the 01 compressed marker.
func mustPriv(t testing.TB, s string) *btcec.PrivateKey {
	t.Helper()
	b := mustHex(t, s)
	if len(b) == 33 {
		require.Equal(t, byte(1), b[32], "compressed-key marker")
		b = b[:32]
	}
	require.Len(t, b, 32)
	priv, _ := btcec.PrivKeyFromBytes(b)
	return priv
}

func mustPub(t testing.TB, s string) *btcec.PublicKey {
	t.Helper()
	pub, err := btcec.ParsePubKey(mustHex(t, s))
	require.NoError(t, err)
	return pub
}

func mustTx(t testing.TB, s string) *wire.MsgTx {
	t.Helper()
	tx := wire.NewMsgTx(2)
	require.NoError(t, tx.Deserialize(bytes.NewReader(mustHex(t, s))))
	return tx
}

// requireSamePub asserts two public keys are equal, comparing compressed encodings for readable output.
func requireSamePub(t testing.TB, want, got *btcec.PublicKey, msgAndArgs ...any) {
	t.Helper()
	require.NotNil(t, got, msgAndArgs...)
	require.Equal(t, hex.EncodeToString(want.SerializeCompressed()),
		hex.EncodeToString(got.SerializeCompressed()), msgAndArgs...)
}
