#!/usr/bin/env bash
# The main job: set up, then materialize every asset for a default ledger range and summarize.
# Default source: the public pubnet data lake. Offline: TTP_LAKE_URI=../shared/data/lake/pubnet
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export DAGSTER_HOME="$PWD"
exec .venv/bin/python -m ttp_assets.main "$@"
