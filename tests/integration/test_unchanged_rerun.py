"""A retry (same landing files, project, settings and AS_OF as the last
completed run) skips dbt and the load and still reports the run; any change
does the work (pipeline/unchanged.py)."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa

from core import landing
from core.settings import load_settings, parse_as_of
from pipeline import rebuild, unchanged
from tests.support.fixtures_demo import DEMO_AS_OF, ROOT, demo_environment, run_pipeline

SKIPPED = "[dbt] skipped: nothing changed since the run completed"
AS_OF = parse_as_of(DEMO_AS_OF, "Europe/Berlin")


def settings_of(data_dir: Path, as_of: str = DEMO_AS_OF):
    """The settings a demo run at `as_of` reads."""
    return load_settings(ROOT, demo_environment(data_dir, as_of))


def recorded_runs(data_dir: Path) -> int:
    """The rows of the completed-run record (run_state.last_run): 0 or 1."""
    with duckdb.connect(str(data_dir / "warehouse.duckdb"), read_only=True) as db:
        return db.execute("select count(*) from run_state.last_run").fetchone()[0]


def test_a_retry_skips_dbt_and_reports_the_last_build(demo_data_dir: Path) -> None:
    dbt_log = demo_data_dir / "logs" / "dbt.log"
    dbt_log_before = dbt_log.read_text()
    snapshot = demo_data_dir / "snapshot" / "warehouse.duckdb"
    with duckdb.connect(str(snapshot), read_only=True) as db:
        anomalies = db.execute(
            "select (select count(*) from meter_anomalies)"
            " + (select count(*) from meter_interval_anomalies)"
        ).fetchone()[0]

    retry = run_pipeline(demo_data_dir)

    assert retry.returncode == 0, retry.stdout + retry.stderr
    assert SKIPPED in retry.stdout
    assert "[dbt] full build" not in retry.stdout
    assert "[dbt] incremental" not in retry.stdout
    assert dbt_log.read_text() == dbt_log_before  # dbt never started
    assert f"; {anomalies} anomalies, none new" in retry.stdout
    assert anomalies > 0
    assert "demo history: 0 readings and 0 Tibber hours new" in retry.stdout


def test_a_new_landing_file_is_built(demo_data_dir: Path) -> None:
    """One more reading of a meter, landed since the last run."""
    landing.append(
        demo_data_dir,
        "readings",
        pa.Table.from_pylist(
            [
                {
                    "meter_id": "eg_strom",
                    "measured_at": datetime(2026, 11, 27, 9, tzinfo=UTC),
                    "value": 1e6,
                    "unit": "kWh",
                    "extracted_at": datetime(2026, 11, 27, 9, 30, tzinfo=UTC),
                }
            ]
        ),
    )
    assert unchanged.previous_run(settings_of(demo_data_dir), ROOT, AS_OF) is None

    run = run_pipeline(demo_data_dir)

    assert run.returncode == 0, run.stdout + run.stderr
    assert SKIPPED not in run.stdout
    assert "[dbt] incremental, " in run.stdout
    # ... and the run that did the work is the one a retry repeats.
    assert unchanged.previous_run(settings_of(demo_data_dir), ROOT, AS_OF)


def test_only_the_same_inputs_repeat_the_last_run(
    demo_data_dir: Path, tmp_path: Path
) -> None:
    settings = settings_of(demo_data_dir)
    assert unchanged.previous_run(settings, ROOT, AS_OF) is not None
    # Another AS_OF, even one second later.
    later = settings_of(demo_data_dir, "2026-11-27T10:00:01Z")
    assert unchanged.previous_run(later, ROOT, later.as_of) is None
    # A seed edited.
    project = tmp_path / "project"
    for name in rebuild.FINGERPRINTED:
        copy = shutil.copytree if (ROOT / name).is_dir() else shutil.copy
        (project / name).parent.mkdir(parents=True, exist_ok=True)
        copy(ROOT / name, project / name)
    assert unchanged.previous_run(settings, project, AS_OF) is not None
    meters = project / "seeds" / "meters.csv"
    meters.write_text(
        meters.read_text().replace("Total electricity", "All electricity", 1)
    )
    assert unchanged.previous_run(settings, project, AS_OF) is None
    # A setting the load reads.
    other = load_settings(
        ROOT,
        {**demo_environment(demo_data_dir), "INFLUX_BUCKET_PROCESSED": "other"},
    )
    assert unchanged.previous_run(other, ROOT, AS_OF) is None
    # A warehouse built since from other inputs (its build state moved on).
    with duckdb.connect(str(settings.warehouse)) as db:
        db.execute(
            "update run_state.build_state set as_of_at = as_of_at + interval 1 hour"
        )
    assert unchanged.previous_run(settings, ROOT, AS_OF) is None


def test_a_run_that_does_work_removes_the_record_until_it_completes(
    demo_data_dir: Path,
) -> None:
    """A build that fails leaves no record: its retry builds again."""
    assert recorded_runs(demo_data_dir) == 1
    shutil.rmtree(demo_data_dir / "snapshot")
    (demo_data_dir / "snapshot").write_text("a file where the snapshot folder goes")

    failed = run_pipeline(demo_data_dir, as_of="2026-11-27T11:00:00Z")

    assert failed.returncode != 0
    assert recorded_runs(demo_data_dir) == 0
