"""A decoded ledger: its header and its transactions in apply order, each with its envelope.

The LCM lists results and metas in apply order but envelopes in tx-set order; envelopes are
matched to results through their hash, which is computed with the network id. A hash that
matches nothing means the ledger is corrupt or belongs to another network, and that is an error.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from functools import cached_property

from stellar_sdk import xdr

from ttp_assets.core.errors import LedgerDataError
from ttp_assets.core.network import Network

from .lcm_decoder import LcmParts, decode_lcm

TX_SUCCESS_CODES = frozenset(
    {
        xdr.TransactionResultCode.txSUCCESS,
        xdr.TransactionResultCode.txFEE_BUMP_INNER_SUCCESS,
    }
)

_ENVELOPE_TYPE_TX = xdr.EnvelopeType.ENVELOPE_TYPE_TX.value.to_bytes(4, "big")
_ENVELOPE_TYPE_FEE_BUMP = xdr.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP.value.to_bytes(4, "big")
_KEY_TYPE_ED25519 = b"\x00\x00\x00\x00"


def transaction_hash(envelope: xdr.TransactionEnvelope, network_id: bytes) -> bytes:
    """sha256 of the TransactionSignaturePayload of ``envelope`` (v0, v1 or fee bump).

    A v0 transaction is hashed as the v1 ``Transaction`` it converts to; their XDR differs only
    by the 4-byte KEY_TYPE_ED25519 tag in front of the source key (an optional time bound and a
    PRECOND_NONE/PRECOND_TIME union encode identically).
    """
    t = envelope.type
    if t == xdr.EnvelopeType.ENVELOPE_TYPE_TX:
        body = _ENVELOPE_TYPE_TX + envelope.v1.tx.to_xdr_bytes()
    elif t == xdr.EnvelopeType.ENVELOPE_TYPE_TX_V0:
        body = _ENVELOPE_TYPE_TX + _KEY_TYPE_ED25519 + envelope.v0.tx.to_xdr_bytes()
    elif t == xdr.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP:
        body = _ENVELOPE_TYPE_FEE_BUMP + envelope.fee_bump.tx.to_xdr_bytes()
    else:
        raise LedgerDataError(f"unknown transaction envelope type {t!r}")
    return hashlib.sha256(network_id + body).digest()


def tx_set_envelopes(lcm: xdr.LedgerCloseMeta) -> list[xdr.TransactionEnvelope]:
    """Every envelope of the ledger's tx set, in tx-set order (classic and parallel phases)."""
    if lcm.v == 0:
        return list(lcm.v0.tx_set.txs)
    body = lcm.v1 if lcm.v == 1 else lcm.v2
    gts = body.tx_set
    out: list[xdr.TransactionEnvelope] = []
    for phase in gts.v1_tx_set.phases:
        if phase.v == 0:
            for comp in phase.v0_components:
                out.extend(comp.txs_maybe_discounted_fee.txs)
        else:
            for stage in phase.parallel_txs_component.execution_stages:
                for cluster in stage.parallel_tx_execution_stage:
                    out.extend(cluster.dependent_tx_cluster)
    return out


class EnvelopeIndex:
    """Envelopes of one ledger by hash, built on first use.

    Hashes come from the stored signature-payload bytes (see ``lcm_decoder``); only readers of
    envelope fields (sources, memos, operations) need them, unified-mode token events do not.
    """

    def __init__(self, parts: LcmParts, network: Network, where: str, applied: int):
        self._parts, self._network, self._where, self._applied = parts, network, where, applied
        self._by_hash: dict[bytes, xdr.TransactionEnvelope] | None = None

    def get(self, tx_hash: bytes) -> xdr.TransactionEnvelope:
        if self._by_hash is None:
            envelopes = self._parts.envelopes
            if len(envelopes) != self._applied:
                raise LedgerDataError(
                    f"{self._where}: tx set holds {len(envelopes)} envelopes but "
                    f"{self._applied} were applied"
                )
            nid = self._network.network_id
            self._by_hash = {
                hashlib.sha256(nid + payload).digest(): env
                for env, payload in zip(envelopes, self._parts.payloads, strict=True)
            }
        env = self._by_hash.get(tx_hash)
        if env is None:
            raise LedgerDataError(
                f"{self._where}: applied transaction {tx_hash.hex()} has no envelope in the tx "
                f"set when hashed for network {self._network.name!r}; the ledger is corrupt or "
                f"from another network (check TTP_NETWORK)"
            )
        return env


@dataclass(slots=True)
class LedgerTransaction:
    """One transaction of a ledger, in apply order, with its result, meta and envelope."""

    index: int  # 1-based apply order, as the reference's EventMeta.transaction_index
    hash: bytes
    result: xdr.TransactionResult
    fee_processing: xdr.LedgerEntryChanges
    meta: xdr.TransactionMeta
    post_apply_fee_processing: xdr.LedgerEntryChanges | None
    _envelopes: EnvelopeIndex

    @property
    def envelope(self) -> xdr.TransactionEnvelope:
        return self._envelopes.get(self.hash)

    @property
    def is_fee_bump(self) -> bool:
        return self.envelope.type == xdr.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP

    @property
    def inner_v1(self) -> xdr.TransactionV1Envelope | None:
        if self.envelope.type == xdr.EnvelopeType.ENVELOPE_TYPE_TX:
            return self.envelope.v1
        if self.is_fee_bump:
            return self.envelope.fee_bump.tx.inner_tx.v1
        return None

    @property
    def tx(self) -> xdr.Transaction | xdr.TransactionV0:
        """The (inner) transaction body: ``Transaction`` or, for v0 envelopes, ``TransactionV0``."""
        inner = self.inner_v1
        return inner.tx if inner is not None else self.envelope.v0.tx

    @property
    def source_account(self) -> xdr.MuxedAccount:
        """The (inner) transaction's source as a ``MuxedAccount``."""
        tx = self.tx
        if isinstance(tx, xdr.TransactionV0):
            return xdr.MuxedAccount(
                type=xdr.CryptoKeyType.KEY_TYPE_ED25519, ed25519=tx.source_account_ed25519
            )
        return tx.source_account

    @property
    def fee_account(self) -> xdr.MuxedAccount:
        """Who pays the fee: the fee-bump source, or the transaction source."""
        if self.is_fee_bump:
            return self.envelope.fee_bump.tx.fee_source
        return self.source_account

    @property
    def operations(self) -> list[xdr.Operation]:
        return self.tx.operations

    @property
    def memo(self) -> xdr.Memo:
        return self.tx.memo

    @property
    def sequence_number(self) -> int:
        return self.tx.seq_num.sequence_number.int64

    @property
    def result_code(self) -> xdr.TransactionResultCode:
        return self.result.result.code

    @property
    def successful(self) -> bool:
        return self.result.result.code in TX_SUCCESS_CODES

    @property
    def inner_hash(self) -> bytes | None:
        if self.is_fee_bump:
            return self.result.result.inner_result_pair.transaction_hash.hash
        return None

    @property
    def inner_result_code(self) -> xdr.TransactionResultCode:
        if self.is_fee_bump:
            return self.result.result.inner_result_pair.result.result.code
        return self.result.result.code

    @property
    def operation_results(self) -> list[xdr.OperationResult] | None:
        """Operation results (the inner ones for fee bumps); None when the tx did not run ops."""
        res = self.result.result
        if self.is_fee_bump:
            res = res.inner_result_pair.result.result
        return res.results

    @property
    def soroban_data(self) -> xdr.SorobanTransactionData | None:
        tx = self.tx
        if isinstance(tx, xdr.TransactionV0) or tx.ext.v != 1:
            return None
        return tx.ext.soroban_data

    @property
    def is_soroban(self) -> bool:
        return self.soroban_data is not None

    @property
    def meta_version(self) -> int:
        return self.meta.v

    def operation_metas(self) -> list:
        """Per-operation metas (``OperationMeta`` or ``OperationMetaV2``), or [] if none."""
        m = self.meta
        if m.v == 0:
            return list(m.operations or [])
        body = {1: m.v1, 2: m.v2, 3: m.v3, 4: m.v4}.get(m.v)
        if body is None:
            raise LedgerDataError(f"tx {self.hash.hex()}: unsupported TransactionMeta v{m.v}")
        return list(body.operations)

    def operation_changes(self, op_index0: int) -> list[xdr.LedgerEntryChange]:
        metas = self.operation_metas()
        if op_index0 >= len(metas):
            return []
        return list(metas[op_index0].changes.ledger_entry_changes)


@dataclass
class DecodedLedger:
    lcm: xdr.LedgerCloseMeta
    network: Network
    transactions: list[LedgerTransaction] = field(default_factory=list)

    @cached_property
    def body(self) -> xdr.LedgerCloseMetaV0 | xdr.LedgerCloseMetaV1 | xdr.LedgerCloseMetaV2:
        return {0: self.lcm.v0, 1: self.lcm.v1, 2: self.lcm.v2}[self.lcm.v]

    @property
    def header(self) -> xdr.LedgerHeader:
        return self.body.ledger_header.header

    @property
    def ledger_hash(self) -> bytes:
        return self.body.ledger_header.hash.hash

    @property
    def sequence(self) -> int:
        return self.header.ledger_seq.uint32

    @property
    def protocol_version(self) -> int:
        return self.header.ledger_version.uint32

    @property
    def close_time(self) -> int:
        return self.header.scp_value.close_time.time_point.uint64


def decode_ledger(
    lcm: bytes | LcmParts | xdr.LedgerCloseMeta,
    network: Network,
    where: str = "",
    verify: bool = True,
) -> DecodedLedger:
    """Decode an LCM; its transactions pair with their envelopes on first use.

    With ``verify`` the tx set and results of stored bytes must hash to what the header commits
    to. An ``xdr.LedgerCloseMeta`` object (built in code, e.g. a test fixture) has no stored
    bytes to prove, so it is never verified.
    """
    if isinstance(lcm, xdr.LedgerCloseMeta):
        lcm, verify = lcm.to_xdr_bytes(), False
    parts = lcm if isinstance(lcm, LcmParts) else decode_lcm(lcm, where or "LedgerCloseMeta")
    ledger = DecodedLedger(lcm=parts.lcm, network=network)
    where = where or f"ledger {ledger.sequence}"
    if verify:
        parts.verify_commitments(where)
    processing = ledger.body.tx_processing
    index = EnvelopeIndex(parts, network, where, len(processing))
    for i, trm in enumerate(processing):
        ledger.transactions.append(
            LedgerTransaction(
                index=i + 1,
                hash=trm.result.transaction_hash.hash,
                result=trm.result.result,
                fee_processing=trm.fee_processing,
                meta=trm.tx_apply_processing,
                post_apply_fee_processing=getattr(trm, "post_tx_apply_fee_processing", None),
                _envelopes=index,
            )
        )
    return ledger


def verify_network(ledger: DecodedLedger) -> None:
    """Pair every envelope now: proves the ledger belongs to the configured network."""
    for tx in ledger.transactions:
        tx.envelope  # noqa: B018 - raises LedgerDataError when the pairing fails
