"""The ``code_version`` of each asset: what decides its rows, fingerprinted.

Rows come from the native core (decoder, verification, token transfer processor, Arrow builders)
and are shaped by the table's schema. The version is a hash of both: the core's build-time hash
of its sources and locked dependencies (``ttp_native.SOURCE_HASH``) and the table's Arrow
schema. Dagster compares it with the version that materialized each partition, so after a
change to either, the UI marks the partitions written before it as stale (and only those); the
Python orchestration around the core does not change rows and is not part of it.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa

from ..core.native import SOURCE_HASH


def code_version(schema: pa.Schema) -> str:
    digest = hashlib.sha256(SOURCE_HASH.encode())
    digest.update(schema.serialize().to_pybytes())
    return digest.hexdigest()[:16]
