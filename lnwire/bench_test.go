package lnwire

import (
	"testing"
)

func benchMessages(b *testing.B) map[string]Message {
	msgs := testMessages(b)
	sigs := make([]Sig, 483)
	for i := range sigs {
		sigs[i] = testSig(b, "bench")
	}
	msgs["commitment_signed-483"] = &CommitmentSigned{ChannelID: ChannelID{1}, Signature: sigs[0], HTLCSignatures: sigs}
	return msgs
}

var benchNames = []string{"update_add_htlc", "commitment_signed-483", "open_channel", "revoke_and_ack", "init-full"}

// BenchmarkEncodeMessage measures EncodeMessage per message type (bytes/s via SetBytes).
func BenchmarkEncodeMessage(b *testing.B) {
	msgs := benchMessages(b)
	for _, name := range benchNames {
		m := msgs[name]
		b.Run(name, func(b *testing.B) {
			enc, err := EncodeMessage(m)
			if err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := EncodeMessage(m); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeMessage measures DecodeMessage per message type; points are validated (curve
// decompression), which dominates for messages that carry several.
func BenchmarkDecodeMessage(b *testing.B) {
	msgs := benchMessages(b)
	for _, name := range benchNames {
		enc, err := EncodeMessage(msgs[name])
		if err != nil {
			b.Fatal(err)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(enc)))
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := DecodeMessage(enc); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeTLVStream measures TLV framing of a 40-record stream.
func BenchmarkDecodeTLVStream(b *testing.B) {
	var s TLVStream
	for i := 0; i < 40; i++ {
		s = s.Set(uint64(i*7+1), make([]byte, i))
	}
	enc := s.Encode()
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := DecodeTLVStream(enc); err != nil {
			b.Fatal(err)
		}
	}
}
