#!/bin/sh
# compare.sh: lnd v0.20's FindRoute (../shared/tools/lndroute) and lnkit's FindRoute on the same mainnet
# graph and the same queries, in one run, then both distributions and their ratio.
#
#   router/bench/compare.sh [N [SEED]]      (defaults: 100 queries, seed 1)
#
# Environment: SHARED (default: the directory `shared` beside the repository), LNDROUTE (a built
# lndroute binary; default: built from $SHARED/tools/lndroute into a temporary directory, since that
# directory may be read-only; it fetches lnd v0.20 from the Go module proxy unless cached).
set -eu
N=${1:-100}
SEED=${2:-1}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SHARED=${SHARED:-$ROOT/../shared}
GRAPH=$SHARED/data/lngraph/cln-gossmap-2026-02-03/describegraph.json
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT

if [ -z "${LNDROUTE:-}" ]; then
	mkdir "$WORK/src"
	cp "$SHARED"/tools/lndroute/main.go "$SHARED"/tools/lndroute/go.mod "$SHARED"/tools/lndroute/go.sum "$WORK/src/"
	chmod -R u+w "$WORK/src"
	(cd "$WORK/src" && go build -o "$WORK/lndroute" .)
	LNDROUTE=$WORK/lndroute
fi

echo "== machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(go version | cut -d' ' -f3-)"
echo "== lnd: lndroute -graph describegraph.json -n $N -seed $SEED -queries q.tsv"
"$LNDROUTE" -graph "$GRAPH" -n "$N" -seed "$SEED" -queries "$WORK/q.tsv" > "$WORK/lnd.txt"
echo "== lnkit: go test -run TestCompareLnd ./router/bench/ on the same queries"
cd "$ROOT"
go test -count=1 -v -run '^TestCompareLnd$' ./router/bench/ -args -graph "$GRAPH" -queries "$WORK/q.tsv" \
	-lnd "$WORK/lnd.txt" > "$WORK/lnkit.txt" || { cat "$WORK/lnkit.txt"; exit 1; }
grep -v -e '^q ' -e '^=== RUN' -e '^--- PASS' -e '^PASS' -e '^ok' "$WORK/lnkit.txt"
