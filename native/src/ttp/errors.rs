//! Where an error happened, in the words of the Python `operation_error`.

use stellar_xdr::OperationBody;

use crate::error::CoreError;
use crate::tables::names::upper_snake;

/// The XDR name of an operation's type (`PATH_PAYMENT_STRICT_SEND`), as Python's
/// `op.body.type.name` gives it.
pub(crate) fn operation_type_name(body: &OperationBody) -> String {
    upper_snake(body.name())
}

/// The error for one operation, naming where it happened (operation index 1-based).
pub(crate) fn operation_error(
    ledger_sequence: u32,
    tx_hash: &str,
    op_index0: usize,
    body: &OperationBody,
    cause: CoreError,
) -> CoreError {
    cause.context(&format!(
        "failed to process token transfer events for ledger {ledger_sequence}, tx {tx_hash}, operation {} \
         (1-based) of type {}",
        op_index0.saturating_add(1),
        operation_type_name(body)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_names_are_the_xdr_names() {
        assert_eq!(operation_type_name(&OperationBody::Inflation), "INFLATION");
        assert_eq!(
            operation_type_name(&OperationBody::EndSponsoringFutureReserves),
            "END_SPONSORING_FUTURE_RESERVES"
        );
        let err = operation_error(
            7,
            "ab",
            0,
            &OperationBody::Inflation,
            CoreError::token("boom"),
        );
        assert_eq!(
            err.message,
            "failed to process token transfer events for ledger 7, tx ab, operation 1 (1-based) of type INFLATION: boom"
        );
        assert_eq!(err.kind, crate::error::ErrorKind::TokenTransfer);
    }
}
