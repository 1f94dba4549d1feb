#!/usr/bin/env bash
# `make bench`: runs every bench/<tool>.sh in turn (each is standalone).
set -euo pipefail
cd "$(dirname "$0")"
for b in ./*.sh; do
	[ "$b" = ./run.sh ] && continue
	echo "== $b" >&2
	"$b"
done
