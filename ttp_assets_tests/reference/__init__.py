"""The Python reference implementation, proven on every real ledger, kept for differential tests.

The platform runs the native core (``ttp_assets.core.native``, the Rust crate in ``native/``).
These modules are what it replaced: the SDK-based LCM decoder, the decoded-table rows and the
token transfer processor ported from the Go reference. ``test_native_differential`` proves the
native output equal to theirs, table by table and row by row, on every real ledger.
"""
