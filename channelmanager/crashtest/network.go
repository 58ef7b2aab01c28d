package crashtest

import (
	"math/rand"
	"testing"

	"github.com/lnkit/lnkit/lnwire"
)

// network joins Alice (0) and Bob (1) as a pair of PeerManagers would: each side's messages are pulled
// with GetAndClearPendingMsgEvents, go through the wire codec and wait in a FIFO queue per direction
// until delivered with HandleChannelMessage. Which direction goes next is chosen at random.
type network struct {
	t         testing.TB
	nodes     [2]*node
	connected bool
	queue     []queued
}

// queued is a message on its way from one node to the other.
type queued struct {
	from       int
	data       []byte // nil: no message, only a disconnection
	disconnect bool
}

func (nw *network) init(n *node) *lnwire.Init {
	return &lnwire.Init{GlobalFeatures: lnwire.NewFeatureVector(), Features: n.cm.ProvidedInitFeatures(nil)}
}

// connect tells both managers that the connection is up (Alice dialled).
func (nw *network) connect() {
	a, b := nw.nodes[0], nw.nodes[1]
	nw.connected = true
	a.must(a.cm.PeerConnected(b.id, nw.init(b), false), "peer connected")
	b.must(b.cm.PeerConnected(a.id, nw.init(a), true), "peer connected")
}

// disconnect drops the connection and what was in flight on it.
func (nw *network) disconnect() {
	a, b := nw.nodes[0], nw.nodes[1]
	nw.connected = false
	nw.queue = nil
	a.cm.PeerDisconnected(b.id)
	b.cm.PeerDisconnected(a.id)
}

// collect lets each node handle its events, then moves its outgoing messages into the queue, encoded
// as on the wire (unless its beforeSend drops them).
func (nw *network) collect() {
	for i, n := range nw.nodes {
		n.completeAsync()
		n.handleEvents()
		msgs := n.cm.GetAndClearPendingMsgEvents()
		if n.beforeSend != nil && !n.beforeSend() {
			continue
		}
		for _, me := range msgs {
			if me.Broadcast || !nw.connected || me.NodeID == nil || !me.NodeID.IsEqual(nw.nodes[1-i].id) {
				continue
			}
			q := queued{from: i, disconnect: me.DisconnectPeer}
			if me.Msg != nil {
				data, err := lnwire.EncodeMessage(me.Msg)
				n.must(err, "encode "+me.Msg.MsgType().String())
				q.data = data
			}
			nw.queue = append(nw.queue, q)
		}
	}
}

// deliverOne delivers the oldest message of a direction chosen at random; false if none is queued.
func (nw *network) deliverOne(r *rand.Rand) bool {
	nw.collect()
	if len(nw.queue) == 0 {
		return false
	}
	from := nw.queue[r.Intn(len(nw.queue))].from
	for k, q := range nw.queue {
		if q.from == from {
			nw.queue = append(nw.queue[:k], nw.queue[k+1:]...)
			nw.deliver(q)
			return true
		}
	}
	return false
}

func (nw *network) deliver(q queued) {
	if !nw.connected {
		return
	}
	if q.data != nil {
		m, err := lnwire.DecodeMessage(q.data)
		nw.nodes[q.from].must(err, "decode")
		nw.nodes[1-q.from].cm.HandleChannelMessage(nw.nodes[q.from].id, m)
	}
	if q.disconnect {
		nw.disconnect()
	}
}

// settle delivers messages in random order until none are left.
func (nw *network) settle(r *rand.Rand) {
	for i := 0; i < 1_000_000; i++ {
		if !nw.deliverOne(r) && !nw.deliverOne(r) { // the second pull sees what handling events queued
			return
		}
	}
	nw.t.Fatal("the network did not settle")
}
