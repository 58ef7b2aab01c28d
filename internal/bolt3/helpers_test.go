package bolt3

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err, "hex %q", s)
	return b
}

func pub(t testing.TB, s string) *btcec.PublicKey {
	t.Helper()
	k, err := btcec.ParsePubKey(unhex(t, s))
	require.NoError(t, err)
	return k
}

// priv parses a spec private key: 32 bytes, optionally followed by the 01
// compressed-key marker.
func priv(t testing.TB, s string) *btcec.PrivateKey {
	t.Helper()
	b := unhex(t, s)
	require.True(t, len(b) == 32 || (len(b) == 33 && b[32] == 1), "private key %q", s)
	k, _ := btcec.PrivKeyFromBytes(b[:32])
	return k
}

func hash32(t testing.TB, s string) [32]byte {
	t.Helper()
	var h [32]byte
	b := unhex(t, s)
	require.Len(t, b, 32)
	copy(h[:], b)
	return h
}

func loadJSON(t testing.TB, name string, v any) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	require.NoError(t, dec.Decode(v), name)
}

func serialize(t testing.TB, tx *wire.MsgTx) []byte {
	t.Helper()
	var buf bytes.Buffer
	require.NoError(t, tx.Serialize(&buf))
	return buf.Bytes()
}

func parseTx(t testing.TB, b []byte) *wire.MsgTx {
	t.Helper()
	tx := wire.NewMsgTx(2)
	require.NoError(t, tx.Deserialize(bytes.NewReader(b)))
	return tx
}

// signInput signs input idx of tx, spending a P2WSH output of valueSat with
// witnessScript, and returns DER || hashType.
func signInput(t testing.TB, tx *wire.MsgTx, idx int, witnessScript []byte, valueSat int64,
	hashType txscript.SigHashType, key *btcec.PrivateKey) []byte {
	t.Helper()
	h, err := WitnessSigHash(tx, idx, witnessScript, valueSat, hashType)
	require.NoError(t, err)
	return append(ecdsa.Sign(key, h).Serialize(), byte(hashType))
}

// verifySig checks a DER signature (without sighash byte) on input idx.
func verifySig(t testing.TB, tx *wire.MsgTx, idx int, witnessScript []byte, valueSat int64,
	hashType txscript.SigHashType, der []byte, key *btcec.PublicKey) {
	t.Helper()
	sig, err := ecdsa.ParseDERSignature(der)
	require.NoError(t, err)
	h, err := WitnessSigHash(tx, idx, witnessScript, valueSat, hashType)
	require.NoError(t, err)
	require.True(t, sig.Verify(h, key), "signature does not verify")
}

// runScript executes input idx of tx against the output (pkScript, valueSat)
// it spends, with Bitcoin Core's standard verification flags.
func runScript(tx *wire.MsgTx, idx int, pkScript []byte, valueSat int64) error {
	fetcher := txscript.NewCannedPrevOutputFetcher(pkScript, valueSat)
	hashes := txscript.NewTxSigHashes(tx, fetcher)
	vm, err := txscript.NewEngine(pkScript, tx, idx, txscript.StandardVerifyFlags, nil, hashes, valueSat, fetcher)
	if err != nil {
		return err
	}
	return vm.Execute()
}

// testKey returns a deterministic private key from a small seed.
func testKey(seed byte) *btcec.PrivateKey {
	var b [32]byte
	for i := range b {
		b[i] = seed
	}
	b[0] = 0x01 // stay well below the curve order
	k, _ := btcec.PrivKeyFromBytes(b[:])
	return k
}

func txWeight(tx *wire.MsgTx) int64 {
	return int64(tx.SerializeSizeStripped()*3 + tx.SerializeSize())
}
