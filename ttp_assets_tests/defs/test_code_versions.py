"""Each asset's ``code_version`` fingerprints what decides its rows, so Dagster can say which
stored partitions a change to the native core or a schema has made stale."""

from __future__ import annotations

import hashlib
from pathlib import Path

import dagster as dg
import ttp_native
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus
from dagster._core.loader import LoadingContextForTest

from ttp_assets.core import schemas
from ttp_assets.definitions import build_definitions
from ttp_assets.settings import Settings
from ttp_assets_tests.harness import TEST_WIDTH, TESTNET_FIRST, failure_messages, materialize
from ttp_assets_tests.shared_data import lake_dir

NATIVE = Path(__file__).resolve().parents[2] / "native"


def test_the_core_fingerprint_is_its_sources_and_locked_dependencies() -> None:
    """The installed core was built from the sources in this checkout (the setup script
    rebuilds it when they change), and the hash covers them exactly as build.rs says."""
    files = sorted(p.relative_to(NATIVE) for p in (NATIVE / "src").rglob("*.rs"))
    digest = hashlib.sha256()
    for rel in [*files, Path("Cargo.toml"), Path("Cargo.lock")]:
        digest.update(rel.as_posix().encode() + b"\0" + (NATIVE / rel).read_bytes() + b"\0")
    assert digest.hexdigest() == ttp_native.SOURCE_HASH


def test_every_table_has_its_own_code_version() -> None:
    graph = build_definitions().resolve_asset_graph()
    versions = {t: graph.get(dg.AssetKey(t)).code_version for t in schemas.NATIVE_TABLES}
    assert all(versions.values()) and len(set(versions.values())) == len(versions)


def test_a_changed_code_version_marks_exactly_the_stored_partitions_stale(tmp_path: Path) -> None:
    settings = Settings(
        network="testnet",
        lake_uri=str(lake_dir("testnet-2022")),
        storage_uri=str(tmp_path / "store"),
        partition_width=TEST_WIDTH,
    )
    instance = dg.DagsterInstance.ephemeral()
    result = materialize(settings, TESTNET_FIRST, TESTNET_FIRST + TEST_WIDTH - 1, instance=instance)
    assert result.success, failure_messages(result)
    (key,) = instance.get_dynamic_partitions("ledger_ranges")
    defs = build_definitions(settings)
    assets = [a for a in defs.assets or [] if isinstance(a, dg.AssetsDefinition)]

    def status(assets: list[dg.AssetsDefinition], table: str) -> StaleStatus:
        graph = dg.Definitions(assets=assets, resources=defs.resources).resolve_asset_graph()
        resolver = CachingStaleStatusResolver(instance, graph, LoadingContextForTest(instance))
        return resolver.get_status(dg.AssetKey(table), key)

    for table in schemas.TABLES:
        assert status(assets, table) == StaleStatus.FRESH, table

    # The same definitions after a change to the core: a new version on the ingest asset.
    raw = dg.AssetKey("raw_ledgers")
    changed = [
        a.map_asset_specs(
            lambda s: s.replace_attributes(code_version="changed") if s.key == raw else s
        )
        if raw in a.keys
        else a
        for a in assets
    ]
    assert status(changed, "raw_ledgers") == StaleStatus.STALE
    assert status(changed, "ttp_events") == StaleStatus.FRESH  # its own version is unchanged
