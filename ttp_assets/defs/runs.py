"""Shared shape of a partitioned asset run: spool per partition, clean up on failure, and turn
domain errors into Dagster failures that name the asset and the partition."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import dagster as dg
import pyarrow as pa

from ..core.network import NetworkMismatchError
from ..core.sources.base import SourceError
from ..core.storage.partitions_reader import PartitionNotMaterializedError
from ..core.ttp import TokenTransferError
from ..core.xdr.framing import LedgerDataError

# Errors that describe bad or unavailable input: reported as a clean failure, not a traceback.
INPUT_ERRORS: tuple[type[BaseException], ...] = (
    SourceError,
    LedgerDataError,
    NetworkMismatchError,
    PartitionNotMaterializedError,
    TokenTransferError,
)


def column_schema(schema: pa.Schema) -> dg.TableSchema:
    """The Arrow schema as Dagster column metadata (shown in the UI's asset page)."""
    return dg.TableSchema(
        columns=[
            dg.TableColumn(
                f.name,
                str(f.type),
                description=(f.metadata or {}).get(b"description", b"").decode() or None,
                constraints=dg.TableColumnConstraints(nullable=f.nullable),
            )
            for f in schema
        ]
    )


@contextlib.contextmanager
def partition_failure(asset: str, key: str) -> Iterator[None]:
    """Re-raise input errors as ``dg.Failure`` naming the asset and partition."""
    try:
        yield
    except INPUT_ERRORS as exc:
        raise dg.Failure(
            description=f"{asset} partition {key}: {exc}",
            metadata={
                "partition": key,
                "error_type": type(exc).__name__,
                "nothing_written": "no partition of this run was committed",
            },
        ) from exc
