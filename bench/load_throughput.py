"""How fast the loader publishes (prints numbers; not a test).

    .venv/bin/python -m bench.load_throughput [--meters 1000] [--years 10]
        [--full-load]

Starts a private InfluxDB 1.x (the test suite's `start_influxd`) and measures:
1. points/second of a first load of ~40,000 points (20 meters x 1,000 days,
   daily readings and daily consumption) into the local server;
2. the loader's wall time for an unchanged rerun of those ~40,000 points;
3. with a mart of METERS x YEARS of daily readings (+ monthly readings), the
   wall time of an unchanged rerun and of a run after one changed reading.
   Without --full-load the first publication of that mart is not sent: the
   published state is copied from the marts, as a previous run would have left
   it; with --full-load it is really written (and its points/second printed).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import duckdb

from core.settings import load_settings
from load.publish import MARTS, ensure_state, publish_marts
from tests.support.fixtures_influx import InfluxServer, start_influxd

DAILY = "meter_daily_readings"
MONTHLY = "meter_monthly_readings"


def build_marts(warehouse: Path, meters: int, days: int, consumption: bool) -> int:
    """Synthetic marts (UTC days, one kWh a day); returns the number of points."""
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute("set TimeZone = 'UTC'")
        connection.execute(
            f"""
            create or replace table main.{DAILY} as
            select
                'meter_' || lpad(m::varchar, 5, '0') as meter_id,
                'physical' as meter_type, 'kWh' as unit,
                (date '2015-01-01' + d::int) as day,
                (timestamptz '2015-01-01 00:00:00+00' + d * interval 1 day)
                    as day_start_at,
                1000.0 * m + d + 0.25 as reading,
                'linear' as reading_method,
                false as is_estimated
            from range({meters}) as meters(m), range({days}) as days(d)
            """
        )
        connection.execute(
            f"""
            create or replace table main.{MONTHLY} as
            select
                meter_id, meter_type, unit, day as month,
                day_start_at as month_start_at, reading, reading_method,
                is_estimated
            from main.{DAILY} where day_start_at::date = date_trunc('month', day)
            """
        )
        consumption_sql = (
            f"""
            select meter_id, meter_type, unit, day, day_start_at,
                1.0 as consumption, false as is_estimated, false as is_partial
            from main.{DAILY}
            """
            if consumption
            else f"""
            select meter_id, meter_type, unit, day, day_start_at,
                1.0 as consumption, false as is_estimated, false as is_partial
            from main.{DAILY} where false
            """
        )
        connection.execute(
            f"create or replace table main.meter_daily_consumption as {consumption_sql}"
        )
        connection.execute(
            "create or replace table main.meter_monthly_consumption as "
            "select meter_id, meter_type, unit, day as month, "
            "day_start_at as month_start_at, consumption, is_estimated, is_partial "
            "from main.meter_daily_consumption where false"
        )
        connection.execute(
            "create or replace table main.meter_anomalies as "
            "select meter_id, unit, day, day_start_at, consumption, "
            "1.0 as expected, 1.0 as ratio, 'factor' as rule "
            "from main.meter_daily_consumption where false"
        )
        connection.execute(
            "create or replace table main.meter_interval_anomalies as "
            "select meter_id, unit, day as first_day, "
            "day_start_at as first_day_start_at, day as last_day, "
            "day_start_at as started_at, day_start_at as ended_at, "
            "1.0 as days, consumption, 1.0 as expected, 1.0 as ratio, "
            "'trailing_intervals' as expected_from, 'factor' as rule "
            "from main.meter_daily_consumption where false"
        )
        total = 0
        for mart in (mart for mart in MARTS if mart.required):
            (count,) = connection.execute(
                f"select count(*) from main.{mart.table}"
            ).fetchone() or (0,)
            total += count
        return total


def pretend_published(warehouse: Path, settings_url: str, bucket: str) -> None:
    """Fill run_state as if everything had been published to this target."""
    with duckdb.connect(str(warehouse)) as connection:
        ensure_state(connection)
        connection.execute(
            "insert into run_state.published_points (measurement, meter_id, "
            "time_s, value, consumption, expected, ratio, is_estimated, is_partial) "
            "select 'meter_interpolated_daily', meter_id, "
            "(epoch_ms(day_start_at) // 1000)::bigint, reading, null, null, null, "
            f"is_estimated::double, null, null from main.{DAILY} "
            "union all "
            "select 'meter_interpolated_monthly', meter_id, "
            "(epoch_ms(month_start_at) // 1000)::bigint, reading, null, null, null, "
            f"is_estimated::double, null, null from main.{MONTHLY}"
        )
        connection.execute(
            "insert into run_state.published_target values (?)",
            [f"{settings_url} {bucket}"],
        )


def change_one_reading(warehouse: Path) -> None:
    with duckdb.connect(str(warehouse)) as connection:
        connection.execute(
            f"update main.{DAILY} set reading = reading + 0.5 "
            f"where meter_id = 'meter_00007' and day = date '2020-06-15'"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--full-load", action="store_true")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench_load_") as folder:
        root = Path(folder)
        server: InfluxServer = start_influxd(root / "influxd")
        try:
            run(server, root, args.meters, args.years * 365, args.full_load)
        finally:
            server.stop()


def run(server: InfluxServer, root: Path, meters: int, days: int, full: bool) -> None:
    server.query('CREATE DATABASE "processed"')
    small = root / "small"
    small.mkdir()
    settings = load_settings(
        small,
        {
            "INFLUX_URL": server.url,
            "INFLUX_API_VERSION": "1",
            "INFLUX_BUCKET_PROCESSED": "processed",
            "DATA_DIR": str(small),
        },
    )
    warehouse = small / "warehouse.duckdb"
    points = build_marts(warehouse, 20, 1000, consumption=True)
    first = publish_marts(settings, warehouse)
    print(
        f"first_load points={first.points_written} seconds={first.seconds:.2f} "
        f"points_per_s={first.points_written / first.seconds:,.0f}"
    )
    again = publish_marts(settings, warehouse)
    print(
        f"unchanged_rerun points={points} written={again.points_written} "
        f"seconds={again.seconds:.3f}"
    )

    big = root / "big"
    big.mkdir()
    server.query('CREATE DATABASE "big"')
    settings = load_settings(
        big,
        {
            "INFLUX_URL": server.url,
            "INFLUX_API_VERSION": "1",
            "INFLUX_BUCKET_PROCESSED": "big",
            "DATA_DIR": str(big),
        },
    )
    warehouse = big / "warehouse.duckdb"
    started = time.monotonic()
    points = build_marts(warehouse, meters, days, consumption=False)
    print(
        f"big_mart meters={meters} days={days} points={points} "
        f"build_s={time.monotonic() - started:.1f}"
    )
    if full:
        first = publish_marts(settings, warehouse)
        print(
            f"big_first_load points={first.points_written} "
            f"seconds={first.seconds:.1f} "
            f"points_per_s={first.points_written / first.seconds:,.0f}"
        )
    else:
        pretend_published(warehouse, server.url, "big")
    again = publish_marts(settings, warehouse)
    print(
        f"big_unchanged_rerun points={points} written={again.points_written} "
        f"seconds={again.seconds:.2f}"
    )
    change_one_reading(warehouse)
    changed = publish_marts(settings, warehouse)
    print(
        f"big_one_changed_reading points={points} written={changed.points_written} "
        f"seconds={changed.seconds:.2f}"
    )


if __name__ == "__main__":
    main()
