"""Keeping storage tidy: Delta compaction, checkpoints and vacuum; stale staging and spools.

The live tail commits an open partition every tick, which leaves many small Delta files and
log entries; compaction rewrites them into few (a new version, same rows), a checkpoint makes
the log fast to load, and vacuum removes files no version younger than the retention needs.
Readers of older versions within the retention keep working.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass

import pyarrow.fs as pafs

from .catalog import TABLE_FORMATS
from .delta_store import DeltaPartitionStore
from .location import Location
from .parquet_store import STAGING
from .spool import spool_root


@dataclass
class MaintenanceReport:
    table: str
    files_added: int = 0
    files_removed: int = 0
    vacuumed: int = 0
    version: int | None = None


def compact_delta(store: DeltaPartitionStore, retention_hours: int) -> MaintenanceReport:
    report = MaintenanceReport(store.table)
    if not store.table_exists():
        return report
    table = store._table()
    metrics = table.optimize.compact()
    report.files_added = int(metrics.get("numFilesAdded", 0))
    report.files_removed = int(metrics.get("numFilesRemoved", 0))
    table.create_checkpoint()
    report.vacuumed = len(
        table.vacuum(
            retention_hours=retention_hours, enforce_retention_duration=False, dry_run=False
        )
    )
    table.cleanup_metadata()
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


def remove_stale_spools(older_than_s: float) -> int:
    """Local spool folders of runs that died (a live run's are removed when it ends)."""
    removed = 0
    cutoff = time.time() - older_than_s
    for d in spool_root().iterdir():
        if d.is_dir() and d.stat().st_mtime < cutoff:
            shutil.rmtree(d, ignore_errors=True)
            removed += 1
    return removed
