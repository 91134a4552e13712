//! The decoder and table builders on every real ledger: exact SEP-51 JSON, and damage that
//! ends in errors, never in panics.

mod common;

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::time::{Duration, Instant};

use serde::de::DeserializeOwned;
use stellar_xdr::{OperationBody, OperationResult};
use ttp_native::ledger::Ledger;
use ttp_native::network::Network;
use ttp_native::tables::decoded::DecodedBuilders;
use ttp_native::tables::events::{BalanceChangesBuilder, EventsBuilder};
use ttp_native::ttp::{choose_mode, Processor};

/// JSON back into a value, however deeply nested (contract arguments can be).
fn parse<T: DeserializeOwned>(json: &str) -> Result<T, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(json);
    de.disable_recursion_limit();
    T::deserialize(&mut de)
}

/// The operations table's `details` / `result_details` are stellar-xdr's serde JSON (SEP-51):
/// it parses back into exactly the XDR value it was written from, for every operation held.
#[test]
fn operation_json_round_trips_to_the_same_xdr() {
    let mut ops = 0usize;
    for (label, network, lcm) in common::real_ledgers() {
        let ledger = Ledger::decode(&lcm, &network.id, &network.name)
            .unwrap_or_else(|e| panic!("{label}: {}", e.message));
        for tx in &ledger.transactions {
            let results = tx.operation_results().unwrap_or(&[]);
            for (i, op) in tx.operations().iter().enumerate() {
                let json = serde_json::to_string(&op.body).expect("operation body renders");
                let back: OperationBody =
                    parse(&json).unwrap_or_else(|e| panic!("{label}: {e} in {json}"));
                assert_eq!(back, op.body, "{label}: {json}");
                if let Some(result) = results.get(i) {
                    let json = serde_json::to_string(result).expect("operation result renders");
                    let back: OperationResult =
                        parse(&json).unwrap_or_else(|e| panic!("{label}: {e} in {json}"));
                    assert_eq!(&back, result, "{label}: {json}");
                }
                ops += 1;
            }
        }
    }
    assert!(ops > 18_000, "only {ops} operations");
}

/// Everything a ledger goes through, without Arrow schemas (those come from Python).
fn process(lcm: &[u8], network: &Network, processor: &mut Processor) -> Result<(), String> {
    let ledger = Ledger::decode(lcm, &network.id, &network.name).map_err(|e| e.message)?;
    DecodedBuilders::default()
        .append(&ledger)
        .map_err(|e| e.message)?;
    let events = processor
        .events_for_ledger(&ledger, choose_mode(&ledger))
        .map_err(|e| e.message)?;
    EventsBuilder::new()
        .append(&events, "auto")
        .map_err(|e| e.message)?;
    BalanceChangesBuilder::new()
        .append(&ledger)
        .map_err(|e| e.message)?;
    Ok(())
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

/// Random damage (bit flips, special words, deletions, insertions, truncation) to real
/// ledgers for a bounded time: every outcome is an error or rows, never a panic.
#[test]
fn mutated_ledgers_never_panic() {
    let seeds: Vec<(String, Network, Vec<u8>)> = common::real_ledgers()
        .into_iter()
        .filter(|(_, _, lcm)| lcm.len() > 2_000)
        .step_by(97)
        .collect();
    assert!(seeds.len() > 20);
    let words = [
        0u32,
        1,
        2,
        3,
        0x7FFF_FFFF,
        0x8000_0000,
        0xFFFF_FFFF,
        0xFFFF_FFFE,
        1 << 20,
    ];
    let mut rng = Rng(0x5eed_2026);
    let (mut errors, mut rows, mut runs) = (0usize, 0usize, 0usize);
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline || runs < 1_000 {
        let (_, network, lcm) = &seeds[rng.below(seeds.len())];
        let mut data = lcm.clone();
        for _ in 0..1 + rng.below(4) {
            if data.len() < 16 {
                break;
            }
            let pos = rng.below(data.len() - 8);
            match rng.below(5) {
                0 => data[pos] ^= 1 << rng.below(8),
                1 => {
                    let at = pos & !3;
                    data[at..at + 4].copy_from_slice(&words[rng.below(words.len())].to_be_bytes());
                }
                2 => {
                    let end = (pos + 1 + rng.below(64)).min(data.len());
                    data.drain(pos..end);
                }
                3 => {
                    let extra: Vec<u8> = (0..1 + rng.below(64)).map(|_| rng.next() as u8).collect();
                    data.splice(pos..pos, extra);
                }
                _ => data.truncate(pos),
            }
        }
        let mut processor = Processor::new(network);
        match catch_unwind(AssertUnwindSafe(|| process(&data, network, &mut processor))) {
            Ok(Ok(())) => rows += 1,
            Ok(Err(message)) => {
                assert!(!message.is_empty());
                errors += 1;
            }
            Err(_) => panic!("a mutated ledger made the core panic (run {runs})"),
        }
        runs += 1;
    }
    assert!(
        errors > 0 && runs >= 1_000,
        "{runs} runs, {errors} errors, {rows} with rows"
    );
}
