//! `ttp_events` and `balance_changes`: token events as rows, and the ledger entries' balance
//! deltas they must account for. A port of `ttp_assets/core/tables/events.py`.

use std::collections::HashMap;

use arrow_array::builder::{
    Decimal128Builder, Float64Builder, Int64Builder, StringBuilder, TimestampSecondBuilder,
    UInt32Builder, UInt64Builder,
};
use arrow_schema::DataType;

use super::{timestamp, toid};
use crate::error::{CoreError, CoreResult};
use crate::ledger::{hex, Ledger};
use crate::strkey;
use crate::ttp::{self, EventType, MuxedInfo, TokenEvent};

super::table_builder!(
    "ttp_events",
    EventsBuilder {
        event_id: StringBuilder = StringBuilder::new(),
        ledger_sequence: UInt32Builder = UInt32Builder::new(),
        closed_at: TimestampSecondBuilder = TimestampSecondBuilder::new().with_timezone("UTC"),
        transaction_hash: StringBuilder = StringBuilder::new(),
        transaction_index: UInt32Builder = UInt32Builder::new(),
        operation_index: UInt32Builder = UInt32Builder::new(),
        transaction_id: Int64Builder = Int64Builder::new(),
        operation_id: Int64Builder = Int64Builder::new(),
        event_index: UInt32Builder = UInt32Builder::new(),
        event_type: StringBuilder = StringBuilder::new(),
        from: StringBuilder = StringBuilder::new(),
        to: StringBuilder = StringBuilder::new(),
        asset: StringBuilder = StringBuilder::new(),
        asset_type: StringBuilder = StringBuilder::new(),
        asset_code: StringBuilder = StringBuilder::new(),
        asset_issuer: StringBuilder = StringBuilder::new(),
        contract_id: StringBuilder = StringBuilder::new(),
        to_muxed: StringBuilder = StringBuilder::new(),
        to_muxed_kind: StringBuilder = StringBuilder::new(),
        to_muxed_id: UInt64Builder = UInt64Builder::new(),
        to_muxed_text: StringBuilder = StringBuilder::new(),
        to_muxed_hash: StringBuilder = StringBuilder::new(),
        amount_raw: StringBuilder = StringBuilder::new(),
        amount: Decimal128Builder =
            Decimal128Builder::new().with_data_type(DataType::Decimal128(38, 0)),
        amount_units: Float64Builder = Float64Builder::new(),
        derivation: StringBuilder = StringBuilder::new(),
    }
);

super::table_builder!(
    "balance_changes",
    BalanceChangesBuilder {
        ledger_sequence: UInt32Builder = UInt32Builder::new(),
        closed_at: TimestampSecondBuilder = TimestampSecondBuilder::new().with_timezone("UTC"),
        transaction_hash: StringBuilder = StringBuilder::new(),
        transaction_index: UInt32Builder = UInt32Builder::new(),
        holder: StringBuilder = StringBuilder::new(),
        asset: StringBuilder = StringBuilder::new(),
        delta: Int64Builder = Int64Builder::new(),
    }
);

const DECIMAL_38_MAX: i128 = 99_999_999_999_999_999_999_999_999_999_999_999_999;

/// `amount / 10^7` as the nearest float, exactly as Python's `float(Decimal(amount) / 10**7)`
/// (a 28-digit decimal quotient, then rounded to a double).
pub fn amount_units(amount: i128) -> f64 {
    const EXACT: i128 = 1 << 53;
    if -EXACT < amount && amount < EXACT {
        // Both operands are exact doubles and IEEE division rounds correctly.
        return amount as f64 / 1e7;
    }
    let negative = amount < 0;
    let mut digits: Vec<u8> = amount.unsigned_abs().to_string().into_bytes();
    let mut exponent: i32 = -7;
    if digits.len() > 28 {
        // Round half to even to 28 significant digits, as Python's decimal context does.
        let cut = digits.len() - 28;
        let rest = &digits[28..];
        let first = rest[0];
        let beyond_half = rest[1..].iter().any(|d| *d != b'0');
        let mut kept: Vec<u8> = digits[..28].to_vec();
        let last_odd = (kept[27] - b'0') % 2 == 1;
        let round_up = first > b'5' || (first == b'5' && (beyond_half || last_odd));
        if round_up {
            let mut i = kept.len();
            loop {
                if i == 0 {
                    kept.insert(0, b'1');
                    break;
                }
                i -= 1;
                if kept[i] == b'9' {
                    kept[i] = b'0';
                } else {
                    kept[i] += 1;
                    break;
                }
            }
        }
        exponent += i32::try_from(cut).unwrap_or(i32::MAX);
        digits = kept;
    }
    let text = format!(
        "{}{}e{}",
        if negative { "-" } else { "" },
        String::from_utf8_lossy(&digits),
        exponent
    );
    text.parse().unwrap_or(f64::NAN)
}

impl EventsBuilder {
    /// One row per event, in the given (spec) order; `event_index` is that order.
    pub fn append(&mut self, events: &[TokenEvent], derivation: &str) -> CoreResult<()> {
        let mut seen: HashMap<(u32, Option<u32>), u32> = HashMap::new();
        let mut tx_hash_cache: Option<([u8; 32], String)> = None;
        for (i, ev) in events.iter().enumerate() {
            let slot = seen
                .entry((ev.transaction_index, ev.operation_index))
                .or_insert(0);
            let n = *slot;
            *slot += 1;
            let seq = ev.ledger_sequence;
            let tx_hash = match &tx_hash_cache {
                Some((h, s)) if *h == ev.tx_hash => s.clone(),
                _ => {
                    let s = hex(&ev.tx_hash);
                    tx_hash_cache = Some((ev.tx_hash, s.clone()));
                    s
                }
            };
            let op_toid = toid(seq, ev.transaction_index, ev.operation_index.unwrap_or(0));
            self.event_id.append_value(format!("{op_toid:019}-{n:04}"));
            self.ledger_sequence.append_value(seq);
            self.closed_at.append_option(timestamp(ev.closed_at));
            self.transaction_hash.append_value(tx_hash);
            self.transaction_index.append_value(ev.transaction_index);
            self.operation_index.append_option(ev.operation_index);
            self.transaction_id
                .append_value(toid(seq, ev.transaction_index, 0));
            self.operation_id.append_option(
                ev.operation_index
                    .map(|op| toid(seq, ev.transaction_index, op)),
            );
            self.event_index
                .append_value(u32::try_from(i).unwrap_or(u32::MAX));
            self.event_type.append_value(ev.event_type.name());
            self.from.append_option(ev.from.as_deref());
            self.to.append_option(ev.to.as_deref());
            match &ev.asset {
                Some(a) => {
                    self.asset.append_value(&a.canonical);
                    self.asset_type.append_value(a.kind);
                    self.asset_code.append_option(a.code.as_deref());
                    self.asset_issuer.append_option(a.issuer.as_deref());
                }
                None => {
                    self.asset.append_null();
                    self.asset_type.append_null();
                    self.asset_code.append_null();
                    self.asset_issuer.append_null();
                }
            }
            self.contract_id.append_value(&ev.contract_address);
            self.muxed(ev);
            self.amount_raw.append_value(ev.amount.to_string());
            if ev.amount.unsigned_abs() <= DECIMAL_38_MAX.unsigned_abs() {
                self.amount.append_value(ev.amount);
            } else {
                self.amount.append_null();
            }
            // Only a classic asset (native or CODE:ISSUER, through its Stellar Asset Contract)
            // is known to have 7 decimals; a custom token's decimals live in its own metadata,
            // so its units stay null rather than wrong (analytics join the decimals it declares).
            if ev.asset.is_some() {
                self.amount_units.append_value(amount_units(ev.amount));
            } else {
                self.amount_units.append_null();
            }
            self.derivation.append_value(derivation);
        }
        Ok(())
    }

    fn muxed(&mut self, ev: &TokenEvent) {
        let (mut m, mut kind, mut id, mut text, mut hash) = (None, None, None, None, None);
        match &ev.to_muxed_info {
            None => {}
            Some(MuxedInfo::Id(value)) => {
                kind = Some("id");
                id = Some(*value);
                if let Some(to) = ev.to.as_deref().filter(|t| t.starts_with('G')) {
                    if let Ok(key) = stellar_strkey::ed25519::PublicKey::from_string(to) {
                        m = Some(strkey::m(&key.0, *value));
                    }
                }
            }
            Some(MuxedInfo::Text(value)) => {
                kind = Some("text");
                text = Some(value.as_str());
            }
            Some(MuxedInfo::Hash(value)) => {
                kind = Some("hash");
                hash = Some(hex(value));
            }
        }
        self.to_muxed.append_option(m);
        self.to_muxed_kind.append_option(kind);
        self.to_muxed_id.append_option(id);
        self.to_muxed_text.append_option(text);
        self.to_muxed_hash.append_option(hash);
    }
}

impl BalanceChangesBuilder {
    /// Per transaction, every (holder, asset) whose balance the ledger entries changed.
    pub fn append(&mut self, ledger: &Ledger) -> CoreResult<()> {
        let seq = ledger.sequence();
        let closed_at = timestamp(ledger.close_time());
        for tx in &ledger.transactions {
            let changes = ttp::balance_changes(ledger, tx)?;
            if changes.is_empty() {
                continue;
            }
            let tx_hash = hex(&tx.hash);
            for (holder, asset, delta) in changes {
                let delta = i64::try_from(delta).map_err(|_| {
                    CoreError::data(format!(
                        "ledger {seq} tx {tx_hash}: balance change {delta} of {holder} {asset} \
                         does not fit 64 bits"
                    ))
                })?;
                self.ledger_sequence.append_value(seq);
                self.closed_at.append_option(closed_at);
                self.transaction_hash.append_value(&tx_hash);
                self.transaction_index.append_value(tx.index);
                self.holder.append_value(holder);
                self.asset.append_value(asset);
                self.delta.append_value(delta);
            }
        }
        Ok(())
    }
}

/// Count events by type (the asset's run metadata).
pub fn count_by_type(events: &[TokenEvent], counts: &mut [u64; 5]) {
    for ev in events {
        let i = match ev.event_type {
            EventType::Transfer => 0,
            EventType::Mint => 1,
            EventType::Burn => 2,
            EventType::Clawback => 3,
            EventType::Fee => 4,
        };
        counts[i] += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::amount_units;

    #[test]
    fn units_match_python_decimal() {
        assert_eq!(amount_units(100), 1e-5);
        assert_eq!(amount_units(-30), -3e-6);
        assert_eq!(amount_units(10_000_000), 1.0);
        // Beyond 2^53 the exact quotient is parsed (Python: float(Decimal(x) / 10**7)).
        assert_eq!(
            amount_units(18_446_947_143_889_701_584),
            1_844_694_714_388.970_2
        );
        assert_eq!(amount_units(i128::MAX), 1.701_411_834_604_692_2e31);
        assert_eq!(amount_units(i128::MIN), -1.701_411_834_604_692_2e31);
    }
}
