"""Period rollups (``asset_activity``, ``network_activity``, ``network_operations``) as Delta.

Layout: ``<root>/<table>/`` is a Delta table partitioned by ``day`` (the UTC date of the
period), one row per (grain, period, ...). Unlike the ledger-range tables, a rollup is not
replaced by partition key: an update replaces exactly the periods it recomputed, in one
commit (an overwrite whose predicate names those periods), so readers see either the old
figures of a period or the new ones. Any Delta reader lists and reads these tables; timestamps
are stored in microseconds, as in every Delta table here, and narrowed back by ``read``.
"""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pyarrow.dataset as ds
from deltalake import DeltaTable, write_deltalake
from deltalake.exceptions import TableNotFoundError

from .. import schemas
from .delta_store import delta_schema
from .location import Location

DAY_COLUMN = "day"


def _physical(logical: pa.Schema) -> pa.Schema:
    widened = delta_schema(logical)
    return widened.remove(widened.get_field_index("partition_key"))


def _iso(t: dt.datetime) -> str:
    return t.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def period_predicate(periods: dict[str, set[dt.datetime]]) -> str | None:
    """The Delta predicate selecting exactly these (grain, period_start) rows."""
    parts = []
    for grain, starts in sorted(periods.items()):
        if starts:
            values = ", ".join(f"'{_iso(s)}'" for s in sorted(starts))
            parts.append(f"(grain = '{grain}' AND period_start IN ({values}))")
    return " OR ".join(parts) or None


class RollupStore:
    """One rollup table under ``location``."""

    def __init__(self, location: Location, table: str):
        self.location = location
        self.table = table
        self.schema = schemas.ROLLUP_TABLES[table]
        self.physical = _physical(self.schema)

    @property
    def uri(self) -> str:
        return self.location.delta_uri(self.table)

    def display(self) -> str:
        return self.location.display(self.table)

    def _table(self) -> DeltaTable | None:
        try:
            return DeltaTable(self.uri, storage_options=self.location.delta_storage_options())
        except TableNotFoundError:
            return None

    def replace_periods(self, rows: pa.Table, periods: dict[str, set[dt.datetime]]) -> int:
        """Replace the rows of ``periods`` with ``rows`` (all of which lie in them) in one
        commit; returns the new table version."""
        predicate = period_predicate(periods)
        data = pa.Table.from_arrays(
            [rows.column(f.name).cast(f.type) for f in self.physical], schema=self.physical
        )
        existing = self._table()
        if existing is None or predicate is None:
            if data.num_rows == 0 and existing is not None:
                return existing.version()
            mode = "append"
        else:
            mode = "overwrite"
        write_deltalake(
            self.uri,
            data,
            partition_by=[DAY_COLUMN],
            mode=mode,
            predicate=predicate if mode == "overwrite" else None,
            storage_options=self.location.delta_storage_options(),
        )
        table = self._table()
        return table.version() if table is not None else -1

    def read(self, filter: ds.Expression | None = None) -> pa.Table:
        """The current rows (logical types), read through pyarrow's filesystem."""
        table = self._table()
        if table is None:
            return self.schema.empty_table()
        actions = pa.table(table.get_add_actions(flatten=True))
        data_schema = self.physical.remove(self.physical.get_field_index(DAY_COLUMN))
        parts = []
        for path, day in zip(
            actions.column("path").to_pylist(),
            actions.column(f"partition.{DAY_COLUMN}").to_pylist(),
            strict=True,
        ):
            got = ds.dataset(
                self.location.path(self.table, path),
                format="parquet",
                filesystem=self.location.fs,
                schema=data_schema,
            ).to_table(filter=filter)
            parts.append(got.append_column(DAY_COLUMN, pa.array([day] * got.num_rows)))
        if not parts:
            return self.schema.empty_table()
        merged = pa.concat_tables(parts, promote_options="permissive")
        return pa.Table.from_arrays(
            [merged.column(f.name).cast(f.type) for f in self.schema], schema=self.schema
        )

    def row_count(self) -> int:
        table = self._table()
        if table is None:
            return 0
        actions = pa.table(table.get_add_actions(flatten=True))
        return sum(n or 0 for n in actions.column("num_records").to_pylist())

    def maintain(self, retention_hours: int) -> dict[str, int]:
        """Compact the small files that period replacements leave, checkpoint, vacuum."""
        table = self._table()
        if table is None:
            return {}
        metrics = table.optimize.compact()
        table = self._table()
        assert table is not None
        table.create_checkpoint()
        vacuumed = table.vacuum(
            retention_hours=retention_hours, enforce_retention_duration=False, dry_run=False
        )
        table.cleanup_metadata()
        return {
            "files_removed": int(metrics.get("numFilesRemoved", 0)),
            "files_added": int(metrics.get("numFilesAdded", 0)),
            "vacuumed": len(vacuumed),
            "version": table.version(),
        }
