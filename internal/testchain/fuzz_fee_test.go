package testchain

import (
	"testing"

	"github.com/btcsuite/btcd/wire"
	"github.com/stretchr/testify/require"
)

// FuzzFeeMarket drives a chain through submissions, packages, replacements, policy changes, mining
// at varying feerates and reorgs, three bytes a step. After every step the mempool must be
// consistent (see requireConsistentPool), every refusal must wrap a sentinel, and every block
// MineBlocks makes must hold mempool transactions only, parents first, with a coinbase collecting
// their fees, leaving in the mempool only transactions whose ancestor packages are below the
// mining feerate.
func FuzzFeeMarket(f *testing.F) {
	f.Add([]byte{0, 3, 200, 0, 3, 255, 3, 40, 0, 2, 9, 17, 3, 0, 0, 4, 0, 0})
	f.Add([]byte{2, 0, 0, 2, 1, 90, 0, 0, 8, 1, 0, 255, 3, 120, 0, 4, 0, 0, 3, 0, 0})
	f.Add([]byte{5, 1, 2, 0, 5, 5, 1, 5, 250, 3, 1, 1, 4, 1, 1, 3, 0, 0})
	f.Fuzz(func(t *testing.T, prog []byte) {
		m := newFeeMachine()
		for steps := 0; len(prog) >= 3 && steps < 48; steps++ {
			m.step(t, prog[0], prog[1], prog[2])
			prog = prog[3:]
			requireConsistentPool(t, m.c)
		}
	})
}

// feeMachine is FuzzFeeMarket's state: a chain and the P2WSH(OP_TRUE) outpoints it may spend (with
// their values), whether or not they exist on the chain.
type feeMachine struct {
	c     *Chain
	coins []wire.OutPoint
	value map[wire.OutPoint]int64
	base  uint32 // height of the funding blocks: never disconnected
}

func newFeeMachine() *feeMachine {
	c, ops := anyoneChain(4)
	m := &feeMachine{c: c, value: make(map[wire.OutPoint]int64), base: c.Height()}
	for _, op := range ops {
		m.add(op, 100_000)
	}
	return m
}

func (m *feeMachine) add(op wire.OutPoint, v int64) {
	if _, ok := m.value[op]; !ok {
		m.coins = append(m.coins, op)
	}
	m.value[op] = v
}

// spend makes a transaction from two bytes: one or two known coins in, one to three outputs, a fee
// up to about 4,000 sat (less if the inputs cannot afford it).
func (m *feeMachine) spend(a, b byte) *wire.MsgTx {
	n := len(m.coins)
	ins := []wire.OutPoint{m.coins[int(a)%n]}
	if second := m.coins[(int(a)/2+1)%n]; b&1 == 1 && second != ins[0] {
		ins = append(ins, second)
	}
	var inSat int64
	for _, op := range ins {
		inSat += m.value[op]
	}
	nOut := 1 + int(b>>1)%3
	fee := int64(b>>3) * int64(a%8+1) * 16
	if most := inSat - int64(nOut)*330; fee > most {
		fee = max(most, 0)
	}
	tx := anyoneTx(ins, inSat, fee, nOut)
	for i, o := range tx.TxOut {
		m.add(out(tx, uint32(i)), o.Value)
	}
	return tx
}

func (m *feeMachine) step(t *testing.T, op, a, b byte) {
	switch op % 6 {
	case 0, 1:
		if err := m.c.SubmitTransaction(m.spend(a, b)); err != nil {
			require.True(t, wrapsSentinel(err), err)
		}
	case 2:
		parent := m.spend(a, b)
		child := anyoneTx([]wire.OutPoint{out(parent, 0)}, parent.TxOut[0].Value, int64(a)*4, 1)
		if child.TxOut[0].Value < 330 {
			return
		}
		m.add(out(child, 0), child.TxOut[0].Value)
		n := len(m.c.Rejected())
		m.c.BroadcastTransactions(child, parent)
		for _, r := range m.c.Rejected()[n:] {
			require.True(t, wrapsSentinel(r.Err), r.Err)
		}
	case 3:
		m.c.SetMiningFeeratePerKw(uint32(a) * 8)
		m.mine(t)
	case 4:
		if m.c.Height() > m.base {
			m.c.DisconnectTip()
		}
	case 5:
		m.c.SetMinRelayFeeratePerKw(uint32(a%4) * 250)
		m.c.SetIncrementalRelayFeeratePerKw(uint32(b%3) * 250)
	}
}

// mine mines one block and checks it against the mempool before and after.
func (m *feeMachine) mine(t *testing.T) {
	before := make(map[[32]byte]int64)
	for _, tx := range m.c.Mempool() {
		fee, _, ok := m.c.MempoolEntry(tx.TxHash())
		require.True(t, ok)
		before[tx.TxHash()] = fee
	}
	blk := m.c.MineBlocks(1)[0]
	pos := make(map[[32]byte]int)
	var fees int64
	for i, tx := range blk.Transactions[1:] {
		fee, ok := before[tx.TxHash()]
		require.True(t, ok, "mined a transaction that was not in the mempool")
		fees += fee
		for _, in := range tx.TxIn {
			if j, ok := pos[in.PreviousOutPoint.Hash]; ok {
				require.Less(t, j, i)
			}
		}
		pos[tx.TxHash()] = i
	}
	require.Equal(t, subsidy(m.c.Height())+fees, blk.Transactions[0].TxOut[0].Value)
	rate := m.c.MiningFeeratePerKw()
	for _, tx := range m.c.Mempool() {
		require.NotZero(t, rate, "no mining feerate mines everything")
		fee, weight, ok := m.c.MempoolAncestorPackage(tx.TxHash())
		require.True(t, ok)
		require.Negative(t, cmpRate(fee, weight, int64(rate), 1000), "left a package at or above the mining feerate")
	}
}
