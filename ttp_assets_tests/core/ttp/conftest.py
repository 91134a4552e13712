"""The conformance suite runs twice: against the reference processor and the native core."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from .builders import IMPLEMENTATIONS, use_implementation


@pytest.fixture(params=IMPLEMENTATIONS)
def implementation(request: pytest.FixtureRequest) -> Iterator[str]:
    use_implementation(request.param)
    try:
        yield request.param
    finally:
        use_implementation("reference")
