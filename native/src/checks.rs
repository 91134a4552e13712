//! Checks over stored tables: the balance reconciliation of committed token events.
//!
//! Per transaction, what the stored events say each (holder, asset) gained must equal the stored
//! `balance_changes` rows (spec §4, VerifyEvents over what was written, not over what was
//! computed). Both tables are in ledger order, so the two streams are merged ledger by ledger
//! and memory stays bounded by one ledger's rows.

use std::collections::{BTreeMap, BTreeSet};

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, RecordBatch, RecordBatchReader};

use crate::error::{CoreError, CoreResult};
use crate::strkey::is_contract;

type Key = (String, String);
type Deltas = BTreeMap<Key, i128>;

/// One transaction whose stored events do not account for its stored balance changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mismatch {
    pub ledger: i64,
    pub transaction_index: i64,
    pub transaction_hash: String,
    /// (holder, asset, from events, from changes), sorted.
    pub differences: Vec<(String, String, i128, i128)>,
}

#[derive(Debug, Default)]
pub struct Outcome {
    pub transactions: u64,
    pub mismatches: Vec<Mismatch>,
}

fn add(deltas: &mut Deltas, holder: &str, asset: &str, delta: i128) -> CoreResult<()> {
    if is_contract(holder) {
        return Ok(());
    }
    let key = (holder.to_owned(), asset.to_owned());
    let total = deltas
        .get(&key)
        .copied()
        .unwrap_or(0)
        .checked_add(delta)
        .ok_or_else(|| CoreError::data(format!("balance of {holder} {asset} overflows i128")))?;
    if total == 0 {
        deltas.remove(&key);
    } else {
        deltas.insert(key, total);
    }
    Ok(())
}

#[derive(Default)]
struct LedgerRows {
    /// transaction index -> (hash, deltas)
    events: BTreeMap<i64, (String, Deltas)>,
    changes: BTreeMap<i64, (String, Deltas)>,
}

/// Rows of one side grouped by ledger, from a stream sorted by ledger.
struct Grouped<R: RecordBatchReader> {
    reader: R,
    batch: Option<RecordBatch>,
    row: usize,
    last_ledger: Option<i64>,
    what: &'static str,
}

fn column<'a>(batch: &'a RecordBatch, name: &str, what: &str) -> CoreResult<&'a dyn Array> {
    batch
        .column_by_name(name)
        .map(|c| c.as_ref())
        .ok_or_else(|| CoreError::data(format!("{what} rows have no {name} column")))
}

fn ints<'a>(
    batch: &'a RecordBatch,
    name: &str,
    what: &str,
) -> CoreResult<&'a arrow_array::Int64Array> {
    column(batch, name, what)?
        .as_primitive_opt::<Int64Type>()
        .ok_or_else(|| CoreError::data(format!("{what} column {name} must be int64")))
}

fn strings<'a>(
    batch: &'a RecordBatch,
    name: &str,
    what: &str,
) -> CoreResult<&'a arrow_array::StringArray> {
    column(batch, name, what)?
        .as_string_opt::<i32>()
        .ok_or_else(|| CoreError::data(format!("{what} column {name} must be utf8")))
}

fn opt_str(a: &arrow_array::StringArray, i: usize) -> Option<&str> {
    if a.is_null(i) {
        None
    } else {
        Some(a.value(i))
    }
}

impl<R: RecordBatchReader> Grouped<R> {
    fn new(reader: R, what: &'static str) -> Self {
        Self {
            reader,
            batch: None,
            row: 0,
            last_ledger: None,
            what,
        }
    }

    /// The ledger of the next row, loading batches as needed; None at the end.
    fn peek_ledger(&mut self) -> CoreResult<Option<i64>> {
        loop {
            if let Some(b) = &self.batch {
                if self.row < b.num_rows() {
                    let seq = ints(b, "ledger_sequence", self.what)?.value(self.row);
                    return Ok(Some(seq));
                }
            }
            match self.reader.next() {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(CoreError::data(format!("reading {} rows: {e}", self.what)))
                }
                Some(Ok(b)) => {
                    self.batch = Some(b);
                    self.row = 0;
                }
            }
        }
    }

    /// Apply `f` to every row of ledger `seq` (the next ledger of the stream).
    fn take_ledger(
        &mut self,
        seq: i64,
        mut f: impl FnMut(&RecordBatch, usize) -> CoreResult<()>,
    ) -> CoreResult<()> {
        if let Some(last) = self.last_ledger {
            if seq < last {
                return Err(CoreError::data(format!(
                    "{} rows are not in ledger order ({seq} after {last})",
                    self.what
                )));
            }
        }
        self.last_ledger = Some(seq);
        while self.peek_ledger()? == Some(seq) {
            if let Some(b) = &self.batch {
                f(b, self.row)?;
            }
            self.row += 1;
        }
        Ok(())
    }
}

fn event_row(b: &RecordBatch, i: usize, rows: &mut LedgerRows) -> CoreResult<()> {
    const W: &str = "ttp_events";
    let asset = strings(b, "asset", W)?;
    let tx = ints(b, "transaction_index", W)?.value(i);
    let hash = strings(b, "transaction_hash", W)?.value(i);
    let entry = rows
        .events
        .entry(tx)
        .or_insert_with(|| (hash.to_owned(), Deltas::new()));
    let Some(asset) = opt_str(asset, i) else {
        return Ok(()); // a custom token: outside the check
    };
    let raw = strings(b, "amount_raw", W)?.value(i);
    let amount: i128 = raw
        .parse()
        .map_err(|_| CoreError::data(format!("ttp_events amount_raw {raw:?} is not an integer")))?;
    let from = opt_str(strings(b, "from", W)?, i);
    let to = opt_str(strings(b, "to", W)?, i);
    let kind = strings(b, "event_type", W)?.value(i);
    let missing = |side: &str| {
        CoreError::data(format!(
            "a stored {kind} event of tx {tx} has no {side} address"
        ))
    };
    let deltas = &mut entry.1;
    match kind {
        "transfer" => {
            add(deltas, from.ok_or_else(|| missing("from"))?, asset, -amount)?;
            add(deltas, to.ok_or_else(|| missing("to"))?, asset, amount)?;
        }
        "mint" => add(deltas, to.ok_or_else(|| missing("to"))?, asset, amount)?,
        "burn" | "clawback" | "fee" => {
            add(deltas, from.ok_or_else(|| missing("from"))?, asset, -amount)?
        }
        other => {
            return Err(CoreError::data(format!(
                "unknown stored event type {other:?}"
            )))
        }
    }
    Ok(())
}

fn change_row(b: &RecordBatch, i: usize, rows: &mut LedgerRows) -> CoreResult<()> {
    const W: &str = "balance_changes";
    let tx = ints(b, "transaction_index", W)?.value(i);
    let hash = strings(b, "transaction_hash", W)?.value(i);
    let entry = rows
        .changes
        .entry(tx)
        .or_insert_with(|| (hash.to_owned(), Deltas::new()));
    let holder = strings(b, "holder", W)?.value(i).to_owned();
    let asset = strings(b, "asset", W)?.value(i).to_owned();
    entry
        .1
        .insert((holder, asset), i128::from(ints(b, "delta", W)?.value(i)));
    Ok(())
}

fn compare(ledger: i64, rows: LedgerRows, out: &mut Outcome) {
    let txs: BTreeSet<i64> = rows
        .events
        .keys()
        .chain(rows.changes.keys())
        .copied()
        .collect();
    let empty = Deltas::new();
    for tx in txs {
        out.transactions += 1;
        let ev = rows.events.get(&tx);
        let ch = rows.changes.get(&tx);
        let from_events = ev.map_or(&empty, |e| &e.1);
        let from_changes = ch.map_or(&empty, |c| &c.1);
        if from_events == from_changes {
            continue;
        }
        let keys: BTreeSet<&Key> = from_events.keys().chain(from_changes.keys()).collect();
        let differences = keys
            .into_iter()
            .filter_map(|k| {
                let e = from_events.get(k).copied().unwrap_or(0);
                let c = from_changes.get(k).copied().unwrap_or(0);
                (e != c).then(|| (k.0.clone(), k.1.clone(), e, c))
            })
            .collect();
        let transaction_hash = ch
            .map(|c| c.0.clone())
            .or_else(|| ev.map(|e| e.0.clone()))
            .unwrap_or_default();
        out.mismatches.push(Mismatch {
            ledger,
            transaction_index: tx,
            transaction_hash,
            differences,
        });
    }
}

/// Reconcile two ledger-ordered streams: stored events and stored balance changes.
pub fn reconcile(
    events: impl RecordBatchReader,
    changes: impl RecordBatchReader,
) -> CoreResult<Outcome> {
    let mut ev = Grouped::new(events, "ttp_events");
    let mut ch = Grouped::new(changes, "balance_changes");
    let mut out = Outcome::default();
    loop {
        let next = match (ev.peek_ledger()?, ch.peek_ledger()?) {
            (None, None) => break,
            (Some(a), None) => a,
            (None, Some(b)) => b,
            (Some(a), Some(b)) => a.min(b),
        };
        let mut rows = LedgerRows::default();
        ev.take_ledger(next, |b, i| event_row(b, i, &mut rows))?;
        ch.take_ledger(next, |b, i| change_row(b, i, &mut rows))?;
        compare(next, rows, &mut out);
    }
    Ok(out)
}
