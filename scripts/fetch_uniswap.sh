#!/usr/bin/env bash
# Fetch the Uniswap V2 npm packages (compiled contracts for the local chain) into the cache and
# check their pinned sha256. They are GPL and never committed. Needs npm once; cached after.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
[ -x "$PY" ] || PY=python3
PYTHONPATH=src "$PY" -m tradeguard.sandbox.chain.artifacts
