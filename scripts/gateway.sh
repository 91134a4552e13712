#!/usr/bin/env bash
# The Arrow Flight gateway over the storage the assets are written to (grpc://127.0.0.1:8815,
# metrics on http://127.0.0.1:8816/metrics). Settings: the ones the main job saved in
# .dagster_home/ttp.env (its TTP_STORAGE_URI), under the environment's TTP_STORAGE_URI and
# TTP_FLIGHT_* (see the README). Without TTP_FLIGHT_TOKENS / TTP_FLIGHT_TOKENS_FILE it creates a
# reader token in .flight_token (mode 600) and uses it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The local instance folder, where the main job saved its settings (ttp.env).
export DAGSTER_HOME="${DAGSTER_HOME:-$PWD/.dagster_home}"
if [ -z "${TTP_FLIGHT_TOKENS:-}" ] && [ -z "${TTP_FLIGHT_TOKENS_FILE:-}" ] \
   && [ "${TTP_FLIGHT_AUTH:-token}" != "none" ]; then
  if [ ! -s .flight_token ]; then
    (umask 077 && .venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(32))' > .flight_token)
  fi
  echo "reader token: .flight_token (send 'authorization: Bearer <token>')" >&2
  export TTP_FLIGHT_TOKENS="reader:$(cat .flight_token)"
fi
exec .venv/bin/python -m flight_gateway "$@"
