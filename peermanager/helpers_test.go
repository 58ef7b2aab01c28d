package peermanager

import (
	"errors"
	"log/slog"
	"math/rand"
	"sync"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/btcsuite/btcd/chaincfg/chainhash"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/events"
	"github.com/lnkit/lnkit/internal/noise"
	"github.com/lnkit/lnkit/lnwire"
)

// testSigner is a NodeSigner holding its key in memory.
type testSigner struct{ priv *btcec.PrivateKey }

func (s testSigner) GetNodeID() *btcec.PublicKey { return s.priv.PubKey() }
func (s testSigner) ECDH(pub *btcec.PublicKey) ([32]byte, error) {
	return noise.ECDH(s.priv, pub), nil
}
func (s testSigner) SignGossipMessage(data []byte) (*ecdsa.Signature, error) {
	return ecdsa.Sign(s.priv, chainhash.DoubleHashB(data)), nil
}

// testEntropy is a deterministic EntropySource.
type testEntropy struct {
	mu  sync.Mutex
	rng *rand.Rand
}

func newTestEntropy(seed int64) *testEntropy {
	return &testEntropy{rng: rand.New(rand.NewSource(seed))}
}

func (e *testEntropy) GetSecureRandomBytes() [32]byte {
	e.mu.Lock()
	defer e.mu.Unlock()
	var b [32]byte
	e.rng.Read(b[:])
	return b
}

func privFromSeed(seed byte) *btcec.PrivateKey {
	var b [32]byte
	for i := range b {
		b[i] = seed
	}
	k, _ := btcec.PrivKeyFromBytes(b[:])
	return k
}

// pipeDesc is an in-memory SocketDescriptor: SendData appends to out, which the test shuttles to the
// other side. limit caps the bytes taken per SendData call (0: no cap); blocked takes nothing.
type pipeDesc struct {
	id int

	mu           sync.Mutex
	out          []byte
	limit        int
	blocked      bool
	disconnected bool
	resumes      int
	paused       bool
	sendCalls    int
}

var nextPipeID struct {
	sync.Mutex
	n int
}

func newPipe() *pipeDesc {
	nextPipeID.Lock()
	defer nextPipeID.Unlock()
	nextPipeID.n++
	return &pipeDesc{id: nextPipeID.n}
}

func (d *pipeDesc) SendData(data []byte, resumeRead bool) int {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.sendCalls++
	if resumeRead {
		d.resumes++
		d.paused = false
	}
	if d.disconnected || d.blocked {
		return 0
	}
	n := len(data)
	if d.limit > 0 {
		n = min(n, d.limit)
	}
	d.out = append(d.out, data[:n]...)
	return n
}

func (d *pipeDesc) DisconnectSocket() {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.disconnected = true
}

func (d *pipeDesc) take() []byte {
	d.mu.Lock()
	defer d.mu.Unlock()
	b := d.out
	d.out = nil
	return b
}

func (d *pipeDesc) isDisconnected() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.disconnected
}

func (d *pipeDesc) setPaused(v bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.paused = v
}

func (d *pipeDesc) isPaused() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.paused
}

func (d *pipeDesc) hasOutput() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.out) > 0
}

// received is one message a fake handler got.
type received struct {
	from *btcec.PublicKey
	msg  lnwire.Message
}

// fakeChan is a ChannelMessageHandler that records everything.
type fakeChan struct {
	mu            sync.Mutex
	features      *lnwire.FeatureVector
	rejectConnect error
	log           []string // "connect <node>" / "disconnect <node>" / "msg <node>"
	connected     map[nodeKey]bool
	inits         map[nodeKey]*lnwire.Init
	inbound       map[nodeKey]bool
	msgs          []received
	pending       []events.MessageSendEvent
	violations    []string
	onFeatures    func() // called (without f.mu) from ProvidedInitFeatures
}

func newFakeChan(features ...lnwire.FeatureBit) *fakeChan {
	return &fakeChan{
		features:  lnwire.NewFeatureVector(features...),
		connected: map[nodeKey]bool{},
		inits:     map[nodeKey]*lnwire.Init{},
		inbound:   map[nodeKey]bool{},
	}
}

func (f *fakeChan) HandleChannelMessage(from *btcec.PublicKey, msg lnwire.Message) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := keyOf(from)
	if !f.connected[k] {
		f.violations = append(f.violations, "message from a peer not connected")
	}
	f.msgs = append(f.msgs, received{from, msg})
	f.log = append(f.log, "msg")
}

func (f *fakeChan) PeerConnected(from *btcec.PublicKey, init *lnwire.Init, inbound bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.rejectConnect != nil {
		return f.rejectConnect
	}
	k := keyOf(from)
	if f.connected[k] {
		f.violations = append(f.violations, "PeerConnected twice without PeerDisconnected")
	}
	f.connected[k] = true
	f.inits[k] = init
	f.inbound[k] = inbound
	f.log = append(f.log, "connect")
	return nil
}

func (f *fakeChan) PeerDisconnected(from *btcec.PublicKey) {
	f.mu.Lock()
	defer f.mu.Unlock()
	k := keyOf(from)
	if !f.connected[k] {
		f.violations = append(f.violations, "PeerDisconnected without PeerConnected")
	}
	f.connected[k] = false
	f.log = append(f.log, "disconnect")
}

func (f *fakeChan) ProvidedInitFeatures(*btcec.PublicKey) *lnwire.FeatureVector {
	if f.onFeatures != nil {
		f.onFeatures()
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.features.Clone()
}

func (f *fakeChan) GetAndClearPendingMsgEvents() []events.MessageSendEvent {
	f.mu.Lock()
	defer f.mu.Unlock()
	p := f.pending
	f.pending = nil
	return p
}

func (f *fakeChan) queue(ev events.MessageSendEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.pending = append(f.pending, ev)
}

func (f *fakeChan) isConnected(pub *btcec.PublicKey) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connected[keyOf(pub)]
}

func (f *fakeChan) messages() []received {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]received(nil), f.msgs...)
}

func (f *fakeChan) eventLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.log...)
}

func (f *fakeChan) checkNoViolations(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	require.Empty(t, f.violations)
}

var errNotMine = errors.New("not a type I handle")

// fakeCustom is a CustomMessageHandler accepting the types in accept.
type fakeCustom struct {
	mu       sync.Mutex
	accept   map[lnwire.MessageType]bool
	features *lnwire.FeatureVector
	got      []CustomMessage
	pending  []CustomMessage
}

func newFakeCustom(features *lnwire.FeatureVector, types ...lnwire.MessageType) *fakeCustom {
	c := &fakeCustom{accept: map[lnwire.MessageType]bool{}, features: features}
	for _, t := range types {
		c.accept[t] = true
	}
	return c
}

func (c *fakeCustom) HandleCustomMessage(from *btcec.PublicKey, msg *lnwire.UnknownMessage) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.accept[msg.Type] {
		return errNotMine
	}
	c.got = append(c.got, CustomMessage{NodeID: from, Msg: msg})
	return nil
}

func (c *fakeCustom) GetAndClearPendingCustomMessages() []CustomMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.pending
	c.pending = nil
	return p
}

func (c *fakeCustom) ProvidedInitFeatures(*btcec.PublicKey) *lnwire.FeatureVector {
	return c.features.Clone()
}

func (c *fakeCustom) queue(m CustomMessage) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.pending = append(c.pending, m)
}

func (c *fakeCustom) received() []CustomMessage {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]CustomMessage(nil), c.got...)
}

// proxyCustom wraps another CustomMessageHandler, counting what passes through.
type proxyCustom struct {
	inner           CustomMessageHandler
	mu              sync.Mutex
	handled, pulled int
}

func (p *proxyCustom) HandleCustomMessage(from *btcec.PublicKey, msg *lnwire.UnknownMessage) error {
	p.mu.Lock()
	p.handled++
	p.mu.Unlock()
	return p.inner.HandleCustomMessage(from, msg)
}

func (p *proxyCustom) handledCount() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.handled
}

func (p *proxyCustom) GetAndClearPendingCustomMessages() []CustomMessage {
	msgs := p.inner.GetAndClearPendingCustomMessages()
	p.mu.Lock()
	p.pulled += len(msgs)
	p.mu.Unlock()
	return msgs
}

func (p *proxyCustom) ProvidedInitFeatures(id *btcec.PublicKey) *lnwire.FeatureVector {
	return p.inner.ProvidedInitFeatures(id)
}

// node is a PeerManager with its fake handlers.
type node struct {
	priv   *btcec.PrivateKey
	pm     *PeerManager
	chanH  *fakeChan
	custom *fakeCustom
	route  *fakeRoute // nil unless nodeOpts.route
}

func (n *node) id() *btcec.PublicKey { return n.priv.PubKey() }

type nodeOpts struct {
	cfg        Config
	chanFeat   []lnwire.FeatureBit
	customFeat []lnwire.FeatureBit
	customType []lnwire.MessageType
	noCustom   bool
	noChan     bool
	proxy      bool
	route      bool // install a fakeRoute as MessageHandler.Route
	logger     *slog.Logger
}

func newNode(t testing.TB, seed byte, o nodeOpts) *node {
	n := &node{priv: privFromSeed(seed), chanH: newFakeChan(o.chanFeat...)}
	n.custom = newFakeCustom(lnwire.NewFeatureVector(o.customFeat...), o.customType...)
	h := MessageHandler{Chan: n.chanH, Custom: n.custom}
	if o.proxy {
		h.Custom = &proxyCustom{inner: n.custom}
	}
	if o.noCustom {
		h.Custom = nil
	}
	if o.noChan {
		h.Chan = nil
	}
	if o.route {
		n.route = newFakeRoute()
		h.Route = n.route
	}
	n.pm = New(h, testSigner{n.priv}, newTestEntropy(int64(seed)), o.cfg, o.logger)
	return n
}

// link is a simulated TCP connection between a (the initiator) and b, shuttled by the test like a host
// would: bytes written by SendData are fed to the other side's ReadEvent in random chunks, reading
// pauses when ReadEvent asks and resumes on SendData(resumeRead), and a closed side makes the other see
// SocketDisconnected once the bytes already written have been delivered.
type link struct {
	t      testing.TB
	a, b   *node
	da, db *pipeDesc // da: a's descriptor (its output goes to b)
	rng    *rand.Rand
	maxChk int

	inflightAB, inflightBA []byte
	errA, errB             error // ReadEvent errors (the host closes that socket)
	closedA, closedB       bool  // the host has closed that socket
	goneA, goneB           bool  // SocketDisconnected was delivered / not needed
}

func connect(t testing.TB, a, b *node, seed int64) *link {
	t.Helper()
	l := &link{t: t, a: a, b: b, da: newPipe(), db: newPipe(), rng: rand.New(rand.NewSource(seed)), maxChk: 100}
	act1, err := a.pm.NewOutboundConnection(b.id(), l.da)
	require.NoError(t, err)
	require.Len(t, act1, noise.ActOneSize)
	require.NoError(t, b.pm.NewInboundConnection(l.db))
	l.inflightAB = append(l.inflightAB, act1...)
	return l
}

// feed delivers pending bytes to one side in random chunks while it is not paused.
func (l *link) feed(to *node, d *pipeDesc, buf *[]byte, errp *error) bool {
	progress := false
	for len(*buf) > 0 && *errp == nil && !d.isPaused() && !d.isDisconnected() {
		n := min(len(*buf), 1+l.rng.Intn(l.maxChk))
		chunk := (*buf)[:n]
		*buf = (*buf)[n:]
		pause, err := to.pm.ReadEvent(d, chunk)
		progress = true
		if err != nil {
			*errp = err
			return true
		}
		if pause {
			d.setPaused(true)
		}
	}
	return progress
}

// step moves bytes once in each direction; it reports whether anything happened.
func (l *link) step() bool {
	progress := false
	if out := l.da.take(); len(out) > 0 {
		l.inflightAB = append(l.inflightAB, out...)
		progress = true
	}
	if out := l.db.take(); len(out) > 0 {
		l.inflightBA = append(l.inflightBA, out...)
		progress = true
	}
	if !l.closedB && l.feed(l.b, l.db, &l.inflightAB, &l.errB) {
		progress = true
	}
	if !l.closedA && l.feed(l.a, l.da, &l.inflightBA, &l.errA) {
		progress = true
	}
	for _, d := range []*pipeDesc{l.da, l.db} {
		pm := l.a.pm
		if d == l.db {
			pm = l.b.pm
		}
		if !d.isDisconnected() {
			if err := pm.WriteBufferSpaceAvail(d); err == nil && d.hasOutput() {
				progress = true
			}
		}
	}
	// A socket closed by its PeerManager (DisconnectSocket) or by the host after a ReadEvent error.
	if !l.closedA && (l.errA != nil || l.da.isDisconnected()) {
		l.closedA, progress = true, true
	}
	if !l.closedB && (l.errB != nil || l.db.isDisconnected()) {
		l.closedB, progress = true, true
	}
	// The other end sees EOF once the bytes written before the close are delivered.
	if l.closedA && !l.goneB && len(l.inflightAB) == 0 && !l.da.hasOutput() {
		l.goneB = true
		if !l.closedB {
			l.closedB = true
			l.b.pm.SocketDisconnected(l.db)
		}
		progress = true
	}
	if l.closedB && !l.goneA && len(l.inflightBA) == 0 && !l.db.hasOutput() {
		l.goneA = true
		if !l.closedA {
			l.closedA = true
			l.a.pm.SocketDisconnected(l.da)
		}
		progress = true
	}
	return progress
}

// run shuttles until nothing moves, calling ProcessEvents on both sides between steps.
func (l *link) run() {
	for i := 0; i < 1_000_000; i++ {
		l.a.pm.ProcessEvents()
		l.b.pm.ProcessEvents()
		if !l.step() {
			return
		}
	}
	l.t.Fatal("link did not settle")
}

// rawPeer is a hand-driven initiator talking to a PeerManager, for sending crafted messages.
type rawPeer struct {
	t    testing.TB
	priv *btcec.PrivateKey
	tr   *noise.Transport
	desc *pipeDesc
	pm   *PeerManager
}

// rawConnect completes the handshake with target and returns the raw peer and target's init.
func rawConnect(t testing.TB, target *node, seed byte) (*rawPeer, *lnwire.Init) {
	t.Helper()
	r := &rawPeer{t: t, priv: privFromSeed(seed), desc: newPipe(), pm: target.pm}
	require.NoError(t, target.pm.NewInboundConnection(r.desc))
	eph := privFromSeed(seed + 1)
	hs, act1, err := noise.NewInitiator(r.priv.PubKey(), noise.PrivateKeyECDH(r.priv), eph, target.id())
	require.NoError(t, err)
	_, err = target.pm.ReadEvent(r.desc, act1)
	require.NoError(t, err)
	act3, done, err := hs.ReadAct(r.desc.take())
	require.NoError(t, err)
	require.True(t, done)
	r.tr = hs.Transport()
	_, err = target.pm.ReadEvent(r.desc, act3)
	require.NoError(t, err)
	msgs := r.read()
	require.Len(t, msgs, 1)
	init, ok := msgs[0].(*lnwire.Init)
	require.True(t, ok, "first message is %T", msgs[0])
	return r, init
}

// send encrypts and feeds plaintext messages; it returns ReadEvent's error.
func (r *rawPeer) sendRaw(plaintexts ...[]byte) error {
	var stream []byte
	for _, pt := range plaintexts {
		var err error
		stream, err = r.tr.AppendEncryptedMessage(stream, pt)
		require.NoError(r.t, err)
	}
	_, err := r.pm.ReadEvent(r.desc, stream)
	return err
}

func (r *rawPeer) send(msgs ...lnwire.Message) error {
	var pts [][]byte
	for _, m := range msgs {
		b, err := lnwire.EncodeMessage(m)
		require.NoError(r.t, err)
		pts = append(pts, b)
	}
	return r.sendRaw(pts...)
}

// read decrypts everything the PeerManager has written to the raw peer.
func (r *rawPeer) read() []lnwire.Message {
	pts, err := r.tr.Decrypt(r.desc.take())
	require.NoError(r.t, err)
	var out []lnwire.Message
	for _, pt := range pts {
		m, err := lnwire.DecodeMessage(pt)
		require.NoError(r.t, err)
		out = append(out, m)
	}
	return out
}
