"""A retry does no work that cannot change anything.

A run that completed (every stage, the load included) records what it ran
on: the landing files (names and sizes; a landing file is never edited), the
fingerprint of the dbt project and the settings the models read, the
settings of the run (secrets excepted) and its as_of, in the warehouse table
`run_state.last_run`. A later run with the same AS_OF whose extraction added
nothing finds the same record, and the warehouse's build state still says it
was built from the same inputs: dbt cannot build anything else and the load
has nothing to send, so both are skipped.

The record is removed before any run that does work, so a run that fails
midway (tests that failed, a load cut short) never leaves one behind.
"""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from core import landing, run_state
from core.settings import Settings
from pipeline import rebuild

# The record's columns, in the order of inputs() and run_state.last_run.
INPUTS = ("as_of", "landing", "project", "settings")


def inputs(settings: Settings, project: Path, as_of: datetime) -> dict[str, str]:
    """What a run's results depend on."""
    return {
        "as_of": as_of.isoformat(),
        "landing": landing.files_digest(settings.data_dir, landing.SCHEMAS),
        "project": rebuild.fingerprint(settings, project),
        # Where DATA_DIR and the project lie does not matter (moved, copied).
        "settings": hashlib.sha256(
            repr(replace(settings, data_dir=Path(), dbt_project_dir=Path())).encode()
        ).hexdigest(),
    }


def previous_run(
    settings: Settings, project: Path, as_of: datetime
) -> dict[str, str] | None:
    """The record of the last completed run when this one would repeat it
    exactly (None otherwise: this run must do its work)."""
    if not settings.warehouse.is_file():
        return None
    try:
        with duckdb.connect(str(settings.warehouse)) as db:
            run_state.ensure(db)
            db.execute(run_state.LAST_RUN_DDL)
            row = db.execute(
                "select as_of, landing_digest, project_fingerprint, "
                f"settings_digest, completed_at from {run_state.LAST_RUN}"
            ).fetchone()
    except duckdb.IOException as error:
        if not run_state.is_locked(error):
            raise
        return None  # held by another process: the build stage says so
    if row is None:
        return None
    record = dict(zip(INPUTS, row[:4], strict=True))
    if record != inputs(settings, project, as_of):
        return None
    state = rebuild.read_state(settings)
    if state is None or state.as_of != as_of:
        return None
    if state.fingerprint != record["project"]:
        return None
    return record | {"completed_at": row[4].astimezone(UTC).isoformat()}


def forget(settings: Settings) -> None:
    """Before a run that does work: no record until it completes."""
    if not settings.warehouse.is_file():
        return
    try:
        with duckdb.connect(str(settings.warehouse)) as db:
            run_state.ensure(db)
            db.execute(run_state.LAST_RUN_DDL)
            db.execute(f"delete from {run_state.LAST_RUN}")
    except duckdb.IOException as error:
        if not run_state.is_locked(error):
            raise
        # Held by another process: the build stage stops the run before it
        # changes the warehouse, so the record still describes it.


def remember(
    settings: Settings, project: Path, as_of: datetime, completed_at: datetime
) -> None:
    """After a run that completed every stage (one transaction)."""
    record = inputs(settings, project, as_of)
    with duckdb.connect(str(settings.warehouse)) as db:
        run_state.ensure(db)
        db.execute(run_state.LAST_RUN_DDL)
        db.execute("begin")
        db.execute(f"delete from {run_state.LAST_RUN}")
        db.execute(
            f"insert into {run_state.LAST_RUN} values (?, ?, ?, ?, ?)",
            [*(record[name] for name in INPUTS), completed_at],
        )
        db.execute("commit")
