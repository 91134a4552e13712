//! The Python binding: thin on purpose. Arrow arrays cross through the C data interface (no
//! per-row Python objects, no copies), the GIL is released while the core works, and every
//! error becomes a `NativeError` subclass naming the ledger.

use std::ffi::CStr;
use std::sync::Arc;

use arrow_array::ffi::{from_ffi, to_ffi, FFI_ArrowArray, FFI_ArrowSchema};
use arrow_array::ffi_stream::{FFI_ArrowArrayStream, RecordBatchStreamReader};
use arrow_array::{Array, BinaryArray, RecordBatch, StructArray};
use arrow_schema::{DataType, Schema, SchemaRef};
use pyo3::create_exception;
use pyo3::exceptions::{PyException, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBytes, PyCapsule, PyDict, PyList, PyTuple};

use crate::batch::{self, ChainStart, Config, ModeChoice, Schemas, Wanted};
use crate::error::{CoreError, ErrorKind};
use crate::network::Network;
use crate::ttp::Mode;

create_exception!(
    ttp_native,
    NativeError,
    PyException,
    "An error of the native ledger core."
);
create_exception!(
    ttp_native,
    LedgerDataError,
    NativeError,
    "Ledger bytes that cannot be trusted."
);
create_exception!(
    ttp_native,
    TokenTransferError,
    NativeError,
    "Data the TTP cannot turn into events."
);
create_exception!(
    ttp_native,
    NetworkMismatchError,
    NativeError,
    "A ledger of another network."
);
create_exception!(
    ttp_native,
    InternalError,
    NativeError,
    "A bug in the native core."
);

const ARROW_SCHEMA: &CStr = c"arrow_schema";
const ARROW_ARRAY: &CStr = c"arrow_array";
const ARROW_ARRAY_STREAM: &CStr = c"arrow_array_stream";

fn to_py(err: CoreError) -> PyErr {
    match err.kind {
        ErrorKind::LedgerData => LedgerDataError::new_err(err.message),
        ErrorKind::TokenTransfer => TokenTransferError::new_err(err.message),
        ErrorKind::Network => NetworkMismatchError::new_err(err.message),
        ErrorKind::Internal => InternalError::new_err(err.message),
    }
}

fn capsule_pointer<T>(obj: &Bound<'_, PyAny>, name: &CStr) -> PyResult<*mut T> {
    let capsule = obj
        .cast::<PyCapsule>()
        .map_err(|_| PyTypeError::new_err("expected a PyCapsule"))?;
    Ok(capsule.pointer_checked(Some(name))?.as_ptr().cast::<T>())
}

/// Import a pyarrow schema (anything with `__arrow_c_schema__`).
fn import_schema(obj: &Bound<'_, PyAny>) -> PyResult<SchemaRef> {
    let capsule = obj.call_method0("__arrow_c_schema__")?;
    let ptr = capsule_pointer::<FFI_ArrowSchema>(&capsule, ARROW_SCHEMA)?;
    // SAFETY: the capsule holds a valid ArrowSchema for as long as `capsule` lives; it is only
    // read here (converted into an owned Schema), not moved.
    let schema = Schema::try_from(unsafe { &*ptr })
        .map_err(|e| PyValueError::new_err(format!("not an Arrow schema: {e}")))?;
    Ok(Arc::new(schema))
}

/// Import a binary array (anything with `__arrow_c_array__`), sharing its buffers.
fn import_binary(obj: &Bound<'_, PyAny>) -> PyResult<BinaryArray> {
    let pair = obj.call_method0("__arrow_c_array__")?;
    let pair = pair
        .cast::<PyTuple>()
        .map_err(|_| PyTypeError::new_err("__arrow_c_array__ must return a tuple"))?;
    let schema_ptr = capsule_pointer::<FFI_ArrowSchema>(&pair.get_item(0)?, ARROW_SCHEMA)?;
    let array_ptr = capsule_pointer::<FFI_ArrowArray>(&pair.get_item(1)?, ARROW_ARRAY)?;
    // SAFETY: both capsules hold valid structs; the array is moved out of its capsule (marked
    // released there), so the data stays alive through the `ArrayData` we own.
    let data = unsafe {
        let array = FFI_ArrowArray::from_raw(array_ptr);
        from_ffi(array, &*schema_ptr)
    }
    .map_err(|e| PyValueError::new_err(format!("cannot import the Arrow array: {e}")))?;
    if data.data_type() != &DataType::Binary {
        return Err(PyTypeError::new_err(format!(
            "LedgerCloseMeta bytes must be an Arrow binary array, got {}",
            data.data_type()
        )));
    }
    Ok(BinaryArray::from(data))
}

/// Export a batch to pyarrow (`pa.RecordBatch`) through the C data interface.
fn export_batch<'py>(py: Python<'py>, batch: RecordBatch) -> PyResult<Bound<'py, PyAny>> {
    let schema = FFI_ArrowSchema::try_from(batch.schema().as_ref())
        .map_err(|e| InternalError::new_err(format!("cannot export a schema: {e}")))?;
    let (array, _) = to_ffi(&StructArray::from(batch).into_data())
        .map_err(|e| InternalError::new_err(format!("cannot export a batch: {e}")))?;
    let schema = PyCapsule::new_with_value(py, schema, ARROW_SCHEMA)?;
    let array = PyCapsule::new_with_value(py, array, ARROW_ARRAY)?;
    py.import("pyarrow")?
        .getattr("RecordBatch")?
        .call_method1("_import_from_c_capsule", (schema, array))
}

fn parse_mode(mode: &str) -> PyResult<ModeChoice> {
    match mode {
        "auto" => Ok(ModeChoice::Auto),
        "derived" => Ok(ModeChoice::Fixed(Mode::Derived)),
        "unified" => Ok(ModeChoice::Fixed(Mode::Unified)),
        other => Err(PyValueError::new_err(format!(
            "unknown token transfer mode {other:?}; expected auto, derived or unified"
        ))),
    }
}

const TABLES: [&str; 7] = [
    "raw_ledgers",
    "ledgers",
    "transactions",
    "operations",
    "ttp_events",
    "balance_changes",
    "token_metadata",
];

/// The native ledger core for one network, token-event mode and thread count.
#[pyclass(frozen, module = "ttp_native")]
pub struct LedgerCore {
    config: Config,
}

#[pymethods]
impl LedgerCore {
    /// `schemas` maps every table name to its pyarrow schema (core/schemas.py); the core
    /// refuses to start when its builders do not produce exactly those schemas.
    #[new]
    #[pyo3(signature = (passphrase, network_name, mode, threads, schemas))]
    fn new(
        passphrase: &str,
        network_name: &str,
        mode: &str,
        threads: usize,
        schemas: &Bound<'_, PyDict>,
    ) -> PyResult<Self> {
        if threads == 0 {
            return Err(PyValueError::new_err("threads must be at least 1"));
        }
        let get = |name: &str| -> PyResult<SchemaRef> {
            let obj = schemas.get_item(name)?.ok_or_else(|| {
                PyValueError::new_err(format!("schemas is missing the {name} table"))
            })?;
            import_schema(&obj)
        };
        let schemas = Schemas {
            raw_ledgers: get("raw_ledgers")?,
            ledgers: get("ledgers")?,
            transactions: get("transactions")?,
            operations: get("operations")?,
            ttp_events: get("ttp_events")?,
            balance_changes: get("balance_changes")?,
            token_metadata: get("token_metadata")?,
        };
        let config = Config {
            network: Network::new(network_name, passphrase),
            mode: parse_mode(mode)?,
            threads,
            schemas,
        };
        crate::tables::check_schemas(&config.schemas).map_err(to_py)?;
        Ok(Self { config })
    }

    #[getter]
    fn threads(&self) -> usize {
        self.config.threads
    }

    /// Verify and process a batch of LCMs (a pyarrow binary array) into the `tables` asked for.
    ///
    /// Returns a dict: `tables` (name -> list of pyarrow RecordBatches, in ledger order),
    /// `ledgers`, `xdr_bytes`, `sequences` (list), `last_hash` (bytes or None),
    /// `first_close_time` / `last_close_time`, `events`, `events_by_type` and
    /// `ledgers_by_derivation`. Any error raises and returns nothing of the batch.
    // The arguments are the Python method's keyword arguments, one for one.
    #[allow(clippy::too_many_arguments)]
    #[pyo3(signature = (lcm, tables, first_sequence=None, previous_hash=None, labels=None, check_commitments=true))]
    fn process<'py>(
        &self,
        py: Python<'py>,
        lcm: &Bound<'py, PyAny>,
        tables: Vec<String>,
        first_sequence: Option<u32>,
        previous_hash: Option<&[u8]>,
        labels: Option<Vec<String>>,
        check_commitments: bool,
    ) -> PyResult<Bound<'py, PyDict>> {
        let mut wanted = Wanted {
            commitments: check_commitments,
            ..Wanted::default()
        };
        for t in &tables {
            match t.as_str() {
                "raw_ledgers" => wanted.raw_ledgers = true,
                "ledgers" | "transactions" | "operations" => wanted.decoded = true,
                "ttp_events" | "balance_changes" => wanted.ttp = true,
                "token_metadata" => wanted.token_metadata = true,
                other => {
                    return Err(PyValueError::new_err(format!(
                        "unknown table {other:?}; expected some of {TABLES:?}"
                    )))
                }
            }
        }
        let previous_hash = match previous_hash {
            None => None,
            Some(h) => Some(<[u8; 32]>::try_from(h).map_err(|_| {
                PyValueError::new_err(format!("previous_hash must be 32 bytes, got {}", h.len()))
            })?),
        };
        let chain = ChainStart {
            first_sequence,
            previous_hash,
        };
        let lcms = import_binary(lcm)?;
        if let Some(l) = &labels {
            if l.len() != lcms.len() {
                return Err(PyValueError::new_err(format!(
                    "{} labels for {} ledgers",
                    l.len(),
                    lcms.len()
                )));
            }
        }
        let config = &self.config;
        let output = py
            .detach(|| batch::process(config, wanted, &lcms, &chain, labels.as_deref()))
            .map_err(to_py)?;

        let out = PyDict::new(py);
        let by_table = PyDict::new(py);
        let mut events_by_type = [0u64; 5];
        let (mut n, mut bytes, mut events) = (0usize, 0usize, 0usize);
        let mut derived = 0usize;
        let mut unified = 0usize;
        let sequences = PyList::empty(py);
        let mut first_close: Option<u64> = None;
        let mut last: Option<([u8; 32], u64)> = None;
        for s in output.summaries() {
            n += 1;
            bytes += s.xdr_bytes;
            events += s.events;
            match s.derivation {
                Some(Mode::Derived) => derived += 1,
                Some(Mode::Unified) => unified += 1,
                None => {}
            }
            sequences.append(s.sequence)?;
            first_close.get_or_insert(s.close_time);
            last = Some((s.hash, s.close_time));
        }
        for name in TABLES {
            if tables.iter().any(|t| t == name) {
                by_table.set_item(name, PyList::empty(py))?;
            }
        }
        for chunk in output.chunks {
            for (i, c) in chunk.events_by_type.iter().enumerate() {
                events_by_type[i] += c;
            }
            let parts = [
                ("raw_ledgers", chunk.raw_ledgers),
                ("ledgers", chunk.ledgers),
                ("transactions", chunk.transactions),
                ("operations", chunk.operations),
                ("ttp_events", chunk.ttp_events),
                ("balance_changes", chunk.balance_changes),
                ("token_metadata", chunk.token_metadata),
            ];
            for (name, batch) in parts {
                if let (Some(batch), Some(list)) = (batch, by_table.get_item(name)?) {
                    if batch.num_rows() > 0 {
                        list.cast::<PyList>()?.append(export_batch(py, batch)?)?;
                    }
                }
            }
        }
        out.set_item("tables", by_table)?;
        out.set_item("ledgers", n)?;
        out.set_item("xdr_bytes", bytes)?;
        out.set_item("sequences", sequences)?;
        out.set_item("last_hash", last.map(|(h, _)| PyBytes::new(py, &h)))?;
        out.set_item("first_close_time", first_close)?;
        out.set_item("last_close_time", last.map(|(_, t)| t))?;
        out.set_item("events", events)?;
        let types = PyDict::new(py);
        for (name, count) in ["transfer", "mint", "burn", "clawback", "fee"]
            .iter()
            .zip(events_by_type)
        {
            if count > 0 {
                types.set_item(name, count)?;
            }
        }
        out.set_item("events_by_type", types)?;
        let modes = PyDict::new(py);
        if derived > 0 {
            modes.set_item("derived", derived)?;
        }
        if unified > 0 {
            modes.set_item("unified", unified)?;
        }
        out.set_item("ledgers_by_derivation", modes)?;
        Ok(out)
    }
}

/// Every LCM's header read on its own: `(sequence, recorded hash, computed hash, None)` per
/// ledger (hashes as hex; computed = sha256 of the stored header bytes), or
/// `(None, None, None, problem)` when the header does not decode.
type HeaderRow = (Option<u32>, Option<String>, Option<String>, Option<String>);

#[pyfunction]
fn read_headers(lcm: &Bound<'_, PyAny>) -> PyResult<Vec<HeaderRow>> {
    let lcms = import_binary(lcm)?;
    Ok((0..lcms.len())
        .map(|i| match crate::lcm::read_header(lcms.value(i)) {
            Ok(h) => (
                Some(h.header.ledger_seq),
                Some(crate::ledger::hex(&h.recorded_hash)),
                Some(crate::ledger::hex(&h.computed_hash)),
                None,
            ),
            Err(e) => (
                None,
                None,
                None,
                Some(format!("header does not decode: {e}")),
            ),
        })
        .collect())
}

fn import_stream(obj: &Bound<'_, PyAny>) -> PyResult<RecordBatchStreamReader> {
    let capsule = obj.call_method0("__arrow_c_stream__")?;
    let ptr = capsule_pointer::<FFI_ArrowArrayStream>(&capsule, ARROW_ARRAY_STREAM)?;
    // SAFETY: the capsule holds a valid stream, moved out here (marked released in the capsule).
    unsafe { RecordBatchStreamReader::from_raw(ptr) }
        .map_err(|e| PyValueError::new_err(format!("cannot import the Arrow stream: {e}")))
}

type StoredMismatch = (i64, i64, String, Vec<(String, String, i128, i128)>);

/// Reconcile stored token events with stored balance changes (two ledger-ordered Arrow streams,
/// e.g. `pa.RecordBatchReader`s): `(transactions checked, mismatches)`, each mismatch being
/// `(ledger, transaction index, transaction hash, [(holder, asset, events, changes)])`.
///
/// Events need `ledger_sequence`, `transaction_index` (int64), `transaction_hash`,
/// `event_type`, `from`, `to`, `asset`, `amount_raw`; balance changes `ledger_sequence`,
/// `transaction_index`, `delta` (int64), `transaction_hash`, `holder`, `asset`.
#[pyfunction]
fn reconcile_stored(
    py: Python<'_>,
    events: &Bound<'_, PyAny>,
    balance_changes: &Bound<'_, PyAny>,
) -> PyResult<(u64, Vec<StoredMismatch>)> {
    let events = import_stream(events)?;
    let changes = import_stream(balance_changes)?;
    let outcome = py
        .detach(|| crate::checks::reconcile(events, changes))
        .map_err(to_py)?;
    Ok((
        outcome.transactions,
        outcome
            .mismatches
            .into_iter()
            .map(|m| {
                (
                    m.ledger,
                    m.transaction_index,
                    m.transaction_hash,
                    m.differences,
                )
            })
            .collect(),
    ))
}

/// `(first ledger, last ledger, [(offset, length) of each LCM])`.
type BatchSplit = (u32, u32, Vec<(usize, usize)>);

/// Split XDR `LedgerCloseMetaBatch` bytes: `(start, end, [(offset, length) of each LCM])`.
#[pyfunction]
fn split_lcm_batch(py: Python<'_>, data: &[u8]) -> PyResult<BatchSplit> {
    let (start, end, ranges) = py.detach(|| crate::lcm::split_batch(data)).map_err(to_py)?;
    Ok((
        start,
        end,
        ranges.into_iter().map(|r| (r.start, r.len())).collect(),
    ))
}

#[pymodule]
fn ttp_native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add_class::<LedgerCore>()?;
    m.add_function(wrap_pyfunction!(read_headers, m)?)?;
    m.add_function(wrap_pyfunction!(reconcile_stored, m)?)?;
    m.add_function(wrap_pyfunction!(split_lcm_batch, m)?)?;
    m.add("NativeError", py.get_type::<NativeError>())?;
    m.add("LedgerDataError", py.get_type::<LedgerDataError>())?;
    m.add("TokenTransferError", py.get_type::<TokenTransferError>())?;
    m.add(
        "NetworkMismatchError",
        py.get_type::<NetworkMismatchError>(),
    )?;
    m.add("InternalError", py.get_type::<InternalError>())?;
    m.add("MAX_DEPTH", crate::lcm::MAX_DEPTH)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("SOURCE_HASH", env!("TTP_NATIVE_SOURCE_HASH"))?;
    Ok(())
}
