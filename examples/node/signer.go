package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcutil/hdkeychain"
	"github.com/btcsuite/btcd/chaincfg"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/channelmanager"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/examples/node/wallet"
	"github.com/lnkit/lnkit/examples/signerlink"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/keys/remote"
)

// nodeSigner is every key operation the node needs: the channel manager's (channel keys, the node key,
// entropy), the wallet's and the sweeps'. In process it is the seed's keys.KeysManager and
// wallet.SeedSigner (localSigner); with -signer, a remote signer's client (remoteSigner), and the node
// holds no private key.
type nodeSigner interface {
	channelmanager.KeysInterface
	wallet.Signer
	wallet.OutputSpender
}

// approver is a signer that checks payments against the user's approvals (a remote signer with its
// policy): the control API hands it the approval of each payment command before the payment starts.
type approver interface {
	ApproveInvoice(bolt11 string, maxFeeMsat uint64, clientSig []byte) error
	ApproveKeysend(payee *btcec.PublicKey, paymentHash [32]byte, amountMsat, maxFeeMsat uint64, clientSig []byte) error
}

// localSigner holds the seed in process.
type localSigner struct {
	*keys.KeysManager
	*wallet.SeedSigner
}

// newNodeSigner returns the signer cfg asks for: a remote signer's client with -signer, otherwise the
// seed in <datadir>/seed (created on first run).
func (n *Node) newNodeSigner(cfg *Config) (nodeSigner, error) {
	if cfg.Signer != "" {
		return n.newRemoteSigner(cfg)
	}
	seed, err := loadSeed(cfg.DataDir)
	if err != nil {
		return nil, fmt.Errorf("seed: %w", err)
	}
	ws, err := wallet.NewSeedSigner(seed[:])
	if err != nil {
		return nil, err
	}
	now := time.Now()
	return localSigner{KeysManager: keys.NewKeysManager(seed, uint64(now.Unix()), uint32(now.Nanosecond())), SeedSigner: ws}, nil
}

// remoteSigner is the node's side of a remote signer: keys/remote's client, linked to the signer by
// examples/signerlink (BOLT 8 Noise over TCP, both link keys pinned).
type remoteSigner struct {
	*remote.Client
}

// newRemoteSigner starts the link to the signer at cfg.Signer. The link key, which only authenticates
// the node to its signer, is <datadir>/signer_link_key (created on first run). The link runs until the
// node stops; answers wake the event loop, which tells the channel manager and the chain monitor
// (SignerUnblocked).
func (n *Node) newRemoteSigner(cfg *Config) (nodeSigner, error) {
	pubBytes, err := hex.DecodeString(cfg.SignerPubKey)
	if err != nil || len(pubBytes) != 33 {
		return nil, errors.New("-signer needs -signer-pubkey: the signer's link public key, 66 hex characters")
	}
	signerPub, err := btcec.ParsePubKey(pubBytes)
	if err != nil {
		return nil, fmt.Errorf("-signer-pubkey: %w", err)
	}
	key, created, err := signerlink.LoadOrCreateKey(filepath.Join(cfg.DataDir, "signer_link_key"))
	if err != nil {
		return nil, fmt.Errorf("signer link key: %w", err)
	}
	if created {
		n.log.Info("created the node's signer link key; give its public key to lnkit-signer -node-link-key",
			"pubkey", hex.EncodeToString(key.PubKey().SerializeCompressed()))
	}
	client := remote.NewClient(remote.ClientConfig{OnAnswer: n.signerAnswered})
	ctx, cancel := context.WithCancel(context.Background())
	n.signerStop = cancel
	d := &signerlink.Dialer{Addr: cfg.Signer, Key: key, SignerPub: signerPub, Client: client, Logger: n.log.With("component", "signer-link")}
	go func() { _ = d.Run(ctx) }()
	wait, cancelWait := context.WithTimeout(ctx, time.Minute)
	defer cancelWait()
	if err := client.WaitConnected(wait); err != nil {
		n.log.Warn("the remote signer is not reachable yet; waiting for it", "addr", cfg.Signer)
	}
	return remoteSigner{Client: client}, nil
}

// AccountPubKey implements wallet.Signer through the signer.
func (r remoteSigner) AccountPubKey(net *chaincfg.Params) (*hdkeychain.ExtendedKey, error) {
	s, err := r.Client.AccountPubKey(net.Name)
	if err != nil {
		return nil, err
	}
	return hdkeychain.NewKeyFromString(s)
}

// SignInputs implements wallet.Signer through the signer, which checks where the money goes.
func (r remoteSigner) SignInputs(tx *wire.MsgTx, prevOuts []*wire.TxOut, paths []*wallet.KeyPath, net *chaincfg.Params) ([]wire.TxWitness, error) {
	ps := make([]*remote.WalletPath, len(paths))
	for i, p := range paths {
		if p != nil {
			ps[i] = &remote.WalletPath{Chain: p.Chain, Index: p.Index}
		}
	}
	return r.Client.SignWalletInputs(net.Name, tx, prevOuts, ps)
}

// SpendSpendableOutputs implements wallet.OutputSpender: a remote signer's node sends closes and
// sweeps to the wallet's own scripts (walletKeys), which the wallet sees directly, so there is nothing
// for it to spend.
func (r remoteSigner) SpendSpendableOutputs([]events.SpendableOutputDescriptor, []*wire.TxOut, []byte, uint32) (*wire.MsgTx, error) {
	return nil, fmt.Errorf("%w: outputs not paying the wallet cannot be swept through a remote signer", keys.ErrCannotSpend)
}

// signerAnswered is the remote client's OnAnswer: it runs on the link's reader goroutine, so it only
// notes the answer and wakes the event loop, which calls SignerUnblocked (never from the link's
// goroutine: a signer call made there would wait for the goroutine that delivers its answer).
func (n *Node) signerAnswered() {
	n.signerUnblocked.Store(true)
	n.wake()
}

// unblockSigner tells the channel manager and the chain monitor that the signer answered, once per
// answer batch (the event loop calls it each pass).
func (n *Node) unblockSigner() {
	if n.signerUnblocked.Swap(false) {
		n.cm.SignerUnblocked(nil)
		n.chainMon.SignerUnblocked()
	}
}
