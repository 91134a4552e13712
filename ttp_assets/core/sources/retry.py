"""Bounded retries with exponential backoff and full jitter, shared by every source."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 20.0
    # Injected so tests run without sleeping; production uses time.sleep.
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False, repr=False)

    def delay(self, attempt: int, minimum: float = 0.0) -> float:
        """Full-jitter backoff for the given 1-based failed attempt, at least ``minimum``."""
        cap = min(self.max_delay, self.base_delay * (2 ** (attempt - 1)))
        return max(minimum, random.uniform(0, cap))

    def call(
        self,
        fn: Callable[[], T],
        *,
        is_transient: Callable[[BaseException], bool],
        what: str,
        retry_after: Callable[[BaseException], float | None] = lambda _e: None,
    ) -> T:
        """Run ``fn``; retry transient failures; re-raise the last error when attempts run out."""
        for attempt in range(1, self.attempts + 1):
            try:
                return fn()
            except Exception as exc:
                if not is_transient(exc) or attempt == self.attempts:
                    raise
                wait = self.delay(attempt, retry_after(exc) or 0.0)
                log.warning(
                    "%s: attempt %d of %d failed (%s); retrying in %.1f s",
                    what,
                    attempt,
                    self.attempts,
                    str(exc).splitlines()[0][:300] if str(exc) else type(exc).__name__,
                    wait,
                    extra={
                        "what": what,
                        "attempt": attempt,
                        "wait_s": round(wait, 3),
                        "error": str(exc)[:300],
                    },
                )
                self.sleep(wait)
        raise AssertionError("unreachable")
