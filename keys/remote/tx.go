package remote

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/btcsuite/btcd/wire"
)

// errTxShape is returned for a serialized transaction whose counts or lengths exceed its size.
var errTxShape = errors.New("transaction does not fit its length")

// parseTx decodes a serialized transaction (with segwit marker and witnesses when witness is set). It
// first walks the bytes to check that every count and length fits in what is left, so a short input
// cannot make the decoder allocate for a large claimed count, then decodes with btcd and requires
// every byte to be used.
func parseTx(b []byte, witness bool) (*wire.MsgTx, error) {
	if err := checkTxShape(b, witness); err != nil {
		return nil, err
	}
	tx := &wire.MsgTx{}
	rd := bytes.NewReader(b)
	var err error
	if witness {
		err = tx.Deserialize(rd)
	} else {
		err = tx.DeserializeNoWitness(rd)
	}
	if err != nil {
		return nil, fmt.Errorf("invalid transaction: %w", err)
	}
	if rd.Len() != 0 {
		return nil, fmt.Errorf("%w: %d trailing bytes", errTxShape, rd.Len())
	}
	if witness && !tx.HasWitness() {
		return nil, fmt.Errorf("%w: witness encoding without witness", errTxShape)
	}
	return tx, nil
}

// txWalker steps through a serialized transaction.
type txWalker struct {
	b   []byte
	err error
}

func (w *txWalker) skip(n uint64) {
	if w.err == nil && n > uint64(len(w.b)) {
		w.err = errTxShape
	}
	if w.err == nil {
		w.b = w.b[n:]
	}
}

// count reads a Bitcoin varint and checks that count elements of at least minSize bytes fit.
func (w *txWalker) count(minSize uint64) uint64 {
	if w.err != nil || len(w.b) == 0 {
		w.err = errTxShape
		return 0
	}
	var v uint64
	switch p := w.b[0]; p {
	case 0xfd, 0xfe, 0xff:
		n := 2
		if p == 0xfe {
			n = 4
		} else if p == 0xff {
			n = 8
		}
		if len(w.b) < 1+n {
			w.err = errTxShape
			return 0
		}
		var buf [8]byte
		copy(buf[:], w.b[1:1+n])
		v = binary.LittleEndian.Uint64(buf[:])
		w.b = w.b[1+n:]
	default:
		v = uint64(p)
		w.b = w.b[1:]
	}
	if v > uint64(len(w.b))/minSize {
		w.err = errTxShape
		return 0
	}
	return v
}

// checkTxShape checks the structure of a serialized transaction without allocating.
func checkTxShape(b []byte, witness bool) error {
	w := &txWalker{b: b}
	w.skip(4) // version
	if witness {
		if w.err == nil && (len(w.b) < 2 || w.b[0] != 0 || w.b[1] != 1) {
			return fmt.Errorf("%w: no segwit marker", errTxShape)
		}
		w.skip(2)
	}
	nIn := w.count(41)
	for i := uint64(0); i < nIn && w.err == nil; i++ {
		w.skip(36)
		w.skip(w.count(1))
		w.skip(4)
	}
	nOut := w.count(9)
	for i := uint64(0); i < nOut && w.err == nil; i++ {
		w.skip(8)
		w.skip(w.count(1))
	}
	if witness {
		for i := uint64(0); i < nIn && w.err == nil; i++ {
			items := w.count(1)
			for j := uint64(0); j < items && w.err == nil; j++ {
				w.skip(w.count(1))
			}
		}
	}
	w.skip(4) // lock time
	if w.err == nil && len(w.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", errTxShape, len(w.b))
	}
	return w.err
}
