// Package anchorfix is a test fixture of the example node: on an internal/testchain.Chain it builds a
// stand-in for an anchor channel's commitment transaction (a low-fee transaction carrying our anchor
// output, BOLT 3 "to_local_anchor and to_remote_anchor Output") and the events.BumpChannelClose that
// a ChannelMonitor would emit for it, so that the node's fee bumping is tested with lnkit's real
// bumptx handler, real signatures and the test chain's fee market. Amounts are in satoshis, feerates
// in sat per 1000 weight units.
package anchorfix

import (
	"crypto/sha256"
	"testing"

	"github.com/btcsuite/btcd/blockchain"
	"github.com/btcsuite/btcd/btcutil"
	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/bolt3"
	"github.com/lnkit/lnkit/internal/testchain"
	"github.com/lnkit/lnkit/keys"
)

// ChannelSat is the value of the stand-in channel's funding output.
const ChannelSat = 1_000_000

// opTrue is the witness script of the outputs anyone can spend: the "funding" output and the
// commitment's other output.
var opTrue = []byte{txscript.OP_TRUE}

// Close funds an output on chain and returns a BumpChannelClose for a commitment spending it, paying
// commitFeeratePerKw on its own, with our anchor (signable by km's signer of a channel named by label)
// at output 0; the event asks for targetPerKw. A conflicting commitment is Conflict(ev).
func Close(t testing.TB, chain *testchain.Chain, km *keys.KeysManager, label byte, commitFeeratePerKw,
	targetPerKw uint32) events.BumpChannelClose {
	t.Helper()
	keysID := km.GenerateChannelKeysID(false, ChannelSat, [16]byte{label})
	anchorScript, err := bolt3.AnchorScript(km.DeriveChannelSigner(ChannelSat, keysID).Pubkeys().FundingPubkey)
	if err != nil {
		t.Fatal(err)
	}
	funding := chain.FundAddress(bolt3.WitnessScriptHash(opTrue), ChannelSat)
	commit := wire.NewMsgTx(2)
	commit.AddTxIn(&wire.TxIn{PreviousOutPoint: funding, Sequence: wire.MaxTxInSequenceNum, Witness: wire.TxWitness{opTrue}})
	commit.AddTxOut(&wire.TxOut{Value: bolt3.AnchorOutputValueSat, PkScript: bolt3.WitnessScriptHash(anchorScript)})
	commit.AddTxOut(&wire.TxOut{PkScript: bolt3.WitnessScriptHash(opTrue)})
	fee := (weight(commit)*int64(commitFeeratePerKw) + 999) / 1000
	commit.TxOut[1].Value = ChannelSat - bolt3.AnchorOutputValueSat - fee
	return events.BumpChannelClose{
		ClaimID:                   sha256.Sum256([]byte{'c', label}),
		PackageTargetFeeratePerKw: targetPerKw,
		CommitmentTx:              commit,
		CommitmentTxFeeSat:        fee,
		Anchor: events.AnchorDescriptor{
			Channel:       events.ChannelDerivationParameters{ValueSat: ChannelSat, KeysID: keysID},
			OutPoint:      wire.OutPoint{Hash: commit.TxHash(), Index: 0},
			ValueSat:      bolt3.AnchorOutputValueSat,
			WitnessScript: anchorScript,
		},
	}
}

// Conflict returns a transaction spending the same funding output as ev's commitment (the
// counterparty's commitment, say), paying 5,000 sat of fee.
func Conflict(ev events.BumpChannelClose) *wire.MsgTx {
	tx := wire.NewMsgTx(2)
	tx.AddTxIn(&wire.TxIn{PreviousOutPoint: ev.CommitmentTx.TxIn[0].PreviousOutPoint, Sequence: wire.MaxTxInSequenceNum,
		Witness: wire.TxWitness{opTrue}})
	tx.AddTxOut(&wire.TxOut{Value: ChannelSat - 5_000, PkScript: bolt3.WitnessScriptHash(opTrue)})
	return tx
}

func weight(tx *wire.MsgTx) int64 { return blockchain.GetTransactionWeight(btcutil.NewTx(tx)) }
