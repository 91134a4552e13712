"""Deep comparison of decoded objects, stricter than the SDK's ``==``.

``==`` on SDK objects lets an ``IntEnum`` member equal its int, ``True`` equal ``1`` and a
subclass pass for its base; a decoder that stored the wrong one of these would still compare
equal but behave differently downstream (``.name``, ``isinstance``, JSON). This checks exact
types and the attribute names each instance carries, in order, as well as the values.
"""

from __future__ import annotations

import enum
from typing import Any

_ATOMIC = 0
_LIST = 1
_ENUM = 2
_OBJECT = 3
_KINDS: dict[type, int] = {t: _ATOMIC for t in (int, bool, bytes, str, float, type(None))}
_KINDS[list] = _LIST


def _kind(t: type) -> int:
    k = _KINDS.get(t)
    if k is None:
        k = _ENUM if issubclass(t, enum.Enum) else _OBJECT
        _KINDS[t] = k
    return k


def _same(a: Any, b: Any) -> bool:
    t = type(b)
    if type(a) is not t:
        return False
    k = _KINDS.get(t)
    if k is None:
        k = _kind(t)
    if k == _ATOMIC:
        return a == b  # type: ignore[no-any-return]
    if k == _LIST:
        return len(a) == len(b) and all(map(_same, a, b))
    if k == _ENUM:
        return a is b
    da, db = a.__dict__, b.__dict__
    return list(da) == list(db) and all(map(_same, da.values(), db.values()))


def assert_same(fast: Any, sdk: Any, path: str = "") -> None:
    """Raise AssertionError, naming the first place where ``fast`` and ``sdk`` differ."""
    if _same(fast, sdk):
        return
    stack = [(fast, sdk, path or type(sdk).__name__)]
    while stack:
        a, b, where = stack.pop()
        if type(a) is not type(b):
            raise AssertionError(f"{where}: {type(a).__name__} is not {type(b).__name__}")
        k = _kind(type(b))
        if k == _LIST:
            if len(a) != len(b):
                raise AssertionError(f"{where}: {len(a)} items, the SDK has {len(b)}")
            stack.extend((x, y, f"{where}[{i}]") for i, (x, y) in enumerate(zip(a, b, strict=True)))
        elif k != _OBJECT:
            if not _same(a, b):
                raise AssertionError(f"{where}: {a!r} != {b!r}")
        else:
            va, vb = vars(a), vars(b)
            if list(va) != list(vb):
                raise AssertionError(f"{where}: attributes {list(va)} != {list(vb)}")
            stack.extend((va[k], vb[k], f"{where}.{k}") for k in vb)
    raise AssertionError(f"{path}: differs")  # pragma: no cover - _same and the walk disagree
