#!/usr/bin/env bash
# make dist: OUTDIR/corescope-VERSION.tar.gz, a source tarball that builds
# with no network: the files git has or would add (as in the work tree),
# vendor/ (cargo vendor), .cargo/config.toml using it, and debian/copyright
# for them (packaging/copyright.sh), generated/ (man pages, completions).
#   usage: dist.sh OUTDIR
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
outdir=$1
cargo=${CARGO:-cargo}
if ! git -C "$here" rev-parse --git-dir >/dev/null 2>&1; then
	echo "dist.sh: $here is not a git checkout (its file list comes from git); hint: run make dist in a clone" >&2
	exit 1
fi
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$here/Cargo.toml" | head -1)
name=corescope-$version

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir "$stage/$name"
# Tracked and untracked-but-not-ignored files that exist (a file deleted in
# the work tree and not committed yet is left out).
(cd "$here" && git ls-files -z --cached --others --exclude-standard |
	while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
	tar --null -T - -cf -) | tar -xf - -C "$stage/$name"

# The man pages and completions (make gen, run by make dist, default names):
# building from the tarball then needs no debug build for them.
gen=$here/target/generated/names@
if [ ! -d "$gen/man8" ]; then
	echo "dist.sh: $gen/man8 is missing; hint: run make dist, which runs make gen first" >&2
	exit 1
fi
mkdir "$stage/$name/generated"
cp -R "$gen/man8" "$gen/bash" "$gen/zsh" "$gen/fish" "$stage/$name/generated/"

# Every crate of Cargo.lock, for every platform (cargo vendor has no
# platform filter: the Windows crates are ~13% of the tarball).
(cd "$stage/$name" && "$cargo" vendor --locked --quiet vendor >/dev/null)
mkdir -p "$stage/$name/.cargo"
cat >"$stage/$name/.cargo/config.toml" <<'CONF'
# Written by `make dist`: the crates come from vendor/, never the network.
[source.crates-io]
replace-with = "vendored-sources"

[source.vendored-sources]
directory = "vendor"

[net]
offline = true
CONF
"$here/packaging/copyright.sh" "$stage/$name" >"$stage/$name/debian/copyright"

# Reproducible: sorted, fixed owner, times from the last commit, no gzip time.
mtime=$(git -C "$here" log -1 --format=%ct 2>/dev/null || echo 0)
mkdir -p "$outdir"
out=$outdir/$name.tar.gz
tar --sort=name --mtime="@$mtime" --owner=0 --group=0 --numeric-owner \
	-C "$stage" -cf - "$name" | gzip -9n >"$out.tmp"
mv "$out.tmp" "$out"
echo "$out"
