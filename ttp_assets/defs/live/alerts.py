"""Run-failure alerts: every failed run of this code location, to the logs and to a webhook.

A failed live or backfill run leaves partitions short until somebody re-runs them; the live
sensor retries what it owns, but an operator should hear about it. The alert is one JSON object:
``text`` (one line, what Slack, Mattermost and most chat webhooks display) plus the fields a
script would use (run id, job, partition range, live or backfill, the error and its cause).
The webhook URL (``TTP_ALERT_WEBHOOK_URL``) often carries a secret, so it is never logged whole.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

import dagster as dg
from pydantic import Field

from ...core.redact import redact_url
from ..partitions import RANGE_END_TAG, RANGE_START_TAG
from .sensors import LIVE_TAG, PARTITION_TAG

log = logging.getLogger("ttp_assets.alerts")


class AlertsResource(dg.ConfigurableResource):
    """Where run-failure alerts go besides the logs."""

    webhook_url: str = Field(default="", description="TTP_ALERT_WEBHOOK_URL; empty: logs only")
    timeout_s: float = Field(default=10.0, description="seconds to wait for the webhook")

    def send(self, alert: dict[str, Any]) -> str:
        """Post the alert; returns what happened, for the sensor's log (never raises: a
        webhook that is down must not stop the alerts that follow)."""
        if not self.webhook_url:
            return "no webhook configured (TTP_ALERT_WEBHOOK_URL)"
        request = urllib.request.Request(
            self.webhook_url,
            data=json.dumps(alert).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        where = redact_url(self.webhook_url)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return f"posted to {where}: HTTP {response.status}"
        except urllib.error.HTTPError as exc:
            return f"webhook {where} refused the alert: HTTP {exc.code}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return f"webhook {where} unreachable: {reason}"


def describe_failure(run: dg.DagsterRun, event: dg.DagsterEvent | None) -> dict[str, Any]:
    tags = run.tags
    first = tags.get(RANGE_START_TAG) or tags.get(PARTITION_TAG)
    last = tags.get(RANGE_END_TAG) or tags.get(PARTITION_TAG)
    error = cause = None
    if event is not None and event.event_specific_data is not None:
        info = getattr(event.event_specific_data, "error", None)
        if info is not None:
            error = info.message.strip()
            if info.cause is not None:
                cause = info.cause.message.strip()
    kind = "live" if tags.get(LIVE_TAG) else "backfill" if first else "run"
    span = f" of partitions {first}..{last}" if first and first != last else ""
    if first and first == last:
        span = f" of partition {first}"
    headline = (error or "failed").splitlines()[0]
    what = f"{kind} run {run.run_id[:8]} ({run.job_name}){span}"
    return {
        "text": f"ttp-assets: {what} failed: {headline}",
        "run_id": run.run_id,
        "job": run.job_name,
        "kind": kind,
        "first_partition": first,
        "last_partition": last,
        "error": error,
        "cause": cause,
    }


@dg.run_failure_sensor(
    name="run_failure_alerts",
    description="Reports every failed run (live tail, backfills, schedules) to the logs and "
    "to TTP_ALERT_WEBHOOK_URL.",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
)
def run_failure_alerts(context: dg.RunFailureSensorContext, alerts: AlertsResource) -> None:
    alert = describe_failure(context.dagster_run, context.failure_event)
    outcome = alerts.send(alert)
    log.error(json.dumps({"event": "run_failed", **alert, "alert": outcome}))
    context.log.info(f"{alert['text']} — {outcome}")
