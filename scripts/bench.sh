#!/bin/sh
# `make bench`: builds, in this run, wgd with the lean and the throughput
# data plane and upstream wireguard-go unpatched (its own main package at
# the version go.mod pins, GOWORK=off), then measures them side by side
# (scripts/bench, root). Writes bin/bench/bench.md and bin/bench/bench.json.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=bin/bench
mkdir -p "$out"
for p in lean throughput; do
	w=$(./scripts/wireguard-overlay.sh "$p" "bin/.wireguard-$p")
	GOWORK=$w CGO_ENABLED=0 go build -trimpath -o "$out/wgd-$p" ./cmd/wgd
done
GOWORK=off CGO_ENABLED=0 go build -trimpath -o "$out/wireguard-go" golang.zx2c4.com/wireguard
exec go run ./scripts/bench -lean "$out/wgd-lean" -throughput "$out/wgd-throughput" \
	-upstream "$out/wireguard-go" -out "$out" "$@"
