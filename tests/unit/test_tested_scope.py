"""An incremental build tests the rows it rebuilt (macros/tested_rows.sql):
every incremental model with a valid_rows test is named in tested_columns,
else its test reads the whole table on every hourly run (it did, for
int_reading_intervals_judged: 0.6 s of an hourly run at 10,000 meters)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def incremental_models() -> set[str]:
    return {
        path.stem
        for path in (ROOT / "models").rglob("*.sql")
        if "materialized='incremental'" in path.read_text()
    }


def models_with_valid_rows() -> set[str]:
    found: set[str] = set()
    for path in (ROOT / "models").rglob("*.yml"):
        found |= set(re.findall(r"name: valid_rows_(\w+)", path.read_text()))
    return found


def models_in_tested_columns() -> set[str]:
    text = (ROOT / "macros" / "tested_rows.sql").read_text()
    body = text.split("macro tested_columns()", 1)[1].split("endmacro", 1)[0]
    return set(re.findall(r"'(\w+)': \[", body))


def test_the_models_are_found() -> None:
    """The parsing above sees the project as it is (so the next test can fail)."""
    assert "int_daily_readings_interpolated" in incremental_models()
    assert "meter_daily_consumption" in models_with_valid_rows()
    assert "meter_daily_consumption" in models_in_tested_columns()


def test_every_incremental_model_tests_its_rebuilt_rows_only() -> None:
    unscoped = (
        incremental_models() & models_with_valid_rows()
    ) - models_in_tested_columns()
    assert unscoped == set()
