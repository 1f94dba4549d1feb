# corescope — `sudo make run`, `sudo make test`. See README.md.
SHELL := /bin/bash
# sudo resets PATH: fall back to the invoking user's rustup cargo.
CARGO ?= $(or $(shell command -v cargo 2>/dev/null),$(wildcard $(HOME)/.cargo/bin/cargo),$(if $(SUDO_USER),$(wildcard $(shell getent passwd $(SUDO_USER) | cut -d: -f6)/.cargo/bin/cargo)),cargo)
# Cargo runs libbpf-sys's build script, which builds its vendored libbpf with
# `make install` into Cargo's OUT_DIR: our command-line variables (PREFIX=,
# DESTDIR=… that MAKEFLAGS hands down) would override its own and install
# libbpf.a into our DESTDIR, and the link then fails. MFLAGS is MAKEFLAGS
# without the variables: the flags and the jobserver stay (`+` hands the
# jobserver's descriptors to cargo; it also makes `make -n` run cargo).
CARGO_RUN = +MAKEFLAGS="$$MFLAGS" $(CARGO)
TOOL ?= execsnoop
ARGS ?=
PREFIX ?= /usr/local
DESTDIR ?=
# Installed tool names are $(NAMEPREFIX)<tool>$(SUFFIX): Debian's libbpf-tools
# also installs /usr/sbin/execsnoop, opensnoop, tcplife…; e.g. SUFFIX=-cs.
# `corescope` itself keeps its name.
SUFFIX ?=
NAMEPREFIX ?=
# Every tool is a folder of tools/ (tools/<tool>/mod.rs; see README "Layout").
TOOLS := $(patsubst tools/%/mod.rs,%,$(wildcard tools/*/mod.rs))
SBINDIR = $(PREFIX)/sbin
MAN8DIR = $(PREFIX)/share/man/man8
BASHDIR = $(PREFIX)/share/bash-completion/completions
ZSHDIR = $(PREFIX)/share/zsh/vendor-completions
FISHDIR = $(PREFIX)/share/fish/vendor_completions.d
# Every installed program: "binary installed-name" pairs.
PROGS = $(foreach t,$(TOOLS),$(t):$(NAMEPREFIX)$(t)$(SUFFIX)) corescope:corescope
# Keyed by the names, so two installs with different names can run at once.
GEN = target/generated/names$(NAMEPREFIX)@$(SUFFIX)
# Debian packages needed to build and test (libbpf itself is vendored by libbpf-sys);
# the second line is for test-kernels (qemu guests with a busybox initramfs);
# libbpf-tools is the root tests' reference (they compare with its tools),
# prometheus (server and promtool) the --prometheus tests' scraper.
DEB_PKGS := clang llvm libelf-dev zlib1g-dev pkg-config bpftool make gcc iproute2 \
	qemu-system-x86 busybox-static cpio xz-utils zstd dpkg-dev libbpf-tools prometheus

.PHONY: all deps build run test test-unit test-root test-kernels bench vmlinux fmt lint gen install uninstall deb clean

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
	$(CARGO_RUN) build --release --bins

run: build
	./target/release/$(TOOL) $(ARGS)

# Unit tests (no root) and root tests against the running kernel, then the
# same binaries on other kernels (test-kernels). Off CI, without root, the
# root tests and test-kernels skip and say why; with CI=true they must run.
test: deps
	$(CARGO_RUN) test --all-targets -- --test-threads=2
	$(MAKE) --no-print-directory test-kernels

# Every tool's smoke test (tools/<tool>/smoke.sh) in qemu guests booting Debian's
# kernels (cached in target/kernels/); writes target/kernels/matrix.md.
test-kernels: build
	./kernels/run.sh

bench: build
	./bench/run.sh

vmlinux:
	@arch=$$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/'); \
	mkdir -p vmlinux/$$arch && bpftool btf dump file /sys/kernel/btf/vmlinux format c > vmlinux/$$arch/vmlinux.h && \
	echo "wrote vmlinux/$$arch/vmlinux.h from $$(uname -r)"

# cargo fmt does not reach the tool modules (build.rs registers them with
# include!): rustfmt formats them, and the modules they name, directly.
TOOL_RS = $(wildcard tools/*/mod.rs tools/*/root_tests.rs)
RUSTFMT ?= $(or $(shell command -v rustfmt 2>/dev/null),$(dir $(CARGO))rustfmt)

fmt:
	$(CARGO) fmt --all
	$(RUSTFMT) --edition 2021 $(TOOL_RS)

lint:
	$(CARGO) fmt --all -- --check
	$(RUSTFMT) --edition 2021 --check $(TOOL_RS)
	$(CARGO) clippy --all-targets -- -D warnings

# Man pages and completions from the clap definitions, for the installed
# names: debug builds carry the generator (CORESCOPE_GENERATE, src/gen.rs).
gen: deps
	$(CARGO_RUN) build --bins
	rm -rf $(GEN) && mkdir -p $(GEN)/man8 $(GEN)/bash $(GEN)/zsh $(GEN)/fish
	set -e; for p in $(PROGS); do b=$${p%%:*} n=$${p#*:}; \
		CORESCOPE_GENERATE=man:$$n target/debug/$$b >$(GEN)/man8/$$n.8; \
		CORESCOPE_GENERATE=bash:$$n target/debug/$$b >$(GEN)/bash/$$n; \
		CORESCOPE_GENERATE=zsh:$$n target/debug/$$b >$(GEN)/zsh/_$$n; \
		CORESCOPE_GENERATE=fish:$$n target/debug/$$b >$(GEN)/fish/$$n.fish; \
	done

# One multi-call binary (target/release/corescope, every tool in it) and the
# tools as hard links to it (it runs the tool named by argv[0]), plus a man
# page and completions for each name.
install: build gen
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MAN8DIR) $(DESTDIR)$(BASHDIR) $(DESTDIR)$(ZSHDIR) $(DESTDIR)$(FISHDIR)
	install -m 0755 target/release/corescope $(DESTDIR)$(SBINDIR)/corescope
	set -e; for p in $(PROGS); do n=$${p#*:}; \
		[ $$n = corescope ] || ln -f $(DESTDIR)$(SBINDIR)/corescope $(DESTDIR)$(SBINDIR)/$$n; \
		install -m 0644 $(GEN)/man8/$$n.8 $(DESTDIR)$(MAN8DIR)/$$n.8; \
		install -m 0644 $(GEN)/bash/$$n $(DESTDIR)$(BASHDIR)/$$n; \
		install -m 0644 $(GEN)/zsh/_$$n $(DESTDIR)$(ZSHDIR)/_$$n; \
		install -m 0644 $(GEN)/fish/$$n.fish $(DESTDIR)$(FISHDIR)/$$n.fish; \
	done

# Removes exactly the files install put (same PREFIX, SUFFIX, NAMEPREFIX);
# directories stay.
uninstall:
	for p in $(PROGS); do n=$${p#*:}; \
		rm -f $(DESTDIR)$(SBINDIR)/$$n $(DESTDIR)$(MAN8DIR)/$$n.8 $(DESTDIR)$(BASHDIR)/$$n \
			$(DESTDIR)$(ZSHDIR)/_$$n $(DESTDIR)$(FISHDIR)/$$n.fish; \
	done

# target/deb/corescope_<version>_<arch>.deb: `make install PREFIX=/usr` into a
# staging tree, dependencies from dpkg-shlibdeps (see packaging/deb.sh).
deb: build gen
	rm -rf target/deb/root
	$(MAKE) --no-print-directory install PREFIX=/usr DESTDIR=$(CURDIR)/target/deb/root
	SUFFIX="$(SUFFIX)" NAMEPREFIX="$(NAMEPREFIX)" ./packaging/deb.sh target/deb/root target/deb

clean:
	$(CARGO_RUN) clean
