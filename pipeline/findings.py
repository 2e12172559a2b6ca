"""Cleaning findings in the run summary: how many, and which are new.

Cleaning findings are the data-quality findings about readings: excluded
or flagged readings, values the extract could not keep, meters with no or a
single reading (not the derived ones: negative virtual consumption, manual
readings off the Tibber counter).

A finding is new when no earlier successful run reported it. What was
reported is kept in DATA_DIR/state/findings.json, written only after the
whole run succeeded, so a failed run reports its new findings again.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pipeline.settings import Settings

DERIVED = (
    "negative_virtual_day",
    "negative_virtual_month",
    "manual_reading_differs_from_tibber",
)


@dataclass
class Findings:
    current: list[str] = field(default_factory=list)
    new: list[str] = field(default_factory=list)


def state_path(settings: Settings) -> Path:
    return settings.data_dir / "state" / "findings.json"


def compare(settings: Settings) -> Findings:
    """The findings of this build, and those no earlier run reported."""
    # read_only=False: dbt's in-process connection to the file stays open
    with duckdb.connect(str(settings.warehouse), read_only=False) as db:
        rows = db.execute(
            "select finding_type, meter_id, "
            "strftime(timezone('UTC', found_at), '%Y-%m-%dT%H:%M:%SZ') "
            "from main.data_quality_findings "
            "where finding_type not in (?, ?, ?)",
            list(DERIVED),
        ).fetchall()
    current = sorted({" ".join(str(part) for part in row) for row in rows})
    path = state_path(settings)
    seen = set(json.loads(path.read_text())) if path.exists() else set()
    return Findings(current, [key for key in current if key not in seen])


def remember(settings: Settings, findings: Findings) -> None:
    """After a successful run: these findings are no longer new."""
    path = state_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(findings.current))
    os.replace(temporary, path)
