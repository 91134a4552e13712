"""Keeping storage tidy: Delta compaction, checkpoints and vacuum; stale staging and spools.

The live tail commits an open partition every tick, adding a file each time, and compacts it
when it closes, so superseded files and log entries pile up. A checkpoint makes the log fast to
load, and vacuum removes the files no version within the retention needs (readers of those
versions keep working). A closed partition holding several files (one a crash left
uncompacted) is rewritten as one through the store; open ones are left to the run that closes
them. (delta-rs's ``optimize.compact`` would merge files in no particular row order, and
partitions promise rows in ledger order.) Parquet tables lose their unreferenced
open-partition segments (the stores also sweep them on every write).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass

import pyarrow.fs as pafs

from ..schemas import schema_for
from .catalog import TABLE_FORMATS
from .delta_store import TABLE_PROPERTIES, DeltaPartitionStore, PartitionWrite
from .location import Location
from .parquet_store import STAGING, ParquetPartitionStore
from .spool import spool_root


@dataclass
class MaintenanceReport:
    table: str
    partitions_compacted: int = 0
    files_before: int = 0
    files_after: int = 0
    vacuumed: int = 0
    version: int | None = None


def compact_delta(store: DeltaPartitionStore, retention_hours: int) -> MaintenanceReport:
    report = MaintenanceReport(store.table)
    if not store.table_exists():
        return report
    files = store.files_per_partition()
    report.files_before = sum(files.values())
    for key, count in sorted(files.items()):
        if count > 1:
            meta = {
                k: v
                for k, v in store.file_metadata(key).items()
                if k not in ("ttp.delta_version", "ttp.rows")
            }
            if meta.get("ttp.complete") == "false":
                continue  # open: appended to by the live tail, compacted when it closes
            store.write([PartitionWrite(key, lambda k=key: store.batches(k), meta)])
            report.partitions_compacted += 1
    table = store._table()
    # Tables created before the interval was set get it here, once.
    properties = table.metadata().configuration
    if any(properties.get(k) != v for k, v in TABLE_PROPERTIES.items()):
        table.alter.set_table_properties(TABLE_PROPERTIES)
    table.create_checkpoint()
    report.vacuumed = len(
        table.vacuum(
            retention_hours=retention_hours, enforce_retention_duration=False, dry_run=False
        )
    )
    table.cleanup_metadata()
    report.files_after = sum(store.files_per_partition().values())
    report.version = table.version()
    return report


def remove_stale_staging(location: Location, older_than_s: float) -> int:
    """Parquet staging files left by writers that died, older than ``older_than_s``."""
    removed = 0
    cutoff = time.time() - older_than_s
    for table, fmt in TABLE_FORMATS.items():
        if fmt != "parquet":
            continue
        sel = pafs.FileSelector(location.path(table, STAGING), allow_not_found=True)
        for info in location.fs.get_file_info(sel):
            if info.type == pafs.FileType.File and info.mtime and info.mtime.timestamp() < cutoff:
                location.fs.delete_file(info.path)
                removed += 1
    return removed


def sweep_segments(location: Location, grace_s: float) -> int:
    """Open-partition segments of the Parquet tables that no manifest names any more."""
    return sum(
        ParquetPartitionStore(location, table, schema_for(table)).sweep(grace_s)
        for table, fmt in TABLE_FORMATS.items()
        if fmt == "parquet"
    )


def remove_stale_spools(older_than_s: float) -> int:
    """Local spool folders of runs that died (a live run's are removed when it ends)."""
    removed = 0
    cutoff = time.time() - older_than_s
    for d in spool_root().iterdir():
        if d.is_dir() and d.stat().st_mtime < cutoff:
            shutil.rmtree(d, ignore_errors=True)
            removed += 1
    return removed
