package crashtest

// check is the verdict on a run: every payment resolved with one outcome, both sides agree on the
// balances to the msat (Alice's is what she had less what she paid plus what Bob paid her), no HTLC
// left, the channel usable, nothing broadcast since the funding transaction (its output unspent, the
// mempool empty), and Bob's store holding exactly his live monitors.
func (g *rig) check() {
	g.t.Helper()
	for i, l := range g.logs {
		if len(l.pending) != 0 {
			g.t.Fatalf("crash at write %d: %d payments of %s never resolved", g.k, len(l.pending), g.nw.nodes[i].name)
		}
	}
	g.checkBalances()
	for _, n := range g.nw.nodes {
		if !n.channel(g.id).IsUsable {
			g.t.Fatalf("crash at write %d: %s: the channel is not usable", g.k, n.name)
		}
		if txs := n.bcast.otherThan(g.funding.Hash); len(txs) != 0 {
			g.t.Fatalf("crash at write %d: %s broadcast %v", g.k, n.name, txs)
		}
	}
	if _, spent := g.chain.SpentBy(g.funding); spent {
		g.t.Fatalf("crash at write %d: the funding output is spent", g.k)
	}
	if mp := g.chain.Mempool(); len(mp) != 0 {
		g.t.Fatalf("crash at write %d: %d transactions in the mempool", g.k, len(mp))
	}
	g.b.checkStored()
}

// checkBalances checks that both sides agree on the balances, which the ledgers predict.
func (g *rig) checkBalances() {
	g.t.Helper()
	da, db := g.a.channel(g.id), g.b.channel(g.id)
	if da.NumPendingHTLCs != 0 || db.NumPendingHTLCs != 0 {
		g.t.Fatalf("crash at write %d: HTLCs pending: alice %d, bob %d", g.k, da.NumPendingHTLCs, db.NumPendingHTLCs)
	}
	wantA := channelSat*1000 - pushMsat - g.logs[0].paid + g.logs[1].paid
	if da.BalanceMsat != wantA || db.BalanceMsat != channelSat*1000-wantA {
		g.t.Fatalf("crash at write %d: balances alice %d, bob %d msat; want %d and %d", g.k,
			da.BalanceMsat, db.BalanceMsat, wantA, channelSat*1000-wantA)
	}
}

// checkUsable restarts Bob once more from his store, cleanly (his manager written first), and makes a
// payment each way: the channel works after everything the run did, with the balances still exact.
func (g *rig) checkUsable() {
	g.t.Helper()
	g.b.persist()
	g.restartBob()
	g.deliver(100_000)
	g.checkBalances()
	var hashes [2][32]byte
	for from := range hashes {
		hash, err := g.pay(from, 5_000_000)
		g.nw.nodes[from].must(err, "pay")
		g.logs[from].pending[hash] = 5_000_000
		hashes[from] = hash
	}
	g.deliver(100_000)
	g.account()
	for from, hash := range hashes {
		if !g.logs[from].sent[hash] {
			g.t.Fatalf("crash at write %d: %s's payment after the final restart did not succeed", g.k, g.nw.nodes[from].name)
		}
	}
	g.checkBalances()
}
