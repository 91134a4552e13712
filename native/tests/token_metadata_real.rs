//! `token_metadata` on every real ledger we hold (`../../shared/data`): the SEP-41 METADATA of
//! the contract instances the ledgers change. Stellar Asset Contracts always say 7 decimals and
//! name themselves `CODE:ISSUER` or `native`; pubnet-p26 changes two custom tokens' instances.
//! The data is required: a missing file fails the test, it never skips.

mod common;

use std::collections::BTreeMap;

use common::real_ledgers;
use ttp_native::ledger::Ledger;
use ttp_native::tables::metadata::metadata_changes;

#[test]
fn metadata_of_every_real_ledger() {
    let mut by_kind: BTreeMap<(&str, Option<u32>), usize> = BTreeMap::new();
    let mut p26 = Vec::new();
    for (label, network, lcm) in real_ledgers() {
        let ledger = Ledger::decode(&lcm, &network.id, &network.name)
            .unwrap_or_else(|e| panic!("{label}: {}", e.message));
        for row in metadata_changes(&ledger) {
            assert!(row.contract_id.starts_with('C'), "{label}: {row:?}");
            *by_kind
                .entry((row.executable, row.metadata.decimals))
                .or_default() += 1;
            if row.executable == "stellar_asset" {
                assert_eq!(row.metadata.decimals, Some(7), "{label}: {row:?}");
                let name = row.metadata.name.clone().unwrap_or_default();
                assert!(name == "native" || name.contains(':'), "{label}: {row:?}");
            }
            if network.name == "pubnet-p26" {
                p26.push((ledger.sequence(), row));
            }
        }
    }
    assert!(
        by_kind.keys().any(|(e, _)| *e == "stellar_asset"),
        "{by_kind:?}"
    );
    let mut contracts: Vec<_> = p26
        .iter()
        .map(|(seq, r)| (r.contract_id.as_str(), *seq, r.metadata.decimals))
        .collect();
    contracts.sort();
    assert_eq!(
        contracts,
        [
            (
                "CAM7DY53G63XA4AJRS24Z6VFYAFSSF76C3RZ45BE5YU3FQS5255OOABP",
                63_092_990,
                Some(7)
            ),
            (
                "CCA2ZJP5BVRXYTQH4FAGHCAUMRYCXVC4CRYC2NXHWMR7TIVX36U7F5HR",
                63_092_982,
                Some(7)
            ),
            (
                "CCA2ZJP5BVRXYTQH4FAGHCAUMRYCXVC4CRYC2NXHWMR7TIVX36U7F5HR",
                63_092_983,
                Some(7)
            ),
        ]
    );
    println!("token_metadata rows by (executable, decimals): {by_kind:?}");
}
