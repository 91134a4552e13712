//! Native ledger core of ttp-assets: `LedgerCloseMeta` XDR in, verified Arrow tables out.
//!
//! Layers, each its own module: XDR access (`lcm`, `ledger`, `strkey`, `assets`), the token
//! transfer processor (`ttp`), the table builders (`tables`), batch orchestration (`batch`),
//! and the thin Python binding (`binding`).

pub mod assets;
pub mod error;
pub mod lcm;
pub mod ledger;
pub mod strkey;
pub mod network;
pub mod ttp;
pub mod batch;
pub mod checks;
#[cfg(feature = "python")]
pub mod binding;
pub mod tables;
