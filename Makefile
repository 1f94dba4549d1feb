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
VERSION := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
# Installed tool names are $(NAMEPREFIX)<tool>$(SUFFIX): Debian's libbpf-tools
# also installs /usr/sbin/execsnoop, opensnoop, tcplife…; e.g. SUFFIX=-cs.
# `corescope` itself keeps its name.
SUFFIX ?=
NAMEPREFIX ?=
# Every tool is a folder of tools/ (tools/<tool>/mod.rs; see README "Layout").
TOOLS := $(patsubst tools/%/mod.rs,%,$(wildcard tools/*/mod.rs))
# Each directory can be overridden on the command line (SBINDIR=/usr/bin).
SBINDIR ?= $(PREFIX)/sbin
MANDIR ?= $(PREFIX)/share/man
MAN8DIR = $(MANDIR)/man8
# The exporter's systemd unit; its defaults file is read from
# $(SYSCONFDIR)/default, /etc even for PREFIX=/usr/local (where the admin
# looks; systemd reads units from /usr/local/lib/systemd/system too).
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSCONFDIR ?= /etc
UNIT = corescope-exporter.service
DEFAULTS = $(SYSCONFDIR)/default/corescope-exporter
BASHDIR = $(PREFIX)/share/bash-completion/completions
ZSHDIR = $(PREFIX)/share/zsh/vendor-completions
FISHDIR = $(PREFIX)/share/fish/vendor_completions.d
# Every installed program: "binary installed-name" pairs.
PROGS = $(foreach t,$(TOOLS),$(t):$(NAMEPREFIX)$(t)$(SUFFIX)) corescope:corescope
# Keyed by the names, so two installs with different names can run at once.
GEN = target/generated/names$(NAMEPREFIX)@$(SUFFIX)
# Debian packages needed to build (libbpf itself is vendored by libbpf-sys;
# debian/control's Build-Depends are these), then those to test: the second
# line is for test-kernels (qemu guests with a busybox initramfs);
# libbpf-tools is the root tests' reference (they compare with its tools),
# prometheus (server and promtool) the --prometheus tests' scraper;
# the third for make deb and test-dist (dpkg-buildpackage, lintian).
BUILD_PKGS := clang llvm libelf-dev zlib1g-dev pkg-config make gcc
DEB_PKGS := $(BUILD_PKGS) bpftool iproute2 \
	qemu-system-x86 busybox-static cpio xz-utils zstd libbpf-tools prometheus \
	dpkg-dev debhelper fakeroot lintian systemd
# An unpacked `make dist` tarball (it has vendor/) is built, not tested:
# `make build`/`install` there want only the build packages.
DEPS_PKGS := $(if $(wildcard vendor/.),$(BUILD_PKGS),$(DEB_PKGS))
DISTDIR ?= target/dist
DIST = corescope-$(VERSION)

.PHONY: all deps build build-installed run test test-unit test-root test-kernels test-dist bench vmlinux fmt lint gen install uninstall dist deb clean

all: build

deps:
	@missing=$$(for p in $(DEPS_PKGS); do dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q '^install ok installed' || echo $$p; done); \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" = 0 ]; then \
		echo "make deps: installing $$missing"; \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	else \
		echo "make deps: missing packages; run: sudo apt-get install -y $$missing"; exit 1; \
	fi

build: deps
	$(CARGO_RUN) build --release --bins

# What install installs: the multi-call binary only (each release binary is
# a separate LTO link; the other 30 are for tests and `make run`).
build-installed: deps
	$(CARGO_RUN) build --release --bin corescope

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
# The debug multi-call binary, run through a link named like each tool (as
# installed), is every tool: one debug link instead of 31.
# A dist tree has them for the default names in generated/ (make dist made
# them): no debug build there unless NAMEPREFIX or SUFFIX is set.
PREGEN := $(if $(NAMEPREFIX)$(SUFFIX),,$(wildcard generated/man8))
gen: deps
ifneq ($(PREGEN),)
	rm -rf $(GEN) && mkdir -p $(GEN) && cp -R generated/. $(GEN)/
else
	$(CARGO_RUN) build --bin corescope
	rm -rf $(GEN) && mkdir -p $(GEN)/bin $(GEN)/man8 $(GEN)/bash $(GEN)/zsh $(GEN)/fish
	set -e; for p in $(PROGS); do b=$${p%%:*} n=$${p#*:}; \
		ln -sf $(CURDIR)/target/debug/corescope $(GEN)/bin/$$b; \
		CORESCOPE_GENERATE=man:$$n $(GEN)/bin/$$b >$(GEN)/man8/$$n.8; \
		CORESCOPE_GENERATE=bash:$$n $(GEN)/bin/$$b >$(GEN)/bash/$$n; \
		CORESCOPE_GENERATE=zsh:$$n $(GEN)/bin/$$b >$(GEN)/zsh/_$$n; \
		CORESCOPE_GENERATE=fish:$$n $(GEN)/bin/$$b >$(GEN)/fish/$$n.fish; \
	done
endif

# One multi-call binary (target/release/corescope, every tool in it) and the
# tools as hard links to it (it runs the tool named by argv[0]), plus a man
# page and completions for each name; the exporter's systemd unit (not
# enabled) and its defaults file, that only if there is none (the admin's
# edits stay).
install: build-installed gen
	install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MAN8DIR) $(DESTDIR)$(BASHDIR) $(DESTDIR)$(ZSHDIR) $(DESTDIR)$(FISHDIR) \
		$(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSCONFDIR)/default
	install -m 0755 target/release/corescope $(DESTDIR)$(SBINDIR)/corescope
	set -e; for p in $(PROGS); do n=$${p#*:}; \
		[ $$n = corescope ] || ln -f $(DESTDIR)$(SBINDIR)/corescope $(DESTDIR)$(SBINDIR)/$$n; \
		install -m 0644 $(GEN)/man8/$$n.8 $(DESTDIR)$(MAN8DIR)/$$n.8; \
		install -m 0644 $(GEN)/bash/$$n $(DESTDIR)$(BASHDIR)/$$n; \
		install -m 0644 $(GEN)/zsh/_$$n $(DESTDIR)$(ZSHDIR)/_$$n; \
		install -m 0644 $(GEN)/fish/$$n.fish $(DESTDIR)$(FISHDIR)/$$n.fish; \
	done
	sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' packaging/$(UNIT) >$(DESTDIR)$(SYSTEMDUNITDIR)/$(UNIT)
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/$(UNIT)
	@if [ -e $(DESTDIR)$(DEFAULTS) ]; then echo "make install: kept $(DESTDIR)$(DEFAULTS)"; \
	else install -m 0644 packaging/corescope-exporter.default $(DESTDIR)$(DEFAULTS); fi

# Removes exactly the files install put (same PREFIX, SUFFIX, NAMEPREFIX and
# directory variables); directories stay, and so does a defaults file that
# differs from the one install puts (edited, or not ours).
uninstall:
	for p in $(PROGS); do n=$${p#*:}; \
		rm -f $(DESTDIR)$(SBINDIR)/$$n $(DESTDIR)$(MAN8DIR)/$$n.8 $(DESTDIR)$(BASHDIR)/$$n \
			$(DESTDIR)$(ZSHDIR)/_$$n $(DESTDIR)$(FISHDIR)/$$n.fish; \
	done
	rm -f $(DESTDIR)$(SYSTEMDUNITDIR)/$(UNIT)
	@if cmp -s packaging/corescope-exporter.default $(DESTDIR)$(DEFAULTS); then rm -f $(DESTDIR)$(DEFAULTS); \
	elif [ -e $(DESTDIR)$(DEFAULTS) ]; then echo "make uninstall: kept $(DESTDIR)$(DEFAULTS) (not as installed)"; fi

# $(DISTDIR)/corescope-$(VERSION).tar.gz: the files git has (or would add),
# the crates vendored (cargo vendor: the only step that reaches the crate
# registry) and a .cargo/config.toml that builds from them offline,
# debian/copyright listing them, and generated/: the man pages and
# completions of the default names (see packaging/dist.sh).
dist:
	$(MAKE) --no-print-directory gen NAMEPREFIX= SUFFIX=
	CARGO=$(CARGO) ./packaging/dist.sh $(DISTDIR)

# target/deb/corescope_$(VERSION)_<arch>.deb: debian/ on the dist tarball,
# unpacked in target/deb (what a distro packager runs; see README).
deb: dist
	rm -rf target/deb && mkdir -p target/deb
	tar -xzf $(DISTDIR)/$(DIST).tar.gz -C target/deb
	cd target/deb/$(DIST) && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL dpkg-buildpackage -b -us -uc
	@ls target/deb/corescope_$(VERSION)_*.deb

# The tarball built from a clean copy, built and installed from with no
# network, the .deb built from it offline and checked with lintian (root:
# unshare -n). Slow (see README): its own target, run by CI after make test.
test-dist: deps
	./packaging/test-dist.sh

clean:
	$(CARGO_RUN) clean
