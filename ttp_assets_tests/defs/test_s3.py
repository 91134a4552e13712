"""The S3 paths against a real S3-compatible server on loopback (moto), laid out like the public
lake: ``s3://aws-public-blockchain/v1.1/stellar/ledgers/<network>/``, read anonymously."""

from __future__ import annotations

from pathlib import Path

import pytest

from ttp_assets.core.ledger_ranges import keys_covering
from ttp_assets.core.network import resolve_network
from ttp_assets.core.sources.base import MissingLedgerError
from ttp_assets.core.sources.datalake import DataLakeSource
from ttp_assets.core.sources.retry import RetryPolicy
from ttp_assets.settings import Settings
from ttp_assets_tests.conftest import S3Server
from ttp_assets_tests.harness import (
    TEST_WIDTH,
    TESTNET_FIRST,
    TESTNET_LAST,
    all_checks_passed,
    failure_messages,
    materialize,
    read_partition,
)
from ttp_assets_tests.shared_data import lake_dir

PUBLIC = "aws-public-blockchain"
PREFIX = "v1.1/stellar/ledgers"


@pytest.fixture(scope="module")
def public_lake(s3_server: S3Server) -> S3Server:
    s3_server.create_bucket(PUBLIC, public=True)
    s3_server.upload_tree(lake_dir("pubnet"), PUBLIC, f"{PREFIX}/pubnet", public=True)
    s3_server.upload_tree(lake_dir("testnet-2022"), PUBLIC, f"{PREFIX}/testnet", public=True)
    s3_server.create_bucket("ttp-warehouse")
    return s3_server


def lake_uri(server: S3Server, network: str) -> str:
    return f"s3://{PUBLIC}/{PREFIX}/{network}?endpoint={server.endpoint}"


def test_public_lake_layout_is_read_anonymously(public_lake: S3Server) -> None:
    src = DataLakeSource(lake_uri(public_lake, "pubnet"), resolve_network("pubnet"))
    assert src.location.s3 is not None and src.location.s3.anonymous
    assert src.location.s3.region == "us-east-2"
    (led,) = list(src.ledgers(53312000, 53312000))
    assert led.origin == (
        f"s3://{PUBLIC}/{PREFIX}/pubnet/FCD285FF--53312000-53375999/FCD285FF--53312000.xdr.zst"
    )
    assert (
        led.lcm
        == next(
            DataLakeSource(str(lake_dir("pubnet")), src.network).ledgers(53312000, 53312000)
        ).lcm
    )
    assert src.last_available(53312000, 100) == 53312000
    no_wait = RetryPolicy(attempts=2, sleep=lambda _s: None)
    src = DataLakeSource(lake_uri(public_lake, "pubnet"), src.network, retry=no_wait)
    with pytest.raises(MissingLedgerError, match="53312001 is missing"):
        list(src.ledgers(53312000, 53312001))


def test_private_bucket_needs_credentials(public_lake: S3Server) -> None:
    public_lake.upload_tree(lake_dir("pubnet"), "ttp-warehouse", "private-lake")
    uri = f"s3://ttp-warehouse/private-lake?endpoint={public_lake.endpoint}&anonymous=true"
    src = DataLakeSource(uri, resolve_network("pubnet"), retry=RetryPolicy(attempts=1))
    with pytest.raises(Exception, match=r"ACCESS_DENIED|AccessDenied"):
        _ = src.config


def test_assets_from_s3_lake_to_s3_storage_match_local(
    public_lake: S3Server, aws_env: None, tmp_path: Path
) -> None:
    s3 = Settings(
        network="testnet",
        lake_uri=lake_uri(public_lake, "testnet"),
        storage_uri=f"s3://ttp-warehouse/warehouse?endpoint={public_lake.endpoint}",
        partition_width=TEST_WIDTH,
        lake_workers=8,
    )
    local = Settings(
        network="testnet",
        lake_uri=str(lake_dir("testnet-2022")),
        storage_uri=str(tmp_path / "local"),
        partition_width=TEST_WIDTH,
    )
    result = materialize(s3, TESTNET_FIRST, TESTNET_LAST)
    assert result.success, failure_messages(result)
    assert all_checks_passed(result)
    assert materialize(local, TESTNET_FIRST, TESTNET_LAST).success
    keys = keys_covering(TESTNET_FIRST, TESTNET_LAST, TEST_WIDTH)
    listed = public_lake.client().list_objects_v2(Bucket="ttp-warehouse", Prefix="warehouse/")
    # Only committed partitions hold data: no staged object survives a commit. (pyarrow leaves
    # an empty "_staging/" folder marker behind on S3; it holds nothing and nothing reads it.)
    names = sorted(o["Key"] for o in listed["Contents"] if o["Size"] > 0)
    assert [n for n in names if n.startswith("warehouse/raw_ledgers/")] == [
        f"warehouse/raw_ledgers/{k}.parquet" for k in keys
    ]
    assert not [n for n in names if "_staging" in n]
    for table in ("raw_ledgers", "ledgers", "transactions", "operations"):
        for key in keys:
            assert read_partition(s3, table, key).equals(read_partition(local, table, key))
    # Re-materializing a partition on S3 replaces it: still one object, same rows.
    before = read_partition(s3, "operations", keys[2])
    again = materialize(s3, TESTNET_FIRST + 64, TESTNET_FIRST + 95, keys=[keys[2]])
    assert again.success, failure_messages(again)
    assert read_partition(s3, "operations", keys[2]).equals(before)
    listed = public_lake.client().list_objects_v2(
        Bucket="ttp-warehouse", Prefix="warehouse/operations/"
    )
    assert sorted(o["Key"] for o in listed["Contents"] if o["Size"] > 0) == [
        f"warehouse/operations/{k}.parquet" for k in keys
    ]
