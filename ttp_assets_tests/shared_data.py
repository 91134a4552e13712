"""The real ledgers in ``../shared/data``, as tests read them.

Tests need this data; when it is missing they fail with a message saying where it was looked for,
they never skip. ``TTP_SHARED_DATA`` overrides the location.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from ttp_assets.core.network import Network, resolve_network
from ttp_assets.core.xdr.framing import decompress_zstd, split_lcm_batch, split_record_marked

REPO_ROOT = Path(__file__).resolve().parent.parent


def shared_data_dir() -> Path:
    root = Path(os.environ.get("TTP_SHARED_DATA", REPO_ROOT.parent / "shared" / "data"))
    if not (root / "README.md").is_file():
        raise FileNotFoundError(
            f"real ledger data not found at {root}: the tests read ../shared/data beside the "
            f"clone (or TTP_SHARED_DATA); it is required, not optional"
        )
    return root


def lake_dir(name: str) -> Path:
    path = shared_data_dir() / "lake" / name
    if not (path / ".config.json").is_file():
        raise FileNotFoundError(f"data lake {path} is missing its .config.json")
    return path


@dataclass(frozen=True)
class LedgerFile:
    """One file of real ledgers and the network they belong to."""

    path: Path
    network: Network
    label: str

    def ledgers(self) -> list[bytes]:
        return _ledgers(self.path)


@cache
def _ledgers(path: Path) -> list[bytes]:
    raw = decompress_zstd(path.read_bytes(), str(path))
    if path.parent.parent.name == "lake" or path.parent.parent.parent.name == "lake":
        return split_lcm_batch(raw, str(path))[2]
    return split_record_marked(raw, str(path))


def lake_files(name: str) -> list[LedgerFile]:
    root = lake_dir(name)
    cfg = json.loads((root / ".config.json").read_text())
    network = resolve_network(cfg["networkPassphrase"])
    files = sorted(p for p in root.glob("*/*") if p.name.endswith((".xdr.zst", ".xdr.zstd")))
    return [LedgerFile(p, network, f"lake/{name}/{p.name}") for p in files]


def core_test_files() -> list[LedgerFile]:
    root = shared_data_dir() / "core-tests"
    network = resolve_network("core-tests")
    out = []
    for suite in sorted(p for p in root.iterdir() if p.is_dir()):
        index = json.loads((suite / "index.json").read_text())
        for path in sorted(suite.glob("*.xdr.zst")):
            label = f"core-tests/{suite.name}/{index.get(path.name.split('.')[0], path.name)}"
            out.append(LedgerFile(path, network, label))
    if not out:
        raise FileNotFoundError(f"no core-tests ledgers under {root}")
    return out


def bench_files() -> list[LedgerFile]:
    root = shared_data_dir() / "bench"
    network = resolve_network("standalone")
    return [LedgerFile(p, network, f"bench/{p.name}") for p in sorted(root.glob("*.xdr.zstd"))]


def rpc_example(name: str) -> dict:
    return json.loads((shared_data_dir() / "rpc" / name).read_text())


def rpc_ledgers() -> Iterator[tuple[bytes, Network]]:
    """The LCMs inside the RPC examples (testnet)."""
    import base64

    network = resolve_network("testnet")
    ledgers = rpc_example("getLedgers_example_testnet_36233-36234.json")["result"]["ledgers"]
    for entry in ledgers:
        yield base64.b64decode(entry["metadataXdr"]), network
    latest = rpc_example("getLatestLedger_example_testnet_2002985.json")["result"]
    if "metadataXdr" in latest:
        yield base64.b64decode(latest["metadataXdr"]), network


def all_verifiable_files() -> list[LedgerFile]:
    """Every file whose transactions pair with envelopes under a known network passphrase."""
    return (
        lake_files("pubnet")
        + lake_files("pubnet-p26")
        + lake_files("testnet-2022")
        + core_test_files()
    )
