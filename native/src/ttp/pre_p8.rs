//! The pre-protocol-8 XLM reconciliation of derived events (spec §2d).
//!
//! Before protocol 8, stellar-core could mint or burn XLM on an operation's source account
//! (CAP-67, "Pre-protocol 8 bug"). The movement shows in the ledger-entry changes but follows
//! from no operation rule, so the difference on (operation source, XLM) is emitted as a mint
//! before the operation's events or a burn after them.

use std::sync::Arc;

use crate::assets::NATIVE;
use crate::error::{CoreError, CoreResult};

use super::balances::{binary_deltas, delta_of, deltas_from_events, AssetKey, HolderKey};
use super::changes::EntryChange;
use super::events::{EventBody, EventType, TokenEvent, TxContext};
use super::sac::SacAsset;

pub(crate) const LAST_PROTOCOL_WITH_XLM_BUG: u32 = 7;

/// `events` with the mint (first) or burn (last) that makes the source's XLM add up.
pub(crate) fn reconcile_source_xlm(
    ctx: &TxContext,
    op_index0: usize,
    op_source: (&[u8; 32], &str),
    op_changes: &[EntryChange<'_>],
    mut events: Vec<TokenEvent>,
    native: &SacAsset,
) -> CoreResult<Vec<TokenEvent>> {
    let (source_key, source) = op_source;
    let from_changes =
        binary_deltas(op_changes)?.get(&(HolderKey::Account(source_key), AssetKey::Native));
    let from_events = delta_of(&deltas_from_events(&events)?, source, NATIVE);
    let overflow = || CoreError::data(format!("XLM difference of {source} overflows i128"));
    let diff = from_changes.checked_sub(from_events).ok_or_else(overflow)?;
    let event = |event_type, from, to, amount| {
        ctx.event(
            Some(op_index0),
            EventBody {
                contract_address: native.contract_address.clone(),
                event_type,
                from,
                to,
                asset: Some(Arc::clone(&native.info)),
                amount,
                to_muxed_info: None,
            },
        )
    };
    if diff > 0 {
        events.insert(
            0,
            event(EventType::Mint, None, Some(source.to_owned()), diff),
        );
    } else if diff < 0 {
        let burned = diff.checked_neg().ok_or_else(overflow)?;
        events.push(event(
            EventType::Burn,
            Some(source.to_owned()),
            None,
            burned,
        ));
    }
    Ok(events)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Network;
    use crate::strkey;
    use crate::ttp::changes::tests::account_entry;
    use crate::ttp::changes::ChangeKind;
    use crate::ttp::classic::{movement_event, Party};
    use crate::ttp::sac::SacAssets;

    /// The reference's TestReconciliation: a 70 XLM payment A -> B at protocol 5.
    fn run(
        source_before: Option<i64>,
        source_after: Option<i64>,
        amount: i128,
    ) -> Vec<(EventType, i128)> {
        let ctx = TxContext {
            ledger_sequence: 1,
            closed_at: 0,
            tx_hash: [0; 32],
            transaction_index: 1,
        };
        let mut assets = SacAssets::new(&Network::new("t", "some network passphrase").id);
        let native = assets.native().unwrap();
        let (a, b) = (Party::key(&[1; 32]), Party::key(&[2; 32]));
        let events = vec![movement_event(&ctx, 0, &native, &a, &b, amount, None)];
        let (pre, post) = (
            source_before.map(|v| account_entry([1; 32], v)),
            source_after.map(|v| account_entry([1; 32], v)),
        );
        let changes: Vec<_> = match (&pre, &post) {
            (Some(pre), Some(post)) => vec![EntryChange {
                kind: ChangeKind::Updated,
                pre: Some(pre),
                post: Some(post),
            }],
            _ => vec![],
        };
        let g = strkey::g(&[1; 32]);
        let out = reconcile_source_xlm(&ctx, 0, (&[1; 32], &g), &changes, events, &native).unwrap();
        out.iter().map(|e| (e.event_type, e.amount)).collect()
    }

    const UNIT: i64 = 10_000_000;

    #[test]
    fn source_mints_and_burns() {
        let u = i128::from(UNIT);
        assert_eq!(
            run(Some(1000 * UNIT), Some(1090 * UNIT), 70 * u),
            [(EventType::Mint, 160 * u), (EventType::Transfer, 70 * u)]
        );
        assert_eq!(
            run(Some(1000 * UNIT), Some(800 * UNIT), 70 * u),
            [(EventType::Transfer, 70 * u), (EventType::Burn, 130 * u)]
        );
        assert_eq!(
            run(Some(1000 * UNIT), Some(980 * UNIT), 70 * u),
            [(EventType::Mint, 50 * u), (EventType::Transfer, 70 * u)]
        );
        assert_eq!(
            run(None, None, 70 * u),
            [(EventType::Mint, 70 * u), (EventType::Transfer, 70 * u)]
        );
        assert_eq!(
            run(Some(1000 * UNIT), Some(1020 * UNIT), 0),
            [(EventType::Mint, 20 * u), (EventType::Transfer, 0)]
        );
        assert_eq!(
            run(Some(1000 * UNIT), Some(980 * UNIT), 0),
            [(EventType::Transfer, 0), (EventType::Burn, 20 * u)]
        );
        assert_eq!(
            run(Some(1000 * UNIT), Some(930 * UNIT), 70 * u),
            [(EventType::Transfer, 70 * u)]
        );
    }
}
