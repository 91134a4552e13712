"""Random valid XDR encodings of any type of the fastxdr model, for comparing decoders.

The encodings are built from the model as bytes, not through SDK objects, so a type the model
got wrong still produces bytes the SDK decodes its own way, and the comparison shows it.
Values stay canonical (bools 0/1, zero padding) so a correct decode re-encodes to the same bytes.
"""

from __future__ import annotations

import random
import struct

from ttp_assets_tests.reference.xdr.fastxdr.model import (
    UNBOUNDED,
    Array,
    Element,
    EnumDef,
    EnumRef,
    Model,
    Opaque,
    Optional,
    Prim,
    Ref,
    StructDef,
    TypedefDef,
    UnionDef,
)

_INF = 10**9


class RandomXdr:
    def __init__(self, model: Model, rng: random.Random, max_depth: int = 7) -> None:
        self.model = model
        self.rng = rng
        self.max_depth = max_depth
        self.height = self._heights()

    def _heights(self) -> dict[type, int]:
        """The least nesting each type needs to end, so deep values can be closed off."""
        h = dict.fromkeys(self.model.defs, _INF)
        changed = True
        while changed:
            changed = False
            for cls, d in self.model.defs.items():
                new = self._def_height(d, h)
                if new < h[cls]:
                    h[cls], changed = new, True
        return h

    def _def_height(self, d: object, h: dict[type, int]) -> int:
        if isinstance(d, EnumDef):
            return 0
        if isinstance(d, TypedefDef):
            return 1 + self._elem_height(d.elem, h)
        if isinstance(d, StructDef):
            return 1 + max([self._elem_height(e, h) for _, e in d.fields] or [0])
        assert isinstance(d, UnionDef)
        return 1 + min(self._elem_height(a.elem, h) if a.elem else 0 for a in d.arms)

    def _elem_height(self, e: Element, h: dict[type, int]) -> int:
        if isinstance(e, Ref):
            return h[e.cls]
        if isinstance(e, Optional):
            return 0
        if isinstance(e, Array):
            return self._elem_height(e.elem, h) if e.fixed else 0
        return 0

    # ---------------------------------------------------------------------------------------

    def encode(self, cls: type, arm: int | None = None) -> bytes:
        """A random encoding of ``cls``; for a union, of arm index ``arm`` if given."""
        out: list[bytes] = []
        self._ref(cls, 0, out, arm)
        return b"".join(out)

    def _ref(self, cls: type, depth: int, out: list[bytes], arm: int | None = None) -> None:
        d = self.model[cls]
        if isinstance(d, EnumDef):
            out.append(struct.pack(">i", self.rng.choice(sorted(d.members))))
        elif isinstance(d, TypedefDef):
            self._elem(d.elem, depth + 1, out)
        elif isinstance(d, StructDef):
            for _, e in d.fields:
                self._elem(e, depth + 1, out)
        else:
            assert isinstance(d, UnionDef)
            if arm is not None:
                chosen = d.arms[arm]
            elif depth >= self.max_depth:
                chosen = min(
                    d.arms,
                    key=lambda a: self._elem_height(a.elem, self.height) if a.elem else 0,
                )
            else:
                chosen = self.rng.choice(d.arms)
            fmt = ">I" if isinstance(d.disc, Prim) and d.disc.kind == "uint" else ">i"
            out.append(struct.pack(fmt, chosen.value))
            if chosen.elem is not None:
                self._elem(chosen.elem, depth + 1, out)

    def _elem(self, e: Element, depth: int, out: list[bytes]) -> None:
        rng = self.rng
        if isinstance(e, Prim):
            out.append(self._prim(e))
        elif isinstance(e, EnumRef):
            self._ref(e.cls, depth, out)
        elif isinstance(e, Opaque):
            n = e.size if e.fixed else rng.randint(0, min(e.size, 40))
            if not e.fixed:
                out.append(struct.pack(">I", n))
            out.append(rng.randbytes(n) + b"\0" * (-n & 3))
        elif isinstance(e, Ref):
            self._ref(e.cls, depth, out)
        elif isinstance(e, Optional):
            present = depth < self.max_depth and rng.random() < 0.6
            out.append(struct.pack(">I", int(present)))
            if present:
                self._elem(e.elem, depth, out)
        else:
            assert isinstance(e, Array)
            if e.fixed:
                n = e.size
            elif depth >= self.max_depth:
                n = 0
            else:
                n = rng.randint(0, min(3, e.size if e.size < UNBOUNDED else 3))
                out.append(struct.pack(">I", n))
            if not e.fixed and depth >= self.max_depth:
                out.append(struct.pack(">I", 0))
            for _ in range(n):
                self._elem(e.elem, depth, out)

    def _prim(self, e: Prim) -> bytes:
        rng = self.rng
        if e.kind == "bool":
            return struct.pack(">I", rng.randint(0, 1))
        if e.kind in ("float", "double"):
            return struct.pack(">" + e.fmt, rng.choice([0.0, 1.5, -2.25, 1e10]))
        bits = 64 if e.kind in ("hyper", "uhyper") else 32
        signed = e.kind in ("int", "hyper")
        lo, hi = (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1) if signed else (0, 2**bits - 1)
        value = rng.choice([lo, hi, 0, 1, rng.randint(lo, hi)])
        return struct.pack(">" + e.fmt, value)
