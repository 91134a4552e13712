//! Balance deltas keyed by (holder strkey, canonical asset), from changes or from events.
//!
//! These are the two sides of the reference's VerifyEvents (spec §4), also used by the
//! pre-protocol-8 XLM reconciliation (§2d). Sums are exact i128; an overflow is refused.
//!
//! A delta set is a list of (holder, asset, sum) sorted by (holder, asset), each key once, no
//! zero sum: the Python dict `{(holder, asset): sum}` in the order the balance_changes table
//! wants, compared element by element. Changes are first summed under binary keys (the raw
//! account / balance / pool id and asset), so only sums that end non-zero are rendered as
//! strkeys: most entry changes of a ledger (sequence numbers, offers, fee payers charged and
//! refunded) never need a string. Keys that render alike (an asset code with bytes outside
//! ASCII, say) are merged after rendering, so the result is exactly the Python
//! `deltas_from_changes`, which adds string keys as it goes.

use std::borrow::Cow;
use std::collections::HashMap;

use stellar_xdr::{AlphaNum12, AlphaNum4, Asset, LedgerEntry, LedgerEntryData, TrustLineAsset};

use crate::assets::{code_text, NATIVE};
use crate::error::{CoreError, CoreResult};
use crate::strkey;

use super::changes::EntryChange;
use super::events::{EventType, TokenEvent};

/// (holder, asset, net delta) sorted by (holder, asset), each key once, no zero delta; a holder
/// is a G/M/B/L strkey, an asset `native` or `CODE:ISSUER`.
pub(crate) type Deltas<'a> = Vec<(Cow<'a, str>, Cow<'a, str>, i128)>;

/// Who holds a balance, as raw ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum HolderKey<'a> {
    Account(&'a [u8; 32]),
    ClaimableBalance(&'a [u8; 32]),
    Pool(&'a [u8; 32]),
}

/// A classic asset, as raw code and issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum AssetKey<'a> {
    Native,
    Credit4(&'a AlphaNum4),
    Credit12(&'a AlphaNum12),
}

impl<'a> AssetKey<'a> {
    pub fn of(asset: &'a Asset) -> Self {
        match asset {
            Asset::Native => Self::Native,
            Asset::CreditAlphanum4(a) => Self::Credit4(a),
            Asset::CreditAlphanum12(a) => Self::Credit12(a),
        }
    }

    fn of_trustline(asset: &'a TrustLineAsset) -> Option<Self> {
        match asset {
            TrustLineAsset::Native => Some(Self::Native),
            TrustLineAsset::CreditAlphanum4(a) => Some(Self::Credit4(a)),
            TrustLineAsset::CreditAlphanum12(a) => Some(Self::Credit12(a)),
            TrustLineAsset::PoolShare(_) => None,
        }
    }

    /// `native` or `CODE:ISSUER`, as `assets::asset_info(..).canonical` renders it.
    fn canonical(self) -> String {
        let (code, issuer) = match self {
            Self::Native => return NATIVE.to_owned(),
            Self::Credit4(a) => (code_text(&a.asset_code.0), &a.issuer),
            Self::Credit12(a) => (code_text(&a.asset_code.0), &a.issuer),
        };
        format!("{code}:{}", strkey::account_id(issuer))
    }
}

impl HolderKey<'_> {
    fn strkey(self) -> String {
        match self {
            Self::Account(key) => strkey::g(key),
            Self::ClaimableBalance(hash) => strkey::b(hash),
            Self::Pool(id) => strkey::l(id),
        }
    }
}

pub(crate) type SlotKey<'a> = (HolderKey<'a>, AssetKey<'a>);

/// The balances one ledger entry holds: an account's XLM, a trustline's asset (not pool
/// shares), a claimable balance's amount, a pool's two reserves. Other entries hold none here.
fn slots(entry: &LedgerEntry) -> [Option<(SlotKey<'_>, i64)>; 2] {
    match &entry.data {
        LedgerEntryData::Account(acc) => {
            let holder = HolderKey::Account(strkey::account_key(&acc.account_id));
            [Some(((holder, AssetKey::Native), acc.balance)), None]
        }
        LedgerEntryData::Trustline(line) => match AssetKey::of_trustline(&line.asset) {
            Some(asset) => {
                let holder = HolderKey::Account(strkey::account_key(&line.account_id));
                [Some(((holder, asset), line.balance)), None]
            }
            None => [None, None],
        },
        LedgerEntryData::ClaimableBalance(cb) => {
            let holder =
                HolderKey::ClaimableBalance(strkey::claimable_balance_hash(&cb.balance_id));
            [Some(((holder, AssetKey::of(&cb.asset)), cb.amount)), None]
        }
        LedgerEntryData::LiquidityPool(lp) => {
            let holder = HolderKey::Pool(&lp.liquidity_pool_id.0 .0);
            let stellar_xdr::LiquidityPoolEntryBody::LiquidityPoolConstantProduct(cp) = &lp.body;
            [
                Some(((holder, AssetKey::of(&cp.params.asset_a)), cp.reserve_a)),
                Some(((holder, AssetKey::of(&cp.params.asset_b)), cp.reserve_b)),
            ]
        }
        _ => [None, None],
    }
}

fn overflow(what: &str) -> CoreError {
    CoreError::data(format!("balance delta of {what} overflows i128"))
}

/// Up to this many keys, a linear scan beats hashing (a transaction touches a few balances).
const LINEAR_KEYS: usize = 32;

/// Sums under binary keys, in first-seen order; zero sums may remain.
#[derive(Default)]
pub(crate) struct SlotSums<'a> {
    sums: Vec<(SlotKey<'a>, i128)>,
    /// Positions in `sums`, kept once there are more than [`LINEAR_KEYS`] keys.
    index: HashMap<SlotKey<'a>, usize>,
}

impl<'a> SlotSums<'a> {
    fn add(&mut self, key: SlotKey<'a>, delta: i128) -> CoreResult<()> {
        if delta == 0 {
            return Ok(());
        }
        let found = if self.sums.len() > LINEAR_KEYS {
            self.index.get(&key).copied()
        } else {
            self.sums.iter().position(|(k, _)| *k == key)
        };
        if let Some(sum) = found.and_then(|i| self.sums.get_mut(i)) {
            sum.1 = sum
                .1
                .checked_add(delta)
                .ok_or_else(|| overflow("a ledger entry"))?;
            return Ok(());
        }
        self.sums.push((key, delta));
        let len = self.sums.len();
        if len == LINEAR_KEYS + 1 {
            self.index = self
                .sums
                .iter()
                .enumerate()
                .map(|(i, (k, _))| (*k, i))
                .collect();
        } else if len > LINEAR_KEYS + 1 {
            self.index.insert(key, len - 1);
        }
        Ok(())
    }

    pub fn get(&self, key: &SlotKey<'a>) -> i128 {
        self.sums
            .iter()
            .find(|(k, _)| k == key)
            .map_or(0, |(_, v)| *v)
    }
}

/// post - pre of every account, trustline (not pool shares), claimable balance and pool, under
/// binary keys.
pub(crate) fn binary_deltas<'a>(changes: &[EntryChange<'a>]) -> CoreResult<SlotSums<'a>> {
    let mut sums = SlotSums::default();
    for change in changes {
        let pre = change.pre.map(slots).unwrap_or_default();
        let post = change.post.map(slots).unwrap_or_default();
        for (before, after) in pre.into_iter().zip(post) {
            match (before, after) {
                // The usual case: the same balance before and after, one subtraction.
                (Some((k0, v0)), Some((k1, v1))) if k0 == k1 => {
                    sums.add(k1, i128::from(v1) - i128::from(v0))?;
                }
                (before, after) => {
                    if let Some((k, v)) = after {
                        sums.add(k, i128::from(v))?;
                    }
                    if let Some((k, v)) = before {
                        sums.add(k, -i128::from(v))?;
                    }
                }
            }
        }
    }
    Ok(sums)
}

/// Sort by (holder, asset), add up equal keys and drop zero sums.
fn normalise(mut rows: Deltas<'_>) -> CoreResult<Deltas<'_>> {
    rows.sort_unstable_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    let mut out: Deltas<'_> = Vec::with_capacity(rows.len());
    for (holder, asset, delta) in rows {
        match out.last_mut() {
            Some(last) if last.0 == holder && last.1 == asset => {
                last.2 = last
                    .2
                    .checked_add(delta)
                    .ok_or_else(|| overflow(&format!("{holder} {asset}")))?;
            }
            _ => out.push((holder, asset, delta)),
        }
    }
    out.retain(|row| row.2 != 0);
    Ok(out)
}

/// post - pre of every account, trustline (not pool shares), claimable balance and pool.
///
/// No holder here is a contract (the Python's C filter never applies).
pub(crate) fn deltas_from_changes(changes: &[EntryChange<'_>]) -> CoreResult<Deltas<'static>> {
    let sums = binary_deltas(changes)?;
    let rows = sums
        .sums
        .into_iter()
        .filter(|(_, sum)| *sum != 0)
        .map(|((holder, asset), sum)| {
            (
                Cow::Owned(holder.strkey()),
                Cow::Owned(asset.canonical()),
                sum,
            )
        })
        .collect();
    normalise(rows)
}

fn party<'a>(address: &'a Option<String>, role: &str, event: &TokenEvent) -> CoreResult<&'a str> {
    address.as_deref().ok_or_else(|| {
        CoreError::token(format!(
            "{} event of tx {} has no {role} address",
            event.event_type.name(),
            crate::ledger::hex(&event.tx_hash)
        ))
    })
}

/// What the events say each holder gained; custom-token events (no asset) are skipped.
///
/// Contract (C...) holders are ignored: their balances live in contract storage, which neither
/// side can observe in a standard way. Every holder comes from a strkey encoder, so a leading
/// "C" is exactly "a valid contract address".
pub(crate) fn deltas_from_events<'a, I>(events: I) -> CoreResult<Deltas<'a>>
where
    I: IntoIterator<Item = &'a TokenEvent>,
{
    let mut rows: Deltas<'a> = Vec::new();
    let mut add = |holder: &'a str, asset: &'a str, delta: i128| {
        if !strkey::is_contract(holder) {
            rows.push((Cow::Borrowed(holder), Cow::Borrowed(asset), delta));
        }
    };
    for ev in events {
        let Some(asset) = &ev.asset else { continue };
        let asset = asset.canonical.as_str();
        let negated = || {
            ev.amount
                .checked_neg()
                .ok_or_else(|| overflow("an event amount"))
        };
        match ev.event_type {
            EventType::Transfer => {
                add(party(&ev.from, "from", ev)?, asset, negated()?);
                add(party(&ev.to, "to", ev)?, asset, ev.amount);
            }
            EventType::Mint => add(party(&ev.to, "to", ev)?, asset, ev.amount),
            EventType::Burn | EventType::Clawback | EventType::Fee => {
                add(party(&ev.from, "from", ev)?, asset, negated()?);
            }
        }
    }
    normalise(rows)
}

/// The delta of one (holder, asset) in a delta set; 0 when absent.
pub(crate) fn delta_of(deltas: &Deltas<'_>, holder: &str, asset: &str) -> i128 {
    deltas
        .binary_search_by(|row| (row.0.as_ref(), row.1.as_ref()).cmp(&(holder, asset)))
        .ok()
        .and_then(|i| deltas.get(i))
        .map_or(0, |row| row.2)
}

/// Owned rows of a delta set.
pub(crate) fn owned_rows(deltas: Deltas<'_>) -> Vec<(String, String, i128)> {
    deltas
        .into_iter()
        .map(|(holder, asset, delta)| (holder.into_owned(), asset.into_owned(), delta))
        .collect()
}

/// The (holder, asset, from_events, from_changes) where two delta sets differ, sorted.
pub(crate) fn differences(
    from_events: &Deltas<'_>,
    from_changes: &Deltas<'_>,
) -> Vec<(String, String, i128, i128)> {
    use std::cmp::Ordering;
    let mut out = Vec::new();
    let (mut i, mut j) = (0, 0);
    loop {
        let (row, in_events, in_changes) = match (from_events.get(i), from_changes.get(j)) {
            (None, None) => break,
            (Some(x), None) => {
                i += 1;
                (x, x.2, 0)
            }
            (None, Some(y)) => {
                j += 1;
                (y, 0, y.2)
            }
            (Some(x), Some(y)) => match (&x.0, &x.1).cmp(&(&y.0, &y.1)) {
                Ordering::Less => {
                    i += 1;
                    (x, x.2, 0)
                }
                Ordering::Greater => {
                    j += 1;
                    (y, 0, y.2)
                }
                Ordering::Equal => {
                    i += 1;
                    j += 1;
                    (x, x.2, y.2)
                }
            },
        };
        if in_events != in_changes {
            out.push((row.0.to_string(), row.1.to_string(), in_events, in_changes));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::assets::AssetInfo;
    use crate::ttp::changes::tests::account_entry;
    use crate::ttp::changes::ChangeKind;

    fn event(
        event_type: EventType,
        from: Option<&str>,
        to: Option<&str>,
        amount: i128,
    ) -> TokenEvent {
        TokenEvent {
            ledger_sequence: 1,
            closed_at: 0,
            tx_hash: [0; 32],
            transaction_index: 1,
            operation_index: None,
            contract_address: "C".into(),
            event_type,
            from: from.map(str::to_owned),
            to: to.map(str::to_owned),
            asset: Some(Arc::new(AssetInfo::native())),
            amount,
            to_muxed_info: None,
        }
    }

    #[test]
    fn event_deltas_are_exact_and_drop_zero_and_contract_holders() {
        let big = 18_446_947_143_889_701_584_i128; // beyond int64 (go-stellar-sdk's test value)
        let events = [
            event(EventType::Transfer, Some("GA"), Some("GB"), big),
            event(EventType::Mint, None, Some("GA"), big),
            event(EventType::Burn, Some("GB"), None, 5),
            event(EventType::Fee, Some("GC"), None, -200),
            event(EventType::Clawback, Some("CX"), None, 7),
            event(EventType::Transfer, Some("GD"), Some("CY"), 9),
        ];
        let rows = owned_rows(deltas_from_events(&events).unwrap());
        assert_eq!(
            rows,
            [
                ("GB".to_owned(), "native".to_owned(), big - 5),
                ("GC".to_owned(), "native".to_owned(), 200),
                ("GD".to_owned(), "native".to_owned(), -9),
            ]
        );
    }

    #[test]
    fn custom_tokens_are_skipped_and_overflow_is_refused() {
        let mut custom = event(EventType::Mint, None, Some("GA"), 5);
        custom.asset = None;
        assert!(deltas_from_events([&custom]).unwrap().is_empty());
        let huge = [
            event(EventType::Mint, None, Some("GA"), i128::MAX),
            event(EventType::Mint, None, Some("GA"), 1),
        ];
        assert!(deltas_from_events(&huge).is_err());
        let min = [event(EventType::Burn, Some("GA"), None, i128::MIN)];
        assert!(deltas_from_events(&min).is_err());
    }

    #[test]
    fn change_deltas_are_post_minus_pre() {
        let (a0, a1, b) = (
            account_entry([1; 32], 100),
            account_entry([1; 32], 70),
            account_entry([2; 32], 30),
        );
        let seq_only = account_entry([3; 32], 5);
        let changes = [
            EntryChange {
                kind: ChangeKind::Updated,
                pre: Some(&a0),
                post: Some(&a1),
            },
            EntryChange {
                kind: ChangeKind::Created,
                pre: None,
                post: Some(&b),
            },
            EntryChange {
                kind: ChangeKind::Updated,
                pre: Some(&seq_only),
                post: Some(&seq_only),
            },
        ];
        let rows = owned_rows(deltas_from_changes(&changes).unwrap());
        assert_eq!(
            rows,
            [
                (strkey::g(&[1; 32]), "native".to_owned(), -30),
                (strkey::g(&[2; 32]), "native".to_owned(), 30)
            ]
        );
    }

    #[test]
    fn differences_list_every_key_that_disagrees() {
        let row =
            |h: &'static str, a: &'static str, v: i128| (Cow::Borrowed(h), Cow::Borrowed(a), v);
        let events = vec![
            row("GA", "native", 5),
            row("GB", "native", 3),
            row("GD", "X:GI", 1),
        ];
        let changes = vec![
            row("GA", "native", 5),
            row("GB", "native", 4),
            row("GC", "native", 2),
        ];
        assert_eq!(
            differences(&events, &changes),
            [
                ("GB".to_owned(), "native".to_owned(), 3, 4),
                ("GC".to_owned(), "native".to_owned(), 0, 2),
                ("GD".to_owned(), "X:GI".to_owned(), 1, 0),
            ]
        );
        assert_eq!(delta_of(&changes, "GB", "native"), 4);
        assert_eq!(delta_of(&changes, "GZ", "native"), 0);
    }

    #[test]
    fn many_keys_switch_to_an_index_and_keep_their_sums() {
        let keys: Vec<[u8; 32]> = (0..100u8).map(|i| [i; 32]).collect();
        let mut sums = SlotSums::default();
        for round in 0..3 {
            for k in &keys {
                sums.add((HolderKey::Account(k), AssetKey::Native), round + 1)
                    .unwrap();
            }
        }
        assert_eq!(sums.sums.len(), 100);
        assert!(sums.sums.iter().all(|(_, v)| *v == 6));
        assert_eq!(sums.get(&(HolderKey::Pool(&keys[7]), AssetKey::Native)), 0);
        assert_eq!(
            sums.get(&(HolderKey::Account(&keys[7]), AssetKey::Native)),
            6
        );
    }

    #[test]
    fn keys_that_render_alike_are_merged() {
        // An alphanum4 and an alphanum12 with the same trimmed code are one Python key.
        let issuer = stellar_xdr::AccountId(stellar_xdr::PublicKey::PublicKeyTypeEd25519(
            stellar_xdr::Uint256([5; 32]),
        ));
        let a4 = AlphaNum4 {
            asset_code: stellar_xdr::AssetCode4(*b"AB\0\0"),
            issuer: issuer.clone(),
        };
        let a12 = AlphaNum12 {
            asset_code: stellar_xdr::AssetCode12(*b"AB\0\0\0\0\0\0\0\0\0\0"),
            issuer,
        };
        let mut sums = SlotSums::default();
        sums.add((HolderKey::Account(&[1; 32]), AssetKey::Credit4(&a4)), 5)
            .unwrap();
        sums.add((HolderKey::Account(&[1; 32]), AssetKey::Credit12(&a12)), -5)
            .unwrap();
        assert_eq!(sums.sums.len(), 2);
        let rows: Deltas<'_> = sums
            .sums
            .into_iter()
            .map(|((h, a), v)| (Cow::Owned(h.strkey()), Cow::Owned(a.canonical()), v))
            .collect();
        assert!(normalise(rows).unwrap().is_empty());
    }
}
