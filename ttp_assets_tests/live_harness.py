"""Drive the live sensor the way the daemon does: evaluate a tick, apply its partition requests,
execute its run requests, in process and deterministically."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from ttp_assets.definitions import ALL_ASSETS_JOB
from ttp_assets.defs.live.sensors import ledger_tail


@dataclass
class Tick:
    result: dg.SensorResult | dg.SkipReason
    cursor: str | None
    runs: list[dg.ExecuteInProcessResult] = field(default_factory=list)

    @property
    def skipped(self) -> str | None:
        if isinstance(self.result, dg.SkipReason):
            return self.result.skip_message
        return self.result.skip_reason.skip_message if self.result.skip_reason else None

    @property
    def requests(self) -> list[dg.RunRequest]:
        return (
            [] if isinstance(self.result, dg.SkipReason) else list(self.result.run_requests or [])
        )


class LiveDriver:
    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance | None = None):
        self.defs = defs
        self.instance = instance or dg.DagsterInstance.ephemeral()
        self.cursor: str | None = None

    def tick(self, execute: bool = True) -> Tick:
        with dg.build_sensor_context(
            instance=self.instance,
            cursor=self.cursor,
            definitions=self.defs,
            resources=self.defs.resources,
        ) as context:
            result = ledger_tail(context)
        tick = Tick(result, self.cursor)
        if isinstance(result, dg.SensorResult):
            if result.cursor is not None:
                self.cursor = result.cursor
            for req in result.dynamic_partitions_requests or []:
                self.instance.add_dynamic_partitions(
                    req.partitions_def_name, list(req.partition_keys)
                )
            job = self.defs.resolve_job_def(ALL_ASSETS_JOB)
            if not execute:
                # What the daemon does with the requests: submit them to the run queue.
                for req in result.run_requests or []:
                    tags = dict(req.tags)
                    if req.partition_key is not None:
                        tags["dagster/partition"] = req.partition_key
                    self.instance.create_run_for_job(
                        job, tags=tags, status=dg.DagsterRunStatus.NOT_STARTED
                    )
            else:
                for req in result.run_requests or []:
                    tick.runs.append(
                        job.execute_in_process(
                            instance=self.instance,
                            partition_key=req.partition_key,
                            tags=dict(req.tags),
                            raise_on_error=False,
                        )
                    )
        tick.cursor = self.cursor
        return tick


def written_since(root: Path | str, since_ns: int) -> dict[str, int]:
    """Bytes of the files created or replaced since ``since_ns``, per top-level folder."""
    out: dict[str, int] = {}
    for dirpath, _, names in os.walk(root):
        for name in names:
            st = os.stat(os.path.join(dirpath, name))
            if st.st_mtime_ns >= since_ns:
                top = (Path(dirpath).relative_to(root).parts or (".",))[0]
                out[top] = out.get(top, 0) + st.st_size
    return out
