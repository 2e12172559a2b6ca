"""Cleaning findings in the run summary: how many, and which are new.

Cleaning findings are the data-quality findings about readings: excluded
or flagged readings, values the extract could not keep, meters with no or a
single reading (not the derived ones: negative virtual consumption, manual
readings off the Tibber counter).

A finding is new when no earlier successful run reported it
(pipeline/reported.py, kind `finding`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb

from core.settings import Settings
from pipeline import reported

DERIVED = (
    "negative_virtual_day",
    "negative_virtual_month",
    "manual_reading_differs_from_tibber",
)


@dataclass
class Findings:
    current: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)


def compare(settings: Settings) -> Findings:
    """The findings of this build, and those no earlier run reported."""
    with duckdb.connect(str(settings.warehouse)) as db:
        rows = db.execute(
            "select finding_type, meter_id, "
            "strftime(timezone('UTC', found_at), '%Y-%m-%dT%H:%M:%SZ') "
            "from main.data_quality_findings "
            "where finding_type not in (?, ?, ?)",
            list(DERIVED),
        ).fetchall()
    current = sorted({" ".join(str(part) for part in row) for row in rows})
    new = reported.not_reported(settings.warehouse, "finding", current)
    return Findings(current, new)
