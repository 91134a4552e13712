"""Strkey renderings of XDR addresses (G, M, C, L, B), in one place.

The SDK's ``StrKey`` does the base32 and checksum; these helpers decide which XDR field becomes
which strkey, which is where the token-transfer rules and the decoded tables must agree.
"""

from __future__ import annotations

from functools import lru_cache

from stellar_sdk import StrKey, xdr


@lru_cache(maxsize=65536)
def g_address(ed25519: bytes) -> str:
    return StrKey.encode_ed25519_public_key(ed25519)


@lru_cache(maxsize=16384)
def c_address(contract_id: bytes) -> str:
    return StrKey.encode_contract(contract_id)


@lru_cache(maxsize=16384)
def l_address(pool_id: bytes) -> str:
    return StrKey.encode_liquidity_pool(pool_id)


@lru_cache(maxsize=16384)
def b_address(balance_hash: bytes) -> str:
    # The claimable-balance strkey payload is the 1-byte id type (0 = V0) then the 32-byte hash;
    # the SDK's encoder takes exactly that 33-byte payload.
    return StrKey.encode_claimable_balance(b"\x00" + balance_hash)


def m_address(ed25519: bytes, muxed_id: int) -> str:
    return StrKey.encode_med25519_public_key(ed25519 + muxed_id.to_bytes(8, "big"))


def account_id(acc: xdr.AccountID | xdr.PublicKey) -> str:
    """G address of an ``AccountID``/``PublicKey``."""
    pk = acc.account_id if isinstance(acc, xdr.AccountID) else acc
    return g_address(pk.ed25519.uint256)


def muxed_parts(acc: xdr.MuxedAccount) -> tuple[str, int | None, str | None]:
    """(G address, muxed id or None, M address or None) of a ``MuxedAccount``."""
    if acc.type == xdr.CryptoKeyType.KEY_TYPE_MUXED_ED25519:
        med = acc.med25519
        key = med.ed25519.uint256
        mid = med.id.uint64
        return g_address(key), mid, m_address(key, mid)
    return g_address(acc.ed25519.uint256), None, None


def muxed_g(acc: xdr.MuxedAccount) -> str:
    """A ``MuxedAccount`` stripped to its G address."""
    if acc.type == xdr.CryptoKeyType.KEY_TYPE_MUXED_ED25519:
        return g_address(acc.med25519.ed25519.uint256)
    return g_address(acc.ed25519.uint256)


def muxed_ed25519(acc: xdr.MuxedAccount) -> bytes:
    if acc.type == xdr.CryptoKeyType.KEY_TYPE_MUXED_ED25519:
        return acc.med25519.ed25519.uint256
    return acc.ed25519.uint256


def claimable_balance_id(bid: xdr.ClaimableBalanceID) -> str:
    return b_address(bid.v0.hash)


def pool_id(pid: xdr.PoolID) -> str:
    return l_address(pid.pool_id.hash)


def sc_address(addr: xdr.SCAddress) -> str:
    """``ScAddress.String()`` of the reference: G, C, M (not stripped), L or B."""
    t = addr.type
    if t == xdr.SCAddressType.SC_ADDRESS_TYPE_ACCOUNT:
        return account_id(addr.account_id)
    if t == xdr.SCAddressType.SC_ADDRESS_TYPE_CONTRACT:
        return c_address(addr.contract_id.contract_id.hash)
    if t == xdr.SCAddressType.SC_ADDRESS_TYPE_MUXED_ACCOUNT:
        mux = addr.muxed_account
        return m_address(mux.ed25519.uint256, mux.id.uint64)
    if t == xdr.SCAddressType.SC_ADDRESS_TYPE_CLAIMABLE_BALANCE:
        return claimable_balance_id(addr.claimable_balance_id)
    if t == xdr.SCAddressType.SC_ADDRESS_TYPE_LIQUIDITY_POOL:
        return pool_id(addr.liquidity_pool_id)
    raise ValueError(f"unsupported ScAddress type {t!r}")


def is_contract_address(address: str) -> bool:
    return address.startswith("C") and StrKey.is_valid_contract(address)
