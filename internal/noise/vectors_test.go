package noise

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/btcsuite/btcd/btcec/v2"
	"github.com/stretchr/testify/require"
)

type vectorAct struct {
	Act       *int   `json:"act"`
	Direction string `json:"direction"`
	Hex       string `json:"hex"`
}

type handshakeVector struct {
	Name             string      `json:"name"`
	Role             string      `json:"role"`
	Acts             []vectorAct `json:"acts"`
	RsPub            string      `json:"rs_pub"`
	LsPriv           string      `json:"ls_priv"`
	LsPub            string      `json:"ls_pub"`
	EPriv            string      `json:"e_priv"`
	EPub             string      `json:"e_pub"`
	Sk               string      `json:"sk"`
	Rk               string      `json:"rk"`
	ExpectedError    string      `json:"expected_error"`
	ExpectedErrorArg *int        `json:"expected_error_arg"`
}

type handshakeFile struct {
	Tests []handshakeVector `json:"tests"`
}

type messageVectors struct {
	Ck           string `json:"ck"`
	Sk           string `json:"sk"`
	Rk           string `json:"rk"`
	PlaintextHex string `json:"message_plaintext_hex"`
	Outputs      []struct {
		Index      int    `json:"index"`
		Ciphertext string `json:"ciphertext"`
	} `json:"outputs"`
}

// errorSentinels maps the spec's error labels to this package's sentinels.
var errorSentinels = map[string]error{
	"ACT1_READ_FAILED":    ErrAct1ReadFailed,
	"ACT1_BAD_VERSION":    ErrAct1BadVersion,
	"ACT1_BAD_PUBKEY":     ErrAct1BadPubkey,
	"ACT1_BAD_TAG":        ErrAct1BadTag,
	"ACT2_READ_FAILED":    ErrAct2ReadFailed,
	"ACT2_BAD_VERSION":    ErrAct2BadVersion,
	"ACT2_BAD_PUBKEY":     ErrAct2BadPubkey,
	"ACT2_BAD_TAG":        ErrAct2BadTag,
	"ACT3_READ_FAILED":    ErrAct3ReadFailed,
	"ACT3_BAD_VERSION":    ErrAct3BadVersion,
	"ACT3_BAD_CIPHERTEXT": ErrAct3BadCiphertext,
	"ACT3_BAD_PUBKEY":     ErrAct3BadPubkey,
	"ACT3_BAD_TAG":        ErrAct3BadTag,
}

func mustHex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

func mustHex32(t testing.TB, s string) [32]byte {
	t.Helper()
	b := mustHex(t, s)
	require.Len(t, b, 32)
	var out [32]byte
	copy(out[:], b)
	return out
}

func loadJSON(t testing.TB, name string, v any) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, v))
}

// runHandshakeVector drives the tested side through the vector's acts, comparing every output, and
// returns the handshake and the error of the last input act (nil on success).
func runHandshakeVector(t *testing.T, v handshakeVector) (*Handshake, error) {
	t.Helper()
	lsPriv, lsPub := btcec.PrivKeyFromBytes(mustHex(t, v.LsPriv))
	require.Equal(t, v.LsPub, hex.EncodeToString(lsPub.SerializeCompressed()), "ls_pub")
	ePriv, ePub := btcec.PrivKeyFromBytes(mustHex(t, v.EPriv))
	require.Equal(t, v.EPub, hex.EncodeToString(ePub.SerializeCompressed()), "e_pub")
	ecdh := PrivateKeyECDH(lsPriv)

	var (
		hs      *Handshake
		pending []byte // bytes the tested side has produced and not yet compared
		err     error
	)
	switch v.Role {
	case "initiator":
		rs, perr := btcec.ParsePubKey(mustHex(t, v.RsPub))
		require.NoError(t, perr)
		hs, pending, err = NewInitiator(lsPub, ecdh, ePriv, rs)
		require.NoError(t, err)
	case "responder":
		hs, err = NewResponder(lsPub, ecdh, ePriv)
		require.NoError(t, err)
	default:
		t.Fatalf("unknown role %q", v.Role)
	}

	for i, act := range v.Acts {
		switch act.Direction {
		case "output":
			require.NotNil(t, pending, "act %d: the tested side produced nothing", i)
			require.Equal(t, act.Hex, hex.EncodeToString(pending), "act %d output", i)
			pending = nil
		case "input":
			require.Nil(t, pending, "act %d: output not checked", i)
			input := mustHex(t, act.Hex)
			if i < len(v.Acts)-1 || v.ExpectedError == "" {
				require.Len(t, input, hs.NextActSize(), "act %d", i)
			}
			var out []byte
			out, _, err = hs.ReadAct(input)
			if err != nil {
				require.Equal(t, len(v.Acts)-1, i, "error %v before the last act", err)
				return hs, err
			}
			if len(out) > 0 {
				pending = out
			}
		default:
			t.Fatalf("unknown direction %q", act.Direction)
		}
	}
	require.Nil(t, pending, "the tested side produced an act the vector does not list")
	return hs, nil
}

func checkHandshakeFile(t *testing.T, file string) int {
	var f handshakeFile
	loadJSON(t, file, &f)
	require.NotEmpty(t, f.Tests)
	var msgs messageVectors
	loadJSON(t, "message-encryption.json", &msgs)

	for _, v := range f.Tests {
		t.Run(v.Name, func(t *testing.T) {
			hs, err := runHandshakeVector(t, v)
			if v.ExpectedError == "" {
				require.NoError(t, err)
				tr := hs.Transport()
				require.NotNil(t, tr)
				require.Equal(t, v.Sk, hex.EncodeToString(tr.send.key[:]), "sk")
				require.Equal(t, v.Rk, hex.EncodeToString(tr.recv.key[:]), "rk")
				// Both sides end with the chaining key the message-encryption vectors start from.
				require.Equal(t, msgs.Ck, hex.EncodeToString(tr.send.ck[:]), "ck")
				require.Equal(t, msgs.Ck, hex.EncodeToString(tr.recv.ck[:]), "ck")
				require.Equal(t, 0, hs.NextActSize())
				_, _, err = hs.ReadAct(make([]byte, ActThreeSize))
				require.ErrorIs(t, err, ErrHandshakeDone)
				if v.Role == "responder" {
					// The responder learns the initiator's static key (the initiator vector's ls_pub).
					require.Equal(t, "034f355bdcb7cc0af728ef3cceb9615d90684bb5b2ca5f859ab0f0b704075871aa",
						hex.EncodeToString(hs.RemoteStatic().SerializeCompressed()))
				}
				return
			}
			want, ok := errorSentinels[v.ExpectedError]
			require.True(t, ok, "unknown expected_error %q", v.ExpectedError)
			require.Error(t, err)
			// Exactly the named sentinel matches, and no other.
			for name, sentinel := range errorSentinels {
				require.Equal(t, name == v.ExpectedError, errors.Is(err, sentinel),
					"error %v vs sentinel %s", err, name)
			}
			require.ErrorIs(t, err, want)
			var verr *VersionError
			if errors.As(err, &verr) {
				require.Contains(t, v.ExpectedError, "BAD_VERSION")
				require.Equal(t, v.ExpectedError[3]-'0', byte(verr.Act))
				last := mustHex(t, v.Acts[len(v.Acts)-1].Hex)
				require.Equal(t, last[0], verr.Version)
			} else {
				require.NotContains(t, v.ExpectedError, "BAD_VERSION")
			}
			if v.ExpectedErrorArg != nil {
				require.NotNil(t, verr, "expected_error_arg given but no version error")
				require.Equal(t, *v.ExpectedErrorArg, int(verr.Version))
			}
			// A failed handshake stays failed.
			require.Nil(t, hs.Transport())
			require.Equal(t, 0, hs.NextActSize())
			_, _, err = hs.ReadAct(mustHex(t, v.Acts[len(v.Acts)-1].Hex))
			require.ErrorIs(t, err, ErrHandshakeFailed)
		})
	}
	return len(f.Tests)
}

func TestInitiatorVectors(t *testing.T) {
	n := checkHandshakeFile(t, "handshake-initiator.json")
	require.Equal(t, 5, n)
}

func TestResponderVectors(t *testing.T) {
	n := checkHandshakeFile(t, "handshake-responder.json")
	require.Equal(t, 10, n)
}

// checkMessageVectors encrypts messages 0..1001 on tr and compares every listed output; it returns all
// packets so the caller can decrypt them.
func checkMessageVectors(t *testing.T, tr *Transport, v messageVectors) [][]byte {
	t.Helper()
	want := make(map[int]string, len(v.Outputs))
	maxIndex := 0
	for _, o := range v.Outputs {
		want[o.Index] = o.Ciphertext
		maxIndex = max(maxIndex, o.Index)
	}
	require.Len(t, want, 6)
	require.Equal(t, 1001, maxIndex)
	plaintext := mustHex(t, v.PlaintextHex)
	require.Equal(t, "hello", string(plaintext))

	packets := make([][]byte, 0, maxIndex+1)
	checked := 0
	for i := 0; i <= maxIndex; i++ {
		pkt, err := tr.EncryptMessage(plaintext)
		require.NoError(t, err)
		require.Len(t, pkt, len(plaintext)+LengthHeaderSize+MACSize)
		if exp, ok := want[i]; ok {
			require.Equal(t, exp, hex.EncodeToString(pkt), "message %d", i)
			checked++
		}
		packets = append(packets, pkt)
	}
	require.Equal(t, len(v.Outputs), checked)
	return packets
}

func TestMessageEncryptionVectors(t *testing.T) {
	var v messageVectors
	loadJSON(t, "message-encryption.json", &v)
	ck, sk, rk := mustHex32(t, v.Ck), mustHex32(t, v.Sk), mustHex32(t, v.Rk)

	t.Run("from listed keys", func(t *testing.T) {
		packets := checkMessageVectors(t, NewTransport(sk, rk, ck), v)
		// The responder's view (keys swapped) decrypts all 1002 packets across both rotations,
		// fed as one stream.
		var stream []byte
		for _, p := range packets {
			stream = append(stream, p...)
		}
		got, err := NewTransport(rk, sk, ck).Decrypt(stream)
		require.NoError(t, err)
		require.Len(t, got, len(packets))
		for i, m := range got {
			require.Equal(t, "hello", string(m), "message %d", i)
		}
	})

	t.Run("after handshake", func(t *testing.T) {
		var f handshakeFile
		loadJSON(t, "handshake-initiator.json", &f)
		hs, err := runHandshakeVector(t, f.Tests[0])
		require.NoError(t, err)
		checkMessageVectors(t, hs.Transport(), v)
	})
}
