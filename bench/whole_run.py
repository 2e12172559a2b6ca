"""The benchmark's measurements beyond the full build (bench/__main__.py).

- `floor_seconds`: the core expansion alone, in DuckDB, in this process:
  every segment between consecutive readings cut into its local days, the
  counter interpolated at each day's start, written to a table. What the
  build cannot beat; build_s / floor_s says how close it is on any machine.
- `server_rate`: a plain writer's points/second into the local influxd:
  the lines the loader will send, built beforehand, POSTed in batches of
  50,000 lines into another database.
- `loader_rate`: the loader's (load/publish.py) points/second into the same
  server: the marts' points of the first meters (about `points` of them)
  published, the others recorded as already published, as a previous run
  would have left them. The rate is of its sending (lines built, batches
  confirmed and remembered); comparing all marts with the published state
  comes before, timed apart.
- `hourly_run`: `python -m pipeline run` in a new process, as cron starts
  it, one hour after the last run, with one new reading in InfluxDB (which
  holds every landed reading, `readings_to_influx`): extract (reconcile,
  nothing else new), incremental build, data tests on the rebuilt rows, load.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import duckdb
import requests

from core import influxdb, landing
from core.settings import Settings, load_settings
from load import publish

ROOT = Path(__file__).resolve().parent.parent
PLAIN_BATCH_LINES = 50_000
RAW_DATABASE = "raw"
PROCESSED_DATABASE = "processed"
PLAIN_DATABASE = "plain"

FLOOR_SQL = """
create or replace temp table floor_days as
with segments as (
    select
        meter_id,
        reading_at as start_at,
        reading_value as start_value,
        lead(reading_at) over meter as end_at,
        lead(reading_value) over meter as end_value
    from floor_readings
    window meter as (partition by meter_id order by reading_at)
),

days as (
    select
        meter_id, start_at, start_value, end_at, end_value,
        unnest(generate_series(
            timezone(getvariable('zone'), start_at)::date + 1,
            timezone(getvariable('zone'), end_at)::date,
            interval 1 day
        ))::date as day
    from segments
    where end_at is not null
)

select
    meter_id,
    day,
    timezone(getvariable('zone'), day::timestamp) as day_start_at,
    start_value + (end_value - start_value)
    * (epoch(timezone(getvariable('zone'), day::timestamp)) - epoch(start_at))
    / (epoch(end_at) - epoch(start_at)) as reading_value
from days
"""


def floor_seconds(warehouse: Path, timezone: str) -> tuple[float, int]:
    """(seconds, days written): the core expansion of the readings the build
    used (intermediate.int_readings_combined), timed alone."""
    with duckdb.connect(str(warehouse)) as db:
        db.execute(
            "create or replace temp table floor_readings as select meter_id, "
            "reading_at, reading_value from intermediate.int_readings_combined"
        )
        started = time.perf_counter()
        expand(db, timezone)
        seconds = time.perf_counter() - started
        (days,) = db.execute("select count(*) from floor_days").fetchone()
    return seconds, days


def expand(db: duckdb.DuckDBPyConnection, timezone: str) -> None:
    """floor_readings (meter_id, reading_at, reading_value) -> floor_days."""
    db.execute("set variable zone = ?", [timezone])
    db.execute(FLOOR_SQL)


def influx_settings(data_dir: Path, url: str, **extra: str) -> Settings:
    return load_settings(
        data_dir,
        {
            "DATA_DIR": str(data_dir),
            "INFLUX_URL": url,
            "INFLUX_API_VERSION": "1",
            "INFLUX_BUCKET_RAW": RAW_DATABASE,
            "INFLUX_BUCKET_PROCESSED": PROCESSED_DATABASE,
            **extra,
        },
    )


def post_lines(
    session: requests.Session,
    url: str,
    database: str,
    lines: list[str],
    precision: str = "s",
) -> None:
    """Lines POSTed to InfluxDB 1.x in batches of 50,000."""
    for first in range(0, len(lines), PLAIN_BATCH_LINES):
        body = "\n".join(lines[first : first + PLAIN_BATCH_LINES]).encode()
        response = session.post(
            f"{url}/write",
            params={"db": database, "precision": precision},
            data=body,
            timeout=600,
        )
        response.raise_for_status()


def server_rate(url: str, lines: list[str], database: str = PLAIN_DATABASE) -> float:
    """points/second of plain POSTs of 50,000 lines each."""
    with requests.Session() as session:
        session.post(f"{url}/query", params={"q": f'CREATE DATABASE "{database}"'})
        started = time.perf_counter()
        post_lines(session, url, database, lines)
        seconds = time.perf_counter() - started
    return len(lines) / seconds


# A reading in Home Assistant's schema (extract/influx.py), from columns
# meter_id, unit, value and measured_at; the synthetic ids need no escaping.
HA_LINE_SQL = (
    "unit || ',domain=input_number,entity_id=' || meter_id || ' value=' "
    "|| value::varchar || ' ' || epoch_us(measured_at)::varchar"
)


def readings_to_influx(url: str, data_dir: Path) -> int:
    """The landed readings written to RAW_DATABASE in Home Assistant's
    schema: InfluxDB then holds what the landing zone holds, as after a real
    first run, so the hourly runs' extraction reconciles the two (and finds
    them equal) as it does at home. Returns the number of points."""
    with duckdb.connect() as db:
        db.register("landed", landing.current(data_dir, "readings"))
        rows = db.execute(f"select {HA_LINE_SQL} from landed").fetchall()
    lines = [line for (line,) in rows]
    with requests.Session() as session:
        post_lines(session, url, RAW_DATABASE, lines, precision="u")
    return len(lines)


def reading_to_influx(
    url: str, meter_id: str, unit: str, value: float, measured_at: datetime
) -> None:
    """One new reading in InfluxDB, for the next run's extraction to find."""
    with duckdb.connect() as db:
        (line,) = db.execute(
            f"select {HA_LINE_SQL} from (select ? as meter_id, ? as unit, "
            "?::double as value, ?::timestamptz as measured_at)",
            [meter_id, unit, value, measured_at],
        ).fetchone()
    with requests.Session() as session:
        post_lines(session, url, RAW_DATABASE, [line], precision="u")


@dataclass
class LoadRate:
    """The loader's points and its seconds: in all, and sending them (its
    rate; the rest is comparing the marts with what was published)."""

    points: int
    seconds: float
    write_seconds: float

    @property
    def per_second(self) -> float:
        return self.points / self.write_seconds if self.write_seconds else 0.0


def prepare_sample(
    settings: Settings, warehouse: Path, as_of: datetime, points: int
) -> list[str]:
    """Records the marts' points as published but for those of the first
    meters (about `points`), as a previous run would have left them;
    returns the lines the loader will send for those, for the plain writer."""
    target = influxdb.InfluxTarget.from_settings(settings)
    as_of_s = int(as_of.timestamp())
    with duckdb.connect(str(warehouse)) as db:
        marts = publish._check_marts(db, warehouse)
        publish.ensure_state(db)
        publish._adopt_target(
            db, publish._target_key(target, settings.influx_bucket_processed)
        )
        db.execute("set variable tibber_meter_id = ?", [settings.tibber_meter_id])
        publish._diff(db, as_of_s, marts)
        columns = ", ".join(publish.FIELDS)
        db.execute(
            f"""
            insert into {publish.STATE_TABLE}
                (measurement, meter_id, time_s, {columns})
            with per_meter as (
                select meter_id, count(*) as points from diff
                where is_wanted group by meter_id
            ),
            running as (
                select meter_id,
                    sum(points) over (order by meter_id) - points as before
                from per_meter
            )
            select measurement, meter_id, time_s, {columns} from diff
            where is_wanted and meter_id in (
                select meter_id from running where before >= ?
            )
            """,
            [points],
        )
        publish._diff(db, as_of_s, marts)
        (total,) = db.execute("select count(*) from diff where is_wanted").fetchone()
        lines, _ = publish._lines_sql(db, 1, total)
    return lines


def loader_rate(settings: Settings, warehouse: Path, as_of: datetime) -> LoadRate:
    """The loader publishing what prepare_sample left unpublished."""
    result = publish.publish_marts(settings, warehouse, as_of=as_of)
    return LoadRate(result.points_written, result.seconds, result.write_seconds)


def hourly_run(
    data_dir: Path, project: Path, url: str, as_of: datetime, tibber_home_id: str
) -> tuple[float, str]:
    """(seconds, output) of `python -m pipeline run` in a new process."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("INFLUX_", "TIBBER_", "DBT_", "NOTIFY_"))
    }
    environment.update(
        {
            "DATA_DIR": str(data_dir),
            "DBT_PROJECT_DIR": str(project),
            "AS_OF": as_of.isoformat(),
            "INFLUX_URL": url,
            "INFLUX_API_VERSION": "1",
            "INFLUX_BUCKET_RAW": RAW_DATABASE,
            "INFLUX_BUCKET_PROCESSED": PROCESSED_DATABASE,
            "TIBBER_API_TOKEN": "",
            "TIBBER_HOME_ID": tibber_home_id,
            "NOTIFY_URLS": "",
            "PYTHONPATH": str(ROOT),
        }
    )
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "pipeline", "run"],
        cwd=data_dir.parent,  # no .env or secrets/ there
        env=environment,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"the hourly run failed: {(done.stderr or done.stdout).strip()[-400:]}"
        )
    return seconds, done.stdout
