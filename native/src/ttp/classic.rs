//! Events of classic operations derived from operations, results and ledger-entry changes
//! (spec §2b). Derived mode only; the unified mode reads the same movements from CAP-67 events.

use std::cell::OnceCell;
use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use stellar_xdr::{
    AccountId, AccountMergeResult, Asset, ClaimAtom, ClaimableBalanceEntry,
    CreateClaimableBalanceResult, HashIdPreimage, HashIdPreimageRevokeId, InflationResult,
    LedgerEntryData, Limits, LiquidityPoolEntryBody, ManageBuyOfferResult, ManageSellOfferResult,
    Memo, MuxedAccount, Operation, OperationBody, OperationResult, OperationResultTr,
    PathPaymentStrictReceiveResult, PathPaymentStrictSendResult, PoolId, PublicKey, SequenceNumber,
    Uint256, WriteXdr,
};

use crate::error::{CoreError, CoreResult};
use crate::ledger::{Ledger, LedgerTx, TxBody};
use crate::strkey;

use super::changes::{operation_changes, ChangeKind, EntryChange};
use super::events::{EventBody, EventType, MuxedInfo, TokenEvent, TxContext};
use super::sac::{SacAsset, SacAssets};

/// One side of a movement.
///
/// `address` is a G address for accounts (muxed accounts stripped to G), else the L, B or C
/// strkey. `muxed_id` keeps a muxed account's id for the destination rule of §1.6.
#[derive(Debug, Clone)]
pub(crate) struct Party {
    pub address: String,
    pub is_account: bool,
    pub muxed_id: Option<u64>,
}

impl Party {
    pub fn key(key: &[u8; 32]) -> Self {
        Self {
            address: strkey::g(key),
            is_account: true,
            muxed_id: None,
        }
    }

    pub fn account(account: &AccountId) -> Self {
        Self::key(strkey::account_key(account))
    }

    pub fn muxed(account: &MuxedAccount) -> Self {
        match account {
            MuxedAccount::Ed25519(key) => Self::key(&key.0),
            MuxedAccount::MuxedEd25519(med) => Self {
                address: strkey::g(&med.ed25519.0),
                is_account: true,
                muxed_id: Some(med.id),
            },
        }
    }

    /// A pool, claimable balance or contract: never an issuer, never muxed.
    pub fn other(address: String) -> Self {
        Self {
            address,
            is_account: false,
            muxed_id: None,
        }
    }
}

/// The (inner) transaction's source as a party (a v0 envelope's source is a plain key).
pub(crate) fn tx_source_party(body: TxBody<'_>) -> Party {
    match body {
        TxBody::V0(tx) => Party::key(&tx.source_account_ed25519.0),
        TxBody::V1(tx) => Party::muxed(&tx.source_account),
    }
}

/// §1.6: the transaction memo as destination info; MEMO_RETURN is reported as a hash.
pub(crate) fn muxed_info_from_memo(memo: &Memo) -> Option<MuxedInfo> {
    match memo {
        Memo::None => None,
        Memo::Id(id) => Some(MuxedInfo::Id(*id)),
        // XDR strings are bytes; a memo text that is not UTF-8 is kept readable, not dropped.
        Memo::Text(text) => Some(MuxedInfo::Text(String::from_utf8_lossy(text).into_owned())),
        Memo::Hash(hash) | Memo::Return(hash) => Some(MuxedInfo::Hash(hash.0.to_vec())),
    }
}

/// `mintOrBurnOrTransferEvent`: the issuer sending mints, the issuer receiving burns.
///
/// `destination_info` is the destination's muxed info (§1.6) when the rule includes it; burns
/// never carry it.
pub(crate) fn movement_event(
    ctx: &TxContext,
    op_index0: usize,
    sac: &SacAsset,
    from: &Party,
    to: &Party,
    amount: i128,
    destination_info: Option<MuxedInfo>,
) -> TokenEvent {
    let issuer = sac.info.issuer.as_deref();
    let is_issuer = |p: &Party| p.is_account && issuer == Some(p.address.as_str());
    let (from_issuer, to_issuer) = (is_issuer(from), is_issuer(to));
    let (event_type, from, to, muxed) = if to_issuer && !from_issuer {
        (EventType::Burn, Some(from.address.clone()), None, None)
    } else if from_issuer && !to_issuer {
        (
            EventType::Mint,
            None,
            Some(to.address.clone()),
            destination_info,
        )
    } else {
        // Neither side is the issuer, or both are: CAP-67 keeps an issuer paying itself a
        // transfer.
        (
            EventType::Transfer,
            Some(from.address.clone()),
            Some(to.address.clone()),
            destination_info,
        )
    };
    ctx.event(
        Some(op_index0),
        EventBody {
            contract_address: sac.contract_address.clone(),
            event_type,
            from,
            to,
            asset: Some(Arc::clone(&sac.info)),
            amount,
            to_muxed_info: muxed,
        },
    )
}

/// CAP-38: the id of the claimable balance a trustline revocation makes from a pool.
fn revoke_claimable_balance_hash(
    tx_source: &[u8; 32],
    seq_num: i64,
    op_index0: usize,
    pool: &PoolId,
    asset: &Asset,
) -> CoreResult<[u8; 32]> {
    let op_num = u32::try_from(op_index0).map_err(|_| {
        CoreError::token(format!("operation index {op_index0} does not fit a uint32"))
    })?;
    let preimage = HashIdPreimage::PoolRevokeOpId(HashIdPreimageRevokeId {
        source_account: AccountId(PublicKey::PublicKeyTypeEd25519(Uint256(*tx_source))),
        seq_num: SequenceNumber(seq_num),
        op_num,
        liquidity_pool_id: pool.clone(),
        asset: asset.clone(),
    });
    let bytes = preimage
        .to_xdr(Limits::none())
        .map_err(|e| CoreError::internal(format!("cannot encode a revoke id preimage: {e}")))?;
    Ok(Sha256::digest(bytes).into())
}

/// A pool touched by an operation: its assets and |delta reserve| of each.
struct PoolDelta<'a> {
    pool: &'a PoolId,
    asset_a: &'a Asset,
    asset_b: &'a Asset,
    amount_a: i128,
    amount_b: i128,
}

fn pool_deltas<'a>(changes: &[EntryChange<'a>]) -> Vec<PoolDelta<'a>> {
    let reserves = |entry: Option<&'a stellar_xdr::LedgerEntry>| match entry.map(|e| &e.data) {
        Some(LedgerEntryData::LiquidityPool(lp)) => {
            let LiquidityPoolEntryBody::LiquidityPoolConstantProduct(cp) = &lp.body;
            Some((lp, cp))
        }
        _ => None,
    };
    let mut out = Vec::new();
    for change in changes {
        // The entry type is the one the change is about (its state before, else after).
        if !matches!(
            change.entry().map(|e| &e.data),
            Some(LedgerEntryData::LiquidityPool(_))
        ) {
            continue;
        }
        let pre = reserves(change.pre);
        let post = reserves(change.post);
        let (pre_a, pre_b) = pre.map_or((0, 0), |(_, cp)| (cp.reserve_a, cp.reserve_b));
        let (post_a, post_b) = post.map_or((0, 0), |(_, cp)| (cp.reserve_a, cp.reserve_b));
        let Some((lp, cp)) = post.or(pre) else {
            continue;
        };
        out.push(PoolDelta {
            pool: &lp.liquidity_pool_id,
            asset_a: &cp.params.asset_a,
            asset_b: &cp.params.asset_b,
            amount_a: (i128::from(post_a) - i128::from(pre_a)).abs(),
            amount_b: (i128::from(post_b) - i128::from(pre_b)).abs(),
        });
    }
    out
}

/// Claimable balances CREATED (their new entry) or REMOVED (their last state).
fn claimable_balances<'a>(
    changes: &[EntryChange<'a>],
    kind: ChangeKind,
) -> Vec<&'a ClaimableBalanceEntry> {
    changes
        .iter()
        .filter(|c| c.kind == kind)
        .filter_map(|c| match c.entry().map(|e| &e.data) {
            Some(LedgerEntryData::ClaimableBalance(cb)) => Some(cb),
            _ => None,
        })
        .collect()
}

fn single_removed_claimable_balance<'a>(
    changes: &[EntryChange<'a>],
) -> CoreResult<&'a ClaimableBalanceEntry> {
    match claimable_balances(changes, ChangeKind::Removed).as_slice() {
        [] => Err(CoreError::token(
            "no claimable balance entry found in operation changes",
        )),
        [one] => Ok(one),
        more => Err(CoreError::token(format!(
            "{} claimable balances removed, expected one",
            more.len()
        ))),
    }
}

fn single_pool_delta<'a>(changes: &[EntryChange<'a>]) -> CoreResult<PoolDelta<'a>> {
    let mut deltas = pool_deltas(changes);
    match deltas.len() {
        0 => Err(CoreError::token(
            "no liquidity pool entry found in operation changes",
        )),
        1 => deltas
            .pop()
            .ok_or_else(|| CoreError::internal("pool delta vanished")),
        n => Err(CoreError::token(format!(
            "{n} liquidity pool entries changed, expected one"
        ))),
    }
}

fn unexpected_result(expected: &str) -> CoreError {
    CoreError::token(format!(
        "operation result is not a successful {expected} result"
    ))
}

/// Whether the rules of §2b cover this operation type (others yield no events and are not
/// reconciled either).
pub(crate) fn has_rules(body: &OperationBody) -> bool {
    matches!(
        body,
        OperationBody::CreateAccount(_)
            | OperationBody::Payment(_)
            | OperationBody::PathPaymentStrictSend(_)
            | OperationBody::PathPaymentStrictReceive(_)
            | OperationBody::ManageSellOffer(_)
            | OperationBody::CreatePassiveSellOffer(_)
            | OperationBody::ManageBuyOffer(_)
            | OperationBody::AccountMerge(_)
            | OperationBody::CreateClaimableBalance(_)
            | OperationBody::ClaimClaimableBalance(_)
            | OperationBody::Clawback(_)
            | OperationBody::ClawbackClaimableBalance(_)
            | OperationBody::LiquidityPoolDeposit(_)
            | OperationBody::LiquidityPoolWithdraw(_)
            | OperationBody::AllowTrust(_)
            | OperationBody::SetTrustLineFlags(_)
            | OperationBody::Inflation
    )
}

/// The rules of §2b applied to one operation of a successful transaction.
pub(crate) struct ClassicOp<'a> {
    pub ctx: &'a TxContext,
    pub assets: &'a mut SacAssets,
    pub ledger: &'a Ledger,
    pub tx: &'a LedgerTx,
    pub index0: usize,
    pub op: &'a Operation,
    /// The (inner) transaction memo as muxed info, converted once per transaction and only if
    /// some destination falls back to it.
    pub memo_info: &'a OnceCell<Option<MuxedInfo>>,
    /// The operation's source (the transaction's when the operation has none).
    pub source: Party,
}

impl<'a> ClassicOp<'a> {
    fn result(&self) -> CoreResult<&'a OperationResultTr> {
        match self.tx.operation_results().and_then(|r| r.get(self.index0)) {
            Some(OperationResult::OpInner(tr)) => Ok(tr),
            Some(_) => Err(CoreError::token(
                "operation result is not opINNER in a successful transaction",
            )),
            None => Err(CoreError::token("no operation result for the operation")),
        }
    }

    fn changes(&self) -> CoreResult<Vec<EntryChange<'a>>> {
        operation_changes(self.ledger, self.tx, self.index0)
    }

    /// §1.6 classic path: a muxed destination's id, else the (inner) transaction memo.
    fn destination_info(&self, to: &Party) -> Option<MuxedInfo> {
        if !to.is_account {
            return None;
        }
        if let Some(id) = to.muxed_id {
            return Some(MuxedInfo::Id(id));
        }
        self.memo_info
            .get_or_init(|| muxed_info_from_memo(self.tx.memo()))
            .clone()
    }

    fn movement(
        &mut self,
        asset: &Asset,
        from: &Party,
        to: &Party,
        amount: i128,
        include_mux: bool,
    ) -> CoreResult<TokenEvent> {
        let sac = self.assets.of(asset)?;
        let info = if include_mux {
            self.destination_info(to)
        } else {
            None
        };
        Ok(movement_event(
            self.ctx,
            self.index0,
            &sac,
            from,
            to,
            amount,
            info,
        ))
    }

    /// An event outside the issuer rule (clawbacks, inflation, revocation burns).
    fn plain(
        &self,
        sac: &SacAsset,
        event_type: EventType,
        from: Option<String>,
        to: Option<String>,
        amount: i128,
    ) -> TokenEvent {
        self.ctx.event(
            Some(self.index0),
            EventBody {
                contract_address: sac.contract_address.clone(),
                event_type,
                from,
                to,
                asset: Some(Arc::clone(&sac.info)),
                amount,
                to_muxed_info: None,
            },
        )
    }

    /// Per claim atom, as stellar-core emits them under CAP-67: the taker pays the seller what
    /// the seller bought, then the seller pays the taker what it sold. (The Python port and the
    /// Go reference emit the pair the other way round; this order makes derived and unified
    /// events identical.)
    fn trades(&mut self, atoms: &[ClaimAtom], out: &mut Vec<TokenEvent>) -> CoreResult<()> {
        let taker = Party {
            address: self.source.address.clone(),
            is_account: true,
            muxed_id: None,
        };
        out.reserve(atoms.len().saturating_mul(2));
        for atom in atoms {
            let (seller, sold, amount_sold, bought, amount_bought) = match atom {
                ClaimAtom::LiquidityPool(c) => (
                    Party::other(strkey::pool_id(&c.liquidity_pool_id)),
                    &c.asset_sold,
                    c.amount_sold,
                    &c.asset_bought,
                    c.amount_bought,
                ),
                ClaimAtom::OrderBook(c) => (
                    Party::account(&c.seller_id),
                    &c.asset_sold,
                    c.amount_sold,
                    &c.asset_bought,
                    c.amount_bought,
                ),
                ClaimAtom::V0(c) => (
                    Party::key(&c.seller_ed25519.0),
                    &c.asset_sold,
                    c.amount_sold,
                    &c.asset_bought,
                    c.amount_bought,
                ),
            };
            out.push(self.movement(bought, &taker, &seller, i128::from(amount_bought), false)?);
            out.push(self.movement(sold, &seller, &taker, i128::from(amount_sold), false)?);
        }
        Ok(())
    }

    /// The operation's events, or None for operation types that move no tokens.
    pub fn events(&mut self) -> CoreResult<Option<Vec<TokenEvent>>> {
        let op = self.op;
        let mut out = Vec::new();
        match &op.body {
            OperationBody::CreateAccount(body) => {
                let native = self.assets.native()?;
                let dest = Party::account(&body.destination);
                let info = self.destination_info(&dest);
                let amount = i128::from(body.starting_balance);
                out.push(movement_event(
                    self.ctx,
                    self.index0,
                    &native,
                    &self.source,
                    &dest,
                    amount,
                    info,
                ));
            }
            OperationBody::Payment(body) => {
                let dest = Party::muxed(&body.destination);
                let source = self.source.clone();
                out.push(self.movement(
                    &body.asset,
                    &source,
                    &dest,
                    i128::from(body.amount),
                    true,
                )?);
            }
            OperationBody::PathPaymentStrictSend(body) => {
                let OperationResultTr::PathPaymentStrictSend(PathPaymentStrictSendResult::Success(
                    success,
                )) = self.result()?
                else {
                    return Err(unexpected_result("PATH_PAYMENT_STRICT_SEND"));
                };
                self.trades(&success.offers, &mut out)?;
                let dest = Party::muxed(&body.destination);
                let source = self.source.clone();
                out.push(self.movement(
                    &body.dest_asset,
                    &source,
                    &dest,
                    i128::from(success.last.amount),
                    true,
                )?);
            }
            OperationBody::PathPaymentStrictReceive(body) => {
                let OperationResultTr::PathPaymentStrictReceive(
                    PathPaymentStrictReceiveResult::Success(success),
                ) = self.result()?
                else {
                    return Err(unexpected_result("PATH_PAYMENT_STRICT_RECEIVE"));
                };
                self.trades(&success.offers, &mut out)?;
                let dest = Party::muxed(&body.destination);
                let source = self.source.clone();
                out.push(self.movement(
                    &body.dest_asset,
                    &source,
                    &dest,
                    i128::from(body.dest_amount),
                    true,
                )?);
            }
            OperationBody::ManageSellOffer(_) | OperationBody::CreatePassiveSellOffer(_) => {
                // stellar-core writes a passive offer's result under the MANAGE_SELL_OFFER arm
                // of the result union (seen in the core-tests ledgers), so the arm that is set
                // is read.
                let (OperationResultTr::ManageSellOffer(ManageSellOfferResult::Success(success))
                | OperationResultTr::CreatePassiveSellOffer(ManageSellOfferResult::Success(
                    success,
                ))) = self.result()?
                else {
                    return Err(unexpected_result("MANAGE_SELL_OFFER"));
                };
                self.trades(&success.offers_claimed, &mut out)?;
            }
            OperationBody::ManageBuyOffer(_) => {
                let OperationResultTr::ManageBuyOffer(ManageBuyOfferResult::Success(success)) =
                    self.result()?
                else {
                    return Err(unexpected_result("MANAGE_BUY_OFFER"));
                };
                self.trades(&success.offers_claimed, &mut out)?;
            }
            OperationBody::AccountMerge(destination) => {
                // Only a successful merge reports the balance it moved.
                if let OperationResultTr::AccountMerge(AccountMergeResult::Success(balance)) =
                    self.result()?
                {
                    let native = self.assets.native()?;
                    let dest = Party::muxed(destination);
                    let info = self.destination_info(&dest);
                    let amount = i128::from(*balance);
                    out.push(movement_event(
                        self.ctx,
                        self.index0,
                        &native,
                        &self.source,
                        &dest,
                        amount,
                        info,
                    ));
                }
            }
            OperationBody::CreateClaimableBalance(body) => {
                let OperationResultTr::CreateClaimableBalance(
                    CreateClaimableBalanceResult::Success(balance_id),
                ) = self.result()?
                else {
                    return Err(unexpected_result("CREATE_CLAIMABLE_BALANCE"));
                };
                let cb = Party::other(strkey::claimable_balance_id(balance_id));
                let source = self.source.clone();
                out.push(self.movement(
                    &body.asset,
                    &source,
                    &cb,
                    i128::from(body.amount),
                    false,
                )?);
            }
            OperationBody::ClaimClaimableBalance(body) => {
                let changes = self.changes()?;
                let entry = single_removed_claimable_balance(&changes)?;
                let cb = Party::other(strkey::claimable_balance_id(&body.balance_id));
                let source = self.source.clone();
                out.push(self.movement(
                    &entry.asset,
                    &cb,
                    &source,
                    i128::from(entry.amount),
                    true,
                )?);
            }
            OperationBody::Clawback(body) => {
                let sac = self.assets.of(&body.asset)?;
                let from = strkey::muxed_g(&body.from);
                out.push(self.plain(
                    &sac,
                    EventType::Clawback,
                    Some(from),
                    None,
                    i128::from(body.amount),
                ));
            }
            OperationBody::ClawbackClaimableBalance(body) => {
                let changes = self.changes()?;
                let entry = single_removed_claimable_balance(&changes)?;
                let sac = self.assets.of(&entry.asset)?;
                let from = strkey::claimable_balance_id(&body.balance_id);
                out.push(self.plain(
                    &sac,
                    EventType::Clawback,
                    Some(from),
                    None,
                    i128::from(entry.amount),
                ));
            }
            OperationBody::LiquidityPoolDeposit(_) => self.liquidity_pool_deposit(&mut out)?,
            OperationBody::LiquidityPoolWithdraw(_) => {
                // |delta| cannot be negative, so unlike a deposit nothing here can fail; a
                // withdrawal that rounds down to 0 is emitted as a 0 movement, as the
                // reference does.
                let changes = self.changes()?;
                let delta = single_pool_delta(&changes)?;
                let pool = Party::other(strkey::pool_id(delta.pool));
                let source = self.source.clone();
                out.push(self.movement(delta.asset_a, &pool, &source, delta.amount_a, true)?);
                out.push(self.movement(delta.asset_b, &pool, &source, delta.amount_b, true)?);
            }
            OperationBody::AllowTrust(_) | OperationBody::SetTrustLineFlags(_) => {
                self.revoked_trustline(&mut out)?
            }
            OperationBody::Inflation => {
                let OperationResultTr::Inflation(InflationResult::Success(payouts)) =
                    self.result()?
                else {
                    return Err(unexpected_result("INFLATION"));
                };
                let native = self.assets.native()?;
                for payout in payouts.iter() {
                    let to = strkey::account_id(&payout.destination);
                    out.push(self.plain(
                        &native,
                        EventType::Mint,
                        None,
                        Some(to),
                        i128::from(payout.amount),
                    ));
                }
            }
            _ => return Ok(None),
        }
        Ok(Some(out))
    }

    fn liquidity_pool_deposit(&mut self, out: &mut Vec<TokenEvent>) -> CoreResult<()> {
        let changes = self.changes()?;
        let delta = single_pool_delta(&changes)?;
        for (asset, amount) in [
            (delta.asset_a, delta.amount_a),
            (delta.asset_b, delta.amount_b),
        ] {
            if amount <= 0 {
                return Err(CoreError::token(format!(
                    "deposited amount {amount} of {} into {} is not positive",
                    self.assets.of(asset)?.info.canonical,
                    strkey::pool_id(delta.pool)
                )));
            }
        }
        let pool = Party::other(strkey::pool_id(delta.pool));
        let source = self.source.clone();
        out.push(self.movement(delta.asset_a, &source, &pool, delta.amount_a, false)?);
        out.push(self.movement(delta.asset_b, &source, &pool, delta.amount_b, false)?);
        Ok(())
    }

    /// ALLOW_TRUST / SET_TRUST_LINE_FLAGS: pool shares redeemed into claimable balances.
    ///
    /// CAP-38: revoking a trustline that holds pool shares withdraws them into up to two
    /// claimable balances per pool, whose ids are hashes of (tx source, tx sequence number,
    /// operation index, pool, asset). Nothing in the meta links a balance to its pool, so the
    /// ids are recomputed and matched against the balances this operation created. A side
    /// with no balance went back to its issuer (the trustor issues it): that side is burned.
    /// The operation's flags are not inspected, as in the reference.
    fn revoked_trustline(&mut self, out: &mut Vec<TokenEvent>) -> CoreResult<()> {
        let changes = self.changes()?;
        let mut pools = pool_deltas(&changes);
        if pools.is_empty() {
            return Ok(());
        }
        let created: HashMap<&[u8; 32], &ClaimableBalanceEntry> =
            claimable_balances(&changes, ChangeKind::Created)
                .into_iter()
                .map(|cb| (strkey::claimable_balance_hash(&cb.balance_id), cb))
                .collect();
        if created.is_empty() {
            return Ok(());
        }
        // The reference walks changes sorted by ledger key; pool keys differ only in pool id.
        pools.sort_by_key(|d| d.pool.0 .0);
        // CAP-38 hashes the transaction's source (not the operation's), muxed or not as its G.
        let body = self.tx.body();
        let (tx_source, seq_num) = (body.source_key(), body.sequence_number());
        for delta in &pools {
            let lp = Party::other(strkey::pool_id(delta.pool));
            let mut matches = Vec::with_capacity(2);
            for asset in [delta.asset_a, delta.asset_b] {
                let cb_hash = revoke_claimable_balance_hash(
                    tx_source,
                    seq_num,
                    self.index0,
                    delta.pool,
                    asset,
                )?;
                if let Some(cb) = created.get(&cb_hash) {
                    matches.push(*cb);
                }
            }
            if matches.len() > 2 {
                return Err(CoreError::token(format!(
                    "more than two claimable balances from {}",
                    lp.address
                )));
            }
            for cb in &matches {
                let cb_party = Party::other(strkey::claimable_balance_id(&cb.balance_id));
                out.push(self.movement(&cb.asset, &lp, &cb_party, i128::from(cb.amount), false)?);
            }
            if let [only] = matches.as_slice() {
                // Value equality, where the reference compares Go structs holding pointers
                // (see the module docs): burn the side that got no claimable balance.
                let (burned, amount) = if only.asset == *delta.asset_a {
                    (delta.asset_b, delta.amount_b)
                } else {
                    (delta.asset_a, delta.amount_a)
                };
                let sac = self.assets.of(burned)?;
                out.push(self.plain(
                    &sac,
                    EventType::Burn,
                    Some(lp.address.clone()),
                    None,
                    amount,
                ));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Network;

    const ISSUER: [u8; 32] = [9; 32];

    fn ctx() -> TxContext {
        TxContext {
            ledger_sequence: 12345,
            closed_at: 1234500,
            tx_hash: [1; 32],
            transaction_index: 1,
        }
    }

    fn usdc() -> Asset {
        Asset::CreditAlphanum4(stellar_xdr::AlphaNum4 {
            asset_code: stellar_xdr::AssetCode4(*b"USDC"),
            issuer: AccountId(PublicKey::PublicKeyTypeEd25519(Uint256(ISSUER))),
        })
    }

    #[test]
    fn the_issuer_rule() {
        let mut assets = SacAssets::new(&Network::new("t", "some network passphrase").id);
        let sac = assets.of(&usdc()).unwrap();
        let (issuer, a, b) = (
            Party::key(&ISSUER),
            Party::key(&[1; 32]),
            Party::key(&[2; 32]),
        );
        let memo = Some(MuxedInfo::Text("m".into()));
        let kind = |from: &Party, to: &Party| {
            let ev = movement_event(&ctx(), 0, &sac, from, to, 5, memo.clone());
            (
                ev.event_type,
                ev.from.is_some(),
                ev.to.is_some(),
                ev.to_muxed_info.is_some(),
            )
        };
        assert_eq!(kind(&a, &b), (EventType::Transfer, true, true, true));
        assert_eq!(kind(&issuer, &b), (EventType::Mint, false, true, true));
        assert_eq!(kind(&a, &issuer), (EventType::Burn, true, false, false));
        assert_eq!(
            kind(&issuer, &issuer),
            (EventType::Transfer, true, true, true)
        );
        // A pool or balance is never the issuer, even if its strkey could be compared.
        let pool = Party::other(strkey::l(&ISSUER));
        assert_eq!(kind(&pool, &b), (EventType::Transfer, true, true, true));
        let native = assets.native().unwrap();
        let ev = movement_event(&ctx(), 2, &native, &issuer, &a, 5, None);
        assert_eq!(
            (ev.event_type, ev.operation_index),
            (EventType::Transfer, Some(3))
        );
    }

    #[test]
    fn memos_become_muxed_info() {
        assert_eq!(muxed_info_from_memo(&Memo::None), None);
        assert_eq!(muxed_info_from_memo(&Memo::Id(7)), Some(MuxedInfo::Id(7)));
        let text = Memo::Text(b"hi\xff".to_vec().try_into().unwrap());
        assert_eq!(
            muxed_info_from_memo(&text),
            Some(MuxedInfo::Text("hi\u{FFFD}".into()))
        );
        let ret = Memo::Return(stellar_xdr::Hash([3; 32]));
        assert_eq!(
            muxed_info_from_memo(&ret),
            Some(MuxedInfo::Hash(vec![3; 32]))
        );
    }

    #[test]
    fn muxed_parties_strip_to_g_and_keep_the_id() {
        let med = MuxedAccount::MuxedEd25519(stellar_xdr::MuxedAccountMed25519 {
            id: 234,
            ed25519: Uint256([2; 32]),
        });
        let p = Party::muxed(&med);
        assert_eq!(
            (p.address, p.is_account, p.muxed_id),
            (strkey::g(&[2; 32]), true, Some(234))
        );
    }
}
