//! `token_metadata`: the SEP-41 `METADATA` entry of every contract instance a ledger changes.
//!
//! SEP-41 tokens (the Stellar Asset Contract and custom tokens built on the SDK's token
//! interface alike) keep their `decimal`, `name` and `symbol` under the instance storage key
//! `Symbol("METADATA")`, as a map `{decimal: u32, name: string, symbol: string}`. Every
//! CREATED, UPDATED or RESTORED ledger entry of a contract instance whose storage holds that key
//! is one row, positioned by transaction, operation and change. STATE entries (the value before
//! a change) and REMOVED ones (a key, no value) are not rows.
//!
//! Malformed metadata is data, not an error: a `METADATA` value that is not a map, or a field
//! that is missing, of another type or not UTF-8, leaves that column null (the row still
//! says that the contract carries a `METADATA` entry). Nothing here fails on input.
//!
//! `executable` is `wasm`, `stellar_asset` (a Stellar Asset Contract) or `external_ref`.

use arrow_array::builder::{StringBuilder, TimestampSecondBuilder, UInt32Builder};
use stellar_xdr::{
    ContractDataEntry, ContractExecutable, LedgerEntry, LedgerEntryChange, LedgerEntryChanges,
    LedgerEntryData, ScMap, ScVal,
};

use super::timestamp;
use crate::ledger::{hex, Ledger, LedgerTx};
use crate::strkey;

super::table_builder!(
    "token_metadata",
    TokenMetadataBuilder {
        ledger_sequence: UInt32Builder = UInt32Builder::new(),
        closed_at: TimestampSecondBuilder = TimestampSecondBuilder::new().with_timezone("UTC"),
        transaction_hash: StringBuilder = StringBuilder::new(),
        transaction_index: UInt32Builder = UInt32Builder::new(),
        operation_index: UInt32Builder = UInt32Builder::new(),
        change_index: UInt32Builder = UInt32Builder::new(),
        change_type: StringBuilder = StringBuilder::new(),
        contract_id: StringBuilder = StringBuilder::new(),
        executable: StringBuilder = StringBuilder::new(),
        decimals: UInt32Builder = UInt32Builder::new(),
        name: StringBuilder = StringBuilder::new(),
        symbol: StringBuilder = StringBuilder::new(),
    }
);

/// What a `METADATA` entry says; None where it does not say it in the SEP-41 shape.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Metadata {
    pub decimals: Option<u32>,
    pub name: Option<String>,
    pub symbol: Option<String>,
}

/// The entry of `map` under the symbol `key` (the first, should a malformed map repeat it).
fn field<'a>(map: &'a ScMap, key: &str) -> Option<&'a ScVal> {
    map.0.iter().find_map(|e| match &e.key {
        ScVal::Symbol(s) if s.0.as_slice() == key.as_bytes() => Some(&e.val),
        _ => None,
    })
}

fn text(val: Option<&ScVal>) -> Option<String> {
    match val {
        Some(ScVal::String(s)) => std::str::from_utf8(s.0.as_slice()).ok().map(str::to_owned),
        _ => None,
    }
}

/// The SEP-41 fields of a `METADATA` value.
pub fn read_metadata(val: &ScVal) -> Metadata {
    let Some(map) = (match val {
        ScVal::Map(Some(map)) => Some(map),
        _ => None,
    }) else {
        return Metadata::default();
    };
    Metadata {
        decimals: match field(map, "decimal") {
            Some(ScVal::U32(d)) => Some(*d),
            _ => None,
        },
        name: text(field(map, "name")),
        symbol: text(field(map, "symbol")),
    }
}

/// A contract instance entry that carries a `METADATA` key: (contract, executable, value).
fn instance_metadata(entry: &LedgerEntry) -> Option<(&ContractDataEntry, &'static str, &ScVal)> {
    let LedgerEntryData::ContractData(data) = &entry.data else {
        return None;
    };
    if !matches!(data.key, ScVal::LedgerKeyContractInstance) {
        return None;
    }
    let ScVal::ContractInstance(instance) = &data.val else {
        return None;
    };
    let storage = instance.storage.as_ref()?;
    let val = field(storage, "METADATA")?;
    let executable = match instance.executable {
        ContractExecutable::Wasm(_) => "wasm",
        ContractExecutable::StellarAsset => "stellar_asset",
        ContractExecutable::ExternalRef(_) => "external_ref",
    };
    Some((data, executable, val))
}

/// A transaction's entry-change lists in apply order, each with its 1-based operation index
/// (None for the transaction-level lists): fee processing, changes before, every operation's,
/// changes after, post-apply fee processing.
fn change_lists(tx: &LedgerTx) -> Vec<(Option<u32>, &LedgerEntryChanges)> {
    let mut out = vec![(None, &tx.fee_processing)];
    let (before, after) = tx.tx_changes_around();
    if let Some(before) = before {
        out.push((None, before));
    }
    let metas = tx.operation_metas();
    for i in 0..metas.len() {
        if let Some(changes) = metas.changes(i) {
            // At most 100 operations per transaction: the index always fits.
            out.push((u32::try_from(i + 1).ok(), changes));
        }
    }
    if let Some(after) = after {
        out.push((None, after));
    }
    if let Some(post) = &tx.post_apply_fee_processing {
        out.push((None, post));
    }
    out
}

/// One row of `token_metadata`, without the ledger's own columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetadataChange {
    pub transaction_index: u32,
    pub transaction_hash: [u8; 32],
    pub operation_index: Option<u32>,
    pub change_index: u32,
    pub change_type: &'static str,
    pub contract_id: String,
    pub executable: &'static str,
    pub metadata: Metadata,
}

/// The METADATA-carrying contract-instance changes of one ledger, in apply order.
pub fn metadata_changes(ledger: &Ledger) -> Vec<MetadataChange> {
    let mut out = Vec::new();
    for tx in &ledger.transactions {
        let mut change_index: u32 = 0;
        for (operation_index, changes) in change_lists(tx) {
            for change in changes.0.iter() {
                let index = change_index;
                change_index = change_index.saturating_add(1);
                let (kind, entry) = match change {
                    LedgerEntryChange::Created(e) => ("created", e),
                    LedgerEntryChange::Updated(e) => ("updated", e),
                    LedgerEntryChange::Restored(e) => ("restored", e),
                    LedgerEntryChange::State(_) | LedgerEntryChange::Removed(_) => continue,
                };
                let Some((data, executable, val)) = instance_metadata(entry) else {
                    continue;
                };
                out.push(MetadataChange {
                    transaction_index: tx.index,
                    transaction_hash: tx.hash,
                    operation_index,
                    change_index: index,
                    change_type: kind,
                    contract_id: strkey::sc_address(&data.contract),
                    executable,
                    metadata: read_metadata(val),
                });
            }
        }
    }
    out
}

impl TokenMetadataBuilder {
    /// The rows of one ledger, in apply order.
    pub fn append(&mut self, ledger: &Ledger) {
        let sequence = ledger.sequence();
        let closed_at = timestamp(ledger.close_time());
        for row in metadata_changes(ledger) {
            self.ledger_sequence.append_value(sequence);
            self.closed_at.append_option(closed_at);
            self.transaction_hash
                .append_value(hex(&row.transaction_hash));
            self.transaction_index.append_value(row.transaction_index);
            self.operation_index.append_option(row.operation_index);
            self.change_index.append_value(row.change_index);
            self.change_type.append_value(row.change_type);
            self.contract_id.append_value(&row.contract_id);
            self.executable.append_value(row.executable);
            self.decimals.append_option(row.metadata.decimals);
            self.name.append_option(row.metadata.name);
            self.symbol.append_option(row.metadata.symbol);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stellar_xdr::{ScMapEntry, ScString, ScSymbol};

    fn sym(s: &str) -> ScVal {
        ScVal::Symbol(ScSymbol(s.try_into().unwrap()))
    }

    fn string(s: &[u8]) -> ScVal {
        ScVal::String(ScString(s.to_vec().try_into().unwrap()))
    }

    fn map(entries: Vec<(ScVal, ScVal)>) -> ScVal {
        let entries: Vec<ScMapEntry> = entries
            .into_iter()
            .map(|(key, val)| ScMapEntry { key, val })
            .collect();
        ScVal::Map(Some(ScMap(entries.try_into().unwrap())))
    }

    #[test]
    fn reads_the_sep41_shape() {
        let val = map(vec![
            (sym("decimal"), ScVal::U32(6)),
            (sym("name"), string(b"USD Coin")),
            (sym("symbol"), string(b"USDC")),
        ]);
        assert_eq!(
            read_metadata(&val),
            Metadata {
                decimals: Some(6),
                name: Some("USD Coin".into()),
                symbol: Some("USDC".into()),
            }
        );
    }

    #[test]
    fn malformed_fields_are_null_not_errors() {
        let val = map(vec![
            (sym("decimal"), ScVal::I32(6)),
            (sym("name"), string(&[0xff, 0xfe])),
            (sym("symbol"), sym("USDC")),
        ]);
        assert_eq!(read_metadata(&val), Metadata::default());
        assert_eq!(read_metadata(&ScVal::U32(7)), Metadata::default());
        assert_eq!(read_metadata(&ScVal::Map(None)), Metadata::default());
        let partial = map(vec![(sym("decimal"), ScVal::U32(18))]);
        assert_eq!(read_metadata(&partial).decimals, Some(18));
        assert_eq!(read_metadata(&partial).name, None);
    }

    #[test]
    fn a_repeated_key_takes_the_first() {
        let val = map(vec![
            (sym("decimal"), ScVal::U32(2)),
            (sym("decimal"), ScVal::U32(9)),
        ]);
        assert_eq!(read_metadata(&val).decimals, Some(2));
    }
}
