#!/usr/bin/env bash
# Install everything the test suite needs, then run lint, types and every test.
# Used by the README's Quick start and by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

PY=${PYTHON:-python3}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'

# System pieces the tests use: PostgreSQL must be up (its tests never skip), Chromium for the
# dashboard tests.
bash scripts/services.sh

.venv/bin/ruff check src tests benchmarks
.venv/bin/ruff format --check src tests benchmarks
.venv/bin/mypy src/tradeguard
.venv/bin/pytest "$@"
