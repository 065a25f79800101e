# Set-up and everyday commands. `make run` and `make test` work on a fresh Debian machine:
# each installs what it lacks first.
SWIFT ?= swift
CONFIG ?= proxy.json
APT_PACKAGES = libcurl4-openssl-dev pkg-config curl nginx

.PHONY: run test build release deps

deps:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

run: release
	.build/release/corsproxy serve --config $(CONFIG)

test: deps
	$(SWIFT) test
