"""After an incremental build the loader compares only the rows the builds
since its last complete load rebuilt (load/publish.py: note_build, Scope).

The marts are the hand-made ones of tests/support/marts.py, with a build
state as a build leaves it. A change planted outside the noted scope is not
seen (so the scope is what is compared); inside it, it is published; a full
build, a new target and several builds without a load in between each
widen it as they must. Days are local (Europe/Berlin): 2024-03-30 starts at
2024-03-29T23:00Z (D30), 2024-03-31 at 2024-03-30T23:00Z (D31), 2024-04-01
at 2024-03-31T22:00Z (D01); March at 2024-02-29T23:00Z, April at
2024-03-31T22:00Z.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from core.settings import Settings
from load.publish import SCOPE_TABLE, note_build, publish_marts, read_scope
from tests.support.marts import (
    CD,
    D01,
    D30,
    D31,
    marts_example,
    server_point_set,
    settings_for,
    used,
    write_marts,
)

pytestmark = pytest.mark.influx


def build(warehouse: Path, *, window: str | None = None, meters: tuple = ()) -> None:
    """What pipeline/rebuild.py leaves after a build: the scope it read (an
    incremental build, window given) and its note for the loader."""
    with duckdb.connect(str(warehouse)) as db:
        db.execute("create schema if not exists run_state")
        db.execute(
            "create table if not exists run_state.build_state (fingerprint varchar)"
        )
        if window is None:
            note_build(db, everything=True)
            return
        db.execute(
            "create or replace table main.rebuild_window as select ? as day_start_at,"
            " ? as month_start_at, ? as cost_day_start_at",
            [window, "2024-03-31T22:00:00+00:00", window],
        )
        db.execute(
            "create or replace table main.rebuild_meters (meter_id varchar, "
            "kind varchar, day_start_at varchar, month_start_at varchar)"
        )
        for meter_id, day, month in meters:
            db.execute(
                "insert into main.rebuild_meters values (?, 'rebuilt', ?, ?)",
                [meter_id, day, month],
            )
        # Read, not rebuilt: no part of the scope.
        db.execute(
            "insert into main.rebuild_meters values ('rest_strom', 'read', null, null)"
        )
        note_build(db, everything=False)


def set_consumption(warehouse: Path, meter_id: str, day: str, value: float) -> None:
    with duckdb.connect(str(warehouse)) as db:
        db.execute(
            "update main.meter_daily_consumption set consumption = ? "
            "where meter_id = ? and day = ?",
            [value, meter_id, day],
        )


@pytest.fixture
def published(influxd: Any, influx_db: str, tmp_path: Path) -> tuple[Settings, Path]:
    """The example marts after a full build, published."""
    warehouse = tmp_path / "warehouse.duckdb"
    write_marts(warehouse, marts_example())
    build(warehouse)
    settings = settings_for(influxd.url, influx_db, tmp_path)
    assert publish_marts(settings, warehouse).points_written == 15
    return settings, warehouse


def test_only_the_rows_after_the_window_day_are_compared(
    published: tuple[Settings, Path], influxd: Any, influx_db: str
) -> None:
    settings, warehouse = published
    set_consumption(warehouse, "strom", "2024-03-30", 11.0)  # before: not seen
    set_consumption(warehouse, "strom", "2024-04-01", 3.0)  # the window's day
    build(warehouse, window="2024-03-31T22:00:00+00:00")

    result = publish_marts(settings, warehouse)

    assert result.per_measurement[CD] == (1, 0)
    points = server_point_set(influxd, influx_db)
    assert used(CD, "strom", D01, 3.0, 1.0, 1.0) in points
    assert used(CD, "strom", D30, 10.5, 0.0, 0.0) in points


def test_a_rebuilt_meter_is_compared_from_its_own_day(
    published: tuple[Settings, Path], influxd: Any, influx_db: str
) -> None:
    settings, warehouse = published
    set_consumption(warehouse, "strom", "2024-03-30", 11.0)  # before its day
    set_consumption(warehouse, "strom", "2024-03-31", 9.0)  # its day
    set_consumption(warehouse, "rest_strom", "2024-03-31", 0.25)  # not rebuilt
    build(
        warehouse,
        window="2024-03-31T22:00:00+00:00",
        meters=[("strom", "2024-03-30T23:00:00+00:00", "2024-02-29T23:00:00+00:00")],
    )

    result = publish_marts(settings, warehouse)

    assert result.per_measurement[CD] == (1, 0)
    points = server_point_set(influxd, influx_db)
    assert used(CD, "strom", D31, 9.0, 1.0, 0.0) in points
    assert used(CD, "rest_strom", D31, 1 / 3, 0.0, 0.0) in points


def test_a_meter_rebuilt_whole_and_the_builds_since_the_last_load_add_up(
    published: tuple[Settings, Path], influxd: Any, influx_db: str
) -> None:
    settings, warehouse = published
    set_consumption(warehouse, "rest_strom", "2024-03-30", -1.0)
    set_consumption(warehouse, "strom", "2024-03-31", 9.0)
    set_consumption(warehouse, "strom", "2024-03-30", 11.0)  # in no scope
    build(
        warehouse,
        window="2024-03-31T22:00:00+00:00",
        meters=[("rest_strom", None, None)],
    )
    build(warehouse, window="2024-03-30T23:00:00+00:00")  # no load in between

    result = publish_marts(settings, warehouse)

    assert result.per_measurement[CD] == (2, 0)
    points = server_point_set(influxd, influx_db)
    assert used(CD, "rest_strom", D30, -1.0, 0.0, 0.0) in points
    assert used(CD, "strom", D31, 9.0, 1.0, 0.0) in points
    assert used(CD, "strom", D30, 10.5, 0.0, 0.0) in points


def test_a_complete_load_empties_the_scope_and_a_full_build_fills_it(
    published: tuple[Settings, Path],
) -> None:
    settings, warehouse = published
    set_consumption(warehouse, "strom", "2024-03-30", 11.0)
    build(warehouse, window="2024-03-31T22:00:00+00:00")
    assert publish_marts(settings, warehouse).points_written == 0
    with duckdb.connect(str(warehouse)) as db:
        assert db.execute(f"select count(*) from {SCOPE_TABLE}").fetchone() == (0,)
        assert read_scope(db) is not None

    build(warehouse)  # full

    assert publish_marts(settings, warehouse).per_measurement[CD] == (1, 0)


def test_a_new_target_compares_everything(
    published: tuple[Settings, Path], influxd: Any, influx_db: str, tmp_path: Path
) -> None:
    _, warehouse = published
    build(warehouse, window="2024-03-31T22:00:00+00:00")
    other = f"{influx_db}_other"
    influxd.query(f'CREATE DATABASE "{other}"')
    try:
        result = publish_marts(settings_for(influxd.url, other, tmp_path), warehouse)
    finally:
        influxd.query(f'DROP DATABASE "{other}"')

    assert result.points_written == 15


def test_marts_not_built_by_the_pipeline_are_compared_whole(
    influxd: Any, influx_db: str, tmp_path: Path
) -> None:
    """No build state (marts made by hand): nothing says what changed."""
    warehouse = tmp_path / "warehouse.duckdb"
    write_marts(warehouse, marts_example())
    settings = settings_for(influxd.url, influx_db, tmp_path)
    publish_marts(settings, warehouse)
    set_consumption(warehouse, "strom", "2024-03-30", 11.0)

    assert publish_marts(settings, warehouse).per_measurement[CD] == (1, 0)
