"""What the generated decoders call besides ``struct``: error constructors.

They only run when the input is bad, so they are plain functions, kept out of the generated
code to keep it short. Positions are byte offsets into the buffer being decoded, as close to the
offending bytes as the merged reads allow (a read of several fields reports its end).
"""

from __future__ import annotations


class XdrError(ValueError):
    """XDR bytes that do not decode as the requested type."""


def _bad_bool(value: int, pos: int) -> XdrError:
    return XdrError(f"invalid bool value {value} (before byte {pos}): must be 0 or 1")


def _bad_flag(value: int, pos: int) -> XdrError:
    return XdrError(f"invalid optional presence flag {value} (before byte {pos}): must be 0 or 1")


def _bad_enum(name: str, value: int, pos: int) -> XdrError:
    return XdrError(f"invalid {name} value {value} (before byte {pos})")


def _bad_disc(name: str, value: int, pos: int) -> XdrError:
    return XdrError(f"invalid {name} discriminant {value} (before byte {pos})")


def _too_long(what: str, length: int, limit: int, pos: int) -> XdrError:
    return XdrError(f"{what} length {length} exceeds maximum {limit} (before byte {pos})")


def _remaining(length: int, remaining: int) -> XdrError:
    return XdrError(f"array length {length} exceeds remaining input length {remaining}")


def _past_end(what: str, length: int, pos: int) -> XdrError:
    return XdrError(f"{what} of {length} bytes at byte {pos} runs past the end of the input")


def _short(pos: int, size: int) -> XdrError:
    return XdrError(f"truncated input: needs {pos} bytes, has {size}")


def _too_deep(pos: int) -> XdrError:
    return XdrError(f"Maximum decoding depth reached (at byte {pos})")


HELPERS = {
    "_new": object.__new__,
    "_bad_bool": _bad_bool,
    "_bad_flag": _bad_flag,
    "_bad_enum": _bad_enum,
    "_bad_disc": _bad_disc,
    "_too_long": _too_long,
    "_remaining": _remaining,
    "_past_end": _past_end,
    "_short": _short,
    "_too_deep": _too_deep,
}
