"""Tickets and descriptors: what a client asks for, parsed and validated strictly.

A request names one asset and, optionally, which part of it, which columns and which rows::

    {"asset": "ttp_events",
     "ledgers": [1410048, 1410099],              # inclusive ledger range, or
     "partitions": ["0001410048-0001410079"],    # a set of partition keys (not both)
     "closed_at": ["2022-03-01T12:00:00Z", "now-1h"],  # a time window [from, to)
     "columns": ["ledger_sequence", "event_type", "from", "to", "amount_raw"],
     "filters": {"event_type": ["transfer", "mint"],
                 "asset": "native",
                 "account": "GA...."}}              # from = account OR to = account

or the plain form ``ttp_events:1410048:1410099`` (asset, first and last ledger). Without
``ledgers`` / ``partitions`` a request covers every materialized partition. ``closed_at`` (any
asset, with or without the others) is a time window, see ``time_ranges``. Rollups
(``ROLLUP_TABLES``, partitioned by day) take ``closed_at`` and filters, never ledger ranges or
partition keys.

Descriptors: a *command* descriptor carries a ticket (either form); a *path* descriptor is
``[asset]``, ``[asset, partition_key]`` or ``[asset, first_ledger, last_ledger]``.

Filters: a column name with one value or a list of values (IN); several filters all apply (AND).
Any string, boolean or integer column can be filtered; ``account`` is an alias for the table's
account columns (any of them matches), ``asset_key`` one for the asset columns of
``ttp_events`` and ``balance_changes`` (the analytics' name of an asset). Validation is strict:
unknown keys, wrong types, an empty list, ``first > last``, unknown columns or values that cannot
occur, malformed times are INVALID_ARGUMENT; an unknown asset is NOT_FOUND. Nothing from a
request is ever used as a path: assets and partition keys are checked against the catalog before
anything is opened.

Malformed input of any shape is INVALID_ARGUMENT, never an internal error: the size is checked
before anything else (a copy of the bytes is all that happened), JSON integers longer than
:data:`MAX_INT_DIGITS` digits are refused while parsing (Python would refuse to convert 4,300+
digits with a ValueError, and a long one costs quadratic time), ``NaN`` / ``Infinity`` are not
JSON, nesting deeper than the parser's recursion limit is refused, and messages quote at most a
few clipped values of what was sent.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.flight as fl

from ttp_assets.core.ledger_ranges import MAX_LEDGER, parse_key
from ttp_assets.core.schemas import ROLLUP_TABLES

from .errors import InvalidArgument, NotFound
from .time_ranges import TIME_KEY, TimeSpec, parse_spec

MAX_TICKET_BYTES = 64 * 1024
MAX_LIST = 1000  # values in one filter, partitions or columns in one request
MAX_STRING = 256
MAX_INT_DIGITS = 20  # a uint64 has 20 digits; ledger numbers have 10
MAX_SHOWN = 5  # offending values quoted in an error message

TICKET_KEYS = (
    "asset",
    "ledgers",
    "partitions",
    "closed_at",
    "columns",
    "filters",
    "compression",
    "batch_rows",
    "follow",
    "from_ledger",
)
# Transfer options: IPC buffer compression for clients on slow links (pyarrow's codecs), and
# the rows per batch sent (at most the gateway's own ``TTP_FLIGHT_BATCH_ROWS``).
COMPRESSIONS = ("lz4", "zstd")
PLAIN = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*):(\d{1,10}):(\d{1,10})$")
ASSET_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")

# The columns an ``account`` filter matches, per table (any of them).
ACCOUNT_COLUMNS: dict[str, tuple[str, ...]] = {
    "ttp_events": ("from", "to"),
    "transactions": ("account", "fee_account"),
    "operations": ("source_account", "destination"),
    "balance_changes": ("holder",),
}
# ``asset_key`` (the analytics' name of an asset: ``native``, ``CODE:ISSUER``, or the contract
# id of a custom token) on the tables that store the asset otherwise: (classic column, contract
# column or None). A custom token has no classic name, so its contract id matches.
ASSET_KEY_COLUMNS: dict[str, tuple[str, str | None]] = {
    "ttp_events": ("asset", "contract_id"),
    "balance_changes": ("asset", None),
}
GRAINS = ("hour", "day")
# Columns whose values come from a closed set: a value outside it is a mistake, not a miss.
ENUMS: dict[tuple[str, str], tuple[str, ...]] = {
    ("ttp_events", "event_type"): ("transfer", "mint", "burn", "clawback", "fee"),
    ("ttp_events", "derivation"): ("derived", "unified"),
    ("transactions", "envelope_type"): ("tx_v0", "tx", "tx_fee_bump"),
    ("transactions", "memo_type"): ("none", "text", "id", "hash", "return"),
    **{(table, "grain"): GRAINS for table in ROLLUP_TABLES},
    ("asset_hour_partials", "metric"): (
        "transfer",
        "mint",
        "burn",
        "clawback",
        "fee",
        "transfer_small",
        "transfer_medium",
        "transfer_large",
    ),
}
STRKEY = re.compile(r"^[GMCBL][A-Z2-7]{55,68}$")

FilterValue = str | int | bool


@dataclass(frozen=True)
class Request:
    """One validated request (ticket or descriptor)."""

    asset: str
    ledgers: tuple[int, int] | None = None
    partitions: tuple[str, ...] | None = None
    columns: tuple[str, ...] | None = None
    filters: tuple[tuple[str, tuple[FilterValue, ...]], ...] = ()
    closed_at: TimeSpec | None = None  # a time window, as asked (``time_ranges``)
    compression: str | None = None  # "lz4" / "zstd": compress the stream's IPC buffers
    batch_rows: int | None = None  # rows per batch sent (capped by the gateway's limit)
    follow: bool = False  # keep the stream open and send new ledgers as they land (``follow``)
    from_ledger: int | None = None  # where a follow stream starts (resumes)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"asset": self.asset}
        if self.ledgers is not None:
            out["ledgers"] = list(self.ledgers)
        if self.partitions is not None:
            out["partitions"] = list(self.partitions)
        if self.closed_at is not None:
            out[TIME_KEY] = self.closed_at.to_json()
        if self.columns is not None:
            out["columns"] = list(self.columns)
        if self.filters:
            out["filters"] = {k: v[0] if len(v) == 1 else list(v) for k, v in self.filters}
        if self.compression is not None:
            out["compression"] = self.compression
        if self.batch_rows is not None:
            out["batch_rows"] = self.batch_rows
        if self.follow:
            out["follow"] = True
        if self.from_ledger is not None:
            out["from_ledger"] = self.from_ledger
        return out

    def ticket(self) -> fl.Ticket:
        """The canonical ticket of this request (JSON)."""
        return fl.Ticket(json.dumps(self.to_json(), separators=(",", ":")).encode())

    def describe(self) -> str:
        """Short, log-safe summary."""
        what = (
            f"ledgers {self.ledgers[0]}-{self.ledgers[1]}"
            if self.ledgers
            else f"{len(self.partitions)} partition(s)"
            if self.partitions is not None
            else "all partitions"
        )
        if self.closed_at is not None:
            a, b = self.closed_at.to_json()
            what += f", closed_at {a or '-'} to {b or '-'}"
        return f"{self.asset} {what}"


def parse_ticket(raw: bytes, schemas: Mapping[str, pa.Schema]) -> Request:
    """A ticket (JSON or ``asset:first:last``) as a validated :class:`Request`."""
    check_size(len(raw), "ticket")
    if not raw:
        raise InvalidArgument("empty ticket; see the README for the ticket format")
    try:
        text = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise InvalidArgument("ticket is not UTF-8 text") from None
    if text.startswith(("{", "[")):
        return from_json(load_json(text, "ticket"), schemas)
    m = PLAIN.match(text)
    if not m:
        raise InvalidArgument(
            f"ticket {_clip(text)!r} is neither JSON nor <asset>:<first>:<last> "
            "(e.g. ttp_events:1410048:1410099)"
        )
    asset = _asset(m.group(1), schemas)
    return Request(asset=asset, ledgers=_range(int(m.group(2)), int(m.group(3))))


def check_size(size: int, what: str) -> None:
    """INVALID_ARGUMENT for a request part over :data:`MAX_TICKET_BYTES` (checked first)."""
    if size > MAX_TICKET_BYTES:
        raise InvalidArgument(f"{what} too long ({size} bytes, at most {MAX_TICKET_BYTES})")


def load_json(text: str, what: str) -> Any:
    """``text`` parsed as JSON; any malformation is INVALID_ARGUMENT naming ``what``."""
    try:
        return json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_int=_bounded_int,
            parse_constant=_no_constant,
        )
    except json.JSONDecodeError as exc:
        raise InvalidArgument(f"{what} is not valid JSON: {exc.msg} at {exc.pos}") from None
    except RecursionError:
        raise InvalidArgument(f"{what} JSON is nested too deeply") from None
    except InvalidArgument as exc:
        raise InvalidArgument(f"{what}: {exc}") from None
    except ValueError as exc:  # any other conversion the parser refused
        raise InvalidArgument(f"{what} is not valid JSON: {_clip(str(exc))}") from None


def parse_descriptor(desc: fl.FlightDescriptor, schemas: Mapping[str, pa.Schema]) -> Request:
    """A command descriptor (a ticket) or a path descriptor, as a :class:`Request`."""
    if desc.descriptor_type == fl.DescriptorType.CMD:
        return parse_ticket(desc.command, schemas)
    if desc.descriptor_type != fl.DescriptorType.PATH:
        raise InvalidArgument("descriptor must be a command or a path")
    if not 1 <= len(desc.path) <= 3:
        raise InvalidArgument(
            "descriptor path must be [asset], [asset, partition_key] or [asset, first, last]"
        )
    check_size(sum(len(p) for p in desc.path), "descriptor path")
    try:
        path = [p.decode("utf-8") if isinstance(p, bytes) else str(p) for p in desc.path]
    except UnicodeDecodeError:
        raise InvalidArgument("descriptor path is not UTF-8 text") from None
    asset = _asset(path[0], schemas)
    if len(path) == 1:
        return Request(asset=asset)
    if asset in ROLLUP_TABLES:
        raise InvalidArgument(
            f"{asset} is a rollup (partitioned by day, not by ledger range): its descriptor path "
            'is [asset]; a command ticket selects periods ("closed_at", "filters")'
        )
    if len(path) == 2:
        return Request(asset=asset, partitions=(_key(path[1]),))
    if not all(p.isascii() and p.isdigit() and len(p) <= 10 for p in path[1:]):
        raise InvalidArgument(
            f"descriptor ledgers {_clip(path[1], 20)!r}, {_clip(path[2], 20)!r} are not numbers"
        )
    return Request(asset=asset, ledgers=_range(int(path[1]), int(path[2])))


def from_json(obj: Any, schemas: Mapping[str, pa.Schema]) -> Request:
    if not isinstance(obj, dict):
        raise InvalidArgument("ticket JSON must be an object")
    unknown = sorted(set(obj) - set(TICKET_KEYS))
    if unknown:
        raise InvalidArgument(
            f"unknown ticket key(s) {_shown(unknown)}; allowed: {list(TICKET_KEYS)}"
        )
    if "asset" not in obj:
        raise InvalidArgument('ticket needs "asset"')
    if not isinstance(obj["asset"], str):
        raise InvalidArgument('"asset" must be a string')
    asset = _asset(obj["asset"], schemas)
    schema = schemas[asset]
    if "ledgers" in obj and "partitions" in obj:
        raise InvalidArgument('give "ledgers" or "partitions", not both')
    if asset in ROLLUP_TABLES and ("ledgers" in obj or "partitions" in obj):
        raise InvalidArgument(
            f'{asset} is a rollup (partitioned by day, not by ledger range): "ledgers" and '
            '"partitions" do not apply; select periods with "closed_at" [from, to] and '
            '"filters" (e.g. {"grain": "day"})'
        )
    closed_at = parse_spec(obj[TIME_KEY]) if TIME_KEY in obj else None
    ledgers = None
    if "ledgers" in obj:
        v = obj["ledgers"]
        if not (isinstance(v, list) and len(v) == 2 and all(_is_int(x) for x in v)):
            raise InvalidArgument('"ledgers" must be [first, last], two integers')
        ledgers = _range(v[0], v[1])
    partitions = None
    if "partitions" in obj:
        v = _list(obj["partitions"], "partitions", str)
        keys = tuple(_key(k) for k in v)
        if len(set(keys)) != len(keys):
            raise InvalidArgument('"partitions" lists a partition twice')
        partitions = tuple(sorted(keys))
    columns = None
    if "columns" in obj:
        cols = _list(obj["columns"], "columns", str)
        bad = [c for c in cols if c not in schema.names]
        if bad:
            raise InvalidArgument(
                f"{asset} has no column(s) {_shown(bad)}; columns: {', '.join(schema.names)}"
            )
        if len(set(cols)) != len(cols):
            raise InvalidArgument('"columns" lists a column twice')
        columns = tuple(cols)
    filters: tuple[tuple[str, tuple[FilterValue, ...]], ...] = ()
    if "filters" in obj:
        filters = _filters(asset, schema, obj["filters"])
    compression = obj.get("compression")
    if compression is not None and compression not in COMPRESSIONS:
        raise InvalidArgument(
            f'"compression" must be one of {list(COMPRESSIONS)} or null, not '
            f"{_clip(str(compression), 20)!r}"
        )
    batch_rows = obj.get("batch_rows")
    if batch_rows is not None and not (_is_int(batch_rows) and batch_rows >= 1):
        raise InvalidArgument('"batch_rows" must be a positive integer')
    follow = obj.get("follow", False)
    if not isinstance(follow, bool):
        raise InvalidArgument('"follow" must be true or false')
    from_ledger = obj.get("from_ledger")
    if from_ledger is not None:
        if not follow:
            raise InvalidArgument('"from_ledger" is where a follow stream starts: give "follow"')
        if not (_is_int(from_ledger) and 0 <= from_ledger <= 2**32 - 1):
            raise InvalidArgument('"from_ledger" must be a ledger sequence number')
    if follow:
        if "ledger_sequence" not in schema.names:
            raise InvalidArgument(f"{asset} has no ledger_sequence: it cannot be followed")
        if ledgers is not None or partitions is not None or closed_at is not None:
            raise InvalidArgument(
                'a follow stream takes "from_ledger", not "ledgers", "partitions" or "closed_at"'
            )
        if columns is not None and "ledger_sequence" not in columns:
            raise InvalidArgument(
                'a follow stream\'s "columns" must include ledger_sequence (its resume points)'
            )
    return Request(
        asset,
        ledgers,
        partitions,
        columns,
        filters,
        closed_at,
        compression,
        batch_rows,
        follow,
        from_ledger,
    )


def filterable(asset: str, schema: pa.Schema) -> list[str]:
    """The filter names a table accepts."""
    names = ["account"] if asset in ACCOUNT_COLUMNS else []
    if asset in ASSET_KEY_COLUMNS:
        names.append("asset_key")
    return names + [f.name for f in schema if _filter_kind(f.type) is not None]


def filter_expression(asset: str, request: Request) -> ds.Expression | None:
    """The row filter of a request's ``filters`` (None when there are none)."""
    expr: ds.Expression | None = None
    for name, values in request.filters:
        if name == "asset_key" and asset in ASSET_KEY_COLUMNS:
            alias = _asset_key_term(*ASSET_KEY_COLUMNS[asset], values)
            expr = alias if expr is None else expr & alias
            continue
        cols = ACCOUNT_COLUMNS[asset] if name == "account" else (name,)
        term: ds.Expression | None = None
        for col in cols:
            one = (
                ds.field(col) == values[0] if len(values) == 1 else ds.field(col).isin(list(values))
            )
            term = one if term is None else term | one
        assert term is not None
        expr = term if expr is None else expr & term
    return expr


def _asset_key_term(
    classic: str, contract: str | None, values: tuple[FilterValue, ...]
) -> ds.Expression:
    """``asset_key`` in ``values``: the classic name, or (no classic name) the contract id."""
    keys = list(values)
    term = ds.field(classic).isin(keys)
    if contract is not None:
        term = term | (ds.field(classic).is_null() & ds.field(contract).isin(keys))
    return term


def projected_schema(schema: pa.Schema, columns: tuple[str, ...] | None) -> pa.Schema:
    """The schema served for ``columns`` (all when None), with the table's metadata."""
    if columns is None:
        return schema
    return pa.schema([schema.field(c) for c in columns], metadata=schema.metadata)


# -- helpers -------------------------------------------------------------------------------


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise InvalidArgument(f"JSON repeats the key {_clip(k, 40)!r}")
        out[k] = v
    return out


def _bounded_int(text: str) -> int:
    digits = len(text.lstrip("-"))
    if digits > MAX_INT_DIGITS:
        raise InvalidArgument(
            f"a JSON integer has {digits} digits, at most {MAX_INT_DIGITS} are accepted"
        )
    return int(text)


def _no_constant(name: str) -> Any:
    raise InvalidArgument(f"{name} is not a JSON value")


def _shown(values: list[str]) -> str:
    """At most :data:`MAX_SHOWN` clipped values, for an error message."""
    shown = [_clip(str(v), 40) for v in values[:MAX_SHOWN]]
    more = f" and {len(values) - MAX_SHOWN} more" if len(values) > MAX_SHOWN else ""
    return f"{shown}{more}"


def _clip(text: str, n: int = 80) -> str:
    return text if len(text) <= n else text[:n] + "..."


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _asset(name: str, schemas: Mapping[str, pa.Schema]) -> str:
    if name in schemas:
        return name
    shown = name if ASSET_NAME.match(name) else _clip(name, 40)
    raise NotFound(f"unknown asset {shown!r}; served assets: {', '.join(sorted(schemas))}")


def _key(key: str) -> str:
    try:
        parse_key(key)
    except ValueError:
        raise InvalidArgument(
            f"invalid partition key {_clip(key, 40)!r}: expected <first>-<last>, both 10-digit "
            "zero-padded, e.g. 0001410048-0001410079"
        ) from None
    return key


def _range(first: int, last: int) -> tuple[int, int]:
    if not (0 <= first <= MAX_LEDGER and 0 <= last <= MAX_LEDGER):
        raise InvalidArgument(f"ledgers {first}-{last}: ledger numbers go from 0 to {MAX_LEDGER}")
    if first > last:
        raise InvalidArgument(f"ledgers {first}-{last}: the first ledger is after the last")
    return first, last


def _list(v: Any, what: str, typ: type) -> list[Any]:
    if not isinstance(v, list) or not v:
        raise InvalidArgument(f'"{what}" must be a non-empty list')
    if len(v) > MAX_LIST:
        raise InvalidArgument(f'"{what}" has {len(v)} entries, at most {MAX_LIST}')
    if not all(isinstance(x, typ) and not isinstance(x, bool) for x in v):
        raise InvalidArgument(f'"{what}" must list {typ.__name__}s')
    return v


def _filter_kind(t: pa.DataType) -> str | None:
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "string"
    if pa.types.is_boolean(t):
        return "bool"
    # uint64 is stored as decimal in Delta tables: not filterable (no column needs it).
    if pa.types.is_integer(t) and not pa.types.is_uint64(t):
        return "int"
    return None


def _filters(
    asset: str, schema: pa.Schema, obj: Any
) -> tuple[tuple[str, tuple[FilterValue, ...]], ...]:
    if not isinstance(obj, dict) or not obj:
        raise InvalidArgument('"filters" must be a non-empty object {column: value or [values]}')
    allowed = filterable(asset, schema)
    out = []
    for name, raw in obj.items():
        if name not in allowed:
            raise InvalidArgument(
                f"{asset} cannot be filtered on {_clip(str(name), 40)!r}; "
                f"filters: {', '.join(allowed)}"
            )
        values = raw if isinstance(raw, list) else [raw]
        if not values:
            raise InvalidArgument(f"filter {name!r} has an empty list")
        if len(values) > MAX_LIST:
            raise InvalidArgument(f"filter {name!r} has {len(values)} values, at most {MAX_LIST}")
        if name in ("account", "asset_key") and name not in schema.names:
            kind, t = "string", pa.string()
        else:
            t = schema.field(name).type
            kind = _filter_kind(t) or ""
        checked = [_filter_value(asset, name, kind, t, v) for v in values]
        if len(set(checked)) != len(checked):
            raise InvalidArgument(f"filter {name!r} lists a value twice")
        out.append((name, tuple(checked)))
    return tuple(sorted(out))


def _filter_value(asset: str, name: str, kind: str, t: pa.DataType, v: Any) -> FilterValue:
    if kind == "string":
        if not isinstance(v, str) or not v or len(v) > MAX_STRING:
            raise InvalidArgument(
                f"filter {name!r} takes non-empty strings of at most {MAX_STRING} characters"
            )
        if name == "account" and not STRKEY.match(v):
            raise InvalidArgument(
                f"filter 'account': {_clip(v, 70)!r} is not a Stellar address "
                "(G..., M..., C..., L... or B...)"
            )
        allowed = ENUMS.get((asset, name))
        if allowed is not None and v not in allowed:
            raise InvalidArgument(f"filter {name!r}: {_clip(v, 40)!r} is not one of {allowed}")
        return v
    if kind == "bool":
        if not isinstance(v, bool):
            raise InvalidArgument(f"filter {name!r} takes true or false")
        return v
    if not _is_int(v):
        raise InvalidArgument(f"filter {name!r} takes integers")
    width = t.bit_width
    lo, hi = (
        (0, 2**width - 1)
        if pa.types.is_unsigned_integer(t)
        else (-(2 ** (width - 1)), 2 ** (width - 1) - 1)
    )
    if not lo <= v <= hi:
        raise InvalidArgument(f"filter {name!r}: {v} is out of range for {t}")
    return int(v)
