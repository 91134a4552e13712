//! Arrow table builders: one per table the ledger stages write.
//!
//! The Arrow schemas live in Python (`ttp_assets/core/schemas.py`, the single source of truth);
//! each builder here declares its columns in order and typed, and `finish` assembles them under
//! the schema handed over from Python. Any disagreement in names, order, types or nullability
//! fails when the core is created (see `check_schema`), not halfway through a run.

use std::sync::Arc;

use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;

use crate::error::{CoreError, CoreResult};

pub mod decoded;
pub mod events;
pub mod metadata;
pub mod names;
pub mod raw;

/// Declares a table builder: a struct of typed Arrow builders, in schema order.
macro_rules! table_builder {
    ($table:literal, $name:ident { $($col:ident : $builder:ty = $init:expr),* $(,)? }) => {
        pub struct $name {
            $(pub $col: $builder,)*
        }

        impl $name {
            pub const TABLE: &'static str = $table;

            pub fn new() -> Self {
                Self { $($col: $init,)* }
            }

            pub fn column_names() -> Vec<&'static str> {
                vec![$(stringify!($col).trim_start_matches("r#"),)*]
            }

            /// The rows appended so far as one batch under `schema`; the builders are emptied.
            pub fn finish(&mut self, schema: &arrow_schema::SchemaRef) -> crate::error::CoreResult<arrow_array::RecordBatch> {
                let columns: Vec<arrow_array::ArrayRef> = vec![
                    $(std::sync::Arc::new(arrow_array::builder::ArrayBuilder::finish(&mut self.$col)),)*
                ];
                crate::tables::assemble(Self::TABLE, &Self::column_names(), schema, columns)
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }
    };
}
pub(crate) use table_builder;

/// Columns in builder order as a batch of `schema`, which must name the same columns in the
/// same order with the same types.
pub fn assemble(
    table: &str,
    names: &[&str],
    schema: &SchemaRef,
    columns: Vec<ArrayRef>,
) -> CoreResult<RecordBatch> {
    let expected: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    if expected != names {
        return Err(CoreError::internal(format!(
            "the native {table} builder has columns {names:?} but core/schemas.py declares \
             {expected:?}"
        )));
    }
    RecordBatch::try_new(Arc::clone(schema), columns).map_err(|e| {
        CoreError::internal(format!(
            "the native {table} columns do not fit core/schemas.py's schema: {e}"
        ))
    })
}

/// TOID (SEP-35): ledger in the high 32 bits, 20 bits of transaction, 12 bits of operation.
pub fn toid(ledger: u32, tx_index: u32, op_index: u32) -> i64 {
    (i64::from(ledger) << 32) | (i64::from(tx_index) << 12) | i64::from(op_index)
}

/// Seconds since the epoch as a timestamp, or None beyond 9999-12-31T23:59:59Z, which most
/// readers (Python, pandas, Spark) cannot represent.
pub fn timestamp(seconds: u64) -> Option<i64> {
    const LAST_SECOND_OF_9999: u64 = 253_402_300_799;
    if seconds <= LAST_SECOND_OF_9999 {
        i64::try_from(seconds).ok()
    } else {
        None
    }
}

/// Every builder against its schema, on empty batches: a mismatch stops the core at start-up.
pub fn check_schemas(schemas: &crate::batch::Schemas) -> CoreResult<()> {
    raw::RawLedgersBuilder::new().finish_with_xdr(
        &schemas.raw_ledgers,
        Arc::new(arrow_array::BinaryArray::from_vec(Vec::new())),
    )?;
    decoded::LedgersBuilder::new().finish(&schemas.ledgers)?;
    decoded::TransactionsBuilder::new().finish(&schemas.transactions)?;
    decoded::OperationsBuilder::new().finish(&schemas.operations)?;
    events::EventsBuilder::new().finish(&schemas.ttp_events)?;
    events::BalanceChangesBuilder::new().finish(&schemas.balance_changes)?;
    metadata::TokenMetadataBuilder::new().finish(&schemas.token_metadata)?;
    Ok(())
}
