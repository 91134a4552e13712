#!/usr/bin/env bash
# Idempotent set-up on a fresh machine: a Python 3.11 virtualenv in .venv with the project, its
# development dependencies and the native ledger core (the Rust crate in native/, a release
# build). Re-runs only reinstall what changed: the Python side when pyproject.toml changed, the
# native core when its sources changed.
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
"$PY" -c 'import sys; assert sys.version_info[:2] == (3, 11), f"Python 3.11 required, found {sys.version}"'
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=".venv/.ttp-installed"
want="$(sha256sum pyproject.toml | cut -d' ' -f1)"
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "setting up .venv (pip install -e .[dev]) ..." >&2
  if ! { .venv/bin/python -m pip install --quiet --upgrade pip \
         && .venv/bin/python -m pip install --quiet -e ".[dev]"; } >.venv/install.log 2>&1; then
    cat .venv/install.log >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi

# The native core: cargo (the Rust toolchain) compiles it; maturin installs it into .venv.
native_stamp=".venv/.ttp-native-installed"
native_want="$(cat native/Cargo.toml native/Cargo.lock native/pyproject.toml \
  $(find native/src -name '*.rs' | LC_ALL=C sort) | sha256sum | cut -d' ' -f1)"
if [ ! -f "$native_stamp" ] || [ "$(cat "$native_stamp")" != "$native_want" ] \
   || ! .venv/bin/python -c 'import ttp_native' >/dev/null 2>&1; then
  if ! command -v cargo >/dev/null 2>&1; then
    echo "the native core needs the Rust toolchain (cargo): install it with rustup" \
         "(https://rustup.rs), then run this again" >&2
    exit 1
  fi
  echo "building the native core (cargo release build of native/, a few minutes the first time) ..." >&2
  if ! { .venv/bin/maturin --version >/dev/null 2>&1 \
           || .venv/bin/python -m pip install --quiet "maturin==1.16.0"; } >.venv/native.log 2>&1 \
     || ! (cd native && VIRTUAL_ENV="$PWD/../.venv" ../.venv/bin/maturin develop --release \
             --locked --quiet) >>.venv/native.log 2>&1; then
    cat .venv/native.log >&2
    exit 1
  fi
  echo "$native_want" > "$native_stamp"
fi
