package main

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/examples/nodeapi"
)

// nextOfType waits for the next event of type typ on ch.
func nextOfType(t *testing.T, ch <-chan nodeapi.Event, typ string) nodeapi.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case e, ok := <-ch:
			require.True(t, ok, "event stream open")
			if e.Type == typ {
				return e
			}
		case <-timeout:
			require.FailNow(t, "no "+typ+" event")
		}
	}
}

// peer_connected and peer_disconnected (documented in nodeapi.Event) reach both nodes' event streams.
func TestPeerEvents(t *testing.T) {
	btcd := newFakeBtcd(t)
	a := startTestNode(t, testNodeConfig(t, btcd, pairNodeArgs...), nil)
	b := startTestNode(t, testNodeConfig(t, btcd, pairNodeArgs...), nil)
	evA, stopA := a.hub.subscribe()
	defer stopA()
	evB, stopB := b.hub.subscribe()
	defer stopB()
	_, err := (&service{n: a}).Connect(context.Background(), nodeapi.ConnectParams{NodeID: nodeIDHex(b.nodeID), Address: b.listenAddr()})
	require.NoError(t, err)
	require.Equal(t, nodeIDHex(b.nodeID), nextOfType(t, evA, "peer_connected").NodeID)
	require.Equal(t, nodeIDHex(a.nodeID), nextOfType(t, evB, "peer_connected").NodeID)
	a.Stop()
	require.Equal(t, nodeIDHex(a.nodeID), nextOfType(t, evB, "peer_disconnected").NodeID)
}
