"""Assets and their Stellar Asset Contract (SAC) ids on one network, memoised.

Every classic-derived event names the SAC of its asset as its contract address, and every SAC
contract event is recognised by comparing its emitting contract with the SAC id of the asset its
last topic names. Both are hashes over XDR, so they are computed once per asset per network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stellar_sdk import StrKey, xdr

from ..network_ids import sac_contract_id
from ..xdr.assets import AssetInfo, asset_from_code_issuer, asset_info
from ..xdr.strkeys import c_address

_NATIVE_KEY = ("native",)
# The reference's xdr.ValidAssetCode (^[[:alnum:]]{1,12}$, ASCII only).
_SEP11_CODE = re.compile(r"[A-Za-z0-9]{1,12}")


@dataclass(frozen=True, slots=True)
class SacAsset:
    """An asset as events carry it: its info and the id/strkey of its asset contract."""

    asset: xdr.Asset
    info: AssetInfo
    contract_id: bytes
    contract_address: str


def _asset_key(asset: xdr.Asset) -> tuple:
    # Decoded assets are fresh objects every time; key them by their raw fields, which is much
    # cheaper than re-encoding them to XDR.
    t = asset.type
    if t == xdr.AssetType.ASSET_TYPE_NATIVE:
        return _NATIVE_KEY
    if t == xdr.AssetType.ASSET_TYPE_CREDIT_ALPHANUM4:
        body = asset.alpha_num4
        return (4, body.asset_code.asset_code4, body.issuer.account_id.ed25519.uint256)
    body = asset.alpha_num12
    return (12, body.asset_code.asset_code12, body.issuer.account_id.ed25519.uint256)


class SacAssets:
    """Memoised asset → :class:`SacAsset` lookups for one network passphrase."""

    def __init__(self, passphrase: str) -> None:
        self._passphrase = passphrase
        self._by_key: dict[tuple, SacAsset] = {}
        self._by_sep11: dict[str, SacAsset] = {}
        self.native = self.of(xdr.Asset(type=xdr.AssetType.ASSET_TYPE_NATIVE))

    def of(self, asset: xdr.Asset) -> SacAsset:
        key = _asset_key(asset)
        found = self._by_key.get(key)
        if found is None:
            contract_id = sac_contract_id(asset, self._passphrase)
            found = SacAsset(asset, asset_info(asset), contract_id, c_address(contract_id))
            self._by_key[key] = found
        return found

    def from_sep11(self, text: str) -> SacAsset | None:
        """The asset named by a SAC event's last topic, or None when it names not exactly one.

        The reference's ``xdr.BuildAssets``: a comma-separated list of ``native``
        (case-insensitive) or ``CODE:ISSUER`` entries, where any malformed entry fails the whole
        string. Only a single valid entry names an asset.
        """
        found = self._by_sep11.get(text)
        if found is not None:
            return found
        if "," not in text:
            if text.lower() == "native":
                found = self.native
            else:
                parts = text.split(":")
                if (
                    len(parts) == 2
                    and _SEP11_CODE.fullmatch(parts[0])
                    and StrKey.is_valid_ed25519_public_key(parts[1])
                ):
                    found = self.of(asset_from_code_issuer(parts[0], parts[1]))
        # Only names that parse are remembered: any contract can emit arbitrary strings, and
        # caching those would let the memo grow without bound.
        if found is not None:
            self._by_sep11[text] = found
        return found
