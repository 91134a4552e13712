"""The platform runs the native core only: no Python XDR decoding is even imported.

Importing the definitions (what every Dagster process, the CLI and the main job do) must not
import stellar-sdk's XDR, the generated decoders of the reference implementation, or the
reference itself: no code is generated at start-up and there is no silent fallback.
"""

from __future__ import annotations

import json
import subprocess
import sys


def _modules_after(statement: str) -> list[str]:
    code = f"import sys, json\n{statement}\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_definitions_import_only_the_native_core() -> None:
    modules = _modules_after("import ttp_assets.definitions, flight_gateway.server")
    assert "ttp_native" in modules
    forbidden = [
        m
        for m in modules
        if m.startswith(("stellar_sdk", "xdrlib3", "ttp_assets_tests")) or "fastxdr" in m
    ]
    assert forbidden == []
