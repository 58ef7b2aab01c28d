package remote

import (
	"bytes"
	"testing"

	"github.com/btcsuite/btcd/wire"
)

// walletRequestSeeds are wallet requests the fuzzers start from: a spend the test wallet signs (with
// an input it does not sign), one it refuses, and an account key request for an unknown network.
func walletRequestSeeds(f *testing.F) [][]byte {
	w := newTestWallet(f)
	tx, prevOuts, paths := walletSpend(f, w)
	refused := tx.Copy()
	refused.AddTxOut(wire.NewTxOut(1, w.forbidden))
	var out [][]byte
	for i, q := range []*Request{
		{Method: MethodSignWalletInputs, Network: "regtest", Tx: tx, PrevOuts: prevOuts, Paths: paths},
		{Method: MethodSignWalletInputs, Network: "regtest", Tx: refused, PrevOuts: prevOuts, Paths: paths},
		{Method: MethodAccountPubKey, Network: "nonet"},
	} {
		q.ID = uint64(100 + i)
		b, err := EncodeRequest(q)
		if err != nil {
			f.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// FuzzDecodeRequest: decoding never panics, and what decodes re-encodes to a frame that decodes to the
// same encoding (the server sees exactly what the client meant).
func FuzzDecodeRequest(f *testing.F) {
	fx := newFixture(f)
	for _, m := range Methods() {
		b, err := EncodeRequest(sampleRequest(f, fx, m))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte{Version, kindRequest, 0, 0, 0, 0, 0, 0, 0, 1, 0, 2})
	for _, b := range walletRequestSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		q, err := DecodeRequest(frame)
		if err != nil {
			return
		}
		b, err := EncodeRequest(q)
		if err != nil {
			t.Fatalf("decoded request does not encode: %v", err)
		}
		q2, err := DecodeRequest(b)
		if err != nil {
			t.Fatalf("re-encoded request does not decode: %v", err)
		}
		b2, err := EncodeRequest(q2)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("encoding not stable: %v", err)
		}
	})
}

// FuzzDecodeResponse: the same for responses, and Err never panics.
func FuzzDecodeResponse(f *testing.F) {
	fx := newFixture(f)
	for _, m := range Methods() {
		b, err := EncodeResponse(sampleResponse(fx, m))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	b, _ := EncodeResponse(&Response{ID: 3, Method: MethodSignAnchor, Code: CodeRefused, Message: "m", Rule: "r"})
	f.Add(b)
	b, _ = EncodeResponse(&Response{ID: 4, Method: MethodSignWalletInputs, Witnesses: []wire.TxWitness{nil, {{1}, nil}, nil}})
	f.Add(b)
	b, _ = EncodeResponse(&Response{ID: 5, Method: MethodSignWalletInputs, Code: CodeRefused, Message: "m", Rule: "onchain-destination"})
	f.Add(b)
	b, _ = EncodeResponse(&Response{ID: 6, Method: MethodAccountPubKey, Code: CodeNoWallet, Message: "no wallet"})
	f.Add(b)
	f.Fuzz(func(t *testing.T, frame []byte) {
		p, err := DecodeResponse(frame)
		if err != nil {
			return
		}
		_ = p.Err()
		b, err := EncodeResponse(p)
		if err != nil {
			t.Fatalf("decoded response does not encode: %v", err)
		}
		p2, err := DecodeResponse(b)
		if err != nil {
			t.Fatalf("re-encoded response does not decode: %v", err)
		}
		b2, err := EncodeResponse(p2)
		if err != nil || !bytes.Equal(b, b2) {
			t.Fatalf("encoding not stable: %v", err)
		}
	})
}

// FuzzServerHandle: the server never panics and answers every request of a known method with a
// response frame that decodes, under the request's ID.
func FuzzServerHandle(f *testing.F) {
	fx := newFixture(f)
	s, err := NewServer(ServerConfig{Inner: fx.km, Wallet: newTestWallet(f)})
	if err != nil {
		f.Fatal(err)
	}
	for _, m := range Methods() {
		b, err := EncodeRequest(sampleRequest(f, fx, m))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, b := range walletRequestSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, frame []byte) {
		resp := s.Handle(frame)
		id, m, ok := PeekRequest(frame)
		p, err := DecodeResponse(resp)
		if !ok || !m.Known() {
			// Answered under an unknown method (0 when the header is unreadable): the client drops
			// the link, as it sent no such request.
			return
		}
		if err != nil {
			t.Fatalf("response does not decode: %v", err)
		}
		if ok && p.ID != id {
			t.Fatalf("response ID %d for request %d", p.ID, id)
		}
	})
}
