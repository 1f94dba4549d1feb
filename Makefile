# corescope — `sudo make run`, `sudo make test`. See README.md.
SHELL := /bin/bash
# sudo resets PATH: fall back to the invoking user's rustup cargo.
CARGO ?= $(or $(shell command -v cargo 2>/dev/null),$(wildcard $(HOME)/.cargo/bin/cargo),$(if $(SUDO_USER),$(wildcard $(shell getent passwd $(SUDO_USER) | cut -d: -f6)/.cargo/bin/cargo)),cargo)
TOOL ?= execsnoop
ARGS ?=
PREFIX ?= /usr/local
DESTDIR ?=
TOOLS := $(patsubst tools/%.rs,%,$(wildcard tools/*.rs))
# Debian packages needed to build and test (libbpf itself is vendored by libbpf-sys);
# the second line is for test-kernels (qemu guests with a busybox initramfs).
DEB_PKGS := clang llvm libelf-dev zlib1g-dev pkg-config bpftool make gcc iproute2 \
	qemu-system-x86 busybox-static cpio xz-utils zstd

.PHONY: all deps build run test test-unit test-root test-kernels bench vmlinux lint install uninstall clean

all: build

deps:
	@missing=$$(for p in $(DEB_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "make deps: installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else \
		echo "make deps: missing packages; run: sudo apt-get install -y $$missing"; exit 1; \
	fi

build: deps
	$(CARGO) build --release --bins

run: build
	./target/release/$(TOOL) $(ARGS)

# Unit tests (no root) and root tests against the running kernel, then the
# same binaries on other kernels (test-kernels). Off CI, without root, the
# root tests and test-kernels skip and say why; with CI=true they must run.
test: deps
	$(CARGO) test --all-targets -- --test-threads=2
	$(MAKE) --no-print-directory test-kernels

# Every tool's smoke test (kernels/smoke/) in qemu guests booting Debian's
# kernels (cached in target/kernels/); writes target/kernels/matrix.md.
test-kernels: build
	./kernels/run.sh

bench: build
	./bench/run.sh

vmlinux:
	@arch=$$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/'); \
	mkdir -p vmlinux/$$arch && bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/$$arch/vmlinux.h && \
	echo "wrote vmlinux/$$arch/vmlinux.h from $$(uname -r)"

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings

install: build
	install -d $(DESTDIR)$(PREFIX)/sbin
	for t in $(TOOLS); do install -m 0755 target/release/$$t $(DESTDIR)$(PREFIX)/sbin/$$t; done

uninstall:
	for t in $(TOOLS); do rm -f $(DESTDIR)$(PREFIX)/sbin/$$t; done

clean:
	$(CARGO) clean
