#!/usr/bin/env bash
# Install everything the test suite needs, then run lint, types and every test.
# Used by the README's Quick start and by CI (.ci/run). Arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '[%s] %s\n' "$1" "$2"; }

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  step 1/6 "creating the virtual environment .venv ($("$PY" --version))"
  "$PY" -m venv .venv
else
  step 1/6 "using the virtual environment .venv"
fi
step 2/6 "installing tradeguard and its development dependencies into .venv (pip; a minute or two on a fresh machine)"
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet --progress-bar off -e '.[dev]'
# pip compiles site-packages, not an editable src/: compile it too, or every start (each CLI
# test, each sweep worker) compiles it again when PYTHONDONTWRITEBYTECODE is set.
.venv/bin/python -m compileall -q src/tradeguard

# System pieces the tests use: PostgreSQL must be up (its tests never skip), Chromium for the
# dashboard tests.
step 3/6 "checking PostgreSQL on 127.0.0.1:5432 and Chromium (started or installed when missing)"
bash scripts/services.sh

# The local chain's Uniswap V2 contracts: npm tarballs, cached, sha256 pinned, never committed.
bash scripts/fetch_uniswap.sh

step 4/6 "ruff: lint and format"
.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
step 5/6 "mypy src/tradeguard"
.venv/bin/mypy src/tradeguard
step 6/6 "pytest $*"
.venv/bin/pytest "$@"
