"""`make run` in demo mode, end to end: the summary it prints is the truth
about what it built, and a second run with the same inputs does no new work
(with --full-tests, which a plain retry would skip: tests/test_unchanged_rerun.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import duckdb
import pytest

from extract import landing
from tests.fixtures_demo import run_pipeline


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    data_dir = tmp_path_factory.mktemp("demo-twice")
    first = run_pipeline(data_dir)
    assert first.returncode == 0, first.stderr
    second = run_pipeline(data_dir, "run", "--full-tests")
    assert second.returncode == 0, second.stderr
    return data_dir, first.stdout, second.stdout


def summary_numbers(stdout: str) -> dict[str, int]:
    numbers = {}
    for key, value in re.findall(r"(demo_readings|demo_tibber_hours)=(\d+)", stdout):
        numbers[key] = int(value)
    match = re.search(
        r"dbt: (\d+) models, (\d+) seeds, (\d+) unit tests; data tests (\d+) "
        r"passed, (\d+) warned, (\d+) failed",
        stdout,
    )
    assert match, stdout
    keys = ("models", "seeds", "unit_tests", "passed", "warned", "failed")
    numbers.update(zip(keys, map(int, match.groups()), strict=True))
    anomalies = re.search(r"anomalies: (\d+) \((\d+) new\)", stdout)
    assert anomalies, stdout
    numbers["anomalies"], numbers["new_anomalies"] = map(int, anomalies.groups())
    return numbers


def test_summary_counts_what_dbt_built_and_tested(two_runs) -> None:
    """The second run's summary against dbt's own record of that run: an
    incremental build, without the seeds and static views, every data test."""
    data_dir, first, second = two_runs
    numbers = summary_numbers(second)
    results = json.loads((data_dir / "target" / "run_results.json").read_text())
    kinds: dict[str, int] = {}
    for result in results["results"]:
        kind = result["unique_id"].split(".")[0]
        if kind == "test" and result["status"] != "pass":
            kind = f"test_{result['status']}"
        kinds[kind] = kinds.get(kind, 0) + 1
    assert numbers["models"] == kinds["model"]
    assert numbers["seeds"] == kinds.get("seed", 0) == 0
    assert numbers["unit_tests"] == kinds.get("unit_test", 0)
    assert numbers["passed"] == kinds["test"] == summary_numbers(first)["passed"]
    assert numbers["failed"] == 0
    assert numbers["warned"] == kinds.get("test_warn", 0)
    assert summary_numbers(first)["seeds"] == 4
    assert "full build (first build)" in first
    assert "incremental: 0 meters rebuilt" in second


def test_summary_counts_the_landed_rows_and_the_anomalies(two_runs) -> None:
    data_dir, first, _ = two_runs
    numbers = summary_numbers(first)
    readings = landing.current(data_dir, "readings", ["meter_id", "measured_at"])
    stored = duckdb.connect()
    files = stored.execute(
        "select count(*) from read_parquet(?)",
        [landing.glob(data_dir, "readings")],
    ).fetchone()[0]
    assert numbers["demo_readings"] == files  # every row landed, once
    assert readings.num_rows <= files  # one duplicate instant is superseded
    with duckdb.connect(str(data_dir / "snapshot" / "warehouse.duckdb")) as db:
        anomalies = db.execute("select count(*) from meter_anomalies").fetchone()[0]
    assert numbers["anomalies"] == anomalies > 0
    assert numbers["new_anomalies"] == anomalies


def test_a_rerun_with_the_same_inputs_adds_nothing(two_runs) -> None:
    _, first, second = two_runs
    again = summary_numbers(second)
    assert again["demo_readings"] == 0
    assert again["demo_tibber_hours"] == 0
    assert again["new_anomalies"] == 0
    assert again["anomalies"] == summary_numbers(first)["anomalies"]


def test_demo_leak_is_found_and_gas_swap_month_is_old_plus_new(two_runs) -> None:
    data_dir, _, _ = two_runs
    with duckdb.connect(str(data_dir / "snapshot" / "warehouse.duckdb")) as db:
        leak_days = db.execute(
            "select count(*) from meter_anomalies "
            "where meter_id = 'og1_wasser_kalt' "
            "and day between '2025-03-10' and '2025-03-16'"
        ).fetchone()[0]
        month = dict(
            db.execute(
                "select meter_id, consumption from meter_monthly_consumption "
                "where month = '2024-11-01' "
                "and meter_id in ('gas_total', 'gas_zahler_alt', 'gas_zahler')"
            ).fetchall()
        )
        new_after_swap = db.execute(
            "select sum(consumption) from meter_daily_consumption "
            "where meter_id = 'gas_zahler' and day >= '2024-11-13' "
            "and day < '2024-12-01'"
        ).fetchone()[0]
    # The leak (10x for 7 days) is found on most of its days.
    assert leak_days >= 5
    # Master gas_total follows the old meter up to 13 Nov 00:00, then the new.
    assert month["gas_total"] == pytest.approx(
        month["gas_zahler_alt"] + new_after_swap, rel=1e-9
    )
