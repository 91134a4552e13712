"""Stellar networks: passphrases, network ids and the contract ids derived from them.

Everything that depends on "which network" goes through :class:`Network`, so a deployment names
its network once and every hash, SAC id and lake check agrees.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

from stellar_sdk import xdr

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

    def native_contract_id(self) -> bytes:
        return sac_contract_id(xdr.Asset(type=xdr.AssetType.ASSET_TYPE_NATIVE), self.passphrase)

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


@lru_cache(maxsize=4096)
def _sac_contract_id_cached(asset_xdr: bytes, passphrase: str) -> bytes:
    preimage = xdr.HashIDPreimage(
        type=xdr.EnvelopeType.ENVELOPE_TYPE_CONTRACT_ID,
        contract_id=xdr.HashIDPreimageContractID(
            network_id=xdr.Hash(_network_id(passphrase)),
            contract_id_preimage=xdr.ContractIDPreimage(
                type=xdr.ContractIDPreimageType.CONTRACT_ID_PREIMAGE_FROM_ASSET,
                from_asset=xdr.Asset.from_xdr_bytes(asset_xdr),
            ),
        ),
    )
    return hashlib.sha256(preimage.to_xdr_bytes()).digest()


def sac_contract_id(asset: xdr.Asset, passphrase: str) -> bytes:
    """The Stellar Asset Contract id of ``asset`` on the network with ``passphrase``."""
    return _sac_contract_id_cached(asset.to_xdr_bytes(), passphrase)
