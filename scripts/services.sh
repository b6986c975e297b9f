#!/usr/bin/env bash
# Make sure the local services the tests talk to are running and the browser is installed:
# PostgreSQL on 127.0.0.1:5432 (started with pg_ctlcluster when it is installed but down) and
# Chromium (installed with apt-get when missing; needs root).
set -euo pipefail

if pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
  echo "  PostgreSQL: running on 127.0.0.1:5432"
else
  echo "  PostgreSQL: not running; starting it (waits up to 30 s)"
  if command -v pg_ctlcluster >/dev/null 2>&1; then
    pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
  fi
  for _ in $(seq 1 30); do
    pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null && break
    sleep 1
  done
  pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null || {
    echo "PostgreSQL is not reachable on 127.0.0.1:5432: install it (apt-get install postgresql)," \
      "allow trust auth for 127.0.0.1 and create the database 'test'" >&2
    exit 1
  }
  echo "  PostgreSQL: started on 127.0.0.1:5432"
fi

if command -v chromium >/dev/null 2>&1; then
  echo "  Chromium: $(command -v chromium)"
else
  echo "  Chromium: missing; installing chromium and chromium-driver with apt-get (a few minutes)"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq chromium chromium-driver >/dev/null
  echo "  Chromium: installed at $(command -v chromium)"
fi
