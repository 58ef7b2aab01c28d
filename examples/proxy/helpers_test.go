package proxy

import (
	"sync"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/lnwire"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// recorder is a fake ChannelMessageHandler that records every call.
type recorder struct {
	mu         sync.Mutex
	calls      []string
	msgs       []lnwire.Message
	pending    []events.MessageSendEvent
	connectErr error
	features   *lnwire.FeatureVector
}

func (r *recorder) record(c string) {
	r.mu.Lock()
	r.calls = append(r.calls, c)
	r.mu.Unlock()
}

func (r *recorder) HandleChannelMessage(_ *btcec.PublicKey, msg lnwire.Message) {
	r.mu.Lock()
	r.calls = append(r.calls, "msg")
	r.msgs = append(r.msgs, msg)
	r.mu.Unlock()
}

func (r *recorder) PeerConnected(*btcec.PublicKey, *lnwire.Init, bool) error {
	r.record("connected")
	return r.connectErr
}

func (r *recorder) PeerDisconnected(*btcec.PublicKey) { r.record("disconnected") }

func (r *recorder) ProvidedInitFeatures(*btcec.PublicKey) *lnwire.FeatureVector {
	r.record("features")
	return r.features
}

func (r *recorder) GetAndClearPendingMsgEvents() []events.MessageSendEvent {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls = append(r.calls, "pending")
	p := r.pending
	r.pending = nil
	return p
}

func (r *recorder) got() ([]string, []lnwire.Message) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...), append([]lnwire.Message(nil), r.msgs...)
}

// peerKey returns a deterministic node id for i.
func peerKey(t testing.TB, i byte) *btcec.PublicKey {
	t.Helper()
	var b [32]byte
	b[31] = i + 1
	b[0] = 7
	priv, _ := btcec.PrivKeyFromBytes(b[:])
	return priv.PubKey()
}

// fee is a channel message told apart by its feerate.
func fee(n uint32) lnwire.Message { return &lnwire.UpdateFee{FeeratePerKw: n} }
