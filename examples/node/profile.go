package main

import (
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"time"
)

// startProfiling writes profiles of the running node for performance work, when the environment asks:
// LNKIT_PROFILE=1 writes <datadir>/profile/cpu.pprof and, with LNKIT_PROFILE_TRACE=1, trace.out, from the
// start for LNKIT_PROFILE_SECS seconds (default 30), then block.pprof and mutex.pprof (blocking of at
// least a microsecond). It returns at once; the profiles are written by a goroutine of its own.
func startProfiling(datadir string, log *slog.Logger) {
	if os.Getenv("LNKIT_PROFILE") != "1" {
		return
	}
	dir := filepath.Join(datadir, "profile")
	secs, err := strconv.Atoi(os.Getenv("LNKIT_PROFILE_SECS"))
	if err != nil || secs <= 0 {
		secs = 30
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		log.Warn("profiling off", "err", err)
		return
	}
	cpu, err := os.Create(filepath.Join(dir, "cpu.pprof"))
	if err != nil {
		log.Warn("profiling off", "err", err)
		return
	}
	if err := pprof.StartCPUProfile(cpu); err != nil {
		log.Warn("profiling off", "err", err)
		return
	}
	var tr *os.File
	if os.Getenv("LNKIT_PROFILE_TRACE") == "1" {
		if tr, err = os.Create(filepath.Join(dir, "trace.out")); err == nil {
			_ = trace.Start(tr)
		}
	}
	runtime.SetBlockProfileRate(1000)
	runtime.SetMutexProfileFraction(5)
	log.Info("profiling", "dir", dir, "seconds", secs)
	go func() {
		time.Sleep(time.Duration(secs) * time.Second)
		pprof.StopCPUProfile()
		_ = cpu.Close()
		if tr != nil {
			trace.Stop()
			_ = tr.Close()
		}
		for _, name := range []string{"block", "mutex"} {
			if f, err := os.Create(filepath.Join(dir, name+".pprof")); err == nil {
				_ = pprof.Lookup(name).WriteTo(f, 0)
				_ = f.Close()
			}
		}
		log.Info("profiles written", "dir", dir)
	}()
}
