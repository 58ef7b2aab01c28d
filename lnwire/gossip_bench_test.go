package lnwire

import (
	"path/filepath"
	"testing"
)

// BenchmarkDecodeGossip decodes the real mainnet messages of the sample, per type and all together, and
// reports messages per second. Every point is validated (curve decompression): one for
// node_announcement, four for channel_announcement, none for channel_update.
func BenchmarkDecodeGossip(b *testing.B) {
	recs := readGossipFile(b, filepath.Join(sampleDir, "mainnet-gossip-sample.bin"), "")
	groups := map[string][][]byte{}
	for _, r := range recs {
		groups[r.typ.String()] = append(groups[r.typ.String()], r.raw)
		groups["all"] = append(groups["all"], r.raw)
	}
	for _, name := range []string{"channel_announcement", "node_announcement", "channel_update", "all"} {
		msgs := groups[name]
		size := 0
		for _, m := range msgs {
			size += len(m)
		}
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for b.Loop() {
				for _, m := range msgs {
					if _, err := DecodeMessage(m); err != nil {
						b.Fatal(err)
					}
				}
			}
			b.ReportMetric(float64(b.N)*float64(len(msgs))/b.Elapsed().Seconds(), "msgs/s")
		})
	}
}
