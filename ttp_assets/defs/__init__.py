"""Dagster wiring, one package per concept (ledgers, ttp, live); domain code lives in core/."""

import warnings

import dagster as dg

# Two Dagster features this project relies on by design are labelled beta/preview in 1.13:
# backfill policies (ranged runs) and partitioned asset checks. Their warnings are noise here.
warnings.filterwarnings("ignore", category=dg.BetaWarning)
warnings.filterwarnings("ignore", category=dg.PreviewWarning)
