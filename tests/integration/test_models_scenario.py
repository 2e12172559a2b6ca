"""The whole dbt chain on a small house whose numbers are computed by hand.

The house (tests/scenarios/small_house): `old` is replaced by `new` on
2024-01-10 (master `total` carries its counter over), `common` = `total` -
`flat`, and `gas_energy` is `gas` in kWh. Europe/Berlin is UTC+1 in January,
so local midnight of day D is D-1 23:00Z. as_of is 2024-01-25 12:00 local.

Readings (local time):
- old:  1000 on 1 Jan 00:00, 1050 on 6 Jan 00:00, 1095 on 10 Jan 12:00
        (10 a day); removed on 10 Jan, so flat at 1095 after 12:00.
- new:  0.5 on 10 Jan 12:00, 100.5 on 20 Jan 12:00 (10 a day).
- flat: 0 on 1 Jan 00:00, 60 on 21 Jan 00:00 (3 a day).
- gas:  0 on 1 Jan 00:00, 10 on 11 Jan 00:00 (1 m³ a day).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from core import landing
from core.settings import load_settings
from pipeline.dbt import build, copy_project

HOUSE = Path(__file__).parents[1] / "scenarios" / "small_house"
AS_OF = datetime(2024, 1, 25, 11, 0, tzinfo=UTC)  # 12:00 local
KWH_PER_M3 = 11.504 * 0.8885


def local_midnight_utc(day: int, hour: int = 0) -> datetime:
    """January 2024, local (UTC+1) day and hour as a UTC instant."""
    return datetime(2024, 1, day, tzinfo=UTC) + timedelta(hours=hour - 1)


READINGS = [
    ("old", local_midnight_utc(1), 1000.0),
    ("old", local_midnight_utc(6), 1050.0),
    ("old", local_midnight_utc(10, 12), 1095.0),
    ("new", local_midnight_utc(10, 12), 0.5),
    ("new", local_midnight_utc(20, 12), 100.5),
    ("flat", local_midnight_utc(1), 0.0),
    ("flat", local_midnight_utc(21), 60.0),
    ("gas", local_midnight_utc(1), 0.0),
    ("gas", local_midnight_utc(11), 10.0),
]


@pytest.fixture(scope="module")
def warehouse(tmp_path_factory: pytest.TempPathFactory) -> duckdb.DuckDBPyConnection:
    root = tmp_path_factory.mktemp("scenario")
    project = copy_project(HOUSE, root / "project")
    data_dir = root / "data"
    settings = load_settings(
        root, {"DATA_DIR": str(data_dir), "METER_TIMEZONE": "Europe/Berlin"}
    )
    units = {"old": "kWh", "new": "kWh", "flat": "kWh", "gas": "m³"}
    extracted = datetime(2024, 1, 25, 12, tzinfo=UTC)
    rows = [
        {
            "meter_id": meter,
            "measured_at": at,
            "value": value,
            "unit": units[meter],
            "extracted_at": extracted,
        }
        for meter, at, value in READINGS
    ]
    landing.append(data_dir, "readings", pa.Table.from_pylist(rows))
    landing.write_run_context(data_dir, AS_OF)
    outcome = build(settings, AS_OF, project, unit_tests=True)
    assert outcome.tests_failed == 0
    assert outcome.unit_tests >= 16  # every model's unit tests ran
    # dbt keeps the database open in this process: connect with its settings.
    connection = duckdb.connect(str(data_dir / "warehouse.duckdb"))
    yield connection
    connection.close()


def daily(db, table: str, meter: str, column: str) -> dict[int, float]:
    rows = db.execute(
        f"select day(day), {column} from main.{table} where meter_id = ? order by day",
        [meter],
    ).fetchall()
    return {day: value for day, value in rows}


def test_the_local_midnight_helper_is_utc_plus_one() -> None:
    assert local_midnight_utc(1) == datetime(2023, 12, 31, 23, tzinfo=UTC)
    assert local_midnight_utc(10, 12) == datetime(2024, 1, 10, 11, tzinfo=UTC)


def test_old_meter_stops_at_its_last_reading_after_removal(warehouse) -> None:
    readings = daily(warehouse, "meter_daily_readings", "old", "reading")
    assert sorted(readings) == list(range(1, 11))  # its life: 1..10 January
    assert readings[1] == 1000.0  # measured at midnight, honoured exactly
    assert readings[6] == 1050.0
    assert readings[10] == pytest.approx(1090.0)
    consumption = daily(warehouse, "meter_daily_consumption", "old", "consumption")
    # 10 a day; on 10 Jan 10 kWh/day until 12:00, then flat: 5.
    assert consumption[3] == pytest.approx(10.0)
    assert consumption[10] == pytest.approx(5.0)


def test_new_meter_estimate_before_first_reading_is_floored_at_zero(
    warehouse,
) -> None:
    readings = daily(warehouse, "meter_daily_readings", "new", "reading")
    # 0.5 - 10 x 0.5 day < 0 at 10 Jan 00:00; 0.5 + 5 at 11 Jan 00:00.
    assert readings[10] == 0.0
    assert readings[11] == pytest.approx(5.5)
    assert readings[25] == pytest.approx(145.5)


def test_swap_day_keeps_old_and_new_meter_consumption(warehouse) -> None:
    consumption = daily(warehouse, "meter_daily_consumption", "total", "consumption")
    readings = daily(warehouse, "meter_daily_readings", "total", "reading")
    assert readings[10] == pytest.approx(1090.0)
    # The boundary (11 Jan 00:00): old reads 1095, new 5.5; carried: 1095.
    assert readings[11] == pytest.approx(1095.0)
    assert consumption[10] == pytest.approx(5.0)  # old up to the boundary
    assert consumption[11] == pytest.approx(10.0)  # new after it
    # 25 Jan runs to as_of (12:00): 5 kWh so far, partial.
    assert consumption[25] == pytest.approx(5.0)


def test_swap_month_is_old_plus_new_and_partial(warehouse) -> None:
    row = warehouse.execute(
        "select consumption, is_partial from main.meter_monthly_consumption "
        "where meter_id = 'total'"
    ).fetchone()
    # old: 1095 - 1000 = 95; new from 11 Jan 00:00 (5.5) to as_of (150.5): 145.
    assert row[0] == pytest.approx(240.0)
    assert row[1] is True


def test_virtual_meter_is_total_minus_flat(warehouse) -> None:
    consumption = daily(warehouse, "meter_daily_consumption", "common", "consumption")
    assert consumption[2] == pytest.approx(10.0 - 3.0)
    assert consumption[10] == pytest.approx(5.0 - 3.0)
    assert consumption[11] == pytest.approx(10.0 - 3.0)
    month = warehouse.execute(
        "select consumption from main.meter_monthly_consumption "
        "where meter_id = 'common'"
    ).fetchone()[0]
    # flat at as_of: 60 + 4.5 days x 3 = 73.5; common = 240 - 73.5.
    assert month == pytest.approx(166.5)


def test_master_converts_gas_cubic_metres_to_kwh(warehouse) -> None:
    consumption = daily(
        warehouse, "meter_daily_consumption", "gas_energy", "consumption"
    )
    assert consumption[5] == pytest.approx(1.0 * KWH_PER_M3)
    assert pytest.approx(10.221304) == KWH_PER_M3


def test_every_day_up_to_as_of_has_one_row(warehouse) -> None:
    counts = dict(
        warehouse.execute(
            "select meter_id, count(*) from main.meter_daily_consumption "
            "group by meter_id"
        ).fetchall()
    )
    assert counts == {
        "old": 10,
        "new": 16,  # 10..25 January
        "total": 25,
        "flat": 25,
        "common": 25,
        "gas": 25,
        "gas_energy": 25,
    }


def test_monthly_reading_is_the_reading_at_the_first_local_midnight(
    warehouse,
) -> None:
    rows = warehouse.execute(
        "select meter_id, month_start_at, reading from main.meter_monthly_readings "
        "where meter_id in ('total', 'flat') order by meter_id"
    ).fetchall()
    start = datetime(2023, 12, 31, 23, tzinfo=UTC)
    assert [(m, t.astimezone(UTC), r) for m, t, r in rows] == [
        ("flat", start, 0.0),
        ("total", start, 1000.0),
    ]
