//! A batch of ledgers through the whole path: parse, verify, pair, derive, build Arrow.
//!
//! Ledgers are split into contiguous chunks processed in parallel on a rayon pool; each chunk
//! builds its own batches, so the output is in ledger order without any merge step. Checks
//! that link ledgers (sequence, hash chain) run after, over the per-ledger summaries.

use std::collections::HashMap;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex, OnceLock};

use arrow_array::{Array, BinaryArray, RecordBatch};
use arrow_schema::SchemaRef;
use rayon::prelude::*;

use crate::error::{CoreError, CoreResult};
use crate::ledger::{hex, Ledger};
use crate::network::Network;
use crate::tables::decoded::DecodedBuilders;
use crate::tables::events::{count_by_type, BalanceChangesBuilder, EventsBuilder};
use crate::tables::metadata::TokenMetadataBuilder;
use crate::tables::raw::RawLedgersBuilder;
use crate::ttp::{self, Mode, Processor};

/// Stack of the worker threads: deep enough for `lcm::MAX_DEPTH` nested XDR values.
const WORKER_STACK_BYTES: usize = 64 << 20;

/// Which token-event mode each ledger uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModeChoice {
    /// Per ledger: unified where every transaction carries its CAP-67 fee events.
    Auto,
    Fixed(Mode),
}

/// The tables a call builds, and whether the tx-set and result commitments are checked.
#[derive(Debug, Clone, Copy)]
pub struct Wanted {
    pub raw_ledgers: bool,
    pub decoded: bool,
    pub ttp: bool,
    pub token_metadata: bool,
    /// Off only for synthetic load-test ledgers whose tx sets were rewritten after signing
    /// (benchmarks, tests); the platform always checks.
    pub commitments: bool,
}

impl Default for Wanted {
    fn default() -> Self {
        Self {
            raw_ledgers: false,
            decoded: false,
            ttp: false,
            token_metadata: false,
            commitments: true,
        }
    }
}

/// The schemas of every table, from `core/schemas.py`.
pub struct Schemas {
    pub raw_ledgers: SchemaRef,
    pub ledgers: SchemaRef,
    pub transactions: SchemaRef,
    pub operations: SchemaRef,
    pub ttp_events: SchemaRef,
    pub balance_changes: SchemaRef,
    pub token_metadata: SchemaRef,
}

pub struct Config {
    pub network: Network,
    pub mode: ModeChoice,
    pub threads: usize,
    pub schemas: Schemas,
}

/// What one ledger contributed, for the checks that span ledgers and for run metadata.
#[derive(Debug, Clone)]
pub struct LedgerSummary {
    pub sequence: u32,
    pub hash: [u8; 32],
    pub previous_hash: [u8; 32],
    pub close_time: u64,
    pub xdr_bytes: usize,
    pub events: usize,
    pub derivation: Option<Mode>,
}

#[derive(Default)]
pub struct ChunkOutput {
    pub raw_ledgers: Option<RecordBatch>,
    pub ledgers: Option<RecordBatch>,
    pub transactions: Option<RecordBatch>,
    pub operations: Option<RecordBatch>,
    pub ttp_events: Option<RecordBatch>,
    pub balance_changes: Option<RecordBatch>,
    pub token_metadata: Option<RecordBatch>,
    pub summaries: Vec<LedgerSummary>,
    /// transfer, mint, burn, clawback, fee
    pub events_by_type: [u64; 5],
}

pub struct BatchOutput {
    pub chunks: Vec<ChunkOutput>,
}

impl BatchOutput {
    pub fn summaries(&self) -> impl Iterator<Item = &LedgerSummary> {
        self.chunks.iter().flat_map(|c| c.summaries.iter())
    }
}

/// Where the batch sits in its chain, when the caller knows. With either field set, the
/// ledgers must also follow each other (consecutive sequences, each naming the previous hash).
#[derive(Debug, Clone, Default)]
pub struct ChainStart {
    /// The sequence the first ledger must have; the others follow one by one.
    pub first_sequence: Option<u32>,
    /// The hash of the ledger before the first.
    pub previous_hash: Option<[u8; 32]>,
}

fn pool(threads: usize) -> CoreResult<Arc<rayon::ThreadPool>> {
    static POOLS: OnceLock<Mutex<HashMap<usize, Arc<rayon::ThreadPool>>>> = OnceLock::new();
    let pools = POOLS.get_or_init(|| Mutex::new(HashMap::new()));
    let mut pools = pools
        .lock()
        .map_err(|_| CoreError::internal("thread pool registry poisoned"))?;
    if let Some(p) = pools.get(&threads) {
        return Ok(Arc::clone(p));
    }
    let p = rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .stack_size(WORKER_STACK_BYTES)
        .thread_name(|i| format!("ttp-native-{i}"))
        .build()
        .map_err(|e| CoreError::internal(format!("cannot start {threads} worker threads: {e}")))?;
    let p = Arc::new(p);
    pools.insert(threads, Arc::clone(&p));
    Ok(p)
}

struct ChunkBuilders {
    raw: RawLedgersBuilder,
    decoded: DecodedBuilders,
    events: EventsBuilder,
    balances: BalanceChangesBuilder,
    metadata: TokenMetadataBuilder,
}

fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "unknown panic".to_owned()
    }
}

/// The label of ledger `i` in messages: the caller's, else its position in the batch.
fn label(labels: Option<&[String]>, i: usize) -> String {
    labels
        .and_then(|l| l.get(i).cloned())
        .unwrap_or_else(|| format!("LedgerCloseMeta #{i} of the batch"))
}

#[inline(never)] // a stable frame for profilers (per ledger, so free)
fn process_ledger(
    config: &Config,
    wanted: Wanted,
    processor: &mut Processor,
    data: &[u8],
    b: &mut ChunkBuilders,
    counts: &mut [u64; 5],
) -> CoreResult<LedgerSummary> {
    let parsed = crate::lcm::parse(data, &config.network.id)?;
    let ledger = Ledger::from_parsed(parsed, &config.network.name, wanted.commitments)?;
    let mut summary = LedgerSummary {
        sequence: ledger.sequence(),
        hash: ledger.hash,
        previous_hash: ledger.header.previous_ledger_hash.0,
        close_time: ledger.close_time(),
        xdr_bytes: data.len(),
        events: 0,
        derivation: None,
    };
    if wanted.raw_ledgers {
        b.raw.append(&ledger);
    }
    if wanted.decoded {
        b.decoded.append(&ledger)?;
    }
    if wanted.ttp {
        let mode = match config.mode {
            ModeChoice::Auto => ttp::choose_mode(&ledger),
            ModeChoice::Fixed(m) => m,
        };
        let events = processor.events_for_ledger(&ledger, mode)?;
        b.events.append(&events, mode.name())?;
        b.balances.append(&ledger)?;
        count_by_type(&events, counts);
        summary.events = events.len();
        summary.derivation = Some(mode);
    }
    if wanted.token_metadata {
        b.metadata.append(&ledger);
    }
    Ok(summary)
}

fn process_chunk(
    config: &Config,
    wanted: Wanted,
    lcms: &BinaryArray,
    range: std::ops::Range<usize>,
    labels: Option<&[String]>,
) -> CoreResult<ChunkOutput> {
    let mut b = ChunkBuilders {
        raw: RawLedgersBuilder::new(),
        decoded: DecodedBuilders::default(),
        events: EventsBuilder::new(),
        balances: BalanceChangesBuilder::new(),
        metadata: TokenMetadataBuilder::new(),
    };
    let mut processor = Processor::new(&config.network);
    let mut out = ChunkOutput::default();
    for i in range.clone() {
        if lcms.is_null(i) {
            return Err(CoreError::data(format!(
                "{}: no LedgerCloseMeta bytes (null)",
                label(labels, i)
            )));
        }
        let data = lcms.value(i);
        let step = catch_unwind(AssertUnwindSafe(|| {
            process_ledger(
                config,
                wanted,
                &mut processor,
                data,
                &mut b,
                &mut out.events_by_type,
            )
        }));
        let summary = match step {
            Ok(Ok(s)) => s,
            Ok(Err(e)) => return Err(e.context(&label(labels, i))),
            Err(payload) => {
                return Err(CoreError::internal(format!(
                    "{}: the native core panicked ({}); this is a bug, please report it with \
                     the ledger",
                    label(labels, i),
                    panic_message(payload.as_ref())
                )))
            }
        };
        out.summaries.push(summary);
    }
    let s = &config.schemas;
    if wanted.raw_ledgers {
        let xdr = lcms.slice(range.start, range.len());
        out.raw_ledgers = Some(b.raw.finish_with_xdr(&s.raw_ledgers, Arc::new(xdr))?);
    }
    if wanted.decoded {
        out.ledgers = Some(b.decoded.ledgers.finish(&s.ledgers)?);
        out.transactions = Some(b.decoded.transactions.finish(&s.transactions)?);
        out.operations = Some(b.decoded.operations.finish(&s.operations)?);
    }
    if wanted.ttp {
        out.ttp_events = Some(b.events.finish(&s.ttp_events)?);
        out.balance_changes = Some(b.balances.finish(&s.balance_changes)?);
    }
    if wanted.token_metadata {
        out.token_metadata = Some(b.metadata.finish(&s.token_metadata)?);
    }
    Ok(out)
}

/// XDR per chunk at most, about: bounds the memory a chunk's builders hold (about three times
/// its XDR). Smaller chunks cost a little: each has its own builders, batches and export
/// (measured: 4 MB chunks ran ~4% slower than one chunk per batch on one thread).
const CHUNK_BYTES: usize = 16 << 20;

/// XDR per chunk at least, about, when there are several threads: below it, a chunk's own
/// costs (its builders, its batches, their export to Python) outweigh what parallelism gains
/// (measured on the testnet lake's 5 KB ledgers).
const MIN_PARALLEL_CHUNK_BYTES: usize = 512 << 10;

/// Contiguous ranges of about equal bytes: a few per thread, so that uneven ledgers balance,
/// none much larger than `CHUNK_BYTES`, and none much smaller than `MIN_PARALLEL_CHUNK_BYTES`.
fn chunks(lcms: &BinaryArray, threads: usize) -> Vec<std::ops::Range<usize>> {
    let n = lcms.len();
    if n == 0 {
        return Vec::new();
    }
    let total: usize = (0..n).map(|i| lcms.value_length(i) as usize).sum();
    let per_thread = if threads <= 1 { 1 } else { threads * 4 };
    let parts = per_thread
        .min(total.div_ceil(MIN_PARALLEL_CHUNK_BYTES))
        .max(total.div_ceil(CHUNK_BYTES))
        .clamp(1, n);
    let target = total.div_ceil(parts).max(1);
    let mut out = Vec::with_capacity(parts);
    let (mut start, mut acc) = (0, 0);
    for i in 0..n {
        acc += lcms.value_length(i) as usize;
        if acc >= target && out.len() + 1 < parts {
            out.push(start..i + 1);
            start = i + 1;
            acc = 0;
        }
    }
    if start < n {
        out.push(start..n);
    }
    out
}

/// The ledgers follow each other: expected sequences and an unbroken hash chain.
fn verify_chain(
    output: &BatchOutput,
    chain: &ChainStart,
    labels: Option<&[String]>,
) -> CoreResult<()> {
    if chain.first_sequence.is_none() && chain.previous_hash.is_none() {
        return Ok(()); // not a chain the caller vouches for (e.g. ledgers of unit tests)
    }
    let mut expected = chain.first_sequence;
    let mut previous = chain.previous_hash;
    for (i, s) in output.summaries().enumerate() {
        if let Some(want) = expected {
            if s.sequence != want {
                return Err(CoreError::data(format!(
                    "{}: holds ledger {} where {want} was expected",
                    label(labels, i),
                    s.sequence
                )));
            }
            expected = want.checked_add(1);
        }
        if let Some(prev) = previous {
            if s.previous_hash != prev {
                return Err(CoreError::data(format!(
                    "{}: ledger {} says the previous ledger hash is {} but ledger {} hashes to \
                     {}: the hash chain is broken",
                    label(labels, i),
                    s.sequence,
                    hex(&s.previous_hash),
                    s.sequence.wrapping_sub(1),
                    hex(&prev)
                )));
            }
        }
        previous = Some(s.hash);
    }
    Ok(())
}

/// Process a batch; any error fails the whole batch (nothing of it is returned).
pub fn process(
    config: &Config,
    wanted: Wanted,
    lcms: &BinaryArray,
    chain: &ChainStart,
    labels: Option<&[String]>,
) -> CoreResult<BatchOutput> {
    let ranges = chunks(lcms, config.threads);
    let pool = pool(config.threads.max(1))?;
    let results: Vec<CoreResult<ChunkOutput>> = pool.install(|| {
        ranges
            .into_par_iter()
            .map(|range| process_chunk(config, wanted, lcms, range, labels))
            .collect()
    });
    let chunks = results.into_iter().collect::<CoreResult<Vec<_>>>()?;
    let output = BatchOutput { chunks };
    verify_chain(&output, chain, labels)?;
    Ok(output)
}
