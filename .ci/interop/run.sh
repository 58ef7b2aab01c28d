#!/usr/bin/env bash
# Runs lnkit's interop suite against lnd: builds (or reuses) btcd, lnd and lncli, then the tests.
# Environment:
#   LNKIT_INTEROP_BIN         where the peers' binaries are cached (default ~/.cache/lnkit-interop/bin)
#   LNKIT_INTEROP_NO_FASTFEE  set to skip building lnd-fastfee (lnd's update_fee is then not checked)
#   LNKIT_INTEROP_LND_ONLY    set to skip the lnkit scenarios when the node is not available
#   LNKIT_INTEROP_KEEP        set to keep the run's data and logs even when it passes
#   LNKIT_INTEROP_NODE_PKG    the node package to build, relative to examples/node (its own module; default .)
#   LNKIT_INTEROP_NODE_FLAGS  replaces the node's timer flags (see interop/lnkit_test.go)
# Extra arguments go to `go test` (e.g. -run 'Test0[0-3]').
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
export LNKIT_INTEROP_BIN
LNKIT_INTEROP_BIN=$(bash "$root/.ci/interop/build.sh")
cd "$root"
go test -tags interop -count=1 -timeout 25m ./interop/ -v "$@"
# The node's btcd client against a real btcd (examples/node is a module of its own).
cd "$root/examples/node"
go test -tags interop -count=1 -timeout 5m ./btcdchain/ -v
