"""A round trip through the gateway: serve a storage on loopback and read it back.

Used at the end of the main job (``ttp_assets.main``): start the gateway in-process on a free
loopback port with a one-off reader token, ask ListFlights what is materialized, read the
latest partition of every asset with a real Flight client (pyarrow), check each row count
against the FlightInfo, stop the gateway and return one line saying what was served.
"""

from __future__ import annotations

import json
import secrets

import pyarrow.flight as fl

from ttp_assets.core.storage.catalog import TABLE_FORMATS

from .config import GatewayConfig
from .server import GatewayServer


def probe(storage_uri: str) -> str:
    token = secrets.token_urlsafe(24)
    config = GatewayConfig(
        storage_uri=storage_uri, port=0, tokens={token: "reader"}, metrics_port=None
    )
    server = GatewayServer(config).start()
    served: list[str] = []
    keys: set[str] = set()
    try:
        client = fl.connect(server.location)
        options = fl.FlightCallOptions(
            headers=[(b"authorization", f"Bearer {token}".encode())], timeout=60
        )
        try:
            # Listed first: pyarrow holds a signal handler while a listing is iterated.
            listing = {
                i.descriptor.path[0].decode(): i for i in client.list_flights(options=options)
            }
            for asset in [a for a in TABLE_FORMATS if a in listing]:  # the pipeline's order
                meta = json.loads(listing[asset].app_metadata)
                key = meta["last_partition"]
                if key is None:
                    continue
                descriptor = fl.FlightDescriptor.for_path(meta["asset"], key)
                info = client.get_flight_info(descriptor, options)
                table = client.do_get(info.endpoints[0].ticket, options).read_all()
                if table.num_rows != info.total_records:
                    raise RuntimeError(
                        f"{meta['asset']} {key}: read {table.num_rows} rows, "
                        f"FlightInfo says {info.total_records}"
                    )
                served.append(f"{meta['asset']} {table.num_rows}")
                keys.add(key)
        finally:
            client.close()
    finally:
        server.stop()
    if not served:
        return f"flight gateway {server.location}: nothing materialized to serve"
    what = ", ".join(sorted(keys)) if len(keys) <= 2 else f"the last of {len(keys)} partitions"
    return (
        f"flight gateway: read back {what} of every asset over {server.location} "
        f"({', '.join(served)} rows); serve it: bash scripts/gateway.sh"
    )
