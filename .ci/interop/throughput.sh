#!/usr/bin/env bash
# Measures payments per second over one channel, lnkit→lnkit against lnd→lnd, on one regtest chain in
# one run (interop/throughput_test.go, TestThroughput): builds (or reuses) btcd, lnd and lncli like
# run.sh, then runs the test and prints both rates and their ratio.
# Environment (see TestThroughput for the defaults):
#   LNKIT_THROUGHPUT_WORKERS      concurrent payers per side (20)
#   LNKIT_THROUGHPUT_SECS         measured seconds per side (30)
#   LNKIT_THROUGHPUT_WARMUP_SECS  warm-up seconds before measuring (5)
#   LNKIT_THROUGHPUT_AMT_SAT      amount of each keysend payment (1000)
#   LNKIT_THROUGHPUT_CHAN_SAT     capacity of each channel (16000000)
#   LNKIT_THROUGHPUT_LND_API      v1 (SendPaymentSync, default) or v2 (/v2/router/send)
#   LNKIT_THROUGHPUT_DEBUGLOG     1 to keep the suite's debug logging on the four nodes
#   LNKIT_THROUGHPUT_STORE        the lnkit nodes' store: fs (default), sqlite or postgres
#   LNKIT_INTEROP_BIN, LNKIT_INTEROP_KEEP, LNKIT_INTEROP_NODE_PKG as for run.sh
# Extra arguments go to `go test`.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export LNKIT_INTEROP_BIN
LNKIT_INTEROP_BIN=$(bash "$root/.ci/interop/build.sh")
cd "$root"
LNKIT_THROUGHPUT=1 exec go test -tags interop -count=1 -timeout 20m ./interop/ -run '^TestThroughput$' -v "$@"
