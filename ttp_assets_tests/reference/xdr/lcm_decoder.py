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

Decoding goes through the generated decoders of ``fastxdr``, which build the same SDK objects
as ``xdr.X.unpack`` several times faster. Stages that read only headers, envelopes and
results pass ``with_meta=False``: the meta is then validated but not built (see
``decode_lcm``).
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass

from stellar_sdk import xdr

from ttp_assets.core.errors import LedgerDataError

from . import fastxdr

_TX_TAG = struct.pack(">I", xdr.EnvelopeType.ENVELOPE_TYPE_TX.value)
_KEY_ED25519 = b"\x00\x00\x00\x00"
_WORD = struct.Struct(">i").unpack_from
_UWORD = struct.Struct(">I").unpack_from

_ENV_TX = xdr.EnvelopeType.ENVELOPE_TYPE_TX
_ENV_FEE_BUMP = xdr.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP
_ENV_V0 = xdr.EnvelopeType.ENVELOPE_TYPE_TX_V0
_COMPONENT_TYPES = {t.value: t for t in xdr.TxSetComponentType}

_decode_hash = fastxdr.decoder(xdr.Hash)
_decode_int64 = fastxdr.decoder(xdr.Int64)
_decode_uint64 = fastxdr.decoder(xdr.Uint64)
_decode_transaction = fastxdr.decoder(xdr.Transaction)
_decode_fee_bump = fastxdr.decoder(xdr.FeeBumpTransaction)
_decode_transaction_v0 = fastxdr.decoder(xdr.TransactionV0)
_decode_signature = fastxdr.decoder(xdr.DecoratedSignature)
_decode_lcm_ext = fastxdr.decoder(xdr.LedgerCloseMetaExt)
_decode_header_entry = fastxdr.decoder(xdr.LedgerHeaderHistoryEntry)
_decode_extension_point = fastxdr.decoder(xdr.ExtensionPoint)
_decode_result_pair = fastxdr.decoder(xdr.TransactionResultPair)
_decode_changes = fastxdr.decoder(xdr.LedgerEntryChanges)
_skip_changes = fastxdr.skipper(xdr.LedgerEntryChanges)
_decode_meta = fastxdr.decoder(xdr.TransactionMeta)
_skip_meta = fastxdr.skipper(xdr.TransactionMeta)
_UPGRADE = (fastxdr.decoder(xdr.UpgradeEntryMeta), fastxdr.skipper(xdr.UpgradeEntryMeta))
_SCP = (fastxdr.decoder(xdr.SCPHistoryEntry), fastxdr.skipper(xdr.SCPHistoryEntry))
_LEDGER_KEY = (fastxdr.decoder(xdr.LedgerKey), fastxdr.skipper(xdr.LedgerKey))
_LEDGER_ENTRY = (fastxdr.decoder(xdr.LedgerEntry), fastxdr.skipper(xdr.LedgerEntry))


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


def _count(data: bytes, pos: int, what: str) -> tuple[int, int]:
    """An array length, refused when it could not fit in what remains (as the SDK does)."""
    (n,) = _UWORD(data, pos)
    pos += 4
    if n > len(data) - pos:
        raise LedgerDataError(f"{what} count {n} exceeds the {len(data) - pos} bytes that remain")
    return n, pos


def _envelope(data: bytes, pos: int) -> tuple[xdr.TransactionEnvelope, bytes, int]:
    start = pos
    (kind,) = _WORD(data, pos)
    pos += 4
    if kind == _ENV_TX:
        tx, pos = _decode_transaction(data, pos)
        payload = data[start:pos]
        sigs, pos = _signatures(data, pos)
        env = xdr.TransactionEnvelope(_ENV_TX, v1=xdr.TransactionV1Envelope(tx, sigs))
        return env, payload, pos
    if kind == _ENV_FEE_BUMP:
        fb, pos = _decode_fee_bump(data, pos)
        payload = data[start:pos]
        sigs, pos = _signatures(data, pos)
        env = xdr.TransactionEnvelope(
            _ENV_FEE_BUMP, fee_bump=xdr.FeeBumpTransactionEnvelope(fb, sigs)
        )
        return env, payload, pos
    if kind == _ENV_V0:
        body_start = pos
        tx0, pos = _decode_transaction_v0(data, pos)
        # A v0 transaction is signed as the v1 Transaction it converts to: same bytes after a
        # KEY_TYPE_ED25519 tag on the source account.
        payload = _TX_TAG + _KEY_ED25519 + data[body_start:pos]
        sigs, pos = _signatures(data, pos)
        env = xdr.TransactionEnvelope(_ENV_V0, v0=xdr.TransactionV0Envelope(tx0, sigs))
        return env, payload, pos
    raise LedgerDataError(f"unknown transaction envelope type {kind}")


def _signatures(data: bytes, pos: int) -> tuple[list[xdr.DecoratedSignature], int]:
    n, pos = _count(data, pos, "signature")
    sigs = []
    for _ in range(n):
        sig, pos = _decode_signature(data, pos)
        sigs.append(sig)
    return sigs, pos


def _envelopes(
    data: bytes, pos: int, envs: list[xdr.TransactionEnvelope], payloads: list[bytes]
) -> tuple[list[xdr.TransactionEnvelope], int]:
    """One tx-set array of envelopes; each is also appended to the ledger-wide lists."""
    n, pos = _count(data, pos, "transaction")
    out = []
    for _ in range(n):
        env, payload, pos = _envelope(data, pos)
        out.append(env)
        envs.append(env)
        payloads.append(payload)
    return out, pos


def _optional_fee(data: bytes, pos: int) -> tuple[xdr.Int64 | None, int]:
    (flag,) = _UWORD(data, pos)
    pos += 4
    if flag == 0:
        return None, pos
    if flag != 1:
        raise LedgerDataError(f"invalid optional base fee flag {flag}")
    return _decode_int64(data, pos)  # type: ignore[no-any-return]


def _generalized_tx_set(
    data: bytes, pos: int
) -> tuple[xdr.GeneralizedTransactionSet, list[xdr.TransactionEnvelope], list[bytes], int]:
    envs: list[xdr.TransactionEnvelope] = []
    payloads: list[bytes] = []
    (v,) = _WORD(data, pos)
    pos += 4
    if v != 1:
        raise LedgerDataError(f"unknown GeneralizedTransactionSet version {v}")
    prev, pos = _decode_hash(data, pos)
    phases = []
    n_phases, pos = _count(data, pos, "phase")
    for _ in range(n_phases):
        (pv,) = _WORD(data, pos)
        pos += 4
        if pv == 0:
            comps = []
            n_comps, pos = _count(data, pos, "component")
            for _ in range(n_comps):
                (ctype,) = _WORD(data, pos)
                pos += 4
                if ctype not in _COMPONENT_TYPES:
                    raise LedgerDataError(f"unknown TxSetComponentType {ctype}")
                fee, pos = _optional_fee(data, pos)
                txs, pos = _envelopes(data, pos, envs, payloads)
                body = xdr.TxSetComponentTxsMaybeDiscountedFee(fee, txs)
                comps.append(xdr.TxSetComponent(_COMPONENT_TYPES[ctype], body))
            phases.append(xdr.TransactionPhase(0, v0_components=comps))
        elif pv == 1:
            fee, pos = _optional_fee(data, pos)
            stages = []
            n_stages, pos = _count(data, pos, "stage")
            for _ in range(n_stages):
                clusters = []
                n_clusters, pos = _count(data, pos, "cluster")
                for _ in range(n_clusters):
                    txs, pos = _envelopes(data, pos, envs, payloads)
                    clusters.append(xdr.DependentTxCluster(txs))
                stages.append(xdr.ParallelTxExecutionStage(clusters))
            parallel = xdr.ParallelTxsComponent(fee, stages)
            phases.append(xdr.TransactionPhase(1, parallel_txs_component=parallel))
        else:
            raise LedgerDataError(f"unknown TransactionPhase version {pv}")
    gts = xdr.GeneralizedTransactionSet(1, v1_tx_set=xdr.TransactionSetV1(prev, phases))
    return gts, envs, payloads, pos


def _array(data: bytes, pos: int, fns: tuple, what: str, build: bool) -> tuple[list | None, int]:
    n, pos = _count(data, pos, what)
    if not build:
        skip = fns[1]
        for _ in range(n):
            pos = skip(data, pos)
        return None, pos
    decode = fns[0]
    out = []
    for _ in range(n):
        item, pos = decode(data, pos)
        out.append(item)
    return out, pos


def decode_lcm(data: bytes, where: str, with_meta: bool = True) -> LcmParts:
    """Decode LCM bytes (v0, v1 or v2) into SDK objects plus the hashes of their stored bytes.

    With ``with_meta=False`` everything is still read and validated, but what only the meta
    readers need is not built and stays ``None`` in ``lcm``: each transaction's
    ``fee_processing``, ``tx_apply_processing`` and (v2) ``post_tx_apply_fee_processing``, and
    the ledger's ``upgrades_processing``, ``scp_info``, ``evicted_keys`` and (v1) ``unused``.
    The header, the tx set, the results and both commitment hashes are complete either way.
    """
    if type(data) is not bytes:
        data = bytes(data)
    try:
        with fastxdr.gc_paused():
            return _decode(data, with_meta)
    except LedgerDataError as exc:
        raise LedgerDataError(f"{where}: {exc}") from exc
    except struct.error as exc:  # a read past the end of the data
        raise LedgerDataError(
            f"{where}: LedgerCloseMeta XDR does not decode: truncated data ({exc})"
        ) from exc
    except Exception as exc:  # the decoders raise ValueError on malformed input
        raise LedgerDataError(f"{where}: LedgerCloseMeta XDR does not decode: {exc!r}") from exc


def _decode(data: bytes, with_meta: bool) -> LcmParts:
    (version,) = _WORD(data, 0)
    pos = 4
    if version not in (0, 1, 2):
        raise LedgerDataError(f"unknown LedgerCloseMeta version {version}")
    ext = None
    if version:
        ext, pos = _decode_lcm_ext(data, pos)
    header, pos = _decode_header_entry(data, pos)
    set_start = pos
    if version == 0:
        prev, pos = _decode_hash(data, pos)
        txs_start = pos + 4
        envs: list[xdr.TransactionEnvelope] = []
        payloads: list[bytes] = []
        txs, pos = _envelopes(data, pos, envs, payloads)
        tx_set: xdr.TransactionSet | xdr.GeneralizedTransactionSet = xdr.TransactionSet(prev, txs)
        set_hash = hashlib.sha256(prev.hash + data[txs_start:pos]).digest()
    else:
        tx_set, envs, payloads, pos = _generalized_tx_set(data, pos)
        set_hash = hashlib.sha256(data[set_start:pos]).digest()

    results = hashlib.sha256()
    count, pos = _count(data, pos, "transaction result")
    results.update(struct.pack(">I", count))
    processing = []
    for _ in range(count):
        meta_ext = None
        if version == 2:
            meta_ext, pos = _decode_extension_point(data, pos)
        r_start = pos
        pair, pos = _decode_result_pair(data, pos)
        results.update(data[r_start:pos])
        fees = meta = post = None
        if with_meta:
            fees, pos = _decode_changes(data, pos)
            meta, pos = _decode_meta(data, pos)
            if version == 2:
                post, pos = _decode_changes(data, pos)
        else:
            pos = _skip_meta(data, _skip_changes(data, pos))
            if version == 2:
                pos = _skip_changes(data, pos)
        if version == 2:
            processing.append(xdr.TransactionResultMetaV1(meta_ext, pair, fees, meta, post))
        else:
            processing.append(xdr.TransactionResultMeta(pair, fees, meta))
    upgrades, pos = _array(data, pos, _UPGRADE, "upgrade", with_meta)
    scp, pos = _array(data, pos, _SCP, "SCP history entry", with_meta)
    if version == 0:
        lcm = xdr.LedgerCloseMeta(
            0, v0=xdr.LedgerCloseMetaV0(header, tx_set, processing, upgrades, scp)
        )
    else:
        live_size, pos = _decode_uint64(data, pos)
        evicted, pos = _array(data, pos, _LEDGER_KEY, "evicted key", with_meta)
        if version == 1:
            unused, pos = _array(data, pos, _LEDGER_ENTRY, "evicted entry", with_meta)
            body = xdr.LedgerCloseMetaV1(
                ext, header, tx_set, processing, upgrades, scp, live_size, evicted, unused
            )
            lcm = xdr.LedgerCloseMeta(1, v1=body)
        else:
            body2 = xdr.LedgerCloseMetaV2(
                ext, header, tx_set, processing, upgrades, scp, live_size, evicted
            )
            lcm = xdr.LedgerCloseMeta(2, v2=body2)
    if pos > len(data):
        raise LedgerDataError(
            f"LedgerCloseMeta XDR is truncated: needs {pos} bytes, has {len(data)}"
        )
    if pos != len(data):
        raise LedgerDataError(f"{len(data) - pos} trailing bytes after the LCM")
    return LcmParts(lcm, set_hash, results.digest(), envs, payloads)
