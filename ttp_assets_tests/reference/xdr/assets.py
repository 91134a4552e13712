"""Asset renderings: the canonical ``native`` / ``CODE:ISSUER`` string and its parts."""

from __future__ import annotations

from dataclasses import dataclass

from stellar_sdk import xdr

from .strkeys import account_id

NATIVE = "native"


@dataclass(frozen=True, slots=True)
class AssetInfo:
    """One asset as the tables render it.

    ``canonical`` is ``native`` or ``CODE:ISSUER`` (the reference's map key); ``type`` is
    ``native`` / ``credit_alphanum4`` / ``credit_alphanum12`` as in stellar-etl.
    """

    canonical: str
    type: str
    code: str | None
    issuer: str | None

    @property
    def is_native(self) -> bool:
        return self.type == NATIVE


NATIVE_INFO = AssetInfo(NATIVE, NATIVE, None, None)


def _code(raw: bytes) -> str:
    # The reference trims trailing NULs only; codes are ASCII alphanumerics by protocol rule.
    return raw.rstrip(b"\x00").decode("ascii", errors="replace")


def asset_info(asset: xdr.Asset | xdr.TrustLineAsset | xdr.ChangeTrustAsset) -> AssetInfo:
    """Info of an ``Asset`` (or the credit part of a trustline / change-trust asset)."""
    t = asset.type
    if t == xdr.AssetType.ASSET_TYPE_NATIVE:
        return NATIVE_INFO
    if t == xdr.AssetType.ASSET_TYPE_CREDIT_ALPHANUM4:
        code = _code(asset.alpha_num4.asset_code.asset_code4)
        issuer = account_id(asset.alpha_num4.issuer)
        return AssetInfo(f"{code}:{issuer}", "credit_alphanum4", code, issuer)
    if t == xdr.AssetType.ASSET_TYPE_CREDIT_ALPHANUM12:
        code = _code(asset.alpha_num12.asset_code.asset_code12)
        issuer = account_id(asset.alpha_num12.issuer)
        return AssetInfo(f"{code}:{issuer}", "credit_alphanum12", code, issuer)
    raise ValueError(f"not a plain asset: {t!r}")


def canonical(asset: xdr.Asset) -> str:
    return asset_info(asset).canonical


def issuer_of(asset: xdr.Asset) -> str | None:
    return asset_info(asset).issuer


def asset_from_code_issuer(code: str, issuer_g: str) -> xdr.Asset:
    """Back to XDR: 1-4 characters is alphanum4, 5-12 is alphanum12 (the reference's rule)."""
    from stellar_sdk import Asset

    return Asset(code, issuer_g).to_xdr_object()


def pool_share_or_asset(asset: xdr.TrustLineAsset | xdr.ChangeTrustAsset) -> str:
    """Display string for any trustline asset, including pool shares (``pool_share:L...``)."""
    if asset.type == xdr.AssetType.ASSET_TYPE_POOL_SHARE:
        from .strkeys import pool_id

        if isinstance(asset, xdr.TrustLineAsset):
            return f"pool_share:{pool_id(asset.liquidity_pool_id)}"
        params = asset.liquidity_pool.constant_product
        return (
            f"pool_share:{canonical(params.asset_a)}|{canonical(params.asset_b)}|{params.fee.int32}"
        )
    return asset_info(asset).canonical
