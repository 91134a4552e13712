"""Stellar Asset Contract ids computed with the SDK's XDR types (the reference's way)."""

from __future__ import annotations

import hashlib
from functools import lru_cache

from stellar_sdk import xdr


@lru_cache(maxsize=4096)
def _sac_contract_id_cached(asset_xdr: bytes, passphrase: str) -> bytes:
    preimage = xdr.HashIDPreimage(
        type=xdr.EnvelopeType.ENVELOPE_TYPE_CONTRACT_ID,
        contract_id=xdr.HashIDPreimageContractID(
            network_id=xdr.Hash(hashlib.sha256(passphrase.encode()).digest()),
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
