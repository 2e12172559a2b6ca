"""Faults during a real `python -m pipeline run` (tests/support/fixtures_pipeline.py).

Each case runs the command as a subprocess against a real influxd 1.6 and the
local Tibber server, with recognisable tokens, and checks what the user sees
(one `error [stage]: ...` line, exit status), that nothing was half-done, that
the next healthy run ends with exactly the results of an undisturbed run
(`baseline`), and that no token leaked into output or DATA_DIR.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable

import pytest

from tests.support.fixtures_influx import InfluxServer
from tests.support.fixtures_pipeline import (
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


def house_with_auth(
    influxd_factory: Callable[..., InfluxServer],
    house_factory: Callable[..., House],
) -> tuple[InfluxServer, House]:
    """A house on its own influxd that requires the pipeline's user."""
    server = influxd_factory(auth=True)
    add_influx_user(server)
    return server, house_factory(server, influx_token=INFLUX_TOKEN)


def unreachable(server: InfluxServer) -> str:
    return (
        f"error [influxdb]: cannot reach InfluxDB at {server.url}: "
        "is it running? check INFLUX_URL"
    )


def test_influxdb_stopped_before_the_run_names_it_and_leaves_landing_untouched(
    influxd_factory: Callable[..., InfluxServer],
    house_factory: Callable[..., House],
    baseline: Baseline,
) -> None:
    server, house = house_with_auth(influxd_factory, house_factory)
    house.use_copy_of(baseline.data_dir)
    before = landing_listing(house.data_dir)
    server.stop()

    result = house.run()

    assert assert_one_error_line(result) == unreachable(server)
    assert landing_listing(house.data_dir) == before
    assert_no_secret_leak(result, house.data_dir)


def test_influxdb_stopped_during_the_load_is_completed_by_the_next_run(
    influxd_factory: Callable[..., InfluxServer],
    house_factory: Callable[..., House],
    baseline: Baseline,
) -> None:
    server, house = house_with_auth(influxd_factory, house_factory)
    process = house.start()
    # the third confirmed batch of marts: some points are published, most not
    wait_for_log(house.data_dir, "event=load.batch number=3 ", process)
    crash_influxd(server)
    out, err = process.communicate(timeout=120)
    stopped = subprocess.CompletedProcess(process.args, process.returncode, out, err)

    assert assert_one_error_line(stopped) == unreachable(server)
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


def kill_when_logged(house: House, log: str, needle: str) -> None:
    """Start a run, SIGKILL it as soon as DATA_DIR/logs/<log> shows needle."""
    process = house.start()
    wait_for_log(house.data_dir, needle, process, log=log)
    killed = kill_hard(process)
    assert killed.returncode == -signal.SIGKILL
    assert_no_secret_leak(killed, house.data_dir)


def test_runs_killed_in_each_stage_are_completed_by_the_next_run(
    house: House, baseline: Baseline
) -> None:
    """Three runs in a row, each killed with SIGKILL in another stage, then
    one healthy run: it ends exactly where an undisturbed run ends."""
    # extract: InfluxDB readings landed, Tibber paging under way
    kill_when_logged(house, "pipeline.jsonl", "event=tibber_page ")
    landed = landing_rows(house.data_dir)  # every landed file reads whole
    assert landed["readings"] == baseline.landing["readings"]
    assert landed["tibber_hours"] == set()  # all pages or nothing

    # dbt: halfway through the models; nothing published yet
    kill_when_logged(
        house, "dbt.log", "START sql incremental model intermediate.int_master_readings"
    )
    assert landing_rows(house.data_dir) == baseline.landing
    assert house.processed() == {}

    # load: two batches of marts confirmed
    kill_when_logged(house, "pipeline.jsonl", "event=load.batch number=2 ")
    published = sum(len(points) for points in house.processed().values())
    assert 0 < published < sum(len(p) for p in baseline.processed.values())

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
    assert line == (
        f"error [dbt]: the warehouse {warehouse} is open in another process "
        f"(pid {holder.pid}): close it (`make shell` opens a snapshot instead) "
        "and run again; nothing was published"
    )
    assert house.processed() == {}
    assert house.raw().keys() == {"kWh", "MWh", "m³"}  # no Tibber hours either
    assert_no_secret_leak(result, house.data_dir)
