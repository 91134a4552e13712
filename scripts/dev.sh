#!/usr/bin/env bash
# The Dagster UI and daemon on the local instance (http://127.0.0.1:3000), with the settings the
# main job saved in .dagster_home/ttp.env (variables set in the environment override them).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The local instance: everything Dagster writes stays in .dagster_home (see dagster.yaml).
export DAGSTER_HOME="${DAGSTER_HOME:-$PWD/.dagster_home}"
mkdir -p "$DAGSTER_HOME"
[ -e "$DAGSTER_HOME/dagster.yaml" ] || ln -s "$PWD/dagster.yaml" "$DAGSTER_HOME/dagster.yaml"
if [ -f "$DAGSTER_HOME/ttp.env" ]; then
  echo "settings: $DAGSTER_HOME/ttp.env (saved by scripts/main.sh; the environment overrides)" >&2
fi
exec .venv/bin/dagster dev -w workspace.yaml -h 127.0.0.1 -p "${DAGSTER_PORT:-3000}"
