package wallet

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"

	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/txscript"
	"github.com/stretchr/testify/require"
)

type bip84Vectors struct {
	Mnemonic string `json:"mnemonic"`
	RootNode string `json:"rootnode"`
	Account  struct {
		XPriv string `json:"xpriv"`
	} `json:"account"`
	Addresses []struct {
		Path    string `json:"path"`
		Chain   uint32 `json:"chain"`
		Index   uint32 `json:"index"`
		PrivKey string `json:"privkey"`
		PubKey  string `json:"pubkey"`
		Address string `json:"address"`
	} `json:"addresses"`
}

// TestBIP84Vectors checks the wallet's derivation (deriveAccount, p2wpkhScript) against every vector of
// BIP 84: the root from the BIP 39 seed, the account key m/84'/0'/0', and each address's private key,
// public key and address.
func TestBIP84Vectors(t *testing.T) {
	raw, err := os.ReadFile("testdata/bip84.json")
	require.NoError(t, err)
	var v bip84Vectors
	require.NoError(t, json.Unmarshal(raw, &v))
	require.Len(t, v.Addresses, 3)

	root, err := hdkeychain.NewKeyFromString(v.RootNode)
	require.NoError(t, err)
	// BIP 39: the seed is PBKDF2-HMAC-SHA512 of the mnemonic with salt "mnemonic", 2048 rounds.
	seed, err := pbkdf2.Key(sha512.New, v.Mnemonic, []byte("mnemonic"), 2048, 64)
	require.NoError(t, err)
	master, err := hdkeychain.NewMaster(seed, &chaincfg.MainNetParams)
	require.NoError(t, err)
	master, err = master.CloneWithVersion(root.Version())
	require.NoError(t, err)
	require.Equal(t, v.RootNode, master.String())

	acct := root
	for _, i := range []uint32{84, coinType(&chaincfg.MainNetParams), 0} {
		acct, err = acct.Derive(hdkeychain.HardenedKeyStart + i)
		require.NoError(t, err)
	}
	chains, err := deriveChains(acct)
	require.NoError(t, err)
	require.Equal(t, v.Account.XPriv, acct.String())

	for _, a := range v.Addresses {
		k, err := chains[a.Chain].Derive(a.Index)
		require.NoError(t, err, a.Path)
		priv, err := k.ECPrivKey()
		require.NoError(t, err)
		wif, err := btcutil.NewWIF(priv, &chaincfg.MainNetParams, true)
		require.NoError(t, err)
		require.Equal(t, a.PrivKey, wif.String(), a.Path)
		require.Equal(t, a.PubKey, hex.EncodeToString(priv.PubKey().SerializeCompressed()), a.Path)
		addr, err := btcutil.DecodeAddress(a.Address, &chaincfg.MainNetParams)
		require.NoError(t, err)
		want, err := txscript.PayToAddrScript(addr)
		require.NoError(t, err)
		require.Equal(t, want, p2wpkhScript(priv.PubKey()), a.Path)
	}
}

// TestOpenDerivation checks that a wallet's first addresses are m/84'/1'/0'/{0,1}/0 of the master key made
// from HMAC-SHA256("lnkit wallet", seed) on test networks (coin type 0 on mainnet), and so differ from the
// BIP 84 addresses of the raw seed.
func TestOpenDerivation(t *testing.T) {
	seed := testSeed("derivation")
	mac := hmac.New(sha256.New, []byte("lnkit wallet"))
	mac.Write(seed)
	for _, tc := range []struct {
		net  *chaincfg.Params
		coin uint32
	}{{&chaincfg.RegressionNetParams, 1}, {&chaincfg.TestNet3Params, 1}, {&chaincfg.MainNetParams, 0}} {
		w, err := Open(t.TempDir(), seed, tc.net, BlockRef{})
		require.NoError(t, err)
		master, err := hdkeychain.NewMaster(mac.Sum(nil), tc.net)
		require.NoError(t, err)
		rawMaster, err := hdkeychain.NewMaster(seed, tc.net)
		require.NoError(t, err)
		for _, chain := range []uint32{ExternalChain, ChangeChain} {
			k := master
			rk := rawMaster
			for _, i := range []uint32{hdkeychain.HardenedKeyStart + 84, hdkeychain.HardenedKeyStart + tc.coin,
				hdkeychain.HardenedKeyStart, chain, 0} {
				k, err = k.Derive(i)
				require.NoError(t, err)
				rk, err = rk.Derive(i)
				require.NoError(t, err)
			}
			pub, err := k.ECPubKey()
			require.NoError(t, err)
			rawPub, err := rk.ECPubKey()
			require.NoError(t, err)
			var got []byte
			if chain == ExternalChain {
				addr, err := w.NewAddress()
				require.NoError(t, err)
				require.True(t, addr.IsForNet(tc.net))
				got, err = txscript.PayToAddrScript(addr)
				require.NoError(t, err)
			} else {
				got, err = w.ChangeScript()
				require.NoError(t, err)
			}
			require.Equal(t, p2wpkhScript(pub), got, "%s chain %d", tc.net.Name, chain)
			require.NotEqual(t, p2wpkhScript(rawPub), got)
			require.True(t, w.IsMine(got))
		}
		require.NoError(t, w.Close())
	}
}
