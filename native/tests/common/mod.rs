//! Reading the real ledgers of `../../shared/data` in the integration tests.
//!
//! The data is required: a missing file fails the test, it never skips.

#![allow(dead_code)] // each test binary uses its own part of this module

use std::io::Read;
use std::path::{Path, PathBuf};

use ttp_native::network::Network;

pub const PUBNET: &str = "Public Global Stellar Network ; September 2015";
pub const TESTNET: &str = "Test SDF Network ; September 2015";
pub const CORE_TESTS: &str = "(V) (;,,;) (V)";

pub fn shared_data() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/data");
    assert!(
        root.join("README.md").is_file(),
        "real ledger data not found at {}: the tests read ../shared/data beside the clone; it is \
         required, not optional",
        root.display()
    );
    root
}

/// Every zstd frame of a file, concatenated (the lake's frames are streamed, without sizes).
pub fn decompress(path: &Path) -> Vec<u8> {
    let data =
        std::fs::read(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let mut input: &[u8] = &data;
    let mut out = Vec::with_capacity(data.len() * 6);
    while !input.is_empty() {
        let mut decoder = ruzstd::decoding::StreamingDecoder::new(&mut input)
            .unwrap_or_else(|e| panic!("{}: not zstd: {e}", path.display()));
        decoder
            .read_to_end(&mut out)
            .unwrap_or_else(|e| panic!("{}: bad zstd: {e}", path.display()));
    }
    out
}

/// The LCMs of a lake file (`LedgerCloseMetaBatch`).
pub fn batch_ledgers(path: &Path) -> Vec<Vec<u8>> {
    let raw = decompress(path);
    let (_, _, ranges) = ttp_native::lcm::split_batch(&raw)
        .unwrap_or_else(|e| panic!("{}: {}", path.display(), e.message));
    ranges.into_iter().map(|r| raw[r].to_vec()).collect()
}

/// The LCMs of a record-marked stream (core-tests, bench).
pub fn record_marked_ledgers(path: &Path) -> Vec<Vec<u8>> {
    let raw = decompress(path);
    let mut out = Vec::new();
    let mut pos = 0;
    while pos < raw.len() {
        let mark = raw
            .get(pos..pos + 4)
            .unwrap_or_else(|| panic!("{}: truncated record mark", path.display()));
        let word = u32::from_be_bytes([mark[0], mark[1], mark[2], mark[3]]);
        assert!(
            word & 0x8000_0000 != 0,
            "{}: record mark without its last-fragment bit",
            path.display()
        );
        let len = (word & 0x7fff_ffff) as usize;
        let record = raw
            .get(pos + 4..pos + 4 + len)
            .unwrap_or_else(|| panic!("{}: truncated record", path.display()));
        out.push(record.to_vec());
        pos += 4 + len;
    }
    out
}

pub fn files_under(root: &Path, depth2: bool) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let dirs: Vec<PathBuf> = if depth2 {
        std::fs::read_dir(root)
            .unwrap_or_else(|e| panic!("{}: {e}", root.display()))
            .map(|e| e.unwrap().path())
            .filter(|p| p.is_dir())
            .collect()
    } else {
        vec![root.to_path_buf()]
    };
    for dir in dirs {
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".xdr.zst") || name.ends_with(".xdr.zstd") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// Every real ledger that pairs under a known passphrase: (label, network, LCM bytes).
pub fn real_ledgers() -> Vec<(String, Network, Vec<u8>)> {
    let mut out = Vec::new();
    for (name, passphrase) in [
        ("pubnet", PUBNET),
        ("pubnet-p26", PUBNET),
        ("testnet-2022", TESTNET),
    ] {
        let network = Network::new(name, passphrase);
        for path in files_under(&shared_data().join("lake").join(name), true) {
            for (i, lcm) in batch_ledgers(&path).into_iter().enumerate() {
                out.push((format!("{}#{i}", path.display()), network.clone(), lcm));
            }
        }
    }
    let network = Network::new("core-tests", CORE_TESTS);
    for path in files_under(&shared_data().join("core-tests"), true) {
        for (i, lcm) in record_marked_ledgers(&path).into_iter().enumerate() {
            out.push((format!("{}#{i}", path.display()), network.clone(), lcm));
        }
    }
    assert!(out.len() > 12_000, "only {} real ledgers found", out.len());
    out
}
