#!/usr/bin/env bash
# Instructions per order with some modules compiled by mypyc, against the same code interpreted.
#
#   bash benchmarks/mypyc_probe.sh [DAYS] < modules.txt     (paths under src/, one a line)
#
# Copies src/ to a scratch directory, compiles the listed modules there with mypyc (the repository
# is never touched: no .so file can shadow an edited .py), then counts instructions with callgrind
# for benchmarks/order_window.py over DAYS days (1), `EveryCandle` and `Idle`, with the copy on
# PYTHONPATH and without. Prints one JSON line per build: instructions per order =
# (EveryCandle - Idle) / orders. Needs valgrind; takes several minutes (mypyc, gcc -O3, callgrind).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
DAYS=${1:-1}
PY="$ROOT/.venv/bin/python"
SCRATCH=$(mktemp -d)
trap 'rm -rf "$SCRATCH"' EXIT
mapfile -t MODULES
cp -r "$ROOT/src/tradeguard" "$SCRATCH/"
find "$SCRATCH" -name __pycache__ -prune -exec rm -rf {} +
(cd "$SCRATCH" && "$ROOT/.venv/bin/mypyc" "${MODULES[@]}" >"$SCRATCH/build.log" 2>&1) || {
    tail -20 "$SCRATCH/build.log" >&2
    exit 1
}
cp -r "$SCRATCH"/build/lib.*/* "$SCRATCH/"

count() {  # build strategy -> instructions
    local out="$SCRATCH/cg-$1-$2"
    PYTHONPATH=$([ "$1" = mypyc ] && echo "$SCRATCH" || true) PYTHONHASHSEED=0 \
        valgrind --tool=callgrind --callgrind-out-file="$out.cg" \
        "$PY" "$ROOT/benchmarks/order_window.py" "$2" "$DAYS" "$out.run" >"$out.json" 2>"$out.log" ||
        { grep -v '^==' "$out.log" | tail -5 >&2; return 1; }
    grep -o 'Collected : [0-9]*' "$out.log" | grep -o '[0-9]*$'
}

for build in pure mypyc; do
    busy=$(count "$build" EveryCandle) || exit 1
    idle=$(count "$build" Idle) || exit 1
    orders=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['orders'])" \
        "$SCRATCH/cg-$build-EveryCandle.json")
    echo "{\"build\": \"$build\", \"orders\": $orders, \"instructions_busy\": $busy," \
        "\"instructions_idle\": $idle, \"instructions_per_order\": $(((busy - idle) / orders))}"
done
