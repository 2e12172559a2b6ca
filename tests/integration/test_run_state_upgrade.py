"""A DATA_DIR of the previous version keeps working: its first run moves the
records into `run_state` and goes on from them."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb

from tests.support.fixtures_demo import run_pipeline

SKIPPED = "[dbt] skipped: nothing changed since the run completed"


def test_an_older_data_dir_keeps_its_build_and_completed_run_records(
    demo_data_dir: Path,
) -> None:
    """The demo build with its build record in `main` and its completed-run
    record in state/last_run.json, as the previous version kept them: the
    same run again still finds both and skips dbt and the load."""
    warehouse = demo_data_dir / "warehouse.duckdb"
    with duckdb.connect(str(warehouse)) as db:
        db.execute("create table main.build_state as from run_state.build_state")
        db.execute("drop table run_state.build_state")
        as_of, landing, project, settings, completed_at = db.execute(
            "select * from run_state.last_run"
        ).fetchone()
        db.execute("drop table run_state.last_run")
    old_record = demo_data_dir / "state" / "last_run.json"
    old_record.parent.mkdir(exist_ok=True)
    old_record.write_text(
        json.dumps(
            {
                "inputs": {
                    "as_of": as_of,
                    "landing": landing,
                    "project": project,
                    "settings": settings,
                },
                "completed_at": completed_at.isoformat(),
            }
        )
    )

    retry = run_pipeline(demo_data_dir)

    assert retry.returncode == 0, retry.stdout + retry.stderr
    assert SKIPPED in retry.stdout
    assert not old_record.exists()
    with duckdb.connect(str(warehouse), read_only=True) as db:
        assert db.execute(
            "select schema_name, table_name from duckdb_tables() "
            "where table_name in ('build_state', 'last_run') order by 2"
        ).fetchall() == [("run_state", "build_state"), ("run_state", "last_run")]
