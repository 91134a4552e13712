"""A bounded soak of the gateway behind its front: authorized reads under a flood of bad calls.

For ``duration`` seconds, on loopback:

- ``readers`` authorized clients (one connection each, tokens spread over ``tokens``) read
  tickets through the front in a loop; every read must return exactly its expected row count,
  and anything else (an exception, a wrong count) is an error;
- ``flooders`` unauthenticated clients send, in turn: an oversized ticket (``oversized_bytes``,
  refused by the front), garbage tickets (random bytes, deep JSON, huge integers) and calls with
  made-up bearer tokens, each over a fresh connection; every answer must be the expected
  refusal (INVALID_ARGUMENT from the front, UNAUTHENTICATED from the gateway);
- ``/healthz`` is asked every ``sample_every`` seconds (status and latency), and the gateway's
  RSS is sampled from ``/proc/<pid>/status`` as often.

Used by ``benchmarks/flight_soak.py`` (60 s) and ``test_dos.py`` (a short run).
"""

from __future__ import annotations

import random
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.flight as fl


@dataclass
class SoakResult:
    duration_s: float
    reads: int = 0
    rows: int = 0
    read_errors: list[str] = field(default_factory=list)
    flood: Counter[str] = field(default_factory=Counter)  # outcome -> count
    flood_samples: list[str] = field(default_factory=list)  # messages of unexpected answers
    health_ok: int = 0
    health_failed: int = 0
    health_max_latency_s: float = 0.0
    rss_baseline: int = 0
    rss_samples: list[int] = field(default_factory=list)
    peak_rss: int = 0  # VmHWM over the run (reset at its start)

    @property
    def flood_unexpected(self) -> int:
        """Flood calls answered otherwise than refused as expected (served, or another code)."""
        return sum(n for k, n in self.flood.items() if k.endswith(("(unexpected)", "served")))

    @property
    def rss_max(self) -> int:
        return max(self.rss_samples, default=0)

    def report(self, budget: int) -> str:
        mib = 1 << 20
        growth = max(self.rss_max, self.peak_rss) - self.rss_baseline
        lines = [
            f"duration                 {self.duration_s:.1f} s",
            f"authorized reads         {self.reads} ({self.rows:,} rows), "
            f"errors: {len(self.read_errors)}",
            "unauthenticated flood    "
            + ", ".join(f"{k} {v}" for k, v in sorted(self.flood.items()))
            + f"; unexpected answers: {self.flood_unexpected}",
            f"/healthz                 {self.health_ok} answered 200, {self.health_failed} not; "
            f"max latency {self.health_max_latency_s * 1000:.1f} ms",
            f"gateway RSS              baseline {self.rss_baseline / mib:.0f} MiB, "
            f"max sampled {self.rss_max / mib:.0f} MiB ({len(self.rss_samples)} samples), "
            f"peak (VmHWM) {self.peak_rss / mib:.0f} MiB",
            f"RSS growth vs budget     {growth / mib:.0f} MiB of a "
            f"{budget / mib:.0f} MiB memory budget (TTP_FLIGHT_MEMORY_BUDGET)",
        ]
        for e in self.read_errors[:5] + self.flood_samples[:5]:
            lines.append(f"  ! {e}")
        return "\n".join(lines)


def proc_status(pid: int, key: str) -> int:
    """A ``/proc/<pid>/status`` memory line (``VmRSS``, ``VmHWM``) in bytes."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def reset_peak_rss(pid: int) -> None:
    """Reset the process's VmHWM to its current RSS (Linux ``clear_refs``)."""
    with open(f"/proc/{pid}/clear_refs", "w") as f:
        f.write("5")


def garbage_tickets(rng: random.Random) -> list[bytes]:
    return [
        rng.randbytes(rng.randrange(1, 2048)),
        b"[" * 20_000 + b"]" * 20_000,
        b'{"asset": "ledgers", "ledgers": [1, ' + b"9" * 5000 + b"]}",
        b'{"asset": "\xff\xfe"}',
        b"ledgers:1:2",
    ]


def run_soak(
    *,
    location: str,
    root_certs: bytes,
    metrics_url: str,
    gateway_pid: int,
    tokens: list[str],
    tickets: list[tuple[fl.Ticket, int]],
    duration: float,
    readers: int = 32,
    flooders: int = 4,
    oversized_bytes: int = 16 << 20,
    sample_every: float = 0.2,
) -> SoakResult:
    result = SoakResult(duration)
    lock = threading.Lock()
    result.rss_baseline = proc_status(gateway_pid, "VmRSS")
    reset_peak_rss(gateway_pid)
    end = time.monotonic() + duration

    def connect() -> fl.FlightClient:
        return fl.connect(location, tls_root_certs=root_certs)

    def reader(n: int) -> None:
        token = tokens[n % len(tokens)]
        options = fl.FlightCallOptions(
            headers=[(b"authorization", f"Bearer {token}".encode())], timeout=60
        )
        client = connect()
        i = n
        try:
            while time.monotonic() < end:
                t, expected = tickets[i % len(tickets)]
                i += 1
                try:
                    got = client.do_get(t, options).read_all()
                except Exception as exc:
                    with lock:
                        result.read_errors.append(f"reader {n}: {type(exc).__name__}: {exc}"[:300])
                    continue
                with lock:
                    if got.num_rows == expected:
                        result.reads += 1
                        result.rows += got.num_rows
                    else:
                        result.read_errors.append(
                            f"reader {n}: {got.num_rows} rows, not {expected}"
                        )
        finally:
            client.close()

    oversized = fl.Ticket(b"x" * oversized_bytes)

    def flooder(n: int) -> None:
        rng = random.Random(n)
        garbage = garbage_tickets(rng)
        step = 0
        while time.monotonic() < end:
            kind = ("oversized", "garbage", "bad_token")[step % 3]
            step += 1
            client = connect()  # a fresh connection each time, as a flood would
            if kind == "bad_token":
                bogus = rng.randbytes(24).hex()
                options = fl.FlightCallOptions(
                    headers=[(b"authorization", f"Bearer {bogus}".encode())], timeout=30
                )
                ticket = fl.Ticket(b"ledgers:1:2")
            else:
                options = fl.FlightCallOptions(timeout=30)
                ticket = oversized if kind == "oversized" else fl.Ticket(rng.choice(garbage))
            try:
                client.do_get(ticket, options).read_all()
                outcome = f"{kind}: served"
            except pa.ArrowInvalid as exc:
                outcome = f"{kind}: invalid argument"
                if kind != "oversized" or "too large" not in str(exc):
                    outcome += " (unexpected)"
            except fl.FlightUnauthenticatedError:
                outcome = f"{kind}: unauthenticated"
                if kind == "oversized":
                    outcome += " (unexpected)"
            except Exception as exc:
                outcome = f"{kind}: {type(exc).__name__} (unexpected)"
                with lock:
                    result.flood_samples.append(f"{kind}: {type(exc).__name__}: {exc}"[:300])
            finally:
                client.close()
            with lock:
                result.flood[outcome] += 1

    def sampler() -> None:
        while time.monotonic() < end:
            started = time.monotonic()
            try:
                with urllib.request.urlopen(metrics_url + "/healthz", timeout=10) as r:
                    ok = r.status == 200
            except OSError:
                ok = False
            latency = time.monotonic() - started
            with lock:
                result.health_ok += ok
                result.health_failed += not ok
                result.health_max_latency_s = max(result.health_max_latency_s, latency)
                result.rss_samples.append(proc_status(gateway_pid, "VmRSS"))
            time.sleep(max(0.0, sample_every - latency))  # the sampling period, not a wait

    threads = [threading.Thread(target=reader, args=(n,)) for n in range(readers)]
    threads += [threading.Thread(target=flooder, args=(n,)) for n in range(flooders)]
    threads.append(threading.Thread(target=sampler))
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(1.0, end - time.monotonic()) + 120)
    alive = [t for t in threads if t.is_alive()]
    if alive:
        result.read_errors.append(f"{len(alive)} soak threads still running after the deadline")
    result.peak_rss = proc_status(gateway_pid, "VmHWM")
    return result
