"""Small marts with the real marts' columns, and what InfluxDB holds of them.

Shared by the loader's tests. The expected points are written out by hand.
Days are local (Europe/Berlin): 2024-03-30 starts at 2024-03-29T23:00Z,
2024-03-31 (the 23-hour DST day) at 2024-03-30T23:00Z, 2024-04-01 at
2024-03-31T22:00Z; March starts at 2024-02-29T23:00Z, April at 2024-03-31T22:00Z.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import duckdb

from core.settings import Settings, load_settings
from load.publish import MEASUREMENTS

MART_COLUMNS = {
    "meter_daily_readings": "meter_id varchar, meter_type varchar, unit varchar, "
    "day date, day_start_at timestamptz, reading double, reading_method varchar, "
    "is_estimated boolean",
    "meter_monthly_readings": "meter_id varchar, meter_type varchar, unit varchar, "
    "month date, month_start_at timestamptz, reading double, "
    "reading_method varchar, is_estimated boolean",
    "meter_daily_consumption": "meter_id varchar, meter_type varchar, "
    "unit varchar, day date, day_start_at timestamptz, consumption double, "
    "is_estimated boolean, is_partial boolean",
    "meter_monthly_consumption": "meter_id varchar, meter_type varchar, "
    "unit varchar, month date, month_start_at timestamptz, consumption double, "
    "is_estimated boolean, is_partial boolean",
    "meter_anomalies": "meter_id varchar, unit varchar, day date, "
    "day_start_at timestamptz, consumption double, expected double, "
    "ratio double, rule varchar",
    "meter_interval_anomalies": "meter_id varchar, unit varchar, first_day date, "
    "first_day_start_at timestamptz, last_day date, started_at timestamptz, "
    "ended_at timestamptz, days double, consumption double, expected double, "
    "ratio double, expected_from varchar, rule varchar",
    "flat_cost_monthly": "month date, month_start_at timestamptz, flat_id varchar, "
    "cost_item varchar, amount_eur double, is_estimated boolean",
}

D30, D31, D01 = "2024-03-29T23:00:00Z", "2024-03-30T23:00:00Z", "2024-03-31T22:00:00Z"
MARCH, APRIL = "2024-02-29T23:00:00Z", "2024-03-31T22:00:00Z"


def marts_example() -> dict[str, list[tuple[Any, ...]]]:
    """A physical meter `strom` and a virtual meter `rest_strom`."""
    return {
        "meter_daily_readings": [
            ("strom", "physical", "kWh", "2024-03-30", D30, 100.0, "measured", False),
            ("strom", "physical", "kWh", "2024-03-31", D31, 110.5, "linear", False),
            ("strom", "physical", "kWh", "2024-04-01", D01, 120.25, "estimated", True),
        ],
        "meter_monthly_readings": [
            ("strom", "physical", "kWh", "2024-03-01", MARCH, 50.0, "measured", False),
            (
                "strom",
                "physical",
                "kWh",
                "2024-04-01",
                APRIL,
                120.25,
                "estimated",
                True,
            ),
        ],
        "meter_daily_consumption": [
            ("strom", "physical", "kWh", "2024-03-30", D30, 10.5, False, False),
            ("strom", "physical", "kWh", "2024-03-31", D31, 9.75, True, False),
            ("strom", "physical", "kWh", "2024-04-01", D01, 2.0, True, True),
            ("rest_strom", "virtual", "kWh", "2024-03-30", D30, -0.5, False, False),
            ("rest_strom", "virtual", "kWh", "2024-03-31", D31, 1 / 3, False, False),
        ],
        "meter_monthly_consumption": [
            ("strom", "physical", "kWh", "2024-03-01", MARCH, 70.25, True, False),
            ("strom", "physical", "kWh", "2024-04-01", APRIL, 2.0, True, True),
        ],
        "meter_anomalies": [
            ("strom", "kWh", "2024-03-30", D30, 10.5, 5.0, 2.1, "factor"),
            ("rest_strom", "kWh", "2024-03-31", D31, 1 / 3, 0.0, None, "factor"),
        ],
        "meter_interval_anomalies": [
            (
                "strom",
                "kWh",
                "2024-03-01",
                MARCH,
                "2024-03-30",
                "2024-03-01T09:00:00Z",
                "2024-03-30T09:00:00Z",
                29.0,
                60.0,
                20.0,
                3.0,
                "trailing_intervals",
                "factor",
            ),
        ],
    }


def expected_example() -> set[tuple[str, str, int, frozenset[tuple[str, float]]]]:
    """The points `marts_example` must become, written out by hand."""
    return {
        reading(RD, "strom", D30, 100.0, 0.0),
        reading(RD, "strom", D31, 110.5, 0.0),
        reading(RD, "strom", D01, 120.25, 1.0),
        reading(RM, "strom", MARCH, 50.0, 0.0),
        reading(RM, "strom", APRIL, 120.25, 1.0),
        used(CD, "strom", D30, 10.5, 0.0, 0.0),
        used(CD, "strom", D31, 9.75, 1.0, 0.0),
        used(CD, "strom", D01, 2.0, 1.0, 1.0),
        used(CD, "rest_strom", D30, -0.5, 0.0, 0.0),
        used(CD, "rest_strom", D31, 1 / 3, 0.0, 0.0),
        used(CM, "strom", MARCH, 70.25, 1.0, 0.0),
        used(CM, "strom", APRIL, 2.0, 1.0, 1.0),
        anomaly("strom", D30, 10.5, 5.0, 2.1),
        anomaly("rest_strom", D31, 1 / 3, 0.0),
        interval_anomaly("strom", MARCH, 60.0, 20.0, 3.0, 29.0),
    }


def point(
    measurement: str, meter_id: str, at: str, **fields: float
) -> tuple[str, str, int, frozenset[tuple[str, float]]]:
    instant = datetime.fromisoformat(at.replace("Z", "+00:00"))
    return (measurement, meter_id, int(instant.timestamp()), frozenset(fields.items()))


RD, RM = "meter_interpolated_daily", "meter_interpolated_monthly"
CD, CM = "meter_consumption_daily", "meter_consumption"


def reading(measurement: str, meter_id: str, at: str, value: float, est: float) -> Any:
    return point(measurement, meter_id, at, value=value, is_estimated=est)


def used(
    measurement: str, meter_id: str, at: str, amount: float, est: float, part: float
) -> Any:
    fields = {"consumption": amount, "is_estimated": est, "is_partial": part}
    return point(measurement, meter_id, at, **fields)


def anomaly(
    meter_id: str, at: str, amount: float, expected: float, ratio: float | None = None
) -> Any:
    fields = {"consumption": amount, "expected": expected}
    if ratio is not None:
        fields["ratio"] = ratio
    return point("meter_anomaly", meter_id, at, **fields)


def interval_anomaly(
    meter_id: str, at: str, amount: float, expected: float, ratio: float, days: float
) -> Any:
    fields = {"consumption": amount, "expected": expected, "ratio": ratio}
    return point("meter_interval_anomaly", meter_id, at, days=days, **fields)


def write_marts(warehouse: Path, marts: dict[str, list[tuple[Any, ...]]]) -> None:
    """(Re)create the five mart tables in the DuckDB file with these rows."""
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("set TimeZone = 'UTC'")
        for table, columns in MART_COLUMNS.items():
            connection.execute(f"create or replace table main.{table} ({columns})")
            rows = marts.get(table, [])
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                connection.executemany(
                    f"insert into main.{table} values ({marks})", rows
                )


def settings_for(url: str, db: str, data_dir: Path, **extra: str) -> Settings:
    environ = {
        "INFLUX_URL": url,
        "INFLUX_API_VERSION": "1",
        "INFLUX_BUCKET_PROCESSED": db,
        "INFLUX_BUCKET_RAW": db,
        "DATA_DIR": str(data_dir),
        **extra,
    }
    return load_settings(data_dir, environ)


def server_points(server: Any, db: str) -> list[tuple[Any, ...]]:
    """Every point of the five measurements on the server, as a list."""
    found = []
    for measurement in MEASUREMENTS:
        answer = server.query(f'SELECT * FROM "{measurement}"', db)
        for series in answer["results"][0].get("series", []):
            columns = series["columns"]
            for row in series["values"]:
                record = dict(zip(columns, row, strict=True))
                time_s = record.pop("time")
                meter_id = record.pop("meter_id", None)
                fields = frozenset(
                    (key, value) for key, value in record.items() if value is not None
                )
                found.append((measurement, meter_id, time_s, fields))
    return found


def server_point_set(server: Any, db: str) -> set[tuple[Any, ...]]:
    found = server_points(server, db)
    assert len(found) == len(set(found)), "a point came back twice"
    return set(found)


def points_received(server: Any) -> int:
    """The server's own count of points it was asked to write (all databases)."""
    answer = server.query("SHOW STATS FOR 'write'")
    series = answer["results"][0]["series"][0]
    return dict(zip(series["columns"], series["values"][0], strict=True))["pointReq"]


def tag_keys(server: Any, db: str) -> set[str]:
    answer = server.query("SHOW TAG KEYS", db)
    return {
        row[0]
        for series in answer["results"][0].get("series", [])
        for row in series["values"]
    }
