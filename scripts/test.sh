#!/usr/bin/env bash
# Install everything the test suite needs, then run lint, types and every test.
# Used by the README's Quick start and by CI (.ci/run). Arguments go to pytest.
# The tests run on TG_TEST_WORKERS pytest-xdist workers (default 2; 0 runs them in this one
# process, in file order).
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '[%s] %s\n' "$1" "$2"; }

WORKERS=${TG_TEST_WORKERS:-2}
case "$WORKERS" in
  '' | *[!0-9]* | ???*)
    echo "scripts/test.sh: TG_TEST_WORKERS=$WORKERS is not a number of workers; allowed 0..99 (0 runs the tests in one process)" >&2
    exit 2 ;;
esac
PARALLEL=()
if [ "$WORKERS" -gt 0 ]; then
  # worksteal: each worker starts on its half of the tests in file order (a file's tests stay
  # together, its module fixtures built once) and an idle worker takes tests queued on the
  # busy one, so no long file is left running alone at the end.
  PARALLEL=(-n "$WORKERS" --dist worksteal)
fi

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
step 6/6 "$(echo pytest ${PARALLEL[@]+"${PARALLEL[@]}"} "$@")"
.venv/bin/pytest ${PARALLEL[@]+"${PARALLEL[@]}"} "$@"
