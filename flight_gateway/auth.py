"""Bearer-token authentication and roles.

Clients send ``authorization: Bearer <token>`` with every call (the standard Flight header; the
Go, Java, Rust, C++ and Python clients all set it). Tokens are configured as ``role:token``
pairs (``TTP_FLIGHT_TOKENS``) or one ``role token`` pair per line of a file
(``TTP_FLIGHT_TOKENS_FILE``). Only SHA-256 digests of tokens are kept in memory and they are
compared in constant time; logs name a token by the first 8 hex digits of its digest.

Roles:

- ``reader``: discovery (ListFlights, GetFlightInfo, GetSchema, ListActions), DoGet and the
  read-only actions (``list_partitions``, ``health``);
- ``admin``: everything a reader may do, plus the ``refresh`` and ``stats`` actions.

Nobody can write: DoPut and DoExchange are refused (PERMISSION_DENIED for readers,
UNIMPLEMENTED otherwise); the IO managers are the only writers of the storage.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pyarrow.flight as fl

ROLES = ("reader", "admin")
MIN_TOKEN_LENGTH = 16
WRITE_METHODS = frozenset({fl.FlightMethod.DO_PUT, fl.FlightMethod.DO_EXCHANGE})


@dataclass(frozen=True)
class Principal:
    role: str
    token_id: str  # first 8 hex digits of the token's sha256, for logs

    def can(self, role: str) -> bool:
        return role == "reader" or self.role == role


ANONYMOUS = Principal("reader", "anonymous")


def _digest(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


class Authenticator:
    """Checks bearer tokens against the configured ones."""

    def __init__(self, tokens: Mapping[str, str] | None):
        """``tokens`` maps token to role; None disables authentication (everyone a reader)."""
        self.enabled = tokens is not None
        self._tokens: list[tuple[bytes, Principal]] = []
        for token, role in (tokens or {}).items():
            if role not in ROLES:
                raise ValueError(f"unknown role {role!r}; roles: {', '.join(ROLES)}")
            if len(token) < MIN_TOKEN_LENGTH:
                raise ValueError(f"a {role} token is shorter than {MIN_TOKEN_LENGTH} characters")
            d = _digest(token)
            self._tokens.append((d, Principal(role, d.hex()[:8])))
        if self.enabled and not self._tokens:
            raise ValueError("authentication is on but no token is configured")

    def authenticate(self, headers: Mapping[str, list[str] | list[bytes]]) -> Principal:
        """The caller's principal, or FlightUnauthenticatedError."""
        if not self.enabled:
            return ANONYMOUS
        values = headers.get("authorization") or []
        if len(values) != 1:
            raise fl.FlightUnauthenticatedError(
                "missing bearer token: send the header 'authorization: Bearer <token>'"
            )
        value = values[0]
        text = value.decode("latin-1") if isinstance(value, bytes) else value
        scheme, _, token = text.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise fl.FlightUnauthenticatedError("the authorization header must be 'Bearer <token>'")
        d = _digest(token.strip())
        found: Principal | None = None
        for known, principal in self._tokens:  # no early exit: constant time per token
            if hmac.compare_digest(d, known):
                found = principal
        if found is None:
            raise fl.FlightUnauthenticatedError("invalid bearer token")
        return found

    @staticmethod
    def authorize(principal: Principal, method: fl.FlightMethod) -> None:
        """Refuse writes to readers (everyone else is refused by the handler itself)."""
        if method in WRITE_METHODS and principal.role == "reader":
            raise fl.FlightUnauthorizedError(
                f"role {principal.role!r} is read-only: {method.name} is not allowed"
            )

    @staticmethod
    def require(principal: Principal, role: str, what: str) -> None:
        if not principal.can(role):
            raise fl.FlightUnauthorizedError(f"{what} needs the {role!r} role")


def parse_tokens(spec: str) -> dict[str, str]:
    """``role:token,role:token`` as {token: role}."""
    out: dict[str, str] = {}
    for item in spec.split(","):
        item = item.strip()
        if not item:
            continue
        role, sep, token = item.partition(":")
        if not sep or not token:
            raise ValueError("TTP_FLIGHT_TOKENS entries must be role:token (comma-separated)")
        out[token.strip()] = role.strip()
    return out


def read_tokens_file(path: str | Path) -> dict[str, str]:
    """One ``role token`` pair per line; blank lines and ``#`` comments are ignored."""
    out: dict[str, str] = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if len(parts) != 2:
            raise ValueError(f"{path}:{n}: expected '<role> <token>'")
        out[parts[1]] = parts[0]
    return out
