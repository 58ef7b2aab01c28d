package channelmanager

import (
	"math/rand"
	"reflect"
	"testing"
	"unsafe"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/internal/ser"
	"github.com/lnkit/lnkit/lnwire"
)

// TestWriteReadRoundTrip checks that every channel field survives Write and Read, in the middle of a
// payment stream with HTLCs at every stage.
func TestWriteReadRoundTrip(t *testing.T) {
	nw, a, b := twoNodes(t)
	nw.openChannel(0, 1, 5_000_000, 1_000_000_000)
	r := rand.New(rand.NewSource(5))
	for round := 0; round < 40; round++ {
		for k := 0; k < 1+r.Intn(3); k++ {
			from := r.Intn(2)
			_, _, _ = nw.pay(from, 1-from, randAmount(r, 10_000, 3_000_000))
		}
		for k := r.Intn(10); k > 0; k-- {
			nw.deliverOne(r)
		}
		for _, n := range []*testNode{a, b} {
			data := n.cm.Write()
			cm2, err := Read(data, ReadArgs{FeeEstimator: n.chain, Watch: n.chainMon, Broadcaster: n.chain, Keys: n.km,
				Config: n.cfg, Net: n.cm.net, Monitors: n.chainMon.ListMonitors()})
			require.NoError(t, err)
			for _, ps := range n.cm.allPeers() {
				ps2 := cm2.peer(ps.nodeID, false)
				require.NotNil(t, ps2)
				for id, c := range ps.channels {
					c2 := ps2.channels[id]
					require.NotNil(t, c2)
					// Read applies the disconnection rules; compare with a disconnected copy of the original.
					want := cloneForCompare(t, n, c)
					got := *c2
					got.signer, want.signer = nil, nil
					got.remoteSecrets, want.remoteSecrets = nil, nil
					normalize(&want)
					normalize(&got)
					if !reflect.DeepEqual(want, got) {
						wv, gv := reflect.ValueOf(&want).Elem(), reflect.ValueOf(&got).Elem()
						for i := 0; i < wv.NumField(); i++ {
							wf := reflect.NewAt(wv.Field(i).Type(), unsafe.Pointer(wv.Field(i).UnsafeAddr())).Elem().Interface()
							gf := reflect.NewAt(gv.Field(i).Type(), unsafe.Pointer(gv.Field(i).UnsafeAddr())).Elem().Interface()
							if !reflect.DeepEqual(wf, gf) {
								t.Fatalf("round %d %s: field %s differs:\nwant %+v\ngot  %+v", round, n.name, wv.Type().Field(i).Name, wf, gf)
							}
						}
					}
				}
			}
		}
	}
}

// cloneForCompare returns a copy of c as Read would produce it: disconnected, with no held messages.
func cloneForCompare(t *testing.T, n *testNode, c *channel) channel {
	data := n.cm.Write()
	_ = data
	cp := *c
	cp.htlcs = nil
	for _, h := range c.htlcs {
		hc := *h
		cp.htlcs = append(cp.htlcs, &hc)
	}
	cp.feeUpdates = nil
	for _, u := range c.feeUpdates {
		uc := *u
		cp.feeUpdates = append(cp.feeUpdates, &uc)
	}
	cp.peerDisconnected()
	cp.inFlightUpdates, cp.heldMessages = nil, nil
	cp.gossip = gossipAsRead(t, c.gossip)
	return cp
}

// normalize puts the values whose in-memory form may differ for equal data (points, empty slices) in a
// canonical form.
func normalize(c *channel) {
	pk := func(p **btcec.PublicKey) {
		if *p != nil {
			q, _ := btcec.ParsePubKey((*p).SerializeCompressed())
			*p = q
		}
	}
	for _, s := range []*sideParams{&c.local, &c.remote} {
		pk(&s.Pubkeys.FundingPubkey)
		pk(&s.Pubkeys.RevocationBasepoint)
		pk(&s.Pubkeys.PaymentPoint)
		pk(&s.Pubkeys.DelayedPaymentBasepoint)
		pk(&s.Pubkeys.HTLCBasepoint)
		if len(s.UpfrontShutdownScript) == 0 {
			s.UpfrontShutdownScript = nil
		}
	}
	if c.fundingTx != nil {
		var w ser.Writer
		w.Tx(c.fundingTx)
		c.fundingTx = ser.NewReader(w.Bytes()).Tx()
	}
	pk(&c.counterparty)
	pk(&c.remoteCurPoint)
	pk(&c.remoteNextPoint)
	for _, b := range []*[]byte{&c.fundingScript, &c.fundingPkScript, &c.localShutdownScript, &c.remoteShutdownScript} {
		if len(*b) == 0 {
			*b = nil
		}
	}
	for _, h := range c.htlcs {
		if len(h.FailReason) == 0 {
			h.FailReason = nil
		}
	}
	if c.lastCommitSigned != nil {
		b, _ := lnwire.EncodeMessage(c.lastCommitSigned)
		m, _ := lnwire.DecodeMessage(b)
		c.lastCommitSigned = m.(*lnwire.CommitmentSigned)
		if len(c.lastCommitSigned.ExtraTLVs) == 0 {
			c.lastCommitSigned.ExtraTLVs = nil
		}
	}
}

// FuzzReadChannelManager: no stored data, however corrupt, makes Read panic.
func FuzzReadChannelManager(f *testing.F) {
	nw, a, _ := twoNodes(f)
	nw.openChannel(0, 1, 1_000_000, 0)
	_, _, _ = nw.pay(0, 1, 1_000_000)
	r := rand.New(rand.NewSource(1))
	for i := 0; i < 3; i++ {
		nw.deliverOne(r)
	}
	f.Add(a.cm.Write())
	f.Fuzz(func(t *testing.T, data []byte) {
		cm, err := Read(data, ReadArgs{FeeEstimator: a.chain, Watch: a.chainMon, Broadcaster: a.chain, Keys: a.km,
			Config: a.cfg, Net: a.cm.net, Monitors: a.chainMon.ListMonitors()})
		if err == nil {
			_ = cm.Write()
			_ = cm.ListChannels()
		}
	})
}
