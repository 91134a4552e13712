"""Amount categories of transfers: small, medium, large, in whole token units.

A transfer is *small* below ``small_below`` units, *large* at or above ``large_from`` units and
*medium* in between. Units need the token's decimals: 7 for classic assets (native and
CODE:ISSUER, through their Stellar Asset Contract); a custom token's transfers are categorized
only when its decimals are known, else they count in no category (their volume still counts in
``transfer_volume``). Thresholds are compared in raw units (threshold * 10^decimals, exact).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

CLASSIC_DECIMALS = 7
# SEP-41 puts no bound on decimals; beyond this a threshold exceeds any i128 amount.
MAX_DECIMALS = 38
I128_MAX = 2**127 - 1


@dataclass(frozen=True)
class AmountCategories:
    small_below: int = 100
    large_from: int = 100_000

    def __post_init__(self) -> None:
        if not 0 < self.small_below <= self.large_from:
            raise ValueError(
                "amount categories need 0 < small_below <= large_from (whole units), got "
                f"{self.small_below} and {self.large_from}"
            )

    def thresholds(self) -> pa.Table:
        """Raw thresholds per number of decimals; null where the threshold exceeds i128 (no
        amount reaches it)."""

        def raw(units: int, d: int) -> str | None:
            v = units * 10**d
            return str(v) if v <= I128_MAX else None

        ds = list(range(MAX_DECIMALS + 1))
        return pa.table(
            {
                "decimals": pa.array(ds, pa.int32()),
                "small_below": pa.array([raw(self.small_below, d) for d in ds], pa.string()),
                "large_from": pa.array([raw(self.large_from, d) for d in ds], pa.string()),
            }
        )
