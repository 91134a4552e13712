"""Transfer options: IPC compression on request, and the batch size as a ticket option within
the gateway's limit; measured on the wire through a byte-counting relay on loopback."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator

import pyarrow as pa
import pyarrow.flight as fl
import pytest

from ttp_assets.settings import Settings

from .conftest import READER, bearer, start_gateway, stored, ticket


class Relay:
    """A TCP relay on loopback that counts the bytes the server sends to the client."""

    def __init__(self, target: tuple[str, int]):
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.to_client = 0
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.target)
            threading.Thread(target=self._pipe, args=(client, server, False), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, True), daemon=True).start()

    def _pipe(self, src: socket.socket, dst: socket.socket, count: bool) -> None:
        try:
            while data := src.recv(1 << 16):
                if count:
                    with self._lock:
                        self.to_client += len(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                with contextlib.suppress(OSError):
                    s.shutdown(socket.SHUT_RDWR)

    def take(self) -> int:
        with self._lock:
            n, self.to_client = self.to_client, 0
        return n

    def close(self) -> None:
        self.listener.close()


@pytest.fixture(scope="module")
def relayed(store: Settings) -> Iterator[tuple[fl.FlightClient, Relay]]:
    server = start_gateway(store.storage_uri, batch_rows=1000)
    relay = Relay(("127.0.0.1", server.port))
    client = fl.connect(f"grpc://127.0.0.1:{relay.port}")
    try:
        yield client, relay
    finally:
        client.close()
        relay.close()
        server.stop()


def read(client: fl.FlightClient, **request: object) -> tuple[pa.Table, list[int]]:
    reader = client.do_get(ticket(**request), bearer(READER))
    batches = [chunk.data for chunk in reader]
    return pa.Table.from_batches(batches, schema=reader.schema), [b.num_rows for b in batches]


def test_compressed_streams_carry_the_same_rows_in_fewer_bytes(
    relayed: tuple[fl.FlightClient, Relay], store: Settings
) -> None:
    client, relay = relayed
    want = stored(store, "raw_ledgers")
    relay.take()
    plain, _ = read(client, asset="raw_ledgers")
    plain_bytes = relay.take()
    assert plain.equals(want)
    assert plain_bytes > want.nbytes * 0.9  # uncompressed Arrow buffers on the wire
    for codec in ("lz4", "zstd"):
        got, _ = read(client, asset="raw_ledgers", compression=codec)
        wire = relay.take()
        assert got.equals(want), codec
        # Ledger XDR compresses well (the lake stores it zstd-compressed at ~1/5).
        assert wire < plain_bytes / 2, (codec, wire, plain_bytes)


def test_batch_rows_is_a_ticket_option_within_the_gateways_limit(
    relayed: tuple[fl.FlightClient, Relay], store: Settings
) -> None:
    client, _ = relayed
    want = stored(store, "ttp_events")
    small, sizes = read(client, asset="ttp_events", batch_rows=7)
    assert small.equals(want) and max(sizes) == 7
    # Asking for more than the gateway allows (its batch_rows is 1,000) gets its limit.
    big, sizes = read(client, asset="ttp_events", batch_rows=10**6)
    assert big.equals(want) and max(sizes) <= 1000 and len(sizes) < len(want) / 7


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        ({"compression": "gzip"}, '"compression" must be one of'),
        ({"compression": 3}, '"compression" must be one of'),
        ({"batch_rows": 0}, '"batch_rows" must be a positive integer'),
        ({"batch_rows": "100"}, '"batch_rows" must be a positive integer'),
    ],
)
def test_bad_transfer_options_are_invalid_argument(
    relayed: tuple[fl.FlightClient, Relay], request_: dict[str, object], message: str
) -> None:
    client, _ = relayed
    with pytest.raises(pa.ArrowInvalid, match=message):
        read(client, asset="ttp_events", **request_)
