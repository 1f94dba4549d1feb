#!/usr/bin/env bash
# `make bench`: runs every tool's bench script (tools/<tool>/bench.sh) in
# turn (each is standalone).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
for b in "$ROOT"/tools/*/bench.sh; do
	echo "== ${b#"$ROOT"/}" >&2
	"$b"
done
