"""`make bench METERS=n YEARS=y`: the scale benchmark (docs/interfaces.md).

Generates a synthetic house (bench/synthetic.py) in a child process; in
this process runs the dbt stage of a first `make run` on it (seeds, models
and data tests, dbt's parse included: dbt_stage_s), then rebuilds every
model alone (build_s), and prints, as its last line:
bench meters=<n> years=<y> raw_rows=<r> daily_rows=<d> build_s=<s> peak_rss_mb=<m>
followed on the same line by floor_s (the core expansion alone, in this
process: bench/whole_run.py) and dbt_stage_s. With --incremental (`make
bench`) it then starts a local influxd and adds to that line the rate of a
plain writer (server_points_per_s) and of the loader (load_points_per_s)
into it, and hourly_run_s: `python -m pipeline run` in a new process, as
cron starts it, one hour later with one new reading in InfluxDB, which
holds every landed reading (extract, incremental build, data tests on the
rebuilt rows, load).
Two hourly runs: the first follows the full build (and publishes the Tibber
hours once); the second, the steady state, is hourly_run_s.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from bench import whole_run
from bench.synthetic import SYNTHETIC_TIBBER_HOME_ID
from core import landing
from core.errors import DbtError
from core.settings import load_settings
from pipeline.dbt import build, copy_project, planned

AS_OF = datetime(2026, 11, 27, 5, tzinfo=UTC)
ROOT = Path(__file__).resolve().parent.parent


GENERATE = """
import json, sys
from datetime import datetime
from pathlib import Path
from bench.synthetic import generate
result = generate(Path(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]),
                  as_of=datetime.fromisoformat(sys.argv[4]))
print(json.dumps({"meters": result.meters, "raw_rows": result.raw_rows,
                  "hour_rows": result.hour_rows}))
"""


@dataclass
class Synthetic:
    meters: int
    raw_rows: int
    hour_rows: int
    seeds_dir: Path
    data_dir: Path


def generate_in_child(out: Path, meters: int, years: int) -> Synthetic:
    """Generation runs in its own process so its memory is not counted."""
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            GENERATE,
            str(out),
            str(meters),
            str(years),
            AS_OF.isoformat(),
        ],
        check=True,
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    counts = json.loads(done.stdout.strip().splitlines()[-1])
    return Synthetic(**counts, seeds_dir=out / "seeds", data_dir=out / "data")


def first_run_dbt_stage(settings, project: Path) -> float:
    """Seconds of the dbt stage of a first `make run`: the pipeline's build
    (seeds, models, data tests on every row) into an empty warehouse, dbt's
    import and its parse of the whole project included."""
    landing.write_run_context(settings.data_dir, AS_OF)
    started = time.perf_counter()
    build(settings, AS_OF, project)
    return time.perf_counter() - started


def models_step(settings, project: Path) -> float:
    """Seconds of `dbt run` rebuilding every model (no seeds, no tests),
    timed with the planning."""
    started = time.perf_counter()
    _, result = planned(settings, AS_OF, ["run", "--quiet"], project, full_refresh=True)
    if not result.success:
        raise DbtError(f"dbt run failed: see {settings.data_dir}/logs")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("--meters", type=int, default=1000)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--keep", action="store_true", help="keep the workdir")
    parser.add_argument(
        "--incremental",
        action="store_true",
        help="then load rates and hourly runs against a local influxd",
    )
    parser.add_argument(
        "--raw-shard-duration",
        default="52w",
        help="shard duration of the readings' database (README, Corrections at "
        "the source: 52w for a long history; 7d is InfluxDB's default)",
    )
    parser.add_argument(
        "--load-points",
        type=int,
        default=400_000,
        help="points the loader and the plain writer send (rates)",
    )
    args = parser.parse_args()

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="bench-"))
    try:
        started = time.perf_counter()
        synthetic = generate_in_child(workdir, args.meters, args.years)
        print(
            f"generated meters={synthetic.meters} raw_rows={synthetic.raw_rows} "
            f"hour_rows={synthetic.hour_rows} "
            f"seconds={time.perf_counter() - started:.1f}",
            flush=True,
        )
        project = copy_project(synthetic.seeds_dir, workdir / "project")
        settings = load_settings(
            workdir,
            {
                "DATA_DIR": str(synthetic.data_dir),
                "TIBBER_HOME_ID": SYNTHETIC_TIBBER_HOME_ID,
            },
        )
        stage_s = first_run_dbt_stage(settings, project)
        print(
            "dbt stage of a first run (seeds, models, data tests; dbt's start "
            f"and parse included): seconds={stage_s:.1f}",
            flush=True,
        )
        build_s = models_step(settings, project)
        warehouse = synthetic.data_dir / "warehouse.duckdb"
        with duckdb.connect(str(warehouse)) as db:
            daily_rows = db.execute(
                "select count(*) from main.meter_daily_consumption"
            ).fetchone()[0]
            stages = db.execute(
                "select count(*) from main.meter_daily_readings"
            ).fetchone()[0]
        print(f"models rebuilt: daily_readings={stages} seconds={build_s:.1f}")
        floor_s, floor_days = whole_run.floor_seconds(warehouse, settings.timezone)
        print(
            f"floor: {floor_days} days expanded seconds={floor_s:.1f} "
            f"(build / floor = {build_s / floor_s:.1f})",
            flush=True,
        )
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        extra = ""
        if args.incremental:
            extra = measure_runs(args, workdir, synthetic, project, warehouse)
        print(
            f"bench meters={args.meters} years={args.years} "
            f"raw_rows={synthetic.raw_rows} daily_rows={daily_rows} "
            f"build_s={build_s:.1f} peak_rss_mb={peak_mb:.0f} "
            f"floor_s={floor_s:.1f} dbt_stage_s={stage_s:.1f}{extra}",
            flush=True,
        )
    finally:
        if not args.keep and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


def measure_runs(args, workdir: Path, synthetic, project: Path, warehouse) -> str:
    """The rates and the hourly run against a local influxd (bench/whole_run.py);
    returns their fields of the last line."""
    from tests.support.fixtures_influx import start_influxd

    server = start_influxd(workdir / "influxd")
    try:
        server.query(
            f'CREATE DATABASE "{whole_run.RAW_DATABASE}" '
            f"WITH SHARD DURATION {args.raw_shard_duration}"
        )
        server.query(f'CREATE DATABASE "{whole_run.PROCESSED_DATABASE}"')
        readings = whole_run.readings_to_influx(server.url, synthetic.data_dir)
        print(
            f"InfluxDB holds the landed readings: points={readings} "
            f"shard_duration={args.raw_shard_duration}",
            flush=True,
        )
        settings = whole_run.influx_settings(
            synthetic.data_dir, server.url, TIBBER_HOME_ID=SYNTHETIC_TIBBER_HOME_ID
        )
        lines = whole_run.prepare_sample(settings, warehouse, AS_OF, args.load_points)
        server_rate = whole_run.server_rate(server.url, lines)
        print(
            f"plain writer: points={len(lines)} points_per_s={server_rate:,.0f}",
            flush=True,
        )
        del lines
        load = whole_run.loader_rate(settings, warehouse, AS_OF)
        print(
            f"loader: points={load.points} seconds={load.seconds:.1f} "
            f"(comparing {load.seconds - load.write_seconds:.1f}, "
            f"sending {load.write_seconds:.1f}) "
            f"points_per_s={load.per_second:,.0f} "
            f"({load.per_second / server_rate:.0%} of the plain writer)",
            flush=True,
        )
        hourly_s = 0.0
        for hour in (1, 2):
            as_of = AS_OF + timedelta(hours=hour)
            add_one_reading(server.url, warehouse, as_of)
            hourly_s, output = whole_run.hourly_run(
                synthetic.data_dir,
                project,
                server.url,
                as_of,
                SYNTHETIC_TIBBER_HOME_ID,
            )
            stages = " | ".join(
                line.strip()
                for line in output.splitlines()
                if line.startswith(("[extract]", "[dbt]", "[load]"))
            )
            print(f"hourly run {hour}: seconds={hourly_s:.1f} ({stages})", flush=True)
    finally:
        server.stop()
    return (
        f" hourly_run_s={hourly_s:.1f} load_points_per_s={load.per_second:.0f} "
        f"server_points_per_s={server_rate:.0f}"
    )


def add_one_reading(url: str, warehouse: Path, as_of: datetime) -> None:
    """One new reading of one meter in InfluxDB, half an hour before
    `as_of`, as an hourly run would find it."""
    with duckdb.connect(str(warehouse)) as db:
        meter, value, unit = db.execute(
            "select meter_id, raw_value, unit "
            "from intermediate.int_readings_classified "
            "where reading_status = 'valid' "
            "order by measured_at desc, meter_id limit 1"
        ).fetchone()
    whole_run.reading_to_influx(
        url, meter, unit, value + 1.0, as_of - timedelta(minutes=30)
    )


if __name__ == "__main__":
    main()
