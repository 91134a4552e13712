//! Native ledger core of ttp-assets: `LedgerCloseMeta` XDR in, verified Arrow tables out.
//!
//! Layers, each its own module: XDR access (`lcm`, `ledger`, `strkey`, `assets`), the token
//! transfer processor (`ttp`), the table builders (`tables`), batch orchestration (`batch`),
//! and the thin Python binding (`binding`).

pub mod assets;
pub mod batch;
#[cfg(feature = "python")]
pub mod binding;
pub mod checks;
pub mod error;
pub mod fasthash;
pub mod lcm;
pub mod ledger;
pub mod network;
pub mod strkey;
pub mod tables;
pub mod ttp;

// Decoding allocates and frees millions of small values per second (every XDR vector and
// string); mimalloc does that markedly faster than the system allocator (see the README's
// benchmark notes).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;
