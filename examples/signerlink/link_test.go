package signerlink

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/btcsuite/btcd/btcec/v2/ecdsa"
	"github.com/stretchr/testify/require"

	"github.com/lnkit/lnkit/internal/noise"
	"github.com/lnkit/lnkit/keys"
	"github.com/lnkit/lnkit/keys/remote"
)

func newServer(t testing.TB, km *keys.KeysManager) *remote.Server {
	s, err := remote.NewServer(remote.ServerConfig{Inner: km})
	require.NoError(t, err)
	return s
}

func sigHex(s *ecdsa.Signature) string {
	if s == nil {
		return "nil"
	}
	return string(s.Serialize())
}

func sigsHex(ss []*ecdsa.Signature) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = sigHex(s)
	}
	return out
}

// TestLinkSigns runs a node's Client over a loopback BOLT 8 link to a signer serving its KeysManager:
// ECDH, node id, channel keys and commitment signatures are those of the KeysManager, including a
// commitment too large for one Noise message.
func TestLinkSigns(t *testing.T) {
	ch := newChannel(t)
	nodeKey, signerKey := keyPair(t), keyPair(t)
	sg := startSigner(t, "127.0.0.1:0", signerKey, nodeKey.PubKey(), newServer(t, ch.km).Handle)
	n := startNode(t, sg.addr, nodeKey, signerKey.PubKey())
	n.waitUp(t)

	got, err := n.client.ECDH(ch.cpNodeID)
	require.NoError(t, err)
	want, _ := ch.km.ECDH(ch.cpNodeID)
	require.Equal(t, want, got)
	require.True(t, ch.km.GetNodeID().IsEqual(n.client.GetNodeID()))

	rs := n.client.DeriveChannelSigner(ch.value, ch.keysID)
	require.True(t, ch.local.Pubkeys().FundingPubkey.IsEqual(rs.Pubkeys().FundingPubkey))
	_, err = await(t, n, func() (any, error) { return nil, rs.ProvideChannelParameters(ch.params) })
	require.NoError(t, err)

	for _, nHTLCs := range []int{2, remote.MaxHTLCs} {
		c := ch.commitment(t, 7, nHTLCs)
		type sigs struct {
			sig  *ecdsa.Signature
			htlc []*ecdsa.Signature
		}
		got, err := await(t, n, func() (sigs, error) {
			s, h, err := rs.SignCounterpartyCommitment(c)
			return sigs{s, h}, err
		})
		require.NoError(t, err)
		wantSig, wantHTLC, err := ch.local.SignCounterpartyCommitment(c)
		require.NoError(t, err)
		require.Equal(t, sigHex(wantSig), sigHex(got.sig))
		require.Equal(t, sigsHex(wantHTLC), sigsHex(got.htlc), "%d HTLCs", nHTLCs)
	}
}

// TestWrongSignerKey: a node pinning another signer key never links; the signer sees a bad act one.
func TestWrongSignerKey(t *testing.T) {
	ch := newChannel(t)
	nodeKey, signerKey := keyPair(t), keyPair(t)
	sg := startSigner(t, "127.0.0.1:0", signerKey, nodeKey.PubKey(), newServer(t, ch.km).Handle)
	n := startNode(t, sg.addr, nodeKey, keyPair(t).PubKey())
	require.ErrorIs(t, <-sg.rejects, noise.ErrAct1BadTag)
	require.ErrorIs(t, <-n.errs, ErrSignerRefused)
	require.False(t, n.client.IsConnected())
}

// TestWrongNodeKey: a signer pinning another node key drops the node after act three; the node never
// links.
func TestWrongNodeKey(t *testing.T) {
	ch := newChannel(t)
	nodeKey, signerKey := keyPair(t), keyPair(t)
	sg := startSigner(t, "127.0.0.1:0", signerKey, keyPair(t).PubKey(), newServer(t, ch.km).Handle)
	n := startNode(t, sg.addr, nodeKey, signerKey.PubKey())
	require.ErrorIs(t, <-sg.rejects, ErrUnknownNode)
	require.ErrorIs(t, <-n.errs, ErrSignerRefused)
	require.False(t, n.client.IsConnected())
	_, err := n.client.ECDH(ch.cpNodeID)
	require.ErrorIs(t, err, keys.ErrSignerPending)
}

// TestSignerRestart: the signer stops, the node asks for a signature (pending), the signer restarts on
// the same address with nothing but its seed: the node links again, gives the channel parameters
// again, and the request is answered.
func TestSignerRestart(t *testing.T) {
	ch := newChannel(t)
	nodeKey, signerKey := keyPair(t), keyPair(t)
	sg := startSigner(t, "127.0.0.1:0", signerKey, nodeKey.PubKey(), newServer(t, ch.km).Handle)
	n := startNode(t, sg.addr, nodeKey, signerKey.PubKey())
	n.waitUp(t)
	rs := n.client.DeriveChannelSigner(ch.value, ch.keysID)
	_, err := await(t, n, func() (any, error) { return nil, rs.ProvideChannelParameters(ch.params) })
	require.NoError(t, err)

	sg.stop()
	require.Eventually(t, func() bool { return !n.client.IsConnected() }, 10*time.Second, 10*time.Millisecond)
	c := ch.commitment(t, 3, 2)
	_, _, err = rs.SignCounterpartyCommitment(c)
	require.ErrorIs(t, err, keys.ErrSignerPending)

	startSigner(t, sg.addr, signerKey, nodeKey.PubKey(), newServer(t, keys.NewKeysManager(seed, 2, 2)).Handle)
	sig, err := await(t, n, func() (*ecdsa.Signature, error) {
		s, _, err := rs.SignCounterpartyCommitment(c)
		return s, err
	})
	require.NoError(t, err)
	want, _, _ := ch.local.SignCounterpartyCommitment(c)
	require.Equal(t, sigHex(want), sigHex(sig))
}

// TestInFlightResent: the link breaks while the signer holds a request; the signer dies without
// answering; a new signer gets the request again and answers it.
func TestInFlightResent(t *testing.T) {
	ch := newChannel(t)
	nodeKey, signerKey := keyPair(t), keyPair(t)
	held, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	srvA := newServer(t, ch.km)
	sgA := startSigner(t, "127.0.0.1:0", signerKey, nodeKey.PubKey(), func(f []byte) []byte {
		if _, m, _ := remote.PeekRequest(f); m == remote.MethodSignAnchor {
			once.Do(func() { close(held) })
			<-release
		}
		return srvA.Handle(f)
	})
	px := startProxy(t, sgA.addr)
	n := startNode(t, px.ln.Addr().String(), nodeKey, signerKey.PubKey())
	n.waitUp(t)
	rs := n.client.DeriveChannelSigner(ch.value, ch.keysID)
	anchor := anchorScript(t, ch.local.Pubkeys().FundingPubkey)
	tx := spend(330)
	_, err := rs.SignAnchor(tx, 0, anchor, 330)
	require.ErrorIs(t, err, keys.ErrSignerPending)
	<-held

	srvB := newServer(t, keys.NewKeysManager(seed, 3, 3))
	var atB atomic.Int32
	sgB := startSigner(t, "127.0.0.1:0", signerKey, nodeKey.PubKey(), func(f []byte) []byte {
		if _, m, _ := remote.PeekRequest(f); m == remote.MethodSignAnchor {
			atB.Add(1)
		}
		return srvB.Handle(f)
	})
	px.target.Store(sgB.addr)
	px.cut()
	go func() { time.Sleep(50 * time.Millisecond); close(release) }()
	sgA.stop()

	sig, err := await(t, n, func() (*ecdsa.Signature, error) { return rs.SignAnchor(tx, 0, anchor, 330) })
	require.NoError(t, err)
	want, _ := ch.local.SignAnchor(tx, 0, anchor, 330)
	require.Equal(t, sigHex(want), sigHex(sig))
	require.Equal(t, int32(1), atB.Load(), "the new signer got the request again")
}

// TestFraming: frames of every size around the Noise message limit arrive whole; a frame above
// remote.MaxFrameSize is refused.
func TestFraming(t *testing.T) {
	a, b := netPipe(t)
	for _, size := range []int{1, maxPart - 1, maxPart, maxPart + 1, 3*maxPart + 7, remote.MaxFrameSize} {
		f := bytes.Repeat([]byte{byte(size)}, size)
		go func() { _ = a.writeFrames([][]byte{f, {1, 2, 3}}) }()
		got, err := b.readFrame()
		require.NoError(t, err, size)
		require.Equal(t, f, got, size)
		got, err = b.readFrame()
		require.NoError(t, err)
		require.Equal(t, []byte{1, 2, 3}, got)
	}
	go func() { _ = a.writeFrames([][]byte{make([]byte, remote.MaxFrameSize+1)}) }()
	_, err := b.readFrame()
	require.ErrorIs(t, err, ErrProtocol)
}

// TestKeyFiles: a secret is created once with mode 0600 and read back; files others can read, or of
// the wrong size, are refused.
func TestKeyFiles(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "k")
	k1, created, err := LoadOrCreateKey(path)
	require.NoError(t, err)
	require.True(t, created)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	k2, created, err := LoadOrCreateKey(path)
	require.NoError(t, err)
	require.False(t, created)
	require.True(t, k1.PubKey().IsEqual(k2.PubKey()))
	entries, _ := os.ReadDir(dir)
	require.Len(t, entries, 1, "no temporary file left")

	require.NoError(t, os.Chmod(path, 0o644))
	_, _, err = LoadOrCreateKey(path)
	require.Error(t, err)
	short := filepath.Join(dir, "short")
	require.NoError(t, os.WriteFile(short, []byte{1, 2}, 0o600))
	_, _, err = LoadOrCreateSecret(short)
	require.Error(t, err)
	zero := filepath.Join(dir, "zero")
	require.NoError(t, os.WriteFile(zero, make([]byte, 32), 0o600))
	_, _, err = LoadOrCreateKey(zero)
	require.Error(t, err)
}

// TestBadArguments: Dial and Serve refuse missing keys at once.
func TestBadArguments(t *testing.T) {
	require.Error(t, Dial(t.Context(), "127.0.0.1:1", nil, nil, nil))
	require.Error(t, Serve(t.Context(), nil, ServeConfig{}))
	var pk *btcec.PublicKey
	require.Error(t, (&Dialer{Key: keyPair(t), SignerPub: pk}).Run(t.Context()))
	require.False(t, errors.Is(nil, ErrProtocol))
}

// TestMaxLinks: by default a second link of the node closes the first (a node that linked again); with
// MaxLinks 2 both are served at once (an active/standby pair sharing the node's identity).
func TestMaxLinks(t *testing.T) {
	km := keys.NewKeysManager([32]byte{5}, 1, 0)
	signerKey, nodeKey := keyPair(t), keyPair(t)
	for _, tc := range []struct {
		maxLinks int
		both     bool
	}{{0, false}, {2, true}} {
		s := startSignerLinks(t, "127.0.0.1:0", signerKey, nodeKey.PubKey(), newServer(t, km).Handle, tc.maxLinks)
		first := startNode(t, s.addr, nodeKey, signerKey.PubKey())
		first.waitUp(t)
		second := startNode(t, s.addr, nodeKey, signerKey.PubKey())
		second.waitUp(t)
		require.True(t, second.client.GetNodeID().IsEqual(km.GetNodeID()))
		if tc.both {
			time.Sleep(200 * time.Millisecond)
			require.True(t, first.client.IsConnected(), "both links served")
			_, err := first.client.ECDH(km.GetNodeID())
			require.NoError(t, err)
		} else {
			require.Eventually(t, func() bool { return !first.client.IsConnected() || len(first.errs) > 0 },
				5*time.Second, 10*time.Millisecond, "the first link was closed")
		}
		s.stop()
	}
}
