#!/usr/bin/env bash
# The main job: set up, then materialize every asset for a default ledger range and summarize.
# Default source: the public pubnet data lake. Offline: TTP_LAKE_URI=../shared/data/lake/pubnet
# The settings it runs with are saved in .dagster_home/ttp.env; scripts/dev.sh (the UI and
# daemon), the CLI and scripts/gateway.sh read them from there.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# The local instance: everything Dagster writes stays in .dagster_home (see dagster.yaml).
export DAGSTER_HOME="${DAGSTER_HOME:-$PWD/.dagster_home}"
mkdir -p "$DAGSTER_HOME"
[ -e "$DAGSTER_HOME/dagster.yaml" ] || ln -s "$PWD/dagster.yaml" "$DAGSTER_HOME/dagster.yaml"
exec .venv/bin/python -m ttp_assets.main "$@"
