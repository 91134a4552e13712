"""Fast XDR decoding into stellar-sdk objects, generated from the SDK itself at import.

    obj, end = fastxdr.decode("LedgerCloseMeta", data)      # or xdr.LedgerCloseMeta
    end = fastxdr.skip(xdr.TransactionMeta, data, pos)      # validate, build nothing
    obj = fastxdr.decode_all(xdr.LedgerHeader, data)        # whole buffer, no trailing bytes

The results are the SDK's own classes with the same attribute values ``xdr.X.unpack`` gives
(they compare ``==`` and re-encode to the same bytes); only the decoding differs. How: the
SDK's generated ``unpack``/``__init__`` code is parsed into a type model (``model``), Python
source is generated from it (``codegen``) and ``exec``-ed once per process, here. Any shape of
SDK code the generator does not know makes this import fail (``XdrModelError``) rather than
decode wrongly.

Errors on bad input are ``XdrError`` (a ``ValueError``). The generated functions themselves
(``decoder``/``skipper``) are the hot path for callers walking a structure by hand; they raise
``struct.error`` on truncated input instead, which callers must treat as bad input too.
"""

from __future__ import annotations

import gc
import struct
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from stellar_sdk import xdr

from . import codegen, model
from .model import MAX_DEPTH, XdrModelError
from .runtime import HELPERS, XdrError

__all__ = [
    "MAX_DEPTH",
    "ROOTS",
    "XdrError",
    "XdrModelError",
    "decode",
    "decode_all",
    "decoder",
    "gc_paused",
    "skip",
    "skipper",
    "source",
    "type_model",
]

# Every type reachable from these gets a decoder.
ROOTS: tuple[type, ...] = (
    xdr.LedgerCloseMeta,
    xdr.LedgerCloseMetaBatch,
    xdr.TransactionEnvelope,
    xdr.TransactionResultPair,
    xdr.LedgerEntryChanges,
    xdr.TransactionMeta,
    xdr.LedgerHeaderHistoryEntry,
    xdr.LedgerHeader,
    xdr.GeneralizedTransactionSet,
    xdr.TransactionSet,
)

Decoder = Callable[..., tuple[Any, int]]
Skipper = Callable[..., int]


class _Decoders:
    """The generated functions, compiled the first time they (or a caller) are needed.

    Generating all the source takes a fraction of the time compiling it does, and most
    processes use only the decoders below a few roots, so compilation is per function.
    """

    def __init__(self) -> None:
        self.model = model.load_model(ROOTS)
        self.gen = codegen.generate(self.model)
        self.by_name = {cls.__name__: name for cls, name in self.gen.names.items()}
        self.classes = {cls.__name__: cls for cls in self.gen.names}
        ns: dict[str, Any] = dict(HELPERS)
        for name, fmt in self.gen.structs.items():
            ns[name] = struct.Struct(fmt).unpack_from
        ns.update(self.gen.enums)
        ns.update(self.gen.constants)
        self.namespace = ns
        self.lock = threading.Lock()
        self.ready: dict[str, Callable[..., Any]] = {}

    def get(self, fname: str) -> Callable[..., Any]:
        fn = self.ready.get(fname)
        if fn is None:
            with self.lock:
                # A function is handed out only once everything it may call is compiled too.
                todo, done = [fname], []
                while todo:
                    name = todo.pop()
                    if name in self.namespace:
                        continue
                    func = self.gen.functions[name]
                    exec(compile(func.source, f"<fastxdr {name}>", "exec"), self.namespace)
                    done.append(name)
                    todo.extend(c for c in func.calls if c not in self.namespace)
                for name in done:
                    self.ready[name] = self.namespace[name]
            fn = self.ready[fname]
        return fn

    def key(self, type_: str | type) -> str:
        name = type_ if isinstance(type_, str) else type_.__name__
        cls = self.classes.get(name)
        if cls is None or (not isinstance(type_, str) and cls is not type_):
            raise KeyError(f"fastxdr has no decoder for {type_!r}: it is not reachable from ROOTS")
        return self.by_name[name]


_D = _Decoders()


def decoder(type_: str | type) -> Decoder:
    """The generated ``decode_<T>(buf: bytes, pos: int) -> (obj, end)`` function."""
    return _D.get(f"decode_{_D.key(type_)}")


def skipper(type_: str | type) -> Skipper:
    """The generated ``skip_<T>(buf: bytes, pos: int) -> end`` function."""
    return _D.get(f"skip_{_D.key(type_)}")


def type_model() -> model.Model:
    """The type model the decoders were generated from."""
    return _D.model


def source() -> str:
    """All the generated source, for reading and debugging."""
    return "\n\n".join(f.source for f in _D.gen.functions.values())


@contextmanager
def gc_paused() -> Iterator[None]:
    """Keep the cyclic garbage collector off a large structure being built, and after.

    Decoding makes hundreds of thousands of objects per ledger, none of them in a cycle. Left
    alone, the collector walks the growing tree at every young collection, promotes it, and
    soon runs full collections over the whole heap: that made decoding several times slower
    (with the SDK as well). So collection is paused while building, and the new objects are
    then moved straight to the oldest generation (``gc.freeze()`` + ``gc.unfreeze()``, two
    list splices) instead of being walked again by young collections they would survive
    anyway. They are freed by reference counting when dropped, like any acyclic object, and a
    full collection still visits them if one runs while they live.

    Young objects that existed before the pause are collected first (``gc.collect(1)``), so
    their garbage cycles are found as usual rather than aged into the oldest generation. When
    the process uses ``gc.freeze()`` itself, or collection is off, only the pause is applied.
    """
    if not gc.isenabled():
        yield
        return
    promote = gc.get_freeze_count() == 0
    if promote:
        gc.collect(1)
    gc.disable()
    try:
        yield
    finally:
        if promote and gc.get_freeze_count() == 0:
            gc.freeze()
            gc.unfreeze()
        gc.enable()


# Below this many bytes a decode makes too few objects for pausing the collector to pay.
_GC_PAUSE_MIN = 64 * 1024


def _as_bytes(buf: bytes | bytearray | memoryview) -> bytes:
    return buf if type(buf) is bytes else bytes(buf)


def _check_pos(buf: bytes, pos: int) -> None:
    # unpack_from counts a negative offset from the end, which would decode garbage.
    if not 0 <= pos <= len(buf):
        raise XdrError(f"position {pos} is outside the {len(buf)}-byte input")


def decode(type_: str | type, buf: bytes | bytearray | memoryview, pos: int = 0) -> tuple[Any, int]:
    """Decode one ``type_`` at ``pos``; the object and the offset just after it."""
    fn = decoder(type_)
    buf = _as_bytes(buf)
    _check_pos(buf, pos)
    try:
        if len(buf) - pos < _GC_PAUSE_MIN:
            return fn(buf, pos)  # type: ignore[no-any-return]
        with gc_paused():
            return fn(buf, pos)  # type: ignore[no-any-return]
    except struct.error as exc:
        raise XdrError(f"truncated {_D.key(type_)} XDR: {exc}") from None
    except RecursionError:
        raise XdrError(f"{_D.key(type_)} XDR is nested too deeply for the Python stack") from None


def skip(type_: str | type, buf: bytes | bytearray | memoryview, pos: int = 0) -> int:
    """Validate one ``type_`` at ``pos`` without building it; the offset just after it."""
    fn = skipper(type_)
    buf = _as_bytes(buf)
    _check_pos(buf, pos)
    try:
        return fn(buf, pos)  # type: ignore[no-any-return]
    except struct.error as exc:
        raise XdrError(f"truncated {_D.key(type_)} XDR: {exc}") from None
    except RecursionError:
        raise XdrError(f"{_D.key(type_)} XDR is nested too deeply for the Python stack") from None


def decode_all(type_: str | type, buf: bytes | bytearray | memoryview) -> Any:
    """Decode a buffer holding exactly one ``type_``."""
    obj, end = decode(type_, buf)
    if end != len(buf):
        raise XdrError(f"{len(buf) - end} trailing bytes after the {_D.key(type_)} XDR")
    return obj
