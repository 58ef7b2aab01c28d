#!/usr/bin/env bash
# Builds the peers of lnkit's interop suite from the Go module proxy into one cache directory and prints it:
#   btcd, btcctl (btcd v0.25.0), lnd, lncli (lnd v0.20.0-beta, with the sub-servers the suite uses) and
#   lnd-fastfee: the same lnd with its link's update_fee timer shortened from 10-60 min to 2-5 s (applied
#   with `go build -overlay` to a copy of htlcswitch/link.go, nothing else changed), so that the suite can
#   watch lnd send update_fee after the fee estimate moves. Set LNKIT_INTEROP_NO_FASTFEE=1 to skip it.
# A binary already in the directory is kept. Directory: $LNKIT_INTEROP_BIN, default ~/.cache/lnkit-interop/bin.
set -euo pipefail

bin=${LNKIT_INTEROP_BIN:-$HOME/.cache/lnkit-interop/bin}
btcd_version=v0.25.0
lnd_version=v0.20.0-beta
# routerrpc for payments, invoicesrpc for hold/cancel, signrpc to sign forged test invoices with the node
# key, walletrpc for estimatefeerate, chainrpc and peersrpc as lnd's release builds have them.
lnd_tags="signrpc walletrpc chainrpc invoicesrpc routerrpc peersrpc"

mkdir -p "$bin"
bin=$(cd "$bin" && pwd)
say() { echo "build.sh: $*" >&2; }

if [[ ! -x $bin/btcd || ! -x $bin/btcctl ]]; then
  say "building btcd and btcctl $btcd_version"
  GOBIN=$bin GOFLAGS=-buildvcs=false go install \
    "github.com/btcsuite/btcd@$btcd_version" "github.com/btcsuite/btcd/cmd/btcctl@$btcd_version" >&2
fi

need_lnd=
[[ -x $bin/lnd && -x $bin/lncli ]] || need_lnd=1
need_fast=
[[ -n ${LNKIT_INTEROP_NO_FASTFEE:-} || -x $bin/lnd-fastfee ]] || need_fast=1

if [[ -n $need_lnd || -n $need_fast ]]; then
  work=$(mktemp -d)
  trap 'rm -rf "$work"' EXIT
  # A throwaway module that requires lnd: its go.mod pins the versions lnd itself is released with
  # (the replaces are the ones in lnd's own go.mod, which `go build pkg@version` would not honour).
  cat >"$work/go.mod" <<MOD
module lnkit-interop-peers

go 1.24.9

require github.com/lightningnetwork/lnd $lnd_version

replace github.com/ulikunitz/xz => github.com/ulikunitz/xz v0.5.11

replace github.com/gogo/protobuf => github.com/gogo/protobuf v1.3.2

replace google.golang.org/protobuf => github.com/lightninglabs/protobuf-go-hex-display v1.33.0-hex-display
MOD
  cat >"$work/tools.go" <<'GO'
//go:build tools

package peers

import (
	_ "github.com/lightningnetwork/lnd/cmd/lncli"
	_ "github.com/lightningnetwork/lnd/cmd/lnd"
)
GO
  # Vendored, so that -overlay may patch a copy of an lnd file (files in the module cache may not be
  # overlaid); -trimpath, so that both builds below share their compiled packages.
  (cd "$work" && go mod tidy >"$work/mod.log" 2>&1 && go mod vendor >>"$work/mod.log" 2>&1) || {
    cat "$work/mod.log" >&2; exit 1; }
  build() { (cd "$work" && GOFLAGS="-mod=vendor -buildvcs=false -trimpath" go build -tags "$lnd_tags" "$@") >&2; }
  if [[ -n $need_lnd ]]; then
    say "building lnd and lncli $lnd_version"
    build -o "$bin/" github.com/lightningnetwork/lnd/cmd/lnd github.com/lightningnetwork/lnd/cmd/lncli
  fi
  if [[ -n $need_fast ]]; then
    say "building lnd-fastfee (update_fee timer 2-5 s)"
    src=$work/vendor/github.com/lightningnetwork/lnd/htlcswitch/link.go
    sed -e 's/^\(\tDefaultMinLinkFeeUpdateTimeout = \)10 \* time\.Minute$/\12 * time.Second/' \
        -e 's/^\(\tDefaultMaxLinkFeeUpdateTimeout = \)60 \* time\.Minute$/\15 * time.Second/' \
        "$src" >"$work/link.go"
    if [[ $(grep -c -E '^	DefaultM(in|ax)LinkFeeUpdateTimeout = [25] \* time\.Second$' "$work/link.go") != 2 ]]; then
      say "could not patch the fee update timeouts in $src"; exit 1
    fi
    printf '{"Replace":{"%s":"%s"}}\n' "$src" "$work/link.go" >"$work/overlay.json"
    build -overlay "$work/overlay.json" -o "$bin/lnd-fastfee" github.com/lightningnetwork/lnd/cmd/lnd
  fi
fi
echo "$bin"
