package keys

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/txscript"
	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/events"
)

// ErrCannotSpend is returned by SpendSpendableOutputs for a descriptor this KeysManager cannot sign, or an
// amount that does not cover the fee.
var ErrCannotSpend = errors.New("keys: cannot spend output")

// SpendSpendableOutputs builds and signs a transaction spending the outputs handed over by
// SpendableOutputs events into the host's wallet: outputs are paid as given, and what is left after a fee
// of feeratePerKw (sat per 1000 weight units) goes to changeScript (omitted if below 330 sat).
// It signs StaticOutput descriptors that pay our destination or shutdown script (P2WPKH); other kinds are
// refused with ErrCannotSpend (lnkit's monitor sweeps them itself and reports the swept output).
func (k *KeysManager) SpendSpendableOutputs(descs []events.SpendableOutputDescriptor, outputs []*wire.TxOut,
	changeScript []byte, feeratePerKw uint32) (*wire.MsgTx, error) {
	if len(descs) == 0 {
		return nil, fmt.Errorf("%w: no outputs", ErrCannotSpend)
	}
	tx := wire.NewMsgTx(2)
	var in int64
	prev := txscript.NewMultiPrevOutFetcher(nil)
	for _, d := range descs {
		if d.Kind != events.StaticOutput {
			return nil, fmt.Errorf("%w: descriptor kind %d", ErrCannotSpend, d.Kind)
		}
		if !bytes.Equal(d.Output.PkScript, k.destinationScript) && !bytes.Equal(d.Output.PkScript, k.shutdownScript) {
			return nil, fmt.Errorf("%w: %s does not pay one of our scripts", ErrCannotSpend, d.OutPoint)
		}
		tx.AddTxIn(&wire.TxIn{PreviousOutPoint: d.OutPoint, Sequence: wire.MaxTxInSequenceNum})
		out := d.Output
		prev.AddPrevOut(d.OutPoint, &out)
		in += d.Output.Value
	}
	var out int64
	for _, o := range outputs {
		tx.AddTxOut(o)
		out += o.Value
	}
	// Weight: the transaction without witnesses, plus a P2WPKH witness (~109 WU) per input and the change.
	change := &wire.TxOut{PkScript: changeScript}
	tx.AddTxOut(change)
	weight := int64(tx.SerializeSizeStripped()*4+2) + int64(len(descs))*109
	fee := weight * int64(feeratePerKw) / 1000
	left := in - out - fee
	if left < 0 {
		return nil, fmt.Errorf("%w: inputs %d sat do not cover outputs %d sat and fee %d sat", ErrCannotSpend, in, out, fee)
	}
	if left < 330 || len(changeScript) == 0 {
		tx.TxOut = tx.TxOut[:len(tx.TxOut)-1]
	} else {
		change.Value = left
	}
	hashes := txscript.NewTxSigHashes(tx, prev)
	for i, d := range descs {
		key := k.destinationKey
		if bytes.Equal(d.Output.PkScript, k.shutdownScript) {
			key = k.shutdownKey
		}
		w, err := txscript.WitnessSignature(tx, hashes, i, d.Output.Value, d.Output.PkScript, txscript.SigHashAll, key, true)
		if err != nil {
			return nil, err
		}
		tx.TxIn[i].Witness = w
	}
	return tx, nil
}
