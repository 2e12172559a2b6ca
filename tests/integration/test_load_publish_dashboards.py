"""The measurements published for the dashboards, on a real InfluxDB 1.x server.

electricity_cost_daily / electricity_cost_monthly come from the marts
electricity_daily_cost / electricity_monthly_cost, tagged with the Tibber
meter (TIBBER_METER_ID); data_quality_finding counts the findings of
data_quality_findings per meter and second, by kind. The marts are small
DuckDB tables with the real marts' columns next to the five of
tests/integration/test_load_publish.py; the expected points are written out by hand.
Days are local (Europe/Berlin), see tests/integration/test_load_publish.py.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest

from load.publish import FIELDS, STATE_TABLE, publish_marts
from tests.support.marts import (
    D01,
    D30,
    D31,
    MARCH,
    expected_example,
    marts_example,
    point,
    server_point_set,
    settings_for,
    write_marts,
)

pytestmark = pytest.mark.influx

COST_COLUMNS = {
    "electricity_daily_cost": "day date, day_start_at timestamptz, month date, "
    "cost double, currency varchar, consumption_kwh double, "
    "hours_reported integer, hours_without_cost integer, hours_missing integer",
    "electricity_monthly_cost": "month date, month_start_at timestamptz, "
    "cost double, currency varchar, consumption_kwh double, "
    "hours_reported bigint, hours_without_cost bigint, hours_missing bigint",
    "data_quality_findings": "meter_id varchar, finding_type varchar, "
    "found_at timestamptz, value double, detail varchar",
}


def cost_marts() -> dict[str, list[tuple[Any, ...]]]:
    """30 March: 24 hours, 3.25 EUR for 12.5 kWh. 31 March (23 hours, DST):
    20 hours reported, 2 of them without cost, 3 missing. March: the sum of
    both days, 3.25 + 4.5 = 7.75 EUR, 12.5 + 16 = 28.5 kWh."""
    return {
        "electricity_daily_cost": [
            ("2024-03-30", D30, "2024-03-01", 3.25, "EUR", 12.5, 24, 0, 0),
            ("2024-03-31", D31, "2024-03-01", 4.5, "EUR", 16.0, 20, 2, 3),
        ],
        "electricity_monthly_cost": [
            ("2024-03-01", MARCH, 7.75, "EUR", 28.5, 44, 2, 3),
        ],
        "data_quality_findings": [
            # Two findings within one second: one point.
            ("strom", "counter_reset", "2024-03-30T08:00:00.25Z", 3.0, "x"),
            ("strom", "bad_reading", "2024-03-30T08:00:00.75Z", 90.0, "x"),
            # A corrected reading is no finding to act on.
            ("strom", "superseded", "2024-03-30T09:00:00Z", 1.0, "x"),
            # The first day of April and April itself are negative.
            ("rest_strom", "negative_virtual_day", D01, -0.5, "x"),
            ("rest_strom", "negative_virtual_month", D01, -0.5, "x"),
            ("haupt_strom", "manual_reading_differs_from_tibber", D31, 2.0, "x"),
            ("gas_zahler", "no_readings", MARCH, None, "x"),
        ],
    }


def write_all(warehouse: Path) -> None:
    write_marts(warehouse, marts_example())
    marts = cost_marts()
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("set TimeZone = 'UTC'")
        for table, columns in COST_COLUMNS.items():
            connection.execute(f"create or replace table main.{table} ({columns})")
            marks = ", ".join("?" * len(marts[table][0]))
            connection.executemany(
                f"insert into main.{table} values ({marks})", marts[table]
            )


def cost(measurement: str, at: str, meter: str = "haupt_strom", **fields: float) -> Any:
    return point(measurement, meter, at, **fields)


def expected_new(meter: str = "haupt_strom") -> set[Any]:
    daily, monthly, finding = (
        "electricity_cost_daily",
        "electricity_cost_monthly",
        "data_quality_finding",
    )
    nothing_missing = {"hours_without_cost": 0.0, "hours_missing": 0.0}
    return {
        cost(daily, D30, meter, cost=3.25, consumption=12.5, **nothing_missing),
        cost(
            daily,
            D31,
            meter,
            cost=4.5,
            consumption=16.0,
            hours_without_cost=2.0,
            hours_missing=3.0,
        ),
        cost(
            monthly,
            MARCH,
            meter,
            cost=7.75,
            consumption=28.5,
            hours_without_cost=2.0,
            hours_missing=3.0,
        ),
        point(
            finding,
            "strom",
            "2024-03-30T08:00:00Z",
            findings=2.0,
            counter_reset=1.0,
            excluded_reading=1.0,
            negative_virtual=0.0,
            tibber_mismatch=0.0,
        ),
        point(
            finding,
            "rest_strom",
            D01,
            findings=2.0,
            counter_reset=0.0,
            excluded_reading=0.0,
            negative_virtual=2.0,
            tibber_mismatch=0.0,
        ),
        point(
            finding,
            "haupt_strom",
            D31,
            findings=1.0,
            counter_reset=0.0,
            excluded_reading=0.0,
            negative_virtual=0.0,
            tibber_mismatch=1.0,
        ),
        point(
            finding,
            "gas_zahler",
            MARCH,
            findings=1.0,
            counter_reset=0.0,
            excluded_reading=0.0,
            negative_virtual=0.0,
            tibber_mismatch=0.0,
        ),
    }


def test_cost_and_findings_are_published_next_to_the_five_unchanged(
    influxd: Any, influx_db: str, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    write_all(warehouse)

    result = publish_marts(settings_for(influxd.url, influx_db, tmp_path), warehouse)

    assert server_point_set(influxd, influx_db) == expected_example() | expected_new()
    assert result.per_measurement["electricity_cost_daily"] == (2, 0)
    assert result.per_measurement["electricity_cost_monthly"] == (1, 0)
    assert result.per_measurement["data_quality_finding"] == (4, 0)
    assert result.points_written == 15 + 7  # the example has 15 points


def test_cost_is_tagged_with_the_configured_tibber_meter(
    influxd: Any, influx_db: str, tmp_path: Path
) -> None:
    warehouse = tmp_path / "warehouse.duckdb"
    write_all(warehouse)
    settings = settings_for(influxd.url, influx_db, tmp_path, TIBBER_METER_ID="main")

    publish_marts(settings, warehouse)

    points = server_point_set(influxd, influx_db)
    assert {p for p in points if p[0].startswith("electricity_cost")} == {
        p for p in expected_new("main") if p[0].startswith("electricity_cost")
    }


def test_state_from_before_the_new_fields_is_extended_and_only_new_points_sent(
    influxd: Any, influx_db: str, tmp_path: Path
) -> None:
    """A warehouse published by the earlier loader (state without the new
    field columns, no cost marts yet): the next run adds the columns, keeps
    the 15 points it knows, and writes only the 7 new ones."""
    warehouse = tmp_path / "warehouse.duckdb"
    write_marts(warehouse, marts_example())
    settings = settings_for(influxd.url, influx_db, tmp_path)
    publish_marts(settings, warehouse)
    new_fields = FIELDS[FIELDS.index("is_partial") + 1 : FIELDS.index("days")]
    with duckdb.connect(str(warehouse)) as connection:
        for name in new_fields:
            connection.execute(f"alter table {STATE_TABLE} drop column {name}")
    write_all(warehouse)

    result = publish_marts(settings, warehouse)

    assert result.points_written == 7
    assert result.points_deleted == 0
    assert server_point_set(influxd, influx_db) == expected_example() | expected_new()
    assert publish_marts(settings, warehouse).points_written == 0
