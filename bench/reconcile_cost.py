"""What reconciling with InfluxDB costs an hourly run (prints numbers; not a test).

    .venv/bin/python -m bench.reconcile_cost [--meters 1000] [--years 10] [--daily]

Starts a private influxd (the test suite's `start_influxd`, default shard
duration of 7 days, as Home Assistant's database has; --shard-duration to
change), writes the readings of
a synthetic house (bench/synthetic.py: manual readings every 2 to 6 weeks) or,
with --daily, one reading a day per physical meter, lands them with a full
extract, then times

- the fingerprint query alone (every landed meter, everything before the
  window), and
- a whole hourly extract with nothing changed (fingerprint + window read),
- the same after one reading was corrected in place and another deleted,
  years back (two meters read again in full).

Prints one line per measurement, the last:

    reconcile meters=<n> years=<y> points=<p> fingerprint_s=<s> ...
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pyarrow as pa

from bench.synthetic import generate
from core import landing
from core.influxdb import InfluxTarget
from core.settings import load_settings
from extract import fingerprint
from extract.influx import extract_readings, landed_watermarks
from pipeline.run import physical_meter_units
from tests.support.fixtures_influx import InfluxServer, start_influxd

AS_OF = datetime(2026, 11, 27, 10, tzinfo=UTC)
WRITE_BATCH = 50_000
DB = "bench"


def escape(text: str) -> str:
    return text.replace(",", "\\,").replace(" ", "\\ ").replace("=", "\\=")


def line(unit: str, meter_id: str, value: float, epoch_us: int) -> str:
    return (
        f"{escape(unit)},domain=input_number,entity_id={escape(meter_id)} "
        f"value={value!r} {epoch_us}"
    )


def synthetic_lines(readings: pa.Table) -> list[str]:
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return [
        line(r["unit"], r["meter_id"], r["value"], (r["measured_at"] - epoch) // _US)
        for r in readings.to_pylist()
    ]


_US = timedelta(microseconds=1)


def daily_lines(units: dict[str, str], years: int) -> list[str]:
    first = int((AS_OF - timedelta(days=365 * years)).timestamp())
    return [
        line(unit, meter_id, 1000.0 * index + 0.25 * day, (first + 86400 * day) * 10**6)
        for index, (meter_id, unit) in enumerate(units.items())
        for day in range(365 * years)
    ]


def write(server: InfluxServer, lines: list[str]) -> None:
    for start in range(0, len(lines), WRITE_BATCH):
        server.write(DB, "\n".join(lines[start : start + WRITE_BATCH]), precision="u")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--daily", action="store_true", help="a reading a day")
    parser.add_argument(
        "--shard-duration",
        default="",
        help="e.g. 52w (default: InfluxDB's 7 days for an infinite retention)",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-reconcile-") as temp:
        root = Path(temp)
        house = generate(root / "house", args.meters, args.years, as_of=AS_OF)
        units = physical_meter_units(house.seeds_dir)
        if args.daily:
            lines = daily_lines(units, args.years)
        else:
            lines = synthetic_lines(landing.current(house.data_dir, "readings"))
        server = start_influxd(root / "influxd")
        try:
            create = f'CREATE DATABASE "{DB}"'
            if args.shard_duration:
                create += f" WITH SHARD DURATION {args.shard_duration}"
            server.query(create)
            began = time.perf_counter()
            write(server, lines)
            print(
                f"written points={len(lines)} seconds={time.perf_counter() - began:.1f}"
            )
            settings = load_settings(
                root=root,
                environ={
                    "INFLUX_URL": server.url,
                    "INFLUX_API_VERSION": "1",
                    "INFLUX_BUCKET_RAW": DB,
                    "DATA_DIR": str(root / "data"),
                },
            )
            began = time.perf_counter()
            first = extract_readings(settings, units)
            print(
                f"full extract points={first.points_read} "
                f"seconds={time.perf_counter() - began:.1f}"
            )

            # the fingerprint query alone, as an hourly run sends it
            landed = landed_watermarks(settings.data_dir)
            stop = max(landed.values()) - timedelta(days=7)
            target = InfluxTarget.from_settings(settings)
            began = time.perf_counter()
            compared = fingerprint.compare(
                target, DB, settings.data_dir, sorted(landed), stop
            )
            fingerprint_s = time.perf_counter() - began
            began = time.perf_counter()
            fingerprint.source_prints(target, DB, sorted(landed), stop)
            query_s = time.perf_counter() - began

            began = time.perf_counter()
            hourly = extract_readings(settings, units)
            hourly_s = time.perf_counter() - began

            # a correction and a deletion, years back, on two meters
            readings = landing.current(settings.data_dir, "readings").sort_by(
                [("measured_at", "ascending")]
            )
            old = readings.slice(0, 2).to_pylist()
            epoch = datetime(1970, 1, 1, tzinfo=UTC)
            fixed = old[0]
            server.write(
                DB,
                line(
                    fixed["unit"],
                    fixed["meter_id"],
                    fixed["value"] + 10.0,  # a slipped digit
                    (fixed["measured_at"] - epoch) // _US,
                ),
                precision="u",
            )
            gone = old[1]
            server.query(
                f'DELETE FROM "{gone["unit"]}" WHERE "entity_id" = '
                f"'{gone['meter_id']}' AND time = "
                f"{(gone['measured_at'] - epoch) // _US * 1000}",
                db=DB,
            )
            began = time.perf_counter()
            changed = extract_readings(settings, units)
            changed_s = time.perf_counter() - began
        finally:
            server.stop()
    print(
        f"fingerprint meters={len(landed)} series={compared.series} "
        f"points_counted={compared.points} differing={len(compared.differing)} "
        f"query_s={query_s:.2f} with_landing_side_s={fingerprint_s:.2f}"
    )
    print(
        f"hourly nothing_changed points_read={hourly.points_read} "
        f"reread={len(hourly.reread_meters)} seconds={hourly_s:.2f}"
    )
    print(
        f"hourly one_corrected_one_deleted points_read={changed.points_read} "
        f"reread={len(changed.reread_meters)} rows_written={changed.rows_written} "
        f"rows_deleted={changed.rows_deleted} seconds={changed_s:.2f}"
    )
    print(
        f"reconcile meters={len(units)} years={args.years} points={len(lines)} "
        f"shard_duration={args.shard_duration or '7d'} "
        f"fingerprint_s={query_s:.2f} fingerprint_points={compared.points} "
        f"hourly_extract_s={hourly_s:.2f} hourly_points_read={hourly.points_read} "
        f"after_change_s={changed_s:.2f} after_change_points_read="
        f"{changed.points_read}"
    )


if __name__ == "__main__":
    main()
