"""Parquet partitions: one file once closed, a manifest of appended segments while open.

Layout::

    <root>/<table>/<key>.parquet               a closed partition: one file, written once
    <root>/<table>/_open/<key>.json            an open partition's manifest: its segments, in
                                               ledger order, and its coverage (ttp.* keys)
    <root>/<table>/_open/<key>/<first>-<last>.<id>.parquet   the segments
    <root>/<table>/_staging/...                files being written (never read)

**Why two forms.** A partition at the network's tip is materialized again every tick while its
range fills up. Rewriting it whole each time made a tick's work grow with the partition (near
the end of a pubnet partition, gigabytes per 30 s). So an *incomplete* partition is stored open:
an incremental write adds the new ledgers' rows as one new segment file and commits a new
manifest naming the old segments plus the new one; nothing stored is rewritten. The write that
*completes* the partition compacts it once: one file ``<key>.parquet`` with every row in ledger
order, as a partition written in one go is.

**Atomicity.** A reader sees one version or the next, never a mix: segments are immutable and
only become part of the partition when a manifest naming them is moved into place (a rename on
a local disk, a server-side copy on S3, both atomic), and ``<key>.parquet`` is moved into place
the same way. When both exist the closed file wins: it is written after (and holds everything
of) any manifest, and a rewrite of a closed partition as open (a rebuild from a source that now
holds less) commits the manifest first and only then removes the closed file. Segments that no
manifest names any more (after compaction or a rebuild) are removed by ``sweep`` once they are
older than a grace period, so a reader that resolved the previous version can finish reading it.

Each closed file's footer, and each manifest, carries the partition key, ledger range and
completeness (``ttp.*`` keys), so a reader (the Flight gateway, an incremental
re-materialization) can tell what a partition holds without reading data.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from ..errors import StorageWriteError
from .location import Location

log = logging.getLogger(__name__)

STAGING = "_staging"
OPEN_DIR = "_open"
SUFFIX = ".parquet"
MANIFEST_SUFFIX = ".json"
# Unreferenced segments younger than this are kept: a reader may still be reading the version
# that named them (the Flight gateway resolves a partition's files when a request starts).
SEGMENT_GRACE_S = 600.0
# Large XDR columns make big rows; cap row groups so readers can stream them.
ROW_GROUP_ROWS = 65536
# Writers get small batches (the native core hands over a few ledgers' rows at a time). Written
# one row group each, 160 small ledgers made files of 112 row groups whose footers (statistics of
# every column of every row group) outweighed the data and were parsed again by every reader.
# Consecutive batches are therefore gathered into row groups of up to this much Arrow data, the
# size of the core's largest chunks (~4 MB of XDR); a bigger batch stays one row group on its
# own, as before. The largest row group, which bounds a reader's memory, stays what it was.
ROW_GROUP_BYTES = 4 << 20


@dataclass(frozen=True)
class WriteResult:
    key: str
    path: str
    rows: int  # rows the partition holds now
    bytes: int  # bytes the partition takes now
    written: int = 0  # bytes this write put in storage (segment, file and manifest)


@dataclass(frozen=True)
class Segment:
    """One immutable file of an open partition, by path relative to the table folder."""

    path: str
    first: int
    last: int
    rows: int
    bytes: int


@dataclass(frozen=True)
class Manifest:
    """The committed version of an open partition."""

    segments: tuple[Segment, ...]
    metadata: dict[str, str]

    @property
    def rows(self) -> int:
        return sum(s.rows for s in self.segments)

    @property
    def bytes(self) -> int:
        return sum(s.bytes for s in self.segments)

    def to_json(self) -> bytes:
        doc = {"metadata": self.metadata, "segments": [asdict(s) for s in self.segments]}
        return json.dumps(doc, sort_keys=True).encode()

    @classmethod
    def parse(cls, raw: bytes, where: str) -> Manifest:
        try:
            doc = json.loads(raw)
            segments = tuple(Segment(**s) for s in doc["segments"])
            metadata = {str(k): str(v) for k, v in doc["metadata"].items()}
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{where}: not a partition manifest ({exc})") from exc
        return cls(segments, metadata)


class ParquetPartitionStore:
    """Partitions of one table stored as Parquet files under ``location``."""

    def __init__(self, location: Location, table: str, schema: pa.Schema):
        self.location = location
        self.table = table
        self.schema = schema

    def path(self, key: str) -> str:
        """Where the partition's closed file is (or will be)."""
        _check_key(key)
        return self.location.path(self.table, key + SUFFIX)

    def manifest_path(self, key: str) -> str:
        _check_key(key)
        return self.location.path(self.table, OPEN_DIR, key + MANIFEST_SUFFIX)

    def display(self, key: str) -> str:
        return self.location.display(self.table, key + SUFFIX)

    def display_open(self, key: str) -> str:
        return self.location.display(self.table, OPEN_DIR, key + MANIFEST_SUFFIX)

    # -- writing ---------------------------------------------------------------------------
    def write(
        self,
        key: str,
        batches: Iterable[pa.RecordBatch],
        metadata: dict[str, str] | None = None,
        row_group_rows: int = ROW_GROUP_ROWS,
        keep_through: int | None = None,
    ) -> WriteResult:
        """Write ``batches`` as partition ``key``'s next version, atomically.

        With ``keep_through``, the stored rows of ledgers up to it are kept and ``batches``
        holds only the later ledgers (an incremental update of an open partition). A partition
        whose metadata says it is incomplete (``ttp.complete = false``) is stored open, and
        such an update only adds a segment; any other is written as one closed file.
        """
        _check_key(key)
        meta = dict(metadata or {})
        try:
            if meta.get("ttp.complete") == "false":
                return self._write_open(key, batches, meta, row_group_rows, keep_through)
            return self._write_closed(key, batches, meta, row_group_rows, keep_through)
        finally:
            self._sweep_quietly()

    def _write_closed(
        self,
        key: str,
        batches: Iterable[pa.RecordBatch],
        metadata: dict[str, str],
        row_group_rows: int,
        keep_through: int | None,
    ) -> WriteResult:
        if keep_through is not None:  # closing an open partition: compacted here, once
            batches = self._after_stored(key, keep_through, batches)
        fs = self.location.fs
        final = self.path(key)
        staged = self._staging_path(f"{key}.{uuid.uuid4().hex}{SUFFIX}")
        rows, size = self._write_file(
            staged, batches, metadata, row_group_rows, key, self.display(key)
        )
        try:
            fs.move(staged, final)
        except OSError as exc:
            _delete_quietly(fs, staged)
            raise StorageWriteError.wrap(exc, self.table, key, self.display(key)) from exc
        # The closed file wins over a manifest from here on; the segments go with the sweep.
        _delete_quietly(fs, self.manifest_path(key))
        log.info(
            "partition committed",
            extra={
                "table": self.table,
                "partition": key,
                "form": "closed",
                "rows": rows,
                "bytes": size,
                "path": self.display(key),
            },
        )
        return WriteResult(key, self.display(key), rows, size, size)

    def _write_open(
        self,
        key: str,
        batches: Iterable[pa.RecordBatch],
        metadata: dict[str, str],
        row_group_rows: int,
        keep_through: int | None,
    ) -> WriteResult:
        current = self.manifest(key)
        closed = self._closed_exists(key)
        segments: list[Segment] = []
        written = 0
        if keep_through is not None and current is not None and not closed:
            # Append: keep every segment up to the base as it is. A segment reaching past the
            # base (an output that got ahead of a sibling's) is cut back by copying its head.
            kept = ds.field("ledger_sequence") <= keep_through
            for seg in current.segments:
                if seg.last <= keep_through:
                    segments.append(seg)
                elif seg.first <= keep_through:
                    head = self._write_segment(key, self._scan([seg.path], filter=kept))
                    if head is not None:
                        segments.append(head)
                        written += head.bytes
        elif keep_through is not None:
            # Continuing a partition stored closed (or in another form): its rows before the
            # base start the first segment, once; later updates only append.
            batches = self._after_stored(key, keep_through, batches)
        new = self._write_segment(key, batches, row_group_rows)
        if new is not None:
            segments.append(new)
            written += new.bytes
        manifest = Manifest(tuple(sorted(segments, key=lambda s: s.first)), metadata)
        written += self._commit_manifest(key, manifest)
        if closed:  # the manifest is in place: now the closed file may go
            _delete_quietly(self.location.fs, self.path(key))
        log.info(
            "partition committed",
            extra={
                "table": self.table,
                "partition": key,
                "form": "open",
                "segments": len(manifest.segments),
                "rows": manifest.rows,
                "bytes": manifest.bytes,
                "written": written,
                "path": self.display_open(key),
            },
        )
        return WriteResult(key, self.display_open(key), manifest.rows, manifest.bytes, written)

    def _after_stored(
        self, key: str, keep_through: int, batches: Iterable[pa.RecordBatch]
    ) -> Iterator[pa.RecordBatch]:
        """The stored rows of ``key`` up to ledger ``keep_through``, then ``batches``."""
        kept = ds.field("ledger_sequence") <= keep_through
        return itertools.chain(self.batches(key, filter=kept), batches)

    def _write_segment(
        self, key: str, batches: Iterable[pa.RecordBatch], row_group_rows: int = ROW_GROUP_ROWS
    ) -> Segment | None:
        """Write a new segment file (no manifest names it yet); None when there are no rows."""
        rel = f"{OPEN_DIR}/{key}/{uuid.uuid4().hex}{SUFFIX}"
        path = self.location.path(self.table, rel)
        if self.location.is_local:
            self.location.fs.create_dir(self.location.path(self.table, OPEN_DIR, key))
        bounds = _LedgerBounds()
        rows, size = self._write_file(
            path,
            bounds.track(batches),
            {"ttp.partition_key": key},
            row_group_rows,
            key,
            self.location.display(self.table, rel),
        )
        if rows == 0:
            _delete_quietly(self.location.fs, path)
            return None
        return Segment(rel, bounds.first, bounds.last, rows, size)

    def _write_file(
        self,
        path: str,
        batches: Iterable[pa.RecordBatch],
        metadata: dict[str, str],
        row_group_rows: int,
        key: str,
        shown: str,
    ) -> tuple[int, int]:
        """Write ``batches`` as one Parquet file at ``path`` (``shown`` in errors); (rows, bytes).
        Nothing is left at ``path`` when it fails."""
        fs = self.location.fs
        schema = self.schema.with_metadata({**(self.schema.metadata or {}), **_b(metadata)})
        rows = 0
        try:
            with fs.open_output_stream(path, compression=None) as sink:
                writer = pq.ParquetWriter(
                    sink, schema, compression="zstd", write_statistics=True, use_dictionary=True
                )
                try:
                    for group in row_groups(batches, schema, row_group_rows):
                        writer.write_table(group, row_group_size=row_group_rows)
                        rows += group.num_rows
                finally:
                    writer.close()
            size = fs.get_file_info(path).size or 0
        except OSError as exc:
            _delete_quietly(fs, path)
            raise StorageWriteError.wrap(exc, self.table, key, shown) from exc
        except BaseException:
            _delete_quietly(fs, path)
            raise
        return rows, size

    def _commit_manifest(self, key: str, manifest: Manifest) -> int:
        fs = self.location.fs
        raw = manifest.to_json()
        staged = self._staging_path(f"{key}.{uuid.uuid4().hex}{MANIFEST_SUFFIX}")
        final = self.manifest_path(key)
        try:
            if self.location.is_local:
                fs.create_dir(self.location.path(self.table, OPEN_DIR), recursive=True)
            with fs.open_output_stream(staged, compression=None) as out:
                out.write(raw)
            fs.move(staged, final)
        except OSError as exc:
            _delete_quietly(fs, staged)
            raise StorageWriteError.wrap(exc, self.table, key, self.display_open(key)) from exc
        return len(raw)

    def _staging_path(self, name: str) -> str:
        staging_dir = self.location.path(self.table, STAGING)
        if self.location.is_local:  # object stores have no folders; pyarrow would add markers
            self.location.fs.create_dir(staging_dir, recursive=True)
        return f"{staging_dir}/{name}"

    # -- reading ---------------------------------------------------------------------------
    def _closed_exists(self, key: str) -> bool:
        return self.location.fs.get_file_info(self.path(key)).type == pafs.FileType.File

    def manifest(self, key: str) -> Manifest | None:
        """The open partition's committed manifest, or None when it has none."""
        try:
            with self.location.fs.open_input_stream(self.manifest_path(key), compression=None) as f:
                raw = f.read()
        except FileNotFoundError:
            return None
        return Manifest.parse(raw, self.display_open(key))

    def exists(self, key: str) -> bool:
        closed, manifest = self.location.fs.get_file_info([self.path(key), self.manifest_path(key)])
        return pafs.FileType.File in (closed.type, manifest.type)

    def committed_keys(self) -> list[str]:
        """Committed partition keys (closed or open), sorted."""
        fs = self.location.fs
        keys: set[str] = set()
        for folder, suffix in (
            (self.location.path(self.table), SUFFIX),
            (self.location.path(self.table, OPEN_DIR), MANIFEST_SUFFIX),
        ):
            for info in fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True)):
                if info.type == pafs.FileType.File and info.base_name.endswith(suffix):
                    keys.add(info.base_name[: -len(suffix)])
        return sorted(keys)

    def file_metadata(self, key: str) -> dict[str, str]:
        """The ``ttp.*`` coverage metadata of a committed partition (closed or open)."""
        try:
            with self.location.fs.open_input_file(self.path(key)) as f:
                meta = pq.read_schema(f).metadata or {}
        except FileNotFoundError:
            manifest = self.manifest(key)
            if manifest is None:
                raise FileNotFoundError(
                    f"{self.table} partition {key} is not materialized ({self.display(key)})"
                ) from None
            return {k: v for k, v in manifest.metadata.items() if k.startswith("ttp.")}
        return {k.decode(): v.decode() for k, v in meta.items() if k.startswith(b"ttp.")}

    def files(self, key: str) -> list[str]:
        """The files of the partition's current version, in ledger order (paths relative to
        the table folder)."""
        if self._closed_exists(key):
            return [key + SUFFIX]
        manifest = self.manifest(key)
        if manifest is None:
            raise FileNotFoundError(
                f"{self.table} partition {key} is not materialized ({self.display(key)})"
            )
        return [s.path for s in manifest.segments]

    def batches(
        self,
        key: str,
        columns: list[str] | None = None,
        batch_size: int = 65536,
        filter: ds.Expression | None = None,
    ) -> Iterator[pa.RecordBatch]:
        """Stream a committed partition: the version current at the call (its files are
        resolved here, before any row is read)."""
        return self._scan(self.files(key), columns, batch_size, filter)

    def _scan(
        self,
        files: list[str],
        columns: list[str] | None = None,
        batch_size: int = 65536,
        filter: ds.Expression | None = None,
    ) -> Iterator[pa.RecordBatch]:
        # File after file, so that rows come in ledger order across segments.
        for rel in files:
            dataset = ds.dataset(
                self.location.path(self.table, rel),
                format="parquet",
                filesystem=self.location.fs,
                schema=self.schema,
            )
            yield from dataset.to_batches(columns=columns, filter=filter, batch_size=batch_size)

    def read(self, key: str, columns: list[str] | None = None) -> pa.Table:
        return pa.Table.from_batches(
            list(self.batches(key, columns)), schema=_project(self.schema, columns)
        )

    def stored_bytes(self, key: str) -> int:
        """Bytes the partition's current version takes."""
        info = self.location.fs.get_file_info(self.path(key))
        if info.type == pafs.FileType.File:
            return info.size or 0
        manifest = self.manifest(key)
        return manifest.bytes if manifest is not None else 0

    # -- removing --------------------------------------------------------------------------
    def delete(self, key: str) -> None:
        fs = self.location.fs
        _delete_quietly(fs, self.path(key))
        _delete_quietly(fs, self.manifest_path(key))
        with contextlib.suppress(OSError):
            fs.delete_dir(self.location.path(self.table, OPEN_DIR, key))

    def sweep(self, grace_s: float = SEGMENT_GRACE_S) -> int:
        """Remove segment files no manifest names, older than ``grace_s``; how many."""
        fs = self.location.fs
        root = self.location.path(self.table, OPEN_DIR)
        listed = fs.get_file_info(pafs.FileSelector(root, allow_not_found=True, recursive=True))
        named: set[str] = set()
        for info in listed:
            if info.type == pafs.FileType.File and info.base_name.endswith(MANIFEST_SUFFIX):
                manifest = self.manifest(info.base_name[: -len(MANIFEST_SUFFIX)])
                if manifest is not None:
                    named.update(s.path for s in manifest.segments)
        cutoff = time.time() - grace_s
        removed = 0
        folders = set()
        for info in listed:
            if info.type == pafs.FileType.Directory:
                folders.add(info.path)
            if info.type != pafs.FileType.File or not info.base_name.endswith(SUFFIX):
                continue
            rel = f"{OPEN_DIR}/{info.path[len(root) + 1 :]}"
            old = info.mtime is None or info.mtime.timestamp() < cutoff
            if rel not in named and old:
                _delete_quietly(fs, info.path)
                removed += 1
        if self.location.is_local:  # folders of closed partitions, once empty
            for folder in folders:
                with contextlib.suppress(OSError):
                    if not fs.get_file_info(pafs.FileSelector(folder)):
                        fs.delete_dir(folder)
        return removed

    def _sweep_quietly(self) -> None:
        try:
            removed = self.sweep()
        except (OSError, ValueError) as exc:  # tidying up never fails a write
            log.warning("segment sweep failed", extra={"table": self.table, "error": str(exc)})
            return
        if removed:
            log.info("segments removed", extra={"table": self.table, "segments": removed})


class _LedgerBounds:
    """The first and last ``ledger_sequence`` of the batches passed through ``track``."""

    def __init__(self) -> None:
        self.first = 0
        self.last = 0

    def track(self, batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        for batch in batches:
            if batch.num_rows and "ledger_sequence" in batch.schema.names:
                mm = pc.min_max(batch.column("ledger_sequence"))
                lo, hi = mm["min"].as_py(), mm["max"].as_py()
                self.first = lo if not self.first else min(self.first, lo)
                self.last = max(self.last, hi)
            yield batch


def row_groups(
    batches: Iterable[pa.RecordBatch],
    schema: pa.Schema,
    max_rows: int = ROW_GROUP_ROWS,
    max_bytes: int = ROW_GROUP_BYTES,
) -> Iterator[pa.Table]:
    """``batches`` in order, gathered into tables of at most ``max_rows`` rows and ``max_bytes``
    of Arrow data (a batch bigger than that on its own stays whole), empty batches dropped.

    The tables reference the batches' buffers (no copy); memory is bounded by ``max_bytes``
    plus one batch.
    """
    pending: list[pa.RecordBatch] = []
    rows = size = 0
    for batch in batches:
        if not batch.num_rows:
            continue
        n, nbytes = batch.num_rows, batch.nbytes
        if pending and (rows + n > max_rows or size + nbytes > max_bytes):
            yield pa.Table.from_batches(pending, schema=schema)
            pending, rows, size = [], 0, 0
        pending.append(batch)
        rows += n
        size += nbytes
    if pending:
        yield pa.Table.from_batches(pending, schema=schema)


def _project(schema: pa.Schema, columns: list[str] | None) -> pa.Schema:
    if columns is None:
        return schema
    return pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)


def _b(meta: dict[str, str] | None) -> dict[bytes, bytes]:
    return {k.encode(): v.encode() for k, v in (meta or {}).items()}


def _delete_quietly(fs: pafs.FileSystem, path: str) -> None:
    with contextlib.suppress(FileNotFoundError, OSError):
        fs.delete_file(path)


def _check_key(key: str) -> None:
    # Keys become file names: refuse anything that could escape the table folder.
    if not key or "/" in key or "\\" in key or key.startswith(".") or ".." in key:
        raise ValueError(f"invalid partition key {key!r}")
