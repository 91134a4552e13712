//! XDR names of enum values, as the tables show them (`txSUCCESS`, `PAYMENT_SUCCESS`,
//! `opBAD_AUTH`, `payment`): stellar-xdr's Rust names drop the XDR prefixes and case, the
//! tables keep the names of the XDR definitions (and of stellar-etl, Horizon, the Python SDK).

use stellar_xdr::{OperationResult, OperationResultTr, OperationType, TransactionResultCode};

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
pub fn transaction_result_code(code: TransactionResultCode) -> String {
    let name = code.name();
    format!("tx{}", upper_snake(name.strip_prefix("Tx").unwrap_or(name)))
}

pub fn operation_type(t: OperationType) -> String {
    lower_snake(t.name())
}

/// The result code of an operation and whether it is a success: `opBAD_AUTH`-style codes for
/// operations that did not run, else the code of the result arm that is set (the arm names its
/// enum: a passive offer's result is a `ManageSellOfferResult`), success being code 0.
pub fn operation_result_code(result: &OperationResult) -> (String, bool) {
    let tr = match result {
        OperationResult::OpInner(tr) => tr,
        other => {
            let name = other.discriminant().name();
            return (
                format!("op{}", upper_snake(name.strip_prefix("Op").unwrap_or(name))),
                false,
            );
        }
    };
    macro_rules! arms {
        ($($arm:ident => $prefix:literal),* $(,)?) => {
            match tr {
                $(OperationResultTr::$arm(r) => {
                    let code = r.discriminant();
                    (format!(concat!($prefix, "_{}"), upper_snake(code.name())), code as i32 == 0)
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
            ("opTOO_MANY_SUBENTRIES".to_owned(), false)
        );
        let ok = OperationResult::OpInner(OperationResultTr::Payment(
            stellar_xdr::PaymentResult::Success,
        ));
        assert_eq!(
            operation_result_code(&ok),
            ("PAYMENT_SUCCESS".to_owned(), true)
        );
    }
}
