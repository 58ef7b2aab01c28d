package fsstore

import (
	"fmt"
	"runtime"
	"sync/atomic"
	"testing"

	"github.com/lnkit/lnkit/kvstore"
)

// The benchmarks write to the test's temporary directory with fsync on (the default options), so they
// measure that disk, in each mode: mode=log (the default: one log fsync per change, shared by
// concurrent changes, and a checkpoint each 8 MiB of log, which the timing includes) and
// mode=direct (DirectWrites). They report ops/s: writes (or commits) per second.

var benchModes = []mode{logMode, directMode}

func benchModesRun(b *testing.B, f func(b *testing.B, opts *Options)) {
	for _, m := range benchModes {
		b.Run("mode="+m.name, func(b *testing.B) { f(b, m.with(nil, false)) })
	}
}

func BenchmarkFSStoreWrite(b *testing.B) {
	benchModesRun(b, func(b *testing.B, opts *Options) {
		s := mustOpen(b, b.TempDir(), opts)
		value := make([]byte, 1024)
		keys := make([]kvstore.Key, 256)
		for i := range keys {
			keys[i] = key("bench", "", fmt.Sprintf("k%03d", i))
		}
		b.SetBytes(int64(len(value)))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			value[0] = byte(i)
			if err := s.Write(keys[i%len(keys)], value); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
}

// BenchmarkFSStoreWriteParallel: 8 writers on distinct keys, whose fsyncs the store (log mode) or
// the kernel (direct mode) can share.
func BenchmarkFSStoreWriteParallel(b *testing.B) {
	benchModesRun(b, func(b *testing.B, opts *Options) {
		s := mustOpen(b, b.TempDir(), opts)
		var next atomic.Int64
		b.SetParallelism(max(1, 8/runtime.GOMAXPROCS(0)))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			w := next.Add(1)
			value := make([]byte, 1024)
			for i := 0; pb.Next(); i++ {
				if err := s.Write(key("bench", "", fmt.Sprintf("w%d-%d", w, i%32)), value); err != nil {
					b.Error(err)
					return
				}
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
}

func BenchmarkFSStoreCommit10(b *testing.B) {
	benchModesRun(b, func(b *testing.B, opts *Options) {
		s := mustOpen(b, b.TempDir(), opts)
		value := make([]byte, 1024)
		keys := make([]kvstore.Key, 250)
		for i := range keys {
			keys[i] = key("bench", "", fmt.Sprintf("k%03d", i))
		}
		b.SetBytes(10 * int64(len(value)))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			var batch kvstore.Batch
			for j := 0; j < 10; j++ {
				batch.Put(keys[(i*10+j)%len(keys)], value)
			}
			if err := s.Commit(&batch); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
		b.ReportMetric(float64(10*b.N)/b.Elapsed().Seconds(), "values/s")
	})
}

func BenchmarkFSStoreRead(b *testing.B) {
	benchModesRun(b, func(b *testing.B, opts *Options) {
		s := mustOpen(b, b.TempDir(), opts)
		k := key("bench", "", "k")
		if err := s.Write(k, make([]byte, 1024)); err != nil {
			b.Fatal(err)
		}
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			if _, _, err := s.Read(k); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
	})
}
