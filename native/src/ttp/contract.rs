//! Contract events as token events: SAC and SEP-41 custom tokens (spec §2c), and unified fee
//! events.
//!
//! [`token_event`] is the reference's `parseEvent`: anything that is not a well-formed
//! transfer/mint/burn/clawback is "not a token event" and yields None, never an error.
//! [`unified_fee_events`] is `parseFeeEventsFromTransactionEvents`, where malformed fee events
//! are hard errors because every transaction must have its fee.

use std::sync::Arc;

use stellar_xdr::{
    ContractEvent, ContractEventBody, ContractEventType, ScAddress, ScVal, TransactionMeta,
};

use crate::error::{CoreError, CoreResult};
use crate::ledger::LedgerTx;
use crate::strkey;

use super::classic::{movement_event, Party};
use super::events::{EventBody, EventType, MuxedInfo, TokenEvent, TxContext};
use super::sac::{SacAsset, SacAssets};

/// An i128 value: `(hi << 64) + lo` with `hi` signed (`amount.String128Raw`).
fn i128_of(val: &ScVal) -> Option<i128> {
    match val {
        ScVal::I128(parts) => Some((i128::from(parts.hi) << 64) | i128::from(parts.lo)),
        _ => None,
    }
}

fn address_of(val: &ScVal) -> Option<&ScAddress> {
    match val {
        ScVal::Address(address) => Some(address),
        _ => None,
    }
}

/// A contract address as a party of the issuer rule (pre-CAP-67 SAC transfers): accounts and
/// muxed accounts are accounts (stripped to G, the id kept), anything else is not.
fn party(address: &ScAddress) -> Party {
    match address {
        ScAddress::Account(account) => Party::account(account),
        ScAddress::MuxedAccount(mux) => Party {
            address: strkey::g(&mux.ed25519.0),
            is_account: true,
            muxed_id: Some(mux.id),
        },
        other => Party::other(strkey::sc_address(other)),
    }
}

/// A topic's ScString as text, or None when it is not a string (or not UTF-8).
fn string_of(val: &ScVal) -> Option<&str> {
    match val {
        ScVal::String(s) => std::str::from_utf8(s.0.as_slice()).ok(),
        _ => None,
    }
}

/// A CAP-67 event's data: a bare i128, or a map with `amount` and maybe `to_muxed_id`.
fn v4_data(data: &ScVal) -> Option<(i128, Option<MuxedInfo>)> {
    let ScVal::Map(map) = data else {
        return i128_of(data).map(|amount| (amount, None));
    };
    let map = map.as_ref()?;
    let mut amount = None;
    let mut info = None;
    for entry in map.0.iter() {
        let ScVal::Symbol(key) = &entry.key else {
            return None;
        };
        match key.0.as_slice() {
            b"amount" => amount = Some(i128_of(&entry.val)?),
            b"to_muxed_id" => match &entry.val {
                ScVal::U64(id) => info = Some(MuxedInfo::Id(*id)),
                // Kept at the emitted length (decision in the module docs).
                ScVal::Bytes(bytes) => info = Some(MuxedInfo::Hash(bytes.0.to_vec())),
                ScVal::String(s) => {
                    info = Some(MuxedInfo::Text(
                        String::from_utf8_lossy(s.0.as_slice()).into_owned(),
                    ))
                }
                // Void means "no muxed destination" (decision in the module docs).
                ScVal::Void => {}
                _ => return None,
            },
            _ => {}
        }
    }
    Some((amount?, info))
}

/// A SEP-41 event's parts, by meta version (§2c table).
struct Parsed<'a> {
    event_type: EventType,
    from: Option<&'a ScAddress>,
    to: Option<&'a ScAddress>,
    amount: i128,
    info: Option<MuxedInfo>,
}

fn parse<'a>(
    name: &[u8],
    topics: &'a [ScVal],
    data: &ScVal,
    meta_version: u8,
) -> Option<Parsed<'a>> {
    let (amount, info) = if meta_version == 3 {
        (i128_of(data)?, None) // v3 never carries muxed info (stellar/go#5770)
    } else {
        v4_data(data)?
    };
    let topic = |i: usize| topics.get(i).and_then(address_of);
    let (event_type, from, to) = match name {
        b"transfer" => (EventType::Transfer, Some(topic(1)?), Some(topic(2)?)),
        b"mint" | b"clawback" => {
            let party = if meta_version == 3 {
                // ["mint", admin, to] / ["clawback", admin, from]: the admin must be an address.
                topic(1)?;
                topic(2)?
            } else {
                // ["mint", to] / ["clawback", from]. A third topic that is not the SAC asset
                // string means the v3 shape [name, admin, party], where topic 1 is not the
                // party (decision in the module docs).
                if topics
                    .get(2)
                    .is_some_and(|t| !matches!(t, ScVal::String(_)))
                {
                    return None;
                }
                topic(1)?
            };
            if name == b"mint" {
                (EventType::Mint, None, Some(party))
            } else {
                (EventType::Clawback, Some(party), None)
            }
        }
        b"burn" => (EventType::Burn, Some(topic(1)?), None),
        _ => return None,
    };
    Some(Parsed {
        event_type,
        from,
        to,
        amount,
        info,
    })
}

/// Topic count at which a SAC event carries its SEP-11 asset string as the last topic.
///
/// Meta v3 (pre-CAP-67 SAC): `["transfer", from, to, asset]`, `["mint", admin, to, asset]`,
/// `["clawback", admin, from, asset]`, `["burn", from, asset]`. Meta v4 (CAP-67):
/// `["transfer", from, to, asset]`, and `[name, address, asset]` for the others.
fn sac_topic_count(event_type: EventType, meta_version: u8) -> usize {
    match (event_type, meta_version) {
        (EventType::Transfer, _) => 4,
        (EventType::Burn, _) => 3,
        (_, 3) => 4,
        _ => 3,
    }
}

/// The asset when the event is its SAC's: exact topic count, and the ids agree.
fn sac_asset(
    event_type: EventType,
    topics: &[ScVal],
    meta_version: u8,
    contract_id: &[u8; 32],
    assets: &mut SacAssets,
) -> CoreResult<Option<Arc<SacAsset>>> {
    if topics.len() != sac_topic_count(event_type, meta_version) {
        return Ok(None);
    }
    let Some(text) = topics.last().and_then(string_of).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    Ok(assets
        .sep11(text)?
        .filter(|sac| sac.contract_id == *contract_id))
}

/// The token event a contract event stands for, or None when it is not one.
pub(crate) fn token_event(
    ctx: &TxContext,
    op_index0: usize,
    event: &ContractEvent,
    meta_version: u8,
    assets: &mut SacAssets,
) -> CoreResult<Option<TokenEvent>> {
    let (ContractEventType::Contract, Some(contract)) = (event.type_, &event.contract_id) else {
        return Ok(None);
    };
    let ContractEventBody::V0(body) = &event.body;
    let topics = body.topics.as_slice();
    let (Some(ScVal::Symbol(name)), true, true) = (
        topics.first(),
        topics.len() >= 2,
        matches!(meta_version, 3 | 4),
    ) else {
        return Ok(None);
    };
    let Some(parsed) = parse(name.0.as_slice(), topics, &body.data, meta_version) else {
        return Ok(None);
    };
    let contract_id = &contract.0 .0;
    let sac = sac_asset(parsed.event_type, topics, meta_version, contract_id, assets)?;
    if let (Some(sac), 3, EventType::Transfer, Some(from), Some(to)) = (
        &sac,
        meta_version,
        parsed.event_type,
        parsed.from,
        parsed.to,
    ) {
        // Before CAP-67 the SAC emitted "transfer" for mints and burns too. Pre-protocol-23
        // Soroban transactions carry no muxed info, hence no destination rule
        // (stellar/go#5770).
        return Ok(Some(movement_event(
            ctx,
            op_index0,
            sac,
            &party(from),
            &party(to),
            parsed.amount,
            None,
        )));
    }
    Ok(Some(ctx.event(
        Some(op_index0),
        EventBody {
            contract_address: strkey::c(contract_id),
            event_type: parsed.event_type,
            from: parsed.from.map(strkey::sc_address),
            to: parsed.to.map(strkey::sc_address),
            asset: sac.map(|s| Arc::clone(&s.info)),
            amount: parsed.amount,
            to_muxed_info: parsed.info,
        },
    )))
}

/// Whether the transaction's meta carries a CAP-67 tx-level `fee` event.
pub(crate) fn has_unified_fee_events(tx: &LedgerTx) -> bool {
    let TransactionMeta::V4(meta) = &tx.meta else {
        return false;
    };
    meta.events.iter().any(|tx_event| {
        let ContractEventBody::V0(body) = &tx_event.event.body;
        matches!(body.topics.first(), Some(ScVal::Symbol(sym)) if sym.0.as_slice() == b"fee")
    })
}

/// A v4 transaction's `fee` events: the charge, then the refund if any.
pub(crate) fn unified_fee_events(
    ctx: &TxContext,
    tx: &LedgerTx,
    native: &SacAsset,
) -> CoreResult<Vec<TokenEvent>> {
    let hash = || ctx.hash_hex();
    let TransactionMeta::V4(meta) = &tx.meta else {
        return Err(CoreError::token(format!(
            "tx {}: unified events need TransactionMeta v4, found v{}",
            hash(),
            tx.meta_version()
        )));
    };
    let mut out = Vec::with_capacity(2);
    for tx_event in meta.events.iter() {
        let ev = &tx_event.event;
        let (ContractEventType::Contract, Some(contract)) = (ev.type_, &ev.contract_id) else {
            return Err(CoreError::token(format!(
                "tx {}: invalid transaction event format",
                hash()
            )));
        };
        let ContractEventBody::V0(body) = &ev.body;
        let topics = body.topics.as_slice();
        let Some(first) = topics.first() else {
            return Err(CoreError::token(format!(
                "tx {}: transaction event without topics",
                hash()
            )));
        };
        if !matches!(first, ScVal::Symbol(sym) if sym.0.as_slice() == b"fee") {
            continue; // room for future transaction-level event kinds
        }
        if topics.len() != 2 {
            return Err(CoreError::token(format!(
                "tx {}: invalid topic length {} for fee event",
                hash(),
                topics.len()
            )));
        }
        let Some(amount) = i128_of(&body.data) else {
            return Err(CoreError::token(format!(
                "tx {}: invalid fee amount type {}",
                hash(),
                body.data.name()
            )));
        };
        let Some(payer) = topics.get(1).and_then(address_of) else {
            return Err(CoreError::token(format!(
                "tx {}: fee event topic 1 is not an address",
                hash()
            )));
        };
        if contract.0 .0 != native.contract_id {
            return Err(CoreError::token(format!(
                "tx {}: contractId in fee event does not match the native SAC",
                hash()
            )));
        }
        out.push(ctx.event(
            None,
            EventBody {
                contract_address: native.contract_address.clone(),
                event_type: EventType::Fee,
                from: Some(strkey::sc_address(payer)),
                to: None,
                asset: Some(Arc::clone(&native.info)),
                amount,
                to_muxed_info: None,
            },
        ));
    }
    match out.len() {
        0 => Err(CoreError::token(format!(
            "tx {}: no fee events found",
            hash()
        ))),
        1 | 2 => Ok(out),
        n => Err(CoreError::token(format!(
            "tx {}: too many fee events ({n})",
            hash()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Network;
    use stellar_xdr::{
        AccountId, ContractEventV0, ContractId, ExtensionPoint, Hash, Int128Parts, PublicKey,
        ScBytes, ScMap, ScMapEntry, ScString, ScSymbol, TransactionEvent, TransactionEventStage,
        Uint256,
    };

    const ISSUER: &str = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";

    fn ctx() -> TxContext {
        TxContext {
            ledger_sequence: 12345,
            closed_at: 1234500,
            tx_hash: [1; 32],
            transaction_index: 1,
        }
    }

    fn assets() -> SacAssets {
        SacAssets::new(&Network::new("t", "some network passphrase").id)
    }

    fn sym(s: &str) -> ScVal {
        ScVal::Symbol(ScSymbol(s.as_bytes().to_vec().try_into().unwrap()))
    }

    fn string(s: &str) -> ScVal {
        ScVal::String(ScString(s.as_bytes().to_vec().try_into().unwrap()))
    }

    fn account(key: [u8; 32]) -> ScVal {
        ScVal::Address(ScAddress::Account(AccountId(
            PublicKey::PublicKeyTypeEd25519(Uint256(key)),
        )))
    }

    fn issuer_key() -> [u8; 32] {
        stellar_strkey::ed25519::PublicKey::from_string(ISSUER)
            .unwrap()
            .0
    }

    fn amount(v: i128) -> ScVal {
        ScVal::I128(Int128Parts {
            hi: (v >> 64) as i64,
            lo: v as u64,
        })
    }

    fn map(entries: Vec<(ScVal, ScVal)>) -> ScVal {
        let entries: Vec<_> = entries
            .into_iter()
            .map(|(key, val)| ScMapEntry { key, val })
            .collect();
        ScVal::Map(Some(ScMap(entries.try_into().unwrap())))
    }

    fn event(contract: [u8; 32], topics: Vec<ScVal>, data: ScVal) -> ContractEvent {
        ContractEvent {
            ext: ExtensionPoint::V0,
            contract_id: Some(ContractId(Hash(contract))),
            type_: ContractEventType::Contract,
            body: ContractEventBody::V0(ContractEventV0 {
                topics: topics.try_into().unwrap(),
                data,
            }),
        }
    }

    fn usdc_sac(assets: &mut SacAssets) -> [u8; 32] {
        assets
            .sep11(&format!("USDC:{ISSUER}"))
            .unwrap()
            .unwrap()
            .contract_id
    }

    fn parse_one(ev: &ContractEvent, meta: u8, assets: &mut SacAssets) -> Option<TokenEvent> {
        token_event(&ctx(), 0, ev, meta, assets).unwrap()
    }

    #[test]
    fn v3_sac_transfers_follow_the_issuer_rule() {
        let mut assets = assets();
        let sac = usdc_sac(&mut assets);
        let asset = string(&format!("USDC:{ISSUER}"));
        let t = |from, to| {
            event(
                sac,
                vec![sym("transfer"), from, to, asset.clone()],
                amount(5),
            )
        };
        let ev = parse_one(&t(account([1; 32]), account([2; 32])), 3, &mut assets).unwrap();
        assert_eq!(
            (
                ev.event_type,
                ev.asset.as_ref().map(|a| a.canonical.clone())
            ),
            (EventType::Transfer, Some(format!("USDC:{ISSUER}")))
        );
        assert_eq!(ev.contract_address, strkey::c(&sac));
        assert_eq!(ev.operation_index, Some(1));
        let mint = parse_one(&t(account(issuer_key()), account([2; 32])), 3, &mut assets).unwrap();
        assert_eq!(
            (mint.event_type, mint.from, mint.to),
            (EventType::Mint, None, Some(strkey::g(&[2; 32])))
        );
        let burn = parse_one(&t(account([1; 32]), account(issuer_key())), 3, &mut assets).unwrap();
        assert_eq!(burn.event_type, EventType::Burn);
        // Under v4 the SAC emits mint and burn itself: a transfer stays a transfer.
        let v4 = parse_one(&t(account(issuer_key()), account([2; 32])), 4, &mut assets).unwrap();
        assert_eq!(v4.event_type, EventType::Transfer);
    }

    #[test]
    fn sac_asset_needs_the_exact_shape_and_contract() {
        let mut assets = assets();
        let sac = usdc_sac(&mut assets);
        let asset = string(&format!("USDC:{ISSUER}"));
        let has_asset = |ev: ContractEvent, meta: u8, assets: &mut SacAssets| {
            parse_one(&ev, meta, assets).map(|e| e.asset.is_some())
        };
        let a = account([1; 32]);
        // v4 mint [name, to, asset]: set. v3 mint [name, admin, to, asset]: set.
        assert_eq!(
            has_asset(
                event(sac, vec![sym("mint"), a.clone(), asset.clone()], amount(1)),
                4,
                &mut assets
            ),
            Some(true)
        );
        assert_eq!(
            has_asset(
                event(
                    sac,
                    vec![sym("mint"), a.clone(), a.clone(), asset.clone()],
                    amount(1)
                ),
                3,
                &mut assets
            ),
            Some(true)
        );
        // The v3 shape under v4 is rejected (decision in the module docs).
        assert_eq!(
            has_asset(
                event(
                    sac,
                    vec![sym("mint"), a.clone(), a.clone(), asset.clone()],
                    amount(1)
                ),
                4,
                &mut assets
            ),
            None
        );
        // Another contract: kept, without an asset.
        assert_eq!(
            has_asset(
                event(
                    [7; 32],
                    vec![sym("burn"), a.clone(), asset.clone()],
                    amount(1)
                ),
                4,
                &mut assets
            ),
            Some(false)
        );
        // Too many topics, no string, an empty string, two assets: kept, without an asset.
        let five = vec![
            sym("transfer"),
            a.clone(),
            a.clone(),
            a.clone(),
            asset.clone(),
        ];
        assert_eq!(
            has_asset(event(sac, five, amount(1)), 3, &mut assets),
            Some(false)
        );
        assert_eq!(
            has_asset(
                event(sac, vec![sym("burn"), a.clone(), a.clone()], amount(1)),
                3,
                &mut assets
            ),
            Some(false)
        );
        assert_eq!(
            has_asset(
                event(sac, vec![sym("burn"), a.clone(), string("")], amount(1)),
                3,
                &mut assets
            ),
            Some(false)
        );
        assert_eq!(
            has_asset(
                event(
                    sac,
                    vec![sym("burn"), a.clone(), string("native,native")],
                    amount(1)
                ),
                3,
                &mut assets
            ),
            Some(false)
        );
        assert_eq!(
            has_asset(
                event(
                    sac,
                    vec![sym("burn"), a.clone(), string("not:a:valid:asset")],
                    amount(1)
                ),
                3,
                &mut assets
            ),
            Some(false)
        );
    }

    #[test]
    fn invalid_events_are_not_token_events() {
        let mut assets = assets();
        let a = account([1; 32]);
        let ok = event(
            [4; 32],
            vec![sym("transfer"), a.clone(), a.clone()],
            amount(1),
        );
        assert!(parse_one(&ok, 3, &mut assets).is_some());
        let mut system = ok.clone();
        system.type_ = ContractEventType::System;
        let mut anonymous = ok.clone();
        anonymous.contract_id = None;
        let cases = [
            system,
            anonymous,
            event([4; 32], vec![sym("transfer")], amount(1)),
            event(
                [4; 32],
                vec![string("transfer"), a.clone(), a.clone()],
                amount(1),
            ),
            event(
                [4; 32],
                vec![sym("transfer"), a.clone(), a.clone()],
                ScVal::U64(1),
            ),
            event([4; 32], vec![sym("transfer"), a.clone()], amount(1)),
            event(
                [4; 32],
                vec![sym("transfer"), sym("x"), a.clone()],
                amount(1),
            ),
            event([4; 32], vec![sym("mint"), a.clone()], amount(1)),
            event(
                [4; 32],
                vec![sym("clawback"), sym("admin"), a.clone()],
                amount(1),
            ),
            event(
                [4; 32],
                vec![sym("approve"), a.clone(), a.clone()],
                amount(1),
            ),
        ];
        for (i, case) in cases.iter().enumerate() {
            assert!(parse_one(case, 3, &mut assets).is_none(), "case {i}");
        }
        assert!(
            parse_one(&ok, 2, &mut assets).is_none(),
            "meta v2 has no contract events"
        );
    }

    #[test]
    fn v4_data_maps_and_muxed_ids() {
        let mut assets = assets();
        let a = account([1; 32]);
        let mut with = |data: ScVal| {
            let ev = event(
                [4; 32],
                vec![sym("transfer"), a.clone(), a.clone(), sym("extra")],
                data,
            );
            parse_one(&ev, 4, &mut assets).map(|e| (e.amount, e.to_muxed_info))
        };
        let big = (5000_i128 << 64) + 1000;
        assert_eq!(with(amount(big)), Some((big, None)));
        assert_eq!(with(amount(-30)), Some((-30, None)));
        let amt = || (sym("amount"), amount(7));
        assert_eq!(
            with(map(vec![amt(), (sym("to_muxed_id"), ScVal::U64(12345))])),
            Some((7, Some(MuxedInfo::Id(12345))))
        );
        assert_eq!(
            with(map(vec![
                amt(),
                (sym("to_muxed_id"), string("hello world"))
            ])),
            Some((7, Some(MuxedInfo::Text("hello world".into()))))
        );
        let bytes = ScVal::Bytes(ScBytes(vec![1, 2, 3].try_into().unwrap()));
        assert_eq!(
            with(map(vec![amt(), (sym("to_muxed_id"), bytes)])),
            Some((7, Some(MuxedInfo::Hash(vec![1, 2, 3]))))
        );
        assert_eq!(
            with(map(vec![amt(), (sym("to_muxed_id"), ScVal::Void)])),
            Some((7, None))
        );
        assert_eq!(
            with(map(vec![amt(), (sym("other"), ScVal::Bool(true))])),
            Some((7, None))
        );
        assert_eq!(
            with(map(vec![(sym("to_muxed_id"), ScVal::U64(1))])),
            None,
            "amount missing"
        );
        assert_eq!(
            with(map(vec![amt(), (sym("to_muxed_id"), sym("x"))])),
            None,
            "bad muxed id type"
        );
        assert_eq!(
            with(map(vec![amt(), (string("k"), ScVal::U64(1))])),
            None,
            "key not a symbol"
        );
        assert_eq!(with(ScVal::Map(None)), None);
        // v3 never carries muxed info, and needs a bare i128.
        let ev = event(
            [4; 32],
            vec![sym("transfer"), a.clone(), a.clone()],
            map(vec![amt()]),
        );
        assert!(parse_one(&ev, 3, &mut assets).is_none());
    }

    #[test]
    fn muxed_account_addresses_render_as_m() {
        let mut assets = assets();
        let mux = ScVal::Address(ScAddress::MuxedAccount(stellar_xdr::MuxedEd25519Account {
            id: 9,
            ed25519: Uint256([2; 32]),
        }));
        let ev = event(
            [4; 32],
            vec![sym("transfer"), account([1; 32]), mux],
            amount(1),
        );
        let out = parse_one(&ev, 4, &mut assets).unwrap();
        assert_eq!(out.to, Some(strkey::m(&[2; 32], 9)));
    }

    fn fee_tx_events(events: Vec<ContractEvent>) -> Vec<TransactionEvent> {
        events
            .into_iter()
            .map(|event| TransactionEvent {
                stage: TransactionEventStage::BeforeAllTxs,
                event,
            })
            .collect()
    }

    fn v4_tx(events: Vec<ContractEvent>) -> LedgerTx {
        let meta = stellar_xdr::TransactionMetaV4 {
            ext: ExtensionPoint::V0,
            tx_changes_before: Default::default(),
            operations: Default::default(),
            tx_changes_after: Default::default(),
            soroban_meta: None,
            events: fee_tx_events(events).try_into().unwrap(),
            diagnostic_events: Default::default(),
        };
        LedgerTx {
            index: 1,
            hash: [1; 32],
            result: stellar_xdr::TransactionResult {
                fee_charged: 100,
                result: stellar_xdr::TransactionResultResult::TxSuccess(Default::default()),
                ext: stellar_xdr::TransactionResultExt::V0,
            },
            fee_processing: Default::default(),
            meta: TransactionMeta::V4(meta),
            post_apply_fee_processing: None,
            envelope: stellar_xdr::TransactionEnvelope::TxV0(stellar_xdr::TransactionV0Envelope {
                tx: stellar_xdr::TransactionV0 {
                    source_account_ed25519: Uint256([1; 32]),
                    fee: 100,
                    seq_num: stellar_xdr::SequenceNumber(1),
                    time_bounds: None,
                    memo: stellar_xdr::Memo::None,
                    operations: Default::default(),
                    ext: stellar_xdr::TransactionV0Ext::V0,
                },
                signatures: Default::default(),
            }),
        }
    }

    fn unified_fees(events: Vec<ContractEvent>) -> CoreResult<Vec<(Option<String>, i128)>> {
        let native = assets().native().unwrap();
        let tx = v4_tx(events);
        Ok(unified_fee_events(&ctx(), &tx, &native)?
            .into_iter()
            .map(|e| (e.from, e.amount))
            .collect())
    }

    #[test]
    fn only_a_fee_symbol_makes_unified_data() {
        let native = assets().native().unwrap().contract_id;
        assert!(has_unified_fee_events(&v4_tx(vec![event(
            native,
            vec![sym("fee"), account([1; 32])],
            amount(1)
        )])));
        assert!(!has_unified_fee_events(&v4_tx(vec![event(
            native,
            vec![sym("foo")],
            amount(1)
        )])));
        assert!(!has_unified_fee_events(&v4_tx(vec![])));
    }

    #[test]
    fn unified_fee_events_are_strict() {
        let native = assets().native().unwrap().contract_id;
        let fee = |amt: ScVal| event(native, vec![sym("fee"), account([1; 32])], amt);
        let payer = Some(strkey::g(&[1; 32]));
        assert_eq!(
            unified_fees(vec![fee(amount(100))]).unwrap(),
            [(payer.clone(), 100)]
        );
        assert_eq!(
            unified_fees(vec![
                fee(amount(100)),
                event(native, vec![sym("foo")], amount(1)),
                fee(amount(-20))
            ])
            .unwrap(),
            [(payer.clone(), 100), (payer, -20)]
        );
        let err = |events| unified_fees(events).unwrap_err().message;
        assert!(err(vec![]).contains("no fee events found"));
        assert!(err(vec![fee(amount(1)), fee(amount(1)), fee(amount(1))])
            .contains("too many fee events"));
        assert!(err(vec![event(
            native,
            vec![sym("fee"), account([1; 32]), sym("x")],
            amount(1)
        )])
        .contains("invalid topic length"));
        assert!(err(vec![fee(ScVal::U64(1))]).contains("invalid fee amount"));
        assert!(err(vec![event(
            [5; 32],
            vec![sym("fee"), account([1; 32])],
            amount(1)
        )])
        .contains("does not match the native SAC"));
        assert!(
            err(vec![event(native, vec![sym("fee"), sym("x")], amount(1))])
                .contains("not an address")
        );
        assert!(err(vec![event(native, vec![], amount(1))]).contains("without topics"));
    }
}
