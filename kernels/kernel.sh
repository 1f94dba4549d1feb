# shellcheck shell=bash
# Kernel packages for kernels/run.sh (sourced): resolve a Debian package
# name, download it once into $CACHE/debs, and extract what the test needs
# into $CACHE/<release>/: vmlinuz, config, and vmlinux.btf (the kernel's own
# BTF, i.e. what the guest has at /sys/kernel/btf/vmlinux, taken from the
# .BTF section of the vmlinux inside vmlinuz).

# A meta package (linux-image-amd64, linux-image-6.12-amd64) → the image
# package it currently depends on; a concrete package name → itself. Prints
# nothing if apt does not know it. The last resolution is remembered in the
# cache, so an offline run reuses the kernel it has.
resolve_kernel() { # SPEC
	local spec=$1 pkg memo="$CACHE/debs/$1.resolved"
	pkg=$(apt-cache depends "$spec" 2>/dev/null |
		awk '$1 == "Depends:" && $2 ~ /^linux-image-/ { print $2; exit }')
	if [ -z "$pkg" ] && apt-cache show "$spec" 2>/dev/null | grep -q '^Package: linux-image-'; then
		pkg=$spec
	fi
	if [ -n "$pkg" ]; then
		mkdir -p "$CACHE/debs"
		echo "$pkg" >"$memo"
	elif [ -s "$memo" ]; then
		pkg=$(cat "$memo")
		echo "kernels: apt does not know $spec now; using $pkg from the cache" >&2
	fi
	echo "$pkg"
}

# The cached .deb of PKG, downloading it first if needed (older versions of
# the same package are removed).
fetch_kernel() { # PKG
	local pkg=$1 deb
	deb=$(ls -t "$CACHE/debs/${pkg}"_*.deb 2>/dev/null | head -n1)
	if [ -z "$deb" ] || ! dpkg-deb --info "$deb" >/dev/null 2>&1; then
		echo "kernels: downloading $pkg" >&2
		(cd "$CACHE/debs" && apt-get -qq -o APT::Sandbox::User=root download "$pkg") >&2 || return 1
		deb=$(ls -t "$CACHE/debs/${pkg}"_*.deb | head -n1)
	fi
	for old in "$CACHE/debs/${pkg}"_*.deb; do
		[ "$old" = "$deb" ] || rm -f "$old"
	done
	echo "$deb"
}

# The decompressed vmlinux ELF inside a bzImage (like the kernel's
# scripts/extract-vmlinux): try each compressed stream the image holds.
extract_vmlinux() { # VMLINUZ OUT
	local img=$1 out=$2 magic tool off
	for pair in '\xfd7zXZ\x00:xz' '\x28\xb5\x2f\xfd:zstd' '\x1f\x8b\x08:gzip' '\x02\x21\x4c\x18:lz4'; do
		magic=${pair%:*} tool=${pair#*:}
		command -v "$tool" >/dev/null || continue
		for off in $(LC_ALL=C grep -obUaP "$magic" "$img" | cut -d: -f1); do
			tail -c +$((off + 1)) "$img" | "$tool" -dc 2>/dev/null >"$out" || true
			if [ "$(head -c 4 "$out" | od -An -tx1 | tr -d ' \n')" = 7f454c46 ]; then
				return 0
			fi
		done
	done
	rm -f "$out"
	return 1
}

# Extracts DEB into $CACHE/<release>/ (once per package version); prints that
# directory. Debian names the image package linux-image-<release>[-unsigned].
prepare_kernel() { # DEB
	local deb=$1 pkg ver rel dir tmp
	pkg=$(dpkg-deb -f "$deb" Package) ver=$(dpkg-deb -f "$deb" Version)
	rel=${pkg#linux-image-}
	rel=${rel%-unsigned}
	dir="$CACHE/$rel"
	if [ "$(cat "$dir/package" 2>/dev/null)" = "$pkg $ver" ] && [ -s "$dir/vmlinuz" ]; then
		echo "$dir"
		return 0
	fi
	echo "kernels: extracting $rel from $(basename "$deb")" >&2
	rm -rf "$dir"
	mkdir -p "$dir"
	tmp=$(mktemp -d "$CACHE/extract.XXXXXX")
	if ! dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$tmp" "./boot/vmlinuz-$rel" "./boot/config-$rel"; then
		echo "kernels: no /boot/vmlinuz-$rel in $deb" >&2
		rm -rf "$tmp"
		return 1
	fi
	cp "$tmp/boot/config-$rel" "$dir/config"
	if ! grep -q '^CONFIG_DEBUG_INFO_BTF=y' "$dir/config"; then
		echo "kernels: note: $rel is built without BTF (CONFIG_DEBUG_INFO_BTF)" >&2
	elif ! extract_vmlinux "$tmp/boot/vmlinuz-$rel" "$tmp/vmlinux" ||
		! objcopy -O binary --only-section=.BTF "$tmp/vmlinux" "$dir/vmlinux.btf" ||
		! [ -s "$dir/vmlinux.btf" ]; then
		echo "kernels: cannot extract the BTF of $rel from its vmlinuz" >&2
		rm -rf "$tmp"
		return 1
	fi
	cp "$tmp/boot/vmlinuz-$rel" "$dir/vmlinuz"
	rm -rf "$tmp"
	echo "$pkg $ver" >"$dir/package" # last: marks the extraction complete
	echo "$dir"
}
