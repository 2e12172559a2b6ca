"""A typo shows only when the next reading arrives; the incremental build
must then recompute from before the typo, and equal a full build.

The demo house built at its as_of (2026-11-27T10:00Z), where og1_strom's
newest reading L is from 2026-11-07. Then:
1. a slip S = L x 1.01 on 2026-11-20 12:00Z lands: +1 % (about 160 kWh in
   13 days, far below the implausible limit) is a plausible newest reading,
   kept valid by an incremental run at 11:00Z;
2. the next reading N = L + 50 on 2026-11-27 10:30Z lands: S now stands
   above N, which continues from L: S is a typo. An incremental run at
   12:00Z must recompute og1_strom from before L (the days between L and S
   were interpolated towards S), so it equals a full build of the same
   landing zone at 12:00Z, table by table.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pytest

from core import landing
from tests.support.compare import COMPARED, differences
from tests.support.fixtures_demo import run_pipeline
from tests.support.fixtures_pipeline import land_readings

SLIP_AT = datetime(2026, 11, 20, 12, tzinfo=UTC)
NEXT_AT = datetime(2026, 11, 27, 10, 30, tzinfo=UTC)


def run_at(data_dir: Path, as_of: str) -> str:
    result = run_pipeline(data_dir, as_of=as_of)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def land(data_dir: Path, at: datetime, value: float, extracted: datetime) -> None:
    land_readings(data_dir, [("og1_strom", "kWh", value, at)], extracted)


@pytest.fixture(scope="module")
def typo_then_next(demo_build: Path, tmp_path_factory) -> tuple[Path, Path, float]:
    incremental = tmp_path_factory.mktemp("typo-incremental") / "data"
    shutil.copytree(demo_build, incremental, ignore=shutil.ignore_patterns("*.lock"))
    newest = landing.query(
        incremental,
        "readings",
        "select measured_at, value from landed where meter_id = 'og1_strom' "
        "order by measured_at desc limit 1",
    ).to_pylist()[0]
    last_at, last = newest["measured_at"], newest["value"]
    assert last_at < SLIP_AT  # L is the newest reading before the slip
    landed_at = datetime(2026, 11, 27, 10, 50, tzinfo=UTC)
    land(incremental, SLIP_AT, round(last * 1.01, 1), landed_at)
    run_at(incremental, "2026-11-27T11:00:00Z")
    land(incremental, NEXT_AT, last + 50, datetime(2026, 11, 27, 11, 50, tzinfo=UTC))
    run_at(incremental, "2026-11-27T12:00:00Z")
    full = tmp_path_factory.mktemp("typo-full") / "data"
    shutil.copytree(incremental / "landing", full / "landing")
    run_at(full, "2026-11-27T12:00:00Z")
    return incremental, full, last


def test_the_slip_is_found_once_the_next_reading_arrives(typo_then_next) -> None:
    incremental, _, _ = typo_then_next
    with duckdb.connect(str(incremental / "warehouse.duckdb"), read_only=True) as db:
        statuses = db.execute(
            "select measured_at, reading_status "
            "from intermediate.int_readings_classified "
            "where meter_id = 'og1_strom' and measured_at >= ? order by 1",
            [SLIP_AT],
        ).fetchall()
    assert [(at.astimezone(UTC), status) for at, status in statuses] == [
        (SLIP_AT, "typo"),
        (NEXT_AT, "valid"),
    ]


@pytest.mark.parametrize("table", COMPARED)
def test_after_a_typo_the_incremental_build_equals_a_full_build(
    typo_then_next, table
) -> None:
    incremental, full, _ = typo_then_next
    assert (
        differences(incremental / "warehouse.duckdb", full / "warehouse.duckdb", table)
        == 0
    )
