//! Strkey renderings of XDR addresses (G, M, C, L, B), in one place.
//!
//! `stellar-strkey` does the base32 and checksum; these helpers decide which XDR field becomes
//! which strkey, which is where the token events and the decoded tables must agree.

use std::cell::RefCell;
use std::rc::Rc;

use stellar_strkey::{ed25519, ClaimableBalance, Contract, LiquidityPool};
use stellar_xdr::{AccountId, ClaimableBalanceId, MuxedAccount, PoolId, PublicKey, ScAddress};

use crate::fasthash::RandomKeyMap;

thread_local! {
    /// G addresses already rendered on this thread: the same accounts recur across a ledger's
    /// transactions, operations, events and balance changes, and base32 with a checksum costs
    /// several times a lookup. Cleared when it grows past `G_CACHE_MAX` entries.
    static G_CACHE: RefCell<RandomKeyMap<[u8; 32], Rc<str>>> = RefCell::new(RandomKeyMap::default());
}

const G_CACHE_MAX: usize = 1 << 16;

pub fn g(key: &[u8; 32]) -> String {
    G_CACHE.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(found) = cache.get(key) {
            return found.to_string();
        }
        if cache.len() >= G_CACHE_MAX {
            cache.clear();
        }
        let rendered = ed25519::PublicKey(*key).to_string();
        cache.insert(*key, Rc::from(rendered.as_str()));
        rendered.as_str().to_owned()
    })
}

pub fn m(key: &[u8; 32], id: u64) -> String {
    ed25519::MuxedAccount { ed25519: *key, id }
        .to_string()
        .as_str()
        .to_owned()
}

pub fn c(contract: &[u8; 32]) -> String {
    Contract(*contract).to_string().as_str().to_owned()
}

pub fn l(pool: &[u8; 32]) -> String {
    LiquidityPool(*pool).to_string().as_str().to_owned()
}

/// A claimable balance: the strkey payload is the id type (0 = V0) then the 32-byte hash.
pub fn b(balance: &[u8; 32]) -> String {
    ClaimableBalance::V0(*balance)
        .to_string()
        .as_str()
        .to_owned()
}

pub fn account_key(account: &AccountId) -> &[u8; 32] {
    let PublicKey::PublicKeyTypeEd25519(key) = &account.0;
    &key.0
}

pub fn account_id(account: &AccountId) -> String {
    g(account_key(account))
}

/// The ed25519 key of a muxed account (its G part).
pub fn muxed_key(account: &MuxedAccount) -> &[u8; 32] {
    match account {
        MuxedAccount::Ed25519(key) => &key.0,
        MuxedAccount::MuxedEd25519(med) => &med.ed25519.0,
    }
}

/// (G address, muxed id, M address) of a muxed account.
pub fn muxed_parts(account: &MuxedAccount) -> (String, Option<u64>, Option<String>) {
    match account {
        MuxedAccount::Ed25519(key) => (g(&key.0), None, None),
        MuxedAccount::MuxedEd25519(med) => (
            g(&med.ed25519.0),
            Some(med.id),
            Some(m(&med.ed25519.0, med.id)),
        ),
    }
}

/// A muxed account stripped to its G address.
pub fn muxed_g(account: &MuxedAccount) -> String {
    g(muxed_key(account))
}

pub fn claimable_balance_hash(id: &ClaimableBalanceId) -> &[u8; 32] {
    let ClaimableBalanceId::ClaimableBalanceIdTypeV0(hash) = id;
    &hash.0
}

pub fn claimable_balance_id(id: &ClaimableBalanceId) -> String {
    b(claimable_balance_hash(id))
}

pub fn pool_id(id: &PoolId) -> String {
    l(&id.0 .0)
}

/// `ScAddress.String()` of the reference: G, C, M (not stripped), L or B.
///
/// A CAP-84 muxed contract address renders as its base contract (go-stellar-sdk's helper does
/// the same; the muxed id is not surfaced).
pub fn sc_address(address: &ScAddress) -> String {
    match address {
        ScAddress::Account(account) => account_id(account),
        ScAddress::Contract(contract) => c(&contract.0 .0),
        ScAddress::MuxedAccount(mux) => m(&mux.ed25519.0, mux.id),
        ScAddress::ClaimableBalance(id) => claimable_balance_id(id),
        ScAddress::LiquidityPool(id) => pool_id(id),
        ScAddress::MuxedContract(mux) => c(&mux.contract_id.0 .0),
    }
}

/// Whether a rendered address is a contract (a strkey from this module starting with C).
pub fn is_contract(address: &str) -> bool {
    address.starts_with('C')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_strkeys() {
        assert_eq!(
            g(&[0; 32]),
            "GAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAWHF"
        );
        assert_eq!(
            c(&[0; 32]),
            "CAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAABSC4"
        );
        assert!(m(&[0; 32], 1).starts_with('M'));
        assert!(l(&[0; 32]).starts_with('L'));
        assert!(b(&[0; 32]).starts_with('B'));
    }
}
