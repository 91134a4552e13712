"""The generator reads the SDK's generated code and refuses shapes it does not know.

The refusals are checked on small fake modules written the way xdrgen writes the SDK's, each
with one thing changed, and on a real SDK type whose shape is outside the known patterns.
"""

from __future__ import annotations

import importlib.util
import sys
import textwrap
from pathlib import Path

import pytest
from stellar_sdk import xdr

from ttp_assets_tests.reference.xdr import fastxdr
from ttp_assets_tests.reference.xdr.fastxdr.model import (
    Array,
    EnumRef,
    Opaque,
    Optional,
    Prim,
    Ref,
    StructDef,
    UnionDef,
    XdrModelError,
    load_model,
)

_HEADER = """
from __future__ import annotations
from enum import IntEnum
from xdrlib3 import Packer, Unpacker
from stellar_sdk.xdr.base import DEFAULT_XDR_MAX_DEPTH, Integer, String
from stellar_sdk.xdr.uint32 import Uint32
from stellar_sdk.xdr.asset_type import AssetType
"""

_STRUCT = """
class Thing:
    def __init__(self, count: Uint32, names: list[bytes]) -> None:
        _expect_max_length = 3
        if names and len(names) > _expect_max_length:
            raise ValueError("too many")
        self.count = count
        self.names = names

    @classmethod
    def unpack(cls, unpacker: Unpacker, depth_limit: int = DEFAULT_XDR_MAX_DEPTH) -> Thing:
        if depth_limit <= 0:
            raise ValueError("Maximum decoding depth reached")
        count = Uint32.unpack(unpacker, depth_limit - 1)
        length = unpacker.unpack_uint()
        _remaining = len(unpacker.get_buffer()) - unpacker.get_position()
        if _remaining < length:
            raise ValueError(f"names length {length} exceeds remaining input length {_remaining}")
        names = []
        for _ in range(length):
            names.append(String.unpack(unpacker, 8))
        return cls(count=count, names=names)
"""

_UNION = """
class Choice:
    def __init__(self, type: AssetType, count: Uint32 | None = None) -> None:
        self.type = type
        self.count = count

    @classmethod
    def unpack(cls, unpacker: Unpacker, depth_limit: int = DEFAULT_XDR_MAX_DEPTH) -> Choice:
        if depth_limit <= 0:
            raise ValueError("Maximum decoding depth reached")
        type = AssetType.unpack(unpacker)
        if type == AssetType.ASSET_TYPE_NATIVE:
            return cls(type=type)
        if type == AssetType.ASSET_TYPE_CREDIT_ALPHANUM4:
            count = (
                Uint32.unpack(unpacker, depth_limit - 1) if unpacker.unpack_uint() else None
            )
            return cls(type=type, count=count)
        raise ValueError("Invalid type.")
"""

_ENUM = """
class Color(IntEnum):
    RED = 0
    BLUE = 1

    @classmethod
    def unpack(cls, unpacker: Unpacker) -> Color:
        value = unpacker.unpack_int()
        return cls(value)
"""


def _load(tmp_path: Path, name: str, source: str) -> object:
    """Import ``source`` as a module of the SDK's xdr package, as the generator expects."""
    path = tmp_path / f"{name}.py"
    path.write_text(_HEADER + textwrap.dedent(source))
    modname = f"stellar_sdk.xdr._fastxdr_test_{name}"
    spec = importlib.util.spec_from_file_location(modname, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[modname] = module
    spec.loader.exec_module(module)
    return module


def test_the_well_formed_fakes_are_understood(tmp_path: Path) -> None:
    mod = _load(tmp_path, "good", _STRUCT + _UNION + _ENUM)
    model = load_model([mod.Thing, mod.Choice, mod.Color])  # type: ignore[attr-defined]
    thing = model[mod.Thing]  # type: ignore[attr-defined]
    assert isinstance(thing, StructDef)
    assert thing.fields == [
        ("count", Ref(xdr.Uint32)),
        ("names", Array(Opaque(8, fixed=False, string=True), 3, fixed=False)),
    ]
    choice = model[mod.Choice]  # type: ignore[attr-defined]
    assert isinstance(choice, UnionDef)
    assert choice.disc == EnumRef(xdr.AssetType)
    assert [(a.value, a.attr, a.elem) for a in choice.arms] == [
        (0, None, None),
        (1, "count", Optional(Ref(xdr.Uint32))),
    ]
    assert model[xdr.Uint32].elem == Prim("uint")  # type: ignore[union-attr]


_BROKEN = {
    "unknown statement": (
        _STRUCT.replace(
            "        count = Uint32.unpack(unpacker, depth_limit - 1)\n",
            "        unpacker.set_position(0)\n"
            "        count = Uint32.unpack(unpacker, depth_limit - 1)\n",
        ),
        "unexpected statement in unpack",
    ),
    "direct xdrlib read": (
        _STRUCT.replace(
            "count = Uint32.unpack(unpacker, depth_limit - 1)", "count = unpacker.unpack_hyper()"
        ),
        "element read of unknown shape",
    ),
    "depth not passed down": (
        _STRUCT.replace("Uint32.unpack(unpacker, depth_limit - 1)", "Uint32.unpack(unpacker)"),
        "nested read does not pass depth_limit - 1",
    ),
    "array without the remaining-input check": (
        _STRUCT.replace(
            "        _remaining = len(unpacker.get_buffer()) - unpacker.get_position()\n", ""
        ),
        "without the remaining-input check",
    ),
    "array without a maximum": (
        _STRUCT.replace("        _expect_max_length = 3\n", "").replace(
            "        if names and len(names) > _expect_max_length:\n"
            '            raise ValueError("too many")\n',
            "",
        ),
        "has no length guard",
    ),
    "__init__ that transforms": (
        _STRUCT.replace("self.count = count", "self.count = count or Uint32(0)"),
        "__init__ has a statement of unknown shape",
    ),
    "fields passed out of order": (
        _STRUCT.replace(
            "return cls(count=count, names=names)", "return cls(names=names, count=count)"
        ),
        "do not match",
    ),
    "union with a default arm": (
        _UNION.replace(
            '        raise ValueError("Invalid type.")\n', "        return cls(type=type)\n"
        ),
        "does not end by refusing unknown discriminants",
    ),
    "union case that is not an equality": (
        _UNION.replace(
            "if type == AssetType.ASSET_TYPE_NATIVE:", "if type != AssetType.ASSET_TYPE_NATIVE:"
        ),
        "union case test is not",
    ),
    "union arm reading two things": (
        _UNION.replace(
            "            return cls(type=type, count=count)",
            "            other = Uint32.unpack(unpacker, depth_limit - 1)\n"
            "            return cls(type=type, count=count)",
        ),
        "union case",
    ),
    "enum accepting unknown values": (
        _ENUM.replace(
            "    @classmethod\n    def unpack",
            "    @classmethod\n    def _missing_(cls, value):\n        return cls.RED\n\n"
            "    @classmethod\n    def unpack",
        ),
        "defines _missing_",
    ),
    "enum read differently": (
        _ENUM.replace("value = unpacker.unpack_int()", "value = unpacker.unpack_uint()"),
        "enum unpack is not",
    ),
}


@pytest.mark.parametrize("case", sorted(_BROKEN))
def test_unknown_shapes_are_refused_at_generation_time(tmp_path: Path, case: str) -> None:
    source, message = _BROKEN[case]
    name = "broken_" + "".join(c if c.isalnum() else "_" for c in case)
    mod = _load(tmp_path, name, source)
    cls = getattr(mod, "Thing", None) or getattr(mod, "Choice", None) or mod.Color  # type: ignore[attr-defined]
    with pytest.raises(XdrModelError, match=message):
        load_model([cls])


def test_a_real_sdk_type_outside_the_known_patterns_is_refused() -> None:
    # AuthenticatedMessage switches on a Uint32 typedef's field (``v.uint32 == 0``).
    with pytest.raises(XdrModelError, match="AuthenticatedMessage"):
        load_model([xdr.AuthenticatedMessage])


def test_every_generated_function_compiles() -> None:
    source = fastxdr.source()
    model = fastxdr.type_model()
    assert source.count("\ndef decode_") + source.startswith("def decode_") == len(model.defs)
    compile(source, "<fastxdr>", "exec")
    for cls in model.defs:
        assert callable(fastxdr.decoder(cls)) and callable(fastxdr.skipper(cls))
