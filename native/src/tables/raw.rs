//! `raw_ledgers`: one row per ledger, the LCM bytes exactly as the source served them.

use std::sync::Arc;

use arrow_array::builder::{StringBuilder, TimestampSecondBuilder, UInt32Builder, UInt8Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::SchemaRef;

use crate::error::CoreResult;
use crate::ledger::{hex, Ledger};

super::table_builder!(
    "raw_ledgers",
    RawLedgersBuilder {
        ledger_sequence: UInt32Builder = UInt32Builder::new(),
        closed_at: TimestampSecondBuilder = TimestampSecondBuilder::new().with_timezone("UTC"),
        ledger_hash: StringBuilder = StringBuilder::new(),
        previous_ledger_hash: StringBuilder = StringBuilder::new(),
        protocol_version: UInt32Builder = UInt32Builder::new(),
        lcm_version: UInt8Builder = UInt8Builder::new(),
    }
);

impl RawLedgersBuilder {
    pub fn append(&mut self, ledger: &Ledger) {
        self.ledger_sequence.append_value(ledger.sequence());
        self.closed_at
            .append_option(super::timestamp(ledger.close_time()));
        self.ledger_hash.append_value(hex(&ledger.hash));
        self.previous_ledger_hash
            .append_value(hex(&ledger.header.previous_ledger_hash.0));
        self.protocol_version
            .append_value(ledger.protocol_version());
        self.lcm_version.append_value(ledger.lcm_version);
    }

    /// The batch, with the LCM bytes column taken as is from the input (no copy).
    pub fn finish_with_xdr(
        &mut self,
        schema: &SchemaRef,
        lcm_xdr: ArrayRef,
    ) -> CoreResult<RecordBatch> {
        let mut names = Self::column_names();
        names.push("lcm_xdr");
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.ledger_sequence.finish()),
            Arc::new(self.closed_at.finish()),
            Arc::new(self.ledger_hash.finish()),
            Arc::new(self.previous_ledger_hash.finish()),
            Arc::new(self.protocol_version.finish()),
            Arc::new(self.lcm_version.finish()),
            lcm_xdr,
        ];
        super::assemble(Self::TABLE, &names, schema, columns)
    }
}
