"""Pipeline metrics for Prometheus: what the platform has done and how far behind it is.

    python -m ttp_assets.exporter [--host 127.0.0.1] [--port 8817]

Serves ``GET /metrics`` (text exposition format 0.0.4), computed at each scrape from the Dagster
instance (``DAGSTER_HOME``: the runs) and from the storage and the ledger source of the settings
(``TTP_*``), so it needs no state of its own and can run anywhere both are reachable (a sidecar
next to the daemon, like the Flight gateway next to the storage):

| metric | type | labels | what |
|---|---|---|---|
| ``ttp_runs`` | gauge | job, status | runs created in the last 24 h |
| ``ttp_run_last_duration_seconds`` | gauge | job | duration of the job's latest finished run |
| ``ttp_ledgers_materialized`` | gauge | | new ledgers of the last 24 h of raw_ledgers writes |
| ``ttp_newest_ledger`` | gauge | | newest ledger stored in every table |
| ``ttp_newest_ledger_age_seconds`` | gauge | | now minus that ledger's close time |
| ``ttp_tip_ledger`` | gauge | | the source's newest ledger |
| ``ttp_lag_ledgers`` | gauge | | tip minus newest stored ledger |
| ``ttp_source_up`` | gauge | | 1 when the tip could be read |
| ``ttp_scrape_duration_seconds`` | gauge | | time this scrape took |

A failing part (storage or source unreachable) drops its metrics and sets its ``_up`` gauge to 0;
the rest of the scrape still answers.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import sys
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import dagster as dg

from .core.sources.base import SourceError
from .settings import Settings

log = logging.getLogger("ttp_assets.exporter")
WINDOW_S = 24 * 3600
_TYPES = {
    "ttp_runs": ("gauge", "Runs created in the last 24 h, by job and status."),
    "ttp_run_last_duration_seconds": ("gauge", "Duration of each job's latest finished run."),
    "ttp_ledgers_materialized": ("gauge", "New ledgers written to raw_ledgers in the last 24 h."),
    "ttp_newest_ledger": ("gauge", "Newest ledger stored in every table."),
    "ttp_newest_ledger_age_seconds": ("gauge", "Seconds since the newest stored ledger closed."),
    "ttp_storage_up": ("gauge", "1 when the storage could be read."),
    "ttp_tip_ledger": ("gauge", "The ledger source's newest ledger."),
    "ttp_lag_ledgers": ("gauge", "Ledgers between the source's tip and the newest stored one."),
    "ttp_source_up": ("gauge", "1 when the source's tip could be read."),
    "ttp_scrape_duration_seconds": ("gauge", "Time this scrape took."),
}


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(
        f'{k}="{v.replace(chr(92), chr(92) * 2).replace(chr(34), chr(92) + chr(34))}"'
        for k, v in sorted(labels.items())
    )
    return "{" + inner + "}"


class PipelineMetrics:
    def __init__(self, settings: Settings, instance: dg.DagsterInstance):
        self.settings = settings
        self.instance = instance

    def samples(self) -> list[tuple[str, dict[str, str], float]]:
        now = time.time()
        out: list[tuple[str, dict[str, str], float]] = []
        out += self._runs(now)
        out += self._data(now)
        return out

    def _runs(self, now: float) -> list[tuple[str, dict[str, str], float]]:
        records = self.instance.get_run_records(
            filters=dg.RunsFilter(created_after=_utc(now - WINDOW_S)), limit=10_000
        )
        counts = Counter((r.dagster_run.job_name, r.dagster_run.status.value) for r in records)
        out = [("ttp_runs", {"job": j, "status": s}, float(n)) for (j, s), n in counts.items()]
        last: dict[str, float] = {}
        for r in records:  # newest first
            job = r.dagster_run.job_name
            if job not in last and r.start_time is not None and r.end_time is not None:
                last[job] = r.end_time - r.start_time
        out += [("ttp_run_last_duration_seconds", {"job": j}, d) for j, d in last.items()]
        ledgers = 0
        records = self.instance.fetch_materializations(
            dg.AssetRecordsFilter(
                asset_key=dg.AssetKey("raw_ledgers"), after_timestamp=now - WINDOW_S
            ),
            limit=10_000,
        ).records
        for rec in records:
            meta = rec.asset_materialization.metadata if rec.asset_materialization else {}
            if "new_ledgers" in meta:
                ledgers += int(meta["new_ledgers"].value)
        out.append(("ttp_ledgers_materialized", {}, float(ledgers)))
        return out

    def _data(self, now: float) -> list[tuple[str, dict[str, str], float]]:
        from .core.network import resolve_network
        from .defs.live.freshness import newest_stored
        from .defs.live.sensors import source_tip
        from .defs.resources import ledger_source_for
        from .defs.warehouse import WarehouseResource

        out: list[tuple[str, dict[str, str], float]] = []
        try:
            newest = newest_stored(WarehouseResource(storage_uri=self.settings.storage_uri))
            out.append(("ttp_storage_up", {}, 1.0))
        except OSError as exc:
            log.warning("storage unreadable: %s", exc)
            return [("ttp_storage_up", {}, 0.0)]
        ledger = None
        if newest is not None:
            ledger, closed_at = newest
            out.append(("ttp_newest_ledger", {}, float(ledger)))
            if closed_at is not None:
                out.append(("ttp_newest_ledger_age_seconds", {}, max(0.0, now - closed_at)))
        source = ledger_source_for(self.settings).open(resolve_network(self.settings.network))
        try:
            tip = source_tip(source, ledger, self.settings.live_max_ledgers_per_tick)
        except SourceError as exc:
            log.warning("cannot read the tip from %s: %s", source.description, exc)
            return [*out, ("ttp_source_up", {}, 0.0)]
        out += [("ttp_source_up", {}, 1.0), ("ttp_tip_ledger", {}, float(tip))]
        if ledger is not None:
            out.append(("ttp_lag_ledgers", {}, float(max(0, tip - ledger))))
        return out

    def render(self) -> str:
        start = time.monotonic()
        samples = self.samples()
        samples.append(("ttp_scrape_duration_seconds", {}, time.monotonic() - start))
        lines: list[str] = []
        for name, (kind, text) in _TYPES.items():
            rows = [(labels, value) for n, labels, value in samples if n == name]
            if not rows:
                continue
            lines += [f"# HELP {name} {text}", f"# TYPE {name} {kind}"]
            lines += [f"{name}{_labels(labels)} {_number(value)}" for labels, value in rows]
        return "\n".join(lines) + "\n"


def _number(value: float) -> str:
    """Exactly: ledger numbers are 8 digits, beyond what %g keeps."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _utc(ts: float):  # type: ignore[no-untyped-def]
    import datetime

    return datetime.datetime.fromtimestamp(ts, tz=datetime.UTC)


def serve(metrics: PipelineMetrics, host: str, port: int) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path.split("?")[0] != "/metrics":
                self.send_error(404, "only /metrics is served")
                return
            try:
                body = metrics.render().encode()
            except Exception as exc:  # a scrape must answer, with the reason
                log.exception("scrape failed")
                self.send_error(500, f"scrape failed: {type(exc).__name__}")
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    return ThreadingHTTPServer((host, port), Handler)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=8817)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    from .runner import ensure_home

    ensure_home()
    server = serve(
        PipelineMetrics(Settings.from_env(), dg.DagsterInstance.get()), args.host, args.port
    )
    print(f"pipeline metrics on http://{args.host}:{server.server_address[1]}/metrics", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
    return 0


if __name__ == "__main__":
    sys.exit(main())
