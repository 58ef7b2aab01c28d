package keys

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/bech32"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/stretchr/testify/require"
)

func pubkeysList(k ChannelPublicKeys) []*btcec.PublicKey {
	return []*btcec.PublicKey{k.FundingPubkey, k.RevocationBasepoint, k.PaymentPoint, k.DelayedPaymentBasepoint, k.HTLCBasepoint}
}

func requireSameSigner(t *testing.T, x, y ChannelSigner) {
	t.Helper()
	require.Equal(t, x.ChannelKeysID(), y.ChannelKeysID())
	px, py := pubkeysList(x.Pubkeys()), pubkeysList(y.Pubkeys())
	for i := range px {
		requireSamePub(t, px[i], py[i])
	}
	for _, n := range []uint64{0, 1, 99} {
		a, err := x.GetPerCommitmentPoint(n)
		require.NoError(t, err)
		b, err := y.GetPerCommitmentPoint(n)
		require.NoError(t, err)
		requireSamePub(t, a, b)
	}
}

func TestKeysManagerDeterminism(t *testing.T) {
	seed := sha256.Sum256([]byte("determinism"))
	km1 := NewKeysManager(seed, 1000, 1)
	km2 := NewKeysManager(seed, 2000, 2) // a restart: same seed, later time
	requireSamePub(t, km1.GetNodeID(), km2.GetNodeID())
	d1, err := km1.GetDestinationScript([32]byte{})
	require.NoError(t, err)
	d2, err := km2.GetDestinationScript([32]byte{9})
	require.NoError(t, err)
	require.Equal(t, d1, d2)

	id := km1.GenerateChannelKeysID(false, 500_000, [16]byte{7})
	requireSameSigner(t, km1.DeriveChannelSigner(500_000, id), km2.DeriveChannelSigner(500_000, id))
	// The channel value is recorded, not derived from.
	requireSameSigner(t, km1.DeriveChannelSigner(500_000, id), km2.DeriveChannelSigner(1, id))

	// Different ids give entirely different keys and commitment seeds.
	id2 := km1.GenerateChannelKeysID(false, 500_000, [16]byte{7})
	require.NotEqual(t, id, id2)
	s1, s2 := km1.DeriveChannelSigner(500_000, id), km1.DeriveChannelSigner(500_000, id2)
	all := map[string]bool{hex.EncodeToString(km1.GetNodeID().SerializeCompressed()): true}
	for _, s := range []ChannelSigner{s1, s2} {
		for _, k := range pubkeysList(s.Pubkeys()) {
			all[hex.EncodeToString(k.SerializeCompressed())] = true
		}
	}
	require.Len(t, all, 11, "node id and 2x5 channel keys all distinct")
	p1, err := s1.GetPerCommitmentPoint(0)
	require.NoError(t, err)
	p2, err := s2.GetPerCommitmentPoint(0)
	require.NoError(t, err)
	require.False(t, p1.IsEqual(p2))

	// A different seed gives a different node.
	km3 := NewKeysManager(sha256.Sum256([]byte("other")), 1000, 1)
	require.False(t, km1.GetNodeID().IsEqual(km3.GetNodeID()))
	require.False(t, km3.DeriveChannelSigner(500_000, id).Pubkeys().FundingPubkey.IsEqual(s1.Pubkeys().FundingPubkey))
}

func TestChannelSignerPersistence(t *testing.T) {
	km := NewKeysManager(sha256.Sum256([]byte("persist")), 1, 1)
	for _, value := range []int64{0, 1, 16_777_215, btcutil.MaxSatoshi} {
		id := km.GenerateChannelKeysID(true, value, [16]byte{})
		s := km.DeriveChannelSigner(value, id)
		data := s.Write()
		require.Len(t, data, 40)
		require.Equal(t, id[:], data[:32])
		require.Equal(t, uint64(value), binary.BigEndian.Uint64(data[32:]))

		// A fresh KeysManager from the same seed (after a restart) re-creates the signer.
		restarted := NewKeysManager(sha256.Sum256([]byte("persist")), 99, 99)
		back, err := restarted.ReadChannelSigner(data)
		require.NoError(t, err)
		requireSameSigner(t, s, back)
		require.Equal(t, value, back.(*InMemorySigner).ChannelValueSat())
		require.Equal(t, data, back.Write())
	}
	for _, n := range []int{0, 39, 41} {
		_, err := km.ReadChannelSigner(make([]byte, n))
		require.ErrorIs(t, err, ErrInvalidEncoding)
	}
}

// FuzzReadChannelSigner checks ReadChannelSigner never panics and that what it accepts writes back the
// same bytes.
func FuzzReadChannelSigner(f *testing.F) {
	km := NewKeysManager(sha256.Sum256([]byte("fuzz signer")), 1, 1)
	f.Add(km.DeriveChannelSigner(100, [32]byte{1}).Write())
	f.Add([]byte{})
	f.Add(make([]byte, 41))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := km.ReadChannelSigner(data)
		if err != nil {
			require.ErrorIs(t, err, ErrInvalidEncoding)
			return
		}
		require.Equal(t, data, s.Write())
	})
}

func TestGenerateChannelKeysIDUnique(t *testing.T) {
	seed := sha256.Sum256([]byte("ids"))
	km := NewKeysManager(seed, 5, 5)
	seen := map[[32]byte]bool{}
	for i := 0; i < 2000; i++ {
		id := km.GenerateChannelKeysID(i%2 == 0, 100_000, [16]byte{})
		require.False(t, seen[id], "duplicate id at %d", i)
		seen[id] = true
	}
	// After a restart (a new starting time) the counter restarts, but the ids differ.
	for _, restarted := range []*KeysManager{NewKeysManager(seed, 6, 5), NewKeysManager(seed, 5, 6)} {
		for i := 0; i < 100; i++ {
			id := restarted.GenerateChannelKeysID(i%2 == 0, 100_000, [16]byte{})
			require.False(t, seen[id], "id repeated across restarts")
		}
	}
}

func TestEntropySource(t *testing.T) {
	seed := sha256.Sum256([]byte("entropy"))
	km := NewKeysManager(seed, 10, 20)
	same := NewKeysManager(seed, 10, 20)
	later := NewKeysManager(seed, 10, 21)
	other := NewKeysManager(sha256.Sum256([]byte("entropy2")), 10, 20)
	seen := map[[32]byte]bool{}
	for i := 0; i < 1000; i++ {
		r := km.GetSecureRandomBytes()
		require.False(t, seen[r], "repeat at %d", i)
		seen[r] = true
		require.Equal(t, r, same.GetSecureRandomBytes(), "deterministic for the same seed and time")
		require.NotEqual(t, r, later.GetSecureRandomBytes())
		require.NotEqual(t, r, other.GetSecureRandomBytes())
	}
	// Crude sanity check of the output distribution: roughly half the bits are set.
	ones := 0
	for r := range seen {
		for _, b := range r {
			for ; b != 0; b &= b - 1 {
				ones++
			}
		}
	}
	total := 1000 * 256
	require.InDelta(t, total/2, ones, float64(total)/50)
}

func TestDestinationAndShutdownScripts(t *testing.T) {
	km := NewKeysManager(sha256.Sum256([]byte("scripts")), 1, 1)
	dest, err := km.GetDestinationScript([32]byte{})
	require.NoError(t, err)
	shut, err := km.GetShutdownScriptPubKey()
	require.NoError(t, err)
	for _, s := range [][]byte{dest, shut} {
		require.Len(t, s, 22)
		require.Equal(t, []byte{0x00, 0x14}, s[:2])
	}
	require.NotEqual(t, dest, shut)
	shut2, err := km.GetShutdownScriptPubKey()
	require.NoError(t, err)
	require.Equal(t, shut, shut2)
	require.NotEqual(t, btcutil.Hash160(km.GetNodeID().SerializeCompressed()), dest[2:])
	// Callers get copies.
	dest[5] ^= 0xff
	again, err := km.GetDestinationScript([32]byte{})
	require.NoError(t, err)
	require.NotEqual(t, dest, again)
}

func TestNodeSigner(t *testing.T) {
	km := NewKeysManager(sha256.Sum256([]byte("node")), 1, 1)
	msg := []byte("message")
	sig, err := km.SignGossipMessage(msg)
	require.NoError(t, err)
	require.True(t, sig.Verify(chainhash.DoubleHashB(msg), km.GetNodeID()))
	s := sig.S()
	require.False(t, s.IsOverHalfOrder(), "low-S")

	data5 := []byte{1, 2, 3, 31, 0, 7}
	hash, err := InvoiceSigningHash("lnbcrt", data5)
	require.NoError(t, err)
	compact, err := km.SignInvoice("lnbcrt", data5)
	require.NoError(t, err)
	require.Len(t, compact, 65)
	require.GreaterOrEqual(t, compact[0], byte(31))
	require.LessOrEqual(t, compact[0], byte(34))
	pub, compressed, err := ecdsa.RecoverCompact(compact, hash[:])
	require.NoError(t, err)
	require.True(t, compressed)
	requireSamePub(t, km.GetNodeID(), pub)
}

func TestECDH(t *testing.T) {
	a := NewKeysManager(sha256.Sum256([]byte("ecdh a")), 1, 1)
	b := NewKeysManager(sha256.Sum256([]byte("ecdh b")), 1, 1)
	ab, err := a.ECDH(b.GetNodeID())
	require.NoError(t, err)
	ba, err := b.ECDH(a.GetNodeID())
	require.NoError(t, err)
	require.Equal(t, ab, ba)

	// Independent computation: (a·b mod n)·G, compressed, hashed.
	var prod btcec.ModNScalar
	prod.Mul2(&a.nodeSecret.Key, &b.nodeSecret.Key)
	want := sha256.Sum256(btcec.PrivKeyFromScalar(&prod).PubKey().SerializeCompressed())
	require.Equal(t, want, ab)

	_, err = a.ECDH(nil)
	require.ErrorIs(t, err, ErrNilKey)
	_, err = a.ECDH(offCurveKey())
	require.ErrorIs(t, err, ErrInvalidPublicKey)
}

type bolt11File struct {
	PrivateKey  string `json:"private_key"`
	PayeePubkey string `json:"payee_pubkey"`
	Invoices    []struct {
		Title           string  `json:"title"`
		Invoice         string  `json:"invoice"`
		PrivateKey      *string `json:"private_key"`
		PayeePubkey     *string `json:"payee_pubkey"`
		Signature       string  `json:"signature"`
		RecoveryFlag    byte    `json:"recovery_flag"`
		SignatureLowS   bool    `json:"signature_low_s"`
		SigningDataHex  string  `json:"signing_data_hex"`
		SigningHash     string  `json:"signing_hash"`
		RecoveredPubkey *string `json:"recovered_pubkey"`
	} `json:"invoices"`
}

// TestSignCompactBOLT11 signs the signing hash of every BOLT 11 example invoice with the spec's key and
// checks r || s and the recovery id are the spec's. For the high-S example it checks the spec's
// signature is the negation (s' = n - s) of ours, verifies against the payee key, and recovers the
// printed recovered_pubkey with its recovery flag.
func TestSignCompactBOLT11(t *testing.T) {
	var f bolt11File
	loadJSON(t, "bolt11-valid-invoices.json", &f)
	require.Len(t, f.Invoices, 16)
	priv := mustPriv(t, f.PrivateKey)
	requireSamePub(t, mustPub(t, f.PayeePubkey), priv.PubKey())
	km := &KeysManager{nodeSecret: priv, nodeID: priv.PubKey()}

	highS := 0
	for _, inv := range f.Invoices {
		t.Run(inv.Title, func(t *testing.T) {
			hash := mustHex32(t, inv.SigningHash)
			require.Equal(t, hash, sha256.Sum256(mustHex(t, inv.SigningDataHex)))
			hrp, data5, err := bech32.DecodeNoLimit(inv.Invoice)
			require.NoError(t, err)
			data5 = data5[:len(data5)-104] // the signature: 65 bytes in 5-bit groups
			got, err := InvoiceSigningHash(hrp, data5)
			require.NoError(t, err)
			require.Equal(t, hash, got)
			compact, err := km.SignInvoice(hrp, data5)
			require.NoError(t, err)
			vecSig := mustHex(t, inv.Signature)
			require.Len(t, vecSig, 64)
			if inv.PrivateKey != nil {
				require.Equal(t, f.PrivateKey, *inv.PrivateKey)
				require.True(t, inv.SignatureLowS)
				require.Equal(t, inv.Signature, hex.EncodeToString(compact[1:]))
				require.Equal(t, inv.RecoveryFlag, compact[0]-31)
				return
			}
			// The high-S example.
			highS++
			require.False(t, inv.SignatureLowS)
			require.Equal(t, vecSig[:32], compact[1:33], "same r")
			var ours, theirs btcec.ModNScalar
			require.False(t, ours.SetByteSlice(compact[33:]))
			require.False(t, theirs.SetByteSlice(vecSig[32:]))
			require.True(t, theirs.IsOverHalfOrder())
			require.True(t, ours.Add(&theirs).IsZero(), "s' = n - s")
			var r btcec.ModNScalar
			r.SetByteSlice(vecSig[:32])
			require.True(t, ecdsa.NewSignature(&r, &theirs).Verify(hash[:], priv.PubKey()))
			rec, _, err := ecdsa.RecoverCompact(append([]byte{31 + inv.RecoveryFlag}, vecSig...), hash[:])
			require.NoError(t, err)
			require.NotNil(t, inv.RecoveredPubkey)
			requireSamePub(t, mustPub(t, *inv.RecoveredPubkey), rec)
		})
	}
	require.Equal(t, 1, highS)
}

// TestConcurrentUse exercises every exported type from several goroutines; run with -race.
func TestConcurrentUse(t *testing.T) {
	km := NewKeysManager(sha256.Sum256([]byte("concurrent")), 1, 1)
	id := km.GenerateChannelKeysID(false, 1000, [16]byte{})
	signer := km.DeriveChannelSigner(1000, id)
	store := NewCounterpartyCommitmentSecrets()
	other := NewKeysManager(sha256.Sum256([]byte("peer")), 1, 1).DeriveChannelSigner(1000, [32]byte{5})

	const workers, perWorker = 4, 50
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		random   = map[[32]byte]bool{}
		ids      = map[[32]byte]bool{}
		failures []error
	)
	fail := func(err error) {
		mu.Lock()
		failures = append(failures, err)
		mu.Unlock()
	}
	var next uint64 // next commitment number to provide, guarded by mu
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < perWorker; i++ {
				r := km.GetSecureRandomBytes()
				newID := km.GenerateChannelKeysID(true, 1, [16]byte{})
				mu.Lock()
				if random[r] || ids[newID] {
					failures = append(failures, ErrSecretMismatch)
				}
				random[r], ids[newID] = true, true
				n := next
				next++
				secret, err := other.ReleaseCommitmentSecret(n)
				if err == nil {
					err = store.ProvideSecret(MaxCommitmentIndex-n, secret)
				}
				mu.Unlock()
				if err != nil {
					fail(err)
				}
				if _, ok := store.GetSecretForCommitment(n / 2); !ok {
					fail(ErrUnexpectedSecretIndex)
				}
				_ = store.Encode()
				if _, err := signer.GetPerCommitmentPoint(uint64(i)); err != nil {
					fail(err)
				}
				tx := spendTx(fakePrev, 0, 10_000)
				script := fundingScript(t, signer.Pubkeys().FundingPubkey, other.Pubkeys().FundingPubkey)
				if _, err := signer.(*InMemorySigner).SignFundingInput(tx, 0, script, 10_000); err != nil {
					fail(err)
				}
				if _, err := km.ECDH(other.Pubkeys().FundingPubkey); err != nil {
					fail(err)
				}
				if _, err := km.SignGossipMessage(r[:]); err != nil {
					fail(err)
				}
				_ = km.DeriveChannelSigner(1, newID)
			}
		}()
	}
	wg.Wait()
	require.Empty(t, failures)
	require.Len(t, random, workers*perWorker)
	require.Equal(t, uint64(workers*perWorker), store.NumReceived())
	require.True(t, bytes.Equal(store.Encode(), store.Encode()))
}
