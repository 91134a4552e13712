"""The data-lake source on the real lakes, on re-packed and tampered copies, and on failures."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pytest

from ttp_assets.core.network import NetworkMismatchError, resolve_network
from ttp_assets.core.sources.base import (
    MissingLedgerError,
    SourceConfigError,
    SourceUnavailableError,
)
from ttp_assets.core.sources.datalake import DataLakeSource, LakeConfig
from ttp_assets.core.sources.retry import RetryPolicy
from ttp_assets.core.storage.location import PUBNET_PUBLIC_LAKE, Location, open_location
from ttp_assets.core.xdr.framing import LedgerDataError
from ttp_assets_tests.harness import TESTNET_FIRST, TESTNET_LAST, copy_lake
from ttp_assets_tests.shared_data import lake_dir

TESTNET = resolve_network("testnet")
NO_WAIT = RetryPolicy(attempts=4, sleep=lambda _s: None)


def test_object_keys_follow_the_sep54_layout() -> None:
    cfg = LakeConfig("p", 1, 64000, "zstd", "1.0")
    assert cfg.object_stem(53312000) == "FCD285FF--53312000-53375999/FCD285FF--53312000"
    cfg8 = LakeConfig("p", 8, 4, "zstd", "1.0")
    assert cfg8.object_stem(13) == "FFFFFFFF--0-31/FFFFFFF7--8-15"
    assert LakeConfig("p", 1, 1, "zstd", "1.0").object_stem(5) == "FFFFFFFA--5"


def test_reads_the_real_testnet_lake_in_order() -> None:
    src = DataLakeSource(str(lake_dir("testnet-2022")), TESTNET, max_workers=8)
    got = list(src.ledgers(TESTNET_FIRST, TESTNET_LAST))
    assert [g.sequence for g in got] == list(range(TESTNET_FIRST, TESTNET_LAST + 1))
    assert got[0].origin.endswith("FFEA7BFF--1410048.xdr.zst")
    assert src.last_available(TESTNET_FIRST, 1000) == TESTNET_LAST
    assert src.last_available(TESTNET_FIRST - 10, 100) is None


def _repack(dst: Path, per_batch: int, per_partition: int, ext: str) -> Path:
    """The testnet ledgers re-packed into a lake with several ledgers per object."""
    src = DataLakeSource(str(lake_dir("testnet-2022")), TESTNET)
    ledgers = {s.sequence: s.lcm for s in src.ledgers(TESTNET_FIRST, TESTNET_LAST)}
    cfg = LakeConfig(TESTNET.passphrase, per_batch, per_partition, "zstd", "1.0")
    dst.mkdir()
    (dst / ".config.json").write_text(
        json.dumps(
            {
                "networkPassphrase": TESTNET.passphrase,
                "version": "1.0",
                "compression": "zstd",
                "ledgersPerBatch": per_batch,
                "batchesPerPartition": per_partition,
            }
        )
    )
    for start in range(TESTNET_FIRST, TESTNET_LAST + 1, per_batch):
        seqs = range(start, start + per_batch)
        body = struct.pack(">III", start, start + per_batch - 1, per_batch)
        body += b"".join(ledgers[s] for s in seqs)
        path = dst / (cfg.object_stem(start) + ext)
        path.parent.mkdir(parents=True, exist_ok=True)
        with pa.CompressedOutputStream(str(path), "zstd") as out:
            out.write(body)
    return dst


def test_multi_ledger_objects_and_the_older_extension(tmp_path: Path) -> None:
    lake = _repack(tmp_path / "lake", per_batch=8, per_partition=4, ext=".xdr.zstd")
    src = DataLakeSource(str(lake), TESTNET, max_workers=4)
    got = list(src.ledgers(TESTNET_FIRST + 3, TESTNET_FIRST + 20))  # starts mid-object
    assert [g.sequence for g in got] == list(range(TESTNET_FIRST + 3, TESTNET_FIRST + 21))
    direct = DataLakeSource(str(lake_dir("testnet-2022")), TESTNET)
    expected = list(direct.ledgers(TESTNET_FIRST + 3, TESTNET_FIRST + 20))
    assert [g.lcm for g in got] == [e.lcm for e in expected]


def test_wrong_ledgers_per_batch_in_config_names_the_expected_object(tmp_path: Path) -> None:
    lake = _repack(tmp_path / "lake", per_batch=8, per_partition=4, ext=".xdr.zst")
    cfg = json.loads((lake / ".config.json").read_text())
    cfg["ledgersPerBatch"] = 4  # the objects actually hold 8 ledgers each
    (lake / ".config.json").write_text(json.dumps(cfg))
    src = DataLakeSource(str(lake), TESTNET, retry=NO_WAIT)
    with pytest.raises(MissingLedgerError) as info:
        list(src.ledgers(TESTNET_FIRST, TESTNET_FIRST + 10))
    msg = str(info.value)
    assert "ledger 1410048 is missing" in msg
    assert "FFEA7BFF--1410048-1410063/FFEA7BFF--1410048-1410051.xdr.zst" in msg
    assert "ledgersPerBatch=4, batchesPerPartition=4" in msg


def test_object_holding_other_ledgers_is_rejected(tmp_path: Path) -> None:
    lake = _repack(tmp_path / "lake", per_batch=8, per_partition=4, ext=".xdr.zst")
    first = next(lake.rglob("*--1410048-1410055.xdr.zst"))
    second = next(lake.rglob("*--1410056-1410063.xdr.zst"))
    first.write_bytes(second.read_bytes())
    src = DataLakeSource(str(lake), TESTNET, retry=NO_WAIT)
    with pytest.raises(LedgerDataError, match=r"holds ledgers 1410056-1410063, expected 1410048"):
        list(src.ledgers(TESTNET_FIRST, TESTNET_FIRST + 10))


def test_missing_ledger_names_the_object(tmp_path: Path) -> None:
    lake = copy_lake(lake_dir("testnet-2022"), tmp_path / "lake")
    victim = next(lake.rglob("*--1410100.xdr.zst"))
    victim.unlink()
    src = DataLakeSource(str(lake), TESTNET, retry=NO_WAIT)
    with pytest.raises(MissingLedgerError, match=r"ledger 1410100 is missing .*1410100\.xdr\.zst"):
        list(src.ledgers(TESTNET_FIRST, TESTNET_LAST))


def test_wrong_network_and_broken_config(tmp_path: Path) -> None:
    with pytest.raises(NetworkMismatchError, match="TTP_NETWORK"):
        _ = DataLakeSource(str(lake_dir("testnet-2022")), resolve_network("pubnet")).config
    lake = copy_lake(lake_dir("testnet-2022"), tmp_path / "lake")
    (lake / ".config.json").write_text("{not json")
    with pytest.raises(SourceConfigError, match="not valid JSON"):
        _ = DataLakeSource(str(lake), TESTNET).config
    (lake / ".config.json").write_text(json.dumps({"networkPassphrase": TESTNET.passphrase}))
    with pytest.raises(SourceConfigError, match="missing or invalid field"):
        _ = DataLakeSource(str(lake), TESTNET).config
    (lake / ".config.json").unlink()
    with pytest.raises(SourceConfigError, match=r"no .*config\.json.*check TTP_LAKE_URI"):
        _ = DataLakeSource(str(lake), TESTNET).config


class _FlakyHandler(pafs.FileSystemHandler):
    """A local filesystem whose reads fail ``failures`` times before succeeding."""

    def __init__(self, failures: int):
        self.failures = failures
        self.calls = 0
        self.local = pafs.LocalFileSystem()

    def open_input_stream(self, path):  # type: ignore[no-untyped-def]
        self.calls += 1
        if self.calls <= self.failures:
            raise OSError("simulated: connection reset by peer")
        return self.local.open_input_stream(path, compression=None)

    def get_file_info(self, paths):  # type: ignore[no-untyped-def]
        return self.local.get_file_info(paths)

    def get_type_name(self):  # type: ignore[no-untyped-def]
        return "flaky"

    def __eq__(self, other):  # type: ignore[no-untyped-def]
        return self is other

    def __ne__(self, other):  # type: ignore[no-untyped-def]
        return self is not other

    def normalize_path(self, path):  # type: ignore[no-untyped-def]
        return path

    def get_file_info_selector(self, selector):  # type: ignore[no-untyped-def]
        return self.local.get_file_info(selector)

    def create_dir(self, path, recursive):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def delete_dir(self, path):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def delete_dir_contents(self, path, missing_dir_ok=False):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def delete_root_dir_contents(self):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def delete_file(self, path):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def move(self, src, dest):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def copy_file(self, src, dest):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def open_input_file(self, path):  # type: ignore[no-untyped-def]
        return self.local.open_input_file(path)

    def open_output_stream(self, path, metadata):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    def open_append_stream(self, path, metadata):  # type: ignore[no-untyped-def]
        raise NotImplementedError


def _flaky_source(failures: int, attempts: int) -> tuple[DataLakeSource, list[float]]:
    root = str(lake_dir("testnet-2022"))
    fs = pafs.PyFileSystem(_FlakyHandler(failures))
    waits: list[float] = []
    retry = RetryPolicy(attempts=attempts, base_delay=0.5, sleep=waits.append)
    loc = Location(uri="flaky://" + root, root=root, _fs=fs)
    return DataLakeSource(loc, TESTNET, max_workers=1, retry=retry), waits


def test_transient_store_errors_are_retried_with_backoff() -> None:
    src, waits = _flaky_source(failures=2, attempts=5)
    got = list(src.ledgers(TESTNET_FIRST, TESTNET_FIRST + 2))
    assert [g.sequence for g in got] == [TESTNET_FIRST, TESTNET_FIRST + 1, TESTNET_FIRST + 2]
    assert len(waits) == 2 and all(0 <= w <= 1.0 for w in waits)


def test_a_store_that_keeps_failing_is_unavailable_not_missing() -> None:
    src, waits = _flaky_source(failures=100, attempts=3)
    with pytest.raises(SourceUnavailableError, match=r"after 3 attempts.*connection reset"):
        list(src.ledgers(TESTNET_FIRST, TESTNET_FIRST))
    assert len(waits) == 2


def test_unreachable_s3_endpoint_is_unavailable() -> None:
    import socket

    # A port bound but not listening refuses connections; holding it also keeps the kernel from
    # handing it out as the client's own source port (a TCP self-connection would answer).
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        port = held.getsockname()[1]
        uri = f"s3://lake/x?endpoint=http://127.0.0.1:{port}&anonymous=true&region=us-east-1"
        src = DataLakeSource(uri, TESTNET, retry=RetryPolicy(attempts=2, sleep=lambda _s: None))
        with pytest.raises(SourceUnavailableError, match=r"cannot read s3://lake/x/\.config\.json"):
            _ = src.config


def test_a_connection_error_is_never_mistaken_for_a_missing_object() -> None:
    from ttp_assets.core.sources.datalake import _is_missing_key, _is_transient

    refused = OSError(
        "When reading information for key 'x/FC0404FFFF--1404.xdr.zst' in bucket 'lake': AWS "
        "Error NETWORK_CONNECTION during HeadObject operation: curlCode: 7, Could not connect "
        "to server; Details: Failed to connect to 127.0.0.1:44049 after 0 ms"
    )
    assert not _is_missing_key(refused) and _is_transient(refused)
    gone = OSError("AWS Error NO_SUCH_KEY during GetObject operation: HTTP response code: 404")
    assert _is_missing_key(gone) and not _is_transient(gone)


def test_the_deployments_aws_settings_do_not_redirect_the_public_lake(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """AWS_REGION / AWS_ENDPOINT_URL set for the storage bucket (MinIO, another region) leave
    the public lake where it is; the storage still gets them."""
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9000")
    lake = open_location(PUBNET_PUBLIC_LAKE)
    assert lake.s3 is not None
    assert (lake.s3.region, lake.s3.endpoint, lake.s3.anonymous) == ("us-east-2", None, True)
    assert isinstance(lake.fs, pafs.S3FileSystem) and lake.fs.region == "us-east-2"
    storage = open_location("s3://my-bucket/ttp")
    assert storage.s3 is not None
    assert (storage.s3.region, storage.s3.endpoint) == ("eu-west-1", "http://127.0.0.1:9000")
    # The URI's own options still apply to the public bucket (e.g. a mirror).
    mirror = open_location(f"{PUBNET_PUBLIC_LAKE}?endpoint=http://127.0.0.1:9100&region=x")
    assert mirror.s3 is not None and (mirror.s3.region, mirror.s3.endpoint) == (
        "x",
        "http://127.0.0.1:9100",
    )
