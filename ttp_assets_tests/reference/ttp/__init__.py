"""Token Transfer Processor (TTP): every token movement of a Stellar ledger as one event stream.

A port of the reference Go package ``processors/token_transfer`` (stellar/go, behaviour as
written down in ``shared/docs/ttp-spec.md``; § numbers below refer to it). No Dagster here.

Public API
----------
- :class:`TokenEvent`, :class:`MuxedInfo`, :class:`TransactionEvents` (``events``)
- :class:`TokenTransferProcessor` ``(network, mode)`` with ``events_from_ledger(ledger)`` and
  ``events_from_transaction(ledger, tx)``; :func:`choose_mode`; :func:`events_for_ledger`
  ``(ledger, network, mode="auto"|"derived"|"unified")`` (``processor``)
- :class:`TokenTransferError` (``errors``)
- :func:`reconcile_transaction`, :func:`reconcile_ledger`, :func:`fee_totals` with
  :class:`TransactionMismatch` / :class:`BalanceDifference` (``reconcile``)

Modules: ``fees`` (§2a), ``classic`` (§2b), ``contract_events`` (§2c and unified fee events),
``reconcile_pre_p8`` (§2d), ``ordering`` (§3), ``reconcile`` + ``balances`` + ``changes`` (§4),
``sac_assets`` (asset ↔ Stellar Asset Contract ids).

Choosing the mode
-----------------
The reference leaves the mode to the caller. :func:`choose_mode` picks ``unified`` when every
transaction of the ledger has meta v4 carrying its CAP-67 ``fee`` event(s), else ``derived``
(also for a ledger without transactions, which has no events either way). A deployment can
force either mode through :func:`events_for_ledger`.

Where this port deliberately differs from the stellar/go reference
------------------------------------------------------------------
1. **Revocation burns (§2b, Go pointer equality).** When a trustline revocation leaves one
   claimable balance for a pool, the reference picks the asset to burn with Go ``==`` on
   ``xdr.Asset``, which compares the pointers inside credit assets and so is false for decoded
   credit assets: it burns asset A even when the balance holds asset A. We compare by value and
   burn the side that got no claimable balance, which is what the balances show (the reference's
   own test expects this too; it passes there only because its fixtures share pointers).
2. **Later go-stellar-sdk changes (§7) we follow**, each because the HEAD behaviour drops or
   misreports a real movement:
   - ``to_muxed_id`` bytes keep the length the contract emitted (HEAD pads or truncates to 32,
     reporting a value that was never emitted); go-stellar-sdk @3a31a094.
   - ``to_muxed_id`` of type void means "no muxed destination" (HEAD drops the whole event;
     contracts built before CAP-86 encode the absent id as void); @3a31a094.
   - Under meta v4, a ``mint``/``clawback`` with a third topic that is not a string is rejected
     (PR #6004, @3a31a094): that is the v3 shape ``[name, admin, party]``, and HEAD would
     report the admin as the party. Such an event is skipped like any non-token event.
   - VerifyEvents uses exact integers and reports bad input instead of panicking (@1c252db6), but
     keeps the int64 version's rule that a zero sum is absent: the big-integer version stores a
     first delta of 0 (e.g. an account whose only change is its sequence number) and would then
     report a mismatch that is not one.
   Not followed: the V5 meta build tag and CAP-84 muxed contract addresses, which stellar-sdk
   16.1.1 cannot decode; unified mode requires meta v4.
3. **Errors name the operation 1-based**, like ``operation_index`` in the events, where the
   reference's error text is 0-based. Reference panics (a fee balance that rises in fee
   processing, a refund that lowers it, a transaction event without topics) are
   :class:`TokenTransferError` too.
4. **Robustness the real ledgers required**, where the reference would panic or misread:
   - a passive sell offer's result sits in the MANAGE_SELL_OFFER arm of the result union in
     core's output, so the arm actually set is read;
   - from protocol 23 an UPDATED can follow a RESTORED (entry restored and changed in one
     operation): the restored value is its previous state. Only Soroban entries are restored,
     so no balance is affected.
5. **Strings**: memo texts and ``to_muxed_id`` strings that are not UTF-8 are decoded with
   replacement characters instead of being dropped; a SAC asset topic that is not UTF-8 names no
   asset.
6. **Transaction meta v0** is refused where operation changes are needed, as in the reference
   (modern stellar-core never emits it, replays included).
7. **Trade pairs in stellar-core's order.** For each claim atom of an offer or path payment the
   reference emits the seller's leg first (seller -> taker, the asset sold), then the taker's.
   stellar-core's CAP-67 events (protocol 23+) emit the taker's payment first (taker -> seller,
   the asset bought), then the seller's. We follow core, so both modes give the same events in
   the same order, hence the same ``event_id``: on the 10 pubnet-p26 ledgers (6,534 events) the
   derived events equal the unified ones exactly only in this order. Amounts, parties and
   assets are the reference's.

What the real ledgers show (``ttp_assets_tests/core/ttp/test_real_ledgers.py``)
--------------------------------------------------------------------------------
Data: pubnet 53312000, the 160 testnet ledgers of 2022, the 11,882 core-tests ledgers
(protocols 0-28) and the 3 RPC examples: 12,046 ledgers, 10,808 transactions.

- VerifyEvents holds for every transaction, in derived mode everywhere and in unified mode
  wherever a ledger carries unified events.
- Fee events (the charge net of any refund) equal the result's ``feeCharged`` for every single
  transaction, hence per ledger too, Soroban transactions of protocols 20-28 included:
  ``feeCharged`` is the fee after the refund, whether the refund is paid in tx changes after
  (before 23) or in post-apply fee processing (23+), and a refund that cannot be paid (the fee
  account merged away) is neither paid nor evented. The one known exception is absent from the
  data: a protocol-20 Soroban fee-bump transaction, whose ``feeCharged`` omits the refund
  (stellar-core#4188, corrected for in go ingest's ``FeeCharged``); its fee events then sum to
  ``feeCharged`` minus the refund. Ledgers whose transactions do not pair with envelopes (the
  bench load tests) cannot be derived, so their totals are not checked.
- Unified events exist in 90 of those ledgers (89 core-tests ledgers of protocol 26 produced
  with EMIT_CLASSIC_EVENTS, and RPC ledger 2002985). On each, derived and unified modes give
  identical event lists in §3 order: create-account, payment and merge transfers, SAC
  transfers, fee charges and refunds (including a refund that never comes because its fee
  account was merged). No principled difference showed up.
"""

from .errors import TokenTransferError
from .events import MuxedInfo, TokenEvent, TransactionEvents
from .processor import TokenTransferProcessor, choose_mode, events_for_ledger
from .reconcile import (
    BalanceDifference,
    TransactionMismatch,
    fee_totals,
    reconcile_ledger,
    reconcile_transaction,
)

__all__ = [
    "BalanceDifference",
    "MuxedInfo",
    "TokenEvent",
    "TokenTransferError",
    "TokenTransferProcessor",
    "TransactionEvents",
    "TransactionMismatch",
    "choose_mode",
    "events_for_ledger",
    "fee_totals",
    "reconcile_ledger",
    "reconcile_transaction",
]
