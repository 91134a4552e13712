"""What to do next after the common first mistakes, in one line each.

The main job and the CLI print these instead of a traceback when the cause is the user's
setting rather than a bug: the default public lake unreachable (offline), a lake of another
network, a range the lake does not hold.
"""

from __future__ import annotations

from .core.network import NetworkMismatchError
from .core.sources.base import MissingLedgerError, SourceConfigError, SourceError
from .core.storage.location import PUBLIC_LAKE_BUCKET
from .settings import Settings

LOCAL_LAKE_EXAMPLE = "TTP_LAKE_URI=../shared/data/lake/pubnet"


def next_step(settings: Settings, exc: BaseException) -> str | None:
    """The line to print for ``exc``, or None when it is not a first mistake (a bug, bad data)."""
    public = PUBLIC_LAKE_BUCKET in settings.lake_uri
    if isinstance(exc, NetworkMismatchError):
        return str(exc)  # it says which network the lake is for and to set TTP_NETWORK
    if isinstance(exc, MissingLedgerError):
        return (
            f"{exc}. Choose --ledgers FIRST-LAST inside what {settings.lake_uri} holds "
            "(or another TTP_LAKE_URI)."
        )
    if isinstance(exc, SourceConfigError):
        return str(exc)
    if isinstance(exc, SourceError):
        if public and "lake" in settings.source:
            return (
                f"cannot reach the public pubnet lake ({exc.__class__.__name__}: "
                f"{_first_line(exc)}). Offline? Point TTP_LAKE_URI at a local SEP-54 lake, "
                f"e.g. {LOCAL_LAKE_EXAMPLE} bash scripts/main.sh"
            )
        return f"{_first_line(exc)}. Check TTP_LAKE_URI / TTP_RPC_URL and that it is reachable."
    return None


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0][:400] if text else exc.__class__.__name__
