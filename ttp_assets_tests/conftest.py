"""Shared fixtures: the real data (required), a real S3-compatible server on loopback."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import boto3
import pytest
from dagster._core.storage.defs_state.base import DefsStateStorage, set_defs_state_storage

from ttp_assets_tests.shared_data import shared_data_dir


@pytest.fixture(scope="session", autouse=True)
def _require_shared_data() -> None:
    # Fails the whole session, loudly, when the real ledgers are not beside the clone.
    shared_data_dir()


@pytest.fixture(autouse=True)
def _no_leaked_dagster_instance() -> Iterator[None]:
    """Fail the test that leaves a Dagster instance entered.

    A schedule or sensor context built in a test opens its instance on an exit stack that only
    `with context:` closes. Left open, Dagster's current defs-state storage keeps pointing at that
    instance; once it is garbage collected every later `Definitions` load raises "Attempted to
    resolve undefined DagsterInstance weakref" in whichever test happens to run next.
    """
    yield
    leaked = DefsStateStorage.get()
    if leaked is not None:
        set_defs_state_storage(None).__enter__()  # so the next tests run clean
        pytest.fail("the test left a Dagster instance entered (build a context with `with`)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class S3Server:
    endpoint: str

    def client(self):  # type: ignore[no-untyped-def]
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            region_name="us-east-2",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    def create_bucket(self, name: str, public: bool = False) -> None:
        c = self.client()
        c.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": "us-east-2"})
        if public:
            c.put_bucket_acl(Bucket=name, ACL="public-read")

    def upload_tree(self, local: Path, bucket: str, prefix: str, public: bool = False) -> int:
        c = self.client()
        n = 0
        for path in sorted(local.rglob("*")):
            if path.is_file():
                key = f"{prefix.rstrip('/')}/{path.relative_to(local).as_posix()}"
                extra = {"ACL": "public-read"} if public else {}
                c.put_object(Bucket=bucket, Key=key, Body=path.read_bytes(), **extra)
                n += 1
        return n


@pytest.fixture(scope="session")
def s3_server() -> Iterator[S3Server]:
    """moto's S3 server, a real HTTP S3 endpoint on 127.0.0.1, for the whole session."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield S3Server(f"http://127.0.0.1:{port}")
    finally:
        server.stop()


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials for the signed (non-anonymous) requests to the test server."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_REGION", "us-east-2")


def write_json(path: Path, obj: object) -> None:
    path.write_text(json.dumps(obj))
