"""The one place LedgerCloseMeta bytes become XDR objects, keeping the byte spans that hash.

The SDK's types decode every structure, but the walk down to transactions and results is done
here so that the bytes the network hashed are kept as they were stored:

- the tx set's bytes, whose sha256 the header commits to as ``scpValue.txSetHash`` (legacy
  sets hash ``previousLedgerHash || tx XDR...``),
- every result pair's bytes, whose ``TransactionResultSet`` the header commits to as
  ``txSetResultHash``,
- every envelope's type tag and transaction body, which is exactly the signature payload body,
  so transaction hashes need no re-encoding.

Only transaction meta is not committed to by the header; it is checked by decoding and by the
balance reconciliation downstream.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from stellar_sdk import xdr
from xdrlib3 import Unpacker

from .framing import LedgerDataError

_TX_TAG = struct.pack(">I", xdr.EnvelopeType.ENVELOPE_TYPE_TX.value)
_KEY_ED25519 = b"\x00\x00\x00\x00"


@dataclass(slots=True)
class LcmParts:
    lcm: xdr.LedgerCloseMeta
    tx_set_hash: bytes  # computed from the stored bytes
    result_set_hash: bytes  # computed from the stored bytes
    envelopes: list[xdr.TransactionEnvelope]  # tx-set order
    payloads: list[bytes]  # per envelope: what sha256(network id || payload) hashes to

    def verify_commitments(self, where: str) -> None:
        """The tx set and the results are the ones the ledger header committed to."""
        body = {0: self.lcm.v0, 1: self.lcm.v1, 2: self.lcm.v2}[self.lcm.v]
        header = body.ledger_header.header
        seq = header.ledger_seq.uint32
        if self.tx_set_hash != header.scp_value.tx_set_hash.hash:
            raise LedgerDataError(
                f"{where}: ledger {seq} transaction set hashes to {self.tx_set_hash.hex()}, but "
                f"the header commits to {header.scp_value.tx_set_hash.hash.hex()} (corrupt data)"
            )
        if self.result_set_hash != header.tx_set_result_hash.hash:
            raise LedgerDataError(
                f"{where}: ledger {seq} transaction results hash to "
                f"{self.result_set_hash.hex()}, but the header commits to "
                f"{header.tx_set_result_hash.hash.hex()} (corrupt data)"
            )


def _envelope(u: Unpacker, data: bytes) -> tuple[xdr.TransactionEnvelope, bytes]:
    start = u.get_position()
    kind = xdr.EnvelopeType(u.unpack_int())
    if kind == xdr.EnvelopeType.ENVELOPE_TYPE_TX:
        tx = xdr.Transaction.unpack(u)
        payload = data[start : u.get_position()]
        sigs = _signatures(u)
        return xdr.TransactionEnvelope(kind, v1=xdr.TransactionV1Envelope(tx, sigs)), payload
    if kind == xdr.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP:
        tx = xdr.FeeBumpTransaction.unpack(u)
        payload = data[start : u.get_position()]
        sigs = _signatures(u)
        env = xdr.TransactionEnvelope(kind, fee_bump=xdr.FeeBumpTransactionEnvelope(tx, sigs))
        return env, payload
    if kind == xdr.EnvelopeType.ENVELOPE_TYPE_TX_V0:
        body_start = u.get_position()
        tx0 = xdr.TransactionV0.unpack(u)
        # A v0 transaction is signed as the v1 Transaction it converts to: same bytes after a
        # KEY_TYPE_ED25519 tag on the source account.
        payload = _TX_TAG + _KEY_ED25519 + data[body_start : u.get_position()]
        sigs = _signatures(u)
        return xdr.TransactionEnvelope(kind, v0=xdr.TransactionV0Envelope(tx0, sigs)), payload
    raise LedgerDataError(f"unknown transaction envelope type {kind!r}")


def _signatures(u: Unpacker) -> list[xdr.DecoratedSignature]:
    return [xdr.DecoratedSignature.unpack(u) for _ in range(u.unpack_uint())]


def _generalized_tx_set(
    u: Unpacker, data: bytes
) -> tuple[xdr.GeneralizedTransactionSet, list[xdr.TransactionEnvelope], list[bytes]]:
    envs: list[xdr.TransactionEnvelope] = []
    payloads: list[bytes] = []

    def txs() -> list[xdr.TransactionEnvelope]:
        out = []
        for _ in range(u.unpack_uint()):
            env, payload = _envelope(u, data)
            out.append(env)
            envs.append(env)
            payloads.append(payload)
        return out

    def base_fee() -> xdr.Int64 | None:
        return xdr.Int64.unpack(u) if u.unpack_uint() else None

    v = u.unpack_int()
    if v != 1:
        raise LedgerDataError(f"unknown GeneralizedTransactionSet version {v}")
    prev = xdr.Hash.unpack(u)
    phases = []
    for _ in range(u.unpack_uint()):
        pv = u.unpack_int()
        if pv == 0:
            comps = []
            for _ in range(u.unpack_uint()):
                ctype = xdr.TxSetComponentType(u.unpack_int())
                fee = base_fee()
                comps.append(
                    xdr.TxSetComponent(ctype, xdr.TxSetComponentTxsMaybeDiscountedFee(fee, txs()))
                )
            phases.append(xdr.TransactionPhase(0, v0_components=comps))
        elif pv == 1:
            fee = base_fee()
            stages = []
            for _ in range(u.unpack_uint()):
                clusters = [xdr.DependentTxCluster(txs()) for _ in range(u.unpack_uint())]
                stages.append(xdr.ParallelTxExecutionStage(clusters))
            phases.append(
                xdr.TransactionPhase(
                    1, parallel_txs_component=xdr.ParallelTxsComponent(fee, stages)
                )
            )
        else:
            raise LedgerDataError(f"unknown TransactionPhase version {pv}")
    gts = xdr.GeneralizedTransactionSet(1, v1_tx_set=xdr.TransactionSetV1(prev, phases))
    return gts, envs, payloads


def _array(u: Unpacker, cls: type) -> list:
    return [cls.unpack(u) for _ in range(u.unpack_uint())]


def decode_lcm(data: bytes, where: str) -> LcmParts:
    """Decode LCM bytes (v0, v1 or v2) into SDK objects plus the hashes of their stored bytes."""
    try:
        return _decode(data)
    except LedgerDataError as exc:
        raise LedgerDataError(f"{where}: {exc}") from exc
    except Exception as exc:  # the SDK raises several types on malformed input
        raise LedgerDataError(f"{where}: LedgerCloseMeta XDR does not decode: {exc!r}") from exc


def _decode(data: bytes) -> LcmParts:
    u = Unpacker(data)
    version = u.unpack_int()
    if version not in (0, 1, 2):
        raise LedgerDataError(f"unknown LedgerCloseMeta version {version}")
    ext = xdr.LedgerCloseMetaExt.unpack(u) if version else None
    header = xdr.LedgerHeaderHistoryEntry.unpack(u)
    set_start = u.get_position()
    if version == 0:
        prev = xdr.Hash.unpack(u)
        txs_start = u.get_position() + 4
        envs, payloads = [], []
        for _ in range(u.unpack_uint()):
            env, payload = _envelope(u, data)
            envs.append(env)
            payloads.append(payload)
        tx_set: xdr.TransactionSet | xdr.GeneralizedTransactionSet = xdr.TransactionSet(prev, envs)
        set_hash = hashlib.sha256(prev.hash + data[txs_start : u.get_position()]).digest()
    else:
        tx_set, envs, payloads = _generalized_tx_set(u, data)
        set_hash = hashlib.sha256(data[set_start : u.get_position()]).digest()

    results = hashlib.sha256()
    count = u.unpack_uint()
    results.update(struct.pack(">I", count))
    processing = []
    for _ in range(count):
        meta_ext = xdr.ExtensionPoint.unpack(u) if version == 2 else None
        r_start = u.get_position()
        pair = xdr.TransactionResultPair.unpack(u)
        results.update(data[r_start : u.get_position()])
        fees = xdr.LedgerEntryChanges.unpack(u)
        meta = xdr.TransactionMeta.unpack(u)
        if version == 2:
            post = xdr.LedgerEntryChanges.unpack(u)
            processing.append(xdr.TransactionResultMetaV1(meta_ext, pair, fees, meta, post))
        else:
            processing.append(xdr.TransactionResultMeta(pair, fees, meta))
    upgrades = _array(u, xdr.UpgradeEntryMeta)
    scp = _array(u, xdr.SCPHistoryEntry)
    if version == 0:
        lcm = xdr.LedgerCloseMeta(
            0, v0=xdr.LedgerCloseMetaV0(header, tx_set, processing, upgrades, scp)
        )
    else:
        live_size = xdr.Uint64.unpack(u)
        evicted = _array(u, xdr.LedgerKey)
        if version == 1:
            unused = _array(u, xdr.LedgerEntry)
            body = xdr.LedgerCloseMetaV1(
                ext, header, tx_set, processing, upgrades, scp, live_size, evicted, unused
            )
            lcm = xdr.LedgerCloseMeta(1, v1=body)
        else:
            body2 = xdr.LedgerCloseMetaV2(
                ext, header, tx_set, processing, upgrades, scp, live_size, evicted
            )
            lcm = xdr.LedgerCloseMeta(2, v2=body2)
    if u.get_position() != len(data):
        raise LedgerDataError(f"{len(data) - u.get_position()} trailing bytes after the LCM")
    return LcmParts(lcm, set_hash, results.digest(), envs, payloads)
