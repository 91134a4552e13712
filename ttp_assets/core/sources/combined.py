"""The data lake for history, Stellar RPC for the recent ledgers the lake does not hold yet."""

from __future__ import annotations

from collections.abc import Iterator

from .base import MissingLedgerError, SourcedLedger
from .datalake import DataLakeSource
from .rpc import RpcSource


class LakeThenRpcSource:
    """Serves each range from the lake as far as the lake reaches, and the rest from RPC.

    Why this order and this split:

    * The lake is the better source wherever it has the ledgers: immutable objects, no
      retention limit, fetched concurrently, and no load on an RPC server whose window is
      short (days). RPC is only asked for what the lake cannot serve: the ledgers after its
      edge, which an exporter writes minutes behind the network.
    * The lake is written contiguously from its start, so its edge inside ``start..end`` is
      found once per call with :meth:`DataLakeSource.last_available`, a binary search over
      object existence (a handful of requests, local or S3), not by probing every ledger.
      The lake serves ``start..edge``, RPC ``edge+1..end``; ledgers are yielded in order, each
      once, whichever source they come from.
    * If the lake nevertheless lacks a ledger before the edge (a hole in a lake that is not
      contiguous, an object removed between the search and the read), the lake's
      :class:`MissingLedgerError` is not the end: RPC continues from that ledger. When RPC
      cannot serve it either, the error says both.
    * :meth:`latest_ledger` is the RPC's tip: the lake cannot tell its own edge cheaply, and
      RPC is always ahead of it.

    Both sources check their network: the lake its ``.config.json``, RPC ``getNetwork``.
    """

    def __init__(self, lake: DataLakeSource, rpc: RpcSource):
        self.lake = lake
        self.rpc = rpc

    @property
    def description(self) -> str:
        return f"{self.lake.description}, then {self.rpc.description}"

    def ledgers(self, start: int, end: int) -> Iterator[SourcedLedger]:
        if end < start:
            return
        nxt = start
        lake_gap: MissingLedgerError | None = None
        edge = self.lake.last_available(start, end - start + 1)
        if edge is not None:
            try:
                for led in self.lake.ledgers(start, edge):
                    yield led
                    nxt = led.sequence + 1
            except MissingLedgerError as exc:
                lake_gap = exc  # continue from RPC at ``nxt``
        if nxt > end:
            return
        try:
            yield from self.rpc.ledgers(nxt, end)
        except MissingLedgerError as exc:
            if lake_gap is not None:
                lake_part = str(lake_gap)
            elif edge is None:
                lake_part = f"the data lake does not hold ledger {start}"
            else:
                lake_part = f"the data lake holds {start}..{edge} only"
            raise MissingLedgerError(f"{exc}; {lake_part}") from exc

    def latest_ledger(self) -> int:
        return self.rpc.latest_ledger()
