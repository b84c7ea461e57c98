#!/bin/sh
# Installs the Debian packages that the tests and the demo use, only those
# missing. Idempotent and silent when there is nothing to do.
set -eu

packages="
busybox
conntrack
dbus
dnsmasq-base
gcc
iperf3
iproute2
iptables
iputils-ping
libc6-dev
make
ncat
nftables
nodejs
patch
prometheus
qemu-user
qemu-user-static
shellcheck
socat
strace
wireguard-go
wireguard-tools
xz-utils
"

missing=""
for p in $packages; do
	# `dpkg -s` also knows removed packages whose config files remain:
	# only "install ok installed" counts.
	if ! dpkg -s "$p" 2>/dev/null | grep -q '^Status: install ok installed$'; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		sudo="sudo"
	else
		echo "deps.sh: missing packages:$missing; run as root to install them" >&2
		exit 1
	fi
fi

echo "deps.sh: installing$missing"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
# shellcheck disable=SC2086 # one word per package
$sudo apt-get install -y -q --no-install-recommends $missing
