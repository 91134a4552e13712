//! XDR names of enum values, as the tables show them (`txSUCCESS`, `PAYMENT_SUCCESS`,
//! `opBAD_AUTH`, `payment`): stellar-xdr's Rust names drop the XDR prefixes and case, the
//! tables keep the names of the XDR definitions (and of stellar-etl, Horizon, the Python SDK).

use std::cell::RefCell;
use std::collections::HashMap;

use stellar_xdr::{OperationResult, OperationResultTr, OperationType, TransactionResultCode};

thread_local! {
    /// Every name built so far, by (enum, value): each is built once per thread. The set is
    /// bounded by the XDR enums (a value outside them does not decode), so the leaked strings
    /// are a few kilobytes for the life of the process.
    static NAMES: RefCell<HashMap<(i32, i32), &'static str>> = RefCell::new(HashMap::new());
}

fn interned(key: (i32, i32), make: impl FnOnce() -> String) -> &'static str {
    NAMES.with(|names| {
        *names
            .borrow_mut()
            .entry(key)
            .or_insert_with(|| Box::leak(make().into_boxed_str()))
    })
}

const TX_RESULT: i32 = -1;
const OP_OUTER: i32 = -2;
const OP_TYPE: i32 = -3;

/// `SrcNoTrust` -> `SRC_NO_TRUST`.
pub fn upper_snake(camel: &str) -> String {
    let mut out = String::with_capacity(camel.len() + 8);
    for (i, ch) in camel.chars().enumerate() {
        if ch.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(ch.to_ascii_uppercase());
    }
    out
}

/// `CreateAccount` -> `create_account`.
pub fn lower_snake(camel: &str) -> String {
    upper_snake(camel).to_ascii_lowercase()
}

/// `TxFeeBumpInnerSuccess` -> `txFEE_BUMP_INNER_SUCCESS`.
pub fn transaction_result_code(code: TransactionResultCode) -> &'static str {
    interned((TX_RESULT, code as i32), || {
        let name = code.name();
        format!("tx{}", upper_snake(name.strip_prefix("Tx").unwrap_or(name)))
    })
}

pub fn operation_type(t: OperationType) -> &'static str {
    interned((OP_TYPE, t as i32), || lower_snake(t.name()))
}

/// The result code of an operation and whether it is a success: `opBAD_AUTH`-style codes for
/// operations that did not run, else the code of the result arm that is set (the arm names its
/// enum: a passive offer's result is a `ManageSellOfferResult`), success being code 0.
pub fn operation_result_code(result: &OperationResult) -> (&'static str, bool) {
    let tr = match result {
        OperationResult::OpInner(tr) => tr,
        other => {
            let code = other.discriminant();
            let name = interned((OP_OUTER, code as i32), || {
                let name = code.name();
                format!("op{}", upper_snake(name.strip_prefix("Op").unwrap_or(name)))
            });
            return (name, false);
        }
    };
    let arm = tr.discriminant() as i32;
    macro_rules! arms {
        ($($arm:ident => $prefix:literal),* $(,)?) => {
            match tr {
                $(OperationResultTr::$arm(r) => {
                    let code = r.discriminant();
                    let name = interned((arm, code as i32), || {
                        format!(concat!($prefix, "_{}"), upper_snake(code.name()))
                    });
                    (name, code as i32 == 0)
                })*
            }
        };
    }
    arms! {
        CreateAccount => "CREATE_ACCOUNT",
        Payment => "PAYMENT",
        PathPaymentStrictReceive => "PATH_PAYMENT_STRICT_RECEIVE",
        ManageSellOffer => "MANAGE_SELL_OFFER",
        CreatePassiveSellOffer => "MANAGE_SELL_OFFER",
        SetOptions => "SET_OPTIONS",
        ChangeTrust => "CHANGE_TRUST",
        AllowTrust => "ALLOW_TRUST",
        AccountMerge => "ACCOUNT_MERGE",
        Inflation => "INFLATION",
        ManageData => "MANAGE_DATA",
        BumpSequence => "BUMP_SEQUENCE",
        ManageBuyOffer => "MANAGE_BUY_OFFER",
        PathPaymentStrictSend => "PATH_PAYMENT_STRICT_SEND",
        CreateClaimableBalance => "CREATE_CLAIMABLE_BALANCE",
        ClaimClaimableBalance => "CLAIM_CLAIMABLE_BALANCE",
        BeginSponsoringFutureReserves => "BEGIN_SPONSORING_FUTURE_RESERVES",
        EndSponsoringFutureReserves => "END_SPONSORING_FUTURE_RESERVES",
        RevokeSponsorship => "REVOKE_SPONSORSHIP",
        Clawback => "CLAWBACK",
        ClawbackClaimableBalance => "CLAWBACK_CLAIMABLE_BALANCE",
        SetTrustLineFlags => "SET_TRUST_LINE_FLAGS",
        LiquidityPoolDeposit => "LIQUIDITY_POOL_DEPOSIT",
        LiquidityPoolWithdraw => "LIQUIDITY_POOL_WITHDRAW",
        InvokeHostFunction => "INVOKE_HOST_FUNCTION",
        ExtendFootprintTtl => "EXTEND_FOOTPRINT_TTL",
        RestoreFootprint => "RESTORE_FOOTPRINT",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn xdr_names() {
        assert_eq!(
            transaction_result_code(TransactionResultCode::TxSuccess),
            "txSUCCESS"
        );
        assert_eq!(
            transaction_result_code(TransactionResultCode::TxBadMinSeqAgeOrGap),
            "txBAD_MIN_SEQ_AGE_OR_GAP"
        );
        assert_eq!(
            operation_type(OperationType::ExtendFootprintTtl),
            "extend_footprint_ttl"
        );
        assert_eq!(
            operation_result_code(&OperationResult::OpTooManySubentries),
            ("opTOO_MANY_SUBENTRIES", false)
        );
        let ok = OperationResult::OpInner(OperationResultTr::Payment(
            stellar_xdr::PaymentResult::Success,
        ));
        assert_eq!(operation_result_code(&ok), ("PAYMENT_SUCCESS", true));
    }
}
