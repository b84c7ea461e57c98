# wgd: build, test, demo.
#   make        bin/wgd for this machine (static)
#   make test   dependencies, gofmt, go vet, all tests with -race (root runs
#               the namespace integration tests too); then the daemon's
#               tests as user nobody: only its root-only ones may skip
#   make demo   the home-gateway demo in network namespaces (root)
#   make cross  static router binaries bin/wgd-linux-* and their sizes
#   make bench  lean vs throughput vs upstream wireguard-go (root)
#   make ipk ARCH=<opkg arch>  bin/ipk/wgd_*_<arch>.ipk and luci-proto-wgd_*_all.ipk (OpenWrt 24.10)
#   make apk ARCH=<arch>       bin/apk/wgd-*.apk and luci-proto-wgd-*.apk (OpenWrt 25.12)
#   PROFILE=lean|throughput  the data plane's buffer profile (default lean)

GO ?= go
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -X main.version=$(VERSION)
# Generous bound for the whole suite (well under a minute on 2 cores today).
TEST_TIMEOUT ?= 20m

# The data plane is golang.zx2c4.com/wireguard at the version in go.mod plus
# patches/*.patch and patches/$(PROFILE)/*.patch, materialised under bin/ by
# scripts/wireguard-overlay.sh with a go.work that points the module there.
# Every go command here (and any it starts, like the integration tests'
# go build) uses it; GOWORK=off builds plain upstream.
PROFILE ?= lean
WIREGUARD_DIR = bin/.wireguard-$(1)
export GOWORK := $(CURDIR)/$(call WIREGUARD_DIR,$(PROFILE))/go.work
# The patched packages whose tests also run in `make test`.
WIREGUARD_PKGS := golang.zx2c4.com/wireguard/conn golang.zx2c4.com/wireguard/device golang.zx2c4.com/wireguard/tun

.PHONY: build test demo deps fmt-check vet clean bin/wgd wireguard patches-check cross bench ipk apk

build: bin/wgd

# Always handed to go build: it knows better than make what changed.
bin/wgd: wireguard
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $@ ./cmd/wgd

deps:
	./scripts/deps.sh

# Fails loudly, naming the patch, when one no longer applies.
wireguard:
	@./scripts/wireguard-overlay.sh $(PROFILE) $(call WIREGUARD_DIR,$(PROFILE)) >/dev/null

# Both profiles apply, and each one's patched packages pass their tests
# (upstream's and the patches' own).
patches-check:
	@for p in lean throughput; do \
		w=$$(./scripts/wireguard-overlay.sh $$p $(call WIREGUARD_DIR,$$p)) || exit 1; \
		echo "patches: $$p"; \
		GOWORK=$$w $(GO) test -race -count=1 $(WIREGUARD_PKGS) || exit 1; \
	done

# Router binaries: static, stripped, version stamped; prints their sizes.
cross: wireguard
	./scripts/cross.sh $(VERSION)

# Side-by-side figures of lean, throughput and upstream (root, network
# namespaces); writes bin/bench/bench.md and bin/bench/bench.json.
# Then the time from a WAN change to restored traffic, with and without
# wgd's reaction (-watchdog adds the 3-minute watchdog-only case).
# Then guest instructions per byte under qemu-user on the router CPUs
# (scripts/insnbench: bin/bench/insn.md).
bench: deps build
	./scripts/bench.sh
	$(GO) run ./scripts/insnbench -out bin/bench
	$(GO) run ./scripts/hotplugbench -wgd bin/wgd -watchdog=false

# OpenWrt packages without the SDK; scripts/ipk cross-builds wgd for ARCH
# (mipsel_24kc, mips_24kc, arm_cortex-a7_neon-vfpv4, aarch64_cortex-a53,
# x86_64) from the feed Makefiles under package/. The package version is
# PKG_VERSION_pN-rPKG_RELEASE, N counting the commits (both opkg and apk
# order it); RELEASE=1 leaves _pN out.
PKG_BUILD_COUNT = $(if $(RELEASE),-1,$(shell git rev-list --count HEAD 2>/dev/null || echo 0))
ipk: wireguard
	$(GO) run ./scripts/ipk -format ipk -arch '$(ARCH)' -build $(PKG_BUILD_COUNT) -out bin/ipk

# APK_SIGN_KEY=<PEM private key> signs the .apk files (apk trusts them with
# the public key in /etc/apk/keys); unsigned ones need --allow-untrusted.
apk: wireguard
	$(GO) run ./scripts/ipk -format apk -arch '$(ARCH)' -build $(PKG_BUILD_COUNT) -out bin/apk $(if $(APK_SIGN_KEY),-sign-key '$(APK_SIGN_KEY)')

# testdata is not Go source of the module (go tools skip it too).
fmt-check:
	@files="$$(find . -name '*.go' -not -path './.git/*' -not -path './bin/*' -not -path '*/testdata/*' -print0 | xargs -0 -r gofmt -l)"; \
	if [ -n "$$files" ]; then echo "gofmt needed on:"; echo "$$files"; exit 1; fi

vet: wireguard
	$(GO) vet ./...

# -count=1: the integration tests depend on system tools that go's test
# cache cannot see, so results are never reused.
test: deps fmt-check vet patches-check
	$(GO) test -race -count=1 -timeout $(TEST_TIMEOUT) $$($(GO) list ./... | grep -vx wgd/daemon)
	GO=$(GO) ./scripts/rootless-test

demo: deps build
	$(GO) run ./scripts/demo -wgd bin/wgd

clean:
	rm -rf bin
