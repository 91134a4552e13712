#!/usr/bin/env bash
# The deployment tests start a throwaway PostgreSQL server (deploy/dagster.yaml on real Postgres).
# Install the server binaries when they are missing; nothing is started or configured here.
set -euo pipefail
if command -v initdb >/dev/null 2>&1 || compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "PostgreSQL server binaries (initdb, pg_ctl) are missing and this is not root:" \
       "install them (Debian: sudo apt-get install postgresql)" >&2
  exit 1
fi
echo "installing PostgreSQL (apt-get install postgresql) ..." >&2
export DEBIAN_FRONTEND=noninteractive
if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends postgresql; } \
     >/tmp/ttp-postgres-install.log 2>&1; then
  cat /tmp/ttp-postgres-install.log >&2
  exit 1
fi
