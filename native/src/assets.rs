//! Asset renderings: the canonical `native` / `CODE:ISSUER` string and its parts.

use stellar_xdr::{
    AlphaNum12, AlphaNum4, Asset, ChangeTrustAsset, LiquidityPoolParameters, TrustLineAsset,
};

use crate::strkey;

pub const NATIVE: &str = "native";

/// One asset as the tables render it: `canonical` is `native` or `CODE:ISSUER` (the reference's
/// map key); `kind` is `native` / `credit_alphanum4` / `credit_alphanum12` as in stellar-etl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssetInfo {
    pub canonical: String,
    pub kind: &'static str,
    pub code: Option<String>,
    pub issuer: Option<String>,
}

impl AssetInfo {
    pub fn native() -> Self {
        Self {
            canonical: NATIVE.to_owned(),
            kind: NATIVE,
            code: None,
            issuer: None,
        }
    }

    pub fn is_native(&self) -> bool {
        self.kind == NATIVE
    }
}

/// An asset code as text: trailing NULs trimmed (the reference's rule), any byte outside ASCII
/// shown as U+FFFD (codes are ASCII alphanumerics by protocol rule).
pub fn code_text(raw: &[u8]) -> String {
    let end = raw.iter().rposition(|b| *b != 0).map_or(0, |i| i + 1);
    raw[..end]
        .iter()
        .map(|&b| if b.is_ascii() { b as char } else { '\u{FFFD}' })
        .collect()
}

fn credit(code: &[u8], issuer: &stellar_xdr::AccountId, kind: &'static str) -> AssetInfo {
    let code = code_text(code);
    let issuer = strkey::account_id(issuer);
    AssetInfo {
        canonical: format!("{code}:{issuer}"),
        kind,
        code: Some(code),
        issuer: Some(issuer),
    }
}

fn alphanum4(a: &AlphaNum4) -> AssetInfo {
    credit(&a.asset_code.0, &a.issuer, "credit_alphanum4")
}

fn alphanum12(a: &AlphaNum12) -> AssetInfo {
    credit(&a.asset_code.0, &a.issuer, "credit_alphanum12")
}

pub fn asset_info(asset: &Asset) -> AssetInfo {
    match asset {
        Asset::Native => AssetInfo::native(),
        Asset::CreditAlphanum4(a) => alphanum4(a),
        Asset::CreditAlphanum12(a) => alphanum12(a),
    }
}

/// A trustline's asset; None for a pool share.
pub fn trustline_asset_info(asset: &TrustLineAsset) -> Option<AssetInfo> {
    match asset {
        TrustLineAsset::Native => Some(AssetInfo::native()),
        TrustLineAsset::CreditAlphanum4(a) => Some(alphanum4(a)),
        TrustLineAsset::CreditAlphanum12(a) => Some(alphanum12(a)),
        TrustLineAsset::PoolShare(_) => None,
    }
}

/// Display string for any trustline asset, including pool shares (`pool_share:...`).
pub fn change_trust_display(asset: &ChangeTrustAsset) -> String {
    match asset {
        ChangeTrustAsset::Native => NATIVE.to_owned(),
        ChangeTrustAsset::CreditAlphanum4(a) => alphanum4(a).canonical,
        ChangeTrustAsset::CreditAlphanum12(a) => alphanum12(a).canonical,
        ChangeTrustAsset::PoolShare(LiquidityPoolParameters::LiquidityPoolConstantProduct(p)) => {
            format!(
                "pool_share:{}|{}|{}",
                asset_info(&p.asset_a).canonical,
                asset_info(&p.asset_b).canonical,
                p.fee
            )
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_trim_trailing_nuls_only() {
        assert_eq!(code_text(b"USDC"), "USDC");
        assert_eq!(code_text(b"AB\0\0"), "AB");
        assert_eq!(code_text(b"A\0B\0"), "A\0B");
        assert_eq!(code_text(b"\xffA\0\0"), "\u{FFFD}A");
    }
}
