"""`make run`: extract -> dbt build (models and data tests) -> load.

One run at a time (a lock under DATA_DIR). Each stage prints progress; the run
ends with a summary. A failure ends the run with one line naming the stage and
the cause; data tests that fail with severity error stop the run before
anything is published.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import re
import shutil
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from extract import landing
from pipeline import alerts, logs, unchanged
from pipeline.dbt import DbtOutcome, build
from pipeline.errors import LockedError, PipelineError
from pipeline.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


@dataclass
class RunSummary:
    as_of: datetime
    stage_seconds: dict[str, float] = field(default_factory=dict)
    extracted: dict[str, int] = field(default_factory=dict)
    dbt: DbtOutcome | None = None
    points_written: int = 0
    points_deleted: int = 0
    anomalies: int = 0
    new_anomalies: list[str] = field(default_factory=list)
    unknown_entities: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def project_dir() -> Path:
    """The dbt project (DBT_PROJECT_DIR overrides: a copy describing another
    house, see pipeline.dbt.copy_project)."""
    return Path(os.environ.get("DBT_PROJECT_DIR", ROOT)).resolve()


def house_dir() -> Path:
    """The seeds describing the house."""
    return project_dir() / "seeds"


def snapshot_path(settings: Settings) -> Path:
    """The copy `make shell` opens, so it never blocks a run."""
    return settings.data_dir / "snapshot" / "warehouse.duckdb"


def physical_meter_units(seeds: Path) -> dict[str, str]:
    with open(seeds / "meters.csv", newline="") as handle:
        return {
            row["meter_id"]: row["unit"]
            for row in csv.DictReader(handle)
            if row["meter_type"] == "physical"
        }


@contextmanager
def run_lock(data_dir: Path) -> Iterator[None]:
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "run.lock"
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "unknown"
            raise LockedError(
                f"another run is in progress (pid {holder}): "
                "wait for it to finish; nothing was touched"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)


def exposed_secret_files(root: Path) -> list[Path]:
    """`.env` and `secrets/*.env` files readable by group or others."""
    files = [root / ".env", *sorted((root / "secrets").glob("*.env"))]
    return [
        path
        for path in files
        if path.is_file() and path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO)
    ]


def say(message: str) -> None:
    print(message, flush=True)
    logs.log.info(message)


@contextmanager
def stage(summary: RunSummary, name: str) -> Iterator[None]:
    say(f"[{name}] ...")
    started = time.perf_counter()
    try:
        yield
    except PipelineError as error:
        error.stage = name if error.stage == "pipeline" else error.stage
        raise
    finally:
        summary.stage_seconds[name] = round(time.perf_counter() - started, 2)
        logs.event("stage_done", stage=name, seconds=summary.stage_seconds[name])


def run(
    settings: Settings,
    *,
    full_refresh: bool = False,
    full_tests: bool = False,
    settings_root: Path = ROOT,
) -> RunSummary:
    """`settings_root`: where the settings were read from (its `.env` and
    `secrets/*.env` are checked for group/other access)."""
    as_of = settings.as_of or datetime.now(UTC).replace(microsecond=0)
    summary = RunSummary(as_of=as_of)
    for path in exposed_secret_files(settings_root):
        name = path.relative_to(settings_root)
        say(f"warning: {name} is readable by group or others: chmod 600 {name}")
    with run_lock(settings.data_dir), alerts.reporting(settings, summary):
        say(f"as_of={as_of.isoformat()} data_dir={settings.data_dir}")
        with stage(summary, "extract"):
            extract(settings, as_of, full_refresh, summary)
        if not (full_refresh or full_tests) and skip_unchanged(settings, summary):
            return summary
        unchanged.forget(settings)
        with stage(summary, "dbt"):
            check_warehouse_free(settings)
            landing.write_run_context(settings.data_dir, as_of)
            summary.dbt = build(
                settings,
                as_of,
                project_dir(),
                full_refresh=full_refresh,
                full_tests=full_tests,
            )
            take_snapshot(settings)
            count_anomalies(settings, summary)
        if settings.demo_mode:
            summary.notes.append(
                "demo mode (INFLUX_URL unset): nothing was loaded; explore the "
                "results with `make shell` or `make docs`"
            )
        else:
            with stage(summary, "load"):
                load(settings, as_of, summary)
        unchanged.remember(settings, project_dir(), as_of, datetime.now(UTC))
    return summary


def skip_unchanged(settings: Settings, summary: RunSummary) -> bool:
    """A retry of the last completed run (pipeline/unchanged.py): report its
    anomalies, skip dbt and the load."""
    previous = unchanged.previous_run(settings, project_dir(), summary.as_of)
    if previous is None:
        return False
    count_anomalies(settings, summary)
    summary.notes.append(
        "nothing changed since the run completed at "
        f"{previous['completed_at']} (same landing files, project, settings "
        "and as_of): dbt and the load skipped"
    )
    logs.event("skipped_unchanged", completed_at=previous["completed_at"])
    return True


def extract(
    settings: Settings, as_of: datetime, full_refresh: bool, summary: RunSummary
) -> None:
    landing.ensure(settings.data_dir)
    if settings.demo_mode:
        from extract.demo import write_demo_history

        demo = write_demo_history(
            settings.data_dir, as_of, settings.timezone, house_dir()
        )
        summary.extracted["demo_readings"] = demo.readings
        summary.extracted["demo_tibber_hours"] = demo.hours
        say(f"demo history: {demo.readings} readings, {demo.hours} Tibber hours")
        return
    from extract.influx import extract_readings
    from extract.tibber import extract_hours

    readings = extract_readings(
        settings, physical_meter_units(house_dir()), full_refresh=full_refresh
    )
    summary.extracted["influx_points"] = readings.points_read
    summary.extracted["influx_rows_written"] = readings.rows_written
    say(
        f"InfluxDB: {readings.points_read} points read, "
        f"{readings.rows_written} new or changed"
    )
    summary.unknown_entities = readings.unknown_entities
    if readings.unknown_entities:
        say(
            "InfluxDB: input_number entities not in seeds/meters.csv: "
            + ", ".join(readings.unknown_entities)
        )
    hours = extract_hours(settings, full_refresh=full_refresh, now=as_of)
    if hours.skipped_reason:
        say(hours.skipped_reason)
        summary.notes.append(hours.skipped_reason)
    summary.extracted["tibber_hours"] = hours.hours_read
    summary.extracted["tibber_rows_written"] = hours.rows_written
    say(
        f"Tibber: {hours.hours_read} hours read in {hours.requests} requests, "
        f"{hours.rows_written} new or changed"
    )


def check_warehouse_free(settings: Settings) -> None:
    """One clear line when another process holds the warehouse open for
    writing (dbt would fail with a traceback on the console)."""
    path = settings.warehouse
    if not path.exists():
        return
    try:
        duckdb.connect(str(path)).close()
    except duckdb.IOException as error:
        if "lock" not in str(error).lower():
            raise
        holder = re.search(r"\(PID (\d+)\)", str(error))
        pid = f" (pid {holder.group(1)})" if holder else ""
        raise PipelineError(
            f"the warehouse {path} is open in another process{pid}: close it "
            "(`make shell` opens a snapshot instead) and run again; nothing "
            "was published"
        ) from None


def take_snapshot(settings: Settings) -> None:
    """Checkpoint the warehouse and copy it atomically for `make shell`."""
    source = settings.warehouse
    with duckdb.connect(str(source)) as connection:
        connection.execute("checkpoint")
    target = snapshot_path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    shutil.copyfile(source, temporary)
    os.replace(temporary, target)


def count_anomalies(settings: Settings, summary: RunSummary) -> None:
    with duckdb.connect(str(settings.warehouse), read_only=False) as db:
        rows = db.execute(
            "select meter_id, cast(day as varchar) from main.meter_anomalies"
        ).fetchall()
    current = sorted(f"{meter} {day}" for meter, day in rows)
    state = settings.data_dir / "state" / "anomalies.json"
    seen = set(json.loads(state.read_text())) if state.exists() else set()
    summary.anomalies = len(current)
    summary.new_anomalies = [key for key in current if key not in seen]
    state.parent.mkdir(parents=True, exist_ok=True)
    temporary = state.with_suffix(".tmp")
    temporary.write_text(json.dumps(current))
    os.replace(temporary, state)


def load(settings: Settings, as_of: datetime, summary: RunSummary) -> None:
    from load.publish import publish_marts
    from load.tibber_hours import publish_hours

    hours = publish_hours(settings)
    say(f"Tibber hours written to {settings.influx_bucket_raw}: {hours}")
    result = publish_marts(settings, settings.warehouse, as_of=as_of)
    summary.points_written = result.points_written + hours
    summary.points_deleted = result.points_deleted
    for measurement, (written, deleted) in sorted(result.per_measurement.items()):
        say(f"  {measurement}: {written} written, {deleted} deleted")


def render(summary: RunSummary) -> str:
    lines = ["", "summary:"]
    extracted = ", ".join(f"{k}={v}" for k, v in summary.extracted.items())
    lines.append(f"  extracted: {extracted or 'nothing'}")
    if summary.dbt:
        outcome = summary.dbt
        lines.append(
            f"  dbt: {outcome.models} models, {outcome.seeds} seeds, "
            f"{outcome.unit_tests} unit tests; data tests {outcome.tests_passed} "
            f"passed, {outcome.tests_warned} warned, {outcome.tests_failed} failed"
        )
        lines.append(f"    {outcome.scope}")
        lines.extend(f"    warning: {name}" for name in outcome.warnings)
    lines.append(
        f"  loaded: {summary.points_written} points written, "
        f"{summary.points_deleted} deleted"
    )
    lines.append(f"  anomalies: {summary.anomalies} ({len(summary.new_anomalies)} new)")
    lines.extend(f"    new: {key}" for key in summary.new_anomalies[:20])
    if len(summary.new_anomalies) > 20:
        lines.append(f"    ... and {len(summary.new_anomalies) - 20} more")
    timings = ", ".join(f"{k} {v}s" for k, v in summary.stage_seconds.items())
    lines.append(f"  time: {timings}")
    lines.extend(f"  note: {note}" for note in summary.notes)
    return "\n".join(lines)
