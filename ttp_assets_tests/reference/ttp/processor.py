"""The token transfer processor: a decoded ledger in, its token events in ledger order out.

Two modes read the same movements from different data (§2.0):

- ``derived`` works on any ledger: fees from results and fee changes, classic operations from
  operations, results and ledger-entry changes, Soroban operations from their contract events.
- ``unified`` reads CAP-67 events (stellar-core with EMIT_CLASSIC_EVENTS and
  BACKFILL_STELLAR_ASSET_EVENTS): tx-level ``fee`` events and per-operation token events. It
  needs meta v4 everywhere and never reads envelopes.
"""

from __future__ import annotations

from functools import cache, lru_cache
from typing import Literal

from stellar_sdk import xdr

from ttp_assets.core.network import Network

from ..xdr.ledger import DecodedLedger, LedgerTransaction
from ..xdr.strkeys import muxed_g
from .changes import operation_changes
from .classic import classic_operation_events, muxed_info_from_memo
from .contract_events import contract_events_of_operation, token_event, unified_fee_events
from .errors import TokenTransferError, operation_error
from .events import MuxedInfo, TokenEvent, TransactionEvents, TxEventContext
from .fees import derived_fee_events
from .ordering import ledger_order
from .reconcile_pre_p8 import LAST_PROTOCOL_WITH_XLM_BUG, reconcile_source_xlm
from .sac_assets import SacAssets

Mode = Literal["derived", "unified"]
ModeChoice = Literal["auto", "derived", "unified"]
MODES: tuple[Mode, ...] = ("derived", "unified")

_INVOKE_HOST_FUNCTION = xdr.OperationType.INVOKE_HOST_FUNCTION
_FEE_SYMBOL = b"fee"


class TokenTransferProcessor:
    """Token events of ledgers of one network, in one mode."""

    def __init__(self, network: Network, mode: Mode = "derived") -> None:
        if mode not in MODES:
            raise ValueError(f"unknown token transfer mode {mode!r}; expected one of {MODES}")
        self.network = network
        self.mode: Mode = mode
        self._assets = SacAssets(network.passphrase)

    def events_from_ledger(self, ledger: DecodedLedger) -> list[TokenEvent]:
        """Every event of the ledger in the order of §3."""
        per_tx = [
            (tx.hash.hex(), self.events_from_transaction(ledger, tx)) for tx in ledger.transactions
        ]
        return ledger_order(ledger.sequence, ledger.protocol_version, per_tx)

    def events_from_transaction(
        self, ledger: DecodedLedger, tx: LedgerTransaction
    ) -> TransactionEvents:
        """Fee events, then (if the transaction succeeded) its operations' events."""
        self.network.require_passphrase(ledger.network.passphrase, f"ledger {ledger.sequence}")
        ctx = TxEventContext(ledger.sequence, ledger.close_time, tx.hash.hex(), tx.index)
        try:
            if self.mode == "unified":
                fees = unified_fee_events(ctx, tx, self._assets)
            else:
                fees = derived_fee_events(ctx, tx, self._assets)
        except TokenTransferError as exc:
            raise TokenTransferError(f"ledger {ledger.sequence}: {exc}") from exc
        if not tx.successful:
            return TransactionEvents(fees, [])
        if self.mode == "unified":
            return TransactionEvents(fees, self._unified_operation_events(ctx, tx))
        return TransactionEvents(fees, self._derived_operation_events(ctx, ledger, tx))

    def _unified_operation_events(
        self, ctx: TxEventContext, tx: LedgerTransaction
    ) -> list[TokenEvent]:
        out = []
        for i, op_meta in enumerate(tx.meta.v4.operations):
            for contract_event in op_meta.events:
                event = token_event(ctx, i, contract_event, 4, self._assets)
                if event is not None:
                    out.append(event)
        return out

    def _derived_operation_events(
        self, ctx: TxEventContext, ledger: DecodedLedger, tx: LedgerTransaction
    ) -> list[TokenEvent]:
        @cache
        def memo_info() -> MuxedInfo | None:
            # Converted once, and only if some destination falls back to the memo (§1.6).
            return muxed_info_from_memo(tx.memo)

        out: list[TokenEvent] = []
        for i, op in enumerate(tx.operations):
            try:
                if op.body.type == _INVOKE_HOST_FUNCTION:
                    events = [
                        event
                        for contract_event in contract_events_of_operation(tx, i)
                        if (event := token_event(ctx, i, contract_event, tx.meta.v, self._assets))
                        is not None
                    ]
                else:
                    events = classic_operation_events(ctx, self._assets, ledger, tx, i, memo_info)
                    if events is None:
                        continue  # no rules for this type, and so no XLM reconciliation either
                if ledger.protocol_version <= LAST_PROTOCOL_WITH_XLM_BUG:
                    source = op.source_account
                    events = reconcile_source_xlm(
                        ctx,
                        i,
                        muxed_g(tx.source_account if source is None else source),
                        operation_changes(ledger, tx, i),
                        events,
                        self._assets.native,
                    )
            except TokenTransferError as exc:
                raise operation_error(
                    ledger.sequence, ctx.tx_hash, i, op.body.type.name, str(exc)
                ) from exc
            out.extend(events)
        return out


def has_unified_fee_events(tx: LedgerTransaction) -> bool:
    """Whether the transaction's meta carries a CAP-67 tx-level ``fee`` event."""
    meta = tx.meta
    if meta.v != 4:
        return False
    for tx_event in meta.v4.events:
        body = tx_event.event.body
        if body.v == 0 and body.v0.topics:
            topic = body.v0.topics[0]
            if topic.type == xdr.SCValType.SCV_SYMBOL and topic.sym.sc_symbol == _FEE_SYMBOL:
                return True
    return False


def choose_mode(ledger: DecodedLedger) -> Mode:
    """``unified`` when every transaction carries its CAP-67 fee event(s), else ``derived``.

    Core emits tx-level fee events for all transactions or none, so a ledger where only some
    have them is not unified data. A ledger without transactions has no events either way and
    is called ``derived``.
    """
    txs = ledger.transactions
    if txs and all(has_unified_fee_events(tx) for tx in txs):
        return "unified"
    return "derived"


@lru_cache(maxsize=16)
def processor_for(network: Network, mode: Mode) -> TokenTransferProcessor:
    """A shared processor per (network, mode), so its asset memo is reused across ledgers."""
    return TokenTransferProcessor(network, mode)


def events_for_ledger(
    ledger: DecodedLedger, network: Network, mode: ModeChoice = "auto"
) -> list[TokenEvent]:
    """A ledger's events; ``mode`` is a deployment override of :func:`choose_mode`."""
    if mode not in ("auto", *MODES):
        raise ValueError(f"unknown token transfer mode {mode!r}; expected auto, derived, unified")
    chosen: Mode = choose_mode(ledger) if mode == "auto" else mode
    return processor_for(network, chosen).events_from_ledger(ledger)
