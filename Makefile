# Set-up and everyday commands. `make run` and `make test` work on a fresh Debian machine:
# each installs what it lacks first.
SWIFT ?= swift
CONFIG ?= proxy.json
# prometheus: the admin-listener tests run its promtool on a scrape and a real Prometheus server against it.
APT_PACKAGES = libcurl4-openssl-dev pkg-config curl nginx python3-cryptography prometheus
# The browser suite (tests/browser): headless Chromium driven by Selenium and headless Firefox driven by Marionette
# (PyPI's marionette-driver, in a venv that also sees Debian's selenium and pytest).
BROWSER_APT_PACKAGES = chromium chromium-driver python3-selenium python3-pytest firefox-esr python3-venv
BROWSER_VENV ?= $(CURDIR)/.venv-browser
BROWSER_REQUIREMENTS = tests/browser/requirements.txt
CORSPROXY_BIN ?= .build/debug/corsproxy
# The benchmarks: wrk as the load generator; nginx as the upstream and a peer, Caddy and HAProxy as the other peers
# (bench/run); valgrind's callgrind counts instructions and binutils' objcopy strips the copies it runs
# (bench/instructions, bench/engines floor); python3 for fixtures and the tables.
BENCH_APT_PACKAGES = wrk nginx caddy haproxy curl python3 valgrind binutils
# e.g. make bench BENCH_ARGS="--runs 5 --duration 20"
BENCH_ARGS ?=

# $(call apt_install,PACKAGES): install those of PACKAGES that are missing.
define apt_install
	@missing=""; for p in $(1); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi
endef

# Seconds per libFuzzer target in `make fuzz-smoke` (CI's short pass; Fuzz/run's own default is 60).
FUZZ_SECONDS ?= 30
# What `make format` rewrites and `make format-check` lints, with the root .swift-format (SwiftNIO's).
FORMAT_PATHS = Sources Tests Fuzz/Sources Package.swift Fuzz/Package.swift

.PHONY: run demo test swift-test build release deps browser-deps browser-test bench bench-smoke bench-deps soak \
	bench-instructions tsan fuzz-smoke format format-check dist deploy-deps deploy-test

deps:
	$(call apt_install,$(APT_PACKAGES))

# The venv is (re)made when it lacks marionette_driver or its copy of the requirements differs from the file.
browser-deps:
	$(call apt_install,$(BROWSER_APT_PACKAGES))
	@if ! cmp -s $(BROWSER_REQUIREMENTS) $(BROWSER_VENV)/requirements.txt || \
		! $(BROWSER_VENV)/bin/python -c 'import marionette_driver' 2>/dev/null; then \
		echo "installing into $(BROWSER_VENV): $(BROWSER_REQUIREMENTS)"; \
		/usr/bin/python3 -m venv --system-site-packages --clear $(BROWSER_VENV) && \
		$(BROWSER_VENV)/bin/python -m pip install -q --disable-pip-version-check --no-input \
			-r $(BROWSER_REQUIREMENTS) && \
		cp $(BROWSER_REQUIREMENTS) $(BROWSER_VENV)/requirements.txt; \
	fi

build: deps
	$(SWIFT) build

# The Swift runtime (and FoundationEssentials) linked in: one binary that needs no Swift on the host, and about 6 MiB less
# resident memory than loading the shared Swift libraries (bench/run, soak and stream-memory build it the same way).
release: deps
	$(SWIFT) build -c release --static-swift-stdlib

run: release
	.build/release/corsproxy serve --config $(CONFIG)

# Offline, nothing to configure: a Procore stand-in, the proxy in front of it and the example SPA on loopback ports
# 8790-8794 (e.g. make demo DEMO_ARGS="--port 9100"); Ctrl-C stops it.
DEMO_ARGS ?=
demo: build
	.build/debug/corsproxy demo $(DEMO_ARGS)

# Everything: the Swift suites (unit, integration, command line), the browser suite, then the deploy suite.
test: swift-test browser-test deploy-test

# wrk drives ReloadUnderLoadTests, which runs after the rest, alone: its load would slow the suites beside it.
TEST_APT_PACKAGES = wrk
RELOAD_LOAD_SECONDS ?= 20

# Suites whose checks are timings (a deadline, a histogram bucket, a reload or rotation within a second) or the test
# process's own memory (the rate limiter's keys, the inspector ring): beside the rest of the suite on two cores they
# measure a starved machine or other tests' allocations, so they run after it, one test at a time.
TIMED_SUITES = AdminDrainTests|AdminMetricsTests|HostileInputTests|InspectorRingMemoryTests|RateLimitMemoryTests|RateLimitTests|ReloadTriggerTests|TLSListenerTests|UpstreamBudgetTests

swift-test: deps
	$(call apt_install,$(TEST_APT_PACKAGES))
	$(SWIFT) test --skip '$(TIMED_SUITES)'
	$(SWIFT) test --skip-build --no-parallel --filter '$(TIMED_SUITES)'
	CORSPROXY_RELOAD_LOAD_SECONDS=$(RELOAD_LOAD_SECONDS) $(SWIFT) test --skip-build --filter ReloadUnderLoadTests

# Builds the debug binary (a no-op after `swift test`), then runs the browser cases in Chromium, then in Firefox
# (CORSPROXY_BROWSERS=chromium for one); writes artifacts/.
browser-test: build browser-deps
	CORSPROXY_BIN=$(CORSPROXY_BIN) PYTHONDONTWRITEBYTECODE=1 $(BROWSER_VENV)/bin/python -m pytest tests/browser

# The release tarball: dist/corsproxy-VERSION-linux-ARCH.tar.gz (the binary, proxy.json, proxy.schema.json, README,
# deploy/) and its .sha256, built in .build-bench (shared with bench/run and soak). VERSION: `git describe --tags --always --dirty` unless given.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo unknown)
DIST_TARBALL = dist/corsproxy-$(VERSION)-linux-$(shell uname -m).tar.gz
dist: deps
	VERSION=$(VERSION) scripts/dist

# tests/deploy: the Kubernetes manifests, the systemd unit (systemd-analyze), the Containerfile, the tarball of
# `make dist`, and a rolling restart of two instances behind HAProxy under load. Runs the release binary of `dist`.
DEPLOY_APT_PACKAGES = haproxy openssl python3-yaml systemd
deploy-deps: deps
	$(call apt_install,$(DEPLOY_APT_PACKAGES))

deploy-test: dist deploy-deps
	CORSPROXY_BIN=.build-bench/release/corsproxy CORSPROXY_DIST=$(DIST_TARBALL) CORSPROXY_REQUIRE_DIST=1 \
		PYTHONDONTWRITEBYTECODE=1 /usr/bin/python3 -m unittest discover -s tests/deploy -t tests/deploy -v

bench-deps: deps
	$(call apt_install,$(BENCH_APT_PACKAGES))

# corsproxy vs nginx, Caddy and HAProxy as CORS reverse proxies; builds the release binary in .build-bench (not
# .build), prints the table.
bench: bench-deps
	bench/run $(BENCH_ARGS)

# Instructions per request under callgrind, corsproxy and nginx, and where they go (about 4 minutes); exact and
# repeatable where timings are not. e.g. make bench-instructions INSTRUCTIONS_ARGS="--scenarios get --top 20";
# two builds: INSTRUCTIONS_ARGS="--ab old/corsproxy new/corsproxy".
INSTRUCTIONS_ARGS ?=
bench-instructions: bench-deps
	bench/instructions $(INSTRUCTIONS_ARGS)

# CI's 25-second version: fails on errors (non-2xx, socket errors, wrong bodies), never on speed.
bench-smoke: bench-deps
	bench/run --smoke

# Mixed load through the release build (default 600 s; CI runs 60 s): fails on errors or growth after warm-up.
soak: deps
	SCRATCH=.build-bench bench/soak $(SOAK_ARGS)

# The Swift suite under ThreadSanitizer, built in .build-thread: fails on a failing test or on any report, the test
# runner's or a corsproxy subprocess's. The sanitizer runtimes, clang and lld come with the Swift toolchain.
tsan: deps
	scripts/sanitizers thread

# Each libFuzzer target (Fuzz/) for FUZZ_SECONDS from the seed corpus, built with AddressSanitizer in Fuzz/.build:
# fails on a crash, a sanitizer error, a hang or an out-of-memory, leaving the input in Fuzz/crashes/.
fuzz-smoke: deps
	Fuzz/run $(FUZZ_SECONDS)

# swift-format ships with the toolchain: no packages to install.
format:
	$(SWIFT) format format --in-place --parallel -r $(FORMAT_PATHS)

# CI's check: fails on any finding, warnings included (--strict).
format-check:
	$(SWIFT) format lint --strict -r $(FORMAT_PATHS)
