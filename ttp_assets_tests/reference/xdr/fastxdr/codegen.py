"""Python source for fast decoders, generated from the type model.

For every definition ``T`` of the model two functions are generated::

    decode_T(buf: bytes, pos: int, d: int = MAX_DEPTH) -> tuple[T, int]
    skip_T(buf: bytes, pos: int, d: int = MAX_DEPTH) -> int

``d`` is the SDK's ``depth_limit``. The speed comes from the shape of the generated code, not
from cleverness at run time:

- children are inlined into their parent (typedefs, enums, small structs and unions) unless they
  are recursive or large, so most of a ledger decodes without Python calls;
- consecutive fixed-size reads, across inlined field boundaries, are merged into one precompiled
  ``struct.Struct.unpack_from`` on the buffer at an integer offset (a union's discriminant or an
  array's length is merged with the fixed fields before it); skipping merges them into padding;
- objects are made with ``object.__new__`` and plain attribute stores, in the order and with the
  values their ``__init__`` would store (``None`` for absent arms), so they compare ``==`` to the
  SDK's and share its per-class attribute layout;
- enum values are looked up in a dict of members instead of calling the enum class.

Validation is the SDK's, checked where it is cheapest: every read is bounds-checked by
``unpack_from`` (which raises ``struct.error`` on truncation, turned into ``XdrError`` by the
API), variable lengths are checked against the SDK's maximums (including the array maximums the
SDK checks in ``__init__``) and against the remaining input, enum values and union
discriminants must be known. Two checks are stricter than the SDK, which accepts any non-zero
word: a bool must be 0 or 1, and an optional's presence flag must be 0 or 1 (xdrpp, which
stellar-core uses, refuses the same). Padding bytes are not checked, as in the SDK. The depth
limit is checked once per generated function for its whole inlined subtree, so a value nested
within a few levels of the limit can be refused slightly earlier than the SDK would.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from .model import (
    MAX_DEPTH,
    UNBOUNDED,
    Arm,
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
    fixed_size,
)

# Inline a non-recursive child whose inlined size (roughly, reads and branches) is at most this.
INLINE_COST = 48
# Unroll fixed arrays of fixed-size items up to this many items.
UNROLL_MAX = 8
# Dispatch on a union's discriminant by binary search from this many single-value arms.
TREE_MIN = 6


@dataclass
class Function:
    source: str
    calls: set[str]  # the generated functions it calls


@dataclass
class Generated:
    functions: dict[str, Function]  # decode_<name> / skip_<name> -> its source
    names: dict[type, str]  # class -> the suffix of its decode_/skip_ functions
    structs: dict[str, str]  # global name -> struct format
    enums: dict[str, dict[int, object]]  # global name -> {value: member}
    constants: dict[str, object]  # global name -> class or enum member


def _sccs(model: Model) -> set[type]:
    """Classes that can reach themselves: they are always called, never inlined."""
    edges: dict[type, set[type]] = {}
    for cls, d in model.defs.items():
        out: set[type] = set()
        for e in _child_elements(d):
            _refs(e, out)
        edges[cls] = out
    recursive: set[type] = set()
    for start in edges:
        seen: set[type] = set()
        stack = list(edges[start])
        while stack:
            c = stack.pop()
            if c is start:
                recursive.add(start)
                break
            if c not in seen:
                seen.add(c)
                stack.extend(edges[c])
    return recursive


def _child_elements(d: object) -> list[Element]:
    if isinstance(d, TypedefDef):
        return [d.elem]
    if isinstance(d, StructDef):
        return [e for _, e in d.fields]
    if isinstance(d, UnionDef):
        return [a.elem for a in d.arms if a.elem is not None]
    return []


def _refs(e: Element, out: set[type]) -> None:
    if isinstance(e, Ref):
        out.add(e.cls)
    elif isinstance(e, Optional | Array):
        _refs(e.elem, out)


@dataclass
class _Gen:
    model: Model
    recursive: set[type]
    names: dict[type, str] = field(default_factory=dict)
    structs: dict[str, str] = field(default_factory=dict)  # fmt -> global
    enums: dict[type, str] = field(default_factory=dict)
    constants: dict[int, tuple[str, object]] = field(default_factory=dict)  # id -> (name, obj)
    costs: dict[type, int] = field(default_factory=dict)

    def name(self, cls: type) -> str:
        if cls not in self.names:
            base = cls.__name__
            taken = set(self.names.values())
            name = base
            while name in taken:
                name += "_"
            self.names[cls] = name
        return self.names[cls]

    def reader(self, fmt: str) -> str:
        if fmt not in self.structs:
            self.structs[fmt] = f"U{len(self.structs)}"
        return self.structs[fmt]

    def enum_map(self, cls: type) -> str:
        if cls not in self.enums:
            self.enums[cls] = f"E_{self.name(cls)}"
        return self.enums[cls]

    def const(self, obj: object, hint: str) -> str:
        key = id(obj)
        if key not in self.constants:
            self.constants[key] = (f"K{len(self.constants)}_{hint}", obj)
        return self.constants[key][0]

    def cls_const(self, cls: type) -> str:
        return self.const(cls, self.name(cls))

    # -- inlining policy -----------------------------------------------------------------------

    def inline(self, cls: type) -> bool:
        return cls not in self.recursive and self.cost(cls) <= INLINE_COST

    def cost(self, cls: type) -> int:
        if cls not in self.costs:
            self.costs[cls] = 10**6  # guards against cycles while computing
            d = self.model[cls]
            if isinstance(d, EnumDef):
                c = 1
            elif isinstance(d, UnionDef):
                c = 1 + sum(self.elem_cost(a.elem) for a in d.arms if a.elem is not None)
                c += len(d.arms)
            else:
                c = sum(self.elem_cost(e) for e in _child_elements(d))
            self.costs[cls] = c
        return self.costs[cls]

    def elem_cost(self, e: Element) -> int:
        if isinstance(e, Ref):
            return self.cost(e.cls) if self.inline(e.cls) else 1
        if isinstance(e, Optional):
            return 2 + self.elem_cost(e.elem)
        if isinstance(e, Array):
            return 3 + self.elem_cost(e.elem)
        return 1


class _Fn:
    """The body of one generated function, with the fixed-size reads not yet emitted."""

    def __init__(self, gen: _Gen, decode: bool, root: type) -> None:
        self.gen = gen
        self.decode = decode
        self.root = root
        self.lines: list[str] = []
        self.depth = 1
        self.fmt: list[str] = []
        self.vars: list[str | None] = []
        self.size = 0
        self.post: list[str] = []
        self.counter = 0
        self.max_rel = 0
        self.calls: set[str] = set()

    # -- plumbing ------------------------------------------------------------------------------

    def var(self, prefix: str = "v") -> str:
        self.counter += 1
        return f"{prefix}{self.counter}"

    def line(self, text: str) -> None:
        assert not self.fmt, "control flow with reads pending"
        self.lines.append("    " * self.depth + text)

    def later(self, text: str) -> None:
        """A statement that uses pending reads: emitted right after they are."""
        if self.fmt:
            self.post.append(text)
        else:
            self.lines.append("    " * self.depth + text)

    def read(self, fmt: str, size: int, target: str | None) -> None:
        self.fmt.append(fmt)
        self.vars.append(target)
        self.size += size

    def flush(self) -> None:
        if not self.fmt:
            return
        names = [v for v in self.vars if v is not None]
        pad = "    " * self.depth
        if names:
            reader = self.gen.reader(">" + "".join(self.fmt))
            lhs = ", ".join(names) + ("," if len(names) == 1 else "")
            self.lines.append(f"{pad}{lhs} = {reader}(buf, pos)")
        self.lines.append(f"{pad}pos += {self.size}")
        self.lines.extend(pad + p for p in self.post)
        self.fmt, self.vars, self.size, self.post = [], [], 0, []

    def open(self, text: str) -> None:
        self.flush()
        self.line(text)
        self.depth += 1

    def close(self) -> None:
        self.flush()
        self.depth -= 1

    # -- elements ------------------------------------------------------------------------------

    def elem(self, e: Element, rel: int, target: str | None = None) -> str | None:
        """Emit the read of ``e`` at relative depth ``rel``; the variable holding its value."""
        if isinstance(e, Prim):
            return self.prim(e, target)
        if isinstance(e, EnumRef):
            return self.enum(e.cls, target)
        if isinstance(e, Opaque):
            return self.opaque(e, target)
        if isinstance(e, Ref):
            return self.ref(e.cls, rel + 1, target)
        if isinstance(e, Optional):
            return self.optional(e, rel, target)
        if isinstance(e, Array):
            return self.array(e, rel, target)
        raise AssertionError(e)

    def prim(self, e: Prim, target: str | None) -> str | None:
        size = 8 if e.fmt in "qQd" else 4
        if e.kind == "bool":
            raw = self.var("b")
            self.read("I", 4, raw)
            self.later(f"if {raw} > 1: raise _bad_bool({raw}, pos)")
            if not self.decode:
                return None
            v = target or self.var()
            self.later(f"{v} = {raw} == 1")
            return v
        if not self.decode:
            self.read(f"{size}x", size, None)
            return None
        v = target or self.var()
        self.read(e.fmt, size, v)
        return v

    def enum(self, cls: type, target: str | None) -> str | None:
        emap = self.gen.enum_map(cls)
        label = cls.__name__
        raw = self.var("e")
        self.read("i", 4, raw)
        if not self.decode:
            self.later(f"if {raw} not in {emap}: raise _bad_enum({label!r}, {raw}, pos)")
            return None
        v = target or self.var()
        self.later(f"{v} = {emap}.get({raw})")
        self.later(f"if {v} is None: raise _bad_enum({label!r}, {raw}, pos)")
        return v

    def opaque(self, e: Opaque, target: str | None) -> str | None:
        if e.fixed:
            padded = (e.size + 3) // 4 * 4
            if not self.decode:
                self.read(f"{padded}x", padded, None)
                return None
            v = target or self.var()
            fmt = f"{e.size}s" + (f"{padded - e.size}x" if padded != e.size else "")
            self.read(fmt, padded, v)
            return v
        n = self.var("n")
        self.read("I", 4, n)
        self.flush()
        what = "string" if e.string else "opaque"
        if e.size < UNBOUNDED:
            self.line(f"if {n} > {e.size}: raise _too_long({what!r}, {n}, {e.size}, pos)")
        if not self.decode:
            self.line(f"pos += {n} + (-{n} & 3)")
            return None
        v = target or self.var()
        end = self.var("p")
        self.line(f"{end} = pos + {n}")
        self.line(f"{v} = buf[pos:{end}]")
        self.line(f"pos = {end} + (-{n} & 3)")
        # Slicing does not fail past the end; the padding must be there too, as in the SDK.
        self.line(f"if pos > len(buf): raise _past_end({what!r}, {n}, {end} - {n})")
        return v

    def optional(self, e: Optional, rel: int, target: str | None) -> str | None:
        flag = self.var("f")
        self.read("I", 4, flag)
        v = (target or self.var()) if self.decode else None
        self.open(f"if {flag} == 1:")
        self.elem(e.elem, rel, v)
        self.close()
        self.open(f"elif {flag}:")
        self.line(f"raise _bad_flag({flag}, pos)")
        self.close()
        if self.decode:
            self.open("else:")
            self.line(f"{v} = None")
            self.close()
        return v

    def array(self, e: Array, rel: int, target: str | None) -> str | None:
        item_size = fixed_size(self.gen.model, e.elem)
        if e.fixed and item_size is not None and e.size <= UNROLL_MAX:
            items = [self.elem(e.elem, rel) for _ in range(e.size)]
            if not self.decode:
                return None
            v = target or self.var()
            self.later(f"{v} = [{', '.join(str(i) for i in items)}]")
            return v
        if e.fixed:
            count = str(e.size)
            self.flush()
        else:
            count = self.var("n")
            self.read("I", 4, count)
            self.flush()
            if e.size < UNBOUNDED:
                self.line(
                    f"if {count} > {e.size}: raise _too_long('array', {count}, {e.size}, pos)"
                )
            self.line(f"if {count} > len(buf) - pos: raise _remaining({count}, len(buf) - pos)")
        if not self.decode:
            if item_size is not None and not self.validates(e.elem):
                self.line(f"pos += {count} * {item_size}")
            else:
                self.open(f"for _ in range({count}):")
                self.elem(e.elem, rel)
                self.close()
            return None
        v = target or self.var()
        self.line(f"{v} = []")
        self.open(f"for _ in range({count}):")
        item = self.elem(e.elem, rel)
        self.flush()
        self.line(f"{v}.append({item})")
        self.close()
        return v

    def validates(self, e: Element) -> bool:
        """Whether skipping ``e`` must look at any of its bytes."""
        if isinstance(e, Prim):
            return e.kind == "bool"
        if isinstance(e, EnumRef):
            return True
        if isinstance(e, Opaque):
            return not e.fixed
        if isinstance(e, Array):
            return not e.fixed or self.validates(e.elem)
        if isinstance(e, Optional):
            return True
        d = self.gen.model[e.cls]
        if isinstance(d, TypedefDef):
            return self.validates(d.elem)
        if isinstance(d, StructDef):
            return any(self.validates(f) for _, f in d.fields)
        return True

    # -- definitions ---------------------------------------------------------------------------

    def ref(self, cls: type, rel: int, target: str | None) -> str | None:
        d = self.gen.model[cls]
        if isinstance(d, EnumDef):
            return self.enum(cls, target)
        if rel and not self.gen.inline(cls):
            self.flush()
            name = self.gen.name(cls)
            if self.decode:
                v = target or self.var()
                self.calls.add(f"decode_{name}")
                self.line(f"{v}, pos = decode_{name}(buf, pos, d - {rel})")
                return v
            self.calls.add(f"skip_{name}")
            self.line(f"pos = skip_{name}(buf, pos, d - {rel})")
            return None
        self.max_rel = max(self.max_rel, rel)
        if isinstance(d, TypedefDef):
            inner = self.elem(d.elem, rel)
            return self.construct(cls, [(d.attr, inner)], target)
        if isinstance(d, StructDef):
            values = {a: self.elem(e, rel) for a, e in d.fields}
            return self.construct(cls, [(a, values[a]) for a in d.attrs], target)
        assert isinstance(d, UnionDef)
        return self.union(d, rel, target)

    def construct(
        self, cls: type, attrs: list[tuple[str, str | None]], target: str | None
    ) -> str | None:
        if not self.decode:
            return None
        v = target or self.var("o")
        parts = [f"{v} = _new({self.gen.cls_const(cls)})"]
        parts += [f"{v}.{a} = {val}" for a, val in attrs]
        self.later("; ".join(parts))
        return v

    def union(self, d: UnionDef, rel: int, target: str | None) -> str | None:
        raw = self.var("u")
        self.read(d.disc.fmt if isinstance(d.disc, Prim) else "i", 4, raw)
        self.flush()
        v = (target or self.var("o")) if self.decode else None
        # Arms that read the same thing into the same attribute share one branch; branches that
        # read something come first, in the SDK's order, since the void ones are mostly errors.
        groups: dict[tuple[str | None, Element | None], list[Arm]] = {}
        for arm in d.arms:
            key = (arm.attr if self.decode else None, arm.elem)
            groups.setdefault(key, []).append(arm)
        ordered = sorted(groups.items(), key=lambda kv: kv[0][1] is None)
        if not self.decode and all(k[1] is None for k, _ in ordered):
            values = sorted(a.value for a in d.arms)
            self.line(
                f"if {raw} not in {self.gen.const(frozenset(values), 'arms')}: "
                f"raise _bad_disc({d.cls.__name__!r}, {raw}, pos)"
            )
            return None
        singles = sorted((g for g in ordered if len(g[1]) == 1), key=lambda g: g[1][0].value)
        rest = [g for g in ordered if len(g[1]) > 1]
        if len(singles) >= TREE_MIN and all(k[1] is None for k, _ in rest):
            # A long if/elif chain costs a comparison per arm before the one taken; a binary
            # search over the single-value arms costs log2 of that. The multi-value groups
            # (void error codes) are only repeated at the leaves, so they must be small.
            self.tree(d, rel, raw, v, singles, rest)
        else:
            self.chain(d, rel, raw, v, ordered)
        return v

    def chain(
        self,
        d: UnionDef,
        rel: int,
        raw: str,
        v: str | None,
        groups: list[tuple[tuple[str | None, Element | None], list[Arm]]],
    ) -> None:
        keyword = "if"
        for (attr, elem), arms in groups:
            if len(arms) == 1:
                self.open(f"{keyword} {raw} == {arms[0].value}:")
            else:
                values = sorted(a.value for a in arms)
                self.open(f"{keyword} {raw} in {self.gen.const(frozenset(values), 'arms')}:")
            keyword = "elif"
            self.arm(d, rel, raw, v, attr, elem, arms)
            self.close()
        self.open("else:")
        self.line(f"raise _bad_disc({d.cls.__name__!r}, {raw}, pos)")
        self.close()

    def tree(
        self,
        d: UnionDef,
        rel: int,
        raw: str,
        v: str | None,
        singles: list[tuple[tuple[str | None, Element | None], list[Arm]]],
        rest: list[tuple[tuple[str | None, Element | None], list[Arm]]],
    ) -> None:
        if len(singles) < TREE_MIN:
            self.chain(d, rel, raw, v, singles + rest)
            return
        mid = len(singles) // 2
        self.open(f"if {raw} < {singles[mid][1][0].value}:")
        self.tree(d, rel, raw, v, singles[:mid], rest)
        self.close()
        self.open("else:")
        self.tree(d, rel, raw, v, singles[mid:], rest)
        self.close()

    def arm(
        self,
        d: UnionDef,
        rel: int,
        raw: str,
        v: str | None,
        attr: str | None,
        elem: Element | None,
        arms: list[Arm],
    ) -> None:
        value = self.elem(elem, rel) if elem is not None else None
        if not self.decode:
            if elem is None:
                self.line("pass")
            return
        assert v is not None
        if len(arms) == 1:
            member = arms[0].member
            enum_disc = isinstance(d.disc, EnumRef)
            disc = self.gen.const(member, "m") if enum_disc else str(member)
        elif isinstance(d.disc, EnumRef):
            disc = f"{self.gen.enum_map(d.disc.cls)}[{raw}]"
        else:
            disc = raw
        attrs = [(d.disc_attr, disc)]
        attrs += [(a, value if a == attr else "None") for a in d.attrs[1:]]
        self.construct(d.cls, attrs, v)


def _function(gen: _Gen, cls: type, decode: bool) -> Function:
    fn = _Fn(gen, decode, cls)
    name = gen.name(cls)
    d = gen.model[cls]
    result = fn.ref(cls, 0, "r")
    fn.flush()
    head = [f"def {'decode' if decode else 'skip'}_{name}(buf, pos, d={MAX_DEPTH}):"]
    if not isinstance(d, EnumDef):
        head.append(f"    if d <= {fn.max_rel}: raise _too_deep(pos)")
    body = fn.lines
    if decode:
        body.append(f"    return {result}, pos")
    else:
        body.append("    if pos > len(buf): raise _short(pos, len(buf))")
        body.append("    return pos")
    return Function("\n".join(head + body) + "\n", fn.calls)


def generate(model: Model) -> Generated:
    gen = _Gen(model, _sccs(model))
    functions: dict[str, Function] = {}
    for cls in sorted(model.defs, key=lambda c: c.__name__):
        name = gen.name(cls)
        functions[f"decode_{name}"] = _function(gen, cls, True)
        functions[f"skip_{name}"] = _function(gen, cls, False)
    enums = {
        name: dict(model[cls].members)  # type: ignore[union-attr]
        for cls, name in gen.enums.items()
    }
    return Generated(
        functions=functions,
        names=dict(gen.names),
        structs={v: k for k, v in gen.structs.items()},
        enums=enums,
        constants={name: obj for name, obj in gen.constants.values()},
    )
