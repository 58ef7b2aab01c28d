package remote

import (
	"fmt"

	"github.com/btcsuite/btcd/wire"

	"github.com/lnkit/lnkit/keys"
)

// WalletPath names one key of the on-chain wallet's account: m/84'/coin'/0'/Chain/Index (BIP 84; chain
// 0 receives, chain 1 is change).
type WalletPath struct {
	Chain, Index uint32
}

// WalletInner is the on-chain wallet a Server serves besides Inner (ServerConfig.Wallet): it holds the
// account's private keys. The node keeps only the account's extended public key and asks for every
// signature of its wallet's spends. The methods take the network by its chaincfg name
// (chaincfg.Params.Name: "mainnet", "testnet3", "regtest", "signet", "simnet"), so that this package
// need not know the wallet's types; examples/signer implements WalletInner over
// examples/node/wallet.SeedSigner. Implementations must be safe for concurrent use.
type WalletInner interface {
	// AccountPubKey returns the extended public key of the account on network netName, serialized
	// (hdkeychain.ExtendedKey.String).
	AccountPubKey(netName string) (string, error)
	// SignWalletInputs returns a witness for every input i of tx with paths[i] set, signed with the key
	// at that path, and nil for the others. prevOuts[i] is the output input i spends (every input's,
	// for the signature digests). The server has checked that tx is not nil and that prevOuts and paths
	// hold one entry per input, no previous output nil. A validating wallet checks where tx sends the
	// money and may refuse: with a Refusal (for example a *RefusedError) the client sees the rule.
	SignWalletInputs(netName string, tx *wire.MsgTx, prevOuts []*wire.TxOut, paths []*WalletPath) ([]wire.TxWitness, error)
}

// AccountPubKey asks the signer's wallet for its account's extended public key on network netName
// (chaincfg.Params.Name), serialized as hdkeychain's String (parse it with hdkeychain.NewKeyFromString).
// The call is synchronous. Errors: ErrNoWallet when the signer serves no wallet, the wallet's (an
// unknown network, ...), keys.ErrSignerPending wrapping ErrNotConnected, ErrTooLarge, ErrClosed.
func (c *Client) AccountPubKey(netName string) (string, error) {
	p, err := c.roundTrip(&Request{Method: MethodAccountPubKey, Network: netName})
	if err != nil {
		return "", err
	}
	return p.AccountKey, nil
}

// SignWalletInputs asks the signer's wallet to sign the inputs of tx on network netName whose paths are
// set (synchronous). prevOuts[i] is the output input i spends and paths[i] the key that signs it, or nil
// for an input the wallet does not sign. It returns one witness per input, nil for those without a
// path. Errors: keys.ErrNilTransaction for a nil tx, keys.ErrInvalidTransaction when prevOuts or paths
// do not hold one entry per input or a previous output is nil, ErrTooLarge (more than MaxWalletInputs
// inputs, a script or transaction above its bound), a *RefusedError when the wallet's policy refuses
// the spend, the wallet's other errors, ErrNoWallet, ErrMalformed for an answer without one witness
// per input, keys.ErrSignerPending wrapping ErrNotConnected, ErrClosed.
func (c *Client) SignWalletInputs(netName string, tx *wire.MsgTx, prevOuts []*wire.TxOut, paths []*WalletPath) ([]wire.TxWitness, error) {
	if err := checkWalletSpend(tx, prevOuts, paths); err != nil {
		return nil, err
	}
	p, err := c.roundTrip(&Request{Method: MethodSignWalletInputs, Network: netName, Tx: tx, PrevOuts: prevOuts, Paths: paths})
	if err != nil {
		return nil, err
	}
	if len(p.Witnesses) != len(tx.TxIn) {
		return nil, fmt.Errorf("%w: %d witnesses for %d inputs", ErrMalformed, len(p.Witnesses), len(tx.TxIn))
	}
	return p.Witnesses, nil
}

// checkWalletSpend checks SignWalletInputs' arguments: a transaction, and one previous output (not
// nil) and one path (or nil) per input.
func checkWalletSpend(tx *wire.MsgTx, prevOuts []*wire.TxOut, paths []*WalletPath) error {
	if tx == nil {
		return keys.ErrNilTransaction
	}
	if len(prevOuts) != len(tx.TxIn) || len(paths) != len(tx.TxIn) {
		return fmt.Errorf("%w: %d inputs, %d previous outputs, %d paths", keys.ErrInvalidTransaction,
			len(tx.TxIn), len(prevOuts), len(paths))
	}
	for i, o := range prevOuts {
		if o == nil {
			return fmt.Errorf("%w: no previous output for input %d", keys.ErrInvalidTransaction, i)
		}
	}
	return nil
}

// signWallet serves SignWalletInputs.
func (s *Server) signWallet(q *Request) ([]wire.TxWitness, error) {
	if s.cfg.Wallet == nil {
		return nil, ErrNoWallet
	}
	if err := checkWalletSpend(q.Tx, q.PrevOuts, q.Paths); err != nil {
		return nil, err
	}
	ws, err := s.cfg.Wallet.SignWalletInputs(q.Network, q.Tx, q.PrevOuts, q.Paths)
	if err != nil {
		return nil, err
	}
	if len(ws) != len(q.Tx.TxIn) {
		return nil, fmt.Errorf("remote: wallet returned %d witnesses for %d inputs", len(ws), len(q.Tx.TxIn))
	}
	return ws, nil
}

// accountPubKey serves AccountPubKey.
func (s *Server) accountPubKey(q *Request) (string, error) {
	if s.cfg.Wallet == nil {
		return "", ErrNoWallet
	}
	k, err := s.cfg.Wallet.AccountPubKey(q.Network)
	if err == nil && k == "" {
		err = errNilAnswer
	}
	return k, err
}

// prevOutMinLen is the smallest encoded previous output: value (8) and an empty script's length (2).
const prevOutMinLen = 8 + 2

// writePrevOuts writes a u16 count and each output's value (i64) and script (u16 length). Errors:
// ErrTooLarge, keys.ErrInvalidTransaction for a nil output.
func writePrevOuts(w *writer, outs []*wire.TxOut) error {
	if len(outs) > MaxWalletInputs {
		return fmt.Errorf("%w: %d previous outputs above %d", ErrTooLarge, len(outs), MaxWalletInputs)
	}
	w.u16(uint16(len(outs)))
	for i, o := range outs {
		if o == nil {
			return fmt.Errorf("%w: previous output %d is nil", keys.ErrInvalidTransaction, i)
		}
		if len(o.PkScript) > MaxScriptLen {
			return fmt.Errorf("%w: previous output %d's script of %d bytes above %d", ErrTooLarge, i,
				len(o.PkScript), MaxScriptLen)
		}
		w.u64(uint64(o.Value))
		w.bytes16(o.PkScript)
	}
	return nil
}

// readPrevOuts reads what writePrevOuts wrote.
func readPrevOuts(r *reader) []*wire.TxOut {
	n := int(r.u16())
	if n > MaxWalletInputs || n*prevOutMinLen > len(r.b) {
		r.fail("%d previous outputs", n)
		return nil
	}
	var out []*wire.TxOut
	if n > 0 {
		out = make([]*wire.TxOut, 0, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		v := int64(r.u64())
		out = append(out, &wire.TxOut{Value: v, PkScript: r.bytes16(MaxScriptLen)})
	}
	if r.err != nil {
		return nil
	}
	return out
}

// writePaths writes a u16 count and, per entry, 0 for nil or 1, the chain and the index (u32 each).
// Errors: ErrTooLarge.
func writePaths(w *writer, paths []*WalletPath) error {
	if len(paths) > MaxWalletInputs {
		return fmt.Errorf("%w: %d key paths above %d", ErrTooLarge, len(paths), MaxWalletInputs)
	}
	w.u16(uint16(len(paths)))
	for _, p := range paths {
		w.bool(p != nil)
		if p != nil {
			w.u32(p.Chain)
			w.u32(p.Index)
		}
	}
	return nil
}

// readPaths reads what writePaths wrote.
func readPaths(r *reader) []*WalletPath {
	n := int(r.u16())
	if n > MaxWalletInputs || n > len(r.b) {
		r.fail("%d key paths", n)
		return nil
	}
	var out []*WalletPath
	if n > 0 {
		out = make([]*WalletPath, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		if r.bool() {
			out[i] = &WalletPath{Chain: r.u32(), Index: r.u32()}
		}
	}
	if r.err != nil {
		return nil
	}
	return out
}

// writeWitnesses writes a u16 count and, per witness, a u16 item count (0 for none) and each item (u16
// length). Errors: ErrTooLarge.
func writeWitnesses(w *writer, ws []wire.TxWitness) error {
	if len(ws) > MaxWalletInputs {
		return fmt.Errorf("%w: %d witnesses above %d", ErrTooLarge, len(ws), MaxWalletInputs)
	}
	w.u16(uint16(len(ws)))
	for i, wit := range ws {
		if len(wit) > MaxWitnessItems {
			return fmt.Errorf("%w: witness %d has %d items, at most %d", ErrTooLarge, i, len(wit), MaxWitnessItems)
		}
		w.u16(uint16(len(wit)))
		for _, item := range wit {
			if len(item) > MaxScriptLen {
				return fmt.Errorf("%w: witness %d item of %d bytes above %d", ErrTooLarge, i, len(item), MaxScriptLen)
			}
			w.bytes16(item)
		}
	}
	return nil
}

// readWitnesses reads what writeWitnesses wrote; a witness without items is nil.
func readWitnesses(r *reader) []wire.TxWitness {
	n := int(r.u16())
	if n > MaxWalletInputs || n*2 > len(r.b) {
		r.fail("%d witnesses", n)
		return nil
	}
	var out []wire.TxWitness
	if n > 0 {
		out = make([]wire.TxWitness, n)
	}
	for i := 0; i < n && r.err == nil; i++ {
		m := int(r.u16())
		if m > MaxWitnessItems || m*2 > len(r.b) {
			r.fail("witness %d of %d items", i, m)
			return nil
		}
		if m == 0 {
			continue
		}
		wit := make(wire.TxWitness, 0, m)
		for j := 0; j < m && r.err == nil; j++ {
			wit = append(wit, r.bytes16(MaxScriptLen))
		}
		out[i] = wit
	}
	if r.err != nil {
		return nil
	}
	return out
}
