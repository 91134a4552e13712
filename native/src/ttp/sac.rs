//! Assets and their Stellar Asset Contract (SAC) ids on one network, memoised.
//!
//! Every classic-derived event names the SAC of its asset as its contract address, and every SAC
//! contract event is recognised by comparing its emitting contract with the SAC id of the asset
//! its last topic names. Both are hashes over XDR, so they are computed once per asset per
//! network and shared (`Arc`) by every event of that asset.

use std::collections::HashMap;
use std::sync::Arc;

use sha2::{Digest, Sha256};
use stellar_xdr::{
    AccountId, AlphaNum12, AlphaNum4, Asset, AssetCode12, AssetCode4, ContractIdPreimage, Hash,
    HashIdPreimage, HashIdPreimageContractId, Limits, PublicKey, Uint256, WriteXdr,
};

use crate::assets::{asset_info, AssetInfo};
use crate::error::{CoreError, CoreResult};
use crate::strkey;

/// An asset as events carry it: its info and the id/strkey of its asset contract.
#[derive(Debug)]
pub(crate) struct SacAsset {
    pub info: Arc<AssetInfo>,
    pub contract_id: [u8; 32],
    pub contract_address: String,
}

/// `sha256(XDR(HashIdPreimage::ContractId{network id, FROM_ASSET(asset)}))` (`Asset.ContractID`).
pub(crate) fn sac_contract_id(network_id: &[u8; 32], asset: &Asset) -> CoreResult<[u8; 32]> {
    let preimage = HashIdPreimage::ContractId(HashIdPreimageContractId {
        network_id: Hash(*network_id),
        contract_id_preimage: ContractIdPreimage::Asset(asset.clone()),
    });
    let bytes = preimage
        .to_xdr(Limits::none())
        .map_err(|e| CoreError::internal(format!("cannot encode a SAC id preimage: {e}")))?;
    Ok(Sha256::digest(bytes).into())
}

/// Whether `code` is what the reference's `xdr.ValidAssetCode` accepts (`^[[:alnum:]]{1,12}$`).
fn valid_sep11_code(code: &str) -> bool {
    (1..=12).contains(&code.len()) && code.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// Back to XDR: 1-4 characters is alphanum4, 5-12 is alphanum12 (the reference's rule).
fn asset_from_code_issuer(code: &str, issuer: [u8; 32]) -> Asset {
    let issuer = AccountId(PublicKey::PublicKeyTypeEd25519(Uint256(issuer)));
    let bytes = code.as_bytes();
    if bytes.len() <= 4 {
        let mut raw = [0u8; 4];
        for (slot, b) in raw.iter_mut().zip(bytes) {
            *slot = *b;
        }
        Asset::CreditAlphanum4(AlphaNum4 {
            asset_code: AssetCode4(raw),
            issuer,
        })
    } else {
        let mut raw = [0u8; 12];
        for (slot, b) in raw.iter_mut().zip(bytes) {
            *slot = *b;
        }
        Asset::CreditAlphanum12(AlphaNum12 {
            asset_code: AssetCode12(raw),
            issuer,
        })
    }
}

/// Memoised asset -> [`SacAsset`] lookups for one network.
pub(crate) struct SacAssets {
    network_id: [u8; 32],
    by_asset: HashMap<Asset, Arc<SacAsset>>,
    by_sep11: HashMap<String, Arc<SacAsset>>,
    native: Option<Arc<SacAsset>>,
}

impl SacAssets {
    pub fn new(network_id: &[u8; 32]) -> Self {
        Self {
            network_id: *network_id,
            by_asset: HashMap::new(),
            by_sep11: HashMap::new(),
            native: None,
        }
    }

    pub fn of(&mut self, asset: &Asset) -> CoreResult<Arc<SacAsset>> {
        if let Some(found) = self.by_asset.get(asset) {
            return Ok(Arc::clone(found));
        }
        let contract_id = sac_contract_id(&self.network_id, asset)?;
        let found = Arc::new(SacAsset {
            info: Arc::new(asset_info(asset)),
            contract_id,
            contract_address: strkey::c(&contract_id),
        });
        self.by_asset.insert(asset.clone(), Arc::clone(&found));
        Ok(found)
    }

    pub fn native(&mut self) -> CoreResult<Arc<SacAsset>> {
        if let Some(native) = &self.native {
            return Ok(Arc::clone(native));
        }
        let native = self.of(&Asset::Native)?;
        self.native = Some(Arc::clone(&native));
        Ok(native)
    }

    /// The asset named by a SAC event's last topic, or None when it names not exactly one.
    ///
    /// The reference's `xdr.BuildAssets`: a comma-separated list of `native`
    /// (case-insensitive) or `CODE:ISSUER` entries, where any malformed entry fails the whole
    /// string. Only a single valid entry names an asset.
    pub fn sep11(&mut self, text: &str) -> CoreResult<Option<Arc<SacAsset>>> {
        if let Some(found) = self.by_sep11.get(text) {
            return Ok(Some(Arc::clone(found)));
        }
        if text.contains(',') {
            return Ok(None);
        }
        let found = if text.eq_ignore_ascii_case("native") {
            self.native()?
        } else {
            let mut parts = text.split(':');
            let (Some(code), Some(issuer), None) = (parts.next(), parts.next(), parts.next())
            else {
                return Ok(None);
            };
            if !valid_sep11_code(code) {
                return Ok(None);
            }
            let Ok(key) = stellar_strkey::ed25519::PublicKey::from_string(issuer) else {
                return Ok(None);
            };
            self.of(&asset_from_code_issuer(code, key.0))?
        };
        // Only names that parse are remembered: any contract can emit arbitrary strings, and
        // caching those would let the memo grow without bound.
        self.by_sep11.insert(text.to_owned(), Arc::clone(&found));
        Ok(Some(found))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::Network;

    const PUBNET: &str = "Public Global Stellar Network ; September 2015";
    const ISSUER: &str = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN";

    #[test]
    fn native_sac_of_pubnet() {
        let mut assets = SacAssets::new(&Network::new("pubnet", PUBNET).id);
        let native = assets.native().unwrap();
        assert_eq!(
            native.contract_address,
            "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA"
        );
        assert!(native.info.is_native());
    }

    #[test]
    fn sep11_names_exactly_one_asset() {
        let mut assets = SacAssets::new(&Network::new("pubnet", PUBNET).id);
        let usdc = assets.sep11(&format!("USDC:{ISSUER}")).unwrap().unwrap();
        assert_eq!(usdc.info.canonical, format!("USDC:{ISSUER}"));
        assert_eq!(usdc.info.kind, "credit_alphanum4");
        // The pubnet USDC SAC.
        assert_eq!(
            usdc.contract_address,
            "CCW67TSZV3SSS2HXMBQ5JFGCKJNXKZM7UQUWUZPUTHXSTZLEO7SJMI75"
        );
        let long = assets
            .sep11(&format!("LONGCODE:{ISSUER}"))
            .unwrap()
            .unwrap();
        assert_eq!(long.info.kind, "credit_alphanum12");
        assert!(assets.sep11("NaTiVe").unwrap().unwrap().info.is_native());
        for bad in [
            "native,native",
            "",
            "not:a:valid:asset",
            "USDC",
            "USD-C:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN",
            "TOOLONGCODE13:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN",
            "USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVM",
        ] {
            assert!(assets.sep11(bad).unwrap().is_none(), "{bad}");
        }
    }
}
