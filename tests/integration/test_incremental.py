"""An incremental build gives exactly what a full build of the same inputs
gives, and rebuilds only what changed (pipeline/rebuild.py)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from core import landing
from tests.support.compare import COMPARED, differences
from tests.support.fixtures_demo import run_pipeline, start_pipeline
from tests.support.fixtures_pipeline import kill_hard, wait_for_log

LATER = "2026-11-29T15:00:00Z"


def run_at(data_dir: Path, as_of: str) -> str:
    result = run_pipeline(data_dir, as_of=as_of)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def correct_old_readings(data_dir: Path) -> None:
    """Later extractions with other values: of a 2023 reading of the old gas
    meter (which feeds the gas master and the fireplace's virtual meter), and
    of a reading in the first year of og2_wasser_kalt (installed 2022-09-01),
    which changes its rate before the first reading."""
    rows = landing.query(
        data_dir,
        "readings",
        """
        (select meter_id, measured_at, value + 3.0 as value, unit from landed
         where meter_id = 'gas_zahler_alt' and year(measured_at) = 2023
         order by measured_at limit 1)
        union all
        (select meter_id, measured_at, value + 0.5 as value, unit from landed
         where meter_id = 'og2_wasser_kalt'
         order by measured_at limit 1 offset 1)
        """,
    ).to_pylist()
    for row in rows:
        row["extracted_at"] = datetime(2026, 11, 28, tzinfo=UTC)
    landing.append(data_dir, "readings", pa.Table.from_pylist(rows))


@pytest.fixture(scope="module")
def incremental_and_full(demo_build: Path, tmp_path_factory) -> tuple[Path, Path, str]:
    """The demo house built at the demo as_of, then, after a correction of
    an old reading, incrementally two and a half days later (with the new
    readings and Tibber hours of those days); and the same landing zone built
    from scratch at the later as_of."""
    incremental = tmp_path_factory.mktemp("incremental") / "data"
    shutil.copytree(demo_build, incremental, ignore=shutil.ignore_patterns("*.lock"))
    correct_old_readings(incremental)
    output = run_at(incremental, LATER)
    full = tmp_path_factory.mktemp("full") / "data"
    shutil.copytree(incremental / "landing", full / "landing")
    run_at(full, LATER)
    return incremental, full, output


def test_incremental_run_rebuilds_the_changed_meters_and_the_new_days(
    incremental_and_full,
) -> None:
    incremental, _, output = incremental_and_full
    scope = next(line for line in output.splitlines() if "rebuilt" in line)
    # gas_zahler_alt (corrected) and gas_total and eg_kalfire built on it, the
    # meters whose demo readings arrived in those days, and haupt_strom (new
    # Tibber hours): far fewer than the house's 26.
    rebuilt = int(scope.split("incremental, ")[1].split()[0])
    assert 3 <= rebuilt < 26, scope
    with duckdb.connect(str(incremental / "warehouse.duckdb"), read_only=True) as db:
        starts = dict(
            db.execute(
                "select meter_id, day_start_at from main.rebuild_meters "
                "where kind = 'rebuilt'"
            ).fetchall()
        )
    # From the third kept reading before the 2023 correction on (cleaning
    # looks two readings ahead; readings 10 to 40 days apart, so within 120
    # days before it); all of og2_wasser_kalt.
    assert starts["gas_zahler_alt"] < "2023-01-09"
    assert starts["gas_zahler_alt"] > "2022-09-11"
    assert starts["gas_total"] == starts["eg_kalfire"] == starts["gas_zahler_alt"]
    assert starts["og2_wasser_kalt"] is None
    assert starts["eg_strom"] > "2026-11"


@pytest.mark.parametrize("table", COMPARED)
def test_incremental_build_equals_a_full_build(incremental_and_full, table) -> None:
    incremental, full, _ = incremental_and_full
    assert (
        differences(incremental / "warehouse.duckdb", full / "warehouse.duckdb", table)
        == 0
    )


def test_incremental_build_killed_halfway_is_completed_by_the_next_run(
    demo_build: Path, incremental_and_full, tmp_path: Path
) -> None:
    """SIGKILL while the incremental build is between models (the physical
    meters' days already replaced, the masters' not yet): the next run
    rebuilds at least as much and ends where the full build ends."""
    _, full, _ = incremental_and_full
    data_dir = tmp_path / "data"
    shutil.copytree(demo_build, data_dir, ignore=shutil.ignore_patterns("*.lock"))
    (data_dir / "logs" / "dbt.log").unlink()
    correct_old_readings(data_dir)
    process = start_pipeline(data_dir, "run", as_of=LATER)
    wait_for_log(
        data_dir,
        "START sql incremental model intermediate.int_master_readings",
        process,
        log="dbt.log",
    )
    kill_hard(process)
    output = run_at(data_dir, LATER)
    assert "[dbt] incremental," in output
    for table in COMPARED:
        assert (
            differences(data_dir / "warehouse.duckdb", full / "warehouse.duckdb", table)
            == 0
        ), table


def test_nothing_new_rebuilds_no_meter_and_as_of_moved_back_rebuilds_all(
    demo_data_dir: Path, demo_build: Path
) -> None:
    # --full-tests: a plain retry would skip dbt (pipeline/unchanged.py).
    again = run_pipeline(
        demo_data_dir, "run", "--full-tests", as_of="2026-11-27T10:00:00Z"
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "[dbt] incremental, 0 meters rebuilt" in again.stdout
    assert "data tests on every row" in again.stdout
    back = run_at(demo_data_dir, "2026-11-20T10:00:00Z")
    assert "full build (as_of moved back)" in back


def demo_settings(data_dir: Path, **overrides: str):
    from core.settings import load_settings

    return load_settings(
        data_dir, {"DATA_DIR": str(data_dir), "INFLUX_URL": "", **overrides}
    )


def test_a_removed_landing_file_or_changed_settings_rebuild_everything(
    demo_data_dir: Path,
) -> None:
    from pipeline import rebuild
    from pipeline.run import ROOT

    as_of = datetime(2026, 11, 27, 11, tzinfo=UTC)
    settings = demo_settings(demo_data_dir)
    assert rebuild.plan(settings, ROOT, as_of).reason == "incremental"
    other_zone = demo_settings(demo_data_dir, METER_TIMEZONE="Europe/London")
    assert rebuild.plan(other_zone, ROOT, as_of).full_refresh
    readings = sorted((demo_data_dir / "landing" / "readings").glob("2*.parquet"))
    readings[0].unlink()
    plan = rebuild.plan(settings, ROOT, as_of)
    assert plan.describe() == (
        "full build (landing files were removed or replaced); data tests on every row"
    )
