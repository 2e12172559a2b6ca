"""The benchmark's measurements beyond the build (bench/whole_run.py), at tiny
sizes: what they measure is right; how fast is for `make bench` to print."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pyarrow.compute as pc
import pytest

from bench import whole_run
from bench.load_throughput import build_marts
from core import landing
from tests.support.fixtures_influx import InfluxServer
from tests.support.fixtures_pipeline import land_readings


def test_floor_cuts_a_segment_into_its_local_days_with_the_counter() -> None:
    """Readings 0 at 2024-01-01 12:00 and 72 at 2024-01-04 12:00 (Berlin,
    UTC+1): 72 hours at 1 per hour. The local midnights between them start
    01-02 (12 h after the first reading: 12), 01-03 (36) and 01-04 (60)."""
    with duckdb.connect() as db:
        db.execute(
            "create temp table floor_readings as select * from (values "
            "('m', timestamptz '2024-01-01 11:00:00+00', 0.0), "
            "('m', timestamptz '2024-01-04 11:00:00+00', 72.0)) "
            "as t(meter_id, reading_at, reading_value)"
        )
        whole_run.expand(db, "Europe/Berlin")
        rows = db.execute(
            "select day, day_start_at, reading_value from floor_days order by day"
        ).fetchall()
    assert [(row[0], round(row[2], 9)) for row in rows] == [
        (date(2024, 1, 2), 12.0),
        (date(2024, 1, 3), 36.0),
        (date(2024, 1, 4), 60.0),
    ]
    assert rows[0][1] == datetime(2024, 1, 1, 23, tzinfo=UTC)


def series_points(server: InfluxServer, database: str) -> dict[str, int]:
    """Points per meter_id in `database` (all measurements)."""
    answer = server.query('select count(*) from /.*/ group by "meter_id"', db=database)
    counts: dict[str, int] = {}
    for series in answer["results"][0].get("series", []):
        meter = series["tags"]["meter_id"]
        row = series["values"][0]
        counts[meter] = counts.get(meter, 0) + max(v for v in row[1:] if v)
    return counts


def test_the_loader_sends_the_first_meters_and_records_the_rest(
    influxd: InfluxServer, influx_db: str, tmp_path: Path
) -> None:
    """20 meters x 100 days from 2015-01-01: per meter 100 daily readings,
    100 daily consumptions and 4 monthly readings (Jan to Apr) = 204 points.
    Asked for 1,000: the meters whose predecessors hold fewer than 1,000
    points (0, 204, 408, 612, 816 before them) are sent: 5 x 204 = 1,020,
    the lines the plain writer gets too."""
    warehouse = tmp_path / "warehouse.duckdb"
    assert build_marts(warehouse, 20, 100, consumption=True) == 20 * 204
    settings = whole_run.influx_settings(
        tmp_path, influxd.url, INFLUX_BUCKET_PROCESSED=influx_db
    )

    as_of = datetime(2016, 1, 1, tzinfo=UTC)
    lines = whole_run.prepare_sample(settings, warehouse, as_of, 1_000)
    rate = whole_run.loader_rate(settings, warehouse, as_of)

    assert len(lines) == rate.points == 1_020
    assert rate.per_second > 0
    assert series_points(influxd, influx_db) == {
        f"meter_{n:05d}": 204 for n in range(5)
    }
    with duckdb.connect(str(warehouse)) as db:
        (recorded,) = db.execute(
            "select count(*) from run_state.published_points"
        ).fetchone()
    assert recorded == 20 * 204


@pytest.mark.parametrize("count", [3, 50_001])
def test_the_plain_writer_sends_every_line(
    influxd: InfluxServer, tmp_path: Path, count: int
) -> None:
    """50,001 lines: one batch of 50,000 and one of 1."""
    database = f"plain_{count}"
    lines = [f"m,meter_id=a value={n} {1_500_000_000 + n}" for n in range(count)]

    assert whole_run.server_rate(influxd.url, lines, database) > 0

    answer = influxd.query("select count(value) from m", db=database)
    assert answer["results"][0]["series"][0]["values"][0][1] == count
    influxd.query(f'DROP DATABASE "{database}"')


def test_landed_readings_written_to_influxdb_are_what_the_extractor_reads_back(
    influxd: InfluxServer, tmp_path: Path
) -> None:
    """The bench's InfluxDB holds the landed readings (and then one new one)
    in Home Assistant's schema: the extractor finds every landed meter equal
    to InfluxDB (nothing re-read, nothing new) and then the one new reading."""
    from extract.influx import extract_readings

    data_dir = tmp_path / "data"
    rows = [
        ("flat_1", "kWh", 100.25, datetime(2026, 1, 1, 10, tzinfo=UTC)),
        ("flat_1", "kWh", 130.5, datetime(2026, 1, 2, 10, 30, 15, 250, tzinfo=UTC)),
        ("water_1", "m³", 12.125, datetime(2026, 1, 1, 9, tzinfo=UTC)),
    ]
    land_readings(data_dir, rows, datetime(2026, 1, 3, tzinfo=UTC))
    influxd.query(f'CREATE DATABASE "{whole_run.RAW_DATABASE}"')
    settings = whole_run.influx_settings(data_dir, influxd.url)
    units = {"flat_1": "kWh", "water_1": "m³"}
    try:
        assert whole_run.readings_to_influx(influxd.url, data_dir) == 3

        same = extract_readings(settings, units)
        assert (same.rows_written, same.reread_meters) == (0, [])

        new_at = datetime(2026, 1, 3, 9, 30, tzinfo=UTC)
        whole_run.reading_to_influx(influxd.url, "water_1", "m³", 13.5, new_at)
        found = extract_readings(settings, units)
        assert (found.rows_written, found.reread_meters) == (1, [])
        current = landing.current(data_dir, "readings")
        new = current.filter(pc.equal(current["measured_at"], new_at))
        assert new.column("value").to_pylist() == [13.5]
    finally:
        influxd.query(f'DROP DATABASE "{whole_run.RAW_DATABASE}"')
