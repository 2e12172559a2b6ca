"""`make run`: preflight -> extract -> dbt build (models and data tests) -> load.

One run at a time (a lock under DATA_DIR), against the one source its DATA_DIR
holds (core/source.py). Each stage leaves one line on the console (live
progress before it on a terminal, pipeline/console.py); the run ends with a
line that says in words what changed. A failure ends the run with one line
naming the stage and the cause; data tests that fail with severity error stop
the run before anything is published. New anomalies count as reported only
at the end of a run that published them (pipeline/reported.py).
"""

from __future__ import annotations

import csv
import errno
import fcntl
import os
import re
import shutil
import stat
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import duckdb

from core import landing, logs, run_state, source
from core.errors import DISK_FULL, LockedError, PipelineError, is_disk_full
from core.settings import Settings
from pipeline import alerts, findings, reported, unchanged
from pipeline.console import Console, DbtProgress, number, plural
from pipeline.dbt import DbtOutcome, build
from pipeline.findings import Findings

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
    anomaly_keys: list[str] = field(default_factory=list)
    unknown_entities: list[str] = field(default_factory=list)
    findings: Findings = field(default_factory=Findings)
    notes: list[str] = field(default_factory=list)
    demo: bool = False
    last_news: datetime | None = None  # when a run last brought news
    timezone: str = "UTC"


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
            # An older version's state, once, before anything reads it.
            for moved in run_state.migrate(data_dir):
                logs.event("state_moved", what=moved, to=run_state.SCHEMA)
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


CONSOLE = Console()


def say(message: str) -> None:
    CONSOLE.line(message)


@contextmanager
def stage(summary: RunSummary, name: str) -> Iterator[None]:
    CONSOLE.progress(f"[{name}] ...", force=True)
    started = time.perf_counter()
    try:
        yield
    except PipelineError as error:
        error.stage = name if error.stage == "pipeline" else error.stage
        raise
    finally:
        summary.stage_seconds[name] = round(time.perf_counter() - started, 2)
        logs.event("stage_done", stage=name, seconds=summary.stage_seconds[name])


def stage_line(summary: RunSummary, name: str, text: str) -> None:
    """The one line a stage leaves: what it did, and how long it took."""
    seconds = summary.stage_seconds.get(name)
    took = f" ({seconds:.1f} s)" if seconds is not None else ""
    say(f"[{name}] {text}{took}")


def run(
    settings: Settings,
    *,
    full_refresh: bool = False,
    full_tests: bool = False,
    settings_root: Path = ROOT,
    console: Console | None = None,
) -> RunSummary:
    """`settings_root`: where the settings were read from (its `.env` and
    `secrets/*.env` are checked for group/other access)."""
    global CONSOLE
    CONSOLE = console or Console()
    as_of = settings.as_of or datetime.now(UTC).replace(microsecond=0)
    summary = RunSummary(
        as_of=as_of, demo=settings.demo_mode, timezone=settings.timezone
    )
    for path in exposed_secret_files(settings_root):
        name = path.relative_to(settings_root)
        say(f"warning: {name} is readable by group or others: chmod 600 {name}")
    with run_lock(settings.data_dir), alerts.reporting(settings, summary):
        origin = source.check(settings)
        say(
            f"as_of={as_of.isoformat()} data_dir={settings.data_dir} "
            f"source: {origin.describe()}"
        )
        for path in remove_leftovers(settings.data_dir):
            logs.event("leftover_removed", path=path)
        if not settings.demo_mode:
            with stage(summary, "preflight"):
                settings = preflight_checks(settings)
        with stage(summary, "extract"):
            source.record(settings.data_dir, origin)
            extract(settings, as_of, full_refresh, summary)
        stage_line(summary, "extract", describe_extract(summary))
        if not (full_refresh or full_tests) and skip_unchanged(settings, summary):
            return summary
        unchanged.forget(settings)
        with stage(summary, "dbt"):
            check_warehouse_free(settings)
            landing.write_run_context(settings.data_dir, as_of)
            progress = DbtProgress(show=CONSOLE.progress)
            with progress.ticking() if CONSOLE.live else nullcontext():
                summary.dbt = build(
                    settings,
                    as_of,
                    settings.dbt_project_dir,
                    full_refresh=full_refresh,
                    full_tests=full_tests,
                    progress=progress,
                )
            source.record_in_warehouse(settings.warehouse, origin)
            take_snapshot(settings)
            count_anomalies(settings, summary)
            summary.findings = findings.compare(settings)
        stage_line(summary, "dbt", describe_dbt(summary.dbt, progress))
        if settings.demo_mode:
            say("[load] skipped: the demo never writes to InfluxDB")
            summary.notes.append(
                "demo mode (INFLUX_URL unset): nothing was loaded; explore the "
                "results with `make shell` or `make docs`"
            )
        else:
            with stage(summary, "load"):
                load(settings, as_of, summary)
            stage_line(
                summary,
                "load",
                f"{plural(summary.points_written, 'point')} written, "
                f"{number(summary.points_deleted)} deleted",
            )
        # Only now, after the publish that carried them, are they reported.
        reported.mark_reported(
            settings.warehouse,
            {"anomaly": summary.anomaly_keys, "finding": summary.findings.current},
        )
        summary.last_news = reported.last_news(settings.warehouse)
        if has_news(summary):
            reported.record_news(settings.warehouse, datetime.now(UTC))
        unchanged.remember(settings, settings.dbt_project_dir, as_of, datetime.now(UTC))
    return summary


def preflight_checks(settings: Settings) -> Settings:
    """pipeline.preflight, with its one line; returns the settings with the
    InfluxDB API version resolved."""
    from extract.tibber import check_access
    from pipeline.preflight import preflight

    CONSOLE.progress("[preflight] asking InfluxDB and Tibber ...", force=True)
    result = preflight(settings, tibber_check=check_access)
    say(f"[preflight] {result.describe()}")
    return result.settings


def describe_extract(summary: RunSummary) -> str:
    got = summary.extracted
    if summary.demo:
        return (
            f"demo history: {plural(got.get('demo_readings', 0), 'reading')} and "
            f"{plural(got.get('demo_tibber_hours', 0), 'Tibber hour')} new"
        )
    text = (
        f"InfluxDB: {plural(got.get('influx_points', 0), 'point')} read, "
        f"{number(got.get('influx_rows_written', 0))} new or changed"
    )
    if got.get("influx_reread_meters"):
        text += (
            f", {plural(got['influx_reread_meters'], 'meter')} read again in full "
            "(changed at the source)"
        )
    if got.get("influx_rows_deleted"):
        text += f", {plural(got['influx_rows_deleted'], 'reading')} gone from InfluxDB"
    if "tibber_hours" in got and not any(
        "Tibber step skipped" in n for n in summary.notes
    ):
        text += (
            f"; Tibber: {plural(got['tibber_hours'], 'hour')} read, "
            f"{number(got.get('tibber_rows_written', 0))} new or changed"
        )
        if got.get("tibber_rows_deleted"):
            text += f", {number(got['tibber_rows_deleted'])} gone"
    else:
        text += "; Tibber skipped (TIBBER_API_TOKEN is not set)"
    return text


def describe_dbt(outcome: DbtOutcome | None, progress: DbtProgress) -> str:
    if outcome is None:
        return "nothing built"
    scope, _, tested = outcome.scope.partition("; ")  # tested: which rows
    if outcome.meters_rebuilt is not None:
        scope = f"incremental, {plural(outcome.meters_rebuilt, 'meter')} rebuilt"
        scope += f" ({tested})" if tested else ""
    text = (
        f"{scope}: {plural(outcome.models, 'model')}, "
        f"{plural(outcome.seeds, 'seed')}; data tests {outcome.tests_passed} "
        f"passed, {outcome.tests_warned} warned, {outcome.tests_failed} failed"
    )
    slowest = progress.slowest()
    if slowest:
        text += "; slowest: " + ", ".join(slowest)
    for warning in outcome.warnings:
        text += f"; warning: {warning}"
    return text


def skip_unchanged(settings: Settings, summary: RunSummary) -> bool:
    """A retry of the last completed run (pipeline/unchanged.py): report its
    anomalies, skip dbt and the load."""
    previous = unchanged.previous_run(settings, settings.dbt_project_dir, summary.as_of)
    if previous is None:
        return False
    count_anomalies(settings, summary)
    summary.new_anomalies = []  # the completed run reported them
    summary.last_news = reported.last_news(settings.warehouse)
    say(
        "[dbt] skipped: nothing changed since the run completed at "
        f"{previous['completed_at']} (same landing files, project, settings "
        "and as_of); nothing to load"
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
            settings.data_dir, as_of, settings.timezone, settings.house_dir
        )
        summary.extracted["demo_readings"] = demo.readings
        summary.extracted["demo_tibber_hours"] = demo.hours
        return
    from extract.influx import extract_readings
    from extract.tibber import extract_hours

    CONSOLE.progress("[extract] reading InfluxDB ...", force=True)
    readings = extract_readings(
        settings, physical_meter_units(settings.house_dir), full_refresh=full_refresh
    )
    summary.extracted["influx_points"] = readings.points_read
    summary.extracted["influx_rows_written"] = readings.rows_written
    summary.unknown_entities = readings.unknown_entities
    summary.extracted["influx_rows_deleted"] = readings.rows_deleted
    summary.extracted["influx_reread_meters"] = len(readings.reread_meters)
    logs.event(
        "influx_reconciled",
        fingerprinted_meters=readings.fingerprinted_meters,
        fingerprinted_points=readings.fingerprinted_points,
        reread_meters=len(readings.reread_meters),
        rows_deleted=readings.rows_deleted,
    )
    if readings.unknown_entities:
        say(
            "InfluxDB: input_number entities not in seeds/meters.csv: "
            + ", ".join(readings.unknown_entities)
        )
    CONSOLE.progress("[extract] reading Tibber ...", force=True)
    hours = extract_hours(settings, full_refresh=full_refresh, now=as_of)
    if hours.skipped_reason:
        summary.notes.append(hours.skipped_reason)
    summary.extracted["tibber_hours"] = hours.hours_read
    summary.extracted["tibber_rows_written"] = hours.rows_written
    summary.extracted["tibber_rows_deleted"] = hours.rows_deleted


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
    try:
        with duckdb.connect(str(source)) as connection:
            connection.execute("checkpoint")
    except duckdb.Error as error:
        if is_disk_full(str(error)):
            raise PipelineError(f"{DISK_FULL}; nothing was published") from None
        raise
    target = snapshot_path(settings)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        copy_file(source, temporary)
        os.replace(temporary, target)
    except OSError as error:
        temporary.unlink(missing_ok=True)
        if error.errno == errno.ENOSPC:
            raise PipelineError(f"{DISK_FULL}; nothing was published") from None
        raise PipelineError(
            f"cannot copy the warehouse to {target}: {error.strerror}: check "
            "DATA_DIR's permissions and free space; nothing was published"
        ) from None


# copy_file_range's answers where the kernel or file system cannot copy.
CANNOT_COPY_IN_KERNEL = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP}


def copy_file(source: Path, target: Path) -> None:
    """`source` copied to `target` by the kernel (copy_file_range): on a
    copy-on-write file system (btrfs, the default of many NAS, or XFS) the copy
    shares the source's blocks, so the hourly snapshot of a 2 GB warehouse
    takes no time and no disk space; elsewhere, or where the kernel cannot,
    a plain copy."""
    if hasattr(os, "copy_file_range"):
        try:
            with source.open("rb") as reading, target.open("wb") as writing:
                left = os.fstat(reading.fileno()).st_size
                while left > 0:
                    copied = os.copy_file_range(
                        reading.fileno(), writing.fileno(), left
                    )
                    if copied == 0:  # copies nothing here: the plain copy
                        break
                    left -= copied
                else:
                    return
        except OSError as error:
            if error.errno not in CANNOT_COPY_IN_KERNEL:
                raise
    shutil.copyfile(source, target)


def remove_leftovers(data_dir: Path) -> list[Path]:
    """Temporary files a killed run left (landing, snapshot, state): under
    the run lock no other run writes them."""
    found = [
        path
        for pattern in ("landing/*/.*.tmp", "snapshot/.*.tmp", "state/.*.tmp")
        for path in data_dir.glob(pattern)
    ]
    for path in found:
        path.unlink(missing_ok=True)
    return found


def count_anomalies(settings: Settings, summary: RunSummary) -> None:
    """The anomalies and those not reported yet (pipeline.reported); they
    count as reported only at the end of a run that published them."""
    with duckdb.connect(str(settings.warehouse)) as db:
        rows = db.execute(
            "select meter_id || ' ' || cast(day as varchar) "
            "from main.meter_anomalies "
            "union all select meter_id || ' ' || first_day || '..' || last_day "
            "from main.meter_interval_anomalies order by 1"
        ).fetchall()
    summary.anomaly_keys = [key for (key,) in rows]
    summary.anomalies = len(summary.anomaly_keys)
    summary.new_anomalies = reported.not_reported(
        settings.warehouse, "anomaly", summary.anomaly_keys
    )


def load(settings: Settings, as_of: datetime, summary: RunSummary) -> None:
    from load.publish import publish_marts
    from load.tibber_hours import publish_hours

    CONSOLE.progress("[load] Tibber hours ...", force=True)
    hours = publish_hours(settings)
    logs.event("tibber_hours_written", bucket=settings.influx_bucket_raw, points=hours)

    def show(done: int, total: int) -> None:
        CONSOLE.progress(f"[load] {number(done)} of {number(total)} points written")

    result = publish_marts(settings, settings.warehouse, as_of=as_of, progress=show)
    summary.points_written = result.points_written + hours
    summary.points_deleted = result.points_deleted


def has_news(summary: RunSummary) -> bool:
    got = summary.extracted
    landed = sum(
        got.get(key, 0)
        for key in (
            "demo_readings",
            "demo_tibber_hours",
            "influx_rows_written",
            "tibber_rows_written",
        )
    )
    return bool(
        landed
        or summary.points_written
        or summary.points_deleted
        or summary.new_anomalies
        or summary.findings.new
    )


def _local_time(instant: datetime, timezone: str) -> str:
    from zoneinfo import ZoneInfo

    local = instant.astimezone(ZoneInfo(timezone))
    today = datetime.now(UTC).astimezone(ZoneInfo(timezone)).date()
    if local.date() == today:
        return local.strftime("%H:%M")
    return local.strftime("%d %b %H:%M")


def final_line(summary: RunSummary) -> str:
    """What changed, in words: 'nothing new since 14:05' or '3 new readings,
    2 meters rebuilt, 1,204 points written'."""
    if not has_news(summary):
        since = (
            f" since {_local_time(summary.last_news, summary.timezone)}"
            if summary.last_news
            else ""
        )
        anomalies = plural(summary.anomalies, "anomaly", "anomalies")
        return f"done: nothing new{since}; {anomalies}, none new"
    got = summary.extracted
    readings = got.get("demo_readings", 0) + got.get("influx_rows_written", 0)
    hours = got.get("demo_tibber_hours", 0) + got.get("tibber_rows_written", 0)
    parts = [f"{plural(readings, 'new reading')}"]
    if hours:
        parts.append(plural(hours, "new Tibber hour"))
    outcome = summary.dbt
    if outcome is not None and outcome.meters_rebuilt is not None:
        parts.append(f"{plural(outcome.meters_rebuilt, 'meter')} rebuilt")
    elif outcome is not None:
        parts.append("everything rebuilt")
    if summary.demo:
        parts.append("nothing published (demo)")
    else:
        parts.append(f"{plural(summary.points_written, 'point')} written")
        if summary.points_deleted:
            parts.append(f"{number(summary.points_deleted)} deleted")
    new = len(summary.new_anomalies)
    parts.append(f"{plural(new, 'new anomaly', 'new anomalies')}")
    return "done: " + ", ".join(parts)


def listed(keys: list[str], most: int = 20) -> str:
    shown = ", ".join(keys[:most])
    return shown + (f" and {len(keys) - most} more" if len(keys) > most else "")


def render(summary: RunSummary) -> str:
    """The lines after the stages: the new anomalies, notes, the final line."""
    lines = []
    if summary.new_anomalies:
        lines.append(
            f"anomalies: {summary.anomalies} ({len(summary.new_anomalies)} new): "
            + listed(summary.new_anomalies)
        )
    if summary.findings.new:
        lines.append(
            f"cleaning findings: {len(summary.findings.current)} "
            f"({len(summary.findings.new)} new): " + listed(summary.findings.new)
        )
    if summary.demo:
        lines.append(
            "demo: explore the results with `make shell` or `make docs`; "
            'README "From the demo to your own InfluxDB" says how to switch'
        )
    lines.append(final_line(summary))
    return "\n".join(lines)
