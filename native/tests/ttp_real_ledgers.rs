//! The token transfer processor on every real ledger we hold (`../../shared/data`).
//!
//! Per ledger: VerifyEvents holds for every transaction in derived mode, and in unified mode
//! wherever `choose_mode` says the ledger carries unified events; fee events sum to the
//! transactions' `feeCharged`; derived and unified modes give the same list in the same order.
//! Datasets: lake/pubnet, lake/pubnet-p26, lake/testnet-2022, all core-tests and the RPC
//! examples. Per dataset: the ledger and transaction counts, and the event counts by type, that the
//! Python suite (`ttp_assets_tests/core/ttp/test_real_ledgers.py`) asserts. The data is
//! required: a missing file fails the test, it never skips.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{
    batch_ledgers, files_under, record_marked_ledgers, shared_data, CORE_TESTS, PUBNET, TESTNET,
};

use ttp_native::ledger::{hex, Ledger};
use ttp_native::network::Network;
use ttp_native::ttp::{choose_mode, reconcile_transaction, EventType, Mode, Processor, TokenEvent};

const PUBNET_LEDGER: u32 = 53_312_000;

#[derive(Default)]
struct Dataset {
    ledgers: usize,
    transactions: usize,
    derived: BTreeMap<&'static str, usize>,
    unified: BTreeMap<&'static str, usize>,
    unified_ledgers: usize,
    failures: Vec<String>,
    xdr_bytes: usize,
}

fn count(events: &[TokenEvent], into: &mut BTreeMap<&'static str, usize>) {
    for e in events {
        *into.entry(e.event_type.name()).or_default() += 1;
    }
}

/// Each transaction's events, by 1-based transaction index.
fn by_transaction(ledger: &Ledger, events: &[TokenEvent]) -> Vec<Vec<TokenEvent>> {
    let mut out = vec![Vec::new(); ledger.transactions.len()];
    for e in events {
        assert_eq!(e.ledger_sequence, ledger.sequence());
        assert_eq!(e.closed_at, ledger.close_time());
        let slot = out
            .get_mut(e.transaction_index as usize - 1)
            .expect("event of an unknown transaction");
        slot.push(e.clone());
    }
    out
}

fn reconcile(ledger: &Ledger, events: &[TokenEvent], mode: &str, where_: &str, data: &mut Dataset) {
    for (tx, tx_events) in ledger
        .transactions
        .iter()
        .zip(by_transaction(ledger, events))
    {
        assert!(tx_events.iter().all(|e| e.tx_hash == tx.hash));
        match reconcile_transaction(ledger, tx, &tx_events) {
            Ok(None) => {}
            Ok(Some(diff)) => data.failures.push(format!(
                "{where_} ledger {} tx {} ({}) {mode}: events differ from changes: {diff:?}",
                ledger.sequence(),
                tx.index,
                hex(&tx.hash)
            )),
            Err(e) => data.failures.push(format!(
                "{where_} ledger {} {mode}: {}",
                ledger.sequence(),
                e.message
            )),
        }
    }
}

fn check_ledger(ledger: &Ledger, processor: &mut Processor, where_: &str, data: &mut Dataset) {
    data.ledgers += 1;
    data.transactions += ledger.transactions.len();
    let derived = match processor.events_for_ledger(ledger, Mode::Derived) {
        Ok(events) => events,
        Err(e) => {
            data.failures.push(format!(
                "{where_} ledger {} derived: {}",
                ledger.sequence(),
                e.message
            ));
            return;
        }
    };
    count(&derived, &mut data.derived);
    reconcile(ledger, &derived, "derived", where_, data);

    // Fee events net of refunds are what the results report, per transaction and per ledger.
    let fees_by_tx = by_transaction(ledger, &derived);
    let mut ledger_fees = 0i128;
    let mut ledger_charged = 0i128;
    for (tx, tx_events) in ledger.transactions.iter().zip(&fees_by_tx) {
        let fees: i128 = tx_events
            .iter()
            .filter(|e| e.event_type == EventType::Fee)
            .map(|e| e.amount)
            .sum();
        let charged = i128::from(tx.fee_charged());
        if fees != charged {
            data.failures.push(format!(
                "{where_} ledger {} tx {}: fee events {fees} != feeCharged {charged}",
                ledger.sequence(),
                hex(&tx.hash)
            ));
        }
        ledger_fees += fees;
        ledger_charged += charged;
    }
    if ledger_fees != ledger_charged {
        data.failures.push(format!(
            "{where_} ledger {}: fee events {ledger_fees} != feeCharged {ledger_charged}",
            ledger.sequence()
        ));
    }

    if choose_mode(ledger) == Mode::Unified {
        data.unified_ledgers += 1;
        match processor.events_for_ledger(ledger, Mode::Unified) {
            Ok(unified) => {
                count(&unified, &mut data.unified);
                reconcile(ledger, &unified, "unified", where_, data);
                if unified != derived {
                    let first = derived.iter().zip(&unified).position(|(d, u)| d != u);
                    data.failures.push(format!(
                        "{where_} ledger {}: derived ({}) and unified ({}) events differ; first at {first:?}: \
                         {:?} vs {:?}",
                        ledger.sequence(),
                        derived.len(),
                        unified.len(),
                        first.and_then(|i| derived.get(i)),
                        first.and_then(|i| unified.get(i)),
                    ));
                }
            }
            Err(e) => data.failures.push(format!(
                "{where_} ledger {} unified: {}",
                ledger.sequence(),
                e.message
            )),
        }
    }
}

fn run_files(
    files: &[PathBuf],
    network: &Network,
    lake: bool,
    data: &mut Dataset,
    mut each: impl FnMut(&Ledger),
) {
    assert!(!files.is_empty(), "no ledger files found");
    let mut processor = Processor::new(network);
    for path in files {
        let ledgers = if lake {
            batch_ledgers(path)
        } else {
            record_marked_ledgers(path)
        };
        let where_ = path
            .strip_prefix(shared_data())
            .unwrap_or(path)
            .display()
            .to_string();
        for (i, lcm) in ledgers.iter().enumerate() {
            data.xdr_bytes += lcm.len();
            let ledger = Ledger::decode(lcm, &network.id, &network.name)
                .unwrap_or_else(|e| panic!("{where_}#{i}: {}", e.message));
            check_ledger(&ledger, &mut processor, &where_, data);
            each(&ledger);
        }
    }
}

fn lake(name: &str, passphrase: &str, each: impl FnMut(&Ledger)) -> Dataset {
    let root = shared_data().join("lake").join(name);
    assert!(
        root.join(".config.json").is_file(),
        "data lake {} is missing its .config.json",
        root.display()
    );
    let mut data = Dataset::default();
    run_files(
        &files_under(&root, true),
        &Network::new(name, passphrase),
        true,
        &mut data,
        each,
    );
    data
}

fn core_tests() -> Dataset {
    let root = shared_data().join("core-tests");
    let mut data = Dataset::default();
    run_files(
        &files_under(&root, true),
        &Network::new("core-tests", CORE_TESTS),
        false,
        &mut data,
        |_| {},
    );
    data
}

/// Standard base64 (the RPC examples' XDR), without a dependency for it.
fn base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {:?}", c as char),
    };
    let digits: Vec<u8> = text
        .bytes()
        .filter(|c| *c != b'=' && !c.is_ascii_whitespace())
        .map(value)
        .collect();
    let mut out = Vec::with_capacity(digits.len() * 3 / 4);
    for chunk in digits.chunks(4) {
        let mut word = 0u32;
        for (i, d) in chunk.iter().enumerate() {
            word |= u32::from(*d) << (18 - 6 * i);
        }
        out.extend_from_slice(&word.to_be_bytes()[1..chunk.len()]);
    }
    out
}

/// The LCMs inside the RPC examples (testnet).
fn rpc_ledgers() -> Vec<Vec<u8>> {
    let read = |name: &str| -> serde_json::Value {
        let path = shared_data().join("rpc").join(name);
        let text =
            std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    };
    let ledgers = read("getLedgers_example_testnet_36233-36234.json");
    let mut out: Vec<Vec<u8>> = ledgers["result"]["ledgers"]
        .as_array()
        .expect("getLedgers result has ledgers")
        .iter()
        .map(|l| base64(l["metadataXdr"].as_str().expect("metadataXdr")))
        .collect();
    let latest = read("getLatestLedger_example_testnet_2002985.json");
    if let Some(xdr) = latest["result"]["metadataXdr"].as_str() {
        out.push(base64(xdr));
    }
    out
}

fn counts(pairs: &[(&'static str, usize)]) -> BTreeMap<&'static str, usize> {
    pairs.iter().copied().collect()
}

fn report(name: &str, data: &Dataset) {
    println!(
        "{name}: {} ledgers, {} transactions, {} bytes of XDR; derived events {:?}; unified in {} ledgers: {:?}",
        data.ledgers, data.transactions, data.xdr_bytes, data.derived, data.unified_ledgers, data.unified
    );
    let shown: Vec<_> = data.failures.iter().take(8).collect();
    assert!(
        data.failures.is_empty(),
        "{name}: {} failures, first:\n{shown:#?}",
        data.failures.len()
    );
}

#[test]
fn pubnet_53312000() {
    let native_sac = "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA";
    let mut spot_checked = false;
    let data = lake("pubnet", PUBNET, |ledger| {
        assert_eq!(ledger.sequence(), PUBNET_LEDGER);
        let events = Processor::new(&Network::new("pubnet", PUBNET))
            .events_for_ledger(ledger, Mode::Derived)
            .unwrap();
        // One fee per transaction in tx order, then the Soroban refund after its transaction.
        let fees: Vec<_> = events
            .iter()
            .filter(|e| e.event_type == EventType::Fee)
            .collect();
        let first: Vec<u32> = fees.iter().take(163).map(|e| e.transaction_index).collect();
        assert_eq!(first, (1..=163).collect::<Vec<_>>());
        assert!(fees
            .iter()
            .all(|e| e.operation_index.is_none() && e.contract_address == native_sac));
        let refund = events.last().unwrap();
        assert_eq!(refund.event_type, EventType::Fee);
        assert!(refund.amount < 0);
        // Payments carry their transaction's memo; trades and claimable balances never do.
        assert_eq!(
            events.iter().filter(|e| e.to_muxed_info.is_some()).count(),
            4
        );
        spot_checked = true;
    });
    report("lake/pubnet", &data);
    assert!(spot_checked);
    assert_eq!((data.ledgers, data.transactions), (1, 163));
    assert_eq!(data.derived, counts(&[("fee", 164), ("transfer", 132)]));
}

#[test]
fn testnet_2022() {
    let data = lake("testnet-2022", TESTNET, |_| {});
    report("lake/testnet-2022", &data);
    assert_eq!((data.ledgers, data.transactions), (160, 608));
    assert_eq!(
        data.derived,
        counts(&[
            ("fee", 608),
            ("transfer", 234),
            ("mint", 42),
            ("burn", 4),
            ("clawback", 2)
        ])
    );
}

#[test]
fn pubnet_p26() {
    let data = lake("pubnet-p26", PUBNET, |_| {});
    report("lake/pubnet-p26", &data);
    assert_eq!((data.ledgers, data.transactions), (10, 2650));
    // Golden counts, cross-checked event by event against the Python processor.
    let expected = counts(&[
        ("fee", 2905),
        ("transfer", 3571),
        ("mint", 48),
        ("burn", 10),
    ]);
    assert_eq!(data.derived, expected);
    assert_eq!(data.unified_ledgers, 10);
    assert_eq!(data.unified, expected);
}

#[test]
fn core_tests_all() {
    let data = core_tests();
    report("core-tests", &data);
    assert_eq!((data.ledgers, data.transactions), (11882, 10032));
    assert_eq!(
        data.derived,
        counts(&[
            ("fee", 16456),
            ("transfer", 2534),
            ("mint", 307),
            ("burn", 21)
        ])
    );
    assert_eq!(data.unified_ledgers, 89);
    assert_eq!(data.unified, counts(&[("fee", 155), ("transfer", 38)]));
}

#[test]
fn rpc_examples() {
    let network = Network::new("testnet", TESTNET);
    let mut processor = Processor::new(&network);
    let mut data = Dataset::default();
    for (i, lcm) in rpc_ledgers().iter().enumerate() {
        data.xdr_bytes += lcm.len();
        let ledger = Ledger::decode(lcm, &network.id, &network.name)
            .unwrap_or_else(|e| panic!("rpc#{i}: {}", e.message));
        check_ledger(&ledger, &mut processor, "rpc", &mut data);
    }
    report("rpc", &data);
    assert_eq!((data.ledgers, data.transactions), (3, 5));
    assert_eq!(data.derived, counts(&[("fee", 5)]));
    assert_eq!(data.unified_ledgers, 1);
    assert_eq!(data.unified, counts(&[("fee", 1)]));
}
