//! `ledgers`, `transactions` and `operations`: the decoded tables, one ledger at a time.
//!
//! A port of `ttp_assets/core/tables/decoded.py` (the reference the differential tests compare
//! against, row for row).

use arrow_array::builder::{
    BooleanBuilder, Int64Builder, StringBuilder, TimestampSecondBuilder, UInt16Builder,
    UInt32Builder, UInt64Builder, UInt8Builder,
};
use stellar_xdr::{
    AccountMergeResult, AssetCode, CreateClaimableBalanceResult, HostFunction, LedgerCloseMetaExt,
    Memo, OperationBody, OperationResult, OperationResultTr, Preconditions, TransactionEnvelope,
};

use super::names;
use super::{timestamp, toid};
use crate::assets::{asset_info, change_trust_display, code_text, NATIVE};
use crate::error::CoreResult;
use crate::ledger::{hex, Ledger, LedgerTx, TxBody};
use crate::strkey;

super::table_builder!(
    "ledgers",
    LedgersBuilder {
        ledger_sequence: UInt32Builder = UInt32Builder::new(),
        closed_at: TimestampSecondBuilder = TimestampSecondBuilder::new().with_timezone("UTC"),
        ledger_hash: StringBuilder = StringBuilder::new(),
        previous_ledger_hash: StringBuilder = StringBuilder::new(),
        protocol_version: UInt32Builder = UInt32Builder::new(),
        lcm_version: UInt8Builder = UInt8Builder::new(),
        tx_set_hash: StringBuilder = StringBuilder::new(),
        tx_set_result_hash: StringBuilder = StringBuilder::new(),
        bucket_list_hash: StringBuilder = StringBuilder::new(),
        total_coins: Int64Builder = Int64Builder::new(),
        fee_pool: Int64Builder = Int64Builder::new(),
        inflation_seq: UInt32Builder = UInt32Builder::new(),
        id_pool: UInt64Builder = UInt64Builder::new(),
        base_fee: UInt32Builder = UInt32Builder::new(),
        base_reserve: UInt32Builder = UInt32Builder::new(),
        max_tx_set_size: UInt32Builder = UInt32Builder::new(),
        upgrade_count: UInt16Builder = UInt16Builder::new(),
        transaction_count: UInt32Builder = UInt32Builder::new(),
        successful_transaction_count: UInt32Builder = UInt32Builder::new(),
        failed_transaction_count: UInt32Builder = UInt32Builder::new(),
        operation_count: UInt32Builder = UInt32Builder::new(),
        successful_operation_count: UInt32Builder = UInt32Builder::new(),
        soroban_transaction_count: UInt32Builder = UInt32Builder::new(),
        fee_charged: Int64Builder = Int64Builder::new(),
        soroban_fee_write_1kb: Int64Builder = Int64Builder::new(),
    }
);

super::table_builder!(
    "transactions",
    TransactionsBuilder {
        ledger_sequence: UInt32Builder = UInt32Builder::new(),
        closed_at: TimestampSecondBuilder = TimestampSecondBuilder::new().with_timezone("UTC"),
        transaction_index: UInt32Builder = UInt32Builder::new(),
        transaction_id: Int64Builder = Int64Builder::new(),
        transaction_hash: StringBuilder = StringBuilder::new(),
        envelope_type: StringBuilder = StringBuilder::new(),
        account: StringBuilder = StringBuilder::new(),
        account_muxed: StringBuilder = StringBuilder::new(),
        account_muxed_id: UInt64Builder = UInt64Builder::new(),
        account_sequence: Int64Builder = Int64Builder::new(),
        fee_account: StringBuilder = StringBuilder::new(),
        fee_account_muxed: StringBuilder = StringBuilder::new(),
        inner_transaction_hash: StringBuilder = StringBuilder::new(),
        max_fee: Int64Builder = Int64Builder::new(),
        inner_max_fee: Int64Builder = Int64Builder::new(),
        fee_charged: Int64Builder = Int64Builder::new(),
        result_fee_charged: Int64Builder = Int64Builder::new(),
        successful: BooleanBuilder = BooleanBuilder::new(),
        result_code: StringBuilder = StringBuilder::new(),
        inner_result_code: StringBuilder = StringBuilder::new(),
        operation_count: UInt32Builder = UInt32Builder::new(),
        memo_type: StringBuilder = StringBuilder::new(),
        memo: StringBuilder = StringBuilder::new(),
        min_time: TimestampSecondBuilder = TimestampSecondBuilder::new().with_timezone("UTC"),
        max_time: TimestampSecondBuilder = TimestampSecondBuilder::new().with_timezone("UTC"),
        min_ledger: UInt32Builder = UInt32Builder::new(),
        max_ledger: UInt32Builder = UInt32Builder::new(),
        signature_count: UInt16Builder = UInt16Builder::new(),
        is_soroban: BooleanBuilder = BooleanBuilder::new(),
        soroban_resource_fee: Int64Builder = Int64Builder::new(),
        tx_meta_version: UInt8Builder = UInt8Builder::new(),
    }
);

super::table_builder!(
    "operations",
    OperationsBuilder {
        ledger_sequence: UInt32Builder = UInt32Builder::new(),
        closed_at: TimestampSecondBuilder = TimestampSecondBuilder::new().with_timezone("UTC"),
        transaction_index: UInt32Builder = UInt32Builder::new(),
        transaction_hash: StringBuilder = StringBuilder::new(),
        transaction_successful: BooleanBuilder = BooleanBuilder::new(),
        operation_index: UInt32Builder = UInt32Builder::new(),
        operation_id: Int64Builder = Int64Builder::new(),
        r#type: StringBuilder = StringBuilder::new(),
        type_code: UInt8Builder = UInt8Builder::new(),
        source_account: StringBuilder = StringBuilder::new(),
        source_account_muxed: StringBuilder = StringBuilder::new(),
        result_code: StringBuilder = StringBuilder::new(),
        successful: BooleanBuilder = BooleanBuilder::new(),
        destination: StringBuilder = StringBuilder::new(),
        destination_muxed: StringBuilder = StringBuilder::new(),
        asset: StringBuilder = StringBuilder::new(),
        amount: Int64Builder = Int64Builder::new(),
        source_asset: StringBuilder = StringBuilder::new(),
        source_amount: Int64Builder = Int64Builder::new(),
        details: StringBuilder = StringBuilder::new(),
        result_details: StringBuilder = StringBuilder::new(),
    }
);

/// The three decoded tables of a chunk of ledgers.
#[derive(Default)]
pub struct DecodedBuilders {
    pub ledgers: LedgersBuilder,
    pub transactions: TransactionsBuilder,
    pub operations: OperationsBuilder,
    json: Vec<u8>,
}

/// stellar-core#4188: protocol 20 reported a wrong feeCharged for Soroban fee bumps.
const FIRST_PROTOCOL_WITH_CORRECT_SOROBAN_FEE_BUMP_FEE: u32 = 21;

/// The fee the transaction paid (see `ttp::fees::paid_fee` for the one exception).
fn fee_charged(ledger: &Ledger, tx: &LedgerTx) -> CoreResult<i64> {
    if ledger.protocol_version() < FIRST_PROTOCOL_WITH_CORRECT_SOROBAN_FEE_BUMP_FEE
        && tx.is_fee_bump()
        && tx.is_soroban()
    {
        return crate::ttp::paid_fee(tx);
    }
    Ok(tx.fee_charged())
}

pub fn memo_fields(memo: &Memo) -> (&'static str, Option<String>) {
    match memo {
        Memo::None => ("none", None),
        // Memo text is 28 arbitrary bytes; invalid UTF-8 is shown with replacement characters.
        Memo::Text(text) => (
            "text",
            Some(String::from_utf8_lossy(text.as_slice()).into_owned()),
        ),
        Memo::Id(id) => ("id", Some(id.to_string())),
        Memo::Hash(hash) => ("hash", Some(hex(&hash.0))),
        Memo::Return(hash) => ("return", Some(hex(&hash.0))),
    }
}

struct Bounds {
    min_time: Option<u64>,
    max_time: Option<u64>,
    min_ledger: Option<u32>,
    max_ledger: Option<u32>,
}

fn bounds(body: TxBody<'_>) -> Bounds {
    let (tb, lb) = match body {
        TxBody::V0(tx) => (tx.time_bounds.as_ref(), None),
        TxBody::V1(tx) => match &tx.cond {
            Preconditions::None => (None, None),
            Preconditions::Time(tb) => (Some(tb), None),
            Preconditions::V2(v2) => (v2.time_bounds.as_ref(), v2.ledger_bounds.as_ref()),
        },
    };
    Bounds {
        min_time: tb.map(|t| t.min_time.0),
        max_time: tb.map(|t| t.max_time.0).filter(|t| *t != 0),
        min_ledger: lb.map(|b| b.min_ledger),
        max_ledger: lb.map(|b| b.max_ledger).filter(|l| *l != 0),
    }
}

fn signature_count(envelope: &TransactionEnvelope) -> u16 {
    let n = match envelope {
        TransactionEnvelope::TxV0(e) => e.signatures.len(),
        TransactionEnvelope::Tx(e) => e.signatures.len(),
        TransactionEnvelope::TxFeeBump(e) => e.signatures.len(),
    };
    // At most 20 signatures by the XDR definition.
    u16::try_from(n).unwrap_or(u16::MAX)
}

fn envelope_name(envelope: &TransactionEnvelope) -> &'static str {
    match envelope {
        TransactionEnvelope::TxV0(_) => "tx_v0",
        TransactionEnvelope::Tx(_) => "tx",
        TransactionEnvelope::TxFeeBump(_) => "tx_fee_bump",
    }
}

fn len_u32(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

/// SEP-51 XDR-JSON of a value, appended to `column`; the base64 XDR where it cannot be
/// rendered. `buffer` is reused from value to value, so rendering allocates nothing once warm.
fn append_json<T: serde::Serialize + stellar_xdr::WriteXdr>(
    column: &mut StringBuilder,
    buffer: &mut Vec<u8>,
    value: &T,
) {
    buffer.clear();
    let rendered = serde_json::to_writer(&mut *buffer, value)
        .ok()
        .and_then(|()| std::str::from_utf8(buffer).ok());
    match rendered {
        Some(json) => column.append_value(json),
        None => {
            let b64 = value
                .to_xdr_base64(stellar_xdr::Limits::none())
                .unwrap_or_default();
            column.append_value(serde_json::json!({ "xdr_base64": b64 }).to_string());
        }
    }
}

impl DecodedBuilders {
    pub fn append(&mut self, ledger: &Ledger) -> CoreResult<()> {
        let seq = ledger.sequence();
        let closed_at = timestamp(ledger.close_time());
        let mut ok_txs = 0u32;
        let mut ops = 0u32;
        let mut ok_ops = 0u32;
        let mut soroban = 0u32;
        let mut fees = 0i64;
        for tx in &ledger.transactions {
            let fee = fee_charged(ledger, tx)?;
            self.transaction(ledger, tx, fee);
            self.operations_of(ledger, tx);
            let n_ops = len_u32(tx.operations().len());
            ops = ops.saturating_add(n_ops);
            if tx.successful() {
                ok_txs += 1;
                ok_ops = ok_ops.saturating_add(n_ops);
            }
            soroban += u32::from(tx.is_soroban());
            fees = fees.saturating_add(fee);
        }
        let h = &ledger.header;
        let b = &mut self.ledgers;
        b.ledger_sequence.append_value(seq);
        b.closed_at.append_option(closed_at);
        b.ledger_hash.append_value(hex(&ledger.hash));
        b.previous_ledger_hash
            .append_value(hex(&h.previous_ledger_hash.0));
        b.protocol_version.append_value(h.ledger_version);
        b.lcm_version.append_value(ledger.lcm_version);
        b.tx_set_hash.append_value(hex(&h.scp_value.tx_set_hash.0));
        b.tx_set_result_hash
            .append_value(hex(&h.tx_set_result_hash.0));
        b.bucket_list_hash.append_value(hex(&h.bucket_list_hash.0));
        b.total_coins.append_value(h.total_coins);
        b.fee_pool.append_value(h.fee_pool);
        b.inflation_seq.append_value(h.inflation_seq);
        b.id_pool.append_value(h.id_pool);
        b.base_fee.append_value(h.base_fee);
        b.base_reserve.append_value(h.base_reserve);
        b.max_tx_set_size.append_value(h.max_tx_set_size);
        b.upgrade_count
            .append_value(u16::try_from(h.scp_value.upgrades.len()).unwrap_or(u16::MAX));
        let n_txs = len_u32(ledger.transactions.len());
        b.transaction_count.append_value(n_txs);
        b.successful_transaction_count.append_value(ok_txs);
        b.failed_transaction_count.append_value(n_txs - ok_txs);
        b.operation_count.append_value(ops);
        b.successful_operation_count.append_value(ok_ops);
        b.soroban_transaction_count.append_value(soroban);
        b.fee_charged.append_value(fees);
        b.soroban_fee_write_1kb.append_option(match &ledger.ext {
            Some(LedgerCloseMetaExt::V1(v1)) => Some(v1.soroban_fee_write1_kb),
            _ => None,
        });
        Ok(())
    }

    fn transaction(&mut self, ledger: &Ledger, tx: &LedgerTx, fee_charged: i64) {
        let b = &mut self.transactions;
        let seq = ledger.sequence();
        let body = tx.body();
        let (src_g, src_id, src_m) = strkey::muxed_parts(&body.source_account());
        let (fee_g, _, fee_m) = strkey::muxed_parts(&tx.fee_account());
        let (memo_type, memo) = memo_fields(body.memo());
        let fee_bump = match &tx.envelope {
            TransactionEnvelope::TxFeeBump(env) => Some(env.tx.fee),
            _ => None,
        };
        b.ledger_sequence.append_value(seq);
        b.closed_at.append_option(timestamp(ledger.close_time()));
        b.transaction_index.append_value(tx.index);
        b.transaction_id.append_value(toid(seq, tx.index, 0));
        b.transaction_hash.append_value(hex(&tx.hash));
        b.envelope_type.append_value(envelope_name(&tx.envelope));
        b.account.append_value(src_g);
        b.account_muxed.append_option(src_m);
        b.account_muxed_id.append_option(src_id);
        b.account_sequence.append_value(body.sequence_number());
        b.fee_account.append_value(fee_g);
        b.fee_account_muxed.append_option(fee_m);
        b.inner_transaction_hash
            .append_option(tx.inner_hash().map(|h| hex(&h)));
        b.max_fee
            .append_value(fee_bump.unwrap_or_else(|| i64::from(body.fee())));
        b.inner_max_fee
            .append_option(fee_bump.map(|_| i64::from(body.fee())));
        b.fee_charged.append_value(fee_charged);
        b.result_fee_charged.append_value(tx.fee_charged());
        b.successful.append_value(tx.successful());
        b.result_code
            .append_value(names::transaction_result_code(tx.result_code()));
        b.inner_result_code.append_option(
            fee_bump.map(|_| names::transaction_result_code(tx.inner_result_code())),
        );
        b.operation_count
            .append_value(len_u32(body.operations().len()));
        b.memo_type.append_value(memo_type);
        b.memo.append_option(memo);
        let bounds = bounds(body);
        b.min_time
            .append_option(bounds.min_time.and_then(timestamp));
        b.max_time
            .append_option(bounds.max_time.and_then(timestamp));
        b.min_ledger.append_option(bounds.min_ledger);
        b.max_ledger.append_option(bounds.max_ledger);
        b.signature_count
            .append_value(signature_count(&tx.envelope));
        let soroban = body.soroban_data();
        b.is_soroban.append_value(soroban.is_some());
        b.soroban_resource_fee
            .append_option(soroban.map(|s| s.resource_fee));
        b.tx_meta_version.append_value(tx.meta_version());
    }

    fn operations_of(&mut self, ledger: &Ledger, tx: &LedgerTx) {
        let seq = ledger.sequence();
        let closed_at = timestamp(ledger.close_time());
        let tx_hash = hex(&tx.hash);
        let tx_ok = tx.successful();
        let results = tx.operation_results().unwrap_or(&[]);
        let tx_source = tx.source_account();
        for (i, op) in tx.operations().iter().enumerate() {
            let res = results.get(i);
            let (code, ok) = match res {
                Some(r) => {
                    let (code, ok) = names::operation_result_code(r);
                    (Some(code), ok && tx_ok)
                }
                None => (None, false),
            };
            let (src_g, _, src_m) =
                strkey::muxed_parts(op.source_account.as_ref().unwrap_or(&tx_source));
            let op_type = op.body.discriminant();
            let index = len_u32(i + 1);
            let m = main_fields(&op.body, res, ok);
            let b = &mut self.operations;
            b.ledger_sequence.append_value(seq);
            b.closed_at.append_option(closed_at);
            b.transaction_index.append_value(tx.index);
            b.transaction_hash.append_value(&tx_hash);
            b.transaction_successful.append_value(tx_ok);
            b.operation_index.append_value(index);
            b.operation_id.append_value(toid(seq, tx.index, index));
            b.r#type.append_value(names::operation_type(op_type));
            b.type_code.append_value(op_type as u8);
            b.source_account.append_value(src_g);
            b.source_account_muxed.append_option(src_m);
            b.result_code.append_option(code);
            b.successful.append_value(ok);
            b.destination.append_option(m.destination);
            b.destination_muxed.append_option(m.destination_muxed);
            b.asset.append_option(m.asset);
            b.amount.append_option(m.amount);
            b.source_asset.append_option(m.source_asset);
            b.source_amount.append_option(m.source_amount);
            append_json(&mut b.details, &mut self.json, &op.body);
            match res {
                Some(r) => append_json(&mut b.result_details, &mut self.json, r),
                None => b.result_details.append_null(),
            }
        }
    }
}

/// The columns analysts filter on, by operation type; the rest is in `details`.
#[derive(Default)]
struct MainFields {
    destination: Option<String>,
    destination_muxed: Option<String>,
    asset: Option<String>,
    amount: Option<i64>,
    source_asset: Option<String>,
    source_amount: Option<i64>,
}

fn inner_result(res: Option<&OperationResult>) -> Option<&OperationResultTr> {
    match res {
        Some(OperationResult::OpInner(tr)) => Some(tr),
        _ => None,
    }
}

fn main_fields(body: &OperationBody, res: Option<&OperationResult>, ok: bool) -> MainFields {
    let mut out = MainFields::default();
    let dest = |out: &mut MainFields, m: &stellar_xdr::MuxedAccount| {
        let (g, _, mx) = strkey::muxed_parts(m);
        out.destination = Some(g);
        out.destination_muxed = mx;
    };
    match body {
        OperationBody::CreateAccount(o) => {
            out.destination = Some(strkey::account_id(&o.destination));
            out.asset = Some(NATIVE.to_owned());
            out.amount = Some(o.starting_balance);
        }
        OperationBody::Payment(o) => {
            dest(&mut out, &o.destination);
            out.asset = Some(asset_info(&o.asset).canonical);
            out.amount = Some(o.amount);
        }
        OperationBody::PathPaymentStrictReceive(o) => {
            dest(&mut out, &o.destination);
            out.asset = Some(asset_info(&o.dest_asset).canonical);
            out.amount = Some(o.dest_amount);
            out.source_asset = Some(asset_info(&o.send_asset).canonical);
            out.source_amount = Some(o.send_max);
        }
        OperationBody::PathPaymentStrictSend(o) => {
            dest(&mut out, &o.destination);
            out.asset = Some(asset_info(&o.dest_asset).canonical);
            out.amount = Some(o.dest_min);
            out.source_asset = Some(asset_info(&o.send_asset).canonical);
            out.source_amount = Some(o.send_amount);
        }
        OperationBody::ManageSellOffer(o) => {
            out.asset = Some(asset_info(&o.buying).canonical);
            out.source_asset = Some(asset_info(&o.selling).canonical);
            out.source_amount = Some(o.amount);
        }
        OperationBody::CreatePassiveSellOffer(o) => {
            out.asset = Some(asset_info(&o.buying).canonical);
            out.source_asset = Some(asset_info(&o.selling).canonical);
            out.source_amount = Some(o.amount);
        }
        OperationBody::ManageBuyOffer(o) => {
            out.asset = Some(asset_info(&o.buying).canonical);
            out.amount = Some(o.buy_amount);
            out.source_asset = Some(asset_info(&o.selling).canonical);
        }
        OperationBody::ChangeTrust(o) => {
            out.asset = Some(change_trust_display(&o.line));
            out.amount = Some(o.limit);
        }
        OperationBody::AllowTrust(o) => {
            out.destination = Some(strkey::account_id(&o.trustor));
            out.asset = Some(match &o.asset {
                AssetCode::CreditAlphanum4(c) => code_text(&c.0),
                AssetCode::CreditAlphanum12(c) => code_text(&c.0),
            });
        }
        OperationBody::AccountMerge(destination) => {
            dest(&mut out, destination);
            out.asset = Some(NATIVE.to_owned());
            if ok {
                if let Some(OperationResultTr::AccountMerge(AccountMergeResult::Success(b))) =
                    inner_result(res)
                {
                    out.amount = Some(*b);
                }
            }
        }
        OperationBody::CreateClaimableBalance(o) => {
            out.asset = Some(asset_info(&o.asset).canonical);
            out.amount = Some(o.amount);
            if ok {
                if let Some(OperationResultTr::CreateClaimableBalance(
                    CreateClaimableBalanceResult::Success(id),
                )) = inner_result(res)
                {
                    out.destination = Some(strkey::claimable_balance_id(id));
                }
            }
        }
        OperationBody::BeginSponsoringFutureReserves(o) => {
            out.destination = Some(strkey::account_id(&o.sponsored_id));
        }
        OperationBody::Clawback(o) => {
            dest(&mut out, &o.from);
            out.asset = Some(asset_info(&o.asset).canonical);
            out.amount = Some(o.amount);
        }
        OperationBody::SetTrustLineFlags(o) => {
            out.destination = Some(strkey::account_id(&o.trustor));
            out.asset = Some(asset_info(&o.asset).canonical);
        }
        OperationBody::LiquidityPoolDeposit(o) => {
            out.destination = Some(strkey::pool_id(&o.liquidity_pool_id));
        }
        OperationBody::LiquidityPoolWithdraw(o) => {
            out.destination = Some(strkey::pool_id(&o.liquidity_pool_id));
            out.amount = Some(o.amount);
        }
        OperationBody::InvokeHostFunction(o) => {
            if let HostFunction::InvokeContract(args) = &o.host_function {
                out.destination = Some(strkey::sc_address(&args.contract_address));
            }
        }
        _ => {}
    }
    out
}
