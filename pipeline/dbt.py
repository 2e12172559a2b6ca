"""dbt build in this process (dbtRunner: no start-up cost per step)."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import duckdb

from core import landing
from core.errors import DISK_FULL, DbtError, is_disk_full
from core.settings import Settings
from pipeline import rebuild

ROOT = Path(__file__).resolve().parent.parent
# The seeds of the yearly cost statement (statement/, models/*/billing).
BILLING_SEEDS = (
    "flats",
    "tenancies",
    "flat_meters",
    "prices",
    "cost_items",
    "invoices",
)
# The heading of dbt's error messages: "Parsing Error", or for a node e.g.
# "Runtime Error in model int_calendar_days (models/.../int_calendar_days.sql)".
ERROR_HEADING = re.compile(r"\w+ Error( in \w+ \S+ \(.*\))?$")


def dbt_log(settings: Settings) -> Path:
    """Where dbt writes its own lines, which a failure's line points to."""
    return settings.data_dir / "logs" / "dbt.log"


def failure_cause(message: str) -> str:
    """The first line of dbt's error message that says what went wrong, after
    its heading ("<Kind> Error", "... in model <name> (<path>)"), which
    says nothing the caller does not."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    causes = [line for line in lines if not ERROR_HEADING.match(line)]
    return (causes or lines or [""])[0]


@dataclass
class DbtOutcome:
    scope: str = ""
    seeds: int = 0
    models: int = 0
    unit_tests: int = 0
    tests_passed: int = 0
    tests_warned: int = 0
    tests_failed: int = 0
    warnings: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    meters_rebuilt: int | None = None  # None: a full build


def copy_project(house: Path, destination: Path, *, billing: bool = True) -> Path:
    """A copy of the dbt project that describes another house (benchmarks,
    model scenarios): the models and macros of this one, the seeds of `house`.
    dbt writes its compiled seeds relative to the seed path, so the seeds must
    live inside the project they belong to. `billing=False` (or a house
    without them) leaves the billing seeds empty: nobody is billed, so runs
    on partial data (no Tibber hours) need no prices."""
    destination.mkdir(parents=True, exist_ok=True)
    for name in ("dbt_project.yml", "profiles.yml"):
        shutil.copy(ROOT / name, destination / name)
    for folder in ("models", "macros", "tests/dbt"):
        target = destination / folder
        if target.exists():
            shutil.rmtree(target)
        if (ROOT / folder).exists():
            shutil.copytree(ROOT / folder, target)
    seeds = destination / "seeds"
    seeds.mkdir(exist_ok=True)
    for csv_file in house.glob("*.csv"):
        shutil.copy(csv_file, seeds / csv_file.name)
    # A house without billing seeds (or billing=False) bills no one:
    # header-only copies.
    for name in BILLING_SEEDS:
        if not billing or not (house / f"{name}.csv").exists():
            with open(ROOT / "seeds" / f"{name}.csv") as handle:
                (seeds / f"{name}.csv").write_text(handle.readline())
    return destination


# What dbt reads through env_var() besides the settings
# (Settings.dbt_environment): the rebuild scope one command applies
# (macros/rebuild.sql; empty: every row).
SCOPE_VARIABLE = "REBUILD_SCOPE_ID"


def invoke(
    settings: Settings,
    as_of: datetime,
    args: list[str],
    project: Path = ROOT,
    *,
    profiles: Path | None = None,
    target: Path | None = None,
    callbacks: list | None = None,
    log_level: str = "none",
    scope_id: str = "",
):
    """One dbt command in this process; profiles and target default to the
    project's profiles.yml and DATA_DIR/target; dbt's console lines at
    `log_level` (none: the run says what matters), under the rebuild
    scope `scope_id` (none: every row). dbt runs in DATA_DIR, where the
    profile's relative warehouse path points."""
    from dbt.cli.main import dbtRunner

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    # dbt also takes its options from DBT_* variables (DBT_EMPTY=true builds
    # every model from zero rows, DBT_FULL_REFRESH, DBT_POPULATE_CACHE=false
    # ...): the command does what its arguments say, whatever the user's
    # environment holds; the variables are back when it ends.
    ignored = {
        name: os.environ.pop(name)
        for name in list(os.environ)
        if name.startswith("DBT_")
    }
    os.environ.update(settings.dbt_environment() | {SCOPE_VARIABLE: scope_id})
    common = [
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(profiles or project),
        "--log-path",
        str(dbt_log(settings).parent),
        # dbt's own lines go to DATA_DIR/logs/dbt.log; the run says the rest.
        "--log-level",
        log_level,
        "--log-level-file",
        "info",
        # No manifest.json and run_results.json (writing the manifest twice
        # costs a warm run half a second); `make docs` writes its own.
        "--no-write-json",
    ]
    # Options go after the (sub)command words: `docs generate --project-dir`.
    split = next((i for i, a in enumerate(args) if a.startswith("-")), len(args))
    if args[:1] not in (["debug"], ["deps"]):  # the two without a target
        common += ["--target-path", str(target or settings.data_dir / "target")]
    runner = dbtRunner(callbacks=callbacks or [])
    try:
        with contextlib.chdir(settings.data_dir):
            return runner.invoke([*args[:split], *common, *args[split:]])
    finally:
        os.environ.pop(SCOPE_VARIABLE)  # no later dbt applies it
        os.environ.update(ignored)
        release_warehouse()


def release_warehouse() -> None:
    """Close dbt's connection to the warehouse: dbt-duckdb keeps it for the
    next command of the process, and would give it to a command in another
    DATA_DIR (the profile's path is the same relative one)."""
    import gc

    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    DuckDBConnectionManager.close_all_connections()
    gc.collect()


# dbt commands that write the warehouse's models.
BUILDING = {"build", "run", "seed", "snapshot"}


def by_hand(settings: Settings, args: list[str]) -> bool:
    """`python -m pipeline dbt ARGS` (`make dbt`): dbt as a run gives it
    (the settings exported, DATA_DIR's warehouse, target and logs), with
    dbt's own output, under no scope: the incremental models it builds are
    rebuilt in full, and the build record is marked unfinished so the next
    run builds everything. AS_OF set: the models read it as the run's
    as_of; else the last run's. True when dbt succeeded; DbtError when it
    could not run (e.g. an option its command does not know)."""
    if settings.as_of is not None:
        landing.write_run_context(settings.data_dir, settings.as_of)
    if args and args[0] in BUILDING:
        rebuild.mark_unfinished(settings)
    result = invoke(
        settings, settings.as_of, args, settings.dbt_project_dir, log_level="info"
    )
    if result.exception is not None:
        raise DbtError(f"dbt could not run: {failure_cause(str(result.exception))}")
    return result.success


def first_failing_row(settings: Settings, node) -> str | None:
    """The first row a failing data test returned, as `column=value, ...`,
    so the error names the offending row (e.g. the meter and its problem)."""
    sql = getattr(node, "compiled_code", None)
    if not sql:
        return None
    try:
        with duckdb.connect(str(settings.warehouse)) as db:
            cursor = db.execute(f"select * from ({sql}) as failing limit 1")
            row = cursor.fetchone()
            names = [column[0] for column in cursor.description]
    except duckdb.Error:
        return None
    if row is None:
        return None
    return ", ".join(f"{name}={value}" for name, value in zip(names, row, strict=True))


def planned(
    settings: Settings,
    as_of: datetime,
    command: list[str],
    project: Path = ROOT,
    *,
    full_refresh: bool = False,
    full_tests: bool = False,
    callbacks: list | None = None,
):
    """Every build of the warehouse (the pipeline's, the benchmark's): plan
    it (pipeline.rebuild), run the dbt `command` on that plan, close its
    scope, and record it when every model was built (none failed or was
    skipped): the next build starts from this one. Returns the plan and
    dbt's result."""
    plan = rebuild.plan(
        settings, project, as_of, full_refresh=full_refresh, full_tests=full_tests
    )
    if plan.full_refresh:
        rebuild.mark_unfinished(settings)
    try:
        result = invoke(
            settings,
            as_of,
            [*command, *plan.dbt_args],
            project,
            callbacks=callbacks,
            scope_id=plan.scope_id,
        )
    finally:
        rebuild.close_scope(settings, plan)
    if result.exception is None and all(
        str(node_result.status) == "success"
        for node_result in result.result or []
        if str(node_result.node.resource_type) == "model"
    ):
        rebuild.record(settings, plan)
    return plan, result


def build(
    settings: Settings,
    as_of: datetime,
    project: Path = ROOT,
    *,
    unit_tests: bool = False,
    full_refresh: bool = False,
    full_tests: bool = False,
    progress=None,
) -> DbtOutcome:
    """Seeds, models and data tests (and the models' unit tests, which `make
    test` runs and a production run skips), incremental when the previous
    build allows (pipeline.rebuild), its data tests then on the rebuilt rows
    unless `full_tests`; raises DbtError on any failure."""
    command = ["build", "--quiet"]
    if not unit_tests:
        command += ["--exclude-resource-type", "unit_test"]
    plan, result = planned(
        settings,
        as_of,
        command,
        project,
        full_refresh=full_refresh,
        full_tests=full_tests,
        callbacks=[progress] if progress is not None else None,
    )
    if result.exception is not None:
        if is_disk_full(str(result.exception)):
            raise DbtError(f"{DISK_FULL}; nothing was published") from None
        raise DbtError(
            f"dbt could not run: {failure_cause(str(result.exception))} "
            f"(details: {dbt_log(settings)})"
        ) from None
    outcome = DbtOutcome(scope=plan.describe())
    if not plan.full_refresh:
        outcome.meters_rebuilt = len(plan.rebuilt_meters)
    for node_result in result.result or []:
        node = node_result.node
        status = str(node_result.status)
        kind = str(node.resource_type)
        if kind == "seed":
            outcome.seeds += 1
        elif kind == "model":
            outcome.models += 1
        elif kind == "unit_test":
            outcome.unit_tests += 1
        elif kind == "test":
            if status == "pass":
                outcome.tests_passed += 1
            elif status == "warn":
                outcome.tests_warned += 1
                outcome.warnings.append(f"{node.name} ({node_result.failures} rows)")
            else:
                outcome.tests_failed += 1
        if status in {"error", "fail"}:
            detail = failure_cause(node_result.message or "") or status
            if is_disk_full(node_result.message or ""):
                detail = DISK_FULL
            if kind == "test" and status == "fail":
                detail = first_failing_row(settings, node) or detail
            outcome.failures.append(f"{kind} {node.name}: {detail}")
    if any(is_disk_full(failure) for failure in outcome.failures):
        raise DbtError(f"{DISK_FULL}; nothing was published")
    if outcome.failures or not result.success:
        first = outcome.failures[0] if outcome.failures else "see the dbt log"
        raise DbtError(
            f"{len(outcome.failures)} dbt node(s) failed, first {first}; "
            f"nothing was published (details: {dbt_log(settings)})"
        )
    return outcome
