"""The processor on every real ledger: VerifyEvents, fee totals, derived vs unified, pubnet.

One module-scoped pass decodes each ledger once (the expensive part) and keeps only what the
tests assert on. The data is required: a missing file fails the fixture, it never skips.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pytest

from ttp_assets.core.network import Network
from ttp_assets_tests.reference.ttp import (
    TokenEvent,
    TokenTransferProcessor,
    TransactionMismatch,
    choose_mode,
    fee_totals,
    reconcile_ledger,
)
from ttp_assets_tests.reference.ttp.classic import muxed_info_from_memo
from ttp_assets_tests.reference.xdr.ledger import DecodedLedger, decode_ledger
from ttp_assets_tests.shared_data import all_verifiable_files, rpc_ledgers

PUBNET_LEDGER = 53312000


@dataclass
class Dataset:
    """What the pass saw in one dataset (pubnet, testnet-2022, core-tests, rpc)."""

    ledgers: int = 0
    transactions: int = 0
    derived_counts: Counter = field(default_factory=Counter)
    unified_counts: Counter = field(default_factory=Counter)
    unified_ledgers: int = 0
    mismatches: list[tuple[str, TransactionMismatch]] = field(default_factory=list)
    fee_total_differences: list[tuple[int, int, int]] = field(default_factory=list)
    fee_tx_differences: list[tuple[int, str, int, int]] = field(default_factory=list)
    mode_differences: list[int] = field(default_factory=list)


@dataclass
class RealLedgers:
    datasets: dict[str, Dataset]
    pubnet: DecodedLedger | None = None
    pubnet_events: list[TokenEvent] = field(default_factory=list)


def _dataset(label: str) -> str:
    parts = label.split("/")
    return parts[1] if parts[0] == "lake" else parts[0]


def _check(ledger: DecodedLedger, network: Network, data: Dataset, out: RealLedgers) -> None:
    data.ledgers += 1
    data.transactions += len(ledger.transactions)
    derived = TokenTransferProcessor(network, "derived")
    events = derived.events_from_ledger(ledger)
    data.derived_counts.update(e.event_type for e in events)
    data.mismatches += [("derived", m) for m in reconcile_ledger(ledger, events)]
    from_events, charged = fee_totals(ledger, events)
    if from_events != charged:
        data.fee_total_differences.append((ledger.sequence, from_events, charged))
    for tx in ledger.transactions:
        net = sum(e.amount for e in derived.events_from_transaction(ledger, tx).fee_events)
        if net != tx.result.fee_charged.int64:
            data.fee_tx_differences.append(
                (ledger.sequence, tx.hash.hex(), net, tx.result.fee_charged.int64)
            )
    if choose_mode(ledger) == "unified":
        data.unified_ledgers += 1
        unified = TokenTransferProcessor(network, "unified").events_from_ledger(ledger)
        data.unified_counts.update(e.event_type for e in unified)
        data.mismatches += [("unified", m) for m in reconcile_ledger(ledger, unified)]
        if unified != events:
            data.mode_differences.append(ledger.sequence)
    if ledger.sequence == PUBNET_LEDGER:
        out.pubnet, out.pubnet_events = ledger, events


@pytest.fixture(scope="module")
def real() -> RealLedgers:
    out = RealLedgers({})
    for ledger_file in all_verifiable_files():
        data = out.datasets.setdefault(_dataset(ledger_file.label), Dataset())
        for i, lcm in enumerate(ledger_file.ledgers()):
            ledger = decode_ledger(lcm, ledger_file.network, f"{ledger_file.label}#{i}")
            _check(ledger, ledger_file.network, data, out)
    rpc = out.datasets.setdefault("rpc", Dataset())
    for lcm, network in rpc_ledgers():
        _check(decode_ledger(lcm, network), network, rpc, out)
    return out


def test_every_dataset_was_read_in_full(real: RealLedgers) -> None:
    seen = {name: (d.ledgers, d.transactions) for name, d in real.datasets.items()}
    assert seen == {
        "pubnet": (1, 163),
        "pubnet-p26": (10, 2650),
        "testnet-2022": (160, 608),
        "core-tests": (11882, 10032),
        "rpc": (3, 5),
    }


def test_events_reconcile_with_ledger_changes_for_every_transaction(real: RealLedgers) -> None:
    mismatches = [(name, mode, m) for name, d in real.datasets.items() for mode, m in d.mismatches]
    assert mismatches == [], "\n".join(f"{name} {mode}: {m}" for name, mode, m in mismatches[:5])


def test_fee_events_sum_to_fees_charged(real: RealLedgers) -> None:
    """Holds per ledger and per transaction on all of the data (see the package docstring)."""
    for name, data in real.datasets.items():
        assert data.fee_total_differences == [], name
        assert data.fee_tx_differences == [], name


def test_derived_and_unified_modes_agree_where_ledgers_carry_unified_events(
    real: RealLedgers,
) -> None:
    """Event lists compared whole, in §3 order: no principled difference shows up."""
    unified = {name: d.unified_ledgers for name, d in real.datasets.items() if d.unified_ledgers}
    assert unified == {"core-tests": 89, "pubnet-p26": 10, "rpc": 1}
    for name, data in real.datasets.items():
        assert data.mode_differences == [], name


def test_event_counts_per_dataset(real: RealLedgers) -> None:
    """Golden counts by type: a change here is a change in what the processor emits."""
    derived = {name: dict(d.derived_counts) for name, d in real.datasets.items()}
    assert derived == {
        "pubnet": {"fee": 164, "transfer": 132},
        "pubnet-p26": {"fee": 2905, "transfer": 3571, "mint": 48, "burn": 10},
        "testnet-2022": {"fee": 608, "transfer": 234, "mint": 42, "burn": 4, "clawback": 2},
        "core-tests": {"fee": 16456, "transfer": 2534, "mint": 307, "burn": 21},
        "rpc": {"fee": 5},
    }
    unified = {
        name: dict(d.unified_counts) for name, d in real.datasets.items() if d.unified_counts
    }
    assert unified == {
        "core-tests": {"fee": 155, "transfer": 38},
        "pubnet-p26": {"fee": 2905, "transfer": 3571, "mint": 48, "burn": 10},
        "rpc": {"fee": 1},
    }


# --- pubnet 53312000 spot checks -------------------------------------------------------------


def _op_type(ledger: DecodedLedger, ev: TokenEvent) -> str:
    tx = ledger.transactions[ev.transaction_index - 1]
    assert ev.operation_index is not None
    return tx.operations[ev.operation_index - 1].body.type.name


def test_pubnet_fee_events(real: RealLedgers) -> None:
    """One fee per transaction in tx order, then the Soroban refund after its transaction."""
    ledger, events = real.pubnet, real.pubnet_events
    assert ledger is not None
    fees = [e for e in events if e.event_type == "fee"]
    assert [e.transaction_index for e in fees[:163]] == list(range(1, 164))
    assert events[:163] == fees[:163]
    [soroban] = [tx for tx in ledger.transactions if tx.is_soroban]
    refund = events[-1]
    assert (refund.event_type, refund.transaction_index) == ("fee", soroban.index)
    assert refund.amount < 0 < fees[soroban.index - 1].amount
    assert all(e.operation_index is None for e in fees)
    assert {e.contract_address for e in fees} == {
        "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA"  # the pubnet native SAC
    }


def test_pubnet_operation_events(real: RealLedgers) -> None:
    ledger, events = real.pubnet, real.pubnet_events
    assert ledger is not None
    shapes = Counter(
        (_op_type(ledger, e), e.event_type, e.from_address[0], e.to_address[0])  # type: ignore[index]
        for e in events
        if e.event_type != "fee"
    )
    assert shapes == {
        # 54 successful CREATE_CLAIMABLE_BALANCE: one movement into each new balance
        ("CREATE_CLAIMABLE_BALANCE", "transfer", "G", "B"): 54,
        ("CLAIM_CLAIMABLE_BALANCE", "transfer", "B", "G"): 3,
        ("PAYMENT", "transfer", "G", "G"): 9,
        # 4 strict-receive and 4 strict-send payments: trades with offers (G) and pools (L),
        # and the final legs to the destinations
        ("PATH_PAYMENT_STRICT_RECEIVE", "transfer", "G", "G"): 18,
        ("PATH_PAYMENT_STRICT_RECEIVE", "transfer", "L", "G"): 12,
        ("PATH_PAYMENT_STRICT_RECEIVE", "transfer", "G", "L"): 12,
        ("PATH_PAYMENT_STRICT_SEND", "transfer", "G", "G"): 8,
        ("PATH_PAYMENT_STRICT_SEND", "transfer", "L", "G"): 6,
        ("PATH_PAYMENT_STRICT_SEND", "transfer", "G", "L"): 6,
        # of 90 successful offers, two crossed one offer each (a trade pair each)
        ("MANAGE_BUY_OFFER", "transfer", "G", "G"): 4,
    }
    for e in events:
        assert e.ledger_sequence == PUBNET_LEDGER and e.closed_at == ledger.close_time
        assert e.tx_hash == ledger.transactions[e.transaction_index - 1].hash.hex()
        if e.event_type != "fee":
            assert ledger.transactions[e.transaction_index - 1].successful


def test_pubnet_destination_muxing_follows_the_memo(real: RealLedgers) -> None:
    """Payments carry their transaction's memo; trades and claimable balances never do."""
    ledger, events = real.pubnet, real.pubnet_events
    assert ledger is not None
    with_info = [e for e in events if e.to_muxed_info is not None]
    assert len(with_info) == 4
    for e in with_info:
        tx = ledger.transactions[e.transaction_index - 1]
        assert _op_type(ledger, e) == "PAYMENT"
        assert e.to_muxed_info == muxed_info_from_memo(tx.memo)
