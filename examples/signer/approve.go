package main

import (
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"

	"github.com/lnkit/lnkit/examples/signerlink"
	"github.com/lnkit/lnkit/keys/policy"
)

// client runs the user's client commands, which stand for the user's own device (a phone, a hardware
// token) and never need the signer or the node:
//
//	lnkit-signer client-key -key FILE
//	    creates FILE (32 random bytes, mode 0600) if missing and prints its public key: give it to
//	    the signer as -client-key.
//	lnkit-signer approve -key FILE -invoice BOLT11 -fee-limit-sat N
//	lnkit-signer approve -key FILE -keysend NODE_ID -amount-msat A -payment-hash H -fee-limit-sat N
//	    prints the approval (hex DER signature of keys/policy's InvoiceApprovalHash or
//	    KeysendApprovalHash) to pass to the node's payinvoice or keysend as "approval".
//
// It returns false when args is not one of them.
func client(args []string, out io.Writer) (bool, error) {
	if len(args) == 0 || (args[0] != "client-key" && args[0] != "approve") {
		return false, nil
	}
	fs := flag.NewFlagSet("lnkit-signer "+args[0], flag.ContinueOnError)
	fs.SetOutput(out)
	keyFile := fs.String("key", "client_key", "the client key's file")
	invoice := fs.String("invoice", "", "the BOLT 11 invoice to approve")
	keysend := fs.String("keysend", "", "the node id (hex) a keysend pays")
	amount := fs.Uint64("amount-msat", 0, "the keysend's amount, msat")
	hashHex := fs.String("payment-hash", "", "the keysend's payment hash (hex): SHA256 of the preimage given to the node")
	feeLimitSat := fs.Uint64("fee-limit-sat", 0, "the payment's fee limit, sat (the node's fee_limit_sat)")
	if err := fs.Parse(args[1:]); err != nil {
		return true, err
	}
	secret, _, err := signerlink.LoadOrCreateSecret(filepath.Clean(*keyFile))
	if err != nil {
		return true, err
	}
	key, _ := btcec.PrivKeyFromBytes(secret[:])
	if args[0] == "client-key" {
		fmt.Fprintf(out, "%x\n", key.PubKey().SerializeCompressed())
		return true, nil
	}
	if *feeLimitSat == 0 {
		return true, errors.New("approve: give -fee-limit-sat, the fee limit the payment will be made with")
	}
	var h [32]byte
	switch {
	case *invoice != "" && *keysend == "":
		h = policy.InvoiceApprovalHash(*invoice, *feeLimitSat*1000)
	case *keysend != "" && *invoice == "":
		payeeBytes, err := hex.DecodeString(*keysend)
		if err != nil {
			return true, fmt.Errorf("approve: -keysend: %w", err)
		}
		payee, err := btcec.ParsePubKey(payeeBytes)
		if err != nil {
			return true, fmt.Errorf("approve: -keysend: %w", err)
		}
		hb, err := hex.DecodeString(*hashHex)
		if err != nil || len(hb) != 32 || *amount == 0 {
			return true, errors.New("approve: a keysend needs -amount-msat and -payment-hash (64 hex characters)")
		}
		h = policy.KeysendApprovalHash(payee, [32]byte(hb), *amount, *feeLimitSat*1000)
	default:
		return true, errors.New("approve: give -invoice, or -keysend with -amount-msat and -payment-hash")
	}
	fmt.Fprintf(out, "%x\n", ecdsa.Sign(key, h[:]).Serialize())
	return true, nil
}
