"""A retry does no work that cannot change anything.

A run that completed (every stage, the load included) records what it ran
on: the landing files (names and sizes; a landing file is never edited), the
fingerprint of the dbt project and the settings the models read, the
settings of the run (secrets excepted) and its as_of, in
DATA_DIR/state/last_run.json. A later run with the same AS_OF whose
extraction added nothing finds the same record, and the warehouse's build
state still says it was built from the same inputs: dbt cannot build
anything else and the load has nothing to send, so both are skipped.

The record is removed before any run that does work, so a run that fails
midway (tests that failed, a load cut short) never leaves one behind.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import replace
from datetime import datetime
from pathlib import Path

from core import landing
from core.settings import Settings
from pipeline import rebuild


def record_path(settings: Settings) -> Path:
    return settings.data_dir / "state" / "last_run.json"


def inputs(settings: Settings, project: Path, as_of: datetime) -> dict[str, str]:
    """What a run's results depend on."""
    files = hashlib.sha256()
    for table in landing.SCHEMAS:
        for path in sorted(landing.table_dir(settings.data_dir, table).glob("*")):
            files.update(f"{table}/{path.name} {path.stat().st_size}\n".encode())
    return {
        "as_of": as_of.isoformat(),
        "landing": files.hexdigest(),
        "project": rebuild.fingerprint(settings, project),
        # Where DATA_DIR lies does not matter (a moved or copied one).
        "settings": hashlib.sha256(
            repr(replace(settings, data_dir=Path())).encode()
        ).hexdigest(),
    }


def previous_run(
    settings: Settings, project: Path, as_of: datetime
) -> dict[str, str] | None:
    """The record of the last completed run when this one would repeat it
    exactly (None otherwise: this run must do its work)."""
    path = record_path(settings)
    if not path.is_file():
        return None
    try:
        record = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if record.get("inputs") != inputs(settings, project, as_of):
        return None
    state = rebuild.read_state(settings)
    if state is None or state.as_of != as_of:
        return None
    if state.fingerprint != record["inputs"]["project"]:
        return None
    return record


def forget(settings: Settings) -> None:
    """Before a run that does work: no record until it completes."""
    record_path(settings).unlink(missing_ok=True)


def remember(
    settings: Settings, project: Path, as_of: datetime, completed_at: datetime
) -> None:
    """After a run that completed every stage."""
    path = record_path(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {
        "inputs": inputs(settings, project, as_of),
        "completed_at": completed_at.isoformat(),
    }
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(record, indent=1))
    os.replace(temporary, path)
