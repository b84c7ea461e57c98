#!/bin/sh
# Builds the router binaries: static (no cgo), stripped, -trimpath, version
# stamped, with the data plane GOWORK names (make passes the PROFILE's), and
# prints their sizes, raw and xz-compressed (as opkg ships them), next to
# plain upstream wireguard-go for mipsle, the smallest router target.
#
#   scripts/cross.sh VERSION      (run by `make cross`)
#
# Writes bin/wgd-linux-{mips,mipsle,armv5,armv7,arm64,amd64} and
# bin/sizes.md.
set -eu

version=${1:-dev}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p bin
: "${GOWORK:?run through make cross: GOWORK names the patched data plane}"

# name GOARCH GOARM/GOMIPS
targets="
mips mips softfloat
mipsle mipsle softfloat
armv5 arm 5
armv7 arm 7
arm64 arm64 -
amd64 amd64 -
"

build() { # out GOARCH variant package GOWORK
	out=$1 arch=$2 variant=$3 pkg=$4 work=$5
	case $arch in
	mips | mipsle) GOMIPS=$variant GOARM="" ;;
	arm) GOARM=$variant GOMIPS="" ;;
	*) GOARM="" GOMIPS="" ;;
	esac
	env GOWORK="$work" CGO_ENABLED=0 GOOS=linux GOARCH="$arch" GOARM="$GOARM" GOMIPS="$GOMIPS" \
		go build -trimpath -ldflags "-s -w -X main.version=$version" -o "$out" "$pkg"
}

size() { wc -c <"$1" | tr -d ' '; }
xzsize() { xz -9 -c "$1" | wc -c | tr -d ' '; }

table="| binary | bytes | xz -9 bytes |
|---|---:|---:|"
echo "$targets" | while read -r name arch variant; do
	[ -n "$name" ] || continue
	build "bin/wgd-linux-$name" "$arch" "$variant" ./cmd/wgd "$GOWORK"
done
for name in mips mipsle armv5 armv7 arm64 amd64; do
	f=bin/wgd-linux-$name
	table="$table
| $f | $(size "$f") | $(xzsize "$f") |"
done

# References for the mipsle row: wgd without the Prometheus client (the
# nometrics build tag), and upstream's own main package, unpatched, with
# the same flags: what wgd adds over a bare WireGuard daemon.
env GOWORK="$GOWORK" CGO_ENABLED=0 GOOS=linux GOARCH=mipsle GOMIPS=softfloat \
	go build -tags nometrics -trimpath -ldflags "-s -w -X main.version=$version" \
	-o bin/.wgd-linux-mipsle-nometrics ./cmd/wgd
f=bin/.wgd-linux-mipsle-nometrics
table="$table
| wgd, mipsle, -tags nometrics (reference) | $(size "$f") | $(xzsize "$f") |"
build bin/.wireguard-go-linux-mipsle mipsle softfloat golang.zx2c4.com/wireguard off
f=bin/.wireguard-go-linux-mipsle
table="$table
| upstream wireguard-go, mipsle (reference) | $(size "$f") | $(xzsize "$f") |"

printf '%s\n' "$table" >bin/sizes.md
printf '%s\n' "$table"
