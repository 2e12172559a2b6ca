"""`make run` in demo mode, end to end: the summary it prints is the truth
about what it built, and a second run with the same inputs does no new work
(with --full-tests, which a plain retry would skip:
tests/integration/test_unchanged_rerun.py)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path

import duckdb
import pytest

from core import landing
from tests.support.fixtures_demo import run_pipeline


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    data_dir = tmp_path_factory.mktemp("demo-twice")
    first = run_pipeline(data_dir)
    assert first.returncode == 0, first.stderr
    second = run_pipeline(data_dir, "run", "--full-tests")
    assert second.returncode == 0, second.stderr
    return data_dir, first.stdout, second.stdout


def count(text: str) -> int:
    return int(text.replace(",", ""))


def summary_numbers(stdout: str) -> dict[str, int]:
    """The numbers of the run's stage lines and final lines."""
    landed = re.search(
        r"\[extract\] demo history: ([\d,]+) readings? and ([\d,]+) Tibber hours?",
        stdout,
    )
    assert landed, stdout
    numbers = {
        "demo_readings": count(landed.group(1)),
        "demo_tibber_hours": count(landed.group(2)),
    }
    match = re.search(
        r"\[dbt\] .*: (\d+) models?, (\d+) seeds?; data tests (\d+) "
        r"passed, (\d+) warned, (\d+) failed",
        stdout,
    )
    assert match, stdout
    keys = ("models", "seeds", "passed", "warned", "failed")
    numbers.update(zip(keys, map(int, match.groups()), strict=True))
    anomalies = re.search(r"anomalies: (\d+) \((\d+) new\)", stdout)
    unchanged = re.search(r"(\d+) anomal(?:y|ies), none new", stdout)
    assert anomalies or unchanged, stdout
    if anomalies:
        numbers["anomalies"], numbers["new_anomalies"] = map(int, anomalies.groups())
    else:
        numbers["anomalies"], numbers["new_anomalies"] = int(unchanged.group(1)), 0
    return numbers


def dbt_log_counts(data_dir: Path) -> dict[str, int]:
    """dbt's own record of its last command (DATA_DIR/logs/dbt.log): the
    nodes of its "Finished running 11 incremental models, 90 data tests,
    ..." line and the outcomes of its "Done. PASS=.. WARN=.." line."""
    lines = (data_dir / "logs" / "dbt.log").read_text().splitlines()
    finished = next(line for line in reversed(lines) if "Finished running" in line)
    done = next(line for line in reversed(lines) if "Done. PASS=" in line)
    counts: dict[str, int] = {}
    for amount, kind in re.findall(r"(\d+) ([a-z ]+?)s?(?:,| in )", finished):
        kind = "model" if kind.endswith("model") else kind
        counts[kind] = counts.get(kind, 0) + int(amount)
    for name, amount in re.findall(r"([A-Z-]+)=(\d+)", done):
        counts[name] = int(amount)
    return counts


def test_summary_counts_what_dbt_built_and_tested(two_runs) -> None:
    """The second run's summary against dbt's own record of that run: an
    incremental build, without the seeds and static views, every data test."""
    data_dir, first, second = two_runs
    numbers = summary_numbers(second)
    counts = dbt_log_counts(data_dir)
    assert numbers["models"] == counts["model"]
    assert numbers["seeds"] == counts.get("seed", 0) == 0
    assert counts.get("unit test", 0) == 0  # production runs skip them
    assert numbers["passed"] == counts["data test"] == summary_numbers(first)["passed"]
    assert numbers["failed"] == counts["ERROR"] == 0
    assert numbers["warned"] == counts["WARN"]
    assert summary_numbers(first)["seeds"] == 4 + 6  # the house, the billing
    assert "full build (first build)" in first
    assert "[dbt] incremental, 0 meters rebuilt" in second


def test_summary_counts_the_landed_rows_and_the_anomalies(two_runs) -> None:
    data_dir, first, _ = two_runs
    numbers = summary_numbers(first)
    readings = landing.current(data_dir, "readings")
    stored = duckdb.connect()
    files = stored.execute(
        "select count(*) from read_parquet(?)",
        [landing.glob(data_dir, "readings")],
    ).fetchone()[0]
    assert numbers["demo_readings"] == files  # every row landed, once
    assert readings.num_rows <= files  # one duplicate instant is superseded
    with duckdb.connect(str(data_dir / "snapshot" / "warehouse.duckdb")) as db:
        days = db.execute("select count(*) from meter_anomalies").fetchone()[0]
        intervals = db.execute(
            "select count(*) from meter_interval_anomalies"
        ).fetchone()[0]
    # The summary lists the anomalous days and the anomalous intervals.
    anomalies = days + intervals
    assert days > 0 and intervals > 0
    assert numbers["anomalies"] == anomalies
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


def test_demo_leak_between_sparse_readings_is_found_by_its_interval(two_runs) -> None:
    """og2_wasser_kalt, read by hand every few weeks, runs at 6x from 9 Feb
    to 1 Mar 2026 (21 days). The interval around it is flagged: it spans the
    21 leak days, each using about 5 usual days more, so over D days
    ratio = (D + 5 x 21) / D about, and (ratio - 1) x D / 21 is about 5
    (3 to 7 with the simulation's noise and last year's level). Every other
    interval anomaly is the og2 flat's return after its empty year (April
    2023 to April 2024), within three months of it: a meter that used
    (almost) nothing for a year is flagged for using its usual amount again.
    """
    data_dir, first, _ = two_runs
    with duckdb.connect(str(data_dir / "snapshot" / "warehouse.duckdb")) as db:
        db.execute("set TimeZone = 'UTC'")
        rows = db.execute(
            "select meter_id, first_day, last_day, days, ratio, "
            "first_day_start_at from meter_interval_anomalies order by all"
        ).fetchall()
    leak = [row for row in rows if row[0] == "og2_wasser_kalt"]
    assert len(leak) == 1, rows
    meter, first_day, last_day, days, ratio, stamped_at = leak[0]
    assert first_day <= date(2026, 2, 9) and last_day >= date(2026, 3, 1)
    assert ratio >= 2
    assert 3 <= (ratio - 1) * days / 21 <= 7
    # Stamped at the local start of its first day (CET: 23:00 UTC the day before).
    assert stamped_at == datetime.combine(
        first_day - timedelta(days=1), time(23), tzinfo=UTC
    )
    assert f"og2_wasser_kalt {first_day}..{last_day}" in first
    others = [row for row in rows if row[0] != "og2_wasser_kalt"]
    for meter, first_day, *_ in others:
        assert meter.startswith("og2_"), others
        assert date(2024, 3, 1) <= first_day <= date(2024, 7, 1), others


def test_cleaning_findings_are_new_in_the_first_summary_only(two_runs) -> None:
    """The demo plants a bad reading (og1_strom, 4 kWh below the reading
    before) and a counter reset (solarspeicher): two cleaning findings, both
    new in the first run, none in the second. Its reading corrected by a later
    extraction (eg_strom) is no finding: the correction is the source's."""
    _, first, second = two_runs
    assert "cleaning findings: 2 (2 new)" in first
    for kind, meter in (
        ("bad_reading", "og1_strom"),
        ("counter_reset", "solarspeicher"),
    ):
        assert re.search(
            rf"cleaning findings: 2 \(2 new\): .*{kind} {meter} 20\d\d-", first
        ), first
    assert "superseded" not in first
    assert "cleaning findings" not in second
