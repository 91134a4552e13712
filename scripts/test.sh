#!/usr/bin/env bash
# The whole test suite, from a fresh machine: set up, lint (Python and Rust), the native crate's
# own tests, then pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bash scripts/setup_postgres.sh
bash scripts/setup_flight_front.sh
bash scripts/setup_browser.sh
.venv/bin/ruff check .
.venv/bin/ruff format --check .
(
  cd native
  cargo fmt --check
  cargo clippy --release --locked --all-targets -- -D warnings
  cargo clippy --release --locked --all-targets --features python -- -D warnings
  cargo test --release --locked
)
exec .venv/bin/python -m pytest "$@"
