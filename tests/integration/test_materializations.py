"""A model that fails leaves its previous relation as it was
(macros/materializations.sql: drop and create, or delete and insert, in one
transaction).

On a copy of the demo build, three models of a copy of the project fail
while dbt builds them: a table (its create fails after the old table was
dropped), an incremental model (its insert fails after its pre-hook deleted
every row) and a view (its definition does not bind). Each keeps its rows.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import duckdb

from pipeline.dbt import copy_project
from tests.support.fixtures_demo import ROOT, demo_environment, pipeline_command

FAILING = {
    "models/intermediate/house/int_calendar_days.sql": (
        "select error('the table fails') as day"
    ),
    "models/intermediate/readings/int_readings_combined.sql": (
        "{{ config(materialized='incremental', "
        "pre_hook=\"{{ delete_rebuilt('meter_id', none) }}\") }}\n"
        "select error('the insert fails') as meter_id"
    ),
    "models/staging/landing/stg_landing__run_context.sql": (
        "select no_such_column from {{ source('landing', 'run_context') }}"
    ),
}
RELATIONS = (
    "intermediate.int_calendar_days",
    "intermediate.int_readings_combined",
    "staging.stg_landing__run_context",
)


def counts(warehouse: Path) -> dict[str, int]:
    with duckdb.connect(str(warehouse), read_only=True) as db:
        return {
            name: db.execute(f"select count(*) from {name}").fetchone()[0]
            for name in RELATIONS
        }


def test_failing_models_keep_their_previous_relations(
    demo_data_dir: Path, tmp_path: Path
) -> None:
    warehouse = demo_data_dir / "warehouse.duckdb"
    before = counts(warehouse)
    assert all(before.values())
    project = copy_project(ROOT / "seeds", tmp_path / "project")
    for path, sql in FAILING.items():
        (project / path).write_text(sql + "\n", encoding="utf-8")

    result = subprocess.run(
        pipeline_command(
            "dbt",
            "run",
            "--select",
            "int_calendar_days int_readings_combined stg_landing__run_context",
        ),
        cwd=ROOT,
        env=demo_environment(demo_data_dir) | {"DBT_PROJECT_DIR": str(project)},
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode != 0
    log = (demo_data_dir / "logs" / "dbt.log").read_text(encoding="utf-8")
    for message in ("the table fails", "the insert fails", "no_such_column"):
        assert message in log
    assert counts(warehouse) == before
