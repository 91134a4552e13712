"""What a storage holds: the network its ledgers belong to and the width of its partitions.

Written once, by the first write to a storage (``_ttp_storage.json`` at its root), and checked
by every write after it and by the CLI and the main job before they register anything. Two
networks can then never land in the same tables, and a changed ``TTP_PARTITION_WIDTH`` cannot
add a second set of overlapping partitions over the same ledgers (which every check would
accept while every event counted twice). Changing the width is a migration (README, "Changing
the partition width"), never a side effect.
"""

from __future__ import annotations

import json
import os
import uuid
from dataclasses import asdict, dataclass

import pyarrow.fs as pafs

from .location import Location

MANIFEST = "_ttp_storage.json"
FORMAT_VERSION = 1


class StorageMismatchError(ValueError):
    """A write or a run that does not fit what the storage already holds."""


@dataclass(frozen=True)
class StorageManifest:
    network: str
    passphrase: str
    partition_width: int
    format_version: int = FORMAT_VERSION


def read_manifest(location: Location) -> StorageManifest | None:
    fs = location.fs
    path = location.path(MANIFEST)
    if fs.get_file_info(path).type == pafs.FileType.NotFound:
        return None
    with fs.open_input_stream(path) as f:
        data = json.loads(f.read())
    return StorageManifest(**data)


def _create(location: Location, manifest: StorageManifest) -> None:
    """Write the manifest unless one exists (the first of racing writers wins, locally)."""
    fs = location.fs
    final = location.path(MANIFEST)
    body = json.dumps(asdict(manifest), indent=2, sort_keys=True).encode()
    if location.is_local:
        os.makedirs(location.path(), exist_ok=True)
        tmp = f"{final}.{uuid.uuid4().hex}.tmp"
        with open(tmp, "wb") as f:
            f.write(body)
        try:
            os.link(tmp, final)  # atomic, and fails if another writer got there first
        except FileExistsError:
            pass
        finally:
            os.unlink(tmp)
        return
    # S3: a put of the whole object is atomic; racing first writers of one new storage write
    # the same content unless misconfigured, and the re-read below then refuses the loser.
    with fs.open_output_stream(final) as out:
        out.write(body)


def check_manifest(
    manifest: StorageManifest, location: Location, network: str, passphrase: str, width: int
) -> None:
    where = location.display()
    if manifest.passphrase != passphrase:
        raise StorageMismatchError(
            f"storage {where} holds {manifest.network} ledgers ({manifest.passphrase!r}); this "
            f"deployment is configured for {network} ({passphrase!r}): give each network a "
            f"storage of its own (TTP_STORAGE_URI)"
        )
    if manifest.partition_width != width:
        raise StorageMismatchError(
            f"storage {where} is partitioned in ranges of {manifest.partition_width} ledgers, "
            f"this run uses {width} (TTP_PARTITION_WIDTH): set "
            f"TTP_PARTITION_WIDTH={manifest.partition_width}, or move to the new width as a "
            f'migration (README, "Changing the partition width")'
        )


def claim_storage(location: Location, network: str, passphrase: str, width: int) -> StorageManifest:
    """The storage's manifest, created by this call if the storage has none; raises
    :class:`StorageMismatchError` when it was written for another network or width."""
    manifest = read_manifest(location)
    if manifest is None:
        _create(location, StorageManifest(network, passphrase, width))
        manifest = read_manifest(location)
        assert manifest is not None
    check_manifest(manifest, location, network, passphrase, width)
    return manifest


def check_storage(
    location: Location, network: str, passphrase: str, width: int
) -> StorageManifest | None:
    """Check, without creating anything, that a run with these settings fits the storage."""
    manifest = read_manifest(location)
    if manifest is not None:
        check_manifest(manifest, location, network, passphrase, width)
    return manifest


def forget_storage(location: Location) -> None:
    """Remove the manifest of a storage that holds nothing any more (after ``cli remove``)."""
    fs = location.fs
    path = location.path(MANIFEST)
    if fs.get_file_info(path).type != pafs.FileType.NotFound:
        fs.delete_file(path)


def overlapping_keys(key: str, stored: list[str]) -> list[str]:
    """Stored partition keys other than ``key`` whose ledger ranges overlap it."""
    from ..ledger_ranges import parse_key

    rng = parse_key(key)
    out = []
    for other in stored:
        if other == key:
            continue
        o = parse_key(other)
        if o.start <= rng.end and rng.start <= o.end:
            out.append(other)
    return out
