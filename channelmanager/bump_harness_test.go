package channelmanager

import (
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/bumptx"
	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/testchain"
)

// walletSource is a bumptx.WalletSource over a test node's testchain.Wallet.
type walletSource struct{ w *testchain.Wallet }

func (s walletSource) ListConfirmedUTXOs() ([]bumptx.UTXO, error) {
	var out []bumptx.UTXO
	for _, o := range s.w.ConfirmedOutputs() {
		out = append(out, bumptx.UTXO{OutPoint: o.OutPoint, Output: o.Output, SatisfactionWeight: bumptx.P2WPKHSatisfactionWeight})
	}
	return out, nil
}

func (s walletSource) GetChangeScript() ([]byte, error) { return s.w.PkScript(), nil }

func (s walletSource) SignTx(tx *wire.MsgTx, prevOuts map[wire.OutPoint]*wire.TxOut) (*wire.MsgTx, error) {
	return tx, s.w.SignInputs(tx, prevOuts)
}

// withBumpHandler answers the node's BumpTransaction events with the library's default handler over
// its wallet, which it funds with walletSat.
func (n *testNode) withBumpHandler(walletSat int64) {
	n.chain.FundAddress(n.wallet.PkScript(), walletSat)
	coins, err := bumptx.NewWallet(walletSource{n.wallet}, nil)
	if err != nil {
		n.t.Fatal(err)
	}
	h, err := bumptx.NewBumpTransactionEventHandler(n.bcast, coins, n.km, nil)
	if err != nil {
		n.t.Fatal(err)
	}
	n.onBump = func(ev events.BumpTransaction) error { return h.HandleEvent(ev) }
}
