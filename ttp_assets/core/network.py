"""Stellar networks: passphrases and network ids.

Everything that depends on "which network" goes through :class:`Network`, so a deployment names
its network once and every hash, SAC id and lake check agrees.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

PUBNET_PASSPHRASE = "Public Global Stellar Network ; September 2015"
TESTNET_PASSPHRASE = "Test SDF Network ; September 2015"
FUTURENET_PASSPHRASE = "Test SDF Future Network ; October 2022"
# stellar-core's unit tests (the ledgers in shared/data/core-tests) run on this passphrase.
CORE_TESTS_PASSPHRASE = "(V) (;,,;) (V)"
# The load-test ledgers in shared/data/bench come from a standalone network.
STANDALONE_PASSPHRASE = "Standalone Network ; February 2017"

KNOWN_NETWORKS: dict[str, str] = {
    "pubnet": PUBNET_PASSPHRASE,
    "testnet": TESTNET_PASSPHRASE,
    "futurenet": FUTURENET_PASSPHRASE,
    "core-tests": CORE_TESTS_PASSPHRASE,
    "standalone": STANDALONE_PASSPHRASE,
}


class NetworkMismatchError(ValueError):
    """Data from one network was offered to a deployment configured for another."""


@dataclass(frozen=True)
class Network:
    name: str
    passphrase: str

    @property
    def network_id(self) -> bytes:
        return _network_id(self.passphrase)

    def require_passphrase(self, passphrase: str, where: str) -> None:
        if passphrase != self.passphrase:
            raise NetworkMismatchError(
                f"{where} is for network {passphrase!r} but this deployment is configured for "
                f"{self.name} ({self.passphrase!r}); set TTP_NETWORK to match the source"
            )


def resolve_network(name_or_passphrase: str) -> Network:
    """Accept a short name (``pubnet``, ``testnet``, ...) or a full passphrase."""
    key = name_or_passphrase.strip()
    if key.lower() in KNOWN_NETWORKS:
        return Network(key.lower(), KNOWN_NETWORKS[key.lower()])
    for name, passphrase in KNOWN_NETWORKS.items():
        if passphrase == key:
            return Network(name, passphrase)
    if not key:
        raise ValueError("empty network name or passphrase")
    return Network("custom", key)


@lru_cache(maxsize=16)
def _network_id(passphrase: str) -> bytes:
    return hashlib.sha256(passphrase.encode()).digest()
