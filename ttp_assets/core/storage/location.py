"""Where data lives: a local folder or an S3 prefix, opened as a ``pyarrow.fs`` filesystem.

One URI form is used everywhere (sources, IO managers, Flight gateway)::

    /abs/or/relative/path
    file:///abs/path
    s3://bucket/prefix?region=us-east-2&endpoint=http://127.0.0.1:9000&anonymous=true

``endpoint`` (an S3-compatible server) falls back to ``AWS_ENDPOINT_URL_S3`` / ``AWS_ENDPOINT_URL``,
the region to ``AWS_REGION`` / ``AWS_DEFAULT_REGION``; credentials come from the usual AWS
environment. The public Stellar lake bucket is read anonymously in us-east-2, and only the URI's
own options change that: the AWS environment is the storage's, never the public lake's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pyarrow.fs as pafs

PUBLIC_LAKE_BUCKET = "aws-public-blockchain"
PUBLIC_LAKE_REGION = "us-east-2"
PUBNET_PUBLIC_LAKE = f"s3://{PUBLIC_LAKE_BUCKET}/v1.1/stellar/ledgers/pubnet"
_TRUE = {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class S3Settings:
    bucket: str
    region: str | None
    endpoint: str | None  # full URL, e.g. http://127.0.0.1:9000
    anonymous: bool
    connect_timeout: float = 10.0
    request_timeout: float = 60.0

    @property
    def endpoint_parts(self) -> tuple[str | None, str | None]:
        """(scheme, host:port) of the endpoint, for pyarrow."""
        if not self.endpoint:
            return None, None
        u = urlparse(self.endpoint if "://" in self.endpoint else f"https://{self.endpoint}")
        return u.scheme, u.netloc


@dataclass(frozen=True)
class Location:
    """A root folder on a filesystem; ``uri`` is how it was named (for messages and logs)."""

    uri: str
    root: str
    s3: S3Settings | None = None
    _fs: pafs.FileSystem | None = field(default=None, compare=False, repr=False)

    @property
    def is_local(self) -> bool:
        return self.s3 is None

    @cached_property
    def fs(self) -> pafs.FileSystem:
        if self._fs is not None:
            return self._fs
        if self.s3 is None:
            return pafs.LocalFileSystem()
        s = self.s3
        scheme, host = s.endpoint_parts
        kwargs: dict = {
            "region": s.region,
            "anonymous": s.anonymous,
            "connect_timeout": s.connect_timeout,
            "request_timeout": s.request_timeout,
            # Retries with backoff are ours (logged, bounded, classified); one attempt here.
            "retry_strategy": pafs.AwsStandardS3RetryStrategy(max_attempts=1),
        }
        if host:
            kwargs.update(endpoint_override=host, scheme=scheme)
        return pafs.S3FileSystem(**kwargs)

    def path(self, *parts: str) -> str:
        """Filesystem path of ``parts`` below the root (always '/'-joined)."""
        clean = [p.strip("/") for p in parts if p]
        return "/".join([self.root.rstrip("/"), *clean]) if clean else self.root

    def display(self, *parts: str) -> str:
        """URI-like name of ``parts`` below the root, for messages."""
        if self.s3 is None:
            return self.path(*parts)
        return "s3://" + self.path(*parts)

    def child(self, *parts: str) -> Location:
        sub = self.path(*parts)
        uri = ("s3://" + sub) if self.s3 is not None else sub
        return Location(uri=uri, root=sub, s3=self.s3, _fs=self._fs)

    def delta_storage_options(self) -> dict[str, str]:
        """The same location described for ``deltalake`` (object_store settings)."""
        if self.s3 is None:
            return {}
        s = self.s3
        opts: dict[str, str] = {}
        if s.region:
            opts["AWS_REGION"] = s.region
        if s.endpoint:
            opts["AWS_ENDPOINT_URL"] = s.endpoint
            if s.endpoint.startswith("http://"):
                opts["AWS_ALLOW_HTTP"] = "true"
        if s.anonymous:
            opts["AWS_SKIP_SIGNATURE"] = "true"
        for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
            if os.environ.get(key):
                opts[key] = os.environ[key]
        return opts

    def delta_uri(self, *parts: str) -> str:
        if self.s3 is None:
            return self.path(*parts)
        return "s3://" + self.path(*parts)


def open_location(uri: str, *, anonymous: bool | None = None) -> Location:
    """Parse a location URI (see module docs)."""
    if not uri:
        raise ValueError("empty storage location")
    if uri.startswith("s3://"):
        u = urlparse(uri)
        if not u.netloc:
            raise ValueError(f"S3 location {uri!r} has no bucket")
        q = {k: v[-1] for k, v in parse_qs(u.query).items()}
        unknown = set(q) - {"region", "endpoint", "anonymous"}
        if unknown:
            raise ValueError(f"S3 location {uri!r}: unknown option(s) {sorted(unknown)}")
        public = u.netloc == PUBLIC_LAKE_BUCKET
        if public:
            # The AWS environment describes the deployment's own bucket (a MinIO endpoint,
            # another region): it must not redirect reads of the public lake.
            region = q.get("region") or PUBLIC_LAKE_REGION
            endpoint = q.get("endpoint")
        else:
            region = (
                q.get("region")
                or os.environ.get("AWS_REGION")
                or os.environ.get("AWS_DEFAULT_REGION")
            )
            endpoint = (
                q.get("endpoint")
                or os.environ.get("AWS_ENDPOINT_URL_S3")
                or os.environ.get("AWS_ENDPOINT_URL")
            )
        anon = anonymous
        if anon is None:
            anon = q["anonymous"].lower() in _TRUE if "anonymous" in q else public
        settings = S3Settings(u.netloc, region, endpoint, anon)
        root = f"{u.netloc}/{u.path.strip('/')}".rstrip("/")
        clean = "s3://" + root
        return Location(uri=clean, root=root, s3=settings)
    if uri.startswith("file://"):
        uri = urlparse(uri).path
    if "://" in uri:
        raise ValueError(f"unsupported storage scheme in {uri!r} (use a path or s3://)")
    root = str(Path(uri).expanduser().resolve())
    return Location(uri=root, root=root)
